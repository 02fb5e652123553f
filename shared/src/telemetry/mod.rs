//! What an operator sees, the same on every target: JSON log lines with the
//! keys Powertools users know ([`log`]), and the service's metrics as
//! CloudWatch Embedded Metric Format documents ([`metrics`]).

pub mod log;
pub mod metrics;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;

pub use self::log::{json_layer, CurrentRequest, JsonLines, RequestKeys};
pub use self::metrics::{Count, Metrics, Tally};
use crate::settings::parse_duration;

/// The names and the interval both targets' telemetry is read with.
#[derive(Debug, Clone, Args)]
pub struct TelemetrySettings {
    /// The service's name: the `service` key of every log line and the
    /// dimension of every metric (each stack sets its stack's name).
    #[arg(long, env = "SEED_SERVICE", default_value = "seed", value_parser = parse_name)]
    pub service: String,

    /// The CloudWatch namespace of the metrics.
    #[arg(long, env = "SEED_METRICS_NAMESPACE", default_value = "Seed", value_parser = parse_namespace)]
    pub metrics_namespace: String,

    /// How often, at most, the metrics are written to standard error, as one
    /// CloudWatch Embedded Metric Format document (none while idle); a last
    /// one is written when the process stops.
    #[arg(long, env = "SEED_METRICS_INTERVAL", value_parser = parse_duration, default_value = "60s")]
    pub metrics_interval: Duration,

    /// Documents kept here instead of written to standard error (tests).
    #[arg(skip)]
    pub metrics_kept: Option<Arc<Mutex<Vec<String>>>>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            service: "seed".to_string(),
            metrics_namespace: "Seed".to_string(),
            metrics_interval: Duration::from_secs(60),
            metrics_kept: None,
        }
    }
}

/// A name CloudWatch takes as a dimension value: visible ASCII and spaces.
fn parse_name(name: &str) -> Result<String, String> {
    let usable =
        (1..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    usable.then(|| name.to_string()).ok_or_else(|| {
        format!("{name:?} is not a name CloudWatch takes: use 1 to 255 visible ASCII characters")
    })
}

/// A namespace CloudWatch takes for custom metrics.
fn parse_namespace(namespace: &str) -> Result<String, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b" ._-/#:".contains(&b);
    let usable = (1..=255).contains(&namespace.len())
        && namespace.bytes().all(allowed)
        && !namespace.starts_with("AWS/");
    usable.then(|| namespace.to_string()).ok_or_else(|| {
        format!("{namespace:?} is not a CloudWatch namespace: use 1 to 255 letters, digits and . _ - / # : or spaces, not starting with AWS/")
    })
}
