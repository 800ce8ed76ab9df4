//! Transforming one Firehose record: decode, recognise, write its NDJSON lines, and
//! decide what must travel again (re-ingestion) because it does not fit or belongs
//! to another hour.

use std::collections::BTreeMap;

use crate::transform::cloudwatch::{self, DataMessage, Subscription};
use crate::transform::decode::{decode_base64, is_gzip, Gunzip};
use crate::transform::error::RecordError;
use crate::transform::eventbridge::{self, EventEnvelope};
use crate::transform::firehose::{ok_entry_len, FirehoseRecord};
use crate::transform::ndjson::LineWriter;
use crate::transform::partition::PartitionKeys;
use crate::transform::schema::{KIND_EVENTS, KIND_LOGS};
use crate::transform::split::{encode_payloads, SizedEvent};
use crate::transform::time::UtcTime;

/// What one record became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformed {
    /// Lines to deliver now under these keys; `other_hours` holds the record's events of
    /// the hours after the first as new subscription payloads to re-ingest.
    Lines {
        /// Partition keys of the output.
        keys: PartitionKeys,
        /// Number of lines (log events, or 1 for an event).
        lines: usize,
        /// Gzip payloads of the events that were not written, one or more per hour.
        other_hours: Vec<Vec<u8>>,
    },
    /// A CloudWatch Logs control message: nothing to deliver.
    Control,
    /// Log events from the function's own log group in its own account: never forwarded
    /// again, so that a subscription that takes in that group dies out.
    SelfSourced,
    /// Nothing fits in this response: the record travels again.
    Reingest(Reingest),
}

/// How a record that does not fit travels again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reingest {
    /// As it came (see [`RecordTransformer::original`]): it fits a response on its own.
    Original,
    /// Divided into these gzip subscription payloads.
    Payloads(Vec<Vec<u8>>),
}

/// The outcome of one record, with the decompressed size it read.
#[derive(Debug)]
pub struct RecordOutcome {
    /// What the record became, or why it could not be transformed.
    pub result: Result<Transformed, RecordError>,
    /// Bytes of payload after decompression (or after base64 for plain JSON).
    pub decompressed_bytes: usize,
}

/// The function's own log group, in its own account: the loop guard's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnLogGroup<'a> {
    /// The account the function runs in.
    pub account: &'a str,
    /// The log group the function writes to.
    pub log_group: &'a str,
}

/// Settings that shape one record's transformation.
#[derive(Debug, Clone, Copy)]
pub struct RecordOptions<'a> {
    /// Cap on a record's decompressed size.
    pub max_decompressed_bytes: usize,
    /// Whether to add `message_json`.
    pub parse_json_messages: bool,
    /// Whether events of hours after the earliest are split off and re-ingested.
    pub split_by_event_hour: bool,
    /// Room left in the response for this record's `Ok` entry.
    pub max_entry_bytes: usize,
    /// Most output bytes a re-ingested payload may produce, so it fits a later response.
    pub payload_output_bytes: usize,
    /// Records from this log group are [`Transformed::SelfSourced`], when known.
    pub own_log_group: Option<OwnLogGroup<'a>>,
}

/// Transforms records one at a time, reusing its buffers.
#[derive(Debug, Default)]
pub struct RecordTransformer {
    decoded: Vec<u8>,
    gunzip: Gunzip,
    decompressed: Vec<u8>,
    writer: LineWriter,
}

impl RecordTransformer {
    /// Appends the record's lines to `out` (which the caller clears) and says what it was.
    pub fn transform(
        &mut self,
        record: &FirehoseRecord,
        options: RecordOptions<'_>,
        out: &mut Vec<u8>,
    ) -> RecordOutcome {
        let mut decompressed_bytes = 0;
        let result = self.transform_inner(record, options, out, &mut decompressed_bytes);
        RecordOutcome {
            result,
            decompressed_bytes,
        }
    }

    /// The last record's payload as it arrived (after base64), for [`Reingest::Original`].
    pub fn original(&self) -> &[u8] {
        &self.decoded
    }

    fn transform_inner(
        &mut self,
        record: &FirehoseRecord,
        options: RecordOptions<'_>,
        out: &mut Vec<u8>,
        decompressed_bytes: &mut usize,
    ) -> Result<Transformed, RecordError> {
        self.decoded.clear();
        decode_base64(&record.data, &mut self.decoded)?;
        let arrival = UtcTime::from_millis(record.arrival_millis())
            .or_else(|| UtcTime::from_millis(0))
            .ok_or(RecordError::TimestampOutOfRange(record.arrival_millis()))?;
        let context = Context {
            record_id: &record.record_id,
            arrival,
            options,
        };
        if is_gzip(&self.decoded) {
            self.gunzip.gunzip_capped(
                &self.decoded,
                options.max_decompressed_bytes,
                &mut self.decompressed,
            )?;
            *decompressed_bytes = self.decompressed.len();
            let text =
                simdutf8::compat::from_utf8(&self.decompressed).map_err(RecordError::NotUtf8)?;
            return write_subscription(&mut self.writer, text, &context, out);
        }
        *decompressed_bytes = self.decoded.len();
        let text = match simdutf8::basic::from_utf8(&self.decoded) {
            Ok(text) => text,
            Err(_) => return Err(RecordError::UnrecognisedPayload),
        };
        let envelope = EventEnvelope::parse(text)?;
        if let Some(message_type) = EventEnvelope::string(envelope.message_type) {
            if message_type == cloudwatch::DATA_MESSAGE
                || message_type == cloudwatch::CONTROL_MESSAGE
            {
                return write_subscription(&mut self.writer, text, &context, out);
            }
        }
        let account = EventEnvelope::string(envelope.account).unwrap_or_default();
        let source = EventEnvelope::string(envelope.source).unwrap_or_default();
        let time = EventEnvelope::string(envelope.time)
            .and_then(|time| UtcTime::parse_rfc3339(&time))
            .unwrap_or(arrival);
        let keys = PartitionKeys::new(KIND_EVENTS, &account, &source, time);
        let line_len = text.trim_end().len() + 1;
        if ok_entry_len(context.record_id, line_len, &keys) > options.max_entry_bytes {
            // Like a piece of a log record, it travels again only if a later response
            // can take it beside others; a line larger than that never could.
            return if line_len <= options.payload_output_bytes {
                Ok(Transformed::Reingest(Reingest::Original))
            } else {
                Err(RecordError::EventTooLarge(line_len))
            };
        }
        eventbridge::write_line(text, out);
        Ok(Transformed::Lines {
            keys,
            lines: 1,
            other_hours: Vec::new(),
        })
    }
}

/// What a record's transformation needs to know besides its payload.
struct Context<'r> {
    record_id: &'r str,
    arrival: UtcTime,
    options: RecordOptions<'r>,
}

fn write_subscription(
    writer: &mut LineWriter,
    text: &str,
    context: &Context<'_>,
    out: &mut Vec<u8>,
) -> Result<Transformed, RecordError> {
    let message = match cloudwatch::parse(text)? {
        Subscription::Control => return Ok(Transformed::Control),
        Subscription::Data(message) => message,
    };
    let options = context.options;
    if options.own_log_group.is_some_and(|own| {
        own.account == message.owner.as_ref() && own.log_group == message.log_group.as_ref()
    }) {
        return Ok(Transformed::SelfSourced);
    }
    writer.prepare(&message);
    // Size (and check) every event before writing any, so the record is either
    // written whole, or not at all.
    let mut sized = Vec::with_capacity(message.log_events.len());
    let mut earliest: Option<UtcTime> = None;
    for event in &message.log_events {
        let (time, line_bytes) = writer.line_len(event, options.parse_json_messages)?;
        earliest = Some(earliest.map_or(time, |current| current.min(time)));
        sized.push((time.epoch_hour(), SizedEvent { event, line_bytes }));
    }
    let first_hour = earliest.map(UtcTime::epoch_hour);
    let stays = |hour: i64| !options.split_by_event_hour || Some(hour) == first_hour;
    let keys = PartitionKeys::new(
        KIND_LOGS,
        &message.owner,
        &message.log_group,
        earliest.unwrap_or(context.arrival),
    );
    let stay_bytes: usize = sized
        .iter()
        .filter(|(hour, _)| stays(*hour))
        .map(|(_, s)| s.line_bytes)
        .sum();
    let everything_stays = sized.iter().all(|(hour, _)| stays(*hour));

    if ok_entry_len(context.record_id, stay_bytes, &keys) <= options.max_entry_bytes {
        let mut lines = 0;
        for (hour, sized) in &sized {
            if stays(*hour) {
                writer.write_line(sized.event, options.parse_json_messages, out)?;
                lines += 1;
            }
        }
        let other_hours = if everything_stays {
            Vec::new()
        } else {
            payloads_by_hour(&message, &sized, |hour| !stays(hour), options)?
        };
        return Ok(Transformed::Lines {
            keys,
            lines,
            other_hours,
        });
    }

    let total_bytes: usize = sized.iter().map(|(_, s)| s.line_bytes).sum();
    if everything_stays && total_bytes <= options.payload_output_bytes {
        return Ok(Transformed::Reingest(Reingest::Original));
    }
    let pieces = if options.split_by_event_hour {
        payloads_by_hour(&message, &sized, |_| true, options)?
    } else {
        let all: Vec<SizedEvent<'_, '_>> = sized.iter().map(|(_, s)| *s).collect();
        encode_payloads(&message, &all, options.payload_output_bytes)
            .map_err(|e| RecordError::EventTooLarge(e.line_bytes))?
    };
    Ok(Transformed::Reingest(Reingest::Payloads(pieces)))
}

/// Pieces for the selected events, one group per hour so each lands in its partition.
fn payloads_by_hour(
    message: &DataMessage<'_>,
    sized: &[(i64, SizedEvent<'_, '_>)],
    selected: impl Fn(i64) -> bool,
    options: RecordOptions<'_>,
) -> Result<Vec<Vec<u8>>, RecordError> {
    let mut hours: BTreeMap<i64, Vec<SizedEvent<'_, '_>>> = BTreeMap::new();
    for (hour, sized) in sized {
        if selected(*hour) {
            hours.entry(*hour).or_default().push(*sized);
        }
    }
    let mut pieces = Vec::new();
    for events in hours.values() {
        pieces.extend(
            encode_payloads(message, events, options.payload_output_bytes)
                .map_err(|e| RecordError::EventTooLarge(e.line_bytes))?,
        );
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    use testkit::{STREAM_ACCOUNT as ACCOUNT, T0_MILLIS as T0};

    const GROUP: &str = "/aws/lambda/app";
    const STREAM: &str = "2026/11/22/[$LATEST]0a1b";
    const MINUTE: i64 = 60_000;

    fn event(id: &str, timestamp: i64, message: &str) -> Value {
        json!({"id": id, "timestamp": timestamp, "message": message})
    }

    fn data_message(events: Vec<Value>) -> Value {
        testkit::data_message(ACCOUNT, GROUP, STREAM, events)
    }

    /// A record whose payload (after base64) is `bytes`.
    fn record(bytes: &[u8]) -> FirehoseRecord {
        FirehoseRecord {
            record_id: "record-1".into(),
            approximate_arrival_timestamp: Some(T0 as f64),
            data: testkit::base64(bytes),
            kinesis_record_metadata: None,
        }
    }

    /// A record as a subscription filter sends it: gzip JSON.
    fn cloudwatch_record(payload: &Value) -> FirehoseRecord {
        record(&testkit::gzip(payload.to_string().as_bytes()))
    }

    /// Room for anything: nothing is re-ingested for size.
    fn options() -> RecordOptions<'static> {
        RecordOptions {
            max_decompressed_bytes: 1 << 20,
            parse_json_messages: false,
            split_by_event_hour: true,
            max_entry_bytes: 1 << 20,
            payload_output_bytes: 1 << 20,
            own_log_group: None,
        }
    }

    /// The record's outcome and the lines it wrote.
    fn transform(record: &FirehoseRecord, options: RecordOptions<'_>) -> (RecordOutcome, String) {
        let mut out = Vec::new();
        let outcome = RecordTransformer::default().transform(record, options, &mut out);
        (outcome, String::from_utf8(out).unwrap())
    }

    fn logs_keys(hour: &str) -> PartitionKeys {
        PartitionKeys {
            kind: KIND_LOGS,
            account: ACCOUNT.into(),
            source: "aws_lambda_app".into(),
            date: "2026-11-22".into(),
            hour: hour.into(),
        }
    }

    /// The line of an event of this module's log group, without extracted fields.
    fn log_line(time: &str, timestamp: i64, id: &str, message_json: &str) -> String {
        format!(
            "{{\"time\":\"{time}\",\"timestamp\":{timestamp},\"account\":\"{ACCOUNT}\",\
             \"log_group\":\"{GROUP}\",\"log_stream\":\"{STREAM}\",\"id\":\"{id}\",\
             \"message\":{message_json},\"subscription_filters\":[\"to-firehose\"]}}\n"
        )
    }

    /// A gzip subscription payload, decoded.
    fn gunzip_json(payload: &[u8]) -> Value {
        serde_json::from_slice(&testkit::gunzip(payload).unwrap()).unwrap()
    }

    #[test]
    fn events_of_one_hour_become_exact_lines() {
        let payload = data_message(vec![
            event("e1", T0, "hello"),
            event("e2", T0 + MINUTE, "stack\ntrace \"quoted\""),
        ]);
        let (outcome, lines) = transform(&cloudwatch_record(&payload), options());
        assert_eq!(
            outcome.result.unwrap(),
            Transformed::Lines {
                keys: logs_keys("06"),
                lines: 2,
                other_hours: Vec::new(),
            }
        );
        let expected = log_line("2026-11-22T06:41:00.000Z", T0, "e1", r#""hello""#)
            + &log_line(
                "2026-11-22T06:42:00.000Z",
                T0 + MINUTE,
                "e2",
                r#""stack\ntrace \"quoted\"""#,
            );
        assert_eq!(lines, expected);
        assert_eq!(outcome.decompressed_bytes, payload.to_string().len());
    }

    #[test]
    fn an_uncompressed_data_message_gives_the_same_lines() {
        let payload = data_message(vec![event("e1", T0, "hello")]);
        let (gzipped, gzipped_lines) = transform(&cloudwatch_record(&payload), options());
        let (plain, plain_lines) = transform(&record(payload.to_string().as_bytes()), options());
        assert_eq!(plain.result.unwrap(), gzipped.result.unwrap());
        assert_eq!(plain_lines, gzipped_lines);
        assert_eq!(
            plain_lines,
            log_line("2026-11-22T06:41:00.000Z", T0, "e1", r#""hello""#)
        );
    }

    #[test]
    fn events_of_later_hours_travel_again_one_payload_per_hour() {
        // In arrival order, the earliest event (whose hour stays) is not the first.
        let at_07 = event("e-07", T0 + 30 * MINUTE, "seven");
        let at_0641 = event("e-0641", T0, "six forty-one");
        let at_08 = event("e-08", T0 + 120 * MINUTE, "eight");
        let at_0642 = event("e-0642", T0 + MINUTE, "six forty-two");
        let payload = data_message(vec![at_07.clone(), at_0641, at_08.clone(), at_0642]);
        let record = cloudwatch_record(&payload);
        let (outcome, lines) = transform(&record, options());
        let Ok(Transformed::Lines {
            keys,
            lines: count,
            other_hours,
        }) = outcome.result
        else {
            panic!("expected lines, got {:?}", outcome.result);
        };
        assert_eq!((keys, count), (logs_keys("06"), 2));
        let expected = log_line(
            "2026-11-22T06:41:00.000Z",
            T0,
            "e-0641",
            r#""six forty-one""#,
        ) + &log_line(
            "2026-11-22T06:42:00.000Z",
            T0 + MINUTE,
            "e-0642",
            r#""six forty-two""#,
        );
        assert_eq!(lines, expected);
        assert_eq!(other_hours.len(), 2, "one payload for 07, one for 08");
        for (payload_bytes, events) in other_hours.iter().zip([vec![at_07], vec![at_08]]) {
            let mut expected = payload.clone();
            expected["logEvents"] = Value::Array(events);
            assert_eq!(gunzip_json(payload_bytes), expected);
        }

        // Without splitting, every event is written under the earliest event's hour.
        let unsplit = RecordOptions {
            split_by_event_hour: false,
            ..options()
        };
        let (outcome, lines) = transform(&record, unsplit);
        assert_eq!(
            outcome.result.unwrap(),
            Transformed::Lines {
                keys: logs_keys("06"),
                lines: 4,
                other_hours: Vec::new(),
            }
        );
        assert_eq!(lines.lines().count(), 4);
    }

    #[test]
    fn a_control_message_is_control_and_writes_nothing() {
        let (outcome, lines) =
            transform(&cloudwatch_record(&testkit::control_message()), options());
        assert_eq!(outcome.result.unwrap(), Transformed::Control);
        assert_eq!(lines, "");
    }

    #[test]
    fn an_eventbridge_event_is_one_line_of_kind_events() {
        let text = r#"{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"210987654321","time":"2026-11-22T07:05:00Z","region":"us-east-1","resources":[],"detail":{"eventName":"CreateUser"}}"#;
        let (outcome, lines) = transform(&record(text.as_bytes()), options());
        assert_eq!(
            outcome.result.unwrap(),
            Transformed::Lines {
                keys: PartitionKeys {
                    kind: KIND_EVENTS,
                    account: "210987654321".into(),
                    source: "aws.iam".into(),
                    date: "2026-11-22".into(),
                    hour: "07".into(),
                },
                lines: 1,
                other_hours: Vec::new(),
            }
        );
        assert_eq!(lines, format!("{text}\n"));
        assert_eq!(outcome.decompressed_bytes, text.len());
    }

    #[test]
    fn the_functions_own_log_group_in_its_own_account_is_self_sourced() {
        let payload = data_message(vec![event("e1", T0, "my own log line")]);
        let record = cloudwatch_record(&payload);
        let guarded = |account| RecordOptions {
            own_log_group: Some(OwnLogGroup {
                account,
                log_group: GROUP,
            }),
            ..options()
        };
        let (outcome, lines) = transform(&record, guarded(ACCOUNT));
        assert_eq!(outcome.result.unwrap(), Transformed::SelfSourced);
        assert_eq!(lines, "");
        // The same group name in another account is someone else's: forwarded.
        let (outcome, lines) = transform(&record, guarded("999999999999"));
        assert!(matches!(
            outcome.result,
            Ok(Transformed::Lines { lines: 1, .. })
        ));
        assert_eq!(lines.lines().count(), 1);
    }

    #[test]
    fn output_over_the_entry_room_travels_again() {
        let events: Vec<Value> = (0..4)
            .map(|i| event(&format!("e{i}"), T0 + i * MINUTE, &"x".repeat(100)))
            .collect();
        let payload = data_message(events.clone());
        let record = cloudwatch_record(&payload);
        let (_, lines) = transform(&record, options());
        // Every line has the same length here.
        let line_len = lines.len() / 4;
        let entry_len = ok_entry_len(&record.record_id, lines.len(), &logs_keys("06"));
        let room = |max_entry_bytes, payload_output_bytes| RecordOptions {
            max_entry_bytes,
            payload_output_bytes,
            ..options()
        };

        let (exact, written) = transform(&record, room(entry_len, 0));
        assert!(matches!(
            exact.result,
            Ok(Transformed::Lines { lines: 4, .. })
        ));
        assert_eq!(written, lines);

        // One byte short, and a later response can take it whole: as it came.
        let mut transformer = RecordTransformer::default();
        let mut out = Vec::new();
        let whole = transformer.transform(&record, room(entry_len - 1, lines.len()), &mut out);
        assert_eq!(
            whole.result.unwrap(),
            Transformed::Reingest(Reingest::Original)
        );
        assert!(
            out.is_empty(),
            "nothing is written for a record that travels"
        );
        assert_eq!(
            transformer.original(),
            testkit::unbase64(&record.data).unwrap()
        );

        // A later response takes two lines at most: two payloads of two events each.
        let (pieces, written) = transform(&record, room(entry_len - 1, 2 * line_len));
        let Ok(Transformed::Reingest(Reingest::Payloads(pieces))) = pieces.result else {
            panic!("expected payloads, got {:?}", pieces.result);
        };
        assert_eq!(written, "");
        assert_eq!(pieces.len(), 2);
        for (piece, events) in pieces.iter().zip(events.chunks(2)) {
            let mut expected = payload.clone();
            expected["logEvents"] = Value::Array(events.to_vec());
            assert_eq!(gunzip_json(piece), expected);
        }

        // A line no response could take.
        let (never, _) = transform(&record, room(entry_len - 1, line_len - 1));
        assert!(
            matches!(never.result, Err(RecordError::EventTooLarge(bytes)) if bytes == line_len),
            "{:?}",
            never.result
        );
    }

    #[test]
    fn an_event_over_the_entry_room_travels_again_when_a_response_can_take_it() {
        let text = r#"{"source":"aws.iam","account":"210987654321","time":"2026-11-22T07:05:00Z"}"#;
        let record = record(text.as_bytes());
        let (_, line) = transform(&record, options());
        assert_eq!(line.len(), text.len() + 1);
        let keys = PartitionKeys::new(
            KIND_EVENTS,
            "210987654321",
            "aws.iam",
            UtcTime::from_millis(T0).unwrap(),
        );
        let entry_len = ok_entry_len(&record.record_id, line.len(), &keys);
        let room = |payload_output_bytes| RecordOptions {
            max_entry_bytes: entry_len - 1,
            payload_output_bytes,
            ..options()
        };
        let (later, written) = transform(&record, room(line.len()));
        assert_eq!(
            later.result.unwrap(),
            Transformed::Reingest(Reingest::Original)
        );
        assert_eq!(written, "");
        let (never, _) = transform(&record, room(line.len() - 1));
        assert!(
            matches!(never.result, Err(RecordError::EventTooLarge(bytes)) if bytes == line.len()),
            "{:?}",
            never.result
        );
    }

    /// A case of a record that cannot be transformed: its name, the record, and whether
    /// the error is the expected one.
    type ErrorCase = (&'static str, FirehoseRecord, fn(&RecordError) -> bool);

    fn assert_errors(cases: Vec<ErrorCase>) {
        for (name, record, is_expected) in cases {
            let (outcome, lines) = transform(&record, options());
            let error = outcome.result.unwrap_err();
            assert!(is_expected(&error), "{name}: {error:?}");
            assert_eq!(lines, "", "{name}: nothing is written");
        }
    }

    fn gzip_record(text: &str) -> FirehoseRecord {
        record(&testkit::gzip(text.as_bytes()))
    }

    #[test]
    fn undecodable_payloads_are_the_matching_errors() {
        let whole = testkit::gzip(
            data_message(vec![event("e1", T0, "hi")])
                .to_string()
                .as_bytes(),
        );
        let not_base64 = FirehoseRecord {
            data: "not base64!".into(),
            ..record(b"")
        };
        assert_errors(vec![
            ("not base64", not_base64, |e| {
                matches!(e, RecordError::Base64)
            }),
            ("plain text", record(b"plain text"), |e| {
                matches!(e, RecordError::UnrecognisedPayload)
            }),
            ("neither gzip nor UTF-8", record(&[0xff, 0xfe, b'{']), |e| {
                matches!(e, RecordError::UnrecognisedPayload)
            }),
            ("a broken object", record(br#"{"source":"#), |e| {
                matches!(e, RecordError::InvalidJson(_))
            }),
            ("truncated gzip", record(&whole[..whole.len() / 2]), |e| {
                matches!(e, RecordError::Gzip(_))
            }),
            (
                "gzip, not UTF-8",
                record(&testkit::gzip(&[0xff, 0xfe])),
                |e| matches!(e, RecordError::NotUtf8(_)),
            ),
        ]);
    }

    #[test]
    fn gzip_that_is_no_subscription_message_is_the_matching_error() {
        let one_event = |event: Value| gzip_record(&data_message(vec![event]).to_string());
        let numeric_message = json!({"id": "e", "timestamp": T0, "message": 5});
        assert_errors(vec![
            ("gzip text", gzip_record("plain text"), |e| {
                matches!(e, RecordError::NotSubscriptionMessage(_))
            }),
            ("no messageType", gzip_record(r#"{"a":1}"#), |e| {
                matches!(e, RecordError::NotSubscriptionMessage(_))
            }),
            ("a JSON array", gzip_record("[1]"), |e| {
                matches!(e, RecordError::NotSubscriptionMessage(_))
            }),
            (
                "unknown type",
                gzip_record(r#"{"messageType":"NEW"}"#),
                |e| matches!(e, RecordError::UnknownMessageType(t) if t == "NEW"),
            ),
            (
                "no owner",
                gzip_record(r#"{"messageType":"DATA_MESSAGE"}"#),
                |e| matches!(e, RecordError::MissingField("owner")),
            ),
            ("numeric message", one_event(numeric_message), |e| {
                matches!(
                    e,
                    RecordError::InvalidEventField {
                        field: "message",
                        ..
                    }
                )
            }),
            (
                "year 11476",
                one_event(event("e", 300_000_000_000_000, "m")),
                |e| matches!(e, RecordError::TimestampOutOfRange(300_000_000_000_000)),
            ),
        ]);
    }

    #[test]
    fn a_payload_over_the_decompressed_cap_is_too_large() {
        let payload = data_message(vec![event("e1", T0, &"x".repeat(1000))]).to_string();
        let record = record(&testkit::gzip(payload.as_bytes()));
        let capped = |max_decompressed_bytes| RecordOptions {
            max_decompressed_bytes,
            ..options()
        };
        let (at_cap, _) = transform(&record, capped(payload.len()));
        assert!(matches!(
            at_cap.result,
            Ok(Transformed::Lines { lines: 1, .. })
        ));
        let (over, lines) = transform(&record, capped(payload.len() - 1));
        let error = over.result.unwrap_err();
        assert!(
            matches!(error, RecordError::TooLarge { max_bytes } if max_bytes == payload.len() - 1),
            "{error:?}"
        );
        assert!(error.to_string().contains("limit"), "{error}");
        assert_eq!(lines, "");
    }
}
