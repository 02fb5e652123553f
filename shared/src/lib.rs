//! The seed service: one integer, read with `GET /` and stored with
//! `POST /` `{"num": N}`. Everything the service does lives here; the targets
//! (`ec2-server`, `lambda`) only adapt transport and configuration.
//!
//! - [`seed`] — the value and its canonical form.
//! - [`post_body`] — what a POST body must be.
//! - [`handler`] — the request handler, docs/contract.md row by row.
//! - [`error`] — every refusal and its response.
//! - [`store`] — where the seed lives.
//! - [`write_token`] — optional protection of writes.
//! - [`settings`] — the settings every target reads, parsed one way.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub mod error;
pub mod handler;
pub mod post_body;
pub mod seed;
pub mod settings;
pub mod store;
pub mod write_token;

pub use error::ApiError;
pub use handler::SeedHandler;
pub use seed::Seed;
#[cfg(feature = "dynamodb")]
pub use store::DynamoDbStore;
pub use store::{MemoryStore, Store, StoreError};
pub use write_token::{InvalidWriteToken, WriteToken};

/// Locks `mutex`, recovering it if a panic poisoned it: every mutex here
/// guards values that are whole between statements, so what a panic left
/// is usable, and failing every later request over it would be worse.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The largest POST body read, in bytes (docs/contract.md: 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The error a transport puts in a request body's error chain when the client
/// did not send the body within the transport's time limit. The handler
/// answers it with `408` instead of `400`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body was not received in time")]
pub struct BodyReadTimedOut;
