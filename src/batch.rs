//! The whole invocation: every record transformed on its own, the response kept
//! within its byte budget, and every recordId answered exactly once.
//!
//! Processing has two steps around the (asynchronous) re-ingestion done by the caller:
//! [`Processor::plan`] transforms the records and lists what must travel again;
//! [`Processor::finish`] writes the response once it is known which of those
//! payloads were put back: a record is `Dropped` only when all of its payloads were,
//! and `ProcessingFailed` (kept by Firehose) otherwise.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::config::Config;
use crate::error::RecordError;
use crate::firehose::{
    close_response, entry_without_data_len, ok_entry_len, open_response, response_overhead,
    write_entry_without_data, write_ok_entry, FirehoseRequest, RecordResult,
};
use crate::metrics::Metrics;
use crate::record::{OwnLogGroup, RecordOptions, RecordTransformer, Reingest, Transformed};

/// Largest response budget reserved up front (Lambda's own limit is 6 MB).
const MAX_RESERVED_RESPONSE_BYTES: usize = 16 << 20;

/// A payload to put back into the stream, on behalf of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReingestItem {
    /// Index of the record in the request.
    pub record_index: usize,
    /// The payload: a whole original record, or a re-encoded piece of one.
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

/// How one record is answered, and where its entry is in the planned response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    /// The entry's bytes in [`Processor::planned`].
    range: Range<usize>,
    kind: AnswerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AnswerKind {
    Ok(OkEntry),
    Without(RecordResult),
    /// Decided by re-ingestion of `items`: all put back means `ok` (or `Dropped` when
    /// nothing stays in this response), which is what the planned entry says; anything
    /// not put back means `ProcessingFailed`.
    Pending {
        ok: Option<OkEntry>,
        items: Range<usize>,
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
    lines: Vec<u8>,
    /// The response as planned: every re-ingested payload put back.
    planned: Vec<u8>,
    answers: Vec<Answer>,
    /// The response when some payloads were not put back.
    response: Vec<u8>,
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

/// What re-ingestion achieved, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReingestReport {
    /// For each [`ReingestItem`], whether it was put back.
    pub delivered: Vec<bool>,
    /// Put calls' entries that were retried.
    pub retries: u64,
    /// The error no retry can cure that ended re-ingestion early (no credentials, access
    /// denied, no such stream), when one did: the reason given for the records concerned.
    pub stopped_by: Option<String>,
}

impl Processor {
    /// A processor with these settings.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            transformer: RecordTransformer::default(),
            lines: Vec::new(),
            planned: Vec::new(),
            answers: Vec::new(),
            response: Vec::new(),
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
        let items = self.plan(request);
        let report = ReingestReport {
            delivered: vec![false; items.len()],
            ..ReingestReport::default()
        };
        self.finish(request, &items, &report)
    }

    /// Transforms every record; returns the payloads to put back into the stream.
    pub fn plan(&mut self, request: &FirehoseRequest) -> Vec<ReingestItem> {
        self.started = Some(Instant::now());
        self.metrics = Metrics {
            records_in: request.records.len() as u64,
            ..Metrics::default()
        };
        self.planned.clear();
        // A response never outgrows its budget: room for all of it at once, so that it is
        // never regrown (and re-faulted) while it is written.
        if self.config.response_budget_bytes <= MAX_RESERVED_RESPONSE_BYTES {
            self.planned.reserve(self.config.response_budget_bytes);
        }
        open_response(&mut self.planned);
        self.answers.clear();
        let mut items = Vec::new();

        // Room is reserved for every record to be answered without data; an Ok entry
        // only spends what it needs beyond that, so the response always closes in budget.
        let failed_len = |id: &str| entry_without_data_len(id, RecordResult::ProcessingFailed);
        let budget = self.config.response_budget_bytes;
        let reserved = response_overhead(request.records.len())
            + request
                .records
                .iter()
                .map(|record| failed_len(&record.record_id))
                .sum::<usize>();
        let mut slack = budget.saturating_sub(reserved);
        if reserved > budget {
            tracing::error!(
                reserved,
                budget,
                "the response cannot fit even with every record failed"
            );
        }

        // The loop guard knows the function's account from the stream's ARN: Firehose
        // only invokes processors of its own account.
        let own_log_group = self
            .config
            .own_log_group
            .as_deref()
            .zip(request.account())
            .map(|(log_group, account)| OwnLogGroup { account, log_group });
        for (index, record) in request.records.iter().enumerate() {
            let id = record.record_id.as_str();
            let options = RecordOptions {
                max_decompressed_bytes: self.config.max_decompressed_bytes,
                parse_json_messages: self.config.parse_json_messages,
                split_by_event_hour: self.config.split_by_event_hour,
                max_entry_bytes: slack + failed_len(id),
                // A quarter of the budget: a re-ingested piece then fits a later response
                // beside other records, not only in an empty one.
                piece_output_bytes: budget / 4,
                own_log_group,
            };
            if index > 0 {
                self.planned.push(b',');
            }
            let entry_start = self.planned.len();
            self.lines.clear();
            let transformer = &mut self.transformer;
            let lines = &mut self.lines;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                transformer.transform(record, options, lines)
            }));
            let (result, decompressed_bytes) = match outcome {
                Ok(outcome) => (outcome.result, outcome.decompressed_bytes),
                Err(panic) => (Err(RecordError::Panic(panic_text(panic.as_ref()))), 0),
            };
            self.metrics.bytes_in_decompressed += decompressed_bytes as u64;
            let partition_key = || {
                record
                    .kinesis_record_metadata
                    .as_ref()
                    .and_then(|metadata| metadata.partition_key.clone())
                    .unwrap_or_else(|| record.record_id.clone())
            };
            let mut push_items = |payloads: Vec<Vec<u8>>| {
                let start = items.len();
                let key = partition_key();
                items.extend(payloads.into_iter().map(|data| ReingestItem {
                    record_index: index,
                    data,
                    partition_key: key.clone(),
                }));
                start..items.len()
            };

            let kind = match result {
                Ok(Transformed::Control) => AnswerKind::Without(RecordResult::Dropped),
                Ok(Transformed::SelfSourced) => {
                    // Not logged: a log line here would travel the same loop again.
                    self.metrics.records_self_sourced += 1;
                    AnswerKind::Without(RecordResult::Dropped)
                }
                Ok(Transformed::Lines { keys, lines, spill }) => {
                    let extra =
                        ok_entry_len(id, self.lines.len(), &keys).saturating_sub(failed_len(id));
                    if extra > slack {
                        // The record sized its output against this very room; reaching
                        // here is a bug, and the record is kept by Firehose.
                        record_failed(id, &RecordError::Panic("output outgrew its size".into()));
                        AnswerKind::Without(RecordResult::ProcessingFailed)
                    } else {
                        slack -= extra;
                        write_ok_entry(&mut self.planned, id, &self.lines, &keys);
                        let ok = OkEntry {
                            lines,
                            bytes: self.lines.len(),
                        };
                        if spill.is_empty() {
                            AnswerKind::Ok(ok)
                        } else {
                            self.metrics.record_splits += 1;
                            AnswerKind::Pending {
                                ok: Some(ok),
                                items: push_items(spill),
                            }
                        }
                    }
                }
                Ok(Transformed::Reingest(reingest)) => {
                    self.metrics.records_over_budget += 1;
                    let payloads = match reingest {
                        Reingest::Original => vec![self.transformer.original().to_vec()],
                        Reingest::Pieces(pieces) => {
                            if pieces.len() > 1 {
                                self.metrics.record_splits += 1;
                            }
                            pieces
                        }
                    };
                    AnswerKind::Pending {
                        ok: None,
                        items: push_items(payloads),
                    }
                }
                Err(error) => {
                    record_failed(id, &error);
                    AnswerKind::Without(RecordResult::ProcessingFailed)
                }
            };
            match &kind {
                // Already written, while its keys were at hand.
                AnswerKind::Ok(_) | AnswerKind::Pending { ok: Some(_), .. } => {}
                AnswerKind::Without(result) => {
                    write_entry_without_data(&mut self.planned, id, *result);
                }
                AnswerKind::Pending { ok: None, .. } => {
                    write_entry_without_data(&mut self.planned, id, RecordResult::Dropped);
                }
            }
            self.answers.push(Answer {
                range: entry_start..self.planned.len(),
                kind,
            });
        }
        close_response(&mut self.planned);
        items
    }

    /// Writes the response for the request last given to [`Processor::plan`], now that
    /// `report` says which of its `items` were put back. Once per plan: the response
    /// takes the plan's place.
    pub fn finish(
        &mut self,
        request: &FirehoseRequest,
        items: &[ReingestItem],
        report: &ReingestReport,
    ) -> Processed<'_> {
        let metrics = &mut self.metrics;
        metrics.put_retries = report.retries;
        let delivered = |range: &Range<usize>| {
            range
                .clone()
                .all(|item| report.delivered.get(item).copied().unwrap_or(false))
        };
        let mut as_planned = true;
        for (record, answer) in request.records.iter().zip(&self.answers) {
            let count_ok = |ok: &OkEntry, metrics: &mut Metrics| {
                metrics.records_ok += 1;
                metrics.log_events_out += ok.lines as u64;
                metrics.bytes_out += ok.bytes as u64;
            };
            match &answer.kind {
                AnswerKind::Ok(ok) => count_ok(ok, metrics),
                AnswerKind::Without(RecordResult::Dropped) => metrics.records_dropped += 1,
                AnswerKind::Without(_) => metrics.records_processing_failed += 1,
                AnswerKind::Pending { ok, items: range } if delivered(range) => {
                    metrics.bytes_reingested += items[range.clone()]
                        .iter()
                        .map(|item| item.data.len() as u64)
                        .sum::<u64>();
                    match ok {
                        Some(ok) => count_ok(ok, metrics),
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
        self.metrics.duration_ms = self
            .started
            .map_or(0, |started| started.elapsed().as_millis() as u64);
        if as_planned {
            return Processed {
                response: &self.planned,
                metrics: self.metrics,
            };
        }

        // Some payloads did not go back: their records become ProcessingFailed, so that
        // Firehose keeps them; every other entry is copied as planned.
        self.response.clear();
        open_response(&mut self.response);
        for (index, (record, answer)) in request.records.iter().zip(&self.answers).enumerate() {
            if index > 0 {
                self.response.push(b',');
            }
            match &answer.kind {
                AnswerKind::Pending { items: range, .. } if !delivered(range) => {
                    write_entry_without_data(
                        &mut self.response,
                        &record.record_id,
                        RecordResult::ProcessingFailed,
                    );
                }
                _ => self
                    .response
                    .extend_from_slice(&self.planned[answer.range.clone()]),
            }
        }
        close_response(&mut self.response);
        // The response is always the one in `planned`, for `take_response`; the plan's
        // buffer becomes the next rebuild's.
        std::mem::swap(&mut self.planned, &mut self.response);
        Processed {
            response: &self.planned,
            metrics: self.metrics,
        }
    }

    /// Hands over the buffer of the response [`Processor::finish`] last wrote, so that
    /// it can be sent without a copy. The next [`Processor::plan`] reserves a new one,
    /// which a warm allocator serves from the memory this one is freed into.
    pub fn take_response(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.planned)
    }
}

fn record_failed(record_id: &str, error: &RecordError) {
    if matches!(error, RecordError::Panic(_)) {
        tracing::error!(record_id, reason = %error_chain(error), "record failed");
    } else {
        tracing::warn!(record_id, reason = %error_chain(error), "record failed");
    }
}

/// The error and its causes, `outer: inner: innermost`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic".to_owned()
    }
}
