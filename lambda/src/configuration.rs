//! The function's settings. A Lambda function has no command line, so they
//! come from the environment only, with the same `SEED_*` names as the
//! server's flags; `template.yaml` sets them.

use std::time::Duration;

use shared::store::dynamodb::DEFAULT_CALL_TIMEOUT;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SEED_TABLE`: the DynamoDB table. Unset: the in-memory store, one seed
    /// per Lambda instance, lost when the instance goes away.
    pub table: Option<String>,
    /// `SEED_STORE_TIMEOUT`: bound on one store call (default `2s`).
    pub store_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("SEED_STORE_TIMEOUT={value:?} is not a duration such as 500ms or 2s: {reason}")]
    StoreTimeout { value: String, reason: String },
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let table = lookup("SEED_TABLE").filter(|table| !table.trim().is_empty());
        let store_timeout = match lookup("SEED_STORE_TIMEOUT") {
            None => DEFAULT_CALL_TIMEOUT,
            Some(value) => match humantime::parse_duration(&value) {
                Ok(duration) if !duration.is_zero() => duration,
                Ok(_) => {
                    return Err(SettingsError::StoreTimeout {
                        value,
                        reason: "it must be longer than zero".to_string(),
                    })
                }
                Err(error) => {
                    return Err(SettingsError::StoreTimeout {
                        value,
                        reason: error.to_string(),
                    })
                }
            },
        };
        Ok(Settings {
            table,
            store_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn defaults_to_memory_and_two_seconds() {
        let defaults = settings(&[]).unwrap();
        assert_eq!(defaults.table, None);
        assert_eq!(defaults.store_timeout, Duration::from_secs(2));
        assert_eq!(settings(&[("SEED_TABLE", " ")]).unwrap().table, None);
    }

    #[test]
    fn reads_table_and_timeout() {
        let read = settings(&[("SEED_TABLE", "seeds"), ("SEED_STORE_TIMEOUT", "750ms")]).unwrap();
        assert_eq!(read.table.as_deref(), Some("seeds"));
        assert_eq!(read.store_timeout, Duration::from_millis(750));
    }

    #[test]
    fn refuses_a_bad_timeout() {
        assert!(settings(&[("SEED_STORE_TIMEOUT", "soon")]).is_err());
        assert!(settings(&[("SEED_STORE_TIMEOUT", "0s")]).is_err());
    }
}
