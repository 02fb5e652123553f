//! A copy of a service with one defect, made by an HTTP proxy that changes
//! what passes through it: for showing that a test of the service's
//! answers (schemathesis from `docs/openapi.yaml`) catches that defect.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use contract::Endpoint;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The defect the copy has.
#[derive(Debug, Clone, Copy)]
pub enum Defect {
    /// Every answer loses its `Cache-Control` header.
    NoCacheControl,
    /// A POST whose `num` is a JSON string is answered `500`, as a server
    /// would that took the string for a bug instead of a client's mistake.
    ServerErrorOnStringNum,
}

/// The proxy; stops serving when dropped.
pub struct MutantProxy {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MutantProxy {
    /// Serves on a free loopback port what `target` answers, with `defect`.
    pub async fn start(target: SocketAddr, defect: Defect) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let upstream = Endpoint::new(format!("http://{target}"));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let upstream = upstream.clone();
                        async move { Ok::<_, Infallible>(forward(&upstream, request, defect).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .await;
                });
            }
        });
        MutantProxy { address, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for MutantProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    upstream: &Endpoint,
    request: Request<Incoming>,
    defect: Defect,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    if matches!(defect, Defect::ServerErrorOnStringNum)
        && parts.method == http::Method::POST
        && serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|value| value.get("num").is_some_and(serde_json::Value::is_string))
    {
        // The server's own last-resort answer, given where it must not be.
        return shared::ApiError::Internal.into_response().map(Full::new);
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length" | "connection"))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let reply = match upstream
        .try_send(
            parts.method.as_str(),
            target,
            &headers,
            body,
            contract::client::REQUEST_LIMIT,
        )
        .await
    {
        Ok(reply) => reply,
        Err(failure) => {
            let mut response = Response::new(Full::new(Bytes::from(failure)));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    // The body is whole, so the length stays (a HEAD answer has only the
    // header to say it); how the connection goes on is the proxy's own.
    response.headers_mut().remove("transfer-encoding");
    response.headers_mut().remove("connection");
    if matches!(defect, Defect::NoCacheControl) {
        response.headers_mut().remove("cache-control");
    }
    response
}
