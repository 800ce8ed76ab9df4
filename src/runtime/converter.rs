//! The export converter's process: the runtime's event loop, each S3 "Object Created"
//! event converted by [`convert_announced`] over S3, and the backfill state machine's
//! questions answered by [`backfill::answer`].

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use crate::aws::s3::S3Store;
use crate::export::backfill;
use crate::export::service::convert_announced;
use crate::export::ExportConfig;
use crate::runtime::write_emf;
use crate::support::clock::{now_millis, remaining};

/// Runs the function.
pub async fn run(config: ExportConfig) -> Result<(), Error> {
    let store = S3Store::new(config.output_kms_key_arn.clone());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (config, store) = (&config, &store);
        // The invocation's end, as the Runtime API gives it (or the local emulator).
        let deadline = Instant::now() + remaining(event.context.deadline, Duration::ZERO);
        async move {
            if let Some(answer) = backfill::answer(&config.export_prefix, &event.payload) {
                return Ok::<Value, Error>(answer?);
            }
            let done = convert_announced(config, store, &event.payload, deadline).await?;
            write_emf(Some(&done.emf(&config.metrics_namespace, now_millis())));
            Ok::<Value, Error>(done.answer()?)
        }
    }))
    .await
}
