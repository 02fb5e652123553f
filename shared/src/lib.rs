//! The seed service: one integer, read with `GET /` and stored with
//! `POST /` `{"num": N}`. Everything the service does lives here; the targets
//! (`ec2-server`, `lambda`) only adapt transport and configuration.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub mod error;
pub mod handler;
pub mod post_body;
pub mod seed;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod write_token;

pub use error::ApiError;
pub use handler::SeedHandler;
pub use seed::Seed;
#[cfg(feature = "dynamodb")]
pub use store::DynamoDbStore;
pub use store::{MemoryStore, Store, StoreError};
pub use write_token::{InvalidWriteToken, WriteToken};

/// Locks `mutex`, recovering it if a panic poisoned it: what each guards is
/// whole between statements, so better used than failing every request.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The largest POST body read, in bytes (docs/contract.md: 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a transport puts in a body's error chain when it did not arrive in
/// time, so the handler answers `408`, not `400`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body was not received in time")]
pub struct BodyReadTimedOut;
