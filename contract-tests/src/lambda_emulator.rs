//! The Lambda function under cargo-lambda's runtime emulator, as the tests
//! run it: the real `bootstrap` built by `cargo lambda build`, started
//! against `cargo lambda watch --only-lambda-apis` on a free loopback port.
//!
//! The emulator's Function URL route (`/lambda-url/_/`) gives plain HTTP;
//! [`LambdaUnderEmulator::invoke`] sends any event document through
//! `cargo lambda invoke`, as API Gateway or an ALB would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::client::Endpoint;
use crate::{free_port, wait_until_listening};

const HOW_TO_BUILD: &str = "run the tests with ./scripts/test, which installs cargo-lambda and \
     builds the function; or `pip install cargo-lambda ziglang`, `cargo lambda build --release -p lambda` \
     and set SEED_TEST_LAMBDA_BOOTSTRAP=target/lambda/seed-lambda/bootstrap";

/// The `bootstrap` the tests run. Panics, saying what to do, if it is not
/// configured or not there.
pub fn bootstrap() -> PathBuf {
    let path = std::env::var("SEED_TEST_LAMBDA_BOOTSTRAP").unwrap_or_else(|_| {
        panic!("the Lambda bootstrap is not configured (SEED_TEST_LAMBDA_BOOTSTRAP is unset): {HOW_TO_BUILD}")
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "SEED_TEST_LAMBDA_BOOTSTRAP={} does not exist: {HOW_TO_BUILD}",
        path.display()
    );
    path
}

/// The function, running under the emulator, stopped when dropped.
pub struct LambdaUnderEmulator {
    pub port: u16,
    emulator: Child,
    function: Child,
    /// The emulator's own output, quoted when something fails.
    log: PathBuf,
}

impl LambdaUnderEmulator {
    /// Starts the emulator and the function with `env` added to the
    /// function's environment (`SEED_TABLE`, AWS settings).
    pub fn start(env: &[(&str, String)]) -> Self {
        let bootstrap = bootstrap();
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("seed-emulator-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create the emulator log");
        let emulator = Command::new("cargo")
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
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file.try_clone().expect("log file handle"))
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run `cargo lambda watch` ({error}): {HOW_TO_BUILD}")
            });
        let mut emulator = KillOnDrop(Some(emulator));
        wait_until_listening(
            port,
            emulator.0.as_mut().expect("just spawned"),
            "cargo lambda watch",
            HOW_TO_BUILD,
        );

        let function = Command::new(&bootstrap)
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
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", bootstrap.display()));
        LambdaUnderEmulator {
            port,
            emulator: emulator.0.take().expect("still held"),
            function,
            log,
        }
    }

    /// What the emulator and the function have logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The function's Function URL through the emulator.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(format!("http://127.0.0.1:{}/lambda-url/_", self.port))
    }

    /// Sends one event document and returns the function's JSON answer.
    pub fn invoke(&self, event: &serde_json::Value) -> serde_json::Value {
        let file = std::env::temp_dir().join(format!(
            "seed-event-{}-{}.json",
            std::process::id(),
            self.port
        ));
        std::fs::write(&file, event.to_string()).expect("write the event file");
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
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .expect("cargo lambda invoke runs");
        let _ = std::fs::remove_file(&file);
        assert!(
            output.status.success(),
            "cargo lambda invoke failed: {}{}\nemulator log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
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
    fn drop(&mut self) {
        for child in [&mut self.function, &mut self.emulator] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
