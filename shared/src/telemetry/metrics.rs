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
            if merged.is_empty() {
                return None;
            }
            if merged.len() <= MAX_VALUES {
                let middle = |at: usize| RATIO.powf((at as f64 + 0.5) * width as f64) / 1e6;
                let values: Vec<f64> = merged.iter().map(|&(at, _)| middle(at)).collect();
                let counts: Vec<u64> = merged.iter().map(|&(_, count)| count).collect();
                return Some(json!({ "Values": values, "Counts": counts }));
            }
            width *= 2;
        }
    }
}

/// What the store was sent, counted by the store itself.
#[derive(Default)]
pub struct StoreCalls {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub throttles: AtomicU64,
    pub latency: Distribution,
}

/// Where documents go: standard error (with the log lines), or memory.
#[derive(Clone, Default)]
pub struct MetricsSink(Option<Arc<Mutex<Vec<u8>>>>);

impl MetricsSink {
    /// A sink that keeps what is written, for tests.
    pub fn memory() -> Self {
        MetricsSink(Some(Arc::default()))
    }

    /// The lines written to a memory sink.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.as_ref().map(|kept| crate::lock(kept).clone());
        let text = String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned();
        text.lines().map(str::to_string).collect()
    }

    /// Keeps `bytes` in a memory sink.
    pub fn keep(&self, bytes: &[u8]) {
        if let Some(kept) = &self.0 {
            crate::lock(kept).extend_from_slice(bytes);
        }
    }

    fn write(&self, document: &Value) {
        let line = format!("{document}\n");
        let written = match &self.0 {
            Some(_) => {
                self.keep(line.as_bytes());
                Ok(())
            }
            None => std::io::stderr().lock().write_all(line.as_bytes()),
        };
        if let Err(error) = written {
            tracing::warn!(%error, "cannot write the metrics document");
        }
    }
}

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "memory" } else { "stderr" })
    }
}

/// The process's counts since the last document.
pub struct Metrics {
    settings: TelemetrySettings,
    last_written: Mutex<Instant>,
    requests: AtomicU64,
    client_errors: AtomicU64,
    store_unavailable: AtomicU64,
    server_errors: AtomicU64,
    seed_reads: AtomicU64,
    seed_writes: AtomicU64,
    latency: Distribution,
    store: Arc<StoreCalls>,
    cold_starts: AtomicU64,
    /// Lambda's function name, the `ColdStart` metric's second dimension.
    function_name: OnceLock<String>,
}

impl Metrics {
    /// Counts for a process whose store counts its calls in `store`.
    pub fn new(settings: TelemetrySettings, store: Arc<StoreCalls>) -> Self {
        Metrics {
            settings,
            last_written: Mutex::new(Instant::now()),
            requests: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            store_unavailable: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            seed_reads: AtomicU64::new(0),
            seed_writes: AtomicU64::new(0),
            latency: Distribution::default(),
            store,
            cold_starts: AtomicU64::new(0),
            function_name: OnceLock::new(),
        }
    }

    /// Counts one answer sent, `took` after the request arrived.
    pub fn answered(&self, method: &Method, status: StatusCode, took: Duration) {
        self.requests.fetch_add(1, Relaxed);
        self.latency.record(took);
        let class = match status.as_u16() {
            200 if method == Method::POST => &self.seed_writes,
            200 if method == Method::GET || method == Method::HEAD => &self.seed_reads,
            400..=499 => &self.client_errors,
            500 => &self.server_errors,
            503 => &self.store_unavailable,
            _ => return,
        };
        class.fetch_add(1, Relaxed);
    }

    /// Whether this is the environment's first invocation, which is counted.
    pub fn cold_start(&self, function_name: &str) -> bool {
        let first = self.function_name.set(function_name.to_string()).is_ok();
        if first {
            self.cold_starts.fetch_add(1, Relaxed);
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
        if let Some(document) = self.document(SystemTime::now()) {
            self.settings.metrics_sink.write(&document);
        }
    }

    /// The counts since the last document, which start again at zero.
    fn document(&self, now: SystemTime) -> Option<Value> {
        let take = |counter: &AtomicU64| counter.swap(0, Relaxed);
        let counts = [
            ("Requests", take(&self.requests)),
            ("ClientErrors", take(&self.client_errors)),
            ("StoreUnavailable", take(&self.store_unavailable)),
            ("ServerErrors", take(&self.server_errors)),
            ("SeedReads", take(&self.seed_reads)),
            ("SeedWrites", take(&self.seed_writes)),
            ("StoreReads", take(&self.store.reads)),
            ("StoreWrites", take(&self.store.writes)),
            ("StoreThrottles", take(&self.store.throttles)),
        ];
        let latencies = [
            ("Latency", self.latency.take()),
            ("StoreLatency", self.store.latency.take()),
        ];
        let cold_starts = take(&self.cold_starts);
        let nothing = counts.iter().all(|&(_, count)| count == 0)
            && latencies.iter().all(|(_, values)| values.is_none());
        if nothing && cold_starts == 0 {
            return None;
        }
        let mut root = Map::new();
        let mut definitions = Vec::new();
        for (name, count) in counts {
            root.insert(name.into(), count.into());
            definitions.push(json!({ "Name": name, "Unit": "Count" }));
        }
        for (name, values) in latencies {
            if let Some(values) = values {
                root.insert(name.into(), values);
                definitions.push(json!({ "Name": name, "Unit": "Milliseconds" }));
            }
        }
        let namespace = &self.settings.metrics_namespace;
        let mut directives = vec![json!({
            "Namespace": namespace, "Dimensions": [["service"]], "Metrics": definitions,
        })];
        if let Some(function_name) = self.function_name.get().filter(|_| cold_starts > 0) {
            root.insert("ColdStart".into(), cold_starts.into());
            root.insert("function_name".into(), function_name.as_str().into());
            directives.push(json!({
                "Namespace": namespace, "Dimensions": [["service", "function_name"]],
                "Metrics": [{ "Name": "ColdStart", "Unit": "Count" }],
            }));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_metrics() -> (Metrics, MetricsSink) {
        let sink = MetricsSink::memory();
        let settings = TelemetrySettings {
            metrics_sink: sink.clone(),
            ..TelemetrySettings::default()
        };
        (Metrics::new(settings, Arc::default()), sink)
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
        metrics.store.reads.fetch_add(4, Relaxed);
        assert!(metrics.cold_start("seed-fn") && !metrics.cold_start("seed-fn"));
        metrics.write();
        metrics.write();
        let lines = sink.lines();
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
        assert!(sink.lines().is_empty(), "written before the interval");
        *crate::lock(&metrics.last_written) -= Duration::from_secs(61);
        metrics.write_if_due();
        assert_eq!(sink.lines().len(), 1);
    }
}
