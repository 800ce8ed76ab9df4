//! Firehose's wire format: the transformation request, and the response written as
//! bytes (base64 payloads go straight into the output, never through a serializer).

use serde::Deserialize;

use crate::transform::ndjson::push_json_string;
use crate::transform::partition::PartitionKeys;

/// A Firehose data-transformation invocation.
///
/// Record payloads stay base64 text here and are decoded one at a time, so that one
/// record with a bad payload fails alone instead of failing the whole request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRequest {
    /// Firehose's id of this invocation.
    #[serde(default)]
    pub invocation_id: Option<String>,
    /// ARN of the delivery stream that invoked the function.
    #[serde(default)]
    pub delivery_stream_arn: Option<String>,
    /// ARN of the Kinesis data stream, when one is the stream's source.
    #[serde(default)]
    pub source_kinesis_stream_arn: Option<String>,
    /// AWS region of the stream.
    #[serde(default)]
    pub region: Option<String>,
    /// The records to transform.
    pub records: Vec<FirehoseRecord>,
}

impl FirehoseRequest {
    /// The delivery stream's name, from its ARN (`arn:…:deliverystream/NAME`).
    pub fn delivery_stream_name(&self) -> Option<&str> {
        let arn = self.delivery_stream_arn.as_deref()?;
        arn.rsplit_once('/').map(|(_, name)| name)
    }

    /// The account of the delivery stream (and so of the function), from its ARN
    /// (`arn:PARTITION:firehose:REGION:ACCOUNT:deliverystream/NAME`).
    pub fn account(&self) -> Option<&str> {
        let arn = self.delivery_stream_arn.as_deref()?;
        arn.split(':').nth(4).filter(|account| !account.is_empty())
    }
}

/// One record of the request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// The id the response must carry back, exactly once.
    pub record_id: String,
    /// When Firehose received the record, epoch milliseconds.
    #[serde(default)]
    pub approximate_arrival_timestamp: Option<f64>,
    /// The payload, base64.
    pub data: String,
    /// Present only when a Kinesis data stream is the source.
    #[serde(default)]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata>,
}

impl FirehoseRecord {
    /// Arrival time in epoch milliseconds (0 when Firehose did not send one).
    pub fn arrival_millis(&self) -> i64 {
        // `as` saturates, and maps NaN to 0: any number Firehose could send is in range.
        self.approximate_arrival_timestamp.map_or(0, |ms| ms as i64)
    }
}

/// Kinesis data stream metadata of a record.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata {
    /// The record's partition key in the source stream.
    #[serde(default)]
    pub partition_key: Option<String>,
    /// The record's shard.
    #[serde(default)]
    pub shard_id: Option<String>,
}

/// What Firehose does with a record, as the response's `result` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordResult {
    /// `data` is delivered.
    Ok,
    /// Counted as processed; nothing is delivered.
    Dropped,
    /// Firehose writes the original record under the error prefix.
    ProcessingFailed,
}

impl RecordResult {
    /// The exact, case-sensitive value Firehose expects.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "Ok",
            Self::Dropped => "Dropped",
            Self::ProcessingFailed => "ProcessingFailed",
        }
    }
}

const RESPONSE_OPEN: &[u8] = b"{\"records\":[";
const RESPONSE_CLOSE: &[u8] = b"]}";

/// Bytes of a response holding `entries` records, beyond the entries themselves.
pub fn response_overhead(entries: usize) -> usize {
    RESPONSE_OPEN.len() + RESPONSE_CLOSE.len() + entries.saturating_sub(1)
}

/// Appends `{"records":[`.
pub fn open_response(out: &mut Vec<u8>) {
    out.extend_from_slice(RESPONSE_OPEN);
}

/// Appends `]}`.
pub fn close_response(out: &mut Vec<u8>) {
    out.extend_from_slice(RESPONSE_CLOSE);
}

/// Size of the entry [`write_entry_without_data`] writes.
pub fn entry_without_data_len(record_id: &str, result: RecordResult) -> usize {
    let mut scratch = Vec::with_capacity(record_id.len() + 48);
    write_entry_without_data(&mut scratch, record_id, result);
    scratch.len()
}

/// Appends `{"recordId":…,"result":…,"data":""}`, for `Dropped` and `ProcessingFailed`.
///
/// Firehose's documentation requires `data` on every returned record, whatever its
/// result, so an empty payload is written rather than none.
pub fn write_entry_without_data(out: &mut Vec<u8>, record_id: &str, result: RecordResult) {
    out.extend_from_slice(b"{\"recordId\":");
    push_json_string(out, record_id);
    out.extend_from_slice(b",\"result\":\"");
    out.extend_from_slice(result.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":\"\"}");
}

/// Size of the entry [`write_ok_entry`] writes for `data_len` bytes of payload.
pub fn ok_entry_len(record_id: &str, data_len: usize, keys: &PartitionKeys) -> usize {
    let mut scratch = Vec::with_capacity(256);
    write_ok_entry_parts(&mut scratch, record_id, keys, |_| ());
    scratch.len() + base64_simd::STANDARD.encoded_length(data_len)
}

/// Appends an `Ok` entry with `data` base64-encoded and the partition keys.
pub fn write_ok_entry(out: &mut Vec<u8>, record_id: &str, data: &[u8], keys: &PartitionKeys) {
    write_ok_entry_parts(out, record_id, keys, |out| {
        base64_simd::STANDARD.encode_append(data, out);
    });
}

fn write_ok_entry_parts(
    out: &mut Vec<u8>,
    record_id: &str,
    keys: &PartitionKeys,
    write_data: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"{\"recordId\":");
    push_json_string(out, record_id);
    out.extend_from_slice(b",\"result\":\"Ok\",\"data\":\"");
    write_data(out);
    out.extend_from_slice(b"\",\"metadata\":{\"partitionKeys\":{");
    for (index, (name, value)) in keys.pairs().into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_json_string(out, name);
        out.push(b':');
        push_json_string(out, value);
    }
    out.extend_from_slice(b"}}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::time::UtcTime;

    fn keys() -> PartitionKeys {
        PartitionKeys::new(
            "logs",
            "123456789012",
            "/aws/lambda/app",
            UtcTime::from_millis(1_795_329_660_000).unwrap(),
        )
    }

    #[test]
    fn ok_entry_is_the_documented_json() {
        let mut out = Vec::new();
        write_ok_entry(&mut out, "id-\"1\"", b"{\"a\":1}\n", &keys());
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "recordId": "id-\"1\"",
                "result": "Ok",
                "data": "eyJhIjoxfQo=",
                "metadata": {"partitionKeys": {
                    "kind": "logs", "account": "123456789012", "source": "aws_lambda_app",
                    "dt": "2026-11-22", "hour": "06"}}
            })
        );
        assert_eq!(out.len(), ok_entry_len("id-\"1\"", 8, &keys()));
    }

    #[test]
    fn entries_without_data_are_sized_exactly() {
        for result in [RecordResult::Dropped, RecordResult::ProcessingFailed] {
            let mut out = Vec::new();
            write_entry_without_data(&mut out, "r\u{e9}c", result);
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(value["result"], result.as_str());
            assert_eq!(value["recordId"], "r\u{e9}c");
            assert_eq!(value["data"], "");
            assert_eq!(out.len(), entry_without_data_len("r\u{e9}c", result));
        }
    }

    #[test]
    fn stream_name_comes_from_the_arn() {
        let request = FirehoseRequest {
            delivery_stream_arn: Some("arn:aws:firehose:us-east-1:1:deliverystream/logs".into()),
            ..FirehoseRequest::default()
        };
        assert_eq!(request.delivery_stream_name(), Some("logs"));
        assert_eq!(FirehoseRequest::default().delivery_stream_name(), None);
    }
}
