//! The environment's end: Lambda sends SIGTERM, and waits for the process
//! to exit, only where an extension is registered. A no-op one is, so the
//! invocations in flight finish and the last metrics are written before
//! the environment goes.

use std::future::Future;
use std::sync::Arc;

use lambda_http::http::Request;
use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::tower::{service_fn, Service, ServiceExt};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, PooledClient};
use shared::error::Chain;
use shared::telemetry::Metrics;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// How many invocations are under way, each counted from the runtime's
/// call until its answer has reached the Runtime API.
#[derive(Clone)]
pub struct InFlight(Arc<watch::Sender<usize>>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(Arc::new(watch::channel(0).0))
    }
}

impl InFlight {
    /// `runtime_api_calls` (an invocation, through to its answer posted),
    /// each call counted while it runs.
    pub fn track<S>(
        &self,
        runtime_api_calls: S,
    ) -> impl Service<
        LambdaInvocation,
        Response = (),
        Error = BoxError,
        Future = impl Future<Output = Result<(), BoxError>> + Send,
    > + Clone
           + Send
           + 'static
    where
        S: Service<LambdaInvocation, Response = (), Error = BoxError> + Clone + Send + 'static,
        S::Future: Send,
    {
        let count = Arc::clone(&self.0);
        service_fn(move |invocation| {
            let counted = Counted::new(&count);
            let calls = runtime_api_calls.clone();
            async move {
                let _counted = counted;
                calls.oneshot(invocation).await
            }
        })
    }

    /// Once no invocation is under way (each ends within the store's bound).
    async fn drained(&self) {
        let mut count = self.0.subscribe();
        drop(count.wait_for(|count| *count == 0).await);
    }
}

/// One invocation under way, until dropped.
struct Counted(Arc<watch::Sender<usize>>);

impl Counted {
    fn new(count: &Arc<watch::Sender<usize>>) -> Self {
        count.send_modify(|count| *count += 1);
        Counted(Arc::clone(count))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

/// Registers the extension (before the runtime's first poll ends init); on
/// SIGTERM, waits for the invocations in flight, writes the metrics, exits.
pub async fn write_metrics_at_shutdown(metrics: Arc<Metrics>, in_flight: InFlight) {
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => drop(tokio::spawn(async move {
            terminate.recv().await;
            in_flight.drained().await;
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
