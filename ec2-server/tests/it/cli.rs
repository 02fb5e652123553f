//! The command line: documented flags, clear refusals, start-up logs.

use std::process::Command;

use crate::support::process;

fn run(args: &[&str]) -> std::process::Output {
    harness::without_shell_settings(&mut Command::new(env!("CARGO_BIN_EXE_ec2-server")))
        .args(args)
        .output()
        .expect("the ec2-server binary runs")
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    for (flag, variable) in [
        ("--address", "SEED_ADDRESS"),
        ("--port", "SEED_PORT"),
        ("--store", "SEED_STORE"),
        ("--table", "SEED_TABLE"),
        ("--store-timeout", "SEED_STORE_TIMEOUT"),
        ("--create-table", "SEED_CREATE_TABLE"),
        ("--log-level", "SEED_LOG_LEVEL"),
        ("--log-format", "SEED_LOG_FORMAT"),
        ("--header-read-timeout", "SEED_HEADER_READ_TIMEOUT"),
        ("--body-read-timeout", "SEED_BODY_READ_TIMEOUT"),
        ("--idle-timeout", "SEED_IDLE_TIMEOUT"),
        ("--shutdown-timeout", "SEED_SHUTDOWN_TIMEOUT"),
        ("--max-connections", "SEED_MAX_CONNECTIONS"),
        ("--instance-name", "SEED_INSTANCE_NAME"),
        ("--write-token-file", "SEED_WRITE_TOKEN_FILE"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
        assert!(
            help.contains(&format!("env: {variable}")),
            "--help lacks {variable}"
        );
    }
}

#[test]
fn invalid_settings_are_refused_with_a_message_and_status_2() {
    for args in [
        &["--port", "http"][..],
        &["--store", "redis"],
        &["--idle-timeout", "forever"],
        &["--max-connections", "0"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
    let output = run(&["--log-level", "loud=[", "--port", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid log level"));
}

#[test]
fn an_address_in_use_is_reported_not_panicked() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("bound").port().to_string();
    let output = run(&["--port", &port]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn environment_variables_configure_the_server() {
    let output =
        harness::without_shell_settings(&mut Command::new(env!("CARGO_BIN_EXE_ec2-server")))
            .env("SEED_PORT", "not-a-port")
            .output()
            .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not-a-port"));
}

#[test]
fn a_flag_overrides_its_variable_and_help_needs_neither_valid() {
    let server = |args: &[&str]| {
        harness::without_shell_settings(&mut Command::new(env!("CARGO_BIN_EXE_ec2-server")))
            .env("SEED_IDLE_TIMEOUT", "forever")
            .args(args)
            .output()
            .expect("runs")
    };
    let help = server(&["--help"]);
    assert!(help.status.success(), "--help refused over a bad variable");
    let overridden = server(&["--idle-timeout", "90s", "--port", "http"]);
    let stderr = String::from_utf8_lossy(&overridden.stderr);
    assert!(stderr.contains("--port"), "the flag's own error: {stderr}");
    assert!(
        !stderr.contains("SEED_IDLE_TIMEOUT"),
        "an overridden variable was read: {stderr}"
    );
}

#[tokio::test]
async fn start_up_logs_the_configuration_and_that_memory_is_per_process() {
    let server = process::start(
        &["--idle-timeout", "90s"],
        &[("SEED_BODY_READ_TIMEOUT", "7s")],
    )
    .await;
    let log = server.startup_log.join("\n");
    let configuration = server
        .startup_log
        .iter()
        .find(|line| line.contains("\"configuration\""))
        .unwrap_or_else(|| panic!("no configuration line in {log}"));
    assert!(
        configuration.contains("\"idle_timeout\":\"90s\""),
        "{configuration}"
    );
    assert!(
        configuration.contains("\"body_read_timeout\":\"7s\""),
        "{configuration}"
    );
    assert!(
        configuration.contains("\"store\":\"memory\""),
        "{configuration}"
    );
    assert!(log.contains("kept in this process only"), "{log}");
}
