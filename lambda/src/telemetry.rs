//! JSON logs for CloudWatch, filtered by `AWS_LAMBDA_LOG_LEVEL` (Lambda's
//! logging controls) or `RUST_LOG`, `info` by default.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let (filter, bad_level) = match level.to_lowercase().parse::<Targets>() {
        Ok(filter) => (filter, None),
        Err(_) => (
            Targets::new().with_default(tracing::Level::INFO),
            Some(level),
        ),
    };
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        // CloudWatch stamps every line itself.
        .without_time();
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    if installed.is_ok() {
        if let Some(level) = bad_level {
            tracing::warn!(level, "unrecognised log level; logging at info");
        }
    }
}
