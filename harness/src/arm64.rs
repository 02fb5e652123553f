//! The arm64 (aarch64) builds the tests run, as both stacks deploy them by
//! default: the binaries `scripts/arm64` builds, started under qemu-user on
//! this x86_64 machine.

use std::path::{Path, PathBuf};
use std::process::Command;

const HOW_TO_BUILD: &str = "run the tests with ./scripts/test, which builds them with \
     scripts/arm64; or build them as docs/testing.md says and set SEED_TEST_ARM64_SERVER to \
     the ec2-server and SEED_TEST_ARM64_BOOTSTRAP to a copy of the Lambda bootstrap";

/// The arm64 ec2-server (`SEED_TEST_ARM64_SERVER`).
pub fn server() -> PathBuf {
    configured("SEED_TEST_ARM64_SERVER")
}

/// A copy of the arm64 Lambda bootstrap (`SEED_TEST_ARM64_BOOTSTRAP`): `sam
/// build` rewrites the original, which fails while a test runs it.
pub fn bootstrap() -> PathBuf {
    configured("SEED_TEST_ARM64_BOOTSTRAP")
}

/// A command that runs the aarch64 `binary` under qemu-user. Signals sent
/// to it reach the binary: qemu-user delivers them to the program it runs.
/// (No `-L`: the aarch64 loader and C library come from Debian's multiarch
/// `libc6:arm64`, with which threads start under qemu.)
pub fn command(binary: &Path) -> Command {
    let mut command = Command::new("qemu-aarch64-static");
    command.arg(binary);
    command
}

fn configured(variable: &str) -> PathBuf {
    crate::configured_file(variable, "the arm64 build", HOW_TO_BUILD)
}
