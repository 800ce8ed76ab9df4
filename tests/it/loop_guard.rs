//! The loop guard: a record from the function's own log group, in its own account, is
//! answered `Dropped`, writes nothing and is counted, whatever else the batch holds.

use firehose_logs_processor::{Config, Processor};
use serde_json::{json, Value};
use testkit::{build_event, decode_response};

const ACCOUNT: &str = "111111111111";
const OWN_GROUP: &str = "/aws/lambda/central-logs-processor";
const STREAM_ARN: &str = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/central-logs";

fn subscription(owner: &str, log_group: &str, message: &str) -> Value {
    json!({"cloudwatch": {
        "messageType": "DATA_MESSAGE", "owner": owner, "logGroup": log_group,
        "logStream": "2026/11/22/[$LATEST]0a1b", "subscriptionFilters": ["all"],
        "policyLevel": "ACCOUNT_LEVEL_POLICY",
        "logEvents": [{"id": "1", "timestamp": 1_795_329_660_000i64, "message": message}]
    }})
}

fn run(
    config: Config,
    records: Vec<Value>,
    stream_arn: &str,
) -> (Vec<(String, Vec<Value>)>, firehose_logs_processor::Metrics) {
    let records: Vec<Value> = records
        .into_iter()
        .enumerate()
        .map(|(index, mut record)| {
            record["recordId"] = json!(format!("r{index}"));
            record["approximateArrivalTimestamp"] = json!(1_795_329_660_000i64);
            record
        })
        .collect();
    let readable = json!({
        "invocationId": "loop", "deliveryStreamArn": stream_arn, "region": "eu-west-1",
        "records": records
    });
    let event = build_event(&readable).unwrap();
    let mut processor = Processor::new(config);
    let processed = processor
        .process_json(event.to_string().as_bytes())
        .unwrap();
    let decoded = decode_response(processed.response).unwrap();
    let results = decoded
        .iter()
        .map(|record| {
            let lines = String::from_utf8(record.data.clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            (record.result.clone(), lines)
        })
        .collect();
    (results, processed.metrics)
}

fn guarded() -> Config {
    Config {
        own_log_group: Some(OWN_GROUP.to_owned()),
        ..Config::default()
    }
}

#[test]
fn own_records_never_produce_output() {
    let (results, metrics) = run(
        guarded(),
        vec![
            subscription(ACCOUNT, OWN_GROUP, "{\"_aws\":{}}"),
            subscription(ACCOUNT, "/aws/lambda/app", "hello"),
            subscription(ACCOUNT, OWN_GROUP, "record failed"),
        ],
        STREAM_ARN,
    );
    assert_eq!(results[0], ("Dropped".to_owned(), vec![]));
    assert_eq!(results[1].0, "Ok");
    assert_eq!(results[1].1.len(), 1);
    assert_eq!(results[2], ("Dropped".to_owned(), vec![]));
    assert_eq!(metrics.records_self_sourced, 2);
    assert_eq!(metrics.records_dropped, 2);
    assert_eq!(metrics.records_ok, 1);
}

#[test]
fn the_same_group_elsewhere_is_delivered() {
    // Another account's group of the same name (a sender running this function too),
    // a group with a similar name, and no configured group at all: all delivered.
    let (results, metrics) = run(
        guarded(),
        vec![
            subscription("222222222222", OWN_GROUP, "from a sender"),
            subscription(ACCOUNT, &format!("{OWN_GROUP}-2"), "similar name"),
        ],
        STREAM_ARN,
    );
    assert!(results
        .iter()
        .all(|(result, lines)| result == "Ok" && lines.len() == 1));
    assert_eq!(metrics.records_self_sourced, 0);

    let (results, _) = run(
        Config::default(),
        vec![subscription(ACCOUNT, OWN_GROUP, "guard off")],
        STREAM_ARN,
    );
    assert_eq!(results[0].0, "Ok");
}

#[test]
fn the_guard_needs_the_streams_account() {
    // Without a stream ARN the account is unknown: the record is delivered, not guessed at.
    let (results, _) = run(
        guarded(),
        vec![subscription(ACCOUNT, OWN_GROUP, "no arn")],
        "",
    );
    assert_eq!(results[0].0, "Ok");
}

#[test]
fn the_log_group_comes_from_lambdas_variable() {
    let vars = [("AWS_LAMBDA_LOG_GROUP_NAME".to_owned(), OWN_GROUP.to_owned())]
        .into_iter()
        .collect();
    assert_eq!(
        Config::from_map(&vars).unwrap().own_log_group.as_deref(),
        Some(OWN_GROUP)
    );
}
