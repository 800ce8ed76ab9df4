//! Transforming one Firehose record: decode, recognise, and write its NDJSON lines.

use crate::cloudwatch::{self, Subscription};
use crate::decode::{decode_base64, gunzip_capped, is_gzip};
use crate::error::RecordError;
use crate::eventbridge::{self, EventEnvelope};
use crate::firehose::FirehoseRecord;
use crate::ndjson::{LineWriter, Lines};
use crate::partition::PartitionKeys;
use crate::schema::{KIND_EVENTS, KIND_LOGS};
use crate::time::UtcTime;

/// What one record became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformed {
    /// Lines to deliver under these keys.
    Lines {
        /// Partition keys of the output.
        keys: PartitionKeys,
        /// Number of lines (log events, or 1 for an event).
        lines: usize,
    },
    /// A CloudWatch Logs control message: nothing to deliver.
    Control,
    /// The output grew past the allowed length before it was complete.
    OverLimit,
}

/// The outcome of one record, with the decompressed size it read.
#[derive(Debug)]
pub struct RecordOutcome {
    /// What the record became, or why it could not be transformed.
    pub result: Result<Transformed, RecordError>,
    /// Bytes of payload after decompression (or after base64 for plain JSON).
    pub decompressed_bytes: usize,
}

/// Transforms records one at a time, reusing its buffers.
#[derive(Debug, Default)]
pub struct RecordTransformer {
    decoded: Vec<u8>,
    decompressed: Vec<u8>,
    writer: LineWriter,
}

/// Settings that shape one record's transformation.
#[derive(Debug, Clone, Copy)]
pub struct RecordOptions {
    /// Cap on a record's decompressed size.
    pub max_decompressed_bytes: usize,
    /// Whether to add `message_json`.
    pub parse_json_messages: bool,
    /// Output length past which the record is abandoned as [`Transformed::OverLimit`].
    pub max_output_bytes: usize,
}

impl RecordTransformer {
    /// Appends the record's lines to `out` (which the caller clears) and says what it was.
    pub fn transform(
        &mut self,
        record: &FirehoseRecord,
        options: RecordOptions,
        out: &mut Vec<u8>,
    ) -> RecordOutcome {
        let mut decompressed_bytes = 0;
        let result = self.transform_inner(record, options, out, &mut decompressed_bytes);
        RecordOutcome {
            result,
            decompressed_bytes,
        }
    }

    fn transform_inner(
        &mut self,
        record: &FirehoseRecord,
        options: RecordOptions,
        out: &mut Vec<u8>,
        decompressed_bytes: &mut usize,
    ) -> Result<Transformed, RecordError> {
        decode_base64(&record.data, &mut self.decoded)?;
        let arrival = UtcTime::from_millis(record.arrival_millis())
            .or_else(|| UtcTime::from_millis(0))
            .ok_or(RecordError::TimestampOutOfRange(record.arrival_millis()))?;
        if is_gzip(&self.decoded) {
            gunzip_capped(
                &self.decoded,
                options.max_decompressed_bytes,
                &mut self.decompressed,
            )?;
            *decompressed_bytes = self.decompressed.len();
            let text = std::str::from_utf8(&self.decompressed).map_err(RecordError::NotUtf8)?;
            return write_subscription(&mut self.writer, text, arrival, options, out);
        }
        *decompressed_bytes = self.decoded.len();
        let text = match std::str::from_utf8(&self.decoded) {
            Ok(text) => text,
            Err(_) => return Err(RecordError::UnrecognisedPayload),
        };
        let envelope = EventEnvelope::parse(text)?;
        if let Some(message_type) = EventEnvelope::string(envelope.message_type) {
            if message_type == cloudwatch::DATA_MESSAGE
                || message_type == cloudwatch::CONTROL_MESSAGE
            {
                return write_subscription(&mut self.writer, text, arrival, options, out);
            }
        }
        let account = EventEnvelope::string(envelope.account).unwrap_or_default();
        let source = EventEnvelope::string(envelope.source).unwrap_or_default();
        let time = EventEnvelope::string(envelope.time)
            .and_then(|time| UtcTime::parse_rfc3339(&time))
            .unwrap_or(arrival);
        eventbridge::write_line(text, out);
        if out.len() > options.max_output_bytes {
            return Ok(Transformed::OverLimit);
        }
        Ok(Transformed::Lines {
            keys: PartitionKeys::new(KIND_EVENTS, &account, &source, time),
            lines: 1,
        })
    }
}

fn write_subscription(
    writer: &mut LineWriter,
    text: &str,
    arrival: UtcTime,
    options: RecordOptions,
    out: &mut Vec<u8>,
) -> Result<Transformed, RecordError> {
    let message = match cloudwatch::parse(text)? {
        Subscription::Control => return Ok(Transformed::Control),
        Subscription::Data(message) => message,
    };
    let written = writer.write(
        &message,
        &message.log_events,
        options.parse_json_messages,
        options.max_output_bytes,
        out,
    )?;
    match written {
        Lines::OverLimit => Ok(Transformed::OverLimit),
        Lines::Complete { events, earliest } => Ok(Transformed::Lines {
            keys: PartitionKeys::new(
                KIND_LOGS,
                &message.owner,
                &message.log_group,
                earliest.unwrap_or(arrival),
            ),
            lines: events,
        }),
    }
}
