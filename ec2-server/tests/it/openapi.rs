//! docs/openapi.yaml against the server: a valid OpenAPI 3.1 document, and
//! one the server answers by, as schemathesis checks from it with every
//! check it has, in each mode: the in-memory store, DynamoDB, and a write
//! token (then POSTs without it must be refused). Two copies of the server
//! with one defect each must fail the same run.

use harness::mutant_proxy::{Defect, MutantProxy};
use harness::openapi::{self, FrontEnd};
use harness::templates::{assert_lint_passes_and_breakages_fail, Linter};

use crate::support::{spawn_app, spawn_app_on_dynamodb, spawn_app_with};

#[test]
#[ignore = "needs openapi-spec-validator (Python); ./scripts/test runs it"]
fn the_document_is_valid_openapi_and_a_broken_copy_is_not() {
    assert_lint_passes_and_breakages_fail(
        Linter::OpenApiValidator,
        &openapi::document(),
        &[(
            "a response without its required description",
            "description: No body.",
            "summary: No body.",
        )],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn the_server_on_memory_answers_as_the_document_says() {
    let server = spawn_app().await;
    openapi::assert_conforms(
        &openapi::document(),
        &server.url(""),
        None,
        FrontEnd::Direct,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python) and DynamoDB Local; ./scripts/test runs it"]
async fn the_server_on_dynamodb_answers_as_the_document_says() {
    let server = spawn_app_on_dynamodb().await;
    openapi::assert_conforms(
        &openapi::document(),
        &server.url(""),
        None,
        FrontEnd::Direct,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn a_write_protected_server_answers_as_the_document_says_and_refuses_posts_without_the_token()
{
    let token_file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(token_file.path(), "openapi-t0ken").expect("write the token");
    let settings = crate::support::settings(&[
        "--write-token-file",
        token_file.path().to_str().expect("a UTF-8 path"),
    ]);
    let server = spawn_app_with(settings, std::sync::Arc::new(shared::MemoryStore::new())).await;
    let protected = openapi::protected_document();
    openapi::assert_conforms(
        protected.path(),
        &server.url(""),
        Some("openapi-t0ken"),
        FrontEnd::Direct,
    )
    .await;
    // The same run without the token's protection fails: POSTs that should
    // have been refused were stored.
    let open = spawn_app().await;
    let run = openapi::run(
        protected.path(),
        &open.url(""),
        Some("openapi-t0ken"),
        FrontEnd::Direct,
    )
    .await;
    assert!(
        !run.passed && run.output.contains("ST401"),
        "schemathesis did not catch a server that stores POSTs without the token:\n{}",
        run.output
    );
}

/// A copy of the server with `defect` fails the document's run, which
/// names `finding`.
async fn a_copy_fails_the_document(defect: Defect, finding: &str) {
    let server = spawn_app().await;
    let mutant = MutantProxy::start(server.address, defect).await;
    let run = openapi::run(&openapi::document(), &mutant.url(), None, FrontEnd::Direct).await;
    assert!(
        !run.passed && run.output.contains(finding),
        "schemathesis passed a copy of the server with {defect:?} (no {finding:?} found):\n{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn a_copy_without_cache_control_fails_the_document() {
    a_copy_fails_the_document(Defect::NoCacheControl, "Cache-Control").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn a_copy_that_answers_a_string_num_with_500_fails_the_document() {
    a_copy_fails_the_document(Defect::ServerErrorOnStringNum, "Server error").await;
}
