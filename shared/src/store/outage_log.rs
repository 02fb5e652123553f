//! Store failures at a bounded rate, since in an outage every request fails
//! alike: the first with its cause, then a count per interval, then the
//! recovery with the outage's length. A success outside an outage costs one
//! atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Chain;
use crate::store::StoreError;

/// Logs at error where an operator must act, else at warn.
macro_rules! log_failure {
    ($cause:expr, $($event:tt)+) => {
        if $cause.needs_operator() {
            tracing::error!($($event)+)
        } else {
            tracing::warn!($($event)+)
        }
    };
}

/// How often, at most, an outage is summarised in the log.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// What [`OutageLog`] wrote for one event, for its tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// The first failure of an outage, with its cause.
    FirstFailure,
    /// A summary: this many failures since the last line.
    Summary { failures: u64 },
    /// Counted, not written.
    Nothing,
    /// The store answers again after this many failures in all.
    Recovered { failures: u64 },
}

pub struct OutageLog {
    store: &'static str,
    interval: Duration,
    in_outage: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    outage: Option<Outage>,
    /// When a line was last written, in any outage, so that a store failing
    /// by turns (throttling) writes one line per interval.
    last_line: Option<Instant>,
    /// Failures since that line.
    since_last_line: u64,
}

struct Outage {
    started: Instant,
    total: u64,
    /// Whether its first failure was written; if not, neither is its recovery.
    written: bool,
}

impl OutageLog {
    pub fn new(store: &'static str, interval: Duration) -> Self {
        OutageLog {
            store,
            interval,
            in_outage: AtomicBool::new(false),
            state: Mutex::default(),
        }
    }

    /// Records a failed store call.
    pub fn failure(&self, cause: &StoreError) -> Logged {
        self.failure_at(cause, Instant::now())
    }

    /// Records a store call that answered.
    pub fn success(&self) -> Logged {
        if !self.in_outage.load(Ordering::Relaxed) {
            return Logged::Nothing;
        }
        self.success_at(Instant::now())
    }

    pub fn failure_at(&self, cause: &StoreError, now: Instant) -> Logged {
        let mut state = crate::lock(&self.state);
        let state = &mut *state;
        state.since_last_line += 1;
        let outage = state.outage.get_or_insert(Outage {
            started: now,
            total: 0,
            written: false,
        });
        outage.total += 1;
        self.in_outage.store(true, Ordering::Relaxed);
        if state
            .last_line
            .is_some_and(|line| now.duration_since(line) < self.interval)
        {
            return Logged::Nothing;
        }
        let failures = std::mem::take(&mut state.since_last_line);
        let seconds = state
            .last_line
            .replace(now)
            .map_or(0, |line| now.duration_since(line).as_secs());
        if std::mem::replace(&mut outage.written, true) {
            log_failure!(cause, store = self.store, failures, seconds, latest_error = %Chain(cause),
                "store calls still failing");
            return Logged::Summary { failures };
        }
        let summary_interval = self.interval;
        log_failure!(cause, store = self.store, error = %Chain(cause), failures, ?summary_interval,
            "store call failed; until it answers again, failures are summarised once per interval");
        Logged::FirstFailure
    }

    pub fn success_at(&self, now: Instant) -> Logged {
        let mut state = crate::lock(&self.state);
        let Some(ended) = state.outage.take() else {
            return Logged::Nothing;
        };
        self.in_outage.store(false, Ordering::Relaxed);
        if !ended.written {
            return Logged::Nothing;
        }
        state.last_line = Some(now);
        let outage_millis = now.duration_since(ended.started).as_millis() as u64;
        tracing::info!(
            store = self.store,
            failures = ended.total,
            outage_millis,
            "store answers again"
        );
        Logged::Recovered {
            failures: ended.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> StoreError {
        StoreError::Unreachable(crate::store::cause("connection refused"))
    }

    #[test]
    fn an_outage_is_one_line_then_a_summary_per_interval_then_one_recovery() {
        let log = OutageLog::new("test", Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(log.success_at(start), Logged::Nothing);
        assert_eq!(log.failure_at(&unreachable(), start), Logged::FirstFailure);
        // A thousand failures within the interval write nothing more.
        for n in 1..=1000u64 {
            let at = start + Duration::from_millis(n * 9);
            assert_eq!(log.failure_at(&unreachable(), at), Logged::Nothing);
        }
        assert_eq!(
            log.failure_at(&unreachable(), start + Duration::from_secs(10)),
            Logged::Summary { failures: 1001 }
        );
        assert_eq!(
            log.failure_at(&unreachable(), start + Duration::from_secs(11)),
            Logged::Nothing
        );
        assert_eq!(
            log.success_at(start + Duration::from_secs(12)),
            Logged::Recovered { failures: 1003 }
        );
        // Recovery is logged once; an outage that begins an interval after
        // the last line is written at once.
        assert_eq!(
            log.success_at(start + Duration::from_secs(13)),
            Logged::Nothing
        );
        assert_eq!(log.success(), Logged::Nothing);
        assert_eq!(
            log.failure_at(&unreachable(), start + Duration::from_secs(22)),
            Logged::FirstFailure
        );
    }

    #[test]
    fn a_store_that_fails_and_answers_by_turns_writes_one_failure_line_per_interval() {
        let log = OutageLog::new("test", Duration::from_secs(10));
        let start = Instant::now();
        let mut written = Vec::new();
        // A failure and an answer every 10 ms for 25 s: 2,500 outages.
        for n in 0..2_500u64 {
            let at = start + Duration::from_millis(n * 10);
            written.push(log.failure_at(&unreachable(), at));
            written.push(log.success_at(at + Duration::from_millis(5)));
        }
        written.retain(|line| *line != Logged::Nothing);
        assert_eq!(
            written,
            [
                Logged::FirstFailure,
                Logged::Recovered { failures: 1 },
                Logged::FirstFailure,
                Logged::Recovered { failures: 1 },
                Logged::FirstFailure,
                Logged::Recovered { failures: 1 },
            ]
        );
        // The failures after the last line (from 20.03 s on) are counted,
        // and the next line reports them.
        assert_eq!(crate::lock(&log.state).since_last_line, 497);
        assert_eq!(
            log.failure_at(&unreachable(), start + Duration::from_secs(40)),
            Logged::FirstFailure
        );
        assert_eq!(crate::lock(&log.state).since_last_line, 0);
    }
}
