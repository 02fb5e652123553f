//! Checks a deployed seed service as its users see it: POST a fresh value
//! through the public URL (a load balancer's DNS name, a Function URL), GET
//! it back many times, and report whether every answer agrees, which
//! instances answered (from `X-Seed-Instance`), how fast, and what failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretString};

/// What to check.
#[derive(Debug, Clone)]
pub struct Check {
    pub url: String,
    pub gets: usize,
    pub timeout: Duration,
    /// The value to store; a fresh one (from the clock) when `None`.
    pub value: Option<String>,
    /// The write token, sent with the POST as `Authorization: Bearer`.
    pub token: Option<SecretString>,
}

/// How a user gives seed-check the write token: named in every message
/// about it.
pub const HOW_TO_GIVE_THE_TOKEN: &str = "SEED_CHECK_TOKEN or --token-file";

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Answer {
    pub method: &'static str,
    pub outcome: Result<(StatusCode, String), String>,
    pub instance: Option<String>,
    pub latency: Duration,
}

/// Everything the check saw.
#[derive(Debug)]
pub struct Report {
    pub url: String,
    pub value: String,
    pub post: Answer,
    pub gets: Vec<Answer>,
    /// Whether the POST carried a write token.
    pub sent_token: bool,
}

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

fn client() -> Result<HttpsClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|error| format!("cannot load the system's root certificates: {error}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Runs the check. Fails only when it cannot start (a bad URL, no TLS
/// roots); everything the service does wrong is in the report.
pub async fn run(check: &Check) -> Result<Report, String> {
    let uri: http::Uri = check
        .url
        .parse()
        .map_err(|error| format!("{:?} is not a URL: {error}", check.url))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!(
            "{:?} must start with http:// or https://",
            check.url
        ));
    }
    let client = client()?;
    let value = check.value.clone().unwrap_or_else(fresh_value);
    let body = format!("{{\"num\": {value}}}");
    let post = send(
        &client,
        &check.url,
        Method::POST,
        body,
        check.token.as_ref(),
        check.timeout,
    )
    .await;
    let mut gets = Vec::with_capacity(check.gets);
    for _ in 0..check.gets {
        gets.push(
            send(
                &client,
                &check.url,
                Method::GET,
                String::new(),
                None,
                check.timeout,
            )
            .await,
        );
    }
    Ok(Report {
        url: check.url.clone(),
        value,
        post,
        gets,
        sent_token: check.token.is_some(),
    })
}

/// A value no earlier run stored: the clock in nanoseconds, negative on odd
/// runs so that signs are exercised too.
fn fresh_value() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(1);
    if nanos % 2 == 1 {
        format!("-{nanos}")
    } else {
        nanos.to_string()
    }
}

async fn send(
    client: &HttpsClient,
    url: &str,
    method: Method,
    body: String,
    token: Option<&SecretString>,
    timeout: Duration,
) -> Answer {
    let name = if method == Method::POST {
        "POST"
    } else {
        "GET"
    };
    let started = Instant::now();
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("seed-check/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {}", token.expose_secret()));
    }
    let request = request.body(Full::new(Bytes::from(body)));
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            return Answer {
                method: name,
                outcome: Err(error.to_string()),
                instance: None,
                latency: started.elapsed(),
            }
        }
    };
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("{error:?}"))?;
        let status = response.status();
        let instance = response
            .headers()
            .get("x-seed-instance")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("reading the body: {error}"))?
            .to_bytes();
        Ok::<_, String>((
            status,
            String::from_utf8_lossy(&body).into_owned(),
            instance,
        ))
    };
    let (outcome, instance) = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, body, instance))) => (Ok((status, body)), instance),
        Ok(Err(error)) => (Err(error), None),
        Err(_) => (
            Err(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            )),
            None,
        ),
    };
    Answer {
        method: name,
        outcome,
        instance,
        latency: started.elapsed(),
    }
}

impl Answer {
    /// Whether this answer is `200` with exactly `value`.
    fn agrees(&self, value: &str) -> bool {
        matches!(&self.outcome, Ok((StatusCode::OK, body)) if body == value)
    }
}

impl Report {
    /// Problems found, each one sentence; none means the check passed.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match &self.post.outcome {
            Ok((StatusCode::OK, body)) if body == &self.value => {}
            Ok((StatusCode::UNAUTHORIZED, _)) if !self.sent_token => problems.push(format!(
                "the service is write-protected: the POST was answered 401; give the token \
                 with {HOW_TO_GIVE_THE_TOKEN}"
            )),
            Ok((StatusCode::UNAUTHORIZED, _)) => problems.push(format!(
                "the service refused the write token: the POST was answered 401; check the \
                 token given with {HOW_TO_GIVE_THE_TOKEN}"
            )),
            Ok((status, body)) => problems.push(format!(
                "the POST was answered {status} {body:?}, not 200 {:?}",
                self.value
            )),
            Err(error) => problems.push(format!("the POST failed: {error}")),
        }
        let errors = self
            .gets
            .iter()
            .filter(|answer| answer.outcome.is_err())
            .count();
        if errors > 0 {
            problems.push(format!("{errors} of {} GETs failed", self.gets.len()));
        }
        let disagreeing: Vec<&Answer> = self
            .gets
            .iter()
            .filter(|answer| answer.outcome.is_ok() && !answer.agrees(&self.value))
            .collect();
        if !disagreeing.is_empty() {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for answer in &disagreeing {
                if let Ok((status, body)) = &answer.outcome {
                    let from = answer.instance.as_deref().unwrap_or("an unnamed instance");
                    *seen
                        .entry(format!("{from} answered {status} {}", shorten(body)))
                        .or_default() += 1;
                }
            }
            let detail: Vec<String> = seen
                .into_iter()
                .map(|(what, n)| format!("{what} ({n}×)"))
                .collect();
            problems.push(format!(
                "{} of {} GETs did not answer the stored value: {}; the instances do not share one store",
                disagreeing.len(),
                self.gets.len(),
                detail.join(", ")
            ));
        }
        if self.gets.is_empty() {
            problems.push("no GET was made".to_string());
        }
        problems
    }

    pub fn passed(&self) -> bool {
        self.problems().is_empty()
    }

    /// The report as a readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "seed-check {}", self.url);
        let _ = writeln!(out, "stored value: {}", shorten(&self.value));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>8} {:>8}",
            "instance", "answers", "agree", "errors"
        );
        let mut by_instance: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        for answer in &self.gets {
            let name = answer.instance.clone().unwrap_or_else(|| "-".to_string());
            let entry = by_instance.entry(name).or_default();
            entry.0 += 1;
            if answer.agrees(&self.value) {
                entry.1 += 1;
            }
            if answer.outcome.is_err() {
                entry.2 += 1;
            }
        }
        for (name, (answers, agree, errors)) in &by_instance {
            let _ = writeln!(out, "{name:<10} {answers:>8} {agree:>8} {errors:>8}");
        }
        let mut latencies: Vec<Duration> = self.gets.iter().map(|answer| answer.latency).collect();
        latencies.sort();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "latency    p50 {}  p90 {}  p99 {}  max {}   (POST {})",
            millis(percentile(&latencies, 50.0)),
            millis(percentile(&latencies, 90.0)),
            millis(percentile(&latencies, 99.0)),
            millis(latencies.last().copied()),
            millis(Some(self.post.latency)),
        );
        for answer in self.gets.iter().chain(std::iter::once(&self.post)) {
            if let Err(error) = &answer.outcome {
                let _ = writeln!(out, "error      {} {}", answer.method, error);
            }
        }
        let _ = writeln!(out);
        let problems = self.problems();
        if problems.is_empty() {
            let _ = writeln!(
                out,
                "PASS: all {} GETs answered the stored value",
                self.gets.len()
            );
        } else {
            for problem in problems {
                let _ = writeln!(out, "FAIL: {problem}");
            }
        }
        out
    }
}

/// The p-th percentile (nearest rank) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn millis(duration: Option<Duration>) -> String {
    duration
        .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".to_string())
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 24 {
        let head: String = text.chars().take(20).collect();
        format!("{head}… ({} chars)", text.chars().count())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(
            percentile(&sorted[..1], 99.0),
            Some(Duration::from_millis(1))
        );
        assert_eq!(percentile(&[], 50.0), None);
    }

    fn answer(body: &str, instance: &str) -> Answer {
        Answer {
            method: "GET",
            outcome: Ok((StatusCode::OK, body.to_string())),
            instance: Some(instance.to_string()),
            latency: Duration::from_millis(1),
        }
    }

    #[test]
    fn a_disagreeing_instance_is_named() {
        let report = Report {
            url: "http://x/".into(),
            value: "5".into(),
            post: Answer {
                method: "POST",
                ..answer("5", "a")
            },
            gets: vec![answer("5", "a"), answer("0", "b"), answer("5", "a")],
            sent_token: false,
        };
        assert!(!report.passed());
        let rendered = report.render();
        assert!(
            rendered
                .contains("FAIL: 1 of 3 GETs did not answer the stored value: b answered 200 OK 0"),
            "{rendered}"
        );
    }
}
