//! CloudWatch Logs subscription payloads, parsed leniently and without copying:
//! messages and other free-form values stay as borrowed, still-escaped JSON text.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::transform::error::RecordError;

/// `messageType` of a payload carrying log events.
pub const DATA_MESSAGE: &str = "DATA_MESSAGE";
/// `messageType` of the reachability check sent when a subscription is created.
pub const CONTROL_MESSAGE: &str = "CONTROL_MESSAGE";

/// One subscription payload: a batch of events from one log group and log stream.
/// Unknown fields are ignored, since AWS adds fields over time.
#[derive(Debug, Deserialize)]
pub struct SubscriptionMessage<'a> {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[serde(rename = "messageType", borrow)]
    pub message_type: Cow<'a, str>,
    /// The account that owns the log group.
    #[serde(borrow, default)]
    pub owner: Option<Cow<'a, str>>,
    /// The log group.
    #[serde(rename = "logGroup", borrow, default)]
    pub log_group: Option<Cow<'a, str>>,
    /// The log stream.
    #[serde(rename = "logStream", borrow, default)]
    pub log_stream: Option<Cow<'a, str>>,
    /// Names of the subscription filters that matched.
    #[serde(rename = "subscriptionFilters", borrow, default)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    /// Present only for account-level subscription policies.
    #[serde(rename = "policyLevel", borrow, default)]
    pub policy_level: Option<Cow<'a, str>>,
    /// The events, in the order CloudWatch sent them.
    #[serde(rename = "logEvents", borrow, default)]
    pub log_events: Option<Vec<LogEvent<'a>>>,
}

/// One log event, its values kept as raw JSON so they can be copied as they are.
#[derive(Debug, Deserialize)]
pub struct LogEvent<'a> {
    /// Event id: a string in AWS, a number from some emulators.
    #[serde(borrow)]
    pub id: &'a RawValue,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The message, still JSON-escaped (a JSON string).
    #[serde(borrow)]
    pub message: &'a RawValue,
    /// Fields extracted by the filter pattern, when it extracts any.
    #[serde(rename = "extractedFields", borrow, default)]
    pub extracted_fields: Option<&'a RawValue>,
}

/// A subscription payload whose `DATA_MESSAGE` fields are all present.
#[derive(Debug)]
pub struct DataMessage<'a> {
    /// The account.
    pub owner: Cow<'a, str>,
    /// The log group.
    pub log_group: Cow<'a, str>,
    /// The log stream.
    pub log_stream: Cow<'a, str>,
    /// Names of the matching subscription filters.
    pub subscription_filters: Vec<Cow<'a, str>>,
    /// The policy level, when the input has one.
    pub policy_level: Option<Cow<'a, str>>,
    /// The events.
    pub log_events: Vec<LogEvent<'a>>,
}

/// What a subscription payload is.
#[derive(Debug)]
pub enum Subscription<'a> {
    /// Log events to deliver.
    Data(DataMessage<'a>),
    /// A reachability check with nothing to deliver.
    Control,
}

/// Parses a decompressed subscription payload.
pub fn parse(text: &str) -> Result<Subscription<'_>, RecordError> {
    if !text.trim_start().starts_with('{') {
        // serde would also accept a JSON array as a struct, by position.
        return Err(RecordError::NotSubscriptionMessage(
            serde::de::Error::custom("expected a JSON object"),
        ));
    }
    let message: SubscriptionMessage<'_> =
        serde_json::from_str(text).map_err(RecordError::NotSubscriptionMessage)?;
    classify(message)
}

/// Checks the fields a `messageType` requires.
pub fn classify(message: SubscriptionMessage<'_>) -> Result<Subscription<'_>, RecordError> {
    match message.message_type.as_ref() {
        CONTROL_MESSAGE => Ok(Subscription::Control),
        DATA_MESSAGE => Ok(Subscription::Data(DataMessage {
            owner: message.owner.ok_or(RecordError::MissingField("owner"))?,
            log_group: message
                .log_group
                .ok_or(RecordError::MissingField("logGroup"))?,
            log_stream: message
                .log_stream
                .ok_or(RecordError::MissingField("logStream"))?,
            subscription_filters: message.subscription_filters,
            policy_level: message.policy_level,
            log_events: message
                .log_events
                .ok_or(RecordError::MissingField("logEvents"))?,
        })),
        other => Err(RecordError::UnknownMessageType(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_payloads() {
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert!(matches!(parse(control), Ok(Subscription::Control)));

        let data = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":7,"timestamp":2,"message":"a\nb","extractedFields":{"k":"v"}}],"newField":{"x":[1]}}"#;
        let Ok(Subscription::Data(message)) = parse(data) else {
            panic!("data message not recognised");
        };
        assert_eq!(message.log_events.len(), 1);
        assert_eq!(message.log_events[0].id.get(), "7");
        assert_eq!(message.log_events[0].message.get(), r#""a\nb""#);
        assert_eq!(
            message.log_events[0].extracted_fields.map(RawValue::get),
            Some(r#"{"k":"v"}"#)
        );
    }

    #[test]
    fn rejects_what_is_not_a_subscription_message() {
        let cases: [(&str, &str); 6] = [
            ("[]", "subscription message"),
            (r#"{"a":1}"#, "subscription message"),
            (
                r#"{"messageType":"OTHER"}"#,
                "unknown CloudWatch Logs messageType",
            ),
            (
                r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s"}"#,
                "no logEvents",
            ),
            (
                r#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[]}"#,
                "no owner",
            ),
            (
                r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":"x","message":"m"}]}"#,
                "subscription message",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
