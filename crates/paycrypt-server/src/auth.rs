//! AWS Signature Version 4 verification (header form, `AWS4-HMAC-SHA256`).
//!
//! The canonical request is rebuilt from what is on the wire, the way AWS SDKs sign for every
//! service except S3: the **raw** (still percent-encoded) path with dot segments removed is
//! URI-encoded once more (so botocore's `/keys/alias%2Fx/encrypt` is signed as
//! `/keys/alias%252Fx/encrypt`); query parameters are decoded, re-encoded with the strict SigV4
//! rules and sorted; the signed headers are lower-cased, their values trimmed and inner runs of
//! spaces collapsed, repeated headers joined with `,`; the payload hash is SHA-256 of the body as
//! received (an `x-amz-content-sha256` header must equal it). The signing key is
//! `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`, computed with
//! `paycrypt_core::mac::hmac`; the signature comparison is constant-time.
//!
//! Errors use the codes AWS JSON services answer with (all HTTP 403):
//! `MissingAuthenticationTokenException` (no `Authorization` header),
//! `IncompleteSignatureException` (malformed header, missing date),
//! `UnrecognizedClientException` (unknown access key id),
//! `InvalidSignatureException` (wrong signature, wrong service scope, date outside ±15 minutes,
//! body hash mismatch).

use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::hmac;
use axum::http::HeaderMap;
use paycrypt_core::cipher::ct_eq;
use paycrypt_core::mac::{hmac, HashAlgorithm};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// The SigV4 signing name of both planes.
pub const SERVICE: &str = "payment-cryptography";
/// Allowed clock skew between the request date and the server clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// One access key pair the server accepts. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (also written to the audit log).
    pub access_key_id: String,
    secret_access_key: Zeroizing<String>,
    /// The last SigV4 signing key derived from this secret (it depends only on the scope's
    /// date, region and service, so it changes once a day). Shared by clones.
    signing_cache: Arc<Mutex<Option<CachedSigningKey>>>,
}

/// A derived SigV4 signing key and the scope it was derived for.
struct CachedSigningKey {
    date: String,
    region: String,
    service: String,
    key: hmac::Key,
}

impl Credentials {
    /// A key pair.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            signing_cache: Arc::new(Mutex::new(None)),
        }
    }

    /// The SigV4 signing key of scope (`date`, `region`, `service`): from the one-entry cache,
    /// else derived (and cached).
    fn signing_key(&self, date: &str, region: &str, service: &str) -> Result<hmac::Key, ApiError> {
        {
            let g = self
                .signing_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = g.as_ref() {
                if c.date == date && c.region == region && c.service == service {
                    return Ok(c.key.clone());
                }
            }
        }
        let k = derive_signing_key(self.secret(), date, region, service)?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &k);
        let mut g = self
            .signing_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = Some(CachedSigningKey {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            key: key.clone(),
        });
        Ok(key)
    }

    /// The secret (for writing the credentials file only).
    pub fn secret(&self) -> &str {
        &self.secret_access_key
    }
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path exactly as received (percent-encoded).
    pub raw_path: &'a str,
    /// The query string as received, without `?` (empty if none).
    pub raw_query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body as received.
    pub body: &'a [u8],
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// Access key id from the credential scope.
    pub access_key_id: &'a str,
    /// `YYYYMMDD` of the scope.
    pub date: &'a str,
    /// Region of the scope (any region is accepted).
    pub region: &'a str,
    /// Service of the scope.
    pub service: &'a str,
    /// Signed header names, as listed (lower-case, `;`-separated).
    pub signed_headers: &'a str,
    /// Hex signature.
    pub signature: &'a str,
}

fn incomplete(msg: impl Into<String>) -> ApiError {
    ApiError::IncompleteSignature {
        message: msg.into(),
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidSignature {
        message: msg.into(),
    }
}

/// Parse `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
///
/// # Errors
/// `IncompleteSignatureException` when a part is missing or malformed.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            incomplete(format!(
                "Authorization header must use the {ALGORITHM} algorithm"
            ))
        })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| incomplete("Authorization header parameters must be key=value"))?;
        match k.trim() {
            "Credential" => cred = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => sig = Some(v.trim()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    if cred.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signed.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if sig.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    let (Some(cred), Some(signed_headers), Some(signature)) = (cred, signed, sig) else {
        return Err(incomplete(missing.join(" ")));
    };
    let parts: Vec<&str> = cred.split('/').collect();
    let [access_key_id, date, region, service, terminal] = parts[..] else {
        return Err(incomplete(
            "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request",
        ));
    };
    if terminal != "aws4_request" {
        return Err(invalid(
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    if access_key_id.is_empty() || region.is_empty() || date.len() != 8 {
        return Err(incomplete(
            "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request",
        ));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hexadecimal characters"));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}

/// Verify the SigV4 signature of `req` against the known `credentials` for signing name
/// `service`, at server time `now` (Unix seconds). Returns the caller's access key id.
///
/// # Errors
/// The 403 authentication errors described in the module documentation.
pub fn verify<'c>(
    req: &SignedRequest<'_>,
    credentials: &'c [Credentials],
    service: &str,
    now: i64,
) -> Result<&'c Credentials, ApiError> {
    let Some(auth_value) = req.headers.get("authorization") else {
        return Err(ApiError::MissingAuthenticationToken {
            message: "Missing Authentication Token".into(),
        });
    };
    let auth_value = auth_value
        .to_str()
        .map_err(|_| incomplete("Authorization header is not valid ASCII"))?;
    let auth = parse_authorization(auth_value)?;

    // The request time: X-Amz-Date, else Date.
    let (amz_date, epoch) = request_time(req.headers)?;
    if auth.service != service {
        return Err(invalid(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            auth.date,
            &amz_date[..8]
        )));
    }
    if epoch < now - MAX_SKEW_SECS {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW_SECS),
            format_amz_date(now)
        )));
    }
    if epoch > now + MAX_SKEW_SECS {
        return Err(invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECS),
            format_amz_date(now)
        )));
    }

    let Some(creds) = credentials
        .iter()
        .find(|c| ct_eq(c.access_key_id.as_bytes(), auth.access_key_id.as_bytes()))
    else {
        return Err(ApiError::UnrecognizedClient {
            message: "The security token included in the request is invalid.".into(),
        });
    };

    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(invalid("'Host' must be a signed header"));
    }
    if signed
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(
            "SignedHeaders must be lower-case and ';'-separated",
        ));
    }

    let payload_hash = hex_array(&Sha256::digest(req.body).into());
    if let Some(h) = req.headers.get("x-amz-content-sha256") {
        if h.as_bytes() != payload_hash.as_slice() {
            return Err(invalid(
                "The x-amz-content-sha256 header does not match the SHA-256 of the request body",
            ));
        }
    }

    // Task 1 and 2 into one buffer: the canonical request, then (after it is hashed) the
    // string to sign.
    let mut buf = String::with_capacity(512);
    write_canonical_request(&mut buf, req, &signed, &payload_hash);
    let creq_hash = hex_array(&Sha256::digest(buf.as_bytes()).into());
    buf.clear();
    for part in [
        ALGORITHM,
        "\n",
        &amz_date,
        "\n",
        auth.date,
        "/",
        auth.region,
        "/",
        auth.service,
        "/aws4_request\n",
    ] {
        buf.push_str(part);
    }
    buf.extend(creq_hash.iter().map(|&b| char::from(b)));
    let key = creds.signing_key(auth.date, auth.region, auth.service)?;
    let expected = hex_array(
        hmac::sign(&key, buf.as_bytes())
            .as_ref()
            .try_into()
            .map_err(|_| ApiError::internal())?,
    );
    // `parse_authorization` checked: 64 hex digits.
    let mut given = [0u8; 64];
    for (g, b) in given.iter_mut().zip(auth.signature.bytes()) {
        *g = b.to_ascii_lowercase();
    }
    if auth.signature.len() != given.len() || !ct_eq(&expected, &given) {
        return Err(invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(creds)
}

/// Lower-case hex of a SHA-256 output, on the stack.
fn hex_array(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex_lower_into(bytes, &mut out);
    out
}

/// Lower-case hex of `bytes` into `out` (two characters per byte; stops at the shorter).
fn hex_lower_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (o, &b) in out.chunks_exact_mut(2).zip(bytes) {
        o[0] = HEX[usize::from(b >> 4)];
        o[1] = HEX[usize::from(b & 0xF)];
    }
}

/// The request's signing time as `YYYYMMDDTHHMMSSZ` and Unix seconds, from `X-Amz-Date`
/// (ISO 8601 basic) or else `Date` (RFC 7231 IMF-fixdate).
fn request_time(headers: &HeaderMap) -> Result<(String, i64), ApiError> {
    if let Some(v) = headers.get("x-amz-date") {
        let s = v
            .to_str()
            .map_err(|_| incomplete("X-Amz-Date is not valid ASCII"))?;
        let epoch = parse_amz_date(s).ok_or_else(|| {
            incomplete("X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'")
        })?;
        return Ok((s.to_owned(), epoch));
    }
    if let Some(v) = headers.get("date") {
        let s = v
            .to_str()
            .map_err(|_| incomplete("Date is not valid ASCII"))?;
        let epoch =
            parse_http_date(s).ok_or_else(|| incomplete("Date header must be an RFC 7231 date"))?;
        return Ok((format_amz_date(epoch), epoch));
    }
    Err(incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    ))
}

/// The canonical request (SigV4 task 1).
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256);
    write_canonical_request(&mut out, req, signed_headers, payload_hash.as_bytes());
    out
}

/// [`canonical_request`] appended to `out` (the hash as ASCII hex bytes).
fn write_canonical_request(
    out: &mut String,
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    payload_hash: &[u8],
) {
    out.extend(req.method.chars().map(|c| c.to_ascii_uppercase()));
    out.push('\n');
    push_canonical_uri(out, req.raw_path);
    out.push('\n');
    if !req.raw_query.is_empty() {
        out.push_str(&canonical_query(req.raw_query));
    }
    out.push('\n');
    let mut names: Vec<&str> = signed_headers.to_vec();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        out.push_str(name);
        out.push(':');
        for (i, v) in req.headers.get_all(*name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_trim_all(out, &String::from_utf8_lossy(v.as_bytes()));
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    out.extend(payload_hash.iter().map(|&b| char::from(b)));
}

/// The string to sign (SigV4 task 2).
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_lower(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The hex signature of `string_to_sign` (SigV4 tasks 3 and 4).
///
/// # Errors
/// `InternalServerException` if HMAC fails (it cannot for SHA-256).
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> Result<String, ApiError> {
    let k_signing = derive_signing_key(secret, date, region, service)?;
    hmac_sha256(&k_signing, string_to_sign).map(|m| hex_lower(&m))
}

fn hmac_sha256(k: &[u8], d: &str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    hmac(HashAlgorithm::Sha256, k, d.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| ApiError::internal())
}

/// The SigV4 signing key `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
/// "aws4_request")`.
fn derive_signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let k_secret = Zeroizing::new(format!("AWS4{secret}"));
    let k_date = hmac_sha256(k_secret.as_bytes(), date)?;
    let k_region = hmac_sha256(&k_date, region)?;
    let k_service = hmac_sha256(&k_region, service)?;
    hmac_sha256(&k_service, "aws4_request")
}

/// Canonical URI for non-S3 services: dot segments removed, then every byte except the
/// unreserved characters and `/` percent-encoded (so `%2F` becomes `%252F`).
pub fn canonical_uri(raw_path: &str) -> String {
    let mut out = String::with_capacity(raw_path.len() + 8);
    push_canonical_uri(&mut out, raw_path);
    out
}

/// [`canonical_uri`] appended to `out`; a path without dot segments is encoded in place.
fn push_canonical_uri(out: &mut String, raw_path: &str) {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        push_uri_encode(out, remove_dot_segments(path).as_bytes(), false);
    } else {
        if !path.starts_with('/') {
            out.push('/');
        }
        push_uri_encode(out, path.as_bytes(), false);
    }
}

/// RFC 3986 §5.2.4 dot-segment removal, keeping a trailing slash (as botocore does).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut joined = out.join("/");
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    if (path.ends_with("/.") || path.ends_with("/..")) && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// Canonical query string: parameters split on `&`, names and values percent-decoded then
/// re-encoded with the strict SigV4 rules, sorted by name then value.
pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decode bytes (`%XX`; malformed escapes are kept literally).
pub fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// SigV4 URI encoding: everything except `A-Za-z0-9-._~` (and `/` unless `encode_slash`)
/// becomes `%XX` with upper-case hex.
pub fn uri_encode(bytes: &[u8], encode_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    push_uri_encode(&mut out, bytes, encode_slash);
    out
}

fn push_uri_encode(out: &mut String, bytes: &[u8], encode_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (b == b'/' && !encode_slash)
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// Trim and collapse sequential spaces (SigV4 "Trimall"), appended to `out`.
fn push_trim_all(out: &mut String, v: &str) {
    for (i, w) in v.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(w);
    }
}

/// Lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_lower_into(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn epoch_of(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    // Years past 9999 (an IMF-fixdate year has any number of digits) would overflow the day
    // arithmetic below (a panic with overflow checks on, as in debug builds).
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Parse `YYYYMMDDTHHMMSSZ` to Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() || &s[8..9] != "T" || &s[15..16] != "Z" {
        return None;
    }
    epoch_of(
        digits(&s[0..4])?,
        digits(&s[4..6])?,
        digits(&s[6..8])?,
        digits(&s[9..11])?,
        digits(&s[11..13])?,
        digits(&s[13..15])?,
    )
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, d, mon, y, hms, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mo = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    let t: Vec<&str> = hms.split(':').collect();
    let [h, mi, sec] = t[..] else {
        return None;
    };
    epoch_of(
        digits(y)?,
        mo,
        digits(d)?,
        digits(h)?,
        digits(mi)?,
        digits(sec)?,
    )
}

/// Format Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(epoch: i64) -> String {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    let r = epoch.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

/// A request to sign on the client side (see [`sign_request`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path as it will be sent (percent-encoded).
    pub raw_path: &'a str,
    /// The query string as it will be sent, without `?` (empty if none).
    pub raw_query: &'a str,
    /// The headers to sign (name, value); every one of them is signed. Must include `host`
    /// and `x-amz-date` (= the `amz_date` given to [`sign_request`]).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body as it will be sent.
    pub body: &'a [u8],
}

/// Sign a request with SigV4 (header form, `AWS4-HMAC-SHA256`) the way AWS SDKs do for
/// non-S3 services, using the same canonicalisation as [`verify`]; returns the value of the
/// `Authorization` header. `amz_date` is the request time as `YYYYMMDDTHHMMSSZ`.
///
/// # Errors
/// `IncompleteSignatureException` for a header name or value that is not valid HTTP or an
/// `amz_date` that is not `YYYYMMDDTHHMMSSZ`; `InternalServerException` if HMAC fails.
pub fn sign_request(
    req: &ClientRequest<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Result<String, ApiError> {
    if parse_amz_date(amz_date).is_none() {
        return Err(incomplete(
            "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'",
        ));
    }
    let mut headers = HeaderMap::new();
    let mut names: Vec<String> = Vec::with_capacity(req.headers.len());
    for (name, value) in req.headers {
        let lower = name.to_ascii_lowercase();
        let hn = axum::http::HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| incomplete("invalid header name"))?;
        let hv = axum::http::HeaderValue::from_str(value)
            .map_err(|_| incomplete("invalid header value"))?;
        headers.append(hn, hv);
        names.push(lower);
    }
    names.sort_unstable();
    names.dedup();
    let signed: Vec<&str> = names.iter().map(String::as_str).collect();
    let sreq = SignedRequest {
        method: req.method,
        raw_path: req.raw_path,
        raw_query: req.raw_query,
        headers: &headers,
        body: req.body,
    };
    let payload_hash = hex_lower(&Sha256::digest(req.body));
    let creq = canonical_request(&sreq, &signed, &payload_hash);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = string_to_sign(amz_date, &scope, &creq);
    let sig = signature(credentials.secret(), date, region, service, &sts)?;
    Ok(format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
        credentials.access_key_id,
        signed.join(";")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let e = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(e, 1_440_938_160);
        assert_eq!(format_amz_date(e), "20150830T123600Z");
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }

    #[test]
    fn uri_rules() {
        assert_eq!(
            canonical_uri("/keys/alias%2Fx/encrypt"),
            "/keys/alias%252Fx/encrypt"
        );
        assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(
            canonical_query("b=2&a=z&a=y&u=x%2Fy%3D"),
            "a=y&a=z&b=2&u=x%2Fy%3D"
        );
    }

    #[test]
    fn authorization_parsing() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        assert_eq!(a.access_key_id, "AKID");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b")
                .unwrap_err()
                .code(),
            "IncompleteSignatureException"
        );
        assert_eq!(
            parse_authorization("Basic abc").unwrap_err().code(),
            "IncompleteSignatureException"
        );
    }

    /// The cached signing key is only reused for its own (date, region, service): requests
    /// alternating between scopes verify, and a wrong signature fails on a cache hit.
    #[test]
    fn signing_key_cache_follows_the_scope() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let accepted = [creds.clone()];
        let sign = |date: &str, region: &str| -> (HeaderMap, i64) {
            let host = ("host", "localhost");
            let d = ("x-amz-date", date);
            let auth = sign_request(
                &ClientRequest {
                    method: "POST",
                    raw_path: "/pindata/translate",
                    raw_query: "",
                    headers: &[host, d],
                    body: b"{}",
                },
                &creds,
                region,
                SERVICE,
                date,
            )
            .unwrap();
            let mut h = HeaderMap::new();
            h.insert("host", "localhost".parse().unwrap());
            h.insert("x-amz-date", date.parse().unwrap());
            h.insert("authorization", auth.parse().unwrap());
            (h, parse_amz_date(date).unwrap())
        };
        let check = |h: &HeaderMap, now: i64| {
            let req = SignedRequest {
                method: "POST",
                raw_path: "/pindata/translate",
                raw_query: "",
                headers: h,
                body: b"{}",
            };
            verify(&req, &accepted, SERVICE, now).map(|c| c.access_key_id.clone())
        };
        let cases = [
            sign("20261121T235959Z", "us-east-1"),
            sign("20261122T000001Z", "us-east-1"),
            sign("20261122T000001Z", "eu-west-1"),
        ];
        for round in 0..3 {
            for (h, now) in cases.iter().chain(cases.iter().rev()) {
                assert_eq!(check(h, *now).unwrap(), "AKIDEXAMPLE", "round {round}");
                let mut bad = h.clone();
                let a = bad["authorization"].to_str().unwrap().to_owned();
                let flipped = if a.ends_with('0') { "1" } else { "0" };
                let a = format!("{}{flipped}", &a[..a.len() - 1]);
                bad.insert("authorization", a.parse().unwrap());
                assert_eq!(
                    check(&bad, *now).unwrap_err().code(),
                    "InvalidSignatureException"
                );
            }
        }
        // The same access key id with another secret (its own, cold cache) is refused.
        let other = [Credentials::new("AKIDEXAMPLE", "another-secret")];
        let (h, now) = &cases[0];
        let req = SignedRequest {
            method: "POST",
            raw_path: "/pindata/translate",
            raw_query: "",
            headers: h,
            body: b"{}",
        };
        assert!(verify(&req, &other, SERVICE, *now).is_err());
        assert!(verify(&req, &other, SERVICE, *now).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_authorization(&s);
            let _ = parse_amz_date(&s);
            let _ = parse_http_date(&s);
            let _ = canonical_uri(&s);
            let _ = canonical_query(&s);
        }
    }
}
