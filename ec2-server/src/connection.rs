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
//! - reading headers (from the first byte of a request to the handler being
//!   called): `header_read_timeout`, then the connection is dropped;
//! - reading the body: `body_read_timeout`, enforced by [`DeadlineBody`],
//!   which the handler answers with 408;
//! - handling: no limit here; the store bounds its own calls.
//!
//! Closing is "lingering", as nginx does it: when a response was sent before
//! the request body was read (a 413, a 408), the client may still be
//! writing; closing at once would make the kernel reset the connection and
//! the client lose the response. So the socket sends FIN, then reads and
//! discards for up to [`LINGER_TIME`] until the client closes its side.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use shared::BodyReadTimedOut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant, Sleep};

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

const IDLE: u8 = 0;
const READING_HEADERS: u8 = 1;
const HANDLING: u8 = 2;

/// What a connection is doing and since when, shared between the socket
/// wrapper, the service and the watchdog (all in the connection's one task).
struct Activity {
    phase: AtomicU8,
    since_millis: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: AtomicU8::new(IDLE),
            since_millis: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn now_millis(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn since(&self) -> Instant {
        self.origin + Duration::from_millis(self.since_millis.load(Ordering::Relaxed))
    }

    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.since_millis
                .store(self.now_millis(), Ordering::Relaxed);
            self.phase.store(READING_HEADERS, Ordering::Relaxed);
        }
    }

    fn request_started(&self) {
        self.phase.store(HANDLING, Ordering::Relaxed);
    }

    fn response_finished(&self) {
        self.since_millis
            .store(self.now_millis(), Ordering::Relaxed);
        self.phase.store(IDLE, Ordering::Relaxed);
    }

    /// When the current phase runs out, and what the phase is.
    fn deadline(&self, limits: &ConnectionLimits) -> (u8, Instant) {
        let phase = self.phase.load(Ordering::Relaxed);
        let deadline = match phase {
            IDLE => self.since() + limits.idle_timeout,
            READING_HEADERS => self.since() + limits.header_read_timeout,
            // Re-check now and then: the phase ends without waking us.
            _ => Instant::now() + limits.header_read_timeout.min(limits.idle_timeout),
        };
        (phase, deadline)
    }
}

/// Serves one accepted connection until the client closes it, a limit runs
/// out, or a drain requested through `shutdown` completes.
pub async fn serve<S, F, B>(
    stream: TcpStream,
    service: S,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Fn(Request<DeadlineBody>) -> F + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        activity: Arc::clone(&activity),
        closing: None,
    });
    let service_activity = Arc::clone(&activity);
    let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
        service_activity.request_started();
        let request = request.map(|body| DeadlineBody::new(body, limits.body_read_timeout));
        let activity = Arc::clone(&service_activity);
        let response = service(request);
        async move {
            let response = response.await;
            Ok::<_, std::convert::Infallible>(response.map(|body| FinishOnDrop {
                inner: body,
                activity,
            }))
        }
    });

    let mut connection = pin!(hyper::server::conn::http1::Builder::new()
        // The limits above replace hyper's own header timer.
        .header_read_timeout(None)
        .serve_connection(io, hyper_service));

    let mut draining = *shutdown.borrow();
    if draining {
        connection.as_mut().graceful_shutdown();
    }
    // One timer and one drain signal for the connection's whole life: making
    // them anew on every wake-up cost a timer registration and two waiter
    // list updates per request. The timer never sleeps longer than the
    // shortest limit, so a phase that starts while it is armed (a request
    // arriving on an idle connection) is checked before its own limit runs
    // out, and then exactly at it.
    let longest_sleep = limits.header_read_timeout.min(limits.idle_timeout);
    let next_check = |deadline: Instant| deadline.min(Instant::now() + longest_sleep);
    let mut timer = pin!(sleep_until(next_check(activity.deadline(&limits).1)));
    let mut drain_requested = pin!(shutdown.changed());
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = timer.as_mut() => {
                let (phase, deadline) = activity.deadline(&limits);
                if Instant::now() < deadline {
                    timer.as_mut().reset(next_check(deadline));
                    continue;
                }
                match phase {
                    IDLE if !draining => {
                        tracing::debug!("closing an idle connection");
                        connection.as_mut().graceful_shutdown();
                        draining = true;
                        // Still idle at the next check: give up on it.
                        timer.as_mut().reset(deadline);
                    }
                    IDLE => return,
                    READING_HEADERS => {
                        tracing::debug!("client too slow sending request headers; disconnecting");
                        return;
                    }
                    _ => timer.as_mut().reset(next_check(deadline)),
                }
            }
            changed = drain_requested.as_mut(), if !draining => {
                // A dropped sender means the server is gone: drain as well.
                let _ = changed;
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

/// The socket, reporting the first bytes of each request to the watchdog and
/// closing with a linger.
struct WatchedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
    closing: Option<Closing>,
}

struct Closing {
    fin_sent: bool,
    give_up: Pin<Box<Sleep>>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Sends FIN, then drains what the client still sends until it closes or
    /// [`LINGER_TIME`] passes. Errors end the linger: the socket is going away.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let closing = this.closing.get_or_insert_with(|| Closing {
            fin_sent: false,
            give_up: Box::pin(tokio::time::sleep(LINGER_TIME)),
        });
        if !closing.fin_sent {
            if let Err(error) = std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx)) {
                return Poll::Ready(Err(error));
            }
            closing.fin_sent = true;
        }
        let mut discard = [0u8; 8192];
        loop {
            if closing.give_up.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut discard);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A request body that fails with [`BodyReadTimedOut`] when the client has not
/// sent all of it within the limit. The clock starts with the request.
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Created only when the body is actually awaited: most requests are GETs.
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        DeadlineBody {
            inner,
            deadline: Instant::now() + limit,
            timer: None,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimedOut)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the watchdog when the response is done, which
/// starts the connection's idle time.
struct FinishOnDrop<B> {
    inner: B,
    activity: Arc<Activity>,
}

impl<B> Drop for FinishOnDrop<B> {
    fn drop(&mut self) {
        self.activity.response_finished();
    }
}

impl<B: Body + Unpin> Body for FinishOnDrop<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
