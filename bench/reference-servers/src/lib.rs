//! Reference servers for the benchmarks (bench/README.md): the stack
//! ec2-server is built on, with nothing of ec2-server's own, so that
//! `bench/instructions` and `bench/run` show what the stack itself costs.
//!
//! - `bare-hyper`: hyper's HTTP/1 on one current_thread runtime;
//! - `bare-warp`: warp's filters over hyper, on the multi-thread runtime.

/// `--port P`, as ec2-server takes it (8080 without it); other arguments
/// are ignored.
pub fn port_argument() -> u16 {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .windows(2)
        .find(|pair| pair[0] == "--port")
        .and_then(|pair| pair[1].parse().ok())
        .unwrap_or(8080)
}

/// A POST's body, `{"num": N}`, as both servers read it.
#[derive(serde::Deserialize)]
pub struct SeedInput {
    pub num: i64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Accepts on loopback `port` and serves each connection with hyper's
/// HTTP/1 and a clone of `service`, `TCP_NODELAY` on as ec2-server sets it;
/// on whichever tokio runtime the caller runs.
pub async fn serve<S, B>(port: u16, service: S) -> std::io::Result<()>
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let service = service.clone();
        tokio::spawn(async move {
            // A client that goes away mid-request is not this benchmark's
            // business.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
