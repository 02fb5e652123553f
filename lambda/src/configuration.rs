//! The function's settings. A Lambda function has no command line, so they
//! come from the environment only, with the same `SEED_*` names as the
//! server's flags; `template.yaml` sets them.

use std::time::Duration;

use shared::store::dynamodb::DEFAULT_CALL_TIMEOUT;
use shared::WriteToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SEED_TABLE`: the DynamoDB table. Unset: the in-memory store, one seed
    /// per Lambda instance, lost when the instance goes away.
    pub table: Option<String>,
    /// `SEED_STORE_TIMEOUT`: bound on one store call (default `2s`).
    pub store_timeout: Duration,
    /// `SEED_WRITE_TOKEN`: when set and not empty, POST needs
    /// `Authorization: Bearer <token>`.
    pub write_token: Option<WriteToken>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("SEED_WRITE_TOKEN is not usable: {0}")]
    WriteToken(#[from] shared::write_token::InvalidWriteToken),
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
        let write_token = lookup("SEED_WRITE_TOKEN")
            .filter(|token| !token.is_empty())
            .map(|token| WriteToken::new(&token))
            .transpose()?;
        Ok(Settings {
            table,
            store_timeout,
            write_token,
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
    fn an_empty_write_token_means_no_protection() {
        assert_eq!(
            settings(&[("SEED_WRITE_TOKEN", "")]).unwrap().write_token,
            None
        );
        let protected = settings(&[("SEED_WRITE_TOKEN", "t0ken")]).unwrap();
        assert_eq!(
            protected.write_token,
            Some(WriteToken::new("t0ken").unwrap())
        );
        assert!(settings(&[("SEED_WRITE_TOKEN", "two words")]).is_err());
    }

    #[test]
    fn refuses_a_bad_timeout() {
        assert!(settings(&[("SEED_STORE_TIMEOUT", "soon")]).is_err());
        assert!(settings(&[("SEED_STORE_TIMEOUT", "0s")]).is_err());
    }
}
