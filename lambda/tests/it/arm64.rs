//! The arm64 build, as the template deploys it by default (built by
//! `scripts/arm64`): an aarch64 bootstrap for Amazon Linux 2023, the very
//! one `sam build` yields with samconfig.toml's settings, keeping the
//! contract under the emulator on both stores, run by qemu-user.

use std::process::{Command, Stdio};

use harness::elf::{assert_runs_on_amazon_linux_2023, Machine};

use crate::support::function::{on_new_table, start_program, RunningFunction};

#[test]
#[ignore = "needs the arm64 build (scripts/arm64); ./scripts/test runs it"]
fn the_arm64_bootstrap_is_an_aarch64_binary_for_amazon_linux_2023() {
    assert_runs_on_amazon_linux_2023(&harness::arm64::bootstrap(), Machine::Aarch64);
}

/// `scripts/arm64 sam build`, as docs/lambda.md deploys, into a folder of
/// its own (the `sam local` tests build into `.aws-sam`): with the
/// bootstrap built already, cargo has nothing to do, and SAM copies the
/// same file.
#[test]
#[ignore = "needs the arm64 build (scripts/arm64) and the SAM CLI; ./scripts/test runs it"]
fn sam_build_with_the_default_settings_yields_the_tested_arm64_bootstrap() {
    let build = tempfile::tempdir().expect("a temporary folder");
    let mut command = Command::new(harness::workspace_root().join("scripts/arm64"));
    let output = harness::as_from_a_shell(&mut command)
        .args(["sam", "build", "--build-dir"])
        .arg(build.path())
        .current_dir(harness::workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("scripts/arm64 runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "sam build failed: {log}");
    assert!(
        log.contains("architecture: arm64"),
        "sam build did not build for arm64: {log}"
    );
    let built = std::fs::read(build.path().join("SeedFunction/bootstrap"))
        .unwrap_or_else(|error| panic!("sam build wrote no bootstrap ({error}): {log}"));
    let tested = std::fs::read(harness::arm64::bootstrap()).expect("the tested bootstrap");
    assert!(
        built == tested,
        "sam build's bootstrap ({} bytes) is not the one tested ({} bytes): {log}",
        built.len(),
        tested.len()
    );
}

mod memory {
    contract::contract_suite!(
        super::arm64_function,
        ignore = "needs the arm64 build (scripts/arm64), qemu-user and cargo-lambda; ./scripts/test runs it"
    );
}

mod dynamodb {
    contract::contract_suite!(
        super::arm64_function_on_dynamodb,
        ignore = "needs the arm64 build (scripts/arm64), qemu-user, cargo-lambda and DynamoDB Local; ./scripts/test runs it"
    );
}

async fn arm64_function() -> RunningFunction {
    let program = harness::arm64::command(&harness::arm64::bootstrap());
    start_program(program, Vec::new()).await
}

async fn arm64_function_on_dynamodb() -> RunningFunction {
    let program = harness::arm64::command(&harness::arm64::bootstrap());
    start_program(program, on_new_table().await).await
}
