//! `--instance-name`: every response names the instance; unset, none does.

use std::sync::Arc;

use crate::support::{settings, spawn_app, spawn_app_with};
use shared::MemoryStore;

#[tokio::test]
async fn every_response_carries_the_instance_name() {
    let server = spawn_app_with(
        settings(&["--instance-name", "i-0abc123"]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let big = format!("{{\"num\": 1}}{}", " ".repeat(70_000));
    for (method, path, body) in [
        ("GET", "/", String::new()),
        ("HEAD", "/", String::new()),
        ("POST", "/", "{\"num\": 3}".to_string()),
        ("POST", "/", "{\"num\": 3.5}".to_string()),
        ("POST", "/", big),
        ("OPTIONS", "/", String::new()),
        ("DELETE", "/", String::new()),
        ("GET", "/elsewhere", String::new()),
    ] {
        let reply = server.send(method, path, &[], body).await;
        assert_eq!(
            reply.header("x-seed-instance"),
            Some("i-0abc123"),
            "{method} {path}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn without_a_name_no_header_is_added() {
    let server = spawn_app().await;
    assert_eq!(server.get().await.header("x-seed-instance"), None);
}

#[test]
fn a_name_that_cannot_be_a_header_is_refused_at_start_up() {
    let output = harness::without_shell_settings(&mut std::process::Command::new(env!(
        "CARGO_BIN_EXE_ec2-server"
    )))
    .args(["--port", "0", "--instance-name", "bad\u{7f}name"])
    .output()
    .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "refused as any invalid setting"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be sent in a header"));
}
