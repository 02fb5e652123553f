//! What every target must accept and refuse for the settings they share
//! (`shared::settings`): one list, run by each target's tests against its
//! own way of reading its environment (clap's environment fallbacks on the
//! server, the variables alone on Lambda), so that a value can never mean
//! one thing here and another there.

/// One environment and whether a target must start with it. An empty
/// variable is an unset one; any other value must be valid.
#[derive(Debug, Clone, Copy)]
pub struct SettingCase {
    /// The `SEED_*` variables set; every other one is unset.
    pub environment: &'static [(&'static str, &'static str)],
    pub accepted: bool,
}

const fn accepted(environment: &'static [(&'static str, &'static str)]) -> SettingCase {
    SettingCase {
        environment,
        accepted: true,
    }
}

const fn refused(environment: &'static [(&'static str, &'static str)]) -> SettingCase {
    SettingCase {
        environment,
        accepted: false,
    }
}

pub const CASES: &[SettingCase] = &[
    accepted(&[]),
    // SEED_STORE
    accepted(&[("SEED_STORE", "memory")]),
    accepted(&[("SEED_STORE", "dynamodb"), ("SEED_TABLE", "seeds")]),
    refused(&[("SEED_STORE", "dynamodb")]),
    accepted(&[("SEED_STORE", "")]),
    refused(&[("SEED_STORE", "Memory")]),
    refused(&[("SEED_STORE", "redis")]),
    // SEED_TABLE
    accepted(&[("SEED_TABLE", "seed-table_1.x")]),
    accepted(&[("SEED_TABLE", "")]),
    refused(&[("SEED_STORE", "dynamodb"), ("SEED_TABLE", "")]),
    refused(&[("SEED_TABLE", "ab")]),
    refused(&[("SEED_STORE", "dynamodb"), ("SEED_TABLE", "two words")]),
    // SEED_STORE_TIMEOUT
    accepted(&[("SEED_STORE_TIMEOUT", "750ms")]),
    accepted(&[("SEED_STORE_TIMEOUT", "2m")]),
    accepted(&[("SEED_STORE_TIMEOUT", "")]),
    refused(&[("SEED_STORE_TIMEOUT", "0s")]),
    refused(&[("SEED_STORE_TIMEOUT", "2")]),
    refused(&[("SEED_STORE_TIMEOUT", "soon")]),
    // SEED_WRITE_TOKEN
    accepted(&[("SEED_WRITE_TOKEN", "t0ken")]),
    accepted(&[("SEED_WRITE_TOKEN", "t0ken\n")]),
    accepted(&[("SEED_WRITE_TOKEN", "")]),
    refused(&[("SEED_WRITE_TOKEN", "\n")]),
    refused(&[("SEED_WRITE_TOKEN", "two words")]),
];

/// Runs every case through `starts` (whether the target starts with that
/// environment) and fails with every disagreement at once.
pub fn assert_targets_agree(target: &str, starts: impl Fn(&[(&str, &str)]) -> bool) {
    let disagreements: Vec<String> = CASES
        .iter()
        .filter(|case| starts(case.environment) != case.accepted)
        .map(|case| {
            format!(
                "{:?} should be {}",
                case.environment,
                if case.accepted { "accepted" } else { "refused" }
            )
        })
        .collect();
    assert!(
        disagreements.is_empty(),
        "{target} reads shared settings differently:\n{}",
        disagreements.join("\n")
    );
}
