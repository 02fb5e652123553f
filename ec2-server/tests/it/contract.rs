//! The contract (docs/contract.md) over HTTP against the warp server, once
//! per store: the same cases with memory and with DynamoDB (a new table of
//! DynamoDB Local per test).

mod memory {
    contract::contract_suite!(crate::support::spawn_app);
}

mod dynamodb {
    contract::contract_suite!(
        crate::support::spawn_app_on_dynamodb,
        ignore = "needs DynamoDB Local (Java, Node); ./scripts/test runs it"
    );
}

/// The cases that need a server set up for them.
mod set_up {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::support::{settings, spawn_app_with};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_not_sent_in_time_gets_408() {
        let server = spawn_app_with(
            settings(&["--body-read-timeout", "500ms"]),
            Arc::new(shared::MemoryStore::new()),
        )
        .await;
        contract::cases::a_body_not_sent_in_time_gets_408(&server, Duration::from_millis(500))
            .await;
    }

    /// DynamoDB on a loopback port where nothing listens: no DynamoDB Local
    /// needed to be unreachable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_store_gets_503_with_retry_after() {
        let closed = format!("http://127.0.0.1:{}", harness::free_port());
        let store = shared::DynamoDbStore::new(
            harness::dynamodb_local::sdk_config(&closed),
            "seed",
            Duration::from_secs(1),
        );
        let server = spawn_app_with(settings(&[]), Arc::new(store)).await;
        contract::cases::an_unreachable_store_gets_503_with_retry_after(&server).await;
    }
}
