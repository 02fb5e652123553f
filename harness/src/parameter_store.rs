//! A stand-in for SSM Parameter Store, which cannot run here: moto's
//! server, with its IAM enforcement on. After the set-up calls it checks
//! every request's SigV4 signature against the keys it issued and the
//! caller's policy, so a request signed wrongly, or by a principal not
//! allowed to read the parameter, is refused as AWS would refuse it.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use contract::{Endpoint, Reply};
use tempfile::NamedTempFile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::raw_http::{closing, read_request, response};
use crate::{free_port, ChildGuard};

const HOW_TO_GET: &str =
    "run the tests with ./scripts/test, which installs moto into .tools/moto; \
     or install it yourself (python3 -m venv .tools/moto && .tools/moto/bin/pip \
     install 'moto[server]') and set SEED_TEST_MOTO=.tools/moto/bin/moto_server";

/// The region the stand-in answers for.
const REGION: &str = "us-east-1";

/// One parameter to put before the function starts.
pub struct Parameter<'a> {
    pub name: &'a str,
    /// `SecureString`, `String` or `StringList`.
    pub kind: &'a str,
    pub value: &'a str,
}

pub struct ParameterStoreStandin {
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    _server: ChildGuard,
    log: NamedTempFile,
}

impl ParameterStoreStandin {
    /// Starts moto and puts `parameters`; then creates the one principal
    /// whose key [`ParameterStoreStandin::env`] hands out, allowed
    /// `ssm:GetParameter` and nothing else. (moto checks a policy's actions,
    /// not its resources: the templates' tests hold those to one parameter.)
    pub fn start(parameters: &[Parameter]) -> Self {
        let moto = std::env::var("SEED_TEST_MOTO").unwrap_or_else(|_| {
            panic!("moto is not configured (SEED_TEST_MOTO is unset): {HOW_TO_GET}")
        });
        let port = free_port();
        let log = NamedTempFile::with_prefix("seed-moto-").expect("a temporary log file");
        let output = || log.as_file().try_clone().expect("the log file");
        // moto counts the set-up calls below and enforces IAM after them.
        let setup_calls = 3 + parameters.len();
        let mut server = ChildGuard::spawn(
            Command::new(&moto)
                .args(["-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .env("INITIAL_NO_AUTH_ACTION_COUNT", setup_calls.to_string())
                .stdin(Stdio::null())
                .stdout(output())
                .stderr(output()),
            "moto (the Parameter Store stand-in)",
            HOW_TO_GET,
        );
        server.wait_until_listening(port, HOW_TO_GET);
        let endpoint = format!("http://127.0.0.1:{port}");
        let (access_key_id, secret_access_key) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(set_up(&Endpoint::new(&endpoint), parameters));
        ParameterStoreStandin {
            endpoint,
            access_key_id,
            secret_access_key,
            _server: server,
            log,
        }
    }

    /// The environment that points a function's Parameter Store calls here,
    /// with the allowed principal's key as its credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        env_with_key(&self.endpoint, &self.access_key_id, &self.secret_access_key)
    }

    /// What moto has logged (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// [`env`](Self::env), with the calls sent to `endpoint` instead (a
    /// [`Throttle`] in front of the stand-in).
    pub fn env_via(&self, endpoint: &str) -> Vec<(&'static str, String)> {
        env_with_key(endpoint, &self.access_key_id, &self.secret_access_key)
    }
}

/// Which requests a [`Throttle`] refuses.
#[derive(Clone, Copy, Debug)]
pub enum Throttling {
    /// The first N, then none.
    First(usize),
    /// Every one.
    Always,
    /// Any past this many a second (a bucket of that many tokens, refilled
    /// at that rate), as Parameter Store limits an account's throughput.
    PerSecond(u32),
}

/// A front for the stand-in that refuses requests as Parameter Store refuses
/// those over the account's request rate (HTTP 400, `ThrottlingException`)
/// and passes the others to moto unchanged, so that what gets through is
/// still checked for its signature and policy. Runs on a runtime of its own
/// and stops when dropped.
pub struct Throttle {
    pub endpoint: String,
    received: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Throttle {
    pub fn start(standin: &ParameterStoreStandin, throttling: Throttling) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the throttle");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the throttle");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let upstream = standin.endpoint.trim_start_matches("http://").to_string();
        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        let bucket = Arc::new(Mutex::new(Bucket::new(throttling)));
        runtime.spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                let (counter, bucket, upstream) =
                    (Arc::clone(&counter), Arc::clone(&bucket), upstream.clone());
                tokio::spawn(async move {
                    serve(connection, &upstream, &counter, &bucket).await;
                });
            }
        });
        Throttle {
            endpoint,
            received,
            _runtime: runtime,
        }
    }

    /// Requests that reached the throttle, refused or passed on.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

/// One request per connection: refused here, or answered by moto.
async fn serve(
    mut connection: TcpStream,
    upstream: &str,
    received: &AtomicUsize,
    bucket: &Mutex<Bucket>,
) {
    let Some(request) = read_request(&mut connection, &mut Vec::new()).await else {
        return;
    };
    let n = received.fetch_add(1, Ordering::SeqCst);
    let admitted = bucket.lock().expect("the bucket").admit(n);
    let answer = if admitted {
        match forward(upstream, &request).await {
            Ok(answer) => closing(&answer),
            Err(error) => response(
                "502 Bad Gateway",
                &[("connection", "close")],
                &format!("{{\"message\": \"the stand-in did not answer: {error}\"}}"),
            ),
        }
    } else {
        response(
            "400 Bad Request",
            &[
                ("connection", "close"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            r#"{"__type": "ThrottlingException", "message": "Rate exceeded"}"#,
        )
    };
    let _ = connection.write_all(&answer).await;
    let _ = connection.shutdown().await;
}

/// Sends `request` to moto on a connection of its own and reads the whole
/// answer (moto closes after it: the request says `connection: close`).
async fn forward(upstream: &str, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut moto = TcpStream::connect(upstream).await?;
    moto.write_all(&closing(request)).await?;
    let mut answer = Vec::new();
    moto.read_to_end(&mut answer).await?;
    Ok(answer)
}

struct Bucket {
    throttling: Throttling,
    tokens: f64,
    filled_at: Instant,
}

impl Bucket {
    fn new(throttling: Throttling) -> Self {
        let tokens = match throttling {
            Throttling::PerSecond(rate) => f64::from(rate),
            _ => 0.0,
        };
        Bucket {
            throttling,
            tokens,
            filled_at: Instant::now(),
        }
    }

    /// Whether the `n`-th request (from 0) passes.
    fn admit(&mut self, n: usize) -> bool {
        match self.throttling {
            Throttling::First(refused) => n >= refused,
            Throttling::Always => false,
            Throttling::PerSecond(rate) => {
                let rate = f64::from(rate);
                let now = Instant::now();
                let refill = now.duration_since(self.filled_at).as_secs_f64() * rate;
                self.tokens = (self.tokens + refill).min(rate);
                self.filled_at = now;
                if self.tokens >= 1.0 {
                    self.tokens -= 1.0;
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// The environment that points a function's Parameter Store calls at
/// `endpoint` (where no stand-in need answer), with made-up credentials.
pub fn process_env(endpoint: &str) -> Vec<(&'static str, String)> {
    env_with_key(endpoint, "AKIDEXAMPLE", "secret")
}

fn env_with_key(endpoint: &str, key: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_SSM", endpoint.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", key.to_string()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
    ]
}

/// moto routes a request by the service in its `Authorization` header's
/// credential scope; before enforcement starts, it does not check the
/// signature, so the set-up calls carry a scope and no real signature.
fn unsigned(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=setup/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

async fn set_up(moto: &Endpoint, parameters: &[Parameter<'_>]) -> (String, String) {
    let iam = |action: &str, fields: &[(&str, &str)]| {
        let mut form = format!("Action={action}&Version=2010-05-08&UserName=seed-function");
        for (name, value) in fields {
            form.push_str(&format!("&{name}={}", percent_encoded(value)));
        }
        form
    };
    let iam_headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", &unsigned("iam")),
    ];
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}],
    })
    .to_string();
    ok(
        moto.send("POST", "/", &iam_headers, iam("CreateUser", &[]))
            .await,
        "CreateUser",
    );
    let key = ok(
        moto.send("POST", "/", &iam_headers, iam("CreateAccessKey", &[]))
            .await,
        "CreateAccessKey",
    );
    ok(
        moto.send(
            "POST",
            "/",
            &iam_headers,
            iam(
                "PutUserPolicy",
                &[
                    ("PolicyName", "read-the-token"),
                    ("PolicyDocument", &policy),
                ],
            ),
        )
        .await,
        "PutUserPolicy",
    );
    let ssm_headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AmazonSSM.PutParameter"),
        ("authorization", &unsigned("ssm")),
    ];
    for parameter in parameters {
        let body = serde_json::json!({
            "Name": parameter.name, "Type": parameter.kind, "Value": parameter.value,
        });
        ok(
            moto.send("POST", "/", &ssm_headers, body.to_string()).await,
            "PutParameter",
        );
    }
    let key = key.text();
    (
        element(&key, "AccessKeyId"),
        element(&key, "SecretAccessKey"),
    )
}

fn ok(reply: Reply, call: &str) -> Reply {
    assert!(
        reply.status.is_success(),
        "the stand-in refused {call}: {reply:?}"
    );
    reply
}

/// The text of `<name>...</name>` in moto's XML answer.
fn element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + open.len();
    let end = xml[start..]
        .find('<')
        .unwrap_or_else(|| panic!("{name} not closed in {xml}"));
    xml[start..start + end].to_string()
}

fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
