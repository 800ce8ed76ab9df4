//! The export converter's benchmark (`make bench`, through `scripts/bench.sh`).
//!
//! ```text
//! bench_export throughput MB [RUNS]   MB/s of export text per core, end to end without S3
//! bench_export generate FILE          writes the events the rss mode repeats (4 MB of text)
//! bench_export overlap MB [RUNS]     the same conversion with S3 simulated by timers: the
//!                                     seconds hidden by converting beside the transfers
//! bench_export rss MB FILE            one MB-sized export object, streamed from FILE's
//!                                     events; run it under /usr/bin/time -v for the peak RSS
//! ```
//!
//! The export text is made of the events of `testkit::generate::batch` (Lambda platform
//! lines, JSON application logs, plain text, multi-line stack traces), sorted by time as
//! one stream's export is, as `<ISO time> <message>` lines, gzip level 6 as the service
//! writes them. Both modes run the real `convert_object` (one pass: gunzip, split,
//! NDJSON, gzip out, each output staged and published at the end) over a store that
//! keeps the source in memory (throughput) or generates it while it is read (rss), and
//! counts the outputs instead of uploading them. Each mode prints one JSON line.
//!
//! Throughput is MB of export text per CPU second of the whole process (every thread),
//! so per core whatever the threads; the wall-clock figure is printed beside it.
//!
//! The throughput mode also times the codecs alone on the same data (`codecs_alone`:
//! gunzipping the object, and gzipping at the converter's level the NDJSON it wrote),
//! the floor that no conversion writing gzip from gzip can go under on the machine.

use std::cell::Cell;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use firehose_logs_processor::export::convert::WRITE_BLOCK_BYTES;
use firehose_logs_processor::export::key::destination_prefix;
use firehose_logs_processor::export::{
    convert_object, ConvertOptions, ExportSource, ObjectBody, ObjectStore, StoreError,
};
use firehose_logs_processor::transform::time::{TimeFormatter, UtcTime};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;
use testkit::generate::{batch, Compressibility};

const MB: usize = 1_000_000;

#[global_allocator]
static ALLOCATOR: testkit::alloc::CountingAllocator = testkit::alloc::CountingAllocator;

/// Events of generated batches, sorted by time: (epoch ms, message).
fn events(text_bytes: usize) -> Vec<(i64, String)> {
    let mut events = Vec::new();
    let mut size = 0;
    let mut seed = 11;
    while size < text_bytes {
        let generated = batch(seed, 3 * MB, Compressibility::Low);
        seed += 1;
        for payload in &generated.payloads {
            let message: Value = serde_json::from_slice(payload).expect("generated JSON");
            for event in message["logEvents"].as_array().into_iter().flatten() {
                let (Some(millis), Some(text)) =
                    (event["timestamp"].as_i64(), event["message"].as_str())
                else {
                    continue;
                };
                if message["messageType"] == "DATA_MESSAGE" {
                    size += text.len() + 26;
                    events.push((millis, text.to_owned()));
                }
            }
        }
    }
    events.sort_by_key(|(millis, _)| *millis);
    events
}

/// Appends the export lines of `events`, shifted by `offset_ms`.
fn write_lines(events: &[(i64, String)], offset_ms: i64, out: &mut Vec<u8>) {
    let mut formatter = TimeFormatter::default();
    for (millis, message) in events {
        let time = UtcTime::from_millis(millis + offset_ms).expect("generated times are valid");
        formatter.write(time, out);
        out.push(b' ');
        out.extend_from_slice(message.as_bytes());
        out.push(b'\n');
    }
}

fn source() -> (String, ExportSource) {
    let key = format!(
        "{}/task/2026-11-22-[$LATEST]0a1b/000000.gz",
        destination_prefix("exports", "111111111111", "/aws/lambda/checkout")
    );
    let object = ExportSource::parse(&key, "exports").expect("key follows the convention");
    (key, object)
}

/// A store that serves one source object and counts what is put (and keeps it, when
/// `kept` is set).
struct BenchStore<F: Fn() -> Source> {
    open: F,
    outputs: Cell<u64>,
    output_bytes: Cell<u64>,
    kept: Option<std::cell::RefCell<Vec<Vec<u8>>>>,
    /// Simulated S3 for the uploads, when set.
    io: Option<SimulatedIo>,
}

/// S3 as timers: a latency per request and a transfer rate.
#[derive(Clone, Copy)]
struct SimulatedIo {
    request: Duration,
    bytes_per_second: f64,
}

impl SimulatedIo {
    fn transfer(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_second)
    }
}

enum Source {
    /// The compressed object, served in 1 MiB chunks.
    Memory(std::rc::Rc<Vec<u8>>, usize),
    /// The compressed object, served in 256 KiB chunks at the simulated rate.
    Slow(std::rc::Rc<Vec<u8>>, usize, SimulatedIo),
    /// Repetitions of `events`, each shifted by `span_ms`, gzipped while read.
    Generated {
        events: std::rc::Rc<Vec<(i64, String)>>,
        span_ms: i64,
        repetition: i64,
        repetitions: i64,
        encoder: Option<Box<GzEncoder<Vec<u8>>>>,
        text: Vec<u8>,
    },
}

impl ObjectBody for Source {
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, StoreError> {
        match self {
            Source::Memory(body, at) => {
                if *at >= body.len() {
                    return Ok(None);
                }
                let end = (*at + (1 << 20)).min(body.len());
                let chunk = bytes::Bytes::copy_from_slice(&body[*at..end]);
                *at = end;
                Ok(Some(chunk))
            }
            Source::Slow(body, at, io) => {
                if *at == 0 {
                    tokio::time::sleep(io.request).await;
                }
                if *at >= body.len() {
                    return Ok(None);
                }
                let end = (*at + (256 << 10)).min(body.len());
                tokio::time::sleep(io.transfer(end - *at)).await;
                let chunk = bytes::Bytes::copy_from_slice(&body[*at..end]);
                *at = end;
                Ok(Some(chunk))
            }
            Source::Generated {
                events,
                span_ms,
                repetition,
                repetitions,
                encoder,
                text,
            } => {
                let Some(active) = encoder.as_mut() else {
                    return Ok(None);
                };
                if repetition < repetitions {
                    text.clear();
                    write_lines(events, *repetition * *span_ms, text);
                    *repetition += 1;
                    active.write_all(text)?;
                    let compressed = std::mem::take(active.get_mut());
                    return Ok(Some(bytes::Bytes::from(compressed)));
                }
                let last = encoder.take().map(|active| active.finish()).transpose()?;
                Ok(last.map(bytes::Bytes::from))
            }
        }
    }
}

impl<F: Fn() -> Source> ObjectStore for BenchStore<F> {
    type Body = Source;
    type Staged = ();

    async fn get(&self, _bucket: &str, _key: &str) -> Result<Source, StoreError> {
        Ok((self.open)())
    }

    async fn stage(&self, _bucket: &str, _key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        if let Some(io) = self.io {
            // CreateMultipartUpload, then UploadPart with the body.
            tokio::time::sleep(io.request * 2 + io.transfer(body.len())).await;
        }
        self.outputs.set(self.outputs.get() + 1);
        self.output_bytes
            .set(self.output_bytes.get() + body.len() as u64);
        if let Some(kept) = &self.kept {
            kept.borrow_mut().push(body);
        }
        Ok(())
    }

    async fn publish(&self, _bucket: &str, _key: &str, _staged: &()) -> Result<(), StoreError> {
        if let Some(io) = self.io {
            tokio::time::sleep(io.request).await;
        }
        Ok(())
    }

    async fn discard(&self, _bucket: &str, _key: &str, _staged: ()) -> Result<(), StoreError> {
        Ok(())
    }
}

fn run<F: Fn() -> Source>(store: &BenchStore<F>) -> firehose_logs_processor::export::ObjectReport {
    let (key, object) = source();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime
        .block_on(convert_object(
            store,
            "bench",
            object,
            &key,
            ConvertOptions::default(),
            None,
        ))
        .expect("generated exports convert")
}

/// Median seconds of the codecs alone on the same data, nothing else.
struct Codecs {
    /// Gunzipping the export object once.
    gunzip: f64,
    /// Gzipping the converter's NDJSON output at the converter's level, in the blocks
    /// the converter hands its encoder.
    gzip_out: f64,
}

/// Times the codecs the conversion cannot do without, on the benchmark's own object and
/// the NDJSON the converter wrote for it: the floor its MB/s is measured against.
fn codecs_alone<F: Fn() -> Source>(
    compressed: &[u8],
    store: &BenchStore<F>,
    runs: usize,
) -> Codecs {
    let keeping = BenchStore {
        open: &store.open,
        outputs: Cell::new(0),
        output_bytes: Cell::new(0),
        kept: Some(std::cell::RefCell::new(Vec::new())),
        io: None,
    };
    run(&keeping);
    let mut ndjson = Vec::new();
    for body in keeping.kept.iter().flat_map(|kept| kept.borrow().clone()) {
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut ndjson)
            .expect("the converter writes gzip");
    }
    drop(keeping);
    let gunzip = median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let mut decoder = flate2::write::MultiGzDecoder::new(std::io::sink());
                for chunk in compressed.chunks(1 << 20) {
                    decoder.write_all(chunk).expect("the object is gzip");
                }
                decoder.try_finish().expect("the object is gzip");
                started.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let level = ConvertOptions::default().gzip_level;
    // One output buffer, its pages touched by a first run that is not counted.
    let mut out = Vec::with_capacity(ndjson.len() / 4);
    let gzip_out = median(
        (0..=runs)
            .map(|_| {
                out.clear();
                let started = Instant::now();
                let mut encoder = GzEncoder::new(std::mem::take(&mut out), Compression::new(level));
                for block in ndjson.chunks(WRITE_BLOCK_BYTES) {
                    encoder.write_all(block).expect("writing to a Vec");
                }
                out = encoder.finish().expect("writing to a Vec");
                started.elapsed().as_secs_f64()
            })
            .skip(1)
            .collect(),
    );
    Codecs { gunzip, gzip_out }
}

/// CPU time of the whole process (every thread, user and system), in seconds: the
/// conversion runs on a thread of its own beside the reads and uploads, so a core's
/// worth of work is what the CPU time, not the wall clock, measures.
fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid one.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(
            libc::getrusage(libc::RUSAGE_SELF, &mut usage),
            0,
            "getrusage"
        );
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The middle of `seconds`.
fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// `megabytes` of export text and the object that holds it, gzip level 6.
fn export_object(megabytes: usize) -> (Vec<u8>, std::rc::Rc<Vec<u8>>) {
    let mut text = Vec::new();
    write_lines(&events(megabytes * MB), 0, &mut text);
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    encoder.write_all(&text).expect("writing to a Vec");
    let compressed = std::rc::Rc::new(encoder.finish().expect("writing to a Vec"));
    (text, compressed)
}

/// The conversion with S3 simulated by timers: how much of the transfers' time the
/// conversion's own thread hides, against doing one after the other.
fn overlap(megabytes: usize, runs: usize) -> serde_json::Value {
    let (_, compressed) = export_object(megabytes);
    let io = SimulatedIo {
        request: Duration::from_millis(30),
        bytes_per_second: 80e6,
    };
    let timed = |io: Option<SimulatedIo>| {
        let store = BenchStore {
            open: || match io {
                None => Source::Memory(compressed.clone(), 0),
                Some(io) => Source::Slow(compressed.clone(), 0, io),
            },
            outputs: Cell::new(0),
            output_bytes: Cell::new(0),
            kept: None,
            io,
        };
        let seconds = median(
            (0..runs)
                .map(|_| {
                    store.outputs.set(0);
                    store.output_bytes.set(0);
                    let started = Instant::now();
                    run(&store);
                    started.elapsed().as_secs_f64()
                })
                .collect(),
        );
        (seconds, store.outputs.get(), store.output_bytes.get())
    };
    let (compute, outputs, output_bytes) = timed(None);
    let (with_io, _, _) = timed(Some(io));
    // Every transfer one after the other: the read, each output's two requests and its
    // bytes, and the completions eight at a time.
    let transfers = io.request.as_secs_f64()
        + io.transfer(compressed.len()).as_secs_f64()
        + outputs as f64 * 2.0 * io.request.as_secs_f64()
        + io.transfer(output_bytes as usize).as_secs_f64()
        + outputs.div_ceil(8) as f64 * io.request.as_secs_f64();
    serde_json::json!({
        "mode": "overlap", "compressed_bytes": compressed.len(), "outputs": outputs,
        "output_gzip_bytes": output_bytes, "simulated_request_ms": 30,
        "simulated_mb_per_s": 80, "compute_seconds": compute,
        "transfer_seconds": transfers, "one_after_the_other_seconds": compute + transfers,
        "measured_seconds": with_io,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str);
    let megabytes: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(64);
    match mode {
        Some("throughput") => {
            let runs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(7);
            let (text, compressed) = export_object(megabytes);
            let store = BenchStore {
                open: || Source::Memory(compressed.clone(), 0),
                outputs: Cell::new(0),
                output_bytes: Cell::new(0),
                kept: None,
                io: None,
            };
            let mut seconds = Vec::new();
            let mut cpu_seconds = Vec::new();
            let mut report = None;
            for _ in 0..runs {
                let started = Instant::now();
                let cpu_started = process_cpu_seconds();
                report = Some(run(&store));
                cpu_seconds.push(process_cpu_seconds() - cpu_started);
                seconds.push(started.elapsed().as_secs_f64());
            }
            let median_seconds = median(seconds);
            let median_cpu_seconds = median(cpu_seconds);
            let report = report.expect("at least one run");
            let codecs = codecs_alone(&compressed, &store, runs);
            let text_mb = text.len() as f64 / MB as f64;
            println!(
                "{}",
                serde_json::json!({
                    "mode": "throughput", "text_bytes": text.len(),
                    "compressed_bytes": compressed.len(), "events": report.events,
                    "outputs": report.outputs, "output_text_bytes": report.output_text_bytes,
                    "median_seconds": median_seconds,
                    "median_cpu_seconds": median_cpu_seconds,
                    "mb_per_s": text_mb / median_cpu_seconds,
                    "wall_mb_per_s": text_mb / median_seconds,
                    "codecs_alone": {
                        "gunzip_seconds": codecs.gunzip, "gzip_out_seconds": codecs.gzip_out,
                        "one_gunzip_and_gzip_out_mb_per_s":
                            text_mb / (codecs.gunzip + codecs.gzip_out),
                        "gzip_out_mb_per_s": text_mb / codecs.gzip_out,
                    },
                })
            );
        }
        Some("overlap") => {
            let runs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(3);
            println!("{}", overlap(megabytes, runs));
        }
        Some("generate") => {
            // Generated apart, so that the generator's own peak is not the rss mode's.
            let path = args.get(2).expect("usage: bench_export generate FILE");
            let block = events(4 * MB);
            std::fs::write(path, serde_json::to_vec(&block).expect("events serialize"))
                .expect("the events file is writable");
        }
        Some("rss") => {
            let path = args.get(3).expect("usage: bench_export rss MB FILE");
            let block: Vec<(i64, String)> =
                serde_json::from_slice(&std::fs::read(path).expect("the events file is readable"))
                    .expect("the events file is bench_export generate's");
            let block = std::rc::Rc::new(block);
            let block_bytes: usize = block.iter().map(|(_, m)| m.len() + 26).sum();
            let span_ms =
                block.last().map_or(0, |(t, _)| *t) - block.first().map_or(0, |(t, _)| *t) + 1;
            let repetitions = (megabytes * MB).div_ceil(block_bytes) as i64;
            let store = BenchStore {
                open: || Source::Generated {
                    events: block.clone(),
                    span_ms,
                    repetition: 0,
                    repetitions,
                    encoder: Some(Box::new(GzEncoder::new(Vec::new(), Compression::new(6)))),
                    text: Vec::new(),
                },
                outputs: Cell::new(0),
                output_bytes: Cell::new(0),
                kept: None,
                io: None,
            };
            // The generator's own set-up is not the converter's: the heap peak starts here.
            let heap_before = testkit::alloc::live_bytes();
            testkit::alloc::reset_peak();
            let started = Instant::now();
            let report = run(&store);
            let heap_peak = testkit::alloc::peak_bytes();
            println!(
                "{}",
                serde_json::json!({
                    "mode": "rss", "text_bytes": report.text_bytes, "events": report.events,
                    "outputs": report.outputs, "output_gzip_bytes": store.output_bytes.get(),
                    "seconds_with_generation": started.elapsed().as_secs_f64(),
                    "heap_before_kb": heap_before / 1024,
                    "heap_peak_kb": heap_peak / 1024,
                })
            );
        }
        _ => {
            eprintln!("usage: bench_export throughput MB [RUNS] | generate FILE | rss MB FILE");
            std::process::exit(2);
        }
    }
}
