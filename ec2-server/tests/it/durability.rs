//! Nothing acknowledged is lost, and concurrent writers through two server
//! processes on one table never produce a value nobody stored.

use std::collections::HashSet;
use std::sync::Arc;

use crate::support::process;
use contract::Endpoint;
use harness::dynamodb_local::{shared_endpoint, store_on_new_table};
use shared::settings::store_timeout::DEFAULT as STORE_TIMEOUT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readers_on_two_processes_see_only_stored_values_and_converge() {
    let endpoint = shared_endpoint();
    let table = store_on_new_table(&endpoint, "concurrent", STORE_TIMEOUT)
        .await
        .table()
        .to_string();
    let first = process::start_on_dynamodb(&endpoint, &table, &[]).await;
    let second = process::start_on_dynamodb(&endpoint, &table, &[]).await;
    let servers = [
        Endpoint::new(format!("http://{}", first.address)),
        Endpoint::new(format!("http://{}", second.address)),
    ];
    // Long values of one repeated digit: a torn write would mix digits.
    let values: Vec<String> = (1..=9)
        .map(|digit| digit.to_string().repeat(1000))
        .collect();
    let stored: Arc<HashSet<String>> =
        Arc::new(values.iter().cloned().chain(["0".to_string()]).collect());

    let mut tasks = Vec::new();
    for writer in 0..6 {
        let service = servers[writer % 2].clone();
        let values = values.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                service
                    .store(&values[(writer + round) % values.len()])
                    .await;
            }
        }));
    }
    for reader in 0..6 {
        let service = servers[reader % 2].clone();
        let stored = Arc::clone(&stored);
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let seed = service.seed().await;
                assert!(
                    stored.contains(&seed),
                    "a GET answered a value nobody stored ({} chars)",
                    seed.len()
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client task failed");
    }
    let last = servers[0].seed().await;
    assert!(values.contains(&last), "the final value was never stored");
    assert_eq!(
        servers[1].seed().await,
        last,
        "the two instances disagree after the writers stopped"
    );
}
