//! The API's own description, `docs/openapi.yaml`, put to work: run by
//! schemathesis, a property-based API tester that generates requests from
//! it (valid and invalid ones, every documented and undocumented method)
//! and checks every answer against it: status, content type, headers, body
//! schema, refusal of invalid data and of requests without the bearer token
//! where the document requires one. schemathesis is a pinned Python tool in
//! a venv of its own (`scripts/test` installs it and sets
//! `SEED_TEST_SCHEMATHESIS`). The document's validator is one of
//! [`crate::templates::Linter`]'s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::NamedTempFile;

use crate::child::ChildGuard;

const HOW_TO_GET: &str = "run the tests with ./scripts/test, which installs schemathesis into \
     .tools/ and sets SEED_TEST_SCHEMATHESIS";

/// How many requests schemathesis generates per operation, after its
/// coverage phase. A count, not `--max-time`: under a time budget
/// schemathesis 4.32 trims its coverage phase to the document's examples,
/// and the wrong-type bodies (`{"num": "AAA"}`) are then left to chance.
/// About 330 requests in all, 10 to 15 s.
const EXAMPLES_PER_OPERATION: &str = "300";

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
/// `Authorization: Bearer <token>` when a token is given. It is waited for
/// off the async workers, which go on serving a service in the test's own
/// process.
pub async fn run(document: &Path, base_url: &str, token: Option<&str>, front_end: FrontEnd) -> Run {
    let (document, base_url, token) = (
        document.to_path_buf(),
        base_url.to_string(),
        token.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || {
        run_to_the_end(&document, &base_url, token.as_deref(), front_end)
    })
    .await
    .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))
}

fn run_to_the_end(
    document: &Path,
    base_url: &str,
    token: Option<&str>,
    front_end: FrontEnd,
) -> Run {
    let schemathesis = std::env::var("SEED_TEST_SCHEMATHESIS")
        .unwrap_or_else(|_| panic!("SEED_TEST_SCHEMATHESIS is unset: {HOW_TO_GET}"));
    // Its example database and reports go to a directory of the run's own.
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let output_file = NamedTempFile::new().expect("a temporary file");
    let mut command = Command::new(&schemathesis);
    command
        .current_dir(scratch.path())
        .args(["run", "--checks", "all", "--workers", "1"])
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
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
pub async fn assert_conforms(
    document: &Path,
    base_url: &str,
    token: Option<&str>,
    front_end: FrontEnd,
) {
    let run = run(document, base_url, token, front_end).await;
    assert!(
        run.passed && run.output.contains("No issues found"),
        "schemathesis found the service at {base_url} not to conform to {}:\n{}",
        document.display(),
        run.output
    );
}
