//! The shared store: the seed as the item `{"id": "seed", "value": "<decimal>"}`
//! of a DynamoDB table whose partition key is the string `id` (as in
//! `template.yaml`, the EC2 stack and `--create-table`). The value is a string:
//! a DynamoDB number holds 38 digits, a seed up to 4300. No item means 0.
//!
//! No cache: a POST is one `PutItem`, a GET a strongly consistent `GetItem`
//! sent after it arrived ([`SharedReads`]). A write is sent once, and again
//! only when DynamoDB's answer proves it was not applied (`RetryRule`): one
//! that timed out may still land, over a newer acknowledged write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction, RetryConfig};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedHttpClient};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as AttemptError, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;

use super::shared_reads::{ReadSeed, SharedReads};
use super::{cause, Cause, Store, StoreError};
use crate::error::causes;
use crate::seed::Seed;
use crate::telemetry::{Count, Tally};

/// The partition key attribute of the table.
pub const KEY_ATTRIBUTE: &str = "id";
/// The key of the one item that holds the seed.
pub const SEED_ITEM_KEY: &str = "seed";
/// The attribute that holds the seed's canonical decimal, as a string.
pub const VALUE_ATTRIBUTE: &str = "value";

/// The seed in a DynamoDB table. Build it once per process: its clients keep
/// their connections and credentials, and its GETs share reads.
pub struct DynamoDbStore {
    item: Arc<SeedItem>,
    reads: SharedReads<SeedItem>,
}

/// The seed's item, and the clients that read and write it.
#[derive(Debug)]
struct SeedItem {
    /// Reads (and table administration): retried after a passing failure,
    /// except a refusal for their rate, which [`SharedReads`] paces.
    reads: Client,
    /// Writes: one attempt, sent again only after a throttling refusal.
    writes: Client,
    table: String,
    call_timeout: Duration,
    attempts: AttemptLog,
}

impl DynamoDbStore {
    /// Builds the store from the target's SDK configuration, which must hold
    /// [`https_client`] (this build has no default); the timeouts and retries
    /// set here replace its own. Sends nothing.
    pub fn new(
        config: aws_sdk_dynamodb::config::Builder,
        table: impl Into<String>,
        call_timeout: Duration,
    ) -> Self {
        let attempts = AttemptLog::default();
        let config = config.retry_config(RetryConfig::standard().with_max_attempts(3));
        // A read attempt gets half the call, leaving time for a retry on a
        // fresh connection; a write, never sent again after a stall, all of
        // it. Two clients: a per-call override made the bootstrap larger.
        let reads = config
            .clone()
            .timeout_config(timeouts(call_timeout, call_timeout / 2))
            .retry_classifier(RetryRule::Read)
            .interceptor(attempts.clone())
            .build();
        let writes = config
            .timeout_config(timeouts(call_timeout, call_timeout))
            .retry_classifier(RetryRule::Write)
            .interceptor(AttemptLog {
                writes: true,
                ..attempts.clone()
            })
            .build();
        let item = Arc::new(SeedItem {
            reads: Client::from_conf(reads),
            writes: Client::from_conf(writes),
            table: table.into(),
            call_timeout,
            attempts,
        });
        DynamoDbStore {
            reads: SharedReads::new(Arc::clone(&item), call_timeout),
            item,
        }
    }

    pub fn table(&self) -> &str {
        &self.item.table
    }

    /// HTTP requests sent so far, retries included, so tests can count calls.
    pub fn requests_sent(&self) -> u64 {
        self.item.attempts.requests_sent.load(Ordering::Relaxed)
    }

    /// Creates the table if missing and waits until it is active: for local
    /// use, with permissions deployed instances are not given.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let SeedItem { reads, table, .. } = &*self.item;
        let created = reads
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|error| StoreError::Other(cause(error)))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|error| StoreError::Other(cause(error)))?,
            )
            .customize()
            .config_override(admin_timeouts())
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(%table, "created the DynamoDB table"),
            Err(error) if error.code() == Some("ResourceInUseException") => {}
            Err(error) => return Err(sdk_failure(error, ADMIN_CALL_TIMEOUT, None)),
        }
        // The SDK's waiter: its first look is at once, the next 20 s later.
        let active = reads.wait_until_table_exists().table_name(table);
        active
            .wait(Duration::from_secs(90))
            .await
            .map_err(|error| StoreError::Other(cause(error)))?;
        Ok(())
    }
}

impl SeedItem {
    /// Names a call `started` then that failed, by its last attempt if it
    /// ran out of time.
    fn failure<E, R>(&self, error: SdkError<E, R>, started: Instant) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let last_attempt = self.attempts.failure_since(started);
        sdk_failure(error, self.call_timeout, last_attempt)
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        let started = Instant::now();
        let written = self
            .writes
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, AttributeValue::S(SEED_ITEM_KEY.to_string()))
            .item(VALUE_ATTRIBUTE, AttributeValue::S(seed.to_string()))
            .send()
            .await;
        self.attempts.tally.store_latency.record(started.elapsed());
        written.map_err(|error| self.failure(error, started))?;
        Ok(())
    }
}

#[async_trait]
impl ReadSeed for SeedItem {
    async fn read_seed(&self) -> Result<Seed, StoreError> {
        let started = Instant::now();
        let read = self
            .reads
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(SEED_ITEM_KEY.to_string()))
            .consistent_read(true)
            .send()
            .await;
        self.attempts.tally.store_latency.record(started.elapsed());
        let output = read.map_err(|error| self.failure(error, started))?;
        let Some(item) = output.item() else {
            return Ok(Seed::zero());
        };
        let seed = match item.get(VALUE_ATTRIBUTE) {
            Some(AttributeValue::S(text)) => {
                Seed::from_integer_literal(text).map_err(|e| e.to_string())
            }
            Some(other) => Err(format!("{other:?} is not a string")),
            None => Err("the attribute is missing".to_string()),
        };
        seed.map_err(|why| {
            let table = &self.table;
            StoreError::Corrupt(cause(format!(
                "item {SEED_ITEM_KEY:?} of table {table}, attribute {VALUE_ATTRIBUTE:?} holds no seed: {why}"
            )))
        })
    }

    fn no_answer_within(&self, bound: Duration, asked: Instant) -> StoreError {
        timed_out(bound, self.attempts.failure_since(asked))
    }
}

#[async_trait]
impl Store for DynamoDbStore {
    async fn get(&self) -> Result<Seed, StoreError> {
        self.reads.get().await
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        self.item.put(seed).await
    }

    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn tally(&self) -> Arc<Tally> {
        Arc::clone(&self.item.attempts.tally)
    }
}

/// The bound on a whole call and on each attempt, connecting included.
fn timeouts(call_timeout: Duration, attempt_timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(call_timeout)
        .operation_attempt_timeout(attempt_timeout)
        .connect_timeout(attempt_timeout)
        .read_timeout(attempt_timeout)
        .build()
}

/// Overrides the SDK's retry rules. A write is retried only after a
/// throttling refusal, which proves it was not applied; a timeout, a lost
/// connection or a 5xx ("may have succeeded") ends it with a `503` saying so.
/// A throttled read is not retried here: [`SharedReads`] paces the next one.
#[derive(Debug, Clone, Copy)]
enum RetryRule {
    Read,
    Write,
}

/// DynamoDB's codes for a request refused, unapplied, for its rate.
const THROTTLING_ERRORS: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];

/// Whether DynamoDB refused an attempt for its rate, unapplied.
fn refused_for_rate(error: &OrchestratorError<AttemptError>) -> bool {
    let operation = error.as_operation_error();
    let code = (operation.and_then(|error| error.downcast_ref::<GetItemError>()))
        .and_then(ProvideErrorMetadata::code)
        .or_else(|| {
            (operation.and_then(|error| error.downcast_ref::<PutItemError>()))
                .and_then(ProvideErrorMetadata::code)
        });
    code.is_some_and(|code| THROTTLING_ERRORS.contains(&code))
}

impl ClassifyRetry for RetryRule {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = context.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match (self, refused_for_rate(error)) {
            (RetryRule::Read, true) => RetryAction::RetryForbidden,
            (RetryRule::Read, false) => RetryAction::NoActionIndicated,
            (RetryRule::Write, true) => RetryAction::throttling_error(),
            (RetryRule::Write, false) => RetryAction::RetryForbidden,
        }
    }

    fn name(&self) -> &'static str {
        "SeedRetryRule"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Table administration may be slow (a cold DynamoDB Local takes seconds).
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn admin_timeouts() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::new().timeout_config(
        TimeoutConfig::builder()
            .operation_timeout(ADMIN_CALL_TIMEOUT)
            .operation_attempt_timeout(ADMIN_CALL_TIMEOUT)
            .read_timeout(ADMIN_CALL_TIMEOUT)
            .build(),
    )
}

/// Names an SDK failure by what an operator does about it.
fn sdk_failure<E, R>(
    error: SdkError<E, R>,
    call_timeout: Duration,
    last_attempt: Option<AttemptFailure>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if causes(&error).any(|cause| cause.is::<CredentialsError>()) {
        return StoreError::AccessDenied(cause(
            "no AWS credentials were found (the environment, profiles, web identity, ECS and \
             instance metadata were tried); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or \
             AWS_PROFILE, or give the instance or function a role",
        ));
    }
    let kind: fn(Cause) -> StoreError = match (&error, error.code()) {
        (SdkError::TimeoutError(_), _) => return timed_out(call_timeout, last_attempt),
        (SdkError::DispatchFailure(failure), _) if failure.is_timeout() => StoreError::TimedOut,
        (SdkError::DispatchFailure(failure), _) if failure.is_io() => StoreError::Unreachable,
        (_, Some("ResourceNotFoundException")) => StoreError::TableMissing,
        (_, Some(code)) if THROTTLING_ERRORS.contains(&code) => StoreError::Throttled,
        (
            _,
            Some(
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException",
            ),
        ) => StoreError::AccessDenied,
        (SdkError::DispatchFailure(_), _) => StoreError::Unreachable,
        _ => StoreError::Other,
    };
    kind(cause(error))
}

/// A call with no answer within `bound`, named by its last attempt's failure.
fn timed_out(bound: Duration, last_attempt: Option<AttemptFailure>) -> StoreError {
    let within = format!("no answer within {bound:?}");
    match last_attempt {
        Some((kind, why)) => kind(cause(format!("{within}; the last attempt failed: {why}"))),
        None => StoreError::TimedOut(cause(within)),
    }
}

/// Why one attempt failed, for a call that then ran out of time: the error
/// it makes of the call, and what happened.
type AttemptFailure = (fn(Cause) -> StoreError, String);

/// Counts the HTTP attempts and remembers the last failure (written only on
/// failure, so a healthy store pays two atomic adds). One per client.
#[derive(Debug, Default, Clone)]
struct AttemptLog {
    requests_sent: Arc<AtomicU64>,
    last_failure: Arc<Mutex<Option<(Instant, AttemptFailure)>>>,
    tally: Arc<Tally>,
    /// Whether its client is the one that writes.
    writes: bool,
}

impl AttemptLog {
    /// The last attempt's failure if it came after `since`, when the call
    /// it is to name began. Not "within the bound of now": a call is given
    /// up on a little after its bound, by when an attempt refused at once
    /// would be just out of it.
    fn failure_since(&self, since: Instant) -> Option<AttemptFailure> {
        match &*crate::lock(&self.last_failure) {
            Some((at, failure)) if *at >= since => Some(failure.clone()),
            _ => None,
        }
    }
}

impl Intercept for AttemptLog {
    fn name(&self) -> &'static str {
        "SeedStoreAttemptLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
        let sent = match self.writes {
            true => Count::StoreWrites,
            false => Count::StoreReads,
        };
        self.tally.add(sent);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(Err(error)) = context.output_or_error() {
            if refused_for_rate(error) {
                self.tally.add(Count::StoreThrottles);
            }
            // A connection that failed means the store could not be reached.
            let failure: AttemptFailure = match error.as_connector_error() {
                Some(connector) if connector.is_io() => (
                    StoreError::Unreachable,
                    DisplayErrorContext(connector).to_string(),
                ),
                Some(connector) if connector.is_timeout() => {
                    (StoreError::TimedOut, "the attempt timed out".to_string())
                }
                _ => (StoreError::TimedOut, DisplayErrorContext(error).to_string()),
            };
            *crate::lock(&self.last_failure) = Some((Instant::now(), failure));
        }
        Ok(())
    }
}

/// The SDK's HTTPS client: rustls with ring rather than the default aws-lc,
/// most of a bootstrap's size (bench/README.md). Every SDK configuration
/// here sets it: this build has no default client.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(TLS)
        .build_https()
}

const TLS: Provider = Provider::Rustls(CryptoMode::Ring);

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> AttemptFailure {
        (StoreError::Unreachable, "connection refused".to_string())
    }

    /// As when a GET's bound of 1 s runs out 2 ms late, its only attempt
    /// refused 0.3 ms after it was asked, the SDK's backoff before the next
    /// still under way: the refusal names it.
    #[test]
    fn a_call_is_named_by_its_attempt_that_failed_longer_ago_than_its_bound() {
        let bound = Duration::from_secs(1);
        let asked = Instant::now() - (bound + Duration::from_millis(2));
        let log = AttemptLog::default();
        *crate::lock(&log.last_failure) = Some((asked + Duration::from_micros(300), refused()));
        let error = timed_out(bound, log.failure_since(asked));
        assert!(matches!(error, StoreError::Unreachable(_)), "{error:?}");
    }

    #[test]
    fn an_attempt_that_failed_before_a_call_began_does_not_name_it() {
        let asked = Instant::now() - Duration::from_millis(10);
        let log = AttemptLog::default();
        *crate::lock(&log.last_failure) = Some((asked - Duration::from_millis(1), refused()));
        let error = timed_out(Duration::from_secs(1), log.failure_since(asked));
        assert!(matches!(error, StoreError::TimedOut(_)), "{error:?}");
    }
}
