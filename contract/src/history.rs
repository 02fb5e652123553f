//! Recording a concurrent history for [`crate::linearizability::check`]:
//! clients write values of their own and read, through every target, one
//! request at a time each, and note when each request was sent and when its
//! answer came.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::linearizability::{Kind, Operation};
use crate::Endpoint;

/// A way into the service: one instance, a balancer, a function.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub endpoint: Endpoint,
}

impl Target {
    pub fn new(name: impl Into<String>, endpoint: Endpoint) -> Self {
        Target {
            name: name.into(),
            endpoint,
        }
    }
}

/// How much load, for how long: both bounded.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub clients: usize,
    /// No client starts a request after this.
    pub duration: Duration,
    /// No client makes more requests than this.
    pub requests_per_client: usize,
    /// A request not answered within this has an unknown outcome.
    pub request_limit: Duration,
}

/// What the clients did and saw.
pub struct Recorded {
    /// Every write, and every read that was answered.
    pub operations: Vec<Operation>,
    /// Reads answered with a refusal, or not at all.
    pub failed_reads: usize,
}

impl Recorded {
    /// Writes answered `200`.
    pub fn acknowledged_writes(&self) -> usize {
        self.writes()
            .filter(|write| write.completed.is_some())
            .count()
    }

    /// Writes answered with a `503`, a balancer's `502`/`504`, or nothing.
    pub fn unknown_writes(&self) -> usize {
        self.writes()
            .filter(|write| write.completed.is_none())
            .count()
    }

    fn writes(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(|op| op.kind == Kind::Write)
    }

    /// Answered requests per second in consecutive windows of `width`.
    pub fn throughput(&self, width: Duration) -> Vec<f64> {
        let window = |at: Duration| (at.as_secs_f64() / width.as_secs_f64()) as usize;
        let answered: Vec<usize> = self
            .operations
            .iter()
            .filter_map(|op| op.completed.map(window))
            .collect();
        let mut counts = vec![0usize; answered.iter().max().map_or(0, |last| last + 1)];
        for window in answered {
            counts[window] += 1;
        }
        counts
            .into_iter()
            .map(|count| count as f64 / width.as_secs_f64())
            .collect()
    }

    /// One line of figures for a test's output.
    pub fn summary(&self) -> String {
        let writes = self.writes().count();
        format!(
            "{} operations: {} writes acknowledged, {} writes of unknown outcome, {} reads \
             answered, {} reads failed",
            self.operations.len() + self.failed_reads,
            self.acknowledged_writes(),
            self.unknown_writes(),
            self.operations.len() - writes,
            self.failed_reads,
        )
    }
}

/// Runs `workload` against `targets` from `started` on. Each client picks
/// its next target and whether to read or write from a generator seeded by
/// its number, so a run can be repeated. Written values are unique and never
/// the initial 0.
pub async fn record(targets: &[Target], workload: Workload, started: Instant) -> Recorded {
    let next_value = Arc::new(AtomicU64::new(1));
    let clients: Vec<_> = (0..workload.clients)
        .map(|client| {
            let targets = targets.to_vec();
            let next_value = Arc::clone(&next_value);
            tokio::spawn(run_client(client, targets, workload, started, next_value))
        })
        .collect();
    let mut recorded = Recorded {
        operations: Vec::new(),
        failed_reads: 0,
    };
    for client in clients {
        let (operations, failed_reads) = client.await.expect("a client task");
        recorded.operations.extend(operations);
        recorded.failed_reads += failed_reads;
    }
    recorded
}

async fn run_client(
    client: usize,
    targets: Vec<Target>,
    workload: Workload,
    started: Instant,
    next_value: Arc<AtomicU64>,
) -> (Vec<Operation>, usize) {
    let mut choices = fastrand::Rng::with_seed(client as u64);
    let mut operations = Vec::new();
    let mut failed_reads = 0;
    for _ in 0..workload.requests_per_client {
        if started.elapsed() >= workload.duration {
            break;
        }
        let target = &targets[choices.usize(..targets.len())];
        let by = format!("client {client} through {}", target.name);
        if choices.bool() {
            let value = next_value.fetch_add(1, Ordering::Relaxed).to_string();
            let invoked = started.elapsed();
            let reply = target
                .endpoint
                .try_send(
                    "POST",
                    "/",
                    &[("content-type", "application/json")],
                    format!("{{\"num\": {value}}}"),
                    workload.request_limit,
                )
                .await;
            let completed = match reply {
                Ok(reply) if reply.status == StatusCode::OK => {
                    assert_eq!(reply.text(), value, "{by}: POST answered another value");
                    Some(started.elapsed())
                }
                Ok(reply) if may_have_landed(reply.status) => None,
                Ok(reply) => panic!("{by}: POST {value} was refused: {reply:?}"),
                Err(_) => None,
            };
            operations.push(Operation {
                kind: Kind::Write,
                value,
                invoked,
                completed,
                by,
            });
        } else {
            let invoked = started.elapsed();
            let reply = target
                .endpoint
                .try_send("GET", "/", &[], "", workload.request_limit)
                .await;
            match reply {
                Ok(reply) if reply.status == StatusCode::OK => operations.push(Operation {
                    kind: Kind::Read,
                    value: reply.text(),
                    invoked,
                    completed: Some(started.elapsed()),
                    by,
                }),
                Ok(reply) if may_have_landed(reply.status) => failed_reads += 1,
                Ok(reply) => panic!("{by}: GET was refused: {reply:?}"),
                Err(_) => failed_reads += 1,
            }
        }
    }
    (operations, failed_reads)
}

/// The service's `503` (the store did not confirm in time), or a balancer's
/// or emulator's `502`/`504` (the instance was gone or slow): the request
/// may have reached the store.
fn may_have_landed(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}
