//! What a connection is doing and since when: the state its watchdog reads
//! to apply each phase's time limit, written by the socket wrapper and the
//! service (all in the connection's one task, but hyper needs them `Sync`).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::ConnectionLimits;
use crate::request::UnreadBody;

/// What a connection is doing; each phase has its own time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Between requests.
    Idle = 0,
    /// From the first byte of a request (or the accept) until the handler
    /// is called.
    ReadingHeaders = 1,
    /// From the handler being called until the response is sent; the body
    /// and the store have limits of their own.
    Handling = 2,
}

/// A [`Phase`] that the connection's parts share: one relaxed atomic byte,
/// where a lock would cost every request two atomic read-modify-writes.
struct PhaseCell(AtomicU8);

impl PhaseCell {
    fn new(phase: Phase) -> Self {
        PhaseCell(AtomicU8::new(phase as u8))
    }

    fn get(&self) -> Phase {
        const IDLE: u8 = Phase::Idle as u8;
        const READING_HEADERS: u8 = Phase::ReadingHeaders as u8;
        const HANDLING: u8 = Phase::Handling as u8;
        match self.0.load(Ordering::Relaxed) {
            IDLE => Phase::Idle,
            READING_HEADERS => Phase::ReadingHeaders,
            HANDLING => Phase::Handling,
            // `set` stores nothing else.
            other => unreachable!("not a phase: {other}"),
        }
    }

    fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::Relaxed);
    }
}

/// What a connection is doing and since when, and the unread rest of its
/// current request's body; shared between the socket
/// wrapper, the service and the watchdog (all in the connection's one task).
pub(super) struct ConnectionState {
    phase: PhaseCell,
    since_millis: AtomicU64,
    origin: Instant,
    pub(super) unread: UnreadBody,
}

impl ConnectionState {
    /// A new connection waits for its first request's first byte under the
    /// header-read limit.
    pub(super) fn new() -> Self {
        ConnectionState {
            phase: PhaseCell::new(Phase::ReadingHeaders),
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

    pub(super) fn phase(&self) -> Phase {
        self.phase.get()
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.set(phase);
    }

    /// Bytes arrived; on an idle connection they start a request.
    pub(super) fn bytes_arrived(&self) {
        if self.phase() == Phase::Idle {
            self.since_millis
                .store(self.now_millis(), Ordering::Relaxed);
            self.set_phase(Phase::ReadingHeaders);
        }
    }

    pub(super) fn request_started(&self) {
        self.set_phase(Phase::Handling);
    }

    pub(super) fn response_finished(&self) {
        self.since_millis
            .store(self.now_millis(), Ordering::Relaxed);
        self.set_phase(Phase::Idle);
    }

    /// When the current phase runs out, and what the phase is.
    pub(super) fn deadline(&self, limits: &ConnectionLimits) -> (Phase, Instant) {
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
