//! The request pipeline in-process: router + in-memory store, requests signed here with the
//! verifier's own SigV4 primitives (the interop suite signs with botocore).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request};
use paycrypt_keystore::Store;
use paycrypt_server::audit::{AuditDestination, AuditLog};
use paycrypt_server::auth::{self, Credentials, SignedRequest};
use paycrypt_server::metrics::Metrics;
use paycrypt_server::state::AppState;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

fn app() -> axum::Router {
    let state = Arc::new(AppState {
        store: Store::open_in_memory("us-east-1", "111122223333").unwrap(),
        credentials: vec![Credentials::new("AKIDTEST", "secret")],
        metrics: Metrics::default(),
        audit: AuditLog::open(&AuditDestination::Off).unwrap(),
        max_body_bytes: 64 * 1024,
        throttle: Default::default(),
        pin: paycrypt_server::data::pin::PinPolicy::new(None, 0, 0).unwrap(),
    });
    paycrypt_server::router(state)
}

fn now() -> i64 {
    paycrypt_server::now_f64() as i64
}

/// Sign like an AWS SDK: host, x-amz-date (and x-amz-target) signed, payload hashed.
fn signed(path: &str, target: Option<&str>, body: &Value, secret: &str) -> Request<Body> {
    let body = body.to_string();
    let date = auth::format_amz_date(now());
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost"));
    h.insert("x-amz-date", HeaderValue::from_str(&date).unwrap());
    let mut names = vec!["host", "x-amz-date"];
    if let Some(t) = target {
        h.insert("x-amz-target", HeaderValue::from_str(t).unwrap());
        names.push("x-amz-target");
    }
    let req = SignedRequest {
        method: "POST",
        raw_path: path,
        raw_query: "",
        headers: &h,
        body: body.as_bytes(),
    };
    let creq = auth::canonical_request(
        &req,
        &names,
        &auth::hex_lower(&Sha256::digest(body.as_bytes())),
    );
    let scope = format!("{}/eu-west-1/payment-cryptography/aws4_request", &date[..8]);
    let sts = auth::string_to_sign(&date, &scope, &creq);
    let sig = auth::signature(
        secret,
        &date[..8],
        "eu-west-1",
        "payment-cryptography",
        &sts,
    )
    .unwrap();
    let mut b = Request::builder().method("POST").uri(path);
    for (k, v) in &h {
        b = b.header(k, v);
    }
    b.header(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/{scope}, SignedHeaders={}, Signature={sig}",
            names.join(";")
        ),
    )
    .body(Body::from(body))
    .unwrap()
}

async fn call(app: &axum::Router, req: Request<Body>) -> (u16, HeaderMap, Value) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn control_and_data_plane_round_trip() {
    let app = app();
    let (s, h, v) = call(
        &app,
        signed(
            "/",
            Some("PaymentCryptographyControlPlane.CreateKey"),
            &json!({"KeyAttributes": {"KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
                "KeyAlgorithm": "TDES_3KEY", "KeyModesOfUse": {"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}},
                "Exportable": false}),
            "secret",
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["content-type"], "application/x-amz-json-1.0");
    assert!(h.contains_key("x-amzn-requestid"));
    let arn = v["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let (s, _, _) = call(
        &app,
        signed(
            "/",
            Some("PaymentCryptographyControlPlane.CreateAlias"),
            &json!({"AliasName": "alias/p/1", "KeyArn": arn}),
            "secret",
        ),
    )
    .await;
    assert_eq!(s, 200);
    // The alias goes into the path percent-encoded, as botocore sends it.
    let (s, h, v) = call(
        &app,
        signed("/keys/alias%2Fp%2F1/encrypt", None, &json!({"PlainText": "0000000000000000", "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}), "secret"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(v["KeyArn"], arn.as_str());
    // ANSI X9.24 KCV = E_K(0^8)[..3].
    assert_eq!(
        &v["CipherText"].as_str().unwrap()[..6],
        v["KeyCheckValue"].as_str().unwrap()
    );

    let (s, h, v) = call(
        &app,
        signed(
            "/",
            Some("PaymentCryptographyControlPlane.ListKeys"),
            &json!({}),
            "wrong",
        ),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(h["x-amzn-errortype"], "InvalidSignatureException");
    assert_eq!(v["__type"], "InvalidSignatureException");

    let (s, _, v) = call(
        &app,
        signed(
            "/",
            Some("PaymentCryptographyControlPlane.GetCertificateSigningRequest"),
            &json!({}),
            "secret",
        ),
    )
    .await;
    // An empty body misses the required members.
    assert_eq!(s, 400);
    assert_eq!(v["__type"], "ValidationException");
    assert!(v["message"].as_str().unwrap().contains("KeyIdentifier"));

    let r = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains(
        "paycrypt_errors_total{operation=\"ListKeys\",code=\"InvalidSignatureException\"} 1"
    ));
}
