//! `GenerateMac` / `VerifyMac` (`POST /mac/generate`, `/mac/verify`) with
//! `Algorithm` = `CMAC` (M6 keys, TDES/AES, NIST SP 800-38B) or `HMAC`/`HMAC_SHA224/256/384/512`
//! (M7 keys, RFC 2104). `MacLength` is in bytes (4..32; default: the full MAC); the MAC is the
//! leftmost `MacLength` bytes. VerifyMac without `MacLength` compares the leftmost
//! `len(Mac)` bytes. A mismatch is a `VerificationFailedException` with `Reason: INVALID_MAC`;
//! the comparison is constant-time. ISO 9797-1 algorithms 1/3, AS2805, EMV and DUKPT MACs are
//! refused as not supported yet.

use paycrypt_core::cipher::{ct_eq, BlockCipher};
use paycrypt_core::mac::{cmac, hmac, HashAlgorithm};
use paycrypt_keystore::model::KeyAlgorithm;
use serde_json::{json, Value};

use super::{hex, use_key};
use crate::error::{ApiError, VerificationFailedReason};
use crate::policy::{KeyUse, MacAlgorithm};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER, MAC, MESSAGE_DATA};

/// Read the `MacAttributes` union; only `Algorithm` is supported.
fn mac_attributes(i: &mut Input<'_>, name: &'static str) -> Result<MacAlgorithm, ApiError> {
    let (member, mut u) = i.req_union(name)?;
    match member.as_str() {
        "Algorithm" => {
            let alg = u.req_enum("Algorithm", MacAlgorithm::parse, MacAlgorithm::NAMES)?;
            let path = u.path_of("Algorithm");
            u.finish()?;
            match alg {
                MacAlgorithm::Cmac
                | MacAlgorithm::Hmac
                | MacAlgorithm::HmacSha224
                | MacAlgorithm::HmacSha256
                | MacAlgorithm::HmacSha384
                | MacAlgorithm::HmacSha512 => Ok(alg),
                other => Err(ApiError::unsupported(&format!(
                    "'{path}' value {}",
                    other.as_str()
                ))),
            }
        }
        "EmvMac" | "DukptIso9797Algorithm1" | "DukptIso9797Algorithm3" | "DukptCmac" => {
            Err(ApiError::unsupported(&format!("'{}'", u.path_of(&member))))
        }
        _ => {
            let path = u.path_of(&member);
            u.finish()?;
            Err(ApiError::validation(format!("Unknown member '{path}'")))
        }
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
    let alg = mac_attributes(&mut i, "GenerationAttributes")?;
    let len = mac_length(&mut i)?;
    i.finish()?;
    let key = use_key(state, ctx, id, KeyUse::GenerateMac(alg))?;
    let data = hex("MessageData", msg)?;
    let full = compute(
        alg,
        key.key.key_attributes.key_algorithm,
        key.material(),
        &data,
    )?;
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
    let alg = mac_attributes(&mut i, "VerificationAttributes")?;
    let len = mac_length(&mut i)?;
    i.finish()?;
    let key = use_key(state, ctx, id, KeyUse::VerifyMac(alg))?;
    let data = hex("MessageData", msg)?;
    let given = hex("Mac", mac_hex)?;
    let full = compute(
        alg,
        key.key.key_attributes.key_algorithm,
        key.material(),
        &data,
    )?;
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
