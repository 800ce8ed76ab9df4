//! The AWS edges: each file knows one side of the AWS SDK and implements a core trait
//! with it, so that the core is tested against fakes and the SDK paths against a local
//! emulator (moto).
//!
//! - [`reingest`]: Firehose `PutRecordBatch` and Kinesis `PutRecords`, for
//!   [`crate::processor::reingest::RecordSink`];
//! - [`s3`]: reading export objects and staging outputs, for
//!   [`crate::export::ObjectStore`].

pub mod reingest;
pub mod s3;
