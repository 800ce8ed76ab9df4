//! The export converter's input: arbitrary bytes (gzip or not), cut into arbitrary
//! chunks, through the streaming gunzip, the line splitter and the converter.
//!
//! Invariants: nothing panics; an object either fails as a whole or yields exactly one
//! output line per line of its text that starts with a timestamp, each a JSON object
//! whose `message` is a string; cutting the input into other chunks changes neither
//! whether it converts nor the outputs.
#![no_main]

use std::io::{Read, Write};

use firehose_logs_processor::export::lines::{export_error, TimestampParser};
use firehose_logs_processor::export::{
    ConvertOptions, Converter, ExportSource, OutputObject, Splitter,
};
use firehose_logs_processor::transform::partition::PartitionLayout;
use flate2::write::{GzEncoder, MultiGzDecoder};
use flate2::Compression;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "exports/111111111111/!aws!lambda!app/task/stream/000000.gz";

fn convert(
    body: &[u8],
    chunk: usize,
    options: ConvertOptions,
) -> Result<(u64, Vec<OutputObject>), String> {
    let source = ExportSource::parse(KEY, "exports").unwrap();
    let mut decoder = MultiGzDecoder::new(Splitter::new(Converter::new(source, options)));
    let mut outputs = Vec::new();
    for piece in body.chunks(chunk) {
        decoder
            .write_all(piece)
            .map_err(|e| export_error(e).to_string())?;
        outputs.extend(decoder.get_mut().sink_mut().take_ready());
    }
    decoder
        .try_finish()
        .map_err(|e| export_error(e).to_string())?;
    let splitter = decoder.finish().map_err(|e| export_error(e).to_string())?;
    let (converter, events) = splitter.finish().map_err(|e| e.to_string())?;
    outputs.extend(converter.finish().map_err(|e| e.to_string())?);
    Ok((events, outputs))
}

fuzz_target!(|data: &[u8]| {
    let Some((&header, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(header >> 2) + 1;
    let gzip_it = header & 1 == 0;
    let body = if gzip_it {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(rest).unwrap();
        encoder.finish().unwrap()
    } else {
        rest.to_vec()
    };
    let options = ConvertOptions {
        layout: PartitionLayout::ALL[usize::from(header >> 1) % 4].0,
        parse_json_messages: header & 2 != 0,
        // 64 B to 16 KiB, from the last byte (the header's bits choose the rest): outputs
        // cut every line or every few, and lines handed to the encoder one at a time or
        // in blocks of up to ten (a block is an eighth of it).
        object_bytes: 64 + 64 * usize::from(data[data.len() - 1]),
        open_outputs: 1 + usize::from(header % 3),
        gzip_level: 1,
    };
    let result = convert(&body, chunk, options);
    // Chunking must not change whether an object converts, nor what it yields. Which
    // error a corrupt object reports first may differ (the gunzip can hand the splitter
    // garbage before it notices the corruption); it fails whole either way.
    match (&result, convert(&body, body.len().max(1), options)) {
        (Ok(chunked), Ok(whole)) => assert_eq!(chunked, &whole, "chunking changed the output"),
        (Err(_), Err(_)) => {}
        (chunked, whole) => panic!("chunking changed the outcome: {chunked:?} vs {whole:?}"),
    }
    let Ok((events, outputs)) = result else {
        return;
    };
    let mut lines = 0;
    for output in &outputs {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(output.body.as_slice())
            .read_to_string(&mut text)
            .expect("outputs are gzip UTF-8");
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert!(value["message"].is_string(), "message is a string: {line}");
            lines += 1;
        }
        assert_eq!(output.events as usize, text.lines().count());
        assert_eq!(output.text_bytes as usize, text.len(), "text_bytes counted");
    }
    assert_eq!(lines, events, "events lost or duplicated");
    if gzip_it {
        let mut parser = TimestampParser::default();
        let starts = rest
            .split(|&b| b == b'\n')
            .filter(|line| parser.parse(line).is_some())
            .count() as u64;
        assert_eq!(events, starts, "one event per timestamped line");
    }
});
