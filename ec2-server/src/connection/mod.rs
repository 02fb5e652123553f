//! One client connection: hyper's HTTP/1 state machine, with a limit per
//! phase against slow, idle and oversized clients:
//!
//! - idle: `idle_timeout`, then a quiet close (hyper's header timer would
//!   run here too, and a balancer keeps idle connections for 60 s);
//! - head (from its first byte, or the accept): `header_read_timeout`, so a
//!   silent connection does not hold its slot for the idle limit;
//! - body: `body_read_timeout` (408); handling: the store bounds its calls.
//!
//! A head over [`MAX_HEADER_BYTES`] gets a JSON `431` (hyper's is bare).
//! Closing lingers, as nginx does, so a reset does not destroy a response
//! sent before the body was read.

mod body;
mod state;
mod stream;

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::header::EXPECT;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use shared::telemetry::log::TRACE_HEADER;
use shared::telemetry::{CurrentRequest, Metrics, RequestKeys};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

pub use self::body::DeadlineBody;
use self::state::ConnectionState;
use self::stream::WatchedStream;
use crate::request;

/// The time limits of a connection's phases.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    /// The longest a connection's timer sleeps between looks at its phase.
    fn shortest(&self) -> Duration {
        self.header_read_timeout.min(self.idle_timeout)
    }
}

/// How long a closing connection discards what the client still sends.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// The largest request head read, in bytes, as nginx's default (an ALB
/// allows 64 KiB of headers).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// hyper's read buffer limit: above [`MAX_HEADER_BYTES`], so ours answers first.
pub const READ_BUFFER_BYTES: usize = MAX_HEADER_BYTES + 8 * 1024;

/// Serves one accepted connection until the client closes it, a limit runs
/// out, or `drain` is cancelled and the request under way is answered.
pub async fn serve<S, B>(
    stream: TcpStream,
    service: S,
    limits: ConnectionLimits,
    lame_duck: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    store_may_fail: bool,
    drain: CancellationToken,
) where
    S: Service<Request<DeadlineBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + From<Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Only where a line can be written for a request (at debug, or with a
    // store that can fail) are its keys made and its lines scoped.
    let keyed = store_may_fail || tracing::enabled!(tracing::Level::DEBUG);
    let current = keyed.then(Arc::<CurrentRequest>::default);
    let state = Arc::new(ConnectionState::new(metrics, current.clone()));
    let io = TokioIo::new(WatchedStream::new(stream, Arc::clone(&state), limits));
    let exchange = Exchange {
        service,
        lame_duck,
        state: Arc::clone(&state),
        body_read_timeout: limits.body_read_timeout,
    };
    let hyper_service = hyper::service::service_fn(move |request| exchange.answer(request));
    let mut connection = pin!(hyper::server::conn::http1::Builder::new()
        // The stream's limits replace hyper's own header timer.
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES)
        .serve_connection(io, hyper_service));
    let ended = scoped(current, async {
        tokio::select! {
            ended = connection.as_mut() => ended,
            () = drain.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    })
    .await;
    if let Err(error) = ended {
        tracing::debug!(error = %shared::error::Chain(&error), "connection ended with an error");
    }
}

/// How each request of one connection is answered.
struct Exchange<S> {
    /// The routes, and behind them the shared handler.
    service: S,
    /// Set while the server shuts down: answers then close their connection.
    lame_duck: Arc<AtomicBool>,
    /// What the connection is doing, shared with its stream.
    state: Arc<ConnectionState>,
    /// How long a request's body may take to arrive.
    body_read_timeout: Duration,
}

impl<S, B> Exchange<S>
where
    S: Service<Request<DeadlineBody>, Response = Response<B>, Error = Infallible> + Clone,
    B: From<Bytes>,
{
    /// Decides at once what the transport refuses itself, then answers.
    fn answer(
        &self,
        request: Request<Incoming>,
    ) -> impl Future<Output = Result<Response<B>, Infallible>> {
        self.state.request_started(|| keys_of(&request));
        let lame_duck = self.lame_duck.load(Ordering::Relaxed);
        let has_body = !request.body().is_end_stream();
        let expects_continue = has_body && request.headers().contains_key(EXPECT);
        let refused = request::refusal(&request, has_body, lame_duck);
        let method = request.method().clone();
        let unread_to = has_body.then(|| Arc::clone(&self.state));
        let request =
            request.map(|body| DeadlineBody::new(body, self.body_read_timeout, unread_to));
        let mut service = self.service.clone();
        let state = Arc::clone(&self.state);
        async move {
            let answered = match refused {
                Some(refused) => {
                    // Its body, unread, goes to the state before the check below.
                    drop(request);
                    Ok(refused.into_response().map(B::from))
                }
                None => {
                    // Pinned in place: the handler's future is large, and
                    // moved into the panic catcher it would be copied.
                    let handling = pin!(service.call(request));
                    let caught = AssertUnwindSafe(handling).catch_unwind().await;
                    caught.map(|Ok(response)| response)
                }
            };
            let unread = has_body.then(|| state.take_unread()).flatten();
            let response = match (answered, unread) {
                // The common case: the body (if any) read, not shutting down.
                (Ok(response), None) if !lame_duck => response,
                // Boxed, so that its state does not grow every request's
                // future, which hyper moves into place.
                (answered, unread) => {
                    Box::pin(request::reuse_or_close(
                        answered,
                        unread,
                        expects_continue,
                        lame_duck,
                    ))
                    .await
                }
            };
            state.response_ready(&method, response.status());
            Ok(response)
        }
    }
}

/// `task`, its lines carrying the keys of the request under way, if kept.
fn scoped<F: Future>(
    current: Option<Arc<CurrentRequest>>,
    task: F,
) -> impl Future<Output = F::Output> {
    match current {
        Some(current) => Either::Left(current.scope(task)),
        None => Either::Right(task),
    }
}

/// The keys of a request's lines: its trace header. Scanning the few names
/// is cheaper than a lookup, which hashes.
fn keys_of<B>(request: &Request<B>) -> RequestKeys {
    let mut headers = request.headers().iter();
    let trace_header = headers.find(|(name, _)| **name == TRACE_HEADER);
    RequestKeys::new(
        trace_header.map(|(_, value)| value.clone()),
        None,
        Vec::new(),
    )
}
