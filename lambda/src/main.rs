use std::process::ExitCode;

use lambda::{adapter, init, telemetry};
use lambda_http::{run, service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init();
    // A failed init has logged its one JSON line saying why; printing the
    // error again (as returning it would) adds a line that is not JSON.
    let Ok(handler) = init().await else {
        return ExitCode::FAILURE;
    };
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
