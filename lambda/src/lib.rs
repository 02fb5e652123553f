//! The seed service as an AWS Lambda function. Behaviour lives in the
//! `shared` crate; this crate reads the function's settings, builds the store
//! once per instance, and adapts Lambda HTTP events to the shared handler.
//!
//! - [`configuration`] — `SEED_*` environment variables.
//! - [`adapter`] — event in, handler, response out.
//! - [`telemetry`] — JSON logs.

pub mod adapter;
pub mod configuration;
pub mod telemetry;

use std::sync::Arc;

use shared::{DynamoDbStore, MemoryStore, SeedHandler, Store, StoreError};

use crate::configuration::{sdk_config, Settings};

/// Builds the handler for this instance: the store the settings name, with a
/// warning on every cold start for the in-memory one. Sends nothing to
/// DynamoDB: init stays short, and the first request reports any problem.
pub fn build_handler(settings: &Settings) -> Result<SeedHandler, StoreError> {
    let store: Arc<dyn Store> = match &settings.dynamodb_table {
        Some(table) => Arc::new(DynamoDbStore::new(
            sdk_config(|name| std::env::var(name).ok())?,
            table.clone(),
            settings.store_timeout,
        )),
        None => {
            tracing::warn!(
                "SEED_STORE is memory: this Lambda instance keeps its own seed in memory; \
                 other instances answer their own, and it is lost when the instance goes away"
            );
            Arc::new(MemoryStore::new())
        }
    };
    tracing::info!(
        store = store.kind(),
        write_protection = if settings.write_token.is_some() { "on" } else { "off" },
        table = settings.dynamodb_table.as_deref().unwrap_or("-"),
        store_timeout = ?settings.store_timeout,
        version = env!("CARGO_PKG_VERSION"),
        "configuration"
    );
    let handler = SeedHandler::new(store);
    Ok(match &settings.write_token {
        Some(token) => handler.with_write_token(token.clone()),
        None => handler,
    })
}
