//! Builds Firehose transformation events from readable descriptions, for the sample
//! events in `events/`, the tests and the benchmarks.
//!
//! A readable event is the Firehose envelope with each record's `data` replaced by one
//! of these keys, so nobody has to read or paste base64:
//! - `cloudwatch`: a subscription payload (JSON), gzip-compressed as CloudWatch Logs does;
//! - `json`: any JSON value, sent as compact text without compression (EventBridge);
//! - `text`: a string sent as its UTF-8 bytes;
//! - `gzip_text`: a string, gzip-compressed;
//! - `truncated_cloudwatch`: like `cloudwatch`, with the gzip cut in half;
//! - `base64`: the `data` field verbatim, even when it is not valid base64.

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Map, Value};

pub mod alloc;
pub mod generate;
pub mod runtime_api;

/// Seed of `events/large-batch.json`.
pub const LARGE_BATCH_SEED: u64 = 2026;

/// The account of [`firehose_event`]'s delivery stream, and so of the function.
pub const STREAM_ACCOUNT: &str = "123456789012";
/// 2026-11-22T06:41:00.000Z: the records' arrival time in [`firehose_event`], and the
/// tests' first event time.
pub const T0_MILLIS: i64 = 1_795_329_660_000;
/// Approximate size of `events/large-batch.json`: a full 1 MB Firehose processor buffer.
pub const LARGE_BATCH_BYTES: usize = 1_000_000;

/// Gzip at CloudWatch Logs' level (6).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Gunzips every member.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Base64, standard alphabet with padding.
pub fn base64(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Decodes standard base64.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).ok()
}

/// The `data` bytes a readable record describes.
pub fn record_payload(record: &Value) -> Result<Vec<u8>, String> {
    let object = record.as_object().ok_or("a record must be an object")?;
    let kinds: Vec<&String> = object
        .keys()
        .filter(|key| PAYLOAD_KEYS.contains(&key.as_str()))
        .collect();
    if kinds.len() != 1 {
        return Err(format!(
            "a record needs exactly one of {PAYLOAD_KEYS:?}, found {kinds:?}"
        ));
    }
    let value = &object[kinds[0].as_str()];
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or("expected a string".to_owned())
    };
    Ok(match kinds[0].as_str() {
        "cloudwatch" => gzip(value.to_string().as_bytes()),
        "json" => value.to_string().into_bytes(),
        "text" => text(value)?.into_bytes(),
        "gzip_text" => gzip(text(value)?.as_bytes()),
        "truncated_cloudwatch" => {
            let whole = gzip(value.to_string().as_bytes());
            whole[..whole.len() / 2].to_vec()
        }
        "base64" => return Err("base64 records carry their data verbatim".into()),
        _ => unreachable!("filtered above"),
    })
}

/// The keys that describe a record's payload.
pub const PAYLOAD_KEYS: [&str; 6] = [
    "cloudwatch",
    "json",
    "text",
    "gzip_text",
    "truncated_cloudwatch",
    "base64",
];

/// Turns a readable event into the Firehose event the function receives.
pub fn build_event(readable: &Value) -> Result<Value, String> {
    let mut event = readable
        .as_object()
        .ok_or("an event must be an object")?
        .clone();
    let records = event
        .get("records")
        .and_then(Value::as_array)
        .ok_or("an event needs a records array")?;
    let mut built = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let mut out = Map::new();
        for (key, value) in record.as_object().ok_or("a record must be an object")? {
            if !PAYLOAD_KEYS.contains(&key.as_str()) {
                out.insert(key.clone(), value.clone());
            }
        }
        let data = match record.get("base64") {
            Some(verbatim) => verbatim
                .as_str()
                .ok_or("base64 must be a string")?
                .to_owned(),
            None => base64(&record_payload(record).map_err(|e| format!("record {index}: {e}"))?),
        };
        out.insert("data".into(), Value::String(data));
        built.push(Value::Object(out));
    }
    event.insert("records".into(), Value::Array(built));
    Ok(Value::Object(event))
}

/// A Firehose event around already-encoded records: `(recordId, data bytes)`.
pub fn firehose_event(records: &[(String, Vec<u8>)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, data)| {
            json!({
                "recordId": id,
                "approximateArrivalTimestamp": T0_MILLIS,
                "data": base64(data),
            })
        })
        .collect();
    json!({
        "invocationId": "00000000-0000-4000-8000-000000000000",
        "deliveryStreamArn": format!("arn:aws:firehose:us-east-1:{STREAM_ACCOUNT}:deliverystream/logs"),
        "region": "us-east-1",
        "records": records,
    })
}

/// A CloudWatch Logs `DATA_MESSAGE` payload.
pub fn data_message(owner: &str, log_group: &str, log_stream: &str, events: Vec<Value>) -> Value {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["to-firehose"],
        "logEvents": events,
    })
}

/// The payload CloudWatch Logs sends when a subscription is created.
pub fn control_message() -> Value {
    json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{
            "id": "",
            "timestamp": 1_795_329_660_000i64,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }],
    })
}

/// The function's response, decoded: per record its result, partition keys and lines.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRecord {
    /// The record id.
    pub record_id: String,
    /// `Ok`, `Dropped` or `ProcessingFailed`.
    pub result: String,
    /// Partition keys, when present.
    pub partition_keys: Option<Map<String, Value>>,
    /// The data, decoded from base64.
    pub data: Vec<u8>,
}

/// Decodes a response body.
pub fn decode_response(response: &[u8]) -> Result<Vec<DecodedRecord>, String> {
    let value: Value = serde_json::from_slice(response).map_err(|e| e.to_string())?;
    let records = value["records"].as_array().ok_or("no records array")?;
    records
        .iter()
        .map(|record| {
            Ok(DecodedRecord {
                record_id: record["recordId"].as_str().ok_or("no recordId")?.to_owned(),
                result: record["result"].as_str().ok_or("no result")?.to_owned(),
                partition_keys: record["metadata"]["partitionKeys"].as_object().cloned(),
                data: match record.get("data") {
                    None => Vec::new(),
                    Some(data) => unbase64(data.as_str().ok_or("data not a string")?)
                        .ok_or("data not base64")?,
                },
            })
        })
        .collect()
}
