//! Amazon Data Firehose transformation for CloudWatch Logs and EventBridge records, and
//! the converter that brings CloudWatch Logs exports into the same layout.
//!
//! Two functions share this library. The **processor** turns a Firehose transformation
//! request into its response: each CloudWatch Logs subscription record becomes
//! newline-delimited JSON, one line per log event with its metadata; each EventBridge
//! event passes through as one line; every `Ok` record carries partition keys for an
//! account / source / date / hour layout. The **export converter** turns the objects of
//! CloudWatch Logs export tasks into the same lines under the same partitions.
//!
//! # Layers
//!
//! The core does no I/O and imports neither the AWS SDK nor the Lambda runtime (the
//! architecture test checks it); the edges implement its traits and run its services.
//!
//! | layer | modules | what it is |
//! | --- | --- | --- |
//! | core | [`transform`] | one record in, lines and partition keys out |
//! | core | [`processor`] | a whole request in, the response out; re-ingestion over [`processor::reingest::RecordSink`] |
//! | core | [`export`] | export objects in, live-layout objects out, over [`export::ObjectStore`] |
//! | core | [`support`] | error chains, panic text, the clock and deadlines, settings, the metrics line |
//! | edge | [`aws`] | the AWS SDK: the streams re-ingestion puts into, S3 |
//! | edge | [`runtime`] | the Lambda runtime: each function's event loop, the local commands |
//!
//! # Glossary
//!
//! One name per thing, in the code and in the docs:
//!
//! - **record**: one Firehose record, answered by its `recordId` with a result: `Ok`
//!   (with data and partition keys), `Dropped`, or `ProcessingFailed` (Firehose keeps the
//!   original in its error output).
//! - **line**: one NDJSON line of the output, one per log event or EventBridge event.
//! - **partition keys**: `kind`, `account`, `source`, `date`, `hour`, which Firehose's
//!   dynamic partitioning turns into the S3 prefix ([`transform::partition`]).
//! - **response budget**: the bytes the response may take (Lambda's limit is 6 MB).
//! - **payload**: a gzip CloudWatch Logs subscription message put back into the stream
//!   (re-ingested) because it did not fit the response or belongs to a later hour; a
//!   [`ReingestPayload`] is one with the record it answers for.
//! - **plan**: a request transformed, its response written as it will be when every
//!   payload is put back; finished with the re-ingestion's [`ReingestReport`].
//! - **history**: log events from before a log group's subscription; they arrive as
//!   **export objects**, the files of a CloudWatch Logs export task, under the **export
//!   prefix** `exports/<account>/<encoded log group>/` ([`export::key`]), and the export
//!   converter writes them as lines into **outputs** (the converted objects).
//! - **export source**: what an export object's key says of it ([`export::ExportSource`]).
//! - **hour slot**: the output an export's lines of one partition and hour go to.
#![deny(missing_docs)]

pub mod aws;
pub mod export;
pub mod processor;
pub mod runtime;
pub mod support;
pub mod transform;

pub use processor::config::Config;
pub use processor::metrics::Metrics;
pub use processor::{Plan, Processed, Processor, ReingestPayload, ReingestReport};
pub use transform::firehose::{FirehoseRequest, RecordResult};
