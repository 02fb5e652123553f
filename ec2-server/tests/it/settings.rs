//! The settings the server shares with the Lambda function are accepted and
//! refused as the contract lists (`contract::settings`), read by the real
//! binary from its environment (clap's fallbacks, not its flags); the
//! function's tests run the same list.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use harness::ChildGuard;

/// Whether the binary, with only `environment` set, starts listening.
fn starts(environment: &[(&str, &str)]) -> bool {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec2-server"));
    command
        .env_clear()
        .args(["--port", "0", "--log-format", "json"])
        .envs(environment.iter().copied())
        // A DynamoDB store is checked at start-up: on a closed loopback port
        // that only warns, and the server listens.
        .envs([
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = ChildGuard::spawn(&mut command, "ec2-server", "cargo builds it");
    let stderr = server.take_stderr().expect("stderr is piped");
    // Every line until it listens or exits; the guard stops it either way.
    BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(r#""message":"listening""#))
}

#[test]
fn shared_settings_mean_what_they_mean_on_lambda() {
    contract::settings::assert_targets_agree("the server", starts);
}
