//! The local replica of the EC2 fallback (`scripts/replica`: DynamoDB Local,
//! two ec2-server instances, HAProxy), started by a test in a folder and on
//! ports of its own, and stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use contract::Endpoint;
use tempfile::TempDir;

use crate::free_port;

pub struct Replica {
    dir: TempDir,
    server: PathBuf,
    extra_env: Vec<(String, String)>,
    pub url: String,
}

impl Replica {
    /// Starts the replica with `server` as both instances; `memory` gives
    /// each its own in-memory store; `env` adds settings (SEED_*, and the
    /// script's SEED_REPLICA_*).
    pub fn start(server: &Path, memory: bool, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("seed-replica-")
            .tempdir()
            .expect("a temporary folder");
        let mut replica = Replica {
            dir,
            server: server.to_path_buf(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            url: String::new(),
        };
        let port = free_port().to_string();
        let mut args = vec!["start"];
        if memory {
            args.push("--memory");
        }
        let output = replica.script(&args, &[("SEED_REPLICA_PORT", &port)]);
        for line in output.lines() {
            if let Some(url) = line.strip_prefix("URL=") {
                replica.url = url.trim_end_matches('/').to_string();
            }
        }
        assert!(
            !replica.url.is_empty(),
            "scripts/replica printed no URL: {output}"
        );
        replica
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.url.clone())
    }

    /// Runs `scripts/replica ARGS` for this replica; panics if it fails.
    pub fn script(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let script = script_path();
        let output = crate::without_shell_settings(&mut Command::new(&script))
            .args(args)
            .env("SEED_REPLICA_DIR", self.dir.path())
            .env("SEED_REPLICA_SERVER", &self.server)
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "scripts/replica {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Where the balancer listens.
    /// Everything instance `name` has written to its log.
    pub fn instance_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    pub fn balancer_address(&self) -> std::net::SocketAddr {
        contract::socket_address(&self.url).expect("the replica URL is http://IP:PORT")
    }

    /// Where instance `name` listens, behind the balancer.
    pub fn instance_address(&self, name: &str) -> std::net::SocketAddr {
        let port = std::fs::read_to_string(self.dir.path().join(format!("{name}.port")))
            .unwrap_or_else(|error| panic!("no port for instance {name}: {error}"));
        let port: u16 = port.trim().parse().expect("a port number");
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Whether instance `name`'s process is still alive.
    pub fn instance_running(&self, name: &str) -> bool {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pid")))
            .ok()
            .is_some_and(|pid| Path::new(&format!("/proc/{}", pid.trim())).exists())
    }

    /// Waits until instance `name`'s process has exited.
    pub fn wait_for_exit(&self, name: &str, within: Duration) {
        let started = Instant::now();
        while self.instance_running(name) {
            assert!(
                started.elapsed() < within,
                "instance {name} still runs after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The environment a function needs to keep the seed in the replica's
    /// table, beside the instances.
    pub fn store_env(&self) -> Vec<(&'static str, String)> {
        let aws = std::fs::read_to_string(self.dir.path().join("aws.env"))
            .expect("the replica writes aws.env at start");
        let endpoint = aws
            .lines()
            .find_map(|line| line.strip_prefix("AWS_ENDPOINT_URL_DYNAMODB="))
            .expect("aws.env names the DynamoDB endpoint");
        crate::dynamodb_local::store_env(endpoint, "seed")
    }

    /// Freezes the replica's DynamoDB Local (SIGSTOP): calls hang until
    /// [`resume_store`](Self::resume_store).
    pub fn pause_store(&self) {
        self.script(&["pause-store"], &[]);
    }

    pub fn resume_store(&self) {
        self.script(&["resume-store"], &[]);
    }

    /// HAProxy's view of instance `name`: "UP", "DOWN", ...
    pub fn balancer_state(&self, name: &str) -> String {
        self.balancer_view(name).0
    }

    /// The requests HAProxy has inside instance `name` right now.
    pub fn requests_inside(&self, name: &str) -> u32 {
        self.balancer_view(name).1
    }

    /// Instance `name`'s state and requests inside, as `scripts/replica
    /// status` reports HAProxy's statistics.
    fn balancer_view(&self, name: &str) -> (String, u32) {
        let status = self.script(&["status"], &[]);
        let prefix = format!("balancer sees {name}: ");
        let view = status.lines().find_map(|line| line.strip_prefix(&prefix));
        let parsed = view.and_then(|view| {
            let (state, inside) = view.split_once(", ")?;
            let inside = inside.strip_suffix(" requests inside")?.parse().ok()?;
            Some((state.to_string(), inside))
        });
        parsed.unwrap_or_else(|| panic!("no view of instance {name} in: {status}"))
    }

    /// Waits until HAProxy reports `name` in `state` (e.g. "UP", "DOWN").
    pub fn wait_for_state(&self, name: &str, state: &str, within: Duration) {
        let started = Instant::now();
        loop {
            let now = self.balancer_state(name);
            if now.starts_with(state) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "instance {name} is {now}, not {state}, after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = crate::without_shell_settings(&mut Command::new(script_path()))
            .arg("stop")
            .env("SEED_REPLICA_DIR", self.dir.path())
            .output();
    }
}

fn script_path() -> PathBuf {
    crate::workspace_root().join("scripts/replica")
}
