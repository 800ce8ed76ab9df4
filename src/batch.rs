//! The whole invocation: every record transformed on its own, the response kept
//! within its byte budget, and every recordId answered exactly once.

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
use crate::record::{RecordOptions, RecordTransformer, Transformed};

/// How one record is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// The complete `Ok` entry, at this range of the entry arena.
    Ok(Range<usize>),
    /// An entry without data.
    Without(RecordResult),
}

/// Transforms batches, keeping its buffers from one invocation to the next so that a
/// warm function does not allocate (and page-fault) its working memory again.
#[derive(Debug)]
pub struct Processor {
    config: Config,
    transformer: RecordTransformer,
    lines: Vec<u8>,
    arena: Vec<u8>,
    answers: Vec<Answer>,
    response: Vec<u8>,
}

/// What one invocation produced.
#[derive(Debug)]
pub struct Processed<'a> {
    /// The serialized response, exactly as Firehose receives it.
    pub response: &'a [u8],
    /// The invocation's counters.
    pub metrics: Metrics,
}

impl Processor {
    /// A processor with these settings.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            transformer: RecordTransformer::default(),
            lines: Vec::new(),
            arena: Vec::new(),
            answers: Vec::new(),
            response: Vec::new(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Parses a request and processes it. Only a request that is not a Firehose
    /// transformation event at all is an error; bad records never are.
    pub fn process_json(&mut self, request: &[u8]) -> Result<Processed<'_>, serde_json::Error> {
        let request: FirehoseRequest = serde_json::from_slice(request)?;
        Ok(self.process(&request))
    }

    /// Transforms every record and writes the response.
    pub fn process(&mut self, request: &FirehoseRequest) -> Processed<'_> {
        let started = Instant::now();
        let mut metrics = Metrics {
            records_in: request.records.len() as u64,
            ..Metrics::default()
        };
        self.arena.clear();
        self.answers.clear();

        // Room is reserved for every record to be answered without data; an Ok entry
        // only spends what it needs beyond that, so the response always closes in budget.
        let failed_len = |id: &str| entry_without_data_len(id, RecordResult::ProcessingFailed);
        let reserved = response_overhead(request.records.len())
            + request
                .records
                .iter()
                .map(|record| failed_len(&record.record_id))
                .sum::<usize>();
        let mut slack = self.config.response_budget_bytes.saturating_sub(reserved);
        if reserved > self.config.response_budget_bytes {
            tracing::error!(
                reserved,
                budget = self.config.response_budget_bytes,
                "the response cannot fit even with every record failed"
            );
        }

        for record in &request.records {
            let id = record.record_id.as_str();
            let own_room = slack + failed_len(id);
            let options = RecordOptions {
                max_decompressed_bytes: self.config.max_decompressed_bytes,
                parse_json_messages: self.config.parse_json_messages,
                // Base64 makes 3 bytes 4: more lines than this could never fit.
                max_output_bytes: own_room / 4 * 3,
            };
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
            metrics.bytes_in_decompressed += decompressed_bytes as u64;

            let answer = match result {
                Ok(Transformed::Control) => {
                    metrics.records_dropped += 1;
                    Answer::Without(RecordResult::Dropped)
                }
                Ok(Transformed::Lines { keys, lines }) => {
                    let needed = ok_entry_len(id, self.lines.len(), &keys);
                    let extra = needed.saturating_sub(failed_len(id));
                    if extra <= slack {
                        slack -= extra;
                        metrics.records_ok += 1;
                        metrics.log_events_out += lines as u64;
                        metrics.bytes_out += self.lines.len() as u64;
                        let start = self.arena.len();
                        write_ok_entry(&mut self.arena, id, &self.lines, &keys);
                        Answer::Ok(start..self.arena.len())
                    } else {
                        over_budget(id, &mut metrics)
                    }
                }
                Ok(Transformed::OverLimit) => over_budget(id, &mut metrics),
                Err(error) => {
                    metrics.records_processing_failed += 1;
                    if matches!(error, RecordError::Panic(_)) {
                        tracing::error!(record_id = id, reason = %error_chain(&error), "record failed");
                    } else {
                        tracing::warn!(record_id = id, reason = %error_chain(&error), "record failed");
                    }
                    Answer::Without(RecordResult::ProcessingFailed)
                }
            };
            self.answers.push(answer);
        }

        self.write_response(request);
        metrics.duration_ms = started.elapsed().as_millis() as u64;
        Processed {
            response: &self.response,
            metrics,
        }
    }

    fn write_response(&mut self, request: &FirehoseRequest) {
        self.response.clear();
        open_response(&mut self.response);
        for (index, (record, answer)) in request.records.iter().zip(&self.answers).enumerate() {
            if index > 0 {
                self.response.push(b',');
            }
            match answer {
                Answer::Ok(range) => self.response.extend_from_slice(&self.arena[range.clone()]),
                Answer::Without(result) => {
                    write_entry_without_data(&mut self.response, &record.record_id, *result)
                }
            }
        }
        close_response(&mut self.response);
    }
}

fn over_budget(record_id: &str, metrics: &mut Metrics) -> Answer {
    metrics.records_over_budget += 1;
    metrics.records_processing_failed += 1;
    tracing::warn!(
        record_id,
        reason = "output does not fit in the response budget",
        "record failed"
    );
    Answer::Without(RecordResult::ProcessingFailed)
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
