//! One client connection: hyper's HTTP/1 state machine plus the time limits
//! that protect the server from slow or idle clients.
//!
//! hyper has a single `header_read_timeout`, and it also runs while an idle
//! keep-alive connection waits for its next request. A load balancer keeps
//! idle connections to its targets for 60 s and expects the target to keep
//! them longer; a slow-client limit must be much shorter than that. So the
//! limits are kept here instead, per phase of the connection:
//!
//! - idle (between requests): `idle_timeout`, then a graceful close;
//! - reading headers (from the first byte of a request, or from the accept
//!   for a connection's first request, to the handler being called):
//!   `header_read_timeout`, then the connection is dropped. A connection
//!   that never sends a byte is a slow client, not an idle one: otherwise
//!   silent connections hold their slots for the idle limit;
//! - reading the body: `body_read_timeout`, enforced by [`DeadlineBody`],
//!   which the handler answers with 408;
//! - handling: no limit here; the store bounds its own calls.
//!
//! A request head larger than [`MAX_HEADER_BYTES`] is answered `431` and the
//! connection closed. hyper's own buffer limit would answer a bare `431`
//! with no JSON body and no `Connection: close`, so the limit is enforced
//! here, below hyper, with hyper's buffer limit set above it as a backstop.
//! It bounds the memory one connection can make the server hold.
//!
//! Closing is "lingering", as nginx does it: when a response was sent before
//! the request body was read (a 413, a 408), the client may still be
//! writing; closing at once would make the kernel reset the connection and
//! the client lose the response. So the socket sends FIN, then reads and
//! discards for up to [`LINGER_TIME`] until the client closes its side.
//!
//! - [`state`] — the phase, its clock and an unread body;
//! - [`stream`] — the socket: first bytes, the head limit, the linger;
//! - [`body`] — the body-read limit and the end of each response.

mod body;
mod state;
mod stream;

use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::EXPECT;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

pub use self::body::DeadlineBody;
use self::body::FinishOnDrop;
use self::state::{ConnectionState, Phase};
use self::stream::WatchedStream;
use crate::request;

/// The time limits of a connection; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// The longest a closing connection keeps reading what the client still
/// sends, so it can read the response before the connection goes away.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// The largest request head (request line and headers) read, in bytes:
/// nginx allows 32 KiB by default (4 × 8 KiB buffers), an ALB 64 KiB of
/// headers. Longer heads get `431`.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// hyper's read buffer limit: above [`MAX_HEADER_BYTES`], so that this
/// module's limit answers first, and it bounds the buffer a connection holds.
pub const READ_BUFFER_BYTES: usize = MAX_HEADER_BYTES + 8 * 1024;

/// Serves one accepted connection until the client closes it, a limit runs
/// out, or a drain requested through `drain` completes. Each request is
/// answered as [`request::refusal`] and [`request::reuse_or_close`] say, and
/// differently while `lame_duck` is set.
pub async fn serve<S, B>(
    stream: TcpStream,
    service: S,
    limits: ConnectionLimits,
    lame_duck: Arc<AtomicBool>,
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
    let state = Arc::new(ConnectionState::new());
    let io = TokioIo::new(WatchedStream::new(stream, Arc::clone(&state)));
    let exchange = Exchange {
        service,
        lame_duck,
        state: Arc::clone(&state),
        body_read_timeout: limits.body_read_timeout,
    };
    let hyper_service = hyper::service::service_fn(move |request| exchange.answer(request));
    let connection = pin!(hyper::server::conn::http1::Builder::new()
        // The watchdog's limits replace hyper's own header timer.
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES)
        .serve_connection(io, hyper_service));
    Watchdog { state, limits }.watch(connection, drain).await;
}

/// How each request of one connection is answered.
struct Exchange<S> {
    /// The routes, and behind them the shared handler.
    service: S,
    /// Set while the server shuts down: answers then close their connection.
    lame_duck: Arc<AtomicBool>,
    /// What the connection is doing, shared with its [`Watchdog`].
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
    ) -> impl Future<Output = Result<Response<FinishOnDrop<B>>, Infallible>> {
        self.state.request_started();
        let lame_duck = self.lame_duck.load(Ordering::Relaxed);
        let has_body = !request.body().is_end_stream();
        let expects_continue = has_body && request.headers().contains_key(EXPECT);
        let refused = request::refusal(&request, has_body, lame_duck);
        let unread_to = has_body.then(|| Arc::clone(&self.state));
        let body_read_timeout = self.body_read_timeout;
        let request = request.map(|body| DeadlineBody::new(body, body_read_timeout, unread_to));
        let mut service = self.service.clone();
        let state = Arc::clone(&self.state);
        async move {
            let answered = match refused {
                Some(refused) => {
                    // Its body, unread, goes to `unread` before the check below.
                    drop(request);
                    Ok(refused.into_response().map(B::from))
                }
                None => {
                    // The handler's future is built here, in place: it is
                    // large, and built outside it would be copied in.
                    let mut handling = pin!(service.call(request));
                    std::future::poll_fn(|cx| request::poll_catching_panics(handling.as_mut(), cx))
                        .await
                }
            };
            let unread = has_body.then(|| state.unread.take()).flatten();
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
            Ok(response.map(|inner| FinishOnDrop { inner, state }))
        }
    }
}

/// Holds one connection to its time limits and ends it on a drain.
struct Watchdog {
    /// What the connection is doing, as its [`Exchange`] and stream report it.
    state: Arc<ConnectionState>,
    limits: ConnectionLimits,
}

impl Watchdog {
    /// Drives `connection` until it ends, a limit runs out, or `drain`
    /// (asked for) completes.
    async fn watch<C, E>(&self, mut connection: Pin<&mut C>, drain: CancellationToken)
    where
        C: Future<Output = Result<(), E>> + GracefulShutdown,
        E: std::error::Error + 'static,
    {
        let mut draining = drain.is_cancelled();
        if draining {
            connection.as_mut().graceful_shutdown();
        }
        // One timer and one drain signal for the connection's whole life,
        // rather than new ones on every wake-up. The timer never sleeps
        // longer than the shortest limit, so a phase that starts while it is
        // armed (a request arriving on an idle connection) is checked before
        // its own limit runs out, and then exactly at it.
        let mut timer = pin!(sleep_until(
            self.next_check(self.state.deadline(&self.limits).1)
        ));
        let mut drain_requested = pin!(drain.cancelled());
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        let error = shared::error::Chain(&error);
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = timer.as_mut() => match self.on_timer(draining) {
                    Verdict::CheckAgainAt(at) => timer.as_mut().reset(at),
                    Verdict::CloseIdle { check_at } => {
                        connection.as_mut().graceful_shutdown();
                        draining = true;
                        timer.as_mut().reset(check_at);
                    }
                    Verdict::Drop => return,
                },
                () = drain_requested.as_mut(), if !draining => {
                    connection.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }

    /// What the connection's phase and its limit say when the timer fires.
    fn on_timer(&self, draining: bool) -> Verdict {
        let (phase, deadline) = self.state.deadline(&self.limits);
        if Instant::now() < deadline {
            return Verdict::CheckAgainAt(self.next_check(deadline));
        }
        match phase {
            Phase::Idle if !draining => {
                tracing::debug!("closing an idle connection");
                // Still idle at the next check: give up on it.
                Verdict::CloseIdle { check_at: deadline }
            }
            Phase::Idle => Verdict::Drop,
            Phase::ReadingHeaders => {
                tracing::debug!("client too slow sending request headers; disconnecting");
                Verdict::Drop
            }
            Phase::Handling => Verdict::CheckAgainAt(self.next_check(deadline)),
        }
    }

    /// When the timer next looks: at `deadline`, or sooner.
    fn next_check(&self, deadline: Instant) -> Instant {
        let longest_sleep = self
            .limits
            .header_read_timeout
            .min(self.limits.idle_timeout);
        deadline.min(Instant::now() + longest_sleep)
    }
}

/// What the watchdog does when its timer fires.
enum Verdict {
    /// Nothing is late: look again then.
    CheckAgainAt(Instant),
    /// Idle past its limit: ask it to close, and look again then.
    CloseIdle { check_at: Instant },
    /// Drop the connection.
    Drop,
}

/// A connection that can be asked to finish its request and close.
trait GracefulShutdown {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulShutdown for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}
