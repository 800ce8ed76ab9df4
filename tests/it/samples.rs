//! The sample events in `events/`: they agree with their readable sources, and each
//! is transformed into exactly the results and lines the contract promises.

use std::path::{Path, PathBuf};

use firehose_logs_processor::transform::partition::key_segment;
use firehose_logs_processor::{
    Config, FirehoseRequest, Processor, ReingestPayload, ReingestReport,
};
use serde_json::{json, Value};
use testkit::{build_event, decode_response, gunzip, unbase64, DecodedRecord};

use crate::oracle::{date_hour, log_lines, parse_lines};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A record's payload bytes, gunzipped when they are gzip.
fn payload_bytes(record: &Value) -> Option<Vec<u8>> {
    let data = unbase64(record["data"].as_str()?)?;
    Some(if data.starts_with(&[0x1f, 0x8b]) {
        gunzip(&data).unwrap_or(data)
    } else {
        data
    })
}

#[test]
fn events_agree_with_their_readable_sources() {
    let mut checked = 0;
    for entry in std::fs::read_dir(events_dir().join("src")).unwrap() {
        let source_path = entry.unwrap().path();
        let stored_path = events_dir().join(source_path.file_name().unwrap());
        let built = build_event(&read_json(&source_path)).unwrap();
        let stored = read_json(&stored_path);
        let (built_records, stored_records) = (
            built["records"].as_array().unwrap(),
            stored["records"].as_array().unwrap(),
        );
        assert_eq!(
            built_records.len(),
            stored_records.len(),
            "{}",
            stored_path.display()
        );
        for (built, stored) in built_records.iter().zip(stored_records) {
            let without_data = |record: &Value| {
                let mut record = record.clone();
                record.as_object_mut().unwrap().remove("data");
                record
            };
            assert_eq!(without_data(built), without_data(stored));
            // Compare what the payloads say, not the compressor's exact bytes.
            assert!(
                payload_bytes(built) == payload_bytes(stored),
                "{}: record {} differs from its source: run `make events`",
                stored_path.display(),
                stored["recordId"]
            );
        }
        let envelope = |event: &Value| {
            let mut event = event.clone();
            event.as_object_mut().unwrap().remove("records");
            event
        };
        assert_eq!(envelope(&built), envelope(&stored));
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} sources found");

    let large = testkit::generate::batch(
        testkit::LARGE_BATCH_SEED,
        testkit::LARGE_BATCH_BYTES,
        testkit::generate::Compressibility::Low,
    );
    let stored: Value = read_json(&events_dir().join("large-batch.json"));
    let regenerated: Value = serde_json::from_slice(&large.event).unwrap();
    let payloads = |event: &Value| -> Vec<Option<Vec<u8>>> {
        event["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(payload_bytes)
            .collect()
    };
    // Compared record by record, so that a failure names a record, not megabytes.
    let (stored, regenerated) = (payloads(&stored), payloads(&regenerated));
    assert_eq!(
        stored.len(),
        regenerated.len(),
        "large-batch.json is stale: run `make events`"
    );
    for (index, (stored, regenerated)) in stored.iter().zip(&regenerated).enumerate() {
        assert!(
            stored == regenerated,
            "large-batch.json record {index} is stale: run `make events`"
        );
    }
}

/// Runs a sample through plan and finish, as if every re-ingested payload went in.
fn run_with_items(
    file: &str,
    config: Config,
) -> (Value, Vec<DecodedRecord>, Vec<u8>, Vec<ReingestPayload>) {
    let bytes = std::fs::read(events_dir().join(file)).unwrap();
    let mut request: FirehoseRequest = serde_json::from_slice(&bytes).unwrap();
    let mut processor = Processor::new(config);
    let plan = processor.plan(&mut request);
    let items = plan.payloads().to_vec();
    let report = ReingestReport {
        delivered: vec![true; items.len()],
        ..ReingestReport::default()
    };
    let processed = plan.finish(&report);
    let response = processed.response.to_vec();
    let decoded = decode_response(&response).unwrap();
    (
        serde_json::from_slice(&bytes).unwrap(),
        decoded,
        response,
        items,
    )
}

fn run(file: &str, config: Config) -> (Value, Vec<DecodedRecord>, Vec<u8>) {
    let (request, decoded, response, _) = run_with_items(file, config);
    (request, decoded, response)
}

#[test]
fn each_sample_gets_its_expected_results() {
    let table: [(&str, &[&str]); 7] = [
        ("cloudwatch-data.json", &["Ok", "Ok"]),
        ("cloudwatch-control.json", &["Dropped"]),
        ("eventbridge-cloudtrail.json", &["Ok", "Ok", "Ok"]),
        (
            "mixed.json",
            &["Dropped", "Ok", "Ok", "ProcessingFailed", "Ok"],
        ),
        ("kinesis-source.json", &["Ok", "Dropped"]),
        (
            "malformed.json",
            &[
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "Ok",
            ],
        ),
        (
            "aws-sample-cloudwatch-logs-processor.json",
            &["Dropped", "Ok", "Ok", "Ok"],
        ),
    ];
    for (file, expected) in table {
        let (request, decoded, _) = run(file, Config::default());
        let ids: Vec<&str> = decoded.iter().map(|r| r.record_id.as_str()).collect();
        let sent: Vec<&str> = request["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["recordId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, sent, "{file}: every recordId once, in order");
        let results: Vec<&str> = decoded.iter().map(|r| r.result.as_str()).collect();
        assert_eq!(results, expected, "{file}");
        for (sent, got) in request["records"].as_array().unwrap().iter().zip(&decoded) {
            check_ok_record(file, sent, got);
        }
    }
}

/// An Ok record holds exactly the lines its payload promises, under the right keys.
fn check_ok_record(file: &str, sent: &Value, got: &DecodedRecord) {
    if got.result != "Ok" {
        assert!(
            got.data.is_empty() && got.partition_keys.is_none(),
            "{file}"
        );
        return;
    }
    let payload = payload_bytes(sent).unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    let lines = parse_lines(&got.data);
    let keys = Value::Object(got.partition_keys.clone().unwrap());
    if payload.get("messageType").is_some() {
        // Events of later hours are re-ingested: what stays is the earliest hour's.
        let hour = |line: &Value| line["timestamp"].as_i64().unwrap().div_euclid(3_600_000);
        let all = log_lines(&payload, false);
        let first_hour = all.iter().map(hour).min();
        let expected: Vec<Value> = all
            .into_iter()
            .filter(|l| Some(hour(l)) == first_hour)
            .collect();
        assert_eq!(lines, expected, "{file} {}", got.record_id);
        let earliest = payload["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["timestamp"].as_i64().unwrap())
            .min()
            .unwrap();
        let (dt, hour) = date_hour(earliest);
        assert_eq!(
            keys,
            json!({"kind": "logs", "account": payload["owner"],
                   "source": key_segment(payload["logGroup"].as_str().unwrap()),
                   "dt": dt, "hour": hour}),
            "{file}"
        );
    } else {
        // EventBridge: the object unchanged, one line.
        let original = unbase64(sent["data"].as_str().unwrap()).unwrap();
        let mut expected = original.clone();
        expected.push(b'\n');
        assert_eq!(got.data, expected, "{file}");
        let time = payload["time"].as_str().unwrap();
        assert_eq!(keys["kind"], "events");
        assert_eq!(keys["account"], payload["account"]);
        assert_eq!(keys["source"], payload["source"]);
        assert_eq!(keys["dt"], time[..10]);
        assert_eq!(keys["hour"], time[11..13]);
    }
}

#[test]
fn a_record_spanning_an_hour_is_split_by_hour() {
    let times = |record: &DecodedRecord| -> Vec<String> {
        parse_lines(&record.data)
            .iter()
            .map(|line| line["time"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, decoded, _, items) = run_with_items("mixed.json", Config::default());
    let spanning = &decoded[4];
    let keys = spanning.partition_keys.as_ref().unwrap();
    assert_eq!(
        (keys["dt"].as_str(), keys["hour"].as_str()),
        (Some("2026-11-22"), Some("06"))
    );
    assert_eq!(times(spanning), ["2026-11-22T06:59:59.500Z"]);
    // The 07:00 event travels again as its own subscription payload, same metadata.
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].record_index, 4);
    let piece: Value = serde_json::from_slice(&gunzip(&items[0].data).unwrap()).unwrap();
    assert_eq!(piece["logGroup"], "/aws/lambda/orders");
    assert_eq!(piece["logEvents"].as_array().unwrap().len(), 1);
    assert_eq!(
        piece["logEvents"][0]["message"],
        "early in hour 07: batch of 3 finished"
    );

    // Switched off, the record lands whole in its earliest event's hour.
    let config = Config {
        split_by_event_hour: false,
        ..Config::default()
    };
    let (_, decoded, _, items) = run_with_items("mixed.json", config);
    assert!(items.is_empty());
    assert_eq!(
        times(&decoded[4]),
        ["2026-11-22T06:59:59.500Z", "2026-11-22T07:00:02.500Z"]
    );
}

#[test]
fn json_messages_are_parsed_only_when_configured() {
    let config = Config {
        parse_json_messages: true,
        ..Config::default()
    };
    let (request, decoded, _) = run("cloudwatch-data.json", config);
    let payload: Value =
        serde_json::from_slice(&payload_bytes(&request["records"][0]).unwrap()).unwrap();
    let lines = parse_lines(&decoded[0].data);
    assert_eq!(lines, log_lines(&payload, true));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.get("message_json").is_some())
            .count(),
        1
    );
    assert_eq!(
        lines[1]["message_json"]["order"]["items"][1],
        "café au lait"
    );
}

#[test]
fn the_large_batch_stays_within_budget_and_loses_nothing() {
    let (request, decoded, response, items) = run_with_items("large-batch.json", Config::default());
    assert!(response.len() <= Config::default().response_budget_bytes);
    let sent = request["records"].as_array().unwrap();
    assert_eq!(decoded.len(), sent.len());
    let mut over_budget = 0;
    for (index, (sent, got)) in sent.iter().zip(&decoded).enumerate() {
        assert_eq!(sent["recordId"].as_str(), Some(got.record_id.as_str()));
        let payload: Value = serde_json::from_slice(&payload_bytes(sent).unwrap()).unwrap();
        match (payload["messageType"].as_str(), got.result.as_str()) {
            (Some("CONTROL_MESSAGE"), "Dropped") => {}
            (Some("DATA_MESSAGE"), "Ok") => check_ok_record("large-batch.json", sent, got),
            // Put back into the stream whole, to be transformed by a later invocation.
            (Some("DATA_MESSAGE"), "Dropped") => {
                over_budget += 1;
                let own: Vec<&ReingestPayload> =
                    items.iter().filter(|i| i.record_index == index).collect();
                assert!(!own.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A full 1 MB buffer of CloudWatch Logs expands past 6 MB: some records must not fit.
    assert!(
        over_budget > 0,
        "expected the large batch to exceed the response budget"
    );
}
