//! The converter's per-invocation metrics, one EMF line, dimension `Bucket`.

use crate::support::emf::emf_line;

/// Counters of one invocation of the converter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportMetrics {
    /// Export objects converted completely.
    pub objects_converted: u64,
    /// Objects left alone: outside the convention, or the service's write test.
    pub objects_skipped: u64,
    /// Objects that could not be read or written completely (the invocation fails).
    pub objects_failed: u64,
    /// Events converted.
    pub events: u64,
    /// Export text read, after gunzip.
    pub bytes_in: u64,
    /// Output objects written.
    pub outputs: u64,
    /// NDJSON bytes written, before compression.
    pub bytes_out: u64,
    /// Wall time of the invocation, in milliseconds.
    pub duration_ms: u64,
}

impl ExportMetrics {
    /// The metric names and values, in a stable order.
    pub fn values(&self) -> [(&'static str, u64, &'static str); 8] {
        [
            ("ExportObjectsConverted", self.objects_converted, "Count"),
            ("ExportObjectsSkipped", self.objects_skipped, "Count"),
            ("ExportObjectsFailed", self.objects_failed, "Count"),
            ("ExportEvents", self.events, "Count"),
            ("ExportBytesIn", self.bytes_in, "Bytes"),
            ("ExportOutputs", self.outputs, "Count"),
            ("ExportBytesOut", self.bytes_out, "Bytes"),
            ("ExportDurationMs", self.duration_ms, "Milliseconds"),
        ]
    }

    /// The EMF document.
    pub fn to_emf(&self, namespace: &str, bucket: &str, timestamp_ms: i64) -> String {
        emf_line(namespace, ("Bucket", bucket), &self.values(), timestamp_ms)
    }
}
