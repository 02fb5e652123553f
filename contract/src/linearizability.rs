//! Whether a concurrent history of reads and writes could have come from one
//! register: the consistency the service promises with a shared store
//! (docs/consistency.md). Every operation must appear to take effect at one
//! instant between its request and its answer, in an order that a single
//! register explains; a write whose outcome the client does not know (a
//! `503`, no answer, a dropped connection) may take effect once, at any
//! instant after its request, or never.
//!
//! Histories are checked in polynomial time because every write stores a
//! value of its own, so each read names the write it saw (Gibbons and
//! Korach, "Testing shared memories", 1997; in the form of Golab, Li and
//! Shah, PODC 2011). A value's *cluster* is its write and the reads that saw
//! it. From the earliest answer in a cluster to the latest request in it, the
//! value must be the register's; when that span is non-empty it is a
//! *forward zone*. The history is linearizable exactly when every read comes
//! from a write that began before the read ended, no two forward zones
//! overlap, and no cluster fits wholly inside another value's forward zone.
//! The unit tests compare this with an exhaustive search on every small
//! history proptest makes.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// What a client did, and what it learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A POST of this value.
    Write,
    /// A GET answered with this value.
    Read,
}

/// One operation as a client saw it. Times are offsets from one common
/// instant, taken before the request was sent and after the answer came.
#[derive(Clone, Debug)]
pub struct Operation {
    pub kind: Kind,
    pub value: String,
    pub invoked: Duration,
    /// When the answer came; `None` for a write whose outcome is unknown.
    /// A read is recorded only when it was answered.
    pub completed: Option<Duration>,
    /// Who sent it, and through which target: quoted in a violation.
    pub by: String,
}

impl Operation {
    fn end(&self) -> Instant {
        self.completed.map_or(Instant::MAX, instant)
    }

    fn start(&self) -> Instant {
        instant(self.invoked)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Write => "wrote",
            Kind::Read => "read",
        };
        let end = match self.completed {
            Some(completed) => format!("{:.3} s", completed.as_secs_f64()),
            None => "an unknown outcome".to_string(),
        };
        write!(
            f,
            "{} {what} {} from {:.3} s to {end}",
            self.by,
            self.value,
            self.invoked.as_secs_f64()
        )
    }
}

/// Why a history is not one register's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

/// Nanoseconds after the common start, plus one: instant 0 belongs to the
/// register's initial value, written before anything else.
type Instant = u128;

fn instant(offset: Duration) -> Instant {
    offset.as_nanos() + 1
}

/// A value and the operations that wrote and read it.
struct Cluster<'a> {
    value: &'a str,
    /// The earliest answer among its operations.
    first_end: Instant,
    /// The latest request among its operations.
    last_start: Instant,
    /// The operations that set `first_end` and `last_start`, for messages.
    ended_first: String,
    started_last: String,
}

impl Cluster<'_> {
    /// The span in which the value must be the register's, if non-empty.
    fn forward_zone(&self) -> Option<(Instant, Instant)> {
        (self.first_end < self.last_start).then_some((self.first_end, self.last_start))
    }
}

/// Checks `history` against a register that held `initial` before it began.
/// Every write must store a value of its own, different from `initial`.
pub fn check(initial: &str, history: &[Operation]) -> Result<(), Violation> {
    let initial_description = format!("the initial value {initial}");
    let mut clusters: Vec<Cluster> = vec![Cluster {
        value: initial,
        first_end: 0,
        last_start: 0,
        ended_first: initial_description.clone(),
        started_last: initial_description,
    }];
    let mut cluster_of: HashMap<&str, usize> = HashMap::from([(initial, 0)]);
    let mut writes: Vec<&Operation> = Vec::new();
    for write in history.iter().filter(|op| op.kind == Kind::Write) {
        if cluster_of.insert(&write.value, clusters.len()).is_some() {
            return Err(Violation(format!(
                "the history is not checkable: {} was written twice or is the initial value",
                write.value
            )));
        }
        clusters.push(Cluster {
            value: &write.value,
            first_end: write.end(),
            last_start: write.start(),
            ended_first: write.to_string(),
            started_last: write.to_string(),
        });
        writes.push(write);
    }
    for read in history.iter().filter(|op| op.kind == Kind::Read) {
        if read.completed.is_none() {
            return Err(Violation(format!(
                "the history is not checkable: a read without an answer: {read}"
            )));
        }
        let Some(&index) = cluster_of.get(read.value.as_str()) else {
            return Err(Violation(format!(
                "a read returned a value that nobody wrote: {read}"
            )));
        };
        let cluster = &mut clusters[index];
        if index > 0 && read.end() < writes[index - 1].start() {
            return Err(Violation(format!(
                "a read returned a value before it was written: {read}, but {}",
                writes[index - 1]
            )));
        }
        if read.end() < cluster.first_end {
            cluster.first_end = read.end();
            cluster.ended_first = read.to_string();
        }
        if read.start() > cluster.last_start {
            cluster.last_start = read.start();
            cluster.started_last = read.to_string();
        }
    }
    // A write of unknown outcome that nobody read (its cluster has no answer
    // at all) may never have happened: it constrains nothing.
    clusters.retain(|cluster| cluster.first_end != Instant::MAX);

    let mut forward: Vec<&Cluster> = clusters
        .iter()
        .filter(|cluster| cluster.forward_zone().is_some())
        .collect();
    forward.sort_by_key(|cluster| cluster.first_end);
    // Sorted by start, two zones overlap exactly when one overlaps the
    // furthest-reaching zone before it.
    let mut reaching: Option<&Cluster> = None;
    for zone in &forward {
        if let Some(earlier) = reaching {
            if zone.first_end < earlier.last_start {
                return Err(overlap(earlier, zone));
            }
        }
        if reaching.is_none_or(|earlier| zone.last_start > earlier.last_start) {
            reaching = Some(zone);
        }
    }
    for inner in clusters.iter().filter(|c| c.forward_zone().is_none()) {
        let (starts, ends) = (inner.last_start, inner.first_end);
        if let Some(outer) = forward
            .iter()
            .find(|outer| outer.first_end < starts && ends < outer.last_start)
        {
            return Err(overlap(outer, inner));
        }
    }
    Ok(())
}

/// An instant as seconds after the common start, as operations show theirs.
fn seconds(at: Instant) -> f64 {
    at.saturating_sub(1) as f64 / 1e9
}

fn overlap(held: &Cluster, other: &Cluster) -> Violation {
    Violation(format!(
        "{held_value} must have been the value throughout [{:.3} s, {:.3} s] ({}; {}), yet \
         {other_value} took effect inside that span ({}; {})",
        seconds(held.first_end),
        seconds(held.last_start),
        held.ended_first,
        held.started_last,
        other.ended_first,
        other.started_last,
        held_value = held.value,
        other_value = other.value,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn write(value: &str, from: u64, to: Option<u64>) -> Operation {
        Operation {
            kind: Kind::Write,
            value: value.to_string(),
            invoked: ms(from),
            completed: to.map(ms),
            by: "client".to_string(),
        }
    }

    fn read(value: &str, from: u64, to: u64) -> Operation {
        Operation {
            kind: Kind::Read,
            value: value.to_string(),
            invoked: ms(from),
            completed: Some(ms(to)),
            by: "client".to_string(),
        }
    }

    fn legal(history: &[Operation]) -> bool {
        check("0", history).is_ok()
    }

    #[test]
    fn a_read_after_an_acknowledged_write_sees_it() {
        assert!(legal(&[write("1", 0, Some(10)), read("1", 20, 30)]));
        assert!(legal(&[read("0", 0, 5), write("1", 10, Some(20))]));
        let stale = [write("1", 0, Some(10)), read("0", 20, 30)];
        let violation = check("0", &stale).expect_err("a stale read");
        assert!(violation.0.contains("initial value 0"), "{violation}");
    }

    #[test]
    fn a_read_during_a_write_may_see_either_value_but_not_go_back() {
        assert!(legal(&[write("1", 0, Some(100)), read("0", 10, 20)]));
        assert!(legal(&[write("1", 0, Some(100)), read("1", 10, 20)]));
        assert!(legal(&[
            write("1", 0, Some(100)),
            read("0", 10, 20),
            read("1", 30, 40)
        ]));
        assert!(!legal(&[
            write("1", 0, Some(100)),
            read("1", 10, 20),
            read("0", 30, 40)
        ]));
    }

    #[test]
    fn an_acknowledged_write_that_lands_again_later_is_caught() {
        // A, then B, then A again, read one after another: A took effect twice.
        assert!(!legal(&[
            write("1", 0, Some(10)),
            write("2", 20, Some(30)),
            read("1", 5, 15),
            read("2", 35, 40),
            read("1", 45, 50),
        ]));
    }

    #[test]
    fn a_write_of_unknown_outcome_may_land_late_but_only_once() {
        let landed_late = [
            write("1", 0, None),
            write("2", 10, Some(20)),
            read("2", 30, 40),
            read("1", 50, 60),
        ];
        assert!(legal(&landed_late));
        let landed_twice = [
            write("1", 0, None),
            write("2", 10, Some(20)),
            read("1", 5, 8),
            read("2", 30, 40),
            read("1", 50, 60),
        ];
        assert!(!legal(&landed_twice));
        // Never read: it may never have happened.
        assert!(legal(&[write("1", 0, None), read("0", 50, 60)]));
    }

    #[test]
    fn a_value_nobody_wrote_or_read_before_its_write_is_caught() {
        let invented = check("0", &[read("7", 0, 10)]).expect_err("invented");
        assert!(invented.0.contains("nobody wrote"), "{invented}");
        let early = check("0", &[read("1", 0, 10), write("1", 20, Some(30))]).expect_err("early");
        assert!(early.0.contains("before it was written"), "{early}");
    }

    #[test]
    fn a_write_wholly_inside_another_values_forward_zone_is_caught() {
        // 1 is read before and after 2 was written and acknowledged.
        assert!(!legal(&[
            write("1", 0, Some(10)),
            read("1", 15, 20),
            write("2", 25, Some(30)),
            read("1", 35, 40),
        ]));
    }

    #[test]
    fn spans_that_only_touch_at_an_instant_do_not_overlap() {
        // 1 must hold over [2, 5] and 2 over [5, 8]: at 5 the read of 1 is
        // ordered before the write of 2.
        assert!(legal(&[
            write("1", 0, Some(2)),
            read("1", 5, 6),
            write("2", 3, Some(5)),
            read("2", 8, 9),
        ]));
    }

    #[test]
    fn histories_that_reuse_a_value_are_refused_as_uncheckable() {
        let twice = check("0", &[write("1", 0, Some(1)), write("1", 2, Some(3))]);
        assert!(twice.expect_err("reused").0.contains("not checkable"));
        let initial = check("0", &[write("0", 0, Some(1))]);
        assert!(initial.expect_err("initial").0.contains("not checkable"));
    }

    /// The reference: every order of the operations that respects real time
    /// (and every choice of which unknown writes happened), replayed on a
    /// register.
    fn exhaustive(history: &[Operation]) -> bool {
        let unknown: Vec<usize> = (0..history.len())
            .filter(|&i| history[i].completed.is_none())
            .collect();
        (0..1u32 << unknown.len()).any(|happened| {
            let ops: Vec<&Operation> = (0..history.len())
                .filter(|i| match unknown.iter().position(|u| u == i) {
                    Some(bit) => happened & (1 << bit) != 0,
                    None => true,
                })
                .map(|i| &history[i])
                .collect();
            linearize(&ops, 0, "0")
        })
    }

    fn linearize(ops: &[&Operation], done: u32, value: &str) -> bool {
        let pending = || (0..ops.len()).filter(move |i| done & (1 << i) == 0);
        let Some(earliest_end) = pending().map(|i| ops[i].end()).min() else {
            return true;
        };
        pending()
            .filter(|&i| ops[i].start() <= earliest_end)
            .any(|i| match ops[i].kind {
                Kind::Write => linearize(ops, done | 1 << i, &ops[i].value),
                Kind::Read => ops[i].value == value && linearize(ops, done | 1 << i, value),
            })
    }

    /// Small histories with many overlaps and ties: up to 7 operations over
    /// 12 ticks; writes store their own index, reads return any of them or
    /// the initial 0.
    fn histories() -> impl Strategy<Value = Vec<Operation>> {
        prop::collection::vec((any::<bool>(), 0u64..12, 0u64..6, 0usize..8, 0u8..4), 1..=7)
            .prop_map(|ops| {
                ops.iter()
                    .enumerate()
                    .map(|(index, &(is_write, start, length, seen, outcome))| {
                        if is_write {
                            let end = (outcome != 0).then_some(start + length);
                            write(&(index + 1).to_string(), start, end)
                        } else {
                            read(&seen.to_string(), start, start + length)
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn the_zone_check_agrees_with_exhaustive_search(history in histories()) {
            prop_assert_eq!(legal(&history), exhaustive(&history), "{:#?}", history);
        }
    }
}
