//! The function's settings. A Lambda function has no command line, so they
//! come from the environment only, with the same `SEED_*` names, defaults
//! and parsers as the server's flags ([`shared::settings`]); `template.yaml`
//! sets them. The AWS settings come from the variables Lambda sets.

use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::settings::{self, InvalidSetting, StoreKind};
use shared::WriteToken;

/// `SEED_WRITE_TOKEN_PARAMETER`: the SSM Parameter Store SecureString that
/// holds the write token. The function's own setting: the server gets its
/// token from a file its boot script writes from the same parameter.
pub const WRITE_TOKEN_PARAMETER: &str = "SEED_WRITE_TOKEN_PARAMETER";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table when the store is DynamoDB, from `SEED_STORE`
    /// (`dynamodb`, or `memory`: one seed per Lambda instance, lost when the
    /// instance goes away; unset, `dynamodb` when a table is named) and
    /// `SEED_TABLE`, which `dynamodb` needs. `None`: the in-memory store.
    pub dynamodb_table: Option<String>,
    /// `SEED_STORE_TIMEOUT`: bound on one store call (default `2s`).
    pub store_timeout: Duration,
    /// When set, POST needs `Authorization: Bearer <token>`.
    pub write_token: Option<WriteTokenSetting>,
    /// Region, credentials and endpoints, or why they are missing; only the
    /// DynamoDB store and the token's parameter need them ([`Settings::aws`]).
    aws: Result<AwsEnvironment, MissingAwsSetting>,
}

/// Where the write token comes from.
#[derive(Debug, Clone)]
pub enum WriteTokenSetting {
    /// `SEED_WRITE_TOKEN`, the token itself: for local runs, since a
    /// deployed function's variables are shown in the Lambda console.
    Value(WriteToken),
    /// `SEED_WRITE_TOKEN_PARAMETER`, the name of a SecureString holding it,
    /// read once per instance at init.
    Parameter(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{variable} is not usable")]
    Invalid {
        variable: &'static str,
        source: InvalidSetting,
    },
    #[error("SEED_STORE=dynamodb needs SEED_TABLE, the table that holds the seed")]
    TableMissing,
    #[error("both SEED_WRITE_TOKEN and SEED_WRITE_TOKEN_PARAMETER are set; keep one")]
    AmbiguousWriteToken,
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
        let token = read(
            &lookup,
            settings::write_token::VARIABLE,
            settings::write_token::parse,
        )?;
        let parameter = read(&lookup, WRITE_TOKEN_PARAMETER, parse_parameter_name)?;
        let write_token = match (token, parameter) {
            (Some(_), Some(_)) => return Err(SettingsError::AmbiguousWriteToken),
            (Some(token), None) => Some(WriteTokenSetting::Value(token)),
            (None, Some(name)) => Some(WriteTokenSetting::Parameter(name)),
            (None, None) => None,
        };
        Ok(Settings {
            dynamodb_table,
            store_timeout,
            write_token,
            aws: AwsEnvironment::from_lookup(&lookup),
        })
    }

    /// The AWS settings, for what needs them; why not, if they are missing.
    pub fn aws(&self) -> Result<&AwsEnvironment, MissingAwsSetting> {
        self.aws.as_ref().map_err(Clone::clone)
    }
}

/// A parameter's name as Parameter Store allows it (letters, digits and
/// `_.-/`), or its ARN; refused here so that a typo is named at start-up
/// rather than answered by SSM as a validation error.
fn parse_parameter_name(text: &str) -> Result<String, InvalidSetting> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"_.-/:".contains(&byte);
    if text.len() > 2048 || !text.bytes().all(allowed) {
        return Err(InvalidSetting::new(format!(
            "{text:?} is not a Parameter Store name (letters, digits and _.-/, \
             such as /seed/write-token) or ARN"
        )));
    }
    Ok(text.to_string())
}

/// A variable Lambda sets for every function was missing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MissingAwsSetting(String);

/// What the AWS calls need, from the variables Lambda sets for every
/// function: `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, plus the SDK's endpoint
/// overrides (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SSM`,
/// `AWS_ENDPOINT_URL`) if set. This is what the SDK's full chain finds
/// first on Lambda anyway; reading it directly keeps the chain's other
/// providers (and an STS client) out of the bootstrap.
#[derive(Debug, Clone)]
pub struct AwsEnvironment {
    pub region: String,
    pub credentials: Credentials,
    dynamodb_endpoint: Option<String>,
    ssm_endpoint: Option<String>,
}

impl AwsEnvironment {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingAwsSetting> {
        let variable = |name: &str| settings::non_empty(lookup(name));
        let region = variable("AWS_REGION")
            .or_else(|| variable("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                MissingAwsSetting(
                    "no AWS region is configured; set AWS_REGION (Lambda sets it)".to_string(),
                )
            })?;
        let (Some(key), Some(secret)) = (
            variable("AWS_ACCESS_KEY_ID"),
            variable("AWS_SECRET_ACCESS_KEY"),
        ) else {
            return Err(MissingAwsSetting(
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
        let endpoint = |service: &str| {
            variable(&format!("AWS_ENDPOINT_URL_{service}"))
                .or_else(|| variable("AWS_ENDPOINT_URL"))
        };
        Ok(AwsEnvironment {
            region,
            credentials,
            dynamodb_endpoint: endpoint("DYNAMODB"),
            ssm_endpoint: endpoint("SSM"),
        })
    }

    /// The DynamoDB client's configuration.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::config::Builder {
        let config = aws_sdk_dynamodb::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(self.credentials.clone())
            .http_client(shared::store::dynamodb::https_client());
        match &self.dynamodb_endpoint {
            Some(endpoint) => config.endpoint_url(endpoint),
            None => config,
        }
    }

    /// The Parameter Store client's configuration.
    pub fn ssm(&self) -> aws_sdk_ssm::config::Builder {
        let config = aws_sdk_ssm::config::Builder::new()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new(self.region.clone()))
            .credentials_provider(self.credentials.clone())
            .http_client(shared::store::dynamodb::https_client());
        match &self.ssm_endpoint {
            Some(endpoint) => config.endpoint_url(endpoint),
            None => config,
        }
    }

    /// Parameter Store's endpoint, as errors name it: the override, or the region's own
    /// (`amazonaws.com.cn` in the China regions).
    pub fn ssm_endpoint(&self) -> String {
        match &self.ssm_endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
            None if self.region.starts_with("cn-") => {
                format!("https://ssm.{}.amazonaws.com.cn", self.region)
            }
            None => format!("https://ssm.{}.amazonaws.com", self.region),
        }
    }
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
        // A table alone implies DynamoDB.
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
    fn the_write_token_comes_from_its_value_or_its_parameter_not_both() {
        let value = Settings::from_lookup(lookup(&[("SEED_WRITE_TOKEN", "t0ken")])).unwrap();
        assert!(matches!(
            value.write_token,
            Some(WriteTokenSetting::Value(_))
        ));
        for name in [
            "/seed/write-token",
            "seed.token_1",
            "arn:aws:ssm:eu-west-1:1:parameter/a",
        ] {
            let read =
                Settings::from_lookup(lookup(&[("SEED_WRITE_TOKEN_PARAMETER", name)])).unwrap();
            assert!(
                matches!(&read.write_token, Some(WriteTokenSetting::Parameter(read)) if read == name),
                "{name}"
            );
        }
        let both = [
            ("SEED_WRITE_TOKEN", "t0ken"),
            ("SEED_WRITE_TOKEN_PARAMETER", "/seed/write-token"),
        ];
        assert!(matches!(
            Settings::from_lookup(lookup(&both)),
            Err(SettingsError::AmbiguousWriteToken)
        ));
        for name in ["/seed/write token", "/seed/tök", "$(id)"] {
            let error = Settings::from_lookup(lookup(&[("SEED_WRITE_TOKEN_PARAMETER", name)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains("SEED_WRITE_TOKEN_PARAMETER"), "{error}");
        }
        let empty = Settings::from_lookup(lookup(&[("SEED_WRITE_TOKEN_PARAMETER", "")])).unwrap();
        assert!(
            empty.write_token.is_none(),
            "an empty variable is an unset one"
        );
    }

    #[test]
    fn the_ssm_endpoint_is_the_regions_unless_overridden() {
        let base = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let endpoint = |extra: &[(&'static str, &'static str)]| {
            let pairs: Vec<_> = extra.iter().chain(&base).copied().collect();
            AwsEnvironment::from_lookup(lookup(&pairs))
                .unwrap()
                .ssm_endpoint()
        };
        assert_eq!(
            endpoint(&[("AWS_REGION", "eu-west-1")]),
            "https://ssm.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(&[("AWS_REGION", "cn-north-1")]),
            "https://ssm.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9/")
            ]),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:8"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ]),
            "http://127.0.0.1:8"
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
        let aws = AwsEnvironment::from_lookup(lookup(&complete)).unwrap();
        let store = shared::DynamoDbStore::new(aws.dynamodb(), "seed", Duration::from_secs(1));
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
            shared::error::Chain(&error)
                .to_string()
                .to_lowercase()
                .contains("refused"),
            "not the endpoint from AWS_ENDPOINT_URL_DYNAMODB: {error}"
        );
        let no_region = &complete[1..];
        let error = AwsEnvironment::from_lookup(lookup(no_region)).unwrap_err();
        assert!(error.to_string().contains("AWS_REGION"), "{error}");
        let no_credentials = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "")];
        let error = AwsEnvironment::from_lookup(lookup(&no_credentials)).unwrap_err();
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
    }
}
