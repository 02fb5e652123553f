//! The floor of ec2-server's own stack: warp's filters as a service over
//! hyper's HTTP/1, on tokio's multi-thread runtime, as ec2-server runs them,
//! with nothing else: no time limits, no connection cap, no logs, no store.
//! `GET /` answers the seed, `POST /` with `{"num": N}` stores `N`.
//!
//!     cargo run --release -p reference-servers --bin bare-warp -- --port PORT

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use tower_service::Service;
use warp::Filter;

fn answer(status: StatusCode, seed: &AtomicI64) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(seed.load(Ordering::Relaxed).to_string()));
    *response.status_mut() = status;
    response
}

fn main() -> std::io::Result<()> {
    let port = reference_servers::port_argument();
    let seed = Arc::new(AtomicI64::new(0));
    let get = {
        let seed = Arc::clone(&seed);
        warp::get()
            .and(warp::path::end())
            .map(move || answer(StatusCode::OK, &seed))
    };
    let post = warp::post()
        .and(warp::path::end())
        .and(warp::body::bytes())
        .map(move |body: Bytes| {
            let status = match serde_json::from_slice::<reference_servers::SeedInput>(&body) {
                Ok(input) => {
                    seed.store(input.num, Ordering::Relaxed);
                    StatusCode::OK
                }
                Err(_) => StatusCode::BAD_REQUEST,
            };
            answer(status, &seed)
        });
    let service = warp::service(get.or(post));
    // warp's service is tower's (`call(&mut self)`); hyper calls through
    // `&self`, so each request calls a clone.
    let service = hyper::service::service_fn(move |request| {
        let mut service = service.clone();
        async move { service.call(request).await }
    });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(reference_servers::serve(port, service))
}
