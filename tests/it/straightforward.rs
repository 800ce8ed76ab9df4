//! Output equality: the optimised pipeline against the straightforward one, byte for
//! byte, on generated events.
//!
//! The straightforward pipeline is written the obvious way, sharing no code with the
//! function: `aws_lambda_events` parses the request (and decodes base64 with the `base64`
//! crate), flate2's streaming reader gunzips, serde_json decodes the payload into owned
//! strings and values, each line is a serde-serialized struct (messages unescaped and
//! escaped again), and the response is serde-serialized too. The generator writes its
//! payloads with serde_json, so re-escaping them gives back the same bytes, and the
//! function's raw copies must match exactly.

use std::io::Read;

use aws_lambda_events::event::firehose::KinesisFirehoseEvent;
use base64::Engine;
use firehose_logs_processor::{Config, Processor};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use testkit::generate::{batch, Compressibility};

use crate::oracle::{date_hour, rfc3339_millis};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    message_type: String,
    owner: String,
    log_group: String,
    log_stream: String,
    #[serde(default)]
    subscription_filters: Vec<String>,
    #[serde(default)]
    policy_level: Option<String>,
    log_events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: Value,
    timestamp: i64,
    message: String,
    #[serde(default)]
    extracted_fields: Option<Value>,
}

/// One output line, fields in the documented order.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    timestamp: i64,
    account: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    id: String,
    message: &'a str,
    subscription_filters: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_level: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extracted_fields: Option<&'a Value>,
}

#[derive(Serialize)]
struct Response {
    records: Vec<Entry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    record_id: String,
    result: &'static str,
    data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    partition_keys: Keys,
}

#[derive(Serialize)]
struct Keys {
    kind: &'static str,
    account: String,
    source: String,
    dt: String,
    hour: String,
}

/// The `source` partition value, by the rule of docs/output-schema.md.
fn source_segment(log_group: &str) -> String {
    let segment: String = log_group
        .trim_start_matches('/')
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    assert!(
        !segment.is_empty() && segment.len() <= 100 && segment.bytes().any(|b| b != b'.'),
        "the generator's log groups need no shortening: {log_group}"
    );
    segment
}

/// Request bytes in, response bytes out, every record transformed.
fn straightforward(request: &[u8]) -> Vec<u8> {
    let event: KinesisFirehoseEvent = serde_json::from_slice(request).expect("a Firehose event");
    let base64 = base64::engine::general_purpose::STANDARD;
    let records = event
        .records
        .into_iter()
        .map(|record| {
            let record_id = record.record_id.expect("a record id");
            let mut text = Vec::new();
            MultiGzDecoder::new(record.data.0.as_slice())
                .read_to_end(&mut text)
                .expect("gzip");
            let payload: Payload = serde_json::from_slice(&text).expect("a subscription payload");
            if payload.message_type == "CONTROL_MESSAGE" {
                return Entry {
                    record_id,
                    result: "Dropped",
                    data: String::new(),
                    metadata: None,
                };
            }
            let mut data = Vec::new();
            for event in &payload.log_events {
                let line = Line {
                    time: rfc3339_millis(event.timestamp),
                    timestamp: event.timestamp,
                    account: &payload.owner,
                    log_group: &payload.log_group,
                    log_stream: &payload.log_stream,
                    id: match &event.id {
                        Value::String(id) => id.clone(),
                        other => other.to_string(),
                    },
                    message: &event.message,
                    subscription_filters: &payload.subscription_filters,
                    policy_level: payload.policy_level.as_deref(),
                    extracted_fields: event.extracted_fields.as_ref(),
                };
                serde_json::to_writer(&mut data, &line).expect("a line");
                data.push(b'\n');
            }
            let earliest = payload
                .log_events
                .iter()
                .map(|event| event.timestamp)
                .min()
                .expect("generated records have events");
            let (dt, hour) = date_hour(earliest);
            Entry {
                record_id,
                result: "Ok",
                data: base64.encode(&data),
                metadata: Some(Metadata {
                    partition_keys: Keys {
                        kind: "logs",
                        account: payload.owner.clone(),
                        source: source_segment(&payload.log_group),
                        dt,
                        hour,
                    },
                }),
            }
        })
        .collect();
    serde_json::to_vec(&Response { records }).expect("a response")
}

/// Names the first record that differs, rather than dumping megabytes.
fn first_difference(ours: &[u8], expected: &[u8]) -> String {
    let ours: Value = serde_json::from_slice(ours).expect("our response is JSON");
    let expected: Value = serde_json::from_slice(expected).expect("JSON");
    let (ours, expected) = (&ours["records"], &expected["records"]);
    let count = |records: &Value| records.as_array().map_or(0, Vec::len);
    for index in 0..count(ours).max(count(expected)) {
        if ours[index] != expected[index] {
            let decode = |entry: &Value| {
                base64::engine::general_purpose::STANDARD
                    .decode(entry["data"].as_str().unwrap_or_default())
                    .map(|data| String::from_utf8_lossy(&data).into_owned())
                    .unwrap_or_default()
            };
            let line = decode(&ours[index])
                .lines()
                .zip(decode(&expected[index]).lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n ours:     {a}\n expected: {b}"))
                .unwrap_or_default();
            return format!(
                "record {index} differs: result {} vs {}, keys {} vs {}{line}",
                ours[index]["result"],
                expected[index]["result"],
                ours[index]["metadata"],
                expected[index]["metadata"]
            );
        }
    }
    "records are equal as JSON; the bytes around them differ".to_owned()
}

#[test]
fn optimised_output_is_byte_for_byte_the_straightforward_output() {
    let cases = [
        (5, 1, Compressibility::Low),
        (5, 1, Compressibility::High),
        (7, 3, Compressibility::Low),
        (11, 3, Compressibility::High),
    ];
    let mut processor = Processor::new(Config {
        response_budget_bytes: usize::MAX,
        max_decompressed_bytes: 64 << 20,
        ..Config::default()
    });
    for (seed, megabytes, level) in cases {
        let generated = batch(seed, megabytes * 1_000_000, level);
        let expected = straightforward(&generated.event);
        // Twice through one processor: warm buffers must not change a byte.
        for round in 0..2 {
            let processed = processor
                .process_json(&generated.event)
                .expect("a Firehose request");
            assert_eq!(processed.metrics.records_processing_failed, 0);
            assert!(processed.metrics.records_ok > 0);
            let ours = processed.response;
            assert!(
                ours == expected.as_slice(),
                "seed {seed}, {megabytes} MB {level:?}, round {round}: {}",
                first_difference(ours, &expected)
            );
        }
    }
}
