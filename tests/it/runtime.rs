//! Smoke test through the real Lambda runtime emulator: `cargo lambda watch` runs the
//! binary, `cargo lambda invoke` sends a sample event. Needs cargo-lambda on PATH
//! (`make test` puts the project's copy there), hence `#[ignore]` in a bare `cargo test`.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the emulator's whole process group when the test ends, however it ends.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Polls `ready` until it holds; fails, with the emulator's log, once `limit` has passed
/// or the emulator has exited.
fn wait_until(
    emulator: &mut Emulator,
    log_path: &Path,
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !ready() {
        let log = || std::fs::read_to_string(log_path).unwrap();
        assert!(
            emulator.0.try_wait().unwrap().is_none(),
            "emulator exited before {what}: {}",
            log()
        );
        assert!(
            Instant::now() < deadline,
            "no {what} within {limit:?}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The log's complete lines: a line being written is not read half.
fn complete_lines(log_path: &Path) -> String {
    let mut log = std::fs::read_to_string(log_path).unwrap();
    log.truncate(log.rfind('\n').map_or(0, |end| end + 1));
    log
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[ignore = "needs cargo-lambda: run `make test`"]
fn the_function_answers_through_the_runtime_emulator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let port = free_port().to_string();
    let log_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("emulator.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut emulator = Emulator(
        Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port,
            ])
            .args(["--env-var", "METRICS_NAMESPACE=SmokeTest"])
            // No stream to re-ingest into here (the moto end-to-end tests cover that):
            // keep the sample's hour-spanning record whole.
            .args(["--env-var", "SPLIT_BY_EVENT_HOUR=false"])
            .current_dir(root)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("cargo lambda watch starts (is cargo-lambda on PATH? run `make tools`)"),
    );
    let port_number: u16 = port.parse().unwrap();
    wait_until(
        &mut emulator,
        &log_path,
        "emulator listening",
        Duration::from_secs(600),
        || TcpStream::connect(("127.0.0.1", port_number)).is_ok(),
    );

    // Bounded: a function that never answers must fail the test, not hang it.
    let output = Command::new("timeout")
        .args([
            "300",
            "cargo",
            "lambda",
            "invoke",
            "firehose-logs-processor",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args([
            "--invoke-port",
            &port,
            "--output-format",
            "json",
            "--data-file",
        ])
        .arg(root.join("events/mixed.json"))
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "invoke failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&log_path).unwrap()
    );
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results: Vec<(&str, &str)> = response["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["recordId"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    let ids: Vec<String> = (1..=5)
        .map(|i| format!("4957873408644225903749749298062023384040017339048211{i:04}"))
        .collect();
    let expected: Vec<(&str, &str)> = ids
        .iter()
        .map(String::as_str)
        .zip(["Dropped", "Ok", "Ok", "ProcessingFailed", "Ok"])
        .collect();
    assert_eq!(results, expected);

    // The metrics line reaches the log, and the failed record's reason names it: the
    // emulator may pass them on after the response, so wait for them.
    let failed_record = format!("record_id=\"{}\"", ids[3]);
    let reason = "payload is neither gzip nor a JSON object";
    wait_until(
        &mut emulator,
        &log_path,
        "the metrics line and the failed record's reason in the log",
        Duration::from_secs(60),
        || {
            let log = complete_lines(&log_path);
            log.contains("\"_aws\"") && log.contains(&failed_record) && log.contains(reason)
        },
    );
    let log = complete_lines(&log_path);
    let metrics: Value = log
        .lines()
        .find(|line| line.contains("\"_aws\""))
        .map(|line| serde_json::from_str(&line[line.find('{').unwrap()..]).unwrap())
        .expect("an EMF metrics line");
    assert_eq!(
        metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "SmokeTest"
    );
    assert_eq!(
        (metrics["RecordsIn"].as_u64(), metrics["RecordsOk"].as_u64()),
        (Some(5), Some(3))
    );
    assert!(log.contains(&failed_record), "{log}");
    assert!(log.contains(reason), "{log}");
}
