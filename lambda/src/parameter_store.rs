//! The write token from SSM Parameter Store: one `GetParameter` per instance
//! at init, with the SDK's standard retries, all within [`LIMIT`].

use std::time::Duration;

use aws_sdk_ssm::config::retry::RetryConfig;
use aws_sdk_ssm::config::timeout::TimeoutConfig;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::{Parameter, ParameterType};
use shared::{InvalidWriteToken, WriteToken};

use crate::configuration::AwsEnvironment;

/// Bound on the whole read, well inside Lambda's 10 s init phase.
pub const LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ParameterError {
    #[error("Parameter Store at {endpoint} could not be reached for {name}")]
    Unreachable {
        name: String,
        endpoint: String,
        #[source]
        source: Box<SdkError<GetParameterError>>,
    },
    #[error("Parameter Store at {endpoint} did not answer for {name} within {LIMIT:?}")]
    TimedOut { name: String, endpoint: String },
    #[error("Parameter Store refused to read {name}: HTTP {status}, {code}: {message}")]
    Refused {
        name: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "{name} is a {kind} parameter; the write token must be a SecureString, \
         whose value only those allowed to decrypt it can read"
    )]
    NotSecure { name: String, kind: String },
    #[error("Parameter Store's answer for {name} has no value")]
    NoValue { name: String },
    #[error("the write token in {name} is not usable")]
    Invalid {
        name: String,
        #[source]
        source: InvalidWriteToken,
    },
}

/// Reads the SecureString `name`, decrypted, as the write token.
pub async fn write_token(aws: &AwsEnvironment, name: &str) -> Result<WriteToken, ParameterError> {
    let config = aws
        .ssm()
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().operation_timeout(LIMIT).build())
        .build();
    let answer = aws_sdk_ssm::Client::from_conf(config)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|error| failure(name, aws.ssm_endpoint(), error))?;
    token_from(name, answer.parameter)
}

/// What a failed call says: the refusal, or why no answer came.
fn failure(name: &str, endpoint: String, error: SdkError<GetParameterError>) -> ParameterError {
    let name = name.to_string();
    match error {
        SdkError::TimeoutError(_) => ParameterError::TimedOut { name, endpoint },
        SdkError::ServiceError(refusal) => {
            let status = refusal.raw().status().as_u16();
            let error = refusal.into_err();
            // The service's (or a proxy's) text: the log line stays short.
            let message: String = error.message().unwrap_or("").chars().take(300).collect();
            ParameterError::Refused {
                name,
                status,
                code: error.code().unwrap_or("(no error code)").to_string(),
                message,
            }
        }
        SdkError::ResponseError(answer) => {
            let body = answer.raw().body().bytes().unwrap_or_default();
            ParameterError::Refused {
                name,
                status: answer.raw().status().as_u16(),
                code: "(the answer is not Parameter Store's JSON)".to_string(),
                message: String::from_utf8_lossy(body).chars().take(300).collect(),
            }
        }
        source => ParameterError::Unreachable {
            name,
            endpoint,
            source: Box::new(source),
        },
    }
}

/// The token in `parameter`, which must be a SecureString.
fn token_from(name: &str, parameter: Option<Parameter>) -> Result<WriteToken, ParameterError> {
    let name = name.to_string();
    let parameter = parameter.unwrap_or_else(|| Parameter::builder().build());
    if parameter.r#type() != Some(&ParameterType::SecureString) {
        let kind = parameter
            .r#type()
            .map_or("(untyped)", ParameterType::as_str);
        let kind = kind.to_string();
        return Err(ParameterError::NotSecure { name, kind });
    }
    let Some(value) = parameter.value() else {
        return Err(ParameterError::NoValue { name });
    };
    WriteToken::new(value).map_err(|source| ParameterError::Invalid { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(kind: Option<ParameterType>, value: Option<&str>) -> Option<Parameter> {
        let builder = Parameter::builder().set_type(kind);
        Some(builder.set_value(value.map(str::to_string)).build())
    }

    #[test]
    fn a_secure_string_is_the_token() {
        let answer = parameter(Some(ParameterType::SecureString), Some("t0ken\n"));
        let token = token_from("/seed/write-token", answer).unwrap();
        assert!(token.authorizes(Some(b"Bearer t0ken")));
    }

    #[test]
    fn each_other_answer_is_an_error_naming_the_parameter() {
        for (answer, expected) in [
            (
                parameter(Some(ParameterType::String), Some("t")),
                "is a String parameter",
            ),
            (parameter(None, Some("t")), "is a (untyped) parameter"),
            (None, "is a (untyped) parameter"),
            (
                parameter(Some(ParameterType::SecureString), None),
                "has no value",
            ),
            (
                parameter(Some(ParameterType::SecureString), Some("")),
                "not usable",
            ),
        ] {
            let error = token_from("/seed/write-token", answer)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
            assert!(error.contains("/seed/write-token"), "{error}");
        }
    }
}
