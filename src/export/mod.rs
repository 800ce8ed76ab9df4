//! History: CloudWatch Logs export-task objects converted into the live `logs` layout,
//! so that one query covers what the subscription delivered and what came before it.
//!
//! The conversion is a pure, streaming core ([`lines`] splits the export text into
//! events, [`convert`] writes them as live lines into partitioned gzip objects) driven by
//! [`convert_object`] over an [`ObjectStore`]; [`service`] is one invocation (every object
//! an event announces); [`backfill`] is what the backfill's state machine asks of the
//! same function (which range of a log group to export, and the tally). Only `crate::aws::s3` knows the AWS SDK, and
//! `crate::runtime::converter` is the Lambda glue.
//!
//! Nothing is seen of an object that cannot be read completely: the object is read once,
//! and each output is staged as it fills (written where no reader sees it: an S3
//! multipart upload not yet completed). Only once the whole object has read (gunzip,
//! lines, timestamps, UTF-8) are the outputs published; otherwise they are discarded,
//! and what a dead invocation leaves staged, the bucket's lifecycle rule removes.

pub mod backfill;
pub mod config;
pub mod convert;
pub mod event;
pub mod key;
pub mod lines;
pub mod metrics;
pub mod service;

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use flate2::write::MultiGzDecoder;
use futures_util::{stream, StreamExt};
use tokio::sync::mpsc;

pub use config::ExportConfig;
pub use convert::{ConvertOptions, Converter, OutputObject};
pub use key::{ExportSource, Skip};
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
    /// An event longer than [`lines::MAX_EVENT_BYTES`].
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
    /// The conversion's thread stopped without an answer.
    #[error("the conversion stopped: {0}")]
    Stopped(String),
    /// Converted, but too close to the invocation's end to publish the outputs safely:
    /// they were discarded rather than left half published.
    #[error(
        "{outputs} outputs converted but not published: {left_ms} ms left, {needed_ms} ms \
         needed to publish them safely; give the converter more memory \
         (ExportConverterMemoryMB, and so more CPU) or export shorter time ranges"
    )]
    OutOfTime {
        /// Outputs staged, or about to be.
        outputs: usize,
        /// Time left in the invocation.
        left_ms: u128,
        /// Time kept for publishing them.
        needed_ms: u128,
    },
    /// Publishing outlived the time kept for it (S3 slow or retrying): some outputs may
    /// be seen; a retry completes them.
    #[error(
        "publishing {outputs} outputs did not finish in the time kept for it: some may be \
         seen, a retry completes them"
    )]
    PublishTimedOut {
        /// Outputs being published.
        outputs: usize,
    },
}

/// Where export objects are read and outputs written: S3, or a test double.
///
/// Outputs are written in two steps: staged, where no reader sees them, then published
/// under their key (or discarded), so that nothing of an object that did not read
/// completely is ever seen. Publishing is one request per output, so it is not atomic: a
/// refused or interrupted publish leaves some outputs seen, which a retry completes.
pub trait ObjectStore {
    /// An object's body, read in chunks.
    type Body: ObjectBody;
    /// An output written but not yet visible.
    type Staged;

    /// Opens `key`.
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Self::Body, StoreError>>;

    /// Writes an output object where no reader sees it yet.
    fn stage(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Self::Staged, StoreError>>;

    /// Makes a staged output visible under its key.
    fn publish(
        &self,
        bucket: &str,
        key: &str,
        staged: &Self::Staged,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Drops a staged output.
    fn discard(
        &self,
        bucket: &str,
        key: &str,
        staged: Self::Staged,
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

/// Outputs published (or discarded) at once: each is one request.
const CONCURRENT_PUBLISHES: usize = 8;

/// Time kept for each round of `CONCURRENT_PUBLISHES` (8) completions before publishing: a
/// pessimistic request time (a completion usually takes a tenth of it).
pub const PUBLISH_ROUND: Duration = Duration::from_millis(500);

/// Time kept besides, for the discards and the invocation's answer.
pub const PUBLISH_MARGIN: Duration = Duration::from_secs(10);

/// Converts one export object in `bucket`, writing its outputs to the same bucket.
///
/// The outputs become visible only once the whole object has read; when it does not,
/// they are discarded and the error says why. With a `deadline` (the invocation's end),
/// each output is staged, and the outputs published, only while the time left covers
/// [`PUBLISH_ROUND`] per round of completions and [`PUBLISH_MARGIN`]; otherwise they are
/// discarded too ([`ExportError::OutOfTime`]), since an invocation that ends while
/// publishing leaves part of an object seen, and its retry, taking as long, would end the
/// same way. Publishing that outlives its time anyway is given up half a margin before
/// the deadline, so that the error is still logged and counted.
pub async fn convert_object<S: ObjectStore>(
    store: &S,
    bucket: &str,
    source: ExportSource,
    key: &str,
    options: ConvertOptions,
    deadline: Option<Instant>,
) -> Result<ObjectReport, ExportError> {
    let mut staged = Vec::new();
    let object = Object {
        store,
        bucket,
        key,
        deadline,
    };
    let converted = convert_staged(&object, source, options, &mut staged).await;
    let converted = converted.and_then(|report| {
        if !staged.is_empty() {
            time_to_publish(deadline, staged.len())?;
        }
        Ok(report)
    });
    match converted {
        Ok(report) => {
            let outputs = staged.len();
            let published = publish_all(store, bucket, staged);
            match deadline {
                None => published.await?,
                Some(deadline) => timeout_at(deadline, PUBLISH_MARGIN / 2, published)
                    .await
                    .ok_or(ExportError::PublishTimedOut { outputs })??,
            }
            Ok(report)
        }
        Err(error) => {
            let outputs = staged.len();
            let discarded = discard_all(store, bucket, staged);
            match deadline {
                None => discarded.await,
                Some(deadline) => {
                    if timeout_at(deadline, PUBLISH_MARGIN / 4, discarded)
                        .await
                        .is_none()
                    {
                        tracing::warn!(
                            outputs,
                            "out of time discarding staged outputs; the bucket's lifecycle \
                             rule removes those left"
                        );
                    }
                }
            }
            Err(error)
        }
    }
}

/// Whether the invocation has the time to publish `outputs` safely, with
/// [`PUBLISH_ROUND`] per round of completions and [`PUBLISH_MARGIN`] besides.
fn time_to_publish(deadline: Option<Instant>, outputs: usize) -> Result<(), ExportError> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let rounds = outputs.div_ceil(CONCURRENT_PUBLISHES) as u32;
    let needed = PUBLISH_ROUND * rounds + PUBLISH_MARGIN;
    let left = deadline.saturating_duration_since(Instant::now());
    if left < needed {
        return Err(ExportError::OutOfTime {
            outputs,
            left_ms: left.as_millis(),
            needed_ms: needed.as_millis(),
        });
    }
    Ok(())
}

/// `future`, unless it runs past `spare` before `deadline` (then `None`).
async fn timeout_at<T>(
    deadline: Instant,
    spare: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let until = deadline.checked_sub(spare).unwrap_or(deadline);
    tokio::time::timeout_at(until.into(), future).await.ok()
}

/// The object being converted: where it is, and the invocation's end.
struct Object<'a, S> {
    store: &'a S,
    bucket: &'a str,
    key: &'a str,
    deadline: Option<Instant>,
}

/// Chunks of the object read ahead of the conversion (besides the one the reader holds
/// and the one being converted).
const CHUNKS_AHEAD: usize = 2;

/// Reads the object once, staging each output as it fills.
///
/// The conversion (gunzip, lines, NDJSON, gzip) runs on a thread of its own, so that the
/// reads of the object and the uploads of the outputs go on while it works instead of
/// between its steps: three parts joined by bounded channels, which keep memory flat (a
/// few chunks read ahead, and one finished output in its upload: the next waits for it).
async fn convert_staged<S: ObjectStore>(
    object: &Object<'_, S>,
    source: ExportSource,
    options: ConvertOptions,
    staged: &mut Vec<(String, S::Staged)>,
) -> Result<ObjectReport, ExportError> {
    let Object {
        store,
        bucket,
        key,
        deadline,
    } = *object;
    let mut body = store.get(bucket, key).await.map_err(ExportError::Read)?;
    // `None` marks the object's end, so that a read cut short is not taken for one.
    let (chunks, chunks_in) = mpsc::channel::<Option<bytes::Bytes>>(CHUNKS_AHEAD);
    let (outputs_out, outputs) = mpsc::channel::<OutputObject>(1);
    let (uploaded, uploaded_in) = mpsc::channel::<()>(1);
    let conversion = tokio::task::spawn_blocking(move || {
        convert_chunks(source, options, chunks_in, outputs_out, uploaded_in)
    });
    let read = async move {
        loop {
            let chunk = body.next_chunk().await.map_err(ExportError::Read)?;
            let end = chunk.is_none();
            if chunks.send(chunk).await.is_err() || end {
                // At the end, or the conversion stopped (its error says why).
                return Ok::<(), ExportError>(());
            }
        }
    };
    let mut report = ObjectReport::default();
    let upload = async {
        // Owned, so that a failed upload closes the channel and stops the conversion.
        let (mut outputs, uploaded) = (outputs, uploaded);
        while let Some(output) = outputs.recv().await {
            // An object too large for the invocation fails here, with its reason, rather
            // than being cut off by the timeout.
            time_to_publish(deadline, staged.len() + 1)?;
            stage_output(store, bucket, output, &mut report, staged).await?;
            // The conversion waits for this before it hands over the next output.
            let _ = uploaded.send(()).await;
        }
        Ok::<(), ExportError>(())
    };
    let (read, upload, converted) = tokio::join!(read, upload, conversion);
    // The first cause, as a rule: a failed read or upload stops the conversion. (A read
    // that fails while the conversion fails on the data is reported as the read's.)
    read?;
    upload?;
    let (text_bytes, events) =
        converted.map_err(|error| ExportError::Stopped(error.to_string()))??;
    report.text_bytes = text_bytes;
    report.events = events;
    Ok(report)
}

/// The conversion's thread: chunks of the object in, finished outputs out, one at a time
/// (each once the one before is uploaded). Returns the export text's bytes and events.
fn convert_chunks(
    source: ExportSource,
    options: ConvertOptions,
    mut chunks: mpsc::Receiver<Option<bytes::Bytes>>,
    outputs: mpsc::Sender<OutputObject>,
    mut uploaded: mpsc::Receiver<()>,
) -> Result<(u64, u64), ExportError> {
    let stopped = || ExportError::Stopped("an output could not be written".to_owned());
    let mut in_upload = false;
    let mut send = |output| {
        if in_upload {
            uploaded.blocking_recv().ok_or_else(stopped)?;
        }
        outputs.blocking_send(output).map_err(|_| stopped())?;
        in_upload = true;
        Ok::<(), ExportError>(())
    };
    let mut decoder = MultiGzDecoder::new(Splitter::new(Converter::new(source, options)));
    loop {
        let chunk = match chunks.blocking_recv() {
            Some(Some(chunk)) => chunk,
            Some(None) => break,
            None => return Err(ExportError::Stopped("the read stopped".to_owned())),
        };
        if outputs.is_closed() {
            return Err(stopped()); // The uploads stopped: no use converting on.
        }
        decoder.write_all(&chunk).map_err(lines::export_error)?;
        for output in decoder.get_mut().sink_mut().take_ready() {
            send(output)?;
        }
    }
    decoder.try_finish().map_err(lines::export_error)?;
    let splitter = decoder.finish().map_err(lines::export_error)?;
    let text_bytes = splitter.bytes();
    let (converter, events) = splitter.finish()?;
    for output in converter.finish()? {
        send(output)?;
    }
    Ok((text_bytes, events))
}

async fn stage_output<S: ObjectStore>(
    store: &S,
    bucket: &str,
    output: OutputObject,
    report: &mut ObjectReport,
    staged: &mut Vec<(String, S::Staged)>,
) -> Result<(), ExportError> {
    let OutputObject {
        key,
        body,
        events: _,
        text_bytes,
    } = output;
    let output = store
        .stage(bucket, &key, body)
        .await
        .map_err(|source| ExportError::Write {
            key: key.clone(),
            source,
        })?;
    report.outputs += 1;
    report.output_text_bytes += text_bytes;
    report.keys.push(key.clone());
    staged.push((key, output));
    Ok(())
}

/// Publishes every staged output; the first refusal is the error. The others are still
/// published (a retry writes the same keys with the same bytes), and one refused is
/// discarded.
async fn publish_all<S: ObjectStore>(
    store: &S,
    bucket: &str,
    staged: Vec<(String, S::Staged)>,
) -> Result<(), ExportError> {
    let mut results = stream::iter(staged)
        .map(|(key, output)| async move {
            match store.publish(bucket, &key, &output).await {
                Ok(()) => Ok(()),
                Err(source) => {
                    discard_one(store, bucket, &key, output).await;
                    Err(ExportError::Write { key, source })
                }
            }
        })
        .buffer_unordered(CONCURRENT_PUBLISHES);
    let mut first_error = None;
    while let Some(result) = results.next().await {
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Discards every staged output.
async fn discard_all<S: ObjectStore>(store: &S, bucket: &str, staged: Vec<(String, S::Staged)>) {
    stream::iter(staged)
        .for_each_concurrent(CONCURRENT_PUBLISHES, |(key, output)| async move {
            discard_one(store, bucket, &key, output).await;
        })
        .await;
}

/// Discards a staged output. One that cannot be is logged: no reader sees it, and the
/// bucket's lifecycle rule removes it.
async fn discard_one<S: ObjectStore>(store: &S, bucket: &str, key: &str, output: S::Staged) {
    if let Err(error) = store.discard(bucket, key, output).await {
        tracing::warn!(
            key,
            error = %error,
            "a staged output was not discarded; the bucket's lifecycle rule removes it"
        );
    }
}
