//! `template.yaml` against the code: the S3 prefix, the Glue tables and the function's
//! environment must follow `schema.rs` and `config.rs`, so that a change on one side
//! without the other fails here instead of in a deployed pipeline.
//!
//! The template is read with `serde_norway` (a maintained `serde_yaml` fork), whose
//! `Value::Tagged` keeps CloudFormation short-form tags (`!Sub`, `!If`, `!Join`…).
//! [`evaluate`] resolves the few intrinsics that shape strings, choosing the `true` or
//! the `false` branch of every `!If`: `true` everywhere is the finest layout (the
//! default), `false` everywhere the coarsest.

use std::collections::BTreeSet;
use std::path::Path;

use firehose_logs_processor::config::ENV_VARS;
use firehose_logs_processor::schema::{
    KEY_KIND, KIND_EVENTS, KIND_LOGS, LOG_LINE_FIELDS, PARTITION_KEYS,
};
use serde_norway::Value;

/// The EventBridge envelope, as EventBridge writes it and as the function passes it on.
const EVENTBRIDGE_ENVELOPE: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

const PARTITION_KEY_EXPRESSION: &str = "!{partitionKeyFromLambda:";

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_norway::from_str(&text).expect("template.yaml is valid YAML")
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |node, key| {
        node.get(*key)
            .unwrap_or_else(|| panic!("template has no {key} in {}", path.join(".")))
    })
}

fn properties<'a>(template: &'a Value, resource: &str) -> &'a Value {
    get(template, &["Resources", resource, "Properties"])
}

fn as_str(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

/// A scalar as CloudFormation would pass it on: numbers and booleans become text.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// `!Sub` text with the `${!literal}` escape applied; other `${...}` stay as written.
fn sub_literal(text: &str) -> String {
    text.replace("${!", "${")
}

/// Resolves `!Join`, `!If` (taking `branch`), `!Sub` (escapes only) and plain strings.
fn evaluate(value: &Value, branch: bool) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let args = &tagged.value;
            match tag.as_str() {
                "!Join" => {
                    let delimiter = as_str(&args[0]);
                    let parts = args[1]
                        .as_sequence()
                        .expect("!Join takes a list")
                        .iter()
                        .map(|part| evaluate(part, branch))
                        .collect::<Vec<_>>();
                    parts.join(delimiter)
                }
                "!If" => evaluate(&args[if branch { 1 } else { 2 }], branch),
                "!Sub" => match args {
                    Value::String(text) => sub_literal(text),
                    _ => sub_literal(as_str(&args[0])),
                },
                other => panic!("cannot evaluate {other} here: {args:?}"),
            }
        }
        other => panic!("cannot evaluate {other:?}"),
    }
}

/// Keys of `!{partitionKeyFromLambda:key}` expressions, in order.
fn lambda_keys(prefix: &str) -> Vec<String> {
    prefix
        .split(PARTITION_KEY_EXPRESSION)
        .skip(1)
        .map(|rest| {
            let end = rest
                .find('}')
                .expect("unterminated partition key expression");
            rest[..end].to_owned()
        })
        .collect()
}

fn stream_prefix(template: &Value, branch: bool) -> String {
    let destination = get(
        properties(template, "DeliveryStream"),
        &["ExtendedS3DestinationConfiguration"],
    );
    evaluate(get(destination, &["Prefix"]), branch)
}

/// `key=...` segments of an S3 path, after the kind segment.
fn hive_segments(path: &str) -> Vec<(String, String)> {
    path.split('/')
        .filter_map(|segment| segment.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn prefix_uses_exactly_the_function_partition_keys_in_order() {
    let template = template();
    let finest = stream_prefix(&template, true);
    assert_eq!(
        lambda_keys(&finest),
        PARTITION_KEYS,
        "default layout prefix: {finest}"
    );
    assert_eq!(
        as_str(get(
            &template,
            &["Parameters", "PartitionLayout", "Default"]
        )),
        "account-source-hour",
        "the default layout must be the finest one"
    );

    let coarsest = stream_prefix(&template, false);
    let coarse_keys = lambda_keys(&coarsest);
    assert!(
        coarse_keys
            .iter()
            .all(|key| PARTITION_KEYS.contains(&key.as_str())),
        "unknown key in {coarsest}"
    );
    let in_code_order: Vec<_> = PARTITION_KEYS
        .iter()
        .filter(|key| coarse_keys.iter().any(|k| k == *key))
        .collect();
    assert_eq!(
        coarse_keys.iter().collect::<Vec<_>>(),
        in_code_order,
        "coarse layout keeps the code's key order"
    );
    assert!(coarse_keys.contains(&KEY_KIND.to_owned()));

    for prefix in [&finest, &coarsest] {
        assert!(
            prefix.starts_with(&format!("{PARTITION_KEY_EXPRESSION}{KEY_KIND}}}/")),
            "kind must be the first, bare segment (one Glue table per kind): {prefix}"
        );
        assert!(prefix.ends_with('/'), "{prefix}");
        for (key, value) in hive_segments(prefix) {
            assert_eq!(
                value,
                format!("{PARTITION_KEY_EXPRESSION}{key}}}"),
                "Hive-style segment {key}= must hold its own key"
            );
        }
    }
}

#[test]
fn error_prefix_carries_the_error_type_and_the_prefix_does_not() {
    let template = template();
    let destination = get(
        properties(&template, "DeliveryStream"),
        &["ExtendedS3DestinationConfiguration"],
    );
    let error_prefix = as_str(get(destination, &["ErrorOutputPrefix"]));
    assert!(error_prefix.contains("!{firehose:error-output-type}"));
    for branch in [true, false] {
        let prefix = stream_prefix(&template, branch);
        assert!(!prefix.contains("firehose:error-output-type"), "{prefix}");
        assert!(!prefix.contains("!{timestamp:"), "arrival time in {prefix}");
    }
    assert_eq!(
        get(
            destination,
            &["DynamicPartitioningConfiguration", "Enabled"]
        )
        .as_bool(),
        Some(true)
    );
}

fn glue_columns(template: &Value, table: &str) -> Vec<(String, String)> {
    get(
        properties(template, table),
        &["TableInput", "StorageDescriptor", "Columns"],
    )
    .as_sequence()
    .expect("Columns is a list")
    .iter()
    .map(|column| {
        (
            as_str(get(column, &["Name"])).to_owned(),
            as_str(get(column, &["Type"])).to_owned(),
        )
    })
    .collect()
}

#[test]
fn logs_table_columns_are_the_log_line_fields() {
    let expected: Vec<_> = LOG_LINE_FIELDS
        .iter()
        .map(|field| (field.name.to_owned(), field.athena_type.to_owned()))
        .collect();
    assert_eq!(glue_columns(&template(), "LogsTable"), expected);
}

#[test]
fn events_table_columns_are_the_eventbridge_envelope() {
    let template = template();
    let columns = glue_columns(&template, "EventsTable");
    let serde_parameters = get(
        properties(&template, "EventsTable"),
        &["TableInput", "StorageDescriptor", "SerdeInfo", "Parameters"],
    );
    let json_keys: Vec<String> = columns
        .iter()
        .map(|(name, _)| {
            serde_parameters
                .get(format!("mapping.{name}"))
                .map_or_else(|| name.clone(), |key| as_str(key).to_owned())
        })
        .collect();
    assert_eq!(json_keys, EVENTBRIDGE_ENVELOPE);
    for (name, athena_type) in &columns {
        let expected = if name == "resources" {
            "array<string>"
        } else {
            // detail is kept as its JSON text: the OpenX SerDe hands a nested object
            // to a string column as JSON.
            "string"
        };
        assert_eq!(athena_type, expected, "column {name}");
    }
}

#[test]
fn glue_partitions_follow_the_stream_prefix() {
    let template = template();
    for branch in [true, false] {
        let prefix = stream_prefix(&template, branch);
        let prefix_keys: Vec<String> = hive_segments(&prefix).into_iter().map(|(k, _)| k).collect();
        for (table, kind) in [("LogsTable", KIND_LOGS), ("EventsTable", KIND_EVENTS)] {
            let input = get(properties(&template, table), &["TableInput"]);
            let location = evaluate(
                get(input, &["Parameters", "storage.location.template"]),
                branch,
            );
            assert!(
                location.starts_with(&format!("s3://${{LogBucket}}/{kind}/")),
                "{table} location template {location} is not under {kind}/"
            );
            assert_eq!(
                as_str(get(input, &["StorageDescriptor", "Location"])),
                format!("s3://${{LogBucket}}/{kind}/").as_str(),
                "{table} location"
            );
            let segments = hive_segments(&location);
            let path_keys: Vec<String> = segments.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(
                path_keys, prefix_keys,
                "{table} template {location} vs prefix {prefix}"
            );

            let partition_columns: Vec<String> = get(input, &["PartitionKeys"])
                .as_sequence()
                .expect("PartitionKeys is a list")
                .iter()
                .filter_map(|key| match key {
                    Value::Tagged(tagged) if tagged.tag == "If" => {
                        let chosen = &tagged.value[if branch { 1 } else { 2 }];
                        chosen.get("Name").map(|name| as_str(name).to_owned())
                    }
                    other => Some(as_str(get(other, &["Name"])).to_owned()),
                })
                .collect();
            let template_columns: Vec<String> = segments
                .iter()
                .map(|(_, value)| {
                    value
                        .strip_prefix("${")
                        .and_then(|rest| rest.strip_suffix('}'))
                        .unwrap_or_else(|| panic!("{table}: {value} is not ${{column}}"))
                        .to_owned()
                })
                .collect();
            assert_eq!(
                template_columns, partition_columns,
                "{table} partition columns"
            );

            let data_columns: BTreeSet<String> = glue_columns(&template, table)
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            for column in &partition_columns {
                assert!(
                    !data_columns.contains(column),
                    "{table}: partition column {column} repeats a data column (Athena rejects the table)"
                );
                let projection_type = get(input, &["Parameters"])
                    .get(format!("projection.{column}.type"))
                    .unwrap_or_else(|| panic!("{table}: no projection for {column}"));
                let projection_type = match projection_type {
                    Value::Tagged(tagged) => evaluate(&tagged.value[1], branch),
                    other => as_str(other).to_owned(),
                };
                assert!(
                    ["enum", "integer", "date", "injected"].contains(&projection_type.as_str()),
                    "{table}: projection.{column}.type = {projection_type}"
                );
            }
        }
    }
}

#[test]
fn function_environment_is_the_configuration() {
    let template = template();
    let function = properties(&template, "ProcessorFunction");
    let variables = get(function, &["Environment", "Variables"])
        .as_mapping()
        .expect("Variables is a mapping");
    let in_template: BTreeSet<&str> = variables.keys().map(as_str).collect();
    let in_code: BTreeSet<&str> = ENV_VARS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        in_template, in_code,
        "template variables vs firehose_logs_processor::config::ENV_VARS"
    );

    for (name, default) in ENV_VARS {
        let value = &variables[name];
        let deployed_default = match value {
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let parameter = as_str(&tagged.value);
                scalar_text(get(&template, &["Parameters", parameter, "Default"]))
            }
            other => scalar_text(other),
        };
        assert_eq!(
            deployed_default, default,
            "{name}: the template's default differs from the code's"
        );
    }
}

#[test]
fn function_is_built_and_run_as_the_cargo_package() {
    let template = template();
    let resource = get(&template, &["Resources", "ProcessorFunction"]);
    assert_eq!(
        as_str(get(resource, &["Type"])),
        "AWS::Serverless::Function"
    );
    assert_eq!(
        as_str(get(resource, &["Metadata", "BuildMethod"])),
        "rust-cargolambda"
    );
    assert_eq!(
        as_str(get(resource, &["Metadata", "BuildProperties", "Binary"])),
        env!("CARGO_PKG_NAME")
    );
    let function = get(resource, &["Properties"]);
    assert_eq!(as_str(get(function, &["Handler"])), "bootstrap");
    assert_eq!(as_str(get(function, &["Runtime"])), "provided.al2023");
    assert_eq!(as_str(get(function, &["CodeUri"])), ".");
    assert_eq!(
        get(function, &["Architectures"])
            .as_sequence()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(as_str(&get(function, &["Architectures"])[0]), "arm64");
    assert_eq!(
        as_str(get(function, &["LoggingConfig", "LogFormat"])),
        "JSON"
    );
    // Firehose allows the processor at most five minutes.
    let max_timeout = get(
        &template,
        &["Parameters", "FunctionTimeoutSeconds", "MaxValue"],
    );
    assert!(max_timeout.as_u64().is_some_and(|seconds| seconds <= 300));
}
