//! CloudWatch Embedded Metric Format: one JSON line on stdout, from which CloudWatch
//! extracts the metrics.

use serde_json::{json, Map, Value};

/// One Embedded Metric Format document: `values` (name, value, unit) under `namespace`,
/// with one dimension.
pub fn emf_line(
    namespace: &str,
    (dimension, dimension_value): (&str, &str),
    values: &[(&'static str, u64, &'static str)],
    timestamp_ms: i64,
) -> String {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[dimension]],
                "Metrics": definitions,
            }],
        }),
    );
    document.insert(dimension.into(), json!(dimension_value));
    for (name, value, _) in values {
        document.insert((*name).into(), json!(value));
    }
    Value::Object(document).to_string()
}
