//! A small HTTP client for the tests: whole requests in, whole replies out.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The address of an `http://IP:PORT` URL, or of a bare `IP:PORT`: for
/// what talks TCP to a server rather than HTTP.
pub fn socket_address(url: &str) -> Option<SocketAddr> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// Where a service under test answers: a base URL such as
/// `http://127.0.0.1:8080`, plus a path prefix for targets that mount the
/// service below one (the Lambda emulator's `/lambda-url/<function>`).
#[derive(Clone)]
pub struct Endpoint {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    streaming: Client<HttpConnector, ChunkedBody>,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How long any one test request may take before the test fails: a hung
/// service must fail the suite, not stall it.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(30);

impl Endpoint {
    /// `base` is the URL that `/` of the service is at, without the final `/`.
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into().trim_end_matches('/').to_string();
        let client = Client::builder(TokioExecutor::new()).build_http();
        let streaming = Client::builder(TokioExecutor::new()).build_http();
        Endpoint {
            base,
            client,
            streaming,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends one request and reads the whole reply.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_send(method, path, headers, body, REQUEST_LIMIT)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Sends one request and reads the whole reply; no whole reply within
    /// `limit` (a refused or dropped connection, a timeout) is an error, not
    /// a failed test: for workloads that run while the service is faulted.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        limit: Duration,
    ) -> Result<Reply, String> {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("test uses a valid method"))
            .uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body.into()))
            .expect("test builds a valid request");
        let what = format!("{method} {}", self.url(path));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| format!("{what}: request failed: {error:?}"))?;
            try_read_reply(response, &what).await
        };
        tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("{what}: no whole answer within {limit:?}")))
    }

    /// Sends a body in chunks with no `Content-Length` (chunked transfer
    /// encoding), as a client that does not know its body's size would.
    pub async fn send_chunked(&self, method: &str, path: &str, chunks: Vec<Bytes>) -> Reply {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("test uses a valid method"))
            .uri(self.url(path))
            .body(ChunkedBody {
                chunks: chunks.into(),
            })
            .expect("test builds a valid request");
        let what = format!("{method} {} (chunked)", self.url(path));
        let response = tokio::time::timeout(REQUEST_LIMIT, self.streaming.request(request))
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer within {REQUEST_LIMIT:?}"))
            .unwrap_or_else(|error| panic!("{what}: request failed: {error:?}"));
        read_reply(response, &what).await
    }

    pub async fn get(&self) -> Reply {
        self.send("GET", "/", &[], Bytes::new()).await
    }

    /// POSTs a JSON body as `curl -H 'Content-Type: application/json'` would.
    pub async fn post(&self, body: impl Into<Bytes>) -> Reply {
        self.send("POST", "/", &[("content-type", "application/json")], body)
            .await
    }

    /// The current seed, asserting that the GET succeeded.
    pub async fn seed(&self) -> String {
        let reply = self.get().await;
        assert_eq!(reply.status, StatusCode::OK, "GET / failed: {reply:?}");
        reply.text()
    }

    /// Stores a seed, asserting that the POST succeeded.
    pub async fn store(&self, literal: &str) {
        let reply = self.post(format!("{{\"num\": {literal}}}")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "POST {literal} failed: {reply:?}"
        );
    }
}

async fn read_reply(response: http::Response<hyper::body::Incoming>, what: &str) -> Reply {
    tokio::time::timeout(REQUEST_LIMIT, try_read_reply(response, what))
        .await
        .unwrap_or_else(|_| panic!("{what}: body not received within {REQUEST_LIMIT:?}"))
        .unwrap_or_else(|failure| panic!("{failure}"))
}

async fn try_read_reply(
    response: http::Response<hyper::body::Incoming>,
    what: &str,
) -> Result<Reply, String> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| format!("{what}: reading the body failed: {error:?}"))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("the service answers UTF-8")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| {
            value
                .to_str()
                .expect("the service sends ASCII header values")
        })
    }

    /// Asserts the contract's shape of a refusal: this status, a JSON body
    /// `{"error": "<sentence>"}`, `Content-Type: application/json`. Returns
    /// the sentence.
    pub fn assert_refusal(&self, status: StatusCode, context: &str) -> String {
        assert_eq!(self.status, status, "{context}: {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{context}: {self:?}"
        );
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{context}: error body is not JSON ({error}): {self:?}")
        });
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("{context}: error body is not an object: {body}"));
        assert_eq!(
            object.len(),
            1,
            "{context}: error body has other members: {body}"
        );
        let message = object
            .get("error")
            .and_then(|error| error.as_str())
            .unwrap_or_else(|| panic!("{context}: no \"error\" string: {body}"));
        assert!(
            message.len() > 10 && message.ends_with('.'),
            "{context}: error is not a sentence: {message:?}"
        );
        message.to_string()
    }

    /// Asserts the contract's shape of a seed answer: `200`, plain text, not
    /// cacheable. Returns the seed.
    pub fn assert_seed(&self, context: &str) -> String {
        assert_eq!(self.status, StatusCode::OK, "{context}: {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{context}: {self:?}"
        );
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "{context}: {self:?}"
        );
        self.text()
    }
}

/// A body that yields prepared chunks one by one and declares no size, so
/// the client must use chunked transfer encoding.
pub struct ChunkedBody {
    chunks: VecDeque<Bytes>,
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

#[cfg(test)]
mod tests {
    use super::socket_address;

    #[test]
    fn an_address_is_read_from_a_url_or_bare_and_nothing_else() {
        let expected = Some(([127, 0, 0, 1], 8000).into());
        assert_eq!(socket_address("http://127.0.0.1:8000/"), expected);
        assert_eq!(socket_address("127.0.0.1:8000"), expected);
        assert_eq!(socket_address("http://localhost:8000"), None);
        assert_eq!(socket_address("https://127.0.0.1:8000"), None);
    }
}
