//! One request on a connection, around the shared handler: what a strict
//! HTTP/1.1 server refuses before routing, what a load balancer needs while
//! the server shuts down, the last-resort answer to a panic, and what becomes
//! of a body the handler did not read.
//!
//! A load balancer sends many users' requests over each connection, so a
//! connection closed without `Connection: close` loses somebody else's next
//! request. Every path here therefore ends either with the connection usable
//! or with a response that says `Connection: close`.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, HOST, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use shared::{ApiError, MAX_BODY_BYTES};
use tokio::time::Instant;

/// The `User-Agent` prefix of an ALB's (and the local replica's HAProxy's)
/// health checks.
pub const HEALTH_CHECKER: &str = "ELB-HealthChecker/";

/// A response, or the panic that stopped the handler making one.
pub type HandlerOutcome<B> = Result<Response<B>, Box<dyn Any + Send>>;

/// Polls the handler's future, turning a panic into an `Err` (the panic
/// hook has logged it; [`reuse_or_close`] answers `500`).
pub fn poll_catching_panics<F, B>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<HandlerOutcome<B>>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
{
    match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Ready(Ok(response))) => Poll::Ready(Ok(response)),
        Ok(Poll::Ready(Err(never))) => match never {},
        Ok(Poll::Pending) => Poll::Pending,
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

/// Makes the connection safe to reuse after `answered`, or says it is not:
///
/// - a panic becomes a `500`;
/// - a body the handler left unread is read and discarded, up to the 64 KiB
///   limit within the body-read limit, so the connection takes the next
///   request; failing that (or where the client waits for `100 Continue`,
///   which discarding would only solicit) the response says
///   `Connection: close`;
/// - while `lame_duck`, every response says `Connection: close`, so the
///   balancer's pooled connections wind down before the server stops.
///
/// Only requests with a body or a lame duck need it: the caller skips it
/// otherwise.
pub async fn reuse_or_close<B: From<Bytes>>(
    answered: HandlerOutcome<B>,
    unread: Option<(Incoming, Instant)>,
    expects_continue: bool,
    lame_duck: bool,
) -> Response<B> {
    let mut response =
        answered.unwrap_or_else(|_panic| ApiError::Internal.into_response().map(B::from));
    let mut close = lame_duck || says_close(response.headers());
    if let Some(unread) = unread {
        if !close {
            close = expects_continue || !discard(unread).await;
        }
    }
    if close && !says_close(response.headers()) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// What is answered here, before routing:
///
/// - while `lame_duck`, a health check gets `503`, so that the balancer
///   stops routing here before the server stops accepting;
/// - what a strict HTTP/1.1 server refuses (RFC 9112): a request target that
///   is not a path (authority-form), a missing or repeated `Host`, and
///   `chunked` named twice. hyper accepts all of them, and a front end that
///   reads them differently could be desynchronised from this server.
///
/// Absolute-form targets (`GET http://host/ HTTP/1.1`) are routed by their
/// path, as RFC 9112 requires of servers; asterisk-form (`OPTIONS *`) is a
/// path other than `/`, so the handler answers `404`.
///
/// `chunked` is looked for only where hyper saw a body (`has_body`).
pub fn refusal<B>(request: &Request<B>, has_body: bool, lame_duck: bool) -> Option<ApiError> {
    if lame_duck && is_health_check(request.headers()) {
        return Some(ApiError::ShuttingDown);
    }
    if request.uri().path_and_query().is_none() {
        return Some(ApiError::InvalidRequestTarget);
    }
    let headers = request.headers();
    // A scan of the few names a request has is cheaper than a lookup, which
    // hashes the name. Only where
    // some name repeats (more values than names) is Host looked up.
    let has_host = headers.keys().any(|name| name == HOST);
    let repeated =
        headers.len() != headers.keys_len() && headers.get_all(HOST).iter().nth(1).is_some();
    if repeated || (!has_host && request.version() == Version::HTTP_11) {
        return Some(ApiError::MalformedRequest(
            "An HTTP/1.1 request needs exactly one Host header.",
        ));
    }
    if !has_body {
        return None;
    }
    let chunked = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .filter(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        .count();
    if chunked > 1 {
        return Some(ApiError::MalformedRequest(
            "Transfer-Encoding names chunked more than once; name it once.",
        ));
    }
    None
}

/// Whether a load balancer's health check sent this request.
pub fn is_health_check(headers: &HeaderMap) -> bool {
    headers
        .get(USER_AGENT)
        .is_some_and(|agent| agent.as_bytes().starts_with(HEALTH_CHECKER.as_bytes()))
}

fn says_close(headers: &HeaderMap) -> bool {
    headers
        .get(CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// Reads and drops the rest of a body: true when it ended within the body
/// size limit and its deadline, so the connection can take the next request.
async fn discard((mut body, deadline): (Incoming, Instant)) -> bool {
    let mut seen = 0usize;
    let read_all = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > MAX_BODY_BYTES {
                return false;
            }
        }
        true
    };
    let ended = tokio::time::timeout_at(deadline, read_all)
        .await
        .unwrap_or(false);
    tracing::debug!(ended, "discarded an unread request body");
    ended
}

/// A response as HTTP/1.1 bytes, for the one answer written below hyper
/// (the `431` for a head over the limit, which hyper never parsed).
pub fn serialize(response: Response<Bytes>) -> Bytes {
    let (parts, body) = response.into_parts();
    let mut head = format!("HTTP/1.1 {}\r\n", parts.status);
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    Bytes::from([head.as_bytes(), &body].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(lines: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/");
        for (name, value) in lines {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("a valid test request")
    }

    #[test]
    fn one_host_and_one_chunked_pass() {
        assert!(refusal(&request(&[("host", "x")]), false, false).is_none());
        assert!(refusal(
            &request(&[("host", "x"), ("transfer-encoding", "chunked")]),
            true,
            false
        )
        .is_none());
        let http_1_0 = Request::builder()
            .uri("/")
            .version(Version::HTTP_10)
            .body(())
            .expect("a valid test request");
        assert!(
            refusal(&http_1_0, false, false).is_none(),
            "HTTP/1.0 needs no Host"
        );
    }

    #[test]
    fn strict_refusals() {
        for (what, headers) in [
            ("no Host", vec![]),
            ("two Hosts", vec![("host", "a"), ("host", "b")]),
            (
                "chunked twice",
                vec![
                    ("host", "x"),
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
            ),
            (
                "chunked twice in one line",
                vec![("host", "x"), ("transfer-encoding", "chunked, Chunked")],
            ),
        ] {
            let refused = refusal(&request(&headers), true, false);
            assert!(
                matches!(refused, Some(ApiError::MalformedRequest(_))),
                "{what}: {refused:?}"
            );
        }
    }

    #[test]
    fn health_checks_are_told_apart_by_their_user_agent() {
        let mut headers = HeaderMap::new();
        assert!(!is_health_check(&headers));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static("ELB-HealthChecker/2.0"),
        );
        assert!(is_health_check(&headers));
        headers.insert(USER_AGENT, HeaderValue::from_static("curl/8.0"));
        assert!(!is_health_check(&headers));
    }

    #[test]
    fn serialized_refusals_are_whole_responses() {
        let bytes = serialize(ApiError::HeadersTooLarge(32768).into_response());
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{text}"
        );
        assert!(text.contains("connection: close\r\n"), "{text}");
        assert!(
            text.contains("content-type: application/json\r\n"),
            "{text}"
        );
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{text}"
        );
        let error: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(error["error"].as_str().is_some_and(|e| e.contains("32768")));
    }
}
