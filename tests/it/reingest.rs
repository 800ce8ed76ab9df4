//! Re-ingestion under faults, through a scripted stand-in for the AWS streams:
//! throttling, partial failures, calls that hang, and a deadline that runs out
//! mid-retry. Whatever happens, every record ends delivered, re-ingested or
//! `ProcessingFailed`, and nothing is reported put back that the sink did not accept.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use firehose_logs_processor::processor::reingest::{
    reingest, PutEntry, RecordSink, SinkError, Target,
};
use firehose_logs_processor::{Config, FirehoseRequest, Metrics, Processor, ReingestPayload};
use testkit::{data_message, decode_response, firehose_event, gzip};
use tokio::time::Instant;

/// What the stand-in does with one call.
#[derive(Debug, Clone)]
enum Behaviour {
    AcceptAll,
    /// Throttle every other entry, as a partial `FailedPutCount`.
    ThrottleEveryOther,
    /// Fail the whole call.
    Throttled,
    /// Never answer within any deadline.
    Hang,
    /// Fail the whole call in a way no retry cures (a missing stream, a denied permission).
    Denied,
}

#[derive(Default)]
struct ScriptedSink {
    script: RefCell<VecDeque<Behaviour>>,
    accepted: RefCell<Vec<Vec<u8>>>,
    calls: RefCell<Vec<usize>>,
}

impl ScriptedSink {
    fn new(script: &[Behaviour]) -> Self {
        Self {
            script: RefCell::new(script.iter().cloned().collect()),
            ..Self::default()
        }
    }
}

impl RecordSink for ScriptedSink {
    async fn put(
        &self,
        _target: &Target,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<Option<String>>, SinkError> {
        self.calls.borrow_mut().push(entries.len());
        let behaviour = self
            .script
            .borrow_mut()
            .pop_front()
            .unwrap_or(Behaviour::AcceptAll);
        match behaviour {
            Behaviour::AcceptAll => {
                self.accepted
                    .borrow_mut()
                    .extend(entries.iter().map(|e| e.data.to_vec()));
                Ok(vec![None; entries.len()])
            }
            Behaviour::ThrottleEveryOther => Ok(entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    if i % 2 == 0 {
                        self.accepted.borrow_mut().push(entry.data.to_vec());
                        None
                    } else {
                        Some("ServiceUnavailableException".to_owned())
                    }
                })
                .collect()),
            Behaviour::Throttled => Err(SinkError {
                message: "ThrottlingException: Rate exceeded".into(),
                retryable: true,
            }),
            Behaviour::Denied => Err(SinkError {
                message: "AccessDeniedException".into(),
                retryable: false,
            }),
            Behaviour::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(vec![None; entries.len()])
            }
        }
    }
}

fn items(count: usize) -> Vec<ReingestPayload> {
    (0..count)
        .map(|i| ReingestPayload {
            record_index: i,
            data: format!("payload-{i}").into_bytes(),
            partition_key: "k".into(),
        })
        .collect()
}

fn target() -> Target {
    Target::DeliveryStream("logs".into())
}

#[tokio::test(start_paused = true)]
async fn only_failed_entries_are_retried_until_all_are_in() {
    let sink = ScriptedSink::new(&[Behaviour::Throttled, Behaviour::ThrottleEveryOther]);
    let items = items(10);
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = reingest(&sink, Some(&target()), &items, deadline).await;
    assert_eq!(report.delivered, vec![true; 10]);
    // 10 (whole call throttled), 10 (half throttled), then only the 5 that failed.
    assert_eq!(*sink.calls.borrow(), [10, 10, 5]);
    assert_eq!(report.retries, 15);
    let mut accepted = sink.accepted.borrow().clone();
    accepted.sort();
    let mut expected: Vec<Vec<u8>> = items.iter().map(|i| i.data.clone()).collect();
    expected.sort();
    assert_eq!(accepted, expected, "each payload accepted exactly once");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let sink = ScriptedSink::new(&[Behaviour::Denied]);
    let start = Instant::now();
    let report = reingest(
        &sink,
        Some(&target()),
        &items(4),
        start + Duration::from_secs(60),
    )
    .await;
    assert_eq!(report.delivered, vec![false; 4]);
    assert_eq!(*sink.calls.borrow(), [4], "one call, no retry");
    assert!(
        Instant::now() - start < Duration::from_secs(1),
        "no time spent waiting"
    );
}

/// An error no retry can cure (no credentials, access denied, no such stream) ends
/// re-ingestion at its first occurrence: no further call, no waiting for the deadline,
/// and the cause is reported for the records concerned.
#[tokio::test(start_paused = true)]
async fn a_permanent_error_stops_every_later_call() {
    let sink = ScriptedSink::new(&[
        Behaviour::ThrottleEveryOther,
        Behaviour::Throttled,
        Behaviour::Denied,
    ]);
    let start = Instant::now();
    // 1,200 entries: three calls of at most 500 in the first round.
    let report = reingest(
        &sink,
        Some(&target()),
        &items(1200),
        start + Duration::from_secs(600),
    )
    .await;
    assert_eq!(
        *sink.calls.borrow(),
        [500, 500, 200],
        "nothing after the denial"
    );
    assert_eq!(report.delivered.iter().filter(|d| **d).count(), 250);
    assert_eq!(report.stopped_by.as_deref(), Some("AccessDeniedException"));
    assert_eq!(report.retries, 0, "nothing retried after a permanent error");
    assert!(Instant::now() - start < Duration::from_millis(1));
}

/// The records whose payloads did not go back because of a permanent error are
/// `ProcessingFailed`, the metrics count them apart, and a transient failure is not
/// counted as permanent.
#[tokio::test(start_paused = true)]
async fn permanent_failures_are_processing_failed_and_counted() {
    let (_, mut request, mut processor) = overflowing_batch();
    let sink = ScriptedSink::new(&[Behaviour::Denied]);
    let Reingested {
        response, metrics, ..
    } = plan_and_reingest(&mut processor, &mut request, &sink, Duration::from_secs(60)).await;
    // The rebuilt response is the one handed over to be posted, and the next invocation
    // starts from a clean buffer.
    assert_eq!(processor.take_response(), response);
    assert!(processor.take_response().is_empty());
    let decoded = decode_response(&response).unwrap();
    let failed = decoded
        .iter()
        .filter(|r| r.result == "ProcessingFailed")
        .count() as u64;
    assert!(failed > 0);
    assert_eq!(metrics.reingest_permanent_errors, failed, "{metrics:?}");
    assert_eq!(metrics.reingest_failures, failed);
    assert_eq!(metrics.put_retries, 0);

    let (_, mut request, mut processor) = overflowing_batch();
    let sink = ScriptedSink::new(&[Behaviour::Hang]);
    let metrics = plan_and_reingest(&mut processor, &mut request, &sink, Duration::from_secs(1))
        .await
        .metrics;
    assert!(metrics.reingest_failures > 0);
    assert_eq!(metrics.reingest_permanent_errors, 0, "{metrics:?}");
}

/// Twelve records of 200 events each against a 600 kB budget: some must be re-ingested.
/// The records (id, data), their request, and the processor with that budget.
fn overflowing_batch() -> (Vec<(String, Vec<u8>)>, FirehoseRequest, Processor) {
    let records: Vec<(String, Vec<u8>)> = (0..12)
        .map(|r| {
            let events = (0..200)
                .map(|e| {
                    serde_json::json!({"id": format!("{r}-{e}"), "timestamp": 1_795_329_660_000i64 + e,
                                       "message": format!("{r}-{e} {}", "x".repeat(300))})
                })
                .collect();
            let payload = data_message("123456789012", "/aws/lambda/app", "s", events);
            (format!("record-{r}"), gzip(payload.to_string().as_bytes()))
        })
        .collect();
    let request: FirehoseRequest = serde_json::from_value(firehose_event(&records)).unwrap();
    let config = Config {
        response_budget_bytes: 600_000,
        ..Config::default()
    };
    (records, request, Processor::new(config))
}

/// What planning a batch, putting its payloads back and finishing the plan gave.
struct Reingested {
    payloads: Vec<ReingestPayload>,
    response: Vec<u8>,
    metrics: Metrics,
}

/// Plans the batch, puts its payloads back through `sink` for `within` from now, and
/// finishes the plan.
async fn plan_and_reingest(
    processor: &mut Processor,
    request: &mut FirehoseRequest,
    sink: &ScriptedSink,
    within: Duration,
) -> Reingested {
    let plan = processor.plan(request);
    let payloads = plan.payloads().to_vec();
    let deadline = Instant::now() + within;
    let target = Target::for_request(plan.request());
    let report = reingest(sink, target.as_ref(), &payloads, deadline).await;
    let processed = plan.finish(&report);
    Reingested {
        response: processed.response.to_vec(),
        metrics: processed.metrics,
        payloads,
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_stream_is_abandoned_at_the_deadline() {
    let sink = ScriptedSink::new(&[Behaviour::Hang, Behaviour::Hang, Behaviour::Hang]);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    let report = reingest(&sink, Some(&target()), &items(3), deadline).await;
    assert_eq!(report.delivered, vec![false; 3]);
    assert!(Instant::now() <= deadline + Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_running_out_mid_retry_reports_only_what_went_in() {
    let script: Vec<Behaviour> = std::iter::once(Behaviour::ThrottleEveryOther)
        .chain(std::iter::repeat_n(Behaviour::Throttled, 1000))
        .collect();
    let sink = ScriptedSink::new(&script);
    let deadline = Instant::now() + Duration::from_secs(3);
    let report = reingest(&sink, Some(&target()), &items(8), deadline).await;
    let delivered: Vec<usize> = (0..8).filter(|i| report.delivered[*i]).collect();
    assert_eq!(delivered, [0, 2, 4, 6]);
    assert!(Instant::now() <= deadline);
    assert!(
        sink.calls.borrow().len() > 2,
        "retried while there was time"
    );
}

#[tokio::test(start_paused = true)]
async fn oversized_payloads_and_a_missing_target_fail_without_a_call() {
    let sink = ScriptedSink::default();
    let mut big = items(1);
    big[0].data = vec![0; 1_024_001];
    let deadline = Instant::now() + Duration::from_secs(5);
    assert_eq!(
        reingest(&sink, Some(&target()), &big, deadline)
            .await
            .delivered,
        [false]
    );
    assert_eq!(
        reingest(&sink, None, &items(2), deadline).await.delivered,
        [false, false]
    );
    assert!(sink.calls.borrow().is_empty());
}

/// The whole path: a batch too large for one response, re-ingested through a stream
/// that throttles, then goes away: every record is answered, and the ones whose
/// payloads did not all go in are `ProcessingFailed` (Firehose keeps them).
#[tokio::test(start_paused = true)]
async fn every_record_ends_delivered_reingested_or_failed() {
    let (records, mut request, mut processor) = overflowing_batch();
    let sink = ScriptedSink::new(&[
        Behaviour::Throttled,
        Behaviour::ThrottleEveryOther,
        Behaviour::Hang,
    ]);
    let Reingested {
        payloads: items,
        response,
        metrics,
    } = plan_and_reingest(&mut processor, &mut request, &sink, Duration::from_secs(10)).await;
    assert!(items.len() >= 4, "the batch must not fit");
    assert!(
        items
            .iter()
            .all(|item| records.iter().any(|(_, data)| *data == item.data)),
        "records that fit a later response alone travel as they came"
    );
    let decoded = decode_response(&response).unwrap();
    assert_eq!(decoded.len(), records.len());
    let accepted = sink.accepted.borrow();
    for (index, record) in decoded.iter().enumerate() {
        let own: Vec<&ReingestPayload> = items.iter().filter(|i| i.record_index == index).collect();
        match record.result.as_str() {
            "Ok" => assert!(own.is_empty()),
            "Dropped" => assert!(own.iter().all(|i| accepted.contains(&i.data))),
            "ProcessingFailed" => assert!(own.iter().any(|i| !accepted.contains(&i.data))),
            other => panic!("{other}"),
        }
    }
    assert!(
        metrics.records_ok > 0 && metrics.records_reingested > 0 && metrics.reingest_failures > 0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics.records_ok + metrics.records_dropped + metrics.records_processing_failed,
        records.len() as u64
    );
}
