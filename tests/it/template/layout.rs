//! The delivery stream's S3 prefix: exactly the function's partition keys, in the code's
//! order, for every layout the template offers; no arrival time, no error type.

use firehose_logs_processor::transform::schema::{KEY_KIND, PARTITION_KEYS};
use serde_norway::Value;

use super::{partition_layouts, properties, template};
use crate::cfn::{as_str, get, Resolver};

const PARTITION_KEY_EXPRESSION: &str = "!{partitionKeyFromLambda:";

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

/// The stream's `Prefix` for a `PartitionLayout`.
pub(super) fn stream_prefix(template: &Value, layout: &str) -> String {
    let destination = get(
        properties(template, "DeliveryStream"),
        &["ExtendedS3DestinationConfiguration"],
    );
    Resolver::new(template)
        .with("PartitionLayout", layout)
        .text(get(destination, &["Prefix"]))
}

/// `key=...` segments of an S3 path, after the kind segment.
pub(super) fn hive_segments(path: &str) -> Vec<(String, String)> {
    path.split('/')
        .filter_map(|segment| segment.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn prefix_uses_exactly_the_function_partition_keys_in_order() {
    let template = template();
    let default = as_str(get(
        &template,
        &["Parameters", "PartitionLayout", "Default"],
    ));
    assert_eq!(
        default, "account-source-hour",
        "the default layout must be the finest one"
    );
    let finest = stream_prefix(&template, default);
    assert_eq!(
        lambda_keys(&finest),
        PARTITION_KEYS,
        "default layout prefix: {finest}"
    );

    for layout in partition_layouts(&template) {
        let prefix = stream_prefix(&template, layout);
        let keys = lambda_keys(&prefix);
        assert!(
            keys.iter()
                .all(|key| PARTITION_KEYS.contains(&key.as_str())),
            "{layout}: unknown key in {prefix}"
        );
        let in_code_order: Vec<_> = PARTITION_KEYS
            .iter()
            .filter(|key| keys.iter().any(|k| k == *key))
            .collect();
        assert_eq!(
            keys.iter().collect::<Vec<_>>(),
            in_code_order,
            "{layout} keeps the code's key order"
        );
        assert!(keys.contains(&KEY_KIND.to_owned()), "{layout}");
        assert!(
            prefix.starts_with(&format!("{PARTITION_KEY_EXPRESSION}{KEY_KIND}}}/")),
            "kind must be the first, bare segment (one Glue table per kind): {prefix}"
        );
        assert!(prefix.ends_with('/'), "{prefix}");
        for (key, value) in hive_segments(&prefix) {
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
    for layout in partition_layouts(&template) {
        let prefix = stream_prefix(&template, layout);
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
