//! `template.yaml` passes cfn-lint, a broken copy does not (so the check
//! bites), and the template creates the table schema and grants exactly the
//! permissions the code uses.

use std::path::{Path, PathBuf};

use contract_tests::templates::{assert_lint_passes_and_breakages_fail, Linter};
use shared::store::dynamodb::KEY_ATTRIBUTE;

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("lambda/ sits in the workspace root")
        .join("template.yaml")
}

fn template() -> String {
    std::fs::read_to_string(template_path()).expect("template.yaml is readable")
}

const BREAKAGES: &[(&str, &str, &str)] = &[
    (
        "a misspelled property",
        "PointInTimeRecoveryEnabled: true",
        "PointInTimeRecoveryEnable: true",
    ),
    (
        "an unknown resource type",
        "Type: AWS::DynamoDB::Table",
        "Type: AWS::DynamoDB::Tabel",
    ),
    (
        "a reference to nothing",
        "!GetAtt SeedTable.Arn",
        "!GetAtt SeedTabel.Arn",
    ),
];

#[test]
fn the_template_passes_cfn_lint_and_broken_copies_fail() {
    assert_lint_passes_and_breakages_fail(Linter::CfnLint, &template_path(), BREAKAGES);
}

#[test]
fn the_template_passes_sam_validate_lint_and_broken_copies_fail() {
    assert_lint_passes_and_breakages_fail(Linter::SamValidate, &template_path(), BREAKAGES);
}

#[test]
fn the_table_has_the_schema_the_store_uses() {
    let template = template();
    let compact: String = template.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        compact.contains(&format!(
            "AttributeDefinitions: - AttributeName: {KEY_ATTRIBUTE} AttributeType: S"
        )),
        "partition key must be {KEY_ATTRIBUTE}, a string"
    );
    assert!(compact.contains(&format!(
        "KeySchema: - AttributeName: {KEY_ATTRIBUTE} KeyType: HASH"
    )));
    assert!(compact.contains("BillingMode: PAY_PER_REQUEST"));
    assert!(compact.contains("PointInTimeRecoveryEnabled: true"));
    assert!(compact.contains("SEED_TABLE: !Ref SeedTable"));
}

#[test]
fn the_function_may_only_get_and_put_items_on_its_table() {
    let template = template();
    let actions: Vec<&str> = template
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- dynamodb:"))
        .collect();
    assert_eq!(actions, ["GetItem", "PutItem"]);
    assert!(template.contains("Resource: !GetAtt SeedTable.Arn"));
    assert!(!template.contains("dynamodb:*"));
}

#[test]
fn the_function_is_the_cargo_lambda_bootstrap_on_al2023_arm64_by_default() {
    let compact: String = template().split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "BuildMethod: rust-cargolambda",
        "Binary: seed-lambda",
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "Architecture: Type: String Default: arm64",
    ] {
        assert!(compact.contains(expected), "template lacks {expected:?}");
    }
}
