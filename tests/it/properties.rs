//! Property tests over arbitrary batches: every recordId answered exactly once, every
//! log event delivered (in the response or a re-ingested payload) exactly once with its
//! message intact, `Dropped` only for control messages or records put back whole,
//! `ProcessingFailed` for what could not be put back, and the response always within
//! its budget.

use firehose_logs_processor::{Config, Processor, ReingestPayload, ReingestReport};
use proptest::prelude::*;
use serde_json::{json, Value};
use testkit::generate::Compressibility;
use testkit::{control_message, data_message, decode_response, firehose_event, gzip};

use crate::oracle::{log_lines, parse_lines};

/// What a generated record is, so the test knows what the function must do with it.
#[derive(Debug, Clone)]
enum Spec {
    Data(Value),
    Control,
    Event(Value),
    Garbage(Vec<u8>),
    GzipGarbage(Vec<u8>),
}

impl Spec {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Spec::Data(payload) => gzip(payload.to_string().as_bytes()),
            Spec::Control => gzip(control_message().to_string().as_bytes()),
            Spec::Event(event) => event.to_string().into_bytes(),
            // Never a JSON object, never gzip: a leading '#' sees to that.
            Spec::Garbage(bytes) => [b"#".as_slice(), bytes].concat(),
            Spec::GzipGarbage(bytes) => gzip(&[b"#".as_slice(), bytes].concat()),
        }
    }
}

fn event_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[0-9]{56}".prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn log_event() -> impl Strategy<Value = Value> {
    (
        event_id(),
        0i64..4_102_444_800_000,
        prop_oneof![
            3 => any::<String>(),
            1 => "[a-z \\n\\t\"\\\\{}:,]{0,40}",
            1 => Just("{\"level\":\"info\",\"n\":[1,2]}".to_owned()),
        ],
        proptest::option::weighted(
            0.2,
            prop::collection::btree_map("[a-z]{1,5}", any::<String>(), 0..3),
        ),
    )
        .prop_map(|(id, timestamp, message, fields)| {
            let mut event = json!({"id": id, "timestamp": timestamp, "message": message});
            if let Some(fields) = fields {
                event["extractedFields"] = json!(fields);
            }
            event
        })
}

fn data_payload() -> impl Strategy<Value = Value> {
    (
        "[0-9]{12}",
        "/?[A-Za-z0-9_./#-]{1,120}",
        any::<String>(),
        prop::collection::vec(log_event(), 0..25),
        proptest::option::of("[A-Z_]{3,20}"),
    )
        .prop_map(|(owner, group, stream, events, policy)| {
            let mut payload = data_message(&owner, &group, &stream, events);
            if let Some(policy) = policy {
                payload["policyLevel"] = json!(policy);
            }
            payload
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        6 => data_payload().prop_map(Spec::Data),
        1 => Just(Spec::Control),
        2 => ("[0-9]{12}", "aws\\.[a-z]{2,10}", any::<String>()).prop_map(|(account, source, detail)| {
            Spec::Event(json!({"version": "0", "id": "e", "detail-type": "T", "source": source,
                               "account": account, "time": "2026-11-22T06:41:00Z", "detail": {"x": detail}}))
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Spec::Garbage),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Spec::GzipGarbage),
    ]
}

/// An event's identity, for counting it across Ok output and re-ingested payloads.
type EventKey = (String, i64, String);

fn event_key(id: &Value, timestamp: i64, message: &Value) -> EventKey {
    let id = match id {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    (
        id,
        timestamp,
        message.as_str().unwrap_or_default().to_owned(),
    )
}

/// The events of a re-ingested payload.
fn payload_events(data: &[u8]) -> Vec<EventKey> {
    let json = testkit::gunzip(data).unwrap_or_else(|_| data.to_vec());
    let payload: Value = serde_json::from_slice(&json).expect("a re-ingested payload is JSON");
    payload["logEvents"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| event_key(&e["id"], e["timestamp"].as_i64().unwrap(), &e["message"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs a batch through plan, a re-ingestion that puts back the items `delivered`
/// says, and finish; checks every property that holds whatever the budget.
fn check_batch(
    specs: &[Spec],
    budget: usize,
    delivered: impl Fn(usize) -> bool,
) -> Result<(), TestCaseError> {
    let records: Vec<(String, Vec<u8>)> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| (format!("record-{i}"), spec.bytes()))
        .collect();
    let mut request: firehose_logs_processor::FirehoseRequest =
        serde_json::from_value(firehose_event(&records)).unwrap();
    let config = Config {
        response_budget_bytes: budget,
        ..Config::default()
    };
    let mut processor = Processor::new(config);
    let plan = processor.plan(&mut request);
    let items = plan.payloads().to_vec();
    let report = ReingestReport {
        delivered: (0..items.len()).map(&delivered).collect(),
        ..ReingestReport::default()
    };
    let processed = plan.finish(&report);
    let response = processed.response.to_vec();
    let decoded = decode_response(&response).map_err(TestCaseError::fail)?;

    prop_assert_eq!(decoded.len(), specs.len());
    prop_assert!(
        response.len() <= budget,
        "response {} > budget {}",
        response.len(),
        budget
    );
    for (index, ((spec, got), (id, data))) in specs.iter().zip(&decoded).zip(&records).enumerate() {
        prop_assert_eq!(&got.record_id, id);
        let own: Vec<(usize, &ReingestPayload)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.record_index == index)
            .collect();
        let all_put_back = own.iter().all(|(i, _)| report.delivered[*i]);
        match (spec, got.result.as_str()) {
            (Spec::Data(payload), "Ok" | "Dropped") => {
                prop_assert!(
                    all_put_back,
                    "answered {} with a payload not put back",
                    got.result
                );
                let lines = parse_lines(&got.data);
                // What stayed is exactly the contract's lines for those events, in order.
                let expected: Vec<Value> = log_lines(payload, false)
                    .into_iter()
                    .filter(|line| {
                        lines
                            .iter()
                            .any(|l| l["id"] == line["id"] && l["timestamp"] == line["timestamp"])
                    })
                    .collect();
                prop_assert_eq!(&lines, &expected);
                if let Some(keys) = &got.partition_keys {
                    for line in &lines {
                        prop_assert_eq!(
                            &line["time"].as_str().unwrap()[..10],
                            keys["dt"].as_str().unwrap()
                        );
                        prop_assert_eq!(
                            &line["time"].as_str().unwrap()[11..13],
                            keys["hour"].as_str().unwrap()
                        );
                    }
                }
                let mut delivered: Vec<EventKey> = lines
                    .iter()
                    .map(|l| event_key(&l["id"], l["timestamp"].as_i64().unwrap(), &l["message"]))
                    .collect();
                for (_, item) in &own {
                    let events = payload_events(&item.data);
                    let hours: std::collections::BTreeSet<i64> =
                        events.iter().map(|e| e.1.div_euclid(3_600_000)).collect();
                    prop_assert!(hours.len() <= 1, "a re-ingested payload spans hours");
                    delivered.extend(events);
                }
                let mut expected: Vec<EventKey> = payload["logEvents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| event_key(&e["id"], e["timestamp"].as_i64().unwrap(), &e["message"]))
                    .collect();
                delivered.sort();
                expected.sort();
                prop_assert_eq!(delivered, expected, "every event exactly once");
            }
            (Spec::Event(event), "Ok") => {
                prop_assert!(own.is_empty());
                prop_assert_eq!(&got.data, &format!("{event}\n").into_bytes());
            }
            (Spec::Event(_), "Dropped") => {
                prop_assert!(all_put_back);
                prop_assert_eq!(own.len(), 1);
                prop_assert_eq!(&own[0].1.data, data);
            }
            (Spec::Data(_) | Spec::Event(_), "ProcessingFailed") => {
                // Kept by Firehose: allowed only when some payload was not put back.
                prop_assert!(!own.is_empty() && !all_put_back, "failed without cause");
            }
            (Spec::Control, "Dropped") => prop_assert!(own.is_empty()),
            (Spec::Garbage(_) | Spec::GzipGarbage(_), "ProcessingFailed") => {
                prop_assert!(own.is_empty())
            }
            (spec, result) => prop_assert!(false, "{spec:?} answered {result}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_event_is_delivered_or_reingested_exactly_once(
        specs in prop::collection::vec(spec(), 0..24),
        budget in prop_oneof![Just(6_000_000usize), 4_096usize..65_536],
    ) {
        check_batch(&specs, budget, |_| true)?;
    }

    #[test]
    fn records_whose_reingestion_fails_are_kept_by_firehose(
        specs in prop::collection::vec(spec(), 1..24),
        budget in 4_096usize..65_536,
        failing in prop::collection::vec(any::<bool>(), 64),
    ) {
        check_batch(&specs, budget, |item| !failing[item % failing.len()])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Realistic batches up to the 6 MB request limit, at about 5x and 8x compression:
    /// the response stays within budget, and Ok output plus re-ingested payloads hold
    /// every event exactly once.
    #[test]
    fn full_size_batches_stay_in_budget_and_lose_nothing(
        seed in any::<u64>(),
        megabytes in 1usize..=6,
        high in any::<bool>(),
    ) {
        let compressibility = if high { Compressibility::High } else { Compressibility::Low };
        let batch = testkit::generate::batch(seed, megabytes * 1_000_000, compressibility);
        let mut request: firehose_logs_processor::FirehoseRequest =
            serde_json::from_slice(&batch.event).unwrap();
        let mut processor = Processor::new(Config::default());
        let plan = processor.plan(&mut request);
        let items = plan.payloads().to_vec();
        let report = ReingestReport { delivered: vec![true; items.len()], ..ReingestReport::default() };
        let processed = plan.finish(&report);
        prop_assert!(processed.response.len() <= Config::default().response_budget_bytes);
        let decoded = decode_response(processed.response).map_err(TestCaseError::fail)?;
        let mut delivered: Vec<EventKey> = Vec::new();
        for record in &decoded {
            prop_assert!(record.result != "ProcessingFailed");
            for line in parse_lines(&record.data) {
                delivered.push(event_key(&line["id"], line["timestamp"].as_i64().unwrap(), &line["message"]));
            }
        }
        for item in &items {
            delivered.extend(payload_events(&item.data));
        }
        let mut expected: Vec<EventKey> = Vec::new();
        for payload in &batch.payloads {
            let payload: Value = serde_json::from_slice(payload).unwrap();
            if payload["messageType"] == "DATA_MESSAGE" {
                for e in payload["logEvents"].as_array().unwrap() {
                    expected.push(event_key(&e["id"], e["timestamp"].as_i64().unwrap(), &e["message"]));
                }
            }
        }
        delivered.sort();
        expected.sort();
        prop_assert_eq!(delivered.len(), expected.len());
        prop_assert!(delivered == expected, "events lost or duplicated");
    }
}
