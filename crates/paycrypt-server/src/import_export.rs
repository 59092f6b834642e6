//! Key import and export (control plane, AWS-API.md §2.3, §3.6, §3.7): `ImportKey`,
//! `ExportKey`, `GetParametersForImport`, `GetPublicKeyCertificate`.
//!
//! Formats:
//! * **TR-31** (`Tr31KeyBlock`) under an existing KEK (K0/K1): import versions A/B/C under a TDES
//!   KEK and D under an AES KEK; export version B (TDES KEK) or D (AES KEK). The header is mapped
//!   to `KeyAttributes` (usage, algorithm + length, mode of use, exportability `E`/`S` →
//!   exportable, `N` → not; the letter itself is recorded) and checked by the store like any
//!   other key.
//! * **KEY_CRYPTOGRAM**: RSA-OAEP (SHA-256/SHA-512) import under a wrapping key from
//!   `GetParametersForImport` (token single-use, see [`crate::ca`]), and export to an RSA
//!   certificate signed by an imported CA. Only TDES and AES-128 keys, RSA-2048 only for TDES.
//! * **RootCertificatePublicKey / TrustedCertificatePublicKey**: CA certificates stored as
//!   PUBLIC_KEY keys (material = the DER SubjectPublicKeyInfo), checked unexpired, self-signed
//!   (root) or signed by the referenced CA (trusted), key algorithm as declared.
//! * **TR-34** (`Tr34KeyBlock`, X9 TR-34-2012 two-pass, [`crate::tr34`]): import under a
//!   `GetParametersForImport(TR34_KEY_BLOCK)` wrapping key, signed by a KDH whose certificate
//!   chains to an imported CA; export signed with a `GetParametersForExport` signing key to a KRD
//!   certificate issued by an imported CA. TDES and AES-128 keys only; `RandomNonce` required;
//!   the `WrappingKeyIdentifier`/`SigningKeyIdentifier` variants (a stored key pair instead of a
//!   token) are refused. AWS restricts TR-34 export to keys created in the service (model doc);
//!   here any exportable TDES/AES-128 key may leave by TR-34.
//! * **ExportDukptInitialKey** (`ExportAttributes`, TR-31 export only): the BDK (B0) is
//!   authorized for export as usual, and its DUKPT initial key for the KSN leaves instead — the
//!   TDES IPEK (TDES_2KEY BDK, 20-hex KSN) or the AES initial key (AES BDK, 24-hex KSN) — in a
//!   TR-31 block with usage `B1`, exportability `S` for a SENSITIVE BDK (AWS's example
//!   `B0096B1TX00S0000`) or `E` otherwise; the KCV returned is the initial key's.
//! * ECDH (`DiffieHellmanTr31KeyBlock`) and AS2805 are refused with a `ValidationException`
//!   naming the member.
//!
//! Exportability (X9.143 letters, AWS `KeyExportability`; decided in
//! [`crate::policy::authorize`] with `KeyUse::ExportKeyBy`): the store records each key's
//! letter. A TR-31 or TR-34 import keeps the block's `E`/`N`/`S`; `CreateKey` and KEY_CRYPTOGRAM
//! imports record `S` when `Exportable=true` (AWS lets keys it generated leave by any method;
//! a key cryptogram carries no letter) and `N` otherwise. `N` never leaves; `E` leaves only in a
//! key block (TR-31 or TR-34: AWS "EXPORTABLE … under a KEK using TR-31 or TR-34 key block
//! export only"); `S` also as a KEY_CRYPTOGRAM. `KeyBlockHeaders` may only narrow the modes of
//! use and the exportability (an `E` key cannot be exported as `S`). Keys stored before the
//! letter was recorded count as `S` when exportable. The wrapping key must be at least
//! as strong as the key it protects (NIST SP 800-57 strengths, [`KeyAlgorithm::strength_bits`]).

use std::sync::Arc;

use paycrypt_core::asym::{self, RsaPadding};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm as TrAlgorithm, KeyUsage as TrUsage, KeyVersion,
    ModeOfUse, OptionalBlock, OptionalBlockId, Tr31Header, Version,
};
use paycrypt_core::keyblock::KeyBlockError;
use paycrypt_core::secret::SecretBytes;
use paycrypt_keystore::model::{
    KeyAlgorithm, KeyAttributes, KeyCheckValueAlgorithm, KeyClass, KeyExportability, KeyModesOfUse,
    KeyState, KeyUsage, Tag,
};
use paycrypt_keystore::{ImportKeyRequest, LoadedKey, Store};
use serde_json::{json, Value};

use crate::ca::{self, CertPurpose, LocalCa, TokenKind};
use crate::control::{key_attributes, key_output, modes_of_use, tags};
use crate::data::wrapped::{CERTIFICATE, TR31_BLOCK};
use crate::error::ApiError;
use crate::policy::{authorize, ExportMethod, KeyUse};
use crate::state::{blocking, AppState, Ctx};
use crate::tr34;
use crate::validate::{text, Input, StrShape, KEY_IDENTIFIER};

fn is_upper_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn is_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_import_token(s: &str) -> bool {
    s.strip_prefix("import-token-")
        .is_some_and(|r| (16..=64).contains(&r.len()) && is_alnum(r))
}

fn is_key_version(s: &str) -> bool {
    s.len() == 2
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// `WrappedKeyCryptogram`.
const WRAPPED_KEY_CRYPTOGRAM: StrShape = StrShape {
    min: 16,
    max: 4096,
    pattern: "[0-9A-F]+",
    check: is_upper_hex,
};
/// `ImportTokenId`.
const IMPORT_TOKEN: StrShape = StrShape {
    min: 29,
    max: 77,
    pattern: "(import-token-[0-9a-zA-Z]{16,64})?",
    check: is_import_token,
};
fn is_export_token(s: &str) -> bool {
    s.strip_prefix("export-token-")
        .is_some_and(|r| (16..=64).contains(&r.len()) && is_alnum(r))
}

fn is_nonce(s: &str) -> bool {
    (16..=32).contains(&s.len()) && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `ExportTokenId`.
const EXPORT_TOKEN: StrShape = StrShape {
    min: 29,
    max: 77,
    pattern: "(export-token-[0-9a-zA-Z]{16,64})?",
    check: is_export_token,
};
/// `Tr34WrappedKeyBlock`.
const TR34_BLOCK: StrShape = StrShape {
    min: 2,
    max: 4096,
    pattern: "[0-9A-F]+",
    check: is_upper_hex,
};
/// `EvenHexLengthBetween16And32`.
const NONCE: StrShape = StrShape {
    min: 16,
    max: 32,
    pattern: "(?:[0-9a-fA-F][0-9a-fA-F]){8,16}",
    check: is_nonce,
};
const TR34_FORMATS: &[&str] = &["X9_TR34_2012"];

fn parse_tr34_format(s: &str) -> Option<()> {
    (s == "X9_TR34_2012").then_some(())
}

/// `KeyVersion`.
const KEY_VERSION: StrShape = StrShape {
    min: 2,
    max: 2,
    pattern: "[0-9A-Z]{2}+",
    check: is_key_version,
};

const MATERIAL_TYPES: &[&str] = &[
    "TR34_KEY_BLOCK",
    "TR31_KEY_BLOCK",
    "ROOT_PUBLIC_KEY_CERTIFICATE",
    "TRUSTED_PUBLIC_KEY_CERTIFICATE",
    "KEY_CRYPTOGRAM",
];

fn parse_material_type(s: &str) -> Option<&'static str> {
    MATERIAL_TYPES.iter().find(|m| **m == s).copied()
}

const WRAPPING_SPECS: &[&str] = &["RSA_OAEP_SHA_256", "RSA_OAEP_SHA_512"];

fn parse_wrapping_spec(s: &str) -> Option<RsaPadding> {
    match s {
        "RSA_OAEP_SHA_256" => Some(RsaPadding::OaepSha256),
        "RSA_OAEP_SHA_512" => Some(RsaPadding::OaepSha512),
        _ => None,
    }
}

fn algorithm_names() -> Vec<&'static str> {
    KeyAlgorithm::ALL.iter().map(|a| a.as_str()).collect()
}

fn kcv_names() -> Vec<&'static str> {
    KeyCheckValueAlgorithm::ALL
        .iter()
        .map(|a| a.as_str())
        .collect()
}

/// The key check value of symmetric `material` with `kcv_alg` (3 bytes, as the store computes).
pub(crate) fn kcv(
    alg: KeyAlgorithm,
    material: &[u8],
    kcv_alg: KeyCheckValueAlgorithm,
) -> Result<String, ApiError> {
    use paycrypt_core::mac::HashAlgorithm as H;
    let v = match kcv_alg {
        KeyCheckValueAlgorithm::AnsiX9_24 | KeyCheckValueAlgorithm::Cmac => {
            let c = alg.cipher_algorithm().ok_or_else(|| {
                ApiError::validation(format!(
                    "KeyCheckValueAlgorithm {kcv_alg} is not valid for KeyAlgorithm {alg}"
                ))
            })?;
            let cipher = BlockCipher::new(c, material)?;
            if kcv_alg == KeyCheckValueAlgorithm::AnsiX9_24 {
                paycrypt_core::kcv::ansi_x9_24(&cipher, 3)?
            } else {
                paycrypt_core::kcv::cmac_kcv(&cipher, 3)?
            }
        }
        KeyCheckValueAlgorithm::Hmac => {
            let h = match alg {
                KeyAlgorithm::HmacSha224 => H::Sha224,
                KeyAlgorithm::HmacSha256 => H::Sha256,
                KeyAlgorithm::HmacSha384 => H::Sha384,
                KeyAlgorithm::HmacSha512 => H::Sha512,
                _ => {
                    return Err(ApiError::validation(format!(
                        "KeyCheckValueAlgorithm HMAC is not valid for KeyAlgorithm {alg}"
                    )))
                }
            };
            paycrypt_core::kcv::hmac_kcv(h, material, 3)?
        }
        _ => {
            return Err(ApiError::validation(format!(
                "KeyCheckValueAlgorithm {kcv_alg} is not valid for KeyAlgorithm {alg}"
            )))
        }
    };
    Ok(paycrypt_core::hex::encode(&v))
}

fn kb(e: KeyBlockError) -> ApiError {
    ApiError::from(paycrypt_core::Error::from(e))
}

pub(crate) fn check_strength(wrapping: KeyAlgorithm, key: KeyAlgorithm) -> Result<(), ApiError> {
    if wrapping.strength_bits() < key.strength_bits() {
        return Err(ApiError::validation(format!(
            "The wrapping key ({wrapping}) must be at least as strong as the key it protects ({key})"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// TR-31 header <-> KeyAttributes
// ---------------------------------------------------------------------------

/// AWS `KeyUsage` for a TR-31 usage code, if AWS supports it.
fn usage_from_code(code: &str) -> Option<KeyUsage> {
    KeyUsage::ALL
        .iter()
        .find(|u| u.as_str().get(5..7) == Some(code) && u.as_str().get(7..8) == Some("_"))
        .copied()
}

fn code_of_usage(u: KeyUsage) -> Option<&'static str> {
    u.as_str().get(5..7)
}

/// HMAC hash of an `HM` optional block value (X9.143: 20 SHA-224, 21 SHA-256, 22 SHA-384,
/// 23 SHA-512).
fn hmac_algorithm(hm: &str) -> Option<KeyAlgorithm> {
    Some(match hm {
        "20" => KeyAlgorithm::HmacSha224,
        "21" => KeyAlgorithm::HmacSha256,
        "22" => KeyAlgorithm::HmacSha384,
        "23" => KeyAlgorithm::HmacSha512,
        _ => return None,
    })
}

fn hm_code(alg: KeyAlgorithm) -> Option<&'static str> {
    Some(match alg {
        KeyAlgorithm::HmacSha224 => "20",
        KeyAlgorithm::HmacSha256 => "21",
        KeyAlgorithm::HmacSha384 => "22",
        KeyAlgorithm::HmacSha512 => "23",
        _ => return None,
    })
}

/// The AWS `KeyExportability` of a TR-31 header's exportability letter.
fn exportability_of(h: &Tr31Header) -> KeyExportability {
    match h.exportability {
        Exportability::NonExportable => KeyExportability::NonExportable,
        Exportability::Sensitive => KeyExportability::Sensitive,
        _ => KeyExportability::Exportable,
    }
}

/// Map an authenticated TR-31 header (and the unwrapped key length) to `KeyAttributes` and
/// `Exportable`.
pub(crate) fn attributes_from_header(
    h: &Tr31Header,
    key_len: usize,
) -> Result<(KeyAttributes, bool), ApiError> {
    let usage = usage_from_code(h.key_usage.code()).ok_or_else(|| {
        ApiError::validation(format!(
            "TR-31 key usage {} is not supported",
            h.key_usage.code()
        ))
    })?;
    let algorithm = match (h.algorithm, key_len) {
        (TrAlgorithm::Tdes, 16) => KeyAlgorithm::Tdes2Key,
        (TrAlgorithm::Tdes, 24) => KeyAlgorithm::Tdes3Key,
        (TrAlgorithm::Aes, 16) => KeyAlgorithm::Aes128,
        (TrAlgorithm::Aes, 24) => KeyAlgorithm::Aes192,
        (TrAlgorithm::Aes, 32) => KeyAlgorithm::Aes256,
        (TrAlgorithm::Hmac, _) => h
            .optional_block(OptionalBlockId::HM)
            .and_then(|b| hmac_algorithm(b.value()))
            .ok_or_else(|| {
                ApiError::validation(
                    "A TR-31 HMAC key block needs an HM optional block naming SHA-224, SHA-256, SHA-384 or SHA-512",
                )
            })?,
        (TrAlgorithm::Tdes | TrAlgorithm::Aes, _) => {
            return Err(ApiError::validation(
                "The TR-31 key length does not match its algorithm",
            ))
        }
        (a, _) => {
            return Err(ApiError::validation(format!(
                "TR-31 algorithm {} is not supported for import",
                a.code()
            )))
        }
    };
    let letter = h.mode_of_use.code().chars().next().unwrap_or('?');
    let modes = KeyModesOfUse::from_tr31_mode(letter).ok_or_else(|| {
        ApiError::validation(format!("TR-31 mode of use {letter} is not supported"))
    })?;
    let exportable = !matches!(h.exportability, Exportability::NonExportable);
    Ok((
        KeyAttributes {
            key_usage: usage,
            key_class: KeyClass::SymmetricKey,
            key_algorithm: algorithm,
            key_modes_of_use: modes,
        },
        exportable,
    ))
}

/// Check a `KP` optional block (KCV of the wrapping key: `00` X9.24 or `01` CMAC, then the KCV).
fn check_kp(h: &Tr31Header, kek: &LoadedKey) -> Result<(), ApiError> {
    let Some(kp) = h.optional_block(OptionalBlockId::KP) else {
        return Ok(());
    };
    let v = kp.value();
    let (alg, expected) = (v.get(..2).unwrap_or(""), v.get(2..).unwrap_or(""));
    let kcv_alg = match alg {
        "00" => KeyCheckValueAlgorithm::AnsiX9_24,
        "01" => KeyCheckValueAlgorithm::Cmac,
        _ => {
            return Err(ApiError::validation(
                "The TR-31 KP optional block is malformed",
            ))
        }
    };
    let actual = kcv(
        kek.key.key_attributes.key_algorithm,
        kek.material(),
        kcv_alg,
    )?;
    let n = expected.len().min(actual.len());
    if expected.is_empty()
        || !paycrypt_core::cipher::ct_eq(
            actual.as_bytes().get(..n).unwrap_or(&[]),
            expected.to_ascii_uppercase().as_bytes(),
        )
    {
        return Err(ApiError::validation(
            "The TR-31 KP optional block does not match the wrapping key's check value",
        ));
    }
    Ok(())
}

pub(crate) fn kbpk<'a>(kek: &'a LoadedKey) -> Result<Kbpk<'a>, ApiError> {
    if kek.key.key_attributes.key_algorithm.is_tdes() {
        Ok(Kbpk::tdes(kek.material())?)
    } else {
        Ok(Kbpk::aes(kek.material())?)
    }
}

pub(crate) fn unwrap_tr31(
    kek: &LoadedKey,
    block: &str,
) -> Result<(Tr31Header, SecretBytes), ApiError> {
    let header = tr31::parse_header(block)?;
    let tdes = kek.key.key_attributes.key_algorithm.is_tdes();
    match (tdes, header.version) {
        (true, Version::A | Version::B | Version::C) | (false, Version::D) => {}
        (true, _) => {
            return Err(ApiError::validation(
                "A TDES wrapping key unwraps TR-31 key blocks of version A, B or C",
            ))
        }
        (false, _) => {
            return Err(ApiError::validation(
                "An AES wrapping key unwraps TR-31 key blocks of version D",
            ))
        }
    }
    tr31::unwrap(kbpk(kek)?, block).map_err(|e| match e {
        paycrypt_core::Error::KeyBlock(KeyBlockError::MacMismatch) => ApiError::validation(
            "The TR-31 key block does not authenticate: it was altered or wrapped under another key",
        ),
        other => ApiError::from(other),
    })
}

// ---------------------------------------------------------------------------
// ImportKey
// ---------------------------------------------------------------------------

enum ImportMaterial {
    Cryptogram {
        attrs: KeyAttributes,
        exportable: bool,
        wrapped: String,
        token: String,
        spec: RsaPadding,
    },
    Tr31 {
        wrapping_key: String,
        block: String,
    },
    Root {
        attrs: KeyAttributes,
        certificate: String,
    },
    Trusted {
        attrs: KeyAttributes,
        certificate: String,
        ca: String,
    },
    Tr34 {
        ca: String,
        signing_cert: String,
        token: String,
        block: String,
        nonce: String,
    },
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::validation(format!("{what} is required")))
}

/// The error for a `KeyMaterial` union member `op` does not read: `DiffieHellmanTr31KeyBlock` and
/// `As2805KeyCryptogram` are modeled but not supported; anything else is unknown.
fn other_material(op: &str, member: &str) -> ApiError {
    match member {
        "DiffieHellmanTr31KeyBlock" | "As2805KeyCryptogram" => {
            ApiError::unsupported(&format!("{op} with KeyMaterial.{member}"))
        }
        _ => ApiError::validation(format!(
            "Unknown member 'KeyMaterial.{member}' in the request"
        )),
    }
}

struct Common {
    kcv_alg: Option<KeyCheckValueAlgorithm>,
    enabled: Option<bool>,
    tags: Vec<Tag>,
    /// `ReplicationRegions` (`None`: the account's defaults).
    regions: Option<Vec<String>>,
}

fn read_import_material(i: &mut Input<'_>) -> Result<ImportMaterial, ApiError> {
    let (member, mut u) = i.req_union("KeyMaterial")?;
    let m = match member.as_str() {
        "KeyCryptogram" => {
            let mut m = u.req_obj("KeyCryptogram")?;
            let attrs = key_attributes(&mut m)?;
            let exportable = m.req_bool("Exportable")?;
            let wrapped = m
                .req_str("WrappedKeyCryptogram", WRAPPED_KEY_CRYPTOGRAM)?
                .to_owned();
            let token = m.req_str("ImportToken", IMPORT_TOKEN)?.to_owned();
            let spec = m
                .opt_enum("WrappingSpec", parse_wrapping_spec, WRAPPING_SPECS)?
                .unwrap_or(RsaPadding::OaepSha256);
            m.finish()?;
            ImportMaterial::Cryptogram {
                attrs,
                exportable,
                wrapped,
                token,
                spec,
            }
        }
        "Tr31KeyBlock" => {
            let mut m = u.req_obj("Tr31KeyBlock")?;
            let wrapping_key = m
                .req_str("WrappingKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            let block = m.req_str("WrappedKeyBlock", TR31_BLOCK)?.to_owned();
            m.finish()?;
            ImportMaterial::Tr31 {
                wrapping_key,
                block,
            }
        }
        "RootCertificatePublicKey" => {
            let mut m = u.req_obj("RootCertificatePublicKey")?;
            let attrs = key_attributes(&mut m)?;
            let certificate = m.req_str("PublicKeyCertificate", CERTIFICATE)?.to_owned();
            m.finish()?;
            ImportMaterial::Root { attrs, certificate }
        }
        "TrustedCertificatePublicKey" => {
            let mut m = u.req_obj("TrustedCertificatePublicKey")?;
            let attrs = key_attributes(&mut m)?;
            let certificate = m.req_str("PublicKeyCertificate", CERTIFICATE)?.to_owned();
            let ca = m
                .req_str("CertificateAuthorityPublicKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            m.finish()?;
            ImportMaterial::Trusted {
                attrs,
                certificate,
                ca,
            }
        }
        "Tr34KeyBlock" => {
            let mut m = u.req_obj("Tr34KeyBlock")?;
            let ca = m
                .req_str("CertificateAuthorityPublicKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            let signing_cert = m.req_str("SigningKeyCertificate", CERTIFICATE)?.to_owned();
            let token = m.opt_str("ImportToken", IMPORT_TOKEN)?.map(str::to_owned);
            m.unsupported("WrappingKeyIdentifier")?;
            m.unsupported("WrappingKeyCertificate")?;
            let block = m.req_str("WrappedKeyBlock", TR34_BLOCK)?.to_owned();
            m.req_enum("KeyBlockFormat", parse_tr34_format, TR34_FORMATS)?;
            let nonce = m.opt_str("RandomNonce", NONCE)?.map(str::to_owned);
            m.finish()?;
            ImportMaterial::Tr34 {
                ca,
                signing_cert,
                token: required(
                    token,
                    "KeyMaterial.Tr34KeyBlock.ImportToken (from GetParametersForImport with KeyMaterialType TR34_KEY_BLOCK)",
                )?,
                block,
                nonce: required(
                    nonce,
                    "KeyMaterial.Tr34KeyBlock.RandomNonce (two-pass TR-34)",
                )?,
            }
        }
        other => return Err(other_material("ImportKey", other)),
    };
    u.finish()?;
    Ok(m)
}

/// `ImportKey`.
///
/// # Errors
/// `ValidationException` for bad input, a bad token, a block that does not authenticate, a
/// wrapping key that may not unwrap or is weaker than the key, unsupported attributes or
/// certificates that do not verify; `ResourceNotFoundException` for unknown keys.
pub async fn import_key(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let material = read_import_material(&mut i)?;
    let kcvs = kcv_names();
    let common = Common {
        kcv_alg: i.opt_enum(
            "KeyCheckValueAlgorithm",
            KeyCheckValueAlgorithm::parse,
            &kcvs,
        )?,
        enabled: i.opt_bool("Enabled")?,
        tags: tags(&mut i, "Tags", false)?,
        regions: crate::control_more::replication_regions(&mut i, "ReplicationRegions", false)?,
    };
    // Accepted and never logged (the model marks it sensitive).
    let _ = i.opt_str("RequesterComment", text(0, 200))?;
    i.finish()?;
    let now = ca::now_secs();
    let (key, used) = blocking(state, move |s| import_blocking(s, material, common, now)).await?;
    for arn in &used {
        ctx.key(arn);
    }
    key_output(ctx, &key)
}

fn import_blocking(
    s: &Store,
    material: ImportMaterial,
    common: Common,
    now: f64,
) -> Result<(paycrypt_keystore::model::Key, Vec<String>), ApiError> {
    let mut used = Vec::new();
    // The TR-31 exportability recorded with the key: the key block's letter (TR-31, TR-34);
    // `None` (SENSITIVE if exportable) for KEY_CRYPTOGRAM, which carries only `Exportable`.
    let mut letter: Option<KeyExportability> = None;
    let (attrs, exportable, clear) = match material {
        ImportMaterial::Cryptogram {
            attrs,
            exportable,
            wrapped,
            token,
            spec,
        } => {
            let p = ca::take(
                &ca::store_id(s),
                TokenKind::Import,
                "KEY_CRYPTOGRAM",
                &token,
                now,
            )?;
            let alg = attrs.key_algorithm;
            if attrs.key_class != KeyClass::SymmetricKey
                || !matches!(
                    alg,
                    KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key | KeyAlgorithm::Aes128
                )
            {
                return Err(ApiError::validation(
                    "KEY_CRYPTOGRAM import carries only SYMMETRIC_KEY TDES_2KEY, TDES_3KEY or AES_128 keys",
                ));
            }
            if alg == KeyAlgorithm::Aes128 && p.algorithm == KeyAlgorithm::Rsa2048 {
                return Err(ApiError::validation(
                    "An AES_128 key needs an RSA_3072 or RSA_4096 wrapping key",
                ));
            }
            let ct = paycrypt_core::hex::decode("WrappedKeyCryptogram", &wrapped)?;
            let clear = asym::rsa_decrypt(p.private_pkcs8.expose(), spec, &ct, None)
                .map_err(|_| {
                    ApiError::validation(
                        "WrappedKeyCryptogram does not decrypt under the wrapping key of this ImportToken with this WrappingSpec",
                    )
                })?;
            if Some(clear.expose().len()) != alg.symmetric_key_len() {
                return Err(ApiError::validation(format!(
                    "The decrypted key is not a {alg} key"
                )));
            }
            (attrs, exportable, clear)
        }
        ImportMaterial::Tr31 {
            wrapping_key,
            block,
        } => {
            let kek = s.key_for_use(&wrapping_key)?;
            used.push(kek.key.key_arn.clone());
            authorize(&kek.key, KeyUse::UnwrapKey)?;
            let (header, clear) = unwrap_tr31(&kek, &block)?;
            check_kp(&header, &kek)?;
            let (attrs, exportable) = attributes_from_header(&header, clear.expose().len())?;
            letter = Some(exportability_of(&header));
            check_strength(kek.key.key_attributes.key_algorithm, attrs.key_algorithm)?;
            (attrs, exportable, clear)
        }
        ImportMaterial::Root { attrs, certificate } => {
            let cert = ca::from_api(
                "KeyMaterial.RootCertificatePublicKey.PublicKeyCertificate",
                &certificate,
            )?;
            ca::check_validity(&cert, now)?;
            let spki = ca::cert_spki(&cert)?;
            ca::verify_signed_by(&cert, &spki)?;
            if !ca::is_ca(&cert) {
                return Err(ApiError::validation(
                    "The root certificate is not a CA certificate (basicConstraints CA=false)",
                ));
            }
            check_ca_attributes(&attrs)?;
            check_cert_algorithm(&attrs, &spki)?;
            (attrs, false, SecretBytes::new(spki))
        }
        ImportMaterial::Trusted {
            attrs,
            certificate,
            ca: ca_id,
        } => {
            let ca_key = s.key_for_use(&ca_id)?;
            used.push(ca_key.key.key_arn.clone());
            authorize(&ca_key.key, KeyUse::VerifyCertificate)?;
            let cert = ca::from_api(
                "KeyMaterial.TrustedCertificatePublicKey.PublicKeyCertificate",
                &certificate,
            )?;
            ca::check_validity(&cert, now)?;
            ca::verify_signed_by(&cert, ca_key.material())?;
            let spki = ca::cert_spki(&cert)?;
            check_cert_algorithm(&attrs, &spki)?;
            check_strength(ca_key.key.key_attributes.key_algorithm, attrs.key_algorithm)?;
            (attrs, false, SecretBytes::new(spki))
        }
        ImportMaterial::Tr34 {
            ca: ca_id,
            signing_cert,
            token,
            block,
            nonce,
        } => {
            let ca_key = s.key_for_use(&ca_id)?;
            used.push(ca_key.key.key_arn.clone());
            authorize(&ca_key.key, KeyUse::VerifyCertificate)?;
            let kdh = ca::from_api(
                "KeyMaterial.Tr34KeyBlock.SigningKeyCertificate",
                &signing_cert,
            )?;
            ca::check_validity(&kdh, now)?;
            ca::verify_signed_by(&kdh, ca_key.material())?;
            if !ca::spki_algorithm(&ca::cert_spki(&kdh)?)?.is_rsa() {
                return Err(ApiError::validation(
                    "The TR-34 SigningKeyCertificate must hold an RSA public key",
                ));
            }
            let block = paycrypt_core::hex::decode("WrappedKeyBlock", &block)?;
            let nonce = paycrypt_core::hex::decode("RandomNonce", &nonce)?;
            let p = ca::take(
                &ca::store_id(s),
                TokenKind::Import,
                "TR34_KEY_BLOCK",
                &token,
                now,
            )?;
            let krd = ca::from_api("ImportToken", &p.certificate)?;
            let r = tr34::unwrap(&tr34::UnwrapInput {
                block: &block,
                nonce: &nonce,
                kdh: &kdh,
                krd: &krd,
                krd_private_pkcs8: p.private_pkcs8.expose(),
            })?;
            let header = tr34_header(&r.header)?;
            let (attrs, exportable) = attributes_from_header(&header, r.key.expose().len())?;
            letter = Some(exportability_of(&header));
            check_tr34_algorithm(attrs.key_algorithm)?;
            check_strength(p.algorithm, attrs.key_algorithm)?;
            (attrs, exportable, r.key)
        }
    };
    let key = s.import_key_with(
        ImportKeyRequest {
            key_attributes: attrs,
            material: clear,
            key_check_value_algorithm: common.kcv_alg,
            exportable,
            enabled: common.enabled,
            tags: common.tags,
        },
        paycrypt_keystore::KeyOptions::new(common.regions, letter),
    )?;
    Ok((key, used))
}

/// TR-34 carries TDES and AES-128 keys (X9 TR-34-2012; AWS-API.md §3.7).
fn check_tr34_algorithm(alg: KeyAlgorithm) -> Result<(), ApiError> {
    if !matches!(
        alg,
        KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key | KeyAlgorithm::Aes128
    ) {
        return Err(ApiError::validation(format!(
            "TR-34 carries only TDES_2KEY, TDES_3KEY and AES_128 keys, not {alg}"
        )));
    }
    Ok(())
}

/// Parse the 16-character header of a TR-34 key block (a TR-31 header whose version and length
/// fields are not meaningful; optional blocks are not supported).
fn tr34_header(h: &str) -> Result<Tr31Header, ApiError> {
    let field = |r: core::ops::Range<usize>| {
        h.get(r)
            .ok_or_else(|| ApiError::validation("The TR-34 key block header is malformed"))
    };
    let usage = TrUsage::from_code(field(5..7)?).map_err(kb)?;
    let algorithm = TrAlgorithm::from_code(field(7..8)?).map_err(kb)?;
    let mode = ModeOfUse::from_code(field(8..9)?).map_err(kb)?;
    let version = KeyVersion::new(field(9..11)?).map_err(kb)?;
    let exportability = Exportability::from_code(field(11..12)?).map_err(kb)?;
    if field(12..14)? != "00" {
        return Err(ApiError::validation(
            "Optional blocks in a TR-34 key block header are not supported",
        ));
    }
    let mut header = Tr31Header::new(Version::D, usage, algorithm, mode, exportability);
    header.key_version = version;
    Ok(header)
}

fn check_ca_attributes(attrs: &KeyAttributes) -> Result<(), ApiError> {
    if attrs.key_usage != KeyUsage::S0AsymmetricKeyForDigitalSignature
        || attrs.key_class != KeyClass::PublicKey
    {
        return Err(ApiError::validation(
            "A root certificate is imported with KeyUsage TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE and KeyClass PUBLIC_KEY",
        ));
    }
    Ok(())
}

fn check_cert_algorithm(attrs: &KeyAttributes, spki: &[u8]) -> Result<(), ApiError> {
    let actual = ca::spki_algorithm(spki)?;
    if actual != attrs.key_algorithm {
        return Err(ApiError::validation(format!(
            "KeyAttributes.KeyAlgorithm is {} but the certificate's key is {actual}",
            attrs.key_algorithm
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ExportKey
// ---------------------------------------------------------------------------

struct BlockHeaders {
    modes: Option<KeyModesOfUse>,
    exportability: Option<KeyExportability>,
    key_version: Option<String>,
    optional_blocks: Vec<(String, String)>,
}

enum ExportMaterial {
    Tr31 {
        wrapping_key: String,
        headers: BlockHeaders,
    },
    Cryptogram {
        ca: String,
        certificate: String,
        spec: RsaPadding,
    },
    Tr34 {
        ca: String,
        certificate: String,
        token: String,
        nonce: String,
        headers: BlockHeaders,
    },
}

fn read_headers(m: &mut Input<'_>) -> Result<BlockHeaders, ApiError> {
    let Some(mut h) = m.opt_obj("KeyBlockHeaders")? else {
        return Ok(BlockHeaders {
            modes: None,
            exportability: None,
            key_version: None,
            optional_blocks: Vec::new(),
        });
    };
    let modes = match h.opt_obj("KeyModesOfUse")? {
        Some(mut mo) => {
            let v = modes_of_use(&mut mo)?;
            mo.finish()?;
            Some(v)
        }
        None => None,
    };
    let names: Vec<&str> = KeyExportability::ALL.iter().map(|e| e.as_str()).collect();
    let exportability = h.opt_enum("KeyExportability", KeyExportability::parse, &names)?;
    let key_version = h.opt_str("KeyVersion", KEY_VERSION)?.map(str::to_owned);
    let mut optional_blocks = Vec::new();
    if let Some((path, map)) = h.opt_map("OptionalBlocks")? {
        let mut total = 0usize;
        for (id, v) in map {
            let value = v.as_str();
            let id_ok = is_key_version(id);
            let value_ok = value.is_some_and(|v| (1..=108).contains(&v.len()) && is_alnum(v));
            if !id_ok || !value_ok {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value at '{path}' failed to satisfy constraint: keys must match [0-9A-Z]{{2}} and values [0-9a-zA-Z]{{1,108}}"
                )));
            }
            let value = value.unwrap_or_default();
            total += 4 + value.len();
            optional_blocks.push((id.clone(), value.to_owned()));
        }
        if total > 112 {
            return Err(ApiError::validation(
                "KeyBlockHeaders.OptionalBlocks: the optional blocks may total at most 112 characters, including 4 per block for ID and length",
            ));
        }
    }
    h.finish()?;
    Ok(BlockHeaders {
        modes,
        exportability,
        key_version,
        optional_blocks,
    })
}

fn read_export_material(i: &mut Input<'_>) -> Result<ExportMaterial, ApiError> {
    let (member, mut u) = i.req_union("KeyMaterial")?;
    let m = match member.as_str() {
        "Tr31KeyBlock" => {
            let mut m = u.req_obj("Tr31KeyBlock")?;
            let wrapping_key = m
                .req_str("WrappingKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            let headers = read_headers(&mut m)?;
            m.finish()?;
            ExportMaterial::Tr31 {
                wrapping_key,
                headers,
            }
        }
        "KeyCryptogram" => {
            let mut m = u.req_obj("KeyCryptogram")?;
            let ca = m
                .req_str("CertificateAuthorityPublicKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            let certificate = m.req_str("WrappingKeyCertificate", CERTIFICATE)?.to_owned();
            let spec = m
                .opt_enum("WrappingSpec", parse_wrapping_spec, WRAPPING_SPECS)?
                .unwrap_or(RsaPadding::OaepSha256);
            m.finish()?;
            ExportMaterial::Cryptogram {
                ca,
                certificate,
                spec,
            }
        }
        "Tr34KeyBlock" => {
            let mut m = u.req_obj("Tr34KeyBlock")?;
            let ca = m
                .req_str("CertificateAuthorityPublicKeyIdentifier", KEY_IDENTIFIER)?
                .to_owned();
            let certificate = m.req_str("WrappingKeyCertificate", CERTIFICATE)?.to_owned();
            let token = m.opt_str("ExportToken", EXPORT_TOKEN)?.map(str::to_owned);
            m.unsupported("SigningKeyIdentifier")?;
            m.unsupported("SigningKeyCertificate")?;
            m.req_enum("KeyBlockFormat", parse_tr34_format, TR34_FORMATS)?;
            let nonce = m.opt_str("RandomNonce", NONCE)?.map(str::to_owned);
            let headers = read_headers(&mut m)?;
            m.finish()?;
            ExportMaterial::Tr34 {
                ca,
                certificate,
                token: required(
                    token,
                    "KeyMaterial.Tr34KeyBlock.ExportToken (from GetParametersForExport)",
                )?,
                nonce: required(
                    nonce,
                    "KeyMaterial.Tr34KeyBlock.RandomNonce (two-pass TR-34)",
                )?,
                headers,
            }
        }
        other => return Err(other_material("ExportKey", other)),
    };
    u.finish()?;
    Ok(m)
}

/// `ExportKey`.
///
/// # Errors
/// `ValidationException` for bad input, a key that is not exportable, disabled or pending
/// deletion, a wrapping key that may not wrap or is weaker than the key, headers that widen the
/// key's permissions, or a certificate that does not verify; `ResourceNotFoundException` for
/// unknown or deleted keys.
pub async fn export_key(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let material = read_export_material(&mut i)?;
    let export_id = i.req_str("ExportKeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    let mut kcv_alg = None;
    let mut dukpt_ksn = None;
    if let Some(mut a) = i.opt_obj("ExportAttributes")? {
        if let Some(mut d) = a.opt_obj("ExportDukptInitialKey")? {
            dukpt_ksn = Some(d.req_str("KeySerialNumber", KSN_20_OR_24)?.to_owned());
            d.finish()?;
        }
        let kcvs = kcv_names();
        kcv_alg = a.opt_enum(
            "KeyCheckValueAlgorithm",
            KeyCheckValueAlgorithm::parse,
            &kcvs,
        )?;
        a.finish()?;
    }
    i.finish()?;
    let now = ca::now_secs();
    let (out, used) = blocking(state, move |s| {
        export_blocking(s, &export_id, material, kcv_alg, dukpt_ksn, now)
    })
    .await?;
    for arn in &used {
        ctx.key(arn);
    }
    Ok(json!({ "WrappedKey": out }))
}

fn export_blocking(
    s: &Store,
    export_id: &str,
    material: ExportMaterial,
    kcv_alg: Option<KeyCheckValueAlgorithm>,
    dukpt_ksn: Option<String>,
    now: f64,
) -> Result<(Value, Vec<String>), ApiError> {
    let key = s.key_for_use(export_id)?;
    let mut used = vec![key.key.key_arn.clone()];
    let method = match &material {
        ExportMaterial::Tr31 { .. } => ExportMethod::Tr31KeyBlock,
        ExportMaterial::Cryptogram { .. } => ExportMethod::KeyCryptogram,
        ExportMaterial::Tr34 { .. } => ExportMethod::Tr34KeyBlock,
    };
    authorize(&key.key, KeyUse::ExportKeyBy(method))?;
    let attrs = key.key.key_attributes;
    if attrs.key_class != KeyClass::SymmetricKey {
        return Err(ApiError::validation(
            "Only symmetric keys can be exported with Tr31KeyBlock or KeyCryptogram",
        ));
    }
    // ExportDukptInitialKey: the IPEK / IK of the BDK for this KSN leaves instead of the BDK.
    let initial_key = match &dukpt_ksn {
        Some(ksn) => {
            if !matches!(material, ExportMaterial::Tr31 { .. }) {
                return Err(ApiError::unsupported(
                    "ExportAttributes.ExportDukptInitialKey with a KeyMaterial other than Tr31KeyBlock",
                ));
            }
            Some(dukpt_initial_key(&key, ksn)?)
        }
        None => None,
    };
    let (kcv_value, kcv_label) = match (kcv_alg, &initial_key) {
        (a, Some(ik)) => {
            let a = a.unwrap_or(key.key.key_check_value_algorithm);
            (kcv(attrs.key_algorithm, ik.expose(), a)?, a)
        }
        (Some(a), None) => (kcv(attrs.key_algorithm, key.material(), a)?, a),
        (None, None) => (
            key.key.key_check_value.clone(),
            key.key.key_check_value_algorithm,
        ),
    };
    let (wrapping_arn, format, wrapped) = match material {
        ExportMaterial::Tr31 {
            wrapping_key,
            headers,
        } => {
            let kek = s.key_for_use(&wrapping_key)?;
            used.push(kek.key.key_arn.clone());
            authorize(&kek.key, KeyUse::WrapKey)?;
            if kek.key.key_arn == key.key.key_arn {
                return Err(ApiError::validation(
                    "A key cannot be exported under itself",
                ));
            }
            check_strength(kek.key.key_attributes.key_algorithm, attrs.key_algorithm)?;
            let block = match &initial_key {
                Some(ik) => wrap_initial_key(&kek, &key, &headers, ik)?,
                None => wrap_tr31(&kek, &key, &headers)?,
            };
            (kek.key.key_arn.clone(), "TR31_KEY_BLOCK", block)
        }
        ExportMaterial::Cryptogram {
            ca: ca_id,
            certificate,
            spec,
        } => {
            let ca_key = s.key_for_use(&ca_id)?;
            used.push(ca_key.key.key_arn.clone());
            authorize(&ca_key.key, KeyUse::VerifyCertificate)?;
            let cert = ca::from_api(
                "KeyMaterial.KeyCryptogram.WrappingKeyCertificate",
                &certificate,
            )?;
            ca::check_validity(&cert, now)?;
            ca::verify_signed_by(&cert, ca_key.material())?;
            let spki = ca::cert_spki(&cert)?;
            let rsa = ca::spki_algorithm(&spki)?;
            if !rsa.is_rsa() {
                return Err(ApiError::validation(
                    "The wrapping key certificate must hold an RSA public key",
                ));
            }
            match attrs.key_algorithm {
                KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key => {}
                KeyAlgorithm::Aes128 if rsa != KeyAlgorithm::Rsa2048 => {}
                KeyAlgorithm::Aes128 => {
                    return Err(ApiError::validation(
                        "An AES_128 key needs an RSA_3072 or RSA_4096 wrapping key",
                    ))
                }
                other => {
                    return Err(ApiError::validation(format!(
                        "KEY_CRYPTOGRAM export carries only TDES and AES_128 keys, not {other}"
                    )))
                }
            }
            let ct = asym::rsa_encrypt(&spki, spec, key.material(), None)?;
            (
                ca_key.key.key_arn.clone(),
                "KEY_CRYPTOGRAM",
                paycrypt_core::hex::encode(&ct),
            )
        }
        ExportMaterial::Tr34 {
            ca: ca_id,
            certificate,
            token,
            nonce,
            headers,
        } => {
            check_tr34_algorithm(attrs.key_algorithm)?;
            let ca_key = s.key_for_use(&ca_id)?;
            used.push(ca_key.key.key_arn.clone());
            authorize(&ca_key.key, KeyUse::VerifyCertificate)?;
            let krd = ca::from_api(
                "KeyMaterial.Tr34KeyBlock.WrappingKeyCertificate",
                &certificate,
            )?;
            ca::check_validity(&krd, now)?;
            ca::verify_signed_by(&krd, ca_key.material())?;
            let rsa = ca::spki_algorithm(&ca::cert_spki(&krd)?)?;
            if !rsa.is_rsa() {
                return Err(ApiError::validation(
                    "The wrapping key certificate must hold an RSA public key",
                ));
            }
            check_strength(rsa, attrs.key_algorithm)?;
            if !headers.optional_blocks.is_empty() {
                return Err(ApiError::validation(
                    "KeyBlockHeaders.OptionalBlocks are not supported in a TR-34 key block",
                ));
            }
            let h = export_header(Version::D, &key, &headers)?;
            let header = format!(
                "D0016{}{}{}{}{}0000",
                h.key_usage.code(),
                h.algorithm.code(),
                h.mode_of_use.code(),
                h.key_version.as_str(),
                h.exportability.code()
            );
            let nonce = paycrypt_core::hex::decode("RandomNonce", &nonce)?;
            let p = ca::take(
                &ca::store_id(s),
                TokenKind::Export,
                "TR34_KEY_BLOCK",
                &token,
                now,
            )?;
            let kdh = ca::from_api("ExportToken", &p.certificate)?;
            let block = tr34::wrap(&tr34::WrapInput {
                key: key.material(),
                header: &header,
                nonce: &nonce,
                kdh: &kdh,
                kdh_private_pkcs8: p.private_pkcs8.expose(),
                krd: &krd,
                aes: attrs.key_algorithm.is_aes(),
            })?;
            (
                ca_key.key.key_arn.clone(),
                "TR34_KEY_BLOCK",
                paycrypt_core::hex::encode(&block),
            )
        }
    };
    Ok((
        json!({
            "WrappingKeyArn": wrapping_arn,
            "WrappedKeyMaterialFormat": format,
            "KeyMaterial": wrapped,
            "KeyCheckValue": kcv_value,
            "KeyCheckValueAlgorithm": kcv_label.as_str(),
        }),
        used,
    ))
}

/// `HexLength20Or24`: `[0-9A-F]{20}` or `[0-9A-F]{24}`.
const KSN_20_OR_24: StrShape = StrShape {
    min: 20,
    max: 24,
    pattern: "[0-9A-F]{20}$|^[0-9A-F]{24}",
    check: is_ksn_20_or_24,
};

fn is_ksn_20_or_24(s: &str) -> bool {
    (s.len() == 20 || s.len() == 24) && is_upper_hex(s)
}

/// The DUKPT initial key of a BDK for a KSN (AWS-API.md §3.8): the TDES IPEK (X9.24-1 A.6,
/// TDES_2KEY BDK, 20-hex KSN, counter ignored) or the AES initial key (X9.24-3, AES BDK, 24-hex
/// KSN whose first 16 hex digits are the initial key ID).
fn dukpt_initial_key(bdk: &LoadedKey, ksn: &str) -> Result<SecretBytes, ApiError> {
    use paycrypt_core::dukpt::{aes as daes, tdes as dtdes};
    let a = bdk.key.key_attributes;
    if a.key_usage != KeyUsage::B0BaseDerivationKey {
        return Err(ApiError::validation(format!(
            "ExportAttributes.ExportDukptInitialKey needs a TR31_B0_BASE_DERIVATION_KEY, not {}",
            a.key_usage
        )));
    }
    match (a.key_algorithm, ksn.len()) {
        (KeyAlgorithm::Tdes2Key, 20) => {
            let k = dtdes::Ksn::from_hex(ksn)?;
            Ok(dtdes::derive_ipek(bdk.material(), &k)?)
        }
        (alg, 24) if alg.is_aes() => {
            let k = daes::Ksn::from_hex(ksn)?;
            Ok(daes::derive_initial_key(
                bdk.material(),
                &k.initial_key_id(),
            )?)
        }
        (alg, _) => Err(ApiError::validation(format!(
            "ExportAttributes.ExportDukptInitialKey.KeySerialNumber must be 20 hex digits for a TDES_2KEY BDK or 24 for an AES BDK (BDK is {alg})"
        ))),
    }
}

/// A TR-31 block carrying a DUKPT initial key: the BDK's header with usage `B1` and, unless
/// `KeyBlockHeaders.KeyExportability` narrows it, exportability `S` for a SENSITIVE BDK (as
/// AWS's example `B0096B1TX00S0000`) or `E` otherwise.
fn wrap_initial_key(
    kek: &LoadedKey,
    bdk: &LoadedKey,
    headers: &BlockHeaders,
    initial_key: &SecretBytes,
) -> Result<String, ApiError> {
    let version = if kek.key.key_attributes.key_algorithm.is_tdes() {
        Version::B
    } else {
        Version::D
    };
    let mut header = export_header(version, bdk, headers)?;
    header.key_usage = TrUsage::from_code("B1").map_err(kb)?;
    if headers.exportability.is_none()
        && bdk.key.effective_exportability() == KeyExportability::Sensitive
    {
        header.exportability = Exportability::Sensitive;
    }
    Ok(tr31::wrap(kbpk(kek)?, &header, initial_key.expose())?)
}

fn wrap_tr31(kek: &LoadedKey, key: &LoadedKey, headers: &BlockHeaders) -> Result<String, ApiError> {
    let version = if kek.key.key_attributes.key_algorithm.is_tdes() {
        Version::B
    } else {
        Version::D
    };
    let header = export_header(version, key, headers)?;
    Ok(tr31::wrap(kbpk(kek)?, &header, key.material())?)
}

/// The header of an exported key: the key's usage and algorithm, its modes of use or the
/// narrower `KeyBlockHeaders.KeyModesOfUse`, exportability (default `E`), key version and
/// optional blocks (`HM` added for HMAC keys).
fn export_header(
    version: Version,
    key: &LoadedKey,
    headers: &BlockHeaders,
) -> Result<Tr31Header, ApiError> {
    let attrs = key.key.key_attributes;
    let usage = code_of_usage(attrs.key_usage)
        .and_then(|c| TrUsage::from_code(c).ok())
        .ok_or_else(|| {
            ApiError::validation(format!(
                "KeyUsage {} cannot be exported in a TR-31 key block",
                attrs.key_usage
            ))
        })?;
    let alg = attrs.key_algorithm;
    let algorithm = if alg.is_tdes() {
        TrAlgorithm::Tdes
    } else if alg.is_aes() {
        TrAlgorithm::Aes
    } else if alg.is_hmac() {
        TrAlgorithm::Hmac
    } else {
        return Err(ApiError::validation(format!(
            "KeyAlgorithm {alg} cannot be exported in a TR-31 key block"
        )));
    };
    let modes = match headers.modes {
        Some(m) => {
            if !attrs.key_modes_of_use.covers(&m) {
                return Err(ApiError::validation(
                    "KeyBlockHeaders.KeyModesOfUse must equal the key's modes of use or be more restrictive",
                ));
            }
            m
        }
        None => attrs.key_modes_of_use,
    };
    let letter = modes.tr31_mode().ok_or_else(|| {
        ApiError::validation("KeyBlockHeaders.KeyModesOfUse has no TR-31 mode of use")
    })?;
    let mode = ModeOfUse::from_code(&letter.to_string()).map_err(kb)?;
    // The header may narrow the key's exportability, never widen it (an `E` key cannot be
    // exported as `S`).
    if let Some(e) = headers.exportability {
        if e.rank() > key.key.effective_exportability().rank() {
            return Err(ApiError::validation(format!(
                "KeyBlockHeaders.KeyExportability {e} is less restrictive than the key's exportability {}",
                key.key.effective_exportability()
            )));
        }
    }
    let exportability = match headers.exportability {
        None | Some(KeyExportability::Exportable) => Exportability::Trusted,
        Some(KeyExportability::NonExportable) => Exportability::NonExportable,
        Some(_) => Exportability::Sensitive,
    };
    let mut header = Tr31Header::new(version, usage, algorithm, mode, exportability);
    if let Some(v) = &headers.key_version {
        header.key_version = KeyVersion::new(v).map_err(kb)?;
    }
    for (id, value) in &headers.optional_blocks {
        let id = OptionalBlockId::new(id).map_err(kb)?;
        if id == OptionalBlockId::PB {
            return Err(ApiError::validation(
                "KeyBlockHeaders.OptionalBlocks: PB is added by the service",
            ));
        }
        header
            .optional_blocks
            .push(OptionalBlock::new(id, value).map_err(kb)?);
    }
    if let Some(hm) = hm_code(alg) {
        if header.optional_block(OptionalBlockId::HM).is_none() {
            header
                .optional_blocks
                .push(OptionalBlock::new(OptionalBlockId::HM, hm).map_err(kb)?);
        }
    }
    Ok(header)
}

// ---------------------------------------------------------------------------
// GetParametersForImport, GetPublicKeyCertificate
// ---------------------------------------------------------------------------

/// `GetParametersForImport` (KEY_CRYPTOGRAM: RSA_2048/3072/4096 wrapping key).
///
/// # Errors
/// `ValidationException` for other material types (TR-34 is not supported yet) or algorithms.
pub async fn get_parameters_for_import(
    state: &Arc<AppState>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let material_type = i.req_enum("KeyMaterialType", parse_material_type, MATERIAL_TYPES)?;
    let algs = algorithm_names();
    let algorithm = i.req_enum("WrappingKeyAlgorithm", KeyAlgorithm::parse, &algs)?;
    let reuse = i.opt_bool("ReuseLastGeneratedToken")?.unwrap_or(false);
    i.finish()?;
    match material_type {
        "KEY_CRYPTOGRAM" | "TR34_KEY_BLOCK" => {}
        other => {
            return Err(ApiError::validation(format!(
                "KeyMaterialType {other} needs no import parameters"
            )))
        }
    }
    if !algorithm.is_rsa() {
        return Err(ApiError::validation(
            "WrappingKeyAlgorithm must be RSA_2048, RSA_3072 or RSA_4096",
        ));
    }
    let p = parameters(state, TokenKind::Import, material_type, algorithm, reuse).await?;
    Ok(json!({
        "WrappingKeyCertificate": p.certificate,
        "WrappingKeyCertificateChain": p.chain,
        "WrappingKeyAlgorithm": p.algorithm.as_str(),
        "ImportToken": p.token,
        "ParametersValidUntilTimestamp": p.valid_until,
    }))
}

/// The last reusable token's parameters (`ReuseLastGeneratedToken`) or new ones (an RSA key
/// pair certified by the local CA, generated off the async workers).
async fn parameters(
    state: &Arc<AppState>,
    kind: TokenKind,
    material_type: &'static str,
    algorithm: KeyAlgorithm,
    reuse: bool,
) -> Result<Arc<ca::Parameters>, ApiError> {
    blocking(state, move |s| {
        let id = ca::store_id(s);
        if reuse {
            if let Some(p) = ca::reusable(&id, kind, material_type, algorithm, ca::now_secs()) {
                return Ok(p);
            }
        }
        ca::new_parameters(s, kind, material_type, algorithm)
    })
    .await
}

/// `GetParametersForExport` (TR34_KEY_BLOCK: an RSA_2048 signing key certified by the local CA
/// and a single-use export token).
///
/// # Errors
/// `ValidationException` for other material types or algorithms.
pub async fn get_parameters_for_export(
    state: &Arc<AppState>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let material_type = i.req_enum("KeyMaterialType", parse_material_type, MATERIAL_TYPES)?;
    let algs = algorithm_names();
    let algorithm = i.req_enum("SigningKeyAlgorithm", KeyAlgorithm::parse, &algs)?;
    let reuse = i.opt_bool("ReuseLastGeneratedToken")?.unwrap_or(false);
    i.finish()?;
    if material_type != "TR34_KEY_BLOCK" {
        return Err(ApiError::validation(format!(
            "KeyMaterialType {material_type} needs no export parameters (only TR34_KEY_BLOCK does)"
        )));
    }
    if algorithm != KeyAlgorithm::Rsa2048 {
        return Err(ApiError::validation(
            "SigningKeyAlgorithm must be RSA_2048 for TR-34 export",
        ));
    }
    let p = parameters(state, TokenKind::Export, material_type, algorithm, reuse).await?;
    Ok(json!({
        "SigningKeyCertificate": p.certificate,
        "SigningKeyCertificateChain": p.chain,
        "SigningKeyAlgorithm": p.algorithm.as_str(),
        "ExportToken": p.token,
        "ParametersValidUntilTimestamp": p.valid_until,
    }))
}

/// `GetPublicKeyCertificate`: a 90-day certificate for an asymmetric key's public key, signed
/// by the local CA, and the CA certificate as the chain.
///
/// # Errors
/// `ValidationException` for symmetric keys or keys not in CREATE_COMPLETE;
/// `ResourceNotFoundException` for unknown keys.
pub async fn get_public_key_certificate(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    i.finish()?;
    let (arn, cert, chain) = blocking(state, move |s| {
        let key = s.key_for_use(&id)?;
        let k = &key.key;
        if k.key_state != KeyState::CreateComplete {
            return Err(ApiError::validation(format!(
                "Key {} is not in state CREATE_COMPLETE",
                k.key_arn
            )));
        }
        // Only key pairs held here: the local CA never vouches for an imported public key.
        if k.key_attributes.key_class != KeyClass::AsymmetricKeyPair {
            return Err(ApiError::validation(format!(
                "Key {} is not an asymmetric key pair (KeyClass ASYMMETRIC_KEY_PAIR)",
                k.key_arn
            )));
        }
        let spki = key.public_key_der().ok_or_else(ApiError::internal)?;
        let purpose = match k.key_attributes.key_usage {
            KeyUsage::K3AsymmetricKeyForKeyAgreement => CertPurpose::KeyAgreement,
            KeyUsage::S0AsymmetricKeyForDigitalSignature => CertPurpose::Signing,
            _ => CertPurpose::KeyWrapping,
        };
        let local = LocalCa::load(s)?;
        let key_id = k.key_arn.rsplit('/').next().unwrap_or("key");
        let cert = local.issue(key_id, &spki, ca::PUBLIC_KEY_CERT_VALIDITY, purpose)?;
        Ok((
            k.key_arn.clone(),
            ca::to_api(&cert)?,
            ca::to_api(local.cert_der())?,
        ))
    })
    .await?;
    ctx.key(&arn);
    Ok(json!({ "KeyCertificate": cert, "KeyCertificateChain": chain }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_codes_round_trip() {
        for u in KeyUsage::ALL {
            let code = code_of_usage(*u).unwrap();
            assert_eq!(usage_from_code(code), Some(*u), "{code}");
        }
        assert_eq!(usage_from_code("B1"), None);
    }

    #[test]
    fn shapes() {
        assert!(is_import_token("import-token-abcdefghijklmnop"));
        assert!(!is_import_token("import-token-short"));
        assert!(!is_import_token("export-token-abcdefghijklmnop"));
        assert!(is_upper_hex("00AF") && !is_upper_hex("00af"));
        assert!(is_key_version("0A") && !is_key_version("0a"));
    }
}
