//! The HTTP stack under ec2-server alone: hyper's HTTP/1 on one tokio
//! current_thread runtime, with no framework, no time limits, no logs.
//! `GET /` answers the seed, `POST /` with `{"num": N}` stores `N`;
//! anything else gets 404.
//!
//!     cargo run --release -p reference-servers --bin bare-hyper -- --port PORT

use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;

async fn answer(seed: &AtomicI64, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let status = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => StatusCode::OK,
        (&Method::POST, "/") => match request.into_body().collect().await {
            Ok(body) => {
                match serde_json::from_slice::<reference_servers::SeedInput>(&body.to_bytes()) {
                    Ok(input) => {
                        seed.store(input.num, Ordering::Relaxed);
                        StatusCode::OK
                    }
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }
            Err(_) => StatusCode::BAD_REQUEST,
        },
        _ => StatusCode::NOT_FOUND,
    };
    let mut response = Response::new(Full::new(Bytes::from(
        seed.load(Ordering::Relaxed).to_string(),
    )));
    *response.status_mut() = status;
    response
}

fn main() -> std::io::Result<()> {
    let port = reference_servers::port_argument();
    let seed = Arc::new(AtomicI64::new(0));
    let service = service_fn(move |request| {
        let seed = Arc::clone(&seed);
        async move { Ok::<_, Infallible>(answer(&seed, request).await) }
    });
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(reference_servers::serve(port, service))
}
