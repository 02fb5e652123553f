//! From a Lambda HTTP event (which `lambda_http` made a request, its body
//! decoded) to the shared handler and back: the client's path, the body.

use std::future::Future;
use std::pin::Pin;

use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response};
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

/// Answers one event. Never fails: every failure is an HTTP answer.
pub async fn serve(handler: &SeedHandler, request: Request) -> Answer {
    let request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone());
    let path = client_path(&request);
    let (parts, body) = request.into_parts();
    let response = handler
        .handle(&parts.method, &path, &parts.headers, body)
        .await;
    tracing::info!(
        request_id = request_id.as_deref().unwrap_or("-"),
        method = %parts.method,
        path,
        status = response.status().as_u16(),
        "invocation"
    );
    Answer(
        response.map(|bytes| match String::from_utf8(Vec::from(bytes)) {
            Ok(text) if text.is_empty() => Body::Empty,
            Ok(text) => Body::Text(text),
            Err(binary) => Body::Binary(binary.into_bytes()),
        }),
    )
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
