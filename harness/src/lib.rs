//! The real parts the tests run, started and stopped by the tests
//! themselves: DynamoDB Local, the Lambda runtime emulator, `sam local`,
//! the HAProxy replica of the EC2 stack, a Parameter Store stand-in, a slow
//! TCP proxy, a proxy that throttles DynamoDB, and the template linters. What a test starts is owned by a
//! [`ChildGuard`] (or a type holding one) and stopped when it drops.
//!
//! Nothing here skips: a part that is missing fails the test and says how
//! to get it.

pub mod arm64;
pub mod child;
pub mod docs;
pub mod dynamodb_local;
pub mod elf;
pub mod http_proxy;
pub mod lambda_emulator;
pub mod mutant_proxy;
pub mod openapi;
pub mod parameter_store;
pub mod ports;
pub mod raw_http;
pub mod replica;
pub mod runtime_api;
pub mod sam_local;
pub mod slow_proxy;
pub mod templates;
pub mod throttling_proxy;

pub use child::ChildGuard;
pub use ports::free_port;

/// `command` without the `SEED_*` settings of the shell the tests run in
/// (every one it does not set itself), so that a variable a developer
/// exported cannot change what a test's server does. The harness's own
/// `SEED_TEST_*` variables stay.
pub fn without_shell_settings(command: &mut std::process::Command) -> &mut std::process::Command {
    let set_here: Vec<std::ffi::OsString> = command
        .get_envs()
        .map(|(name, _)| name.to_os_string())
        .collect();
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("SEED_") && !text.starts_with("SEED_TEST_") && !set_here.contains(&name)
        {
            command.env_remove(&name);
        }
    }
    command
}

/// `command` without the `CARGO_*` variables cargo gives the test it runs
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, ...), for a command that runs
/// cargo itself: build scripts watch some of them, so a build started with
/// a test's values would rebuild what a build from a shell left fresh.
pub fn as_from_a_shell(command: &mut std::process::Command) -> &mut std::process::Command {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("CARGO_") && text != "CARGO_HOME" {
            command.env_remove(&name);
        }
    }
    command
}

/// The file the harness variable `variable` names: `what`, built by
/// `scripts/test`. Panics, saying `how` to get it, if it is unset or not
/// there.
pub fn configured_file(variable: &str, what: &str, how: &str) -> std::path::PathBuf {
    let path = std::env::var(variable)
        .unwrap_or_else(|_| panic!("{what} is not configured ({variable} is unset): {how}"));
    let path = std::path::PathBuf::from(path);
    assert!(
        path.is_file(),
        "{variable}={} does not exist: {how}",
        path.display()
    );
    path
}

/// The workspace: where `scripts/` and the templates are.
pub fn workspace_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace root")
}
