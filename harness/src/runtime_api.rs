//! A stand-in for Lambda's Runtime API (and the Extensions API's register
//! call), on loopback: it hands out the invocations a test queues, with ids
//! and trace ids the test chooses, to as many polls at once as the function
//! makes, and records the answers and how many invocations the function
//! held at once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::http_proxy::HttpProxy;

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

    /// The most invocations handed out and not yet answered, at any time.
    pub fn most_held_at_once(&self) -> usize {
        self.invocations.most_held.load(Ordering::SeqCst)
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
