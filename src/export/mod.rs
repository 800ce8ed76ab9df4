//! History: CloudWatch Logs export-task objects converted into the live `logs` layout,
//! so that one query covers what the subscription delivered and what came before it.
//!
//! The conversion is a pure, streaming core ([`lines`] splits the export text into
//! events, [`convert`] writes them as live lines into partitioned gzip objects) driven by
//! [`convert_object`] over an [`ObjectStore`]; only [`s3`] knows the AWS SDK, and the
//! `export-converter` binary is the Lambda glue.
//!
//! Nothing is written for an object that cannot be read completely: a first pass reads
//! it through (gunzip, lines, timestamps, UTF-8) without writing, and only then a second
//! pass, of the same version, writes the outputs as they fill.

pub mod config;
pub mod convert;
pub mod event;
pub mod key;
pub mod lines;
pub mod metrics;
pub mod s3;

use std::future::Future;
use std::io::Write;

use flate2::write::MultiGzDecoder;

pub use config::ExportConfig;
pub use convert::{ConvertOptions, Converter, OutputObject};
pub use key::{ExportObject, Skip};
pub use lines::{EventSink, ExportEvent, Splitter};
pub use metrics::ExportMetrics;

/// An error a store gives.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Why an object cannot be read as an export, completely.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The gzip stream is corrupt or truncated.
    #[error("gzip stream is corrupt or truncated")]
    Gzip(#[source] std::io::Error),
    /// The first line is not `<timestamp> <message>`.
    #[error("the first line does not start with an ISO 8601 UTC timestamp: {0:?}")]
    NoTimestamp(String),
    /// An event's text is not UTF-8.
    #[error("event {index} is not valid UTF-8")]
    NotUtf8 {
        /// The event's position in the object.
        index: u64,
    },
    /// An event longer than [`MAX_EVENT_BYTES`].
    #[error(
        "event {index} runs past {} bytes: not a CloudWatch Logs export",
        lines::MAX_EVENT_BYTES
    )]
    EventTooLong {
        /// The event's position in the object.
        index: u64,
    },
    /// The destination refused an output object.
    #[error("writing {key} failed")]
    Write {
        /// The output key.
        key: String,
        /// What the store said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Compressing an output failed.
    #[error("compressing {0} failed")]
    Encode(String, #[source] std::io::Error),
    /// Reading the object failed.
    #[error("reading the object failed")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where export objects are read and outputs written: S3, or a test double.
pub trait ObjectStore {
    /// An object's body, read in chunks.
    type Body: ObjectBody;

    /// Opens `key`; with `if_match`, only that version (ETag). Returns the body and the
    /// object's ETag.
    fn get(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(Self::Body, Option<String>), StoreError>>;

    /// Writes an output object.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>>;
}

/// A body read in chunks.
pub trait ObjectBody {
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<bytes::Bytes>, StoreError>>;
}

/// What converting one object did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectReport {
    /// Events converted.
    pub events: u64,
    /// Bytes of export text read (after gunzip).
    pub text_bytes: u64,
    /// Output objects written.
    pub outputs: u64,
    /// NDJSON bytes written, before compression.
    pub output_text_bytes: u64,
    /// The keys written.
    pub keys: Vec<String>,
}

/// Counts events and nothing else: the first pass.
#[derive(Debug, Default)]
struct Check;

impl EventSink for Check {
    fn event(&mut self, _event: ExportEvent<'_>) -> Result<(), ExportError> {
        Ok(())
    }
}

/// Converts one export object in `bucket`, writing its outputs to the same bucket.
pub async fn convert_object<S: ObjectStore>(
    store: &S,
    bucket: &str,
    source: ExportObject,
    key: &str,
    options: ConvertOptions,
) -> Result<ObjectReport, ExportError> {
    // Pass 1: the whole object must read before anything is written.
    let (mut body, etag) = store
        .get(bucket, key, None)
        .await
        .map_err(ExportError::Read)?;
    let mut check = MultiGzDecoder::new(Splitter::new(Check));
    while let Some(chunk) = body.next_chunk().await.map_err(ExportError::Read)? {
        check.write_all(&chunk).map_err(lines::export_error)?;
    }
    check.try_finish().map_err(lines::export_error)?;
    let (_, checked_events) = check.finish().map_err(lines::export_error)?.finish()?;

    // Pass 2: the same version, written as outputs fill.
    let (mut body, _) = store
        .get(bucket, key, etag.as_deref())
        .await
        .map_err(ExportError::Read)?;
    let mut report = ObjectReport::default();
    let mut decoder = MultiGzDecoder::new(Splitter::new(Converter::new(source, options)));
    while let Some(chunk) = body.next_chunk().await.map_err(ExportError::Read)? {
        decoder.write_all(&chunk).map_err(lines::export_error)?;
        for output in decoder.get_mut().sink_mut().take_ready() {
            write_output(store, bucket, output, &mut report).await?;
        }
    }
    decoder.try_finish().map_err(lines::export_error)?;
    let splitter = decoder.finish().map_err(lines::export_error)?;
    report.text_bytes = splitter.bytes();
    let (converter, events) = splitter.finish()?;
    for output in converter.finish()? {
        write_output(store, bucket, output, &mut report).await?;
    }
    report.events = events;
    if events != checked_events {
        // The ETag pins the version, so this means the store broke its promise.
        return Err(ExportError::Read(
            format!("the object changed between passes: {checked_events} then {events} events")
                .into(),
        ));
    }
    Ok(report)
}

async fn write_output<S: ObjectStore>(
    store: &S,
    bucket: &str,
    output: OutputObject,
    report: &mut ObjectReport,
) -> Result<(), ExportError> {
    let OutputObject {
        key,
        body,
        events: _,
        text_bytes,
    } = output;
    store
        .put(bucket, &key, body)
        .await
        .map_err(|source| ExportError::Write {
            key: key.clone(),
            source,
        })?;
    report.outputs += 1;
    report.output_text_bytes += text_bytes;
    report.keys.push(key);
    Ok(())
}
