//! A copy of a service with one defect, made by an HTTP proxy that changes
//! what passes through it: for showing that a test of the service's
//! answers (schemathesis from `docs/openapi.yaml`) catches that defect; and
//! a path to DynamoDB with one ([`JoinedReadsProxy`]), for showing that the
//! consistency check catches it in a binary that cannot be changed.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use contract::Endpoint;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::task::JoinHandle;

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

/// Each answer of the proxy's own reads, as it is given.
type ReadAnswers = Arc<tokio::sync::watch::Sender<Option<KeptAnswer>>>;

/// How often the proxy sends a read of its own.
const PERIOD: Duration = Duration::from_millis(20);

/// How long after it was sent each of the proxy's reads is answered.
const HOLD: Duration = Duration::from_millis(100);

/// A path to DynamoDB that keeps reads of its own under way, one sent
/// every 20 ms and each answered 100 ms after it was sent, and answers
/// every `GetItem` it carries with the oldest one under way when it arrives
/// (single-flight, where reads overlap): a GET may then be answered by a
/// read sent before it, which may predate a write acknowledged before it.
/// Joining only its callers' reads would seldom show it: their reads, each
/// sent one at a time, fall into step with the reads they join, so that a
/// joined read is hardly older than the caller's own. Stops when dropped.
pub struct JoinedReadsProxy {
    proxy: HttpProxy,
    /// Sends the reads; started by the first `GetItem`, which it repeats.
    reader: Arc<OnceLock<JoinHandle<()>>>,
}

impl JoinedReadsProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let reader: Arc<OnceLock<JoinHandle<()>>> = Arc::default();
        let answers: ReadAnswers = Arc::new(tokio::sync::watch::channel(None).0);
        let proxy = HttpProxy::start(target, {
            let reader = Arc::clone(&reader);
            move |upstream, parts, body| {
                let (reader, answers) = (Arc::clone(&reader), Arc::clone(&answers));
                async move {
                    let is_read = (parts.headers.get("x-amz-target"))
                        .is_some_and(|target| target.as_bytes().ends_with(b".GetItem"));
                    if !is_read {
                        return forward(&upstream, &parts, body).await;
                    }
                    let mut under_way = answers.subscribe();
                    reader.get_or_init(|| {
                        tokio::spawn(read_again_and_again(upstream, parts, body, answers))
                    });
                    joined(&mut under_way).await
                }
            }
        })
        .await;
        JoinedReadsProxy { proxy, reader }
    }

    pub fn url(&self) -> String {
        self.proxy.url()
    }
}

impl Drop for JoinedReadsProxy {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.get() {
            reader.abort();
        }
    }
}

/// Sends `parts` and `body` upstream every [`PERIOD`], giving each answer
/// to `answers` [`HOLD`] after its read was sent.
async fn read_again_and_again(upstream: Endpoint, parts: Parts, body: Bytes, answers: ReadAnswers) {
    let (upstream, parts) = (Arc::new(upstream), Arc::new(parts));
    let mut under_way = tokio::task::JoinSet::new();
    let mut every = tokio::time::interval(PERIOD);
    loop {
        every.tick().await;
        while under_way.try_join_next().is_some() {}
        let answered_at = tokio::time::Instant::now() + HOLD;
        let (upstream, parts) = (Arc::clone(&upstream), Arc::clone(&parts));
        let (body, answers) = (body.clone(), Arc::clone(&answers));
        under_way.spawn(async move {
            let (head, answer) = forward(&upstream, &parts, body).await.into_parts();
            let answer = answer
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            tokio::time::sleep_until(answered_at).await;
            answers.send_replace(Some(KeptAnswer(head.status, head.headers, answer)));
        });
    }
}

/// The next answer of the proxy's reads after `under_way` was made: that of
/// the oldest read under way then.
async fn joined(
    under_way: &mut tokio::sync::watch::Receiver<Option<KeptAnswer>>,
) -> Response<Full<Bytes>> {
    let answer = match under_way.changed().await {
        Ok(()) => under_way.borrow().clone(),
        Err(_) => None,
    };
    let Some(KeptAnswer(status, headers, body)) = answer else {
        let mut response = Response::new(Full::new(Bytes::from("the proxy's reader stopped")));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        return response;
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
