//! The function's settings. A Lambda function has no command line, so they
//! come from the environment only, with the same `SEED_*` names, defaults
//! and parsers as the server's flags ([`shared::settings`]); `template.yaml`
//! sets them. The SDK's configuration comes from the variables Lambda sets.

use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::settings::{self, InvalidSetting, StoreKind};
use shared::{StoreError, WriteToken};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table when the store is DynamoDB, from `SEED_STORE`
    /// (`dynamodb`, or `memory`: one seed per Lambda instance, lost when the
    /// instance goes away; unset, `dynamodb` when a table is named) and
    /// `SEED_TABLE`, which `dynamodb` needs. `None`: the in-memory store.
    pub dynamodb_table: Option<String>,
    /// `SEED_STORE_TIMEOUT`: bound on one store call (default `2s`).
    pub store_timeout: Duration,
    /// `SEED_WRITE_TOKEN`: when set, POST needs `Authorization: Bearer
    /// <token>`.
    pub write_token: Option<WriteToken>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{variable} is not usable: {source}")]
    Invalid {
        variable: &'static str,
        source: InvalidSetting,
    },
    #[error("SEED_STORE=dynamodb needs SEED_TABLE, the table that holds the seed")]
    TableMissing,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        fn read<T>(
            lookup: &impl Fn(&str) -> Option<String>,
            variable: &'static str,
            parse: fn(&str) -> Result<T, InvalidSetting>,
        ) -> Result<Option<T>, SettingsError> {
            settings::non_empty(lookup(variable))
                .map(|value| parse(&value))
                .transpose()
                .map_err(|source| SettingsError::Invalid { variable, source })
        }
        let table = read(&lookup, settings::table::VARIABLE, settings::table::parse)?;
        let store = read(&lookup, settings::store::VARIABLE, settings::store::parse)?
            .unwrap_or_else(|| settings::store::default_for(table.as_deref()));
        let dynamodb_table = match (store, table) {
            (StoreKind::Memory, _) => None,
            (StoreKind::Dynamodb, Some(table)) => Some(table),
            (StoreKind::Dynamodb, None) => return Err(SettingsError::TableMissing),
        };
        let store_timeout = read(
            &lookup,
            settings::store_timeout::VARIABLE,
            settings::store_timeout::parse,
        )?
        .unwrap_or(settings::store_timeout::DEFAULT);
        let write_token = read(
            &lookup,
            settings::write_token::VARIABLE,
            settings::write_token::parse,
        )?;
        Ok(Settings {
            dynamodb_table,
            store_timeout,
            write_token,
        })
    }
}

/// The SDK's configuration from the variables Lambda sets for every function:
/// `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (plus
/// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`, if set). This is what
/// the SDK's full chain finds first on Lambda anyway; reading it directly
/// keeps the chain's other providers (and an STS client) out of the
/// bootstrap, which is 0.5 MB smaller for it.
pub fn sdk_config(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::config::Builder, StoreError> {
    let variable = |name: &str| settings::non_empty(lookup(name));
    let region = variable("AWS_REGION")
        .or_else(|| variable("AWS_DEFAULT_REGION"))
        .ok_or_else(|| {
            StoreError::Misconfigured(
                "no AWS region is configured; set AWS_REGION (Lambda sets it)".to_string(),
            )
        })?;
    let (Some(key), Some(secret)) = (
        variable("AWS_ACCESS_KEY_ID"),
        variable("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return Err(StoreError::Misconfigured(
            "no AWS credentials in the environment; set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (Lambda sets them from the function's role)"
                .to_string(),
        ));
    };
    let credentials = Credentials::new(
        key,
        secret,
        variable("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .http_client(shared::store::dynamodb::https_client());
    if let Some(endpoint) =
        variable("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| variable("AWS_ENDPOINT_URL"))
    {
        config = config.endpoint_url(endpoint);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn defaults_to_memory_and_two_seconds() {
        let defaults = Settings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(defaults.dynamodb_table, None);
        assert_eq!(defaults.store_timeout, Duration::from_secs(2));
        assert!(defaults.write_token.is_none());
    }

    #[test]
    fn dynamodb_needs_a_table() {
        let pairs = [("SEED_STORE", "dynamodb")];
        assert!(matches!(
            Settings::from_lookup(lookup(&pairs)),
            Err(SettingsError::TableMissing)
        ));
        let pairs = [("SEED_STORE", "dynamodb"), ("SEED_TABLE", "seeds")];
        let read = Settings::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(read.dynamodb_table.as_deref(), Some("seeds"));
        // A table alone implies DynamoDB, as it always did here.
        let implied = Settings::from_lookup(lookup(&[("SEED_TABLE", "seeds")])).unwrap();
        assert_eq!(implied.dynamodb_table.as_deref(), Some("seeds"));
        let chosen = [("SEED_STORE", "memory"), ("SEED_TABLE", "seeds")];
        assert_eq!(
            Settings::from_lookup(lookup(&chosen))
                .unwrap()
                .dynamodb_table,
            None
        );
    }

    #[test]
    fn the_sdk_configuration_comes_from_what_lambda_sets() {
        let complete = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1"),
        ];
        let config = sdk_config(lookup(&complete)).unwrap();
        let store = shared::DynamoDbStore::new(config, "seed", Duration::from_secs(1));
        assert_eq!(
            store.requests_sent(),
            0,
            "building the store sent a request"
        );
        // The endpoint variable is honoured: the call goes to the closed
        // port, not to DynamoDB in eu-west-1.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime.block_on(store.check()).unwrap_err();
        assert!(
            error.to_string().to_lowercase().contains("refused"),
            "not the endpoint from AWS_ENDPOINT_URL_DYNAMODB: {error}"
        );
        let no_region = &complete[1..];
        let error = sdk_config(lookup(no_region)).unwrap_err();
        assert!(error.to_string().contains("AWS_REGION"), "{error}");
        let no_credentials = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "")];
        let error = sdk_config(lookup(&no_credentials)).unwrap_err();
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
    }
}
