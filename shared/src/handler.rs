//! The one request handler every target serves: docs/contract.md, row by row.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{ApiError, ALLOWED_METHODS};
use crate::post_body::parse_post_body;
use crate::seed::Seed;
use crate::store::outage_log::{OutageLog, SUMMARY_INTERVAL};
use crate::store::Store;
use crate::telemetry::{Metrics, TelemetrySettings};
use crate::write_token::WriteToken;
use crate::{BodyReadTimedOut, MAX_BODY_BYTES};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The response header naming the instance that answered, behind a balancer.
pub const INSTANCE_HEADER: &str = "x-seed-instance";

/// Serves the seed from a store: one per process, shared by reference.
#[derive(Clone)]
pub struct SeedHandler {
    store: Arc<dyn Store>,
    outage_log: Arc<OutageLog>,
    metrics: Arc<Metrics>,
    write_token: Option<WriteToken>,
    /// The headers of the seed and `OPTIONS` answers, with the instance name:
    /// cloning a finished map hashes no names, unlike building one.
    seed_headers: HeaderMap,
    options_headers: HeaderMap,
}

/// A name for this instance, as the `X-Seed-Instance` header sends it.
#[derive(Debug, Clone)]
pub struct InstanceName(HeaderValue);

impl InstanceName {
    /// Refuses a name that a header cannot carry: visible ASCII and spaces only.
    pub fn parse(name: &str) -> Result<Self, String> {
        let sendable = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        let refused = || format!("{name:?} cannot be sent in a header: use visible ASCII only");
        let value = HeaderValue::from_str(name).ok().filter(|_| sendable);
        value.map(InstanceName).ok_or_else(refused)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl SeedHandler {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let mut seed_headers = HeaderMap::with_capacity(3);
        seed_headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        seed_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let mut options_headers = HeaderMap::with_capacity(2);
        options_headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        Self {
            outage_log: Arc::new(OutageLog::new(store.kind(), SUMMARY_INTERVAL)),
            metrics: Arc::new(Metrics::new(TelemetrySettings::default(), store.tally())),
            store,
            write_token: None,
            seed_headers,
            options_headers,
        }
    }

    /// Requires `Authorization: Bearer <token>` on every POST.
    pub fn with_write_token(mut self, token: Option<WriteToken>) -> Self {
        self.write_token = token;
        self
    }

    /// Names this instance in an `X-Seed-Instance` header on every response.
    pub fn with_instance_name(mut self, name: Option<InstanceName>) -> Self {
        if let Some(InstanceName(value)) = name {
            self.seed_headers.insert(INSTANCE_HEADER, value.clone());
            self.options_headers.insert(INSTANCE_HEADER, value);
        }
        self
    }

    /// Counts into metrics named and written as `settings` say.
    pub fn with_telemetry(mut self, settings: TelemetrySettings) -> Self {
        self.metrics = Arc::new(Metrics::new(settings, self.store.tally()));
        self
    }

    /// The metrics each transport counts its answers into: the transport
    /// knows when each request began.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Answers one request; `path` is without query or transport prefix.
    /// Only a POST's headers and body are read, so a transport may give
    /// other requests none and spare copying them.
    pub async fn handle<B>(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Response<Bytes>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        // Read the clock only for the log line that reports it.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let response = match self.route(method, path, headers, body).await {
            Ok(response) => response,
            Err(error) => {
                if let Some(cause) = error.store_error() {
                    self.outage_log.failure(cause);
                }
                let mut response = error.into_response();
                if let Some(name) = self.seed_headers.get(INSTANCE_HEADER) {
                    response.headers_mut().insert(INSTANCE_HEADER, name.clone());
                }
                response
            }
        };
        if let Some(started) = started {
            tracing::debug!(
                %method,
                path,
                status = response.status().as_u16(),
                micros = started.elapsed().as_micros() as u64,
                "request"
            );
        }
        response
    }

    async fn route<B>(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Response<Bytes>, ApiError>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        if path != "/" {
            return Err(ApiError::NotFound);
        }
        match *method {
            Method::GET => Ok(self.seed_response(&self.get().await?)),
            Method::HEAD => {
                let mut response = self.seed_response(&self.get().await?);
                let body = std::mem::take(response.body_mut());
                response
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
                Ok(response)
            }
            Method::POST => self.post(headers, body).await,
            Method::OPTIONS => {
                let mut response = Response::new(Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.headers_mut() = self.options_headers.clone();
                Ok(response)
            }
            _ => Err(ApiError::MethodNotAllowed(method.clone())),
        }
    }

    /// Stores the body's seed, once the write token (if any) allows it.
    async fn post<B>(&self, headers: &HeaderMap, body: B) -> Result<Response<Bytes>, ApiError>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        self.authorize(headers)?;
        let body = read_body(headers, body).await?;
        let seed = parse_post_body(&body)?;
        self.store.put(&seed).await.map_err(|cause| {
            if cause.write_may_have_landed() {
                ApiError::StoreWriteUnconfirmed(cause)
            } else {
                ApiError::StoreUnavailable(cause)
            }
        })?;
        self.outage_log.success();
        Ok(self.seed_response(&seed))
    }

    /// Whether `headers` carry the write token, when one is needed.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.write_token else {
            return Ok(());
        };
        // Two credentials are refused, not resolved: servers and proxies
        // disagree on which one counts.
        let mut presented = headers.get_all(AUTHORIZATION).iter();
        let first = presented.next().map(HeaderValue::as_bytes);
        if presented.next().is_some() || !token.authorizes(first) {
            return Err(ApiError::Unauthorized);
        }
        Ok(())
    }

    async fn get(&self) -> Result<Seed, ApiError> {
        let seed = self.store.get().await.map_err(ApiError::StoreUnavailable)?;
        self.outage_log.success();
        Ok(seed)
    }

    fn seed_response(&self, seed: &Seed) -> Response<Bytes> {
        let mut response = Response::new(seed.to_bytes());
        *response.headers_mut() = self.seed_headers.clone();
        response
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`], refusing a declared length
/// over it before a byte is read.
async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(ApiError::BodyTooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => Err(classify_body_error(&*error)),
    }
}

fn classify_body_error(error: &(dyn StdError + 'static)) -> ApiError {
    for cause in crate::error::causes(error) {
        if cause.is::<LengthLimitError>() {
            return ApiError::BodyTooLarge;
        }
        if cause.is::<BodyReadTimedOut>() {
            return ApiError::BodyTimedOut;
        }
    }
    ApiError::BodyUnreadable(error.to_string())
}
