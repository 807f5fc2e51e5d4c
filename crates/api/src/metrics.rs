//! Request and storage metrics in the Prometheus text format (version 0.0.4), kept in memory by
//! this node. No values, names of objects, tokens or callers are recorded: the labels are the
//! vault, the operation (the handler of the operation table, e.g. `secrets::get`, or `token`),
//! the status class and, for storage, the kind of call.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default, Clone)]
struct Histogram {
    /// per bucket (not cumulative; summed when rendered), then the overflow
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += secs;
    }
    fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut acc = 0;
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            acc += c;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {acc}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count());
    }
}

/// (operation, status class) -> latency histogram.
type ByOperation = BTreeMap<(&'static str, &'static str), Histogram>;

/// This node's metrics. One lock per recorded request (a map update), none per storage call
/// beyond its own.
#[derive(Default)]
pub struct Metrics {
    /// vault -> (operation, status class) -> latency histogram (its count is the request count);
    /// keyed by vault first so that a request for a known vault allocates nothing
    requests: Mutex<BTreeMap<String, ByOperation>>,
    /// storage call kind -> latency histogram
    storage: Mutex<BTreeMap<&'static str, Histogram>>,
    /// storage call kind -> failed calls
    storage_errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One answered request. `operation` is empty when the request was refused before its
    /// operation was known (shown as `unknown`).
    pub fn request(&self, vault: &str, operation: &'static str, status: u16, took: Duration) {
        let op = if operation.is_empty() { "unknown" } else { operation };
        if let Ok(mut m) = self.requests.lock() {
            let per_vault = match m.get_mut(vault) {
                Some(v) => v,
                None => m.entry(vault.to_owned()).or_default(),
            };
            per_vault.entry((op, class(status))).or_default().observe(took.as_secs_f64());
        }
    }

    /// One storage call (`get`, `scan`, `commit`) and whether it failed.
    pub fn storage(&self, kind: &'static str, took: Duration, failed: bool) {
        if let Ok(mut m) = self.storage.lock() {
            m.entry(kind).or_default().observe(took.as_secs_f64());
        }
        if failed && let Ok(mut m) = self.storage_errors.lock() {
            *m.entry(kind).or_default() += 1;
        }
    }

    /// The request and storage metrics as Prometheus text; `gauges` are appended as given
    /// (`name`, help, value).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP strongbox_requests_total Requests answered, by vault, operation and status class.\n");
        out.push_str("# TYPE strongbox_requests_total counter\n");
        let requests: Vec<(String, &'static str, &'static str, Histogram)> = self
            .requests
            .lock()
            .map(|m| {
                m.iter()
                    .flat_map(|(v, ops)| ops.iter().map(move |((op, st), h)| (v.clone(), *op, *st, h.clone())))
                    .collect()
            })
            .unwrap_or_default();
        for (vault, op, status, h) in &requests {
            let _ = writeln!(
                out,
                "strongbox_requests_total{{vault=\"{}\",operation=\"{op}\",status=\"{status}\"}} {}",
                label(vault),
                h.count()
            );
        }
        out.push_str(
            "# HELP strongbox_request_duration_seconds Time to answer, by vault, operation and status class.\n",
        );
        out.push_str("# TYPE strongbox_request_duration_seconds histogram\n");
        for (vault, op, status, h) in &requests {
            let labels = format!("vault=\"{}\",operation=\"{op}\",status=\"{status}\"", label(vault));
            h.render(&mut out, "strongbox_request_duration_seconds", &labels);
        }
        out.push_str("# HELP strongbox_storage_duration_seconds Storage call latency, by call.\n");
        out.push_str("# TYPE strongbox_storage_duration_seconds histogram\n");
        for (kind, h) in self.storage.lock().map(|m| m.clone()).unwrap_or_default() {
            h.render(&mut out, "strongbox_storage_duration_seconds", &format!("call=\"{kind}\""));
        }
        out.push_str("# HELP strongbox_storage_errors_total Failed storage calls, by call.\n");
        out.push_str("# TYPE strongbox_storage_errors_total counter\n");
        for (kind, n) in self.storage_errors.lock().map(|m| m.clone()).unwrap_or_default() {
            let _ = writeln!(out, "strongbox_storage_errors_total{{call=\"{kind}\"}} {n}");
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.request("default", "secrets::get", 200, Duration::from_micros(300));
        m.request("default", "secrets::get", 200, Duration::from_millis(3));
        m.request("default", "secrets::get", 404, Duration::from_millis(1));
        m.request("odd\"vault", "", 401, Duration::from_secs(5));
        m.storage("get", Duration::from_micros(100), false);
        m.storage("commit", Duration::from_millis(2), true);
        let t = m.render(&[("strongbox_sealed", "1 when sealed.", 0.0)]);
        assert!(
            t.contains("strongbox_requests_total{vault=\"default\",operation=\"secrets::get\",status=\"2xx\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("strongbox_requests_total{vault=\"default\",operation=\"secrets::get\",status=\"4xx\"} 1\n")
        );
        assert!(t.contains("{vault=\"odd\\\"vault\",operation=\"unknown\",status=\"4xx\"} 1\n"), "{t}");
        assert!(t.contains(
            "strongbox_request_duration_seconds_bucket{vault=\"default\",operation=\"secrets::get\",status=\"2xx\",le=\"0.0005\"} 1\n"
        ));
        assert!(t.contains(
            "strongbox_request_duration_seconds_bucket{vault=\"default\",operation=\"secrets::get\",status=\"2xx\",le=\"0.005\"} 2\n"
        ));
        assert!(t.contains("le=\"+Inf\"} 1\nstrongbox_request_duration_seconds_sum{vault=\"odd\\\"vault\""), "{t}");
        assert!(t.contains("strongbox_storage_errors_total{call=\"commit\"} 1\n"));
        assert!(t.contains("# TYPE strongbox_sealed gauge\nstrongbox_sealed 0\n"));
    }
}
