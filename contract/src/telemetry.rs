//! docs/observability.md as checks of what a process wrote, read as a log
//! pipeline reads it: each log line's keys, and each metrics document
//! against the CloudWatch Embedded Metric Format specification's rules.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// The units CloudWatch takes.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Whether a line is a metrics document (it has the `_aws` member).
pub fn is_metrics_document(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|value| value.get("_aws").is_some())
}

/// Checks one document against the EMF specification, and the limits the
/// contract adds (100 metrics, 30 dimensions, 100 values a metric).
pub fn validate_emf(line: &str) -> Result<Value, String> {
    if line.len() > 256 * 1024 {
        return Err(format!("{} bytes: over a log event's 256 KiB", line.len()));
    }
    let document: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = document.as_object().ok_or("the root is not an object")?;
    let aws = object(root.get("_aws"), "_aws")?;
    only(
        aws,
        &["Timestamp", "CloudWatchMetrics", "LogGroupName"],
        "_aws",
    )?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a whole number of milliseconds")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (earliest, latest) = (
        now - Duration::from_secs(14 * 86_400),
        now + Duration::from_secs(7_200),
    );
    if !(earliest.as_millis()..=latest.as_millis()).contains(&u128::from(timestamp)) {
        return Err(format!(
            "_aws.Timestamp {timestamp} is not within 14 days before or 2 hours after now"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let mut metrics = 0;
    for directive in directives {
        metrics += validate_directive(root, object(Some(directive), "a MetricDirective")?)?;
    }
    if metrics > 100 {
        return Err(format!("{metrics} metrics: over 100"));
    }
    Ok(document)
}

/// One MetricDirective: its namespace, dimension sets and metrics.
fn validate_directive(
    root: &Map<String, Value>,
    directive: &Map<String, Value>,
) -> Result<usize, String> {
    only(
        directive,
        &["Namespace", "Dimensions", "Metrics"],
        "a MetricDirective",
    )?;
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .ok_or("Namespace is not a string")?;
    if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with("AWS/") {
        return Err(format!(
            "Namespace {namespace:?} is not one CloudWatch takes"
        ));
    }
    let sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions is not an array")?;
    for set in sets {
        let keys = set.as_array().ok_or("a DimensionSet is not an array")?;
        if keys.len() > 30 {
            return Err(format!(
                "a DimensionSet of {} dimensions: over 30",
                keys.len()
            ));
        }
        for key in keys {
            let key = key.as_str().ok_or("a dimension key is not a string")?;
            let value = root.get(key).and_then(Value::as_str);
            if !value.is_some_and(|value| (1..=1024).contains(&value.len())) {
                return Err(format!(
                    "dimension {key:?} is not a string member of the root"
                ));
            }
        }
    }
    let definitions = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("Metrics is not an array")?;
    let mut names = Vec::new();
    for definition in definitions {
        let definition = object(Some(definition), "a MetricDefinition")?;
        only(
            definition,
            &["Name", "Unit", "StorageResolution"],
            "a MetricDefinition",
        )?;
        let name = definition
            .get("Name")
            .and_then(Value::as_str)
            .ok_or("a metric's Name is not a string")?;
        if names.contains(&name) || name.is_empty() || name.len() > 1024 {
            return Err(format!(
                "metric name {name:?} is repeated, empty or too long"
            ));
        }
        names.push(name);
        if let Some(unit) = definition.get("Unit") {
            if !unit.as_str().is_some_and(|unit| UNITS.contains(&unit)) {
                return Err(format!("{name}: {unit} is not a CloudWatch unit"));
            }
        }
        if let Some(resolution) = definition.get("StorageResolution") {
            if ![1, 60].contains(&resolution.as_u64().unwrap_or(0)) {
                return Err(format!(
                    "{name}: StorageResolution {resolution} is neither 1 nor 60"
                ));
            }
        }
        validate_value(name, root.get(name))?;
    }
    Ok(names.len())
}

/// A metric's value: a number, up to 100 numbers, or up to 100 `Values`
/// with their `Counts`.
fn validate_value(name: &str, value: Option<&Value>) -> Result<(), String> {
    let numbers = |value: &Value| -> Option<Vec<f64>> {
        value.as_array()?.iter().map(Value::as_f64).collect()
    };
    match value {
        Some(Value::Number(_)) => Ok(()),
        Some(array @ Value::Array(_)) => match numbers(array) {
            Some(values) if !values.is_empty() && values.len() <= 100 => Ok(()),
            _ => Err(format!("{name}: not 1 to 100 numbers")),
        },
        Some(Value::Object(distribution)) => {
            only(distribution, &["Values", "Counts"], name)?;
            let values = distribution.get("Values").and_then(numbers);
            let counts = distribution.get("Counts").and_then(numbers);
            match (values, counts) {
                (Some(values), Some(counts))
                    if values.len() == counts.len()
                        && (1..=100).contains(&values.len())
                        && counts.iter().all(|&count| count > 0.0) =>
                {
                    Ok(())
                }
                _ => Err(format!("{name}: Values and Counts are not 1 to 100 numbers each, alike in length, counts positive")),
            }
        }
        _ => Err(format!(
            "{name} is not a member of the root holding numbers"
        )),
    }
}

fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{what} is not an object"))
}

fn only(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "{what} has a member the specification does not define: {key}"
        )),
        None => Ok(()),
    }
}

/// Every metric's total over `documents`: a count's sum, or a distribution's
/// number of samples.
pub fn metric_totals<'a>(documents: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for document in documents {
        let directives = document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for definition in directives
            .iter()
            .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
        {
            let name = definition["Name"].as_str().unwrap_or_default().to_string();
            let value = &document[&name];
            let total = match value.get("Counts").and_then(Value::as_array) {
                Some(counts) => counts.iter().filter_map(Value::as_u64).sum(),
                None => value.as_u64().unwrap_or(0),
            };
            *totals.entry(name).or_insert(0) += total;
        }
    }
    totals
}

/// Fails the test unless each metric in `expected` totals its count over
/// `documents`.
pub fn assert_totals(documents: &[Value], expected: &[(&str, u64)]) {
    let totals = metric_totals(documents);
    for (metric, count) in expected {
        let total = totals.get(*metric).copied().unwrap_or(0);
        assert_eq!(total, *count, "{metric}: {totals:?}");
    }
}

/// Fails the test unless `documents` count `gets` GETs of a stalled store
/// as `503`s, with a read sent (more may have been: a read abandoned at a
/// GET's bound can still run, and retry, after the answer).
pub fn assert_stalled_gets(documents: &[Value], gets: u64) {
    let expected = [
        ("Requests", gets),
        ("StoreUnavailable", gets),
        ("SeedReads", 0),
    ];
    assert_totals(documents, &expected);
    let totals = metric_totals(documents);
    let reads = totals.get("StoreReads").copied().unwrap_or(0);
    assert!(reads >= 1, "no store read counted: {totals:?}");
}

/// What a process wrote, read as a log pipeline reads it: its per-request
/// lines and its metrics documents; every other line is checked too, and a
/// line that fails its rules fails the test.
pub fn read_output<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    service: &str,
) -> (Vec<Map<String, Value>>, Vec<Value>) {
    let (mut requests, mut documents) = (Vec::new(), Vec::new());
    for line in lines {
        if is_metrics_document(line) {
            documents.push(validate_emf(line).unwrap_or_else(|why| panic!("{why}: {line}")));
            continue;
        }
        let entry = validate_log_line(line, service).unwrap_or_else(|why| panic!("{why}"));
        if entry["message"] == "request" {
            requests.push(entry);
        }
    }
    (requests, documents)
}

/// Checks a log line's keys: `level`, `message`, `timestamp` (RFC 3339, UTC,
/// milliseconds) and `service`.
pub fn validate_log_line(line: &str, service: &str) -> Result<Map<String, Value>, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
    let entry = value
        .as_object()
        .ok_or_else(|| format!("not an object: {line}"))?
        .clone();
    let level = entry.get("level").and_then(Value::as_str);
    if !matches!(level, Some("DEBUG" | "INFO" | "WARN" | "ERROR")) {
        return Err(format!("no level of DEBUG, INFO, WARN or ERROR: {line}"));
    }
    if !entry.get("message").is_some_and(Value::is_string) {
        return Err(format!("no message: {line}"));
    }
    if entry.get("service").and_then(Value::as_str) != Some(service) {
        return Err(format!("no service {service:?}: {line}"));
    }
    let timestamp = entry
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let shape = timestamp.len() == 24
        && timestamp.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            19 => byte == b'.',
            23 => byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    if !shape {
        return Err(format!(
            "timestamp is not RFC 3339 UTC with milliseconds: {line}"
        ));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"_aws":{"Timestamp":TS,"CloudWatchMetrics":[{"Namespace":"Seed","Dimensions":[["service"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"service":"seed","Requests":3,"Latency":{"Values":[0.5,2.0],"Counts":[2,1]}}"#;

    fn valid() -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        VALID.replace("TS", &now.to_string())
    }

    #[test]
    fn a_valid_document_passes_and_sums() {
        let document = validate_emf(&valid()).unwrap();
        let totals = metric_totals([&document]);
        assert_eq!(totals["Requests"], 3);
        assert_eq!(totals["Latency"], 3);
    }

    #[test]
    fn each_broken_rule_fails() {
        for (what, from, to) in [
            ("no _aws", r#""_aws""#, r#""_other""#),
            (
                "a metric not at the root",
                r#""Requests":3"#,
                r#""Requestz":3"#,
            ),
            ("a string value", r#""Requests":3"#, r#""Requests":"3""#),
            (
                "a dimension not a string",
                r#""service":"seed""#,
                r#""service":7"#,
            ),
            ("an unknown unit", r#""Unit":"Count""#, r#""Unit":"Counts""#),
            (
                "counts unlike values",
                r#""Counts":[2,1]"#,
                r#""Counts":[2]"#,
            ),
            ("a zero count", r#""Counts":[2,1]"#, r#""Counts":[2,0]"#),
            (
                "an extra directive member",
                r#""Namespace":"Seed""#,
                r#""Namespace":"Seed","Extra":1"#,
            ),
            (
                "an AWS namespace",
                r#""Namespace":"Seed""#,
                r#""Namespace":"AWS/Lambda""#,
            ),
            (
                "a repeated metric",
                r#"{"Name":"Latency""#,
                r#"{"Name":"Requests""#,
            ),
            (
                "a fractional timestamp",
                r#""Timestamp":"#,
                r#""Timestamp":0."#,
            ),
        ] {
            let broken = valid().replacen(from, to, 1);
            assert_ne!(broken, valid(), "{what}: the replacement did not apply");
            assert!(validate_emf(&broken).is_err(), "{what} passed: {broken}");
        }
        let too_many: Vec<String> = (0..101).map(|n| format!("{n}.0")).collect();
        let many_values = valid().replace("[0.5,2.0]", &format!("[{}]", too_many.join(",")));
        let many_counts = many_values.replace("[2,1]", &format!("[{}]", vec!["1"; 101].join(",")));
        assert!(validate_emf(&many_counts).is_err(), "101 values passed");
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let in_seconds = VALID.replace("TS", &seconds.to_string());
        assert!(
            validate_emf(&in_seconds).is_err(),
            "a timestamp in seconds passed"
        );
    }

    #[test]
    fn log_lines_need_their_keys() {
        let good = r#"{"level":"INFO","message":"m","timestamp":"2026-12-07T04:38:50.123Z","service":"seed"}"#;
        assert!(validate_log_line(good, "seed").is_ok());
        for bad in [
            good.replace("INFO", "info"),
            good.replace(".123Z", "Z"),
            good.replace(".123Z", ".123456Z"),
            good.replace(r#""service":"seed""#, r#""service":"other""#),
            good.replace(r#""message":"m","#, ""),
        ] {
            assert!(validate_log_line(&bad, "seed").is_err(), "{bad}");
        }
    }
}
