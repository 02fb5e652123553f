//! Consistency as a property of whole concurrent histories. Clients write
//! values of their own and read through every target at once (two server
//! processes on one DynamoDB Local table, the balancer in front of them, and
//! the Lambda function on the same table), and what they saw must be one
//! register's history (`contract::linearizability`): clean, while instances
//! are killed with SIGKILL and revived, while the store stalls, and while
//! the network to the store holds requests back (the histories under an
//! item's rate limit are in `throttling`); and the function as Lambda
//! Managed Instances run it, many invocations at once, beside a server.
//! Every DynamoDB store here shares reads between the GETs waiting for
//! them. Stores that are wrong on purpose (writes retried blind, reads
//! cached for 50 ms, GETs that join a read already under way, in a server
//! or on the function's path to the store) show that the check bites.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contract::history::{record, Recorded, Target, Workload};
use contract::linearizability::{check, Violation};
use harness::dynamodb_local::{
    sdk_config, shared_endpoint, store_env, store_on_new_table, PrivateDynamoDb,
};
use harness::lambda_emulator::{bootstrap, LambdaUnderEmulator};
use harness::mutant_proxy::JoinedReadsProxy;
use harness::replica::Replica;
use harness::runtime_api::FunctionUnderRuntimeApi;
use harness::slow_proxy::SlowProxy;
use shared::settings::DEFAULT_STORE_TIMEOUT as STORE_TIMEOUT;
use shared::{DynamoDbStore, Seed, Store, StoreError};

use crate::support::{settings, spawn_app_with, TestServer};

/// Eight clients, one request at a time each, for a bounded time.
fn workload(duration: Duration) -> Workload {
    Workload {
        clients: 8,
        duration,
        requests_per_client: 5_000,
        // Past the store's bound (2 s) and the emulator's queue: an answer
        // this late is an outcome the client does not know.
        request_limit: Duration::from_secs(10),
    }
}

/// Both targets on one table: the replica (DynamoDB Local, instances a and
/// b, HAProxy) and the Lambda function under its emulator.
struct Fleet {
    replica: Arc<Replica>,
    _function: LambdaUnderEmulator,
    targets: Vec<Target>,
}

impl Fleet {
    async fn start() -> Self {
        let server = std::path::Path::new(env!("CARGO_BIN_EXE_ec2-server"));
        let replica = tokio::task::spawn_blocking(move || Replica::start(server, false, &[]))
            .await
            .expect("starting the replica");
        let env = replica.store_env();
        let function = tokio::task::spawn_blocking(move || LambdaUnderEmulator::start(&env))
            .await
            .expect("starting the function");
        let instance = |name: &str| {
            let address = replica.instance_address(name);
            Target::new(
                format!("instance {name}"),
                contract::Endpoint::new(format!("http://{address}")),
            )
        };
        let targets = vec![
            instance("a"),
            instance("b"),
            Target::new("the balancer", replica.endpoint()),
            Target::new("the Lambda function", function.endpoint()),
        ];
        Fleet {
            replica: Arc::new(replica),
            _function: function,
            targets,
        }
    }

    /// Runs `scripts/replica ARGS` off the async workers (it waits for ports).
    async fn replica(&self, args: &'static [&'static str]) {
        let replica = Arc::clone(&self.replica);
        tokio::task::spawn_blocking(move || replica.script(args, &[]))
            .await
            .expect("scripts/replica");
    }
}

/// Records `workload` through `targets` while `faults` run (from the same
/// start), prints the figures, and returns them with the verdict.
async fn record_under<F, Fut>(
    what: &str,
    targets: &[Target],
    workload: Workload,
    faults: F,
) -> (Recorded, Result<(), Violation>)
where
    F: FnOnce(Instant) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let (recorded, ()) = tokio::join!(record(targets, workload, started), faults(started));
    let verdict = check("0", &recorded.operations);
    eprintln!(
        "{what}: {}; {}; answered per second, by second: {:?}",
        recorded.summary(),
        match &verdict {
            Ok(()) => "linearizable".to_string(),
            Err(violation) => format!("NOT linearizable: {violation}"),
        },
        recorded
            .throughput(Duration::from_secs(1))
            .iter()
            .map(|rate| *rate as u64)
            .collect::<Vec<_>>()
    );
    (recorded, verdict)
}

/// [`record_under`], failing the test unless the history is a single
/// register's.
pub(crate) async fn record_one_register<F, Fut>(
    what: &str,
    targets: &[Target],
    workload: Workload,
    faults: F,
) -> Recorded
where
    F: FnOnce(Instant) -> Fut,
    Fut: Future<Output = ()>,
{
    let (recorded, verdict) = record_under(what, targets, workload, faults).await;
    if let Err(violation) = verdict {
        panic!(
            "{what}: the history is not a single register's: {violation}\n({})",
            recorded.summary()
        );
    }
    recorded
}

/// Sleeps until `at` after `started`: the faults' schedule.
async fn at(started: Instant, at: Duration) {
    tokio::time::sleep_until((started + at).into()).await;
}

/// Asserts that every target answered requests sent after `since`: the
/// service came back by itself.
fn assert_every_target_answered_after(recorded: &Recorded, targets: &[Target], since: Duration) {
    for target in targets {
        let answered = recorded.operations.iter().any(|operation| {
            operation.by.ends_with(&format!("through {}", target.name))
                && operation.invoked > since
                && operation.completed.is_some()
        });
        assert!(
            answered,
            "{} answered nothing sent after {since:?}",
            target.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn every_target_on_one_table_is_one_register() {
    let fleet = Fleet::start().await;
    record_clean("clean", &fleet.targets).await;
}

/// 8 s with no fault, which must be a single register's and acknowledge
/// more than 100 writes.
async fn record_clean(what: &str, targets: &[Target]) {
    let recorded =
        record_one_register(what, targets, workload(Duration::from_secs(8)), |_| async {
        })
        .await;
    assert!(
        recorded.acknowledged_writes() > 100,
        "{}",
        recorded.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn instances_killed_with_sigkill_and_revived_keep_one_register() {
    let fleet = &Fleet::start().await;
    let faults = |started| async move {
        at(started, Duration::from_secs(2)).await;
        fleet.replica(&["kill", "a"]).await;
        at(started, Duration::from_secs(4)).await;
        fleet.replica(&["revive", "a"]).await;
        at(started, Duration::from_secs(7)).await;
        fleet.replica(&["kill", "b"]).await;
        at(started, Duration::from_secs(9)).await;
        fleet.replica(&["revive", "b"]).await;
    };
    let recorded = record_one_register(
        "SIGKILL",
        &fleet.targets,
        workload(Duration::from_secs(13)),
        faults,
    )
    .await;
    assert_every_target_answered_after(&recorded, &fleet.targets, Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn a_store_that_stalls_past_an_attempt_and_past_the_bound_keeps_one_register() {
    let fleet = &Fleet::start().await;
    record_through_stalls(
        "stalled store",
        &fleet.targets,
        || fleet.replica(&["pause-store"]),
        || fleet.replica(&["resume-store"]),
    )
    .await;
}

/// 18 s while the store stalls (`pause`, then `resume`): longer than a
/// read attempt's timeout (1 s, half the 2 s bound), and twice longer than
/// the whole bound, so that the writes in flight when those begin get 503
/// and land later. The history must be a single register's, hold such a
/// write, and every target must answer again by itself.
async fn record_through_stalls<P, R, PF, RF>(what: &str, targets: &[Target], pause: P, resume: R)
where
    P: Fn() -> PF,
    R: Fn() -> RF,
    PF: Future<Output = ()>,
    RF: Future<Output = ()>,
{
    let faults = |started| async move {
        for (from, length) in [(2.0, 1.5), (5.0, 2.5), (9.5, 2.5), (13.5, 1.5)] {
            at(started, Duration::from_secs_f64(from)).await;
            pause().await;
            at(started, Duration::from_secs_f64(from + length)).await;
            resume().await;
        }
    };
    let recorded =
        record_one_register(what, targets, workload(Duration::from_secs(18)), faults).await;
    assert!(
        recorded.unknown_writes() > 0,
        "no write outlived the bound, so no 503 was tested: {}",
        recorded.summary()
    );
    assert_every_target_answered_after(&recorded, targets, Duration::from_secs(15));
}

/// Two in-process servers on one new table of the shared DynamoDB Local,
/// each with the store `wrap` makes of a store reached through `proxy` and
/// bounded by `call_timeout`.
async fn two_servers_through(
    proxy: &SlowProxy,
    call_timeout: Duration,
    wrap: impl Fn(DynamoDbStore) -> Arc<dyn Store>,
) -> (TestServer, TestServer, Vec<Target>) {
    let table = store_on_new_table(&shared_endpoint(), "history", call_timeout)
        .await
        .table()
        .to_string();
    let store = || DynamoDbStore::new(sdk_config(&proxy.endpoint()), &table, call_timeout);
    let first = spawn_app_with(settings(&[]), wrap(store())).await;
    let second = spawn_app_with(settings(&[]), wrap(store())).await;
    let targets = vec![
        Target::new("server 1", first.endpoint.clone()),
        Target::new("server 2", second.endpoint.clone()),
    ];
    (first, second, targets)
}

/// How long one attempt of a write was bounded by before writes stopped
/// being retried: half of the default bound on a call.
const OLD_ATTEMPT: Duration = Duration::from_secs(1);

/// Every 2 s, for 300 ms, the network to the store holds what it carries
/// for 1.5 s, longer than [`OLD_ATTEMPT`], then delivers it.
async fn network_holds_requests_back(proxy: &SlowProxy, started: Instant, rounds: u32) {
    for round in 0..rounds {
        at(started, Duration::from_secs(2 * u64::from(round) + 1)).await;
        proxy.set_delay(Duration::from_millis(1500));
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.set_delay(Duration::ZERO);
    }
}

async fn proxy_to_shared_dynamodb() -> SlowProxy {
    let endpoint = shared_endpoint();
    let address = contract::socket_address(&endpoint);
    let address = address.expect("the shared DynamoDB Local is at http://IP:PORT");
    SlowProxy::start(address).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn writes_held_back_by_the_network_land_once() {
    let proxy = proxy_to_shared_dynamodb().await;
    let (_first, _second, targets) = two_servers_through(&proxy, STORE_TIMEOUT, |store| {
        Arc::new(store) as Arc<dyn Store>
    })
    .await;
    record_one_register(
        "network delays, the store",
        &targets,
        workload(Duration::from_secs(12)),
        |started| network_holds_requests_back(&proxy, started, 5),
    )
    .await;
}

/// A store that sends a write again after any failure that may have
/// landed, each attempt bounded by [`OLD_ATTEMPT`]: what the SDK's standard
/// retries did to writes.
struct BlindRetries(DynamoDbStore);

#[async_trait]
impl Store for BlindRetries {
    async fn get(&self) -> Result<Seed, StoreError> {
        self.0.get().await
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        let mut attempts = 1;
        loop {
            match self.0.put(seed).await {
                Err(error) if error.write_may_have_landed() && attempts < 3 => attempts += 1,
                outcome => return outcome,
            }
        }
    }

    fn kind(&self) -> &'static str {
        "dynamodb, writes retried blind"
    }

    fn is_shared(&self) -> bool {
        true
    }
}

/// A store that answers reads from a copy up to 50 ms old.
struct CachedReads {
    store: DynamoDbStore,
    copy: Mutex<Option<(Instant, Seed)>>,
}

#[async_trait]
impl Store for CachedReads {
    async fn get(&self) -> Result<Seed, StoreError> {
        if let Some((taken, seed)) = &*self.copy.lock().expect("the copy") {
            if taken.elapsed() < Duration::from_millis(50) {
                return Ok(seed.clone());
            }
        }
        let seed = self.store.get().await?;
        *self.copy.lock().expect("the copy") = Some((Instant::now(), seed.clone()));
        Ok(seed)
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        self.store.put(seed).await
    }

    fn kind(&self) -> &'static str {
        "dynamodb, reads cached"
    }

    fn is_shared(&self) -> bool {
        true
    }
}

/// The answer of a read under way, as the GETs that joined it wait for it.
type ReadUnderWay = tokio::sync::watch::Receiver<Option<Result<Seed, StoreError>>>;

/// A store whose GETs join the read already under way, if any (plain
/// single-flight), each read's answer held 50 ms before it is given: that
/// read may predate a write acknowledged before a GET that joins it.
struct JoinsReadsUnderWay {
    store: DynamoDbStore,
    under_way: Mutex<Option<ReadUnderWay>>,
}

#[async_trait]
impl Store for JoinsReadsUnderWay {
    async fn get(&self) -> Result<Seed, StoreError> {
        let joined = self.under_way.lock().expect("the read under way").clone();
        if let Some(mut answer) = joined {
            let answered = answer.wait_for(Option::is_some).await;
            return match answered.as_deref() {
                Ok(Some(outcome)) => outcome.clone(),
                _ => Err(StoreError::Other(shared::store::cause(
                    "the read was abandoned",
                ))),
            };
        }
        let (sender, answer) = tokio::sync::watch::channel(None);
        *self.under_way.lock().expect("the read under way") = Some(answer);
        let outcome = self.store.get().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        *self.under_way.lock().expect("the read under way") = None;
        sender.send_replace(Some(outcome.clone()));
        outcome
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        self.store.put(seed).await
    }

    fn kind(&self) -> &'static str {
        "dynamodb, GETs join the read under way"
    }

    fn is_shared(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_check_catches_writes_retried_blind_when_the_network_holds_them_back() {
    let proxy = proxy_to_shared_dynamodb().await;
    let (_first, _second, targets) = two_servers_through(&proxy, OLD_ATTEMPT, |store| {
        Arc::new(BlindRetries(store)) as Arc<dyn Store>
    })
    .await;
    let (recorded, verdict) = record_under(
        "network delays, writes retried blind",
        &targets,
        workload(Duration::from_secs(12)),
        |started| network_holds_requests_back(&proxy, started, 5),
    )
    .await;
    assert!(
        verdict.is_err(),
        "blind retries went unnoticed: {}",
        recorded.summary()
    );
}

/// Two servers on `double`, a store wrong on purpose, must fail the check.
async fn the_check_catches(what: &str, double: impl Fn(DynamoDbStore) -> Arc<dyn Store>) {
    let proxy = proxy_to_shared_dynamodb().await;
    let (_first, _second, targets) = two_servers_through(&proxy, STORE_TIMEOUT, double).await;
    assert_caught(what, &targets).await;
}

/// 4 s through `targets`, with no fault, must fail the check.
async fn assert_caught(what: &str, targets: &[Target]) {
    let workload = workload(Duration::from_secs(4));
    let (recorded, verdict) = record_under(what, targets, workload, |_| async {}).await;
    assert!(
        verdict.is_err(),
        "{what} went unnoticed: {}",
        recorded.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_check_catches_reads_cached_for_50_ms() {
    the_check_catches("reads cached for 50 ms", |store| {
        Arc::new(CachedReads {
            store,
            copy: Mutex::new(None),
        }) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs HAProxy (apt), DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_check_catches_gets_that_join_a_read_under_way() {
    the_check_catches("GETs that join a read under way", |store| {
        Arc::new(JoinsReadsUnderWay {
            store,
            under_way: Mutex::new(None),
        }) as Arc<dyn Store>
    })
    .await;
}

/// The function as Lambda Managed Instances run it (8 invocations at once
/// in one process, under a Runtime API of the tests' own) and a server, on
/// one table of a DynamoDB Local of their own, both reaching it through
/// [`JoinedReadsProxy`] where the test wants reads joined.
struct ManagedFleet {
    dynamodb: PrivateDynamoDb,
    _joined_reads: Option<JoinedReadsProxy>,
    _server: TestServer,
    function: FunctionUnderRuntimeApi,
    targets: Vec<Target>,
}

impl ManagedFleet {
    async fn start(join_reads: bool) -> Self {
        let dynamodb = tokio::task::spawn_blocking(PrivateDynamoDb::start)
            .await
            .expect("starting DynamoDB Local");
        let table = store_on_new_table(&dynamodb.endpoint(), "managed", STORE_TIMEOUT).await;
        let joined_reads = match join_reads {
            true => Some(JoinedReadsProxy::start(([127, 0, 0, 1], dynamodb.port).into()).await),
            false => None,
        };
        let endpoint = joined_reads
            .as_ref()
            .map_or_else(|| dynamodb.endpoint(), JoinedReadsProxy::url);
        let store = DynamoDbStore::new(sdk_config(&endpoint), table.table(), STORE_TIMEOUT);
        let server = spawn_app_with(settings(&[]), Arc::new(store)).await;
        let mut env = store_env(&endpoint, table.table());
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY", "8".to_string()));
        let function = FunctionUnderRuntimeApi::start(&bootstrap(), &env).await;
        let targets = vec![
            Target::new("the server", server.endpoint.clone()),
            Target::new("the function on Managed Instances", function.endpoint()),
        ];
        ManagedFleet {
            dynamodb,
            _joined_reads: joined_reads,
            _server: server,
            function,
            targets,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_function_on_managed_instances_and_a_server_are_one_register() {
    let fleet = ManagedFleet::start(false).await;
    record_clean("managed instances, clean", &fleet.targets).await;
    assert!(
        fleet.function.api.most_held_at_once() > 1,
        "the function never held two invocations at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_function_on_managed_instances_keeps_one_register_while_the_store_stalls() {
    let fleet = &ManagedFleet::start(false).await;
    record_through_stalls(
        "managed instances, stalled store",
        &fleet.targets,
        || async { fleet.dynamodb.pause() },
        || async { fleet.dynamodb.resume() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local and the Lambda bootstrap (cargo-lambda); ./scripts/test runs it"]
async fn the_check_catches_the_function_on_managed_instances_joining_reads_under_way() {
    let fleet = ManagedFleet::start(true).await;
    let what = "managed instances, reads joined";
    assert_caught(what, &fleet.targets).await;
}
