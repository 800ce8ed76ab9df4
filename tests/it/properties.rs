//! Property tests over arbitrary batches: every recordId answered exactly once, every
//! log event delivered exactly once with its message intact, `Dropped` only for control
//! messages, and the response always within its budget.

use firehose_logs_processor::{Config, Processor};
use proptest::prelude::*;
use serde_json::{json, Value};
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

/// Runs a batch and checks every property that holds whatever the budget.
fn check_batch(specs: &[Spec], budget: usize) -> Result<usize, TestCaseError> {
    let records: Vec<(String, Vec<u8>)> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| (format!("record-{i}"), spec.bytes()))
        .collect();
    let request = firehose_event(&records).to_string();
    let config = Config {
        response_budget_bytes: budget,
        ..Config::default()
    };
    let mut processor = Processor::new(config);
    let processed = processor.process_json(request.as_bytes()).unwrap();
    let metrics = processed.metrics;
    let response = processed.response.to_vec();
    let decoded = decode_response(&response).map_err(TestCaseError::fail)?;

    prop_assert_eq!(decoded.len(), specs.len());
    prop_assert!(
        response.len() <= budget,
        "response {} > budget {}",
        response.len(),
        budget
    );
    let mut over_budget = 0;
    for ((spec, got), (id, _)) in specs.iter().zip(&decoded).zip(&records) {
        prop_assert_eq!(&got.record_id, id);
        match (spec, got.result.as_str()) {
            (Spec::Data(payload), "Ok") => {
                prop_assert_eq!(parse_lines(&got.data), log_lines(payload, false));
            }
            (Spec::Event(event), "Ok") => {
                prop_assert_eq!(&got.data, &format!("{event}\n").into_bytes());
            }
            (Spec::Data(_) | Spec::Event(_), "ProcessingFailed") => over_budget += 1,
            (Spec::Control, "Dropped") => {}
            (Spec::Garbage(_) | Spec::GzipGarbage(_), "ProcessingFailed") => {}
            (spec, result) => prop_assert!(false, "{spec:?} answered {result}"),
        }
    }
    prop_assert_eq!(metrics.records_over_budget, over_budget as u64);
    Ok(over_budget)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn batches_within_the_default_budget_lose_nothing(specs in prop::collection::vec(spec(), 0..24)) {
        let over_budget = check_batch(&specs, Config::default().response_budget_bytes)?;
        prop_assert_eq!(over_budget, 0, "small batches always fit");
    }

    #[test]
    fn tight_budgets_are_never_exceeded(
        specs in prop::collection::vec(spec(), 1..24),
        budget in 4_096usize..65_536,
    ) {
        check_batch(&specs, budget)?;
    }
}
