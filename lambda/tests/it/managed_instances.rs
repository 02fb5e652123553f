//! The bootstrap as Lambda Managed Instances run it: one process given up
//! to `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once by a Runtime API of
//! the tests' own (`harness::runtime_api`), on DynamoDB Local behind a
//! proxy that counts the calls (and, where a test says, delays them).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contract::telemetry::{metric_totals, read_output};
use harness::dynamodb_local::{shared_endpoint, store_env, store_on_new_table};
use harness::runtime_api::FunctionUnderRuntimeApi;
use harness::slow_proxy::SlowProxy;
use harness::throttling_proxy::{Budget, ThrottlingProxy};
use http::StatusCode;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

/// Slots per environment, as the template's default.
const SLOTS: &str = "8";

/// The function with `slots` (None: the classic mode) on a new table of the
/// shared DynamoDB Local, reached through a counting proxy and a slow one.
struct Fixture {
    function: FunctionUnderRuntimeApi,
    counts: ThrottlingProxy,
    delay: SlowProxy,
}

impl Fixture {
    async fn start(slots: Option<&str>) -> Self {
        let dynamodb: SocketAddr = address(&shared_endpoint());
        let delay = SlowProxy::start(dynamodb).await;
        let counts = ThrottlingProxy::start(address(&delay.endpoint()), Budget::default()).await;
        let table = store_on_new_table(&shared_endpoint(), "managed", STORE_TIMEOUT).await;
        let mut env = store_env(&counts.endpoint(), table.table());
        env.push(("AWS_LAMBDA_LOG_LEVEL", "DEBUG".to_string()));
        if let Some(slots) = slots {
            env.push(("AWS_LAMBDA_MAX_CONCURRENCY", slots.to_string()));
        }
        let bootstrap = harness::lambda_emulator::bootstrap();
        let function = FunctionUnderRuntimeApi::start(&bootstrap, &env).await;
        Fixture {
            function,
            counts,
            delay,
        }
    }
}

fn address(endpoint: &str) -> SocketAddr {
    contract::socket_address(endpoint).expect("an endpoint is http://IP:PORT")
}

/// `total` GETs through the function's HTTP face, `outstanding` at a time;
/// each answer must be at least the newest value `acknowledged` before the
/// GET was sent.
async fn gets(fixture: &Fixture, total: u64, outstanding: u64, acknowledged: &Arc<AtomicU64>) {
    let sent = Arc::new(AtomicU64::new(0));
    let clients = (0..outstanding).map(|_| {
        let (endpoint, sent) = (fixture.function.endpoint(), Arc::clone(&sent));
        let acknowledged = Arc::clone(acknowledged);
        tokio::spawn(async move {
            while sent.fetch_add(1, Ordering::SeqCst) < total {
                let before = acknowledged.load(Ordering::SeqCst);
                let reply = endpoint.get().await;
                let answer: u64 = reply.assert_seed("a GET").parse().expect("a seed");
                assert!(
                    answer >= before,
                    "GET answered {answer}, after {before} was acknowledged"
                );
            }
        })
    });
    for client in clients.collect::<Vec<_>>() {
        client.await.expect("a client");
    }
}

/// POSTs 1, 2, 3, ... one at a time until `gets` has ended, recording
/// each acknowledged value; how many were sent (each answered).
async fn posts_during<F: std::future::Future<Output = ()>>(
    fixture: &Fixture,
    acknowledged: &Arc<AtomicU64>,
    gets: F,
) -> u64 {
    let endpoint = fixture.function.endpoint();
    let done = AtomicBool::new(false);
    let writer = async {
        let mut value = 0;
        while !done.load(Ordering::SeqCst) {
            value += 1;
            endpoint.store(&value.to_string()).await;
            acknowledged.store(value, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        value
    };
    let readers = async {
        gets.await;
        done.store(true, Ordering::SeqCst);
    };
    tokio::join!(writer, readers).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn eight_slots_share_reads_and_answer_every_get_currently() {
    let fixture = Fixture::start(Some(SLOTS)).await;
    let acknowledged = Arc::new(AtomicU64::new(0));
    let posts = posts_during(
        &fixture,
        &acknowledged,
        gets(&fixture, 2_000, 64, &acknowledged),
    )
    .await;
    let counts = fixture.counts.counts();
    let per_get = counts.reads as f64 / 2_000.0;
    eprintln!("8 slots, 64 outstanding: {counts:?}, {per_get:.3} GetItem per GET, {posts} POSTs");
    // The slots settle into two groups, each answered by every other read
    // (a GET never joins the read under way): 4 GETs a read, 0.25, a little
    // more as groups split; more than 0.3 would mean reads are not shared.
    assert!(per_get <= 0.3, "{per_get:.3} GetItem per GET: {counts:?}");
    assert_eq!(counts.writes, posts, "one PutItem per POST");
    assert_eq!(fixture.function.api.most_held_at_once(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn without_slots_the_function_serves_one_invocation_at_a_time() {
    let fixture = Fixture::start(None).await;
    let acknowledged = Arc::new(AtomicU64::new(0));
    gets(&fixture, 64, 16, &acknowledged).await;
    assert_eq!(fixture.function.api.most_held_at_once(), 1);
    assert_eq!(fixture.counts.counts().reads, 64, "one GetItem per GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn each_of_the_invocations_held_at_once_logs_its_own_ids() {
    let fixture = Fixture::start(Some(SLOTS)).await;
    fixture.delay.set_delay(Duration::from_millis(200));
    gets(&fixture, 32, 32, &Arc::new(AtomicU64::new(0))).await;
    assert_eq!(fixture.function.api.most_held_at_once(), 8);
    let output = fixture.function.output();
    let (requests, _) = read_output(output.lines(), "seed-stack");
    let ids: BTreeSet<_> = (requests.iter())
        .map(|line| {
            line["function_request_id"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    let expected: BTreeSet<_> = (0..32).map(|n| format!("http-{n}")).collect();
    assert_eq!(ids, expected, "{output}");
    for line in &requests {
        let n = line["function_request_id"]
            .as_str()
            .and_then(|id| id.strip_prefix("http-"));
        let n: u64 = n
            .and_then(|n| n.parse().ok())
            .expect("an id of the HTTP face");
        assert_eq!(
            line["xray_trace_id"],
            format!("1-67600000-{n:024x}"),
            "{line:?}"
        );
    }
    let cold = requests
        .iter()
        .filter(|line| line["cold_start"] == true)
        .count();
    assert_eq!(cold, 1, "one cold start per environment: {output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn sigterm_lets_the_invocations_in_flight_finish_and_counts_them() {
    let mut fixture = Fixture::start(Some(SLOTS)).await;
    fixture.delay.set_delay(Duration::from_millis(300));
    let endpoint = fixture.function.endpoint();
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move { endpoint.get().await.status })
        })
        .collect();
    let held = async {
        while fixture.function.api.held() < 8 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the function did not hold 8 invocations within 10 s");
    let status = fixture.function.terminate(Duration::from_secs(5)).await;
    assert!(status.success(), "SIGTERM: {status}");
    let output = fixture.function.output();
    for invocation in in_flight {
        let status = invocation.await.expect("an invocation");
        assert_eq!(
            status,
            StatusCode::OK,
            "an invocation in flight at SIGTERM: {output}"
        );
    }
    let (_, documents) = read_output(output.lines(), "seed-stack");
    let totals = metric_totals(&documents);
    assert_eq!(totals.get("Requests"), Some(&8), "{output}");
}
