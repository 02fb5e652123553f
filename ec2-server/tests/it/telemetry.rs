//! What an operator's log pipeline reads from the server: every line's keys,
//! each request's correlation id, and metrics documents that are valid EMF
//! and sum exactly to the answers sent, the drain's included.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::raw;
use contract::telemetry::{
    assert_stalled_gets, assert_totals, is_metrics_document, metric_totals, read_output,
    validate_emf,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::support::process;
use crate::support::{settings, spawn_app_with};

/// The documents in `lines`, each checked against the EMF rules.
fn documents(lines: &[String]) -> Vec<Value> {
    let documents = lines.iter().filter(|line| is_metrics_document(line));
    let checked =
        documents.map(|line| validate_emf(line).unwrap_or_else(|why| panic!("{why}: {line}")));
    checked.collect()
}

/// Waits until `sink` holds a document, as the server writes its last one
/// after the drain.
async fn until_written(kept: &Kept) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines(kept).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no metrics document within 10 s of the stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    documents(&lines(kept))
}

/// Where an in-process server keeps its documents.
type Kept = Arc<Mutex<Vec<String>>>;

fn lines(kept: &Kept) -> Vec<String> {
    kept.lock().expect("the documents").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_count_every_answer_once_and_the_last_is_written_at_the_stop() {
    let sink = Kept::default();
    let mut settings = settings(&[]);
    settings.shared.telemetry.metrics_kept = Some(Arc::clone(&sink));
    let server = spawn_app_with(settings, Arc::new(shared::MemoryStore::new())).await;
    for _ in 0..3 {
        server.get().await.assert_seed("GET");
    }
    server.send("HEAD", "/", &[], "").await;
    server.store("7").await;
    server.store("8").await;
    server.post(r#"{"num": 1.5}"#).await;
    server.send("GET", "/elsewhere", &[], "").await;
    server.send("DELETE", "/", &[], "").await;
    server.send("OPTIONS", "/", &[], "").await;
    server.post(vec![b' '; 70_000]).await;
    // Two the transport answers itself: no Host (400), a head too large (431).
    for request in [b"GET / HTTP/1.1\r\n\r\n".to_vec(), oversized_head()] {
        let mut connection = raw::connect(server.address).await;
        connection
            .write_all(&request)
            .await
            .expect("the request is sent");
        let response = raw::read_response(&mut connection, Duration::from_secs(5)).await;
        assert!(
            response.status == 400 || response.status == 431,
            "{}",
            response.status
        );
    }
    assert!(lines(&sink).is_empty(), "a document before the interval");
    drop(server);
    let documents = until_written(&sink).await;
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_totals(
        &documents,
        &[
            ("Requests", 13),
            ("SeedReads", 4),
            ("SeedWrites", 2),
            ("ClientErrors", 6),
            ("StoreUnavailable", 0),
            ("Latency", 13),
            ("StoreReads", 0),
        ],
    );
    assert_eq!(documents[0]["service"], "seed");
}

fn oversized_head() -> Vec<u8> {
    let filler = "a".repeat(40 * 1024);
    format!("GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n").into_bytes()
}

/// A store that takes connections and never answers (a proxy that holds
/// everything for an hour): every GET is a `503` at the store's bound. A
/// read abandoned there may still run, and retry, after the answer, so the
/// store's own counts are bounded here, not pinned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_a_stalled_store_are_counted_as_503s_and_store_reads() {
    let nowhere = format!("127.0.0.1:{}", harness::free_port())
        .parse()
        .expect("an address");
    let stalled = harness::slow_proxy::SlowProxy::start(nowhere).await;
    stalled.set_delay(Duration::from_secs(3600));
    let store = shared::DynamoDbStore::new(
        harness::dynamodb_local::sdk_config(&stalled.endpoint()),
        "seed",
        Duration::from_millis(500),
    );
    let sink = Kept::default();
    let mut settings = settings(&[]);
    settings.shared.telemetry.metrics_kept = Some(Arc::clone(&sink));
    let server = spawn_app_with(settings, Arc::new(store)).await;
    for _ in 0..3 {
        let reply = server.get().await;
        reply.assert_refusal(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "GET of a stalled store",
        );
    }
    drop(server);
    let documents = until_written(&sink).await;
    assert_stalled_gets(&documents, 3);
    let totals = metric_totals(&documents);
    assert!(
        totals.get("StoreLatency").is_some_and(|&calls| calls >= 1),
        "{totals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binarys_lines_carry_their_keys_and_sigterm_counts_the_request_in_flight() {
    let token = "telemetry-t0ken-never-logged";
    let mut server = process::start(
        &["--log-level", "debug", "--service", "seed-test"],
        &[("SEED_WRITE_TOKEN", token)],
    )
    .await;
    let root = "1-67891233-abcdef012345678912345678";
    let traced = [(
        "x-amzn-trace-id",
        format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"),
    )];
    let traced: Vec<(&str, &str)> = traced.iter().map(|(n, v)| (*n, v.as_str())).collect();
    server
        .send("GET", "/", &traced, "")
        .await
        .assert_seed("traced GET");
    server
        .send("GET", "/", &[], "")
        .await
        .assert_seed("untraced GET");
    let bearer = format!("Bearer {token}");
    let posted = server
        .send("POST", "/", &[("authorization", &bearer)], r#"{"num": 5}"#)
        .await;
    assert_eq!(posted.assert_seed("POST with the token"), "5");
    // A POST whose body is still coming when SIGTERM arrives.
    let mut in_flight = raw::connect(server.address).await;
    let head = format!("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\nContent-Length: 10\r\n\r\n{{\"num\"");
    in_flight
        .write_all(head.as_bytes())
        .await
        .expect("the head is sent");
    raw::wait_until_server_has_read(&in_flight, Duration::from_secs(5)).await;
    server.signal("TERM");
    let draining = "shutting down: draining open connections";
    server
        .wait_until_logged(draining, Duration::from_secs(5))
        .await;
    in_flight
        .write_all(b": 6}")
        .await
        .expect("the rest of the body is sent");
    let response = raw::read_response(&mut in_flight, Duration::from_secs(5)).await;
    assert_eq!(response.status, 200, "the request in flight at SIGTERM");
    let status = server.exit_status(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    // Standard error is read on a thread of its own: up to its end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.lines().iter().any(|line| is_metrics_document(line)) {
        assert!(
            Instant::now() < deadline,
            "no metrics document after the exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = server.lines();
    assert!(
        lines.iter().all(|line| !line.contains(token)),
        "the token is in the log"
    );
    let (requests, documents) = read_output(lines.iter().map(String::as_str), "seed-test");
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert_eq!(requests[0]["correlation_id"], root, "{requests:?}");
    let made = requests[1]["correlation_id"].as_str().unwrap_or_default();
    assert!(made.starts_with("1-") && made != root, "{requests:?}");
    assert!(requests
        .iter()
        .all(|entry| entry["correlation_id"].is_string()));
    assert_eq!(documents.len(), 1, "{lines:?}");
    assert_totals(
        &documents,
        &[
            ("Requests", 4),
            ("SeedReads", 2),
            ("SeedWrites", 2),
            ("Latency", 4),
        ],
    );
    assert_eq!(documents[0]["service"], "seed-test");
}
