//! The export converter's core over an in-memory store: objects in the service's
//! documented format (and moto's) become live lines under live prefixes, every event
//! exactly once; a second run writes the same objects; an object that does not read
//! completely writes nothing.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use firehose_logs_processor::export::event::TriggerError;
use firehose_logs_processor::export::key::destination_prefix;
use firehose_logs_processor::export::service::{convert_announced, Conversions};
use firehose_logs_processor::export::{
    convert_object, ConvertOptions, ExportConfig, ExportError, ExportSource, ObjectBody,
    ObjectStore, StoreError, PUBLISH_MARGIN, PUBLISH_ROUND,
};
use firehose_logs_processor::transform::partition::{key_segment, PartitionLayout};
use serde_json::Value;

use crate::cfn;

/// Objects in memory, served in small chunks; outputs are staged apart from the objects
/// until published. Reads can be cut at a byte, staging refused after so many outputs,
/// and one publish refused.
// Its fields have the shape of the fuzz target `record`'s `Message` (a run of `Option`
// fields) and nothing more: these are a test double's switches and counters, those
// describe an arbitrary input, so there is no code to share.
#[derive(Default)]
struct MemoryStore {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Staged outputs by staging id: key and body, unseen by readers.
    staged: RefCell<BTreeMap<u64, (String, Vec<u8>)>>,
    stages: Cell<u64>,
    /// Stages asked for, refused ones included.
    stage_attempts: Cell<u64>,
    gets: Cell<u64>,
    /// Stages refused once this many have succeeded.
    fail_stages_after: Cell<Option<u64>>,
    /// Reads fail once this many bytes have been served.
    fail_reads_at: Option<usize>,
    /// Chunks served, over every read.
    chunks_read: Rc<Cell<usize>>,
    /// The publish asked for at this count (from 0) is refused, the others not.
    refuse_publish: Cell<Option<u64>>,
    publish_attempts: Cell<u64>,
}

struct MemoryBody {
    body: Vec<u8>,
    at: usize,
    fail_at: Option<usize>,
    chunks_read: Rc<Cell<usize>>,
}

impl ObjectBody for MemoryBody {
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, StoreError> {
        let end = self.fail_at.unwrap_or(usize::MAX).min(self.body.len());
        if self.at >= end && end < self.body.len() {
            return Err("connection reset by peer".into());
        }
        if self.at >= end {
            return Ok(None);
        }
        let chunk_end = (self.at + 777).min(end);
        let chunk = bytes::Bytes::copy_from_slice(&self.body[self.at..chunk_end]);
        self.at = chunk_end;
        self.chunks_read.set(self.chunks_read.get() + 1);
        Ok(Some(chunk))
    }
}

impl ObjectStore for MemoryStore {
    type Body = MemoryBody;
    type Staged = u64;

    async fn get(&self, bucket: &str, key: &str) -> Result<MemoryBody, StoreError> {
        self.gets.set(self.gets.get() + 1);
        let body = self
            .objects
            .borrow()
            .get(&format!("{bucket}/{key}"))
            .cloned()
            .ok_or("NoSuchKey")?;
        Ok(MemoryBody {
            body,
            at: 0,
            fail_at: self.fail_reads_at,
            chunks_read: self.chunks_read.clone(),
        })
    }

    async fn stage(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<u64, StoreError> {
        self.stage_attempts.set(self.stage_attempts.get() + 1);
        // An upload takes a while: the conversion goes on meanwhile.
        tokio::task::yield_now().await;
        let id = self.stages.get();
        if self
            .fail_stages_after
            .get()
            .is_some_and(|after| self.staged_ever() >= after)
        {
            return Err("AccessDenied".into());
        }
        self.stages.set(id + 1);
        self.staged
            .borrow_mut()
            .insert(id, (format!("{bucket}/{key}"), body));
        Ok(id)
    }

    async fn publish(&self, bucket: &str, key: &str, staged: &u64) -> Result<(), StoreError> {
        let attempt = self.publish_attempts.get();
        self.publish_attempts.set(attempt + 1);
        if self.refuse_publish.get() == Some(attempt) {
            return Err("SlowDown".into());
        }
        let (staged_key, body) = self
            .staged
            .borrow_mut()
            .remove(staged)
            .ok_or("NoSuchUpload")?;
        assert_eq!(staged_key, format!("{bucket}/{key}"));
        self.objects.borrow_mut().insert(staged_key, body);
        Ok(())
    }

    async fn discard(&self, bucket: &str, key: &str, staged: u64) -> Result<(), StoreError> {
        let (staged_key, _) = self
            .staged
            .borrow_mut()
            .remove(&staged)
            .ok_or("NoSuchUpload")?;
        assert_eq!(staged_key, format!("{bucket}/{key}"));
        Ok(())
    }
}

impl MemoryStore {
    /// Outputs staged so far, whether since published, discarded or not.
    fn staged_ever(&self) -> u64 {
        self.stages.get()
    }

    fn add(&self, key: &str, body: Vec<u8>) {
        self.objects
            .borrow_mut()
            .insert(format!("bucket/{key}"), body);
    }

    fn outputs(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects
            .borrow()
            .iter()
            .filter(|(key, _)| key.starts_with("bucket/logs/"))
            .map(|(key, body)| (key.clone(), body.clone()))
            .collect()
    }
}

const ACCOUNT: &str = "111111111111";
const GROUP: &str = "/aws/lambda/checkout";

/// An export as the service writes it: ISO 8601 with milliseconds, a space, the message.
fn export_text(events: &[(&str, &str)]) -> String {
    events
        .iter()
        .map(|(time, message)| format!("{time} {message}\n"))
        .collect()
}

fn source_key(stream: &str, chunk: &str) -> String {
    format!(
        "{}/d8fdd9b6-9bb8-4e13-8df1-7f41e8610d8c/{stream}/{chunk}",
        destination_prefix("exports", ACCOUNT, GROUP)
    )
}

fn run(store: &MemoryStore, key: &str, options: ConvertOptions) -> Result<u64, ExportError> {
    run_until(store, key, options, None)
}

fn run_until(
    store: &MemoryStore,
    key: &str,
    options: ConvertOptions,
    deadline: Option<Instant>,
) -> Result<u64, ExportError> {
    let source = ExportSource::parse(key, "exports").expect("key follows the convention");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime
        .block_on(convert_object(
            store, "bucket", source, key, options, deadline,
        ))
        .map(|report| report.events)
}

fn lines(outputs: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (key, body) in outputs {
        let text = String::from_utf8(testkit::gunzip(body).unwrap()).unwrap();
        for line in text.lines() {
            all.push((key.clone(), serde_json::from_str(line).unwrap()));
        }
    }
    all
}

const EVENTS: [(&str, &str); 6] = [
    (
        "2026-11-21T23:59:59.998Z",
        "START RequestId: a7679120 Version: $LATEST",
    ),
    (
        "2026-11-22T00:00:00.001Z",
        "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: é 漢字 😀",
    ),
    (
        "2026-11-22T06:41:00.012Z",
        "{\"level\":\"INFO\",\"msg\":\"order accepted\"}",
    ),
    ("2026-11-22T06:41:00.012Z", "same millisecond, second event"),
    ("2026-11-22T07:00:00.000Z", ""),
    ("2026-11-22T07:30:00.500Z", "END RequestId: a7679120"),
];

/// An S3 notification announcing `keys` in the test bucket, keys URL-encoded as S3 does.
fn notification(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|key| {
            let encoded: String = key
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'/' => {
                        char::from(b).to_string()
                    }
                    b' ' => "+".to_owned(),
                    other => format!("%{other:02X}"),
                })
                .collect();
            serde_json::json!({"eventName": "ObjectCreated:Put",
                               "s3": {"bucket": {"name": "bucket"}, "object": {"key": encoded}}})
        })
        .collect();
    serde_json::json!({ "Records": records })
}

fn convert_announced_now(store: &MemoryStore, event: &Value) -> Result<Conversions, TriggerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let config = ExportConfig::default();
    runtime.block_on(convert_announced(&config, store, event, deadline))
}

/// One invocation over three objects: each is converted, left alone or failed on its
/// own; the answer names the failed one, and the metrics count all three.
#[test]
fn an_invocation_converts_skips_and_fails_each_object_on_its_own() {
    let store = MemoryStore::default();
    let good = source_key("2026-11-21-[$LATEST]cb2c7d0c", "000000.gz");
    let bad = source_key("2026-11-21-[$LATEST]cb2c7d0c", "000001.gz");
    let outside = "uploads/report 2026.csv";
    store.add(&good, testkit::gzip(export_text(&EVENTS).as_bytes()));
    store.add(&bad, b"\x1f\x8b\x08\x00 not really gzip".to_vec());
    store.add(outside, b"a,b\n".to_vec());

    let done = convert_announced_now(&store, &notification(&[&good, outside, &bad])).unwrap();
    let metrics = done.metrics;
    assert_eq!(
        (
            metrics.objects_converted,
            metrics.objects_skipped,
            metrics.objects_failed
        ),
        (1, 1, 1)
    );
    assert_eq!((metrics.events, done.objects), (6, 3));
    assert_eq!(done.failed, std::slice::from_ref(&bad));
    assert_eq!(done.bucket.as_deref(), Some("bucket"));
    let written: BTreeSet<String> = store
        .outputs()
        .into_keys()
        .map(|key| key.trim_start_matches("bucket/").to_owned())
        .collect();
    assert_eq!(
        done.outputs.iter().cloned().collect::<BTreeSet<_>>(),
        written
    );
    assert_eq!(metrics.outputs as usize, written.len());

    let error = done.answer().unwrap_err();
    assert_eq!(error.failed, std::slice::from_ref(&bad));
    assert!(
        error
            .to_string()
            .starts_with("1 of 3 export objects not converted")
            && error.to_string().ends_with(&bad),
        "{error}"
    );
    let emf: Value = serde_json::from_str(&done.emf("Ns", 1_795_329_660_000)).unwrap();
    assert_eq!(emf["Bucket"], "bucket");
    assert_eq!(
        (
            emf["ExportObjectsConverted"].as_u64(),
            emf["ExportObjectsSkipped"].as_u64(),
            emf["ExportObjectsFailed"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ns");
}

/// An invocation where every object converts answers what it wrote; an event of
/// neither trigger shape is the invocation's error, before anything is read.
#[test]
fn an_invocation_answers_what_it_converted() {
    let store = MemoryStore::default();
    let key = source_key("stream", "000000.gz");
    store.add(&key, testkit::gzip(export_text(&EVENTS).as_bytes()));
    let write_test = format!(
        "{}/aws-logs-write-test",
        destination_prefix("exports", ACCOUNT, GROUP)
    );
    let done = convert_announced_now(&store, &notification(&[&key, &write_test])).unwrap();
    let answer = done.answer().unwrap();
    assert_eq!(answer["converted"], 1);
    assert_eq!(answer["skipped"], 1);
    assert_eq!(answer["events"], 6);
    assert_eq!(
        answer["outputs"].as_array().unwrap().len(),
        store.outputs().len()
    );
    assert_eq!(store.gets.get(), 1, "the skipped object is not read");

    let error = convert_announced_now(&store, &serde_json::json!({"detail": {}})).unwrap_err();
    assert!(matches!(error, TriggerError::Unrecognised), "{error}");
    let nothing = convert_announced_now(&store, &serde_json::json!({"Records": []})).unwrap();
    assert_eq!(nothing.answer().unwrap()["converted"], 0);
    assert!(nothing.emf("Ns", 0).contains("\"Bucket\":\"unknown\""));
}

#[test]
fn every_event_lands_once_in_its_partition() {
    let store = MemoryStore::default();
    let key = source_key("2026-11-21-[$LATEST]cb2c7d0c", "000000.gz");
    store.add(&key, testkit::gzip(export_text(&EVENTS).as_bytes()));
    assert_eq!(run(&store, &key, ConvertOptions::default()).unwrap(), 6);
    assert_eq!(store.gets.get(), 1, "the object is read once");
    assert!(store.staged.borrow().is_empty(), "every output published");

    let got = lines(&store.outputs());
    assert_eq!(got.len(), EVENTS.len());
    let source = key_segment(GROUP);
    for ((time, message), (output_key, line)) in EVENTS.iter().zip(&got) {
        assert_eq!(line["time"], *time);
        assert_eq!(line["message"], *message);
        assert_eq!(line["account"], ACCOUNT);
        assert_eq!(line["log_group"], GROUP);
        assert_eq!(line["log_stream"], "2026-11-21-[$LATEST]cb2c7d0c");
        assert_eq!(line["subscription_filters"], serde_json::json!([]));
        let prefix = format!(
            "bucket/logs/account={ACCOUNT}/source={source}/dt={}/hour={}/",
            &time[..10],
            &time[11..13]
        );
        assert!(output_key.starts_with(&prefix), "{output_key} vs {prefix}");
    }
    let mut ids: Vec<&str> = got
        .iter()
        .map(|(_, line)| line["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS.len(), "ids are unique");

    // At least once, safely: the same object again overwrites with the same bytes.
    let first = store.outputs();
    assert_eq!(run(&store, &key, ConvertOptions::default()).unwrap(), 6);
    assert_eq!(store.outputs(), first);
}

#[test]
fn moto_format_and_multi_member_gzip() {
    // moto writes seconds without milliseconds; some writers concatenate gzip members.
    let store = MemoryStore::default();
    let key = source_key("stream-1", "000001.gz");
    let body = [
        testkit::gzip(b"2026-11-02T00:00:00Z hello from the past\n"),
        testkit::gzip(b"2026-11-02T00:00:01Z second member\ncontinued\n"),
    ]
    .concat();
    store.add(&key, body);
    assert_eq!(run(&store, &key, ConvertOptions::default()).unwrap(), 2);
    let got = lines(&store.outputs());
    assert_eq!(got[0].1["time"], "2026-11-02T00:00:00.000Z");
    assert_eq!(got[1].1["message"], "second member\ncontinued");
}

/// Whether `error` is the kind of failure the tables below name by a word of its message.
fn is_kind(error: &ExportError, word: &str) -> bool {
    match word {
        "gzip" => matches!(error, ExportError::Gzip(_)),
        "UTF-8" => matches!(error, ExportError::NotUtf8 { .. }),
        "timestamp" => matches!(error, ExportError::NoTimestamp(_)),
        other => panic!("no kind known for {other}"),
    }
}

#[test]
fn an_object_that_does_not_read_completely_writes_nothing() {
    let text = export_text(&EVENTS);
    let gzipped = testkit::gzip(text.as_bytes());
    let mut late_bad_utf8 = text.clone().into_bytes();
    late_bad_utf8.extend_from_slice(b"2026-11-22T08:00:00.000Z \xff\n");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (gzipped[..gzipped.len() - 5].to_vec(), "gzip"),
        (gzipped[..gzipped.len() / 2].to_vec(), "gzip"),
        (text.clone().into_bytes(), "gzip"),
        (testkit::gzip(&late_bad_utf8), "UTF-8"),
        (
            testkit::gzip(b"no timestamp\n2026-11-22T08:00:00.000Z x\n"),
            "timestamp",
        ),
        (Vec::new(), "gzip"),
    ];
    for (body, expected) in cases {
        let store = MemoryStore::default();
        let key = source_key("s", "000000.gz");
        store.add(&key, body);
        let error = run(&store, &key, ConvertOptions::default()).unwrap_err();
        assert!(is_kind(&error, expected), "{expected}: {error:?}");
        let chain = firehose_logs_processor::support::error_chain(&error);
        assert!(chain.contains(expected), "{expected}: {chain}");
        assert!(
            store.outputs().is_empty(),
            "{expected}: partial output written"
        );
    }
}

#[test]
fn an_export_of_no_events_writes_nothing() {
    let store = MemoryStore::default();
    let key = source_key("s", "000000.gz");
    store.add(&key, testkit::gzip(b""));
    assert_eq!(run(&store, &key, ConvertOptions::default()).unwrap(), 0);
    assert!(store.outputs().is_empty());
}

#[test]
fn a_refused_write_fails_the_object() {
    let store = MemoryStore::default();
    store.fail_stages_after.set(Some(0));
    let key = source_key("s", "000000.gz");
    store.add(&key, testkit::gzip(export_text(&EVENTS).as_bytes()));
    let error = run(&store, &key, ConvertOptions::default()).unwrap_err();
    assert!(matches!(error, ExportError::Write { .. }), "{error}");
    assert!(firehose_logs_processor::support::error_chain(&error).contains("AccessDenied"));
}

/// Three days of events, 40 an hour: the text and its event count.
fn three_days() -> (String, u64) {
    let mut text = String::new();
    let mut count = 0;
    for day in 1..=3 {
        for hour in 0..24 {
            for second in 0..40 {
                text.push_str(&format!(
                    "2026-11-{day:02}T{hour:02}:00:{second:02}.000Z request {count} took {} ms\n",
                    count % 997
                ));
                count += 1;
            }
        }
    }
    (text, count)
}

/// Small outputs, so that an object of [`three_days`] stages many.
const SMALL_OUTPUTS: ConvertOptions = ConvertOptions {
    layout: PartitionLayout::AccountSourceHour,
    parse_json_messages: false,
    object_bytes: 4096,
    open_outputs: 2,
    gzip_level: 1,
};

#[test]
fn an_object_unreadable_past_many_outputs_leaves_none_staged_or_seen() {
    let (text, _) = three_days();
    let gzipped = testkit::gzip(text.as_bytes());
    let mut late_bad_utf8 = text.clone().into_bytes();
    late_bad_utf8.extend_from_slice(b"2026-11-04T00:00:00.000Z \xff\n");
    for (body, expected) in [
        (gzipped[..gzipped.len() - 9].to_vec(), "gzip"),
        (testkit::gzip(&late_bad_utf8), "UTF-8"),
    ] {
        let store = MemoryStore::default();
        let key = source_key("s", "000000.gz");
        store.add(&key, body);
        let error = run(&store, &key, SMALL_OUTPUTS).unwrap_err();
        assert!(is_kind(&error, expected), "{expected}: {error:?}");
        let chain = firehose_logs_processor::support::error_chain(&error);
        assert!(chain.contains(expected), "{expected}: {chain}");
        assert!(store.stages.get() > 20, "{expected}: outputs were staged");
        assert!(store.outputs().is_empty(), "{expected}: an output was seen");
        assert!(
            store.staged.borrow().is_empty(),
            "{expected}: a staged output was not discarded"
        );
    }
}

/// The conversion runs on its own thread, joined to the reads and the uploads by bounded
/// channels: a failure on either side must stop the other, not hang, and leave nothing.
#[test]
fn a_refused_upload_or_a_broken_read_past_many_outputs_stops_everything_cleanly() {
    let (text, _) = three_days();
    let key = source_key("s", "000000.gz");
    let clean = MemoryStore::default();
    clean.add(&key, testkit::gzip(text.as_bytes()));
    run(&clean, &key, SMALL_OUTPUTS).unwrap();
    let total = clean.stages.get();
    assert!(total > 40, "many outputs: {total}");
    // Refused at the first, early, midway, and at the last (staged after the end).
    for after in [0, 1, 7, total / 2, total - 1] {
        let store = MemoryStore::default();
        store.add(&key, testkit::gzip(text.as_bytes()));
        store.fail_stages_after.set(Some(after));
        let error = run(&store, &key, SMALL_OUTPUTS).unwrap_err();
        assert!(
            matches!(error, ExportError::Write { .. }),
            "{after}: {error}"
        );
        assert!(firehose_logs_processor::support::error_chain(&error).contains("AccessDenied"));
        assert_eq!(store.stages.get(), after);
        assert_eq!(
            store.stage_attempts.get(),
            after + 1,
            "no stage asked for after the refusal"
        );
        assert!(store.outputs().is_empty() && store.staged.borrow().is_empty());
    }
    let body = testkit::gzip(text.as_bytes());
    let last_chunk = (body.len() - 1) / 777;
    assert!(last_chunk > 20, "the object is read in many chunks");
    for chunks in [0, 1, last_chunk / 2, last_chunk] {
        let store = MemoryStore {
            fail_reads_at: Some(chunks * 777),
            ..MemoryStore::default()
        };
        store.add(&key, body.clone());
        let error = run(&store, &key, SMALL_OUTPUTS).unwrap_err();
        let chain = firehose_logs_processor::support::error_chain(&error);
        assert!(
            matches!(error, ExportError::Read(_)) && chain.contains("connection reset"),
            "{chunks}: the read's error, not the short object's: {chain}"
        );
        if chunks >= last_chunk / 2 {
            assert!(
                store.stages.get() > 0,
                "{chunks}: outputs staged before the cut"
            );
        }
        assert!(store.outputs().is_empty() && store.staged.borrow().is_empty());
    }
}

/// A read cut exactly where a gzip member ends looks like the object's end to the
/// decoder: the conversion must not take it for one and finish its open outputs.
#[test]
fn a_read_cut_between_gzip_members_is_not_taken_for_the_end() {
    let (text, _) = three_days();
    let day_two = text.find("2026-11-02T").unwrap();
    let first = testkit::gzip(&text.as_bytes()[..day_two]);
    let key = source_key("s", "000000.gz");
    let alone = MemoryStore::default();
    alone.add(&key, first.clone());
    run(&alone, &key, SMALL_OUTPUTS).unwrap();
    let first_day_outputs = alone.stages.get();

    let store = MemoryStore {
        fail_reads_at: Some(first.len()),
        ..MemoryStore::default()
    };
    store.add(
        &key,
        [first, testkit::gzip(&text.as_bytes()[day_two..])].concat(),
    );
    let error = run(&store, &key, SMALL_OUTPUTS).unwrap_err();
    assert!(matches!(error, ExportError::Read(_)), "{error}");
    assert!(
        store.stage_attempts.get() < first_day_outputs,
        "the outputs still open at the cut were finished: {} of {first_day_outputs}",
        store.stage_attempts.get()
    );
    assert!(store.outputs().is_empty() && store.staged.borrow().is_empty());
}

/// Once the uploads have stopped, the conversion stops at its next chunk instead of
/// converting on to its next output (here, the rest of a long hour).
#[test]
fn the_conversion_stops_soon_after_the_uploads_stop() {
    let mut text = String::new();
    for hour in 0..2 {
        text.push_str(&format!("2026-11-01T0{hour}:00:00.000Z short hour\n"));
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..30_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        text.push_str(&format!(
            "2026-11-01T02:{:02}:00.000Z request {i} {state:016x}\n",
            i / 500
        ));
    }
    text.push_str("2026-11-01T03:00:00.000Z the next hour\n");
    let body = testkit::gzip(text.as_bytes());
    let chunks = body.len().div_ceil(777);
    assert!(chunks > 400, "{chunks}");

    let store = MemoryStore::default();
    store.add(&source_key("s", "000000.gz"), body);
    store.fail_stages_after.set(Some(0));
    let error = run(
        &store,
        &source_key("s", "000000.gz"),
        ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(error, ExportError::Write { .. }), "{error}");
    assert_eq!(store.stage_attempts.get(), 1);
    assert!(
        store.chunks_read.get() < chunks / 4,
        "read {} of {chunks} chunks after the uploads stopped",
        store.chunks_read.get()
    );
}

/// Publishing is one request per output: too close to the invocation's end, the outputs
/// are discarded, not left half published by a timeout.
#[test]
fn too_little_time_left_to_publish_discards_rather_than_half_publishes() {
    let (text, count) = three_days();
    let key = source_key("s", "000000.gz");
    let clean = MemoryStore::default();
    clean.add(&key, testkit::gzip(text.as_bytes()));
    run(&clean, &key, SMALL_OUTPUTS).unwrap();
    let rounds = clean.stages.get().div_ceil(8) as u32;
    assert!(rounds > 3, "{rounds}");

    // One round short of what publishing them all is given.
    let store = MemoryStore::default();
    store.add(&key, testkit::gzip(text.as_bytes()));
    let deadline = Instant::now() + PUBLISH_MARGIN + PUBLISH_ROUND * (rounds - 1);
    let error = run_until(&store, &key, SMALL_OUTPUTS, Some(deadline)).unwrap_err();
    assert!(matches!(error, ExportError::OutOfTime { .. }), "{error}");
    assert!(
        error.to_string().contains("ExportConverterMemoryMB"),
        "{error}"
    );
    assert!(store.outputs().is_empty() && store.staged.borrow().is_empty());

    // A few seconds more than that, and it converts.
    let roomy = Instant::now() + PUBLISH_MARGIN + PUBLISH_ROUND * rounds + Duration::from_secs(5);
    assert_eq!(
        run_until(&store, &key, SMALL_OUTPUTS, Some(roomy)).unwrap(),
        count
    );
    assert_eq!(store.outputs(), clean.outputs());
    assert!(store.staged.borrow().is_empty());
}

#[test]
fn a_refused_publish_fails_the_object_and_a_retry_completes_it() {
    let (text, count) = three_days();
    let key = source_key("s", "000000.gz");
    let clean = MemoryStore::default();
    clean.add(&key, testkit::gzip(text.as_bytes()));
    assert_eq!(run(&clean, &key, SMALL_OUTPUTS).unwrap(), count);
    let total = clean.outputs().len();

    let store = MemoryStore::default();
    store.add(&key, testkit::gzip(text.as_bytes()));
    store.refuse_publish.set(Some(5));
    let error = run(&store, &key, SMALL_OUTPUTS).unwrap_err();
    assert!(matches!(error, ExportError::Write { .. }), "{error}");
    assert!(firehose_logs_processor::support::error_chain(&error).contains("SlowDown"));
    assert_eq!(
        store.outputs().len(),
        total - 1,
        "the others are published all the same"
    );
    assert!(
        store.staged.borrow().is_empty(),
        "the refused one is discarded"
    );

    // The retry (S3 redelivers, or the on-failure destination's replay) completes it.
    store.refuse_publish.set(None);
    assert_eq!(run(&store, &key, SMALL_OUTPUTS).unwrap(), count);
    assert_eq!(store.outputs(), clean.outputs());
}

#[test]
fn large_objects_are_cut_and_nothing_is_lost() {
    let (text, count) = three_days();
    for (layout, _) in PartitionLayout::ALL {
        let store = MemoryStore::default();
        let key = source_key("s", "000000.gz");
        store.add(&key, testkit::gzip(text.as_bytes()));
        let options = ConvertOptions {
            layout,
            ..SMALL_OUTPUTS
        };
        assert_eq!(run(&store, &key, options).unwrap(), count);
        let got = lines(&store.outputs());
        assert_eq!(got.len() as u64, count, "{layout:?}");
        let mut messages: Vec<&str> = got
            .iter()
            .map(|(_, l)| l["message"].as_str().unwrap())
            .collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(
            messages.len() as u64,
            count,
            "{layout:?}: every event exactly once"
        );
        assert!(store.outputs().len() > 3, "{layout:?}: outputs are cut");
    }
}

/// The converter writes under the prefixes the delivery stream's `Prefix` expression
/// gives, for every `PartitionLayout` the template offers.
#[test]
fn output_prefixes_follow_the_templates_prefix_expression() {
    let template = cfn::load("template.yaml");
    let offered: Vec<&str> = cfn::get(
        &template,
        &["Parameters", "PartitionLayout", "AllowedValues"],
    )
    .as_sequence()
    .unwrap()
    .iter()
    .map(cfn::as_str)
    .collect();
    let known: Vec<&str> = PartitionLayout::ALL.iter().map(|(_, name)| *name).collect();
    assert_eq!(offered, known);
    let expression = cfn::get(
        &template,
        &[
            "Resources",
            "DeliveryStream",
            "Properties",
            "ExtendedS3DestinationConfiguration",
            "Prefix",
        ],
    );
    let time =
        firehose_logs_processor::transform::time::UtcTime::from_millis(1_795_329_660_012).unwrap();
    let keys = firehose_logs_processor::transform::partition::PartitionKeys::new(
        firehose_logs_processor::transform::schema::KIND_LOGS,
        ACCOUNT,
        GROUP,
        time,
    );
    for (layout, name) in PartitionLayout::ALL {
        let resolver = cfn::Resolver::new(&template).with("PartitionLayout", name);
        let mut prefix = resolver.text(expression);
        // The converter knows the layout only: the stream's prefix must depend on nothing
        // else.
        assert_eq!(
            resolver.parameters_read(),
            BTreeSet::from(["PartitionLayout".to_owned()]),
            "{name}"
        );
        for (key, value) in keys.pairs() {
            prefix = prefix.replace(&format!("!{{partitionKeyFromLambda:{key}}}"), value);
        }
        assert_eq!(prefix, layout.prefix(&keys), "{name}");
    }
}

/// The converted objects, key and bytes, for every layout and both the default and the
/// small output sizes, over the sample events, moto's format and three days of events:
/// recorded digests (see [`crate::golden`]).
#[test]
fn converted_objects_match_the_recorded_digests() {
    use std::fmt::Write as _;
    let (three_days_text, _) = three_days();
    let inputs = [
        ("events", testkit::gzip(export_text(&EVENTS).as_bytes())),
        (
            "moto",
            [
                testkit::gzip(b"2026-11-02T00:00:00Z hello from the past\n"),
                testkit::gzip(b"2026-11-02T00:00:01Z second member\ncontinued\n"),
            ]
            .concat(),
        ),
        ("three-days", testkit::gzip(three_days_text.as_bytes())),
    ];
    let mut out = String::new();
    for (layout, _) in PartitionLayout::ALL {
        for (size, base) in [
            ("default", ConvertOptions::default()),
            ("small", SMALL_OUTPUTS),
        ] {
            for parse_json_messages in [false, true] {
                let options = ConvertOptions {
                    layout,
                    parse_json_messages,
                    ..base
                };
                for (name, body) in &inputs {
                    let store = MemoryStore::default();
                    let key = source_key("2026-11-21-[$LATEST]cb2c7d0c", "000000.gz");
                    store.add(&key, body.clone());
                    let events = run(&store, &key, options).unwrap();
                    writeln!(
                        out,
                        "{layout:?} {size} json={parse_json_messages} {name} events {events}"
                    )
                    .unwrap();
                    for (output_key, bytes) in store.outputs() {
                        writeln!(out, "  {output_key} {}", crate::golden::digest(&bytes)).unwrap();
                    }
                }
            }
        }
    }
    crate::golden::check("exports.txt", &out);
}
