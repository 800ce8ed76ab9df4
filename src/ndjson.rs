//! Writing CloudWatch Logs events as newline-delimited JSON, one line per event.
//!
//! Messages are copied as the still-escaped JSON strings the payload holds: no
//! unescaping and re-escaping, and the decoded text is byte-for-byte the original.
//! Raw non-string values (extracted fields, parsed messages) may contain newlines only
//! as insignificant whitespace, so replacing CR and LF with spaces keeps each line one
//! line without changing what it means.

use serde_json::value::RawValue;

use crate::cloudwatch::{DataMessage, LogEvent};
use crate::error::RecordError;
use crate::time::{TimeFormatter, UtcTime};

/// What writing one record's lines produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Every event was written.
    Complete {
        /// Lines written.
        events: usize,
        /// Earliest event time, `None` for a message with no events.
        earliest: Option<UtcTime>,
    },
    /// The output passed the length limit; what was written is incomplete.
    OverLimit,
}

/// Writes log lines, reusing its buffers across records.
#[derive(Debug, Default)]
pub struct LineWriter {
    time: TimeFormatter,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl LineWriter {
    /// Appends one line per event to `out`, stopping once `out` is longer than
    /// `max_len` bytes.
    pub fn write(
        &mut self,
        message: &DataMessage<'_>,
        events: &[LogEvent<'_>],
        parse_json_messages: bool,
        max_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<Lines, RecordError> {
        self.prepare(message);
        let mut earliest: Option<UtcTime> = None;
        for event in events {
            let time = UtcTime::from_millis(event.timestamp)
                .ok_or(RecordError::TimestampOutOfRange(event.timestamp))?;
            earliest = Some(earliest.map_or(time, |current| current.min(time)));
            self.write_line(event, time, parse_json_messages, out)?;
            if out.len() > max_len {
                return Ok(Lines::OverLimit);
            }
        }
        Ok(Lines::Complete {
            events: events.len(),
            earliest,
        })
    }

    /// Builds the parts of a line that are the same for every event of a message.
    fn prepare(&mut self, message: &DataMessage<'_>) {
        self.head.clear();
        self.head.extend_from_slice(b",\"account\":");
        push_json_string(&mut self.head, &message.owner);
        self.head.extend_from_slice(b",\"log_group\":");
        push_json_string(&mut self.head, &message.log_group);
        self.head.extend_from_slice(b",\"log_stream\":");
        push_json_string(&mut self.head, &message.log_stream);
        self.head.extend_from_slice(b",\"id\":");

        self.tail.clear();
        self.tail.extend_from_slice(b",\"subscription_filters\":[");
        for (index, filter) in message.subscription_filters.iter().enumerate() {
            if index > 0 {
                self.tail.push(b',');
            }
            push_json_string(&mut self.tail, filter);
        }
        self.tail.push(b']');
        if let Some(policy_level) = &message.policy_level {
            self.tail.extend_from_slice(b",\"policy_level\":");
            push_json_string(&mut self.tail, policy_level);
        }
    }

    fn write_line(
        &mut self,
        event: &LogEvent<'_>,
        time: UtcTime,
        parse_json_messages: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        let message = event.message.get();
        if !message.starts_with('"') {
            return Err(RecordError::InvalidEventField {
                field: "message",
                expected: "a string",
            });
        }
        out.extend_from_slice(b"{\"time\":\"");
        self.time.write(time, out);
        out.extend_from_slice(b"\",\"timestamp\":");
        out.extend_from_slice(itoa::Buffer::new().format(event.timestamp).as_bytes());
        out.extend_from_slice(&self.head);
        push_event_id(out, event.id)?;
        out.extend_from_slice(b",\"message\":");
        out.extend_from_slice(message.as_bytes());
        out.extend_from_slice(&self.tail);
        if let Some(fields) = event.extracted_fields {
            if !fields.get().starts_with('{') {
                return Err(RecordError::InvalidEventField {
                    field: "extractedFields",
                    expected: "an object",
                });
            }
            out.extend_from_slice(b",\"extracted_fields\":");
            push_one_line(out, fields.get());
        }
        if parse_json_messages {
            push_message_json(out, message);
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    }
}

/// Appends the event id as a JSON string, quoting a numeric id.
fn push_event_id(out: &mut Vec<u8>, id: &RawValue) -> Result<(), RecordError> {
    let raw = id.get();
    match raw.as_bytes().first() {
        Some(b'"') => out.extend_from_slice(raw.as_bytes()),
        // A JSON number holds only digits, sign, dot and exponent: safe inside quotes.
        Some(b'-' | b'0'..=b'9') => {
            out.push(b'"');
            out.extend_from_slice(raw.as_bytes());
            out.push(b'"');
        }
        _ => {
            return Err(RecordError::InvalidEventField {
                field: "id",
                expected: "a string or a number",
            })
        }
    }
    Ok(())
}

/// Appends `,"message_json":{…}` when the message (a raw JSON string) holds a JSON object.
fn push_message_json(out: &mut Vec<u8>, raw_message: &str) {
    // Cheap test first: most messages are not JSON, and decoding them would be waste.
    let after_quote = raw_message.get(1..).unwrap_or_default();
    if !after_quote.trim_start_matches([' ', '\t']).starts_with('{') {
        return;
    }
    let Ok(decoded) = serde_json::from_str::<std::borrow::Cow<'_, str>>(raw_message) else {
        return;
    };
    let Ok(object) = serde_json::from_str::<&RawValue>(&decoded) else {
        return;
    };
    if object.get().starts_with('{') {
        out.extend_from_slice(b",\"message_json\":");
        push_one_line(out, object.get());
    }
}

/// Copies raw JSON, turning CR and LF (only ever whitespace in valid JSON) into spaces.
fn push_one_line(out: &mut Vec<u8>, raw_json: &str) {
    let start = out.len();
    out.extend_from_slice(raw_json.as_bytes());
    for byte in &mut out[start..] {
        if matches!(*byte, b'\n' | b'\r') {
            *byte = b' ';
        }
    }
}

/// Appends a JSON string.
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a `&str` into a Vec cannot fail: serde_json only reports I/O errors here.
    let _cannot_fail = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::{parse, Subscription};
    use serde_json::{json, Value};

    fn lines(payload: &Value, parse_json_messages: bool) -> Result<Vec<Value>, RecordError> {
        let text = payload.to_string();
        let Subscription::Data(message) = parse(&text)? else {
            panic!("not a data message");
        };
        let mut out = Vec::new();
        let written = LineWriter::default().write(
            &message,
            &message.log_events,
            parse_json_messages,
            usize::MAX,
            &mut out,
        )?;
        let Lines::Complete { events, .. } = written else {
            panic!("over limit");
        };
        let text = String::from_utf8(out).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        let parsed: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(parsed.len(), events);
        Ok(parsed)
    }

    fn payload(events: Value) -> Value {
        json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/lambda/app", "logStream": "2026/11/22/[$LATEST]0a1b",
            "subscriptionFilters": ["to-firehose"], "logEvents": events
        })
    }

    #[test]
    fn writes_the_documented_fields() {
        let got = lines(
            &payload(
                json!([{"id": "3719", "timestamp": 1_795_329_660_123i64, "message": "hello"}]),
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![json!({
                "time": "2026-11-22T06:41:00.123Z", "timestamp": 1_795_329_660_123i64,
                "account": "123456789012", "log_group": "/aws/lambda/app",
                "log_stream": "2026/11/22/[$LATEST]0a1b", "id": "3719", "message": "hello",
                "subscription_filters": ["to-firehose"]
            })]
        );
    }

    #[test]
    fn messages_survive_byte_for_byte() {
        let messages = [
            "line one\nline two\r\n\tat frame",
            "quote \" backslash \\ slash / unicode é 漢字 😀",
            "\u{0}\u{1f} control",
            "",
            "{\"not\": \"parsed unless asked\"}",
        ];
        let events: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1000 + i, "message": m}))
            .collect();
        let got = lines(&payload(Value::Array(events)), false).unwrap();
        let got_messages: Vec<&str> = got.iter().map(|l| l["message"].as_str().unwrap()).collect();
        assert_eq!(got_messages, messages);
        assert!(got.iter().all(|line| line.get("message_json").is_none()));
    }

    #[test]
    fn optional_fields_appear_only_when_present() {
        let mut input = payload(json!([
            {"id": 12345, "timestamp": 0, "message": "m", "extractedFields": {"a": "1"}},
            {"id": "x", "timestamp": 0, "message": "m"}
        ]));
        input["policyLevel"] = json!("ACCOUNT_LEVEL_POLICY");
        let got = lines(&input, false).unwrap();
        assert_eq!(got[0]["id"], "12345");
        assert_eq!(got[0]["extracted_fields"], json!({"a": "1"}));
        assert_eq!(got[0]["policy_level"], "ACCOUNT_LEVEL_POLICY");
        assert!(got[1].get("extracted_fields").is_none());
        assert!(lines(&payload(json!([])), false).unwrap().is_empty());
    }

    #[test]
    fn json_messages_are_parsed_when_asked() {
        let cases = [
            (
                "{\"level\":\"info\",\"n\":1}",
                Some(json!({"level": "info", "n": 1})),
            ),
            (
                "  {\n  \"pretty\": [1, 2]\n}",
                Some(json!({"pretty": [1, 2]})),
            ),
            ("{broken", None),
            ("[1,2]", None),
            ("plain text", None),
            ("{\"a\":1} trailing", None),
        ];
        for (message, expected) in cases {
            let got = lines(
                &payload(json!([{"id": "1", "timestamp": 0, "message": message}])),
                true,
            )
            .unwrap();
            assert_eq!(got[0].get("message_json").cloned(), expected, "{message}");
            assert_eq!(got[0]["message"], message);
        }
    }

    #[test]
    fn bad_event_fields_are_errors() {
        let cases = [
            (
                json!({"id": "1", "timestamp": 0, "message": 5}),
                "message is not a string",
            ),
            (
                json!({"id": null, "timestamp": 0, "message": "m"}),
                "id is not a string or a number",
            ),
            (
                json!({"id": [], "timestamp": 0, "message": "m"}),
                "id is not",
            ),
            (
                json!({"id": "1", "timestamp": 0, "message": "m", "extractedFields": "x"}),
                "extractedFields",
            ),
            (
                json!({"id": "1", "timestamp": i64::MAX, "message": "m"}),
                "outside years",
            ),
        ];
        for (event, expected) in cases {
            let error = lines(&payload(json!([event])), false)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn stops_past_the_limit() {
        let text = payload(json!([
            {"id": "1", "timestamp": 0, "message": "a"},
            {"id": "2", "timestamp": 0, "message": "b"}
        ]))
        .to_string();
        let Subscription::Data(message) = parse(&text).unwrap() else {
            panic!("not data");
        };
        let mut out = Vec::new();
        let written = LineWriter::default()
            .write(&message, &message.log_events, false, 10, &mut out)
            .unwrap();
        assert_eq!(written, Lines::OverLimit);
    }
}
