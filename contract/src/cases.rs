//! One function per SPEC.md row or rule. Each gets a service of its own,
//! whose seed nobody else changes while the case runs.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use crate::client::Endpoint;

const MAX_DIGITS: usize = 4300;
const MAX_BODY: usize = 64 * 1024;

// ---- Resource -------------------------------------------------------------

pub async fn get_answers_zero_before_any_post(service: &Endpoint) {
    assert_eq!(service.get().await.assert_seed("first GET"), "0");
}

pub async fn post_then_get_round_trips(service: &Endpoint) {
    let posted = service.post(r#"{"num": 100}"#).await;
    assert_eq!(posted.assert_seed("POST answer"), "100");
    assert_eq!(service.get().await.assert_seed("GET after POST"), "100");
    service.store("-7").await;
    assert_eq!(
        service.get().await.assert_seed("GET after second POST"),
        "-7"
    );
}

/// `curl -d '{"num": 100}' URL` sends form encoding; it must still work.
pub async fn post_with_form_content_type_is_parsed_as_json(service: &Endpoint) {
    let posted = service
        .send(
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
            r#"{"num": 31}"#,
        )
        .await;
    assert_eq!(posted.assert_seed("form-encoded POST"), "31");
    assert_eq!(service.seed().await, "31");
}

pub async fn post_with_any_content_type_is_parsed_as_json(service: &Endpoint) {
    let content_types: [&[(&str, &str)]; 5] = [
        &[],
        &[("content-type", "text/plain")],
        &[("content-type", "application/json; charset=utf-8")],
        &[("content-type", "application/octet-stream")],
        &[("content-type", "not even a media type")],
    ];
    for (n, headers) in content_types.into_iter().enumerate() {
        let literal = (n as i64 + 1) * 11;
        let posted = service
            .send("POST", "/", headers, format!("{{\"num\": {literal}}}"))
            .await;
        assert_eq!(
            posted.assert_seed(&format!("{headers:?}")),
            literal.to_string()
        );
    }
}

pub async fn negative_zero_is_stored_as_zero(service: &Endpoint) {
    service.store("5").await;
    let posted = service.post(r#"{"num": -0}"#).await;
    assert_eq!(posted.assert_seed("POST -0"), "0");
    assert_eq!(service.seed().await, "0");
}

pub async fn other_members_are_ignored(service: &Endpoint) {
    let posted = service
        .post(r#"{"name": "x", "num": 12, "nested": {"num": 13}, "list": [1, 2]}"#)
        .await;
    assert_eq!(posted.assert_seed("POST with other members"), "12");
}

pub async fn big_integers_round_trip_exactly(service: &Endpoint) {
    let beyond_u64 = "-123456789012345678901234567890123456789";
    service.store(beyond_u64).await;
    assert_eq!(service.seed().await, beyond_u64);

    // Digits that are all different from their neighbours, so that any
    // truncation, rounding or reordering shows.
    let max: String = (0..MAX_DIGITS)
        .map(|i| char::from(b'1' + (i * 7 % 9) as u8))
        .collect();
    let posted = service.post(format!("{{\"num\": {max}}}")).await;
    assert_eq!(posted.assert_seed("4300-digit POST"), max);
    assert_eq!(service.seed().await, max);
    let negative = format!("-{max}");
    service.store(&negative).await;
    assert_eq!(service.seed().await, negative);
}

pub async fn head_answers_like_get_without_a_body(service: &Endpoint) {
    service.store("123456").await;
    let head = service.send("HEAD", "/", &[], Bytes::new()).await;
    assert_eq!(head.status, StatusCode::OK, "{head:?}");
    assert!(head.body.is_empty(), "HEAD has a body: {head:?}");
    let get = service.get().await;
    for name in ["content-type", "cache-control", "content-length"] {
        assert_eq!(
            head.header(name),
            get.header(name),
            "{name}: HEAD {head:?} GET {get:?}"
        );
    }
    assert_eq!(head.header("content-length"), Some("6"));
}

pub async fn options_lists_the_allowed_methods(service: &Endpoint) {
    let reply = service.send("OPTIONS", "/", &[], Bytes::new()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert!(reply.body.is_empty(), "{reply:?}");
}

pub async fn other_methods_get_405_with_allow(service: &Endpoint) {
    methods_get_405_with_allow(service, &["PUT", "DELETE", "PATCH"]).await;
}

/// Methods no front end routes by name (a proxy in front may answer them
/// itself: SAM's local front end does).
pub async fn unknown_methods_get_405_with_allow(service: &Endpoint) {
    methods_get_405_with_allow(service, &["CONNECTX", "PROPFIND"]).await;
}

async fn methods_get_405_with_allow(service: &Endpoint, methods: &[&str]) {
    service.store("8").await;
    for method in methods {
        let reply = service.send(method, "/", &[], r#"{"num": 9}"#).await;
        reply.assert_refusal(StatusCode::METHOD_NOT_ALLOWED, method);
        assert_eq!(
            reply.header("allow"),
            Some("GET, HEAD, POST, OPTIONS"),
            "{method}"
        );
    }
    assert_eq!(
        service.seed().await,
        "8",
        "a refused method changed the seed"
    );
}

pub async fn other_paths_get_404(service: &Endpoint) {
    paths_get_404(service, &["/x", "/index.html", "/num", "/seed/"]).await;
}

/// An encoded slash is a path of its own, not the root (a proxy in front
/// may decode it: SAM's local front end does).
pub async fn an_encoded_slash_is_not_the_root(service: &Endpoint) {
    paths_get_404(service, &["/%2F"]).await;
}

async fn paths_get_404(service: &Endpoint, paths: &[&str]) {
    service.store("4").await;
    for path in paths {
        for method in ["GET", "POST", "DELETE"] {
            let reply = service.send(method, path, &[], r#"{"num": 5}"#).await;
            reply.assert_refusal(StatusCode::NOT_FOUND, &format!("{method} {path}"));
        }
    }
    assert_eq!(
        service.seed().await,
        "4",
        "a POST elsewhere changed the seed"
    );
    // A query string does not change the path.
    assert_eq!(
        service
            .send("GET", "/?x=1", &[], Bytes::new())
            .await
            .assert_seed("GET /?x=1"),
        "4"
    );
}

// ---- What POST accepts ----------------------------------------------------

pub async fn malformed_bodies_get_400_and_change_nothing(service: &Endpoint) {
    service.store("77").await;
    let bodies: [&[u8]; 11] = [
        b"",
        b"num=100",
        b"{\"num\": 100",
        b"{\"num\": 100}}",
        b"{'num': 100}",
        b"{\"num\": 0100}",
        b"[{\"num\": 100}]",
        b"100",
        b"null",
        b"{}",
        b"{\"Num\": 100}",
    ];
    for body in bodies {
        let context = format!("POST {:?}", String::from_utf8_lossy(body));
        service
            .post(Bytes::from_static(body))
            .await
            .assert_refusal(StatusCode::BAD_REQUEST, &context);
    }
    assert_eq!(
        service.seed().await,
        "77",
        "a refused POST changed the seed"
    );
}

pub async fn non_integer_nums_get_400_and_change_nothing(service: &Endpoint) {
    service.store("78").await;
    for num in [
        "100.0",
        "1e2",
        "1E+2",
        "-1.5",
        "\"100\"",
        "true",
        "false",
        "null",
        "[100]",
        "{\"num\": 100}",
        "0.0",
        "-0.0",
    ] {
        service
            .post(format!("{{\"num\": {num}}}"))
            .await
            .assert_refusal(StatusCode::BAD_REQUEST, &format!("num = {num}"));
    }
    assert_eq!(
        service.seed().await,
        "78",
        "a refused POST changed the seed"
    );
}

pub async fn duplicate_num_gets_400(service: &Endpoint) {
    service
        .post(r#"{"num": 1, "num": 2}"#)
        .await
        .assert_refusal(StatusCode::BAD_REQUEST, "duplicate num");
    assert_eq!(service.seed().await, "0");
}

pub async fn one_digit_over_the_limit_gets_400(service: &Endpoint) {
    service.store("79").await;
    let over = format!("{{\"num\": {}}}", "9".repeat(MAX_DIGITS + 1));
    let message = service
        .post(over)
        .await
        .assert_refusal(StatusCode::BAD_REQUEST, "4301 digits");
    assert!(
        message.contains("4300"),
        "the error should state the limit: {message}"
    );
    assert_eq!(service.seed().await, "79");
}

/// The limit is inclusive: a body of exactly 64 KiB is read.
pub async fn body_of_exactly_64_kib_is_read(service: &Endpoint) {
    let mut body = String::from("{\"num\": 64}");
    body.push_str(&" ".repeat(MAX_BODY - body.len()));
    assert_eq!(body.len(), MAX_BODY);
    assert_eq!(service.post(body).await.assert_seed("64 KiB body"), "64");
}

pub async fn body_over_64_kib_gets_413(service: &Endpoint) {
    service.store("80").await;
    let mut body = String::from("{\"num\": 65}");
    body.push_str(&" ".repeat(MAX_BODY + 1 - body.len()));
    service
        .post(body)
        .await
        .assert_refusal(StatusCode::PAYLOAD_TOO_LARGE, "64 KiB + 1 body");
    // Large enough that the client is still writing when the answer comes:
    // the answer must still reach it.
    for _ in 0..3 {
        let huge = Bytes::from(vec![b' '; 16 * 1024 * 1024]);
        service
            .post(huge)
            .await
            .assert_refusal(StatusCode::PAYLOAD_TOO_LARGE, "16 MiB body");
    }
    assert_eq!(service.seed().await, "80");
}

pub async fn chunked_body_over_64_kib_gets_413(service: &Endpoint) {
    service.store("81").await;
    let mut chunks = vec![Bytes::from_static(b"{\"num\": 82}")];
    chunks.extend((0..80).map(|_| Bytes::from(vec![b' '; 1024])));
    service
        .send_chunked("POST", "/", chunks)
        .await
        .assert_refusal(StatusCode::PAYLOAD_TOO_LARGE, "chunked 80 KiB body");
    assert_eq!(service.seed().await, "81");
    // A small chunked body is read as usual.
    let chunks = vec![
        Bytes::from_static(b"{\"num\""),
        Bytes::from_static(b": 83}"),
    ];
    let reply = service.send_chunked("POST", "/", chunks).await;
    assert_eq!(reply.assert_seed("small chunked body"), "83");
}

// ---- Consistency ----------------------------------------------------------

/// Concurrent writers store long values made of one repeated digit each; any
/// torn or mixed write would show as a value no writer sent.
pub async fn concurrent_posts_and_gets_never_see_an_unstored_value(service: &Endpoint) {
    const WRITERS: usize = 4;
    const READERS: usize = 4;
    const ROUNDS: usize = 25;
    let values: Vec<String> = (1..=9).map(|d| d.to_string().repeat(MAX_DIGITS)).collect();
    let stored: Arc<HashSet<String>> =
        Arc::new(values.iter().cloned().chain(["0".to_string()]).collect());
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let service = service.clone();
        let values = values.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let value = &values[(writer * ROUNDS + round) % values.len()];
                let reply = service.post(format!("{{\"num\": {value}}}")).await;
                assert_eq!(&reply.assert_seed("concurrent POST"), value);
            }
        }));
    }
    for _ in 0..READERS {
        let service = service.clone();
        let stored = Arc::clone(&stored);
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let seed = service.seed().await;
                assert!(
                    stored.contains(&seed),
                    "GET answered a value no POST stored: {}… ({} chars)",
                    &seed[..seed.len().min(20)],
                    seed.len()
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client task panicked");
    }
    let last = service.seed().await;
    assert!(values.contains(&last), "final value was never stored");
}
