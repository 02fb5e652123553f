use std::process::ExitCode;
use std::sync::Arc;

use lambda::configuration::Settings;
use lambda::shutdown::{self, InFlight};
use lambda::{adapter, init, telemetry};
use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::lambda_runtime::Runtime;
use lambda_http::tower::layer::layer_fn;
use lambda_http::{service_fn, Adapter, Error};
use shared::telemetry::TelemetrySettings;

fn main() -> ExitCode {
    match tokio_runtime() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Managed Instances give one environment several invocations at once:
/// worker threads on every vCPU then; classic Lambda gives one at a time,
/// served on one thread. `run_concurrent` reads the same variable.
fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let slots = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok();
    let mut builder = match slots.and_then(|slots| slots.parse::<u32>().ok()) {
        Some(slots) if slots > 1 => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build()
}

/// One invocation at a time, or as many at once as Lambda Managed Instances
/// give this environment (`AWS_LAMBDA_MAX_CONCURRENCY`, which
/// `run_concurrent` reads): one binary for both.
async fn serve() -> ExitCode {
    let settings = Settings::from_env();
    let service = match &settings {
        Ok(settings) => settings.shared.telemetry.service.clone(),
        Err(_) => TelemetrySettings::default().service,
    };
    telemetry::init(&service);
    // A failed init has logged its one JSON line saying why; printing the
    // error again (as returning it would) adds a line that is not JSON.
    let Ok(handler) = init(settings).await else {
        return ExitCode::FAILURE;
    };
    let handler = Arc::new(handler);
    let in_flight = InFlight::default();
    shutdown::write_metrics_at_shutdown(Arc::clone(handler.metrics()), in_flight.clone()).await;
    let answer = service_fn(move |request| {
        let handler = Arc::clone(&handler);
        async move { Ok::<_, Error>(adapter::serve(&handler, request).await) }
    });
    let runtime = Runtime::new(Adapter::from(answer))
        .layer(TracingLayer::new())
        .layer(layer_fn(|runtime_api_calls| {
            in_flight.track(runtime_api_calls)
        }));
    match runtime.run_concurrent().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %shared::error::Chain(&*error), "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
