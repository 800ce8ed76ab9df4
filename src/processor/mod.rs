//! The processor function's core: a whole Firehose request in, its response out.
//!
//! [`batch`] transforms every record within the response's byte budget and answers each
//! record id exactly once; [`reingest`] puts back what does not fit, through the
//! [`reingest::RecordSink`] trait (the AWS side is `crate::aws::reingest`); [`handler`]
//! is one invocation without the runtime's I/O; [`config`] and [`metrics`] are its
//! settings and counters.

pub mod batch;
pub mod config;
pub mod handler;
pub mod metrics;
pub mod reingest;

pub use batch::{Plan, Processed, Processor, ReingestPayload, ReingestReport};
