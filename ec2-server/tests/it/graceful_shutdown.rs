//! SIGTERM and SIGINT: with a shutdown delay, serve as a lame duck first;
//! then stop accepting, finish in-flight requests, exit 0.

use std::time::{Duration, Instant};

use crate::support::process;
use contract::raw;

async fn in_flight_request_finishes_after(signal: &str) {
    let mut server = process::start(&[], &[]).await;
    // A POST whose body is still arriving when the signal comes.
    let mut client = raw::connect(server.address).await;
    let body = b"{\"num\": 4242}";
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    assert!(raw::write_lossy(&mut client, head.as_bytes()).await);
    assert!(raw::write_lossy(&mut client, &body[..5]).await);
    raw::wait_until_server_has_read(&client, Duration::from_secs(5)).await;

    server.signal(signal);
    // No longer accepting: a new connection is refused.
    let signalled = Instant::now();
    while tokio::net::TcpStream::connect(server.address).await.is_ok() {
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still accepting 5 s after {signal}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert!(raw::write_lossy(&mut client, &body[5..]).await);
    let response = raw::read_response(&mut client, Duration::from_secs(5)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, b"4242");

    let status = server.exit_status(Duration::from_secs(15)).await; // the server exits after draining
    assert!(status.success(), "exit status after {signal}: {status:?}");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_exits_0() {
    in_flight_request_finishes_after("TERM").await;
}

#[tokio::test]
async fn sigint_lets_an_in_flight_request_finish_and_exits_0() {
    in_flight_request_finishes_after("INT").await;
}

#[tokio::test]
async fn idle_connections_do_not_hold_up_shutdown() {
    let mut server = process::start(&["--shutdown-timeout", "30s"], &[]).await;
    let mut idle = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut idle, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    assert_eq!(
        raw::read_response(&mut idle, Duration::from_secs(5))
            .await
            .status,
        200
    );
    server.signal("TERM");
    let status = server.exit_status(Duration::from_secs(5)).await; // an idle keep-alive connection must not delay exit
    assert!(status.success(), "{status:?}");
    assert!(raw::closes_within(&mut idle, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_request_that_never_finishes_is_abandoned_after_the_shutdown_timeout() {
    let mut server = process::start(
        &["--shutdown-timeout", "1s", "--body-read-timeout", "60s"],
        &[],
    )
    .await;
    let mut stuck = raw::connect(server.address).await;
    assert!(
        raw::write_lossy(
            &mut stuck,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"
        )
        .await
    );
    raw::wait_until_server_has_read(&stuck, Duration::from_secs(5)).await;
    server.signal("TERM");
    let status = server.exit_status(Duration::from_secs(10)).await; // the shutdown timeout bounds the drain
    assert!(status.success(), "{status:?}");
}

/// Waits until the server at `address` has taken the signal: a health
/// check on a new connection is answered 503.
async fn wait_until_a_lame_duck(address: std::net::SocketAddr) {
    let started = Instant::now();
    loop {
        let mut probe = raw::connect(address).await;
        assert!(raw::write_lossy(&mut probe, HEALTH_CHECK).await);
        let response = raw::read_response(&mut probe, Duration::from_secs(5)).await;
        if response.status == 503 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not a lame duck 5 s after SIGTERM: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const HEALTH_CHECK: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n";
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// For the shutdown delay the server keeps serving and accepting, but fails
/// the balancer's health checks and closes each connection after its
/// response, so the balancer stops routing to it and its pooled connections
/// wind down before the server stops accepting.
#[tokio::test]
async fn with_a_shutdown_delay_a_lame_duck_fails_health_checks_and_keeps_serving() {
    let mut server = process::start(&["--shutdown-delay", "2s"], &[]).await;
    let mut pooled = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut pooled, HEALTH_CHECK).await);
    let before = raw::read_response(&mut pooled, Duration::from_secs(5)).await;
    assert_eq!(
        before.status, 200,
        "a health check before the signal: {before:?}"
    );
    assert!(!before.says_close(), "{before:?}");

    server.signal("TERM");
    let signalled = Instant::now();
    wait_until_a_lame_duck(server.address).await;

    // A request on a connection opened before: served, and told to close.
    assert!(
        raw::write_lossy(
            &mut pooled,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"num\": 8}"
        )
        .await
    );
    let stored = raw::read_response(&mut pooled, Duration::from_secs(5)).await;
    assert_eq!(
        (stored.status, &stored.body[..]),
        (200, &b"8"[..]),
        "{stored:?}"
    );
    assert!(
        stored.says_close(),
        "a lame duck closes after each response: {stored:?}"
    );
    assert!(raw::closes_within(&mut pooled, Duration::from_secs(3)).await);

    // New connections are still accepted: health checks fail, users are served.
    let mut checker = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut checker, HEALTH_CHECK).await);
    let check = raw::read_response(&mut checker, Duration::from_secs(5)).await;
    assert_eq!(
        check.status, 503,
        "a health check during the delay: {check:?}"
    );
    assert!(check.says_close(), "{check:?}");
    let error: serde_json::Value = serde_json::from_slice(&check.body).expect("a JSON error");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("shutting down")),
        "{error}"
    );

    let mut user = raw::connect(server.address).await;
    assert!(raw::write_lossy(&mut user, GET).await);
    let read = raw::read_response(&mut user, Duration::from_secs(5)).await;
    assert_eq!((read.status, &read.body[..]), (200, &b"8"[..]), "{read:?}");
    assert!(read.says_close(), "{read:?}");

    let status = server.exit_status(Duration::from_secs(10)).await; // the server exits after the delay
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "exited {:?} after SIGTERM, before the 2 s delay",
        signalled.elapsed()
    );
}
