use std::process::ExitCode;
use std::sync::Arc;

use lambda::configuration::Settings;
use lambda::{adapter, init, shutdown, telemetry};
use lambda_http::{run, service_fn, Error};
use shared::telemetry::TelemetrySettings;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
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
    shutdown::write_metrics_at_shutdown(Arc::clone(handler.metrics())).await;
    let served = run(service_fn(|request| {
        let handler = &handler;
        async move { Ok::<_, Error>(adapter::serve(handler, request).await) }
    }))
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %shared::error::Chain(&*error), "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
