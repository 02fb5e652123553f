//! The bootstrap under a Runtime API of the tests' own
//! (`harness::runtime_api`), which chooses each invocation's ids: every line
//! written for an invocation carries that invocation's keys, the shutdown
//! extension registers, and SIGTERM writes the last metrics document.

use std::time::Duration;

use contract::telemetry::{assert_stalled_gets, assert_totals, metric_totals, read_output};
use harness::runtime_api::{FunctionUnderRuntimeApi, Invocation, FUNCTION_ARN};
use serde_json::{Map, Value};

use crate::support::events::{post, req, Body, Req, Shape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn each_line_carries_its_own_invocations_keys_and_sigterm_writes_the_last_document() {
    let function = start_function(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).await;
    let api = &function.api;
    let roots = [
        "1-67500001-000000000000000000000001",
        "1-67500002-000000000000000000000002",
        "1-67500003-000000000000000000000003",
    ];
    for (n, root) in roots.iter().enumerate() {
        let invocation = Invocation {
            request_id: format!("invocation-{n}"),
            trace_id: format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0"),
            event: Shape::HttpV2.event(&req("GET", "/")),
        };
        let answer = api.invoke(invocation).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    assert_eq!(
        api.extensions_registered(),
        1,
        "the shutdown extension did not register"
    );
    let (written, requests, documents) = stop(function).await;
    assert_eq!(requests.len(), 3, "{written}");
    for (n, (line, root)) in requests.iter().zip(roots).enumerate() {
        assert_eq!(
            line["function_request_id"],
            format!("invocation-{n}"),
            "{line:?}"
        );
        assert_eq!(line["xray_trace_id"], root, "{line:?}");
        assert_eq!(line["correlation_id"], root, "{line:?}");
        assert_eq!(line["cold_start"], n == 0, "{line:?}");
        assert_eq!(line["function_name"], "seed-test", "{line:?}");
        assert_eq!(line["function_memory_size"], 2048, "{line:?}");
        assert_eq!(line["function_arn"], FUNCTION_ARN, "{line:?}");
    }
    assert_eq!(documents.len(), 1, "{written}");
    let totals = metric_totals(&documents);
    for (metric, expected) in [
        ("Requests", 3),
        ("SeedReads", 3),
        ("Latency", 3),
        ("ColdStart", 1),
    ] {
        assert_eq!(totals.get(metric), Some(&expected), "{metric}: {totals:?}");
    }
    assert_eq!(documents[0]["function_name"], "seed-test");
    assert_eq!(documents[0]["service"], "seed-stack");
}

/// The bootstrap under the tests' Runtime API, with `env` over its settings.
async fn start_function(env: &[(&str, &str)]) -> FunctionUnderRuntimeApi {
    let env: Vec<(&str, String)> = env.iter().map(|(n, v)| (*n, v.to_string())).collect();
    FunctionUnderRuntimeApi::start(&harness::lambda_emulator::bootstrap(), &env).await
}

/// SIGTERM, then what the function wrote: every line, its per-request lines
/// and its metrics documents, each checked.
async fn stop(
    mut function: FunctionUnderRuntimeApi,
) -> (String, Vec<Map<String, Value>>, Vec<Value>) {
    let status = function.terminate(Duration::from_secs(5)).await;
    assert!(status.success(), "SIGTERM: {status}");
    let written = function.output();
    let (requests, documents) = read_output(written.lines(), "seed-stack");
    (written, requests, documents)
}

fn invocation(n: usize, request: &Req) -> Invocation {
    Invocation {
        request_id: format!("invocation-{n}"),
        trace_id: format!("Root=1-67500000-{n:024x};Sampled=0"),
        event: Shape::HttpV2.event(request),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_last_document_counts_each_refusal_and_success_once() {
    let token = "telemetry-t0ken";
    let function = start_function(&[("SEED_WRITE_TOKEN", token)]).await;
    let api = &function.api;
    let authorized = |body: &str| Req {
        headers: vec![("authorization", format!("Bearer {token}"))],
        ..post(Body::Text(body.to_string()))
    };
    let mix = [
        (req("GET", "/"), 200),
        (req("HEAD", "/"), 200),
        (authorized(r#"{"num": 7}"#), 200),
        (post(Body::Text(r#"{"num": 8}"#.to_string())), 401),
        (authorized(r#"{"num": 1.5}"#), 400),
        (authorized(&" ".repeat(70_000)), 413),
        (req("GET", "/elsewhere"), 404),
        (req("DELETE", "/"), 405),
        (req("OPTIONS", "/"), 204),
    ];
    for (n, (request, status)) in mix.iter().enumerate() {
        let answer = api.invoke(invocation(n, request)).await;
        assert_eq!(answer["statusCode"], *status, "{answer}");
    }
    let (written, _, documents) = stop(function).await;
    assert!(!written.contains(token), "the token is in the log");
    assert_eq!(documents.len(), 1, "{written}");
    let expected = [
        ("Requests", 9),
        ("SeedReads", 2),
        ("SeedWrites", 1),
        ("ClientErrors", 5),
    ];
    assert_totals(&documents, &expected);
    assert_totals(
        &documents,
        &[("StoreUnavailable", 0), ("ServerErrors", 0), ("Latency", 9)],
    );
}

/// DynamoDB behind a proxy that holds everything for an hour: each GET is
/// a `503` at the store's bound, counted as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn a_stalled_stores_503s_are_counted() {
    let nowhere = format!("127.0.0.1:{}", harness::free_port())
        .parse()
        .expect("an address");
    let stalled = harness::slow_proxy::SlowProxy::start(nowhere).await;
    stalled.set_delay(Duration::from_secs(3600));
    let endpoint = stalled.endpoint();
    let function = start_function(&[
        ("SEED_TABLE", "seed"),
        ("SEED_STORE_TIMEOUT", "300ms"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ])
    .await;
    let api = &function.api;
    for n in 0..3 {
        let answer = api.invoke(invocation(n, &req("GET", "/"))).await;
        assert_eq!(answer["statusCode"], 503, "{answer}");
    }
    let (written, _, documents) = stop(function).await;
    assert_eq!(documents.len(), 1, "{written}");
    assert_stalled_gets(&documents, 3);
}
