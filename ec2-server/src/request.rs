//! One request around the shared handler: strict refusals, the lame duck,
//! the answer to a panic, unread bodies. A balancer shares each connection
//! among users, so every path ends with it usable or with `Connection: close`.

use std::any::Any;

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, HOST, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use shared::{ApiError, MAX_BODY_BYTES};
use tokio::time::Instant;

/// The `User-Agent` prefix of an ALB's (and the replica's) health checks.
pub const HEALTH_CHECKER: &str = "ELB-HealthChecker/";

/// A response, or the panic that stopped the handler making one (the panic
/// hook has logged it; [`reuse_or_close`] answers `500`).
pub type HandlerOutcome<B> = Result<Response<B>, Box<dyn Any + Send>>;

/// Makes the connection safe to reuse after `answered`, or says it is not: a
/// panic becomes a `500`; an unread body is discarded within its limits, or
/// the answer closes (also for a client awaiting `100 Continue`, which reading
/// would solicit); so does a lame duck's, so the balancer's pool winds down.
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

/// What is refused before routing: a lame duck's health checks (so the
/// balancer stops routing here), and what RFC 9112 refuses but hyper does
/// not, which a front end reading it otherwise could be desynchronised by:
/// an authority-form target, a missing or repeated `Host`, `chunked` twice.
pub fn refusal<B>(request: &Request<B>, has_body: bool, lame_duck: bool) -> Option<ApiError> {
    if lame_duck && is_health_check(request.headers()) {
        return Some(ApiError::ShuttingDown);
    }
    if request.uri().path_and_query().is_none() {
        return Some(ApiError::InvalidRequestTarget);
    }
    let headers = request.headers();
    // Scanning the few names is cheaper than a lookup, which hashes; Host is
    // looked up only where some name repeats.
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

/// Reads and drops the rest of a body: true when it ended within its limits.
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

/// A response as HTTP/1.1 bytes, for the `431` written below hyper.
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
