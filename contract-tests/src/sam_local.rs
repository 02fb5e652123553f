//! The Lambda function under `sam local start-api`, as users run it:
//! `scripts/sam-local`, which builds with `sam build`, serves the template
//! as it is, and stops everything it started on SIGTERM.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::client::Endpoint;
use crate::free_port;

/// A cold `sam build` (cargo-lambda, fat LTO, two cores) and a Docker
/// install take minutes; a running build says so in the log.
const START_LIMIT: Duration = Duration::from_secs(900);

pub struct SamLocal {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
}

impl SamLocal {
    /// Runs `scripts/sam-local --port P [--dynamodb]` and waits until the
    /// function answers `GET /`.
    pub fn start(dynamodb: bool) -> Self {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("seed-sam-local-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create the sam-local log");
        let script = crate::workspace_root().join("scripts/sam-local");
        let mut command = Command::new(&script);
        command.args(["--port", &port.to_string()]);
        if dynamodb {
            command.arg("--dynamodb");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
        let mut sam = SamLocal {
            child: Some(child),
            port,
            log,
        };
        sam.wait_until_serving();
        sam
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(format!("http://127.0.0.1:{}", self.port))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!(
                    "scripts/sam-local exited ({status}) before serving:\n{}",
                    self.log_text()
                );
            }
            let answered = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                ])
                .arg(format!("http://127.0.0.1:{}/", self.port))
                .output()
                .map(|output| output.stdout == b"200")
                .unwrap_or(false);
            if answered {
                return;
            }
            assert!(
                started.elapsed() < START_LIMIT,
                "sam local did not answer GET / within {START_LIMIT:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// SIGTERM, as a user's Ctrl-C or a service manager would send, and the
    /// script's exit status once it has stopped what it started.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("sam local runs");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!(
                    "scripts/sam-local did not stop within 120 s of SIGTERM:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for SamLocal {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}
