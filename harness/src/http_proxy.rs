//! An HTTP/1.1 proxy on loopback that hands each whole request to a rule,
//! which answers it itself or [`forward`]s it: the one accept loop of the
//! stand-ins that change what a real part answers ([`crate::mutant_proxy`],
//! [`crate::throttling_proxy`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use contract::Endpoint;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The proxy; stops serving when dropped.
pub struct HttpProxy {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpProxy {
    /// Serves on `listener` (loopback), answering each request with what
    /// `rule` makes of it, given the upstream at `target`.
    pub fn serve<R, F>(listener: TcpListener, target: SocketAddr, rule: R) -> Self
    where
        R: Fn(Endpoint, Parts, Bytes) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let upstream = Endpoint::new(format!("http://{target}"));
        Self::answer_each(listener, move |parts, body| {
            rule(upstream.clone(), parts, body)
        })
    }

    /// Serves on `listener` (loopback), answering each whole request with
    /// what `answer` makes of it: for stand-ins with no upstream.
    pub fn answer_each<A, F>(listener: TcpListener, answer: A) -> Self
    where
        A: Fn(Parts, Bytes) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let address = listener.local_addr().expect("the proxy's address");
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let answer = answer.clone();
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await.map(|body| body.to_bytes());
                                Ok::<_, Infallible>(answer(parts, body.unwrap_or_default()).await)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .await;
                });
            }
        });
        HttpProxy { address, task }
    }

    /// [`HttpProxy::serve`] on a free loopback port.
    pub async fn start<R, F>(target: SocketAddr, rule: R) -> Self
    where
        R: Fn(Endpoint, Parts, Bytes) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        Self::serve(listener, target, rule)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What `upstream` answers to the request; `502` if it does not.
pub async fn forward(upstream: &Endpoint, parts: &Parts, body: Bytes) -> Response<Full<Bytes>> {
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
    response
}
