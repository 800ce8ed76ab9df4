//! A deterministic generator of realistic Firehose batches of CloudWatch Logs records.
//!
//! Each record holds 50 to 150 events from one log group and stream. The message mix:
//! - Lambda platform lines: `START`, `END` and `REPORT` (about 30%);
//! - JSON application logs with nested fields (about 45%);
//! - plain text lines with non-ASCII text (about 15%);
//! - multi-line stack traces (about 10%).
//!
//! About 2% of records are control messages. Payloads are gzip level 6, like CloudWatch.
//! Two compressibility levels, measured by `testkit/tests/generate.rs`:
//! - [`Compressibility::Low`] (about 4.2x): every event starts a new request (fresh
//!   request id, user id, path), JSON logs carry a random X-Ray trace id, and event ids
//!   end in random digits;
//! - [`Compressibility::High`] (about 8x): 5% of events start a new request, the rest
//!   repeat the current one, and event ids are the timestamp plus a sequence number.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::{control_message, data_message, firehose_event, gzip};

/// How well the generated logs compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressibility {
    /// About 4x with gzip level 6.
    Low,
    /// About 8x with gzip level 6.
    High,
}

/// A generated batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The Firehose event, serialized.
    pub event: Vec<u8>,
    /// Each record's decompressed subscription payload (the JSON CloudWatch sent).
    pub payloads: Vec<Vec<u8>>,
    /// Total decompressed payload bytes.
    pub decompressed_bytes: usize,
}

const WORDS: [&str; 24] = [
    "request",
    "handled",
    "user",
    "order",
    "cache",
    "miss",
    "retry",
    "timeout",
    "payment",
    "accepted",
    "queue",
    "drained",
    "session",
    "renewed",
    "shard",
    "rebalanced",
    "Zürich",
    "naïve",
    "東京",
    "données",
    "ошибка",
    "café",
    "ok",
    "done",
];

/// Percent of events that start a new request (fresh request id, user, path), Low.
const LOW_RANDOM_SHARE: u32 = 100;
/// Percent of events that start a new request, High.
const HIGH_RANDOM_SHARE: u32 = 5;

const LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];
const STATUSES: [u16; 4] = [200, 201, 404, 500];

/// Builds a batch whose serialized event is about `event_bytes` long.
pub fn batch(seed: u64, event_bytes: usize, compressibility: Compressibility) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut records = Vec::new();
    let mut payloads = Vec::new();
    let mut decompressed_bytes = 0;
    // base64 (4/3) plus the record's JSON framing.
    let mut event_len = 200usize;
    // On the hour (2026-11-22T06:00Z): 6 MB of events spans well under an hour, so no record
    // straddles an hour and none is split by event hour (all are transformed in place).
    let mut timestamp = 1_795_327_200_000i64;
    // Events so far: the tail of High's event ids, unique across the batch.
    let mut sequence = 0u64;
    while event_len < event_bytes {
        let payload = if rng.random_range(0..100) < 2 {
            control_message()
        } else {
            let events = rng.random_range(50..=150);
            log_record(
                &mut rng,
                events,
                &mut timestamp,
                &mut sequence,
                compressibility,
            )
        };
        let text = payload.to_string().into_bytes();
        let compressed = gzip(&text);
        event_len += compressed.len().div_ceil(3) * 4 + 150;
        decompressed_bytes += text.len();
        payloads.push(text);
        records.push((format!("{:056}", records.len()), compressed));
    }
    let event = firehose_event(&records).to_string().into_bytes();
    Batch {
        event,
        payloads,
        decompressed_bytes,
    }
}

fn log_record(
    rng: &mut ChaCha8Rng,
    events: usize,
    timestamp: &mut i64,
    sequence: &mut u64,
    compressibility: Compressibility,
) -> Value {
    let function = ["checkout", "orders", "auth", "inventory"][rng.random_range(0..4)];
    let stream = format!("2026/11/22/[$LATEST]{:032x}", rng.random::<u128>());
    let (random_share, trace_ids) = match compressibility {
        Compressibility::Low => (LOW_RANDOM_SHARE, true),
        Compressibility::High => (HIGH_RANDOM_SHARE, false),
    };
    let mut log_events = Vec::with_capacity(events);
    let mut request_id = uuid(rng);
    for _ in 0..events {
        *timestamp += rng.random_range(0..40);
        let fresh = rng.random_range(0..100) < random_share;
        if fresh {
            request_id = uuid(rng);
        }
        let message = match rng.random_range(0..100) {
            0..=9 => format!("START RequestId: {request_id} Version: $LATEST"),
            10..=19 => format!("END RequestId: {request_id}"),
            20..=29 => format!(
                "REPORT RequestId: {request_id}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: {} MB\t",
                rng.random_range(1..900),
                rng.random_range(0..100),
                rng.random_range(1..900),
                rng.random_range(20..128)
            ),
            30..=74 => json!({
                "level": LEVELS[rng.random_range(0..4)],
                "ts": *timestamp,
                "requestId": request_id,
                "msg": sentence(rng, 6),
                "http": {"method": "POST", "path": format!("/v1/{function}/{}", rng.random_range(0..if fresh { 100_000 } else { 10 })), "status": STATUSES[rng.random_range(0..4)]},
                "user": {"id": if fresh { rng.random_range(0..1_000_000u32) } else { 42 }, "tags": ["beta", "eu"]},
                "latency_ms": rng.random_range(0..2000),
                "traceId": if trace_ids { format!("1-{:08x}-{:024x}", *timestamp / 1000, rng.random::<u128>() >> 32) } else { "-".to_owned() },
            })
            .to_string(),
            75..=89 => format!("{} {} {}", LEVELS[rng.random_range(0..4)], request_id, sentence(rng, 12)),
            _ => format!(
                "Error: {} failed\n    at handler (/var/task/index.js:{}:{})\n    at process (/var/task/lib/{function}.js:{}:7)\n    at async Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:26)",
                sentence(rng, 3),
                rng.random_range(1..400),
                rng.random_range(1..80),
                rng.random_range(1..900)
            ),
        };
        log_events.push(json!({
            "id": event_id(rng, *timestamp, sequence, compressibility),
            "timestamp": *timestamp,
            "message": message,
        }));
    }
    data_message(
        "123456789012",
        &format!("/aws/lambda/{function}"),
        &stream,
        log_events,
    )
}

/// A 56-digit CloudWatch event id, unique in the batch. Real ids start with the timestamp
/// and share most of their digits with their neighbours: High ends them with the batch's
/// event count; Low with random digits.
fn event_id(
    rng: &mut ChaCha8Rng,
    timestamp: i64,
    sequence: &mut u64,
    compressibility: Compressibility,
) -> String {
    *sequence += 1;
    match compressibility {
        Compressibility::Low => format!("{timestamp:020}{:036}", rng.random::<u64>()),
        Compressibility::High => format!("{timestamp:020}{:036}", *sequence),
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let value: u128 = rng.random();
    let hex = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn sentence(rng: &mut ChaCha8Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}
