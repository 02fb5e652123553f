//! The environment's end: Lambda sends SIGTERM, and waits for the process
//! to exit, only where an extension is registered. A no-op one is, so the
//! last metrics are written before the environment goes.

use std::sync::Arc;

use lambda_http::http::Request;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, PooledClient};
use shared::error::Chain;
use shared::telemetry::Metrics;
use tokio::signal::unix::{signal, SignalKind};

/// Registers the extension (before the runtime's first poll ends init),
/// and writes the metrics, then exits, on SIGTERM.
pub async fn write_metrics_at_shutdown(metrics: Arc<Metrics>) {
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => drop(tokio::spawn(async move {
            terminate.recv().await;
            metrics.write();
            std::process::exit(0);
        })),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; the metrics counted since the last document are lost at shutdown")
        }
    }
    if let Err(error) = register_extension().await {
        tracing::warn!(error = %Chain(&*error),
            "cannot register the shutdown extension; Lambda may stop this environment without SIGTERM, losing the metrics counted since the last document");
    }
}

/// The Extensions API's two calls, through the client the runtime itself
/// uses (lambda-extension, which makes them too, adds 354 KB to the
/// bootstrap: bench/README.md).
async fn register_extension() -> Result<(), BoxError> {
    let client = PooledClient::builder().build();
    let register = Request::post("/2020-01-01/extension/register")
        .header("Lambda-Extension-Name", "seed-shutdown")
        .body(Body::from(r#"{"events":[]}"#))?;
    let registered = client.call(register).await?;
    let id = (registered.headers().get("lambda-extension-identifier"))
        .filter(|_| registered.status().is_success())
        .ok_or_else(|| format!("the Extensions API answered {}", registered.status()))?;
    let next = Request::get("/2020-01-01/extension/event/next")
        .header("Lambda-Extension-Identifier", id)
        .body(Body::empty())?;
    // It subscribes to no event: this poll ends init for it, and is
    // answered only at shutdown.
    drop(tokio::spawn(client.call(next)));
    Ok(())
}
