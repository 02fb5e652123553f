//! The DynamoDB store through the server: durability across restarts,
//! agreement between instances, one call per request, outages, start-up
//! checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{process, settings, spawn_app_with};
use aws_sdk_dynamodb::types::AttributeValue;
use contract::Endpoint;
use harness::dynamodb_local::{
    process_env, sdk_config, shared_endpoint, store_on_new_table, unique_table_name,
    PrivateDynamoDb,
};
use http::StatusCode;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn the_seed_survives_a_server_restart() {
    let endpoint = shared_endpoint();
    let table = unique_table_name("restart");
    let first = process::start_on_dynamodb(&endpoint, &table, &["--create-table"]).await;
    let service = Endpoint::new(format!("http://{}", first.address));
    service.store("4242").await;
    first.signal("TERM");
    let mut first = first;
    let status = first.exit_status(Duration::from_secs(15)).await;
    assert!(status.success());

    let second = process::start_on_dynamodb(&endpoint, &table, &[]).await;
    let service = Endpoint::new(format!("http://{}", second.address));
    assert_eq!(service.seed().await, "4242");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn every_get_and_post_is_exactly_one_dynamodb_call() {
    let endpoint = shared_endpoint();
    let store = Arc::new(store_on_new_table(&endpoint, "calls", STORE_TIMEOUT).await);
    let server = spawn_app_with(settings(&[]), store.clone()).await;
    let before = store.requests_sent();
    for n in 0..10 {
        server.store(&n.to_string()).await;
        assert_eq!(server.seed().await, n.to_string());
        let head = server.send("HEAD", "/", &[], bytes::Bytes::new()).await;
        assert_eq!(head.status, StatusCode::OK);
    }
    assert_eq!(
        store.requests_sent() - before,
        30,
        "10 POSTs + 10 GETs + 10 HEADs"
    );
    // Answers that need no seed cost no call.
    for (method, path) in [("OPTIONS", "/"), ("DELETE", "/"), ("GET", "/other")] {
        server.send(method, path, &[], bytes::Bytes::new()).await;
    }
    server.post("{\"num\": 1.5}").await;
    assert_eq!(
        store.requests_sent() - before,
        30,
        "refusals must not call DynamoDB"
    );
}

/// A server with a 1 s store bound on a private DynamoDB Local.
async fn server_on_private_dynamodb(
    dynamodb: &PrivateDynamoDb,
) -> (crate::support::TestServer, Duration) {
    let bound = Duration::from_secs(1);
    let store = store_on_new_table(&dynamodb.endpoint(), "outage", bound).await;
    (spawn_app_with(settings(&[]), Arc::new(store)).await, bound)
}

async fn assert_unavailable_within(service: &Endpoint, method: &str, bound: Duration) -> String {
    let started = Instant::now();
    let body = if method == "POST" { "{\"num\": 9}" } else { "" };
    let reply = service.send(method, "/", &[], body).await;
    let took = started.elapsed();
    let message = reply.assert_refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{method} during outage"),
    );
    assert_eq!(reply.header("retry-after"), Some("1"), "{reply:?}");
    // Bounded, not hung: the bound plus generous slack for a loaded machine.
    assert!(
        took < bound + Duration::from_secs(3),
        "{method} took {took:?}"
    );
    message
}

/// Stores `value` once the store answers again: right after a restart,
/// DynamoDB Local can be slower than the bound for a moment, and a 503 then
/// is the server doing its job.
async fn store_once_recovered(service: &Endpoint, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = service.post(format!("{{\"num\": {value}}}")).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.text(), value);
            return;
        }
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(
            Instant::now() < deadline,
            "writes not recovered within 30 s: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_until_served(service: &Endpoint) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = service.get().await;
        if reply.status == StatusCode::OK {
            return reply.text();
        }
        assert!(
            Instant::now() < deadline,
            "not recovered within 30 s: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_stopped_dynamodb_gives_503_within_the_bound_and_the_server_recovers_by_itself() {
    let mut dynamodb = PrivateDynamoDb::start();
    let (server, bound) = server_on_private_dynamodb(&dynamodb).await;
    server.store("7").await;

    dynamodb.stop();
    assert_unavailable_within(&server, "GET", bound).await;
    assert_unavailable_within(&server, "POST", bound).await;
    // Requests that need no store are still answered.
    let options = server.send("OPTIONS", "/", &[], "").await;
    assert_eq!(options.status, StatusCode::NO_CONTENT);

    dynamodb.restart();
    assert_eq!(
        wait_until_served(&server).await,
        "7",
        "the stored value survived"
    );
    store_once_recovered(&server, "8").await;
    assert_eq!(server.seed().await, "8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_paused_dynamodb_gives_503_within_the_bound_without_blocking_other_requests() {
    let dynamodb = PrivateDynamoDb::start();
    let (server, bound) = server_on_private_dynamodb(&dynamodb).await;
    server.store("11").await;

    dynamodb.pause();
    let stuck = {
        let server = server.endpoint.clone();
        tokio::spawn(async move {
            assert_unavailable_within(&server, "GET", bound).await;
        })
    };
    // While a store call hangs, other requests are answered at once.
    for _ in 0..5 {
        let started = Instant::now();
        let reply = server.send("OPTIONS", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(started.elapsed() < bound, "OPTIONS waited for the store");
    }
    let message = assert_unavailable_within(&server, "POST", bound).await;
    assert!(
        message.contains("may or may not have been stored"),
        "{message}"
    );
    stuck.await.expect("the GET during the pause");

    dynamodb.resume();
    // The POST above reached DynamoDB before it froze, so it may be applied
    // once DynamoDB thaws: its 503 said so. Either value is correct; nothing
    // else is.
    let after = wait_until_served(&server).await;
    assert!(after == "11" || after == "9", "after the pause: {after}");
    store_once_recovered(&server, "12").await;
    assert_eq!(server.seed().await, "12");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_value_of_the_wrong_type_in_the_table_is_a_503_not_a_wrong_answer() {
    let endpoint = shared_endpoint();
    let store = store_on_new_table(&endpoint, "corrupt", STORE_TIMEOUT).await;
    let client = aws_sdk_dynamodb::Client::from_conf(sdk_config(&endpoint).build());
    client
        .put_item()
        .table_name(store.table())
        .item("id", AttributeValue::S("seed".into()))
        .item("value", AttributeValue::N("12".into()))
        .send()
        .await
        .expect("put a number-typed value");
    let server = spawn_app_with(settings(&[]), Arc::new(store)).await;
    server
        .get()
        .await
        .assert_refusal(StatusCode::SERVICE_UNAVAILABLE, "number-typed value");
    // A POST repairs it.
    server.store("12").await;
    assert_eq!(server.seed().await, "12");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_missing_table_stops_start_up_with_a_clear_message() {
    let endpoint = shared_endpoint();
    let table = unique_table_name("missing");
    let env = process_env(&endpoint);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ec2-server"));
    harness::without_shell_settings(&mut command);
    let output = tokio::process::Command::from(command)
        .args(["--port", "0", "--store", "dynamodb", "--table", &table])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("table does not exist"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn missing_credentials_or_region_stop_start_up_with_a_clear_message() {
    let endpoint = shared_endpoint();
    let base = [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ];
    for (missing, extra, expected) in [
        (
            "credentials",
            &[("AWS_REGION", "us-east-1")][..],
            "credentials",
        ),
        (
            "region",
            &[
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
            ][..],
            "AWS_REGION",
        ),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ec2-server"))
            .args(["--port", "0", "--store", "dynamodb", "--table", "seed"])
            .env_clear()
            .envs(base.iter().copied())
            .envs(extra.iter().copied())
            .output()
            .await
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "without {missing}: {stderr}");
        assert!(stderr.contains(expected), "without {missing}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn start_up_logs_name_the_table_and_do_not_warn_about_per_process_state() {
    let endpoint = shared_endpoint();
    let table = unique_table_name("log");
    let server = process::start_on_dynamodb(
        &endpoint,
        &table,
        &["--create-table", "--address", "127.0.0.1"],
    )
    .await;
    let log = server.startup_log.join("\n");
    assert!(log.contains(&format!("\"table\":\"{table}\"")), "{log}");
    assert!(log.contains("\"store\":\"dynamodb\""), "{log}");
    assert!(!log.contains("kept in this process only"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_slow_dynamodb_is_waited_for_within_the_bound_and_refused_beyond_it() {
    let endpoint = shared_endpoint();
    let target = contract::socket_address(&endpoint).expect("the shared DynamoDB Local's address");
    let proxy = harness::slow_proxy::SlowProxy::start(target).await;
    let bound = Duration::from_secs(1);
    let store = store_on_new_table(&endpoint, "slow", bound).await;
    // The same table, reached through the proxy.
    let slow_store =
        shared::DynamoDbStore::new(sdk_config(&proxy.endpoint()), store.table(), bound);
    let server = spawn_app_with(settings(&[]), Arc::new(slow_store)).await;
    server.store("5").await;

    // Slow but within the bound: answered, just later.
    proxy.set_delay(Duration::from_millis(150));
    assert_eq!(server.seed().await, "5");
    server.store("6").await;

    // Slower than the bound: 503 within it, other requests unaffected.
    proxy.set_delay(Duration::from_secs(3));
    assert_unavailable_within(&server, "GET", bound).await;
    let options = server.send("OPTIONS", "/", &[], "").await;
    assert_eq!(options.status, StatusCode::NO_CONTENT);

    // Fast again: recovers by itself.
    proxy.set_delay(Duration::ZERO);
    let value = wait_until_served(&server).await;
    assert!(
        value == "6" || value == "9",
        "after the slow spell: {value}"
    );
}

/// During an outage every request fails the same way; the log says so once,
/// then summarises (at most once per 10 s), then says once that it is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn an_outage_is_logged_at_a_bounded_rate_and_its_end_once() {
    let mut dynamodb = PrivateDynamoDb::start();
    let store = store_on_new_table(&dynamodb.endpoint(), "flood", STORE_TIMEOUT).await;
    let server = process::start_on_dynamodb(
        &dynamodb.endpoint(),
        store.table(),
        &["--store-timeout", "1s"],
    )
    .await;
    let service = Endpoint::new(format!("http://{}", server.address));
    service.store("3").await;

    dynamodb.stop();
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let service = service.clone();
        clients.push(tokio::spawn(async move {
            for _ in 0..25 {
                let reply = service.get().await;
                assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
            }
        }));
    }
    for client in clients {
        client.await.expect("a client of the outage");
    }
    let outage = started.elapsed();

    dynamodb.restart();
    assert_eq!(wait_until_served(&service).await, "3");
    assert_eq!(service.get().await.text(), "3");
    let recovered = server
        .wait_until_logged("store answers again", Duration::from_secs(5))
        .await;

    let first = server.logged(
        "store call failed; until it answers again, failures are summarised once per interval",
    );
    let summaries = server.logged("store calls still failing");
    assert_eq!(first.len(), 1, "200 failed requests: {first:?}");
    assert!(
        first[0]["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("the store")),
        "the first line gives the cause: {first:?}"
    );
    let allowed = outage.as_secs() / 10 + 1;
    assert!(
        summaries.len() as u64 <= allowed,
        "{} summaries in {outage:?}: {summaries:?}",
        summaries.len()
    );
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    let failures = recovered[0]["failures"].as_u64().expect("a failure count");
    assert!(
        failures >= 200,
        "the recovery line counts the failures: {recovered:?}"
    );
}
