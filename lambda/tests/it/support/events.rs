//! Event documents for every way Lambda is put behind HTTP (the fixtures in
//! `tests/events/`, shaped as AWS sends them), changed to carry a request;
//! the function's answer read back as the contract's [`Reply`]; and every
//! contract row, asked through any way of calling the function.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use contract::Reply;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

/// The ways Lambda is put behind HTTP, each with its event fixture.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    RestV1,
    HttpV2,
    FunctionUrl,
    Alb,
}

pub const SHAPES: [Shape; 4] = [Shape::RestV1, Shape::HttpV2, Shape::FunctionUrl, Shape::Alb];

impl Shape {
    pub fn fixture(self) -> Value {
        let text = match self {
            Shape::RestV1 => include_str!("../../events/apigw-rest-v1.json"),
            Shape::HttpV2 => include_str!("../../events/apigw-http-v2.json"),
            Shape::FunctionUrl => include_str!("../../events/function-url.json"),
            Shape::Alb => include_str!("../../events/alb.json"),
        };
        serde_json::from_str(text).expect("fixtures are JSON")
    }

    /// The fixture, changed to carry this request.
    pub fn event(self, request: &Req) -> Value {
        let mut event = self.fixture();
        let (body, encoded) = match &request.body {
            Body::None => (Value::Null, false),
            Body::Text(text) => (json!(text), false),
            Body::Base64(bytes) => (json!(STANDARD.encode(bytes)), true),
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

pub enum Body {
    None,
    Text(String),
    Base64(Vec<u8>),
}

pub struct Req {
    pub method: &'static str,
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

pub fn req(method: &'static str, path: &'static str) -> Req {
    Req {
        method,
        path,
        headers: Vec::new(),
        body: Body::None,
    }
}

pub fn post(body: Body) -> Req {
    Req {
        body,
        ..req("POST", "/")
    }
}

/// The function's JSON answer (API Gateway, Function URL or ALB form) as the
/// contract's [`Reply`], so that the contract's assertions check it.
pub fn reply(document: &Value) -> Reply {
    let status = document["statusCode"]
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("no statusCode in {document}"));
    let mut headers = HeaderMap::new();
    for field in ["headers", "multiValueHeaders"] {
        for (name, value) in document[field].as_object().into_iter().flatten() {
            let values = match value {
                Value::Array(values) => values.clone(),
                other => vec![other.clone()],
            };
            for value in values {
                let value = value.as_str().unwrap_or_else(|| panic!("{name}: {value}"));
                headers.append(
                    HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                    HeaderValue::from_str(value).expect("a header value"),
                );
            }
        }
    }
    let body = document["body"].as_str().unwrap_or("");
    let body = if document["isBase64Encoded"].as_bool() == Some(true) {
        STANDARD.decode(body).expect("a base64 body")
    } else {
        body.as_bytes().to_vec()
    };
    Reply {
        status,
        headers,
        body: Bytes::from(body),
    }
}

/// Every contract row, through `call` (one way of handing `shape`'s events to
/// one fresh function).
pub fn every_spec_row(shape: Shape, mut call: impl FnMut(&Req) -> Reply) {
    let context = |what: &str| format!("{shape:?}: {what}");
    let seed = |reply: Reply, what: &str| reply.assert_seed(&context(what));
    let refusal = |reply: Reply, status: u16, what: &str| {
        let status = StatusCode::from_u16(status).expect("a status");
        reply.assert_refusal(status, &context(what));
    };

    assert_eq!(seed(call(&req("GET", "/")), "first GET"), "0");
    let mut form = post(Body::Text(r#"{"num": 100}"#.to_string()));
    form.headers.push((
        "Content-Type",
        "application/x-www-form-urlencoded".to_string(),
    ));
    assert_eq!(seed(call(&form), "form-encoded POST"), "100");
    assert_eq!(seed(call(&req("GET", "/")), "GET after POST"), "100");
    let encoded = post(Body::Base64(br#"{"num": -7}"#.to_vec()));
    assert_eq!(seed(call(&encoded), "base64 POST"), "-7");
    let big = format!("-{}", "9".repeat(4300));
    let stored = seed(
        call(&post(Body::Text(format!("{{\"num\": {big}}}")))),
        "4300 digits",
    );
    assert_eq!(stored, big);
    let zero = seed(call(&post(Body::Text(r#"{"num": -0}"#.to_string()))), "-0");
    assert_eq!(zero, "0");

    let head = call(&req("HEAD", "/"));
    assert_eq!(head.status, StatusCode::OK, "{}", context("HEAD"));
    assert!(head.body.is_empty(), "{}", context("HEAD body"));
    assert_eq!(
        head.header("content-length"),
        Some("1"),
        "{}",
        context("HEAD length")
    );

    let options = call(&req("OPTIONS", "/"));
    assert_eq!(
        options.status,
        StatusCode::NO_CONTENT,
        "{}",
        context("OPTIONS")
    );
    assert_eq!(options.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let delete = call(&req("DELETE", "/"));
    assert_eq!(delete.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    refusal(delete, 405, "DELETE");

    refusal(call(&req("GET", "/elsewhere")), 404, "other path");
    refusal(
        call(&post(Body::Text(r#"{"num": 1.5}"#.to_string()))),
        400,
        "fraction",
    );
    refusal(
        call(&post(Body::Text(r#"{"num": "5"}"#.to_string()))),
        400,
        "string",
    );
    let duplicate = post(Body::Text(r#"{"num": 1, "num": 2}"#.to_string()));
    refusal(call(&duplicate), 400, "duplicate");
    refusal(
        call(&post(Body::Base64(vec![0xff, 0xfe, 0x00, 0x01]))),
        400,
        "binary body",
    );
    refusal(call(&post(Body::None)), 400, "no body");
    let oversize = format!("{{\"num\": 1}}{}", " ".repeat(64 * 1024));
    refusal(call(&post(Body::Text(oversize))), 413, "over 64 KiB");
    refusal(
        call(&post(Body::Base64(vec![b' '; 70_000]))),
        413,
        "base64 over 64 KiB",
    );

    // Nothing refused changed the seed.
    assert_eq!(seed(call(&req("GET", "/")), "GET at the end"), "0");
}

/// With a write token, POSTs need it and reads stay open, through `call`.
pub fn write_protection(shape: Shape, token: &str, mut call: impl FnMut(&Req) -> Reply) {
    let context = |what: &str| format!("{shape:?}: {what}");
    let body = || Body::Text(r#"{"num": 9}"#.to_string());
    let refused = call(&post(body()));
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer realm=\"seed\"")
    );
    refused.assert_refusal(StatusCode::UNAUTHORIZED, &context("POST without token"));
    let mut wrong = post(body());
    wrong
        .headers
        .push(("Authorization", format!("Bearer {token}x")));
    call(&wrong).assert_refusal(StatusCode::UNAUTHORIZED, &context("wrong token"));
    let mut right = post(body());
    right
        .headers
        .push(("Authorization", format!("Bearer {token}")));
    assert_eq!(call(&right).assert_seed(&context("with token")), "9");
    assert_eq!(
        call(&req("GET", "/")).assert_seed(&context("GET is open")),
        "9"
    );
}
