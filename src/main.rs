//! Lambda glue: read the configuration once, then let `lambda_runtime` fetch the events
//! and [`FirehoseLayer`] answer them through the library's [`Handler`].

use std::rc::Rc;

use firehose_logs_processor::handler::{response_value, Handler};
use firehose_logs_processor::lambda::{keep_memory_across_invocations, write_emf, FirehoseLayer};
use firehose_logs_processor::reingest::aws::AwsSink;
use firehose_logs_processor::{Config, FirehoseRequest};
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
use lambda_runtime_api_client::PooledClient;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let memory_kept = keep_memory_across_invocations();
    lambda_runtime::tracing::init_default_subscriber();
    if !memory_kept {
        tracing::warn!("malloc refused its thresholds: memory is returned between invocations");
    }
    let config = Config::from_env()?;
    // One invocation at a time per process; the handler keeps its buffers across them.
    let handler = Rc::new(Mutex::new(Handler::new(config, AwsSink::default())));
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
