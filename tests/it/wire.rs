//! Wire compatibility with the community's Firehose types (`aws_lambda_events`):
//! every sample is a well-formed Firehose event, and every response a well-formed
//! transformation response with only the three valid result values.

use aws_lambda_events::event::firehose::{KinesisFirehoseEvent, KinesisFirehoseResponseRecord};
use firehose_logs_processor::{Config, Processor};
use serde_json::error::Category;

#[test]
fn samples_are_firehose_events_and_responses_are_firehose_responses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let request = std::fs::read(&path).unwrap();
        if path.file_name().is_some_and(|n| n == "malformed.json") {
            // One record of it is deliberately not base64, which that crate rejects
            // for the whole event: exactly why this function decodes records one by one.
            // "Invalid symbol": the base64 decoder's complaint, passed on as a data error.
            let error = serde_json::from_slice::<KinesisFirehoseEvent>(&request).unwrap_err();
            assert!(
                matches!(error.classify(), Category::Data)
                    && error.to_string().contains("Invalid symbol"),
                "{error}"
            );
        } else {
            let event: KinesisFirehoseEvent = serde_json::from_slice(&request)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!event.records.is_empty());
        }
        let mut processor = Processor::new(Config::default());
        let processed = processor.process_json(&request).unwrap();
        let response: serde_json::Value = serde_json::from_slice(processed.response).unwrap();
        for record in response["records"].as_array().unwrap() {
            // AWS requires recordId, result and data on every record; metadata carries
            // the partition keys of Ok records.
            let keys: Vec<&str> = record
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let result = record["result"].as_str().unwrap();
            match result {
                "Ok" => {
                    assert_eq!(keys, ["recordId", "result", "data", "metadata"]);
                    // The community type (which insists on metadata) reads Ok records.
                    let typed: KinesisFirehoseResponseRecord =
                        serde_json::from_value(record.clone()).unwrap();
                    assert_eq!(typed.metadata.partition_keys.len(), 5);
                }
                "Dropped" | "ProcessingFailed" => {
                    assert_eq!(keys, ["recordId", "result", "data"], "{}", path.display());
                }
                other => panic!("{}: invalid result {other}", path.display()),
            }
        }
        checked += 1;
    }
    assert!(checked >= 8);
}

#[test]
fn a_request_that_is_not_a_firehose_event_is_an_error() {
    let mut processor = Processor::new(Config::default());
    // JSON of another shape is a data error, what is not JSON a syntax error.
    for (request, kind) in [
        (&b"{}"[..], Category::Data),
        (b"[]", Category::Data),
        (b"not json", Category::Syntax),
        (br#"{"records":[{"data":"AA=="}]}"#, Category::Data),
    ] {
        let Err(error) = processor.process_json(request) else {
            panic!(
                "{} was read as a Firehose event",
                String::from_utf8_lossy(request)
            );
        };
        assert_eq!(error.classify(), kind, "{error}");
    }
    let empty = processor.process_json(br#"{"records":[]}"#).unwrap();
    assert_eq!(empty.response, br#"{"records":[]}"#);
}
