//! A copy of a service with one defect, made by an HTTP proxy that changes
//! what passes through it: for showing that a test of the service's
//! answers (schemathesis from `docs/openapi.yaml`) catches that defect; and
//! a path to DynamoDB with one ([`JoinedReadsProxy`]), for showing that the
//! consistency check catches it in a binary that cannot be changed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contract::Endpoint;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

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

/// A DynamoDB answer, kept to be given again.
#[derive(Clone)]
struct KeptAnswer(StatusCode, http::HeaderMap, Bytes);

/// The answer of the `GetItem` under way, as the calls that joined it wait.
type ReadUnderWay = tokio::sync::watch::Receiver<Option<KeptAnswer>>;

/// A path to DynamoDB whose `GetItem` calls join the one already under way,
/// if any (plain single-flight, each answer held 100 ms before it is given):
/// a GET may then be answered by a read sent before it arrived, which may
/// predate a write acknowledged before it. Stops serving when dropped.
pub struct JoinedReadsProxy(HttpProxy);

impl JoinedReadsProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let under_way: Arc<Mutex<Option<ReadUnderWay>>> = Arc::default();
        JoinedReadsProxy(
            HttpProxy::start(target, move |upstream, parts, body| {
                let under_way = Arc::clone(&under_way);
                async move {
                    let is_read = (parts.headers.get("x-amz-target"))
                        .is_some_and(|target| target.as_bytes().ends_with(b".GetItem"));
                    match is_read {
                        true => joined(&upstream, &parts, body, &under_way).await,
                        false => forward(&upstream, &parts, body).await,
                    }
                }
            })
            .await,
        )
    }

    pub fn url(&self) -> String {
        self.0.url()
    }
}

async fn joined(
    upstream: &Endpoint,
    parts: &Parts,
    body: Bytes,
    under_way: &Mutex<Option<ReadUnderWay>>,
) -> Response<Full<Bytes>> {
    let joining = shared::lock(under_way).clone();
    let answer = match joining {
        Some(mut answer) => answer
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|a| a.clone()),
        None => None,
    };
    let answer = match answer {
        Some(answer) => answer,
        None => {
            let (sender, answer) = tokio::sync::watch::channel(None);
            *shared::lock(under_way) = Some(answer);
            let response = forward(upstream, parts, body).await;
            let (head, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let kept = KeptAnswer(head.status, head.headers, body);
            tokio::time::sleep(Duration::from_millis(100)).await;
            *shared::lock(under_way) = None;
            sender.send_replace(Some(kept.clone()));
            kept
        }
    };
    let mut response = Response::new(Full::new(answer.2));
    *response.status_mut() = answer.0;
    *response.headers_mut() = answer.1;
    response
}
