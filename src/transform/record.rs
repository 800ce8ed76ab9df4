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
