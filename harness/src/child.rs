//! The one owner of a test's child processes.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when the guard drops, so that
/// a failing test (a panic unwinds through it) leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    what: String,
}

impl ChildGuard {
    /// Spawns `command`, without the shell's `SEED_*` settings
    /// ([`crate::without_shell_settings`]); `what` names it in failures,
    /// `hint` says how to get it when it cannot run.
    pub fn spawn(command: &mut Command, what: &str, hint: &str) -> Self {
        let child = crate::without_shell_settings(command)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {what} ({error}): {hint}"));
        ChildGuard {
            child: Some(child),
            what: what.to_string(),
        }
    }

    pub fn id(&self) -> u32 {
        self.running().id()
    }

    /// The child's standard error, if it was piped; once.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut().and_then(|child| child.stderr.take())
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Its state, for a failure message: running, exited (and how), or
    /// stopped by the test.
    pub fn state(&mut self) -> String {
        if self.child.is_none() {
            return "stopped by the test".to_string();
        }
        match self.try_wait() {
            Some(status) => format!("exited ({status})"),
            None => "running".to_string(),
        }
    }

    /// Sends `signal` (a name such as `TERM`, `STOP`, `CONT`).
    pub fn signal(&self, signal: &str) {
        let pid = self.id();
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(
            status.success(),
            "kill -{signal} {pid} ({}) failed",
            self.what
        );
    }

    /// Waits until something listens on loopback `port`, failing the test
    /// if the child exits first (saying `hint`) or 60 s pass.
    pub fn wait_until_listening(&mut self, port: u16, hint: &str) {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.try_wait() {
                panic!("{} exited at start-up ({status}): {hint}", self.what);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} did not listen on {address} within 60 s",
                self.what
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its exit status once it has exited, waiting at most `within`; `None`
    /// if it still runs then.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if started.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then its exit status; SIGKILL (and a failed test) if it has
    /// not exited `within`. One that has exited already is not signalled.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        // One that has exited already cannot be signalled; it has stopped.
        if let Some(status) = self.try_wait() {
            self.child = None;
            return status;
        }
        self.signal("TERM");
        match self.exit_within(within) {
            Some(status) => {
                self.child = None;
                status
            }
            None => {
                self.kill();
                panic!("{} did not stop within {within:?} of SIGTERM", self.what);
            }
        }
    }

    /// SIGKILL and reap, as a crash would end it. Safe to call twice.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A stopped process still dies of SIGKILL.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.try_wait().is_none()
    }

    fn running(&self) -> &Child {
        self.child
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.what))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
