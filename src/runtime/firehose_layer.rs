//! The Lambda runtime side: `lambda_runtime` runs the event loop (the next event, its
//! context, tracing), and [`FirehoseLayer`] answers each Firehose invocation with the
//! bytes the processor wrote.
//!
//! `lambda_runtime` answers with what its handler returns, serialized by serde_json: the
//! response bytes would first become a `RawValue`, which checks them as UTF-8 and as JSON,
//! and then be copied into the HTTP body, 3 to 4 ms per 6 MB response on the benchmark
//! machine (`BENCHMARKS.md`), for checks the response cannot fail: it is JSON by
//! construction and tested byte for byte. So this layer, which
//! [`lambda_runtime::Runtime::layer`] puts in front of the runtime's own service, takes
//! each invocation's raw body, runs the [`Handler`] and posts the processor's buffer
//! itself as the body, moved rather than copied, to the same URI and with the same
//! headers as the runtime (its `User-Agent`, the invocation id echoed), through a client
//! of the runtime's own client crate. A body that is not exactly one Firehose request (or
//! is one followed by other bytes, which the runtime's deserializer tolerates) goes on to
//! the runtime's own service, which answers it as it always did.
//!
//! Where it differs from the runtime: a panic outside the per-record guard is reported
//! with the error type `Runtime.Panic` rather than the runtime's Rust type name, and the
//! layer's client is not rebuilt after a SnapStart restore (the template does not enable
//! SnapStart).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaInvocation};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{build_request, BoxError, PooledClient};
use tokio::sync::Mutex;

use crate::processor::handler::Handler;
use crate::processor::reingest::RecordSink;
use crate::runtime::write_emf;
use crate::support::panic_text;
use crate::transform::firehose::FirehoseRequest;

/// Echoed back on `/response` and `/error` so that the Runtime API can reject an answer
/// to an invocation that already timed out (as `lambda_runtime` does).
const INVOCATION_ID_HEADER: &str = "lambda-runtime-invocation-id";

/// Puts [`FirehoseService`] in front of the runtime's own service.
pub struct FirehoseLayer<S> {
    handler: Rc<Mutex<Handler<S>>>,
    client: Rc<PooledClient>,
}

impl<S> FirehoseLayer<S> {
    /// A layer answering through `handler`, shared with the runtime's own handler, and
    /// posting with `client` (`PooledClient::builder().build()` posts to the Runtime API
    /// that `AWS_LAMBDA_RUNTIME_API` names, as the runtime's own client does).
    pub fn new(handler: Rc<Mutex<Handler<S>>>, client: PooledClient) -> Self {
        Self {
            handler,
            client: Rc::new(client),
        }
    }
}

impl<S, Inner> Layer<Inner> for FirehoseLayer<S> {
    type Service = FirehoseService<S, Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        FirehoseService {
            handler: Rc::clone(&self.handler),
            client: Rc::clone(&self.client),
            inner,
        }
    }
}

/// Answers Firehose invocations with the processor's bytes; passes anything else on.
pub struct FirehoseService<S, Inner> {
    handler: Rc<Mutex<Handler<S>>>,
    client: Rc<PooledClient>,
    inner: Inner,
}

type Answering = Pin<Box<dyn Future<Output = Result<(), BoxError>>>>;

impl<S, Inner> Service<LambdaInvocation> for FirehoseService<S, Inner>
where
    S: RecordSink + 'static,
    Inner: Service<LambdaInvocation, Response = (), Error = BoxError>,
    Inner::Future: 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = Answering;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let Ok(request) = serde_json::from_slice::<FirehoseRequest>(&invocation.body) else {
            return Box::pin(self.inner.call(invocation));
        };
        let handler = Rc::clone(&self.handler);
        let client = Rc::clone(&self.client);
        let request_id = invocation.context.request_id;
        let deadline = invocation.context.deadline;
        let invocation_id = invocation.parts.headers.get(INVOCATION_ID_HEADER).cloned();
        // `invocation` (and the event's bytes with it) is dropped here, before the work.
        Box::pin(async move {
            let handled = AssertUnwindSafe(async {
                let mut handler = handler.lock().await;
                let handled = handler.handle(request, deadline).await;
                write_emf(handled.emf.as_deref());
                handled.response
            })
            .catch_unwind()
            .await;
            let answer = match handled {
                Ok(response) => build_request()
                    .method("POST")
                    .uri(format!(
                        "/2018-06-01/runtime/invocation/{request_id}/response"
                    ))
                    .body(Body::from(response)),
                Err(panic) => {
                    let diagnostic = panic_diagnostic(panic.as_ref());
                    tracing::error!(error = %diagnostic.error_message, "the handler panicked");
                    build_request()
                        .method("POST")
                        .uri(format!("/2018-06-01/runtime/invocation/{request_id}/error"))
                        .header("lambda-runtime-function-error-type", "unhandled")
                        .body(Body::from(serde_json::to_vec(&diagnostic)?))
                }
            };
            let mut answer = answer?;
            // Echoed as received; the service only compares it with what it sent.
            if let Some(id) = invocation_id {
                answer.headers_mut().insert(INVOCATION_ID_HEADER, id);
            }
            let status = match client.call(answer).await {
                Ok(response) => response.status(),
                Err(error) => {
                    // As the runtime does: the process ends, and Lambda restarts it.
                    tracing::error!(%error, "failed to send the answer to the Runtime API");
                    return Err(error);
                }
            };
            if status.as_u16() == 410 {
                tracing::error!(
                    %status,
                    "the Runtime API refused the answer: the invocation timed out or was already answered"
                );
            } else if !status.is_success() {
                // As the runtime does: that invocation is the service's to retry; the
                // process goes on to the next one.
                tracing::error!(%status, "the Runtime API refused the answer");
            }
            Ok(())
        })
    }
}

/// The error posted for a panicking handler: the runtime's message, a clearer type.
fn panic_diagnostic(panic: &(dyn std::any::Any + Send)) -> Diagnostic {
    Diagnostic {
        // The runtime names the panic's Rust type here; this names what happened.
        error_type: "Runtime.Panic".to_owned(),
        error_message: match panic_text(panic) {
            Some(text) => format!("Lambda panicked: {text}"),
            None => "Lambda panicked".to_owned(),
        },
    }
}
