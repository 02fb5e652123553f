//! Write protection: with a token configured, POST needs `Authorization:
//! Bearer <token>`; reads stay open; the token never appears in logs.

use std::sync::Arc;

use crate::support::{process, settings, spawn_app_with};
use http::StatusCode;
use shared::MemoryStore;

/// A file holding `token`, as an editor writes it; deleted when dropped.
fn token_file(token: &str) -> tempfile::TempPath {
    let file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(file.path(), format!("{token}\n")).expect("write the token file");
    file.into_temp_path()
}

#[tokio::test]
async fn posts_need_the_token_and_reads_stay_open() {
    let file = token_file("correct-horse-battery");
    let path = file.to_str().expect("UTF-8 path");
    let server = spawn_app_with(
        settings(&["--write-token-file", path]),
        Arc::new(MemoryStore::new()),
    )
    .await;
    contract::cases::posts_without_the_write_token_get_401(&server, "correct-horse-battery").await;
    contract::cases::two_credentials_get_401(&server, "correct-horse-battery").await;
}

#[tokio::test]
async fn the_token_from_the_environment_works_and_is_never_logged() {
    let token = "env-token-7f3a9c";
    let server = process::start(&["--log-level", "debug"], &[("SEED_WRITE_TOKEN", token)]).await;
    let service = contract::Endpoint::new(format!("http://{}", server.address));
    service
        .post("{\"num\": 1}")
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "no token");
    let reply = service
        .send(
            "POST",
            "/",
            &[("authorization", &format!("Bearer {token}"))],
            "{\"num\": 2}",
        )
        .await;
    assert_eq!(reply.assert_seed("with token"), "2");
    let log = server.startup_log.join("\n");
    assert!(log.contains("on: token from SEED_WRITE_TOKEN"), "{log}");
    assert!(!log.contains(token), "the token was logged: {log}");
}

#[test]
fn unusable_token_settings_stop_start_up() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        harness::without_shell_settings(&mut std::process::Command::new(env!(
            "CARGO_BIN_EXE_ec2-server"
        )))
        .args(["--port", "0"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("runs")
    };
    let missing = run(&["--write-token-file", "/nonexistent/token"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the write token file"));

    let file = token_file("file-token");
    let both = run(
        &["--write-token-file", file.to_str().expect("UTF-8")],
        &[("SEED_WRITE_TOKEN", "x")],
    );
    assert_eq!(both.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&both.stderr).contains("keep one"));

    let spaces = run(&[], &[("SEED_WRITE_TOKEN", "two words")]);
    assert_eq!(
        spaces.status.code(),
        Some(2),
        "refused as any invalid setting"
    );
    assert!(
        !String::from_utf8_lossy(&spaces.stderr).contains("two words"),
        "the token is a secret"
    );
    assert!(String::from_utf8_lossy(&spaces.stderr).contains("visible ASCII"));
}
