//! The service's own metrics, counted exactly in the process and written as
//! one CloudWatch Embedded Metric Format document per interval at most, and
//! a last one when the process stops (docs/observability.md).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::TelemetrySettings;

/// The most distinct values EMF takes for one metric.
pub const MAX_VALUES: usize = 100;

/// Each bucket spans 10 %: its middle is within 4.9 % of every sample in it.
const RATIO: f64 = 1.1;
/// ln(1.1): `f64::ln` is not `const`.
const LN_RATIO: f64 = 0.095_310_179_804_324_87;
/// From 1 ns up to 1.1^272 ns (180 s); longer samples count in the last.
const BUCKETS: usize = 272;

/// Every sample of a duration, counted in its bucket.
#[derive(Debug)]
pub struct Distribution {
    buckets: Box<[AtomicU64]>,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Distribution {
    pub fn record(&self, sample: Duration) {
        let nanos = sample.as_nanos().max(1) as f64;
        let bucket = ((nanos.ln() / LN_RATIO) as usize).min(BUCKETS - 1);
        self.buckets[bucket].fetch_add(1, Relaxed);
    }

    /// The samples since the last call, as EMF `Values` (milliseconds) and
    /// `Counts`. Past [`MAX_VALUES`] buckets, neighbours are merged in pairs
    /// (each merge doubles the width) until the values fit.
    fn take(&self) -> Option<Value> {
        let taken: Vec<(usize, u64)> = (self.buckets.iter().enumerate())
            .map(|(bucket, count)| (bucket, count.swap(0, Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        let mut width = 1;
        loop {
            let mut merged: Vec<(usize, u64)> = Vec::new();
            for &(bucket, count) in &taken {
                match merged.last_mut() {
                    Some((last, total)) if *last == bucket / width => *total += count,
                    _ => merged.push((bucket / width, count)),
                }
            }
            if merged.len() <= MAX_VALUES {
                let middle = |at: usize| RATIO.powf((at as f64 + 0.5) * width as f64) / 1e6;
                let values: Vec<f64> = merged.iter().map(|&(at, _)| middle(at)).collect();
                let counts: Vec<u64> = merged.iter().map(|&(_, count)| count).collect();
                return (!merged.is_empty()).then(|| json!({ "Values": values, "Counts": counts }));
            }
            width *= 2;
        }
    }
}

/// What is counted; documents name each as its variant is named.
#[derive(Debug, Clone, Copy)]
pub enum Count {
    Requests,
    ClientErrors,
    StoreUnavailable,
    ServerErrors,
    SeedReads,
    SeedWrites,
    StoreReads,
    StoreWrites,
    StoreThrottles,
    ColdStart,
}

/// The counts with dimension set `[service]`, in the documents' order.
const BY_SERVICE: [Count; 9] = [
    Count::Requests,
    Count::ClientErrors,
    Count::StoreUnavailable,
    Count::ServerErrors,
    Count::SeedReads,
    Count::SeedWrites,
    Count::StoreReads,
    Count::StoreWrites,
    Count::StoreThrottles,
];

/// A process's counts and samples since the last document: the answers'
/// and, added by the store itself, its calls'.
#[derive(Debug, Default)]
pub struct Tally {
    counts: [AtomicU64; 10],
    pub latency: Distribution,
    pub store_latency: Distribution,
}

impl Tally {
    pub fn add(&self, count: Count) {
        self.counts[count as usize].fetch_add(1, Relaxed);
    }

    fn take(&self, count: Count) -> u64 {
        self.counts[count as usize].swap(0, Relaxed)
    }
}

/// The process's metrics, and when they were last written.
pub struct Metrics {
    settings: TelemetrySettings,
    tally: Arc<Tally>,
    last_written: Mutex<Instant>,
    /// Lambda's function name, the `ColdStart` metric's second dimension.
    function_name: OnceLock<String>,
}

impl Metrics {
    /// Metrics over `tally`, which the store adds its calls to.
    pub fn new(settings: TelemetrySettings, tally: Arc<Tally>) -> Self {
        Metrics {
            settings,
            tally,
            last_written: Mutex::new(Instant::now()),
            function_name: OnceLock::new(),
        }
    }

    /// Counts one answer sent, `took` after the request arrived.
    pub fn answered(&self, method: &Method, status: StatusCode, took: Duration) {
        self.tally.add(Count::Requests);
        self.tally.latency.record(took);
        let class = match status.as_u16() {
            200 if method == Method::POST => Count::SeedWrites,
            200 if method == Method::GET || method == Method::HEAD => Count::SeedReads,
            400..=499 => Count::ClientErrors,
            500 => Count::ServerErrors,
            503 => Count::StoreUnavailable,
            _ => return,
        };
        self.tally.add(class);
    }

    /// Whether this is the environment's first invocation, which is counted.
    pub fn cold_start(&self, function_name: &str) -> bool {
        let first = self.function_name.set(function_name.to_string()).is_ok();
        if first {
            self.tally.add(Count::ColdStart);
        }
        first
    }

    /// Writes a document if the interval has passed since the last one:
    /// for Lambda, whose environment is frozen between invocations.
    pub fn write_if_due(&self) {
        let mut last = crate::lock(&self.last_written);
        if last.elapsed() >= self.settings.metrics_interval {
            *last = Instant::now();
            self.write_counted();
        }
    }

    /// Writes what was counted since the last document, if anything.
    pub fn write(&self) {
        *crate::lock(&self.last_written) = Instant::now();
        self.write_counted();
    }

    fn write_counted(&self) {
        let Some(document) = self.document(SystemTime::now()) else {
            return;
        };
        if let Some(kept) = &self.settings.metrics_kept {
            return crate::lock(kept).push(document.to_string());
        }
        // One write, so that no other line lands inside it.
        let line = format!("{document}\n");
        if let Err(error) = std::io::stderr().lock().write_all(line.as_bytes()) {
            tracing::warn!(%error, "cannot write the metrics document");
        }
    }

    /// The counts since the last document, which start again at zero;
    /// nothing if nothing was counted.
    fn document(&self, now: SystemTime) -> Option<Value> {
        let mut root = Map::new();
        let mut metrics = Vec::new();
        for count in BY_SERVICE {
            root.insert(format!("{count:?}"), self.tally.take(count).into());
            metrics.push(json!({ "Name": format!("{count:?}"), "Unit": "Count" }));
        }
        let idle = root.values().all(|count| count == 0);
        let distributions = [
            ("Latency", &self.tally.latency),
            ("StoreLatency", &self.tally.store_latency),
        ];
        for (name, values) in distributions.map(|(name, samples)| (name, samples.take())) {
            if let Some(values) = values {
                root.insert(name.into(), values);
                metrics.push(json!({ "Name": name, "Unit": "Milliseconds" }));
            }
        }
        let cold_starts = self.tally.take(Count::ColdStart);
        if idle && metrics.len() == BY_SERVICE.len() && cold_starts == 0 {
            return None;
        }
        let mut directives = vec![self.directive(&["service"], metrics)];
        if let Some(function_name) = self.function_name.get().filter(|_| cold_starts > 0) {
            root.insert("ColdStart".into(), cold_starts.into());
            root.insert("function_name".into(), function_name.as_str().into());
            let cold_start = json!({ "Name": "ColdStart", "Unit": "Count" });
            directives.push(self.directive(&["service", "function_name"], vec![cold_start]));
        }
        root.insert("service".into(), self.settings.service.as_str().into());
        let millis = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        root.insert(
            "_aws".into(),
            json!({ "Timestamp": millis, "CloudWatchMetrics": directives }),
        );
        Some(Value::Object(root))
    }

    fn directive(&self, dimensions: &[&str], metrics: Vec<Value>) -> Value {
        let namespace = &self.settings.metrics_namespace;
        json!({ "Namespace": namespace, "Dimensions": [dimensions], "Metrics": metrics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_metrics() -> (Metrics, Kept) {
        let kept = Kept::default();
        let settings = TelemetrySettings {
            metrics_kept: Some(kept.clone()),
            ..TelemetrySettings::default()
        };
        (Metrics::new(settings, Arc::default()), kept)
    }

    type Kept = Arc<Mutex<Vec<String>>>;

    fn lines(kept: &Kept) -> Vec<String> {
        crate::lock(kept).clone()
    }

    #[test]
    fn every_sample_is_reported_within_five_percent() {
        for nanos in (0..2_000).map(|n| 1_000 + n * n * 7_919) {
            let distribution = Distribution::default();
            distribution.record(Duration::from_nanos(nanos));
            let taken = distribution.take().expect("one sample");
            let reported = taken["Values"][0].as_f64().unwrap();
            let actual = nanos as f64 / 1e6;
            let error = (reported - actual).abs() / actual;
            assert!(
                error <= 0.049,
                "{actual} ms reported as {reported}: {error}"
            );
            assert_eq!(taken["Counts"][0], 1);
            assert!(distribution.take().is_none(), "taking starts again at zero");
        }
    }

    #[test]
    fn more_than_a_hundred_buckets_are_merged_and_every_sample_kept() {
        let distribution = Distribution::default();
        for bucket in 0..150u32 {
            let nanos = RATIO.powf(f64::from(bucket) + 0.5);
            for _ in 0..=bucket % 3 {
                distribution.record(Duration::from_nanos(nanos as u64 + 1));
            }
        }
        let taken = distribution.take().unwrap();
        let values = taken["Values"].as_array().unwrap();
        assert!(values.len() <= MAX_VALUES, "{} values", values.len());
        let counts: u64 = taken["Counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(counts, (0..150).map(|b| b % 3 + 1).sum::<u64>());
    }

    #[test]
    fn a_document_counts_every_answer_once_then_nothing_while_idle() {
        let (metrics, sink) = memory_metrics();
        let millis = Duration::from_millis;
        metrics.answered(&Method::GET, StatusCode::OK, millis(1));
        metrics.answered(&Method::HEAD, StatusCode::OK, millis(1));
        metrics.answered(&Method::POST, StatusCode::OK, millis(2));
        metrics.answered(&Method::POST, StatusCode::BAD_REQUEST, millis(1));
        metrics.answered(&Method::GET, StatusCode::SERVICE_UNAVAILABLE, millis(2000));
        metrics.answered(&Method::GET, StatusCode::INTERNAL_SERVER_ERROR, millis(1));
        metrics.answered(&Method::OPTIONS, StatusCode::NO_CONTENT, millis(1));
        for _ in 0..4 {
            metrics.tally.add(Count::StoreReads);
        }
        assert!(metrics.cold_start("seed-fn") && !metrics.cold_start("seed-fn"));
        metrics.write();
        metrics.write();
        let lines = lines(&sink);
        assert_eq!(lines.len(), 1, "an idle interval writes nothing: {lines:?}");
        let document: Value = serde_json::from_str(&lines[0]).unwrap();
        for (name, expected) in [
            ("Requests", 7),
            ("SeedReads", 2),
            ("SeedWrites", 1),
            ("ClientErrors", 1),
            ("StoreUnavailable", 1),
            ("ServerErrors", 1),
            ("StoreReads", 4),
            ("StoreWrites", 0),
            ("ColdStart", 1),
        ] {
            assert_eq!(document[name], expected, "{name}: {document}");
        }
        let latency_counts: u64 = document["Latency"]["Counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(latency_counts, 7);
        assert!(
            document.get("StoreLatency").is_none(),
            "an empty distribution is left out"
        );
        assert_eq!(document["function_name"], "seed-fn");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            json!([["service", "function_name"]])
        );
    }

    #[test]
    fn a_document_is_written_once_the_interval_has_passed() {
        let (metrics, sink) = memory_metrics();
        metrics.answered(&Method::GET, StatusCode::OK, Duration::ZERO);
        metrics.write_if_due();
        assert!(lines(&sink).is_empty(), "written before the interval");
        *crate::lock(&metrics.last_written) -= Duration::from_secs(61);
        metrics.write_if_due();
        assert_eq!(lines(&sink).len(), 1);
    }
}
