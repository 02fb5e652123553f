//! seed-check's command line: its exit status says pass (0), fail (1) or
//! could not run (2). Passing and failing against real deployments is tested
//! on the local replica (ec2-server/tests/replica.rs).

use std::process::Command;

fn seed_check(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_seed-check"))
        .args(args)
        .output()
        .expect("seed-check runs")
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
}
