//! The write token from Parameter Store, in-process, against the stand-in
//! (moto, checking signatures and the caller's policy): what the function
//! reads, and how each way of failing is reported. `events` runs the real
//! bootstrap with a token from the stand-in end to end.

use harness::parameter_store::{Parameter, ParameterStoreStandin, Throttle, Throttling};
use lambda::InitError;
use shared::error::Chain;

use crate::support::events::{write_protection, Shape};
use crate::support::InProcess;

const TOKEN: &str = "lambda-ssm-t0ken";

fn standin() -> ParameterStoreStandin {
    ParameterStoreStandin::start(&[
        Parameter {
            name: "/seed/write-token",
            kind: "SecureString",
            value: TOKEN,
        },
        Parameter {
            name: "/seed/in-clear",
            kind: "String",
            value: TOKEN,
        },
        Parameter {
            name: "/seed/spaced",
            kind: "SecureString",
            value: "two words",
        },
    ])
}

/// Starts the function in-process with `parameter` as the token's
/// parameter, the stand-in's environment, and `overrides` before both.
fn start(
    standin: &ParameterStoreStandin,
    parameter: &str,
    overrides: &[(&'static str, &str)],
) -> Result<InProcess, String> {
    start_with(standin.env(), parameter, overrides)
}

/// [`start`] with Parameter Store's environment `standin_env`.
fn start_with(
    standin_env: Vec<(&'static str, String)>,
    parameter: &str,
    overrides: &[(&'static str, &str)],
) -> Result<InProcess, String> {
    let mut env: Vec<(&str, &str)> = overrides.to_vec();
    env.push(("SEED_WRITE_TOKEN_PARAMETER", parameter));
    env.extend(
        standin_env
            .iter()
            .map(|(key, value)| (*key, value.as_str())),
    );
    InProcess::start(&env).map_err(|error| {
        assert!(matches!(error, InitError::WriteToken(_)), "{error:?}");
        Chain(&error).to_string()
    })
}

fn assert_refused(result: Result<InProcess, String>, expected: &[&str]) {
    let error = result.err().expect("init succeeded where it must fail");
    for part in expected {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
    assert!(!error.contains(TOKEN), "the error shows the token: {error}");
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn reads_the_secure_string_with_a_signed_request_and_reports_each_failure() {
    let standin = standin();
    let function = start(&standin, "/seed/write-token", &[]).expect("the token is read");
    write_protection(Shape::HttpV2, TOKEN, function.through(Shape::HttpV2));
    assert_refused(
        start(&standin, "/seed/missing", &[]),
        &["/seed/missing", "HTTP 400", "ParameterNotFound"],
    );
    assert_refused(
        start(&standin, "/seed/in-clear", &[]),
        &["/seed/in-clear", "String parameter", "SecureString"],
    );
    assert_refused(
        start(&standin, "/seed/spaced", &[]),
        &["/seed/spaced", "not usable", "visible ASCII"],
    );
    // A request signed with the wrong secret is refused: the stand-in
    // checks signatures, so the first case shows that ours are right.
    assert_refused(
        start(
            &standin,
            "/seed/write-token",
            &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        ),
        &["HTTP 403", "SignatureDoesNotMatch"],
    );
}

/// Init's error with Parameter Store at `endpoint`, where it cannot answer.
fn init_error_at(endpoint: &str) -> String {
    let aws = harness::parameter_store::process_env(endpoint);
    let mut env = vec![("SEED_WRITE_TOKEN_PARAMETER", "/seed/write-token")];
    env.extend(aws.iter().map(|(key, value)| (*key, value.as_str())));
    let error = InProcess::start(&env)
        .err()
        .unwrap_or_else(|| panic!("init succeeded with no Parameter Store at {endpoint}"));
    Chain(&error).to_string()
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn an_unreachable_parameter_store_stops_init_naming_the_endpoint() {
    let closed = format!("http://127.0.0.1:{}", harness::free_port());
    let error = init_error_at(&closed);
    assert!(
        error.contains(&closed) && error.contains("could not be reached"),
        "{error}"
    );
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn a_parameter_store_that_never_answers_stops_init_within_the_limit() {
    // Connections are accepted (the backlog) and never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let endpoint = format!("http://{}", silent.local_addr().expect("its address"));
    let error = init_error_at(&endpoint);
    assert!(
        error.contains(&endpoint)
            && error.contains(&format!("within {:?}", lambda::parameter_store::LIMIT)),
        "{error}"
    );
}

/// The stand-in behind a throttle.
fn throttled(throttling: Throttling) -> (ParameterStoreStandin, Throttle) {
    let standin = standin();
    let throttle = Throttle::start(&standin, throttling);
    (standin, throttle)
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn a_read_throttled_twice_is_sent_again_and_succeeds_on_the_third() {
    let (standin, throttle) = throttled(Throttling::First(2));
    let function = start_with(
        standin.env_via(&throttle.endpoint),
        "/seed/write-token",
        &[],
    )
    .expect("the token is read on the third attempt");
    write_protection(Shape::HttpV2, TOKEN, function.through(Shape::HttpV2));
    assert_eq!(throttle.received(), 3);
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn sixty_instances_starting_at_once_past_the_accounts_rate_all_read_the_token() {
    let (standin, throttle) = throttled(Throttling::PerSecond(40));
    let env = standin.env_via(&throttle.endpoint);
    let instances: Vec<_> = (0..60)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || start_with(env, "/seed/write-token", &[]).map(|_| ()))
        })
        .collect();
    let failures: Vec<String> = instances
        .into_iter()
        .filter_map(|instance| instance.join().expect("an instance thread").err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    assert!(
        throttle.received() > 60,
        "none was throttled ({} requests): the test shows nothing",
        throttle.received()
    );
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn a_read_throttled_every_time_stops_init_within_the_limit_saying_so() {
    let (standin, throttle) = throttled(Throttling::Always);
    let result = start_with(
        standin.env_via(&throttle.endpoint),
        "/seed/write-token",
        &[],
    );
    assert_refused(result, &["ThrottlingException", "HTTP 400"]);
    assert_eq!(
        throttle.received(),
        3,
        "not the SDK's standard retries (three attempts)"
    );
}

#[test]
#[ignore = "needs moto (Python); ./scripts/test runs it"]
fn a_missing_parameter_is_asked_for_once() {
    let (standin, throttle) = throttled(Throttling::First(0));
    assert_refused(
        start_with(standin.env_via(&throttle.endpoint), "/seed/missing", &[]),
        &["ParameterNotFound"],
    );
    assert_eq!(throttle.received(), 1);
}
