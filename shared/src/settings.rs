//! The settings every target reads, each with one variable name, one default
//! and one parser, so that a value means the same thing on the EC2 server
//! (flags with these variables as fallbacks, through clap) and on Lambda (the
//! variables alone).
//!
//! On both, an empty variable is the same as an unset one ([`non_empty`]):
//! deployment tools set to empty what they cannot leave out (a template
//! parameter's empty default, `sam local` for `AWS::NoValue`, systemd's
//! `Environment=NAME=`). Any other value must be valid, or start-up stops
//! with a message naming the variable.
//!
//! Target-only settings (the server's listen address, its timeouts) live in
//! that target's configuration module, parsed with [`parse_duration`] and
//! [`parse_delay`] from here.

use std::fmt;
use std::time::Duration;

use crate::write_token::WriteToken;

/// Why a setting's value was refused; the targets add the setting's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(String);

impl InvalidSetting {
    /// For a target's own settings, refused with the same kind of message.
    pub fn new(reason: impl Into<String>) -> Self {
        InvalidSetting(reason.into())
    }
}

/// `SEED_STORE`: where the seed lives.
pub mod store {
    pub const VARIABLE: &str = "SEED_STORE";

    /// Unset, the store follows the table: `dynamodb` when one is named,
    /// else `memory`. So naming a table is enough, and nothing that names
    /// one falls back to a seed per process.
    pub fn default_for(table: Option<&str>) -> super::StoreKind {
        match table {
            Some(_) => super::StoreKind::Dynamodb,
            None => super::StoreKind::Memory,
        }
    }

    pub fn parse(text: &str) -> Result<super::StoreKind, super::InvalidSetting> {
        match text {
            "memory" => Ok(super::StoreKind::Memory),
            "dynamodb" => Ok(super::StoreKind::Dynamodb),
            other => Err(super::InvalidSetting(format!(
                "{other:?} is not a store; write memory or dynamodb"
            ))),
        }
    }
}

/// `SEED_TABLE`: the DynamoDB table, needed when the store is `dynamodb`.
pub mod table {
    pub const VARIABLE: &str = "SEED_TABLE";

    /// DynamoDB's naming rules: 3 to 255 of `a-z A-Z 0-9 _ - .`; checked
    /// here so that a typo stops start-up instead of failing every request.
    pub fn parse(text: &str) -> Result<String, super::InvalidSetting> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !(3..=255).contains(&text.len()) || !text.chars().all(allowed) {
            return Err(super::InvalidSetting(format!(
                "{text:?} is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, _, - and .)"
            )));
        }
        Ok(text.to_string())
    }
}

/// `SEED_STORE_TIMEOUT`: the bound on one store call, the SDK's retries
/// included; past it the client gets 503 with Retry-After.
pub mod store_timeout {
    use std::time::Duration;

    pub const VARIABLE: &str = "SEED_STORE_TIMEOUT";
    pub const DEFAULT: Duration = Duration::from_secs(2);
    /// [`DEFAULT`] as written in `--help` and the templates.
    pub const DEFAULT_TEXT: &str = "2s";

    pub fn parse(text: &str) -> Result<Duration, super::InvalidSetting> {
        super::parse_duration(text)
    }
}

/// `SEED_WRITE_TOKEN`: when set, POST needs `Authorization: Bearer <token>`.
/// Never a flag: command lines are visible to every user of the machine.
pub mod write_token {
    pub const VARIABLE: &str = "SEED_WRITE_TOKEN";

    pub fn parse(text: &str) -> Result<super::WriteToken, super::InvalidSetting> {
        super::WriteToken::new(text).map_err(|error| super::InvalidSetting(error.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// In this process only: lost on exit, not shared between instances.
    Memory,
    /// One item in a DynamoDB table: shared and durable.
    Dynamodb,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreKind::Memory => "memory",
            StoreKind::Dynamodb => "dynamodb",
        })
    }
}

/// A variable's value as the settings read it: `None` when unset or empty.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// A duration longer than zero, written as `500ms`, `10s` or `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidSetting> {
    let duration = parse_delay(text)?;
    if duration.is_zero() {
        return Err(InvalidSetting(format!(
            "{text:?} is zero; it must be longer than zero"
        )));
    }
    Ok(duration)
}

/// A duration that may be zero (no delay).
pub fn parse_delay(text: &str) -> Result<Duration, InvalidSetting> {
    humantime::parse_duration(text).map_err(|error| {
        InvalidSetting(format!(
            "{text:?} is not a duration ({error}); write one such as 500ms, 10s or 2m"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_store_timeout_is_written_as_it_is() {
        assert_eq!(
            store_timeout::parse(store_timeout::DEFAULT_TEXT),
            Ok(store_timeout::DEFAULT)
        );
        for kind in [StoreKind::Memory, StoreKind::Dynamodb] {
            assert_eq!(store::parse(&kind.to_string()), Ok(kind));
        }
        assert_eq!(store::default_for(None), StoreKind::Memory);
        assert_eq!(store::default_for(Some("seeds")), StoreKind::Dynamodb);
    }

    #[test]
    fn durations_are_human_and_empty_is_refused() {
        assert_eq!(parse_duration("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_delay("0s"), Ok(Duration::ZERO));
        for bad in ["", "0s", "soon", "2", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_names_follow_dynamodb() {
        assert_eq!(
            table::parse("seed-table_1.x"),
            Ok("seed-table_1.x".to_string())
        );
        for bad in ["", "ab", "has space", "slash/", &"t".repeat(256)] {
            assert!(table::parse(bad).is_err(), "{bad:?}");
        }
    }
}
