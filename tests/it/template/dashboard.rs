//! The dashboard names only metrics the functions emit, with the dimensions they emit
//! them with, and shows the ones an operator needs.

use std::collections::BTreeSet;

use super::{properties, template};
use crate::cfn::{get, Resolver};

#[test]
fn dashboard_names_only_metrics_the_function_emits() {
    use firehose_logs_processor::export::ExportMetrics;
    use firehose_logs_processor::processor::metrics::Metrics;

    let template = template();
    let resolver = Resolver::new(&template).with("LogBucket", "bucket");
    let namespace = resolver.reference_text("MetricsNamespace");
    let stream = resolver.reference_text("DeliveryStreamName");
    let body = resolver.text(get(
        properties(&template, "PipelineDashboard"),
        &["DashboardBody"],
    ));
    let body: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("dashboard body: {error}"));

    let emitted: BTreeSet<&str> = Metrics::default()
        .values()
        .iter()
        .map(|(name, ..)| *name)
        .collect();
    let converter_emitted: BTreeSet<&str> = ExportMetrics::default()
        .values()
        .iter()
        .map(|(name, ..)| *name)
        .collect();
    let mut own = BTreeSet::new();
    let mut converter = BTreeSet::new();
    let mut firehose = BTreeSet::new();
    let mut backfill = BTreeSet::new();
    // The backfill's row names the state machine by the ARN its name gives (the machine
    // exists only with BackfillEnabled; the dashboard always does).
    let machine = format!(
        "arn:aws:states:eu-west-1:111111111111:stateMachine:{}",
        resolver.text(get(
            properties(&template, "BackfillStateMachine"),
            &["StateMachineName"]
        ))
    );
    for widget in body["widgets"].as_array().expect("widgets") {
        if widget["type"] != "metric" {
            continue;
        }
        assert!(widget["properties"]["region"].is_string(), "{widget}");
        for metric in widget["properties"]["metrics"].as_array().expect("metrics") {
            let metric = metric.as_array().expect("a metric is an array");
            let name = metric[1].as_str().expect("metric name");
            let dimensions: Vec<&str> = metric[2..]
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            match metric[0].as_str().expect("namespace") {
                // The processor's metrics carry the stream, the converter's the bucket.
                ns if ns == namespace && dimensions.first() == Some(&"Bucket") => {
                    assert!(
                        converter_emitted.contains(name),
                        "{name} is not emitted by the export converter"
                    );
                    assert_eq!(dimensions, ["Bucket", "bucket"], "{name}");
                    converter.insert(name.to_owned());
                }
                ns if ns == namespace => {
                    assert!(
                        emitted.contains(name),
                        "{name} is not emitted by the function"
                    );
                    assert_eq!(dimensions, ["DeliveryStream", stream.as_str()], "{name}");
                    own.insert(name.to_owned());
                }
                "AWS/Firehose" => {
                    assert_eq!(
                        dimensions,
                        ["DeliveryStreamName", stream.as_str()],
                        "{name}"
                    );
                    firehose.insert(name.to_owned());
                }
                "AWS/Lambda" => {}
                "AWS/States" => {
                    assert_eq!(dimensions, ["StateMachineArn", machine.as_str()], "{name}");
                    backfill.insert(name.to_owned());
                }
                other => panic!("unexpected namespace {other}"),
            }
        }
    }
    for name in [
        "RecordsIn",
        "RecordsOk",
        "RecordsDropped",
        "RecordsProcessingFailed",
        "RecordsSelfSourced",
        "RecordsReingested",
        "RecordSplits",
        "ReingestFailures",
        "BytesInDecompressed",
        "BytesOut",
        "DurationMs",
    ] {
        assert!(own.contains(name), "dashboard lacks {name}");
    }
    for name in [
        "IncomingRecords",
        "DeliveryToS3.DataFreshness",
        "DeliveryToS3.Success",
        "PartitionCount",
    ] {
        assert!(
            firehose.contains(name),
            "dashboard lacks AWS/Firehose {name}"
        );
    }
    for name in ["ExecutionsStarted", "ExecutionsFailed"] {
        assert!(
            backfill.contains(name),
            "dashboard lacks the backfill's {name}"
        );
    }
    for name in ["ExportObjectsConverted", "ExportObjectsFailed"] {
        assert!(
            converter.contains(name),
            "dashboard lacks the converter's {name}"
        );
    }
}
