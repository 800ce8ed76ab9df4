//! Lambda glue: read the configuration once, then hand each invocation to the library.

use std::cell::RefCell;

use firehose_logs_processor::{Config, FirehoseRequest, Processor};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    // One invocation at a time per process: a RefCell lets buffers live across them.
    let processor = RefCell::new(Processor::new(config));
    lambda_runtime::run(service_fn(|event: LambdaEvent<FirehoseRequest>| {
        let processor = &processor;
        async move { handle(processor, event) }
    }))
    .await
}

fn handle(
    processor: &RefCell<Processor>,
    event: LambdaEvent<FirehoseRequest>,
) -> Result<Box<RawValue>, Error> {
    let mut processor = processor.borrow_mut();
    let namespace = processor.config().metrics_namespace.clone();
    let processed = processor.process(&event.payload);
    let stream = event.payload.delivery_stream_name().unwrap_or("unknown");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64);
    // EMF goes to stdout as its own line; CloudWatch extracts the metrics from it.
    println!("{}", processed.metrics.to_emf(&namespace, stream, now_ms));
    let response = String::from_utf8(processed.response.to_vec())?;
    Ok(RawValue::from_string(response)?)
}
