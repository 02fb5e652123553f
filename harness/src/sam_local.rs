//! The Lambda function under `sam local start-api`, as users run it:
//! `scripts/sam-local`, which builds with `sam build`, serves the template
//! as it is, and stops everything it started on SIGTERM.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use contract::Endpoint;
use tempfile::NamedTempFile;

use crate::{free_port, ChildGuard};

/// A cold `sam build` (cargo-lambda, fat LTO, two cores) and a Docker
/// install take minutes; a running build says so in the log.
const START_LIMIT: Duration = Duration::from_secs(900);

pub struct SamLocal {
    child: Option<ChildGuard>,
    pub port: u16,
    log: NamedTempFile,
}

impl SamLocal {
    /// Runs `scripts/sam-local --port P FLAGS` (`--dynamodb`,
    /// `--managed-instances`) and waits until the function answers `GET /`.
    pub fn start_with(flags: &[&str]) -> Self {
        let port = free_port();
        let log = NamedTempFile::with_prefix("seed-sam-local-").expect("a temporary log file");
        let output = || log.as_file().try_clone().expect("the log file");
        let mut command = Command::new(crate::workspace_root().join("scripts/sam-local"));
        crate::as_from_a_shell(&mut command);
        command.args(["--port", &port.to_string()]).args(flags);
        command
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output());
        let child = ChildGuard::spawn(
            &mut command,
            "scripts/sam-local",
            "it is part of the repository",
        );
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

    /// The function's container, as `sam local` names it in its log.
    pub fn container(&self) -> Option<String> {
        let log = self.log_text();
        let id = log.split("SAM_CONTAINER_ID: ").nth(1)?;
        Some(id.split_whitespace().next()?.to_string())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(ChildGuard::try_wait) {
                panic!(
                    "scripts/sam-local exited ({status}) before serving:\n{}",
                    self.log_text()
                );
            }
            // A function that cannot start answers 502 for ever: say why now.
            let log = self.log_text();
            if log.contains("Runtime.ExitError") {
                panic!("the function under sam local exits at start-up:\n{log}");
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
        child.terminate(Duration::from_secs(120))
    }
}

impl Drop for SamLocal {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}
