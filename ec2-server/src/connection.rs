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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::EXPECT;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use shared::ApiError;
use shared::BodyReadTimedOut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant, Sleep};
use tower_service::Service;

use crate::request::{self, UnreadBody};

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

/// What a connection is doing; each phase has its own time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Between requests.
    Idle = 0,
    /// From the first byte of a request (or the accept) until the handler
    /// is called.
    ReadingHeaders = 1,
    /// From the handler being called until the response is sent; the body
    /// and the store have limits of their own.
    Handling = 2,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Idle,
            1 => Phase::ReadingHeaders,
            _ => Phase::Handling,
        }
    }
}

/// What a connection is doing and since when, and the unread rest of its
/// current request's body; shared between the socket
/// wrapper, the service and the watchdog (all in the connection's one task).
struct Activity {
    phase: AtomicU8,
    since_millis: AtomicU64,
    origin: Instant,
    unread: UnreadBody,
}

impl Activity {
    /// A new connection waits for its first request's first byte under the
    /// header-read limit.
    fn new() -> Self {
        Activity {
            phase: AtomicU8::new(Phase::ReadingHeaders as u8),
            since_millis: AtomicU64::new(0),
            origin: Instant::now(),
            unread: UnreadBody::default(),
        }
    }

    fn now_millis(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn since(&self) -> Instant {
        self.origin + Duration::from_millis(self.since_millis.load(Ordering::Relaxed))
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// Bytes arrived; on an idle connection they start a request.
    fn bytes_arrived(&self) {
        if self.phase() == Phase::Idle {
            self.since_millis
                .store(self.now_millis(), Ordering::Relaxed);
            self.set_phase(Phase::ReadingHeaders);
        }
    }

    fn request_started(&self) {
        self.set_phase(Phase::Handling);
    }

    fn response_finished(&self) {
        self.since_millis
            .store(self.now_millis(), Ordering::Relaxed);
        self.set_phase(Phase::Idle);
    }

    /// When the current phase runs out, and what the phase is.
    fn deadline(&self, limits: &ConnectionLimits) -> (Phase, Instant) {
        let phase = self.phase();
        let deadline = match phase {
            Phase::Idle => self.since() + limits.idle_timeout,
            Phase::ReadingHeaders => self.since() + limits.header_read_timeout,
            // Re-check now and then: the phase ends without waking us.
            Phase::Handling => Instant::now() + limits.header_read_timeout.min(limits.idle_timeout),
        };
        (phase, deadline)
    }
}

/// Serves one accepted connection until the client closes it, a limit runs
/// out, or a drain requested through `shutdown` completes. Each request is
/// answered as [`request::refusal`] and [`request::settle`] say, and
/// differently while `lame_duck` is set.
pub async fn serve<S, B>(
    stream: TcpStream,
    service: S,
    limits: ConnectionLimits,
    lame_duck: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Service<Request<DeadlineBody>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + From<Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        activity: Arc::clone(&activity),
        head_bytes: 0,
        refusal: None,
        closing: None,
    });
    let service_activity = Arc::clone(&activity);
    let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
        service_activity.request_started();
        let lame_duck = lame_duck.load(Ordering::Relaxed);
        let has_body = !request.body().is_end_stream();
        let expects_continue = has_body && request.headers().contains_key(EXPECT);
        let refused = request::refusal(&request, has_body, lame_duck);
        let request = request.map(|body| {
            let unread_to = has_body.then(|| Arc::clone(&service_activity));
            DeadlineBody::new(body, limits.body_read_timeout, unread_to)
        });
        let mut service = service.clone();
        let activity = Arc::clone(&service_activity);
        async move {
            let answered = match refused {
                Some(refused) => {
                    // Its body, unread, goes to `unread` before the check below.
                    drop(request);
                    Ok(refused.into_response().map(B::from))
                }
                None => {
                    // The handler's future is built here, in place: built
                    // outside and moved in, it cost ~400 instructions of
                    // memcpy per GET (it is over 1 KiB).
                    let mut handling = pin!(service.call(request));
                    std::future::poll_fn(|cx| request::poll_catching_panics(handling.as_mut(), cx))
                        .await
                }
            };
            let unread = if has_body {
                activity.unread.take()
            } else {
                None
            };
            let response = match (answered, unread) {
                // The common case: the body (if any) read, not shutting down.
                (Ok(response), None) if !lame_duck => response,
                // Boxed, so that its state does not grow every request's
                // future, which hyper moves into place.
                (answered, unread) => {
                    Box::pin(request::settle(
                        answered,
                        unread,
                        expects_continue,
                        lame_duck,
                    ))
                    .await
                }
            };
            Ok::<_, Infallible>(response.map(|body| FinishOnDrop {
                inner: body,
                activity,
            }))
        }
    });

    let mut connection = pin!(hyper::server::conn::http1::Builder::new()
        // The limits above replace hyper's own header timer.
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES)
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
                    Phase::Idle if !draining => {
                        tracing::debug!("closing an idle connection");
                        connection.as_mut().graceful_shutdown();
                        draining = true;
                        // Still idle at the next check: give up on it.
                        timer.as_mut().reset(deadline);
                    }
                    Phase::Idle => return,
                    Phase::ReadingHeaders => {
                        tracing::debug!("client too slow sending request headers; disconnecting");
                        return;
                    }
                    Phase::Handling => timer.as_mut().reset(next_check(deadline)),
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

/// The socket, reporting the first bytes of each request to the watchdog,
/// holding request heads to [`MAX_HEADER_BYTES`], and closing with a linger.
struct WatchedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
    /// Bytes read since the current request's head began.
    head_bytes: usize,
    /// The `431` being written, and how much of it is sent.
    refusal: Option<(Bytes, usize)>,
    closing: Option<Closing>,
}

impl WatchedStream {
    /// Writes the `431`, closes with a linger, then fails the read so that
    /// hyper ends the connection without answering on its own.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((response, sent)) = &mut self.refusal {
            while *sent < response.len() {
                match std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &response[*sent..]))
                {
                    Ok(0) | Err(_) => {
                        *sent = response.len();
                        break;
                    }
                    Ok(written) => *sent += written,
                }
            }
        }
        std::task::ready!(Pin::new(&mut *self).poll_shutdown(cx))?;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request head over the size limit: answered 431",
        )))
    }
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
        let this = &mut *self;
        if this.refusal.is_some() {
            return this.poll_refuse(cx);
        }
        let phase = this.activity.phase();
        if phase == Phase::Handling {
            // A body (or a pipelined request, read ahead): not a head.
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if phase == Phase::Idle {
            this.head_bytes = 0;
        }
        // hyper asks for more while the head is incomplete: the head did not
        // fit in the limit.
        if this.head_bytes >= MAX_HEADER_BYTES {
            tracing::debug!(
                limit = MAX_HEADER_BYTES,
                "request head too large; answering 431"
            );
            let response =
                request::serialize(ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into_response());
            this.refusal = Some((response, 0));
            return this.poll_refuse(cx);
        }
        // Never hand hyper more of a head than the limit.
        let allowed = MAX_HEADER_BYTES - this.head_bytes;
        let (result, count) = if buf.remaining() > allowed {
            // Rare (a head already near the limit): a copy, not unsafe code.
            let mut scratch = vec![0u8; allowed];
            let mut limited = ReadBuf::new(&mut scratch);
            let result = Pin::new(&mut this.inner).poll_read(cx, &mut limited);
            buf.put_slice(limited.filled());
            (result, limited.filled().len())
        } else {
            let before = buf.filled().len();
            let result = Pin::new(&mut this.inner).poll_read(cx, buf);
            (result, buf.filled().len() - before)
        };
        if count > 0 {
            this.head_bytes += count;
            this.activity.bytes_arrived();
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
///
/// Dropped unfinished (a refusal that did not read it), it hands the rest of
/// the body to its connection's [`UnreadBody`] instead of letting hyper see it dropped: hyper
/// would then close the connection silently unless the whole body happened
/// to be buffered already.
pub struct DeadlineBody {
    /// `None` only after drop has handed it on.
    inner: Option<Incoming>,
    deadline: Instant,
    /// Created only when the body is actually awaited: most requests are GETs.
    timer: Option<Pin<Box<Sleep>>>,
    /// The connection to hand an unread rest to; `None` for a request
    /// without a body.
    unread_to: Option<Arc<Activity>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration, unread_to: Option<Arc<Activity>>) -> Self {
        DeadlineBody {
            inner: Some(inner),
            deadline: Instant::now() + limit,
            timer: None,
            unread_to,
        }
    }
}

impl Drop for DeadlineBody {
    fn drop(&mut self) {
        if let (Some(inner), Some(activity)) = (self.inner.take(), &self.unread_to) {
            if !inner.is_end_stream() {
                activity.unread.keep(inner, self.deadline);
            }
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
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
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
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
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
