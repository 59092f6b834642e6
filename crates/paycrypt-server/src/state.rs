//! The one shared application state.

use std::sync::Arc;

use paycrypt_keystore::Store;

use crate::audit::AuditLog;
use crate::auth::Credentials;
use crate::error::ApiError;
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
    /// Registered decimalization tables and PIN-try counters (`data::pin::PinPolicy`).
    pub pin: crate::data::pin::PinPolicy,
}

/// Per-request facts the handlers record for the audit log.
#[derive(Debug, Default)]
pub struct Ctx {
    /// Key ARNs the request resolved (in order).
    pub key_arns: Vec<String>,
    /// Do not record [`Ctx::key_arns`] (nothing will read them: the audit log is off).
    pub skip_arns: bool,
}

impl Ctx {
    /// Record a key ARN (once).
    pub fn key(&mut self, arn: &str) {
        if !self.skip_arns && !self.key_arns.iter().any(|a| a == arn) {
            self.key_arns.push(arn.to_owned());
        }
    }
}

/// Run a blocking store call (or other blocking work such as RSA) off the async
/// workers; the closure's error (`StoreError` or `ApiError`) maps to `ApiError`.
pub(crate) async fn blocking<T, E, F>(state: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
    F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
{
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store task failed");
            ApiError::internal()
        })?
        .map_err(Into::into)
}
