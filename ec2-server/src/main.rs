use std::process::ExitCode;

use ec2_server::configuration::Settings;
use ec2_server::startup::{shutdown_signal, Application};
use ec2_server::telemetry;
use shared::error::Chain;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::load();
    if let Err(error) = telemetry::init(
        &settings.log_level,
        settings.log_format,
        &settings.shared.telemetry.service,
    ) {
        eprintln!("ec2-server: {}", Chain(&error));
        return ExitCode::from(2);
    }
    let application = match Application::build(&settings).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(error = %Chain(&error), "cannot start");
            return ExitCode::FAILURE;
        }
    };
    ec2_server::startup::log_configuration(&application);
    application.run_until_stopped(shutdown_signal()).await;
    ExitCode::SUCCESS
}
