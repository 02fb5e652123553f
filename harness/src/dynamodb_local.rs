//! DynamoDB Local for the tests: the shared instance that `scripts/test`
//! starts, and private instances that a test may stop, restart or pause.
//!
//! Nothing here skips: a test that needs DynamoDB and cannot reach it fails
//! and says how to start it.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::store::DynamoDbStore;
use tempfile::TempDir;

use crate::{free_port, workspace_root, ChildGuard};

const HOW_TO_START: &str =
    "run the tests with ./scripts/test, which starts DynamoDB Local; or start \
     it yourself with `scripts/dynamodb-local run 8000` and set \
     SEED_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000";

/// The endpoint of the shared DynamoDB Local. Panics, saying what to do, if
/// it is not configured or not listening.
pub fn shared_endpoint() -> String {
    let endpoint = std::env::var("SEED_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("DynamoDB Local is not configured (SEED_TEST_DYNAMODB_ENDPOINT is unset): {HOW_TO_START}")
    });
    let address = contract::socket_address(&endpoint).unwrap_or_else(|| {
        panic!("SEED_TEST_DYNAMODB_ENDPOINT={endpoint} is not http://IP:PORT on loopback")
    });
    assert!(
        address.ip().is_loopback(),
        "SEED_TEST_DYNAMODB_ENDPOINT={endpoint}: tests only talk to loopback"
    );
    if TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err() {
        panic!("DynamoDB Local is not running at {endpoint}: {HOW_TO_START}");
    }
    endpoint
}

/// An SDK configuration for DynamoDB Local at `endpoint`: a fixed region and
/// dummy credentials, no instance-metadata lookups.
pub fn sdk_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .http_client(shared::store::dynamodb::https_client())
}

/// The environment a spawned server or function needs to reach `endpoint`
/// through the standard AWS configuration chain.
pub fn process_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// The environment a spawned server or function needs to keep the seed in
/// `table` of the DynamoDB Local at `endpoint`.
pub fn store_env(endpoint: &str, table: &str) -> Vec<(&'static str, String)> {
    let mut env = process_env(endpoint);
    env.push(("SEED_STORE", "dynamodb".to_string()));
    env.push(("SEED_TABLE", table.to_string()));
    env
}

/// A table name no other test uses.
pub fn unique_table_name(purpose: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!(
        "seed-{purpose}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store on a new, empty table of the DynamoDB Local at `endpoint`.
pub async fn store_on_new_table(
    endpoint: &str,
    purpose: &str,
    call_timeout: Duration,
) -> DynamoDbStore {
    let store = DynamoDbStore::new(
        sdk_config(endpoint),
        unique_table_name(purpose),
        call_timeout,
    );
    store
        .create_table_if_missing()
        .await
        .unwrap_or_else(|error| panic!("cannot create a table on {endpoint}: {error}"));
    store
}

/// A DynamoDB Local of the test's own, keeping its data in a folder so that
/// it can be stopped and started again with the same tables.
pub struct PrivateDynamoDb {
    pub port: u16,
    // Declared before the folder: the process stops before its data goes.
    child: Option<ChildGuard>,
    data_dir: TempDir,
}

impl PrivateDynamoDb {
    /// Starts an instance on a free port with an empty data folder.
    pub fn start() -> Self {
        let data_dir = tempfile::Builder::new()
            .prefix("seed-dynamodb-")
            .tempdir()
            .expect("a temporary folder");
        let mut instance = PrivateDynamoDb {
            port: free_port(),
            child: None,
            data_dir,
        };
        instance.restart();
        instance
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it again (after [`stop`](Self::stop)) on the same port and data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut command = Command::new(workspace_root().join("scripts/dynamodb-local"));
        command
            .args(["run", &self.port.to_string()])
            .arg(self.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = self.child.insert(ChildGuard::spawn(
            &mut command,
            "DynamoDB Local",
            "scripts/dynamodb-local is part of the repository",
        ));
        child.wait_until_listening(self.port, "it needs Java 17+ and npm");
    }

    /// Kills it (SIGKILL), as a crash or an outage would.
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// Freezes it (SIGSTOP): connections stay open and calls hang.
    pub fn pause(&self) {
        self.running().signal("STOP");
    }

    /// Thaws it after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.running().signal("CONT");
    }

    fn running(&self) -> &ChildGuard {
        self.child.as_ref().expect("DynamoDB Local runs")
    }
}
