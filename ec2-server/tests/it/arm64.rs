//! The arm64 build, as t4g instances run it (built by `scripts/arm64`),
//! under qemu-user: an aarch64 binary for Amazon Linux 2023 that keeps the
//! contract on both stores and answers as docs/openapi.yaml says.

use harness::elf::{assert_runs_on_amazon_linux_2023, Machine};
use harness::openapi::{self, FrontEnd};

use crate::support::process::{self, ServerProcess};

#[test]
#[ignore = "needs the arm64 build (scripts/arm64); ./scripts/test runs it"]
fn the_arm64_server_is_an_aarch64_binary_for_amazon_linux_2023() {
    assert_runs_on_amazon_linux_2023(&harness::arm64::server(), Machine::Aarch64);
}

mod memory {
    contract::contract_suite!(
        super::arm64_server,
        ignore = "needs the arm64 build (scripts/arm64) and qemu-user; ./scripts/test runs it"
    );
}

mod dynamodb {
    contract::contract_suite!(
        super::arm64_server_on_dynamodb,
        ignore = "needs the arm64 build (scripts/arm64), qemu-user and DynamoDB Local; ./scripts/test runs it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the arm64 build (scripts/arm64), qemu-user and schemathesis; ./scripts/test runs it"]
async fn the_arm64_server_answers_as_the_document_says() {
    let server = arm64_server().await;
    openapi::assert_conforms(
        &openapi::document(),
        &server.url(""),
        None,
        FrontEnd::Direct,
    )
    .await;
}

async fn arm64_server() -> ServerProcess {
    process::start_program(harness::arm64::command(&harness::arm64::server()), &[], &[]).await
}

/// On a new table of the shared DynamoDB Local.
async fn arm64_server_on_dynamodb() -> ServerProcess {
    let endpoint = harness::dynamodb_local::shared_endpoint();
    let store = harness::dynamodb_local::store_on_new_table(
        &endpoint,
        "arm64",
        shared::settings::DEFAULT_STORE_TIMEOUT,
    )
    .await;
    let program = harness::arm64::command(&harness::arm64::server());
    process::start_program_on_dynamodb(program, &endpoint, store.table(), &[]).await
}
