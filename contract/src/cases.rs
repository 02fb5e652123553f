//! One function per docs/contract.md row or rule. Each gets a service of its own,
//! whose seed nobody else changes while the case runs.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use crate::client::Endpoint;

const MAX_DIGITS: usize = 4300;
const MAX_BODY: usize = 64 * 1024;

// ---- Resource -------------------------------------------------------------

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

// ---- Consistency ----------------------------------------------------------

/// Defines each case as `pub async fn NAME(service: &Endpoint)`, and
/// `for_each_case!`, which hands every case's name, in this order, to
/// `contract_suite!`: the cases are declared once, here, and expanded for
/// each target and store. (`$d` is a `$`, passed in so that the
/// inner macro can have metavariables of its own.)
macro_rules! cases {
    ($d:tt $($(#[$attr:meta])* async fn $name:ident($service:ident) $body:block)*) => {
        $($(#[$attr])* pub async fn $name($service: &Endpoint) $body)*

        /// `for_each_case! { ARGS }` expands to
        /// `contract_suite! { ARGS; case_one, case_two, ... }`.
        #[doc(hidden)]
        #[macro_export]
        macro_rules! for_each_case {
            ($d($d args:tt)*) => {
                $d crate::contract_suite! { $d($d args)*; $($name),* }
            };
        }
    };
}

cases! { $
    async fn get_answers_zero_before_any_post(service) {
        assert_eq!(service.get().await.assert_seed("first GET"), "0");
    }

    async fn post_then_get_round_trips(service) {
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
    async fn post_with_form_content_type_is_parsed_as_json(service) {
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

    async fn post_with_any_content_type_is_parsed_as_json(service) {
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

    async fn negative_zero_is_stored_as_zero(service) {
        service.store("5").await;
        let posted = service.post(r#"{"num": -0}"#).await;
        assert_eq!(posted.assert_seed("POST -0"), "0");
        assert_eq!(service.seed().await, "0");
    }

    async fn other_members_are_ignored(service) {
        let posted = service
            .post(r#"{"name": "x", "num": 12, "nested": {"num": 13}, "list": [1, 2]}"#)
            .await;
        assert_eq!(posted.assert_seed("POST with other members"), "12");
    }

    async fn big_integers_round_trip_exactly(service) {
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

    async fn head_answers_like_get_without_a_body(service) {
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

    async fn options_lists_the_allowed_methods(service) {
        let reply = service.send("OPTIONS", "/", &[], Bytes::new()).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
        assert!(reply.body.is_empty(), "{reply:?}");
    }

    async fn other_methods_get_405_with_allow(service) {
        methods_get_405_with_allow(service, &["PUT", "DELETE", "PATCH"]).await;
    }

    /// Methods no front end routes by name (a proxy in front may answer them
    /// itself: SAM's local front end does).
    async fn unknown_methods_get_405_with_allow(service) {
        methods_get_405_with_allow(service, &["CONNECTX", "PROPFIND"]).await;
    }

    async fn other_paths_get_404(service) {
        paths_get_404(service, &["/x", "/index.html", "/num", "/seed/"]).await;
    }

    /// An encoded slash is a path of its own, not the root (a proxy in front
    /// may decode it: SAM's local front end does).
    async fn an_encoded_slash_is_not_the_root(service) {
        paths_get_404(service, &["/%2F"]).await;
    }

    async fn malformed_bodies_get_400_and_change_nothing(service) {
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

    async fn non_integer_nums_get_400_and_change_nothing(service) {
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

    async fn duplicate_num_gets_400(service) {
        service
            .post(r#"{"num": 1, "num": 2}"#)
            .await
            .assert_refusal(StatusCode::BAD_REQUEST, "duplicate num");
        assert_eq!(service.seed().await, "0");
    }

    async fn one_digit_over_the_limit_gets_400(service) {
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
    async fn body_of_exactly_64_kib_is_read(service) {
        let mut body = String::from("{\"num\": 64}");
        body.push_str(&" ".repeat(MAX_BODY - body.len()));
        assert_eq!(body.len(), MAX_BODY);
        assert_eq!(service.post(body).await.assert_seed("64 KiB body"), "64");
    }

    async fn body_over_64_kib_gets_413(service) {
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

    async fn chunked_body_over_64_kib_gets_413(service) {
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

    /// Concurrent writers store long values made of one repeated digit each; any
    /// torn or mixed write would show as a value no writer sent.
    async fn concurrent_posts_and_gets_never_see_an_unstored_value(service) {
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
}

// ---- Cases that need a service set up for them ----------------------------
//
// Not in `for_each_case!`: each target that can produce the answer runs
// these against a service started as each case says.

/// Write protection, on a service started with the write token `token`: a
/// POST without it, with another token, a prefix of it or another scheme
/// gets `401` with `WWW-Authenticate: Bearer`, before its body is read (an
/// oversize body is a 401, not a 413) and with the seed unchanged; with
/// it, the POST is stored; GET, HEAD and OPTIONS stay open.
pub async fn posts_without_the_write_token_get_401(service: &Endpoint, token: &str) {
    let bearer = format!("Bearer {token}");
    let other = format!("Bearer {token}-other");
    let prefix = format!("Bearer {}", &token[..token.len() / 2]);
    let basic = format!("Basic {token}");
    for (what, headers) in [
        ("no Authorization", vec![]),
        ("a wrong token", vec![("authorization", other.as_str())]),
        (
            "a prefix of the token",
            vec![("authorization", prefix.as_str())],
        ),
        ("another scheme", vec![("authorization", basic.as_str())]),
    ] {
        let reply = service.send("POST", "/", &headers, "{\"num\": 5}").await;
        reply.assert_refusal(StatusCode::UNAUTHORIZED, what);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|value| value.starts_with("Bearer")),
            "{what}: {reply:?}"
        );
    }
    let oversize = format!("{{\"num\": 1}}{}", " ".repeat(MAX_BODY + 1));
    service
        .send("POST", "/", &[], oversize)
        .await
        .assert_refusal(
            StatusCode::UNAUTHORIZED,
            "an oversize body without the token",
        );
    assert_eq!(service.seed().await, "0", "a refused POST changed the seed");

    let reply = service
        .send(
            "POST",
            "/",
            &[("authorization", bearer.as_str())],
            "{\"num\": 5}",
        )
        .await;
    assert_eq!(reply.assert_seed("a POST with the token"), "5");
    assert_eq!(service.seed().await, "5");
    assert_eq!(
        service.send("HEAD", "/", &[], "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        service.send("OPTIONS", "/", &[], "").await.status,
        StatusCode::NO_CONTENT
    );
}

/// Write protection on an HTTP/1.1 server started with the write token
/// `token`: two `Authorization` headers are refused, whichever comes first,
/// since servers and proxies disagree on which one counts. (A Lambda
/// front end joins or drops repeated headers before the function sees
/// them.)
pub async fn two_credentials_get_401(service: &Endpoint, token: &str) {
    let bearer = format!("Bearer {token}");
    let other = format!("Bearer {token}-other");
    for (what, headers) in [
        (
            "the token, then another",
            [
                ("authorization", bearer.as_str()),
                ("authorization", other.as_str()),
            ],
        ),
        (
            "another, then the token",
            [
                ("authorization", other.as_str()),
                ("authorization", bearer.as_str()),
            ],
        ),
        (
            "the token twice",
            [
                ("authorization", bearer.as_str()),
                ("authorization", bearer.as_str()),
            ],
        ),
    ] {
        service
            .send("POST", "/", &headers, "{\"num\": 6}")
            .await
            .assert_refusal(StatusCode::UNAUTHORIZED, what);
    }
    assert_ne!(
        service.seed().await,
        "6",
        "a POST with two credentials was stored"
    );
}

/// On a service whose store cannot be reached: GET, HEAD and POST get `503`
/// with `Retry-After`, within the store's bound; OPTIONS, which needs no
/// store, is still answered.
pub async fn an_unreachable_store_gets_503_with_retry_after(service: &Endpoint) {
    for (method, body) in [("GET", ""), ("POST", "{\"num\": 1}")] {
        let reply = service.send(method, "/", &[], body).await;
        reply.assert_refusal(StatusCode::SERVICE_UNAVAILABLE, method);
        assert!(
            reply
                .header("retry-after")
                .is_some_and(|seconds| seconds.parse::<u32>().is_ok()),
            "{method}: no Retry-After in seconds: {reply:?}"
        );
    }
    let head = service.send("HEAD", "/", &[], "").await;
    assert_eq!(
        head.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "HEAD: {head:?}"
    );
    assert_eq!(
        service.send("OPTIONS", "/", &[], "").await.status,
        StatusCode::NO_CONTENT
    );
}

/// On an HTTP/1.1 server whose body-read limit is `limit`: a body shorter
/// than its `Content-Length` gets `408`, saying `Connection: close`, and
/// stores nothing. (On Lambda the AWS front end reads the body.)
pub async fn a_body_not_sent_in_time_gets_408(service: &Endpoint, limit: std::time::Duration) {
    let authority = service.url("");
    let address = crate::socket_address(&authority)
        .unwrap_or_else(|| panic!("{authority} is not an HTTP/1.1 server's address"));
    let mut late = crate::raw::connect(address).await;
    assert!(
        crate::raw::write_lossy(
            &mut late,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"num\": 1}"
        )
        .await
    );
    let response = crate::raw::read_response(&mut late, limit * 5).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(
        response.says_close(),
        "a 408 without Connection: close: {response:?}"
    );
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "a 408 that is not a JSON error: {response:?}"
    );
    assert_eq!(service.seed().await, "0", "a body sent too late was stored");
}
