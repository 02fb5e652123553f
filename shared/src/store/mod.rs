//! Where the seed lives. The handler sees only [`Store`]; each implementation
//! is one module, chosen by the targets' configuration.

use std::sync::Arc;

use async_trait::async_trait;

use crate::seed::Seed;
use crate::telemetry::Tally;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod memory;
pub mod outage_log;
#[cfg(feature = "dynamodb")]
pub mod shared_reads;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

/// A place that holds one seed, shared by every request of a process. `put`
/// returns once the value is durable there: a POST's `200` promises it.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current seed; [`Seed::zero`] when nothing was ever stored.
    async fn get(&self) -> Result<Seed, StoreError>;

    /// Replaces the seed. Concurrent writers: the last one wins.
    async fn put(&self, seed: &Seed) -> Result<(), StoreError>;

    /// A short name for logs and start-up messages (`memory`, `dynamodb`).
    fn kind(&self) -> &'static str;

    /// Whether every process configured alike sees the same seed (behind a
    /// balancer, the targets warn when not).
    fn is_shared(&self) -> bool;

    /// The tally this store adds its calls to, which the process's metrics
    /// count in; the in-memory store sends none.
    fn tally(&self) -> Arc<Tally> {
        Arc::default()
    }
}

/// Why the store could not answer (clients get `503`), with its cause for the
/// logs. A failed write changed nothing unless it [`may have landed`].
///
/// [`may have landed`]: StoreError::write_may_have_landed
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the store did not answer in time")]
    TimedOut(#[source] Cause),
    #[error("the store refused the request because of its request rate")]
    Throttled(#[source] Cause),
    #[error("the store could not be reached")]
    Unreachable(#[source] Cause),
    #[error("the store denied access")]
    AccessDenied(#[source] Cause),
    #[error("the store's table does not exist")]
    TableMissing(#[source] Cause),
    #[error("the store holds a value that is not a seed")]
    Corrupt(#[source] Cause),
    #[error("the store is not configured correctly")]
    Misconfigured(#[source] Cause),
    #[error("the store failed")]
    Other(#[source] Cause),
}

/// A store failure's cause, shared by every GET one read answers.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// A cause from a text or any error.
pub fn cause(reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Cause {
    Arc::from(reason.into())
}

impl StoreError {
    /// Whether a `put` that failed this way may still be applied (it may have
    /// reached the store); the store's own refusals are definite.
    pub fn write_may_have_landed(&self) -> bool {
        matches!(
            self,
            StoreError::TimedOut(_) | StoreError::Unreachable(_) | StoreError::Other(_)
        )
    }

    /// Whether an operator must act, rather than wait for a passing fault:
    /// logged at error rather than warn.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            StoreError::AccessDenied(_)
                | StoreError::TableMissing(_)
                | StoreError::Corrupt(_)
                | StoreError::Misconfigured(_)
        )
    }
}
