//! Log lines as a log pipeline reads them: one JSON object a line with the
//! keys Powertools users know, and a request's own keys on every line
//! written while it is answered ([`CurrentRequest`]).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The header ALB and API Gateway set: `Root=1-...;Parent=...;Sampled=...`.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static("x-amzn-trace-id");

tokio::task_local! {
    static CURRENT: Arc<CurrentRequest>;
}

/// The keys of the request a task (a connection, an invocation) is
/// answering, which the lines it writes meanwhile carry.
#[derive(Debug, Default)]
pub struct CurrentRequest(Mutex<Option<RequestKeys>>);

impl CurrentRequest {
    /// Runs `task`, its lines carrying the keys of the request under way.
    pub fn scope<F: Future>(self: Arc<Self>, task: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, task)
    }

    /// A request begins (`Some`) or is answered (`None`).
    pub fn set(&self, keys: Option<RequestKeys>) {
        *crate::lock(&self.0) = keys;
    }
}

/// What ties a line to the request it was written for.
#[derive(Debug, Default)]
pub struct RequestKeys {
    /// The request's `X-Amzn-Trace-Id`, parsed only if a line is written.
    trace_header: Option<HeaderValue>,
    /// API Gateway's request id, where there is one.
    gateway_request_id: Option<String>,
    /// Keys of the target's own (Lambda's function keys).
    extra: Vec<(&'static str, Value)>,
    correlation_id: OnceLock<String>,
}

impl RequestKeys {
    pub fn new(
        trace_header: Option<HeaderValue>,
        gateway_request_id: Option<String>,
        extra: Vec<(&'static str, Value)>,
    ) -> Self {
        RequestKeys {
            trace_header,
            gateway_request_id,
            extra,
            correlation_id: OnceLock::new(),
        }
    }

    /// Runs `answering` with these keys on every line it writes.
    pub fn scope<F: Future>(self, answering: F) -> impl Future<Output = F::Output> {
        Arc::new(CurrentRequest(Mutex::new(Some(self)))).scope(answering)
    }

    /// The trace header's root, else API Gateway's id, else one made here.
    pub fn correlation_id(&self) -> &str {
        self.correlation_id.get_or_init(|| {
            let header = self.trace_header.as_ref().and_then(|v| v.to_str().ok());
            (header.and_then(trace_root).map(str::to_string))
                .or_else(|| self.gateway_request_id.clone())
                .unwrap_or_else(made_up_trace_id)
        })
    }
}

/// The `Root=` part of an AWS trace header.
pub fn trace_root(header: &str) -> Option<&str> {
    let root = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="));
    root.filter(|root| !root.is_empty())
}

/// An id in X-Ray's form (`1-<epoch seconds>-<96 random bits>`), so that
/// every correlation id reads alike.
fn made_up_trace_id() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("1-{seconds:08x}-{:024x}", fastrand::u128(..) >> 32)
}

/// The JSON line format of both targets.
pub struct JsonLines {
    /// The `service` key of every line.
    pub service: String,
}

/// The layer that writes [`JsonLines`], each event's fields rendered by
/// tracing-subscriber's own JSON visitor.
pub fn json_layer<S>(service: &str) -> Layer<S, JsonFields, JsonLines>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let service = service.to_string();
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(JsonLines { service })
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut out: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = String::new();
        context.format_fields(Writer::new(&mut fields), event)?;
        let mut line: Map<String, Value> = serde_json::from_str(&fields).unwrap_or_default();
        let _outside_tasks = CURRENT.try_with(|current| {
            let Some(request) = &*crate::lock(&current.0) else {
                return;
            };
            line.insert("correlation_id".into(), request.correlation_id().into());
            for (key, value) in &request.extra {
                line.insert((*key).into(), value.clone());
            }
        });
        // Events with fields only (the Lambda runtime's own) still have one.
        line.entry("message").or_insert_with(|| "".into());
        // Written last: no field can replace them.
        line.insert("level".into(), event.metadata().level().as_str().into());
        let now = humantime::format_rfc3339_millis(SystemTime::now());
        line.insert("timestamp".into(), now.to_string().into());
        line.insert("service".into(), self.service.as_str().into());
        writeln!(out, "{}", Value::Object(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// The lines `log` writes under the JSON format, inside `keys` if given.
    fn lines_of(keys: Option<RequestKeys>, log: impl FnOnce()) -> Vec<Value> {
        let written = Kept::default();
        let writer = written.clone();
        let layer = json_layer("svc").with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || match keys {
            Some(keys) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(keys.scope(async { log() }));
            }
            None => log(),
        });
        let text = String::from_utf8(crate::lock(&written.0).clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[derive(Clone, Default)]
    struct Kept(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            crate::lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_has_the_keys_and_no_field_replaces_them() {
        let lines = lines_of(None, || {
            tracing::warn!(level = "fake", count = 3u64, "careful")
        });
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "careful");
        assert_eq!(line["service"], "svc");
        assert_eq!(line["count"], 3);
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.len() == 24 && timestamp.ends_with('Z'),
            "{timestamp}"
        );
        assert!(line.get("correlation_id").is_none(), "outside a request");
    }

    #[test]
    fn a_line_of_fields_only_has_an_empty_message() {
        let lines = lines_of(None, || tracing::debug!(workers = 8u64));
        assert_eq!(lines[0]["message"], "");
        assert_eq!(lines[0]["workers"], 8);
    }

    #[test]
    fn the_correlation_id_is_the_trace_root_else_the_gateways_else_made() {
        let header =
            HeaderValue::from_static("Self=1-a;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
        let keys = RequestKeys::new(
            Some(header),
            Some("gw".into()),
            vec![("cold_start", true.into())],
        );
        let lines = lines_of(Some(keys), || {
            tracing::info!("one");
            tracing::error!("two");
        });
        for line in &lines {
            assert_eq!(
                line["correlation_id"],
                "1-5759e988-bd862e3fe1be46a994272793"
            );
            assert_eq!(line["cold_start"], true);
        }
        let gateway = lines_of(
            Some(RequestKeys::new(None, Some("gw".into()), vec![])),
            || tracing::info!("x"),
        );
        assert_eq!(gateway[0]["correlation_id"], "gw");
        let made = lines_of(Some(RequestKeys::default()), || {
            tracing::info!("x");
            tracing::info!("y");
        });
        let id = made[0]["correlation_id"].as_str().unwrap();
        assert_eq!(id.len(), 35, "{id}");
        assert_eq!(made[1]["correlation_id"], id, "one id a request");
    }
}
