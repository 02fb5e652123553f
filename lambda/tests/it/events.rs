//! The real bootstrap under cargo-lambda's emulator, fed real event
//! documents with `cargo lambda invoke`: what only the built binary shows
//! (the runtime's response forms, logs, its environment). Every shape's contract
//! rows run in-process in `adapter`; here one shape runs them end to end.

use contract::telemetry::{metric_totals, read_output};
use harness::lambda_emulator::LambdaUnderEmulator;
use harness::parameter_store::{Parameter, ParameterStoreStandin, Throttle, Throttling};
use serde_json::Value;

use crate::support::events::{every_spec_row, post, reply, req, Body, Shape};

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn every_spec_row_through_a_function_url() {
    let function = LambdaUnderEmulator::start(&[]);
    every_spec_row(Shape::FunctionUrl, |request| {
        reply(&function.invoke(&Shape::FunctionUrl.event(request)))
    });
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn the_alb_health_check_is_answered_200_with_a_status_description() {
    let function = LambdaUnderEmulator::start(&[]);
    let event: Value =
        serde_json::from_str(include_str!("../events/alb-health-check.json")).expect("JSON");
    let document = function.invoke(&event);
    assert_eq!(reply(&document).assert_seed("ALB health check"), "0");
    assert!(
        document["statusDescription"]
            .as_str()
            .is_some_and(|description| description.starts_with("200")),
        "an ALB needs statusDescription: {document}"
    );
}

/// Every line the function has written, each of which must be JSON.
fn function_lines(function: &LambdaUnderEmulator) -> Vec<Value> {
    function
        .function_output()
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("the function wrote a line that is not JSON: {line}"))
        })
        .collect()
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn each_invocations_lines_carry_its_keys_and_sigterm_writes_the_last_metrics() {
    let env = [
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG".to_string()),
        ("SEED_SERVICE", "seed-test".to_string()),
    ];
    let mut function = LambdaUnderEmulator::start(&env);
    let get = Shape::HttpV2.event(&req("GET", "/"));
    for _ in 0..3 {
        assert_eq!(reply(&function.invoke(&get)).assert_seed("GET"), "0");
    }
    let bad = Shape::HttpV2.event(&post(Body::Text(r#"{"num": 1.5}"#.to_string())));
    assert_eq!(reply(&function.invoke(&bad)).status, 400);
    let status = function.terminate_function(std::time::Duration::from_secs(5));
    assert!(status.success(), "SIGTERM: {status}");
    let output = function.function_output();
    let (requests, documents) = read_output(output.lines(), "seed-test");
    assert_eq!(requests.len(), 4, "{output}");
    let ids: std::collections::BTreeSet<&str> = requests
        .iter()
        .filter_map(|line| line["function_request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 4, "each invocation has its own id: {requests:?}");
    let cold: Vec<bool> = requests
        .iter()
        .map(|line| line["cold_start"] == true)
        .collect();
    assert_eq!(cold, [true, false, false, false], "{requests:?}");
    for line in &requests {
        // The request's trace header, as the function receives it, is the
        // invocation's trace: one root for both.
        let root = line["xray_trace_id"]
            .as_str()
            .expect("the invocation's trace root");
        assert_eq!(line["correlation_id"], root, "{line:?}");
        assert_eq!(line["function_name"], "_", "{line:?}");
        assert_eq!(line["function_memory_size"], 128, "{line:?}");
        assert!(line["function_arn"].is_string(), "{line:?}");
    }
    assert_eq!(documents.len(), 1, "one document, at SIGTERM: {output}");
    let totals = metric_totals(&documents);
    for (metric, expected) in [
        ("Requests", 4),
        ("SeedReads", 3),
        ("ClientErrors", 1),
        ("Latency", 4),
        ("ColdStart", 1),
    ] {
        assert_eq!(totals.get(metric), Some(&expected), "{metric}: {totals:?}");
    }
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn the_log_level_comes_from_aws_lambda_log_level() {
    let function = LambdaUnderEmulator::start(&[("AWS_LAMBDA_LOG_LEVEL", "WARN".to_string())]);
    assert_eq!(
        reply(&function.invoke(&Shape::HttpV2.event(&req("GET", "/")))).assert_seed("GET"),
        "0"
    );
    let lines = function_lines(&function);
    assert!(
        lines.iter().all(|line| line["level"] != "INFO"),
        "INFO lines at WARN: {lines:?}"
    );
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"),
        "{lines:?}"
    );
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda) and moto; ./scripts/test runs it"]
fn a_write_token_from_parameter_store_is_read_once_and_protects_posts() {
    let token = "lambda-ssm-t0ken";
    let standin = ParameterStoreStandin::start(&[Parameter {
        name: "/seed/write-token",
        kind: "SecureString",
        value: token,
    }]);
    let requests_before = standin.log().matches("POST / ").count();
    let mut env = standin.env();
    env.push((
        "SEED_WRITE_TOKEN_PARAMETER",
        "/seed/write-token".to_string(),
    ));
    let function = LambdaUnderEmulator::start(&env);
    runtime().block_on(contract::cases::posts_without_the_write_token_get_401(
        &function.endpoint(),
        token,
    ));
    assert_eq!(
        standin.log().matches("POST / ").count() - requests_before,
        1,
        "not one GetParameter for the invocations of the write-protection case; the stand-in's log:\n{}",
        standin.log()
    );
    let log = function.log();
    assert!(!log.contains(token), "the token is in the log:\n{log}");
    let lines = function_lines(&function);
    assert!(
        lines
            .iter()
            .any(|line| line["write_protection"] == "on (parameter /seed/write-token)"),
        "no configuration line naming the parameter: {lines:?}"
    );
}

/// Starts the function with `env` and a write token read from
/// `/seed/write-token`, expects its init to fail, and returns the one line
/// it wrote.
fn init_fails_with_one_line(env: Vec<(&'static str, String)>) -> Value {
    let mut env = env;
    env.push((
        "SEED_WRITE_TOKEN_PARAMETER",
        "/seed/write-token".to_string(),
    ));
    let mut function = LambdaUnderEmulator::start(&env);
    let status = function
        .function_exit_within(std::time::Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "the function still runs without its token:\n{}",
                function.log()
            )
        });
    assert!(!status.success(), "{status}");
    let lines = function_lines(&function);
    assert_eq!(lines.len(), 1, "not one line: {lines:?}");
    assert_eq!(lines[0]["level"], "ERROR", "{lines:?}");
    lines[0].clone()
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn a_token_that_cannot_be_read_stops_the_instance_with_one_error_line() {
    let closed = format!("http://127.0.0.1:{}", harness::free_port());
    let line = init_fails_with_one_line(harness::parameter_store::process_env(&closed));
    let error = line["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("/seed/write-token") && error.contains(&closed),
        "the error line does not name the parameter and the endpoint: {line}"
    );
}

/// Parameter Store holding the token, behind a throttle.
fn throttled_standin(throttling: Throttling) -> (ParameterStoreStandin, Throttle) {
    let standin = ParameterStoreStandin::start(&[Parameter {
        name: "/seed/write-token",
        kind: "SecureString",
        value: "lambda-ssm-t0ken",
    }]);
    let throttle = Throttle::start(&standin, throttling);
    (standin, throttle)
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda) and moto; ./scripts/test runs it"]
fn a_throttled_token_read_is_sent_again_and_the_instance_starts() {
    let (standin, throttle) = throttled_standin(Throttling::First(2));
    let mut env = standin.env_via(&throttle.endpoint);
    env.push((
        "SEED_WRITE_TOKEN_PARAMETER",
        "/seed/write-token".to_string(),
    ));
    let function = LambdaUnderEmulator::start(&env);
    let answer = reply(&function.invoke(&Shape::HttpV2.event(&req("GET", "/"))));
    assert_eq!(answer.assert_seed("GET"), "0");
    assert_eq!(throttle.received(), 3, "{}", function.log());
    assert!(
        function_lines(&function)
            .iter()
            .all(|line| line["level"] != "ERROR"),
        "{}",
        function.log()
    );
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda) and moto; ./scripts/test runs it"]
fn a_token_read_throttled_every_time_stops_the_instance_with_one_line_saying_so() {
    let (standin, throttle) = throttled_standin(Throttling::Always);
    let line = init_fails_with_one_line(standin.env_via(&throttle.endpoint));
    let error = line["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("ThrottlingException"),
        "the error line does not say it was throttled: {line}"
    );
    assert_eq!(throttle.received(), 3, "not three attempts: {line}");
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
fn an_unreachable_dynamodb_gives_503_with_retry_after_and_a_logged_cause() {
    let port = harness::free_port();
    let function = LambdaUnderEmulator::start(&[
        ("SEED_STORE", "dynamodb".to_string()),
        ("SEED_TABLE", "seed".to_string()),
        ("SEED_STORE_TIMEOUT", "1s".to_string()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]);
    runtime().block_on(
        contract::cases::an_unreachable_store_gets_503_with_retry_after(&function.endpoint()),
    );
    let lines = function_lines(&function);
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"
            && line["error"]
                .as_str()
                .is_some_and(|error| error.contains("could not be reached"))),
        "no warning with the cause: {lines:?}"
    );
}

/// A runtime for the contract's cases, which speak HTTP to the Function URL.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
