//! One invocation of the export converter: every object an S3 "Object Created" event
//! announces is converted, or left alone when it is not an export object of the
//! convention; the invocation fails when any could not be converted completely, so that
//! the event is retried and, past the retries, kept.

use std::time::Instant;

use serde_json::{json, Value};

use crate::export::event::{created_objects, TriggerError};
use crate::export::{convert_object, ExportConfig, ExportMetrics, ExportSource, ObjectStore};
use crate::support::error_chain;

/// What one invocation did, object by object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversions {
    /// The invocation's counters.
    pub metrics: ExportMetrics,
    /// The bucket of the first object announced, the metrics' dimension.
    pub bucket: Option<String>,
    /// Objects announced.
    pub objects: usize,
    /// Keys written, over every object converted.
    pub outputs: Vec<String>,
    /// Keys of the objects that could not be converted completely.
    pub failed: Vec<String>,
}

/// Objects that could not be converted completely: the invocation's error.
#[derive(Debug, thiserror::Error)]
#[error("{} of {objects} export objects not converted (see the log): {}", .failed.len(), .failed.join(", "))]
pub struct NotConverted {
    /// Objects announced.
    pub objects: usize,
    /// Keys of the objects not converted.
    pub failed: Vec<String>,
}

impl Conversions {
    /// The EMF line of the invocation's metrics.
    pub fn emf(&self, namespace: &str, timestamp_ms: u64) -> String {
        let bucket = self.bucket.as_deref().unwrap_or("unknown");
        self.metrics.to_emf(namespace, bucket, timestamp_ms as i64)
    }

    /// The invocation's answer: what was converted, or which objects were not.
    pub fn answer(&self) -> Result<Value, NotConverted> {
        if !self.failed.is_empty() {
            return Err(NotConverted {
                objects: self.objects,
                failed: self.failed.clone(),
            });
        }
        Ok(json!({
            "converted": self.metrics.objects_converted,
            "skipped": self.metrics.objects_skipped,
            "events": self.metrics.events,
            "outputs": self.outputs,
        }))
    }
}

/// Converts every object `event` announces, within `deadline` (the invocation's end).
/// Only an event that announces nothing readable is an error; an object that fails is
/// counted and named in [`Conversions::failed`].
pub async fn convert_announced<S: ObjectStore>(
    config: &ExportConfig,
    store: &S,
    event: &Value,
    deadline: Instant,
) -> Result<Conversions, TriggerError> {
    let started = Instant::now();
    let objects = created_objects(event)?;
    let mut done = Conversions {
        bucket: objects.first().map(|object| object.bucket.clone()),
        objects: objects.len(),
        ..Conversions::default()
    };
    for object in &objects {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let source = match ExportSource::parse(key, &config.export_prefix) {
            Ok(source) => source,
            Err(skip) => {
                done.metrics.objects_skipped += 1;
                tracing::info!(bucket, key, reason = %skip, "object left alone");
                continue;
            }
        };
        match convert_object(store, bucket, source, key, config.convert, Some(deadline)).await {
            Ok(report) => {
                let metrics = &mut done.metrics;
                metrics.objects_converted += 1;
                metrics.events += report.events;
                metrics.bytes_in += report.text_bytes;
                metrics.outputs += report.outputs;
                metrics.bytes_out += report.output_text_bytes;
                tracing::info!(
                    bucket,
                    key,
                    events = report.events,
                    outputs = report.outputs,
                    "export object converted"
                );
                done.outputs.extend(report.keys);
            }
            Err(error) => {
                done.metrics.objects_failed += 1;
                tracing::error!(bucket, key, reason = %error_chain(&error), "export object not converted");
                done.failed.push(key.to_owned());
            }
        }
    }
    done.metrics.duration_ms = started.elapsed().as_millis() as u64;
    Ok(done)
}
