//! The environment's end: Lambda sends SIGTERM, and waits for the process
//! to exit, only where an extension is registered. A no-op one is, so the
//! last metrics are written before the environment goes.

use std::sync::Arc;

use lambda_extension::Extension;
use shared::error::Chain;
use shared::telemetry::Metrics;
use tokio::signal::unix::{signal, SignalKind};

/// Registers the extension (before the runtime's first poll ends init),
/// and writes the metrics, then exits, on SIGTERM.
pub async fn write_metrics_at_shutdown(metrics: Arc<Metrics>) {
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::spawn(async move {
                terminate.recv().await;
                metrics.write();
                std::process::exit(0);
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; the metrics counted since the last document are lost at shutdown")
        }
    }
    let registering = Extension::new()
        .with_events(&[])
        .with_extension_name("seed-shutdown")
        .register()
        .await;
    match registering {
        // It subscribes to no event: its poll waits until the shutdown.
        Ok(extension) => drop(tokio::spawn(extension.run())),
        Err(error) => tracing::warn!(error = %Chain(&*error),
            "cannot register the shutdown extension; Lambda may stop this environment without SIGTERM, losing the metrics counted since the last document"),
    }
}
