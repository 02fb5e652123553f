//! What a connection is doing, and the body its handler left unread: shared
//! by the service and the stream (one task, but hyper needs them `Sync`).

use std::sync::Mutex;
use std::time::Duration;

use hyper::body::Incoming;
use shared::lock;
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
}

impl ConnectionState {
    /// A new connection waits for its first request under the header-read
    /// limit: one that never sends a byte is a slow client, not an idle one.
    pub(super) fn new() -> Self {
        ConnectionState {
            phase: Mutex::new((Phase::ReadingHeaders, Instant::now())),
            unread: Mutex::new(None),
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

    pub(super) fn request_started(&self) {
        lock(&self.phase).0 = Phase::Handling;
    }

    /// The response is ready, and written at once (every answer is small):
    /// the connection is idle from here.
    /// Returns how long the request took, from its head's first byte.
    pub(super) fn response_ready(&self) -> Duration {
        let now = Instant::now();
        let began = std::mem::replace(&mut *lock(&self.phase), (Phase::Idle, now)).1;
        now - began
    }

    pub(super) fn keep_unread(&self, body: UnreadBody) {
        *lock(&self.unread) = Some(body);
    }

    pub(super) fn take_unread(&self) -> Option<UnreadBody> {
        lock(&self.unread).take()
    }
}
