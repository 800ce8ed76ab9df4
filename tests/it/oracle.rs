//! The straightforward reading of the output contract, written with `serde_json::Value`
//! and no shortcuts: what the function's lines must equal, field for field.

use serde_json::{json, Map, Value};

/// The lines a `DATA_MESSAGE` payload must become.
pub fn log_lines(payload: &Value, parse_json_messages: bool) -> Vec<Value> {
    let events = payload["logEvents"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .map(|event| {
            let timestamp = event["timestamp"].as_i64().expect("integer timestamp");
            let id = match &event["id"] {
                Value::String(id) => id.clone(),
                Value::Number(id) => id.to_string(),
                other => panic!("unexpected id {other}"),
            };
            let mut line = Map::new();
            line.insert("time".into(), json!(rfc3339_millis(timestamp)));
            line.insert("timestamp".into(), json!(timestamp));
            line.insert("account".into(), payload["owner"].clone());
            line.insert("log_group".into(), payload["logGroup"].clone());
            line.insert("log_stream".into(), payload["logStream"].clone());
            line.insert("id".into(), json!(id));
            line.insert("message".into(), event["message"].clone());
            line.insert(
                "subscription_filters".into(),
                payload
                    .get("subscriptionFilters")
                    .cloned()
                    .unwrap_or(json!([])),
            );
            if let Some(policy_level) = payload.get("policyLevel") {
                line.insert("policy_level".into(), policy_level.clone());
            }
            if let Some(fields) = event.get("extractedFields") {
                line.insert("extracted_fields".into(), fields.clone());
            }
            if parse_json_messages {
                let message = event["message"].as_str().unwrap_or_default();
                if let Ok(Value::Object(parsed)) = serde_json::from_str::<Value>(message) {
                    line.insert("message_json".into(), Value::Object(parsed));
                }
            }
            Value::Object(line)
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, computed with civil-from-days arithmetic independent of
/// the code under test.
pub fn rfc3339_millis(millis: i64) -> String {
    let (date, hour) = date_hour(millis);
    let second_of_day = millis.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{date}T{hour}:{:02}:{:02}.{:03}Z",
        second_of_day / 60 % 60,
        second_of_day % 60,
        millis.rem_euclid(1000)
    )
}

/// The `dt` and `hour` partition values of an instant.
pub fn date_hour(millis: i64) -> (String, String) {
    let days = millis.div_euclid(86_400_000);
    let hour = millis.div_euclid(3_600_000).rem_euclid(24);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{hour:02}"),
    )
}

/// Parses NDJSON, checking that every line ends in `\n` and is one JSON object.
pub fn parse_lines(data: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(data).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "output ends with a newline"
    );
    text.split_terminator('\n')
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("each line is JSON");
            assert!(value.is_object(), "each line is an object: {line}");
            value
        })
        .collect()
}
