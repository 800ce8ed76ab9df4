//! `testkit events DIR`: regenerates every `DIR/NAME.json` from `DIR/src/NAME.json`,
//! and the large generated batch `DIR/large-batch.json`.

use std::path::Path;

use testkit::generate::{batch, Compressibility};
use testkit::{LARGE_BATCH_BYTES, LARGE_BATCH_SEED};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = match args.as_slice() {
        [_, command, dir] if command == "events" => Path::new(dir).to_owned(),
        _ => {
            eprintln!("usage: testkit events DIR");
            std::process::exit(2);
        }
    };
    let sources = std::fs::read_dir(dir.join("src")).expect("read DIR/src");
    let mut names: Vec<_> = sources
        .map(|entry| entry.expect("list DIR/src").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    names.sort();
    for source in names {
        let readable: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&source).expect("read source"))
                .expect("source is JSON");
        let event =
            testkit::build_event(&readable).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let target = dir.join(source.file_name().expect("file name"));
        let text = serde_json::to_string_pretty(&event).expect("serialize") + "\n";
        std::fs::write(&target, text).expect("write event");
        println!("wrote {}", target.display());
    }
    let large = batch(LARGE_BATCH_SEED, LARGE_BATCH_BYTES, Compressibility::Low);
    let target = dir.join("large-batch.json");
    std::fs::write(&target, &large.event).expect("write large batch");
    println!(
        "wrote {} ({} records, {} bytes decompressed)",
        target.display(),
        large.payloads.len(),
        large.decompressed_bytes
    );
}
