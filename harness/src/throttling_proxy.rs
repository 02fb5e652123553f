//! DynamoDB at its rate limit: a proxy in front of DynamoDB Local that
//! counts the reads (`GetItem`) and writes (`PutItem`) it passes and, once
//! the second's budget of either is spent, refuses the rest of that second
//! as DynamoDB does: `400` with a `ThrottlingException`, the request not
//! applied. `GET /counts` answers the counts as JSON, for `bench/run`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;

use crate::http_proxy::{forward, HttpProxy};

/// Requests passed per second of each kind; `None`: no limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Budget {
    pub reads_per_second: Option<u64>,
    pub writes_per_second: Option<u64>,
}

/// What the proxy passed and refused since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub reads: u64,
    pub refused_reads: u64,
    pub writes: u64,
    pub refused_writes: u64,
}

/// The proxy; stops serving when dropped.
pub struct ThrottlingProxy {
    proxy: HttpProxy,
    limiter: Arc<Limiter>,
}

impl ThrottlingProxy {
    /// In front of DynamoDB (Local) at `target`, on a free loopback port.
    pub async fn start(target: SocketAddr, budget: Budget) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        Self::serve(listener, target, budget)
    }

    /// The same on `listener`.
    pub fn serve(listener: TcpListener, target: SocketAddr, budget: Budget) -> Self {
        let limiter = Arc::new(Limiter::new(budget));
        let rules = Arc::clone(&limiter);
        let proxy = HttpProxy::serve(listener, target, move |upstream, parts, body| {
            let limiter = Arc::clone(&rules);
            async move {
                if parts.method == Method::GET && parts.uri.path() == "/counts" {
                    return json(StatusCode::OK, &limiter.counts().to_json());
                }
                match limiter.admit(&parts) {
                    true => forward(&upstream, &parts, body).await,
                    false => throttled(),
                }
            }
        });
        ThrottlingProxy { proxy, limiter }
    }

    /// The endpoint to configure instead of DynamoDB's.
    pub fn endpoint(&self) -> String {
        self.proxy.url()
    }

    pub fn counts(&self) -> Counts {
        self.limiter.counts()
    }
}

impl Counts {
    fn to_json(self) -> String {
        serde_json::json!({
            "reads": self.reads,
            "refused_reads": self.refused_reads,
            "writes": self.writes,
            "refused_writes": self.refused_writes,
        })
        .to_string()
    }
}

/// The budget of the current second, and the counts.
struct Limiter {
    budget: Budget,
    started: Instant,
    state: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    second: u64,
    reads: u64,
    writes: u64,
    counts: Counts,
}

impl Limiter {
    fn new(budget: Budget) -> Self {
        Limiter {
            budget,
            started: Instant::now(),
            state: Mutex::default(),
        }
    }

    fn counts(&self) -> Counts {
        self.state.lock().expect("the proxy's counts").counts
    }

    /// Whether the request passes; counts it either way. Requests other
    /// than `GetItem` and `PutItem` always pass, uncounted.
    fn admit(&self, parts: &Parts) -> bool {
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let is_read = match target.rsplit('.').next() {
            Some("GetItem") => true,
            Some("PutItem") => false,
            _ => return true,
        };
        let second = self.started.elapsed().as_secs();
        let mut window = self.state.lock().expect("the proxy's counts");
        if window.second != second {
            (window.second, window.reads, window.writes) = (second, 0, 0);
        }
        let Window {
            reads,
            writes,
            counts,
            ..
        } = &mut *window;
        let (in_window, limit) = match is_read {
            true => (reads, self.budget.reads_per_second),
            false => (writes, self.budget.writes_per_second),
        };
        let refused = limit.is_some_and(|limit| *in_window >= limit);
        *in_window += u64::from(!refused);
        *match (is_read, refused) {
            (true, false) => &mut counts.reads,
            (true, true) => &mut counts.refused_reads,
            (false, false) => &mut counts.writes,
            (false, true) => &mut counts.refused_writes,
        } += 1;
        !refused
    }
}

/// DynamoDB's answer to a request over the rate it allows.
fn throttled() -> Response<Full<Bytes>> {
    let mut response = json(
        StatusCode::BAD_REQUEST,
        r#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
    );
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

fn json(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
