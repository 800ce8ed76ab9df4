//! Writing CloudWatch Logs events as newline-delimited JSON, one line per event.
//!
//! Messages are copied as the still-escaped JSON strings the payload holds: no
//! unescaping and re-escaping, and the decoded text is byte-for-byte the original.
//! Raw non-string values (extracted fields, parsed messages) may contain newlines only
//! as insignificant whitespace, so replacing CR and LF with spaces keeps each line one
//! line without changing what it means.

use serde_json::value::RawValue;

use crate::transform::cloudwatch::{DataMessage, LogEvent};
use crate::transform::error::RecordError;
use crate::transform::time::{TimeFormatter, UtcTime};

/// Writes log lines, reusing its buffers across records.
#[derive(Debug, Default)]
pub struct LineWriter {
    time: TimeFormatter,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Bytes of `{"time":"YYYY-MM-DDTHH:MM:SS.mmmZ","timestamp":` plus `,"message":` and `}\n`.
const LINE_FRAMING: usize = 9 + 24 + 14 + 11 + 2;

impl LineWriter {
    /// Builds the parts of a line that are the same for every event of `message`;
    /// call before [`LineWriter::line_len`] and [`LineWriter::write_line`].
    pub fn prepare(&mut self, message: &DataMessage<'_>) {
        self.head.clear();
        push_line_head(
            &mut self.head,
            &message.owner,
            &message.log_group,
            &message.log_stream,
        );

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

    /// The length of the event's line: exact, or an upper bound when
    /// `parse_json_messages` may add `message_json`. Checks the event on the way, so
    /// that a record is known to be writable before any of it is written.
    pub fn line_len(
        &self,
        event: &LogEvent<'_>,
        parse_json_messages: bool,
    ) -> Result<(UtcTime, usize), RecordError> {
        let time = check_event(event)?;
        let message = event.message.get().len();
        let id = event.id.get().len()
            + if event.id.get().starts_with('"') {
                0
            } else {
                2
            };
        let mut len = LINE_FRAMING
            + itoa::Buffer::new().format(event.timestamp).len()
            + self.head.len()
            + id
            + message
            + self.tail.len();
        if let Some(fields) = event.extracted_fields {
            len += ",\"extracted_fields\":".len() + fields.get().len();
        }
        if parse_json_messages {
            // The parsed object is never longer than the escaped string that holds it.
            len += ",\"message_json\":".len() + message;
        }
        Ok((time, len))
    }

    /// Appends the event's line to `out`.
    pub fn write_line(
        &mut self,
        event: &LogEvent<'_>,
        parse_json_messages: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        let time = check_event(event)?;
        let message = event.message.get();
        out.extend_from_slice(b"{\"time\":\"");
        self.time.write(time, out);
        out.extend_from_slice(b"\",\"timestamp\":");
        out.extend_from_slice(itoa::Buffer::new().format(event.timestamp).as_bytes());
        out.extend_from_slice(&self.head);
        push_event_id(out, event.id);
        out.extend_from_slice(b",\"message\":");
        out.extend_from_slice(message.as_bytes());
        out.extend_from_slice(&self.tail);
        if let Some(fields) = event.extracted_fields {
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

/// Checks the event's fields have the JSON types the output needs, and returns its time.
fn check_event(event: &LogEvent<'_>) -> Result<UtcTime, RecordError> {
    let time = UtcTime::from_millis(event.timestamp)
        .ok_or(RecordError::TimestampOutOfRange(event.timestamp))?;
    if !event.message.get().starts_with('"') {
        return Err(RecordError::InvalidEventField {
            field: "message",
            expected: "a string",
        });
    }
    if !matches!(
        event.id.get().as_bytes().first(),
        Some(b'"' | b'-' | b'0'..=b'9')
    ) {
        return Err(RecordError::InvalidEventField {
            field: "id",
            expected: "a string or a number",
        });
    }
    if event
        .extracted_fields
        .is_some_and(|fields| !fields.get().starts_with('{'))
    {
        return Err(RecordError::InvalidEventField {
            field: "extractedFields",
            expected: "an object",
        });
    }
    Ok(time)
}

/// Appends the event id (checked by [`check_event`]) as a JSON string, quoting a number.
fn push_event_id(out: &mut Vec<u8>, id: &RawValue) {
    let raw = id.get();
    if raw.starts_with('"') {
        out.extend_from_slice(raw.as_bytes());
    } else {
        // A JSON number holds only digits, sign, dot and exponent: safe inside quotes.
        out.push(b'"');
        out.extend_from_slice(raw.as_bytes());
        out.push(b'"');
    }
}

/// Appends `,"message_json":{…}` when the message (a raw JSON string) holds a JSON object.
fn push_message_json(out: &mut Vec<u8>, raw_message: &str) {
    // Cheap test first: most messages are not JSON, and decoding them would be waste.
    // Leading whitespace may be raw (space) or escaped (\t, \n, \r) in the JSON string.
    let mut rest = raw_message.get(1..).unwrap_or_default();
    loop {
        let trimmed = rest.trim_start_matches(' ');
        let trimmed = ["\\t", "\\n", "\\r"]
            .iter()
            .find_map(|escape| trimmed.strip_prefix(escape))
            .unwrap_or(trimmed);
        if trimmed.len() == rest.len() {
            break;
        }
        rest = trimmed;
    }
    if !rest.starts_with('{') {
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

/// Appends the metadata every log line carries between `timestamp` and the id's value:
/// `,"account":…,"log_group":…,"log_stream":…,"id":` (live and converted lines alike).
pub(crate) fn push_line_head(out: &mut Vec<u8>, account: &str, log_group: &str, log_stream: &str) {
    out.extend_from_slice(b",\"account\":");
    push_json_string(out, account);
    out.extend_from_slice(b",\"log_group\":");
    push_json_string(out, log_group);
    out.extend_from_slice(b",\"log_stream\":");
    push_json_string(out, log_stream);
    out.extend_from_slice(b",\"id\":");
}

/// Copies raw JSON, turning CR and LF (only ever whitespace in valid JSON) into spaces.
pub(crate) fn push_one_line(out: &mut Vec<u8>, raw_json: &str) {
    let start = out.len();
    out.extend_from_slice(raw_json.as_bytes());
    for byte in &mut out[start..] {
        if matches!(*byte, b'\n' | b'\r') {
            *byte = b' ';
        }
    }
}

/// Appends `text` as a JSON string, byte for byte as `serde_json` writes it (the tests
/// hold the two equal), with SIMD kernels that copy the runs needing no escape at once
/// when `out` has room for them: the export converter escapes every message, and
/// serde_json's byte-at-a-time loop was an eighth of its time.
///
/// The kernels store whole registers ahead and so want [`json_string_room`] bytes of
/// spare capacity. Where there is less (a response reserved to its exact budget), the
/// same bytes are written by serde_json instead, so that `out` is never regrown for room
/// it will not use.
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if out.capacity() - out.len() >= json_string_room(text) {
        json_escape_simd::escape_into(text, out);
    } else {
        // Writing a `&str` into a Vec cannot fail: serde_json only reports I/O errors here.
        let _cannot_fail = serde_json::to_writer(&mut *out, text);
    }
}

/// The spare capacity [`push_json_string`] needs to escape `text` with its SIMD kernels:
/// six bytes per byte (`\u00XX`), the quotes, and one register's stores past the end.
pub(crate) fn json_string_room(text: &str) -> usize {
    text.len() * 6 + 35
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::cloudwatch::{parse, Subscription};
    use serde_json::{json, Value};

    fn lines(payload: &Value, parse_json_messages: bool) -> Result<Vec<Value>, RecordError> {
        let text = payload.to_string();
        let Subscription::Data(message) = parse(&text)? else {
            panic!("not a data message");
        };
        let mut out = Vec::new();
        let mut writer = LineWriter::default();
        writer.prepare(&message);
        for event in &message.log_events {
            let (_, bound) = writer.line_len(event, parse_json_messages)?;
            let before = out.len();
            writer.write_line(event, parse_json_messages, &mut out)?;
            let written = out.len() - before;
            if parse_json_messages {
                assert!(written <= bound, "{written} > {bound}");
            } else {
                assert_eq!(written, bound, "line length is exact");
            }
        }
        let events = message.log_events.len();
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

    fn serde_escaped(text: &str) -> Vec<u8> {
        serde_json::to_vec(text).unwrap()
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_does() {
        // Every ASCII byte and a few multi-byte characters, alone and at every offset
        // around the SIMD kernels' 16, 32 and 64-byte blocks.
        let mut specials: Vec<char> = (0u8..0x80).map(char::from).collect();
        specials.extend(['\u{80}', '\u{7ff}', '\u{2028}', '\u{feff}', '\u{1f600}']);
        for special in specials {
            for length in 0usize..130 {
                for at in [0, length / 2, length.saturating_sub(1)] {
                    let text: String = (0..length)
                        .map(|index| if index == at { special } else { 'a' })
                        .collect();
                    let mut out = b"prefix".to_vec();
                    out.reserve(json_string_room(&text));
                    push_json_string(&mut out, &text);
                    assert_eq!(out[..6], *b"prefix");
                    assert_eq!(out[6..], serde_escaped(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn the_kernels_run_as_released_and_read_up_to_a_page_end() {
        // Built without debug assertions (Cargo.toml), as the function ships: the last
        // block of a string is loaded straight from it unless that load would cross a
        // page. Strings ending exactly at, and just before, a page boundary, escaped or
        // not, take both sides of that test.
        let page = 4096;
        let buffer: Vec<u8> = (0..4 * page)
            .map(|index| b"ab\"c\n\\d"[index % 7])
            .collect();
        let base = buffer.as_ptr() as usize;
        let page_end = (base / page + 2) * page - base;
        for end in page_end - 70..=page_end + 70 {
            for length in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65] {
                let text = std::str::from_utf8(&buffer[end - length..end]).unwrap();
                let mut out = Vec::with_capacity(json_string_room(text));
                push_json_string(&mut out, text);
                assert_eq!(out, serde_escaped(text), "{text:?}");
            }
        }
    }

    #[test]
    fn a_buffer_sized_for_the_output_is_never_regrown() {
        // The response is reserved to its budget: a string that fits must not regrow it.
        for text in [
            "49613ea1-0000",
            "account=1/source=a\"b",
            "é\n".repeat(200).as_str(),
        ] {
            let expected = serde_escaped(text);
            let mut out = Vec::with_capacity(expected.len());
            let capacity = out.capacity();
            push_json_string(&mut out, text);
            assert_eq!(out, expected);
            assert_eq!(out.capacity(), capacity, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_does(
            text in "(\\PC|[\"\\\\\\x00-\\x1f\\x7f]){0,300}",
            other in proptest::prelude::any::<String>(),
        ) {
            for text in [&text, &other] {
                // With room (the kernels) and without (serde_json): the same bytes.
                for room in [json_string_room(text), 0] {
                    let mut out = Vec::with_capacity(room);
                    push_json_string(&mut out, text);
                    proptest::prop_assert_eq!(&out, &serde_escaped(text));
                }
            }
        }
    }
}
