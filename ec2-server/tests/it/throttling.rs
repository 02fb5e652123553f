//! DynamoDB at one item's rate limit, played by the harness's throttling
//! proxy in front of DynamoDB Local: two server processes on one item, as
//! two instances behind a balancer. Reads past the budget slow each
//! process's own reads instead of failing its GETs; writes past it get
//! `503` with `Retry-After` within the store's bound, no acknowledged write
//! is lost, and the refusals are logged at a bounded rate.

use std::time::{Duration, Instant};

use bytes::Bytes;
use contract::history::{Target, Workload};
use contract::Endpoint;
use harness::dynamodb_local::{shared_endpoint, store_on_new_table};
use harness::throttling_proxy::{Budget, ThrottlingProxy};
use http::StatusCode;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

use crate::linearizability::record_one_register;
use crate::support::process::{self, ServerProcess};

/// Reads a second of one item: far under what DynamoDB serves (3,000),
/// and under what two debug builds of the server send when unlimited
/// (about 200 a second here, 100 on a loaded machine), so that the limit
/// is certainly reached. `bench/README.md` has release builds at 300.
const READS_PER_SECOND: u64 = 20;

/// The log message of refused reads (`shared::store::shared_reads`).
const READS_REFUSED: &str = "the store refused reads for their rate; the GETs waiting for them wait for the next read, sent after the spacing";

/// The proxy with `budget` in front of the shared DynamoDB Local, and two
/// server processes on a new table behind it.
async fn two_servers_behind(budget: Budget) -> (ThrottlingProxy, Vec<ServerProcess>) {
    let dynamodb = shared_endpoint();
    let table = store_on_new_table(&dynamodb, "throttled", STORE_TIMEOUT)
        .await
        .table()
        .to_string();
    let target = contract::socket_address(&dynamodb)
        .expect("the shared DynamoDB Local is at http://IP:PORT");
    let proxy = ThrottlingProxy::start(target, budget).await;
    let mut servers = Vec::new();
    for _ in 0..2 {
        servers.push(process::start_on_dynamodb(&proxy.endpoint(), &table, &[]).await);
    }
    (proxy, servers)
}

fn targets(servers: &[ServerProcess]) -> Vec<Target> {
    servers
        .iter()
        .enumerate()
        .map(|(n, server)| {
            Target::new(
                format!("server {n}"),
                Endpoint::new(format!("http://{}", server.address)),
            )
        })
        .collect()
}

/// The statuses of GETs sent one after another by `clients` clients per
/// server for `duration` (none after it; a request unanswered in 10 s
/// counts as no status).
async fn gets_for(
    servers: &[ServerProcess],
    clients: usize,
    duration: Duration,
) -> Vec<Option<StatusCode>> {
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for server in servers {
        for _ in 0..clients {
            let endpoint = Endpoint::new(format!("http://{}", server.address));
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                while Instant::now() < until && statuses.len() < 200_000 {
                    let reply = endpoint
                        .try_send("GET", "/", &[], Bytes::new(), Duration::from_secs(10))
                        .await;
                    statuses.push(reply.ok().map(|reply| reply.status));
                }
                statuses
            }));
        }
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.extend(task.await.expect("a client"));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn two_servers_over_an_items_read_limit_answer_every_get_200() {
    let budget = Budget {
        reads_per_second: Some(READS_PER_SECOND),
        ..Budget::default()
    };
    let (proxy, servers) = two_servers_behind(budget).await;
    let duration = Duration::from_secs(6);
    let statuses = gets_for(&servers, 32, duration).await;
    let counts = proxy.counts();
    let answered = statuses
        .iter()
        .filter(|status| **status == Some(StatusCode::OK))
        .count();
    eprintln!(
        "{} GETs, {answered} answered 200, from {} reads; {} reads refused",
        statuses.len(),
        counts.reads,
        counts.refused_reads
    );
    assert!(
        counts.refused_reads > 0,
        "the servers never reached the read limit, so it was not tested: {counts:?}"
    );
    assert_eq!(
        answered,
        statuses.len(),
        "GETs not answered 200: {:?}",
        statuses
            .iter()
            .filter(|status| **status != Some(StatusCode::OK))
            .take(5)
            .collect::<Vec<_>>()
    );
    // At most 0.1 `GetItem` per GET.
    assert!(
        answered >= 10 * counts.reads as usize,
        "{answered} GETs from {} reads: not shared",
        counts.reads
    );
    for server in &servers {
        let lines = server.logged(READS_REFUSED);
        // The first refusal at once, then at most one line per 10 s.
        assert!(
            (1..=2).contains(&lines.len()),
            "{} lines about refused reads in {duration:?}: {lines:?}",
            lines.len()
        );
        assert!(lines[0]["refused_reads"].as_u64().is_some(), "{}", lines[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn posts_over_an_items_write_limit_get_503_in_time_and_no_acknowledged_write_is_lost() {
    let budget = Budget {
        writes_per_second: Some(20),
        ..Budget::default()
    };
    let (proxy, servers) = two_servers_behind(budget).await;
    // A history through both servers, writes refused all along; first,
    // while the seed is still 0 (a burst's write may land late).
    let workload = Workload {
        clients: 8,
        duration: Duration::from_secs(6),
        requests_per_client: 5_000,
        request_limit: Duration::from_secs(10),
    };
    let recorded =
        record_one_register("writes limited", &targets(&servers), workload, |_| async {}).await;
    eprintln!("writes limited: {:?}", proxy.counts());
    assert!(
        recorded.unknown_writes() > 0 && recorded.acknowledged_writes() > 0,
        "{}",
        recorded.summary()
    );
    // Then a burst three times the second's budget: the refused get 503.
    let service = Endpoint::new(format!("http://{}", servers[0].address));
    let burst: Vec<_> = (0..60)
        .map(|n| {
            let service = service.clone();
            tokio::spawn(async move {
                let sent = Instant::now();
                let reply = service.post(format!("{{\"num\": {n}}}")).await;
                (reply, sent.elapsed())
            })
        })
        .collect();
    let mut refused = 0;
    for task in burst {
        let (reply, took) = task.await.expect("a POST");
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            refused += 1;
            reply.assert_refusal(StatusCode::SERVICE_UNAVAILABLE, "a throttled POST");
            assert_eq!(reply.header("retry-after"), Some("1"));
            assert!(
                took < STORE_TIMEOUT + Duration::from_millis(500),
                "answered after {took:?}"
            );
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        }
    }
    assert!(
        refused > 0,
        "no POST of the burst was refused: {:?}",
        proxy.counts()
    );
    for server in &servers {
        let failed = server.logged(
            "store call failed; until it answers again, failures are summarised once per interval",
        );
        let still = server.logged("store calls still failing");
        // Each 10 s at most one line, whatever the number of refusals.
        assert!(
            !failed.is_empty() && failed.len() + still.len() <= 2,
            "{} + {} lines about failed store calls",
            failed.len(),
            still.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn over_an_items_read_and_write_limits_the_history_is_one_registers() {
    let budget = Budget {
        // Its clients also wait on refused writes, so they read less.
        reads_per_second: Some(READS_PER_SECOND / 2),
        writes_per_second: Some(20),
    };
    let (proxy, servers) = two_servers_behind(budget).await;
    let workload = Workload {
        clients: 16,
        duration: Duration::from_secs(8),
        requests_per_client: 20_000,
        request_limit: Duration::from_secs(10),
    };
    let recorded = record_one_register(
        "reads and writes limited",
        &targets(&servers),
        workload,
        |_| async {},
    )
    .await;
    let counts = proxy.counts();
    eprintln!("reads and writes limited: {counts:?}");
    assert!(
        counts.refused_reads > 0 && counts.refused_writes > 0,
        "a limit was never reached, so it was not tested: {counts:?}"
    );
    assert_eq!(recorded.failed_reads, 0, "{}", recorded.summary());
}
