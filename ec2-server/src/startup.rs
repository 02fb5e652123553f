//! Building and running the server: bind, accept, drain on shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shared::error::Chain;
use shared::handler::InstanceName;
use shared::settings::TokenSource;
use shared::telemetry::Metrics;
use shared::{DynamoDbStore, MemoryStore, SeedHandler, Store, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::configuration::{Settings, WriteTokenError};
use crate::connection::{self, ConnectionLimits};
use crate::routes::seed_routes;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("cannot use the store")]
    Store(#[source] StoreError),
    #[error(transparent)]
    WriteToken(#[from] WriteTokenError),
}

/// A bound, ready-to-run server (tests bind port 0 and read its address).
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    handler: SeedHandler,
    settings: Settings,
    /// How POSTs are protected, for the start-up log.
    write_protection: &'static str,
}

impl Application {
    /// Builds the store the settings name, then binds.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let store = build_store(settings).await?;
        Self::build_with_store(settings, store).await
    }

    /// Binds with a store made by the caller (tests share one between servers).
    pub async fn build_with_store(
        settings: &Settings,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartupError> {
        let requested = SocketAddr::new(settings.address, settings.port);
        let bind_failed = |source| StartupError::Bind {
            address: requested,
            source,
        };
        let listener = TcpListener::bind(requested).await.map_err(bind_failed)?;
        let address = listener.local_addr().map_err(bind_failed)?;
        let write_token = settings.write_token()?;
        let write_protection = match &write_token {
            None => "off: anyone may POST",
            Some((_, TokenSource::Reference(_))) => "on: token from --write-token-file",
            Some((_, TokenSource::Variable(_))) => "on: token from SEED_WRITE_TOKEN",
        };
        let handler = SeedHandler::new(store)
            .with_telemetry(settings.shared.telemetry.clone())
            .with_instance_name(settings.shared.instance_name.clone())
            .with_write_token(write_token.map(|(token, _)| token));
        Ok(Application {
            listener,
            address,
            handler,
            settings: settings.clone(),
            write_protection,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then as a lame duck for the
    /// shutdown delay, then stops accepting and drains open connections for
    /// up to the shutdown timeout.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) {
        let settings = &self.settings;
        let limits = ConnectionLimits {
            header_read_timeout: settings.header_read_timeout,
            body_read_timeout: settings.body_read_timeout,
            idle_timeout: settings.idle_timeout,
        };
        let lame_duck = Arc::new(AtomicBool::new(false));
        let stop = pin!(lame_duck_then_stop(
            shutdown,
            settings.shutdown_delay,
            Arc::clone(&lame_duck)
        ));
        let metrics = Arc::clone(self.handler.metrics());
        let store_may_fail = self.handler.store().is_shared();
        let interval = settings.shared.telemetry.metrics_interval;
        let periodic_metrics = tokio::spawn(write_metrics_every(Arc::clone(&metrics), interval));
        let service = warp::service(seed_routes(self.handler));
        let drain = CancellationToken::new();
        let connections = TaskTracker::new();
        let serve = |stream: TcpStream, slot: OwnedSemaphorePermit| {
            let (service, drain, lame_duck, metrics) = (
                service.clone(),
                drain.clone(),
                Arc::clone(&lame_duck),
                Arc::clone(&metrics),
            );
            connections.spawn(async move {
                let fallible = store_may_fail;
                connection::serve(stream, service, limits, lame_duck, metrics, fallible, drain)
                    .await;
                drop(slot);
            });
        };
        tracing::info!(address = %self.address, "listening");
        accept_until(stop, &self.listener, settings.max_connections, serve).await;
        drop(self.listener);
        let shutdown_timeout = settings.shutdown_timeout;
        tracing::info!(timeout = ?shutdown_timeout, "shutting down: draining open connections");
        drain.cancel();
        connections.close();
        match tokio::time::timeout(shutdown_timeout, connections.wait()).await {
            Ok(_) => tracing::info!("all connections closed"),
            Err(_) => tracing::warn!("shutdown timeout reached; closing the remaining connections"),
        }
        // The last document, with every answer the drain sent.
        periodic_metrics.abort();
        metrics.write();
    }
}

/// Writes the metrics once per `interval`, while the server runs.
async fn write_metrics_every(metrics: Arc<Metrics>, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        metrics.write();
    }
}

/// Completes `delay` after `shutdown`, as a lame duck meanwhile: health
/// checks fail and answers close, so the balancer routes elsewhere first.
async fn lame_duck_then_stop(
    shutdown: impl Future<Output = ()>,
    delay: Duration,
    lame_duck: Arc<AtomicBool>,
) {
    shutdown.await;
    if !delay.is_zero() {
        lame_duck.store(true, Ordering::Relaxed);
        tracing::info!(?delay,
            "shutting down: failing health checks and closing connections after each response until the delay ends");
        tokio::time::sleep(delay).await;
    }
}

/// Hands each accepted connection to `serve` with a slot it holds until it
/// closes, until `stop`: past `max_connections`, clients wait in the backlog.
async fn accept_until(
    mut stop: Pin<&mut impl Future<Output = ()>>,
    listener: &TcpListener,
    max_connections: u32,
    serve: impl Fn(TcpStream, OwnedSemaphorePermit),
) {
    let slots = Arc::new(Semaphore::new(max_connections as usize));
    loop {
        let slot = tokio::select! {
            biased;
            () = stop.as_mut() => return,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = stop.as_mut() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
                }
                serve(stream, slot);
            }
            Err(error) => {
                // Out of file descriptors, say: back off rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Builds the configured store and checks it: a missing table, credential or
/// permission stops start-up; an unreachable store only warns, as it recovers.
pub async fn build_store(settings: &Settings) -> Result<Arc<dyn Store>, StartupError> {
    match settings.shared.dynamodb_table() {
        None => Ok(Arc::new(MemoryStore::new())),
        Some(table) => {
            let config = sdk_config_from_environment()
                .await
                .map_err(StartupError::Store)?;
            let store = DynamoDbStore::new(config, table, settings.shared.store_timeout);
            if settings.create_table {
                store
                    .create_table_if_missing()
                    .await
                    .map_err(StartupError::Store)?;
            }
            // One read (`GetItem`, the one permission the service has), so a
            // missing table, credential or permission stops start-up.
            match store.get().await {
                Ok(_) => {}
                Err(
                    error @ (StoreError::TableMissing(_)
                    | StoreError::AccessDenied(_)
                    | StoreError::Misconfigured(_)),
                ) => return Err(StartupError::Store(error)),
                Err(error) => tracing::warn!(error = %Chain(&error), table,
                    "DynamoDB is not answering yet; serving 503 until it does"),
            }
            Ok(Arc::new(store))
        }
    }
}

/// The SDK's configuration from its standard chain (the instance's role on EC2).
async fn sdk_config_from_environment() -> Result<aws_sdk_dynamodb::config::Builder, StoreError> {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::store::dynamodb::https_client())
        .load()
        .await;
    if shared.region().is_none() {
        return Err(StoreError::Misconfigured(shared::store::cause(
            "no AWS region is configured; set AWS_REGION (for example AWS_REGION=eu-west-1)",
        )));
    }
    Ok(aws_sdk_dynamodb::config::Builder::from(&shared))
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let mut terminate = match terminate {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
            let _ = interrupt.await;
            return;
        }
    };
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
}

/// Logs the configuration at start-up, and what the store means for users.
pub fn log_configuration(application: &Application) {
    let settings = &application.settings;
    tracing::info!(
        address = %application.address(),
        store = application.handler.store().kind(),
        table = settings.shared.dynamodb_table().unwrap_or("-"),
        instance_name = settings.shared.instance_name.as_ref().map_or("-", InstanceName::as_str),
        write_protection = application.write_protection,
        store_timeout = ?settings.shared.store_timeout,
        log_level = %settings.log_level,
        log_format = ?settings.log_format,
        header_read_timeout = ?settings.header_read_timeout,
        body_read_timeout = ?settings.body_read_timeout,
        idle_timeout = ?settings.idle_timeout,
        shutdown_delay = ?settings.shutdown_delay,
        shutdown_timeout = ?settings.shutdown_timeout,
        max_connections = settings.max_connections,
        version = env!("CARGO_PKG_VERSION"),
        "configuration"
    );
    if !application.handler.store().is_shared() {
        // Loud where a balancer may be in front, or instances are named.
        if application.address().ip().is_loopback() && settings.shared.instance_name.is_none() {
            tracing::info!(
                "the seed is kept in this process only: it is lost on exit and not shared with other instances"
            );
        } else {
            tracing::warn!(
                "the seed is kept in this process only: it is lost on exit, and behind a load balancer \
                 each instance answers its own seed; use a shared store (--store dynamodb) for more than one instance"
            );
        }
    }
}
