//! seed-check's command line: its exit status says pass (0), fail (1) or
//! could not run (2), and it sends a write token given in its environment or
//! a file. Passing and failing against real deployments is tested on the
//! local replica (ec2-server/tests/it/replica.rs).

use std::net::SocketAddr;
use std::process::Command;

fn seed_check(args: &[&str]) -> std::process::Output {
    seed_check_with(args, &[])
}

/// seed-check with `env` added and no SEED_CHECK_* from the shell.
fn seed_check_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_seed-check"))
        .args(args)
        .env_remove("SEED_CHECK_TOKEN")
        .env_remove("SEED_CHECK_TOKEN_FILE")
        .envs(env.iter().copied())
        .output()
        .expect("seed-check runs")
}

const TOKEN: &str = "s3cret-token-for-the-check";

/// A write-protected server (the real one, in-process on a free port) on a
/// runtime of its own; it stops when the runtime drops.
fn protected_server() -> (tokio::runtime::Runtime, SocketAddr, tempfile::NamedTempFile) {
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), TOKEN).expect("write the token file");
    let path = token_file
        .path()
        .to_str()
        .expect("a UTF-8 path")
        .to_string();
    let settings = ec2_server::Settings::try_from_flags([
        "ec2-server",
        "--address",
        "127.0.0.1",
        "--port",
        "0",
        "--write-token-file",
        &path,
    ])
    .expect("valid flags");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let application = runtime
        .block_on(ec2_server::Application::build(&settings))
        .expect("the server starts");
    let address = application.address();
    runtime.spawn(application.run_until_stopped(std::future::pending()));
    (runtime, address, token_file)
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_protected_service_passes_with_the_token_and_says_how_to_give_it_without() {
    let (_runtime, address, token_file) = protected_server();
    let url = format!("http://{address}/");
    let args = [url.as_str(), "--gets", "3"];

    let without = seed_check(&args);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    assert!(
        text(&without).contains(
            "FAIL: the service is write-protected: the POST was answered 401; give the token \
             with SEED_CHECK_TOKEN or --token-file"
        ),
        "{}",
        text(&without)
    );

    let from_env = seed_check_with(&args, &[("SEED_CHECK_TOKEN", TOKEN)]);
    assert_eq!(from_env.status.code(), Some(0), "{}", text(&from_env));
    let token_path = token_file.path().to_str().expect("a UTF-8 path");
    let from_file = seed_check_with(&[url.as_str(), "--token-file", token_path], &[]);
    assert_eq!(from_file.status.code(), Some(0), "{}", text(&from_file));

    let wrong = seed_check_with(&args, &[("SEED_CHECK_TOKEN", "not-the-token")]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("the service refused the write token"),
        "{}",
        text(&wrong)
    );
    for output in [&from_env, &from_file, &wrong] {
        assert!(!text(output).contains(TOKEN), "the token was printed");
        assert!(
            !text(output).contains("not-the-token"),
            "the token was printed"
        );
    }
}

#[test]
fn a_token_given_twice_or_empty_stops_the_check() {
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), TOKEN).expect("write the token file");
    let path = token_file.path().to_str().expect("a UTF-8 path");
    let url = format!("http://127.0.0.1:{}/", harness::free_port());
    let twice = seed_check_with(
        &[url.as_str(), "--token-file", path],
        &[("SEED_CHECK_TOKEN", TOKEN)],
    );
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
    assert!(text(&twice).contains("keep one"), "{}", text(&twice));

    std::fs::write(token_file.path(), "\n").expect("empty the token file");
    let empty = seed_check_with(&[url.as_str(), "--token-file", path], &[]);
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    assert!(text(&empty).contains("is empty"), "{}", text(&empty));
}

#[test]
fn a_service_that_does_not_answer_fails_with_the_errors_listed() {
    let port = harness::free_port();
    let output = seed_check(&[
        &format!("http://127.0.0.1:{port}/"),
        "--gets",
        "3",
        "--timeout",
        "2s",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAIL: the POST failed"), "{stdout}");
    assert!(stdout.contains("FAIL: 3 of 3 GETs failed"), "{stdout}");
    assert!(stdout.contains("error      GET"), "{stdout}");
}

#[test]
fn a_url_that_is_not_http_cannot_be_checked() {
    for url in ["ftp://example/", "not a url"] {
        let output = seed_check(&[url]);
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("seed-check:"),
            "{url}"
        );
    }
}

#[test]
fn help_explains_the_exit_status() {
    let output = seed_check(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("Exit status 0: pass; 1: fail; 2"), "{help}");
    assert!(help.contains("--gets"), "{help}");
    assert!(help.contains("SEED_CHECK_TOKEN"), "{help}");
    assert!(help.contains("--token-file"), "{help}");
}
