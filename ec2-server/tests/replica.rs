//! The EC2 fallback reproduced locally (scripts/replica: DynamoDB Local, two
//! instances, HAProxy with the ALB's health-check semantics), under failure.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contract_tests::raw;
use contract_tests::replica::Replica;
use contract_tests::Endpoint;
use http::StatusCode;

fn server() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ec2-server"))
}

async fn start(memory: bool, env: &'static [(&'static str, &'static str)]) -> Replica {
    tokio::task::spawn_blocking(move || Replica::start(server(), memory, env))
        .await
        .expect("starting the replica")
}

async fn instances_answering(
    service: &Endpoint,
    requests: usize,
    expected: &str,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..requests {
        let reply = service.get().await;
        assert_eq!(reply.assert_seed("GET through the balancer"), expected);
        seen.insert(
            reply
                .header("x-seed-instance")
                .expect("instances are named")
                .to_string(),
        );
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_through_the_balancer_reach_both_instances_and_agree() {
    let replica = start(false, &[]).await;
    let service = replica.endpoint();
    service.store("31337").await;
    let seen = instances_answering(&service, 20, "31337").await;
    assert_eq!(seen, BTreeSet::from(["a".to_string(), "b".to_string()]));
}

/// Requests one after another for a bounded time, alternating POST and GET;
/// returns how many were made and every failure.
async fn request_stream(service: Endpoint, count: usize) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    for n in 0..count {
        let reply = if n % 2 == 0 {
            service.post(format!("{{\"num\": {n}}}")).await
        } else {
            service.get().await
        };
        if reply.status != StatusCode::OK {
            failures.push(format!("request {n}: {reply:?}"));
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    (count, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_fails_no_request_is_marked_down_and_rejoins() {
    let replica = Arc::new(start(false, &[]).await);
    let stream = tokio::spawn(request_stream(replica.endpoint(), 300));
    tokio::time::sleep(Duration::from_millis(800)).await;
    replica.script(&["kill", "a"], &[]);

    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || {
        watcher.wait_for_state("a", "DOWN", Duration::from_secs(10))
    })
    .await
    .expect("HAProxy marks the killed instance down");
    let (made, failures) = stream.await.expect("the request stream");
    assert!(
        failures.is_empty(),
        "{} of {made} requests failed: {failures:?}",
        failures.len()
    );

    replica.script(&["revive", "a"], &[]);
    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || watcher.wait_for_state("a", "UP", Duration::from_secs(15)))
        .await
        .expect("the revived instance rejoins");
    let service = replica.endpoint();
    service.store("77").await;
    let seen = instances_answering(&service, 10, "77").await;
    assert!(
        seen.contains("a"),
        "the revived instance got no traffic: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_an_instance_during_requests_fails_none() {
    let replica = start(false, &[]).await;
    let failures = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..4 {
        let service = replica.endpoint();
        let failures = Arc::clone(&failures);
        clients.push(tokio::spawn(async move {
            for n in 0..60 {
                let reply = if n % 3 == 0 {
                    service
                        .post(format!("{{\"num\": {}}}", client * 1000 + n))
                        .await
                } else {
                    service.get().await
                };
                if reply.status != StatusCode::OK {
                    eprintln!("failed: {reply:?}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    replica.script(&["term", "a"], &[]);
    for client in clients {
        client.await.expect("a client task");
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed while an instance drained"
    );
}

/// The ALB's ordering, scaled down: header-read limit (1 s) < the
/// balancer's idle keep-alive (4 s) < the servers' idle timeout (6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_stays_usable_past_the_header_read_limit() {
    let replica = start(
        false,
        &[
            ("SEED_HEADER_READ_TIMEOUT", "1s"),
            ("SEED_IDLE_TIMEOUT", "6s"),
            ("SEED_REPLICA_KEEP_ALIVE", "4s"),
        ],
    )
    .await;
    let balancer = replica
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("the replica URL is host:port");
    // Through the balancer, as a client sees it; and straight to an
    // instance, as the balancer's pooled connection sees it (through the
    // balancer alone, a closed pooled connection would be hidden by a retry).
    let mut through_balancer = raw::connect(balancer).await;
    let mut to_instance = raw::connect(replica.instance_address("a")).await;
    let request = b"GET / HTTP/1.1\r\nHost: seed\r\n\r\n";
    for round in 0..3 {
        for (what, client) in [
            ("balancer", &mut through_balancer),
            ("instance", &mut to_instance),
        ] {
            assert!(
                raw::write_lossy(client, request).await,
                "{what}, round {round}: closed"
            );
            let response = raw::read_response(client, Duration::from_secs(5)).await;
            assert_eq!(response.status, 200, "{what}, round {round}: {response:?}");
        }
        // Idle three times the header-read limit.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_passes_on_the_replica_and_names_both_instances() {
    let replica = start(false, &[]).await;
    let report = checker::run(&checker::Check {
        url: format!("{}/", replica.url),
        gets: 20,
        timeout: Duration::from_secs(5),
        value: None,
    })
    .await
    .expect("the check runs");
    let rendered = report.render();
    assert!(report.passed(), "{rendered}");
    assert!(rendered.contains("PASS"), "{rendered}");
    let instances: BTreeSet<_> = report
        .gets
        .iter()
        .filter_map(|get| get.instance.clone())
        .collect();
    assert_eq!(
        instances,
        BTreeSet::from(["a".to_string(), "b".to_string()]),
        "{rendered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_fails_on_instances_with_separate_memory_stores_and_says_why() {
    let replica = start(true, &[]).await;
    let report = checker::run(&checker::Check {
        url: format!("{}/", replica.url),
        gets: 20,
        timeout: Duration::from_secs(5),
        value: Some("4242".to_string()),
    })
    .await
    .expect("the check runs");
    let rendered = report.render();
    assert!(!report.passed(), "{rendered}");
    assert!(rendered.contains("FAIL"), "{rendered}");
    assert!(rendered.contains("do not share one store"), "{rendered}");
    assert!(
        rendered.contains("answered 200 OK 0"),
        "the stale instance's answer is shown: {rendered}"
    );
}
