//! The Lambda function under cargo-lambda's runtime emulator, as the tests
//! run it: the real `bootstrap` built by `cargo lambda build`, started
//! against `cargo lambda watch --only-lambda-apis` on a free loopback port.
//!
//! The emulator's Function URL route (`/lambda-url/_/`) gives plain HTTP;
//! [`LambdaUnderEmulator::invoke`] sends any event document through
//! `cargo lambda invoke`, as API Gateway or an ALB would.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use contract::Endpoint;
use tempfile::NamedTempFile;

use crate::{free_port, ChildGuard};

const HOW_TO_BUILD: &str = "run the tests with ./scripts/test, which installs cargo-lambda and \
     builds the function; or `pip install cargo-lambda ziglang`, `cargo lambda build --release --bin seed-lambda` \
     and set SEED_TEST_LAMBDA_BOOTSTRAP to a copy of target/lambda/seed-lambda/bootstrap \
     (`sam build` rewrites that file, which fails while a test runs it)";

/// The `bootstrap` the tests run. Panics, saying what to do, if it is not
/// configured or not there.
pub fn bootstrap() -> PathBuf {
    crate::configured_file(
        "SEED_TEST_LAMBDA_BOOTSTRAP",
        "the Lambda bootstrap",
        HOW_TO_BUILD,
    )
}

/// The function, running under the emulator, stopped when dropped.
pub struct LambdaUnderEmulator {
    pub port: u16,
    // The function stops before the emulator it polls.
    function: ChildGuard,
    emulator: ChildGuard,
    /// The emulator's output, quoted when something fails.
    log: NamedTempFile,
    /// Everything the function wrote, standard output and error.
    function_output: NamedTempFile,
}

impl LambdaUnderEmulator {
    /// Starts the emulator and the function with `env` added to the
    /// function's environment (`SEED_*`, AWS settings).
    pub fn start(env: &[(&str, String)]) -> Self {
        Self::start_function(Command::new(bootstrap()), env)
    }

    /// [`LambdaUnderEmulator::start`] for `function`, a bootstrap with
    /// whatever runs it.
    pub fn start_function(mut function: Command, env: &[(&str, String)]) -> Self {
        let what = format!("{function:?}");
        let port = free_port();
        let log = NamedTempFile::with_prefix("seed-emulator-").expect("a temporary log file");
        let output = || log.as_file().try_clone().expect("the log file");
        let function_output =
            NamedTempFile::with_prefix("seed-function-").expect("a temporary log file");
        let function_writes = || {
            function_output
                .as_file()
                .try_clone()
                .expect("the function's log file")
        };
        let mut emulator = ChildGuard::spawn(
            Command::new("cargo")
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "--disable-cors",
                    "-A",
                    "127.0.0.1",
                    "-P",
                ])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(output())
                .stderr(output()),
            "cargo lambda watch",
            HOW_TO_BUILD,
        );
        emulator.wait_until_listening(port, HOW_TO_BUILD);
        let function = ChildGuard::spawn(
            function
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env(
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("http://127.0.0.1:{port}/.rt"),
                )
                .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
                .stdin(Stdio::null())
                .stdout(function_writes())
                .stderr(function_writes()),
            &what,
            HOW_TO_BUILD,
        );
        LambdaUnderEmulator {
            port,
            function,
            emulator,
            log,
            function_output,
        }
    }

    /// The function's exit status if it exits (a failed init) within
    /// `within`; `None` if it still runs.
    pub fn function_exit_within(
        &mut self,
        within: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        self.function.exit_within(within)
    }

    /// SIGTERM to the function, as Lambda sends at shutdown; its exit status.
    pub fn terminate_function(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        self.function.terminate(within)
    }

    /// What the emulator and the function have logged so far.
    pub fn log(&self) -> String {
        let emulator = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        format!("{emulator}{}", self.function_output())
    }

    /// Every line the function has written so far, and nothing else.
    pub fn function_output(&self) -> String {
        std::fs::read_to_string(self.function_output.path()).unwrap_or_default()
    }

    /// The function's Function URL through the emulator.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(format!("http://127.0.0.1:{}/lambda-url/_", self.port))
    }

    /// Sends one event document and returns the function's JSON answer.
    pub fn invoke(&self, event: &serde_json::Value) -> serde_json::Value {
        let file = NamedTempFile::with_prefix("seed-event-").expect("a temporary event file");
        std::fs::write(file.path(), event.to_string()).expect("write the event file");
        let output = Command::new("cargo")
            .args([
                "lambda",
                "invoke",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(self.port.to_string())
            .args(["--output-format", "json", "--data-file"])
            .arg(file.path())
            .stdin(Stdio::null())
            .output()
            .expect("cargo lambda invoke runs");
        assert!(
            output.status.success(),
            "cargo lambda invoke failed: {}{}\nemulator log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "the function's answer is not JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

impl Drop for LambdaUnderEmulator {
    /// A test that fails shows what the emulator and the function said, and
    /// whether each still ran: most failures are answered there.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "the emulator: {}; the function: {}; their output:\n{}",
                self.emulator.state(),
                self.function.state(),
                self.log()
            );
        }
    }
}
