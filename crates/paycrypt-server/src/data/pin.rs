//! PIN operations: `TranslatePinData` (`POST /pindata/translate`), `GeneratePinData`
//! (`/pindata/generate`) and `VerifyPinData` (`/pindata/verify`).
//!
//! - PIN block formats ISO 0/1/3/4 (`paycrypt_core::pinblock`), with the PCI PIN 3-3
//!   translation rules of `pinblock::translate` (a PAN-bound format never goes to ISO 1; the
//!   incoming and outgoing PAN must match) and AES keys only with ISO 4. `As2805Format0` and
//!   `IncomingAs2805Attributes` are refused as not supported yet.
//! - Wrapped (dynamic) keys ([`super::wrapped`]): `Incoming/OutgoingWrappedKey` (TranslatePinData)
//!   and `EncryptionWrappedKey` (GeneratePinData, VerifyPinData): a P0 TR-31 block (mode B or D)
//!   under the named KEK, or an ECDH-derived key of the named K3 key pair (the mobile PIN
//!   set/reveal flows). Not combinable with DUKPT attributes on the same side. The response's
//!   key check value is then the working key's.
//! - DUKPT (`Incoming/OutgoingDukptAttributes`, `DukptAttributes`): a B0 BDK; TDES DUKPT uses the
//!   X9.24-1 PIN variant, AES DUKPT the X9.24-3 PIN-encryption working key (usage `1000`) of the
//!   requested derivation type. `DukptKeyVariant` does not select anything for PIN keys (one PIN
//!   key per transaction): `BIDIRECTIONAL` and `REQUEST` are accepted, `RESPONSE` is refused.
//! - TranslatePinData answers `KeyArn`/`KeyCheckValue` of the OUTGOING key (AWS-API.md §3.12 2).
//! - PIN generation: Visa PIN/PVV (V2 key) and IBM 3624 natural/offset/random/from-offset (V1
//!   key); random PINs from paycrypt-core. Decimalization tables: only REGISTERED tables are
//!   accepted ([`PinPolicy`]; `serve --decimalization-tables`, default
//!   [`DEFAULT_DECIMALIZATION_TABLES`]); any other table, and any table that does not map onto all
//!   ten digits, is a `ValidationException` that never echoes the table (REFERENCE §4.3: the
//!   decimalization-table attack).
//! - PIN-try counters ([`PinPolicy`]): `VerifyPinData` failures are counted per PAN (keyed by an
//!   HMAC-SHA-256 of the PAN under a per-process random key; the PAN is never stored) and per
//!   verification key, in memory on this node. With `--pin-try-limit N` (per PAN, consecutive
//!   failures, reset by a successful verification) or `--pin-key-failure-limit N` (per key, total
//!   since start) a PAN or key that reached its limit is refused with `AccessDeniedException`
//!   before the PIN block is decrypted. Counters reset on restart. Both limits default to 0 (off).
//!   Without a PAN (IBM 3624 with ISO format 1) the per-PAN counter is kept under the HMAC of the
//!   verification key ARN and the `PinValidationData`. `check` reserves the attempt under the
//!   lock (no concurrent overshoot); a new subject that cannot be tracked because its shard is
//!   full of locked entries is refused (fail closed).
//! - `PinDataLength` (4..12): for generation the PIN length (for schemes that read a PIN block
//!   or an offset it must agree with it); for verification the number of leftmost PIN digits
//!   checked (the IBM 3624 check length; default 4). A failed verification, including a PIN
//!   block that does not decrypt to a valid block under the key, is a
//!   `VerificationFailedException` with `Reason: INVALID_PIN`.

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::pin_verification::{
    self as pv, DecimalizationPolicy, DecimalizationTable, Ibm3624Params,
};
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use paycrypt_keystore::LoadedKey;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::attrs::{
    self, pan, read_dukpt, Dukpt, DukptRequest, VariantMember, DECIMALIZATION_TABLE,
    ENCRYPTED_PIN_BLOCK, PAD_CHARACTER, PAN, PIN_BLOCK_EVEN, PIN_DATA_FORMATS, PIN_OFFSET,
    PIN_VALIDATION_DATA, VERIFICATION_VALUE,
};
use super::wrapped::{self, read_wrapped_key, WrappedKeyRequest};
use super::{hex, use_key};
use crate::error::{ApiError, VerificationFailedReason};
use crate::policy::{KeyUse, PinScheme};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER};

/// An incoming or outgoing PIN key: a P0 key, or a BDK with DUKPT attributes.
fn pin_key(
    state: &AppState,
    ctx: &mut Ctx,
    id: &str,
    dukpt: Option<&DukptRequest<'_>>,
    use_: KeyUse,
) -> Result<(std::sync::Arc<LoadedKey>, BlockCipher), ApiError> {
    match dukpt {
        Some(d) => {
            let k = use_key(state, ctx, id, KeyUse::DukptDerive)?;
            let c = Dukpt::new_cached(&k, d)?.pin_cipher()?;
            Ok((k, c))
        }
        None => {
            let k = use_key(state, ctx, id, use_)?;
            let c = attrs::pin_cipher(&k)?;
            Ok((k, c))
        }
    }
}

/// One PIN key side as used by a response: ARN, check value and the PIN block cipher.
struct PinSide {
    arn: String,
    kcv: String,
    cipher: BlockCipher,
}

/// A PIN key side: a wrapped (dynamic) key, or [`pin_key`].
fn pin_side(
    state: &AppState,
    ctx: &mut Ctx,
    id: &str,
    dukpt: Option<&DukptRequest<'_>>,
    wrapped: Option<&WrappedKeyRequest<'_>>,
    use_: KeyUse,
) -> Result<PinSide, ApiError> {
    match (wrapped, dukpt) {
        (Some(w), Some(_)) => Err(ApiError::validation(format!(
            "'{}' cannot be combined with DUKPT attributes for the same key",
            w.path
        ))),
        (Some(w), None) => {
            let wk = wrapped::resolve(state, ctx, id, w, use_)?;
            Ok(PinSide {
                arn: wk.arn().to_owned(),
                kcv: wk.kcv.clone(),
                cipher: wk.cipher()?,
            })
        }
        (None, d) => {
            let (k, cipher) = pin_key(state, ctx, id, d, use_)?;
            Ok(PinSide {
                arn: k.key.key_arn.clone(),
                kcv: k.key.key_check_value.clone(),
                cipher,
            })
        }
    }
}

/// Read `TranslationIsoFormats` (union).
fn translation_format<'a>(
    i: &mut Input<'a>,
    name: &'static str,
) -> Result<(PinBlockFormat, Option<&'a str>), ApiError> {
    let (member, mut u) = i.req_union(name)?;
    let format = match member.as_str() {
        "IsoFormat0" => PinBlockFormat::Iso0,
        "IsoFormat1" => PinBlockFormat::Iso1,
        "IsoFormat3" => PinBlockFormat::Iso3,
        "IsoFormat4" => PinBlockFormat::ISO4,
        "As2805Format0" => return Err(ApiError::unsupported(&format!("'{}'", u.path_of(&member)))),
        _ => return Err(u.unknown_member(&member)),
    };
    let field: &'static str = match member.as_str() {
        "IsoFormat0" => "IsoFormat0",
        "IsoFormat1" => "IsoFormat1",
        "IsoFormat3" => "IsoFormat3",
        _ => "IsoFormat4",
    };
    let mut s = u.req_obj(field)?;
    let pan = if format.binds_pan() {
        Some(s.req_str("PrimaryAccountNumber", PAN)?)
    } else {
        None
    };
    s.finish()?;
    u.finish()?;
    Ok((format, pan))
}

/// Read an optional `DukptDerivationAttributes` member.
fn opt_dukpt<'a>(
    i: &mut Input<'a>,
    name: &'static str,
) -> Result<Option<DukptRequest<'a>>, ApiError> {
    let Some(mut s) = i.opt_obj(name)? else {
        return Ok(None);
    };
    let d = read_dukpt(
        &mut s,
        "DukptKeyDerivationType",
        false,
        VariantMember::Optional,
    )?;
    if d.variant == Some(paycrypt_core::dukpt::DukptKeyVariant::Response) {
        return Err(ApiError::validation(format!(
            "'{}' RESPONSE does not apply to DUKPT PIN encryption keys (use BIDIRECTIONAL or REQUEST)",
            s.path_of("DukptKeyVariant")
        )));
    }
    s.finish()?;
    Ok(Some(d))
}

/// `TranslatePinData`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn translate_pin_data(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let in_id = i.req_str("IncomingKeyIdentifier", KEY_IDENTIFIER)?;
    let out_id = i.req_str("OutgoingKeyIdentifier", KEY_IDENTIFIER)?;
    let (in_format, in_pan) = translation_format(&mut i, "IncomingTranslationAttributes")?;
    let (out_format, out_pan) = translation_format(&mut i, "OutgoingTranslationAttributes")?;
    let block_hex = i.req_str("EncryptedPinBlock", PIN_BLOCK_EVEN)?;
    let in_dukpt = opt_dukpt(&mut i, "IncomingDukptAttributes")?;
    let out_dukpt = opt_dukpt(&mut i, "OutgoingDukptAttributes")?;
    let in_wrapped = read_wrapped_key(&mut i, "IncomingWrappedKey")?;
    let out_wrapped = read_wrapped_key(&mut i, "OutgoingWrappedKey")?;
    i.unsupported("IncomingAs2805Attributes")?;
    i.finish()?;

    pinblock::translation_allowed(in_format, out_format)?;
    let in_pan = in_pan
        .map(|p| pan("IncomingTranslationAttributes.PrimaryAccountNumber", p))
        .transpose()?;
    let out_pan = out_pan
        .map(|p| pan("OutgoingTranslationAttributes.PrimaryAccountNumber", p))
        .transpose()?;
    let mut block = [0u8; 16];
    let n = block_hex.len() / 2;
    let raw = hex("EncryptedPinBlock", block_hex)?;
    block
        .get_mut(..n)
        .ok_or_else(|| ApiError::validation("EncryptedPinBlock is too long"))?
        .copy_from_slice(&raw);

    let in_side = pin_side(
        state,
        ctx,
        in_id,
        in_dukpt.as_ref(),
        in_wrapped.as_ref(),
        KeyUse::PinDecrypt,
    )?;
    let out_side = pin_side(
        state,
        ctx,
        out_id,
        out_dukpt.as_ref(),
        out_wrapped.as_ref(),
        KeyUse::PinEncrypt,
    )?;
    let mut out = [0u8; 16];
    let len = pinblock::translate_into(
        &in_side.cipher,
        in_format,
        &block[..n],
        in_pan.as_ref(),
        &out_side.cipher,
        out_format,
        out_pan.as_ref(),
        &mut out,
    )?;
    let pin_block = paycrypt_core::hex::encode(out.get(..len).unwrap_or(&[]));
    Ok(json!({
        "PinBlock": pin_block,
        "KeyArn": out_side.arn,
        "KeyCheckValue": out_side.kcv,
    }))
}

/// The PAN of a PIN generation/verification request: required when the format binds it or the
/// scheme (Visa) uses it; refused when nothing would use it.
fn pin_data_pan(
    format: PinBlockFormat,
    scheme: PinScheme,
    pan_str: Option<&str>,
) -> Result<Option<Pan>, ApiError> {
    let needed = format.binds_pan() || scheme == PinScheme::Visa;
    match (needed, pan_str) {
        (true, Some(p)) => Ok(Some(pan("PrimaryAccountNumber", p)?)),
        (true, None) => Err(ApiError::validation(format!(
            "PrimaryAccountNumber is required for PIN block {format} or the Visa PIN scheme"
        ))),
        (false, Some(_)) => Err(ApiError::validation(
            "PrimaryAccountNumber is not used by an ISO format 1 PIN block with IBM 3624 and must not be given",
        )),
        (false, None) => Ok(None),
    }
}

/// The IBM 3624 inputs shared by every `Ibm3624*` structure.
fn ibm_params(s: &mut Input<'_>, policy: &PinPolicy) -> Result<Ibm3624Params, ApiError> {
    let table = s.req_str("DecimalizationTable", DECIMALIZATION_TABLE)?;
    let pad = s.req_str("PinValidationDataPadCharacter", PAD_CHARACTER)?;
    let data = s.req_str("PinValidationData", PIN_VALIDATION_DATA)?;
    // Never echo the table: a fixed message whatever is wrong with it.
    let refused = || {
        ApiError::validation(format!(
            "'{}' is not a registered decimalization table (it must be one of the tables registered with --decimalization-tables and map onto all ten digits)",
            s.path_of("DecimalizationTable")
        ))
    };
    let table = DecimalizationTable::new(table).map_err(|_| refused())?;
    policy.tables.check(&table).map_err(|_| refused())?;
    let pad = pad.chars().next().unwrap_or('F');
    Ok(Ibm3624Params::new(&policy.tables, &table, data, pad)?)
}

enum Generation<'a> {
    VisaPin {
        pvki: u8,
    },
    VisaPvv {
        block: &'a str,
        pvki: u8,
    },
    IbmOffset {
        block: &'a str,
        params: Ibm3624Params,
    },
    IbmNatural {
        params: Ibm3624Params,
    },
    IbmRandom {
        params: Ibm3624Params,
    },
    IbmFromOffset {
        params: Ibm3624Params,
        offset: &'a str,
    },
}

fn pvki(s: &mut Input<'_>) -> Result<u8, ApiError> {
    let v = s
        .opt_int("PinVerificationKeyIndex", 0, 6)?
        .ok_or_else(|| ApiError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            s.path_of("PinVerificationKeyIndex")
        )))?;
    Ok(u8::try_from(v).unwrap_or(0))
}

fn generation_attributes<'a>(
    i: &mut Input<'a>,
    policy: &PinPolicy,
) -> Result<Generation<'a>, ApiError> {
    let (member, mut u) = i.req_union("GenerationAttributes")?;
    let g = match member.as_str() {
        "VisaPin" => {
            let mut s = u.req_obj("VisaPin")?;
            let g = Generation::VisaPin {
                pvki: pvki(&mut s)?,
            };
            s.finish()?;
            g
        }
        "VisaPinVerificationValue" => {
            let mut s = u.req_obj("VisaPinVerificationValue")?;
            let block = s.req_str("EncryptedPinBlock", ENCRYPTED_PIN_BLOCK)?;
            let g = Generation::VisaPvv {
                block,
                pvki: pvki(&mut s)?,
            };
            s.finish()?;
            g
        }
        "Ibm3624PinOffset" => {
            let mut s = u.req_obj("Ibm3624PinOffset")?;
            let block = s.req_str("EncryptedPinBlock", ENCRYPTED_PIN_BLOCK)?;
            let params = ibm_params(&mut s, policy)?;
            s.finish()?;
            Generation::IbmOffset { block, params }
        }
        "Ibm3624NaturalPin" => {
            let mut s = u.req_obj("Ibm3624NaturalPin")?;
            let params = ibm_params(&mut s, policy)?;
            s.finish()?;
            Generation::IbmNatural { params }
        }
        "Ibm3624RandomPin" => {
            let mut s = u.req_obj("Ibm3624RandomPin")?;
            let params = ibm_params(&mut s, policy)?;
            s.finish()?;
            Generation::IbmRandom { params }
        }
        "Ibm3624PinFromOffset" => {
            let mut s = u.req_obj("Ibm3624PinFromOffset")?;
            let params = ibm_params(&mut s, policy)?;
            let offset = s.req_str("PinOffset", PIN_OFFSET)?;
            s.finish()?;
            Generation::IbmFromOffset { params, offset }
        }
        _ => return Err(u.unknown_member(&member)),
    };
    u.finish()?;
    Ok(g)
}

fn check_len(given: Option<usize>, actual: usize, what: &str) -> Result<(), ApiError> {
    match given {
        Some(n) if n != actual => Err(ApiError::validation(format!(
            "PinDataLength must equal the length of the PIN given by {what}"
        ))),
        _ => Ok(()),
    }
}

/// `GeneratePinData`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn generate_pin_data(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let gen_id = i.req_str("GenerationKeyIdentifier", KEY_IDENTIFIER)?;
    let enc_id = i.req_str("EncryptionKeyIdentifier", KEY_IDENTIFIER)?;
    let generation = generation_attributes(&mut i, &state.pin)?;
    let len = i.opt_int("PinDataLength", 4, 12)?.map(|n| n as usize);
    let pan_str = i.opt_str("PrimaryAccountNumber", PAN)?;
    let format = i.req_enum(
        "PinBlockFormat",
        attrs::parse_pin_data_format,
        PIN_DATA_FORMATS,
    )?;
    let enc_wrapped = read_wrapped_key(&mut i, "EncryptionWrappedKey")?;
    i.finish()?;

    let scheme = match generation {
        Generation::VisaPin { .. } | Generation::VisaPvv { .. } => PinScheme::Visa,
        _ => PinScheme::Ibm3624,
    };
    let pan = pin_data_pan(format, scheme, pan_str)?;
    let gen_key = use_key(state, ctx, gen_id, KeyUse::PinGenerate(scheme))?;
    let reads_block = matches!(
        generation,
        Generation::VisaPvv { .. } | Generation::IbmOffset { .. }
    );
    let enc_key = pin_side(
        state,
        ctx,
        enc_id,
        None,
        enc_wrapped.as_ref(),
        if reads_block {
            KeyUse::PinDecrypt
        } else {
            KeyUse::PinEncrypt
        },
    )?;
    let pvk = attrs::pin_cipher(&gen_key)?;
    let pek = &enc_key.cipher;
    let n = len.unwrap_or(4);
    let decrypt = |block: &str| -> Result<Pin, ApiError> {
        let b = hex("EncryptedPinBlock", block)?;
        Ok(pinblock::decrypt_pin_block(pek, format, &b, pan.as_ref())?)
    };
    let (pin_block, pin_data) = match generation {
        Generation::VisaPin { pvki } => {
            let pan = pan
                .as_ref()
                .ok_or_else(|| ApiError::validation("PrimaryAccountNumber is required"))?;
            let (pin, pvv) = pv::generate_visa_pin(&pvk, pan, pvki, n)?;
            (
                pinblock::encrypt_pin_block(pek, format, &pin, Some(pan))?,
                json!({"VerificationValue": pvv}),
            )
        }
        Generation::VisaPvv { block, pvki } => {
            let pan = pan
                .as_ref()
                .ok_or_else(|| ApiError::validation("PrimaryAccountNumber is required"))?;
            let pin = decrypt(block)?;
            check_len(len, pin.len(), "the EncryptedPinBlock")?;
            let pvv = pv::visa_pvv(&pvk, pan, pvki, &pin)?;
            (
                hex("EncryptedPinBlock", block)?,
                json!({"VerificationValue": pvv}),
            )
        }
        Generation::IbmOffset { block, params } => {
            let pin = decrypt(block)?;
            check_len(len, pin.len(), "the EncryptedPinBlock")?;
            let offset = pv::ibm3624_offset(&pvk, &params, &pin)?;
            (
                hex("EncryptedPinBlock", block)?,
                json!({"PinOffset": offset}),
            )
        }
        Generation::IbmNatural { params } => {
            let pin = pv::ibm3624_natural_pin(&pvk, &params, n)?;
            (
                pinblock::encrypt_pin_block(pek, format, &pin, pan.as_ref())?,
                json!({"PinOffset": "0".repeat(n)}),
            )
        }
        Generation::IbmRandom { params } => {
            let (pin, offset) = pv::ibm3624_random_pin(&pvk, &params, n)?;
            (
                pinblock::encrypt_pin_block(pek, format, &pin, pan.as_ref())?,
                json!({"PinOffset": offset}),
            )
        }
        Generation::IbmFromOffset { params, offset } => {
            check_len(len, offset.len(), "the PinOffset")?;
            let pin = pv::ibm3624_pin_from_offset(&pvk, &params, offset)?;
            (
                pinblock::encrypt_pin_block(pek, format, &pin, pan.as_ref())?,
                json!({"PinOffset": offset}),
            )
        }
    };
    Ok(json!({
        "GenerationKeyArn": gen_key.key.key_arn,
        "GenerationKeyCheckValue": gen_key.key.key_check_value,
        "EncryptionKeyArn": enc_key.arn,
        "EncryptionKeyCheckValue": enc_key.kcv,
        "EncryptedPinBlock": paycrypt_core::hex::encode(&pin_block),
        "PinData": pin_data,
    }))
}

enum Verification<'a> {
    Visa {
        pvki: u8,
        pvv: &'a str,
    },
    Ibm {
        params: Ibm3624Params,
        offset: &'a str,
    },
}

fn invalid_pin() -> ApiError {
    ApiError::VerificationFailed {
        reason: VerificationFailedReason::InvalidPin,
        message: "PIN verification failed".into(),
    }
}

/// `VerifyPinData`.
///
/// # Errors
/// Validation, not-found and policy errors; `VerificationFailedException` (INVALID_PIN).
pub fn verify_pin_data(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let ver_id = i.req_str("VerificationKeyIdentifier", KEY_IDENTIFIER)?;
    let enc_id = i.req_str("EncryptionKeyIdentifier", KEY_IDENTIFIER)?;
    let (member, mut u) = i.req_union("VerificationAttributes")?;
    let verification = match member.as_str() {
        "VisaPin" => {
            let mut s = u.req_obj("VisaPin")?;
            let pvki = pvki(&mut s)?;
            let pvv = s.req_str("VerificationValue", VERIFICATION_VALUE)?;
            s.finish()?;
            Verification::Visa { pvki, pvv }
        }
        "Ibm3624Pin" => {
            let mut s = u.req_obj("Ibm3624Pin")?;
            let params = ibm_params(&mut s, &state.pin)?;
            let offset = s.req_str("PinOffset", PIN_OFFSET)?;
            s.finish()?;
            Verification::Ibm { params, offset }
        }
        _ => return Err(u.unknown_member(&member)),
    };
    u.finish()?;
    let block_hex = i.req_str("EncryptedPinBlock", ENCRYPTED_PIN_BLOCK)?;
    let pan_str = i.opt_str("PrimaryAccountNumber", PAN)?;
    let format = i.req_enum(
        "PinBlockFormat",
        attrs::parse_pin_data_format,
        PIN_DATA_FORMATS,
    )?;
    let len = i.opt_int("PinDataLength", 4, 12)?.map(|n| n as usize);
    let dukpt = match i.opt_obj("DukptAttributes")? {
        Some(mut s) => {
            let d = read_dukpt(&mut s, "DukptDerivationType", true, VariantMember::Absent)?;
            s.finish()?;
            Some(d)
        }
        None => None,
    };
    let enc_wrapped = read_wrapped_key(&mut i, "EncryptionWrappedKey")?;
    i.finish()?;

    let scheme = match verification {
        Verification::Visa { .. } => PinScheme::Visa,
        Verification::Ibm { .. } => PinScheme::Ibm3624,
    };
    let pan = pin_data_pan(format, scheme, pan_str)?;
    let block = hex("EncryptedPinBlock", block_hex)?;
    let ver_key = use_key(state, ctx, ver_id, KeyUse::PinVerify(scheme))?;
    let enc_key = pin_side(
        state,
        ctx,
        enc_id,
        dukpt.as_ref(),
        enc_wrapped.as_ref(),
        KeyUse::PinDecrypt,
    )?;
    // PIN-try limits: reserve the attempt (or refuse) before the PIN block is decrypted. Without
    // a PAN (IBM 3624, ISO format 1) the subject is the key ARN and the PinValidationData.
    let validation_data = body
        .pointer("/VerificationAttributes/Ibm3624Pin/PinValidationData")
        .and_then(Value::as_str);
    let subject = state
        .pin
        .subject(pan.as_ref(), &ver_key.key.key_arn, validation_data);
    let attempt = state
        .pin
        .check(subject, &ver_key.key.key_arn, &state.metrics)?;
    let result = (|| -> Result<(), ApiError> {
        let pvk = attrs::pin_cipher(&ver_key)?;
        let pin = match pinblock::decrypt_pin_block(&enc_key.cipher, format, &block, pan.as_ref()) {
            Ok(p) => p,
            Err(paycrypt_core::Error::PinBlock(pinblock::PinBlockError::InvalidPinBlock)) => {
                return Err(invalid_pin())
            }
            Err(e) => return Err(e.into()),
        };
        // The number of leftmost PIN digits checked (IBM 3624 check length; default 4).
        let n = len.unwrap_or(4);
        let checked = pin
            .digits()
            .get(..n)
            .map(|d| Pin::from_digits(d.to_vec()))
            .transpose()?
            .ok_or_else(invalid_pin)?;
        match verification {
            Verification::Visa { pvki, pvv } => {
                let pan = pan
                    .as_ref()
                    .ok_or_else(|| ApiError::validation("PrimaryAccountNumber is required"))?;
                pv::verify_visa_pvv(&pvk, pan, pvki, &checked, pvv)?;
            }
            Verification::Ibm { params, offset } => {
                if offset.len() != n {
                    return Err(ApiError::validation(
                        "PinOffset must have PinDataLength digits (default 4): the IBM 3624 check length",
                    ));
                }
                pv::verify_ibm3624_offset(&pvk, &params, &checked, offset)?;
            }
        }
        Ok(())
    })();
    let outcome = match &result {
        Ok(()) => PinOutcome::Verified,
        Err(ApiError::VerificationFailed { .. }) => PinOutcome::Failed,
        Err(_) => PinOutcome::NotAttempted,
    };
    state
        .pin
        .settle(attempt, &ver_key.key.key_arn, outcome, &state.metrics);
    result?;
    Ok(json!({
        "VerificationKeyArn": ver_key.key.key_arn,
        "VerificationKeyCheckValue": ver_key.key.key_check_value,
        "EncryptionKeyArn": enc_key.arn,
        "EncryptionKeyCheckValue": enc_key.kcv,
    }))
}

/// The decimalization tables registered by default: the standard identity table and the table of
/// AWS's own published IBM 3624 examples (user guide / CLI `generate-pin-data` and
/// `verify-pin-data` examples), so AWS samples keep working.
pub const DEFAULT_DECIMALIZATION_TABLES: &[&str] = &["0123456789012345", "9876543210654321"];

const PAN_SHARDS: usize = 16;
/// Most subjects (PANs, or PAN-less accounts) tracked per shard (memory bound: 16 × 4096 entries
/// of 40 bytes).
const PAN_SHARD_CAP: usize = 4096;
/// Most verification keys tracked.
const KEY_CAP: usize = 65_536;
/// Domain-separation label of the PIN-try subject of a request without a PAN (IBM 3624 with an
/// ISO format 1 PIN block): HMAC(label ‖ 0 ‖ verification key ARN ‖ 0 ‖ PinValidationData). A
/// PAN's subject is HMAC(PAN digits), which never contains this label's letters.
const NO_PAN_SUBJECT_LABEL: &[u8] = b"paycrypt/pin-try/ibm3624-no-pan";

/// A PIN-try counter: completed failures and attempts reserved by `check` and not yet settled.
#[derive(Clone, Copy, Default)]
struct Count {
    failed: u32,
    pending: u32,
}

impl Count {
    /// Whether this entry must survive an eviction (locked, or an attempt is in flight).
    fn keep(self, limit: u32) -> bool {
        self.pending > 0 || self.failed >= limit
    }
}

/// Who a `VerifyPinData` request guesses the PIN of, for the per-PAN counter: the HMAC of the
/// PAN, or (no PAN in the request) the HMAC of the verification key ARN and the
/// `PinValidationData`. Never a clear value.
#[derive(Clone, Copy)]
pub struct PinSubject([u8; 32]);

impl std::fmt::Debug for PinSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinSubject(..)")
    }
}

/// What `check` reserved for one attempt; settle it with `settle`.
#[derive(Debug)]
#[must_use]
pub struct PinAttempt {
    subject: Option<PinSubject>,
    key: bool,
}

/// How a reserved attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    /// The PIN verified: the subject's counter is reset.
    Verified,
    /// `VerificationFailedException` (INVALID_PIN): the attempt is counted.
    Failed,
    /// Any other error (bad input, key refused…): the attempt is given back.
    NotAttempted,
}

/// PIN policy of this node: the registered decimalization tables and the PIN-try counters
/// (in memory, per process; see the module documentation).
pub struct PinPolicy {
    tables: DecimalizationPolicy,
    pan_limit: u32,
    key_limit: u32,
    pan_key: [u8; 32],
    shard_cap: usize,
    pans: [Mutex<HashMap<[u8; 32], Count>>; PAN_SHARDS],
    keys: Mutex<HashMap<String, Count>>,
    refusals: AtomicU64,
}

impl std::fmt::Debug for PinPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinPolicy")
            .field("pan_limit", &self.pan_limit)
            .field("key_limit", &self.key_limit)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Give back a reserved attempt; drop the entry when nothing is left in it.
fn give_back<K, Q>(map: &mut HashMap<K, Count>, k: &Q)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(c) = map.get_mut(k) {
        c.pending = c.pending.saturating_sub(1);
        if c.pending == 0 && c.failed == 0 {
            map.remove(k);
        }
    }
}

impl PinPolicy {
    /// Parse the registered tables (`None` = [`DEFAULT_DECIMALIZATION_TABLES`]) and set the
    /// limits (0 = off): `pan_limit` consecutive failed verifications per PAN, `key_limit`
    /// failed verifications per verification key since start.
    ///
    /// # Errors
    /// A message (without the table value) if a table is not 16 digits mapping onto all ten.
    pub fn new(tables: Option<&[String]>, pan_limit: u32, key_limit: u32) -> Result<Self, String> {
        Self::with_shard_capacity(tables, pan_limit, key_limit, PAN_SHARD_CAP)
    }

    /// [`PinPolicy::new`] with `shard_cap` subjects per shard (16 shards) instead of 4096: for
    /// tests of the full-table behaviour.
    ///
    /// # Errors
    /// As [`PinPolicy::new`].
    #[doc(hidden)]
    pub fn with_shard_capacity(
        tables: Option<&[String]>,
        pan_limit: u32,
        key_limit: u32,
        shard_cap: usize,
    ) -> Result<Self, String> {
        let list = match tables {
            None => DEFAULT_DECIMALIZATION_TABLES
                .iter()
                .map(|t| DecimalizationTable::new(t))
                .collect::<Result<Vec<_>, _>>(),
            Some(ts) => ts
                .iter()
                .map(|t| DecimalizationTable::new(t.trim()))
                .collect::<Result<Vec<_>, _>>(),
        }
        .map_err(|_| {
            "a registered decimalization table must be 16 decimal digits mapping onto all ten digits"
                .to_owned()
        })?;
        if list.is_empty() {
            return Err("register at least one decimalization table".into());
        }
        let mut pan_key = [0u8; 32];
        paycrypt_core::random::fill(&mut pan_key)
            .map_err(|e| format!("no randomness for the PIN-try counter key: {e}"))?;
        Ok(Self {
            tables: DecimalizationPolicy::registered(list),
            pan_limit,
            key_limit,
            pan_key,
            shard_cap: shard_cap.min(PAN_SHARD_CAP),
            pans: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            keys: Mutex::new(HashMap::new()),
            refusals: AtomicU64::new(0),
        })
    }

    /// Whether either limit is on.
    fn counting(&self) -> bool {
        self.pan_limit > 0 || self.key_limit > 0
    }

    fn hmac(&self, parts: &[&[u8]]) -> Option<PinSubject> {
        let mac = paycrypt_core::mac::hmac(
            paycrypt_core::mac::HashAlgorithm::Sha256,
            &self.pan_key,
            &parts.concat(),
        )
        .ok()?;
        Some(PinSubject(mac.get(..32)?.try_into().ok()?))
    }

    /// The per-PAN counter subject of a request: the HMAC of the PAN under the per-process key;
    /// without a PAN (IBM 3624 with ISO format 1), the HMAC of a domain-separation label, the
    /// verification key ARN and the `PinValidationData` (what identifies the account then).
    /// `None` only if neither is given (then `check` refuses while the per-PAN limit is on).
    pub fn subject(
        &self,
        pan: Option<&Pan>,
        key_arn: &str,
        validation_data: Option<&str>,
    ) -> Option<PinSubject> {
        match (pan, validation_data) {
            (Some(p), _) => self.hmac(&[p.as_str().as_bytes()]),
            (None, Some(d)) => self.hmac(&[
                NO_PAN_SUBJECT_LABEL,
                b"\0",
                key_arn.as_bytes(),
                b"\0",
                d.as_bytes(),
            ]),
            (None, None) => None,
        }
    }

    fn refuse(&self, why: &str, metrics: &crate::metrics::Metrics) -> ApiError {
        self.refusals.fetch_add(1, Ordering::Relaxed);
        metrics.pin_try_limit_refusal();
        ApiError::AccessDenied {
            message: format!("VerifyPinData refused: {why} (counters reset on a server restart)"),
        }
    }

    /// Reserve one attempt for the subject and the key, or refuse (`AccessDeniedException`) when
    /// either reached its limit (completed failures plus attempts in flight), or when a new
    /// subject or key cannot be tracked because its table is full of locked entries (fail
    /// closed). Settle the returned attempt with [`PinPolicy::settle`].
    ///
    /// # Errors
    /// `AccessDeniedException` naming which limit (never the PAN).
    pub fn check(
        &self,
        subject: Option<PinSubject>,
        key_arn: &str,
        metrics: &crate::metrics::Metrics,
    ) -> Result<PinAttempt, ApiError> {
        let mut attempt = PinAttempt {
            subject: None,
            key: false,
        };
        if !self.counting() {
            return Ok(attempt);
        }
        if self.pan_limit > 0 {
            let Some(s) = subject else {
                return Err(self.refuse(
                    "the PIN try limit cannot be applied to this request",
                    metrics,
                ));
            };
            let Some(m) = self.pans.get(usize::from(s.0[0]) % PAN_SHARDS) else {
                return Err(self.refuse(
                    "the PIN try limit cannot be applied to this request",
                    metrics,
                ));
            };
            let mut g = lock(m);
            if !g.contains_key(&s.0) && g.len() >= self.shard_cap {
                // Bound memory: forget the subjects that are neither locked nor in flight.
                let limit = self.pan_limit;
                g.retain(|_, c| c.keep(limit));
                if g.len() >= self.shard_cap {
                    return Err(self.refuse(
                        "the PIN try limit table of this node is full of locked accounts",
                        metrics,
                    ));
                }
            }
            let c = g.entry(s.0).or_default();
            if c.failed.saturating_add(c.pending) >= self.pan_limit {
                if c.failed == 0 && c.pending == 0 {
                    g.remove(&s.0);
                }
                return Err(self.refuse(
                    "the PIN try limit for this PrimaryAccountNumber is reached",
                    metrics,
                ));
            }
            c.pending += 1;
            attempt.subject = Some(s);
        }
        if self.key_limit > 0 {
            let refused = {
                let mut g = lock(&self.keys);
                if !g.contains_key(key_arn) && g.len() >= KEY_CAP {
                    Some("the PIN verification failure table of this node is full")
                } else {
                    let c = g.entry(key_arn.to_owned()).or_default();
                    if c.failed.saturating_add(c.pending) >= self.key_limit {
                        if c.failed == 0 && c.pending == 0 {
                            g.remove(key_arn);
                        }
                        Some(
                            "the PIN verification failure limit of this verification key is reached",
                        )
                    } else {
                        c.pending += 1;
                        None
                    }
                }
            };
            if let Some(why) = refused {
                self.settle(attempt, key_arn, PinOutcome::NotAttempted, metrics);
                return Err(self.refuse(why, metrics));
            }
            attempt.key = true;
        }
        Ok(attempt)
    }

    /// Settle an attempt reserved by [`PinPolicy::check`]: a verified PIN resets the subject's
    /// counter (not the key's, which counts failures since start); a failed verification is
    /// counted; any other outcome gives the reservation back.
    pub fn settle(
        &self,
        attempt: PinAttempt,
        key_arn: &str,
        outcome: PinOutcome,
        metrics: &crate::metrics::Metrics,
    ) {
        if outcome == PinOutcome::Failed {
            metrics.pin_verification_failure();
        }
        if let Some(s) = attempt.subject {
            if let Some(m) = self.pans.get(usize::from(s.0[0]) % PAN_SHARDS) {
                let mut g = lock(m);
                match outcome {
                    PinOutcome::Verified => {
                        if let Some(c) = g.get_mut(&s.0) {
                            c.failed = 0;
                        }
                        give_back(&mut g, &s.0);
                    }
                    PinOutcome::Failed => {
                        // The entry exists while the attempt is pending (evictions keep it).
                        if let Some(c) = g.get_mut(&s.0) {
                            c.pending = c.pending.saturating_sub(1);
                            c.failed = c.failed.saturating_add(1);
                        }
                    }
                    PinOutcome::NotAttempted => give_back(&mut g, &s.0),
                }
            }
        }
        if attempt.key {
            let mut g = lock(&self.keys);
            if outcome == PinOutcome::Failed {
                if let Some(c) = g.get_mut(key_arn) {
                    c.pending = c.pending.saturating_sub(1);
                    c.failed = c.failed.saturating_add(1);
                }
            } else {
                give_back(&mut g, key_arn);
            }
        }
    }

    /// Refusals so far (for tests; the metric is `paycrypt_pin_try_limit_refusals_total`).
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pan(i: usize) -> Pan {
        Pan::new(&format!("4{i:015}")).unwrap()
    }

    #[test]
    fn counters_are_bounded_and_keep_locked_pans() {
        let m = crate::metrics::Metrics::default();
        let p = PinPolicy::new(None, 2, 0).unwrap();
        let fail = |pan: &Pan| {
            let s = p.subject(Some(pan), "k", None);
            if let Ok(a) = p.check(s, "k", &m) {
                p.settle(a, "k", PinOutcome::Failed, &m);
            }
        };
        let locked = pan(999_999_999);
        fail(&locked);
        fail(&locked);
        let ls = p.subject(Some(&locked), "k", None);
        assert!(p.check(ls, "k", &m).is_err());
        // Flood every shard past its cap with PANs that failed once (evictable).
        for i in 0..PAN_SHARDS * PAN_SHARD_CAP + 64 {
            fail(&pan(i));
        }
        let total: usize = p.pans.iter().map(|s| lock(s).len()).sum();
        assert!(total <= PAN_SHARDS * PAN_SHARD_CAP, "{total}");
        // The locked PAN survived the eviction and is still refused.
        assert!(p.check(ls, "k", &m).is_err());
        // (The maps are keyed by the 32-byte HMAC, by type.) Debug shows no PAN and no HMAC key.
        let dbg = format!("{p:?} {:?}", ls);
        assert!(
            !dbg.contains("4999999999") && !dbg.contains("pan_key"),
            "{dbg}"
        );
    }

    #[test]
    fn reservations_bound_concurrent_attempts() {
        let m = crate::metrics::Metrics::default();
        let p = PinPolicy::new(None, 3, 0).unwrap();
        let s = p.subject(Some(&pan(1)), "k", None);
        // Three attempts in flight at once use up the limit; a fourth is refused.
        let a: Vec<_> = (0..3).map(|_| p.check(s, "k", &m).unwrap()).collect();
        assert!(p.check(s, "k", &m).is_err());
        // Giving one back (bad input) frees one slot; a verification failure keeps it.
        let mut a = a.into_iter();
        p.settle(a.next().unwrap(), "k", PinOutcome::NotAttempted, &m);
        p.settle(a.next().unwrap(), "k", PinOutcome::Failed, &m);
        let b = p.check(s, "k", &m).unwrap();
        assert!(p.check(s, "k", &m).is_err());
        // A success resets the completed failures (the other in-flight attempts stay reserved).
        p.settle(b, "k", PinOutcome::Verified, &m);
        let c = p.check(s, "k", &m).unwrap();
        let d = p.check(s, "k", &m).unwrap();
        assert!(p.check(s, "k", &m).is_err());
        for x in [a.next().unwrap(), c, d] {
            p.settle(x, "k", PinOutcome::NotAttempted, &m);
        }
        assert!(p.pans.iter().all(|sh| lock(sh).is_empty()));
    }
}
