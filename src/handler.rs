//! One invocation, everything but the Lambda runtime's I/O: transform, put back what
//! does not fit, write the response and the metrics line. `lambda.rs` moves the bytes
//! between this and the Runtime API; the billed-duration benchmark calls it directly to
//! time the same work without the runtime.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use crate::batch::{Processor, ReingestReport};
use crate::config::Config;
use crate::firehose::FirehoseRequest;
use crate::metrics::SelfSourcedHoldback;
use crate::reingest::{reingest, RecordSink, Target};

/// What the function keeps from one invocation to the next: the processor and its
/// buffers, the metrics held back, the sink (and so its clients and connections).
#[derive(Debug)]
pub struct Handler<S> {
    processor: Processor,
    holdback: SelfSourcedHoldback,
    sink: S,
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Handled {
    /// The response, exactly as Firehose receives it: the processor's own buffer, handed
    /// over so that it is posted without another copy.
    pub response: Vec<u8>,
    /// The EMF line to write to stdout, when there is one to write (see
    /// [`SelfSourcedHoldback`]).
    pub emf: Option<String>,
}

impl<S: RecordSink> Handler<S> {
    /// A handler with these settings, putting back into `sink`.
    pub fn new(config: Config, sink: S) -> Self {
        Self {
            processor: Processor::new(config),
            holdback: SelfSourcedHoldback::default(),
            sink,
        }
    }

    /// Handles one request; `deadline_ms` is the runtime's deadline (see [`remaining`]).
    pub async fn handle(&mut self, mut request: FirehoseRequest, deadline_ms: u64) -> Handled {
        let request = &mut request;
        let items = self.processor.plan(request);
        // Planned: from here on only the records' ids are needed. Their payloads (up to
        // 6 MB of base64) are freed now rather than held through the re-ingestion's puts,
        // where the SDK's request bodies make the invocation's peak.
        for record in &mut request.records {
            record.data = String::new();
        }
        let request = &*request;
        let config = self.processor.config();
        let report = if items.is_empty() {
            ReingestReport::default()
        } else {
            let time_left = remaining(deadline_ms, config.reingest_safety_margin);
            tracing::info!(
                payloads = items.len(),
                time_left_ms = time_left.as_millis() as u64,
                "re-ingesting what does not fit in the response"
            );
            let deadline = tokio::time::Instant::now() + time_left;
            let target = Target::for_request(request);
            reingest(&self.sink, target.as_ref(), &items, deadline).await
        };
        let namespace = self.processor.config().metrics_namespace.clone();
        let processed = self.processor.finish(request, &items, &report);
        // EMF is its own line on stdout; CloudWatch extracts the metrics from it.
        let emf = self.holdback.release(processed.metrics).map(|metrics| {
            let stream = request.delivery_stream_name().unwrap_or("unknown");
            metrics.to_emf(&namespace, stream, now_millis() as i64)
        });
        Handled {
            response: self.processor.take_response(),
            emf,
        }
    }
}

/// The response as the runtime takes it: `lambda_runtime` serializes any `Serialize`
/// with serde_json, and only a [`RawValue`] passes bytes through as they are. Building one
/// checks the bytes as UTF-8 and as JSON (two scans; no copy), which the response always
/// passes: it is written as JSON by construction and tested byte for byte.
pub fn response_value(response: Vec<u8>) -> Result<Box<RawValue>, ResponseError> {
    let text = String::from_utf8(response).map_err(|error| ResponseError(error.to_string()))?;
    RawValue::from_string(text).map_err(|error| ResponseError(error.to_string()))
}

/// A response that is not JSON: a bug, reported as the invocation's error.
#[derive(Debug, thiserror::Error)]
#[error("the response is not valid JSON: {0}")]
pub struct ResponseError(String);

/// Time left before the invocation's deadline, less the safety margin.
///
/// Lambda gives the deadline as epoch milliseconds. The local emulator (`cargo lambda
/// watch`) gives the timeout itself instead; a value before 2001 cannot be an epoch
/// deadline, so it is read as that duration.
pub fn remaining(deadline_ms: u64, margin: Duration) -> Duration {
    const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_millis())
    };
    Duration::from_millis(left).saturating_sub(margin)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
