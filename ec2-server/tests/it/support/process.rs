//! Running the real `ec2-server` binary, for what only a process shows:
//! signals, exit codes, start-up logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::Endpoint;
use harness::ChildGuard;

pub struct ServerProcess {
    child: ChildGuard,
    pub address: SocketAddr,
    endpoint: Endpoint,
    /// Every log line up to and including the one that gave the address.
    pub startup_log: Vec<String>,
    /// Every log line, as they arrive.
    log: Arc<Mutex<Vec<String>>>,
}

/// Starts the binary on a free port with JSON logs and waits until it
/// listens.
pub async fn start(flags: &[&str], env: &[(&str, &str)]) -> ServerProcess {
    start_program(Command::new(env!("CARGO_BIN_EXE_ec2-server")), flags, env).await
}

/// Starts `command`, a server binary with whatever runs it, as [`start`]
/// starts the binary cargo builds.
pub async fn start_program(
    mut command: Command,
    flags: &[&str],
    env: &[(&str, &str)],
) -> ServerProcess {
    command
        .args(["--port", "0", "--log-format", "json"])
        .args(flags)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut command, "ec2-server", "cargo builds it");
    let stderr = child.take_stderr().expect("stderr is piped");
    // Read on a thread of its own, so the server never blocks on a full pipe.
    let log = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            collected.lock().expect("log lines").push(line);
        }
    });
    let started = Instant::now();
    loop {
        let lines = log.lock().expect("log lines").clone();
        if let Some(at) = lines
            .iter()
            .position(|line| logged_as(line, "listening").is_some())
        {
            let entry = logged_as(&lines[at], "listening").expect("just found");
            let address = entry["address"].as_str().expect("address is logged");
            let address: SocketAddr = address.parse().expect("a socket address");
            return ServerProcess {
                child,
                address,
                endpoint: Endpoint::new(format!("http://{address}")),
                startup_log: lines[..=at].to_vec(),
                log,
            };
        }
        if let Some(status) = child.try_wait() {
            panic!("the server exited ({status}) before listening: {lines:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not listen within 20 s: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn logged_as(line: &str, message: &str) -> Option<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .filter(|entry| entry["message"] == message)
}

impl Drop for ServerProcess {
    /// A test that fails shows the server's state and log: most failures
    /// are answered there.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let lines = shared::lock(&self.log);
            eprintln!(
                "the server: {}; its log:\n{}",
                self.child.state(),
                lines.join("\n")
            );
        }
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl ServerProcess {
    /// Every line written to standard error so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().expect("log lines").clone()
    }

    /// The log lines whose message is `message`.
    pub fn logged(&self, message: &str) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .expect("log lines")
            .iter()
            .filter_map(|line| logged_as(line, message))
            .collect()
    }

    /// The log lines whose message is `message`, once there is one; fails
    /// the test if none comes `within`.
    pub async fn wait_until_logged(
        &self,
        message: &str,
        within: Duration,
    ) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let lines = self.logged(message);
            if !lines.is_empty() {
                return lines;
            }
            assert!(
                started.elapsed() < within,
                "the server did not log {message:?} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        self.child.signal(signal);
    }

    /// SIGKILL, the moment it is called: no drain, no flush.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Its exit status; fails the test if it still runs after `within`.
    pub async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait() {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "the server still runs {within:?} later"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts the binary with the DynamoDB store on `table` of the DynamoDB
/// Local at `endpoint`, plus `flags`.
pub async fn start_on_dynamodb(endpoint: &str, table: &str, flags: &[&str]) -> ServerProcess {
    let program = Command::new(env!("CARGO_BIN_EXE_ec2-server"));
    start_program_on_dynamodb(program, endpoint, table, flags).await
}

/// [`start_on_dynamodb`] for `command`, as [`start_program`].
pub async fn start_program_on_dynamodb(
    command: Command,
    endpoint: &str,
    table: &str,
    flags: &[&str],
) -> ServerProcess {
    let env = harness::dynamodb_local::process_env(endpoint);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["--store", "dynamodb", "--table", table];
    all.extend_from_slice(flags);
    start_program(command, &all, &env).await
}
