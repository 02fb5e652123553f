//! Every refusal, each mapped to one response; and errors shown with causes.

use std::error::Error as StdError;
use std::fmt;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::post_body::PostBodyError;
use crate::store::StoreError;
use crate::MAX_BODY_BYTES;

/// The methods `/` answers, as sent in `Allow`.
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("There is nothing at this path; the seed is served at /.")]
    NotFound,
    #[error("The method {0} is not allowed on /; use GET to read the seed or POST to store it.")]
    MethodNotAllowed(http::Method),
    #[error("Storing the seed needs the write token: send it as Authorization: Bearer <token>.")]
    Unauthorized,
    #[error("The request body is larger than {MAX_BODY_BYTES} bytes; send only a JSON object such as {{\"num\": 100}}.")]
    BodyTooLarge,
    #[error("The request body did not arrive in time; send it again, whole.")]
    BodyTimedOut,
    #[error("The request body could not be read ({0}); send it again.")]
    BodyUnreadable(String),
    #[error(transparent)]
    InvalidBody(#[from] PostBodyError),
    #[error("The seed store is unavailable right now and nothing was changed; retry in a moment.")]
    StoreUnavailable(#[source] StoreError),
    #[error("The seed store did not confirm the write in time, so the value may or may not have been stored; retry the POST, which is safe to repeat.")]
    StoreWriteUnconfirmed(#[source] StoreError),
    // Refusals of the HTTP/1.1 server, here so every refusal has one shape.
    #[error("The request target must be a path such as /; this server is not a proxy.")]
    InvalidRequestTarget,
    /// A request whose head a strict server refuses; the text says why.
    #[error("{0}")]
    MalformedRequest(&'static str),
    #[error("The request headers are larger than {0} bytes; send fewer or shorter headers.")]
    HeadersTooLarge(usize),
    #[error(
        "This instance is shutting down; the load balancer routes new requests to another one."
    )]
    ShuttingDown,
    #[error("The server failed while answering this request; nothing was stored. Retry, and report it if it persists.")]
    Internal,
}

/// `error`, then each error that caused it.
pub fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |error| (*error).source())
}

/// An error with its causes, `: `-separated, as every log line shows one.
pub struct Chain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in causes(self.0).enumerate() {
            if index > 0 {
                f.write_str(": ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// The store failure behind this refusal, if any.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            ApiError::StoreUnavailable(cause) | ApiError::StoreWriteUnconfirmed(cause) => {
                Some(cause)
            }
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            ApiError::BodyUnreadable(_)
            | ApiError::InvalidBody(_)
            | ApiError::InvalidRequestTarget
            | ApiError::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::StoreUnavailable(_)
            | ApiError::StoreWriteUnconfirmed(_)
            | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response: a JSON `{"error": ...}` body, its status and headers.
    pub fn into_response(self) -> Response<Bytes> {
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            ApiError::MethodNotAllowed(_) => {
                headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            ApiError::StoreUnavailable(_) | ApiError::StoreWriteUnconfirmed(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unauthorized => {
                headers.insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"seed\""),
                );
            }
            ApiError::BodyTooLarge
            | ApiError::BodyTimedOut
            | ApiError::InvalidRequestTarget
            | ApiError::MalformedRequest(_)
            | ApiError::HeadersTooLarge(_)
            | ApiError::ShuttingDown
            | ApiError::Internal => {
                // The rest of the request is unread or untrusted: say so.
                headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the store failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_chain_shows_every_cause_once_in_order() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            Chain(&error).to_string(),
            "the store failed: connection refused"
        );
        assert_eq!(causes(&error).count(), 2);
    }
}
