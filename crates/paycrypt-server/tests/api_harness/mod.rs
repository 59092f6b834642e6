//! The shared in-process API client of the key-use matrix and PIN-rule tests: the axum router
//! over an in-memory store, every request signed with SigV4 (`auth::sign_request`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use paycrypt_keystore::Store;
use paycrypt_server::audit::{AuditDestination, AuditLog};
use paycrypt_server::auth::{self, ClientRequest, Credentials};
use paycrypt_server::data::pin::PinPolicy;
use paycrypt_server::metrics::Metrics;
use paycrypt_server::state::AppState;
use serde_json::Value;
use tower::ServiceExt;

pub struct Api {
    pub app: axum::Router,
    pub st: Arc<AppState>,
    creds: Credentials,
}

impl Api {
    pub fn new() -> Self {
        Self::with_pin(PinPolicy::new(None, 0, 0).unwrap())
    }

    /// With this PIN policy (decimalization tables, PIN-try limits).
    pub fn with_pin(pin: PinPolicy) -> Self {
        let creds = Credentials::new("AKIDMATRIX", "matrix-secret");
        let st = Arc::new(AppState {
            store: Store::open_in_memory("us-east-1", "111122223333").unwrap(),
            credentials: vec![creds.clone()],
            metrics: Metrics::default(),
            audit: AuditLog::open(&AuditDestination::Off).unwrap(),
            max_body_bytes: 64 * 1024,
            throttle: Default::default(),
            pin,
        });
        Self {
            app: paycrypt_server::router(Arc::clone(&st)),
            st,
            creds,
        }
    }

    /// POST a SigV4-signed request; returns (status, error code or "", body).
    pub async fn post(
        &self,
        path: &str,
        target: Option<&str>,
        body: &Value,
    ) -> (u16, String, Value) {
        let body = body.to_string();
        let date = auth::format_amz_date(paycrypt_server::now_f64() as i64);
        let mut headers: Vec<(&str, &str)> = vec![("host", "localhost"), ("x-amz-date", &date)];
        if let Some(t) = target {
            headers.push(("x-amz-target", t));
        }
        let authz = auth::sign_request(
            &ClientRequest {
                method: "POST",
                raw_path: path,
                raw_query: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            &self.creds,
            "us-east-1",
            "payment-cryptography",
            &date,
        )
        .unwrap();
        let mut b = Request::builder().method("POST").uri(path);
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        let req = b
            .header("authorization", authz)
            .body(Body::from(body))
            .unwrap();
        let r = self.app.clone().oneshot(req).await.unwrap();
        let status = r.status().as_u16();
        let code = r
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (
            status,
            code,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn cp(&self, op: &str, body: Value) -> Value {
        let (s, code, v) = self
            .post(
                "/",
                Some(&format!("PaymentCryptographyControlPlane.{op}")),
                &body,
            )
            .await;
        assert_eq!(s, 200, "{op} {body}: {code} {v}");
        v
    }

    /// CreateKey (enabled, not exportable); returns the ARN and the clear material (read from
    /// the store, for the test to build data under the key).
    pub async fn create_key(&self, usage: &str, alg: &str, modes: Value) -> (String, Vec<u8>) {
        let v = self
            .cp(
                "CreateKey",
                serde_json::json!({"KeyAttributes": {"KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": alg, "KeyModesOfUse": modes}, "Exportable": false}),
            )
            .await;
        let arn = v["Key"]["KeyArn"].as_str().unwrap().to_owned();
        let material = self.st.store.key_for_use(&arn).unwrap().material().to_vec();
        (arn, material)
    }

    /// GET /metrics.
    pub async fn metrics(&self) -> String {
        let r = self
            .app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        String::from_utf8(
            axum::body::to_bytes(r.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }
}
