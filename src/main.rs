//! Lambda glue: read the configuration once, then let `lambda_runtime` fetch the events
//! and [`FirehoseLayer`] answer them through the library's [`Handler`].

use std::rc::Rc;

use firehose_logs_processor::handler::{response_value, Handler};
use firehose_logs_processor::lambda::FirehoseLayer;
use firehose_logs_processor::reingest::aws::AwsSink;
use firehose_logs_processor::{Config, FirehoseRequest};
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
use lambda_runtime_api_client::PooledClient;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keep_memory_across_invocations();
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    // One invocation at a time per process; the handler keeps its buffers across them.
    let handler = Rc::new(Mutex::new(Handler::new(config, AwsSink::default())));
    let layer = FirehoseLayer::new(Rc::clone(&handler), PooledClient::builder().build());
    // The runtime's own path, for what the layer cannot read as a Firehose request: the
    // runtime deserializes it again and reports why it is not one.
    let fallback = service_fn(move |event: LambdaEvent<FirehoseRequest>| {
        let handler = Rc::clone(&handler);
        async move {
            let mut handler = handler.lock().await;
            let handled = handler.handle(&event.payload, event.context.deadline).await;
            if let Some(line) = handled.emf {
                println!("{line}");
            }
            Ok::<_, Error>(response_value(handled.response)?)
        }
    });
    Runtime::new(fallback)
        .layer(layer)
        .layer(TracingLayer::new())
        .run()
        .await
}

/// glibc's malloc serves blocks above its mmap threshold with fresh mappings and gives
/// the top of the heap back once more than its trim threshold is free. Both start low
/// (128 KiB) and only adapt after the fact, so a warm function would map, fault in and
/// return its megabytes of request, response and re-ingestion buffers on many
/// invocations (2,664 minor faults per invocation on the 6 MB event, `make bench`).
/// Fixed thresholds keep every block up to 32 MiB on the heap, and the heap's free top
/// (up to 128 MiB) for the next invocation: peak RSS stays what one invocation needs.
/// Measured against mimalloc in BENCHMARKS.md: as fast here, and less than half its RSS.
fn keep_memory_across_invocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of malloc's parameters; it is called before any
    // other thread exists, and an invalid value is refused (returns 0), never undefined.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}
