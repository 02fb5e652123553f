//! The EC2 deployment artefacts (ec2-server/deploy/): the stack passes
//! cfn-lint and broken copies fail it; the systemd unit is hardened, and the
//! copy the stack's user data writes is the same unit; the numbers that must
//! be ordered (idle timeouts, drain and stop timeouts) are.

use std::path::{Path, PathBuf};
use std::time::Duration;

use contract_tests::templates::{assert_lint_passes_and_breakages_fail, Linter};
use ec2_server::connection::LINGER_TIME;
use ec2_server::Settings;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(deploy(file)).expect("deploy file is readable")
}

/// The unit's directives, comments and blank lines left out.
fn directives(unit: &str) -> Vec<String> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_stack_passes_cfn_lint_and_broken_copies_fail() {
    assert_lint_passes_and_breakages_fail(
        Linter::CfnLint,
        &deploy("fallback-stack.yaml"),
        &[
            (
                "a misspelled property",
                "HealthCheckPath: /",
                "HealthCheckPth: /",
            ),
            (
                "a reference to nothing",
                "!Ref LoadBalancerSecurityGroup",
                "!Ref LoadBalancerSecurityGrup",
            ),
        ],
    );
}

#[test]
fn the_user_data_installs_exactly_the_unit_in_the_repository() {
    let stack = read("fallback-stack.yaml");
    let start = stack
        .find("<<'UNIT'")
        .expect("the user data writes the unit")
        + "<<'UNIT'".len();
    let end = stack[start..]
        .find("\n              UNIT")
        .expect("end of the unit")
        + start;
    assert_eq!(
        directives(&stack[start..end]),
        directives(&read("seed.service")),
        "ec2-server/deploy/seed.service and the stack's user data differ"
    );
}

#[test]
fn the_unit_is_hardened() {
    let unit = directives(&read("seed.service"));
    for required in [
        "DynamicUser=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ] {
        assert!(
            unit.iter().any(|line| line == required),
            "seed.service lacks {required}"
        );
    }
}

#[test]
fn the_stop_timeout_outlasts_the_servers_drain() {
    let unit = directives(&read("seed.service"));
    let stop = unit
        .iter()
        .find_map(|line| line.strip_prefix("TimeoutStopSec="))
        .expect("TimeoutStopSec is set");
    let stop = humantime::parse_duration(stop).expect("a duration");
    let drain = Settings::for_tests().shutdown_timeout + LINGER_TIME;
    assert!(
        stop > drain,
        "TimeoutStopSec {stop:?} must exceed the drain {drain:?}"
    );
}

#[test]
fn the_balancer_and_the_servers_agree_on_idle_connections_and_health() {
    let stack = read("fallback-stack.yaml");
    let compact: String = stack.split_whitespace().collect::<Vec<_>>().join(" ");
    let balancer_idle = Duration::from_secs(60);
    assert!(compact.contains("Key: idle_timeout.timeout_seconds Value: \"60\""));
    assert!(
        Settings::for_tests().idle_timeout > balancer_idle,
        "the server must keep idle connections longer than the balancer"
    );
    for expected in [
        "HealthCheckPath: /",
        "HealthCheckIntervalSeconds: 10",
        "HealthyThresholdCount: 2",
        "UnhealthyThresholdCount: 2",
        "HttpCode: \"200\"",
        "Scheme: internet-facing",
        "Port: 80",
        "SourceSecurityGroupId: !Ref LoadBalancerSecurityGroup",
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "SEED_STORE=dynamodb",
        // The table the stack creates has the store's schema.
        "AttributeDefinitions: - AttributeName: id AttributeType: S",
        "KeySchema: - AttributeName: id KeyType: HASH",
        "BillingMode: PAY_PER_REQUEST",
        "SEED_INSTANCE_NAME=$instance",
    ] {
        assert!(compact.contains(expected), "the stack lacks {expected:?}");
    }
    let actions: Vec<&str> = stack
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- dynamodb:"))
        .collect();
    assert_eq!(
        actions,
        ["GetItem", "PutItem"],
        "instances may only get and put items"
    );
}
