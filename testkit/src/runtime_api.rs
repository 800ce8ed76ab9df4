//! A Lambda Runtime API emulator for benchmarks: it hands events to a function process
//! one at a time and takes its responses, with the timing the service bills by.
//!
//! It serves, on 127.0.0.1 with `TCP_NODELAY` on every connection (as the Lambda service
//! does, so that no response waits on Nagle's algorithm):
//! - `GET /2018-06-01/runtime/invocation/next`: held until [`RuntimeApi::hand_over`]
//!   gives it an event;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error`: the body is
//!   read to its end, timestamped, and passed to [`RuntimeApi::outcome`];
//! - `POST /2018-06-01/runtime/init/error`: passed on as an error;
//! - Firehose `PutRecordBatch` (`X-Amz-Target: Firehose_20150804.PutRecordBatch`, the
//!   AWS JSON 1.1 protocol): every record accepted and counted, so that a function
//!   pointed here with `AWS_ENDPOINT_URL` re-ingests through the real SDK without a
//!   slower server in the measurement.
//!
//! HTTP is hyper's; the emulator runs on its own thread and runtime, so that its work
//! never shares a thread with what it measures in the calling process.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};

/// An event for the function: its request id, deadline and body.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`, epoch milliseconds.
    pub deadline_ms: u64,
    /// The event JSON.
    pub body: Bytes,
    /// `Lambda-Runtime-Invocation-Id`, which the answer must echo, when given.
    pub invocation_id: Option<String>,
}

/// What the function answered.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The request id the answer was posted for (empty for an init error).
    pub request_id: String,
    /// `true` for `/response`, `false` for `/error` and `/init/error`.
    pub success: bool,
    /// The body, read to its end.
    pub body: Bytes,
    /// When the last byte of the body had been read.
    pub received_at: Instant,
    /// The `Lambda-Runtime-Invocation-Id` the answer carried.
    pub invocation_id: Option<String>,
    /// `Lambda-Runtime-Function-Error-Type`, on an error.
    pub error_type: Option<String>,
}

/// A `GET …/next` waiting for its event.
#[derive(Debug)]
pub struct Waiting {
    /// When the request arrived.
    pub arrived_at: Instant,
    reply: oneshot::Sender<Invocation>,
}

/// Firehose `PutRecordBatch` traffic the emulator accepted.
#[derive(Debug, Default)]
pub struct PutCounts {
    /// Calls.
    pub calls: AtomicU64,
    /// Records.
    pub records: AtomicU64,
    /// Request body bytes.
    pub bytes: AtomicU64,
}

enum Message {
    Next(Waiting),
    Outcome(Outcome),
}

/// The emulator: its address, and the calls the function makes, in order.
pub struct RuntimeApi {
    addr: SocketAddr,
    messages: std::sync::mpsc::Receiver<Message>,
    shared: Arc<Shared>,
}

/// What the caller and the server threads share.
#[derive(Debug, Default)]
struct Shared {
    puts: PutCounts,
    refuse_next: AtomicBool,
}

/// Why the emulator could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The function did not call within the time given.
    #[error("the function made no call to the Runtime API within {0:?}")]
    Timeout(Duration),
    /// The function asked for an event where an answer was expected, or the reverse.
    #[error("unexpected call to the Runtime API: {0}")]
    Unexpected(&'static str),
    /// The emulator's thread is gone.
    #[error("the emulator stopped")]
    Stopped,
    /// The socket could not be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

impl RuntimeApi {
    /// Starts serving on an ephemeral port of 127.0.0.1.
    pub fn start() -> Result<Self, EmulatorError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(EmulatorError::Bind)?;
        listener
            .set_nonblocking(true)
            .map_err(EmulatorError::Bind)?;
        let addr = listener.local_addr().map_err(EmulatorError::Bind)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EmulatorError::Bind)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(EmulatorError::Bind)?
        };
        let (sender, messages) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || runtime.block_on(serve(listener, sender, state)))
            .map_err(EmulatorError::Bind)?;
        Ok(Self {
            addr,
            messages,
            shared,
        })
    }

    /// Answers the function's next `POST …/response` with `410 Gone`, as the service
    /// does for an invocation that timed out or was already answered (the answer is
    /// still passed on to [`RuntimeApi::outcome`]).
    pub fn refuse_next_answer(&self) {
        self.shared.refuse_next.store(true, Ordering::Relaxed);
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Firehose puts accepted so far.
    pub fn puts(&self) -> &PutCounts {
        &self.shared.puts
    }

    /// Waits for the function's next `GET …/next`.
    pub fn next_request(&self, timeout: Duration) -> Result<Waiting, EmulatorError> {
        match self.receive(timeout)? {
            Message::Next(waiting) => Ok(waiting),
            Message::Outcome(_) => Err(EmulatorError::Unexpected(
                "an answer while waiting for a request for the next event",
            )),
        }
    }

    /// Hands an event to a waiting `GET …/next`; returns the moment it was handed over.
    pub fn hand_over(
        &self,
        waiting: Waiting,
        invocation: Invocation,
    ) -> Result<Instant, EmulatorError> {
        let at = Instant::now();
        waiting
            .reply
            .send(invocation)
            .map_err(|_| EmulatorError::Stopped)?;
        Ok(at)
    }

    /// Waits for the function's answer to the event handed over.
    pub fn outcome(&self, timeout: Duration) -> Result<Outcome, EmulatorError> {
        match self.receive(timeout)? {
            Message::Outcome(outcome) => Ok(outcome),
            Message::Next(_) => Err(EmulatorError::Unexpected(
                "a request for the next event before an answer",
            )),
        }
    }

    fn receive(&self, timeout: Duration) -> Result<Message, EmulatorError> {
        self.messages
            .recv_timeout(timeout)
            .map_err(|error| match error {
                std::sync::mpsc::RecvTimeoutError::Timeout => EmulatorError::Timeout(timeout),
                std::sync::mpsc::RecvTimeoutError::Disconnected => EmulatorError::Stopped,
            })
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    sender: std::sync::mpsc::Sender<Message>,
    shared: Arc<Shared>,
) {
    // The blocking channel to the caller is fed from one task, in arrival order.
    let (to_caller, mut queue) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            if sender.send(message).is_err() {
                break;
            }
        }
    });

    while let Ok((stream, _)) = listener.accept().await {
        // As the Lambda service does: a response is never held back by Nagle.
        let _ = stream.set_nodelay(true);
        let to_caller = to_caller.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let to_caller = to_caller.clone();
                let shared = Arc::clone(&shared);
                async move {
                    Ok::<_, std::convert::Infallible>(route(request, &to_caller, &shared).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

async fn route(
    request: Request<Incoming>,
    to_caller: &mpsc::UnboundedSender<Message>,
    shared: &Shared,
) -> Response<Full<Bytes>> {
    let arrived_at = Instant::now();
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let target = header("x-amz-target");
    let invocation_id = header("lambda-runtime-invocation-id");
    let error_type = header("lambda-runtime-function-error-type");
    let method = request.method().clone();
    if method == Method::GET && path == NEXT {
        let (reply, event) = oneshot::channel();
        let sent = to_caller.send(Message::Next(Waiting { arrived_at, reply }));
        if sent.is_err() {
            return status(StatusCode::GONE, "the benchmark stopped");
        }
        return match event.await {
            Ok(invocation) => {
                let mut response = Response::builder().status(StatusCode::OK);
                if let Some(id) = &invocation.invocation_id {
                    response = response.header("lambda-runtime-invocation-id", id);
                }
                response
                    .header("content-type", "application/json")
                    .header("lambda-runtime-aws-request-id", &invocation.request_id)
                    .header("lambda-runtime-deadline-ms", invocation.deadline_ms)
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:firehose-logs-processor",
                    )
                    .header(
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0",
                    )
                    .body(Full::new(invocation.body))
                    .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR, "bad headers"))
            }
            Err(_) => status(StatusCode::GONE, "the benchmark stopped"),
        };
    }
    // Frames are kept as they come and joined only once the last one is in, so that
    // the time of receipt is not the emulator's own copy.
    let mut body = request.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame.map(hyper::body::Frame::into_data) {
            Ok(Ok(data)) => frames.push(data),
            Ok(Err(_trailers)) => {}
            Err(_) => return status(StatusCode::BAD_REQUEST, "body not readable"),
        }
    }
    let received_at = Instant::now();
    let body = match frames.as_slice() {
        [one] => one.clone(),
        _ => Bytes::from(frames.concat()),
    };
    if method == Method::POST {
        if let Some(target) = target {
            return firehose(&target, &body, &shared.puts);
        }
        let outcome = if path == INIT_ERROR {
            Some((String::new(), false))
        } else if let Some(rest) = path.strip_prefix(INVOCATION) {
            match rest.rsplit_once('/') {
                Some((id, "response")) => Some((id.to_owned(), true)),
                Some((id, "error")) => Some((id.to_owned(), false)),
                _ => None,
            }
        } else {
            None
        };
        if let Some((request_id, success)) = outcome {
            let _ = to_caller.send(Message::Outcome(Outcome {
                request_id,
                success,
                body,
                received_at,
                invocation_id,
                error_type,
            }));
            if success && shared.refuse_next.swap(false, Ordering::Relaxed) {
                return status(StatusCode::GONE, "invocation already answered or timed out");
            }
            return status(StatusCode::ACCEPTED, r#"{"status":"OK"}"#);
        }
    }
    status(StatusCode::NOT_FOUND, "not a Runtime API path")
}

/// Firehose's `PutRecordBatch`: every record accepted.
fn firehose(target: &str, body: &[u8], puts: &PutCounts) -> Response<Full<Bytes>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Batch {
        records: Vec<serde::de::IgnoredAny>,
    }
    if target != "Firehose_20150804.PutRecordBatch" {
        return status(StatusCode::BAD_REQUEST, "only PutRecordBatch is emulated");
    }
    let Ok(batch) = serde_json::from_slice::<Batch>(body) else {
        return status(StatusCode::BAD_REQUEST, "not a PutRecordBatch request");
    };
    let count = batch.records.len();
    puts.calls.fetch_add(1, Ordering::Relaxed);
    puts.records.fetch_add(count as u64, Ordering::Relaxed);
    puts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let responses: Vec<serde_json::Value> = (0..count)
        .map(|index| serde_json::json!({ "RecordId": format!("{index:056}") }))
        .collect();
    let answer = serde_json::json!({
        "FailedPutCount": 0,
        "Encrypted": false,
        "RequestResponses": responses,
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(answer.to_string())))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR, "bad headers"))
}

fn status(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = code;
    response
}
