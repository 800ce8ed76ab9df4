//! Amazon Data Firehose transformation for CloudWatch Logs and EventBridge records.
//!
//! [`Processor`] turns a Firehose transformation request into the response: each
//! CloudWatch Logs subscription record becomes newline-delimited JSON, one line per log
//! event with its metadata; each EventBridge event passes through as one line; every
//! `Ok` record carries partition keys for an account / source / date / hour layout.
//! The transformation is synchronous and does no I/O; only [`reingest`] talks to AWS,
//! and `main.rs` is the Lambda glue.
#![deny(missing_docs)]

pub mod batch;
pub mod cloudwatch;
pub mod config;
pub mod decode;
pub mod error;
pub mod eventbridge;
pub mod export;
pub mod firehose;
pub mod handler;
pub mod lambda;
pub mod metrics;
pub mod ndjson;
pub mod partition;
pub mod record;
pub mod reingest;
pub mod schema;
pub mod split;
pub mod time;

pub use batch::{Processed, Processor, ReingestItem, ReingestReport};
pub use config::Config;
pub use firehose::{FirehoseRequest, RecordResult};
pub use metrics::Metrics;
