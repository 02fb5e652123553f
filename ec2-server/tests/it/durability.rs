//! Nothing acknowledged is lost, and concurrent writers through two server
//! processes on one table never produce a value nobody stored.

use crate::support::process;
use contract::Endpoint;
use harness::dynamodb_local::{shared_endpoint, store_on_new_table};
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"]
async fn a_post_acknowledged_with_200_survives_kill_9_right_after() {
    let endpoint = shared_endpoint();
    let table = store_on_new_table(&endpoint, "durable", STORE_TIMEOUT)
        .await
        .table()
        .to_string();
    for round in 0..15 {
        let mut server = process::start_on_dynamodb(&endpoint, &table, &[]).await;
        let service = Endpoint::new(format!("http://{}", server.address));
        let value = format!("{}{round}", "7".repeat(round * 50 + 1));
        service.store(&value).await;
        // SIGKILL the moment the 200 arrived: no drain, no flush.
        server.kill();

        let next = process::start_on_dynamodb(&endpoint, &table, &[]).await;
        let service = Endpoint::new(format!("http://{}", next.address));
        assert_eq!(
            service.seed().await,
            value,
            "round {round}: the acknowledged value was lost"
        );
    }
}
