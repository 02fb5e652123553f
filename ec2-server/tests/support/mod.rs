//! Starting the real server in-process on a free port, as every test does.

#![allow(dead_code)] // each test crate uses part of this module

pub mod process;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use contract_tests::Endpoint;
use ec2_server::{Application, Settings};
use shared::{MemoryStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping it starts a graceful shutdown.
pub struct TestServer {
    pub endpoint: Endpoint,
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Deref for TestServer {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl TestServer {
    /// Stops the server and waits for its drain to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task panicked");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The default server: in-memory store, default limits.
pub async fn spawn_app() -> TestServer {
    spawn_app_with(Settings::for_tests(), Arc::new(MemoryStore::new())).await
}

pub async fn spawn_app_with(settings: Settings, store: Arc<dyn Store>) -> TestServer {
    let application = Application::build_with_store(&settings, store)
        .await
        .expect("the test server binds to a free loopback port");
    let address = application.address();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestServer {
        endpoint: Endpoint::new(format!("http://{address}")),
        address,
        stop: Some(stop),
        task: Some(task),
    }
}

/// Settings for tests with short limits, given as `--flag value` pairs.
pub fn settings(flags: &[&str]) -> Settings {
    use clap::Parser;
    let mut args = vec!["ec2-server", "--port", "0"];
    args.extend_from_slice(flags);
    Settings::try_parse_from(args).expect("test flags are valid")
}

/// A server on a new table of the shared DynamoDB Local.
pub async fn spawn_app_on_dynamodb() -> TestServer {
    let endpoint = contract_tests::dynamodb_local::shared_endpoint();
    let store = contract_tests::dynamodb_local::store_on_new_table(
        &endpoint,
        "contract",
        shared::store::dynamodb::DEFAULT_CALL_TIMEOUT,
    )
    .await;
    spawn_app_with(Settings::for_tests(), Arc::new(store)).await
}
