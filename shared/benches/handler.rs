//! The shared handler alone (parse, store, answer) with the in-memory store:
//! what every target pays per request before its transport. `bench/run`
//! runs it and puts the medians in its report.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{header, HeaderMap, HeaderValue, Method};
use http_body_util::Full;
use shared::{MemoryStore, SeedHandler};

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers
}

fn handler(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot build a Tokio runtime: {error}"),
    };
    let seed_handler = SeedHandler::new(Arc::new(MemoryStore::new()));
    let headers = json_headers();
    let longest = format!("{{\"num\": {}}}", "9".repeat(shared::seed::MAX_DIGITS));
    let cases = [
        ("GET", Method::GET, Bytes::new()),
        (
            "POST small",
            Method::POST,
            Bytes::from_static(b"{\"num\": 100}"),
        ),
        ("POST 4300 digits", Method::POST, Bytes::from(longest)),
    ];

    let mut group = c.benchmark_group("handler");
    for (name, method, body) in cases {
        // Checked once, so a benchmark of a refusal cannot pass for one of
        // the real work.
        let response =
            runtime.block_on(seed_handler.handle(&method, "/", &headers, Full::new(body.clone())));
        assert_eq!(response.status(), 200, "{name}: {:?}", response.body());

        group.bench_function(name, |b| {
            b.iter_batched(
                || Full::new(body.clone()),
                |request_body| {
                    runtime.block_on(seed_handler.handle(&method, "/", &headers, request_body))
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, handler);
criterion_main!(benches);
