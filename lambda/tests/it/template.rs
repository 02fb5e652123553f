//! `template.yaml` (and `template-managed-instances.yaml`, the same stack on
//! Lambda Managed Instances) passes cfn-lint, a broken copy does not (so the
//! check bites), and the template creates the table schema and grants
//! exactly the permissions the code uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harness::templates::{
    assert_alarm_notifies, assert_lint_passes_and_breakages_fail, block, compact, Linter,
};
use shared::store::dynamodb::KEY_ATTRIBUTE;

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("lambda/ sits in the workspace root")
        .join("template.yaml")
}

/// The same stack on Lambda Managed Instances.
fn managed_instances_path() -> PathBuf {
    template_path().with_file_name("template-managed-instances.yaml")
}

fn template() -> String {
    std::fs::read_to_string(template_path()).expect("template.yaml is readable")
}

const BREAKAGES: &[(&str, &str, &str)] = &[
    (
        "a misspelled property",
        "PointInTimeRecoveryEnabled: true",
        "PointInTimeRecoveryEnable: true",
    ),
    (
        "an unknown resource type",
        "Type: AWS::DynamoDB::Table",
        "Type: AWS::DynamoDB::Tabel",
    ),
    (
        "a reference to nothing",
        "!GetAtt SeedTable.Arn",
        "!GetAtt SeedTabel.Arn",
    ),
];

#[test]
#[ignore = "needs cfn-lint (Python); ./scripts/test runs it"]
fn the_template_passes_cfn_lint_and_broken_copies_fail() {
    for template in [template_path(), managed_instances_path()] {
        assert_lint_passes_and_breakages_fail(Linter::CfnLint, &template, BREAKAGES);
    }
}

#[test]
#[ignore = "needs the SAM CLI (Python); ./scripts/test runs it"]
fn the_template_passes_sam_validate_lint_and_broken_copies_fail() {
    for template in [template_path(), managed_instances_path()] {
        assert_lint_passes_and_breakages_fail(Linter::SamValidate, &template, BREAKAGES);
    }
}

#[test]
fn the_table_has_the_schema_the_store_uses() {
    let compact = compact(&template_path());
    assert!(
        compact.contains(&format!(
            "AttributeDefinitions: - AttributeName: {KEY_ATTRIBUTE} AttributeType: S"
        )),
        "partition key must be {KEY_ATTRIBUTE}, a string"
    );
    assert!(compact.contains(&format!(
        "KeySchema: - AttributeName: {KEY_ATTRIBUTE} KeyType: HASH"
    )));
    assert!(compact.contains("BillingMode: PAY_PER_REQUEST"));
    assert!(compact.contains("PointInTimeRecoveryEnabled: true"));
    assert!(compact.contains("SEED_TABLE: !Ref SeedTable"));
}

#[test]
fn the_function_may_only_get_and_put_items_on_its_table() {
    let template = template();
    let actions: Vec<&str> = template
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- dynamodb:"))
        .collect();
    assert_eq!(actions, ["GetItem", "PutItem"]);
    assert!(template.contains("Resource: !GetAtt SeedTable.Arn"));
    assert!(!template.contains("dynamodb:*"));
}

#[test]
fn the_write_token_is_read_from_its_parameter_which_alone_the_function_may_read() {
    let compact = compact(&template_path());
    assert!(compact.contains("SEED_WRITE_TOKEN_PARAMETER: !Ref WriteTokenParameter"));
    for leak in ["SEED_WRITE_TOKEN:", "NoEcho", " WriteToken: "] {
        assert!(
            !compact.contains(leak),
            "the token itself must not be a parameter or variable: {leak:?}"
        );
    }
    assert!(
        compact.contains("WriteTokenParameter: Type: String Default: \"\""),
        "without a parameter, writes stay open as the classic service's"
    );
    assert!(
        compact.contains(
            "- !If - HasWriteToken - Effect: Allow Action: ssm:GetParameter Resource: !Sub \
             \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WriteTokenParameter}\" \
             - !Ref AWS::NoValue"
        ),
        "the function may read exactly the named parameter, and only when one is named"
    );
    assert!(!compact.contains("ssm:*") && !compact.contains("ssm:GetParameters"));
}

#[test]
fn the_function_is_the_cargo_lambda_bootstrap_on_al2023_arm64_by_default() {
    let compact = compact(&template_path());
    for expected in [
        "BuildMethod: rust-cargolambda",
        "Binary: seed-lambda",
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "Architecture: Type: String Default: arm64",
    ] {
        assert!(compact.contains(expected), "template lacks {expected:?}");
    }
}

/// The variables `template.yaml` declares for the function, in order.
fn declared_variables() -> Vec<String> {
    let template = template();
    let mut lines = template
        .lines()
        .skip_while(|line| line.trim() != "Variables:")
        .skip(1);
    let first = lines.next().expect("the function declares variables");
    let indent = first.len() - first.trim_start().len();
    std::iter::once(first)
        .chain(lines)
        .take_while(|line| line.trim().is_empty() || line.len() - line.trim_start().len() >= indent)
        .filter(|line| line.len() - line.trim_start().len() == indent)
        .filter_map(|line| {
            let line = line.trim();
            (!line.starts_with('#')).then(|| line.split(':').next().unwrap_or_default().to_string())
        })
        .collect()
}

fn local_environment_files() -> Vec<PathBuf> {
    let folder = template_path()
        .parent()
        .expect("the workspace")
        .join("lambda/sam-local");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("lambda/sam-local is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs the Lambda bootstrap (cargo-lambda) and readelf; ./scripts/test runs it"]
fn the_bootstrap_needs_no_glibc_newer_than_amazon_linux_2023s() {
    harness::elf::assert_runs_on_amazon_linux_2023(
        &harness::lambda_emulator::bootstrap(),
        harness::elf::Machine::X86_64,
    );
}

/// `sam local --env-vars` silently ignores a variable the template does
/// not declare, so the two could drift apart unnoticed.
#[test]
fn the_template_declares_every_variable_the_local_environment_files_set() {
    let declared = declared_variables();
    assert!(
        declared.contains(&"SEED_TABLE".to_string())
            && declared.contains(&"AWS_ENDPOINT_URL_DYNAMODB".to_string()),
        "{declared:?}"
    );
    let files = local_environment_files();
    assert!(files.len() >= 2, "memory and DynamoDB files: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let variables = document["SeedFunction"]
            .as_object()
            .unwrap_or_else(|| panic!("{} sets nothing for SeedFunction", file.display()));
        for name in variables.keys() {
            assert!(
                declared.contains(name),
                "{} sets {name}, which template.yaml does not declare ({declared:?})",
                file.display()
            );
        }
    }
}

/// The cases SAM's local front end (a Flask app emulating API Gateway)
/// answers itself, so the function never sees the request; measured:
/// - methods it does not route by name (`CONNECTX`, `PROPFIND`) get its own
///   `403 {"message":"Missing Authentication Token"}`;
/// - `/%2F` is decoded to `//` before routing, so it reaches `/`;
/// - a 16 MiB body gets its `500 {"message":"Internal server error"}`
///   (over Lambda's 6 MB event limit; API Gateway refuses it with 413).
///
/// The function's own answers to all three are tested under cargo-lambda's
/// emulator (contract_emulator_*.rs). Everything else runs here.
const ANSWERED_BY_SAMS_FRONT_END: &[&str] = &[
    "unknown_methods_get_405_with_allow",
    "an_encoded_slash_is_not_the_root",
    "body_over_64_kib_gets_413",
];

fn curl(args: &[&str]) -> String {
    let output = std::process::Command::new("curl")
        .args(["-s", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn running(pattern: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

/// `sam build` of the template for this machine (x86_64 here), then `sam
/// local start-api` serving the built bootstrap through `scripts/sam-local`:
/// curl's POST and GET agree, the contract suite passes over HTTP with the
/// in-memory store, again with DynamoDB Local, and again on Lambda Managed
/// Instances (`template-managed-instances.yaml`, 8 invocations at once in
/// one container), and SIGTERM leaves no container, Docker daemon or
/// DynamoDB Local of its running. One after the other: two `sam local`s at
/// once would share the build folder and the Docker daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker (apt), the SAM CLI and DynamoDB Local; ./scripts/test runs it"]
async fn sam_local_serves_the_contract_and_stops_everything_it_started() {
    use harness::sam_local::SamLocal;
    let daemon_before = running("^dockerd");
    let runs: [(&[&str], &str); 3] = [
        (&[], "memory"),
        (&["--dynamodb"], "DynamoDB Local"),
        (&["--managed-instances"], "Managed Instances"),
    ];
    for (flags, what) in runs {
        let dynamodb = flags.contains(&"--dynamodb");
        let mut sam = tokio::task::spawn_blocking(move || SamLocal::start_with(flags))
            .await
            .expect("starting sam local");
        let url = format!("http://127.0.0.1:{}/", sam.port);
        assert_eq!(curl(&["-d", "{\"num\": 4242}", &url]), "4242", "{what}");
        assert_eq!(
            curl(&[&url]),
            "4242",
            "{what}: warm containers keep the seed"
        );

        let service = sam.endpoint();
        assert_contract_cases_pass(&service, what).await;

        match what {
            "memory" => the_documents_sum_to_a_known_mix(&service, &sam).await,
            "Managed Instances" => eight_invocations_are_served_at_once(&service, &sam).await,
            _ => {}
        }
        let log = sam.log_text();
        assert!(
            log.contains("==> the function runs in AWS's emulation image")
                || log.contains("an offline stand-in"),
            "sam-local does not say which image serves: {log}"
        );
        let dynamodb_pid = log
            .lines()
            .find_map(|line| line.strip_prefix("==> DynamoDB Local (pid "))
            .and_then(|rest| rest.split(')').next())
            .map(str::to_string);
        assert_eq!(dynamodb_pid.is_some(), dynamodb, "{log}");
        let status = tokio::task::spawn_blocking(move || {
            let status = sam.stop();
            (status, sam)
        })
        .await
        .expect("stopping sam local");
        let (status, sam) = status;
        assert!(
            status.success(),
            "{what}: exit status {status:?}:\n{}",
            sam.log_text()
        );
        assert!(
            !running("aws-lambda-rie"),
            "{what}: a Lambda container is still running"
        );
        assert!(
            !running("sam local start-api"),
            "{what}: sam is still running"
        );
        assert_eq!(
            running("^dockerd"),
            daemon_before,
            "{what}: the Docker daemon was left as it was not"
        );
        if let Some(pid) = dynamodb_pid {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "DynamoDB Local (pid {pid}) still runs"
            );
        }
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", sam.port)).is_err(),
            "{what}: port {} still answers",
            sam.port
        );
    }
}

/// The function logs into a group of the stack's own, with a retention
/// period, and alarms watch what hurts users: the API's 5xx (a store
/// failure is a 503 answer, not a Lambda error), the function's errors and
/// its throttles; an optional address gets them through SNS.
#[test]
fn logs_are_kept_for_a_while_and_alarms_watch_what_hurts_users() {
    let compact = compact(&template_path());
    assert!(compact.contains("LoggingConfig: LogGroup: !Ref SeedFunctionLogs"));
    let group = block(&compact, "SeedFunctionLogs: Type: AWS::Logs::LogGroup ");
    assert!(
        group.contains("LogGroupName: !Sub \"/aws/lambda/${AWS::StackName}-seed\"")
            && group.contains("RetentionInDays: !Ref LogRetentionDays"),
        "{group}"
    );
    for (namespace, metric) in [
        ("AWS/ApiGateway", "5xx"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    ] {
        assert_alarm_notifies(&compact, namespace, metric);
    }
}

/// checkov fails no check; each one the project chooses not to meet is
/// suppressed on its resource with a reason, and a copy without the
/// reasons is caught.
#[test]
#[ignore = "needs checkov (Python); ./scripts/test runs it"]
fn checkov_passes_and_every_suppression_says_why() {
    harness::templates::assert_checkov_passes_with_reasons(&template_path());
    harness::templates::assert_checkov_passes_with_reasons(&managed_instances_path());
}

/// The resources of a template, each as its text, by logical id.
fn resources(text: &str) -> BTreeMap<String, String> {
    let body = text
        .split("\nResources:\n")
        .nth(1)
        .expect("a Resources section");
    let body = body.split("\nOutputs:\n").next().unwrap_or(body);
    let mut resources = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        let key = line
            .strip_prefix("  ")
            .filter(|rest| !rest.starts_with([' ', '#']));
        if let Some(key) = key.and_then(|rest| rest.strip_suffix(':')) {
            current = Some(key.to_string());
        }
        match &current {
            Some(_) if line.trim_start().starts_with('#') => {}
            Some(id) => {
                let text: &mut String = resources.entry(id.clone()).or_default();
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    resources
}

/// The two stacks differ only in the function and what names it: the
/// table, the API, the logs, the store's alarms and the dashboard are one.
#[test]
fn the_managed_instances_stack_differs_only_in_the_function() {
    let classic = resources(&template());
    let managed = std::fs::read_to_string(managed_instances_path()).expect("readable");
    let managed = resources(&managed);
    let differ: Vec<&String> = (classic.keys())
        .filter(|id| managed.get(*id) != classic.get(*id))
        .collect();
    assert_eq!(
        differ,
        [
            "FunctionThrottlesAlarm",
            "SeedFunction",
            "SeedFunctionInvokePermission",
            "SeedFunctionUrl",
            "SeedFunctionUrlPermission",
        ],
        "resources that differ between the two templates"
    );
    let only_managed: Vec<&String> = managed
        .keys()
        .filter(|id| !classic.contains_key(*id))
        .collect();
    assert_eq!(only_managed, ["DynamoDbEndpoint", "SeedCapacity"]);
    let function = &managed["SeedFunction"];
    for expected in [
        "Arn: !GetAtt SeedCapacity.Arn",
        "PerExecutionEnvironmentMaxConcurrency: !Ref SlotsPerEnvironment",
        "ExecutionEnvironmentMemoryGiBPerVCpu: !Ref MemoryPerVCpu",
        "AutoPublishAlias: live",
        "- !Ref Architecture",
    ] {
        assert!(function.contains(expected), "{expected:?} in {function}");
    }
    let capacity = &managed["SeedCapacity"];
    assert!(capacity.contains("- !Ref Architecture"), "{capacity}");
    let compact = compact(&managed_instances_path());
    assert!(compact.contains("Architecture: Type: String Default: arm64"));
}

/// Under `sam local` the function writes its metrics when an invocation ends
/// past the interval (1 s in lambda/sam-local/memory.json). After a quiet
/// second and a GET, which writes everything before it, the documents
/// stamped later sum exactly to a known mix and the last GET, which writes
/// the mix after another quiet second.
async fn the_documents_sum_to_a_known_mix(
    service: &contract::Endpoint,
    sam: &harness::sam_local::SamLocal,
) {
    use contract::telemetry::{metric_totals, validate_emf};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let millis = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let quiet = Duration::from_millis(1100);
    tokio::time::sleep(quiet).await;
    service
        .get()
        .await
        .assert_seed("the GET that writes what came before");
    let mark = millis();
    for _ in 0..3 {
        service.get().await.assert_seed("GET");
    }
    service.post("{\"num\": 9}").await.assert_seed("POST");
    assert_eq!(service.post("{\"num\": 1.5}").await.status.as_u16(), 400);
    assert_eq!(
        service
            .send("GET", "/elsewhere", &[], "")
            .await
            .status
            .as_u16(),
        404
    );
    tokio::time::sleep(quiet).await;
    service
        .get()
        .await
        .assert_seed("the GET that writes the mix");
    let documents_since_mark = || -> Vec<serde_json::Value> {
        let log = sam.log_text();
        let lines = log.lines().filter(|line| line.contains("\"_aws\""));
        let documents = lines.map(|line| {
            let document = &line[line.find('{').expect("a JSON object")..];
            validate_emf(document).unwrap_or_else(|why| panic!("{why}: {document}"))
        });
        documents
            .filter(|document| document["_aws"]["Timestamp"].as_u64() > Some(mark))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = [
        ("Requests", 7),
        ("SeedReads", 4),
        ("SeedWrites", 1),
        ("ClientErrors", 2),
        ("Latency", 7),
    ];
    loop {
        let totals = metric_totals(&documents_since_mark());
        let sums: Vec<u64> = expected
            .iter()
            .map(|(name, _)| totals.get(*name).copied().unwrap_or(0))
            .collect();
        if sums == expected.map(|(_, count)| count) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the documents since the mark sum to {totals:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The contract's cases through `service` under `sam local`, less those
/// SAM's front end answers itself; every case is run and the failures named.
async fn assert_contract_cases_pass(service: &contract::Endpoint, what: &str) {
    let mut failed = Vec::new();
    for (name, case) in contract::contract_suite!(in_order) {
        if ANSWERED_BY_SAMS_FRONT_END.contains(name) {
            continue;
        }
        // Each case expects a fresh service: the seed back at 0.
        assert_eq!(
            service.post("{\"num\": 0}").await.text(),
            "0",
            "{what}: reset before {name}"
        );
        let service = service.clone();
        // A case that fails panics: in a task of its own, so that every
        // case is run and reported.
        if tokio::spawn(async move { case(&service).await })
            .await
            .is_err()
        {
            failed.push(*name);
        }
    }
    assert!(
        failed.is_empty(),
        "{what}: cases failed under sam local: {failed:?}"
    );
}

/// Under `sam local` with `template-managed-instances.yaml` (SAM's own
/// emulator of one execution environment on Managed Instances): the
/// function's container runs the bootstrap with 8 slots, and 8 GETs sent at
/// once are all answered.
async fn eight_invocations_are_served_at_once(
    service: &contract::Endpoint,
    sam: &harness::sam_local::SamLocal,
) {
    let container = sam.container().expect("sam local names its container");
    let environment = std::process::Command::new("docker")
        .args(["exec", &container, "sh", "-c", "cat /proc/[0-9]*/environ"])
        .output()
        .expect("docker exec runs");
    let environment = String::from_utf8_lossy(&environment.stdout).replace('\0', "\n");
    assert!(
        environment
            .lines()
            .any(|line| line == "AWS_LAMBDA_MAX_CONCURRENCY=8"),
        "the function's environment lacks 8 slots:\n{environment}"
    );
    service.store("8").await;
    let at_once: Vec<_> = (0..8)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move { service.seed().await })
        })
        .collect();
    for answer in at_once {
        assert_eq!(answer.await.expect("a GET"), "8");
    }
}
