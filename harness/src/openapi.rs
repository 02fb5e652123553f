//! The API's own description, `docs/openapi.yaml`, put to work: checked by
//! an OpenAPI validator, and run by schemathesis, a property-based API
//! tester that generates requests from it (valid and invalid ones, every
//! documented and undocumented method) and checks every answer against it:
//! status, content type, headers, body schema, refusal of invalid data and
//! of requests without the bearer token where the document requires one.
//! Both are pinned Python tools in venvs of their own (`scripts/test`
//! installs them and sets `SEED_TEST_OPENAPI_VALIDATOR` and
//! `SEED_TEST_SCHEMATHESIS`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::NamedTempFile;

use crate::child::ChildGuard;

const HOW_TO_GET: &str = "run the tests with ./scripts/test, which installs schemathesis and \
     openapi-spec-validator into .tools/ and sets SEED_TEST_SCHEMATHESIS and \
     SEED_TEST_OPENAPI_VALIDATOR";

/// How long schemathesis generates requests against one target. About a
/// hundred requests a second: about a thousand per run.
const TIME_BUDGET_SECONDS: &str = "10";

/// The committed document.
pub fn document() -> PathBuf {
    crate::workspace_root().join("docs/openapi.yaml")
}

/// The document as a write-protected service serves it: POST's open
/// alternative (`- {}`) taken out, so that the bearer token is required
/// and schemathesis checks that requests without it are refused.
pub fn protected_document() -> NamedTempFile {
    let text = std::fs::read_to_string(document()).expect("docs/openapi.yaml is readable");
    let open_alternative = "        - {}\n";
    assert_eq!(
        text.matches(open_alternative).count(),
        1,
        "docs/openapi.yaml's POST should list the open alternative `- {{}}` once, before the bearer scheme"
    );
    let file = NamedTempFile::with_suffix(".yaml").expect("a temporary file");
    std::fs::write(file.path(), text.replace(open_alternative, ""))
        .expect("write the protected document");
    file
}

fn tool(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| panic!("{variable} is unset: {HOW_TO_GET}"))
}

/// The validator's verdict on `path` and what it said.
pub fn validate(path: &Path) -> (bool, String) {
    let validator = tool("SEED_TEST_OPENAPI_VALIDATOR");
    let output = Command::new(&validator)
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {validator} ({error}): {HOW_TO_GET}"));
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// What answers schemathesis's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    /// The service itself (or a copy of it).
    Direct,
    /// The function behind cargo-lambda's emulator, which answers a JSON
    /// body that is not UTF-8 with a `500` of its own, without invoking the
    /// function (in AWS the front end is API Gateway's or a Function URL's).
    /// Such bodies are not sent; everything else is.
    CargoLambdaEmulator,
}

/// A schemathesis hook that drops generated bodies that are not UTF-8.
const UTF8_BODIES_ONLY: &str = r#"import schemathesis

@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True
"#;

/// What one schemathesis run found.
pub struct Run {
    pub passed: bool,
    pub output: String,
}

/// Runs schemathesis from `document` against the service at `base_url`
/// (what `/` of the document is), with every check it has, sending
/// `Authorization: Bearer <token>` when a token is given.
pub fn run(document: &Path, base_url: &str, token: Option<&str>, front_end: FrontEnd) -> Run {
    let schemathesis = tool("SEED_TEST_SCHEMATHESIS");
    // Its example database and reports go to a directory of the run's own.
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let output_file = NamedTempFile::new().expect("a temporary file");
    let mut command = Command::new(&schemathesis);
    command
        .current_dir(scratch.path())
        .args(["run", "--checks", "all", "--workers", "1"])
        .args(["--max-time", TIME_BUDGET_SECONDS])
        .args(["--continue-on-failure", "--url", base_url])
        .arg(document)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(output_file.reopen().expect("the output file"))
        .stderr(output_file.reopen().expect("the output file"));
    if front_end == FrontEnd::CargoLambdaEmulator {
        std::fs::write(scratch.path().join("utf8_bodies_only.py"), UTF8_BODIES_ONLY)
            .expect("write the hook");
        command
            .env("SCHEMATHESIS_HOOKS", "utf8_bodies_only")
            .env("PYTHONPATH", scratch.path());
    }
    if let Some(token) = token {
        command
            .arg("--header")
            .arg(format!("Authorization: Bearer {token}"));
    }
    let mut child = ChildGuard::spawn(&mut command, "schemathesis", HOW_TO_GET);
    let status = child
        .exit_within(std::time::Duration::from_secs(120))
        .unwrap_or_else(|| panic!("schemathesis did not finish within 120 s"));
    Run {
        passed: status.success(),
        output: std::fs::read_to_string(output_file.path()).unwrap_or_default(),
    }
}

/// schemathesis finds nothing wrong with the service at `base_url`.
pub fn assert_conforms(document: &Path, base_url: &str, token: Option<&str>, front_end: FrontEnd) {
    let run = run(document, base_url, token, front_end);
    assert!(
        run.passed && run.output.contains("No issues found"),
        "schemathesis found the service at {base_url} not to conform to {}:\n{}",
        document.display(),
        run.output
    );
}
