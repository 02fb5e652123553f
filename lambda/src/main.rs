use lambda::{adapter, init, telemetry};
use lambda_http::{run, service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let handler = init().await?;
    run(service_fn(|request| {
        let handler = &handler;
        async move { Ok::<_, Error>(adapter::serve(handler, request).await) }
    }))
    .await
}
