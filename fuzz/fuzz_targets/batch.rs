//! Fuzz target `batch`: a whole Firehose request through `Processor` with a 64 KiB
//! response budget.
//!
//! Input: the bytes are the request JSON, given to `Processor::process_json` (and, to
//! see what it would re-ingest, to `plan` + `finish` with nothing put back, which must
//! answer the same); an input whose first byte is 0xFF instead drives `arbitrary` to
//! build a `FirehoseRequest` (duplicate and huge record ids, gzip'd subscription
//! messages spanning hours and sized to press on the budget, raw and broken payloads)
//! and an arbitrary re-ingestion report for `plan` + `finish`.
//!
//! When the request parses, the response must be valid JSON, answer every recordId
//! exactly once (as a multiset: a duplicated id is answered once per occurrence), stay
//! within the budget whenever the all-failed response fits, carry decodable NDJSON in
//! every `Ok` entry, agree with `RecordTransformer` on each uniquely-identified record
//! and with the re-ingestion report, re-ingest only payloads that fit a later response,
//! and agree with its own metrics.

#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;

use arbitrary::{Arbitrary, Unstructured};
use firehose_logs_processor::transform::firehose::{
    entry_without_data_len, response_overhead, FirehoseRecord, FirehoseRequest,
    KinesisRecordMetadata, RecordResult,
};
use firehose_logs_processor::transform::record::{RecordOptions, RecordTransformer, Transformed};
use firehose_logs_processor::{Config, Metrics, Processor, ReingestPayload, ReingestReport};
use flate2::{write::GzEncoder, Compression};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const BUDGET: usize = 64 * 1024;
const MAX_DECOMPRESSED_BYTES: usize = 1 << 20;
/// 2026-11-22T06:00:00Z.
const BASE_HOUR_MILLIS: i64 = 1_795_327_200_000;

fn config(variant: usize) -> Config {
    Config {
        response_budget_bytes: BUDGET,
        max_decompressed_bytes: MAX_DECOMPRESSED_BYTES,
        parse_json_messages: variant & 1 != 0,
        split_by_event_hour: variant & 2 == 0,
        ..Config::default()
    }
}

thread_local! {
    /// Warm processors, as a Lambda container keeps one between invocations: one per
    /// combination of parse_json_messages and split_by_event_hour.
    static PROCESSORS: RefCell<Vec<Processor>> =
        RefCell::new((0..4).map(|v| Processor::new(config(v))).collect());
}

#[derive(Arbitrary, Debug)]
enum RecordId {
    Text(String),
    /// The id of an earlier record (index modulo the count so far).
    Duplicate(u8),
    /// A long id, to make even the all-failed response overflow the budget.
    Long(u16),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Raw(Vec<u8>),
    Gzip(Vec<u8>),
    Logs {
        owner: String,
        log_group: String,
        events: u8,
        message_len: u16,
        control: bool,
        gzip: bool,
        /// Events spread over this many hours (mod 4, at least 1).
        hours: u8,
        timestamp: u32,
    },
    Event {
        source: String,
        time: String,
        padding: u16,
    },
    NotBase64(String),
}

#[derive(Arbitrary, Debug)]
struct Record {
    id: RecordId,
    arrival: Option<f64>,
    kinesis_partition_key: Option<String>,
    payload: Payload,
}

#[derive(Arbitrary, Debug)]
struct Request {
    variant: u8,
    records: Vec<Record>,
    delivered: Vec<bool>,
    retries: u8,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn data(payload: &Payload) -> String {
    let bytes = match payload {
        Payload::Raw(bytes) => bytes.clone(),
        Payload::Gzip(bytes) => gzip(bytes),
        Payload::Logs {
            owner,
            log_group,
            events,
            message_len,
            control,
            gzip: compress,
            hours,
            timestamp,
        } => {
            let message = "m".repeat(usize::from(*message_len) % 8192);
            let hours = i64::from(hours % 4).max(1);
            let events: Vec<Value> = (0..usize::from(*events) % 32)
                .map(|i| {
                    let hour = (i as i64 * 7 + i64::from(*timestamp)) % hours;
                    let millis = BASE_HOUR_MILLIS
                        + hour * 3_600_000
                        + i64::from(*timestamp) % 3_600_000;
                    json!({"id": i.to_string(), "timestamp": millis, "message": message})
                })
                .collect();
            let text = json!({
                "messageType": if *control { "CONTROL_MESSAGE" } else { "DATA_MESSAGE" },
                "owner": owner, "logGroup": log_group, "logStream": "s",
                "subscriptionFilters": ["f"], "logEvents": events,
            })
            .to_string();
            if *compress {
                gzip(text.as_bytes())
            } else {
                text.into_bytes()
            }
        }
        Payload::Event {
            source,
            time,
            padding,
        } => json!({
            "version": "0", "account": "123456789012", "source": source, "time": time,
            "detail": {"padding": "p".repeat(usize::from(*padding) % 16384)},
        })
        .to_string()
        .into_bytes(),
        Payload::NotBase64(text) => return text.clone(),
    };
    base64_simd::STANDARD.encode_to_string(bytes)
}

fn structured(bytes: &[u8]) -> Option<(FirehoseRequest, usize, Vec<bool>, u64)> {
    let request = Request::arbitrary_take_rest(Unstructured::new(bytes)).ok()?;
    let mut records: Vec<FirehoseRecord> = Vec::new();
    for record in request.records.iter().take(64) {
        let record_id = match &record.id {
            RecordId::Text(text) => text.clone(),
            RecordId::Duplicate(index) if !records.is_empty() => {
                records[usize::from(*index) % records.len()].record_id.clone()
            }
            RecordId::Duplicate(_) => String::new(),
            RecordId::Long(len) => "r".repeat(usize::from(*len)),
        };
        records.push(FirehoseRecord {
            record_id,
            approximate_arrival_timestamp: record.arrival,
            data: data(&record.payload),
            kinesis_record_metadata: record.kinesis_partition_key.as_ref().map(|key| {
                KinesisRecordMetadata {
                    partition_key: Some(key.clone()),
                    shard_id: None,
                }
            }),
        });
    }
    Some((
        FirehoseRequest {
            records,
            ..FirehoseRequest::default()
        },
        usize::from(request.variant % 4),
        request.delivered,
        u64::from(request.retries),
    ))
}

fuzz_target!(|bytes: &[u8]| {
    PROCESSORS.with(|p| {
        let mut processors = p.borrow_mut();
        let (mut request, variant, delivered, retries) = if bytes.first() == Some(&0xFF) {
            match structured(&bytes[1..]) {
                Some(built) => built,
                None => return,
            }
        } else {
            let variant = bytes.len() % 4;
            let parsed = serde_json::from_slice::<FirehoseRequest>(bytes);
            let processed = processors[variant].process_json(bytes);
            assert_eq!(processed.is_ok(), parsed.is_ok(), "process_json disagrees with serde");
            let Ok(mut request) = parsed else { return };
            let response = processed.unwrap().response.to_vec();
            // The same through plan + finish with nothing put back.
            let processor = &mut processors[variant];
            let plan = processor.plan(&mut request);
            let items = plan.payloads().to_vec();
            let report = ReingestReport {
                delivered: vec![false; items.len()],
                ..ReingestReport::default()
            };
            let again = plan.finish(&report);
            assert!(again.response == response.as_slice(), "process and plan+finish differ");
            (request, variant, vec![], 0)
        };
        let processor = &mut processors[variant];
        let plan = processor.plan(&mut request);
        let items = plan.payloads().to_vec();
        let report = ReingestReport {
            delivered: (0..items.len())
                .map(|i| delivered.get(i).copied().unwrap_or(false))
                .collect(),
            retries,
            stopped_by: None,
        };
        let processed = plan.finish(&report);
        let response = processed.response.to_vec();
        let metrics = processed.metrics;
        // A fresh processor must answer the same: warm buffers change nothing.
        let mut fresh = Processor::new(config(variant));
        let fresh_plan = fresh.plan(&mut request);
        assert!(
            fresh_plan.payloads() == items.as_slice(),
            "warm and fresh processors re-ingest differently"
        );
        assert!(
            fresh_plan.finish(&report).response == response.as_slice(),
            "warm and fresh processors disagree"
        );
        check(&request, &response, &metrics, &config(variant), &items, &report);
    });
});

/// Transforms a record alone, with all the room it wants.
fn alone(record: &FirehoseRecord, config: &Config) -> (Result<Transformed, String>, Vec<u8>) {
    let options = RecordOptions {
        max_decompressed_bytes: config.max_decompressed_bytes,
        parse_json_messages: config.parse_json_messages,
        split_by_event_hour: config.split_by_event_hour,
        max_entry_bytes: usize::MAX,
        payload_output_bytes: config.response_budget_bytes / 4,
        own_log_group: None,
    };
    let mut out = Vec::new();
    let outcome = RecordTransformer::default().transform(record, options, &mut out);
    (outcome.result.map_err(|e| e.to_string()), out)
}

fn check(
    request: &FirehoseRequest,
    response: &[u8],
    metrics: &Metrics,
    config: &Config,
    items: &[ReingestPayload],
    report: &ReingestReport,
) {
    let n = request.records.len();
    let reserved = response_overhead(n)
        + request
            .records
            .iter()
            .map(|r| entry_without_data_len(&r.record_id, RecordResult::ProcessingFailed))
            .sum::<usize>();
    if reserved <= BUDGET {
        assert!(
            response.len() <= BUDGET,
            "response of {} bytes over the {BUDGET}-byte budget (all-failed needs {reserved})",
            response.len()
        );
    }
    let value: Value = serde_json::from_slice(response).expect("response is not JSON");
    let object = value.as_object().expect("response is not an object");
    assert_eq!(object.len(), 1, "response has fields besides records");
    let entries = object["records"].as_array().expect("records is not an array");
    assert_eq!(entries.len(), n, "one entry per record");

    // Every re-ingested payload belongs to a record and fits a later response alone.
    let mut items_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        assert!(item.record_index < n, "item for record {}", item.record_index);
        items_of.entry(item.record_index).or_default().push(index);
        let record = &request.records[item.record_index];
        let expected_key = record
            .kinesis_record_metadata
            .as_ref()
            .and_then(|m| m.partition_key.clone())
            .unwrap_or_else(|| record.record_id.clone());
        assert_eq!(item.partition_key, expected_key, "item partition key");
        let again = FirehoseRecord {
            data: base64_simd::STANDARD.encode_to_string(&item.data),
            ..record.clone()
        };
        let (result, out) = alone(&again, config);
        match result {
            Ok(Transformed::Lines { other_hours, .. }) => {
                assert!(other_hours.is_empty(), "re-ingested payload spills again");
                assert!(
                    out.len() <= config.response_budget_bytes / 4,
                    "re-ingested payload makes {} bytes of lines, over payload_output_bytes {} \
                     ({} payload: {:?}…)",
                    out.len(),
                    config.response_budget_bytes / 4,
                    if item.data.starts_with(&[0x1f, 0x8b]) { "gzip" } else { "plain" },
                    String::from_utf8_lossy(&item.data[..item.data.len().min(60)])
                );
            }
            other => panic!("re-ingested payload does not transform: {other:?}"),
        }
    }

    let mut expected: HashMap<&str, i64> = HashMap::new();
    for record in &request.records {
        *expected.entry(&record.record_id).or_default() += 1;
    }
    let unique: HashMap<&str, (usize, &FirehoseRecord)> = request
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| expected[r.record_id.as_str()] == 1)
        .map(|(i, r)| (r.record_id.as_str(), (i, r)))
        .collect();

    let (mut ok, mut dropped, mut failed, mut lines_out, mut bytes_out) = (0, 0, 0, 0, 0);
    for entry in entries {
        let entry = entry.as_object().expect("entry is not an object");
        let id = entry["recordId"].as_str().expect("recordId is not a string");
        let count = expected
            .get_mut(id)
            .unwrap_or_else(|| panic!("answered an id not in the request: {id:?}"));
        *count -= 1;
        assert!(*count >= 0, "recordId {id:?} answered too often");
        let result = entry["result"].as_str().expect("result is not a string");
        let original = unique.get(id).map(|&(index, record)| {
            let own: &[usize] = items_of.get(&index).map_or(&[], Vec::as_slice);
            let all_put_back = own.iter().all(|&i| report.delivered[i]);
            (record, own, all_put_back)
        });
        match result {
            "Ok" => {
                ok += 1;
                let data = entry["data"].as_str().expect("Ok entry without data");
                let ndjson = base64_simd::STANDARD
                    .decode_to_vec(data.as_bytes())
                    .expect("data is not base64");
                let text = std::str::from_utf8(&ndjson).expect("data is not UTF-8");
                assert!(text.is_empty() || text.ends_with('\n'), "data does not end a line");
                for line in text.lines() {
                    let parsed: Value = serde_json::from_str(line).expect("line is not JSON");
                    assert!(parsed.is_object(), "line is not an object: {line}");
                    lines_out += 1;
                }
                bytes_out += ndjson.len() as u64;
                let keys = entry["metadata"]["partitionKeys"]
                    .as_object()
                    .expect("Ok entry without partition keys");
                assert_eq!(keys.len(), 5, "partition keys {keys:?}");
                assert!(keys.values().all(Value::is_string), "partition keys {keys:?}");
                assert_eq!(entry.len(), 4, "Ok entry fields {entry:?}");
                if let Some((record, _, all_put_back)) = original {
                    assert!(all_put_back, "Ok although its other_hours was not put back");
                    let (result, out) = alone(record, config);
                    assert!(
                        matches!(result, Ok(Transformed::Lines { .. })),
                        "Ok in the batch, {result:?} alone"
                    );
                    assert!(out == ndjson, "batch data differs from the record's own");
                }
            }
            "Dropped" => {
                dropped += 1;
                check_without_data(entry);
                if let Some((record, own, all_put_back)) = original {
                    let (result, _) = alone(record, config);
                    let control = matches!(result, Ok(Transformed::Control));
                    assert!(
                        control || (!own.is_empty() && all_put_back),
                        "Dropped, neither a control message nor re-ingested: {result:?}"
                    );
                }
            }
            "ProcessingFailed" => {
                failed += 1;
                check_without_data(entry);
                if let Some((record, own, all_put_back)) = original {
                    let (result, _) = alone(record, config);
                    assert!(
                        !matches!(result, Ok(Transformed::Control)),
                        "control message answered ProcessingFailed"
                    );
                    if !own.is_empty() {
                        assert!(!all_put_back, "re-ingested, yet ProcessingFailed");
                    }
                }
            }
            other => panic!("result {other:?}"),
        }
    }
    assert!(expected.values().all(|&c| c == 0), "ids left unanswered");
    assert_eq!(metrics.records_in, n as u64);
    assert_eq!(metrics.records_ok, ok);
    assert_eq!(metrics.records_dropped, dropped);
    assert_eq!(metrics.records_processing_failed, failed);
    assert_eq!(metrics.log_events_out, lines_out);
    assert_eq!(metrics.bytes_out, bytes_out);
    assert_eq!(metrics.put_retries, report.retries);
}

/// `Dropped` and `ProcessingFailed` entries: recordId, result and, if any, empty data.
fn check_without_data(entry: &serde_json::Map<String, Value>) {
    for (key, value) in entry {
        match key.as_str() {
            "recordId" | "result" => {}
            "data" => assert_eq!(value, "", "entry without data has data"),
            other => panic!("entry without data has a field {other:?}: {entry:?}"),
        }
    }
}
