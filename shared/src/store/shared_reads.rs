//! Strongly consistent reads shared by the GETs waiting when each is sent.
//!
//! A GET never joins a read under way, which may predate a write
//! acknowledged before the GET arrived; the next read, sent after it came,
//! answers it and every GET waiting then. So each value was current between
//! a GET's arrival and its answer: one linearizable register, no cache.
//! Under load a process sends one read per round trip; a refused read's GETs
//! wait for the next, spaced out while the store refuses them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::StoreError;
use crate::seed::Seed;

/// One read of the store, as [`SharedReads`] sends it.
#[async_trait]
pub trait ReadSeed: Send + Sync + 'static {
    /// Reads the current seed, strongly consistently; sent when called.
    async fn read_seed(&self) -> Result<Seed, StoreError>;

    /// What a GET `asked` then is told when no read answered it within its
    /// bound.
    fn no_answer_within(&self, bound: Duration, asked: std::time::Instant) -> StoreError;
}

/// Reads that may hold the queue at once (bench/README.md compares 1 and 2).
const READS_HOLDING_THE_QUEUE: usize = 1;

/// How long a read holds the queue before the GETs behind it get their own:
/// they keep most of their bound, and a stalled store sees five reads at most.
fn hold_limit(bound: Duration) -> Duration {
    bound / 4
}

/// The spacing between reads while the store refuses them for their rate;
/// its cap keeps a GET arriving then within its bound.
const FIRST_SPACING: Duration = Duration::from_millis(1);
fn max_spacing(bound: Duration) -> Duration {
    bound / 8
}

/// How often, at most, refused reads are logged.
const THROTTLE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Reads of one store, shared by the GETs that wait for them.
pub struct SharedReads<R> {
    shared: Arc<Shared<R>>,
}

struct Shared<R> {
    reader: Arc<R>,
    /// No GET waits longer than this for its answer.
    bound: Duration,
    queue: Mutex<Queue>,
}

/// The GETs waiting for a read, and the reads' state.
#[derive(Default)]
struct Queue {
    /// GETs that arrived after the newest read was sent.
    waiting: Vec<Waiter>,
    /// Reads waiting to be sent, or sent less than [`hold_limit`] ago.
    holding: usize,
    pacing: Pacing,
}

type Waiter = oneshot::Sender<Result<Seed, StoreError>>;

impl<R: ReadSeed> SharedReads<R> {
    /// Shares the reads of `reader`; every GET is answered within `bound`.
    pub fn new(reader: Arc<R>, bound: Duration) -> Self {
        SharedReads {
            shared: Arc::new(Shared {
                reader,
                bound,
                queue: Mutex::default(),
            }),
        }
    }

    /// The seed, from a read sent after this call began.
    pub async fn get(&self) -> Result<Seed, StoreError> {
        let asked = Instant::now();
        let deadline = asked + self.shared.bound;
        let (waiter, answer) = oneshot::channel();
        Shared::join(&self.shared, waiter);
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(outcome)) => outcome,
            // The read task ended without answering: only a panic does that.
            Ok(Err(_)) => Err(StoreError::Other(crate::store::cause(
                "the read was abandoned",
            ))),
            Err(_) => {
                let reader = &self.shared.reader;
                Err(reader.no_answer_within(self.shared.bound, asked.into_std()))
            }
        }
    }
}

impl<R: ReadSeed> Shared<R> {
    /// Queues a GET, and starts a read for it unless one holds the queue.
    fn join(shared: &Arc<Self>, waiter: Waiter) {
        let mut queue = crate::lock(&shared.queue);
        queue.waiting.push(waiter);
        Self::start_read_if_free(shared, &mut queue);
    }

    fn start_read_if_free(shared: &Arc<Self>, queue: &mut Queue) {
        if queue.waiting.is_empty() || queue.holding >= READS_HOLDING_THE_QUEUE {
            return;
        }
        queue.holding += 1;
        tokio::spawn(Arc::clone(shared).read_for_waiting());
    }

    /// One read: waits out the spacing, takes every GET waiting at the
    /// instant it is sent, and answers them.
    async fn read_for_waiting(self: Arc<Self>) {
        let not_before = crate::lock(&self.queue).pacing.next_read_at();
        if let Some(at) = not_before {
            tokio::time::sleep_until(at).await;
        }
        // One turn of the scheduler first: GETs arriving on other workers
        // that very moment join this read rather than wait for the next.
        tokio::task::yield_now().await;
        let batch = {
            let mut queue = crate::lock(&self.queue);
            queue.pacing.last_sent = Some(Instant::now());
            std::mem::take(&mut queue.waiting)
        };
        if batch.is_empty() {
            return self.release();
        }
        let mut read = self.reader.read_seed();
        match tokio::time::timeout(hold_limit(self.bound), &mut read).await {
            Ok(outcome) => {
                self.answer(batch, outcome);
                self.release();
            }
            Err(_) => {
                self.release();
                let outcome = read.await;
                self.answer(batch, outcome);
            }
        }
    }

    /// Lets the next read start.
    fn release(self: &Arc<Self>) {
        let mut queue = crate::lock(&self.queue);
        queue.holding -= 1;
        Self::start_read_if_free(self, &mut queue);
    }

    /// Answers a batch or, if the read was refused for its rate, puts it back
    /// for the next read (still sent after each GET arrived).
    fn answer(self: &Arc<Self>, batch: Vec<Waiter>, outcome: Result<Seed, StoreError>) {
        let mut queue = crate::lock(&self.queue);
        match outcome {
            Err(refusal @ StoreError::Throttled(_)) => {
                queue.pacing.throttled(&refusal, self.bound);
                queue.waiting.extend(batch);
                Self::start_read_if_free(self, &mut queue);
            }
            outcome => {
                queue.pacing.answered();
                for waiter in batch {
                    // A GET past its bound has stopped listening.
                    let _ = waiter.send(outcome.clone());
                }
            }
        }
    }
}

/// The spacing between reads, and the count of refused reads for the log.
#[derive(Default)]
struct Pacing {
    /// Zero while the store accepts every read.
    spacing: Duration,
    last_sent: Option<Instant>,
    /// Refused reads since the last log line, and when that was written.
    refused_since_line: u64,
    last_line: Option<Instant>,
}

impl Pacing {
    fn next_read_at(&self) -> Option<Instant> {
        let at = self.last_sent? + self.spacing;
        (!self.spacing.is_zero() && at > Instant::now()).then_some(at)
    }

    fn throttled(&mut self, refusal: &StoreError, bound: Duration) {
        self.spacing = (self.spacing * 2).clamp(FIRST_SPACING, max_spacing(bound));
        self.refused_since_line += 1;
        let now = Instant::now();
        if self
            .last_line
            .is_some_and(|line| now.duration_since(line) < THROTTLE_LOG_INTERVAL)
        {
            return;
        }
        tracing::warn!(
            refused_reads = self.refused_since_line,
            spacing = ?self.spacing,
            latest_error = %crate::error::Chain(refusal),
            "the store refused reads for their rate; the GETs waiting for them wait for the next read, sent after the spacing"
        );
        self.refused_since_line = 0;
        self.last_line = Some(now);
    }

    /// A read answered: the spacing shrinks, and is gone under [`FIRST_SPACING`].
    fn answered(&mut self) {
        self.spacing = self.spacing * 3 / 4;
        if self.spacing < FIRST_SPACING {
            self.spacing = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    const BOUND: Duration = Duration::from_secs(2);

    /// What one read does, in the order the reads are sent.
    #[derive(Clone, Copy)]
    enum Step {
        /// Answers this seed after this long.
        Answer(u64, &'static str),
        Throttled,
        /// Never answers.
        Stall,
    }

    /// A store whose reads follow a script (the last step repeats) and
    /// that notes when each read was sent.
    struct Scripted {
        steps: Mutex<VecDeque<Step>>,
        sent_at: Mutex<Vec<Duration>>,
        start: Instant,
    }

    #[async_trait]
    impl ReadSeed for Scripted {
        async fn read_seed(&self) -> Result<Seed, StoreError> {
            self.sent_at.lock().unwrap().push(self.start.elapsed());
            let step = {
                let mut steps = self.steps.lock().unwrap();
                if steps.len() > 1 {
                    steps.pop_front().unwrap()
                } else {
                    steps[0]
                }
            };
            match step {
                Step::Answer(millis, seed) => {
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    Ok(Seed::from_integer_literal(seed).unwrap())
                }
                Step::Throttled => Err(StoreError::Throttled(crate::store::cause("slow down"))),
                Step::Stall => std::future::pending().await,
            }
        }

        fn no_answer_within(&self, bound: Duration, _asked: std::time::Instant) -> StoreError {
            StoreError::TimedOut(crate::store::cause(format!("no answer within {bound:?}")))
        }
    }

    fn reads(steps: &[Step]) -> (Arc<SharedReads<Scripted>>, Arc<Scripted>) {
        let scripted = Arc::new(Scripted {
            steps: Mutex::new(steps.iter().copied().collect()),
            sent_at: Mutex::default(),
            start: Instant::now(),
        });
        let reads = SharedReads::new(Arc::clone(&scripted), BOUND);
        (Arc::new(reads), scripted)
    }

    /// Starts a GET at `at` from now; its answer and when it came.
    fn get_at(
        reads: &Arc<SharedReads<Scripted>>,
        at: u64,
    ) -> tokio::task::JoinHandle<(Result<String, String>, Duration)> {
        let reads = Arc::clone(reads);
        let start = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(at)).await;
            let answer = reads.get().await;
            let answer = answer
                .map(|seed| seed.as_str().to_string())
                .map_err(|error| crate::error::Chain(&error).to_string());
            (answer, start.elapsed())
        })
    }

    async fn answer(
        get: tokio::task::JoinHandle<(Result<String, String>, Duration)>,
    ) -> (Result<String, String>, Duration) {
        get.await.expect("the GET task")
    }

    fn millis(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ok(seed: &str) -> Result<String, String> {
        Ok(seed.to_string())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_get_sends_its_read_at_once() {
        let (reads, store) = reads(&[Step::Answer(10, "1")]);
        assert_eq!(answer(get_at(&reads, 0)).await, (ok("1"), millis(10)));
        assert_eq!(*store.sent_at.lock().unwrap(), [millis(0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn gets_that_arrive_during_a_read_wait_for_the_next_one() {
        let (reads, store) = reads(&[Step::Answer(10, "1"), Step::Answer(10, "2")]);
        let first = get_at(&reads, 0);
        let later: Vec<_> = (0..3).map(|_| get_at(&reads, 5)).collect();
        assert_eq!(answer(first).await, (ok("1"), millis(10)));
        for get in later {
            // Not the read under way when they arrived: the one after it.
            assert_eq!(answer(get).await, (ok("2"), millis(20)));
        }
        assert_eq!(*store.sent_at.lock().unwrap(), [millis(0), millis(10)]);
    }

    #[tokio::test(start_paused = true)]
    async fn every_get_waiting_when_a_read_is_sent_shares_it() {
        let (reads, store) = reads(&[Step::Answer(1, "7")]);
        let gets: Vec<_> = (0..32).map(|_| get_at(&reads, 0)).collect();
        for get in gets {
            assert_eq!(answer(get).await, (ok("7"), millis(1)));
        }
        assert_eq!(store.sent_at.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_read_holds_the_next_batch_back_for_a_quarter_of_the_bound_only() {
        let (reads, store) = reads(&[Step::Stall, Step::Answer(10, "2")]);
        let stalled = get_at(&reads, 0);
        let behind = get_at(&reads, 100);
        assert_eq!(answer(behind).await, (ok("2"), millis(510)));
        let (outcome, after) = answer(stalled).await;
        assert_eq!(after, BOUND, "{outcome:?}");
        assert!(outcome.is_err_and(|error| error.contains("no answer within 2s")));
        assert_eq!(*store.sent_at.lock().unwrap(), [millis(0), millis(500)]);
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_stalled_store_every_get_gets_its_refusal_at_its_bound() {
        let (reads, store) = reads(&[Step::Stall]);
        let arrivals = [0, 300, 900, 1700, 2600];
        let gets: Vec<_> = arrivals.iter().map(|&at| get_at(&reads, at)).collect();
        for (get, at) in gets.into_iter().zip(arrivals) {
            let (outcome, after) = answer(get).await;
            assert!(outcome.is_err(), "{outcome:?}");
            assert_eq!(after, millis(at) + BOUND);
        }
        // A read for each GET that waits, sent when it arrives or when the
        // read before stops holding the queue: at most one per hold limit.
        let sent = store.sent_at.lock().unwrap().clone();
        assert_eq!(sent, [0, 500, 1000, 1700, 2600].map(millis));
    }

    #[tokio::test(start_paused = true)]
    async fn gets_whose_read_was_refused_for_its_rate_wait_for_the_next_one_sent_after_a_growing_spacing(
    ) {
        use Step::{Answer, Throttled};
        let (reads, store) = reads(&[Throttled, Throttled, Throttled, Answer(1, "3")]);
        let gets: Vec<_> = (0..4).map(|_| get_at(&reads, 0)).collect();
        for get in gets {
            assert_eq!(answer(get).await, (ok("3"), millis(8)));
        }
        // Spaced by 1, 2, then 4 ms.
        assert_eq!(*store.sent_at.lock().unwrap(), [0, 1, 3, 7].map(millis));
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_refuses_every_read_gets_the_gets_refused_at_their_bound() {
        let (reads, store) = reads(&[Step::Throttled]);
        let (outcome, after) = answer(get_at(&reads, 0)).await;
        assert!(outcome.is_err(), "{outcome:?}");
        assert_eq!(after, BOUND);
        let sent = store.sent_at.lock().unwrap().clone();
        let gaps: Vec<_> = sent.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert_eq!(gaps.iter().max(), Some(&max_spacing(BOUND)), "{gaps:?}");
    }

    #[test]
    fn the_spacing_doubles_to_its_cap_while_refused_and_is_gone_after_answers() {
        let mut pacing = Pacing::default();
        let refusal = StoreError::Throttled(crate::store::cause("slow down"));
        let mut spacings = Vec::new();
        for _ in 0..10 {
            pacing.throttled(&refusal, BOUND);
            spacings.push(pacing.spacing.as_millis());
        }
        assert_eq!(spacings, [1, 2, 4, 8, 16, 32, 64, 128, 250, 250]);
        let answers_to_zero = (1..100)
            .find(|_| {
                pacing.answered();
                pacing.spacing.is_zero()
            })
            .expect("the spacing goes away");
        assert_eq!(answers_to_zero, 20);
    }
}
