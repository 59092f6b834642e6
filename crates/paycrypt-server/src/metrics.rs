//! Prometheus metrics, hand-written text exposition (format 0.0.4) at `GET /metrics`:
//! `paycrypt_requests_total{operation}`, `paycrypt_errors_total{operation,code}` and the
//! `paycrypt_request_duration_seconds{operation}` histogram.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Histogram bucket upper bounds, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct OpStats {
    requests: u64,
    errors: BTreeMap<&'static str, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
}

/// The metrics registry. The lock is held only to update a few counters (never across an await).
#[derive(Debug, Default)]
pub struct Metrics {
    ops: Mutex<BTreeMap<String, OpStats>>,
    /// `VerifyPinData` answers `INVALID_PIN` (lock-free counter).
    pin_failures: std::sync::atomic::AtomicU64,
    /// `VerifyPinData` refused by a PIN-try limit.
    pin_refusals: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Record one request of `operation` that took `seconds`, failed with `error_code` if any.
    pub fn record(&self, operation: &str, seconds: f64, error_code: Option<&'static str>) {
        let mut ops = match self.ops.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let s = match ops.get_mut(operation) {
            Some(s) => s,
            None => ops.entry(operation.to_owned()).or_default(),
        };
        s.requests += 1;
        s.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
        if let Some(code) = error_code {
            *s.errors.entry(code).or_insert(0) += 1;
        }
    }

    /// Count one failed PIN verification (`INVALID_PIN`).
    pub fn pin_verification_failure(&self) {
        self.pin_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Count one `VerifyPinData` refused by a PIN-try limit.
    pub fn pin_try_limit_refusal(&self) {
        self.pin_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let ops = match self.ops.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP paycrypt_requests_total API requests by operation.\n");
        out.push_str("# TYPE paycrypt_requests_total counter\n");
        for (op, s) in &ops {
            let _ = writeln!(
                out,
                "paycrypt_requests_total{{operation=\"{op}\"}} {}",
                s.requests
            );
        }
        out.push_str(
            "# HELP paycrypt_errors_total API error responses by operation and AWS error code.\n",
        );
        out.push_str("# TYPE paycrypt_errors_total counter\n");
        for (op, s) in &ops {
            for (code, n) in &s.errors {
                let _ = writeln!(
                    out,
                    "paycrypt_errors_total{{operation=\"{op}\",code=\"{code}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP paycrypt_request_duration_seconds API request latency by operation.\n",
        );
        out.push_str("# TYPE paycrypt_request_duration_seconds histogram\n");
        for (op, s) in &ops {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "paycrypt_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "paycrypt_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}",
                s.requests
            );
            let _ = writeln!(
                out,
                "paycrypt_request_duration_seconds_sum{{operation=\"{op}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "paycrypt_request_duration_seconds_count{{operation=\"{op}\"}} {}",
                s.requests
            );
        }
        let _ = write!(
            out,
            "# HELP paycrypt_pin_verification_failures_total VerifyPinData answers INVALID_PIN.\n\
             # TYPE paycrypt_pin_verification_failures_total counter\n\
             paycrypt_pin_verification_failures_total {}\n\
             # HELP paycrypt_pin_try_limit_refusals_total VerifyPinData refused by a PIN-try limit.\n\
             # TYPE paycrypt_pin_try_limit_refusals_total counter\n\
             paycrypt_pin_try_limit_refusals_total {}\n",
            self.pin_failures.load(std::sync::atomic::Ordering::Relaxed),
            self.pin_refusals.load(std::sync::atomic::Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.record("GetKey", 0.002, None);
        m.record("GetKey", 0.2, Some("ResourceNotFoundException"));
        let t = m.render();
        assert!(t.contains("paycrypt_requests_total{operation=\"GetKey\"} 2"));
        assert!(t.contains(
            "paycrypt_errors_total{operation=\"GetKey\",code=\"ResourceNotFoundException\"} 1"
        ));
        assert!(t.contains(
            "paycrypt_request_duration_seconds_bucket{operation=\"GetKey\",le=\"0.0025\"} 1"
        ));
        assert!(t.contains(
            "paycrypt_request_duration_seconds_bucket{operation=\"GetKey\",le=\"+Inf\"} 2"
        ));
    }
}
