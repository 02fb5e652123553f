//! The EC2 deployment artefacts (ec2-server/deploy/): the stack passes
//! cfn-lint and `sam validate --lint`, and broken copies fail both; the
//! systemd unit is hardened, and the copy the stack's user data writes is
//! the same unit; the numbers that must be ordered (idle timeouts, drain
//! and stop timeouts) are.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::settings;
use ec2_server::connection::LINGER_TIME;
use harness::templates::{
    assert_alarm_notifies, assert_lint_passes_and_breakages_fail, compact, Linter,
};

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

const BREAKAGES: &[(&str, &str, &str)] = &[
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
];

#[test]
#[ignore = "needs cfn-lint (Python); ./scripts/test runs it"]
fn the_stack_passes_cfn_lint_and_broken_copies_fail() {
    assert_lint_passes_and_breakages_fail(
        Linter::CfnLint,
        &deploy("fallback-stack.yaml"),
        BREAKAGES,
    );
}

#[test]
#[ignore = "needs the SAM CLI (Python); ./scripts/test runs it"]
fn the_stack_passes_sam_validate_lint_and_broken_copies_fail() {
    assert_lint_passes_and_breakages_fail(
        Linter::SamValidate,
        &deploy("fallback-stack.yaml"),
        BREAKAGES,
    );
}

/// The stack's user data is a header of the stack's values, then
/// `boot.sh` verbatim; the unit `boot.sh` installs is `seed.service`.
#[test]
fn the_user_data_is_the_boot_script_which_installs_exactly_the_unit() {
    let boot = read("boot.sh");
    let start = boot.find("<<'UNIT'\n").expect("boot.sh writes the unit") + "<<'UNIT'\n".len();
    let end = boot[start..].find("\nUNIT\n").expect("end of the unit") + start;
    assert_eq!(
        directives(&boot[start..end]),
        directives(&read("seed.service")),
        "ec2-server/deploy/seed.service and the unit boot.sh writes differ"
    );

    let stack = read("fallback-stack.yaml");
    let header_end = stack
        .find("- Table: !If [CreateTable, !Ref SeedTable, !Ref TableName]\n              - |\n")
        .expect("the user data's header, then a literal block");
    let block = &stack[header_end..];
    let block = &block[block.find("- |\n").expect("the block") + "- |\n".len()..];
    let literal: Vec<&str> = block
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with(&" ".repeat(16)))
        .map(|line| line.get(16..).unwrap_or(""))
        .collect();
    assert_eq!(
        literal.join("\n").trim_end(),
        boot.trim_end(),
        "the stack's user data is not ec2-server/deploy/boot.sh"
    );
}

/// boot.sh passes shellcheck (which scripts/test installs).
#[test]
#[ignore = "needs shellcheck (apt); ./scripts/test runs it"]
fn the_boot_script_passes_shellcheck() {
    let output = std::process::Command::new("shellcheck")
        .arg(deploy("boot.sh"))
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run shellcheck ({error}): run ./scripts/test, or apt-get install shellcheck")
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// At least two instances across the zones, replaced when the balancer
/// fails them; creation waits for each one's signal; a new launch template
/// rolls one instance at a time behind signals; scaling follows requests
/// per instance.
#[test]
fn the_instances_are_a_self_healing_group_that_rolls_one_at_a_time() {
    let stack = compact_stack();
    for required in [
        "CreationPolicy: ResourceSignal: Count: 2 Timeout: PT10M",
        "AutoScalingRollingUpdate: MinInstancesInService: 2 MaxBatchSize: 1 PauseTime: PT10M WaitOnResourceSignals: true",
        "MinSize: \"2\" MaxSize: !Ref MaxInstances VPCZoneIdentifier: !Ref SubnetIds",
        "TargetGroupARNs: - !Ref TargetGroup HealthCheckType: ELB",
        "PredefinedMetricType: ALBRequestCountPerTarget",
        "MaxInstances: Type: Number Default: 4 MinValue: 3",
        "export SEED_BINARY_URL='s3://${BinaryBucket}/${BinaryKey}'",
        "export SEED_SIGNAL_RESOURCE=Instances",
        "Action: cloudformation:SignalResource Resource: !Ref AWS::StackId",
    ] {
        assert!(stack.contains(required), "the stack lacks: {required}");
    }
    let boot = read("boot.sh");
    let success = boot
        .find("signal SUCCESS")
        .expect("boot.sh signals success");
    let check = boot
        .find("until curl -fsS -o /dev/null --max-time 5 http://127.0.0.1/")
        .expect("boot.sh checks GET /");
    assert!(check < success, "SUCCESS is sent before GET / answered");
    assert!(boot.contains("trap 'signal FAILURE' EXIT"));
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

/// The value of `Key: NAME` in the compact stack, as whole seconds.
fn stack_seconds(compact: &str, key: &str, value_key: &str) -> Duration {
    let after = compact
        .split_once(&format!("{key} {value_key}"))
        .unwrap_or_else(|| panic!("the stack sets {key}"))
        .1;
    let value = after
        .split_whitespace()
        .next()
        .expect("a value")
        .trim_matches('"');
    Duration::from_secs(value.parse().expect("whole seconds"))
}

fn unit_duration(unit: &[String], prefix: &str) -> Duration {
    let value = unit
        .iter()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("the unit sets {prefix}"));
    humantime::parse_duration(value).expect("a duration")
}

/// The numbers of a restart fit together: the lame duck lasts until the
/// balancer's health check has marked the target down; the unit's stop
/// timeout outlasts the lame duck and the drain; a deregistered target's
/// in-flight requests get as long as the server may take.
#[test]
fn the_lame_duck_drain_stop_timeout_and_deregistration_delay_fit_together() {
    let unit = directives(&read("seed.service"));
    let stack = compact_stack();
    let delay = unit_duration(&unit, "Environment=SEED_SHUTDOWN_DELAY=");
    let stop = unit_duration(&unit, "TimeoutStopSec=");
    let interval = stack_seconds(&stack, "HealthCheckIntervalSeconds:", "");
    let timeout = stack_seconds(&stack, "HealthCheckTimeoutSeconds:", "");
    let threshold = stack_seconds(&stack, "UnhealthyThresholdCount:", "").as_secs() as u32;
    let deregistration = stack_seconds(
        &stack,
        "Key: deregistration_delay.timeout_seconds",
        "Value:",
    );

    let marked_down = interval * threshold + timeout;
    assert!(
        delay >= marked_down,
        "the lame duck ({delay:?}) must outlast the health check's {marked_down:?}"
    );
    let drain = settings(&[]).shutdown_timeout + LINGER_TIME;
    assert!(
        stop > delay + drain,
        "TimeoutStopSec {stop:?} must exceed the lame duck and drain {:?}",
        delay + drain
    );
    assert!(
        deregistration >= delay + settings(&[]).shutdown_timeout,
        "the deregistration delay {deregistration:?} must cover the lame duck and drain"
    );
}

#[test]
fn the_balancer_and_the_servers_agree_on_idle_connections_and_health() {
    let stack = read("fallback-stack.yaml");
    let compact = compact_stack();
    let balancer_idle = Duration::from_secs(60);
    assert!(compact.contains("Key: idle_timeout.timeout_seconds Value: \"60\""));
    assert!(
        settings(&[]).idle_timeout > balancer_idle,
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

/// Runs a script of `scripts/` with a stand-in `aws` first on PATH that
/// records its arguments (no AWS account can be reached from the tests);
/// returns the exit status and the recorded calls.
fn run_with_recorded_aws(script: &str, args: &[&str]) -> (std::process::ExitStatus, Vec<String>) {
    let dir = tempfile::tempdir().expect("a folder for the stand-in");
    let calls = dir.path().join("calls");
    let aws = dir.path().join("aws");
    std::fs::write(
        &aws,
        "#!/bin/sh\necho \"$*\" >> \"$AWS_CALLS\"\n\
         case \"$1 $2\" in \"cloudformation describe-stacks\") echo seed-ec2-SeedTable-1 ;; esac\n",
    )
    .expect("write the stand-in");
    std::process::Command::new("chmod")
        .args(["+x", aws.to_str().expect("UTF-8")])
        .status()
        .expect("chmod");
    let status = harness::without_shell_settings(&mut std::process::Command::new(
        harness::workspace_root().join("scripts").join(script),
    ))
    .args(args)
    .env(
        "PATH",
        format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
    .env("AWS_CALLS", &calls)
    .status()
    .expect("the script runs");
    let recorded = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (status, recorded)
}

/// The README's deploy and teardown commands for the EC2 stack need an AWS
/// account; what they send to the AWS CLI is checked here: the binary
/// uploaded where the stack fetches it, the stack deployed with parameters
/// it declares, deleted and waited for.
#[test]
fn the_deploy_and_delete_scripts_send_what_the_stack_needs() {
    let file = tempfile::NamedTempFile::new().expect("a stand-in binary");
    std::fs::write(file.path(), b"binary").expect("a stand-in binary");
    let binary = file.path().to_str().expect("UTF-8").to_string();
    let (status, calls) = run_with_recorded_aws(
        "ec2-deploy",
        &[
            "--vpc",
            "vpc-1",
            "--subnets",
            "subnet-a,subnet-b",
            "--bucket",
            "my-bucket",
            "--binary",
            &binary,
            "--certificate",
            "arn:aws:acm:eu-west-1:1:certificate/x",
            "--alarm-email",
            "ops@example.com",
            "--max-instances",
            "6",
            "--write-token-parameter",
            "/seed/write-token",
        ],
    );
    assert!(status.success(), "{status:?} {calls:?}");
    assert_eq!(
        calls[0],
        format!("s3 cp {binary} s3://my-bucket/ec2-server"),
        "{calls:?}"
    );
    let deploy = calls
        .iter()
        .find(|call| call.starts_with("cloudformation deploy"))
        .expect("a deploy");
    assert!(deploy.contains("--stack-name seed-ec2"), "{deploy}");
    assert!(
        deploy.contains("ec2-server/deploy/fallback-stack.yaml"),
        "{deploy}"
    );
    assert!(deploy.contains("--capabilities CAPABILITY_IAM"), "{deploy}");
    let stack = read("fallback-stack.yaml");
    let parameters = deploy
        .split_once("--parameter-overrides ")
        .expect("parameters")
        .1;
    for parameter in parameters.split_whitespace() {
        let name = parameter.split('=').next().expect("NAME=value");
        assert!(
            stack.contains(&format!("\n  {name}:\n")),
            "the stack declares no parameter {name}"
        );
    }
    assert!(
        parameters.contains("BinaryBucket=my-bucket BinaryKey=ec2-server"),
        "{parameters}"
    );
    assert!(
        parameters.contains("CertificateArn=arn:aws:acm:eu-west-1:1:certificate/x")
            && parameters.contains("AlarmEmail=ops@example.com")
            && parameters.contains("MaxInstances=6")
            && parameters.contains("WriteTokenParameter=/seed/write-token"),
        "{parameters}"
    );

    let (status, calls) = run_with_recorded_aws("ec2-deploy", &["--vpc", "vpc-1"]);
    assert_eq!(
        status.code(),
        Some(2),
        "missing settings are refused: {calls:?}"
    );
    assert!(calls.is_empty(), "nothing was sent: {calls:?}");

    let (status, calls) = run_with_recorded_aws("ec2-delete", &[]);
    assert!(status.success(), "{status:?} {calls:?}");
    assert!(
        calls.contains(&"cloudformation delete-stack --stack-name seed-ec2".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        calls.last().map(String::as_str),
        Some("cloudformation wait stack-delete-complete --stack-name seed-ec2"),
        "{calls:?}"
    );
}

/// The stack's own text, whitespace folded, for checks of its structure.
fn compact_stack() -> String {
    compact(&deploy("fallback-stack.yaml"))
}

/// With a certificate, 443 serves with a TLS 1.2+ policy and 80 redirects to
/// it, so a write token never travels in clear text; without one, 80 serves.
/// The balancer drops header fields that are not valid tokens.
#[test]
fn https_is_served_when_a_certificate_is_given_and_80_redirects() {
    let stack = compact_stack();
    assert!(stack.contains("HasCertificate: !Not [!Equals [!Ref CertificateArn, \"\"]]"));
    assert!(stack.contains(
        "DefaultActions: - !If - HasCertificate - Type: redirect RedirectConfig: Protocol: HTTPS Port: \"443\" StatusCode: HTTP_301 - Type: forward"
    ));
    assert!(stack.contains(
        "HttpsListener: Type: AWS::ElasticLoadBalancingV2::Listener Condition: HasCertificate Properties: LoadBalancerArn: !Ref LoadBalancer Protocol: HTTPS Port: 443 SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06"
    ));
    assert!(
        stack.contains("- Key: routing.http.drop_invalid_header_fields.enabled Value: \"true\"")
    );
}

/// Shell access is Session Manager's, through the instance role: no port 22
/// and no key pair.
#[test]
fn operators_get_in_through_session_manager_not_ssh() {
    let stack = compact_stack();
    assert!(stack.contains("policy/AmazonSSMManagedInstanceCore"));
    assert!(!stack.contains("KeyName"), "a key pair is set");
    assert!(!stack.contains("FromPort: 22"), "port 22 is open");
}

/// The servers' logs reach a log group of the stack's own, kept
/// `LogRetentionDays`, which the instances may write to and nothing more;
/// the boot script is told its name (boot_script test: the agent ships the
/// unit's log file there).
#[test]
fn the_servers_logs_go_to_a_log_group_with_a_retention_period() {
    let stack = compact_stack();
    let group = harness::templates::block(&stack, "ServerLogs: Type: AWS::Logs::LogGroup ");
    assert!(
        group.contains("RetentionInDays: !Ref LogRetentionDays"),
        "{group}"
    );
    assert!(stack.contains("LogRetentionDays: Type: Number Default: 30"));
    assert!(stack.contains(
        "- PolicyName: seed-logs PolicyDocument: Version: \"2012-10-17\" Statement: - Effect: Allow \
         Action: - logs:CreateLogStream - logs:DescribeLogStreams - logs:PutLogEvents \
         Resource: !GetAtt ServerLogs.Arn"
    ));
    assert!(!stack.contains("logs:*") && !stack.contains("CloudWatchAgentServerPolicy"));
    assert!(stack.contains("export SEED_LOG_GROUP='${ServerLogs}'"));
    assert!(stack.contains("ServerLogGroup: Description:"));
}

/// Alarms on what hurts users: unhealthy targets, the targets' 5xx and the
/// balancer's own 5xx, each sent to the optional address.
#[test]
fn alarms_watch_unhealthy_targets_and_both_kinds_of_5xx() {
    let stack = compact_stack();
    for metric in [
        "UnHealthyHostCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    ] {
        assert_alarm_notifies(&stack, "AWS/ApplicationELB", metric);
    }
}

/// checkov fails no check on the stack; each one the project chooses not to
/// meet is suppressed on its resource with a reason, and a copy without the
/// reasons is caught.
#[test]
#[ignore = "needs checkov (Python); ./scripts/test runs it"]
fn checkov_passes_and_every_suppression_says_why() {
    harness::templates::assert_checkov_passes_with_reasons(&deploy("fallback-stack.yaml"));
}

/// What `scripts/boot-test` saw: the AWS CLI calls, then the container's
/// own lines.
struct Boot {
    succeeded: bool,
    calls: Vec<String>,
    lines: Vec<String>,
}

/// boot.sh run in a throwaway container (`scripts/boot-test`) with
/// stand-ins for the AWS CLI, the instance metadata and systemctl, its
/// server on a new table of the shared DynamoDB Local.
fn boot(broken: bool, token: Option<&str>) -> Boot {
    let endpoint = harness::dynamodb_local::shared_endpoint();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let store = runtime.block_on(harness::dynamodb_local::store_on_new_table(
        &endpoint,
        "boot",
        shared::settings::DEFAULT_STORE_TIMEOUT,
    ));
    let mut command =
        std::process::Command::new(harness::workspace_root().join("scripts/boot-test"));
    harness::without_shell_settings(&mut command);
    command.args([
        "--binary",
        env!("CARGO_BIN_EXE_ec2-server"),
        "--endpoint",
        &endpoint,
        "--table",
        store.table(),
    ]);
    if broken {
        command.arg("--broken");
    }
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    let output = command.output().expect("scripts/boot-test runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let calls = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("CALL "))
        .map(str::to_string)
        .collect();
    Boot {
        succeeded: output.status.success(),
        calls,
        lines: stdout
            .lines()
            .filter(|line| !line.starts_with("CALL "))
            .map(str::to_string)
            .collect(),
    }
}

fn signal(status: &str) -> String {
    format!(
        "cloudformation signal-resource --region us-east-1 --stack-name seed-ec2 \
         --logical-resource-id Instances --unique-id i-0standin --status {status}"
    )
}

/// The boot script installs the binary and the unit where the unit expects
/// them, fetches the write token from the parameter store into a root-only
/// file that systemd hands to the server (never into the environment file
/// or a unit), starts the server and signals SUCCESS once GET / answers
/// 200; with a binary that cannot serve it signals FAILURE, and only that.
/// (The two runs share the host's port 80, so they run one after the
/// other.)
#[test]
#[ignore = "needs Docker (apt) and DynamoDB Local; ./scripts/test runs it"]
fn the_boot_script_signals_success_only_once_the_server_answers() {
    let good = boot(false, Some("boot-t0ken"));
    assert!(good.succeeded, "{:?} {:?}", good.calls, good.lines);
    assert_eq!(
        good.calls.first().map(String::as_str),
        Some("s3 cp s3://bucket/ec2-server /usr/local/bin/ec2-server"),
        "{:?}",
        good.calls
    );
    assert_eq!(
        good.calls.last(),
        Some(&signal("SUCCESS")),
        "{:?} {:?}",
        good.calls,
        good.lines
    );
    assert!(!good.calls.contains(&signal("FAILURE")), "{:?}", good.calls);
    assert!(
        good.lines.contains(&"BOOT exit 0".to_string()),
        "{:?}",
        good.lines
    );
    for (file, mode) in [
        ("/usr/local/bin/ec2-server", "-rwxr-xr-x"),
        ("/etc/systemd/system/seed.service", "-rw-"),
        ("/etc/seed/seed.env", "-rw-"),
        ("/etc/seed/write-token", "-rw-------"),
    ] {
        assert!(
            good.lines
                .iter()
                .any(|line| line.starts_with(&format!("FILE {mode}")) && line.ends_with(file)),
            "{file} is not installed with {mode}: {:?}",
            good.lines
        );
    }
    assert!(
        good.lines
            .iter()
            .any(|line| line.starts_with("SERVER ") && line.contains("listening")),
        "the server did not start: {:?}",
        good.lines
    );
    assert!(
        good.calls.contains(
            &"ssm get-parameter --region us-east-1 --name /seed/write-token --with-decryption \
              --query Parameter.Value --output text"
                .to_string()
        ),
        "{:?}",
        good.calls
    );
    assert!(
        good.lines.iter().any(|line| line.starts_with("SERVER ")
            && line.contains("on: token from --write-token-file")),
        "the server does not protect writes with the token: {:?}",
        good.lines
    );
    assert!(
        !good.lines.iter().any(|line| line.starts_with("TOKEN IN ")),
        "the token was written where it should not be: {:?}",
        good.lines
    );
    assert_logs_are_shipped(&good);

    let broken = boot(true, None);
    assert!(broken.succeeded, "{:?} {:?}", broken.calls, broken.lines);
    assert_eq!(
        broken.calls.last(),
        Some(&signal("FAILURE")),
        "{:?}",
        broken.calls
    );
    assert!(
        !broken.calls.contains(&signal("SUCCESS")),
        "{:?}",
        broken.calls
    );
    assert!(
        broken
            .lines
            .iter()
            .any(|line| line.starts_with("BOOT exit ") && line != "BOOT exit 0"),
        "{:?}",
        broken.lines
    );
}

/// The server's log goes to the file the unit names (the SERVER lines are
/// read from it); the CloudWatch agent is installed and started with a
/// configuration that ships that file to the stack's log group, one stream
/// per instance; logrotate rotates the same file without reopening it.
fn assert_logs_are_shipped(boot: &Boot) {
    let unit = directives(&read("seed.service"));
    let log_file = unit
        .iter()
        .find_map(|line| line.strip_prefix("StandardOutput=append:"))
        .expect("the unit appends its output to a file");
    let agent = "/opt/aws/amazon-cloudwatch-agent";
    for call in [
        "dnf install -y amazon-cloudwatch-agent logrotate".to_string(),
        format!(
            "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{agent}/etc/seed.json"
        ),
    ] {
        assert!(
            boot.calls.contains(&call),
            "no {call:?} in {:?}",
            boot.calls
        );
    }
    let with = |prefix: &str| -> Vec<&str> {
        boot.lines
            .iter()
            .filter_map(|line| line.strip_prefix(prefix))
            .collect()
    };
    let configuration: serde_json::Value = serde_json::from_str(&with("AGENT ").join("\n"))
        .unwrap_or_else(|error| {
            panic!(
                "the agent's configuration is not JSON ({error}): {:?}",
                boot.lines
            )
        });
    let collected = &configuration["logs"]["logs_collected"]["files"]["collect_list"];
    assert_eq!(
        collected,
        &serde_json::json!([{
            "file_path": log_file,
            "log_group_name": "/seed/seed-ec2/server",
            "log_stream_name": "{instance_id}",
            "timezone": "UTC",
        }]),
        "the agent does not ship the unit's log file to the stack's group"
    );
    // The server's metrics go to the same file, so the agent ships them to
    // the group, where CloudWatch Logs extracts them (docs/observability.md).
    let documents: Vec<serde_json::Value> = with("METRICS ")
        .iter()
        .map(|line| {
            contract::telemetry::validate_emf(line).unwrap_or_else(|why| panic!("{why}: {line}"))
        })
        .collect();
    let first = documents
        .first()
        .unwrap_or_else(|| panic!("no metrics document in the shipped log: {:?}", boot.lines));
    assert_eq!(
        first["service"], "seed-ec2",
        "the service is not the stack's name: {first}"
    );
    let requests = contract::telemetry::metric_totals(&documents)["Requests"];
    assert!(
        requests >= 1,
        "the boot's GET is not counted: {documents:?}"
    );
    let rotate = with("ROTATE ");
    assert_eq!(
        rotate.first(),
        Some(&format!("{log_file} {{").as_str()),
        "{rotate:?}"
    );
    assert!(
        rotate.iter().any(|line| line.trim() == "copytruncate"),
        "{rotate:?}"
    );
}
