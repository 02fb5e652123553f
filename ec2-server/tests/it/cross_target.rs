//! Both targets on one DynamoDB table: a POST through the Lambda function is
//! seen by a GET through the warp server, and the reverse.

use std::sync::Arc;

use crate::support::{settings, spawn_app_with};
use harness::dynamodb_local::{shared_endpoint, store_env, store_on_new_table};
use harness::lambda_emulator::LambdaUnderEmulator;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Lambda bootstrap (cargo-lambda) and DynamoDB Local; ./scripts/test runs it"]
async fn a_post_through_either_target_is_seen_through_the_other() {
    let endpoint = shared_endpoint();
    let store = store_on_new_table(&endpoint, "cross", STORE_TIMEOUT).await;
    let table = store.table().to_string();
    let server = spawn_app_with(settings(&[]), Arc::new(store)).await;

    let env = store_env(&endpoint, &table);
    let function = tokio::task::spawn_blocking(move || LambdaUnderEmulator::start(&env))
        .await
        .expect("starting the function");
    let lambda = function.endpoint();

    assert_eq!(lambda.seed().await, "0");
    for round in 0..5 {
        let through_lambda = format!("{}", 1000 + round);
        lambda.store(&through_lambda).await;
        assert_eq!(
            server.seed().await,
            through_lambda,
            "Lambda -> warp, round {round}"
        );

        let through_server = format!("-{}", 2000 + round);
        server.store(&through_server).await;
        assert_eq!(
            lambda.seed().await,
            through_server,
            "warp -> Lambda, round {round}"
        );
    }
}
