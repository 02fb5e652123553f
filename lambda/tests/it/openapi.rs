//! docs/openapi.yaml against the real bootstrap under the emulator, through
//! its Function URL route: schemathesis with every check it has finds
//! nothing the function answers otherwise than the document says. (Bodies
//! that are not UTF-8 are left out: the emulator answers them itself.)

use harness::openapi::{self, FrontEnd};

use crate::support::function_on_memory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (Python) and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_function_answers_as_the_document_says() {
    let function = function_on_memory().await;
    openapi::assert_conforms(
        &openapi::document(),
        &function.url(""),
        None,
        FrontEnd::CargoLambdaEmulator,
    )
    .await;
}
