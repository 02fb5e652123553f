//! CloudFormation templates under cfn-lint: a template must pass, and broken
//! copies of it must fail, so that the check is known to bite.

use std::path::Path;
use std::process::Command;

/// cfn-lint's verdict on a template, and what it printed.
pub fn cfn_lint(path: &Path) -> (bool, String) {
    let output = Command::new("cfn-lint")
        .arg(path)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run cfn-lint ({error}): run ./scripts/test, or `pip install cfn-lint`")
        });
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Asserts that `template` passes cfn-lint and that each copy broken by
/// replacing `from` with `to` (named `what`) fails it.
pub fn assert_lint_passes_and_breakages_fail(template: &Path, breakages: &[(&str, &str, &str)]) {
    let (passed, output) = cfn_lint(template);
    assert!(passed, "cfn-lint {} failed:\n{output}", template.display());
    let original = std::fs::read_to_string(template).expect("the template is readable");
    for (what, from, to) in breakages {
        assert!(
            original.contains(from),
            "the template no longer has {from:?}"
        );
        let broken = std::env::temp_dir().join(format!(
            "seed-broken-{}-{}.yaml",
            std::process::id(),
            crate::free_port()
        ));
        std::fs::write(&broken, original.replacen(from, to, 1)).expect("write the broken copy");
        let (passed, output) = cfn_lint(&broken);
        let _ = std::fs::remove_file(&broken);
        assert!(
            !passed,
            "cfn-lint accepted a template with {what}:\n{output}"
        );
    }
}
