//! Logging set-up: `tracing` to standard error, as text for people or as
//! the JSON lines both targets write (`shared::telemetry`).

use std::io::IsTerminal;

use shared::telemetry::json_layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log level {level:?}")]
    InvalidFilter {
        level: String,
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Installs the global logger. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat, service: &str) -> Result<(), TelemetryError> {
    // Targets, not EnvFilter: the same `level,target=level` syntax without
    // a regex engine in the binary.
    let filter: Targets = level
        .parse()
        .map_err(|source| TelemetryError::InvalidFilter {
            level: level.to_string(),
            source,
        })?;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry.with(layer).try_init(),
        LogFormat::Json => {
            let layer = json_layer(service).with_writer(std::io::stderr);
            registry.with(layer).try_init()
        }
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    // A panic is one line in the log's own format (the request gets a 500).
    std::panic::set_hook(Box::new(|panic| {
        tracing::error!(%panic, "panicked");
    }));
    Ok(())
}
