//! Per-invocation metrics, written as one CloudWatch Embedded Metric Format line.

use serde_json::{json, Map, Value};

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
    /// Records answered `ProcessingFailed` because re-ingestion did not complete in time.
    pub reingest_failures: u64,
}

impl Metrics {
    /// The metric names and values, in a stable order.
    pub fn values(&self) -> [(&'static str, u64, &'static str); 14] {
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
        ]
    }

    /// The EMF document: metrics under `namespace`, with the delivery stream's name as
    /// the `DeliveryStream` dimension.
    pub fn to_emf(&self, namespace: &str, delivery_stream: &str, timestamp_ms: i64) -> String {
        let definitions: Vec<Value> = self
            .values()
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["DeliveryStream"]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert("DeliveryStream".into(), json!(delivery_stream));
        for (name, value, _) in self.values() {
            document.insert(name.into(), json!(value));
        }
        Value::Object(document).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
