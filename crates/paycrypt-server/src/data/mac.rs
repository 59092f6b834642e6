//! `GenerateMac` / `VerifyMac` (`POST /mac/generate`, `/mac/verify`), AWS-API.md §3.10:
//! - `Algorithm`: `ISO9797_ALGORITHM1` (M1, TDES CBC-MAC = ANSI X9.9 with TDES),
//!   `ISO9797_ALGORITHM3` (M3, TDES retail MAC = ANSI X9.19), both with ISO 9797-1 padding
//!   method 1 (zeros; the X9.9/X9.19 convention); `AS2805_4_1` (M0; `mac::as2805_4_1`);
//!   `CMAC` (M6, TDES/AES, NIST SP 800-38B); `HMAC`/`HMAC_SHA224/256/384/512` (M7, RFC 2104).
//! - `EmvMac` (E2 issuer master key, TDES_2KEY): ICC master key by option A/B, secure-messaging
//!   session key by `SessionKeyDerivationMode` and `SessionKeyDerivationValue` —
//!   `EMV_COMMON_SESSION_KEY` and `UNION_PAY`: common session key with R = the application
//!   cryptogram (or ATC ‖ `00`×6 when the ATC is given); `MASTERCARD_SESSION_KEY`: R = the
//!   application cryptogram; `EMV2000`: the EMV2000 tree with the ATC; `VISA`/`AMEX`: the Visa SM
//!   session key with the ATC — then ISO 9797-1 MAC algorithm 3 with padding method 2 (EMV Book 2
//!   9.2, `emv::generate_command_mac`).
//! - `DukptIso9797Algorithm1` / `DukptIso9797Algorithm3` / `DukptCmac` (B0 BDK): the DUKPT MAC
//!   key of `DukptKeyVariant` (TDES DUKPT: X9.24-1 request/response MAC variants, padding method
//!   1; AES DUKPT: X9.24-3 MAC working keys, CMAC only).
//!
//! `MacLength` is in bytes (4..32; default: the full MAC); the MAC is the leftmost `MacLength`
//! bytes. VerifyMac without `MacLength` compares the leftmost `len(Mac)` bytes. A mismatch is a
//! `VerificationFailedException` with `Reason: INVALID_MAC`; the comparison is constant-time.

use paycrypt_core::cipher::{ct_eq, Algorithm, BlockCipher, Padding};
use paycrypt_core::dukpt;
use paycrypt_core::emv;
use paycrypt_core::mac::{self as core_mac, cmac, hmac, HashAlgorithm};
use paycrypt_keystore::model::KeyAlgorithm;
use paycrypt_keystore::LoadedKey;
use serde_json::{json, Value};

use super::attrs::{
    self, hex_array, read_dukpt, Dukpt, DukptRequest, VariantMember, HEX16, HEX4, MAJOR_MODES, PAN,
    PSN,
};
use super::{hex, use_key};
use crate::error::{ApiError, VerificationFailedReason};
use crate::policy::{KeyUse, MacAlgorithm};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER, MAC, MESSAGE_DATA};

/// `SessionKeyDerivationMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkdMode {
    EmvCommon,
    Emv2000,
    Amex,
    Mastercard,
    Visa,
    UnionPay,
}

const SKD_MODES: &[&str] = &[
    "EMV_COMMON_SESSION_KEY",
    "EMV2000",
    "AMEX",
    "MASTERCARD_SESSION_KEY",
    "VISA",
    "UNION_PAY",
];

fn parse_skd(s: &str) -> Option<SkdMode> {
    Some(match s {
        "EMV_COMMON_SESSION_KEY" => SkdMode::EmvCommon,
        "EMV2000" => SkdMode::Emv2000,
        "AMEX" => SkdMode::Amex,
        "MASTERCARD_SESSION_KEY" => SkdMode::Mastercard,
        "VISA" => SkdMode::Visa,
        "UNION_PAY" => SkdMode::UnionPay,
        _ => return None,
    })
}

/// `SessionKeyDerivationValue`.
#[derive(Debug, Clone, Copy)]
enum SkdValue {
    Ac([u8; 8]),
    Atc([u8; 2]),
}

/// The DUKPT MAC algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DukptMac {
    Alg1,
    Alg3,
    Cmac,
}

/// What MAC the request asks for.
enum MacKind<'a> {
    Plain(MacAlgorithm),
    Emv {
        major: emv::MajorKeyDerivation,
        pan: &'a str,
        psn: &'a str,
        mode: SkdMode,
        value: SkdValue,
    },
    Dukpt(DukptMac, DukptRequest<'a>),
}

/// Read the `MacAttributes` union.
fn mac_attributes<'a>(i: &mut Input<'a>, name: &'static str) -> Result<MacKind<'a>, ApiError> {
    let (member, mut u) = i.req_union(name)?;
    let kind = match member.as_str() {
        "Algorithm" => {
            MacKind::Plain(u.req_enum("Algorithm", MacAlgorithm::parse, MacAlgorithm::NAMES)?)
        }
        "EmvMac" => {
            let mut s = u.req_obj("EmvMac")?;
            let major = s.req_enum("MajorKeyDerivationMode", attrs::parse_major, MAJOR_MODES)?;
            let pan = s.req_str("PrimaryAccountNumber", PAN)?;
            let psn = s.req_str("PanSequenceNumber", PSN)?;
            let mode = s.req_enum("SessionKeyDerivationMode", parse_skd, SKD_MODES)?;
            let (vm, mut v) = s.req_union("SessionKeyDerivationValue")?;
            let value = match vm.as_str() {
                "ApplicationCryptogram" => SkdValue::Ac(hex_array::<8>(
                    "ApplicationCryptogram",
                    v.req_str("ApplicationCryptogram", HEX16)?,
                )?),
                "ApplicationTransactionCounter" => SkdValue::Atc(hex_array::<2>(
                    "ApplicationTransactionCounter",
                    v.req_str("ApplicationTransactionCounter", HEX4)?,
                )?),
                _ => return Err(v.unknown_member(&vm)),
            };
            v.finish()?;
            s.finish()?;
            MacKind::Emv {
                major,
                pan,
                psn,
                mode,
                value,
            }
        }
        "DukptIso9797Algorithm1" | "DukptIso9797Algorithm3" | "DukptCmac" => {
            let (alg, field): (DukptMac, &'static str) = match member.as_str() {
                "DukptIso9797Algorithm1" => (DukptMac::Alg1, "DukptIso9797Algorithm1"),
                "DukptIso9797Algorithm3" => (DukptMac::Alg3, "DukptIso9797Algorithm3"),
                _ => (DukptMac::Cmac, "DukptCmac"),
            };
            let mut s = u.req_obj(field)?;
            let req = read_dukpt(
                &mut s,
                "DukptDerivationType",
                false,
                VariantMember::Required,
            )?;
            s.finish()?;
            MacKind::Dukpt(alg, req)
        }
        _ => return Err(u.unknown_member(&member)),
    };
    u.finish()?;
    Ok(kind)
}

fn key_use(kind: &MacKind<'_>, generate: bool) -> KeyUse {
    match kind {
        MacKind::Plain(a) if generate => KeyUse::GenerateMac(*a),
        MacKind::Plain(a) => KeyUse::VerifyMac(*a),
        MacKind::Emv { .. } => KeyUse::EmvIntegrity,
        MacKind::Dukpt(..) => KeyUse::DukptDerive,
    }
}

/// The EMV secure-messaging integrity session key.
fn emv_session_key(
    key: &LoadedKey,
    major: emv::MajorKeyDerivation,
    pan: &str,
    psn: &str,
    mode: SkdMode,
    value: SkdValue,
) -> Result<paycrypt_core::secret::SecretBytes, ApiError> {
    let mk = BlockCipher::tdes(key.material())?;
    let icc = emv::derive_icc_master_key(&mk, major, pan, psn)?;
    let refuse = |what: &str| {
        ApiError::validation(format!(
            "SessionKeyDerivationValue.{what} does not fit this SessionKeyDerivationMode"
        ))
    };
    Ok(match (mode, value) {
        (SkdMode::EmvCommon | SkdMode::UnionPay | SkdMode::Mastercard, SkdValue::Ac(ac)) => {
            emv::derive_common_session_key(icc.expose(), &ac)?
        }
        (SkdMode::EmvCommon | SkdMode::UnionPay, SkdValue::Atc(atc)) => {
            let mut r = [0u8; 8];
            r[..2].copy_from_slice(&atc);
            emv::derive_common_session_key(icc.expose(), &r)?
        }
        (SkdMode::Emv2000, SkdValue::Atc(atc)) => emv::derive_emv2000_tree_session_key(
            icc.expose(),
            &atc,
            emv::EMV2000_HEIGHT,
            emv::EMV2000_BRANCH_FACTOR,
            &[0u8; 16],
        )?,
        (SkdMode::Visa | SkdMode::Amex, SkdValue::Atc(atc)) => {
            emv::derive_visa_sm_session_key(icc.expose(), &atc)?
        }
        (_, SkdValue::Ac(_)) => return Err(refuse("ApplicationCryptogram")),
        (_, SkdValue::Atc(_)) => return Err(refuse("ApplicationTransactionCounter")),
    })
}

/// The full MAC of `data` for `kind` under the loaded key.
fn compute_kind(kind: &MacKind<'_>, key: &LoadedKey, data: &[u8]) -> Result<Vec<u8>, ApiError> {
    match kind {
        MacKind::Plain(alg) => compute(
            *alg,
            key.key.key_attributes.key_algorithm,
            key.material(),
            data,
        ),
        MacKind::Emv {
            major,
            pan,
            psn,
            mode,
            value,
        } => {
            let sk = emv_session_key(key, *major, pan, psn, *mode, *value)?;
            Ok(emv::generate_command_mac(sk.expose(), data)?.to_vec())
        }
        MacKind::Dukpt(alg, req) => match Dukpt::new_cached(key, req)? {
            Dukpt::Tdes { ipek, ksn } => {
                let a = match alg {
                    DukptMac::Alg1 => core_mac::MacAlgorithm::Iso9797Alg1 {
                        algorithm: Algorithm::Tdes2,
                        padding: Padding::Iso9797M1,
                    },
                    DukptMac::Alg3 => core_mac::MacAlgorithm::Iso9797Alg3 {
                        padding: Padding::Iso9797M1,
                    },
                    DukptMac::Cmac => core_mac::MacAlgorithm::Cmac(Algorithm::Tdes2),
                };
                let direction = req.variant.unwrap_or(dukpt::DukptKeyVariant::Request);
                Ok(dukpt::tdes::generate_mac(
                    ipek.expose(),
                    &ksn,
                    direction,
                    a,
                    data,
                )?)
            }
            Dukpt::Aes { ik, ksn, key_type } => {
                if *alg != DukptMac::Cmac {
                    return Err(ApiError::validation(
                        "An AES DUKPT BDK supports only DukptCmac (ISO 9797-1 algorithms 1 and 3 are TDES MACs)",
                    ));
                }
                let direction = req.variant.unwrap_or(dukpt::DukptKeyVariant::Request);
                Ok(dukpt::aes::generate_cmac(
                    ik.expose(),
                    &ksn,
                    direction,
                    key_type,
                    data,
                )?)
            }
        },
    }
}

fn hash_of(alg: MacAlgorithm, key_alg: KeyAlgorithm) -> Result<HashAlgorithm, ApiError> {
    Ok(match alg {
        MacAlgorithm::HmacSha224 => HashAlgorithm::Sha224,
        MacAlgorithm::HmacSha256 => HashAlgorithm::Sha256,
        MacAlgorithm::HmacSha384 => HashAlgorithm::Sha384,
        MacAlgorithm::HmacSha512 => HashAlgorithm::Sha512,
        _ => match key_alg {
            KeyAlgorithm::HmacSha224 => HashAlgorithm::Sha224,
            KeyAlgorithm::HmacSha256 => HashAlgorithm::Sha256,
            KeyAlgorithm::HmacSha384 => HashAlgorithm::Sha384,
            KeyAlgorithm::HmacSha512 => HashAlgorithm::Sha512,
            _ => {
                return Err(ApiError::validation(
                    "Algorithm HMAC needs an HMAC_SHA* key",
                ))
            }
        },
    })
}

/// The full MAC of `data` under the loaded key.
fn compute(
    alg: MacAlgorithm,
    key_alg: KeyAlgorithm,
    material: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, ApiError> {
    match alg {
        MacAlgorithm::Cmac => {
            let c = key_alg
                .cipher_algorithm()
                .ok_or_else(|| ApiError::validation("CMAC needs a TDES or AES key"))?;
            Ok(cmac(&BlockCipher::new(c, material)?, data)?)
        }
        MacAlgorithm::Iso9797Algorithm1 => {
            let c = key_alg
                .cipher_algorithm()
                .filter(|_| key_alg.is_tdes())
                .ok_or_else(|| ApiError::validation("ISO9797_ALGORITHM1 needs a TDES key"))?;
            Ok(core_mac::iso9797_alg1(
                &BlockCipher::new(c, material)?,
                Padding::Iso9797M1,
                data,
            )?)
        }
        MacAlgorithm::Iso9797Algorithm3 => {
            Ok(core_mac::iso9797_alg3(material, Padding::Iso9797M1, data)?.to_vec())
        }
        MacAlgorithm::As2805_4_1 => Ok(core_mac::as2805_4_1(material, data)?.to_vec()),
        _ => Ok(hmac(hash_of(alg, key_alg)?, material, data)?),
    }
}

fn mac_length(i: &mut Input<'_>) -> Result<Option<usize>, ApiError> {
    Ok(i.opt_int("MacLength", 4, 32)?.map(|n| n as usize))
}

/// `GenerateMac`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn generate_mac(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?;
    let msg = i.req_str("MessageData", MESSAGE_DATA)?;
    let kind = mac_attributes(&mut i, "GenerationAttributes")?;
    let len = mac_length(&mut i)?;
    i.finish()?;
    let key = use_key(state, ctx, id, key_use(&kind, true))?;
    let data = hex("MessageData", msg)?;
    let full = compute_kind(&kind, &key, &data)?;
    let n = len.unwrap_or(full.len());
    let mac = full.get(..n).ok_or_else(|| {
        ApiError::validation(format!(
            "MacLength must be at most {} for this key and algorithm",
            full.len()
        ))
    })?;
    Ok(json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
        "Mac": paycrypt_core::hex::encode(mac),
    }))
}

/// `VerifyMac`.
///
/// # Errors
/// Validation, not-found and policy errors; `VerificationFailedException` (INVALID_MAC).
pub fn verify_mac(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?;
    let msg = i.req_str("MessageData", MESSAGE_DATA)?;
    let mac_hex = i.req_str("Mac", MAC)?;
    let kind = mac_attributes(&mut i, "VerificationAttributes")?;
    let len = mac_length(&mut i)?;
    i.finish()?;
    let key = use_key(state, ctx, id, key_use(&kind, false))?;
    let data = hex("MessageData", msg)?;
    let given = hex("Mac", mac_hex)?;
    let full = compute_kind(&kind, &key, &data)?;
    let n = len.unwrap_or(given.len());
    let Some(expected) = full.get(..n) else {
        return Err(ApiError::validation(format!(
            "MacLength must be at most {} for this key and algorithm",
            full.len()
        )));
    };
    if !ct_eq(expected, &given) {
        return Err(ApiError::VerificationFailed {
            reason: VerificationFailedReason::InvalidMac,
            message: "MAC verification failed".into(),
        });
    }
    Ok(json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
    }))
}
