//! The seed service as an AWS Lambda function. Behaviour lives in the
//! `shared` crate; this crate reads the function's settings, builds the store
//! once per instance, and adapts Lambda HTTP events to the shared handler.

pub mod adapter;
pub mod configuration;
pub mod parameter_store;
pub mod shutdown;
pub mod telemetry;

use std::sync::Arc;

use shared::error::Chain;
use shared::settings::{SettingsError, TokenSource};
use shared::{DynamoDbStore, MemoryStore, SeedHandler, Store};

use crate::configuration::{MissingAwsSetting, Settings};
use crate::parameter_store::ParameterError;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Aws(#[from] MissingAwsSetting),
    #[error(transparent)]
    WriteToken(#[from] ParameterError),
}

/// Lambda's init: the handler from the settings; a failure is one JSON line
/// at error, beside Lambda's own "Runtime.ExitError".
pub async fn init(settings: Result<Settings, SettingsError>) -> Result<SeedHandler, InitError> {
    let built = match settings {
        Ok(settings) => build_handler(&settings).await,
        Err(error) => Err(error.into()),
    };
    if let Err(error) = &built {
        tracing::error!(error = %Chain(error), "init failed; this instance does not start");
    }
    built
}

/// Builds this instance's handler. Sends nothing to DynamoDB, so init stays
/// short; a token that cannot be read stops the instance, as serving without
/// it would let anyone write.
pub async fn build_handler(settings: &Settings) -> Result<SeedHandler, InitError> {
    // The token first: failing, it is the one line logged.
    let (write_token, write_protection) = match settings.write_token()? {
        None => (None, "off".to_string()),
        Some(TokenSource::Variable(token)) => (Some(token), "on (SEED_WRITE_TOKEN)".to_string()),
        Some(TokenSource::Reference(name)) => {
            let token = parameter_store::write_token(settings.aws()?, &name).await?;
            (Some(token), format!("on (parameter {name})"))
        }
    };
    let store: Arc<dyn Store> = match settings.shared.dynamodb_table() {
        Some(table) => Arc::new(DynamoDbStore::new(
            settings.aws()?.dynamodb(),
            table,
            settings.shared.store_timeout,
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
        write_protection,
        table = settings.shared.dynamodb_table().unwrap_or("-"),
        store_timeout = ?settings.shared.store_timeout,
        version = env!("CARGO_PKG_VERSION"),
        "configuration"
    );
    Ok(SeedHandler::new(store)
        .with_telemetry(settings.shared.telemetry.clone())
        .with_instance_name(settings.shared.instance_name.clone())
        .with_write_token(write_token))
}
