//! What a connection is doing, and the body its handler left unread: shared
//! by the service and the stream (one task, but hyper needs them `Sync`).

use std::sync::{Arc, Mutex};

use http::{Method, StatusCode};
use hyper::body::Incoming;
use shared::lock;
use shared::telemetry::{CurrentRequest, Metrics, RequestKeys};
use tokio::time::Instant;

/// What a connection is doing; each phase has its own time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Between requests.
    Idle,
    /// From the first byte of a request (or the accept) to the handler.
    ReadingHeaders,
    /// Until the response is ready; the body and the store have own limits.
    Handling,
}

/// The rest of a request body and the instant its read limit runs out.
pub(super) type UnreadBody = (Incoming, Instant);

pub(super) struct ConnectionState {
    /// The phase, and when it began.
    phase: Mutex<(Phase, Instant)>,
    /// What the handler left of the current request's body.
    unread: Mutex<Option<UnreadBody>>,
    /// Counts every answer, timed from the phase instants kept here.
    metrics: Arc<Metrics>,
    /// The request's log keys, where a line can be written for it.
    current: Option<Arc<CurrentRequest>>,
}

impl ConnectionState {
    /// A new connection waits for its first request under the header-read
    /// limit: one that never sends a byte is a slow client, not an idle one.
    pub(super) fn new(metrics: Arc<Metrics>, current: Option<Arc<CurrentRequest>>) -> Self {
        ConnectionState {
            phase: Mutex::new((Phase::ReadingHeaders, Instant::now())),
            unread: Mutex::new(None),
            metrics,
            current,
        }
    }

    pub(super) fn phase(&self) -> (Phase, Instant) {
        *lock(&self.phase)
    }

    /// Bytes arrived; on an idle connection they start a request.
    pub(super) fn bytes_arrived(&self) {
        let mut phase = lock(&self.phase);
        if phase.0 == Phase::Idle {
            *phase = (Phase::ReadingHeaders, Instant::now());
        }
    }

    /// A request's head is read; `keys` are made only if a line can use them.
    pub(super) fn request_started(&self, keys: impl FnOnce() -> RequestKeys) {
        lock(&self.phase).0 = Phase::Handling;
        if let Some(current) = &self.current {
            current.set(Some(keys()));
        }
    }

    /// The response is ready, and written at once (every answer is small):
    /// the connection is idle from here. It is counted, timed from its
    /// head's first byte.
    pub(super) fn response_ready(&self, method: &Method, status: StatusCode) {
        let now = Instant::now();
        let began = std::mem::replace(&mut *lock(&self.phase), (Phase::Idle, now)).1;
        self.metrics.answered(method, status, now - began);
        if let Some(current) = &self.current {
            current.set(None);
        }
    }

    /// Counts an answer written below hyper (the `431`), whose head is unread.
    pub(super) fn refused_head(&self, status: StatusCode) {
        let took = lock(&self.phase).1.elapsed();
        self.metrics.answered(&Method::GET, status, took);
    }

    pub(super) fn keep_unread(&self, body: UnreadBody) {
        *lock(&self.unread) = Some(body);
    }

    pub(super) fn take_unread(&self) -> Option<UnreadBody> {
        lock(&self.unread).take()
    }
}
