//! Per-caller request rate limits (AWS-API.md §3.1): one token bucket per access key id and
//! plane. AWS throttles each account at 5 control-plane and 500/20 data-plane requests per
//! second; a self-hosted paycrypt must not throttle normal use, so both limits are **off by
//! default** (`--rate-limit-cp`, `--rate-limit-dp`; 0 = unlimited). A bucket holds up to one
//! second of requests (at least 1) and refills continuously; a request finding it empty is
//! answered `ThrottlingException` (HTTP 429 on both planes; botocore reads the code from the
//! JSON 1.0 `__type` and retries it in its standard mode). The map is behind a `std` mutex held
//! only for the arithmetic (never across an `.await`); it holds one entry per authenticated
//! caller and plane, so its size is bounded by the configured credentials.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Which rate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plane {
    /// The control plane (JSON 1.0).
    Control,
    /// The data plane (REST-JSON).
    Data,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The rate limiter. `Default` = unlimited on both planes.
#[derive(Debug, Default)]
pub struct Throttle {
    control_per_sec: f64,
    data_per_sec: f64,
    buckets: Mutex<HashMap<(String, Plane), Bucket>>,
}

impl Throttle {
    /// Limits in requests per second per caller; 0 (or a non-finite or negative value) means
    /// unlimited.
    pub fn new(control_per_sec: f64, data_per_sec: f64) -> Self {
        let sane = |r: f64| if r.is_finite() && r > 0.0 { r } else { 0.0 };
        Self {
            control_per_sec: sane(control_per_sec),
            data_per_sec: sane(data_per_sec),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `caller` on `plane` at time `now`; `false` = throttle the request.
    pub fn allow_at(&self, caller: &str, plane: Plane, now: Instant) -> bool {
        let rate = match plane {
            Plane::Control => self.control_per_sec,
            Plane::Data => self.data_per_sec,
        };
        if rate == 0.0 {
            return true;
        }
        let capacity = rate.max(1.0);
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = map.entry((caller.to_owned(), plane)).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// [`Throttle::allow_at`] now.
    pub fn allow(&self, caller: &str, plane: Plane) -> bool {
        self.allow_at(caller, plane, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unlimited_by_default() {
        let t = Throttle::default();
        for _ in 0..10_000 {
            assert!(t.allow("a", Plane::Control));
            assert!(t.allow("a", Plane::Data));
        }
        let t = Throttle::new(-1.0, f64::NAN);
        assert!((0..1000).all(|_| t.allow("a", Plane::Control)));
    }

    #[test]
    fn bucket_refills() {
        let t = Throttle::new(2.0, 0.0);
        let t0 = Instant::now();
        assert!(t.allow_at("a", Plane::Control, t0));
        assert!(t.allow_at("a", Plane::Control, t0));
        assert!(!t.allow_at("a", Plane::Control, t0));
        // Another caller and the data plane have their own buckets.
        assert!(t.allow_at("b", Plane::Control, t0));
        assert!(t.allow_at("a", Plane::Data, t0));
        // Half a second refills one token at 2/s; never more than the capacity.
        assert!(t.allow_at("a", Plane::Control, t0 + Duration::from_millis(500)));
        assert!(!t.allow_at("a", Plane::Control, t0 + Duration::from_millis(500)));
        let later = t0 + Duration::from_secs(60);
        assert!(t.allow_at("a", Plane::Control, later));
        assert!(t.allow_at("a", Plane::Control, later));
        assert!(!t.allow_at("a", Plane::Control, later));
        // A fractional rate still allows one request at once.
        let t = Throttle::new(0.5, 0.0);
        assert!(t.allow_at("a", Plane::Control, t0));
        assert!(!t.allow_at("a", Plane::Control, t0));
        assert!(t.allow_at("a", Plane::Control, t0 + Duration::from_secs(2)));
    }
}
