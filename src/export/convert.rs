//! Export events into objects of the live `logs` layout: one NDJSON line per event with
//! the live schema, gzip-compressed, under the prefix the delivery stream would use for
//! the event's partition keys.
//!
//! Outputs are cut at a compressed size and at most a few are open at once (exports are
//! in time order per stream, so one or two usually are), so memory stays flat whatever
//! the object's size. Every name derives from the source key and the event order, so a
//! second conversion of the same object writes the same keys.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::value::RawValue;

use super::key::ExportSource;
use super::lines::{EventSink, ExportEvent};
use super::ExportError;
use crate::transform::ndjson::{json_string_room, push_json_string, push_line_head, push_one_line};
use crate::transform::partition::{PartitionKeys, PartitionLayout};
use crate::transform::schema::KIND_LOGS;
use crate::transform::time::TimeFormatter;

/// How outputs are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// The stack's `PartitionLayout`.
    pub layout: PartitionLayout,
    /// Add `message_json` for messages that are JSON objects, as the live function does.
    pub parse_json_messages: bool,
    /// An output is closed once its compressed size reaches this.
    pub object_bytes: usize,
    /// Most outputs open at once; the least recently written is closed past it.
    pub open_outputs: usize,
    /// Gzip level of the outputs.
    pub gzip_level: u32,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            layout: PartitionLayout::AccountSourceHour,
            parse_json_messages: false,
            object_bytes: 4 << 20,
            open_outputs: 2,
            // Level 1 keeps the gzip within the throughput target; NDJSON with repeated
            // metadata still compresses about 10x.
            gzip_level: 1,
        }
    }
}

/// How far past `object_bytes` an output may run before it is cut: one block's
/// compressed bytes plus what the encoder flushes at once.
const OUTPUT_SLACK_BYTES: usize = 256 << 10;

/// Lines are gathered per output and handed to its encoder this many bytes at a time
/// (at most an eighth of `object_bytes`, so that small outputs are still cut near it):
/// fed one line per call, zlib-rs spent a third more time on the same bytes.
pub const WRITE_BLOCK_BYTES: usize = 64 << 10;

/// A block buffer grown past this many times its usual size by one long event is
/// replaced once written, so that it does not hold the event's size while it stays open.
const BLOCK_REGROWTH: usize = 4;

/// One finished output object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputObject {
    /// Its key in the bucket.
    pub key: String,
    /// Gzip-compressed NDJSON.
    pub body: Vec<u8>,
    /// Lines in it.
    pub events: u64,
    /// NDJSON bytes before compression.
    pub text_bytes: u64,
}

#[derive(Debug)]
struct OpenOutput {
    /// The event hour (or day) it holds.
    bucket: i64,
    prefix: String,
    sequence: usize,
    encoder: GzEncoder<Vec<u8>>,
    /// Lines not yet handed to the encoder, up to [`WRITE_BLOCK_BYTES`] and one line.
    pending: Vec<u8>,
    events: u64,
    text_bytes: u64,
    last_written: u64,
}

/// Turns the events of one export object into output objects.
#[derive(Debug)]
pub struct Converter {
    source: ExportSource,
    options: ConvertOptions,
    /// `,"account":…,"log_group":…,"log_stream":…,"id":"<fingerprint>-`
    head: Vec<u8>,
    time: TimeFormatter,
    open: Vec<OpenOutput>,
    /// Outputs already started per bucket, for the next one's sequence number.
    started: HashMap<i64, usize>,
    ready: Vec<OutputObject>,
    events: u64,
}

impl Converter {
    /// A converter for the object `source`.
    pub fn new(source: ExportSource, options: ConvertOptions) -> Self {
        let mut head = Vec::new();
        push_line_head(
            &mut head,
            &source.account,
            &source.log_group,
            &source.log_stream,
        );
        head.push(b'"');
        head.extend_from_slice(source.fingerprint.as_bytes());
        head.push(b'-');
        Self {
            source,
            options,
            head,
            time: TimeFormatter::default(),
            open: Vec::new(),
            started: HashMap::new(),
            ready: Vec::new(),
            events: 0,
        }
    }

    /// Outputs finished since the last call, to be written now.
    pub fn take_ready(&mut self) -> Vec<OutputObject> {
        std::mem::take(&mut self.ready)
    }

    /// Closes every output; returns the ones not yet taken.
    pub fn finish(mut self) -> Result<Vec<OutputObject>, ExportError> {
        while !self.open.is_empty() {
            self.close(0)?;
        }
        Ok(self.ready)
    }

    /// Appends the event's line to `line`.
    fn write_line(
        time: &mut TimeFormatter,
        head: &[u8],
        options: &ConvertOptions,
        event: &ExportEvent<'_>,
        line: &mut Vec<u8>,
    ) {
        line.extend_from_slice(b"{\"time\":\"");
        time.write(event.time, line);
        line.extend_from_slice(b"\",\"timestamp\":");
        line.extend_from_slice(itoa::Buffer::new().format(event.time.millis()).as_bytes());
        line.extend_from_slice(head);
        line.extend_from_slice(itoa::Buffer::new().format(event.index).as_bytes());
        line.extend_from_slice(b"\",\"message\":");
        // Room for the escaper's SIMD kernels: the block buffer is scratch, it may grow.
        line.reserve(json_string_room(event.message));
        push_json_string(line, event.message);
        line.extend_from_slice(b",\"subscription_filters\":[]");
        if options.parse_json_messages {
            push_message_json(line, event.message);
        }
        line.extend_from_slice(b"}\n");
    }

    fn close(&mut self, slot: usize) -> Result<(), ExportError> {
        let output = self.open.swap_remove(slot);
        let key = format!(
            "{}{}",
            output.prefix,
            self.source.output_name(output.sequence)
        );
        let mut encoder = output.encoder;
        let body = encoder
            .write_all(&output.pending)
            .and_then(|()| encoder.finish())
            .map_err(|error| ExportError::Encode(key.clone(), error))?;
        self.ready.push(OutputObject {
            key,
            body,
            events: output.events,
            text_bytes: output.text_bytes,
        });
        Ok(())
    }

    fn output_for(&mut self, event: &ExportEvent<'_>) -> Result<usize, ExportError> {
        let hour = event.time.epoch_hour();
        let bucket = if self.options.layout.has_hour() {
            hour
        } else {
            hour.div_euclid(24)
        };
        if let Some(slot) = self.open.iter().position(|open| open.bucket == bucket) {
            return Ok(slot);
        }
        if self.open.len() >= self.options.open_outputs.max(1) {
            let oldest = self
                .open
                .iter()
                .enumerate()
                .min_by_key(|(_, open)| open.last_written)
                .map_or(0, |(slot, _)| slot);
            self.close(oldest)?;
        }
        let keys = PartitionKeys::new(
            KIND_LOGS,
            &self.source.account,
            &self.source.log_group,
            event.time,
        );
        let started = self.started.entry(bucket).or_insert(0);
        let sequence = *started;
        *started += 1;
        self.open.push(OpenOutput {
            bucket,
            prefix: self.options.layout.prefix(&keys),
            sequence,
            // Room for the whole object at once: no regrowth, so no second copy of it
            // alive while it is moved (an output is cut just past object_bytes).
            encoder: GzEncoder::new(
                Vec::with_capacity(self.options.object_bytes + OUTPUT_SLACK_BYTES),
                Compression::new(self.options.gzip_level),
            ),
            pending: Vec::with_capacity(block_capacity(&self.options)),
            events: 0,
            text_bytes: 0,
            last_written: 0,
        });
        Ok(self.open.len() - 1)
    }
}

impl EventSink for Converter {
    fn event(&mut self, event: ExportEvent<'_>) -> Result<(), ExportError> {
        let slot = self.output_for(&event)?;
        self.events += 1;
        let clock = self.events;
        let output = &mut self.open[slot];
        output.last_written = clock;
        output.events += 1;
        let before = output.pending.len();
        Self::write_line(
            &mut self.time,
            &self.head,
            &self.options,
            &event,
            &mut output.pending,
        );
        output.text_bytes += (output.pending.len() - before) as u64;
        if output.pending.len() < block_bytes(&self.options) {
            return Ok(());
        }
        // Writing into a Vec cannot fail; the error is still carried, not dropped.
        if let Err(error) = output.encoder.write_all(&output.pending) {
            let key = output.prefix.clone();
            return Err(ExportError::Encode(key, error));
        }
        output.pending.clear();
        let usual = block_capacity(&self.options);
        if output.pending.capacity() > BLOCK_REGROWTH * usual {
            output.pending = Vec::with_capacity(usual);
        }
        if output.encoder.get_ref().len() >= self.options.object_bytes {
            self.close(slot)?;
        }
        Ok(())
    }
}

/// How many bytes of lines an output gathers before handing them to its encoder.
fn block_bytes(options: &ConvertOptions) -> usize {
    WRITE_BLOCK_BYTES.min(options.object_bytes / 8)
}

/// A block buffer's capacity: one block and room for the line that ends it.
fn block_capacity(options: &ConvertOptions) -> usize {
    block_bytes(options) + (4 << 10)
}

/// Appends `,"message_json":{…}` when the message is a JSON object (leading and trailing
/// whitespace allowed), as the live function does with `PARSE_JSON_MESSAGES`.
fn push_message_json(out: &mut Vec<u8>, message: &str) {
    if !message.trim_start().starts_with('{') {
        return;
    }
    if let Ok(object) = serde_json::from_str::<&RawValue>(message) {
        if object.get().starts_with('{') {
            out.extend_from_slice(b",\"message_json\":");
            push_one_line(out, object.get());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::lines::Splitter;
    use crate::transform::schema::LOG_LINE_FIELDS;
    use serde_json::{json, Value};

    const KEY: &str =
        "exports/111111111111/!aws!lambda!app/task-1/2026-11-22-[$LATEST]0a1b/000000.gz";

    fn convert(text: &str, options: ConvertOptions) -> Vec<OutputObject> {
        let source = ExportSource::parse(KEY, "exports").unwrap();
        let mut splitter = Splitter::new(Converter::new(source, options));
        let mut outputs = Vec::new();
        for chunk in text.as_bytes().chunks(5) {
            splitter.push(chunk).unwrap();
            outputs.extend(splitter.sink_mut().take_ready());
        }
        let (converter, _) = splitter.finish().unwrap();
        outputs.extend(converter.finish().unwrap());
        outputs
    }

    fn lines(output: &OutputObject) -> Vec<Value> {
        let text = testkit_gunzip(&output.body);
        assert_eq!(text.len() as u64, output.text_bytes);
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len() as u64, output.events);
        lines
    }

    fn testkit_gunzip(body: &[u8]) -> String {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(body)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn writes_the_live_schema_under_the_live_prefixes() {
        let text = "2026-11-22T06:41:00.012Z {\"level\":\"INFO\"}\n\
                    2026-11-22T06:59:59.999Z Traceback:\n  at frame\n\
                    2026-11-22T07:00:00.000Z next hour\n";
        let options = ConvertOptions {
            parse_json_messages: true,
            ..ConvertOptions::default()
        };
        let outputs = convert(text, options);
        assert_eq!(outputs.len(), 2);
        let fingerprint = ExportSource::parse(KEY, "exports").unwrap().fingerprint;
        assert_eq!(
            outputs[0].key,
            format!("logs/account=111111111111/source=aws_lambda_app/dt=2026-11-22/hour=06/export-{fingerprint}-0000.json.gz")
        );
        assert!(outputs[1].key.contains("/hour=07/"));
        let first = lines(&outputs[0]);
        assert_eq!(
            first[0],
            json!({
                "time": "2026-11-22T06:41:00.012Z", "timestamp": 1_795_329_660_012i64,
                "account": "111111111111", "log_group": "/aws/lambda/app",
                "log_stream": "2026-11-22-[$LATEST]0a1b", "id": format!("{fingerprint}-0"),
                "message": "{\"level\":\"INFO\"}", "subscription_filters": [],
                "message_json": {"level": "INFO"}
            })
        );
        assert_eq!(first[1]["message"], "Traceback:\n  at frame");
        assert!(first[1].get("message_json").is_none());
        assert_eq!(lines(&outputs[1])[0]["id"], format!("{fingerprint}-2"));
        // Field names and order follow the public schema.
        let order: Vec<&str> = LOG_LINE_FIELDS.iter().map(|field| field.name).collect();
        for line in first {
            let keys: Vec<&str> = line
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut positions = keys
                .iter()
                .map(|key| order.iter().position(|name| name == key).unwrap());
            let positions: Vec<usize> = positions.by_ref().collect();
            assert!(
                positions.windows(2).all(|pair| pair[0] < pair[1]),
                "{keys:?}"
            );
        }
    }

    #[test]
    fn lines_gathered_in_blocks_are_the_lines_written_one_by_one() {
        // Several 64 KiB blocks per output, messages that need escaping, lines of every
        // length around a block's edge, one message far longer than a block, and runs of
        // two hours taking turns, so that with one output open each is closed by the
        // next hour while lines are still gathered.
        let mut text = String::new();
        for index in 0..3000 {
            let hour = 6 + (index / 400) % 2;
            let padding = if index == 1234 {
                "long ".repeat(100_000)
            } else {
                "x\"\\é\t".repeat(index % 97)
            };
            text.push_str(&format!(
                "2026-11-22T{hour:02}:{:02}:00.000Z event {index} {padding}\n",
                index / 60
            ));
        }
        let all_lines = |object_bytes| {
            let options = ConvertOptions {
                object_bytes,
                open_outputs: 1,
                ..ConvertOptions::default()
            };
            let outputs = convert(&text, options);
            // `lines` checks each output's text_bytes and event count too.
            let values: Vec<Value> = outputs.iter().flat_map(lines).collect();
            (outputs.len(), values)
        };
        let (whole, in_blocks) = all_lines(16 << 20);
        let (cut, one_by_one) = all_lines(64);
        assert_eq!(whole, 8, "one output per run of an hour");
        assert!(cut > 100, "{cut}");
        assert_eq!(in_blocks.len(), 3000);
        assert_eq!(in_blocks, one_by_one);
        for (index, line) in in_blocks.iter().enumerate() {
            let message = line["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("event {index} ")),
                "{message:.40}"
            );
        }
    }

    #[test]
    fn every_layout_and_the_cut_are_deterministic() {
        let mut text = String::new();
        for hour in 0..30 {
            for minute in 0..20 {
                let (day, hour) = (22 + hour / 24, hour % 24);
                text.push_str(&format!("2026-11-{day:02}T{hour:02}:{minute:02}:00.000Z line {hour} {minute} with some padding text\n"));
            }
        }
        for (layout, _) in PartitionLayout::ALL {
            let options = ConvertOptions {
                layout,
                object_bytes: 512,
                open_outputs: 2,
                ..ConvertOptions::default()
            };
            let first = convert(&text, options);
            assert_eq!(first, convert(&text, options), "{layout:?}");
            let total: u64 = first.iter().map(|output| output.events).sum();
            assert_eq!(total, 600);
            let mut keys: Vec<&str> = first.iter().map(|output| output.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), first.len(), "names never repeat");
            for output in &first {
                assert_eq!(output.key.contains("source="), layout.has_source());
                assert_eq!(output.key.contains("hour="), layout.has_hour());
                for line in lines(output) {
                    let time = line["time"].as_str().unwrap();
                    assert!(output.key.contains(&format!("dt={}/", &time[..10])));
                    if layout.has_hour() {
                        assert!(output.key.contains(&format!("hour={}/", &time[11..13])));
                    }
                }
            }
        }
    }
}
