//! The processor function's process: the runtime's event loop, each Firehose request
//! answered by the [`Handler`] through the [`FirehoseLayer`].

use std::rc::Rc;

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
use lambda_runtime_api_client::PooledClient;
use tokio::sync::Mutex;

use crate::processor::config::Config;
use crate::processor::handler::{response_value, Handler};
use crate::processor::reingest::RecordSink;
use crate::runtime::firehose_layer::FirehoseLayer;
use crate::runtime::write_emf;
use crate::transform::firehose::FirehoseRequest;

/// Runs the function: one invocation at a time, putting back into `sink`.
pub async fn run<S: RecordSink + 'static>(config: Config, sink: S) -> Result<(), Error> {
    // One invocation at a time per process; the handler keeps its buffers across them.
    let handler = Rc::new(Mutex::new(Handler::new(config, sink)));
    let layer = FirehoseLayer::new(Rc::clone(&handler), PooledClient::builder().build());
    // The runtime's own path, for what the layer does not take as exactly one Firehose
    // request: the runtime deserializes it again, and reports why it is not one or, for
    // a request followed by other bytes (which its deserializer tolerates), answers it.
    let fallback = service_fn(move |event: LambdaEvent<FirehoseRequest>| {
        let handler = Rc::clone(&handler);
        async move {
            let mut handler = handler.lock().await;
            let handled = handler.handle(event.payload, event.context.deadline).await;
            write_emf(handled.emf.as_deref());
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
/// invocations (2,664 minor faults per invocation on the 6 MB event, `BENCHMARKS.md`).
/// Fixed thresholds keep every block up to 32 MiB on the heap, and the heap's free top
/// (up to 128 MiB) for the next invocation: peak RSS stays what one invocation needs.
/// mimalloc, measured instead, was no faster and held twice the memory. Call it first in
/// `main`; returns `false` if malloc refused a setting (nothing else changes then).
pub fn keep_memory_across_invocations() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of malloc's parameters, before any other thread
    // exists (the runtime is current-thread); an invalid value is refused with 0.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    true
}
