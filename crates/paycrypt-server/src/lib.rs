//! paycrypt server: the AWS Payment Cryptography control plane (AWS JSON 1.0) and data plane
//! (REST-JSON) on one port, SigV4-authenticated, with an audit log, Prometheus metrics at
//! `GET /metrics` and a readiness probe at `GET /health`.
//!
//! Request pipeline ([`handle`]): classify the request (control-plane target, data-plane route,
//! or unknown) → read the body up to the limit → verify SigV4 ([`auth`]) → dispatch
//! ([`control::dispatch`] or [`data::dispatch`]) → answer (errors via [`error::ApiError`]) with
//! `x-amzn-RequestId` → metrics and one audit line.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit;
pub mod auth;
pub mod ca;
pub mod config;
pub mod control;
pub mod control_more;
pub mod data;
pub mod error;
pub mod import_export;
pub mod metrics;
pub mod policy;
pub mod state;
pub mod throttle;
pub mod tr34;
pub mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use paycrypt_keystore::{Store, StoreConfig};
use serde_json::Value;

pub use config::Config;

use crate::audit::{AuditLog, AuditRecord};
use crate::error::{ApiError, Protocol};
use crate::state::{AppState, Ctx};

/// Unix time in fractional seconds.
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A fresh request id in the UUID version 4 layout. Ids must be unique, not secret: the first
/// 60 free bits are drawn from the OS once per process, the last 62 are a bijective mix of a
/// process-wide counter (so ids never repeat within a process, and two processes collide only
/// if their 60 random bits do), with no system call per request.
fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<[u64; 2]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let [hi, offset] = *SEED.get_or_init(|| {
        let mut b = [0u8; 16];
        if paycrypt_core::random::fill(&mut b).is_err() {
            // Request ids are not secrets; fall back to the clock and the process id.
            b.copy_from_slice(
                &(u128::from(now_f64().to_bits()) << 32 ^ u128::from(std::process::id()))
                    .to_be_bytes(),
            );
        }
        let (h, l) = b.split_at(8);
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi.copy_from_slice(h);
        lo.copy_from_slice(l);
        [u64::from_be_bytes(hi), u64::from_be_bytes(lo)]
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_add(offset);
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = mix62(n) | (0b10 << 62); // RFC 4122 variant
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    s
}

/// A bijection on 62-bit integers (xor-shifts and odd multiplications modulo 2^62), so that
/// consecutive counters give unrelated-looking ids.
fn mix62(x: u64) -> u64 {
    const M: u64 = (1 << 62) - 1;
    let mut x = x & M;
    x ^= x >> 31;
    x = x.wrapping_mul(0x7fb5_d329_728e_a185) & M;
    x ^= x >> 27;
    x = x.wrapping_mul(0x81da_def4_bc2d_d44d) & M;
    x ^= x >> 33;
    x
}

enum Target<'a> {
    Control(&'static str),
    UnknownControl,
    Data(&'static data::Route, Option<&'a str>),
    Unknown,
}

/// Build the router (every request goes through [`handle`]).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// The one request handler.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let started_wall = now_f64();
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");

    if parts.method == Method::GET && path == "/health" {
        return with_rid(
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                r#"{"status":"ok"}"#,
            )
                .into_response(),
            rid,
        );
    }
    if parts.method == Method::GET && path == "/metrics" {
        return with_rid(
            (
                StatusCode::OK,
                [("content-type", "text/plain; version=0.0.4")],
                state.metrics.render(),
            )
                .into_response(),
            rid,
        );
    }

    let target_header = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let target = match (&parts.method, path, target_header) {
        (&Method::POST, "/", Some(t)) => match control::operation_name(t) {
            Some(op) => Target::Control(op),
            None => Target::UnknownControl,
        },
        (&Method::POST, p, None) => match data::route(p) {
            Some((r, label)) => Target::Data(r, label),
            None => Target::Unknown,
        },
        _ => Target::Unknown,
    };
    let (protocol, operation) = match &target {
        Target::Control(op) => (Protocol::Json10, *op),
        Target::UnknownControl => (Protocol::Json10, "Unknown"),
        Target::Data(r, _) => (Protocol::RestJson, r.operation),
        Target::Unknown => (Protocol::RestJson, "Unknown"),
    };

    let audit_on = state.audit.enabled();
    let mut ctx = Ctx {
        skip_arns: !audit_on,
        ..Ctx::default()
    };
    let mut caller: Option<String> = None;
    let result: Result<Value, ApiError> = async {
        let bytes = axum::body::to_bytes(body, state.max_body_bytes)
            .await
            .map_err(|_| ApiError::PayloadTooLarge {
                message: format!("The request body exceeds {} bytes", state.max_body_bytes),
            })?;
        let signed = auth::SignedRequest {
            method: parts.method.as_str(),
            raw_path: path,
            raw_query: query,
            headers: &parts.headers,
            body: &bytes,
        };
        let creds = auth::verify(
            &signed,
            &state.credentials,
            auth::SERVICE,
            started_wall as i64,
        )?;
        if audit_on {
            caller = Some(creds.access_key_id.clone());
        }
        let plane = match &target {
            Target::Control(_) => Some(throttle::Plane::Control),
            Target::Data(..) => Some(throttle::Plane::Data),
            _ => None,
        };
        if let Some(plane) = plane {
            if !state.throttle.allow(&creds.access_key_id, plane) {
                return Err(ApiError::Throttling {
                    message:
                        "Rate exceeded: too many requests for this access key; retry with backoff"
                            .into(),
                });
            }
        }
        let value: Value = if bytes.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::validation("The request body is not valid JSON"))?
        };
        match target {
            Target::Control(op) => control::dispatch(&state, op, &value, &mut ctx).await,
            Target::Data(r, label) => data::dispatch(&state, r, label, &value, &mut ctx),
            Target::UnknownControl => Err(ApiError::UnknownOperation {
                message:
                    "The X-Amz-Target header names no operation of PaymentCryptographyControlPlane"
                        .into(),
            }),
            Target::Unknown => Err(ApiError::UnknownOperation {
                message: format!("No operation matches {} {}", parts.method, path),
            }),
        }
    }
    .await;

    let (resp, code) = match result {
        Ok(v) => {
            // Serialising the `Value` cannot fail (string keys only).
            let body = serde_json::to_vec(&v).unwrap_or_default();
            let mut r = Response::new(Body::from(body));
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static(protocol.content_type()),
            );
            (r, None)
        }
        Err(e) => {
            tracing::debug!(request_id = %rid, operation, code = e.code(), message = %e.message(), "request failed");
            (e.to_response(protocol), Some(e.code()))
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    state.metrics.record(operation, elapsed, code);
    if audit_on {
        state.audit.write(&AuditRecord {
            time: audit::rfc3339(started_wall),
            request_id: rid.clone(),
            access_key_id: caller,
            operation: operation.to_owned(),
            key_arns: ctx.key_arns,
            outcome: code.unwrap_or("success").to_owned(),
            status: resp.status().as_u16(),
            latency_ms: elapsed * 1000.0,
        });
    }
    with_rid(resp, rid)
}

fn with_rid(mut r: Response<Body>, rid: String) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_maybe_shared(axum::body::Bytes::from(rid)) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

/// Initialise `tracing` (env filter `RUST_LOG`, default `info`; `PAYCRYPT_LOG_FORMAT=json` for
/// JSON lines). Does nothing if a subscriber is already installed.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PAYCRYPT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Build the runtime and serve until SIGTERM/SIGINT.
///
/// # Errors
/// A message when the configuration, credentials, store, audit log, TLS files or listening
/// socket cannot be set up.
pub fn serve(config: Config) -> Result<(), String> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(run(config, shutdown_signal()))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Serve `config` until `shutdown` resolves, then drain connections (up to 30 s) and flush the
/// audit log.
///
/// # Errors
/// As [`serve`].
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (creds, source) = config::resolve_credentials(&config)?;
    match &source {
        config::CredentialSource::Generated(p) => {
            println!(
                "paycrypt: generated API credentials in {} (profile [default])",
                p.display()
            );
        }
        config::CredentialSource::File(p) => {
            println!(
                "paycrypt: API credentials from {} (profile [default])",
                p.display()
            );
        }
        config::CredentialSource::Environment => {
            println!(
                "paycrypt: API credentials from {} / {}",
                config::ENV_ACCESS_KEY_ID,
                config::ENV_SECRET_ACCESS_KEY
            );
        }
        config::CredentialSource::Config => {}
    }
    let store_cfg = StoreConfig {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url.clone(),
        master_key: config.master_key.clone(),
        region: config.region.clone(),
        account: config.account.clone(),
    };
    let store = tokio::task::spawn_blocking(move || Store::open(store_cfg))
        .await
        .map_err(|e| format!("key store task failed: {e}"))?
        .map_err(|e| format!("cannot open the key store: {e}"))?;
    for w in store.warnings() {
        tracing::warn!("{w}");
        eprintln!("paycrypt: {w}");
    }
    let audit =
        AuditLog::open(&config.audit_log).map_err(|e| format!("cannot open the audit log: {e}"))?;
    let state = Arc::new(AppState {
        store,
        credentials: vec![creds],
        metrics: metrics::Metrics::default(),
        audit,
        max_body_bytes: config.max_body_bytes,
        throttle: throttle::Throttle::new(config.rate_limit_cp, config.rate_limit_dp),
        pin: data::pin::PinPolicy::new(
            config.decimalization_tables.as_deref(),
            config.pin_try_limit,
            config.pin_key_failure_limit,
        )?,
    });

    // Complete due key deletions every minute.
    let sweeper_store = state.store.clone();
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let s = sweeper_store.clone();
            match tokio::task::spawn_blocking(move || s.sweep_deletions(now_f64())).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(keys = n, "completed scheduled key deletions"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "sweep of scheduled key deletions failed")
                }
                _ => {}
            }
        }
    });

    let handle: axum_server::Handle<std::net::SocketAddr> = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining connections");
        h.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let h = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = h.listening().await {
            tracing::info!(%addr, "listening");
            println!("paycrypt: listening on {scheme}://{addr}");
        }
    });

    let app = router(Arc::clone(&state));
    let result = match &config.tls {
        None => {
            axum_server::bind(config.listen)
                .acceptor(axum_server::accept::NoDelayAcceptor)
                .handle(handle)
                .serve(app.into_make_service())
                .await
        }
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("cannot load the TLS certificate/key: {e}"))?;
            axum_server::bind(config.listen)
                .acceptor(
                    axum_server::tls_rustls::RustlsAcceptor::new(tls)
                        .acceptor(axum_server::accept::NoDelayAcceptor),
                )
                .handle(handle)
                .serve(app.into_make_service())
                .await
        }
    };
    sweeper.abort();
    state.audit.close();
    result.map_err(|e| format!("server error on {}: {e}", config.listen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_uuid_v4() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50_000 {
            let id = request_id();
            let b = id.as_bytes();
            assert_eq!(b.len(), 36, "{id}");
            for (i, c) in b.iter().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    assert_eq!(*c, b'-', "{id}");
                } else {
                    assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{id}");
                }
            }
            assert_eq!(b[14], b'4', "version 4: {id}");
            assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "variant: {id}");
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn mix62_is_a_bijection_on_a_window() {
        // Distinct inputs give distinct outputs (exhaustive over a window and its top end).
        let mut seen = std::collections::HashSet::new();
        for x in (0..20_000u64).chain((1u64 << 62) - 20_000..1u64 << 62) {
            let y = mix62(x);
            assert!(y < 1 << 62);
            assert!(seen.insert(y));
        }
        // Inputs above 62 bits wrap (the counter is taken modulo 2^62).
        assert_eq!(mix62(5), mix62(5 | 1 << 62));
    }
}
