//! The export converter's core over an in-memory store: objects in the service's
//! documented format (and moto's) become live lines under live prefixes, every event
//! exactly once; a second run writes the same objects; an object that does not read
//! completely writes nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;

use firehose_logs_processor::export::key::destination_prefix;
use firehose_logs_processor::export::{
    convert_object, ConvertOptions, ExportError, ExportObject, ObjectBody, ObjectStore, StoreError,
};
use firehose_logs_processor::partition::{key_segment, PartitionLayout};
use serde_json::Value;

/// Objects in memory, served in small chunks; puts can be made to fail.
#[derive(Default)]
struct MemoryStore {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
    gets: RefCell<Vec<(String, Option<String>)>>,
    fail_puts: bool,
}

struct MemoryBody(Vec<u8>, usize);

impl ObjectBody for MemoryBody {
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, StoreError> {
        if self.1 >= self.0.len() {
            return Ok(None);
        }
        let end = (self.1 + 777).min(self.0.len());
        let chunk = bytes::Bytes::copy_from_slice(&self.0[self.1..end]);
        self.1 = end;
        Ok(Some(chunk))
    }
}

impl ObjectStore for MemoryStore {
    type Body = MemoryBody;

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<(MemoryBody, Option<String>), StoreError> {
        self.gets
            .borrow_mut()
            .push((key.to_owned(), if_match.map(str::to_owned)));
        let body = self
            .objects
            .borrow()
            .get(&format!("{bucket}/{key}"))
            .cloned()
            .ok_or("NoSuchKey")?;
        Ok((MemoryBody(body, 0), Some("\"etag-1\"".to_owned())))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        if self.fail_puts {
            return Err("AccessDenied".into());
        }
        self.objects
            .borrow_mut()
            .insert(format!("{bucket}/{key}"), body);
        Ok(())
    }
}

impl MemoryStore {
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
    let source = ExportObject::parse(key, "exports").expect("key follows the convention");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(convert_object(store, "bucket", source, key, options))
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

#[test]
fn every_event_lands_once_in_its_partition() {
    let store = MemoryStore::default();
    let key = source_key("2026-11-21-[$LATEST]cb2c7d0c", "000000.gz");
    store.add(&key, testkit::gzip(export_text(&EVENTS).as_bytes()));
    assert_eq!(run(&store, &key, ConvertOptions::default()).unwrap(), 6);
    // Pass 2 read the version pass 1 read.
    assert_eq!(store.gets.borrow()[1].1.as_deref(), Some("\"etag-1\""));

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
        let chain = firehose_logs_processor::batch::error_chain(&error);
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
    let store = MemoryStore {
        fail_puts: true,
        ..MemoryStore::default()
    };
    let key = source_key("s", "000000.gz");
    store.add(&key, testkit::gzip(export_text(&EVENTS).as_bytes()));
    let error = run(&store, &key, ConvertOptions::default()).unwrap_err();
    assert!(matches!(error, ExportError::Write { .. }), "{error}");
    assert!(firehose_logs_processor::batch::error_chain(&error).contains("AccessDenied"));
}

#[test]
fn large_objects_are_cut_and_nothing_is_lost() {
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
    for (layout, _) in PartitionLayout::ALL {
        let store = MemoryStore::default();
        let key = source_key("s", "000000.gz");
        store.add(&key, testkit::gzip(text.as_bytes()));
        let options = ConvertOptions {
            layout,
            object_bytes: 4096,
            ..ConvertOptions::default()
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
    use serde_norway::Value as Yaml;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let template: Yaml = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let offered: Vec<&str> = template["Parameters"]["PartitionLayout"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    let known: Vec<&str> = PartitionLayout::ALL.iter().map(|(_, name)| *name).collect();
    assert_eq!(offered, known);

    /// Evaluates a condition built from `!Or`/`!Equals` on `!Ref PartitionLayout`.
    fn condition(value: &Yaml, layout: &str) -> bool {
        let Yaml::Tagged(tagged) = value else {
            panic!("unexpected condition {value:?}")
        };
        let args = tagged.value.as_sequence().unwrap();
        match tagged.tag.to_string().as_str() {
            "!Or" => args.iter().any(|arg| condition(arg, layout)),
            "!Equals" => {
                let operand = |value: &Yaml| match value {
                    Yaml::Tagged(reference) if reference.tag == "!Ref" => {
                        assert_eq!(reference.value.as_str(), Some("PartitionLayout"));
                        layout.to_owned()
                    }
                    other => other.as_str().unwrap().to_owned(),
                };
                operand(&args[0]) == operand(&args[1])
            }
            other => panic!("unexpected condition function {other}"),
        }
    }

    /// Evaluates the `!Join ["", [...]]` of strings and `!If [Condition, a, b]`.
    fn evaluate(template: &Yaml, value: &Yaml, layout: &str) -> String {
        match value {
            Yaml::String(text) => text.clone(),
            Yaml::Tagged(tagged) => {
                let args = tagged.value.as_sequence().unwrap();
                match tagged.tag.to_string().as_str() {
                    "!Join" => args[1]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|part| evaluate(template, part, layout))
                        .collect::<Vec<_>>()
                        .join(args[0].as_str().unwrap()),
                    "!If" => {
                        let name = args[0].as_str().unwrap();
                        let holds = condition(&template["Conditions"][name], layout);
                        evaluate(template, &args[if holds { 1 } else { 2 }], layout)
                    }
                    other => panic!("unexpected function {other}"),
                }
            }
            other => panic!("unexpected value {other:?}"),
        }
    }

    let expression = &template["Resources"]["DeliveryStream"]["Properties"]
        ["ExtendedS3DestinationConfiguration"]["Prefix"];
    let time = firehose_logs_processor::time::UtcTime::from_millis(1_795_329_660_012).unwrap();
    let keys = firehose_logs_processor::partition::PartitionKeys::new(
        firehose_logs_processor::schema::KIND_LOGS,
        ACCOUNT,
        GROUP,
        time,
    );
    for (layout, name) in PartitionLayout::ALL {
        let mut prefix = evaluate(&template, expression, name);
        for (key, value) in keys.pairs() {
            prefix = prefix.replace(&format!("!{{partitionKeyFromLambda:{key}}}"), value);
        }
        assert_eq!(prefix, layout.prefix(&keys), "{name}");
    }
}
