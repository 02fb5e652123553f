//! docs/openapi.yaml against the server: a valid OpenAPI 3.1 document, and
//! one the server answers by, as schemathesis checks from it with every
//! check it has, in each mode: the in-memory store, DynamoDB, and a write
//! token (then POSTs without it must be refused). Two copies of the server
//! with one defect each must fail the same run.

use harness::mutant_proxy::{Defect, MutantProxy};
use harness::openapi::{self, FrontEnd};

use crate::support::{spawn_app, spawn_app_on_dynamodb, spawn_app_with};

/// Runs schemathesis off the async workers, which keep serving.
async fn conforms(document: std::path::PathBuf, url: String, token: Option<&'static str>) {
    tokio::task::spawn_blocking(move || {
        openapi::assert_conforms(&document, &url, token, FrontEnd::Direct)
    })
    .await
    .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
}

async fn fails(url: String) -> openapi::Run {
    tokio::task::spawn_blocking(move || {
        openapi::run(&openapi::document(), &url, None, FrontEnd::Direct)
    })
    .await
    .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))
}

#[test]
#[ignore = "needs openapi-spec-validator (Python); ./scripts/test runs it"]
fn the_document_is_valid_openapi_and_a_broken_copy_is_not() {
    let (valid, said) = openapi::validate(&openapi::document());
    assert!(valid, "docs/openapi.yaml is not valid OpenAPI:\n{said}");
    let text = std::fs::read_to_string(openapi::document()).expect("readable");
    let broken = tempfile::NamedTempFile::with_suffix(".yaml").expect("a temporary file");
    // A response without its required description.
    std::fs::write(
        broken.path(),
        text.replacen("description: No body.", "summary: No body.", 1),
    )
    .expect("write the copy");
    let (valid, said) = openapi::validate(broken.path());
    assert!(
        !valid,
        "the validator accepted a response without a description:\n{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn the_server_on_memory_answers_as_the_document_says() {
    let server = spawn_app().await;
    conforms(openapi::document(), server.url(""), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python) and DynamoDB Local; ./scripts/test runs it"]
async fn the_server_on_dynamodb_answers_as_the_document_says() {
    let server = spawn_app_on_dynamodb().await;
    conforms(openapi::document(), server.url(""), None).await;
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
    conforms(
        protected.path().to_path_buf(),
        server.url(""),
        Some("openapi-t0ken"),
    )
    .await;
    // The same run without the token's protection fails: POSTs that should
    // have been refused were stored.
    let open = spawn_app().await;
    let url = open.url("");
    let path = protected.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        openapi::run(&path, &url, Some("openapi-t0ken"), FrontEnd::Direct)
    })
    .await
    .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
    assert!(
        !run.passed && run.output.contains("ST401"),
        "schemathesis did not catch a server that stores POSTs without the token:\n{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn a_copy_without_cache_control_fails_the_document() {
    let server = spawn_app().await;
    let mutant = MutantProxy::start(server.address, Defect::NoCacheControl).await;
    let run = fails(mutant.url()).await;
    assert!(
        !run.passed && run.output.contains("Cache-Control"),
        "schemathesis passed a server whose answers lack Cache-Control:\n{}",
        run.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python); ./scripts/test runs it"]
async fn a_copy_that_answers_a_string_num_with_500_fails_the_document() {
    let server = spawn_app().await;
    let mutant = MutantProxy::start(server.address, Defect::ServerErrorOnStringNum).await;
    let run = fails(mutant.url()).await;
    assert!(
        !run.passed && run.output.contains("Server error"),
        "schemathesis passed a server that answers a string num with 500:\n{}",
        run.output
    );
}
