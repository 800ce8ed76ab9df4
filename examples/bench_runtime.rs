//! What Lambda bills, next to what the transformation costs: the built function binary
//! run under a Runtime API emulator (`testkit::runtime_api`, TCP_NODELAY as the service),
//! and the same work called in this process without the runtime.
//!
//! ```text
//! bench_runtime FUNCTION_BINARY ITERATIONS EVENT_FILE...
//! ```
//!
//! For each event file, one fresh function process:
//! - cold start: from spawning the process to its first `GET …/invocation/next`;
//! - billed-like duration of each invocation: from the moment the event is handed to
//!   the waiting `GET …/next` until the last byte of the response has been received;
//! - minor page faults of each invocation: the function's `minflt` (from
//!   `/proc/PID/stat`) between two consecutive `GET …/next`, so the whole cycle counts;
//! - peak RSS: the function's `VmHWM` once the last invocation is over;
//! - the function's CPU time per invocation (user and kernel, from `/proc/PID/stat`), and
//!   the kernel's share of it.
//!
//! Then, in this process, ITERATIONS times the same work without the runtime: the event
//! parsed from its bytes, then [`Handler::handle`] (plan, re-ingestion through the AWS
//! SDK to the same emulator, finish, the EMF line), with the same configuration and the
//! same malloc settings. The
//! function's first response must equal it byte for byte.
//!
//! Re-ingestion goes through the real SDK, in both cases, to the emulator's Firehose
//! `PutRecordBatch`, which accepts everything at once (a moto server would put Python's
//! time into both figures). Durations are medians of the warm invocations (all but the
//! first); each event prints one JSON object.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firehose_logs_processor::aws::reingest::AwsSink;
use firehose_logs_processor::processor::handler::{response_value, Handler};
use firehose_logs_processor::runtime::processor::keep_memory_across_invocations;
use firehose_logs_processor::{Config, FirehoseRequest};
use testkit::runtime_api::{Invocation, RuntimeApi};

/// Longest wait for any call of the function.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

fn usage() -> ! {
    eprintln!("usage: bench_runtime FUNCTION_BINARY ITERATIONS EVENT_FILE...");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, iterations, events @ ..] = args.as_slice() else {
        usage()
    };
    let iterations: usize = iterations.parse().unwrap_or_else(|_| usage());
    if iterations < 2 || events.is_empty() {
        usage();
    }
    // The function's malloc settings, for the in-process side too.
    assert!(
        keep_memory_across_invocations(),
        "malloc refused its thresholds"
    );
    let api = RuntimeApi::start().expect("start the Runtime API emulator");
    // The same environment for the function and for this process's own handler.
    let environment = environment(&api);
    for (name, value) in &environment {
        std::env::set_var(name, value);
    }
    for event in events {
        let body = std::fs::read(event).expect("read the event file");
        let in_process = in_process(&body, iterations);
        let function = function(&api, binary, &environment, &body, iterations);
        assert_eq!(
            function.first_response, in_process.response,
            "{event}: the function's response differs from the handler's"
        );
        let ratio = function.billed.median / in_process.times.median;
        let report = serde_json::json!({
            "event": Path::new(event).file_name().map(|name| name.to_string_lossy()),
            "event_bytes": body.len(),
            "response_bytes": in_process.response.len(),
            "iterations": iterations,
            "reingested_records_per_invocation": function.reingested_records as f64 / iterations as f64,
            "cold_start_ms": function.cold_start.as_secs_f64() * 1e3,
            "billed_ms": function.billed.median * 1e3,
            "billed_ms_fastest": function.billed.fastest * 1e3,
            "handler_ms": in_process.times.median * 1e3,
            "handler_ms_fastest": in_process.times.fastest * 1e3,
            "ratio": ratio,
            "response_handoff_ms": in_process.handoff.median * 1e3,
            "minor_faults_per_warm_invocation": function.faults_median,
            "minor_faults_max": function.faults_max,
            "peak_rss_kb": function.peak_rss_kb,
            "kernel_cpu_share": function.kernel_share,
            "function_cpu_ms_per_invocation": function.cpu_ms_per_invocation,
        });
        println!("{report}");
    }
}

fn environment(api: &RuntimeApi) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.addr().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "firehose-logs-processor".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/firehose-logs-processor".into(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/28/[$LATEST]bench".into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_SESSION_TOKEN", "bench".into()),
        ("AWS_ENDPOINT_URL", format!("http://{}", api.addr())),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn deadline_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    now.as_millis() as u64 + 300_000
}

/// Median and fastest of warm measurements, in seconds.
struct Times {
    median: f64,
    fastest: f64,
}

fn warm(mut seconds: Vec<f64>) -> Times {
    seconds.remove(0);
    seconds.sort_by(f64::total_cmp);
    Times {
        median: seconds[seconds.len() / 2],
        fastest: seconds[0],
    }
}

struct InProcess {
    times: Times,
    handoff: Times,
    response: Vec<u8>,
}

/// The function's work on `body` without the runtime, `iterations` times.
fn in_process(body: &[u8], iterations: usize) -> InProcess {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let config = Config::from_env().expect("the benchmark's configuration");
    let mut handler = Handler::new(config, AwsSink::default());
    let mut seconds = Vec::with_capacity(iterations);
    let mut handoff = Vec::with_capacity(iterations);
    let mut response = Vec::new();
    for _ in 0..iterations {
        let started = Instant::now();
        let request: FirehoseRequest = serde_json::from_slice(body).expect("a Firehose request");
        let handled = runtime.block_on(handler.handle(request, deadline_ms()));
        std::hint::black_box(&handled.emf);
        seconds.push(started.elapsed().as_secs_f64());
        if response.is_empty() {
            response = handled.response.clone();
        }
        // What the runtime glue then does with the response, timed apart: the
        // checks that make it a `RawValue`, and the runtime's serialization of it.
        let started = Instant::now();
        let raw = response_value(handled.response).expect("the response is JSON");
        let sent = serde_json::to_vec(&raw).expect("a RawValue serializes");
        handoff.push(started.elapsed().as_secs_f64());
        std::hint::black_box(sent);
    }
    InProcess {
        times: warm(seconds),
        handoff: warm(handoff),
        response,
    }
}

struct Function {
    cold_start: Duration,
    billed: Times,
    faults_median: u64,
    faults_max: u64,
    peak_rss_kb: u64,
    kernel_share: f64,
    cpu_ms_per_invocation: f64,
    reingested_records: u64,
    first_response: Vec<u8>,
}

/// The function binary under the emulator, `iterations` invocations of `body`.
fn function(
    api: &RuntimeApi,
    binary: &str,
    environment: &[(&'static str, String)],
    body: &[u8],
    iterations: usize,
) -> Function {
    let body = bytes::Bytes::copy_from_slice(body);
    let puts_before = api.puts().records.load(Ordering::Relaxed);
    let spawned = Instant::now();
    let child = Command::new(binary)
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the function binary");
    let child = Running(child);
    let pid = child.0.id();
    let mut waiting = api
        .next_request(CALL_TIMEOUT)
        .expect("the first GET …/next");
    let cold_start = waiting.arrived_at - spawned;
    let mut faults_at_next = stat(pid).minflt;
    let cpu_before = stat(pid);
    let mut billed = Vec::with_capacity(iterations);
    let mut faults = Vec::with_capacity(iterations);
    let mut first_response = Vec::new();
    for index in 0..iterations {
        let request_id = format!("00000000-0000-4000-8000-{index:012}");
        let handed = api
            .hand_over(
                waiting,
                Invocation {
                    request_id: request_id.clone(),
                    deadline_ms: deadline_ms(),
                    body: body.clone(),
                    invocation_id: None,
                },
            )
            .expect("hand the event over");
        let outcome = api.outcome(CALL_TIMEOUT).expect("the function's answer");
        assert!(
            outcome.success && outcome.request_id == request_id,
            "invocation {index} failed: {}",
            String::from_utf8_lossy(&outcome.body)
        );
        billed.push((outcome.received_at - handed).as_secs_f64());
        if index == 0 {
            first_response = outcome.body.to_vec();
        }
        waiting = api.next_request(CALL_TIMEOUT).expect("the next GET …/next");
        let now = stat(pid).minflt;
        faults.push(now - faults_at_next);
        faults_at_next = now;
    }
    let cpu_after = stat(pid);
    let peak_rss_kb = status_kb(pid, "VmHWM");
    drop(waiting);
    drop(child);
    faults.remove(0);
    faults.sort_unstable();
    let user = (cpu_after.utime - cpu_before.utime) as f64;
    let system = (cpu_after.stime - cpu_before.stime) as f64;
    Function {
        cold_start,
        billed: warm(billed),
        faults_median: faults[faults.len() / 2],
        faults_max: faults[faults.len() - 1],
        peak_rss_kb,
        kernel_share: if user + system > 0.0 {
            system / (user + system)
        } else {
            0.0
        },
        // Clock ticks are 10 ms (USER_HZ 100); averaged over every invocation.
        cpu_ms_per_invocation: (user + system) * 10.0 / iterations as f64,
        reingested_records: api.puts().records.load(Ordering::Relaxed) - puts_before,
        first_response,
    }
}

/// Kills the function when the benchmark is done with it, or panics.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Stat {
    minflt: u64,
    utime: u64,
    stime: u64,
}

/// Fields of `/proc/PID/stat` (after the command name, which may hold spaces).
fn stat(pid: u32) -> Stat {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields from the third on: state is [0], minflt (10th) is [7], utime [11], stime [12].
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    Stat {
        minflt: fields[7],
        utime: fields[11],
        stime: fields[12],
    }
}

/// A field of `/proc/PID/status`, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
