//! The local certificate authority and the import/export parameters (AWS-API.md §3.7).
//!
//! * **Local CA.** One RSA-4096 key pair per store (strong enough to certify every wrapping key
//!   size AWS offers: "a RSA_2048 CA can only be used to protect a RSA_2048 leaf"). It lives in the
//!   key store as an ordinary key (`TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE`,
//!   `ASYMMETRIC_KEY_PAIR`, `RSA_4096`, Sign, not exportable), so it is sealed under the master key
//!   like every other key and shared by every node of a PostgreSQL store. It is found through the
//!   alias [`CA_ALIAS`] and created on first use; deleting that key (or re-pointing the alias)
//!   makes the next import/export call create a new CA. Its self-signed certificate is
//!   deterministic (serial from the public key, validity from the key's creation time, RSA PKCS#1
//!   v1.5 SHA-512 as APC uses), so every node and every call returns the same CA certificate.
//! * **Certificates** are X.509 v3, built with `x509-cert` (RustCrypto, DER only: the one small
//!   crate that both encodes and parses certificates without a second crypto backend) and signed
//!   with `paycrypt_core::asym::rsa_sign`. On the wire they are PEM, base64-encoded again.
//! * **Import/export tokens** (`import-token-<32 alnum>`, `export-token-<32 alnum>`) are kept in
//!   memory, valid 30 days as AWS documents. Unlike AWS (which lets one token serve many imports)
//!   a token here is **single-use**: it is consumed by the first ImportKey that presents it,
//!   whatever the outcome, so an RSA wrapping key can never serve as a decryption oracle. Tokens
//!   are per node (not shared through PostgreSQL) and do not survive a restart: behind a load
//!   balancer, call GetParametersForImport and ImportKey on the same node.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use paycrypt_core::asym::{self, RsaKeySize, RsaSignatureAlgorithm};
use paycrypt_core::secret::SecretBytes;
use paycrypt_keystore::model::{
    Key, KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyState, KeyUsage, Tag,
};
use paycrypt_keystore::{CreateKeyRequest, LoadedKey, Store, StoreError};
use x509_cert::der::asn1::{BitString, OctetString};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::pem::LineEnding;
use x509_cert::der::{Any, Decode, DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage as X509KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate};

use crate::error::ApiError;

/// The alias that names the local CA key in the store.
pub const CA_ALIAS: &str = "alias/paycrypt-local-ca";
/// How long import/export parameters stay valid (AWS: 30 days).
pub const PARAMETERS_VALIDITY: Duration = Duration::from_secs(30 * 86_400);
/// `ReuseLastGeneratedToken` returns the last token only while this much validity remains (AWS).
pub const REUSE_MIN_REMAINING: Duration = Duration::from_secs(7 * 86_400);
/// Validity of GetPublicKeyCertificate certificates (AWS: 90 days).
pub const PUBLIC_KEY_CERT_VALIDITY: Duration = Duration::from_secs(90 * 86_400);
/// The CA certificate's validity.
const CA_VALIDITY: Duration = Duration::from_secs(20 * 365 * 86_400);
/// At most this many outstanding tokens per process (memory bound).
const MAX_TOKENS: usize = 10_000;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

fn cert_error(what: &str) -> ApiError {
    ApiError::validation(format!("Certificate error: {what}"))
}

fn internal(what: &str) -> ApiError {
    tracing::error!(what, "certificate authority failure");
    ApiError::internal()
}

/// Seconds since the Unix epoch, with millisecond precision (as AWS timestamps).
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------
// Certificate encoding
// ---------------------------------------------------------------------------

/// What a certificate is for (its key usage extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertPurpose {
    /// A CA certificate (basicConstraints CA, keyCertSign + cRLSign).
    Authority,
    /// An RSA key-wrapping key (keyEncipherment).
    KeyWrapping,
    /// A signing key (digitalSignature).
    Signing,
    /// A key agreement key (keyAgreement).
    KeyAgreement,
}

/// The API form of a DER certificate: PEM, base64-encoded again.
///
/// # Errors
/// `InternalServerException` if encoding fails.
pub fn to_api(der: &[u8]) -> Result<String, ApiError> {
    let cert = Certificate::from_der(der).map_err(|_| internal("re-decoding a certificate"))?;
    let pem = cert
        .to_pem(LineEnding::LF)
        .map_err(|_| internal("PEM encoding"))?;
    Ok(<base64ct::Base64 as base64ct::Encoding>::encode_string(
        pem.as_bytes(),
    ))
}

/// Parse an API certificate (`CertificateType`): base64 of a PEM certificate (as AWS takes
/// them); base64 of a DER certificate is accepted too.
///
/// # Errors
/// `ValidationException` naming `field` when it is not a certificate.
pub fn from_api(field: &str, s: &str) -> Result<Certificate, ApiError> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = <base64ct::Base64 as base64ct::Encoding>::decode_vec(&compact).map_err(|_| {
        ApiError::validation(format!("{field} must be a base64-encoded certificate"))
    })?;
    let parsed = if raw.starts_with(b"-----BEGIN") {
        Certificate::from_pem(&raw)
    } else {
        Certificate::from_der(&raw)
    };
    parsed.map_err(|_| {
        ApiError::validation(format!(
            "{field} is not a valid X.509 certificate (PEM, base64-encoded)"
        ))
    })
}

fn ext<T: Encode>(oid: ObjectIdentifier, critical: bool, v: &T) -> Result<Extension, ApiError> {
    let der = v.to_der().map_err(|_| internal("extension encoding"))?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(der).map_err(|_| internal("extension encoding"))?,
    })
}

fn time_at(secs: u64) -> Result<Time, ApiError> {
    Time::try_from(UNIX_EPOCH + Duration::from_secs(secs)).map_err(|_| internal("certificate time"))
}

/// Build and sign a certificate for `subject_spki` (DER SubjectPublicKeyInfo) with the RSA
/// issuer key `issuer_pkcs8` (PKCS#1 v1.5 SHA-512).
#[allow(clippy::too_many_arguments)]
fn issue(
    issuer: &Name,
    issuer_pkcs8: &[u8],
    subject: &Name,
    subject_spki: &[u8],
    serial: &[u8],
    not_before: u64,
    not_after: u64,
    purpose: CertPurpose,
) -> Result<Vec<u8>, ApiError> {
    let sig_alg = AlgorithmIdentifierOwned {
        oid: OID_SHA512_RSA,
        parameters: Some(Any::null()),
    };
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_spki)
        .map_err(|_| internal("public key encoding"))?;
    let mut extensions = Vec::with_capacity(2);
    let usages = match purpose {
        CertPurpose::Authority => {
            extensions.push(ext(
                OID_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
            )?);
            KeyUsages::KeyCertSign | KeyUsages::CRLSign
        }
        CertPurpose::KeyWrapping => KeyUsages::KeyEncipherment.into(),
        CertPurpose::Signing => KeyUsages::DigitalSignature.into(),
        CertPurpose::KeyAgreement => KeyUsages::KeyAgreement.into(),
    };
    extensions.push(ext(OID_KEY_USAGE, true, &X509KeyUsage(usages))?);
    let tbs = TbsCertificate {
        version: x509_cert::Version::V3,
        serial_number: SerialNumber::new(serial).map_err(|_| internal("serial number"))?,
        signature: sig_alg.clone(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: time_at(not_before)?,
            not_after: time_at(not_after)?,
        },
        subject: subject.clone(),
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(|_| internal("TBS encoding"))?;
    let sig = asym::rsa_sign(issuer_pkcs8, RsaSignatureAlgorithm::Pkcs1Sha512, &tbs_der)
        .map_err(|_| internal("certificate signing"))?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: sig_alg,
        signature: BitString::from_bytes(&sig).map_err(|_| internal("signature encoding"))?,
    };
    cert.to_der().map_err(|_| internal("certificate encoding"))
}

fn random_serial() -> Result<[u8; 16], ApiError> {
    let mut s = [0u8; 16];
    paycrypt_core::random::fill(&mut s).map_err(|_| internal("random generator"))?;
    // Positive and of full length.
    s[0] = (s[0] & 0x7F) | 0x40;
    Ok(s)
}

fn name(s: &str) -> Result<Name, ApiError> {
    Name::from_str(s).map_err(|_| internal("name encoding"))
}

// ---------------------------------------------------------------------------
// Certificate checks
// ---------------------------------------------------------------------------

/// The algorithm of a DER SubjectPublicKeyInfo as an AWS `KeyAlgorithm` (RSA 2048/3072/4096,
/// ECC P-256/384/521).
///
/// # Errors
/// `ValidationException` for any other key.
pub fn spki_algorithm(spki_der: &[u8]) -> Result<KeyAlgorithm, ApiError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|_| cert_error("unreadable public key"))?;
    if spki.algorithm.oid == OID_RSA_ENCRYPTION {
        let k = aws_lc_rs::rsa::PublicEncryptingKey::from_der(spki_der)
            .map_err(|_| cert_error("unsupported RSA public key"))?;
        return match k.key_size_bits() {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            _ => Err(cert_error(
                "RSA public keys must be 2048, 3072 or 4096 bits",
            )),
        };
    }
    if spki.algorithm.oid == OID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == OID_P256 => Ok(KeyAlgorithm::EccNistP256),
            Some(c) if c == OID_P384 => Ok(KeyAlgorithm::EccNistP384),
            Some(c) if c == OID_P521 => Ok(KeyAlgorithm::EccNistP521),
            _ => Err(cert_error(
                "EC public keys must be on P-256, P-384 or P-521",
            )),
        };
    }
    Err(cert_error("the public key must be RSA or ECC"))
}

/// The DER SubjectPublicKeyInfo of a certificate.
///
/// # Errors
/// `InternalServerException` if it does not re-encode.
pub fn cert_spki(cert: &Certificate) -> Result<Vec<u8>, ApiError> {
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| cert_error("unreadable public key"))
}

/// Check that `cert` is within its validity period at `now` (epoch seconds).
///
/// # Errors
/// `ValidationException` for an expired or not yet valid certificate.
pub fn check_validity(cert: &Certificate, now: f64) -> Result<(), ApiError> {
    let v = &cert.tbs_certificate.validity;
    let nb = v.not_before.to_unix_duration().as_secs_f64();
    let na = v.not_after.to_unix_duration().as_secs_f64();
    if now < nb {
        return Err(cert_error("the certificate is not yet valid"));
    }
    if now > na {
        return Err(cert_error("the certificate has expired"));
    }
    Ok(())
}

/// Verify that `cert` is signed by the key `issuer_spki_der` (RSA PKCS#1 v1.5 SHA-256/384/512
/// or ECDSA SHA-256/384/512).
///
/// # Errors
/// `ValidationException` when the signature does not verify or uses another algorithm.
pub fn verify_signed_by(cert: &Certificate, issuer_spki_der: &[u8]) -> Result<(), ApiError> {
    use aws_lc_rs::signature as sig;
    let issuer_alg = spki_algorithm(issuer_spki_der)?;
    let issuer = SubjectPublicKeyInfoOwned::from_der(issuer_spki_der)
        .map_err(|_| cert_error("unreadable issuer public key"))?;
    let raw_key = issuer.subject_public_key.raw_bytes();
    let oid = cert.signature_algorithm.oid;
    if oid != cert.tbs_certificate.signature.oid {
        return Err(cert_error("inconsistent signature algorithms"));
    }
    let params: &'static dyn sig::VerificationAlgorithm = match (oid, issuer_alg) {
        (o, a) if a.is_rsa() && o == OID_SHA256_RSA => &sig::RSA_PKCS1_2048_8192_SHA256,
        (o, a) if a.is_rsa() && o == OID_SHA384_RSA => &sig::RSA_PKCS1_2048_8192_SHA384,
        (o, a) if a.is_rsa() && o == OID_SHA512_RSA => &sig::RSA_PKCS1_2048_8192_SHA512,
        (o, KeyAlgorithm::EccNistP256) if o == OID_ECDSA_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
        (o, KeyAlgorithm::EccNistP256) if o == OID_ECDSA_SHA384 => &sig::ECDSA_P256_SHA384_ASN1,
        (o, KeyAlgorithm::EccNistP256) if o == OID_ECDSA_SHA512 => &sig::ECDSA_P256_SHA512_ASN1,
        (o, KeyAlgorithm::EccNistP384) if o == OID_ECDSA_SHA256 => &sig::ECDSA_P384_SHA256_ASN1,
        (o, KeyAlgorithm::EccNistP384) if o == OID_ECDSA_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
        (o, KeyAlgorithm::EccNistP384) if o == OID_ECDSA_SHA512 => &sig::ECDSA_P384_SHA512_ASN1,
        (o, KeyAlgorithm::EccNistP521) if o == OID_ECDSA_SHA256 => &sig::ECDSA_P521_SHA256_ASN1,
        (o, KeyAlgorithm::EccNistP521) if o == OID_ECDSA_SHA384 => &sig::ECDSA_P521_SHA384_ASN1,
        (o, KeyAlgorithm::EccNistP521) if o == OID_ECDSA_SHA512 => &sig::ECDSA_P521_SHA512_ASN1,
        _ => {
            return Err(cert_error(
                "unsupported signature algorithm for the issuer's key (RSA PKCS#1 v1.5 or ECDSA with SHA-256/384/512)",
            ))
        }
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| cert_error("unreadable certificate"))?;
    let signature = cert
        .signature
        .as_bytes()
        .ok_or_else(|| cert_error("unreadable signature"))?;
    sig::UnparsedPublicKey::new(params, raw_key)
        .verify(&tbs, signature)
        .map_err(|_| {
            cert_error("the certificate signature does not verify with the issuer's public key")
        })
}

/// Whether `cert` is a CA certificate (basicConstraints CA=true), or carries no basic
/// constraints at all (self-signed roots of some tools).
pub fn is_ca(cert: &Certificate) -> bool {
    match cert.tbs_certificate.get::<BasicConstraints>() {
        Ok(Some((_, bc))) => bc.ca,
        Ok(None) => true,
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// The local CA
// ---------------------------------------------------------------------------

/// The store's local CA: its key pair and its self-signed certificate.
#[derive(Debug, Clone)]
pub struct LocalCa {
    key: Arc<LoadedKey>,
    name: Name,
    cert_der: Vec<u8>,
}

fn creation_lock() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn usable_ca(store: &Store) -> Option<Arc<LoadedKey>> {
    let alias = store.get_alias(CA_ALIAS).ok()?;
    let arn = alias.key_arn?;
    let k = store.key_for_use(&arn).ok()?;
    let a = &k.key.key_attributes;
    (k.key.key_state == KeyState::CreateComplete
        && a.key_class == KeyClass::AsymmetricKeyPair
        && a.key_algorithm == KeyAlgorithm::Rsa4096
        && !k.material().is_empty())
    .then_some(k)
}

impl LocalCa {
    /// Load the store's CA, creating it on first use (blocking: call from `spawn_blocking`).
    ///
    /// # Errors
    /// Store errors; `InternalServerException` if the certificate cannot be built.
    pub fn load(store: &Store) -> Result<Self, ApiError> {
        let key = match usable_ca(store) {
            Some(k) => k,
            None => {
                let _guard = creation_lock();
                match usable_ca(store) {
                    Some(k) => k,
                    None => Self::create(store)?,
                }
            }
        };
        let spki = key
            .public_key_der()
            .ok_or_else(|| internal("CA public key"))?;
        let name = name(&format!(
            "CN=paycrypt local CA {} {},O=paycrypt",
            store.account(),
            store.region()
        ))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
        let mut serial = [0u8; 16];
        serial.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0u8; 16]));
        serial[0] = (serial[0] & 0x7F) | 0x40;
        let not_before = key.key.create_timestamp.max(0.0) as u64;
        let not_after = not_before + CA_VALIDITY.as_secs();
        let cert_der = issue(
            &name,
            key.material(),
            &name,
            &spki,
            &serial,
            not_before,
            not_after,
            CertPurpose::Authority,
        )?;
        Ok(Self {
            key,
            name,
            cert_der,
        })
    }

    fn create(store: &Store) -> Result<Arc<LoadedKey>, ApiError> {
        let req = CreateKeyRequest {
            key_attributes: KeyAttributes {
                key_usage: KeyUsage::S0AsymmetricKeyForDigitalSignature,
                key_class: KeyClass::AsymmetricKeyPair,
                key_algorithm: KeyAlgorithm::Rsa4096,
                key_modes_of_use: KeyModesOfUse {
                    sign: true,
                    ..KeyModesOfUse::default()
                },
            },
            key_check_value_algorithm: None,
            exportable: false,
            enabled: Some(true),
            tags: vec![Tag {
                key: "paycrypt:role".into(),
                value: "local-certificate-authority".into(),
            }],
            derive_key_usage: None,
        };
        let key = store.create_key(req)?;
        let linked = match store.get_alias(CA_ALIAS) {
            Ok(_) => store.update_alias(CA_ALIAS, Some(&key.key_arn)),
            Err(StoreError::NotFound { .. }) => store.create_alias(CA_ALIAS, Some(&key.key_arn)),
            Err(e) => Err(e),
        };
        if let Err(e) = linked {
            // Another node won the race: drop ours and use theirs.
            let _ = store.delete_key(&key.key_arn, Some(3));
            if let Some(k) = usable_ca(store) {
                return Ok(k);
            }
            return Err(e.into());
        }
        tracing::info!(key_arn = %key.key_arn, "created the local certificate authority");
        Ok(store.key_for_use(&key.key_arn)?)
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA key's metadata.
    pub fn key(&self) -> &Key {
        &self.key.key
    }

    /// Issue a certificate for `spki` (DER) valid from now for `validity`.
    ///
    /// # Errors
    /// `InternalServerException` if signing fails.
    pub fn issue(
        &self,
        common_name: &str,
        spki: &[u8],
        validity: Duration,
        purpose: CertPurpose,
    ) -> Result<Vec<u8>, ApiError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let subject = name(&format!("CN={common_name},O=paycrypt"))?;
        issue(
            &self.name,
            self.key.material(),
            &subject,
            spki,
            &random_serial()?,
            now.saturating_sub(60),
            now + validity.as_secs(),
            purpose,
        )
    }
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// What a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// GetParametersForImport.
    Import,
    /// GetParametersForExport.
    Export,
}

/// The parameters a token stands for: the RSA private key behind the certificate.
#[derive(Debug)]
pub struct Parameters {
    store_id: String,
    kind: TokenKind,
    /// The `KeyMaterialType` requested.
    pub material_type: &'static str,
    /// The RSA key algorithm.
    pub algorithm: KeyAlgorithm,
    /// PKCS#8 private key (zeroized on drop).
    pub private_pkcs8: SecretBytes,
    /// The certificate (API form).
    pub certificate: String,
    /// The chain (API form).
    pub chain: String,
    /// Expiry, epoch seconds.
    pub valid_until: f64,
    /// The token.
    pub token: String,
}

#[derive(Debug, Default)]
struct Tokens {
    by_id: HashMap<String, Arc<Parameters>>,
    last: HashMap<(String, TokenKind, &'static str, KeyAlgorithm), String>,
}

fn tokens() -> MutexGuard<'static, Tokens> {
    static T: OnceLock<Mutex<Tokens>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(Tokens::default()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// An identifier of `store` for binding tokens to it (several stores may share a process).
pub fn store_id(store: &Store) -> String {
    format!(
        "{}:{}:{}",
        store.account(),
        store.region(),
        store.master_key_id()
    )
}

fn random_alnum(n: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        paycrypt_core::random::fill(&mut buf).map_err(|_| internal("random generator"))?;
        for b in buf {
            // 248 = 4 * 62: rejection sampling keeps the choice uniform.
            if b < 248 && out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// The last unused, still-valid token for these parameters with at least 7 days left
/// (`ReuseLastGeneratedToken`).
pub fn reusable(
    store_id: &str,
    kind: TokenKind,
    material_type: &'static str,
    algorithm: KeyAlgorithm,
    now: f64,
) -> Option<Arc<Parameters>> {
    let t = tokens();
    let id = t
        .last
        .get(&(store_id.to_owned(), kind, material_type, algorithm))?;
    let p = t.by_id.get(id)?;
    (p.valid_until - now >= REUSE_MIN_REMAINING.as_secs_f64()).then(|| Arc::clone(p))
}

/// Generate an RSA key pair of `algorithm`, certify it with the local CA and register a token.
/// Blocking (key generation): call from `spawn_blocking`.
///
/// # Errors
/// `ValidationException` for a non-RSA algorithm; `ServiceQuotaExceededException` past
/// 10,000 outstanding tokens; CA errors.
pub fn new_parameters(
    store: &Store,
    kind: TokenKind,
    material_type: &'static str,
    algorithm: KeyAlgorithm,
) -> Result<Arc<Parameters>, ApiError> {
    let size = match algorithm {
        KeyAlgorithm::Rsa2048 => RsaKeySize::Rsa2048,
        KeyAlgorithm::Rsa3072 => RsaKeySize::Rsa3072,
        KeyAlgorithm::Rsa4096 => RsaKeySize::Rsa4096,
        _ => {
            return Err(ApiError::validation(
                "The key algorithm must be RSA_2048, RSA_3072 or RSA_4096",
            ))
        }
    };
    let ca = LocalCa::load(store)?;
    let pair = asym::rsa_generate(size).map_err(|_| internal("RSA key generation"))?;
    let (cn, purpose, prefix) = match kind {
        TokenKind::Import => (
            "paycrypt import wrapping key",
            CertPurpose::KeyWrapping,
            "import-token-",
        ),
        TokenKind::Export => (
            "paycrypt export signing key",
            CertPurpose::Signing,
            "export-token-",
        ),
    };
    let cert = ca.issue(cn, &pair.public_spki, PARAMETERS_VALIDITY, purpose)?;
    let now = now_secs();
    let params = Arc::new(Parameters {
        store_id: store_id(store),
        kind,
        material_type,
        algorithm,
        private_pkcs8: pair.private_pkcs8,
        certificate: to_api(&cert)?,
        chain: to_api(ca.cert_der())?,
        valid_until: now + PARAMETERS_VALIDITY.as_secs_f64(),
        token: format!("{prefix}{}", random_alnum(32)?),
    });
    let mut t = tokens();
    t.by_id.retain(|_, p| p.valid_until > now);
    if t.by_id.len() >= MAX_TOKENS {
        return Err(ApiError::ServiceQuotaExceeded {
            message: "Too many outstanding import/export tokens on this node".into(),
        });
    }
    t.by_id.insert(params.token.clone(), Arc::clone(&params));
    t.last.insert(
        (params.store_id.clone(), kind, material_type, algorithm),
        params.token.clone(),
    );
    Ok(params)
}

/// Consume `token` (single use) for `material_type` at time `now`.
///
/// # Errors
/// `ValidationException` for an unknown, already used, expired or mismatched token.
pub fn take(
    store_id: &str,
    kind: TokenKind,
    material_type: &str,
    token: &str,
    now: f64,
) -> Result<Arc<Parameters>, ApiError> {
    let field = match kind {
        TokenKind::Import => "ImportToken",
        TokenKind::Export => "ExportToken",
    };
    let p = {
        let mut t = tokens();
        match t.by_id.get(token) {
            Some(p) if p.store_id == store_id && p.kind == kind => t.by_id.remove(token),
            _ => None,
        }
    };
    let Some(p) = p else {
        return Err(ApiError::validation(format!(
            "{field} is unknown or has already been used (tokens are single-use and held by the node that issued them)"
        )));
    };
    if now > p.valid_until {
        return Err(ApiError::validation(format!("{field} has expired")));
    }
    if p.material_type != material_type {
        return Err(ApiError::validation(format!(
            "{field} was issued for KeyMaterialType {}, not {material_type}",
            p.material_type
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::open_in_memory("us-east-1", "111122223333").unwrap()
    }

    #[test]
    fn ca_is_stable_and_certifies() {
        let s = store();
        let a = LocalCa::load(&s).unwrap();
        let b = LocalCa::load(&s).unwrap();
        assert_eq!(a.cert_der(), b.cert_der());
        let ca_cert = Certificate::from_der(a.cert_der()).unwrap();
        let ca_spki = cert_spki(&ca_cert).unwrap();
        verify_signed_by(&ca_cert, &ca_spki).unwrap();
        assert!(is_ca(&ca_cert));
        let api = to_api(a.cert_der()).unwrap();
        assert_eq!(from_api("C", &api).unwrap(), ca_cert);
        let p = new_parameters(
            &s,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            KeyAlgorithm::Rsa2048,
        )
        .unwrap();
        assert!(p.token.starts_with("import-token-") && p.token.len() == 45);
        let leaf = from_api("C", &p.certificate).unwrap();
        verify_signed_by(&leaf, &ca_spki).unwrap();
        check_validity(&leaf, now_secs()).unwrap();
        assert!(check_validity(&leaf, now_secs() + 31.0 * 86_400.0).is_err());
        assert_eq!(
            spki_algorithm(&cert_spki(&leaf).unwrap()).unwrap(),
            KeyAlgorithm::Rsa2048
        );
        assert!(verify_signed_by(&ca_cert, &cert_spki(&leaf).unwrap()).is_err());
        assert!(
            !is_ca(&leaf)
                || leaf
                    .tbs_certificate
                    .get::<BasicConstraints>()
                    .unwrap()
                    .is_none()
        );
    }

    #[test]
    fn tokens_are_single_use_bound_and_expire() {
        let s = store();
        let id = store_id(&s);
        let p = new_parameters(
            &s,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            KeyAlgorithm::Rsa2048,
        )
        .unwrap();
        let again = reusable(
            &id,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            KeyAlgorithm::Rsa2048,
            now_secs(),
        )
        .unwrap();
        assert_eq!(again.token, p.token);
        // Wrong store / wrong kind leave it in place.
        assert!(take(
            "other",
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            &p.token,
            now_secs()
        )
        .is_err());
        assert!(take(
            &id,
            TokenKind::Export,
            "KEY_CRYPTOGRAM",
            &p.token,
            now_secs()
        )
        .is_err());
        assert!(take(
            &id,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            &p.token,
            now_secs()
        )
        .is_ok());
        let e = take(
            &id,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            &p.token,
            now_secs(),
        )
        .unwrap_err();
        assert!(e.message().contains("already been used"));
        assert!(reusable(
            &id,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            KeyAlgorithm::Rsa2048,
            now_secs()
        )
        .is_none());
        // Expiry.
        let q = new_parameters(
            &s,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            KeyAlgorithm::Rsa2048,
        )
        .unwrap();
        let later = now_secs() + PARAMETERS_VALIDITY.as_secs_f64() + 1.0;
        let e = take(&id, TokenKind::Import, "KEY_CRYPTOGRAM", &q.token, later).unwrap_err();
        assert!(e.message().contains("expired"));
        // Material type mismatch.
        let r = new_parameters(
            &s,
            TokenKind::Import,
            "TR34_KEY_BLOCK",
            KeyAlgorithm::Rsa2048,
        )
        .unwrap();
        assert!(take(
            &id,
            TokenKind::Import,
            "KEY_CRYPTOGRAM",
            &r.token,
            now_secs()
        )
        .is_err());
    }

    #[test]
    fn garbage_certificates_are_refused() {
        assert!(from_api("C", "not base64!").is_err());
        assert!(from_api("C", "AAAA").is_err());
        let pem_garbage = <base64ct::Base64 as base64ct::Encoding>::encode_string(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        assert!(from_api("C", &pem_garbage).is_err());
    }
}
