//! The function's settings: the server's `SEED_*` variables and parsers
//! ([`shared::settings`]), from the environment only, and the AWS variables.

use std::ffi::OsString;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use clap::Parser;
use shared::settings::{self, non_empty, SettingsError, SharedSettings, TokenSource};

/// The shared settings, and where else the write token may come from.
#[derive(Debug, Clone, Parser)]
#[command(name = "seed-lambda")]
pub struct Settings {
    #[command(flatten)]
    pub shared: SharedSettings,

    /// The SSM Parameter Store SecureString that holds the write token, read
    /// once per instance at init.
    #[arg(long, env = "SEED_WRITE_TOKEN_PARAMETER", value_parser = parse_parameter_name)]
    write_token_parameter: Option<String>,

    /// Region, credentials and endpoints, or why they are missing.
    #[arg(skip = Err(MissingAwsSetting(String::new())))]
    aws: Result<AwsEnvironment, MissingAwsSetting>,
}

impl AsMut<SharedSettings> for Settings {
    fn as_mut(&mut self) -> &mut SharedSettings {
        &mut self.shared
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut settings: Settings = settings::read(vec![OsString::from("seed-lambda")], &lookup)?;
        settings.aws = AwsEnvironment::from_lookup(&lookup);
        Ok(settings)
    }

    /// Where the write token comes from, if anywhere.
    pub fn write_token(&self) -> Result<Option<TokenSource<String>>, SettingsError> {
        self.shared.write_token(
            self.write_token_parameter.clone(),
            "SEED_WRITE_TOKEN_PARAMETER",
        )
    }

    /// The AWS settings, for what needs them; why not, if they are missing.
    pub fn aws(&self) -> Result<&AwsEnvironment, MissingAwsSetting> {
        self.aws.as_ref().map_err(Clone::clone)
    }
}

/// A parameter's name or ARN as Parameter Store allows it, so that a typo is
/// named at start-up.
fn parse_parameter_name(text: &str) -> Result<String, String> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"_.-/:".contains(&byte);
    if text.len() > 2048 || !text.bytes().all(allowed) {
        return Err(format!(
            "{text:?} is not a Parameter Store name (letters, digits and _.-/, \
             such as /seed/write-token) or ARN"
        ));
    }
    Ok(text.to_string())
}

/// A variable Lambda sets for every function was missing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MissingAwsSetting(String);

/// What the AWS calls need, from the variables Lambda sets (region, the
/// role's credentials) and the SDK's endpoint overrides: what the SDK's chain
/// finds first on Lambda, without its other providers in the bootstrap.
#[derive(Debug, Clone)]
pub struct AwsEnvironment {
    pub region: String,
    pub credentials: Credentials,
    dynamodb_endpoint: Option<String>,
    ssm_endpoint: Option<String>,
}

impl AwsEnvironment {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingAwsSetting> {
        let variable = |name: &str| non_empty(lookup(name));
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

    /// Parameter Store's endpoint, as errors name it.
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
    use shared::Store;
    use std::time::Duration;

    fn lookup<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn the_write_token_comes_from_its_value_or_its_parameter_not_both() {
        let source = |pairs: &[(&str, &str)]| Settings::from_lookup(lookup(pairs))?.write_token();
        assert!(matches!(
            source(&[("SEED_WRITE_TOKEN", "t0ken")]),
            Ok(Some(TokenSource::Variable(_)))
        ));
        for name in [
            "/seed/write-token",
            "seed.token_1",
            "arn:aws:ssm:eu-west-1:1:parameter/a",
        ] {
            let read = source(&[("SEED_WRITE_TOKEN_PARAMETER", name)]);
            assert!(
                matches!(&read, Ok(Some(TokenSource::Reference(read))) if read == name),
                "{name}"
            );
        }
        let both = [
            ("SEED_WRITE_TOKEN", "t0ken"),
            ("SEED_WRITE_TOKEN_PARAMETER", "/seed/write-token"),
        ];
        assert!(matches!(
            source(&both),
            Err(SettingsError::AmbiguousWriteToken(_))
        ));
        for name in ["/seed/write token", "/seed/tök", "$(id)"] {
            let error = source(&[("SEED_WRITE_TOKEN_PARAMETER", name)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("SEED_WRITE_TOKEN_PARAMETER"), "{error}");
        }
        let empty = source(&[("SEED_WRITE_TOKEN_PARAMETER", "")]);
        assert!(
            matches!(empty, Ok(None)),
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
        let error = runtime.block_on(store.get()).unwrap_err();
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
