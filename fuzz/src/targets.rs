//! The fuzz target bodies: plain functions of `&[u8]` that panic on a bug.
//!
//! The libFuzzer binaries in `fuzz_targets/` call these; so does the corpus-replay test
//! `crates/paycrypt-server/tests/fuzz_replay.rs` (which includes this file with `#[path]`, so
//! `cargo test --workspace` runs every committed corpus input, every crash regression and a few
//! thousand mutated inputs per target on the stable toolchain, without libFuzzer).
//!
//! Every body asserts properties, not only "no panic": round trips where an API has an inverse,
//! and for the HTTP target the AWS error shape and "never a 5xx".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request};
use paycrypt_core::card::{luhn_check_digit, luhn_valid, mask_pan, Pan, Track2};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::emv::{self, AcPadding, MajorKeyDerivation, SessionKeyDerivation};
use paycrypt_core::keyblock::tr31::{self, Kbpk};
use paycrypt_core::pinblock::{self, Format4PanField, PinBlockFormat};
use paycrypt_keystore::Store;
use paycrypt_server::audit::{AuditDestination, AuditLog};
use paycrypt_server::auth::{self, ClientRequest, Credentials, SignedRequest};
use paycrypt_server::metrics::Metrics;
use paycrypt_server::state::AppState;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Fixed TDES (2-key) key used as KBPK / PIN key / issuer master key.
pub const TDES_KEY: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];
/// Fixed AES-128 key used as KBPK / ISO 4 PIN key.
pub const AES_KEY: [u8; 16] = [
    0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C,
];

// ---------------------------------------------------------------------------------------------
// TR-31
// ---------------------------------------------------------------------------------------------

/// TR-31: byte 0 selects the mode.
/// - even: the rest is a key block; `parse_header`, then `unwrap` under a TDES and an AES KBPK.
///   A block that unwraps must re-wrap (same header, key and padding) to a block that unwraps to
///   the same key.
/// - odd: bytes 1–2 pick a key length and a padding length, the rest is a key block whose header
///   is parsed; the key is wrapped with that header and padding and must unwrap to the same key,
///   padding and header fields (exercises the authenticated-payload path that random blocks
///   never reach because of the MAC).
pub fn tr31(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let kbpks = [Kbpk::tdes(&TDES_KEY).unwrap(), Kbpk::aes(&AES_KEY).unwrap()];
    if mode % 2 == 0 {
        let s = String::from_utf8_lossy(rest);
        let parsed = tr31::parse_header(&s);
        for k in kbpks {
            if let Ok(u) = tr31::unwrap_with_padding(k, &s) {
                assert!(
                    parsed.is_ok(),
                    "unwrap accepted a block parse_header refuses"
                );
                let again =
                    tr31::wrap_with_padding(k, &u.header, u.key.expose(), u.padding.expose())
                        .expect("an unwrapped block re-wraps");
                let u2 = tr31::unwrap_with_padding(k, &again).expect("re-wrapped block unwraps");
                assert_eq!(u2.key.expose(), u.key.expose());
            }
        }
        return;
    }
    let (Some(&kl), Some(&pl)) = (rest.first(), rest.get(1)) else {
        return;
    };
    let s = String::from_utf8_lossy(rest.get(2..).unwrap_or(&[]));
    let Ok(header) = tr31::parse_header(&s) else {
        return;
    };
    let key_len = match kl % 5 {
        0 => 8,
        1 => 16,
        2 => 24,
        3 => 32,
        _ => usize::from(kl >> 3),
    };
    let key: Vec<u8> = (0..key_len)
        .map(|i| (i as u8).wrapping_mul(37) ^ kl)
        .collect();
    let padding: Vec<u8> = (0..usize::from(pl % 48)).map(|i| i as u8 ^ pl).collect();
    for k in kbpks {
        let Ok(block) = tr31::wrap_with_padding(k, &header, &key, &padding) else {
            continue;
        };
        assert!(
            tr31::parse_header(&block).is_ok(),
            "wrap produced an unparsable header"
        );
        let u = tr31::unwrap_with_padding(k, &block).expect("a wrapped block unwraps");
        assert_eq!(u.key.expose(), &key[..], "TR-31 key round trip");
        assert_eq!(u.padding.expose(), &padding[..], "TR-31 padding round trip");
        assert_eq!(u.header.version, header.version);
        assert_eq!(u.header.key_usage, header.key_usage);
        assert_eq!(u.header.algorithm, header.algorithm);
        assert_eq!(u.header.mode_of_use, header.mode_of_use);
        assert_eq!(u.header.key_version, header.key_version);
        assert_eq!(u.header.exportability, header.exportability);
    }
}

// ---------------------------------------------------------------------------------------------
// PIN blocks
// ---------------------------------------------------------------------------------------------

const PANS: [&str; 6] = [
    "4111111111111111",
    "5413330089600010",
    "123456789012",
    "4761739001010010123",
    "0000000000000",
    "99999999999999999999",
];

fn pin_format(sel: u8, pad: u8) -> PinBlockFormat {
    match sel % 7 {
        0 => PinBlockFormat::Iso0,
        1 => PinBlockFormat::Iso1,
        2 => PinBlockFormat::Iso2,
        3 => PinBlockFormat::Iso3,
        4 => PinBlockFormat::Iso4 {
            pan_field: Format4PanField::Iso9564_2017,
        },
        5 => PinBlockFormat::Iso4 {
            pan_field: Format4PanField::Legacy12,
        },
        // Any pad byte, including the invalid ones (only A–F are legal).
        _ => PinBlockFormat::Ibm3624 { pad },
    }
}

/// PIN block decode: byte 0 = input format, byte 1 = IBM 3624 pad, byte 2 = PAN choice
/// (or none), byte 3 = output format; the rest is the block. Runs `decode_clear`,
/// `decrypt_pin_block` (TDES and AES keys) and `translate` for every format; a block that
/// decrypts must re-encrypt and decrypt to the same PIN, and translation must agree with
/// decryption (it may only succeed when decryption does and the PCI matrix allows it).
pub fn pinblock(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let (fsel, pad, psel, osel) = (data[0], data[1], data[2], data[3]);
    let block = &data[4..];
    let pan = PANS
        .get(usize::from(psel) % (PANS.len() + 1))
        .and_then(|p| Pan::new(p).ok());
    let format = pin_format(fsel, pad);
    let out_format = pin_format(osel, pad.rotate_left(4));
    let tdes = BlockCipher::tdes(&TDES_KEY).unwrap();
    let aes = BlockCipher::aes(&AES_KEY).unwrap();

    if let Ok(pin) = pinblock::decode_clear(format, block, pan.as_ref()) {
        let re = pinblock::encode_clear(format, &pin, pan.as_ref());
        if let Ok(re) = re {
            let back = pinblock::decode_clear(format, re.expose(), pan.as_ref())
                .expect("an encoded clear block decodes");
            assert_eq!(back.digits(), pin.digits(), "clear PIN block round trip");
        }
    }
    for cipher in [&tdes, &aes] {
        let decrypted = pinblock::decrypt_pin_block(cipher, format, block, pan.as_ref());
        if let Ok(pin) = &decrypted {
            assert!(
                (4..=12).contains(&pin.len()),
                "decoded PIN length {}",
                pin.len()
            );
            let enc = pinblock::encrypt_pin_block(cipher, format, pin, pan.as_ref())
                .expect("a decrypted PIN re-encrypts with the same key/format/PAN");
            let back = pinblock::decrypt_pin_block(cipher, format, &enc, pan.as_ref())
                .expect("a re-encrypted PIN block decrypts");
            assert_eq!(back.digits(), pin.digits(), "PIN block round trip");
        }
        for out_cipher in [&tdes, &aes] {
            let t = pinblock::translate(
                cipher,
                format,
                block,
                pan.as_ref(),
                out_cipher,
                out_format,
                pan.as_ref(),
            );
            if let Ok(out) = t {
                assert!(
                    decrypted.is_ok(),
                    "translate accepted a block decrypt refuses"
                );
                assert!(pinblock::translation_allowed(format, out_format).is_ok());
                let p = pinblock::decrypt_pin_block(out_cipher, out_format, &out, pan.as_ref())
                    .expect("a translated block decrypts");
                if let Ok(pin) = &decrypted {
                    assert_eq!(p.digits(), pin.digits(), "translation keeps the PIN");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Track 2
// ---------------------------------------------------------------------------------------------

/// Track 2 (and PAN) parsing: the bytes as text through `Track2::parse`, `Pan::new`, the Luhn
/// helpers and `mask_pan`. A parsed track must have a valid PAN, a 4-digit expiry with month
/// 01–12 and a 3-digit service code, and its `Debug` must not contain the full PAN.
pub fn track2(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let _ = luhn_valid(&s);
    let _ = luhn_check_digit(&s);
    let masked = mask_pan(&s);
    assert_eq!(
        masked.chars().count(),
        s.chars().count(),
        "mask_pan keeps the length"
    );
    if let Ok(p) = Pan::new(&s) {
        let _ = p.rightmost12_excluding_check();
        assert!(!format!("{p:?}").contains(p.as_str()) || p.as_str().len() <= 10);
    }
    if let Ok(t) = Track2::parse(&s) {
        assert_eq!(t.expiry.len(), 4);
        assert!(t.expiry.bytes().all(|b| b.is_ascii_digit()));
        let month: u8 = t.expiry[2..4].parse().unwrap();
        assert!((1..=12).contains(&month));
        assert_eq!(t.service_code.len(), 3);
        assert!(Pan::new(t.pan.as_str()).is_ok());
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains(t.pan.as_str()) || t.pan.as_str().len() <= 10,
            "Track2 Debug shows the full PAN"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// ARQC transaction data
// ---------------------------------------------------------------------------------------------

/// EMV ARQC: the transaction-data path of `Generate/VerifyAuthRequestCryptogram` in core.
/// Byte 0: major derivation (A/B) + session derivation + padding; bytes 1–2 ATC, 3–6 UN,
/// byte 7 = length of the PAN/PSN text that follows (split at `|`), the rest = transaction data.
/// A generated ARQC must verify; with one flipped data bit it must not; ARPC method 1 and 2
/// must not panic for any proprietary data length.
pub fn arqc(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let sel = data[0];
    let atc = [data[1], data[2]];
    let un = [data[3], data[4], data[5], data[6]];
    let tl = usize::from(data[7]).min(data.len() - 8);
    let text = String::from_utf8_lossy(&data[8..8 + tl]);
    let txn = &data[8 + tl..];
    let (pan, psn) = text.split_once('|').unwrap_or((&text, "00"));
    let major = if sel & 1 == 0 {
        MajorKeyDerivation::OptionA
    } else {
        MajorKeyDerivation::OptionB
    };
    let session = match (sel >> 1) % 6 {
        0 => SessionKeyDerivation::EmvCommon { atc },
        1 => SessionKeyDerivation::Mastercard {
            atc,
            unpredictable_number: un,
        },
        2 => SessionKeyDerivation::Emv2000 { atc },
        3 => SessionKeyDerivation::Amex,
        4 => SessionKeyDerivation::Visa,
        _ => SessionKeyDerivation::UnionPay { atc },
    };
    let padding = match (sel >> 4) % 3 {
        0 => AcPadding::None,
        1 => AcPadding::Method1,
        _ => AcPadding::Method2,
    };
    let mk = BlockCipher::tdes(&TDES_KEY).unwrap();
    let Ok(sk) = emv::derive_ac_key(&mk, major, pan, psn, &session) else {
        return;
    };
    assert_eq!(sk.len(), 16, "AC session key length");
    let Ok(ac) = emv::generate_arqc(sk.expose(), txn, padding) else {
        return;
    };
    emv::verify_arqc(sk.expose(), txn, padding, &ac).expect("a generated ARQC verifies");
    if let Some(first) = txn.first() {
        let mut t = txn.to_vec();
        t[0] = first ^ 1;
        assert!(
            emv::verify_arqc(sk.expose(), &t, padding, &ac).is_err(),
            "an ARQC verified over different data"
        );
    }
    let _ = emv::arpc_method1(sk.expose(), &ac, &atc);
    let pad = &txn[..txn.len().min(usize::from(sel >> 6) * 4 + 1)];
    let _ = emv::arpc_method2(sk.expose(), &ac, &un, pad);
}

// ---------------------------------------------------------------------------------------------
// SigV4
// ---------------------------------------------------------------------------------------------

/// The fixed server clock of the SigV4 target (2026-11-21T00:00:00Z).
pub const SIGV4_NOW: i64 = 1_795_219_200;
const ACCESS_KEY_ID: &str = "AKIDFUZZ";
const SECRET: &str = "fuzz-secret-access-key";

fn fields(data: &[u8], n: usize) -> Vec<String> {
    let s = String::from_utf8_lossy(data);
    let mut v: Vec<String> = s.split('\n').take(n).map(str::to_owned).collect();
    v.resize(n, String::new());
    v
}

/// SigV4: byte 0 = mode, the rest = `\n`-separated fields.
/// - even: method, path, query, Authorization, X-Amz-Date, Date, x-amz-content-sha256, body →
///   `auth::verify` (plus `parse_authorization`, `parse_amz_date`, `parse_http_date`). Must not
///   panic; any refusal must be one of the four 403 authentication errors.
/// - odd: method, path, query, an extra header value, body → `auth::sign_request` then
///   `auth::verify` must accept what the signer produced (the two canonicalisations agree).
pub fn sigv4(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let creds = [Credentials::new(ACCESS_KEY_ID, SECRET)];
    if mode % 2 == 0 {
        let f = fields(rest, 8);
        let _ = auth::parse_authorization(&f[3]);
        let _ = auth::parse_amz_date(&f[4]);
        let _ = auth::parse_http_date(&f[5]);
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        for (name, v) in [
            ("authorization", &f[3]),
            ("x-amz-date", &f[4]),
            ("date", &f[5]),
            ("x-amz-content-sha256", &f[6]),
        ] {
            if v.is_empty() {
                continue;
            }
            if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
                h.insert(name, v);
            }
        }
        let req = SignedRequest {
            method: &f[0],
            raw_path: &f[1],
            raw_query: &f[2],
            headers: &h,
            body: f[7].as_bytes(),
        };
        if let Err(e) = auth::verify(&req, &creds, auth::SERVICE, SIGV4_NOW) {
            let code = e.code();
            assert!(
                matches!(
                    code,
                    "MissingAuthenticationTokenException"
                        | "IncompleteSignatureException"
                        | "UnrecognizedClientException"
                        | "InvalidSignatureException"
                ),
                "unexpected SigV4 error {code}"
            );
            assert_eq!(e.status().as_u16(), 403, "{code} is not a 403");
        }
        return;
    }
    let f = fields(rest, 5);
    let amz_date = auth::format_amz_date(SIGV4_NOW);
    let hv = f[3].as_str();
    let mut pairs: Vec<(&str, &str)> = vec![("host", "localhost"), ("x-amz-date", &amz_date)];
    if !hv.is_empty() {
        pairs.push(("x-amz-target", hv));
    }
    let creq = ClientRequest {
        method: &f[0],
        raw_path: &f[1],
        raw_query: &f[2],
        headers: &pairs,
        body: f[4].as_bytes(),
    };
    let Ok(authz) = auth::sign_request(&creq, &creds[0], "eu-west-1", auth::SERVICE, &amz_date)
    else {
        return;
    };
    let mut h = HeaderMap::new();
    for (k, v) in &pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h.insert("authorization", HeaderValue::from_str(&authz).unwrap());
    let req = SignedRequest {
        method: &f[0],
        raw_path: &f[1],
        raw_query: &f[2],
        headers: &h,
        body: f[4].as_bytes(),
    };
    if let Err(e) = auth::verify(&req, &creds, auth::SERVICE, SIGV4_NOW) {
        panic!("verify refused what sign_request signed: {}", e.code());
    }
}

// ---------------------------------------------------------------------------------------------
// Every operation's JSON request through the router
// ---------------------------------------------------------------------------------------------

/// Control-plane operations (the `X-Amz-Target` suffixes), in selector order.
pub const CONTROL_OPS: &[&str] = paycrypt_server::control::SUPPORTED;

/// Number of operations the HTTP target can select: every control-plane operation, then every
/// data-plane route (`data::ROUTES`), then a raw mode (path taken from the input).
pub fn http_op_count() -> usize {
    CONTROL_OPS.len() + paycrypt_server::data::ROUTES.len() + 1
}

/// The aliases the HTTP target's store is pre-populated with (usable in seed bodies).
pub const ALIASES: &[(&str, &str)] = &[
    (
        "alias/fuzz/pek",
        r#"{"KeyUsage":"TR31_P0_PIN_ENCRYPTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}"#,
    ),
    (
        "alias/fuzz/pek-aes",
        r#"{"KeyUsage":"TR31_P0_PIN_ENCRYPTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"AES_128","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}"#,
    ),
    (
        "alias/fuzz/dek",
        r#"{"KeyUsage":"TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_3KEY","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}"#,
    ),
    (
        "alias/fuzz/arqc",
        r#"{"KeyUsage":"TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"DeriveKey":true}}"#,
    ),
    (
        "alias/fuzz/mac",
        r#"{"KeyUsage":"TR31_M3_ISO_9797_3_MAC_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"Generate":true,"Verify":true}}"#,
    ),
    (
        "alias/fuzz/hmac",
        r#"{"KeyUsage":"TR31_M7_HMAC_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"HMAC_SHA256","KeyModesOfUse":{"Generate":true,"Verify":true}}"#,
    ),
    (
        "alias/fuzz/cvk",
        r#"{"KeyUsage":"TR31_C0_CARD_VERIFICATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"Generate":true,"Verify":true}}"#,
    ),
    (
        "alias/fuzz/pvk",
        r#"{"KeyUsage":"TR31_V2_VISA_PIN_VERIFICATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"Generate":true,"Verify":true}}"#,
    ),
    (
        "alias/fuzz/bdk",
        r#"{"KeyUsage":"TR31_B0_BASE_DERIVATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_2KEY","KeyModesOfUse":{"DeriveKey":true}}"#,
    ),
    (
        "alias/fuzz/kek",
        r#"{"KeyUsage":"TR31_K0_KEY_ENCRYPTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"TDES_3KEY","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}"#,
    ),
    (
        "alias/fuzz/kbpk-aes",
        r#"{"KeyUsage":"TR31_K1_KEY_BLOCK_PROTECTION_KEY","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"AES_256","KeyModesOfUse":{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}}"#,
    ),
];

/// An in-process server: router over an in-memory store, and a current-thread runtime.
#[derive(Debug)]
pub struct Harness {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    creds: Credentials,
    /// ARN of the key behind `alias/fuzz/dek` (substituted for [`PLACEHOLDER_ARN`]).
    arn: String,
}

/// A key ARN that the HTTP target replaces with the ARN of a pre-populated key before sending
/// (key ids are random, so seeds cannot name a real one otherwise).
pub const PLACEHOLDER_ARN: &str =
    "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop";

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

impl Harness {
    /// A fresh in-memory store with one key per entry of [`ALIASES`] (created and aliased through
    /// the API, so a broken setup fails loudly).
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let creds = Credentials::new(ACCESS_KEY_ID, SECRET);
        let state = Arc::new(AppState {
            store: Store::open_in_memory("us-east-1", "111122223333").unwrap(),
            credentials: vec![creds.clone()],
            metrics: Metrics::default(),
            audit: AuditLog::open(&AuditDestination::Off).unwrap(),
            max_body_bytes: 64 * 1024,
            throttle: Default::default(),
            pin: paycrypt_server::data::pin::PinPolicy::new(None, 0, 0).unwrap(),
        });
        let app = paycrypt_server::router(state);
        let mut h = Self {
            rt,
            app,
            creds,
            arn: String::new(),
        };
        for (alias, attrs) in ALIASES {
            let attrs: Value = serde_json::from_str(attrs).unwrap();
            let body = json!({"KeyAttributes": attrs, "Exportable": true}).to_string();
            let (s, v) = h.call_control("CreateKey", body.as_bytes());
            assert_eq!(s, 200, "setup CreateKey {alias}: {v}");
            let arn = v["Key"]["KeyArn"].as_str().unwrap().to_owned();
            if *alias == "alias/fuzz/dek" {
                h.arn.clone_from(&arn);
            }
            let body = json!({"AliasName": alias, "KeyArn": arn}).to_string();
            let (s, v) = h.call_control("CreateAlias", body.as_bytes());
            assert_eq!(s, 200, "setup CreateAlias {alias}: {v}");
        }
        h
    }

    fn call_control(&self, op: &str, body: &[u8]) -> (u16, Value) {
        let target = format!("{}{op}", paycrypt_server::control::TARGET_PREFIX);
        let (s, _, b) = self.call("/", Some(&target), body);
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    /// Send a correctly signed `POST path` (with `X-Amz-Target` if given) and return the status,
    /// the content type and the body.
    pub fn call(&self, path: &str, target: Option<&str>, body: &[u8]) -> (u16, String, Vec<u8>) {
        let date = auth::format_amz_date(paycrypt_server::now_f64() as i64);
        let mut pairs: Vec<(&str, &str)> = vec![("host", "localhost"), ("x-amz-date", &date)];
        if let Some(t) = target {
            pairs.push(("x-amz-target", t));
        }
        let creq = ClientRequest {
            method: "POST",
            raw_path: path,
            raw_query: "",
            headers: &pairs,
            body,
        };
        let authz = auth::sign_request(&creq, &self.creds, "us-east-1", auth::SERVICE, &date)
            .expect("signing a request");
        let mut b = Request::builder().method("POST").uri(path);
        for (k, v) in &pairs {
            b = b.header(*k, *v);
        }
        let req = b
            .header("authorization", authz)
            .body(Body::from(body.to_vec()))
            .expect("a request with a valid path");
        self.rt.block_on(async {
            let r = self.app.clone().oneshot(req).await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 22).await.unwrap();
            (status, ct, bytes.to_vec())
        })
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `path` can go into a request URI as is (the HTTP target only sends paths a client
/// could send; anything else would be refused by the HTTP layer before the server sees it).
fn sendable_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .parse::<axum::http::Uri>()
            .is_ok_and(|u| u.query().is_none())
}

/// Every operation's JSON request decoding: byte 0 selects the operation (every control-plane
/// target, every data-plane route, or a raw path up to the first `\n`), the rest is the body
/// ([`PLACEHOLDER_ARN`] in it becomes a real key ARN). Data-plane routes with a key label in the
/// path take the label up to the first `\n` of the rest. The request is signed correctly and
/// sent through the router.
///
/// Asserts: no panic; never a 5xx; every non-2xx answer is JSON with a string `__type` and a
/// string `message`; every 2xx answer is JSON. Returns the HTTP status (`None` when the input
/// selects nothing sendable).
pub fn http(h: &Harness, data: &[u8]) -> Option<u16> {
    let (&sel, rest) = data.split_first()?;
    let routes = paycrypt_server::data::ROUTES;
    let n = http_op_count();
    let sel = usize::from(sel) % n;
    let split = |b: &[u8]| -> (String, Vec<u8>) {
        match b.iter().position(|&c| c == b'\n') {
            Some(p) => (
                String::from_utf8_lossy(&b[..p]).into_owned(),
                b[p + 1..].to_vec(),
            ),
            None => (String::new(), b.to_vec()),
        }
    };
    let (path, target, body, op) = if sel < CONTROL_OPS.len() {
        let op = CONTROL_OPS[sel];
        (
            "/".to_owned(),
            Some(format!("{}{op}", paycrypt_server::control::TARGET_PREFIX)),
            rest.to_vec(),
            op,
        )
    } else if sel < CONTROL_OPS.len() + routes.len() {
        let r = &routes[sel - CONTROL_OPS.len()];
        match r.suffix {
            None => (r.prefix.to_owned(), None, rest.to_vec(), r.operation),
            Some(suffix) => {
                let (label, body) = split(rest);
                let label = auth::uri_encode(label.as_bytes(), true);
                let label = if label.is_empty() {
                    "x".to_owned()
                } else {
                    label
                };
                (
                    format!("{}{label}{suffix}", r.prefix),
                    None,
                    body,
                    r.operation,
                )
            }
        }
    } else {
        let (p, body) = split(rest);
        (p, None, body, "raw")
    };
    if !sendable_path(&path) {
        return None;
    }
    let body = replace_all(&body, PLACEHOLDER_ARN.as_bytes(), h.arn.as_bytes());
    let (status, ct, bytes) = h.call(&path, target.as_deref(), &body);
    assert!(
        status < 500,
        "{op}: HTTP {status} for input {:?}: {}",
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&bytes)
    );
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{op}: HTTP {status} body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert!(ct.contains("json"), "{op}: content-type {ct}");
    if !(200..300).contains(&status) {
        assert!(
            v.get("__type").is_some_and(Value::is_string),
            "{op}: HTTP {status} without __type: {v}"
        );
        assert!(
            v.get("message").is_some_and(Value::is_string),
            "{op}: HTTP {status} without message: {v}"
        );
    }
    Some(status)
}
