//! The whole handler, fed arbitrary methods, paths, headers and bodies,
//! with and without write protection: it answers every request, never with
//! a 5xx, every refusal is a JSON error, and every seed it answers is
//! canonical.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use shared::{MemoryStore, Seed, SeedHandler, WriteToken};

#[derive(Arbitrary, Debug)]
struct Request {
    method: Vec<u8>,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    protected: bool,
    then_get: bool,
}

/// The in-memory store never waits, so the handler's future completes when
/// polled; one that does not would be a hang, and fails.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("the handler did not finish");
}

fuzz_target!(|request: Request| {
    let Ok(method) = Method::from_bytes(&request.method) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let mut handler = SeedHandler::new(Arc::new(MemoryStore::new()));
    if request.protected {
        handler = handler.with_write_token(Some(WriteToken::new("fuzz-token").expect("a valid token")));
    }
    let response = run(handler.handle(
        &method,
        &request.path,
        &headers,
        Full::new(Bytes::from(request.body)),
    ));
    let status = response.status().as_u16();
    assert!(status < 500, "a client's request got {status}");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.as_bytes().to_vec());
    if status >= 400 {
        assert_eq!(content_type.as_deref(), Some(&b"application/json"[..]));
        let body: serde_json::Value =
            serde_json::from_slice(response.body()).expect("a JSON error");
        assert!(body["error"].is_string(), "{body}");
    }
    if status == 200 && method != Method::HEAD {
        let text = std::str::from_utf8(response.body()).expect("UTF-8 seed");
        assert!(
            Seed::from_integer_literal(text).is_ok_and(|seed| seed.as_str() == text),
            "{text:?}"
        );
    }
    if request.then_get {
        let get = run(handler.handle(
            &Method::GET,
            "/",
            &HeaderMap::new(),
            Full::new(Bytes::new()),
        ));
        assert_eq!(get.status(), 200);
        if status == 200 && method == Method::POST {
            assert_eq!(
                get.body(),
                response.body(),
                "GET does not answer what POST stored"
            );
        }
    }
});
