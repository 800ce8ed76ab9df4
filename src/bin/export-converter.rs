//! Lambda glue for the export converter: read the configuration once, then convert every
//! export object an S3 "Object Created" event announces.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firehose_logs_processor::batch::error_chain;
use firehose_logs_processor::export::event::created_objects;
use firehose_logs_processor::export::s3::S3Store;
use firehose_logs_processor::export::{convert_object, ExportConfig, ExportMetrics, ExportObject};
use firehose_logs_processor::handler::remaining;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ExportConfig::from_env()?;
    let store = S3Store::new(config.output_kms_key_arn.clone());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (config, store) = (&config, &store);
        // The invocation's end, as the Runtime API gives it (or the local emulator).
        let deadline = Instant::now() + remaining(event.context.deadline, Duration::ZERO);
        async move { handle(config, store, event.payload, deadline).await }
    }))
    .await
}

/// Converts every announced object; fails the invocation when any could not be converted
/// completely, so that the event is retried and, past the retries, kept.
async fn handle(
    config: &ExportConfig,
    store: &S3Store,
    event: Value,
    deadline: Instant,
) -> Result<Value, Error> {
    let started = Instant::now();
    let objects = created_objects(&event)?;
    let mut metrics = ExportMetrics::default();
    let mut outputs = Vec::new();
    let mut failed = Vec::new();
    for object in &objects {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        let source = match ExportObject::parse(key, &config.export_prefix) {
            Ok(source) => source,
            Err(skip) => {
                metrics.objects_skipped += 1;
                tracing::info!(bucket, key, reason = %skip, "object left alone");
                continue;
            }
        };
        match convert_object(store, bucket, source, key, config.convert, Some(deadline)).await {
            Ok(report) => {
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
                outputs.extend(report.keys);
            }
            Err(error) => {
                metrics.objects_failed += 1;
                tracing::error!(bucket, key, reason = %error_chain(&error), "export object not converted");
                failed.push(key.to_owned());
            }
        }
    }
    metrics.duration_ms = started.elapsed().as_millis() as u64;
    let bucket = objects
        .first()
        .map_or("unknown", |object| object.bucket.as_str());
    println!(
        "{}",
        metrics.to_emf(&config.metrics_namespace, bucket, now_millis())
    );
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} export objects not converted (see the log): {}",
            failed.len(),
            objects.len(),
            failed.join(", ")
        )
        .into());
    }
    Ok(json!({
        "converted": metrics.objects_converted,
        "skipped": metrics.objects_skipped,
        "events": metrics.events,
        "outputs": outputs,
    }))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
