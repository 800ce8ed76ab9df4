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
    let deadline = Instant::now() + Duration::from_secs(600);
    while TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        assert!(
            emulator.0.try_wait().unwrap().is_none(),
            "emulator exited: {}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        assert!(Instant::now() < deadline, "emulator did not start");
        std::thread::sleep(Duration::from_millis(250));
    }

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

    // The metrics line reaches the log, and the failed record's reason names it.
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(&log_path).unwrap();
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
    assert!(log.contains(&format!("record_id=\"{}\"", ids[3])), "{log}");
    assert!(log.contains("payload is neither gzip nor a JSON object"));
}
