//! Connection limits: slow clients are cut off within a bounded time while
//! other clients are served, and idle keep-alive connections are kept for
//! the idle timeout, not the (shorter) header-read limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{settings, spawn_app_with};
use contract::raw;
use shared::MemoryStore;

const GRACE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_headers_too_slowly_is_cut_off_while_others_are_served() {
    let server = spawn_app_with(
        settings(&["--header-read-timeout", "1s"]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let mut slow = raw::connect(server.address).await;
    let started = Instant::now();
    // One header byte every 200 ms: it would take ~8 s to finish the head.
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n";
    let mut cut_off = false;
    for byte in head {
        if !raw::write_lossy(&mut slow, &[*byte]).await {
            cut_off = true;
            break;
        }
        // Meanwhile a well-behaved client is served promptly.
        assert_eq!(server.seed().await, "0");
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(1) + GRACE {
            break;
        }
    }
    assert!(
        cut_off || raw::closes_within(&mut slow, GRACE).await,
        "the slow client was not disconnected"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1) + GRACE,
        "the slow client was disconnected only after {:?}",
        started.elapsed()
    );
}

/// The connection's timer is armed while it idles (30 s limit); a
/// slow request that starts later must still meet the 1 s header limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_after_an_idle_spell_meets_the_header_limit_not_the_idle_one() {
    let server = spawn_app_with(
        settings(&["--header-read-timeout", "1s", "--idle-timeout", "30s"]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let mut client = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    assert_eq!(raw::read_response(&mut client, GRACE).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let started = Instant::now();
    let mut cut_off = false;
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n" {
        if !raw::write_lossy(&mut client, &[*byte]).await {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(1) + GRACE {
            break;
        }
    }
    assert!(
        cut_off || raw::closes_within(&mut client, Duration::from_millis(500)).await,
        "the slow request was not cut off within {:?} of its first byte",
        Duration::from_secs(1) + GRACE
    );
    assert!(
        started.elapsed() < Duration::from_secs(1) + GRACE,
        "cut off only after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_a_body_too_slowly_gets_408_and_is_cut_off() {
    let server = spawn_app_with(
        settings(&["--body-read-timeout", "1s"]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let mut slow = raw::connect(server.address).await;
    assert!(
        raw::write_lossy(
            &mut slow,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"num\""
        )
        .await
    );
    // The rest of the body never comes; others are still served.
    for _ in 0..5 {
        assert_eq!(server.seed().await, "0");
    }
    let response = raw::read_response(&mut slow, Duration::from_secs(1) + GRACE).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(String::from_utf8_lossy(&response.body).contains("\"error\""));
    assert!(
        raw::closes_within(&mut slow, GRACE).await,
        "connection kept open after 408"
    );
    assert_eq!(server.seed().await, "0", "a partial body changed the seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_outlives_the_header_limit_and_is_closed_after_the_idle_timeout(
) {
    let server = spawn_app_with(
        settings(&["--header-read-timeout", "500ms", "--idle-timeout", "3s"]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let mut client = raw::connect(server.address).await;
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert!(raw::write_lossy(&mut client, request).await);
    assert_eq!(raw::read_response(&mut client, GRACE).await.status, 200);

    // Idle for four times the header limit: the connection must still work.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(raw::write_lossy(&mut client, request).await);
    assert_eq!(raw::read_response(&mut client, GRACE).await.status, 200);

    // Idle past the idle timeout: the server closes it.
    let idle_since = Instant::now();
    assert!(raw::closes_within(&mut client, Duration::from_secs(3) + GRACE).await);
    assert!(
        idle_since.elapsed() >= Duration::from_millis(2500),
        "closed after only {:?} idle",
        idle_since.elapsed()
    );
}

/// A store that answers each read after a pause, so that hyper waits on the
/// socket while the request is handled.
struct SlowReads(MemoryStore);

#[async_trait::async_trait]
impl shared::Store for SlowReads {
    async fn get(&self) -> Result<shared::Seed, shared::StoreError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.0.get().await
    }
    async fn put(&self, seed: &shared::Seed) -> Result<(), shared::StoreError> {
        self.0.put(seed).await
    }
    fn kind(&self) -> &'static str {
        "slow"
    }
    fn is_shared(&self) -> bool {
        false
    }
}

/// The idle time follows a request that waited on the store: the server
/// must notice it without any byte from the client to wake it. One thread,
/// so that hyper polls the socket in the same order on every run.
#[tokio::test]
async fn a_connection_idle_after_a_slow_answer_is_closed_after_the_idle_timeout() {
    let server = spawn_app_with(
        settings(&["--header-read-timeout", "500ms", "--idle-timeout", "2s"]),
        Arc::new(SlowReads(MemoryStore::new())),
    )
    .await;
    let mut client = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    assert_eq!(raw::read_response(&mut client, GRACE).await.status, 200);
    let idle_since = Instant::now();
    assert!(
        raw::closes_within(&mut client, Duration::from_secs(2) + GRACE).await,
        "the idle connection was kept past its limit"
    );
    assert!(
        idle_since.elapsed() >= Duration::from_millis(1500),
        "closed after only {:?} idle",
        idle_since.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversize_body_is_refused_with_a_readable_413_before_it_is_sent() {
    let server = spawn_app_with(settings(&[]), Arc::new(MemoryStore::new())).await;
    let mut client = raw::connect(server.address).await;
    // Declare 100 MiB but send only the head: the answer must not wait for it.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        100 * 1024 * 1024
    );
    assert!(raw::write_lossy(&mut client, head.as_bytes()).await);
    let response = raw::read_response(&mut client, GRACE).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(raw::closes_within(&mut client, GRACE).await);
    assert_eq!(server.seed().await, "0");
}

/// A connection that never sends a byte is a slow client, not an idle one:
/// it is cut off at the header limit, so silent connections cannot hold
/// every slot for the idle limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_cut_off_at_the_header_limit_and_free_their_slots() {
    let server = spawn_app_with(
        settings(&[
            "--header-read-timeout",
            "1s",
            "--idle-timeout",
            "60s",
            "--max-connections",
            "5",
        ]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(raw::connect(server.address).await);
    }
    // Every slot is taken; this client waits in the backlog until the
    // silent ones are cut off.
    let waiting = tokio::spawn({
        let service = server.endpoint.clone();
        async move { service.get().await }
    });
    for mut stream in silent {
        assert!(
            raw::closes_within(&mut stream, Duration::from_secs(1) + GRACE).await,
            "a silent connection was kept"
        );
    }
    let reply = waiting.await.expect("the waiting client");
    assert_eq!(reply.status, http::StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1) + GRACE,
        "served only after {:?}",
        started.elapsed()
    );
}
