//! The generator's promises (see `testkit::generate`): events close to the requested size,
//! about 2% control messages, and the two compressibility levels measuring about 4x and
//! 8x with gzip level 6. Run with `--nocapture` to see the measured numbers.

use testkit::generate::{batch, Batch, Compressibility};

const MB: usize = 1_000_000;

fn gzip_ratio(generated: &Batch) -> f64 {
    let compressed: usize = generated
        .payloads
        .iter()
        .map(|p| testkit::gzip(p).len())
        .sum();
    generated.decompressed_bytes as f64 / compressed as f64
}

fn is_control(payload: &[u8]) -> bool {
    let value: serde_json::Value = serde_json::from_slice(payload).expect("payload is JSON");
    value["messageType"] == "CONTROL_MESSAGE"
}

#[test]
fn compressibility_levels_measure_about_4x_and_8x() {
    for size in [MB, 3 * MB, 6 * MB] {
        let low = gzip_ratio(&batch(7, size, Compressibility::Low));
        let high = gzip_ratio(&batch(7, size, Compressibility::High));
        println!(
            "{} MB event: gzip level 6 ratio low {low:.2}x, high {high:.2}x",
            size / MB
        );
        assert!(
            (3.6..=4.6).contains(&low),
            "low compresses {low:.2}x, want about 4x"
        );
        assert!(
            (7.0..=9.0).contains(&high),
            "high compresses {high:.2}x, want about 8x"
        );
    }
}

#[test]
fn events_are_within_five_percent_of_the_requested_size() {
    for compressibility in [Compressibility::Low, Compressibility::High] {
        for size in [MB, 3 * MB, 6 * MB] {
            let len = batch(11, size, compressibility).event.len();
            println!("{compressibility:?} {} MB: {len} bytes", size / MB);
            assert!(
                len.abs_diff(size) <= size / 20,
                "{compressibility:?}: asked {size}, got {len}"
            );
        }
    }
}

#[test]
fn about_two_percent_of_records_are_control_messages() {
    let mut records = 0;
    let mut control = 0;
    for seed in 0..2 {
        for compressibility in [Compressibility::Low, Compressibility::High] {
            let generated = batch(seed, 6 * MB, compressibility);
            records += generated.payloads.len();
            control += generated.payloads.iter().filter(|p| is_control(p)).count();
        }
    }
    let share = control as f64 / records as f64 * 100.0;
    println!("{control} control messages in {records} records: {share:.2}%");
    assert!((1.0..=3.0).contains(&share), "{share:.2}% control messages");
}

#[test]
fn same_seed_same_bytes() {
    let a = batch(3, MB, Compressibility::High);
    let b = batch(3, MB, Compressibility::High);
    assert_eq!(a.event, b.event);
    assert_ne!(a.event, batch(4, MB, Compressibility::High).event);
}

#[test]
fn a_six_megabyte_batch_stays_within_one_hour() {
    // So that no record is split by event hour and the benchmarks transform every record.
    for compressibility in [Compressibility::Low, Compressibility::High] {
        let hours: std::collections::BTreeSet<i64> = batch(5, 6 * MB, compressibility)
            .payloads
            .iter()
            .flat_map(|payload| {
                let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
                let events = value["logEvents"].as_array().cloned().unwrap_or_default();
                events
                    .into_iter()
                    .map(|event| event["timestamp"].as_i64().expect("timestamp") / 3_600_000)
            })
            .collect();
        assert_eq!(hours.len(), 1, "{compressibility:?}: hours {hours:?}");
    }
}
