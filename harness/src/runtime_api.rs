//! A stand-in for Lambda's Runtime API (and the Extensions API's register
//! call), on loopback: it hands out the invocations a test queues, with ids
//! and trace ids the test chooses, to as many polls at once as the function
//! makes, and records the answers and how many invocations the function
//! held at once. Its HTTP face ([`RuntimeApi::http_front`]) makes each HTTP
//! request an invocation, as API Gateway does, for clients and load tools;
//! [`FunctionUnderRuntimeApi`] is the bootstrap polling it.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use contract::Endpoint;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use tempfile::NamedTempFile;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::http_proxy::HttpProxy;
use crate::ChildGuard;

/// The function's ARN in every invocation.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:seed-test";

/// One invocation to hand out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// The `Lambda-Runtime-Trace-Id` header: `Root=...;Parent=...;Sampled=...`.
    pub trace_id: String,
    pub event: Value,
}

#[derive(Default)]
struct Invocations {
    queued: Mutex<VecDeque<Invocation>>,
    queued_more: Notify,
    answers: Mutex<HashMap<String, Value>>,
    answered: Notify,
    held: AtomicUsize,
    most_held: AtomicUsize,
    /// Numbers the invocations the HTTP face makes.
    made: AtomicU64,
    extensions_registered: AtomicUsize,
}

/// The stand-in; stops serving when dropped.
pub struct RuntimeApi {
    proxy: HttpProxy,
    invocations: Arc<Invocations>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let invocations = Arc::new(Invocations::default());
        let serving = Arc::clone(&invocations);
        let proxy = HttpProxy::answer_each(listener, move |parts, body| {
            let invocations = Arc::clone(&serving);
            async move { invocations.answer(parts, body).await }
        });
        RuntimeApi { proxy, invocations }
    }

    /// What `AWS_LAMBDA_RUNTIME_API` is set to.
    pub fn address(&self) -> String {
        self.proxy.address.to_string()
    }

    /// Queues `invocation`, then waits for the function's answer.
    pub async fn invoke(&self, invocation: Invocation) -> Value {
        let id = invocation.request_id.clone();
        shared::lock(&self.invocations.queued).push_back(invocation);
        self.invocations.queued_more.notify_one();
        let waiting = async {
            loop {
                let answered = self.invocations.answered.notified();
                if let Some(answer) = shared::lock(&self.invocations.answers).remove(&id) {
                    return answer;
                }
                answered.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("the function did not answer invocation {id} within 30 s"))
    }

    /// Invocations handed out and not yet answered, now.
    pub fn held(&self) -> usize {
        self.invocations.held.load(Ordering::SeqCst)
    }

    /// The most invocations handed out and not yet answered, at any time.
    pub fn most_held_at_once(&self) -> usize {
        self.invocations.most_held.load(Ordering::SeqCst)
    }

    /// Serves HTTP on `listener` (loopback), each request one invocation
    /// (an HTTP API payload 2.0 event, ids of its own) and its answer the
    /// response, as API Gateway would; stops when dropped.
    pub fn http_front(self: &Arc<Self>, listener: TcpListener) -> HttpProxy {
        let api = Arc::clone(self);
        HttpProxy::answer_each(listener, move |parts, body| {
            let api = Arc::clone(&api);
            async move {
                let n = api.invocations.made.fetch_add(1, Ordering::SeqCst);
                let invocation = Invocation {
                    request_id: format!("http-{n}"),
                    trace_id: format!("Root=1-67600000-{n:024x};Sampled=0"),
                    event: http_api_event(&parts, &body),
                };
                http_response(&api.invoke(invocation).await)
            }
        })
    }

    /// How many extensions registered.
    pub fn extensions_registered(&self) -> usize {
        self.invocations
            .extensions_registered
            .load(Ordering::SeqCst)
    }
}

impl Invocations {
    async fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        let path = parts.uri.path();
        let answer_of = |kind: &str| {
            path.strip_prefix("/2018-06-01/runtime/invocation/")
                .and_then(|rest| rest.strip_suffix(kind))
                .map(str::to_string)
        };
        match (&parts.method, path) {
            (&Method::GET, "/2018-06-01/runtime/invocation/next") => self.next().await,
            (&Method::POST, "/2020-01-01/extension/register") => {
                self.extensions_registered.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"functionName":"seed-test","functionVersion":"$LATEST","handler":"bootstrap"}"#;
                let mut response = reply(StatusCode::OK, body);
                response.headers_mut().insert(
                    "lambda-extension-identifier",
                    "ext-1".parse().expect("a header"),
                );
                response
            }
            // An extension that subscribes to nothing waits until shutdown.
            (&Method::GET, "/2020-01-01/extension/event/next") => std::future::pending().await,
            (&Method::POST, _) => {
                let id = answer_of("/response").or_else(|| answer_of("/error"));
                let id = id.unwrap_or_else(|| format!("(init) {path}"));
                let answer = serde_json::from_slice(&body).unwrap_or(Value::Null);
                shared::lock(&self.answers).insert(id, answer);
                self.held.fetch_sub(1, Ordering::SeqCst);
                self.answered.notify_waiters();
                reply(StatusCode::ACCEPTED, "{}")
            }
            _ => reply(StatusCode::NOT_FOUND, "{}"),
        }
    }

    /// The next queued invocation, once there is one.
    async fn next(&self) -> Response<Full<Bytes>> {
        let invocation = loop {
            let queued_more = self.queued_more.notified();
            if let Some(invocation) = shared::lock(&self.queued).pop_front() {
                break invocation;
            }
            queued_more.await;
        };
        let held = self.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_held.fetch_max(held, Ordering::SeqCst);
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            + Duration::from_secs(30);
        let mut response = reply(StatusCode::OK, &invocation.event.to_string());
        let headers = response.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", invocation.request_id),
            (
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                FUNCTION_ARN.to_string(),
            ),
            ("lambda-runtime-trace-id", invocation.trace_id),
        ] {
            headers.insert(name, value.parse().expect("a header value"));
        }
        response
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("a header"),
    );
    response
}

/// An HTTP API (payload 2.0) event carrying the request: the fixture the
/// function's own tests use, with the request's method, path and headers.
fn http_api_event(parts: &Parts, body: &Bytes) -> Value {
    let fixture = include_str!("../../lambda/tests/events/apigw-http-v2.json");
    let mut event: Value = serde_json::from_str(fixture).expect("the fixture is JSON");
    let headers: serde_json::Map<String, Value> = (parts.headers.iter())
        .filter_map(|(name, value)| Some((name.to_string(), json!(value.to_str().ok()?))))
        .collect();
    event["headers"] = Value::Object(headers);
    event["rawPath"] = json!(parts.uri.path());
    event["rawQueryString"] = json!(parts.uri.query().unwrap_or(""));
    event["requestContext"]["http"]["method"] = json!(parts.method.as_str());
    event["requestContext"]["http"]["path"] = json!(parts.uri.path());
    event["body"] = json!(BASE64.encode(body));
    event["isBase64Encoded"] = json!(true);
    event
}

/// The HTTP response an HTTP API makes of the function's answer; `502`,
/// as API Gateway answers, where it is not one.
fn http_response(answer: &Value) -> Response<Full<Bytes>> {
    let body = match (&answer["body"], answer["isBase64Encoded"] == true) {
        (Value::String(text), true) => BASE64.decode(text).unwrap_or_default(),
        (Value::String(text), false) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|code| u16::try_from(code).ok());
    let Some(status) = status.and_then(|code| StatusCode::from_u16(code).ok()) else {
        return reply(StatusCode::BAD_GATEWAY, &answer.to_string());
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(http::HeaderValue::from_str),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// How much of the function's output a failing test shows.
const TAIL_LINES: usize = 200;

/// The bootstrap polling a [`RuntimeApi`], its output in a file; stopped
/// when dropped.
pub struct FunctionUnderRuntimeApi {
    pub api: Arc<RuntimeApi>,
    function: Option<ChildGuard>,
    output: NamedTempFile,
    _front: HttpProxy,
    endpoint: Endpoint,
}

impl FunctionUnderRuntimeApi {
    /// `bootstrap` (the tests' own: [`crate::lambda_emulator::bootstrap`])
    /// as function `seed-test` of service `seed-stack`, with `env` over that.
    pub async fn start(bootstrap: &Path, env: &[(&str, String)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the HTTP front");
        Self::start_on(listener, bootstrap, env).await
    }

    /// The same, its HTTP face on `listener`.
    pub async fn start_on(listener: TcpListener, bootstrap: &Path, env: &[(&str, String)]) -> Self {
        let api = Arc::new(RuntimeApi::start().await);
        let output = NamedTempFile::with_prefix("seed-function-").expect("a log file");
        let writes = || output.as_file().try_clone().expect("the log file");
        let function = ChildGuard::spawn(
            Command::new(bootstrap)
                .env_clear()
                .envs([
                    ("AWS_LAMBDA_RUNTIME_API", api.address()),
                    ("AWS_LAMBDA_FUNCTION_NAME", "seed-test".to_string()),
                    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
                    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048".to_string()),
                    ("SEED_SERVICE", "seed-stack".to_string()),
                ])
                .envs(env.iter().map(|(name, value)| (name, value)))
                .stdin(Stdio::null())
                .stdout(writes())
                .stderr(writes()),
            "the bootstrap",
            "./scripts/test builds it",
        );
        let front = api.http_front(listener);
        let endpoint = Endpoint::new(front.url());
        FunctionUnderRuntimeApi {
            api,
            function: Some(function),
            output,
            _front: front,
            endpoint,
        }
    }

    /// The function's HTTP face.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    pub fn pid(&self) -> u32 {
        self.function.as_ref().map_or(0, ChildGuard::id)
    }

    /// Everything the function wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.output.path()).unwrap_or_default()
    }

    /// SIGTERM, as Lambda sends at shutdown, and the exit status.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        let mut function = self.function.take().expect("the function runs");
        tokio::task::spawn_blocking(move || function.terminate(within))
            .await
            .expect("stopping the function")
    }
}

impl Drop for FunctionUnderRuntimeApi {
    /// A test that fails shows whether the function still ran and the end of
    /// its output (at debug level the whole of it runs to megabytes).
    fn drop(&mut self) {
        if std::thread::panicking() {
            let state = self.function.as_mut().map(ChildGuard::state);
            let output = self.output();
            let lines: Vec<&str> = output.lines().collect();
            let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
            eprintln!(
                "the function: {}; the last {} of its {} lines:\n{}",
                state.as_deref().unwrap_or("stopped by the test"),
                tail.len(),
                lines.len(),
                tail.join("\n")
            );
        }
    }
}
