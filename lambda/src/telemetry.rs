//! Logs for CloudWatch: the JSON lines both targets write, or plain text
//! where the function's log format is Text (`AWS_LAMBDA_LOG_FORMAT`),
//! filtered by `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging controls) or
//! `RUST_LOG`, `info` by default.

use shared::telemetry::json_layer;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init(service: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    let (filter, bad_level) = match level.to_lowercase().parse::<Targets>() {
        Ok(filter) => (filter, None),
        Err(_) => (Targets::new().with_default(LevelFilter::INFO), Some(level)),
    };
    let quieter_than_info = filter
        .default_level()
        .is_some_and(|l| l < LevelFilter::INFO);
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    // CloudWatch stamps every text line itself.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time();
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match text {
        true => registry.with(layer.with_target(false)).try_init(),
        false => registry.with(json_layer(service)).try_init(),
    };
    if installed.is_err() {
        return;
    }
    if let Some(requested_level) = bad_level {
        tracing::warn!(requested_level, "unrecognised log level; logging at info");
    }
    if quieter_than_info {
        tracing::warn!(
            "the metrics documents carry no level, which Lambda reads as INFO: at this log level \
             Lambda drops them; set the application log level to INFO or lower to keep the metrics"
        );
    }
}
