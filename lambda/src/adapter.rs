//! From a Lambda HTTP event (which `lambda_http` made a request, its body
//! decoded) to the shared handler and back: the client's path, the body.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response};
use shared::telemetry::log::{trace_root, TRACE_HEADER};
use shared::telemetry::RequestKeys;
use shared::SeedHandler;

/// A response with its body in its final Lambda form. lambda_http's own
/// `IntoResponse` would decode it again by its charset: a copy per
/// invocation, and encoding_rs in the bootstrap.
pub struct Answer(pub Response<Body>);

impl IntoResponse for Answer {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// Answers one event, its lines tied to it. Never fails: every failure is
/// an HTTP answer.
pub async fn serve(handler: &SeedHandler, request: Request) -> Answer {
    let started = Instant::now();
    let keys = request_keys(handler, &request);
    let path = client_path(&request);
    let (parts, body) = request.into_parts();
    let answering = handler.handle(&parts.method, &path, &parts.headers, body);
    let response = keys.scope(answering).await;
    let metrics = handler.metrics();
    metrics.answered(&parts.method, response.status(), started.elapsed());
    metrics.write_if_due();
    Answer(
        response.map(|bytes| match String::from_utf8(Vec::from(bytes)) {
            Ok(text) if text.is_empty() => Body::Empty,
            Ok(text) => Body::Text(text),
            Err(binary) => Body::Binary(binary.into_bytes()),
        }),
    )
}

/// The keys of this invocation's lines, from its own context (the
/// concurrent runtime sets no process-wide trace variable).
fn request_keys(handler: &SeedHandler, request: &Request) -> RequestKeys {
    let trace_header = request.headers().get(TRACE_HEADER).cloned();
    let gateway_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    let Some(context) = request.lambda_context_ref() else {
        return RequestKeys::new(trace_header, gateway_request_id, Vec::new());
    };
    let config = &context.env_config;
    let xray_trace_id = context.xray_trace_id.as_deref().and_then(trace_root);
    let function_keys = vec![
        ("function_request_id", context.request_id.as_str().into()),
        ("xray_trace_id", xray_trace_id.into()),
        (
            "cold_start",
            handler.metrics().cold_start(&config.function_name).into(),
        ),
        ("function_name", config.function_name.as_str().into()),
        ("function_memory_size", config.memory.into()),
        ("function_arn", context.invoked_function_arn.as_str().into()),
    ];
    RequestKeys::new(trace_header, gateway_request_id, function_keys)
}

/// The path as the client sent it, without the `/stage` that HTTP API events
/// on a named stage carry (and lambda_http adds to REST paths).
fn client_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    };
    match stage.as_deref() {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            let prefix = format!("/{stage}");
            match raw.strip_prefix(&prefix) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => raw.to_string(),
            }
        }
        _ => raw.to_string(),
    }
}
