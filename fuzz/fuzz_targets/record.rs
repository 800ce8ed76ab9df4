//! Fuzz target `record`: one Firehose record through `RecordTransformer::transform`.
//!
//! Input layout (so that seed files can be written by hand, see scripts/fuzz.sh):
//!
//! ```text
//! byte 0       mode % 4: 0 payload bytes as they are, 1 gzip of the payload bytes,
//!              2 payload bytes drive `arbitrary` to build a CloudWatch Logs
//!              subscription message, 3 payload bytes are the base64 `data` text itself
//! byte 1       flags: bit 0 parse_json_messages, bit 1 send an arrival timestamp,
//!              bit 2 split the gzip into two members, bit 3 truncate the gzip,
//!              bit 4 turn split_by_event_hour OFF
//! bytes 2..6   u32 LE: max_entry_bytes = value % (4 MiB + 1)
//! bytes 6..8   u16 LE: arrival choice / gzip split point / truncation point
//! bytes 8..12  u32 LE: payload_output_bytes = value % (4 MiB + 1)
//! bytes 12..   payload
//! ```
//!
//! Besides "no panic", every outcome is checked against what the modules promise:
//! `Lines` output is NDJSON with the reported number of lines, and its `Ok` entry fits
//! `max_entry_bytes` (the record sizes every line before writing any); nothing is
//! written for `Control` or `Reingest`; every re-ingested payload (other_hours, pieces, the
//! original) transforms on its own into lines that fit `payload_output_bytes`, in one
//! hour when splitting by hour; partition keys are safe S3 segments; reused buffers
//! change nothing. For generated subscription messages the exact content of every
//! line and the exact division of events between lines and pieces are checked too.

#![no_main]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write;

use arbitrary::{Arbitrary, Unstructured};
use firehose_logs_processor::transform::error::RecordError;
use firehose_logs_processor::transform::firehose::FirehoseRecord;
use firehose_logs_processor::transform::partition::{key_segment, PartitionKeys, MAX_SEGMENT_LEN};
use firehose_logs_processor::transform::firehose::ok_entry_len;
use firehose_logs_processor::transform::record::{
    Reingest, RecordOptions, RecordTransformer, Transformed,
};
use firehose_logs_processor::transform::split::MAX_PIECE_JSON_BYTES;
use firehose_logs_processor::transform::time::UtcTime;
use flate2::{write::GzEncoder, Compression};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const MAX_DECOMPRESSED_BYTES: usize = 1 << 20;
const MAX_ROOM_BYTES: usize = 4 << 20;
const RECORD_ID: &str = "49578734086442259037497492980620233840400173390482110001";
/// 2026-11-22T06:00:00Z: `Timestamp::Near` puts events in the four hours after it.
const BASE_HOUR_MILLIS: i64 = 1_795_327_200_000;
const MIN_MILLIS: i64 = -62_167_219_200_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

const ARRIVALS: [f64; 10] = [
    0.0,
    1_795_329_665_000.0,
    1_795_329_665_000.75,
    -1.0,
    f64::NAN,
    1e300,
    -1e300,
    f64::INFINITY,
    253_402_300_800_000.0,
    -62_167_219_200_001.0,
];

thread_local! {
    /// A transformer that keeps its buffers from one input to the next, as in Lambda.
    static WARM: RefCell<RecordTransformer> = RefCell::new(RecordTransformer::default());
}

// ---------------------------------------------------------------- generated payloads

#[derive(Arbitrary, Debug)]
enum MessageType {
    Data,
    Control,
    Other(String),
    Missing,
    NotString(i32),
}

#[derive(Arbitrary, Debug)]
enum Id {
    Str(String),
    UInt(u64),
    Int(i64),
    Float(f64),
    Null,
    Bool(bool),
    Array,
}

#[derive(Arbitrary, Debug)]
enum Timestamp {
    Any(i64),
    InRange(u64),
    Edge(u8),
    /// In one of four consecutive hours: exercises splitting by hour.
    Near { hour: u8, offset: u32 },
}

#[derive(Arbitrary, Debug)]
enum FieldValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
    Nested(Vec<(String, String)>),
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Text(String),
    Padded { text: String, repeat: u16 },
    JsonObject { fields: Vec<(String, FieldValue)>, leading_spaces: u8, pretty: bool },
    NotString(i64),
    Null,
}

#[derive(Arbitrary, Debug)]
enum Extracted {
    Object(Vec<(String, String)>),
    NotObject(String),
    Array,
}

#[derive(Arbitrary, Debug)]
struct Event {
    id: Id,
    timestamp: Timestamp,
    message: Msg,
    extracted: Option<Extracted>,
}

#[derive(Arbitrary, Debug)]
struct Message {
    message_type: MessageType,
    owner: Option<String>,
    log_group: Option<String>,
    log_stream: Option<String>,
    filters: Option<Vec<String>>,
    policy_level: Option<String>,
    events: Option<Vec<Event>>,
    /// An unknown field AWS might add: must be ignored.
    extra: Option<(String, i64)>,
    pretty: bool,
    gzip: bool,
    split_gzip: Option<u16>,
    truncate: Option<u32>,
    arrival: Option<f64>,
}

impl Id {
    fn to_json(&self) -> Value {
        match self {
            Id::Str(s) => Value::String(s.clone()),
            Id::UInt(n) => Value::from(*n),
            Id::Int(n) => Value::from(*n),
            Id::Float(f) if f.is_finite() => Value::from(*f),
            Id::Float(_) => Value::from(0.5),
            Id::Null => Value::Null,
            Id::Bool(b) => Value::Bool(*b),
            Id::Array => Value::Array(vec![]),
        }
    }
}

impl Timestamp {
    fn millis(&self) -> i64 {
        match *self {
            Timestamp::Any(n) => n,
            Timestamp::InRange(n) => {
                MIN_MILLIS + (n % ((MAX_MILLIS - MIN_MILLIS + 1) as u64)) as i64
            }
            Timestamp::Near { hour, offset } => {
                BASE_HOUR_MILLIS + i64::from(hour % 4) * 3_600_000 + i64::from(offset % 3_600_000)
            }
            Timestamp::Edge(n) => [
                MIN_MILLIS,
                MAX_MILLIS,
                MIN_MILLIS - 1,
                MAX_MILLIS + 1,
                0,
                -1,
                999,
                -1001,
                i64::MIN,
                i64::MAX,
            ][usize::from(n) % 10],
        }
    }
}

fn field_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Str(s) => Value::String(s.clone()),
        FieldValue::Int(n) => Value::from(*n),
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Null => Value::Null,
        FieldValue::Nested(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    }
}

impl Msg {
    fn to_json(&self) -> Value {
        match self {
            Msg::Text(s) => Value::String(s.clone()),
            Msg::Padded { text, repeat } => {
                let times = if text.is_empty() {
                    0
                } else {
                    usize::from(*repeat).min((64 << 10) / text.len())
                };
                Value::String(text.repeat(times))
            }
            Msg::JsonObject {
                fields,
                leading_spaces,
                pretty,
            } => {
                let object: Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), field_value(v)))
                    .collect();
                let object = Value::Object(object);
                let text = if *pretty {
                    serde_json::to_string_pretty(&object).unwrap()
                } else {
                    object.to_string()
                };
                Value::String(format!(
                    "{}{text}",
                    " ".repeat(usize::from(*leading_spaces % 4))
                ))
            }
            Msg::NotString(n) => Value::from(*n),
            Msg::Null => Value::Null,
        }
    }
}

impl Extracted {
    fn to_json(&self) -> Value {
        match self {
            Extracted::Object(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
            Extracted::NotObject(s) => Value::String(s.clone()),
            Extracted::Array => Value::Array(vec![Value::from(1)]),
        }
    }
}

impl Message {
    fn type_string(&self) -> Option<&str> {
        match &self.message_type {
            MessageType::Data => Some("DATA_MESSAGE"),
            MessageType::Control => Some("CONTROL_MESSAGE"),
            MessageType::Other(s) => Some(s),
            MessageType::Missing | MessageType::NotString(_) => None,
        }
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        match &self.message_type {
            MessageType::Missing => {}
            MessageType::NotString(n) => {
                object.insert("messageType".into(), Value::from(*n));
            }
            _ => {
                object.insert("messageType".into(), self.type_string().unwrap().into());
            }
        }
        let mut put = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                object.insert(name.into(), Value::String(value.clone()));
            }
        };
        put("owner", &self.owner);
        put("logGroup", &self.log_group);
        put("logStream", &self.log_stream);
        put("policyLevel", &self.policy_level);
        if let Some(filters) = &self.filters {
            object.insert(
                "subscriptionFilters".into(),
                filters.iter().cloned().map(Value::String).collect(),
            );
        }
        if let Some(events) = &self.events {
            let events = events
                .iter()
                .map(|event| {
                    let mut e = Map::new();
                    e.insert("id".into(), event.id.to_json());
                    e.insert("timestamp".into(), Value::from(event.timestamp.millis()));
                    e.insert("message".into(), event.message.to_json());
                    if let Some(extracted) = &event.extracted {
                        e.insert("extractedFields".into(), extracted.to_json());
                    }
                    Value::Object(e)
                })
                .collect();
            object.insert("logEvents".into(), Value::Array(events));
        }
        if let Some((name, value)) = &self.extra {
            object.insert(format!("x-{name}"), Value::from(*value));
        }
        Value::Object(object)
    }
}

// ---------------------------------------------------------------- helpers

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Gzip, as one member or split into two members at `split` (mod length).
fn gzip_members(data: &[u8], split: Option<usize>) -> Vec<u8> {
    match split {
        Some(at) if !data.is_empty() => {
            let at = at % data.len();
            let mut out = gzip(&data[..at]);
            out.extend(gzip(&data[at..]));
            out
        }
        _ => gzip(data),
    }
}

fn base64(data: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(data)
}

fn record(data: String, arrival: Option<f64>) -> FirehoseRecord {
    FirehoseRecord {
        record_id: RECORD_ID.into(),
        approximate_arrival_timestamp: arrival,
        data,
        kinesis_record_metadata: None,
    }
}

fn arrival_time(record: &FirehoseRecord) -> UtcTime {
    UtcTime::from_millis(record.arrival_millis()).unwrap_or(UtcTime::from_millis(0).unwrap())
}

fn check_segment(segment: &str) {
    assert!(!segment.is_empty(), "empty key segment");
    assert!(segment.len() <= MAX_SEGMENT_LEN, "key segment too long: {segment:?}");
    assert!(
        segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')),
        "unsafe key segment {segment:?}"
    );
    assert!(segment != "." && segment != "..", "key segment {segment:?}");
}

fn check_keys(keys: &PartitionKeys) {
    assert!(keys.kind == "logs" || keys.kind == "events", "kind {:?}", keys.kind);
    check_segment(&keys.account);
    check_segment(&keys.source);
    let date = keys.date.as_bytes();
    assert!(
        date.len() == 10
            && date[4] == b'-'
            && date[7] == b'-'
            && date
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit()),
        "dt {:?}",
        keys.date
    );
    let hour: u32 = keys.hour.parse().expect("hour is digits");
    assert!(keys.hour.len() == 2 && hour < 24, "hour {:?}", keys.hour);
}

/// The NDJSON invariants every complete or over-limit output satisfies; returns the
/// parsed lines.
fn check_ndjson(out: &[u8]) -> Vec<Map<String, Value>> {
    let text = std::str::from_utf8(out).expect("output is not UTF-8");
    assert!(!text.contains('\r'), "raw CR in the output");
    if text.is_empty() {
        return Vec::new();
    }
    assert!(text.ends_with('\n'), "output does not end with a newline");
    text[..text.len() - 1]
        .split('\n')
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("line is not a JSON object: {other:?}: {line:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------- the target

struct Run {
    record: FirehoseRecord,
    options: RecordOptions<'static>,
    /// The generated message and its JSON, when the payload is an intact one.
    expected: Option<(Message, Value)>,
}

fn build(data: &[u8]) -> Option<Run> {
    let mut header = [0u8; 12];
    let n = data.len().min(12);
    header[..n].copy_from_slice(&data[..n]);
    let payload = &data[n..];
    let mode = header[0] % 4;
    let flags = header[1];
    let le32 = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap()) as usize;
    let aux = u16::from_le_bytes(header[6..8].try_into().unwrap());
    let options = RecordOptions {
        max_decompressed_bytes: MAX_DECOMPRESSED_BYTES,
        parse_json_messages: flags & 1 != 0,
        split_by_event_hour: flags & 16 == 0,
        max_entry_bytes: le32(2) % (MAX_ROOM_BYTES + 1),
        payload_output_bytes: le32(8) % (MAX_ROOM_BYTES + 1),
        own_log_group: None,
    };
    let mut arrival = (flags & 2 != 0).then(|| ARRIVALS[usize::from(aux) % ARRIVALS.len()]);
    let data = match mode {
        0 => base64(payload),
        1 => {
            let mut compressed =
                gzip_members(payload, (flags & 4 != 0).then_some(usize::from(aux)));
            if flags & 8 != 0 {
                compressed.truncate(usize::from(aux) % (compressed.len() + 1));
            }
            base64(&compressed)
        }
        2 => {
            let message = Message::arbitrary_take_rest(Unstructured::new(payload)).ok()?;
            let json = message.to_json();
            let text = if message.pretty {
                serde_json::to_string_pretty(&json).unwrap()
            } else {
                json.to_string()
            };
            let mut bytes = if message.gzip {
                gzip_members(text.as_bytes(), message.split_gzip.map(usize::from))
            } else {
                text.into_bytes()
            };
            let intact = match message.truncate {
                Some(at) => {
                    bytes.truncate(at as usize % (bytes.len() + 1));
                    false
                }
                None => true,
            };
            if message.arrival.is_some() {
                arrival = message.arrival;
            }
            return Some(Run {
                record: record(base64(&bytes), arrival),
                options,
                expected: intact.then_some((message, json)),
            });
        }
        _ => String::from_utf8_lossy(payload).into_owned(),
    };
    Some(Run {
        record: record(data, arrival),
        options,
        expected: None,
    })
}

/// A payload to re-ingest, transformed on its own with all the room it wants: it must
/// become lines that fit `payload_output_bytes`, with nothing left to other_hours. Returns its
/// keys and, for a gzip subscription payload, its events.
fn check_reingested(
    payload: &[u8],
    run: &Run,
    what: &str,
) -> (PartitionKeys, Option<Vec<Value>>) {
    let record = record(base64(payload), run.record.approximate_arrival_timestamp);
    let options = RecordOptions {
        max_entry_bytes: usize::MAX,
        ..run.options
    };
    let mut out = Vec::new();
    let outcome = RecordTransformer::default().transform(&record, options, &mut out);
    let Ok(Transformed::Lines { keys, lines, other_hours }) = outcome.result else {
        panic!("{what} does not transform on its own: {:?}", outcome.result);
    };
    assert!(other_hours.is_empty(), "{what} spills again: {} pieces", other_hours.len());
    assert!(
        out.len() <= run.options.payload_output_bytes,
        "{what} makes {} bytes of lines, over payload_output_bytes {}",
        out.len(),
        run.options.payload_output_bytes
    );
    assert_eq!(check_ndjson(&out).len(), lines);
    check_keys(&keys);
    let events = payload.starts_with(&[0x1f, 0x8b]).then(|| {
        let mut json = Vec::new();
        let mut decoder = flate2::read::MultiGzDecoder::new(payload);
        std::io::Read::read_to_end(&mut decoder, &mut json).expect("piece is not gzip");
        assert!(json.len() <= MAX_PIECE_JSON_BYTES, "{what} of {} bytes", json.len());
        let value: Value = serde_json::from_slice(&json).expect("piece is not JSON");
        assert_eq!(value["messageType"], "DATA_MESSAGE", "{what}");
        value["logEvents"].as_array().expect("piece without logEvents").clone()
    });
    (keys, events)
}

fuzz_target!(|data: &[u8]| {
    let Some(run) = build(data) else {
        return;
    };
    let options = run.options;
    let mut out = Vec::new();
    let mut transformer = RecordTransformer::default();
    let outcome = transformer.transform(&run.record, options, &mut out);
    let original = transformer.original().to_vec();
    let mut reingested: Vec<(PartitionKeys, Option<Vec<Value>>)> = Vec::new();

    match &outcome.result {
        Ok(Transformed::Lines { keys, lines, other_hours }) => {
            check_keys(keys);
            let parsed = check_ndjson(&out);
            assert_eq!(parsed.len(), *lines, "reported line count");
            let entry = ok_entry_len(RECORD_ID, out.len(), keys);
            assert!(
                entry <= options.max_entry_bytes,
                "Ok entry of {entry} bytes over max_entry_bytes {}",
                options.max_entry_bytes
            );
            if keys.kind == "events" {
                assert_eq!(*lines, 1, "an event is one line");
                assert!(other_hours.is_empty(), "an event spilled");
            }
            if !options.split_by_event_hour {
                assert!(other_hours.is_empty(), "other_hours without splitting by hour");
            }
            for (index, piece) in other_hours.iter().enumerate() {
                let (piece_keys, events) = check_reingested(piece, &run, &format!("other_hours {index}"));
                assert!(
                    (&piece_keys.date, &piece_keys.hour) != (&keys.date, &keys.hour),
                    "spilled events of the hour that was written"
                );
                assert!(!events.as_ref().unwrap().is_empty(), "empty other_hours piece");
                reingested.push((piece_keys, events));
            }
        }
        Ok(Transformed::Control) => assert!(out.is_empty(), "control message wrote output"),
        Ok(Transformed::SelfSourced) => panic!("loop guard fired without an own log group"),
        Ok(Transformed::Reingest(reingest)) => {
            assert!(out.is_empty(), "wrote output for a record to re-ingest");
            match reingest {
                Reingest::Original => {
                    let decoded =
                        base64_simd::STANDARD.decode_to_vec(run.record.data.as_bytes()).unwrap();
                    assert!(original == decoded, "original() is not the record's payload");
                    reingested.push(check_reingested(&original, &run, "original"));
                }
                Reingest::Payloads(pieces) => {
                    assert!(!pieces.is_empty(), "re-ingest with no pieces");
                    for (index, piece) in pieces.iter().enumerate() {
                        let checked = check_reingested(piece, &run, &format!("piece {index}"));
                        assert!(!checked.1.as_ref().unwrap().is_empty(), "empty piece");
                        reingested.push(checked);
                    }
                }
            }
        }
        Err(RecordError::Panic(_)) => panic!("transform reported a panic"),
        Err(RecordError::TooLarge { max_bytes }) => {
            assert_eq!(*max_bytes, MAX_DECOMPRESSED_BYTES);
        }
        Err(RecordError::EventTooLarge(line_bytes)) => {
            assert!(
                *line_bytes > options.payload_output_bytes,
                "EventTooLarge({line_bytes}) with payload_output_bytes {}",
                options.payload_output_bytes
            );
        }
        Err(_) => {}
    }
    if let Ok(_) = &outcome.result {
        // Only a gzip payload is capped; a plain one is already bounded by Firehose.
        if original.starts_with(&[0x1f, 0x8b]) {
            assert!(outcome.decompressed_bytes <= MAX_DECOMPRESSED_BYTES);
        } else {
            assert_eq!(outcome.decompressed_bytes, original.len());
        }
    }

    // Reused buffers must not change anything.
    let mut warm_out = Vec::new();
    let warm = WARM.with(|t| t.borrow_mut().transform(&run.record, options, &mut warm_out));
    assert_eq!(
        format!("{:?}", warm.result),
        format!("{:?}", outcome.result),
        "warm transformer disagrees"
    );
    assert_eq!(warm.decompressed_bytes, outcome.decompressed_bytes);
    assert!(warm_out == out, "warm transformer wrote different output");

    if let Some((message, json)) = &run.expected {
        check_generated(&run, message, json, &outcome.result, &out, &reingested);
    }
});

/// Why a generated event cannot be written, in the order `ndjson.rs` checks.
fn event_error(event: &Event) -> Option<&'static str> {
    if UtcTime::from_millis(event.timestamp.millis()).is_none() {
        return Some("timestamp");
    }
    if !event.message.to_json().is_string() {
        return Some("message");
    }
    if !matches!(event.id.to_json(), Value::String(_) | Value::Number(_)) {
        return Some("id");
    }
    if let Some(extracted) = &event.extracted {
        if !extracted.to_json().is_object() {
            return Some("extractedFields");
        }
    }
    None
}

fn check_generated(
    run: &Run,
    message: &Message,
    json: &Value,
    result: &Result<Transformed, RecordError>,
    out: &[u8],
    reingested: &[(PartitionKeys, Option<Vec<Value>>)],
) {
    let text = if message.pretty {
        serde_json::to_string_pretty(json).unwrap()
    } else {
        json.to_string()
    };
    let text_len = text.len();
    // The events as the code under test reads them: parsed from the same text by the
    // same parser (serde_json's default float parsing is not exact to the last bit).
    let reparsed: Value = serde_json::from_str(&text).unwrap();
    if message.gzip && text_len > MAX_DECOMPRESSED_BYTES {
        assert!(
            matches!(result, Err(RecordError::TooLarge { .. })),
            "{text_len}-byte payload over the cap: {result:?}"
        );
        return;
    }
    let arrival = arrival_time(&run.record);
    let type_string = message.type_string();

    if type_string == Some("CONTROL_MESSAGE") {
        assert!(matches!(result, Ok(Transformed::Control)), "control message: {result:?}");
        return;
    }
    if type_string != Some("DATA_MESSAGE") {
        if message.gzip {
            assert!(result.is_err(), "gzip non-subscription payload: {result:?}");
            if let Some(other) = type_string {
                assert!(
                    matches!(result, Err(RecordError::UnknownMessageType(t)) if t == other),
                    "unknown messageType {other:?}: {result:?}"
                );
            }
            return;
        }
        // A plain JSON object that is not a subscription message: an event, one line.
        match result {
            Ok(Transformed::Lines { keys, lines: 1, .. }) => {
                assert_eq!(keys.kind, "events");
                assert_eq!(keys.account, "unknown");
                assert_eq!(keys.source, "unknown");
                assert_eq!(keys.date, arrival.date_string());
                assert_eq!(keys.hour, arrival.hour_string());
                // The object as it came, on one line: trailing whitespace gone, CR and
                // LF (whitespace between tokens here) made spaces.
                let mut expected = text.trim_end().replace(['\n', '\r'], " ");
                expected.push('\n');
                assert!(out == expected.as_bytes(), "the event line is not the event");
            }
            Ok(Transformed::Reingest(Reingest::Original)) => {}
            // Too long for any later response: kept by Firehose, not re-ingested.
            Err(RecordError::EventTooLarge(line_bytes)) => {
                assert_eq!(*line_bytes, text.trim_end().len() + 1, "event line length");
                assert!(*line_bytes > run.options.payload_output_bytes);
            }
            other => panic!("plain JSON object: {other:?}"),
        }
        return;
    }

    // DATA_MESSAGE.
    let missing = [
        ("owner", message.owner.is_none()),
        ("logGroup", message.log_group.is_none()),
        ("logStream", message.log_stream.is_none()),
        ("logEvents", message.events.is_none()),
    ]
    .into_iter()
    .find(|(_, missing)| *missing);
    if let Some((field, _)) = missing {
        assert!(
            matches!(result, Err(RecordError::MissingField(f)) if *f == field),
            "missing {field}: {result:?}"
        );
        return;
    }
    let events = message.events.as_ref().unwrap();
    let event_values = reparsed["logEvents"].as_array().unwrap();
    // Every event is checked before anything is written: the first bad one decides.
    if let Some((index, why)) = events
        .iter()
        .enumerate()
        .find_map(|(i, e)| event_error(e).map(|why| (i, why)))
    {
        let matches = match (why, result) {
            ("timestamp", Err(RecordError::TimestampOutOfRange(_))) => true,
            (field, Err(RecordError::InvalidEventField { field: f, .. })) => *f == field,
            _ => false,
        };
        assert!(matches, "event {index} has a bad {why}: {result:?}");
        return;
    }

    let hour = |e: &Event| e.timestamp.millis().div_euclid(3_600_000);
    let earliest = events
        .iter()
        .map(|e| UtcTime::from_millis(e.timestamp.millis()).unwrap())
        .min();
    let first_hour = earliest.map(UtcTime::epoch_hour);
    let split = run.options.split_by_event_hour;
    let stays = |e: &Event| !split || Some(hour(e)) == first_hour;
    // Events not written, in the order the pieces must hold them: by hour when
    // splitting, in order within an hour.
    let by_hour = |select: &dyn Fn(&Event) -> bool| -> Vec<Value> {
        let mut chosen: Vec<(i64, usize)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| select(e))
            .map(|(i, e)| (if split { hour(e) } else { 0 }, i))
            .collect();
        chosen.sort();
        chosen.into_iter().map(|(_, i)| event_values[i].clone()).collect()
    };
    let reingested_events: Vec<Value> = reingested
        .iter()
        .flat_map(|(_, events)| events.iter().flatten().cloned())
        .collect();

    let written: Vec<&Event> = match result {
        Ok(Transformed::Lines { lines, other_hours, .. }) => {
            let written: Vec<&Event> = events.iter().filter(|e| stays(e)).collect();
            assert_eq!(*lines, written.len(), "lines written");
            assert_eq!(other_hours.is_empty(), written.len() == events.len());
            assert!(
                reingested_events == by_hour(&|e| !stays(e)),
                "spilled events are not the other hours' events, by hour, once each"
            );
            written
        }
        Ok(Transformed::Reingest(Reingest::Original)) => {
            assert!(
                events.iter().all(stays),
                "a record spanning hours re-ingested whole"
            );
            return;
        }
        Ok(Transformed::Reingest(Reingest::Payloads(_))) => {
            assert!(
                reingested_events == by_hour(&|_| true),
                "pieces do not hold every event once, by hour"
            );
            return;
        }
        Err(RecordError::EventTooLarge(_)) => return,
        other => panic!("valid data message: {other:?}"),
    };
    let Ok(Transformed::Lines { keys, .. }) = result else {
        unreachable!()
    };
    let owner = message.owner.as_deref().unwrap();
    let log_group = message.log_group.as_deref().unwrap();
    let log_stream = message.log_stream.as_deref().unwrap();
    assert_eq!(keys.kind, "logs");
    assert_eq!(keys.account, key_segment(owner));
    assert_eq!(keys.source, key_segment(log_group));
    let key_time = earliest.unwrap_or(arrival);
    assert_eq!(keys.date, key_time.date_string());
    assert_eq!(keys.hour, key_time.hour_string());

    let filters: Vec<Value> = message
        .filters
        .iter()
        .flatten()
        .cloned()
        .map(Value::String)
        .collect();
    let allowed: BTreeSet<&str> = [
        "time",
        "timestamp",
        "account",
        "log_group",
        "log_stream",
        "id",
        "message",
        "subscription_filters",
        "policy_level",
        "extracted_fields",
        "message_json",
    ]
    .into();
    for (index, (line, event)) in check_ndjson(out).iter().zip(written).enumerate() {
        let ctx = format!("line {index}");
        for key in line.keys() {
            assert!(allowed.contains(key.as_str()), "{ctx}: unexpected field {key}");
        }
        let millis = event.timestamp.millis();
        assert_eq!(line["timestamp"], Value::from(millis), "{ctx}");
        let time = line["time"].as_str().expect("time is a string");
        assert_eq!(time.len(), 24, "{ctx}: time {time:?}");
        assert_eq!(
            UtcTime::parse_rfc3339(time),
            UtcTime::from_millis(millis),
            "{ctx}: time {time:?} for {millis}"
        );
        assert_eq!(line["account"], owner, "{ctx}");
        assert_eq!(line["log_group"], log_group, "{ctx}");
        assert_eq!(line["log_stream"], log_stream, "{ctx}");
        let id = match event.id.to_json() {
            Value::String(s) => s,
            number => number.to_string(),
        };
        assert_eq!(line["id"], Value::String(id), "{ctx}");
        let text = event.message.to_json();
        assert_eq!(line["message"], text, "{ctx}: message changed");
        assert_eq!(line["subscription_filters"], Value::Array(filters.clone()), "{ctx}");
        assert_eq!(
            line.get("policy_level"),
            message.policy_level.clone().map(Value::String).as_ref(),
            "{ctx}"
        );
        assert_eq!(
            line.get("extracted_fields"),
            event.extracted.as_ref().map(Extracted::to_json).as_ref(),
            "{ctx}"
        );
        let text = text.as_str().unwrap();
        let as_object = match serde_json::from_str::<Value>(text) {
            Ok(object @ Value::Object(_)) => Some(object),
            _ => None,
        };
        match line.get("message_json") {
            Some(parsed) => {
                assert!(run.options.parse_json_messages, "{ctx}: message_json not asked for");
                assert_eq!(Some(parsed), as_object.as_ref(), "{ctx}: message_json");
            }
            None if run.options.parse_json_messages => {
                // Documented cheap test: only spaces may come before the `{`.
                if text.trim_start_matches(' ').starts_with('{') {
                    assert!(as_object.is_none(), "{ctx}: JSON object message not parsed");
                }
            }
            None => {}
        }
    }
}
