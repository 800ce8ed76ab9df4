//! Re-encoding some events of a CloudWatch Logs record as new subscription payloads,
//! for re-ingestion: the same metadata, the events divided into pieces that each fit
//! a Firehose record and, once transformed, a response.

use std::io::Write;

use flate2::{write::GzEncoder, Compression};

use crate::transform::cloudwatch::{DataMessage, LogEvent};
use crate::transform::ndjson::push_json_string;

/// Largest uncompressed payload of one piece. Gzip adds at most a few bytes per 64 KiB
/// to incompressible data, so the compressed piece stays under Firehose's 1,000 KiB
/// record limit (1,024,000 bytes) whatever the messages hold.
pub const MAX_PIECE_JSON_BYTES: usize = 1_000_000;

/// An event that cannot travel in any piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    /// Bytes of its transformed line.
    pub line_bytes: usize,
    /// Bytes of its subscription-payload JSON.
    pub json_bytes: usize,
}

/// One event to place in a piece, with its sizes.
#[derive(Debug, Clone, Copy)]
pub struct SizedEvent<'e, 'a> {
    /// The event.
    pub event: &'e LogEvent<'a>,
    /// Length of its output line.
    pub line_bytes: usize,
}

/// Divides `events` (in order) into gzip subscription payloads, each holding at most
/// `max_output_bytes` of transformed lines and [`MAX_PIECE_JSON_BYTES`] of JSON.
pub fn encode_payloads(
    message: &DataMessage<'_>,
    events: &[SizedEvent<'_, '_>],
    max_output_bytes: usize,
) -> Result<Vec<Vec<u8>>, EventTooLarge> {
    let header = header(message);
    let framing = header.len() + "]}".len();
    let mut pieces = Vec::new();
    let mut json = Vec::with_capacity(64 * 1024);
    let mut piece_output = 0usize;
    let mut piece_events = 0usize;
    for sized in events {
        let event_json = event_json_len(sized.event);
        if sized.line_bytes > max_output_bytes || framing + event_json > MAX_PIECE_JSON_BYTES {
            return Err(EventTooLarge {
                line_bytes: sized.line_bytes,
                json_bytes: event_json,
            });
        }
        let separator = usize::from(piece_events > 0);
        let fits = piece_output + sized.line_bytes <= max_output_bytes
            && json.len() + separator + event_json + 2 <= MAX_PIECE_JSON_BYTES;
        if piece_events > 0 && !fits {
            pieces.push(finish(&mut json));
            piece_output = 0;
            piece_events = 0;
        }
        if piece_events == 0 {
            json.clear();
            json.extend_from_slice(&header);
        } else {
            json.push(b',');
        }
        push_event_json(&mut json, sized.event);
        piece_output += sized.line_bytes;
        piece_events += 1;
    }
    if piece_events > 0 {
        pieces.push(finish(&mut json));
    }
    Ok(pieces)
}

fn finish(json: &mut Vec<u8>) -> Vec<u8> {
    json.extend_from_slice(b"]}");
    // CloudWatch Logs' own level. Writing into a Vec cannot fail.
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::new(6));
    let _cannot_fail = encoder.write_all(json);
    encoder.finish().unwrap_or_default()
}

fn header(message: &DataMessage<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"messageType\":\"DATA_MESSAGE\",\"owner\":");
    push_json_string(&mut out, &message.owner);
    out.extend_from_slice(b",\"logGroup\":");
    push_json_string(&mut out, &message.log_group);
    out.extend_from_slice(b",\"logStream\":");
    push_json_string(&mut out, &message.log_stream);
    out.extend_from_slice(b",\"subscriptionFilters\":[");
    for (index, filter) in message.subscription_filters.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_json_string(&mut out, filter);
    }
    out.push(b']');
    if let Some(policy_level) = &message.policy_level {
        out.extend_from_slice(b",\"policyLevel\":");
        push_json_string(&mut out, policy_level);
    }
    out.extend_from_slice(b",\"logEvents\":[");
    out
}

fn event_json_len(event: &LogEvent<'_>) -> usize {
    let mut len = "{\"id\":,\"timestamp\":,\"message\":}".len()
        + event.id.get().len()
        + itoa::Buffer::new().format(event.timestamp).len()
        + event.message.get().len();
    if let Some(fields) = event.extracted_fields {
        len += ",\"extractedFields\":".len() + fields.get().len();
    }
    len
}

fn push_event_json(out: &mut Vec<u8>, event: &LogEvent<'_>) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(event.id.get().as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(itoa::Buffer::new().format(event.timestamp).as_bytes());
    out.extend_from_slice(b",\"message\":");
    out.extend_from_slice(event.message.get().as_bytes());
    if let Some(fields) = event.extracted_fields {
        out.extend_from_slice(b",\"extractedFields\":");
        out.extend_from_slice(fields.get().as_bytes());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::cloudwatch::{parse, Subscription};
    use crate::transform::decode::Gunzip;
    use serde_json::{json, Value};

    fn payload(events: usize, message_len: usize) -> String {
        let events: Vec<Value> = (0..events)
            .map(|i| json!({"id": format!("{i:056}"), "timestamp": 1_795_329_660_000i64 + i as i64,
                            "message": "m".repeat(message_len), "extractedFields": {"i": i.to_string()}}))
            .collect();
        json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/g",
               "logStream": "s", "subscriptionFilters": ["f"], "policyLevel": "ACCOUNT_LEVEL_POLICY",
               "logEvents": events})
        .to_string()
    }

    /// Every event of `message`, each said to produce `line_bytes` of output.
    fn all_sized<'e, 'a>(
        message: &'e DataMessage<'a>,
        line_bytes: usize,
    ) -> Vec<SizedEvent<'e, 'a>> {
        message
            .log_events
            .iter()
            .map(|event| SizedEvent { event, line_bytes })
            .collect()
    }

    fn decode(piece: &[u8]) -> Value {
        let mut out = Vec::new();
        Gunzip::default()
            .gunzip_capped(piece, 1 << 30, &mut out)
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn pieces_keep_metadata_order_and_every_event_once() {
        let text = payload(50, 1000);
        let Subscription::Data(message) = parse(&text).unwrap() else {
            panic!()
        };
        let sized = all_sized(&message, 1200);
        let pieces = encode_payloads(&message, &sized, 12_000).unwrap();
        assert_eq!(pieces.len(), 5, "10 events of 1,200 bytes per 12,000");
        let original: Value = serde_json::from_str(&text).unwrap();
        let mut events = Vec::new();
        for piece in &pieces {
            let decoded = decode(piece);
            for key in [
                "messageType",
                "owner",
                "logGroup",
                "logStream",
                "subscriptionFilters",
                "policyLevel",
            ] {
                assert_eq!(decoded[key], original[key], "{key}");
            }
            events.extend(decoded["logEvents"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(Value::Array(events), original["logEvents"]);
    }

    #[test]
    fn pieces_respect_the_record_limit() {
        // Incompressible-ish messages: 3 MB of JSON must become several records.
        let text = payload(30, 100_000);
        let Subscription::Data(message) = parse(&text).unwrap() else {
            panic!()
        };
        let sized = all_sized(&message, 1);
        let pieces = encode_payloads(&message, &sized, usize::MAX).unwrap();
        assert!(pieces.len() >= 3);
        for piece in &pieces {
            let mut out = Vec::new();
            Gunzip::default()
                .gunzip_capped(piece, 1 << 30, &mut out)
                .unwrap();
            assert!(out.len() <= MAX_PIECE_JSON_BYTES);
        }
    }

    #[test]
    fn an_event_that_fits_nowhere_is_an_error() {
        let text = payload(2, 10);
        let Subscription::Data(message) = parse(&text).unwrap() else {
            panic!()
        };
        let sized = all_sized(&message, 500);
        assert_eq!(
            encode_payloads(&message, &sized, 499)
                .unwrap_err()
                .line_bytes,
            500
        );
    }
}
