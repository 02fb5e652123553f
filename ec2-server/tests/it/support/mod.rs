//! Starting the real server in-process on a free port, as every test does.

pub mod process;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use contract::Endpoint;
use ec2_server::{Application, Settings};
use shared::{MemoryStore, Store};
use tokio::sync::oneshot;

/// A running server; dropping it starts a graceful shutdown.
pub struct TestServer {
    pub endpoint: Endpoint,
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Deref for TestServer {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
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
    spawn_app_with(settings(&[]), Arc::new(MemoryStore::new())).await
}

pub async fn spawn_app_with(settings: Settings, store: Arc<dyn Store>) -> TestServer {
    let application = Application::build_with_store(&settings, store)
        .await
        .expect("the test server binds to a free loopback port");
    let address = application.address();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestServer {
        endpoint: Endpoint::new(format!("http://{address}")),
        address,
        stop: Some(stop),
    }
}

/// Settings for tests with short limits, given as `--flag value` pairs.
pub fn settings(flags: &[&str]) -> Settings {
    let mut args = vec!["ec2-server", "--port", "0"];
    args.extend_from_slice(flags);
    Settings::try_from_flags(args).expect("test flags are valid")
}

/// A server on a new table of the shared DynamoDB Local.
pub async fn spawn_app_on_dynamodb() -> TestServer {
    let endpoint = harness::dynamodb_local::shared_endpoint();
    let store = harness::dynamodb_local::store_on_new_table(
        &endpoint,
        "contract",
        shared::settings::DEFAULT_STORE_TIMEOUT,
    )
    .await;
    spawn_app_with(settings(&[]), Arc::new(store)).await
}
