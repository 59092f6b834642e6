//! `GenerateCardValidationData` / `VerifyCardValidationData` (`POST /cardvalidationdata/generate`,
//! `/cardvalidationdata/verify`): `CardVerificationValue1` (CVV/CVC, iCVV with service code
//! 999) and `CardVerificationValue2` (CVV2, service code 000) with a C0 TDES_2KEY key;
//! `DynamicCardVerificationValue` (Visa dCVV, E6 key) and `DynamicCardVerificationCode`
//! (Mastercard CVC3, E4 key), both TDES_2KEY with DeriveKey (AWS-API.md §3.4).
//! `ValidationDataLength` 3..5, default 3; verification compares `len(ValidationData)` digits in
//! constant time and fails with `VerificationFailedException` `INVALID_VALIDATION_DATA`.
//! `AmexCardSecurityCodeVersion1/2`, `CardHolderVerificationValue` and
//! `DiscoverDynamicCardVerificationCode` are refused as not supported yet (their algorithms are
//! not public).

use paycrypt_core::card_verification::{self as cv, CvvKey};
use paycrypt_core::cipher::BlockCipher;
use serde_json::{json, Value};

use super::attrs::{EXPIRY, HEX2_4, HEX2_8, PAN, PSN, SERVICE_CODE, TRACK_DATA, VALIDATION_DATA};
use super::use_key;
use crate::error::ApiError;
use crate::policy::{DynamicCardScheme, KeyUse};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER};

enum Scheme<'a> {
    Cvv1 {
        expiry: &'a str,
        service_code: &'a str,
    },
    Cvv2 {
        expiry: &'a str,
    },
    Dcvv {
        psn: &'a str,
        expiry: &'a str,
        service_code: &'a str,
        atc: &'a str,
    },
    Cvc3 {
        un: &'a str,
        psn: &'a str,
        atc: &'a str,
        track: &'a str,
    },
}

fn attributes<'a>(i: &mut Input<'a>, name: &'static str) -> Result<Scheme<'a>, ApiError> {
    let (member, mut u) = i.req_union(name)?;
    let scheme = match member.as_str() {
        "CardVerificationValue1" => {
            let mut s = u.req_obj("CardVerificationValue1")?;
            let expiry = s.req_str("CardExpiryDate", EXPIRY)?;
            let service_code = s.req_str("ServiceCode", SERVICE_CODE)?;
            s.finish()?;
            Scheme::Cvv1 {
                expiry,
                service_code,
            }
        }
        "CardVerificationValue2" => {
            let mut s = u.req_obj("CardVerificationValue2")?;
            let expiry = s.req_str("CardExpiryDate", EXPIRY)?;
            s.finish()?;
            Scheme::Cvv2 { expiry }
        }
        "DynamicCardVerificationValue" => {
            let mut s = u.req_obj("DynamicCardVerificationValue")?;
            let psn = s.req_str("PanSequenceNumber", PSN)?;
            let expiry = s.req_str("CardExpiryDate", EXPIRY)?;
            let service_code = s.req_str("ServiceCode", SERVICE_CODE)?;
            let atc = s.req_str("ApplicationTransactionCounter", HEX2_4)?;
            s.finish()?;
            Scheme::Dcvv {
                psn,
                expiry,
                service_code,
                atc,
            }
        }
        "DynamicCardVerificationCode" => {
            let mut s = u.req_obj("DynamicCardVerificationCode")?;
            let un = s.req_str("UnpredictableNumber", HEX2_8)?;
            let psn = s.req_str("PanSequenceNumber", PSN)?;
            let atc = s.req_str("ApplicationTransactionCounter", HEX2_4)?;
            let track = s.req_str("TrackData", TRACK_DATA)?;
            s.finish()?;
            Scheme::Cvc3 {
                un,
                psn,
                atc,
                track,
            }
        }
        "AmexCardSecurityCodeVersion1"
        | "AmexCardSecurityCodeVersion2"
        | "CardHolderVerificationValue"
        | "DiscoverDynamicCardVerificationCode" => {
            return Err(ApiError::unsupported(&format!(
                "'{}' (the algorithm is not public)",
                u.path_of(&member)
            )))
        }
        _ => return Err(u.unknown_member(&member)),
    };
    u.finish()?;
    Ok(scheme)
}

fn key_use(s: &Scheme<'_>, generate: bool) -> KeyUse {
    match s {
        Scheme::Cvv1 { .. } | Scheme::Cvv2 { .. } => {
            if generate {
                KeyUse::CardGenerate
            } else {
                KeyUse::CardVerify
            }
        }
        Scheme::Dcvv { .. } => KeyUse::CardDynamic(DynamicCardScheme::Dcvv),
        Scheme::Cvc3 { .. } => KeyUse::CardDynamic(DynamicCardScheme::Cvc3),
    }
}

/// Either generate `length` digits (`value == None`) or verify `value`.
fn run(
    scheme: &Scheme<'_>,
    material: &[u8],
    pan: &str,
    length: usize,
    value: Option<&str>,
) -> Result<Option<String>, ApiError> {
    Ok(match scheme {
        Scheme::Cvv1 {
            expiry,
            service_code,
        } => {
            let k = CvvKey::new(material)?;
            match value {
                None => Some(cv::cvv(&k, pan, expiry, service_code, length)?),
                Some(v) => {
                    cv::verify_cvv(&k, pan, expiry, service_code, v)?;
                    None
                }
            }
        }
        Scheme::Cvv2 { expiry } => {
            let k = CvvKey::new(material)?;
            match value {
                None => Some(cv::cvv2(&k, pan, expiry, length)?),
                Some(v) => {
                    cv::verify_cvv2(&k, pan, expiry, v)?;
                    None
                }
            }
        }
        Scheme::Dcvv {
            psn,
            expiry,
            service_code,
            atc,
        } => {
            let mk = BlockCipher::tdes(material)?;
            match value {
                None => Some(cv::dcvv(&mk, pan, psn, expiry, service_code, atc, length)?),
                Some(v) => {
                    cv::verify_dcvv(&mk, pan, psn, expiry, service_code, atc, v)?;
                    None
                }
            }
        }
        Scheme::Cvc3 {
            un,
            psn,
            atc,
            track,
        } => {
            let mk = BlockCipher::tdes(material)?;
            match value {
                None => Some(cv::cvc3(&mk, pan, psn, track, un, atc, length)?),
                Some(v) => {
                    cv::verify_cvc3(&mk, pan, psn, track, un, atc, v)?;
                    None
                }
            }
        }
    })
}

/// `GenerateCardValidationData`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn generate_card_validation_data(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?;
    let pan = i.req_str("PrimaryAccountNumber", PAN)?;
    let scheme = attributes(&mut i, "GenerationAttributes")?;
    let length = i.opt_int("ValidationDataLength", 3, 5)?.unwrap_or(3) as usize;
    i.finish()?;
    let key = use_key(state, ctx, id, key_use(&scheme, true))?;
    let v = run(&scheme, key.material(), pan, length, None)?.unwrap_or_default();
    Ok(json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
        "ValidationData": v,
    }))
}

/// `VerifyCardValidationData`.
///
/// # Errors
/// Validation, not-found and policy errors; `VerificationFailedException`
/// (INVALID_VALIDATION_DATA).
pub fn verify_card_validation_data(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?;
    let pan = i.req_str("PrimaryAccountNumber", PAN)?;
    let scheme = attributes(&mut i, "VerificationAttributes")?;
    let value = i.req_str("ValidationData", VALIDATION_DATA)?;
    i.finish()?;
    let key = use_key(state, ctx, id, key_use(&scheme, false))?;
    run(&scheme, key.material(), pan, value.len(), Some(value))?;
    Ok(json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
    }))
}
