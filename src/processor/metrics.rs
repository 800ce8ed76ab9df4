//! Per-invocation metrics, written as one CloudWatch Embedded Metric Format line.

use crate::support::emf::emf_line;

/// Counters of one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Records in the request.
    pub records_in: u64,
    /// Records returned `Ok`.
    pub records_ok: u64,
    /// Records returned `Dropped` (control messages).
    pub records_dropped: u64,
    /// Records returned `ProcessingFailed`, for any reason.
    pub records_processing_failed: u64,
    /// Records that were readable but did not fit in the response (re-ingested, or
    /// failed when re-ingestion did not complete).
    pub records_over_budget: u64,
    /// Log lines in `Ok` output.
    pub log_events_out: u64,
    /// Payload bytes after decompression.
    pub bytes_in_decompressed: u64,
    /// NDJSON bytes in `Ok` output, before base64.
    pub bytes_out: u64,
    /// Wall time of the invocation's work, in milliseconds.
    pub duration_ms: u64,
    /// Records answered `Dropped` because all of them was put back into the stream.
    pub records_reingested: u64,
    /// Bytes put back into the stream for records whose re-ingestion completed.
    pub bytes_reingested: u64,
    /// Records divided into more than one payload (other hours, or too large).
    pub record_splits: u64,
    /// Put entries that were retried.
    pub put_retries: u64,
    /// Records answered `ProcessingFailed` because re-ingestion did not complete (in
    /// time, or stopped by an error no retry can cure).
    pub reingest_failures: u64,
    /// Records from the function's own log group in its own account, answered `Dropped`
    /// by the loop guard (also counted in `records_dropped`).
    pub records_self_sourced: u64,
    /// Of [`Metrics::reingest_failures`], the records whose re-ingestion was stopped by an
    /// error no retry can cure (no credentials, access denied, no such stream).
    pub reingest_permanent_errors: u64,
}

impl Metrics {
    /// Adds another invocation's counters to these.
    pub fn add(&mut self, other: &Metrics) {
        // Destructured, so that a new counter cannot be forgotten here.
        let Metrics {
            records_in,
            records_ok,
            records_dropped,
            records_processing_failed,
            records_over_budget,
            log_events_out,
            bytes_in_decompressed,
            bytes_out,
            duration_ms,
            records_reingested,
            bytes_reingested,
            record_splits,
            put_retries,
            reingest_failures,
            records_self_sourced,
            reingest_permanent_errors,
        } = *other;
        self.records_in += records_in;
        self.records_ok += records_ok;
        self.records_dropped += records_dropped;
        self.records_processing_failed += records_processing_failed;
        self.records_over_budget += records_over_budget;
        self.log_events_out += log_events_out;
        self.bytes_in_decompressed += bytes_in_decompressed;
        self.bytes_out += bytes_out;
        self.duration_ms += duration_ms;
        self.records_reingested += records_reingested;
        self.bytes_reingested += bytes_reingested;
        self.record_splits += record_splits;
        self.put_retries += put_retries;
        self.reingest_failures += reingest_failures;
        self.records_self_sourced += records_self_sourced;
        self.reingest_permanent_errors += reingest_permanent_errors;
    }

    /// The metric names and values, in a stable order.
    pub fn values(&self) -> [(&'static str, u64, &'static str); 16] {
        [
            ("RecordsIn", self.records_in, "Count"),
            ("RecordsOk", self.records_ok, "Count"),
            ("RecordsDropped", self.records_dropped, "Count"),
            (
                "RecordsProcessingFailed",
                self.records_processing_failed,
                "Count",
            ),
            ("RecordsOverBudget", self.records_over_budget, "Count"),
            ("LogEventsOut", self.log_events_out, "Count"),
            ("BytesInDecompressed", self.bytes_in_decompressed, "Bytes"),
            ("BytesOut", self.bytes_out, "Bytes"),
            ("DurationMs", self.duration_ms, "Milliseconds"),
            ("RecordsReingested", self.records_reingested, "Count"),
            ("BytesReingested", self.bytes_reingested, "Bytes"),
            ("RecordSplits", self.record_splits, "Count"),
            ("PutRetries", self.put_retries, "Count"),
            ("ReingestFailures", self.reingest_failures, "Count"),
            ("RecordsSelfSourced", self.records_self_sourced, "Count"),
            (
                "ReingestPermanentErrors",
                self.reingest_permanent_errors,
                "Count",
            ),
        ]
    }

    /// The EMF document: metrics under `namespace`, with the delivery stream's name as
    /// the `DeliveryStream` dimension.
    pub fn to_emf(&self, namespace: &str, delivery_stream: &str, timestamp_ms: i64) -> String {
        emf_line(
            namespace,
            ("DeliveryStream", delivery_stream),
            &self.values(),
            timestamp_ms,
        )
    }
}

/// Holds back the metrics of invocations that saw nothing but the function's own log
/// records. Their EMF line would itself be a new record of that log group, and a wrong
/// subscription would then never die out; their counts join the next line written.
#[derive(Debug, Default)]
pub struct SelfSourcedHoldback {
    held: Metrics,
}

impl SelfSourcedHoldback {
    /// The metrics to write for this invocation, with what was held back before;
    /// `None` when the invocation saw only the function's own records.
    pub fn release(&mut self, metrics: Metrics) -> Option<Metrics> {
        if metrics.records_in > 0 && metrics.records_self_sourced == metrics.records_in {
            self.held.add(&metrics);
            return None;
        }
        let mut released = metrics;
        released.add(&std::mem::take(&mut self.held));
        Some(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn emf_document_declares_every_value() {
        let metrics = Metrics {
            records_in: 3,
            records_ok: 1,
            records_dropped: 1,
            records_processing_failed: 1,
            log_events_out: 7,
            ..Metrics::default()
        };
        let line = metrics.to_emf("Ns", "stream", 1_700_000_000_000);
        assert!(!line.contains('\n'));
        let document: Value = serde_json::from_str(&line).unwrap();
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(directive["Dimensions"], json!([["DeliveryStream"]]));
        assert_eq!(document["DeliveryStream"], "stream");
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for (name, value, _) in metrics.values() {
            assert!(names.contains(&name));
            assert_eq!(document[name], value, "{name}");
        }
        assert_eq!(document["LogEventsOut"], 7);
    }

    #[test]
    fn only_self_sourced_invocations_are_held_back() {
        let mut holdback = SelfSourcedHoldback::default();
        let own_only = Metrics {
            records_in: 2,
            records_dropped: 2,
            records_self_sourced: 2,
            duration_ms: 1,
            ..Metrics::default()
        };
        assert_eq!(holdback.release(own_only), None);
        assert_eq!(holdback.release(own_only), None);
        let mixed = Metrics {
            records_in: 3,
            records_ok: 2,
            records_dropped: 1,
            records_self_sourced: 1,
            ..Metrics::default()
        };
        let released = holdback.release(mixed).unwrap();
        assert_eq!(released.records_in, 7);
        assert_eq!(released.records_self_sourced, 5);
        assert_eq!(released.records_dropped, 5);
        assert_eq!(released.records_ok, 2);
        assert_eq!(released.duration_ms, 2);
        // Nothing is counted twice, and an empty invocation is still written.
        assert_eq!(
            holdback.release(Metrics::default()),
            Some(Metrics::default())
        );
    }
}
