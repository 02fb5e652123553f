//! A copy of a service with one defect, made by an HTTP proxy that changes
//! what passes through it: for showing that a test of the service's
//! answers (schemathesis from `docs/openapi.yaml`) catches that defect.

use std::net::SocketAddr;

use bytes::Bytes;
use contract::Endpoint;
use http::request::Parts;
use http::Response;
use http_body_util::Full;

use crate::http_proxy::{forward, HttpProxy};

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
pub struct MutantProxy(HttpProxy);

impl MutantProxy {
    /// Serves on a free loopback port what `target` answers, with `defect`.
    pub async fn start(target: SocketAddr, defect: Defect) -> Self {
        MutantProxy(
            HttpProxy::start(target, move |upstream, parts, body| async move {
                with_defect(&upstream, parts, body, defect).await
            })
            .await,
        )
    }

    pub fn url(&self) -> String {
        self.0.url()
    }
}

async fn with_defect(
    upstream: &Endpoint,
    parts: Parts,
    body: Bytes,
    defect: Defect,
) -> Response<Full<Bytes>> {
    if matches!(defect, Defect::ServerErrorOnStringNum)
        && parts.method == http::Method::POST
        && serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|value| value.get("num").is_some_and(serde_json::Value::is_string))
    {
        // The server's own last-resort answer, given where it must not be.
        return shared::ApiError::Internal.into_response().map(Full::new);
    }
    let mut response = forward(upstream, &parts, body).await;
    if matches!(defect, Defect::NoCacheControl) {
        response.headers_mut().remove("cache-control");
    }
    response
}
