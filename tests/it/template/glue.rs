//! The Glue tables: their columns are what the function writes, their partitions and
//! storage templates follow the stream's prefix, for every layout.

use std::collections::BTreeSet;

use firehose_logs_processor::transform::schema::{KIND_EVENTS, KIND_LOGS, LOG_LINE_FIELDS};
use serde_norway::Value;

use super::layout::{hive_segments, stream_prefix};
use super::{partition_layouts, properties, template};
use crate::cfn::{as_str, get, Resolver};

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
    for layout in partition_layouts(&template) {
        let resolver = Resolver::new(&template)
            .with("PartitionLayout", layout)
            .with("LogBucket", "bucket");
        let prefix = stream_prefix(&template, layout);
        let prefix_keys: Vec<String> = hive_segments(&prefix).into_iter().map(|(k, _)| k).collect();
        for (table, kind) in [("LogsTable", KIND_LOGS), ("EventsTable", KIND_EVENTS)] {
            let input = resolver
                .resolve(get(properties(&template, table), &["TableInput"]))
                .expect("TableInput");
            let location = as_str(get(&input, &["Parameters", "storage.location.template"]));
            assert!(
                location.starts_with(&format!("s3://bucket/{kind}/")),
                "{table} location template {location} is not under {kind}/"
            );
            assert_eq!(
                as_str(get(&input, &["StorageDescriptor", "Location"])),
                format!("s3://bucket/{kind}/").as_str(),
                "{table} location"
            );
            let segments = hive_segments(location);
            let path_keys: Vec<String> = segments.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(
                path_keys, prefix_keys,
                "{layout}: {table} template {location} vs prefix {prefix}"
            );

            let partition_columns: Vec<String> = get(&input, &["PartitionKeys"])
                .as_sequence()
                .expect("PartitionKeys is a list")
                .iter()
                .map(|key| as_str(get(key, &["Name"])).to_owned())
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
                "{layout}: {table} partition columns"
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
                let projection_type = get(&input, &["Parameters"])
                    .get(format!("projection.{column}.type"))
                    .unwrap_or_else(|| panic!("{layout}: {table}: no projection for {column}"));
                let projection_type = as_str(projection_type);
                assert!(
                    ["enum", "integer", "date", "injected"].contains(&projection_type),
                    "{table}: projection.{column}.type = {projection_type}"
                );
            }
        }
    }
}
