//! `VerifyAuthRequestCryptogram` / `GenerateAuthRequestCryptogram` (`POST /cryptogram/verify`,
//! `/cryptogram/generate`): EMV ARQC with an E0 issuer master key (TDES_2KEY, DeriveKey):
//! ICC master key by `MajorKeyDerivationMode` (EMV option A/B), session key by
//! `SessionKeyDerivationAttributes` (`EmvCommon`, `Mastercard`, `Emv2000`, `Amex`, `Visa`,
//! `UnionPay`; `paycrypt_core::emv::SessionKeyDerivation`), then ISO/IEC 9797-1 MAC algorithm 3
//! over `TransactionData`.
//!
//! Padding: AWS documents that callers pad `TransactionData` themselves (user guide, "Transaction
//! data padding"), so the data is MACed as given (`AcPadding::None`) and must be a multiple of 8
//! bytes; anything else is refused rather than padded by guess.
//!
//! `AuthResponseAttributes`: `ArpcMethod1 {AuthResponseCode}` (8-byte ARPC) or
//! `ArpcMethod2 {CardStatusUpdate, ProprietaryAuthenticationData}` (4-byte ARPC), computed with the
//! same session key and returned as `AuthResponseValue` after a successful verification. A
//! mismatch is a `VerificationFailedException` with `Reason: INVALID_AUTH_REQUEST_CRYPTOGRAM`.

use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::emv::{self, AcPadding, SessionKeyDerivation};
use serde_json::{json, Value};

use super::attrs::{
    self, hex_array, HEX16, HEX4, HEX8, MAJOR_MODES, PAN, PROPRIETARY_DATA, PSN, TRANSACTION_DATA,
};
use super::{hex, use_key};
use crate::error::ApiError;
use crate::policy::KeyUse;
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER};

struct Derivation<'a> {
    pan: &'a str,
    psn: &'a str,
    session: SessionKeyDerivation,
}

fn session_attributes<'a>(i: &mut Input<'a>) -> Result<Derivation<'a>, ApiError> {
    let (member, mut u) = i.req_union("SessionKeyDerivationAttributes")?;
    let name: &'static str = match member.as_str() {
        "EmvCommon" => "EmvCommon",
        "Mastercard" => "Mastercard",
        "Emv2000" => "Emv2000",
        "Amex" => "Amex",
        "Visa" => "Visa",
        "UnionPay" => "UnionPay",
        _ => return Err(u.unknown_member(&member)),
    };
    let mut s = u.req_obj(name)?;
    let pan = s.req_str("PrimaryAccountNumber", PAN)?;
    let psn = s.req_str("PanSequenceNumber", PSN)?;
    let session = match name {
        "Amex" => SessionKeyDerivation::Amex,
        "Visa" => SessionKeyDerivation::Visa,
        _ => {
            let atc = hex_array::<2>(
                "ApplicationTransactionCounter",
                s.req_str("ApplicationTransactionCounter", HEX4)?,
            )?;
            match name {
                "EmvCommon" => SessionKeyDerivation::EmvCommon { atc },
                "Emv2000" => SessionKeyDerivation::Emv2000 { atc },
                "UnionPay" => SessionKeyDerivation::UnionPay { atc },
                _ => SessionKeyDerivation::Mastercard {
                    atc,
                    unpredictable_number: hex_array::<4>(
                        "UnpredictableNumber",
                        s.req_str("UnpredictableNumber", HEX8)?,
                    )?,
                },
            }
        }
    };
    s.finish()?;
    u.finish()?;
    Ok(Derivation { pan, psn, session })
}

fn transaction_data(s: &str) -> Result<Vec<u8>, ApiError> {
    if s.len() % 16 != 0 {
        return Err(ApiError::validation(
            "TransactionData must be padded by the caller to a multiple of 8 bytes (16 hex characters)",
        ));
    }
    hex("TransactionData", s)
}

struct Request<'a> {
    id: &'a str,
    data: Vec<u8>,
    major: emv::MajorKeyDerivation,
    derivation: Derivation<'a>,
}

fn read_common<'a>(i: &mut Input<'a>) -> Result<(&'a str, &'a str), ApiError> {
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?;
    let data = i.req_str("TransactionData", TRANSACTION_DATA)?;
    Ok((id, data))
}

fn session_key(
    state: &AppState,
    ctx: &mut Ctx,
    r: &Request<'_>,
) -> Result<
    (
        std::sync::Arc<paycrypt_keystore::LoadedKey>,
        paycrypt_core::secret::SecretBytes,
    ),
    ApiError,
> {
    let key = use_key(state, ctx, r.id, KeyUse::AuthRequestCryptogram)?;
    let mk = BlockCipher::tdes(key.material())?;
    let sk = emv::derive_ac_key(
        &mk,
        r.major,
        r.derivation.pan,
        r.derivation.psn,
        &r.derivation.session,
    )?;
    Ok((key, sk))
}

/// `GenerateAuthRequestCryptogram`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn generate_auth_request_cryptogram(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let (id, data) = read_common(&mut i)?;
    let major = i.req_enum("MajorKeyDerivationMode", attrs::parse_major, MAJOR_MODES)?;
    let derivation = session_attributes(&mut i)?;
    i.finish()?;
    let r = Request {
        id,
        data: transaction_data(data)?,
        major,
        derivation,
    };
    let (key, sk) = session_key(state, ctx, &r)?;
    let ac = emv::generate_arqc(sk.expose(), &r.data, AcPadding::None)?;
    Ok(json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
        "AuthRequestCryptogram": paycrypt_core::hex::encode(&ac),
    }))
}

enum Arpc {
    Method1([u8; 2]),
    Method2([u8; 4], Vec<u8>),
}

/// `VerifyAuthRequestCryptogram`.
///
/// # Errors
/// Validation, not-found and policy errors; `VerificationFailedException`
/// (INVALID_AUTH_REQUEST_CRYPTOGRAM).
pub fn verify_auth_request_cryptogram(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let (id, data) = read_common(&mut i)?;
    let arqc = hex_array::<8>(
        "AuthRequestCryptogram",
        i.req_str("AuthRequestCryptogram", HEX16)?,
    )?;
    let major = i.req_enum("MajorKeyDerivationMode", attrs::parse_major, MAJOR_MODES)?;
    let derivation = session_attributes(&mut i)?;
    let arpc = if i_has(&mut i)? {
        let (member, mut u) = i.req_union("AuthResponseAttributes")?;
        let a = match member.as_str() {
            "ArpcMethod1" => {
                let mut s = u.req_obj("ArpcMethod1")?;
                let arc = hex_array::<2>("AuthResponseCode", s.req_str("AuthResponseCode", HEX4)?)?;
                s.finish()?;
                Arpc::Method1(arc)
            }
            "ArpcMethod2" => {
                let mut s = u.req_obj("ArpcMethod2")?;
                let csu = hex_array::<4>("CardStatusUpdate", s.req_str("CardStatusUpdate", HEX8)?)?;
                let pad = match s.opt_str("ProprietaryAuthenticationData", PROPRIETARY_DATA)? {
                    Some(p) => hex("ProprietaryAuthenticationData", p)?,
                    None => Vec::new(),
                };
                s.finish()?;
                Arpc::Method2(csu, pad)
            }
            _ => return Err(u.unknown_member(&member)),
        };
        u.finish()?;
        Some(a)
    } else {
        None
    };
    i.finish()?;
    let r = Request {
        id,
        data: transaction_data(data)?,
        major,
        derivation,
    };
    let (key, sk) = session_key(state, ctx, &r)?;
    emv::verify_arqc(sk.expose(), &r.data, AcPadding::None, &arqc)?;
    let mut out = json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
    });
    let value = match arpc {
        None => None,
        Some(Arpc::Method1(arc)) => Some(paycrypt_core::hex::encode(&emv::arpc_method1(
            sk.expose(),
            &arqc,
            &arc,
        )?)),
        Some(Arpc::Method2(csu, pad)) => Some(paycrypt_core::hex::encode(&emv::arpc_method2(
            sk.expose(),
            &arqc,
            &csu,
            &pad,
        )?)),
    };
    if let (Some(v), Value::Object(m)) = (value, &mut out) {
        m.insert("AuthResponseValue".into(), Value::String(v));
    }
    Ok(out)
}

/// Whether the optional `AuthResponseAttributes` union is present (read as optional object).
fn i_has(i: &mut Input<'_>) -> Result<bool, ApiError> {
    Ok(i.opt_obj("AuthResponseAttributes")?.is_some())
}
