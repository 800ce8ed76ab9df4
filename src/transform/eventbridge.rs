//! JSON objects that are not gzip: EventBridge events (CloudTrail API calls and
//! others), passed through as one line each.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::transform::error::RecordError;
use crate::transform::ndjson::push_one_line;

/// The envelope fields that partitioning needs. Every other field is kept in the
/// output untouched; these are read leniently (a missing or non-string value only
/// means a fallback key).
#[derive(Debug, Deserialize)]
pub struct EventEnvelope<'a> {
    /// The account the event belongs to.
    #[serde(borrow, default)]
    pub account: Option<&'a RawValue>,
    /// The event source, such as `aws.iam`.
    #[serde(borrow, default)]
    pub source: Option<&'a RawValue>,
    /// Event time, RFC 3339.
    #[serde(borrow, default)]
    pub time: Option<&'a RawValue>,
    /// Set when the object is an uncompressed CloudWatch Logs subscription payload
    /// (Firehose's own decompression delivers those).
    #[serde(rename = "messageType", borrow, default)]
    pub message_type: Option<&'a RawValue>,
}

impl<'a> EventEnvelope<'a> {
    /// Parses `text`, which must be one JSON object and nothing else.
    pub fn parse(text: &'a str) -> Result<Self, RecordError> {
        if !text.trim_start().starts_with('{') {
            return Err(RecordError::UnrecognisedPayload);
        }
        serde_json::from_str(text).map_err(RecordError::InvalidJson)
    }

    /// A field's value when it is a JSON string.
    pub fn string(field: Option<&RawValue>) -> Option<String> {
        field.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
}

/// Appends the object as one line: trailing whitespace removed, CR and LF (which valid
/// JSON holds only as whitespace between tokens) made spaces, and `\n` at the end.
pub fn write_line(text: &str, out: &mut Vec<u8>) {
    push_one_line(out, text.trim_end());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_partitioning_fields_leniently() {
        let event = EventEnvelope::parse(
            r#"{"version":"0","account":"123456789012","source":"aws.iam","time":"2026-11-22T06:41:00Z","detail":{"a":[1]}}"#,
        )
        .unwrap();
        assert_eq!(
            EventEnvelope::string(event.account).as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            EventEnvelope::string(event.source).as_deref(),
            Some("aws.iam")
        );
        assert_eq!(
            EventEnvelope::string(event.time).as_deref(),
            Some("2026-11-22T06:41:00Z")
        );

        let odd = EventEnvelope::parse(r#"{"account":12,"source":null}"#).unwrap();
        assert_eq!(EventEnvelope::string(odd.account), None);
        assert_eq!(EventEnvelope::string(odd.source), None);
        assert_eq!(EventEnvelope::string(odd.time), None);
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        // What does not even start like an object is told apart from a broken object.
        for text in ["", "  ", "[1]", "\"s\"", "plain text"] {
            let error = EventEnvelope::parse(text).unwrap_err();
            assert!(
                matches!(error, RecordError::UnrecognisedPayload),
                "{text:?}: {error}"
            );
        }
        for text in ["{", "{} {}", "{\"a\":1,}", " {\"a\" 1}"] {
            let error = EventEnvelope::parse(text).unwrap_err();
            assert!(
                matches!(error, RecordError::InvalidJson(_)),
                "{text:?}: {error}"
            );
            assert!(
                error.to_string().contains("not a valid JSON object"),
                "{error}"
            );
        }
    }

    #[test]
    fn pretty_objects_become_one_equivalent_line() {
        let pretty = "{\r\n  \"a\": \"x\\ny\",\n  \"b\": [1,\n 2]\n}\n\n";
        let mut out = Vec::new();
        write_line(pretty, &mut out);
        let line = std::str::from_utf8(&out).unwrap();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with("}\n"));
        let reparsed: serde_json::Value = serde_json::from_str(line).unwrap();
        let original: serde_json::Value = serde_json::from_str(pretty).unwrap();
        assert_eq!(reparsed, original);

        let compact = r#"{"detail-type":"AWS API Call via CloudTrail"}"#;
        out.clear();
        write_line(compact, &mut out);
        assert_eq!(out, format!("{compact}\n").as_bytes());
    }
}
