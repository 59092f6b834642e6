//! Crashes found by fuzzing (docs/SECURITY.md "Fuzzing (measured)"), one test each. The raw
//! crashing inputs are also kept under `fuzz/regressions/<target>/` and replayed by
//! `fuzz_replay.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::{HeaderMap, HeaderValue};
use paycrypt_server::auth::{self, Credentials, SignedRequest};

/// sigv4: an IMF-fixdate `Date` header with a 17-digit year overflowed `days_from_civil`
/// (`attempt to multiply with overflow` in builds with overflow checks, e.g. the debug server)
/// before the signature was looked at. It must be refused as a malformed date.
#[test]
fn http_date_with_a_huge_year_is_refused_not_a_panic() {
    for y in ["99999999999999999", "9223372036854775807", "10000"] {
        let date = format!("Sun, 06 Nov {y} 08:49:37 GMT");
        assert_eq!(auth::parse_http_date(&date), None, "{date}");
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        h.insert("date", HeaderValue::from_str(&date).unwrap());
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/payment-cryptography/aws4_request, \
                 SignedHeaders=host;date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            ),
        );
        let req = SignedRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers: &h,
            body: b"",
        };
        let err =
            auth::verify(&req, &[Credentials::new("AKID", "s")], auth::SERVICE, 0).unwrap_err();
        assert_eq!(err.code(), "IncompleteSignatureException", "{date}");
    }
    // Four-digit years still parse.
    assert_eq!(
        auth::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
}
