//! The one shared application state.

use paycrypt_keystore::Store;

use crate::audit::AuditLog;
use crate::auth::Credentials;
use crate::metrics::Metrics;

/// Everything a request handler may use.
#[derive(Debug)]
pub struct AppState {
    /// The key store (control plane: blocking calls in `spawn_blocking`; data plane:
    /// `key_for_use` only).
    pub store: Store,
    /// Accepted SigV4 credentials.
    pub credentials: Vec<Credentials>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The audit log.
    pub audit: AuditLog,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Per-caller rate limits (`Default`: unlimited).
    pub throttle: crate::throttle::Throttle,
}

/// Per-request facts the handlers record for the audit log.
#[derive(Debug, Default)]
pub struct Ctx {
    /// Key ARNs the request resolved (in order).
    pub key_arns: Vec<String>,
}

impl Ctx {
    /// Record a key ARN (once).
    pub fn key(&mut self, arn: &str) {
        if !self.key_arns.iter().any(|a| a == arn) {
            self.key_arns.push(arn.to_owned());
        }
    }
}
