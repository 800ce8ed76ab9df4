//! Recorded digests of what the function answers and what the converter writes, so that
//! a change meant to keep behaviour (a restructuring, a faster path) is proven to keep
//! every byte. `UPDATE_GOLDEN=1` rewrites a digest file from the code as it is; only do
//! that for a change that means to alter the output, and say so in its commit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use firehose_logs_processor::{Config, FirehoseRequest, Processor, ReingestReport};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the recorded file `name` (or records it, with `UPDATE_GOLDEN=1`).
pub fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 records it)", path.display()));
    for (line, (want, got)) in recorded.lines().zip(actual.lines()).enumerate() {
        assert_eq!(got, want, "{}:{} differs", path.display(), line + 1);
    }
    assert_eq!(
        actual.lines().count(),
        recorded.lines().count(),
        "{}: another number of lines",
        path.display()
    );
}

/// The settings the digests are taken under: the defaults, and a small budget with JSON
/// messages parsed, so that records are split and re-ingested.
fn configs() -> [(&'static str, Config); 2] {
    [
        ("default", Config::default()),
        (
            "small-budget",
            Config {
                response_budget_bytes: 48 * 1024,
                parse_json_messages: true,
                ..Config::default()
            },
        ),
    ]
}

/// Every sample event through the processor: the response when nothing is put back and
/// when everything is, each payload to put back, and the counters (duration aside).
#[test]
fn responses_match_the_recorded_digests() {
    let mut events: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("events"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
    events.sort();
    assert!(events.len() >= 8, "the sample events are there");
    let mut out = String::new();
    for (config_name, config) in configs() {
        let mut processor = Processor::new(config);
        for path in &events {
            let name = path.file_name().unwrap().to_string_lossy();
            let mut request: FirehoseRequest =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            let mut processed = processor.process(&request);
            processed.metrics.duration_ms = 0;
            writeln!(
                out,
                "{config_name} {name} none-put-back {}",
                digest(processed.response)
            )
            .unwrap();
            writeln!(out, "{config_name} {name} metrics {:?}", processed.metrics).unwrap();

            let mut plan = processor.plan(&mut request);
            // As the function does: the records' data is released before re-ingestion.
            plan.release_record_data();
            for item in plan.payloads() {
                writeln!(
                    out,
                    "{config_name} {name} payload {} {} {}",
                    item.record_index,
                    item.partition_key,
                    digest(&item.data)
                )
                .unwrap();
            }
            let report = ReingestReport {
                delivered: vec![true; plan.payloads().len()],
                ..ReingestReport::default()
            };
            let mut processed = plan.finish(&report);
            processed.metrics.duration_ms = 0;
            writeln!(
                out,
                "{config_name} {name} all-put-back {}",
                digest(processed.response)
            )
            .unwrap();
            writeln!(out, "{config_name} {name} metrics {:?}", processed.metrics).unwrap();
        }
    }
    check("responses.txt", &out);
}
