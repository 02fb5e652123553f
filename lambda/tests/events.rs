//! Real event documents (in `tests/events/`, shaped as AWS sends them) fed
//! to the real bootstrap under the emulator with `cargo lambda invoke`: every
//! SPEC row, through every way Lambda is put behind HTTP, answers alike.

use contract_tests::lambda_emulator::LambdaUnderEmulator;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Shape {
    RestV1,
    HttpV2,
    FunctionUrl,
    Alb,
}

impl Shape {
    fn fixture(self) -> Value {
        let text = match self {
            Shape::RestV1 => include_str!("events/apigw-rest-v1.json"),
            Shape::HttpV2 => include_str!("events/apigw-http-v2.json"),
            Shape::FunctionUrl => include_str!("events/function-url.json"),
            Shape::Alb => include_str!("events/alb.json"),
        };
        serde_json::from_str(text).expect("fixtures are JSON")
    }

    /// The fixture, changed to carry this request.
    fn event(self, request: &Req) -> Value {
        let mut event = self.fixture();
        let (body, encoded) = match &request.body {
            Body::None => (Value::Null, false),
            Body::Text(text) => (json!(text), false),
            Body::Base64(bytes) => (json!(base64(bytes)), true),
        };
        event["body"] = body;
        event["isBase64Encoded"] = json!(encoded);
        match self {
            Shape::RestV1 => {
                event["httpMethod"] = json!(request.method);
                event["path"] = json!(request.path);
                event["requestContext"]["httpMethod"] = json!(request.method);
                event["requestContext"]["path"] = json!(format!("/Prod{}", request.path));
                for (name, value) in &request.headers {
                    event["headers"][*name] = json!(value);
                    event["multiValueHeaders"][*name] = json!([value]);
                }
            }
            Shape::HttpV2 | Shape::FunctionUrl => {
                event["rawPath"] = json!(request.path);
                event["requestContext"]["http"]["method"] = json!(request.method);
                event["requestContext"]["http"]["path"] = json!(request.path);
                for (name, value) in &request.headers {
                    event["headers"][name.to_lowercase()] = json!(value);
                }
            }
            Shape::Alb => {
                event["httpMethod"] = json!(request.method);
                event["path"] = json!(request.path);
                for (name, value) in &request.headers {
                    event["headers"][name.to_lowercase()] = json!(value);
                }
            }
        }
        event
    }
}

enum Body {
    None,
    Text(String),
    Base64(Vec<u8>),
}

struct Req {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

fn req(method: &'static str, path: &'static str) -> Req {
    Req {
        method,
        path,
        headers: Vec::new(),
        body: Body::None,
    }
}

fn post(body: Body) -> Req {
    Req {
        body,
        ..req("POST", "/")
    }
}

/// The function's answer, whatever the event shape.
struct Answer {
    status: u64,
    document: Value,
}

impl Answer {
    fn from(document: Value) -> Self {
        let status = document["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("no statusCode in {document}"));
        Answer { status, document }
    }

    /// A header from `headers` or `multiValueHeaders`, by any case.
    fn header(&self, name: &str) -> Option<String> {
        for field in ["headers", "multiValueHeaders"] {
            if let Some(map) = self.document[field].as_object() {
                for (key, value) in map {
                    if key.eq_ignore_ascii_case(name) {
                        return match value {
                            Value::Array(values) => {
                                values.first().and_then(Value::as_str).map(str::to_string)
                            }
                            other => other.as_str().map(str::to_string),
                        };
                    }
                }
            }
        }
        None
    }

    fn body(&self) -> String {
        let body = self.document["body"].as_str().unwrap_or("");
        if self.document["isBase64Encoded"].as_bool() == Some(true) {
            String::from_utf8(unbase64(body)).expect("UTF-8 body")
        } else {
            body.to_string()
        }
    }

    fn assert_seed(&self, expected: &str, context: &str) {
        assert_eq!(self.status, 200, "{context}: {}", self.document);
        assert_eq!(self.body(), expected, "{context}: {}", self.document);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8"),
            "{context}: {}",
            self.document
        );
        assert_eq!(
            self.header("cache-control").as_deref(),
            Some("no-store"),
            "{context}"
        );
    }

    fn assert_refusal(&self, status: u64, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.document);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json"),
            "{context}: {}",
            self.document
        );
        let body: Value = serde_json::from_str(&self.body())
            .unwrap_or_else(|_| panic!("{context}: error body not JSON: {}", self.document));
        assert!(
            body["error"].as_str().is_some_and(|e| e.ends_with('.')),
            "{context}: {body}"
        );
    }
}

fn every_spec_row_through(shape: Shape) {
    let function = LambdaUnderEmulator::start(&[]);
    let call = |request: &Req| Answer::from(function.invoke(&shape.event(request)));
    let context = |what: &str| format!("{shape:?}: {what}");

    call(&req("GET", "/")).assert_seed("0", &context("first GET"));

    let mut form = post(Body::Text(r#"{"num": 100}"#.to_string()));
    form.headers.push((
        "Content-Type",
        "application/x-www-form-urlencoded".to_string(),
    ));
    call(&form).assert_seed("100", &context("form-encoded POST"));
    call(&req("GET", "/")).assert_seed("100", &context("GET after POST"));

    let encoded = post(Body::Base64(br#"{"num": -7}"#.to_vec()));
    call(&encoded).assert_seed("-7", &context("base64 POST"));

    let big = format!("-{}", "9".repeat(4300));
    call(&post(Body::Text(format!("{{\"num\": {big}}}"))))
        .assert_seed(&big, &context("4300 digits"));
    call(&post(Body::Text(r#"{"num": -0}"#.to_string()))).assert_seed("0", &context("-0"));

    let head = call(&req("HEAD", "/"));
    assert_eq!(head.status, 200, "{}", context("HEAD"));
    assert_eq!(head.body(), "", "{}", context("HEAD body"));
    assert_eq!(
        head.header("content-length").as_deref(),
        Some("1"),
        "{}",
        context("HEAD length")
    );

    let options = call(&req("OPTIONS", "/"));
    assert_eq!(options.status, 204, "{}", context("OPTIONS"));
    assert_eq!(
        options.header("allow").as_deref(),
        Some("GET, HEAD, POST, OPTIONS")
    );

    let delete = call(&req("DELETE", "/"));
    delete.assert_refusal(405, &context("DELETE"));
    assert_eq!(
        delete.header("allow").as_deref(),
        Some("GET, HEAD, POST, OPTIONS")
    );

    call(&req("GET", "/elsewhere")).assert_refusal(404, &context("other path"));
    call(&post(Body::Text(r#"{"num": 1.5}"#.to_string())))
        .assert_refusal(400, &context("fraction"));
    call(&post(Body::Text(r#"{"num": "5"}"#.to_string()))).assert_refusal(400, &context("string"));
    call(&post(Body::Text(r#"{"num": 1, "num": 2}"#.to_string())))
        .assert_refusal(400, &context("duplicate"));
    call(&post(Body::Base64(vec![0xff, 0xfe, 0x00, 0x01])))
        .assert_refusal(400, &context("binary body"));
    call(&post(Body::None)).assert_refusal(400, &context("no body"));
    let oversize = format!("{{\"num\": 1}}{}", " ".repeat(64 * 1024));
    call(&post(Body::Text(oversize))).assert_refusal(413, &context("over 64 KiB"));
    call(&post(Body::Base64(vec![b' '; 70_000])))
        .assert_refusal(413, &context("base64 over 64 KiB"));

    // Nothing refused changed the seed.
    call(&req("GET", "/")).assert_seed("0", &context("GET at the end"));
}

#[test]
fn api_gateway_rest_v1_with_a_stage_prefix() {
    every_spec_row_through(Shape::RestV1);
}

#[test]
fn api_gateway_http_v2() {
    every_spec_row_through(Shape::HttpV2);
}

#[test]
fn function_url() {
    every_spec_row_through(Shape::FunctionUrl);
}

#[test]
fn application_load_balancer() {
    every_spec_row_through(Shape::Alb);
}

#[test]
fn the_alb_health_check_is_answered_200_as_is() {
    let function = LambdaUnderEmulator::start(&[]);
    let event: Value =
        serde_json::from_str(include_str!("events/alb-health-check.json")).expect("JSON");
    let answer = Answer::from(function.invoke(&event));
    answer.assert_seed("0", "ALB health check");
    assert!(
        answer.document["statusDescription"]
            .as_str()
            .is_some_and(|description| description.starts_with("200")),
        "an ALB needs statusDescription: {}",
        answer.document
    );
}

#[test]
fn http_api_on_a_named_stage_strips_the_stage_from_the_path() {
    let function = LambdaUnderEmulator::start(&[]);
    let mut event = Shape::HttpV2.fixture();
    event["rawPath"] = json!("/dev/");
    event["requestContext"]["stage"] = json!("dev");
    event["requestContext"]["http"]["path"] = json!("/dev/");
    Answer::from(function.invoke(&event)).assert_seed("0", "GET /dev/ on stage dev");
    event["rawPath"] = json!("/dev/x");
    Answer::from(function.invoke(&event)).assert_refusal(404, "GET /dev/x on stage dev");
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a' + 26),
            b'0'..=b'9' => u32::from(c - b'0' + 52),
            b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, c)| acc | (value(*c) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn the_test_base64_helpers_round_trip() {
    for sample in [
        &b""[..],
        b"a",
        b"ab",
        b"abc",
        b"{\"num\": -7}",
        &[0xff, 0xfe, 0, 1],
    ] {
        assert_eq!(unbase64(&base64(sample)), sample);
    }
    assert_eq!(base64(b"{\"num\": -7}"), "eyJudW0iOiAtN30=");
}

/// The function's JSON log lines (the emulator's own lines are not JSON).
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn logs_are_json_with_one_line_per_invocation_carrying_its_request_id() {
    let function = LambdaUnderEmulator::start(&[]);
    for _ in 0..3 {
        Answer::from(function.invoke(&Shape::HttpV2.event(&req("GET", "/"))))
            .assert_seed("0", "GET");
    }
    let lines = json_lines(&function.log());
    let invocations: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "invocation")
        .collect();
    assert_eq!(invocations.len(), 3, "{lines:?}");
    let ids: std::collections::BTreeSet<&str> = invocations
        .iter()
        .map(|line| line["request_id"].as_str().expect("a request id"))
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "each invocation has its own request id: {invocations:?}"
    );
    assert!(invocations
        .iter()
        .all(|line| line["status"] == 200 && line["level"] == "INFO"));
    // Without SEED_TABLE, the cold start warns that the seed is per instance.
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"
            && line["message"]
                .as_str()
                .is_some_and(|m| m.contains("keeps its own seed"))),
        "{lines:?}"
    );
}

#[test]
fn the_log_level_comes_from_aws_lambda_log_level() {
    let function = LambdaUnderEmulator::start(&[("AWS_LAMBDA_LOG_LEVEL", "WARN".to_string())]);
    Answer::from(function.invoke(&Shape::HttpV2.event(&req("GET", "/")))).assert_seed("0", "GET");
    let lines = json_lines(&function.log());
    assert!(
        lines.iter().all(|line| line["level"] != "INFO"),
        "INFO lines at WARN: {lines:?}"
    );
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"),
        "{lines:?}"
    );
}

#[test]
fn with_a_write_token_posts_need_it_and_reads_stay_open() {
    let function = LambdaUnderEmulator::start(&[("SEED_WRITE_TOKEN", "lambda-t0ken".to_string())]);
    for shape in [Shape::RestV1, Shape::HttpV2, Shape::FunctionUrl, Shape::Alb] {
        let call = |request: &Req| Answer::from(function.invoke(&shape.event(request)));
        let refused = call(&post(Body::Text(r#"{"num": 9}"#.to_string())));
        refused.assert_refusal(401, &format!("{shape:?}: POST without token"));
        assert_eq!(
            refused.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"seed\"")
        );
        let mut wrong = post(Body::Text(r#"{"num": 9}"#.to_string()));
        wrong
            .headers
            .push(("Authorization", "Bearer lambda-t0ke".to_string()));
        call(&wrong).assert_refusal(401, &format!("{shape:?}: wrong token"));
        let mut right = post(Body::Text(r#"{"num": 9}"#.to_string()));
        right
            .headers
            .push(("Authorization", "Bearer lambda-t0ken".to_string()));
        call(&right).assert_seed("9", &format!("{shape:?}: with token"));
        call(&req("GET", "/")).assert_seed("9", &format!("{shape:?}: GET is open"));
    }
}

#[test]
fn an_unreachable_dynamodb_gives_503_with_retry_after_and_a_logged_cause() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = unused.local_addr().expect("bound").port();
    drop(unused);
    let function = LambdaUnderEmulator::start(&[
        ("SEED_TABLE", "seed".to_string()),
        ("SEED_STORE_TIMEOUT", "1s".to_string()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]);
    for request in [
        req("GET", "/"),
        post(Body::Text(r#"{"num": 1}"#.to_string())),
    ] {
        let answer = Answer::from(function.invoke(&Shape::FunctionUrl.event(&request)));
        answer.assert_refusal(503, request.method);
        assert_eq!(
            answer.header("retry-after").as_deref(),
            Some("1"),
            "{}",
            answer.document
        );
    }
    let lines = json_lines(&function.log());
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"
            && line["error"]
                .as_str()
                .is_some_and(|error| error.contains("could not be reached"))),
        "no warning with the cause: {lines:?}"
    );
}
