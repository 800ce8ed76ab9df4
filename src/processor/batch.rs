//! The whole invocation: every record transformed on its own, the response kept
//! within its byte budget, and every recordId answered exactly once.
//!
//! Processing has two steps around the (asynchronous) re-ingestion done by the caller:
//! [`Processor::plan`] transforms the records, writes the response as it will be when
//! every payload to re-ingest is put back, and returns a [`Plan`] listing those payloads;
//! [`Plan::finish`] takes the re-ingestion's report and writes the final response: a
//! record is `Dropped` only when all of its payloads were put back, and
//! `ProcessingFailed` (kept by Firehose) otherwise.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::processor::config::Config;
use crate::processor::metrics::Metrics;
use crate::support::{error_chain, panic_text};
use crate::transform::error::RecordError;
use crate::transform::firehose::{
    close_response, entry_without_data_len, ok_entry_len, open_response, response_overhead,
    write_entry_without_data, write_ok_entry, FirehoseRecord, FirehoseRequest, RecordResult,
};
use crate::transform::record::{
    OwnLogGroup, RecordOptions, RecordTransformer, Reingest, Transformed,
};

/// Largest response budget reserved up front (Lambda's own limit is 6 MB).
const MAX_RESERVED_RESPONSE_BYTES: usize = 16 << 20;

/// A payload to put back into the stream, on behalf of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReingestPayload {
    /// Index of the record in the request.
    pub record_index: usize,
    /// The payload: a whole original record, or a re-encoded part of one.
    pub data: Vec<u8>,
    /// Partition key for a Kinesis data stream: the original record's.
    pub partition_key: String,
}

/// What an `Ok` entry carries, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OkEntry {
    lines: usize,
    bytes: usize,
}

impl OkEntry {
    fn count(&self, metrics: &mut Metrics) {
        metrics.records_ok += 1;
        metrics.log_events_out += self.lines as u64;
        metrics.bytes_out += self.bytes as u64;
    }
}

/// How one record is answered, and where its entry is in the planned response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    /// The entry's bytes in the planned response.
    range: Range<usize>,
    kind: AnswerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AnswerKind {
    Ok(OkEntry),
    Without(RecordResult),
    /// Decided by re-ingestion of `payloads`: all put back means `ok` (or `Dropped` when
    /// nothing stays in this response), which is what the planned entry says; anything
    /// not put back means `ProcessingFailed`.
    Pending {
        ok: Option<OkEntry>,
        payloads: Range<usize>,
    },
}

/// Transforms batches, keeping its buffers from one invocation to the next so that a
/// warm function does not allocate (and page-fault) its working memory again; the
/// response buffer alone is handed over ([`Processor::take_response`]) and reserved
/// again, from the memory the allocator got back.
///
/// Entries are written once, straight into the response as it will be when every
/// re-ingested payload is put back (the usual case). Only when some are not is a second
/// response assembled from it, with those records `ProcessingFailed`.
#[derive(Debug)]
pub struct Processor {
    config: Config,
    transformer: RecordTransformer,
    /// One record's lines.
    lines: Vec<u8>,
    /// The response: as planned (every payload put back) until the plan is finished,
    /// then as final.
    response: Vec<u8>,
    /// Where a response is rebuilt when some payloads were not put back.
    spare: Vec<u8>,
    answers: Vec<Answer>,
    metrics: Metrics,
    started: Option<Instant>,
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Processed<'a> {
    /// The serialized response, exactly as Firehose receives it.
    pub response: &'a [u8],
    /// The invocation's counters.
    pub metrics: Metrics,
}

/// What re-ingestion achieved, payload by payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReingestReport {
    /// For each [`ReingestPayload`], whether it was put back.
    pub delivered: Vec<bool>,
    /// Put calls' entries that were retried.
    pub retries: u64,
    /// The error no retry can cure that ended re-ingestion early (no credentials, access
    /// denied, no such stream), when one did: the reason given for the records concerned.
    pub stopped_by: Option<String>,
}

impl ReingestReport {
    /// The report of `payloads` payloads none of which was put back.
    pub fn nothing_put_back(payloads: usize) -> Self {
        Self {
            delivered: vec![false; payloads],
            ..Self::default()
        }
    }

    /// Whether every payload of `range` was put back.
    fn all_put_back(&self, range: &Range<usize>) -> bool {
        range
            .clone()
            .all(|payload| self.delivered.get(payload).copied().unwrap_or(false))
    }
}

impl Processor {
    /// A processor with these settings.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            transformer: RecordTransformer::default(),
            lines: Vec::new(),
            response: Vec::new(),
            spare: Vec::new(),
            answers: Vec::new(),
            metrics: Metrics::default(),
            started: None,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Parses a request and processes it without re-ingestion (whatever would be
    /// re-ingested is `ProcessingFailed`). Only a request that is not a Firehose
    /// transformation event at all is an error; bad records never are.
    pub fn process_json(&mut self, request: &[u8]) -> Result<Processed<'_>, serde_json::Error> {
        let request: FirehoseRequest = serde_json::from_slice(request)?;
        Ok(self.process(&request))
    }

    /// Transforms every record and writes the response, without re-ingestion.
    pub fn process(&mut self, request: &FirehoseRequest) -> Processed<'_> {
        let payloads = self.transform_all(request);
        let report = ReingestReport::nothing_put_back(payloads.len());
        self.finish_all(request, &payloads, &report)
    }

    /// Transforms every record and writes the response as it will be when every payload
    /// to re-ingest is put back; the [`Plan`] lists those payloads and, once their
    /// re-ingestion is known, writes the final response.
    pub fn plan<'r>(&mut self, request: &'r mut FirehoseRequest) -> Plan<'_, 'r> {
        let payloads = self.transform_all(request);
        Plan {
            processor: self,
            request,
            payloads,
        }
    }

    /// Hands over the buffer of the response [`Plan::finish`] last wrote, so that it can
    /// be sent without a copy. The next [`Processor::plan`] reserves a new one, which a
    /// warm allocator serves from the memory this one is freed into.
    pub fn take_response(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.response)
    }

    /// Transforms every record into the response; returns the payloads to put back.
    fn transform_all(&mut self, request: &FirehoseRequest) -> Vec<ReingestPayload> {
        self.start(request);
        let mut room = ResponseRoom::new(self.config.response_budget_bytes, request);
        // The loop guard knows the function's account from the stream's ARN: Firehose
        // only invokes processors of its own account. (A copy of the group's name, so
        // that the records' work may borrow the processor.)
        let own_log_group_name = self.config.own_log_group.clone();
        let own_log_group = own_log_group_name
            .as_deref()
            .zip(request.account())
            .map(|(log_group, account)| OwnLogGroup { account, log_group });
        let mut payloads = Vec::new();
        for (index, record) in request.records.iter().enumerate() {
            if index > 0 {
                self.response.push(b',');
            }
            let entry_start = self.response.len();
            let options = RecordOptions {
                max_decompressed_bytes: self.config.max_decompressed_bytes,
                parse_json_messages: self.config.parse_json_messages,
                split_by_event_hour: self.config.split_by_event_hour,
                max_entry_bytes: room.for_entry(&record.record_id),
                // A quarter of the budget: a re-ingested payload then fits a later
                // response beside other records, not only in an empty one.
                payload_output_bytes: self.config.response_budget_bytes / 4,
                own_log_group,
            };
            let result = self.transform_guarded(record, options);
            let queued = Queue {
                record_index: index,
                record,
                payloads: &mut payloads,
            };
            let kind = self.answer(record, result, &mut room, queued);
            self.write_entry_without_data(&record.record_id, &kind);
            self.answers.push(Answer {
                range: entry_start..self.response.len(),
                kind,
            });
        }
        close_response(&mut self.response);
        payloads
    }

    /// Resets the counters and opens the response.
    fn start(&mut self, request: &FirehoseRequest) {
        self.started = Some(Instant::now());
        self.metrics = Metrics {
            records_in: request.records.len() as u64,
            ..Metrics::default()
        };
        self.response.clear();
        // A response never outgrows its budget: room for all of it at once, so that it is
        // never regrown (and re-faulted) while it is written.
        if self.config.response_budget_bytes <= MAX_RESERVED_RESPONSE_BYTES {
            self.response.reserve(self.config.response_budget_bytes);
        }
        open_response(&mut self.response);
        self.answers.clear();
    }

    /// One record into `self.lines`; a panic in the transformation fails this record
    /// alone.
    fn transform_guarded(
        &mut self,
        record: &FirehoseRecord,
        options: RecordOptions<'_>,
    ) -> Result<Transformed, RecordError> {
        self.lines.clear();
        let (transformer, lines) = (&mut self.transformer, &mut self.lines);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            transformer.transform(record, options, lines)
        }));
        let (result, decompressed_bytes) = match outcome {
            Ok(outcome) => (outcome.result, outcome.decompressed_bytes),
            Err(panic) => {
                let text = panic_text(panic.as_ref()).unwrap_or_else(|| "panic".to_owned());
                (Err(RecordError::Panic(text)), 0)
            }
        };
        self.metrics.bytes_in_decompressed += decompressed_bytes as u64;
        result
    }

    /// How the record is answered; an `Ok` entry is written here, while its keys are at
    /// hand.
    fn answer(
        &mut self,
        record: &FirehoseRecord,
        result: Result<Transformed, RecordError>,
        room: &mut ResponseRoom,
        queue: Queue<'_, '_>,
    ) -> AnswerKind {
        let id = record.record_id.as_str();
        match result {
            Ok(Transformed::Control) => AnswerKind::Without(RecordResult::Dropped),
            Ok(Transformed::SelfSourced) => {
                // Not logged: a log line here would travel the same loop again.
                self.metrics.records_self_sourced += 1;
                AnswerKind::Without(RecordResult::Dropped)
            }
            Ok(Transformed::Lines {
                keys,
                lines,
                other_hours,
            }) => {
                if !room.take(ok_entry_len(id, self.lines.len(), &keys), id) {
                    // The record sized its output against this very room; reaching here
                    // is a bug, and the record is kept by Firehose.
                    record_failed(id, &RecordError::Panic("output outgrew its size".into()));
                    return AnswerKind::Without(RecordResult::ProcessingFailed);
                }
                write_ok_entry(&mut self.response, id, &self.lines, &keys);
                let ok = OkEntry {
                    lines,
                    bytes: self.lines.len(),
                };
                if other_hours.is_empty() {
                    return AnswerKind::Ok(ok);
                }
                self.metrics.record_splits += 1;
                AnswerKind::Pending {
                    ok: Some(ok),
                    payloads: queue.push(other_hours),
                }
            }
            Ok(Transformed::Reingest(reingest)) => {
                self.metrics.records_over_budget += 1;
                let payloads = match reingest {
                    Reingest::Original => vec![self.transformer.original().to_vec()],
                    Reingest::Payloads(payloads) => {
                        if payloads.len() > 1 {
                            self.metrics.record_splits += 1;
                        }
                        payloads
                    }
                };
                AnswerKind::Pending {
                    ok: None,
                    payloads: queue.push(payloads),
                }
            }
            Err(error) => {
                record_failed(id, &error);
                AnswerKind::Without(RecordResult::ProcessingFailed)
            }
        }
    }

    /// Writes the entry of an answer that carries no data (an `Ok` one is written
    /// already). A record whose every payload travels again is `Dropped` as planned.
    fn write_entry_without_data(&mut self, id: &str, kind: &AnswerKind) {
        match kind {
            AnswerKind::Ok(_) | AnswerKind::Pending { ok: Some(_), .. } => {}
            AnswerKind::Without(result) => {
                write_entry_without_data(&mut self.response, id, *result)
            }
            AnswerKind::Pending { ok: None, .. } => {
                write_entry_without_data(&mut self.response, id, RecordResult::Dropped);
            }
        }
    }

    /// The response for `request` as transformed last, now that `report` says which of
    /// its `payloads` were put back.
    fn finish_all(
        &mut self,
        request: &FirehoseRequest,
        payloads: &[ReingestPayload],
        report: &ReingestReport,
    ) -> Processed<'_> {
        let as_planned = self.count_answers(request, payloads, report);
        self.metrics.duration_ms = self
            .started
            .map_or(0, |started| started.elapsed().as_millis() as u64);
        if !as_planned {
            self.rebuild_response(request, report);
        }
        Processed {
            response: &self.response,
            metrics: self.metrics,
        }
    }

    /// Counts every answer into the metrics, logging the records whose payloads did not
    /// all go back; whether the response stands as planned.
    fn count_answers(
        &mut self,
        request: &FirehoseRequest,
        payloads: &[ReingestPayload],
        report: &ReingestReport,
    ) -> bool {
        let metrics = &mut self.metrics;
        metrics.put_retries = report.retries;
        let mut as_planned = true;
        for (record, answer) in request.records.iter().zip(&self.answers) {
            match &answer.kind {
                AnswerKind::Ok(ok) => ok.count(metrics),
                AnswerKind::Without(RecordResult::Dropped) => metrics.records_dropped += 1,
                AnswerKind::Without(_) => metrics.records_processing_failed += 1,
                AnswerKind::Pending {
                    ok,
                    payloads: range,
                } if report.all_put_back(range) => {
                    metrics.bytes_reingested += payloads[range.clone()]
                        .iter()
                        .map(|payload| payload.data.len() as u64)
                        .sum::<u64>();
                    match ok {
                        Some(ok) => ok.count(metrics),
                        None => {
                            metrics.records_dropped += 1;
                            metrics.records_reingested += 1;
                        }
                    }
                }
                AnswerKind::Pending { .. } => {
                    as_planned = false;
                    metrics.records_processing_failed += 1;
                    metrics.reingest_failures += 1;
                    let error = match &report.stopped_by {
                        Some(cause) => {
                            metrics.reingest_permanent_errors += 1;
                            RecordError::ReingestStopped(cause.clone())
                        }
                        None => RecordError::ReingestFailed,
                    };
                    record_failed(&record.record_id, &error);
                }
            }
        }
        as_planned
    }

    /// Some payloads did not go back: their records become `ProcessingFailed`, so that
    /// Firehose keeps them; every other entry is copied as planned.
    fn rebuild_response(&mut self, request: &FirehoseRequest, report: &ReingestReport) {
        self.spare.clear();
        open_response(&mut self.spare);
        for (index, (record, answer)) in request.records.iter().zip(&self.answers).enumerate() {
            if index > 0 {
                self.spare.push(b',');
            }
            match &answer.kind {
                AnswerKind::Pending { payloads, .. } if !report.all_put_back(payloads) => {
                    write_entry_without_data(
                        &mut self.spare,
                        &record.record_id,
                        RecordResult::ProcessingFailed,
                    );
                }
                _ => self
                    .spare
                    .extend_from_slice(&self.response[answer.range.clone()]),
            }
        }
        close_response(&mut self.spare);
        // The response is always the one in `response`, for `take_response`; the planned
        // one's buffer becomes the next rebuild's.
        std::mem::swap(&mut self.response, &mut self.spare);
    }
}

/// A request transformed, its response written as it will be when every payload to
/// re-ingest is put back, waiting for that re-ingestion's outcome.
///
/// [`Plan::finish`] consumes it, so a plan is finished once, and with its own request.
#[derive(Debug)]
#[must_use = "a plan is finished with the re-ingestion's report"]
pub struct Plan<'p, 'r> {
    processor: &'p mut Processor,
    request: &'r mut FirehoseRequest,
    payloads: Vec<ReingestPayload>,
}

impl<'p> Plan<'p, '_> {
    /// The payloads to put back into the stream, in order.
    pub fn payloads(&self) -> &[ReingestPayload] {
        &self.payloads
    }

    /// The request planned.
    pub fn request(&self) -> &FirehoseRequest {
        self.request
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.processor.config
    }

    /// Frees the records' payloads (up to 6 MB of base64): from here on only their ids
    /// are needed, and re-ingestion's request bodies would otherwise make the peak.
    pub fn release_record_data(&mut self) {
        for record in &mut self.request.records {
            record.data = String::new();
        }
    }

    /// Writes the response now that `report` says which payloads were put back: a record
    /// is `Dropped` only when all of its payloads were, and `ProcessingFailed` (kept by
    /// Firehose) otherwise.
    pub fn finish(self, report: &ReingestReport) -> Processed<'p> {
        self.processor
            .finish_all(self.request, &self.payloads, report)
    }
}

/// Room left in the response. Room is reserved for every record to be answered without
/// data; an `Ok` entry only spends what it needs beyond that, so the response always
/// closes within its budget.
#[derive(Debug)]
struct ResponseRoom {
    slack: usize,
}

impl ResponseRoom {
    fn new(budget: usize, request: &FirehoseRequest) -> Self {
        let reserved = response_overhead(request.records.len())
            + request
                .records
                .iter()
                .map(|record| failed_entry_len(&record.record_id))
                .sum::<usize>();
        if reserved > budget {
            tracing::error!(
                reserved,
                budget,
                "the response cannot fit even with every record failed"
            );
        }
        Self {
            slack: budget.saturating_sub(reserved),
        }
    }

    /// The largest entry the record `id` may have.
    fn for_entry(&self, id: &str) -> usize {
        self.slack + failed_entry_len(id)
    }

    /// Spends what an entry of `entry_len` bytes needs beyond its reservation; `false`
    /// when it does not fit.
    fn take(&mut self, entry_len: usize, id: &str) -> bool {
        let extra = entry_len.saturating_sub(failed_entry_len(id));
        if extra > self.slack {
            return false;
        }
        self.slack -= extra;
        true
    }
}

fn failed_entry_len(id: &str) -> usize {
    entry_without_data_len(id, RecordResult::ProcessingFailed)
}

/// Where one record's payloads to re-ingest are queued.
struct Queue<'q, 'r> {
    record_index: usize,
    record: &'r FirehoseRecord,
    payloads: &'q mut Vec<ReingestPayload>,
}

impl Queue<'_, '_> {
    /// Queues `payloads` on behalf of the record, under its partition key; their range.
    fn push(self, payloads: Vec<Vec<u8>>) -> Range<usize> {
        let start = self.payloads.len();
        let partition_key = self
            .record
            .kinesis_record_metadata
            .as_ref()
            .and_then(|metadata| metadata.partition_key.clone())
            .unwrap_or_else(|| self.record.record_id.clone());
        self.payloads
            .extend(payloads.into_iter().map(|data| ReingestPayload {
                record_index: self.record_index,
                data,
                partition_key: partition_key.clone(),
            }));
        start..self.payloads.len()
    }
}

fn record_failed(record_id: &str, error: &RecordError) {
    if matches!(error, RecordError::Panic(_)) {
        tracing::error!(record_id, reason = %error_chain(error), "record failed");
    } else {
        tracing::warn!(record_id, reason = %error_chain(error), "record failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use testkit::{STREAM_ACCOUNT as ACCOUNT, T0_MILLIS as T0};

    const APP: &str = "/aws/lambda/app";
    const OWN_LOG_GROUP: &str = "/aws/lambda/processor";
    const HOUR: i64 = 3_600_000;
    const EVENTBRIDGE: &str = r#"{"source":"aws.iam","account":"210987654321","time":"2026-11-22T07:05:00Z","detail":{}}"#;
    /// Room for the small records of [`pending_request`], not for its large one.
    const BUDGET: usize = 20_000;

    /// A subscription message of `group`: one event per timestamp, each message
    /// `message_len` bytes.
    fn subscription(group: &str, timestamps: &[i64], message_len: usize) -> String {
        let events = timestamps
            .iter()
            .enumerate()
            .map(|(index, timestamp)| {
                json!({"id": format!("event-{index}"), "timestamp": timestamp,
                       "message": "m".repeat(message_len)})
            })
            .collect();
        testkit::data_message(ACCOUNT, group, "stream", events).to_string()
    }

    fn gzip(text: &str) -> Vec<u8> {
        testkit::gzip(text.as_bytes())
    }

    /// A request of records `record-0`, `record-1`, … carrying these payloads.
    fn request(payloads: &[Vec<u8>]) -> FirehoseRequest {
        let records: Vec<(String, Vec<u8>)> = payloads
            .iter()
            .enumerate()
            .map(|(index, payload)| (format!("record-{index}"), payload.clone()))
            .collect();
        serde_json::from_value(testkit::firehose_event(&records)).unwrap()
    }

    fn processor(response_budget_bytes: usize) -> Processor {
        Processor::new(Config {
            response_budget_bytes,
            own_log_group: Some(OWN_LOG_GROUP.into()),
            ..Config::default()
        })
    }

    fn results(response: &[u8]) -> Vec<String> {
        let decoded = testkit::decode_response(response).unwrap();
        decoded.into_iter().map(|record| record.result).collect()
    }

    /// Every kind of answer, with a failed record between two `Ok` ones; and the
    /// decompressed bytes the readable records hold.
    fn mixed_request() -> (FirehoseRequest, usize) {
        let logs = subscription(APP, &[T0, T0 + 1000], 20);
        let control = testkit::control_message().to_string();
        let truncated = gzip(&logs)[..20].to_vec();
        let own = subscription(OWN_LOG_GROUP, &[T0], 20);
        let small = subscription(APP, &[T0 + 2000], 5);
        let mut request = request(&[
            gzip(&logs),
            Vec::new(),
            EVENTBRIDGE.as_bytes().to_vec(),
            gzip(&control),
            truncated,
            gzip(&small),
            gzip(&own),
        ]);
        request.records[1].data = "not base64!".into();
        request.records[5].record_id = "record-\"5\"".into();
        let decompressed = [&logs, &control, &small, &own]
            .iter()
            .map(|text| text.len())
            .sum::<usize>()
            + EVENTBRIDGE.len();
        (request, decompressed)
    }

    #[test]
    fn every_record_is_answered_once_in_order() {
        let (request, _) = mixed_request();
        let mut processor = processor(BUDGET);
        let decoded = testkit::decode_response(processor.process(&request).response).unwrap();
        let ids: Vec<&str> = decoded.iter().map(|r| r.record_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "record-0",
                "record-1",
                "record-2",
                "record-3",
                "record-4",
                "record-\"5\"",
                "record-6"
            ]
        );
        let results: Vec<&str> = decoded.iter().map(|r| r.result.as_str()).collect();
        // Control, failed (not base64, truncated gzip), Ok, self-sourced.
        assert_eq!(
            results,
            [
                "Ok",
                "ProcessingFailed",
                "Ok",
                "Dropped",
                "ProcessingFailed",
                "Ok",
                "Dropped"
            ]
        );
        assert_eq!(decoded[2].data, format!("{EVENTBRIDGE}\n").as_bytes());
        assert_eq!(
            decoded[2].partition_keys.as_ref().unwrap()["kind"],
            "events"
        );
        let lines = |data: &[u8]| data.iter().filter(|byte| **byte == b'\n').count();
        assert_eq!(lines(&decoded[0].data), 2);
        assert_eq!(lines(&decoded[5].data), 1);
        for entry in [1, 3, 4, 6] {
            assert!(decoded[entry].data.is_empty(), "record {entry}");
            assert_eq!(decoded[entry].partition_keys, None, "record {entry}");
        }

        // A bad neighbour changes nothing of an Ok record's entry.
        let alone = FirehoseRequest {
            records: vec![request.records[0].clone()],
            ..request.clone()
        };
        let decoded_alone = testkit::decode_response(processor.process(&alone).response).unwrap();
        assert_eq!(decoded_alone[0], decoded[0]);
    }

    #[test]
    fn answers_are_counted_in_the_metrics() {
        let (request, decompressed) = mixed_request();
        let mut processor = processor(BUDGET);
        let processed = processor.process(&request);
        let decoded = testkit::decode_response(processed.response).unwrap();
        let bytes_out: usize = decoded.iter().map(|record| record.data.len()).sum();
        assert_eq!(
            Metrics {
                duration_ms: 0,
                ..processed.metrics
            },
            Metrics {
                records_in: 7,
                records_ok: 3,
                records_dropped: 2,
                records_processing_failed: 2,
                records_self_sourced: 1,
                log_events_out: 4,
                bytes_in_decompressed: decompressed as u64,
                bytes_out: bytes_out as u64,
                ..Metrics::default()
            }
        );
    }

    /// Gzip subscription payloads, decoded.
    fn events_in(payloads: &[ReingestPayload]) -> usize {
        payloads
            .iter()
            .map(|payload| {
                let json: serde_json::Value =
                    serde_json::from_slice(&testkit::gunzip(&payload.data).unwrap()).unwrap();
                json["logEvents"].as_array().unwrap().len()
            })
            .sum()
    }

    #[test]
    fn the_response_never_exceeds_its_budget() {
        // Eight records of ten 506-byte lines each: an Ok entry of 6,921 bytes, 6,858
        // beyond the 63 reserved for a record's ProcessingFailed entry.
        let timestamps: Vec<i64> = (0..10).map(|i| T0 + i).collect();
        let payloads = vec![gzip(&subscription(APP, &timestamps, 300)); 8];
        // The budget, and how many records fit in its response.
        for (budget, ok_records) in [(3_000, 0), (20_000, 2), (50_000, 7), (200_000, 8)] {
            let mut request = request(&payloads);
            let mut processor = processor(budget);
            let plan = processor.plan(&mut request);
            let planned = plan.processor.response.clone();
            let queued = plan.payloads().to_vec();
            assert!(planned.len() <= budget, "{budget}: {}", planned.len());
            let planned_results = results(&planned);
            let ok = planned_results
                .iter()
                .filter(|result| *result == "Ok")
                .count();
            assert_eq!(ok, ok_records, "{budget}");
            // Whatever is not Ok travels again, whole.
            for (index, result) in planned_results.iter().enumerate() {
                let mine: Vec<ReingestPayload> = queued
                    .iter()
                    .filter(|payload| payload.record_index == index)
                    .cloned()
                    .collect();
                let expected = if result == "Ok" { 0 } else { 10 };
                assert_eq!(
                    events_in(&mine),
                    expected,
                    "{budget}: record {index} {result}"
                );
            }
            assert_eq!(plan.finish(&all_back(&queued)).response, planned);

            // Nothing put back: what travelled is ProcessingFailed, still within budget.
            let processed = processor.process(&request);
            assert!(processed.response.len() <= budget, "{budget}");
            let failed = results(processed.response)
                .iter()
                .filter(|result| *result == "ProcessingFailed")
                .count();
            assert_eq!(failed, 8 - ok_records, "{budget}");
        }
    }

    /// An `Ok` record; one too large for [`BUDGET`], re-ingested in pieces; one `Ok`
    /// with its second hour to re-ingest; a control message.
    fn pending_request() -> FirehoseRequest {
        let many: Vec<i64> = (0..40).map(|i| T0 + i).collect();
        request(&[
            gzip(&subscription(APP, &[T0], 20)),
            gzip(&subscription(APP, &many, 500)),
            gzip(&subscription(APP, &[T0, T0 + HOUR], 20)),
            gzip(&testkit::control_message().to_string()),
        ])
    }

    /// A plan as planned, and as finished.
    struct Finished {
        planned: Vec<u8>,
        /// Each record's entry in `planned`.
        entries: Vec<Range<usize>>,
        payloads: Vec<ReingestPayload>,
        response: Vec<u8>,
        /// Without the duration, which varies.
        metrics: Metrics,
    }

    fn plan_and_finish(
        request: &mut FirehoseRequest,
        report: impl FnOnce(&[ReingestPayload]) -> ReingestReport,
    ) -> Finished {
        let mut processor = processor(BUDGET);
        let plan = processor.plan(request);
        let planned = plan.processor.response.clone();
        let entries = plan
            .processor
            .answers
            .iter()
            .map(|a| a.range.clone())
            .collect();
        let payloads = plan.payloads().to_vec();
        let processed = plan.finish(&report(&payloads));
        Finished {
            planned,
            entries,
            payloads,
            response: processed.response.to_vec(),
            metrics: Metrics {
                duration_ms: 0,
                ..processed.metrics
            },
        }
    }

    fn delivered(delivered: Vec<bool>) -> ReingestReport {
        ReingestReport {
            delivered,
            ..ReingestReport::default()
        }
    }

    fn all_back(payloads: &[ReingestPayload]) -> ReingestReport {
        delivered(vec![true; payloads.len()])
    }

    fn none_back(payloads: &[ReingestPayload]) -> ReingestReport {
        ReingestReport::nothing_put_back(payloads.len())
    }

    fn failed_entry(id: &str) -> Vec<u8> {
        format!(r#"{{"recordId":"{id}","result":"ProcessingFailed","data":""}}"#).into_bytes()
    }

    /// A response of these entries.
    fn response_of(entries: &[&[u8]]) -> Vec<u8> {
        [
            b"{\"records\":[".as_slice(),
            &entries.join(b",".as_slice()),
            b"]}",
        ]
        .concat()
    }

    #[test]
    fn a_plan_with_every_payload_put_back_stands_as_planned() {
        let all = plan_and_finish(&mut pending_request(), all_back);
        assert_eq!(results(&all.planned), ["Ok", "Dropped", "Ok", "Dropped"]);
        assert_eq!(
            &all.planned[all.entries[1].clone()],
            br#"{"recordId":"record-1","result":"Dropped","data":""}"#
        );
        let owners: Vec<(usize, &str)> = all
            .payloads
            .iter()
            .map(|p| (p.record_index, p.partition_key.as_str()))
            .collect();
        let pieces = owners.len() - 1;
        assert!(pieces > 1, "the large record travels in pieces: {owners:?}");
        assert!(owners[..pieces]
            .iter()
            .all(|owner| *owner == (1, "record-1")));
        assert_eq!(owners[pieces], (2, "record-2"));
        assert_eq!(events_in(&all.payloads[..pieces]), 40);
        assert_eq!(events_in(&all.payloads[pieces..]), 1);

        assert_eq!(all.response, all.planned);
        let reingested: usize = all.payloads.iter().map(|p| p.data.len()).sum();
        let metrics = all.metrics;
        assert_eq!((metrics.records_ok, metrics.records_dropped), (2, 2));
        assert_eq!(metrics.records_processing_failed, 0);
        assert_eq!(
            (metrics.records_reingested, metrics.records_over_budget),
            (1, 1)
        );
        assert_eq!(
            metrics.record_splits, 2,
            "the large record, the two-hour one"
        );
        assert_eq!(metrics.bytes_reingested, reingested as u64);
        assert_eq!(
            metrics.log_events_out, 2,
            "the first hour of record-2 and record-0"
        );
        assert_eq!((metrics.reingest_failures, metrics.put_retries), (0, 0));
    }

    #[test]
    fn records_whose_payloads_did_not_all_go_back_are_processing_failed() {
        let none = plan_and_finish(&mut pending_request(), none_back);
        let planned = |entry: usize| &none.planned[none.entries[entry].clone()];
        let expected = response_of(&[
            planned(0),
            &failed_entry("record-1"),
            &failed_entry("record-2"),
            planned(3),
        ]);
        assert_eq!(none.response, expected);
        let metrics = none.metrics;
        assert_eq!((metrics.records_ok, metrics.records_dropped), (1, 1));
        assert_eq!(metrics.records_processing_failed, 2);
        assert_eq!(
            (metrics.reingest_failures, metrics.reingest_permanent_errors),
            (2, 0)
        );
        assert_eq!(
            (metrics.records_reingested, metrics.bytes_reingested),
            (0, 0)
        );

        // All of record-2's payload but one piece of record-1's.
        let partial = plan_and_finish(&mut pending_request(), |payloads| {
            assert_eq!(payloads[1].record_index, 1, "a piece of record-1");
            let mut delivered = vec![true; payloads.len()];
            delivered[1] = false;
            self::delivered(delivered)
        });
        let planned = |entry: usize| &partial.planned[partial.entries[entry].clone()];
        let expected = response_of(&[
            planned(0),
            &failed_entry("record-1"),
            planned(2),
            planned(3),
        ]);
        assert_eq!(partial.response, expected);
        let record_2_payload = partial.payloads.last().unwrap().data.len();
        assert_eq!(partial.metrics.bytes_reingested, record_2_payload as u64);
        assert_eq!(partial.metrics.records_ok, 2);
        assert_eq!(partial.metrics.records_processing_failed, 1);
        assert_eq!(partial.metrics.reingest_failures, 1);
    }

    #[test]
    fn a_stopped_reingestion_counts_permanent_errors() {
        let stopped = |delivered: Vec<bool>| ReingestReport {
            delivered,
            retries: 3,
            stopped_by: Some("AccessDeniedException: not authorized".into()),
        };
        let none = plan_and_finish(&mut pending_request(), |p| stopped(vec![false; p.len()]));
        let metrics = none.metrics;
        assert_eq!(metrics.records_processing_failed, 2);
        assert_eq!(
            (metrics.reingest_failures, metrics.reingest_permanent_errors),
            (2, 2)
        );
        assert_eq!(metrics.put_retries, 3);
        // The response says the same as when no cause is known.
        let unknown = plan_and_finish(&mut pending_request(), none_back);
        assert_eq!(none.response, unknown.response);

        // A cause, but every payload in: nothing failed, so no permanent error either.
        let all = plan_and_finish(&mut pending_request(), |p| stopped(vec![true; p.len()]));
        assert_eq!(all.response, all.planned);
        assert_eq!(
            (
                all.metrics.reingest_permanent_errors,
                all.metrics.reingest_failures
            ),
            (0, 0)
        );
    }

    #[test]
    fn released_record_data_keeps_ids_and_the_response() {
        type Report = fn(&[ReingestPayload]) -> ReingestReport;
        for report in [all_back as Report, none_back] {
            let kept = plan_and_finish(&mut pending_request(), report);
            let mut request = pending_request();
            let mut processor = processor(BUDGET);
            let mut plan = processor.plan(&mut request);
            plan.release_record_data();
            let records = &plan.request().records;
            assert!(records.iter().all(|record| record.data.is_empty()));
            let ids: Vec<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
            assert_eq!(ids, ["record-0", "record-1", "record-2", "record-3"]);
            assert_eq!(plan.payloads(), kept.payloads);
            let report = report(plan.payloads());
            assert_eq!(plan.finish(&report).response, kept.response);
        }
    }

    #[test]
    fn response_room_spends_exactly_what_an_entry_needs_beyond_its_reservation() {
        let id = "record-0";
        let reserved = failed_entry(id).len();
        assert_eq!(failed_entry_len(id), reserved);
        let mut room = ResponseRoom { slack: 100 };
        assert_eq!(room.for_entry(id), reserved + 100);
        assert!(!room.take(reserved + 101, id), "larger than the slack");
        assert_eq!(room.slack, 100, "a refused entry spends nothing");
        assert!(room.take(reserved + 40, id));
        assert_eq!(room.slack, 60);
        assert!(room.take(reserved - 10, id), "smaller than its reservation");
        assert_eq!(room.slack, 60);
        assert!(room.take(reserved + 60, id));
        assert_eq!(room.slack, 0);
        assert!(!room.take(reserved + 1, id));
        assert!(room.take(reserved, id));

        // A new room is the budget less the response's frame and every reservation.
        let request = request(&[Vec::new(), Vec::new()]);
        let frame = "{\"records\":[".len() + ",".len() + "]}".len();
        let all_failed = frame + 2 * reserved;
        assert_eq!(ResponseRoom::new(all_failed + 7, &request).slack, 7);
        assert_eq!(ResponseRoom::new(all_failed, &request).slack, 0);
        assert_eq!(ResponseRoom::new(all_failed - 1, &request).slack, 0);
    }

    #[test]
    fn all_put_back_needs_every_payload_of_the_range_delivered() {
        let report = delivered(vec![true, false, true]);
        assert!(report.all_put_back(&(0..0)), "an empty range");
        assert!(ReingestReport::default().all_put_back(&(0..0)));
        assert!(report.all_put_back(&(0..1)));
        assert!(!report.all_put_back(&(0..2)), "one of two");
        assert!(!report.all_put_back(&(1..3)));
        assert!(report.all_put_back(&(2..3)));
        // Payloads a short report does not mention were not put back.
        assert!(!report.all_put_back(&(2..4)));
        assert!(!ReingestReport::default().all_put_back(&(0..1)));
        assert_eq!(
            ReingestReport::nothing_put_back(2),
            delivered(vec![false, false])
        );
    }

    #[test]
    fn a_queue_appends_under_the_source_partition_key() {
        let mut record = request(&[Vec::new()]).records.remove(0);
        let mut payloads = vec![ReingestPayload {
            record_index: 0,
            data: b"earlier".to_vec(),
            partition_key: "another-record".into(),
        }];
        let queue = |record: &FirehoseRecord, payloads: &mut Vec<ReingestPayload>| {
            let queue = Queue {
                record_index: 3,
                record,
                payloads,
            };
            queue.push(vec![b"a".to_vec(), b"b".to_vec()])
        };
        assert_eq!(queue(&record, &mut payloads), 1..3);
        assert_eq!(
            payloads[0].partition_key, "another-record",
            "left as it was"
        );
        assert_eq!(payloads[2].data, b"b");
        assert_eq!(
            (payloads[2].record_index, payloads[2].partition_key.as_str()),
            (3, "record-0")
        );
        // From a Kinesis data stream: the record's own partition key.
        record.kinesis_record_metadata = Some(crate::transform::firehose::KinesisRecordMetadata {
            partition_key: Some("shard-key-7".into()),
            shard_id: None,
        });
        assert_eq!(queue(&record, &mut payloads), 3..5);
        assert!(payloads[3..]
            .iter()
            .all(|p| p.partition_key == "shard-key-7"));
    }
}
