//! The transformation: one Firehose record in, its NDJSON lines and partition keys out.
//!
//! Synchronous and without I/O. [`record`] drives one record: [`decode`] (base64, capped
//! gunzip), [`cloudwatch`] or [`eventbridge`] to recognise it, [`ndjson`] to write its
//! lines (the schema in [`schema`], times in [`time`]), [`partition`] for its keys, and
//! [`split`] to divide what must travel again into payloads that fit. [`firehose`] is the
//! wire format on both sides: the request's records and the response's entries.

pub mod cloudwatch;
pub mod decode;
pub mod error;
pub mod eventbridge;
pub mod firehose;
pub mod ndjson;
pub mod partition;
pub mod record;
pub mod schema;
pub mod split;
pub mod time;
