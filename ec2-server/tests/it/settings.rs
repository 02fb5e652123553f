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

/// docs/configuration.md's table of the server's settings lists every flag
/// `ec2-server --help` shows, with its variable and default, and nothing
/// else (but SEED_WRITE_TOKEN, which has no flag).
#[test]
fn the_documented_settings_are_the_ones_the_binary_takes() {
    use clap::CommandFactory;
    use harness::docs::{code_spans, table};

    let command = ec2_server::Settings::command();
    let mut documented = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for row in table("configuration.md", "## The server (`ec2-server`)") {
        let [flag, variable, default, _meaning] = &row[..] else {
            panic!("a row of four cells: {row:?}");
        };
        let variable = code_spans(variable).join(" ");
        if flag == "—" {
            if variable != "SEED_WRITE_TOKEN" {
                wrong.push(format!("{variable}: documented without a flag"));
            }
            continue;
        }
        let long = code_spans(flag)
            .first()
            .map(|flag| flag.trim_start_matches("--").to_string());
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long().map(str::to_string) == long)
        else {
            wrong.push(format!(
                "{flag}: documented, but the binary has no such flag"
            ));
            continue;
        };
        documented.insert(arg.get_id().to_string());
        let actual_variable = arg
            .get_env()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if variable != actual_variable {
            wrong.push(format!(
                "{flag}: documented variable {variable:?}, the binary reads {actual_variable:?}"
            ));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let expected = match (defaults.as_slice(), arg.get_action().takes_values()) {
            ([value], _) if value != "false" => format!("`{value}`"),
            (_, false) => "off".to_string(),
            _ => String::new(),
        };
        if !expected.is_empty() && default != &expected {
            wrong.push(format!(
                "{flag}: documented default {default}, the binary's is {expected}"
            ));
        }
        if expected.is_empty()
            && code_spans(default).len() == 1
            && default.starts_with('`')
            && default.ends_with('`')
        {
            wrong.push(format!(
                "{flag}: documented default {default}, the binary has none"
            ));
        }
    }
    for arg in command.get_arguments() {
        let id = arg.get_id().to_string();
        if arg.get_long().is_some()
            && !["help", "version"].contains(&id.as_str())
            && !documented.contains(&id)
        {
            wrong.push(format!(
                "--{}: the binary takes it, docs/configuration.md does not list it",
                arg.get_long().unwrap_or_default()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md and ec2-server --help disagree:\n{}",
        wrong.join("\n")
    );
}
