//! The bootstrap under a Runtime API of the tests' own
//! (`harness::runtime_api`), which chooses each invocation's ids: every line
//! written for an invocation carries that invocation's keys, the shutdown
//! extension registers, and SIGTERM writes the last metrics document.

use std::process::{Command, Stdio};
use std::time::Duration;

use contract::telemetry::{is_metrics_document, metric_totals, validate_emf, validate_log_line};
use harness::runtime_api::{Invocation, RuntimeApi, FUNCTION_ARN};
use harness::ChildGuard;

use crate::support::events::{req, Shape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn each_line_carries_its_own_invocations_keys_and_sigterm_writes_the_last_document() {
    let api = RuntimeApi::start().await;
    let output = tempfile::NamedTempFile::with_prefix("seed-function-").expect("a log file");
    let writes = || output.as_file().try_clone().expect("the log file");
    let mut function = ChildGuard::spawn(
        Command::new(harness::lambda_emulator::bootstrap())
            .env_clear()
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", api.address().as_str()),
                ("AWS_LAMBDA_FUNCTION_NAME", "seed-test"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("SEED_SERVICE", "seed-stack"),
            ])
            .stdin(Stdio::null())
            .stdout(writes())
            .stderr(writes()),
        "the bootstrap",
        "./scripts/test builds it",
    );
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
    let status = tokio::task::spawn_blocking(move || function.terminate(Duration::from_secs(5)));
    let status = status.await.expect("stopping the function");
    assert!(status.success(), "SIGTERM: {status}");

    let written = std::fs::read_to_string(output.path()).expect("the function's output");
    let (mut requests, mut documents) = (Vec::new(), Vec::new());
    for line in written.lines() {
        if is_metrics_document(line) {
            documents.push(validate_emf(line).unwrap_or_else(|why| panic!("{why}: {line}")));
        } else {
            let entry = validate_log_line(line, "seed-stack").unwrap_or_else(|why| panic!("{why}"));
            if entry["message"] == "request" {
                requests.push(entry);
            }
        }
    }
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
        assert_eq!(line["function_memory_size"], 256, "{line:?}");
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
