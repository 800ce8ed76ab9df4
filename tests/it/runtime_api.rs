//! The function binary under the project's Runtime API emulator (`testkit::runtime_api`):
//! what `src/runtime/firehose_layer.rs` posts itself, without `lambda_runtime`'s serialization, must be
//! exactly what the library writes, with the Runtime API's headers; what is not a
//! Firehose request still gets the runtime's own error report; re-ingestion goes through
//! the real SDK over HTTP.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::rc::Rc;

use bytes::Bytes;
use firehose_logs_processor::processor::handler::Handler;
use firehose_logs_processor::processor::reingest::{PutEntry, RecordSink, SinkError, Target};
use firehose_logs_processor::runtime::firehose_layer::FirehoseLayer;
use firehose_logs_processor::{Config, FirehoseRequest, Processor, ReingestReport};
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{service_fn, Context, LambdaInvocation};
use lambda_runtime_api_client::{BoxError, PooledClient};
use serde_json::Value;
use testkit::runtime_api::{Invocation, Outcome, RuntimeApi};
use tokio::sync::Mutex;

const WAIT: Duration = Duration::from_secs(60);

/// The function process, killed when the test ends however it ends.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(api: &RuntimeApi) -> Function {
    let child = Command::new(env!("CARGO_BIN_EXE_firehose-logs-processor"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "firehose-logs-processor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", format!("http://{}", api.addr()))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the function binary starts");
    Function(child)
}

fn invoke(api: &RuntimeApi, request_id: &str, body: Vec<u8>) -> Outcome {
    let invocation_id = format!("invocation-{request_id}");
    let outcome = invoke_with(api, request_id, body, Some(&invocation_id));
    assert_eq!(
        outcome.invocation_id.as_deref(),
        Some(invocation_id.as_str()),
        "the answer echoes the invocation id"
    );
    outcome
}

fn invoke_with(
    api: &RuntimeApi,
    request_id: &str,
    body: Vec<u8>,
    invocation_id: Option<&str>,
) -> Outcome {
    let waiting = api
        .next_request(WAIT)
        .expect("the function asks for an event");
    api.hand_over(
        waiting,
        Invocation {
            request_id: request_id.to_owned(),
            deadline_ms: 300_000,
            body: Bytes::from(body),
            invocation_id: invocation_id.map(str::to_owned),
        },
    )
    .expect("the event is handed over");
    let outcome = api.outcome(WAIT).expect("the function answers");
    assert_eq!(outcome.request_id, request_id);
    outcome
}

fn event(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The library's response when every re-ingested payload is put back, as the
/// emulator's Firehose accepts them all.
fn every_put_accepted(body: &[u8]) -> Vec<u8> {
    let mut request: FirehoseRequest = serde_json::from_slice(body).unwrap();
    let mut processor = Processor::new(Config::default());
    let plan = processor.plan(&mut request);
    let items = plan.payloads().to_vec();
    let report = ReingestReport {
        delivered: vec![true; items.len()],
        ..ReingestReport::default()
    };
    plan.finish(&report).response.to_vec()
}

#[test]
fn each_answer_is_the_libraries_bytes_invocation_after_invocation() {
    let api = RuntimeApi::start().unwrap();
    let _function = start(&api);
    for (round, name) in [
        "cloudwatch-data.json",
        "mixed.json",
        "eventbridge-cloudtrail.json",
        "cloudwatch-data.json",
    ]
    .into_iter()
    .enumerate()
    {
        let body = event(name);
        let expected = every_put_accepted(&body);
        let outcome = invoke(&api, &format!("request-{round}"), body);
        assert!(outcome.success, "{name}: {:?}", outcome.body);
        assert_eq!(
            outcome.body.as_ref(),
            expected.as_slice(),
            "{name}: the posted response differs from the library's"
        );
    }
}

#[test]
fn what_is_not_a_firehose_request_gets_the_runtimes_error_and_the_next_one_is_answered() {
    let api = RuntimeApi::start().unwrap();
    let _function = start(&api);
    let outcome = invoke(&api, "not-firehose", br#"{"hello":"world"}"#.to_vec());
    assert!(!outcome.success);
    let diagnostic: Value = serde_json::from_slice(&outcome.body).unwrap();
    let message = diagnostic["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("records"),
        "the runtime names the missing field: {message}"
    );
    let outcome = invoke(&api, "firehose", event("cloudwatch-data.json"));
    assert!(outcome.success);
}

/// Without an invocation id (older Runtime API versions send none) nothing is echoed;
/// a request followed by other bytes, which the layer leaves to the runtime's own path,
/// is answered there with the same bytes; an answer the service refuses (410: the
/// invocation timed out or was already answered) does not stop the process.
#[test]
fn no_invocation_id_trailing_bytes_and_a_refused_answer() {
    let api = RuntimeApi::start().unwrap();
    let _function = start(&api);
    let body = event("cloudwatch-data.json");
    let expected = every_put_accepted(&body);

    let outcome = invoke_with(&api, "no-id", body.clone(), None);
    assert!(outcome.success);
    assert_eq!(outcome.invocation_id, None);
    assert_eq!(outcome.body.as_ref(), expected.as_slice());

    let mut trailing = body.clone();
    trailing.extend_from_slice(b"\n{\"more\":1}");
    let outcome = invoke(&api, "trailing", trailing);
    assert!(outcome.success, "{:?}", outcome.body);
    assert_eq!(outcome.body.as_ref(), expected.as_slice());

    api.refuse_next_answer();
    let outcome = invoke(&api, "refused", body.clone());
    assert!(outcome.success);
    let outcome = invoke(&api, "after-refusal", body);
    assert!(outcome.success);
    assert_eq!(outcome.body.as_ref(), expected.as_slice());
}

#[test]
fn what_does_not_fit_is_put_back_through_the_sdk_and_answered_dropped() {
    let api = RuntimeApi::start().unwrap();
    let _function = start(&api);
    let body = event("large-batch.json");
    let records = serde_json::from_slice::<Value>(&body).unwrap()["records"]
        .as_array()
        .unwrap()
        .len();
    let outcome = invoke(&api, "large", body);
    assert!(outcome.success);
    let answered = testkit::decode_response(&outcome.body).unwrap();
    assert_eq!(answered.len(), records, "every record answered once");
    let failed = answered
        .iter()
        .filter(|record| record.result == "ProcessingFailed")
        .count();
    assert_eq!(failed, 0, "every put was accepted");
    let puts = api
        .puts()
        .records
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        puts > 0,
        "the 6 MB budget leaves some of a full batch to re-ingest"
    );
    assert!(outcome.body.len() <= 6_000_000);
}

/// A sink that panics: a bug outside the per-record guard.
struct PanickingSink;

impl RecordSink for PanickingSink {
    async fn put(
        &self,
        _target: &Target,
        _entries: &[PutEntry<'_>],
    ) -> Result<Vec<Option<String>>, SinkError> {
        panic!("the sink broke")
    }
}

/// A panicking handler, as `lambda_runtime` would treat it: the invocation is answered
/// with an error (Lambda retries the batch, Firehose keeps it), the invocation id is
/// echoed, and the next invocation is answered. The error type is `Runtime.Panic` where
/// the runtime would put the panic's Rust type name.
#[tokio::test]
async fn a_panic_outside_the_record_guard_is_the_invocations_error() {
    let api = RuntimeApi::start().unwrap();
    let client = PooledClient::builder()
        .with_endpoint(format!("http://{}", api.addr()).parse().unwrap())
        .build();
    let handler = Handler::new(Config::default(), PanickingSink);
    let layer = FirehoseLayer::new(Rc::new(Mutex::new(handler)), client);
    let inner = service_fn(|_: LambdaInvocation| async {
        Err::<(), BoxError>("the runtime's own path was not expected".into())
    });
    let mut service = layer.layer(inner);
    let mut head = http::Response::new(());
    head.headers_mut().insert(
        "lambda-runtime-invocation-id",
        "invocation-7".parse().unwrap(),
    );
    let mut context = Context::default();
    context.request_id = "request-7".to_owned();
    context.deadline = 300_000;
    let invocation = LambdaInvocation {
        parts: head.into_parts().0,
        body: Bytes::from(event("large-batch.json")),
        context,
    };
    service.call(invocation).await.unwrap();
    // The emulator's channel blocks: waited on off the test's runtime, then given back.
    let (outcome, api) = tokio::task::spawn_blocking(move || (api.outcome(WAIT).unwrap(), api))
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.request_id, "request-7");
    assert_eq!(outcome.invocation_id.as_deref(), Some("invocation-7"));
    assert_eq!(outcome.error_type.as_deref(), Some("unhandled"));
    let diagnostic: Value = serde_json::from_slice(&outcome.body).unwrap();
    assert_eq!(diagnostic["errorType"], "Runtime.Panic");
    assert_eq!(
        diagnostic["errorMessage"],
        "Lambda panicked: the sink broke"
    );

    // The handler is whole again for the next invocation (this one puts nothing back).
    let mut context = Context::default();
    context.request_id = "request-8".to_owned();
    context.deadline = 300_000;
    let body = event("cloudwatch-data.json");
    let expected = every_put_accepted(&body);
    let invocation = LambdaInvocation {
        parts: http::Response::new(()).into_parts().0,
        body: Bytes::from(body),
        context,
    };
    service.call(invocation).await.unwrap();
    let outcome = tokio::task::spawn_blocking(move || api.outcome(WAIT).unwrap())
        .await
        .unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.request_id, "request-8");
    assert_eq!(outcome.invocation_id, None);
    assert_eq!(outcome.body.as_ref(), expected.as_slice());
}
