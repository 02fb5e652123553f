//! The write token from SSM Parameter Store: one signed `GetParameter` call
//! per instance, at init, sent again as the AWS SDKs would after an answer
//! that may pass (throttling, a 5xx, a lost connection). Written out here
//! rather than with `aws-sdk-ssm`, which made the bootstrap 1 MB larger (5.9
//! MB, past the 5 MB the function is held to; bench/README.md) for one call
//! whose request and answer are each a small JSON document. The signing is
//! the SDK's own (`aws-sigv4`), and so is the HTTPS connector.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use shared::{InvalidWriteToken, WriteToken};

use crate::configuration::AwsEnvironment;

/// Bound on the whole read, retries included, well inside Lambda's 10 s
/// init phase.
pub const LIMIT: Duration = Duration::from_secs(5);

/// The first retry waits up to this, each later one up to twice as long as
/// the one before, and none more than [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Parameter Store's error codes for a request refused because of the
/// account's request rate.
const THROTTLING_ERRORS: &[&str] = &["ThrottlingException", "TooManyUpdates"];

#[derive(Debug, thiserror::Error)]
pub enum ParameterError {
    #[error("cannot sign the GetParameter request for {name}: {reason}")]
    Signing { name: String, reason: String },
    #[error("Parameter Store at {endpoint} could not be reached for {name}: {reason}")]
    Unreachable {
        name: String,
        endpoint: String,
        reason: String,
    },
    #[error(
        "Parameter Store at {endpoint} did not answer for {name} within {LIMIT:?} \
         ({attempts} attempts)"
    )]
    TimedOut {
        name: String,
        endpoint: String,
        attempts: u32,
    },
    #[error("{last} (gave up after {attempts} attempts within {LIMIT:?})")]
    GaveUp {
        attempts: u32,
        last: Box<ParameterError>,
    },
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
    #[error("Parameter Store's answer for {name} is not a GetParameter result: {reason}")]
    Malformed { name: String, reason: String },
    #[error("the write token in {name} is not usable: {source}")]
    Invalid {
        name: String,
        source: InvalidWriteToken,
    },
}

/// Reads the SecureString `name` (decrypted) and returns it as the write
/// token. An answer that may pass is followed by another attempt after a
/// pause (exponential backoff with full jitter, as the AWS SDKs' standard
/// retries), until [`LIMIT`]; any other answer is final at once.
pub async fn write_token(aws: &AwsEnvironment, name: &str) -> Result<WriteToken, ParameterError> {
    let endpoint = aws.ssm_endpoint();
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = tokio::time::timeout_at(deadline, get_parameter(aws, &endpoint, name))
            .await
            .map_err(|_| ParameterError::TimedOut {
                name: name.to_string(),
                endpoint: endpoint.clone(),
                attempts,
            })?;
        let error = match answer.and_then(|(status, body)| token_from_answer(name, status, &body)) {
            Ok(token) => return Ok(token),
            Err(error) if error.may_pass() => error,
            Err(error) => return Err(error),
        };
        // Full jitter: instances throttled together do not come back together.
        let ceiling = FIRST_BACKOFF
            .saturating_mul(1 << (attempts - 1).min(16))
            .min(MAX_BACKOFF);
        let pause = ceiling.mul_f64(fastrand::f64());
        if tokio::time::Instant::now() + pause >= deadline {
            return Err(ParameterError::GaveUp {
                attempts,
                last: Box::new(error),
            });
        }
        tokio::time::sleep(pause).await;
    }
}

impl ParameterError {
    /// Whether another attempt may succeed: Parameter Store refused the
    /// request for its rate or failed itself (a 5xx), or the request or its
    /// answer was lost. A read changes nothing, so sending it again is safe.
    fn may_pass(&self) -> bool {
        match self {
            ParameterError::Unreachable { .. } => true,
            ParameterError::Refused { status, code, .. } => {
                *status == 429 || *status >= 500 || THROTTLING_ERRORS.contains(&code.as_str())
            }
            _ => false,
        }
    }
}

/// The token from Parameter Store's answer (`status`, `body`), or why not.
fn token_from_answer(name: &str, status: u16, body: &[u8]) -> Result<WriteToken, ParameterError> {
    let answer: serde_json::Value = serde_json::from_slice(body).map_err(|error| match status {
        200 => ParameterError::Malformed {
            name: name.to_string(),
            reason: error.to_string(),
        },
        _ => refused(
            name,
            status,
            "(the answer is not JSON)",
            &String::from_utf8_lossy(body),
        ),
    })?;
    if status != 200 {
        // `__type` may carry a namespace: `com.amazonaws...#ParameterNotFound`.
        let code = answer["__type"].as_str().unwrap_or("(no error code)");
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = answer["message"]
            .as_str()
            .or(answer["Message"].as_str())
            .unwrap_or("");
        return Err(refused(name, status, code, message));
    }
    let parameter = &answer["Parameter"];
    let kind = parameter["Type"].as_str().unwrap_or("(untyped)");
    if kind != "SecureString" {
        return Err(ParameterError::NotSecure {
            name: name.to_string(),
            kind: kind.to_string(),
        });
    }
    let value = parameter["Value"]
        .as_str()
        .ok_or_else(|| ParameterError::Malformed {
            name: name.to_string(),
            reason: "it has no Parameter.Value".to_string(),
        })?;
    WriteToken::new(value).map_err(|source| ParameterError::Invalid {
        name: name.to_string(),
        source,
    })
}

fn refused(name: &str, status: u16, code: &str, message: &str) -> ParameterError {
    let mut message = message.trim().to_string();
    if let Some((cut, _)) = message.char_indices().nth(300) {
        message.truncate(cut);
        message.push_str("...");
    }
    ParameterError::Refused {
        name: name.to_string(),
        status,
        code: code.to_string(),
        message,
    }
}

/// Sends the signed request; the answer's status and body.
async fn get_parameter(
    aws: &AwsEnvironment,
    endpoint: &str,
    name: &str,
) -> Result<(u16, Vec<u8>), ParameterError> {
    let body = serde_json::json!({ "Name": name, "WithDecryption": true }).to_string();
    let url = format!("{endpoint}/");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AmazonSSM.GetParameter"),
    ];
    let signing_failed = |reason: String| ParameterError::Signing {
        name: name.to_string(),
        reason,
    };
    let identity = Identity::from(aws.credentials.clone());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.region)
        .name("ssm")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| signing_failed(error.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|error| signing_failed(error.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|error| signing_failed(error.to_string()))?
        .into_parts();

    let mut request = HttpRequest::new(SdkBody::from(body));
    let unreachable = |reason: String| ParameterError::Unreachable {
        name: name.to_string(),
        endpoint: endpoint.to_string(),
        reason,
    };
    request
        .set_method("POST")
        .map_err(|error| unreachable(error.to_string()))?;
    request
        .set_uri(url.as_str())
        .map_err(|error| unreachable(format!("{url} is not a URL: {error}")))?;
    for (header, value) in headers.into_iter().chain(instructions.headers()) {
        request
            .headers_mut()
            .try_insert(header.to_string(), value.to_string())
            .map_err(|error| signing_failed(error.to_string()))?;
    }
    let response = shared::store::dynamodb::https_connector()
        .call(request)
        .await
        .map_err(|error| unreachable(DisplayErrorContext(&error).to_string()))?;
    let status = response.status().as_u16();
    let body = ByteStream::new(response.into_body())
        .collect()
        .await
        .map_err(|error| unreachable(error.to_string()))?
        .to_vec();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<WriteToken, String> {
        token_from_answer("/seed/write-token", status, body.as_bytes())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn throttling_5xx_and_lost_connections_may_pass_and_nothing_else() {
        let name = "/seed/write-token";
        let passing = [
            (
                400,
                r#"{"__type": "ThrottlingException", "message": "Rate exceeded"}"#,
            ),
            (400, r#"{"__type": "com.amazonaws.ssm#TooManyUpdates"}"#),
            (429, "Too Many Requests"),
            (500, r#"{"__type": "InternalServerError"}"#),
            (503, "<html>busy</html>"),
        ];
        for (status, body) in passing {
            let error = token_from_answer(name, status, body.as_bytes()).unwrap_err();
            assert!(error.may_pass(), "{error}");
        }
        let final_answers = [
            (400, r#"{"__type": "ParameterNotFound"}"#),
            (400, r#"{"__type": "AccessDeniedException"}"#),
            (403, r#"{"__type": "SignatureDoesNotMatch"}"#),
            (200, r#"{"Parameter": {"Type": "String", "Value": "t"}}"#),
            (200, "<html>"),
        ];
        for (status, body) in final_answers {
            let error = token_from_answer(name, status, body.as_bytes()).unwrap_err();
            assert!(!error.may_pass(), "{error}");
        }
        let lost = ParameterError::Unreachable {
            name: name.to_string(),
            endpoint: "http://x".to_string(),
            reason: "connection reset".to_string(),
        };
        assert!(lost.may_pass());
    }

    #[test]
    fn a_secure_string_is_the_token() {
        let token = answer(
            200,
            r#"{"Parameter": {"Type": "SecureString", "Value": "t0ken\n"}}"#,
        )
        .unwrap();
        assert!(token.authorizes(Some(b"Bearer t0ken")));
    }

    #[test]
    fn each_other_answer_is_an_error_that_says_what_came_back() {
        for (status, body, expected) in [
            (
                400,
                r#"{"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "no such"}"#,
                "HTTP 400, ParameterNotFound: no such",
            ),
            (
                400,
                r#"{"__type": "AccessDeniedException", "Message": "not allowed"}"#,
                "HTTP 400, AccessDeniedException: not allowed",
            ),
            (
                503,
                "<html>busy</html>",
                "HTTP 503, (the answer is not JSON): <html>busy</html>",
            ),
            (200, "<html>", "not a GetParameter result"),
            (
                200,
                r#"{"Parameter": {"Type": "SecureString"}}"#,
                "no Parameter.Value",
            ),
            (
                200,
                r#"{"Parameter": {"Type": "String", "Value": "t"}}"#,
                "is a String parameter",
            ),
            (
                200,
                r#"{"Parameter": {"Type": "SecureString", "Value": ""}}"#,
                "not usable",
            ),
        ] {
            let error = answer(status, body)
                .err()
                .unwrap_or_else(|| panic!("{body} was accepted"));
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
            assert!(error.contains("/seed/write-token"), "{error}");
        }
        let long = "x".repeat(5000);
        let error = answer(500, &long).unwrap_err();
        assert!(
            error.len() < 500,
            "a long answer is not cut: {} bytes",
            error.len()
        );
    }
}
