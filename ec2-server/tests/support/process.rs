//! Running the real `ec2-server` binary, for what only a process shows:
//! signals, exit codes, start-up logs.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServerProcess {
    pub child: Child,
    pub address: SocketAddr,
    /// Every log line up to and including the one that gave the address.
    pub startup_log: Vec<String>,
    /// Every log line after those, as they arrive.
    pub later_log: Arc<Mutex<Vec<String>>>,
}

/// Starts the binary on a free port with JSON logs and waits until it
/// listens.
pub async fn start(flags: &[&str], env: &[(&str, &str)]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec2-server"));
    command
        .args(["--port", "0", "--log-format", "json"])
        .args(flags)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the ec2-server binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut startup_log = Vec::new();
    let address = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("reading the server log") {
            startup_log.push(line.clone());
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening" {
                let address = entry["address"].as_str().expect("address is logged");
                return address.parse::<SocketAddr>().expect("a socket address");
            }
        }
        panic!("the server exited before listening: {startup_log:?}");
    })
    .await
    .expect("the server listens within 20 s");
    // Keep draining the log so the server never blocks on a full pipe.
    let later_log = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&later_log);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            collected.lock().expect("log lines").push(line);
        }
    });
    ServerProcess {
        child,
        address,
        startup_log,
        later_log,
    }
}

impl ServerProcess {
    /// The log lines after start-up whose message is `message`.
    pub fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.later_log
            .lock()
            .expect("log lines")
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|entry| entry["message"] == message)
            .collect()
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }
}

/// Starts the binary with the DynamoDB store on `table` of the DynamoDB
/// Local at `endpoint`, plus `flags`.
pub async fn start_on_dynamodb(endpoint: &str, table: &str, flags: &[&str]) -> ServerProcess {
    let env = contract_tests::dynamodb_local::process_env(endpoint);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["--store", "dynamodb", "--table", table];
    all.extend_from_slice(flags);
    start(&all, &env).await
}
