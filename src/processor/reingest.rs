//! Putting payloads back into the stream: batching within the put limits, retrying
//! only what failed, with exponential backoff and full jitter, and never past the
//! invocation's deadline; an error no retry can cure (no credentials, access denied, no
//! such stream) ends it at once. Only `crate::aws::reingest` knows the AWS SDK;
//! everything here talks to a [`RecordSink`], so tests can inject throttling, partial
//! failures and timeouts.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::processor::batch::{ReingestPayload, ReingestReport};
use crate::transform::firehose::FirehoseRequest;

/// Most entries in one put call (PutRecordBatch and PutRecords alike).
pub const MAX_ENTRIES_PER_CALL: usize = 500;
/// Most bytes in one put call (PutRecordBatch's 4 MiB; PutRecords allows 5 MiB).
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
/// Largest payload Firehose accepts as one record (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// First backoff step; doubled on every retry round up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where payloads go back to: the stream the batch came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Firehose delivery stream (Direct PUT), by name.
    DeliveryStream(String),
    /// A Kinesis data stream feeding the delivery stream, by ARN.
    KinesisStream(String),
}

impl Target {
    /// The Kinesis source stream when there is one, else the delivery stream itself.
    pub fn for_request(request: &FirehoseRequest) -> Option<Self> {
        if let Some(arn) = &request.source_kinesis_stream_arn {
            return Some(Self::KinesisStream(arn.clone()));
        }
        request
            .delivery_stream_name()
            .map(|name| Self::DeliveryStream(name.to_owned()))
    }
}

/// One entry of a put call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutEntry<'a> {
    /// The payload.
    pub data: &'a [u8],
    /// Kinesis partition key (ignored by Firehose).
    pub partition_key: &'a str,
}

/// A put call that failed as a whole (throttled, unreachable, rejected).
///
/// A permanent error (`retryable: false`) ends the whole re-ingestion at its first
/// occurrence: every payload not yet put back fails with it, and `message` becomes the
/// reason logged for each record concerned, so it should name the cause in its first
/// words ("no AWS credentials: …", "ResourceNotFoundException: …").
#[derive(Debug, thiserror::Error)]
#[error("put call failed: {message}")]
pub struct SinkError {
    /// What the service or the transport said.
    pub message: String,
    /// Whether trying again can help: throttling and transport errors can, a missing
    /// stream or a denied permission cannot, and retrying them would only burn the
    /// invocation's time before the same `ProcessingFailed`.
    pub retryable: bool,
}

/// Something that accepts batches of records: the AWS streams, or a test double.
pub trait RecordSink {
    /// Puts `entries` into `target`; on a call that went through, returns for each entry
    /// its error code, `None` when it was accepted.
    fn put(
        &self,
        target: &Target,
        entries: &[PutEntry<'_>],
    ) -> impl Future<Output = Result<Vec<Option<String>>, SinkError>>;
}

/// Puts every payload back into `target`, stopping at `deadline`; reports which made it.
pub async fn reingest<S: RecordSink>(
    sink: &S,
    target: Option<&Target>,
    payloads: &[ReingestPayload],
    deadline: Instant,
) -> ReingestReport {
    let mut report = ReingestReport::nothing_put_back(payloads.len());
    let Some(target) = target else {
        tracing::error!("the request names no stream to re-ingest into");
        return report;
    };
    let mut pending = within_record_limit(payloads);
    let mut round = 0u32;
    while !pending.is_empty() {
        let put = PutRound {
            sink,
            target,
            payloads,
            deadline,
        };
        let failed = match put.run(&pending, &mut report).await {
            Ok(failed) => failed,
            Err(permanent) => {
                // The next call would meet the same error: stop here, so that the records
                // concerned are answered at once instead of at the deadline.
                let not_put = report.delivered.iter().filter(|done| !**done).count();
                tracing::warn!(
                    payloads_not_put = not_put,
                    cause = %permanent.message,
                    "re-ingestion stopped: the error is permanent, retrying cannot help; \
                     the records concerned are ProcessingFailed"
                );
                report.stopped_by = Some(permanent.message);
                return report;
            }
        };
        if failed.is_empty() {
            break;
        }
        round += 1;
        let backoff = backoff(round);
        if Instant::now() + backoff >= deadline {
            tracing::warn!(entries = failed.len(), "re-ingestion ran out of time");
            break;
        }
        report.retries += failed.len() as u64;
        tokio::time::sleep(backoff).await;
        pending = failed;
    }
    report
}

/// The payloads Firehose can take as one record; the others are logged and stay
/// `false` in the report.
fn within_record_limit(payloads: &[ReingestPayload]) -> Vec<usize> {
    let mut pending = Vec::with_capacity(payloads.len());
    for (index, payload) in payloads.iter().enumerate() {
        if payload.data.len() <= MAX_RECORD_BYTES {
            pending.push(index);
        } else {
            tracing::error!(
                bytes = payload.data.len(),
                "payload exceeds the record size limit"
            );
        }
    }
    pending
}

/// Exponential backoff with full jitter before retry round `round` (from 1).
fn backoff(round: u32) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(1u32 << round.min(16))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(fastrand::f64())
}

/// One round of put calls over the pending payloads.
struct PutRound<'a, S> {
    sink: &'a S,
    target: &'a Target,
    payloads: &'a [ReingestPayload],
    deadline: Instant,
}

impl<S: RecordSink> PutRound<'_, S> {
    /// Puts `pending`, marking in `report` what went through; returns what failed and may
    /// be retried, or the permanent error that ends re-ingestion.
    async fn run(
        &self,
        pending: &[usize],
        report: &mut ReingestReport,
    ) -> Result<Vec<usize>, SinkError> {
        let mut failed = Vec::new();
        for call in calls(self.payloads, pending) {
            if Instant::now() >= self.deadline {
                failed.extend_from_slice(call);
                continue;
            }
            let entries: Vec<PutEntry<'_>> = call
                .iter()
                .map(|&index| PutEntry {
                    data: &self.payloads[index].data,
                    partition_key: &self.payloads[index].partition_key,
                })
                .collect();
            let put = self.sink.put(self.target, &entries);
            match tokio::time::timeout_at(self.deadline, put).await {
                Ok(Ok(errors)) => {
                    for (position, &index) in call.iter().enumerate() {
                        // A response shorter than the call is a failure for the missing.
                        match errors.get(position) {
                            Some(None) => report.delivered[index] = true,
                            _ => failed.push(index),
                        }
                    }
                }
                Ok(Err(error)) if error.retryable => {
                    tracing::warn!(entries = call.len(), %error, "put call failed");
                    failed.extend_from_slice(call);
                }
                Ok(Err(error)) => return Err(error),
                Err(_) => {
                    tracing::warn!(entries = call.len(), "put call outlived the deadline");
                    failed.extend_from_slice(call);
                }
            }
        }
        Ok(failed)
    }
}

/// Splits `pending` into calls of at most 500 entries and 4 MiB.
fn calls<'p>(payloads: &[ReingestPayload], pending: &'p [usize]) -> Vec<&'p [usize]> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (position, &index) in pending.iter().enumerate() {
        let size = payloads[index].data.len() + payloads[index].partition_key.len();
        if position > start
            && (position - start == MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)
        {
            calls.push(&pending[start..position]);
            start = position;
            bytes = 0;
        }
        bytes += size;
    }
    if start < pending.len() {
        calls.push(&pending[start..]);
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: usize) -> ReingestPayload {
        ReingestPayload {
            record_index: 0,
            data: vec![b'x'; bytes],
            partition_key: "k".into(),
        }
    }

    #[test]
    fn calls_respect_count_and_size_limits() {
        let items: Vec<ReingestPayload> = (0..1200).map(|_| item(10)).collect();
        let pending: Vec<usize> = (0..items.len()).collect();
        let sizes: Vec<usize> = calls(&items, &pending).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [500, 500, 200]);

        let items: Vec<ReingestPayload> = (0..10).map(|_| item(1_000_000)).collect();
        let pending: Vec<usize> = (0..items.len()).collect();
        let split = calls(&items, &pending);
        assert!(split.iter().all(|call| call.len() <= 4));
        assert_eq!(split.iter().map(|c| c.len()).sum::<usize>(), 10);
    }

    #[test]
    fn the_target_follows_the_source() {
        let mut request = FirehoseRequest {
            delivery_stream_arn: Some("arn:aws:firehose:us-east-1:1:deliverystream/logs".into()),
            ..FirehoseRequest::default()
        };
        assert_eq!(
            Target::for_request(&request),
            Some(Target::DeliveryStream("logs".into()))
        );
        request.source_kinesis_stream_arn = Some("arn:aws:kinesis:us-east-1:1:stream/s".into());
        assert_eq!(
            Target::for_request(&request),
            Some(Target::KinesisStream(
                "arn:aws:kinesis:us-east-1:1:stream/s".into()
            ))
        );
    }
}
