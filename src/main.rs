//! Lambda glue: read the configuration once, then hand each invocation to the library:
//! transform, re-ingest what does not fit, answer.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use firehose_logs_processor::metrics::SelfSourcedHoldback;
use firehose_logs_processor::reingest::{aws::AwsSink, reingest, Target};
use firehose_logs_processor::{Config, FirehoseRequest, Processor, ReingestReport};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    // One invocation at a time per process: a RefCell lets buffers live across them.
    let processor = RefCell::new(Processor::new(config));
    let holdback = RefCell::new(SelfSourcedHoldback::default());
    let sink = AwsSink::default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<FirehoseRequest>| {
        let (processor, holdback, sink) = (&processor, &holdback, &sink);
        async move { handle(processor, holdback, sink, event).await }
    }))
    .await
}

async fn handle(
    processor: &RefCell<Processor>,
    holdback: &RefCell<SelfSourcedHoldback>,
    sink: &AwsSink,
    event: LambdaEvent<FirehoseRequest>,
) -> Result<Box<RawValue>, Error> {
    let request = &event.payload;
    let (items, margin, namespace) = {
        let mut processor = processor.borrow_mut();
        let items = processor.plan(request);
        let config = processor.config();
        (
            items,
            config.reingest_safety_margin,
            config.metrics_namespace.clone(),
        )
    };
    let report = if items.is_empty() {
        ReingestReport::default()
    } else {
        let time_left = remaining(event.context.deadline, margin);
        tracing::info!(
            payloads = items.len(),
            time_left_ms = time_left.as_millis() as u64,
            "re-ingesting what does not fit in the response"
        );
        let deadline = tokio::time::Instant::now() + time_left;
        reingest(
            sink,
            Target::for_request(request).as_ref(),
            &items,
            deadline,
        )
        .await
    };
    let mut processor = processor.borrow_mut();
    let processed = processor.finish(request, &items, &report);
    let stream = request.delivery_stream_name().unwrap_or("unknown");
    // EMF goes to stdout as its own line; CloudWatch extracts the metrics from it.
    if let Some(metrics) = holdback.borrow_mut().release(processed.metrics) {
        println!(
            "{}",
            metrics.to_emf(&namespace, stream, now_millis() as i64)
        );
    }
    let response = String::from_utf8(processed.response.to_vec())?;
    Ok(RawValue::from_string(response)?)
}

/// Time left before the invocation's deadline, less the safety margin.
///
/// Lambda gives the deadline as epoch milliseconds. The local emulator (`cargo lambda
/// watch`) gives the timeout itself instead; a value before 2001 cannot be an epoch
/// deadline, so it is read as that duration.
fn remaining(deadline_ms: u64, margin: Duration) -> Duration {
    const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_millis())
    };
    Duration::from_millis(left).saturating_sub(margin)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
