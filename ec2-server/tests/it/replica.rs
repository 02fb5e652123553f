//! The EC2 fallback reproduced locally (scripts/replica: DynamoDB Local, two
//! instances, HAProxy with the ALB's health-check semantics), under failure.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contract::raw;
use contract::Endpoint;
use harness::replica::Replica;
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
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn gets_through_the_balancer_reach_both_instances_and_agree() {
    let replica = start(false, &[]).await;
    let service = replica.endpoint();
    service.store("31337").await;
    let seen = instances_answering(&service, 20, "31337").await;
    assert_eq!(seen, BTreeSet::from(["a".to_string(), "b".to_string()]));
}

/// Requests one after another for a bounded time, alternating POST and GET;
/// returns how many were made and every failure, with its method.
async fn request_stream(
    service: Endpoint,
    count: usize,
    made: Arc<AtomicUsize>,
) -> (usize, Vec<(&'static str, String)>) {
    let mut failures = Vec::new();
    for n in 0..count {
        made.fetch_add(1, Ordering::Relaxed);
        let method = if n % 2 == 0 { "POST" } else { "GET" };
        let body = if n % 2 == 0 {
            format!("{{\"num\": {n}}}")
        } else {
            String::new()
        };
        match post_or_get(&service, method, body).await {
            Ok(reply) if reply.status == StatusCode::OK => {}
            Ok(reply) => failures.push((method, format!("request {n}: {reply:?}"))),
            Err(error) => failures.push((method, format!("request {n}: {error}"))),
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    (count, failures)
}

/// Waits until the request streams have made `at_least` requests between
/// them: traffic is under way.
async fn wait_until_made(made: &AtomicUsize, at_least: usize) {
    let started = std::time::Instant::now();
    while made.load(Ordering::Relaxed) < at_least {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the request streams made {} of {at_least} requests in 10 s",
            made.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn post_or_get(
    service: &Endpoint,
    method: &str,
    body: String,
) -> Result<contract::Reply, String> {
    service
        .try_send(method, "/", &[], body, contract::client::REQUEST_LIMIT)
        .await
}

/// How the balancer answers a POST that an instance held when it died: a
/// `502`, or it closes the client's connection (HAProxy does that when the
/// request went out on a reused connection to the instance).
fn is_the_balancers_refusal(failure: &str) -> bool {
    failure.contains("status: 502") || failure.contains("IncompleteMessage")
}

/// A request that finds the killed instance gone is retried on the other,
/// so no GET fails. A POST that was inside the instance when it died may
/// have been stored: the balancer does not send it again (a second copy
/// could land over a newer value) but refuses it, as an ALB answers 502.
/// The stream is sequential, so at most one POST was inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn a_killed_instance_fails_only_the_post_it_held_and_rejoins() {
    let replica = Arc::new(start(false, &[]).await);
    let made = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn(request_stream(replica.endpoint(), 300, Arc::clone(&made)));
    wait_until_made(&made, 20).await;
    replica.script(&["kill", "a"], &[]);

    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || {
        watcher.wait_for_state("a", "DOWN", Duration::from_secs(10))
    })
    .await
    .expect("HAProxy marks the killed instance down");
    let (made, failures) = stream.await.expect("the request stream");
    let explained = failures
        .iter()
        .all(|(method, failure)| *method == "POST" && is_the_balancers_refusal(failure));
    assert!(
        explained && failures.len() <= 1,
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

/// A POST that an instance held when it died may have been stored: the
/// balancer answers 502 rather than send it to the other instance, where a
/// second copy could land over a newer value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn a_post_held_by_an_instance_that_dies_is_answered_502_not_sent_again() {
    let replica = Arc::new(start(false, &[]).await);
    // With the store frozen, POSTs wait inside the instances.
    replica.pause_store();
    let posts: Vec<_> = (0..4)
        .map(|n| {
            let service = replica.endpoint();
            tokio::spawn(
                async move { post_or_get(&service, "POST", format!("{{\"num\": {n}}}")).await },
            )
        })
        .collect();
    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while watcher.requests_inside("a") == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no POST reached instance a within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("a POST inside instance a");
    replica.script(&["kill", "a"], &[]);
    replica.resume_store();
    let mut outcomes = Vec::new();
    for post in posts {
        outcomes.push(match post.await.expect("a POST task") {
            Ok(reply) => format!("{reply:?}"),
            Err(error) => error,
        });
    }
    assert!(
        outcomes
            .iter()
            .any(|outcome| is_the_balancers_refusal(outcome)),
        "the POSTs instance a held were sent to b instead: {outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn sigterm_to_an_instance_during_requests_fails_none() {
    let replica = start(false, &[]).await;
    let failures = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..4 {
        let service = replica.endpoint();
        let failures = Arc::clone(&failures);
        let made = Arc::clone(&made);
        clients.push(tokio::spawn(async move {
            for n in 0..60 {
                made.fetch_add(1, Ordering::Relaxed);
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
    wait_until_made(&made, 20).await;
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
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
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
    let balancer = replica.balancer_address();
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
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn the_checker_passes_on_the_replica_and_names_both_instances() {
    let replica = start(false, &[]).await;
    let report = checker::run(&checker::Check {
        url: format!("{}/", replica.url),
        gets: 20,
        timeout: Duration::from_secs(5),
        value: None,
        token: None,
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
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn the_checker_fails_on_instances_with_separate_memory_stores_and_says_why() {
    let replica = start(true, &[]).await;
    let report = checker::run(&checker::Check {
        url: format!("{}/", replica.url),
        gets: 20,
        timeout: Duration::from_secs(5),
        value: Some("4242".to_string()),
        token: None,
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

/// Refusals the handler makes without reading the body, each with the status
/// it must get: the request line, then the status.
const REFUSED_UNREAD: [(&str, u16); 5] = [
    ("PUT / HTTP/1.1", 405),
    ("DELETE / HTTP/1.1", 405),
    ("POST /elsewhere HTTP/1.1", 404),
    ("GET / HTTP/1.1", 200),  // a GET with a body: answered, body unread
    ("POST / HTTP/1.1", 401), // no write token
];

/// One user's keep-alive connection: `requests` requests, every fifth a
/// refusal whose body arrives 20 ms after its headers. Returns how many
/// requests were lost (no answer, or not the answer the request calls for).
async fn keep_alive_user(
    address: std::net::SocketAddr,
    requests: usize,
    user: usize,
) -> Vec<String> {
    let body = "{\"num\": 1}";
    let mut lost = Vec::new();
    let mut stream = raw::connect(address).await;
    for n in 0..requests {
        let (head, late_body, expected) = if n % 5 == 4 {
            let (line, status) = REFUSED_UNREAD[(n / 5 + user) % REFUSED_UNREAD.len()];
            let head = format!(
                "{line}\r\nHost: seed\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            (head, Some(body), status)
        } else {
            (
                "GET / HTTP/1.1\r\nHost: seed\r\n\r\n".to_string(),
                None,
                200,
            )
        };
        raw::write_lossy(&mut stream, head.as_bytes()).await;
        if let Some(late_body) = late_body {
            tokio::time::sleep(Duration::from_millis(20)).await;
            raw::write_lossy(&mut stream, late_body.as_bytes()).await;
        }
        match raw::try_read_response(&mut stream, Duration::from_secs(10)).await {
            Ok(response) if response.status == expected => {
                if response.says_close() {
                    stream = raw::connect(address).await;
                }
            }
            Ok(response) => {
                let status_line = response.head.lines().next().unwrap_or_default().to_string();
                lost.push(format!(
                    "user {user}, request {n}: wanted {expected}, got {status_line}"
                ));
                stream = raw::connect(address).await;
            }
            Err(why) => {
                lost.push(format!("user {user}, request {n}: {why}"));
                stream = raw::connect(address).await;
            }
        }
    }
    lost
}

/// A load balancer shares each connection among many users. Refusals whose
/// bodies arrive late must not cost anybody's next request: zero lost, zero
/// 502, straight to an instance and through a balancer that, like an ALB,
/// never retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn refusals_with_late_bodies_lose_no_request_on_shared_keep_alive_connections() {
    let replica = start(
        false,
        &[
            ("SEED_REPLICA_RETRIES", "0"),
            ("SEED_WRITE_TOKEN", "replica-token"),
        ],
    )
    .await;
    let balancer = replica.balancer_address();
    let (users, requests) = (8, 100);
    for (what, address) in [
        ("straight to an instance", replica.instance_address("a")),
        ("through the balancer", balancer),
    ] {
        let clients: Vec<_> = (0..users)
            .map(|user| tokio::spawn(keep_alive_user(address, requests, user)))
            .collect();
        let mut lost = Vec::new();
        for client in clients {
            lost.extend(client.await.expect("a user's task"));
        }
        assert!(
            lost.is_empty(),
            "{what}: {} of {} requests lost: {lost:#?}",
            lost.len(),
            users * requests
        );
    }
}

/// A restart behind a balancer that never retries: SIGTERM makes the
/// instance a lame duck (health checks fail, connections close after each
/// response) until the balancer has marked it down; then it drains and
/// exits; it starts again and rejoins. No request fails in all that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt) and DynamoDB Local; ./scripts/test runs it"]
async fn a_restart_behind_a_balancer_that_never_retries_fails_no_request() {
    let replica = Arc::new(
        start(
            false,
            &[("SEED_REPLICA_RETRIES", "0"), ("SEED_SHUTDOWN_DELAY", "3s")],
        )
        .await,
    );
    let made = Arc::new(AtomicUsize::new(0));
    let streams: Vec<_> = (0..4)
        .map(|_| tokio::spawn(request_stream(replica.endpoint(), 400, Arc::clone(&made))))
        .collect();
    wait_until_made(&made, 40).await;
    replica.script(&["term", "a"], &[]);

    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || {
        watcher.wait_for_state("a", "DOWN", Duration::from_secs(10));
        watcher.wait_for_exit("a", Duration::from_secs(20));
    })
    .await
    .expect("the lame duck is marked down, then exits");
    replica.script(&["revive", "a"], &[]);
    let watcher = Arc::clone(&replica);
    tokio::task::spawn_blocking(move || watcher.wait_for_state("a", "UP", Duration::from_secs(15)))
        .await
        .expect("the restarted instance rejoins");

    let mut made = 0;
    let mut failures = Vec::new();
    for stream in streams {
        let (count, failed) = stream.await.expect("a request stream");
        made += count;
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} of {made} requests failed: {failures:#?}",
        failures.len()
    );
    let service = replica.endpoint();
    service.store("2024").await;
    assert!(instances_answering(&service, 10, "2024")
        .await
        .contains("a"));
}

/// Whether `log` has the per-request line of the request whose trace root is `root`.
fn logs_request_with_root(log: &str, root: &str) -> bool {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .any(|line| line["message"] == "request" && line["correlation_id"] == root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt); ./scripts/test runs it"]
async fn the_balancers_trace_root_is_the_correlation_id_of_the_instances_lines() {
    let replica = start(true, &[("SEED_LOG_LEVEL", "debug")]).await;
    let service = replica.endpoint();
    let own = "1-5f84c7a1-0123456789abcdef01234567";
    let own_header = format!("Root={own};Sampled=0");
    let mut expected = Vec::new();
    for request in 0..5 {
        let headers: &[(&str, &str)] = match request {
            4 => &[("x-amzn-trace-id", own_header.as_str())],
            _ => &[],
        };
        let reply = service.send("GET", "/", headers, "").await;
        reply.assert_seed("GET through the balancer");
        let trace = reply
            .header("x-amzn-trace-id")
            .expect("the balancer's trace header");
        let root = trace
            .split(';')
            .next()
            .and_then(|part| part.strip_prefix("Root="));
        let root = root.expect("a Root= part").to_string();
        let instance = reply
            .header("x-seed-instance")
            .expect("instances are named");
        expected.push((instance.to_string(), root));
    }
    assert_eq!(
        expected[4].1, own,
        "the client's own trace header was replaced"
    );
    let made: BTreeSet<&String> = expected.iter().map(|(_, root)| root).collect();
    assert_eq!(made.len(), 5, "a trace root a request: {expected:?}");
    for (instance, root) in &expected {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !logs_request_with_root(&replica.instance_log(instance), root) {
            assert!(
                std::time::Instant::now() < deadline,
                "instance {instance} logged no request line with correlation_id {root}:\n{}",
                replica.instance_log(instance)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
