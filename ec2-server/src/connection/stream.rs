//! The socket under hyper: holds each head to its time and size limits
//! (answering `431` itself), ends idle connections, closes with a linger.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use shared::ApiError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, Instant, Sleep};

use super::state::{ConnectionState, Phase};
use super::{ConnectionLimits, LINGER_TIME, MAX_HEADER_BYTES};
use crate::request;

/// The socket as hyper reads and writes it.
pub(super) struct WatchedStream {
    inner: TcpStream,
    /// The phase, which the service moves on.
    state: Arc<ConnectionState>,
    limits: ConnectionLimits,
    /// Wakes the connection to look at its phase's limit. Never set past the
    /// shortest limit, so a phase that begins needs no reset of its own.
    timer: Pin<Box<Sleep>>,
    /// Bytes read since the current request's head began.
    head_bytes: usize,
    /// The `431` being written, and how much of it is sent.
    refusal: Option<(Bytes, usize)>,
    /// The linger, once closing has begun.
    closing: Option<Closing>,
}

impl WatchedStream {
    pub(super) fn new(
        inner: TcpStream,
        state: Arc<ConnectionState>,
        limits: ConnectionLimits,
    ) -> Self {
        WatchedStream {
            inner,
            state,
            timer: Box::pin(sleep(limits.shortest())),
            limits,
            head_bytes: 0,
            refusal: None,
            closing: None,
        }
    }

    /// Reads no more than the rest of the head limit; also returns the count.
    fn poll_read_head(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> (Poll<io::Result<()>>, usize) {
        let allowed = MAX_HEADER_BYTES - self.head_bytes;
        if buf.remaining() <= allowed {
            let before = buf.filled().len();
            let result = Pin::new(&mut self.inner).poll_read(cx, buf);
            return (result, buf.filled().len() - before);
        }
        // Rare (a head already near the limit): a copy, not unsafe code.
        let mut scratch = vec![0u8; allowed];
        let mut limited = ReadBuf::new(&mut scratch);
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        buf.put_slice(limited.filled());
        (result, limited.filled().len())
    }

    /// No bytes came: waits until the phase's limit, then an idle connection
    /// reads as closed (hyper closes it quietly) and a slow head fails.
    fn poll_time_limit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let (phase, since) = self.state.phase();
            let now = Instant::now();
            let deadline = match phase {
                Phase::Idle => since + self.limits.idle_timeout,
                Phase::ReadingHeaders => since + self.limits.header_read_timeout,
                // No limit, but it ends without a read (hyper may then wait
                // for bytes alone): look again, as under every limit.
                Phase::Handling => now + self.limits.shortest(),
            };
            if now < deadline {
                let check_at = deadline.min(now + self.limits.shortest());
                self.timer.as_mut().reset(check_at);
            } else if phase == Phase::Idle {
                tracing::debug!("closing an idle connection");
                return Poll::Ready(Ok(()));
            } else {
                tracing::debug!("client too slow sending request headers; disconnecting");
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
        }
        Poll::Pending
    }

    /// Writes the `431`, closes with a linger, then fails the read so hyper
    /// does not answer on its own.
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
        let (phase, _) = this.state.phase();
        if phase == Phase::Handling {
            // A body (or a pipelined request, read ahead): not a head.
            return match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Pending => this.poll_time_limit(cx),
                read => read,
            };
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
            let refusal = ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into_response();
            this.state.refused_head(refusal.status());
            let response = request::serialize(refusal);
            this.refusal = Some((response, 0));
            return this.poll_refuse(cx);
        }
        match this.poll_read_head(cx, buf) {
            (Poll::Pending, _) => this.poll_time_limit(cx),
            (result, count) => {
                if count > 0 {
                    this.head_bytes += count;
                    this.state.bytes_arrived();
                }
                result
            }
        }
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Sends FIN, then drains what the client sends until it closes or
    /// [`LINGER_TIME`] passes.
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
