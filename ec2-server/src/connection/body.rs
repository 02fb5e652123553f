//! The request body as hyper sees it: the body-read time limit, and the
//! hand-over of a body the handler left unread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use hyper::body::Incoming;
use shared::BodyReadTimedOut;
use tokio::time::{sleep_until, Instant, Sleep};

use super::state::ConnectionState;

/// A request body that fails with [`BodyReadTimedOut`] past its limit, from
/// the request's start. Dropped unread, it hands the rest to the connection:
/// hyper, seeing it dropped, would close the connection without a word.
pub struct DeadlineBody {
    /// `None` only after drop has handed it on.
    inner: Option<Incoming>,
    deadline: Instant,
    /// Created only when the body is actually awaited: most requests are GETs.
    timer: Option<Pin<Box<Sleep>>>,
    /// The connection to hand an unread rest to; `None` for a request
    /// without a body.
    unread_to: Option<Arc<ConnectionState>>,
}

impl DeadlineBody {
    pub(super) fn new(
        inner: Incoming,
        limit: Duration,
        unread_to: Option<Arc<ConnectionState>>,
    ) -> Self {
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
        if let (Some(inner), Some(state)) = (self.inner.take(), &self.unread_to) {
            if !inner.is_end_stream() {
                state.keep_unread((inner, self.deadline));
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
}
