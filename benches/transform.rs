//! The pure transformation, request bytes in -> response bytes out, on generated
//! Firehose events of 1, 3 and 6 MB at both compressibility levels (`testkit::generate`).
//!
//! The response budget is disabled so that every record is transformed, and one
//! `Processor` serves every iteration, as one warm Lambda does. Throughput is decompressed
//! log bytes: criterion's MB/s is decompressed data per core (one thread).
//!
//! `cargo bench --bench transform`; `scripts/bench.sh` runs it with quick settings.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use firehose_logs_processor::{Config, Processor};
use testkit::generate::{batch, Compressibility};

/// Seed of every generated benchmark event (`examples/bench_rss.rs` uses the same).
const SEED: u64 = 5;
const MB: usize = 1_000_000;

fn config() -> Config {
    Config {
        max_decompressed_bytes: 64 * 1024 * 1024,
        response_budget_bytes: usize::MAX,
        ..Config::default()
    }
}

fn transform(c: &mut Criterion) {
    let mut group = c.benchmark_group("transform");
    for size_mb in [1, 3, 6] {
        for (name, compressibility) in [
            ("low", Compressibility::Low),
            ("high", Compressibility::High),
        ] {
            let generated = batch(SEED, size_mb * MB, compressibility);
            let mut processor = Processor::new(config());
            {
                let processed = processor
                    .process_json(&generated.event)
                    .expect("a generated event is a Firehose request");
                let m = processed.metrics;
                assert_eq!(
                    m.records_processing_failed, 0,
                    "{size_mb} MB {name}: records failed: {m:?}"
                );
                assert_eq!(m.bytes_in_decompressed, generated.decompressed_bytes as u64);
            }
            group.throughput(Throughput::Bytes(generated.decompressed_bytes as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{size_mb}MB"), name),
                &generated.event,
                |b, event| {
                    b.iter(|| {
                        let processed = processor
                            .process_json(black_box(event))
                            .expect("a Firehose request");
                        black_box(processed.response.len())
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, transform);
criterion_main!(benches);
