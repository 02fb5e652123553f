//! CloudFormation templates under a linter (cfn-lint, or `sam validate
//! --lint`): a template must pass, and broken copies of it must fail, so
//! that the check is known to bite.

use std::path::Path;
use std::process::Command;

/// A linter to run on templates.
#[derive(Debug, Clone, Copy)]
pub enum Linter {
    CfnLint,
    /// `sam validate --lint`, offline: the SAM CLI from SEED_TEST_SAM (which
    /// scripts/test sets) or `sam` on the PATH.
    SamValidate,
}

impl Linter {
    pub fn run(self, path: &Path) -> (bool, String) {
        match self {
            Linter::CfnLint => cfn_lint(path),
            Linter::SamValidate => sam_validate(path),
        }
    }
}

fn sam_validate(path: &Path) -> (bool, String) {
    let sam = std::env::var("SEED_TEST_SAM").unwrap_or_else(|_| "sam".to_string());
    let output = Command::new(&sam)
        .args(["validate", "--lint", "-t"])
        .arg(path)
        .env("AWS_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {sam} ({error}): run ./scripts/test, or `pip install aws-sam-cli`")
        });
    verdict(&output)
}

/// cfn-lint's verdict on a template, and what it printed.
pub fn cfn_lint(path: &Path) -> (bool, String) {
    let output = Command::new("cfn-lint")
        .arg(path)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run cfn-lint ({error}): run ./scripts/test, or `pip install cfn-lint`")
        });
    verdict(&output)
}

/// Asserts that `template` passes `linter` and that each copy broken by
/// replacing `from` with `to` (named `what`) fails it.
pub fn assert_lint_passes_and_breakages_fail(
    linter: Linter,
    template: &Path,
    breakages: &[(&str, &str, &str)],
) {
    let (passed, output) = linter.run(template);
    assert!(
        passed,
        "{linter:?} on {} failed:\n{output}",
        template.display()
    );
    let original = std::fs::read_to_string(template).expect("the template is readable");
    for (what, from, to) in breakages {
        assert!(
            original.contains(from),
            "the template no longer has {from:?}"
        );
        let broken = tempfile::Builder::new()
            .prefix("seed-broken-")
            .suffix(".yaml")
            .tempfile()
            .expect("a temporary file");
        std::fs::write(broken.path(), original.replacen(from, to, 1))
            .expect("write the broken copy");
        let (passed, output) = linter.run(broken.path());
        assert!(
            !passed,
            "{linter:?} accepted a template with {what}:\n{output}"
        );
    }
}

/// A linter's verdict: whether it passed, and everything it printed.
fn verdict(output: &std::process::Output) -> (bool, String) {
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}
