//! The settings the function shares with the server are accepted and
//! refused as the contract lists (`contract::settings`); the server's tests
//! run the same list against its binary.

use lambda::configuration::Settings;

use crate::support::lookup;

#[test]
fn shared_settings_mean_what_they_mean_on_the_server() {
    contract::settings::assert_targets_agree("the Lambda function", |environment| {
        Settings::from_lookup(lookup(environment)).is_ok()
    });
}

/// docs/configuration.md's table of the function's settings lists every
/// `SEED_*` variable the function reads, and every variable it lists that
/// the settings read is read; the store timeout's default is the code's.
#[test]
fn the_documented_settings_are_the_ones_the_function_reads() {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use harness::docs::{code_spans, table};

    let read = RefCell::new(BTreeSet::new());
    // Every SEED_* variable unset; the AWS ones that Lambda always sets, set,
    // so that the endpoints after them are read too.
    let _ = Settings::from_lookup(|name| {
        read.borrow_mut().insert(name.to_string());
        match name {
            _ if name.starts_with("AWS_ENDPOINT_URL") => Some("http://127.0.0.1:1".to_string()),
            _ if name.starts_with("AWS_") => Some("test".to_string()),
            _ => None,
        }
    });
    let read = read.into_inner();
    let mut documented = BTreeSet::new();
    let mut wrong = Vec::new();
    for row in table("configuration.md", "## The Lambda function") {
        let [variables, default, _meaning] = &row[..] else {
            panic!("a row of three cells: {row:?}");
        };
        for variable in code_spans(variables) {
            documented.insert(variable.to_string());
            if variable == "SEED_STORE_TIMEOUT"
                && default != &format!("`{:?}`", shared::settings::DEFAULT_STORE_TIMEOUT)
            {
                wrong.push(format!("{variable}: documented default {default}"));
            }
        }
    }
    for variable in read.iter().filter(|name| name.starts_with("SEED_")) {
        if !documented.contains(variable) {
            wrong.push(format!("{variable}: read, not documented"));
        }
    }
    for variable in documented
        .iter()
        .filter(|name| name.starts_with("SEED_") || name.starts_with("AWS_ENDPOINT"))
    {
        if !read.contains(variable) {
            wrong.push(format!("{variable}: documented, never read"));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md and the function disagree:\n{}",
        wrong.join("\n")
    );
}
