//! Documents under a linter: the CloudFormation templates under cfn-lint
//! or `sam validate --lint`, the API's OpenAPI document under
//! openapi-spec-validator. A document must pass, and broken copies of it
//! must fail, so that the check is known to bite.

use std::path::Path;
use std::process::Command;

/// A linter to run on templates.
#[derive(Debug, Clone, Copy)]
pub enum Linter {
    CfnLint,
    /// `sam validate --lint`, offline: the SAM CLI from SEED_TEST_SAM (which
    /// scripts/test sets) or `sam` on the PATH.
    SamValidate,
    /// openapi-spec-validator, from SEED_TEST_OPENAPI_VALIDATOR (which
    /// scripts/test sets).
    OpenApiValidator,
}

impl Linter {
    pub fn run(self, path: &Path) -> (bool, String) {
        match self {
            Linter::CfnLint => cfn_lint(path),
            Linter::SamValidate => sam_validate(path),
            Linter::OpenApiValidator => openapi_validator(path),
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
    let cfn_lint = std::env::var("SEED_TEST_CFN_LINT").unwrap_or_else(|_| "cfn-lint".to_string());
    let output = Command::new(&cfn_lint)
        .arg(path)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {cfn_lint} ({error}): run ./scripts/test, which installs it and sets SEED_TEST_CFN_LINT")
        });
    verdict(&output)
}

fn openapi_validator(path: &Path) -> (bool, String) {
    let validator = std::env::var("SEED_TEST_OPENAPI_VALIDATOR").unwrap_or_else(|_| {
        panic!("SEED_TEST_OPENAPI_VALIDATOR is unset: run ./scripts/test, which installs openapi-spec-validator and sets it")
    });
    let output = Command::new(&validator)
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {validator} ({error}): run ./scripts/test"));
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
            "{} no longer has {from:?}",
            template.display()
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
            "{linter:?} accepted {} with {what}:\n{output}",
            template.display()
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

/// What checkov found in a template.
#[derive(Debug)]
pub struct CheckovReport {
    /// `CHECK_ID on RESOURCE` for each failed check.
    pub failed: Vec<String>,
    /// Each suppressed check: `CHECK_ID on RESOURCE`, and the reason given.
    pub skipped: Vec<(String, Option<String>)>,
    pub parsing_errors: u64,
}

/// checkov's scan of `path`, offline: the checkov from SEED_TEST_CHECKOV
/// (which scripts/test sets) or `checkov` on the PATH.
pub fn checkov(path: &Path) -> CheckovReport {
    let checkov = std::env::var("SEED_TEST_CHECKOV").unwrap_or_else(|_| "checkov".to_string());
    let output = Command::new(&checkov)
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {checkov} ({error}): run ./scripts/test, which installs it")
        });
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "checkov's output is not JSON ({error}): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let named = |check: &serde_json::Value| {
        format!(
            "{} on {}",
            check["check_id"].as_str().unwrap_or("?"),
            check["resource"].as_str().unwrap_or("?")
        )
    };
    let list = |kind: &str| {
        report["results"][kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    CheckovReport {
        failed: list("failed_checks").iter().map(named).collect(),
        skipped: list("skipped_checks")
            .iter()
            .map(|check| {
                let reason = check["check_result"]["suppress_comment"]
                    .as_str()
                    .map(str::to_string);
                (named(check), reason)
            })
            .collect(),
        parsing_errors: report["summary"]["parsing_errors"]
            .as_u64()
            .unwrap_or(u64::MAX),
    }
}

/// The suppressions in `report` whose reason is missing or too short for a
/// reviewer to judge (a sentence, not a word).
pub fn suppressions_without_a_reason(report: &CheckovReport) -> Vec<String> {
    report
        .skipped
        .iter()
        .filter(|(_, reason)| {
            reason
                .as_deref()
                .is_none_or(|reason| reason.trim().len() < 40)
        })
        .map(|(check, _)| check.clone())
        .collect()
}

/// Asserts that checkov fails no check on `template` and that every check
/// it skips is suppressed with a reason; and that a copy whose reasons are
/// removed is caught, so that the check is known to bite.
pub fn assert_checkov_passes_with_reasons(template: &Path) {
    let report = checkov(template);
    assert_eq!(
        report.parsing_errors,
        0,
        "checkov could not parse {}: {report:?}",
        template.display()
    );
    assert!(
        report.failed.is_empty(),
        "checkov fails {} on: {:?}",
        template.display(),
        report.failed
    );
    let unexplained = suppressions_without_a_reason(&report);
    assert!(
        unexplained.is_empty(),
        "suppressed without a reason: {unexplained:?}"
    );

    let original = std::fs::read_to_string(template).expect("the template is readable");
    if report.skipped.is_empty() {
        return;
    }
    let reasonless: String = original
        .lines()
        .map(|line| match line.find("comment:") {
            Some(at) => format!("{}comment: \"\"", &line[..at]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let copy = tempfile::Builder::new()
        .prefix("seed-reasonless-")
        .suffix(".yaml")
        .tempfile()
        .expect("a temporary file");
    std::fs::write(copy.path(), reasonless).expect("write the copy");
    let caught = suppressions_without_a_reason(&checkov(copy.path()));
    assert_eq!(
        caught.len(),
        report.skipped.len(),
        "a copy without reasons was not caught: {caught:?}"
    );
}

/// A template's text with all white space folded to single spaces, for
/// checks of its structure (the linters have checked that it is valid).
pub fn compact(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// In `compact` text, the stretch from `start` to the next resource (the
/// next `Type: `); fails the test if `start` is not there.
pub fn block<'a>(compact: &'a str, start: &str) -> &'a str {
    let at = compact
        .find(start)
        .unwrap_or_else(|| panic!("the template has no {start:?}"));
    let rest = &compact[at + start.len()..];
    &rest[..rest.find("Type: ").unwrap_or(rest.len())]
}

/// Asserts that `compact` has an alarm on `namespace`'s `metric` which
/// notifies the optional SNS topic, and that the topic subscribes the
/// optional address.
pub fn assert_alarm_notifies(compact: &str, namespace: &str, metric: &str) {
    let alarm = block(
        compact,
        &format!("Namespace: {namespace} MetricName: {metric} "),
    );
    assert!(
        alarm.contains("AlarmActions: !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]"),
        "the alarm on {namespace} {metric} does not notify: {alarm}"
    );
    assert!(compact.contains("HasAlarmEmail: !Not [!Equals [!Ref AlarmEmail, \"\"]]"));
    assert!(compact.contains("Protocol: email Endpoint: !Ref AlarmEmail"));
}
