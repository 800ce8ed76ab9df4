//! Time and memory of repeated invocations in one process, as one warm Lambda sees them.
//!
//! ```text
//! bench_rss SIZE_MB low|high ITERATIONS [EVENT_FILE]
//! bench_rss generate SIZE_MB low|high EVENT_FILE
//! ```
//!
//! The first form runs one `Processor` ITERATIONS times on one thread, as
//! the processor function does (`src/processor/handler.rs`): parse the request, plan, put back what does not fit (here every
//! put succeeds, the usual case; nothing leaves the process), finish. The budget is
//! disabled (every record transformed, as in `benches/transform.rs`) unless BENCH_BUDGET
//! sets one. It prints one JSON object: decompressed and response bytes, the median and
//! fastest time per invocation, MB/s of decompressed data, VmRSS before the first
//! invocation, after the first and after the last, VmHWM (peak) at the end, from
//! /proc/self/status, and the peak of live heap bytes. With EVENT_FILE the request body
//! is read from that file before each invocation and dropped once parsed, as the Lambda
//! runtime does, so the process holds only what a Lambda would; without it the event is
//! generated in process and the RSS figures include the generator's leftovers. With
//! BENCH_TRACE_RSS set, VmRSS (MiB) after each invocation goes to stderr. The second form
//! writes the event file
//! (`scripts/bench.sh` does so before measuring under `/usr/bin/time -v`, so that the
//! generator's memory is not counted in the peak).

use std::time::{Duration, Instant};

use firehose_logs_processor::{Config, FirehoseRequest, Processor, ReingestReport};
use testkit::generate::{batch, Compressibility};

#[global_allocator]
static ALLOCATOR: testkit::alloc::CountingAllocator = testkit::alloc::CountingAllocator;

/// Same seed as `benches/transform.rs`.
const SEED: u64 = 5;
const MB: usize = 1_000_000;

fn usage() -> ! {
    eprintln!("usage: bench_rss SIZE_MB low|high ITERATIONS [EVENT_FILE]");
    eprintln!("       bench_rss generate SIZE_MB low|high EVENT_FILE");
    std::process::exit(2)
}

fn compressibility(name: &str) -> Compressibility {
    match name {
        "low" => Compressibility::Low,
        "high" => Compressibility::High,
        _ => usage(),
    }
}

fn number(text: &str) -> usize {
    text.parse().unwrap_or_else(|_| usage())
}

/// A field of /proc/self/status, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["generate", size, level, file] => {
            let generated = batch(SEED, number(size) * MB, compressibility(level));
            std::fs::write(file, &generated.event).expect("write the event file");
        }
        [size, level, iterations] => run(number(size), level, number(iterations), None),
        [size, level, iterations, file] => run(number(size), level, number(iterations), Some(file)),
        _ => usage(),
    }
}

fn run(size_mb: usize, level: &str, iterations: usize, file: Option<&str>) {
    if iterations == 0 {
        usage();
    }
    // With a file, the process holds the request only while an invocation parses it,
    // as in Lambda: the runtime receives the body, deserializes the event from it and
    // drops it before the handler runs. Without one, the generated event stays in memory.
    let generated = match file {
        Some(_) => None,
        None => Some(batch(SEED, size_mb * MB, compressibility(level)).event),
    };
    let receive = || match (file, &generated) {
        (Some(file), _) => std::fs::read(file).expect("read the event file"),
        (None, Some(event)) => event.clone(),
        (None, None) => unreachable!("an event comes from a file or the generator"),
    };
    let event_bytes = receive().len();
    let budget = std::env::var("BENCH_BUDGET")
        .ok()
        .map(|bytes| number(&bytes));
    let mut processor = Processor::new(Config {
        max_decompressed_bytes: 64 * 1024 * 1024,
        response_budget_bytes: budget.unwrap_or(usize::MAX),
        ..Config::default()
    });
    let trace = std::env::var_os("BENCH_TRACE_RSS").is_some();

    let rss_before_kb = status_kb("VmRSS");
    let mut times = Vec::with_capacity(iterations);
    let mut rss_after_first_kb = 0;
    let mut first = None;
    for i in 0..iterations {
        let body = receive();
        // As deployed (src/processor/handler.rs): parse, transform, put back what does not fit (here
        // every put succeeds, the usual case), then write the response.
        let started = Instant::now();
        let mut request: FirehoseRequest = serde_json::from_slice(&body).expect("a request");
        drop(body);
        let plan = processor.plan(&mut request);
        let report = ReingestReport {
            delivered: vec![true; plan.payloads().len()],
            ..ReingestReport::default()
        };
        let processed = plan.finish(&report);
        let elapsed = started.elapsed();
        let response_bytes = std::hint::black_box(processed.response.len());
        let metrics = processed.metrics;
        times.push(elapsed);
        if trace {
            eprint!("{} ", status_kb("VmRSS") / 1024);
        }
        match first {
            None => {
                if budget.is_none() {
                    assert_eq!(
                        metrics.records_processing_failed, 0,
                        "records failed: {metrics:?}"
                    );
                }
                first = Some((metrics, response_bytes));
                rss_after_first_kb = status_kb("VmRSS");
            }
            Some((_, first_bytes)) => assert_eq!(response_bytes, first_bytes, "iteration {i}"),
        }
    }
    let rss_after_last_kb = status_kb("VmRSS");
    let hwm_kb = status_kb("VmHWM");
    let (metrics, response_bytes) = first.expect("at least one iteration");

    times.sort();
    let median = times[times.len() / 2];
    let fastest = times[0];
    let mbps = |t: Duration| metrics.bytes_in_decompressed as f64 / 1e6 / t.as_secs_f64();
    let report = serde_json::json!({
        "size_mb": size_mb,
        "compressibility": level,
        "event_source": if file.is_some() { "file" } else { "generated in process (RSS includes the generator)" },
        "iterations": iterations,
        "response_budget_bytes": budget,
        "event_bytes": event_bytes,
        "records": metrics.records_in,
        "records_ok": metrics.records_ok,
        "records_dropped": metrics.records_dropped,
        "records_processing_failed": metrics.records_processing_failed,
        "decompressed_bytes": metrics.bytes_in_decompressed,
        "response_bytes": response_bytes,
        "median_ms": median.as_secs_f64() * 1e3,
        "fastest_ms": fastest.as_secs_f64() * 1e3,
        "median_mb_per_s": mbps(median),
        "rss_before_kb": rss_before_kb,
        "rss_after_first_kb": rss_after_first_kb,
        "rss_after_last_kb": rss_after_last_kb,
        "vm_hwm_kb": hwm_kb,
        "heap_peak_kb": testkit::alloc::peak_bytes() / 1024,
        "heap_live_kb": testkit::alloc::live_bytes() / 1024,
    });
    println!("{report}");
}
