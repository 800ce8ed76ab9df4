//! How realistic 1 MB and 3 MB batches divide between the response and re-ingestion:
//! `cargo run --release --example reingest_report`.

use firehose_logs_processor::{Config, FirehoseRequest, Processor, ReingestReport};
use testkit::generate::{batch, Compressibility};

fn main() {
    println!("| request | compressibility | records | Ok | re-ingested whole | split | payloads put | response bytes |");
    println!("|---|---|---|---|---|---|---|---|");
    for megabytes in [1usize, 3] {
        for (name, compressibility) in [
            ("low ~4x", Compressibility::Low),
            ("high ~8x", Compressibility::High),
        ] {
            let generated = batch(7, megabytes * 1_000_000, compressibility);
            let mut request: FirehoseRequest =
                serde_json::from_slice(&generated.event).expect("generated event");
            let mut processor = Processor::new(Config::default());
            let plan = processor.plan(&mut request);
            let payloads = plan.payloads().len();
            let report = ReingestReport {
                delivered: vec![true; payloads],
                ..ReingestReport::default()
            };
            let processed = plan.finish(&report);
            let m = processed.metrics;
            println!(
                "| {megabytes} MB | {name} | {} | {} | {} | {} | {} | {} |",
                m.records_in,
                m.records_ok,
                m.records_reingested,
                m.record_splits,
                payloads,
                processed.response.len()
            );
        }
    }
}
