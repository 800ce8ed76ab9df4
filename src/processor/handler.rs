//! One invocation, everything but the Lambda runtime's I/O: transform, put back what
//! does not fit, write the response and the metrics line. The runtime glue moves the
//! bytes between this and the Runtime API; the billed-duration benchmark calls it
//! directly to time the same work without the runtime.

use serde_json::value::RawValue;

use crate::processor::batch::{Processor, ReingestReport};
use crate::processor::config::Config;
use crate::processor::metrics::SelfSourcedHoldback;
use crate::processor::reingest::{reingest, RecordSink, Target};
use crate::support::clock::{now_millis, remaining};
use crate::transform::firehose::FirehoseRequest;

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
        let mut plan = self.processor.plan(&mut request);
        // Planned: the payloads are freed now rather than held through the
        // re-ingestion's puts, where the SDK's request bodies make the invocation's peak.
        plan.release_record_data();
        let report = if plan.payloads().is_empty() {
            ReingestReport::default()
        } else {
            let time_left = remaining(deadline_ms, plan.config().reingest_safety_margin);
            tracing::info!(
                payloads = plan.payloads().len(),
                time_left_ms = time_left.as_millis() as u64,
                "re-ingesting what does not fit in the response"
            );
            let deadline = tokio::time::Instant::now() + time_left;
            let target = Target::for_request(plan.request());
            reingest(&self.sink, target.as_ref(), plan.payloads(), deadline).await
        };
        let metrics = plan.finish(&report).metrics;
        // EMF is its own line on stdout; CloudWatch extracts the metrics from it.
        let emf = self.holdback.release(metrics).map(|metrics| {
            let stream = request.delivery_stream_name().unwrap_or("unknown");
            let namespace = &self.processor.config().metrics_namespace;
            metrics.to_emf(namespace, stream, now_millis() as i64)
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
