//! `EncryptData` / `DecryptData` (`POST /keys/{KeyIdentifier}/encrypt|decrypt`) with
//! `Symmetric` attributes: D0 keys, TDES or AES, modes ECB, CBC, CFB (full block), CFB1, CFB8,
//! CFB64, CFB128, OFB; IV default zero; data a multiple of the cipher block (AWS-API.md §3.10).
//! `Asymmetric`, `Dukpt`, `Emv` attributes, `PaddingType` and `WrappedKey` are refused as not
//! supported yet.

use paycrypt_core::cipher::{BlockCipher, Mode};
use serde_json::{json, Value};

use super::{check_label, hex, use_key};
use crate::error::ApiError;
use crate::policy::KeyUse;
use crate::state::{AppState, Ctx};
use crate::validate::{Input, StrShape, CIPHER_TEXT, IV, KEY_IDENTIFIER, PLAIN_TEXT};

const MODES: &[&str] = &[
    "ECB", "CBC", "CFB", "CFB1", "CFB8", "CFB64", "CFB128", "OFB",
];
const PADDING_TYPES: &[&str] = &["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"];

/// The AWS `EncryptionMode` names; `CFB` is full-block CFB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EncryptionMode {
    Ecb,
    Cbc,
    Cfb,
    Cfb1,
    Cfb8,
    Cfb64,
    Cfb128,
    Ofb,
}

fn parse_mode(s: &str) -> Option<EncryptionMode> {
    Some(match s {
        "ECB" => EncryptionMode::Ecb,
        "CBC" => EncryptionMode::Cbc,
        "CFB" => EncryptionMode::Cfb,
        "CFB1" => EncryptionMode::Cfb1,
        "CFB8" => EncryptionMode::Cfb8,
        "CFB64" => EncryptionMode::Cfb64,
        "CFB128" => EncryptionMode::Cfb128,
        "OFB" => EncryptionMode::Ofb,
        _ => return None,
    })
}

fn parse_padding(s: &str) -> Option<&'static str> {
    PADDING_TYPES.iter().find(|p| **p == s).copied()
}

struct Symmetric<'a> {
    mode: EncryptionMode,
    iv: Option<&'a str>,
}

/// Read `EncryptionAttributes`/`DecryptionAttributes` (union); only `Symmetric` is supported.
fn attributes<'a>(i: &mut Input<'a>, name: &'static str) -> Result<Symmetric<'a>, ApiError> {
    let (member, mut u) = i.req_union(name)?;
    match member.as_str() {
        "Symmetric" => {
            let mut s = u.req_obj("Symmetric")?;
            let mode = s.req_enum("Mode", parse_mode, MODES)?;
            let iv = s.opt_str("InitializationVector", IV)?;
            if s.opt_enum("PaddingType", parse_padding, PADDING_TYPES)?
                .is_some()
            {
                return Err(ApiError::unsupported(&format!(
                    "'{}'",
                    s.path_of("PaddingType")
                )));
            }
            s.finish()?;
            u.finish()?;
            Ok(Symmetric { mode, iv })
        }
        "Asymmetric" | "Dukpt" | "Emv" => {
            Err(ApiError::unsupported(&format!("'{}'", u.path_of(&member))))
        }
        _ => {
            let path = u.path_of(&member);
            u.finish()?;
            Err(ApiError::validation(format!("Unknown member '{path}'")))
        }
    }
}

fn run(
    state: &AppState,
    ctx: &mut Ctx,
    label: Option<&str>,
    body: &Value,
    encrypt: bool,
) -> Result<Value, ApiError> {
    let id = check_label("KeyIdentifier", label, KEY_IDENTIFIER)?;
    let mut i = Input::root(body)?;
    let (data_name, data_shape, attr_name): (&'static str, StrShape, &'static str) = if encrypt {
        ("PlainText", PLAIN_TEXT, "EncryptionAttributes")
    } else {
        ("CipherText", CIPHER_TEXT, "DecryptionAttributes")
    };
    let data_hex = i.req_str(data_name, data_shape)?;
    let attrs = attributes(&mut i, attr_name)?;
    i.unsupported("WrappedKey")?;
    i.finish()?;

    let key = use_key(
        state,
        ctx,
        id,
        if encrypt {
            KeyUse::EncryptSymmetric
        } else {
            KeyUse::DecryptSymmetric
        },
    )?;
    let algorithm = key
        .key
        .key_attributes
        .key_algorithm
        .cipher_algorithm()
        .ok_or_else(|| ApiError::validation("The key's algorithm is not a block cipher"))?;
    let cipher = BlockCipher::new(algorithm, key.material())?;
    let bs = cipher.block_size();
    let data = zeroize::Zeroizing::new(hex(data_name, data_hex)?);
    if data.len() % bs != 0 {
        return Err(ApiError::validation(format!(
            "{data_name} must be a multiple of {bs} bytes ({} hex characters) for a {} key",
            bs * 2,
            key.key.key_attributes.key_algorithm
        )));
    }
    let mode = match attrs.mode {
        EncryptionMode::Ecb => Mode::Ecb,
        EncryptionMode::Cbc => Mode::Cbc,
        EncryptionMode::Cfb => Mode::cfb_full_block(bs),
        EncryptionMode::Cfb1 => Mode::Cfb1,
        EncryptionMode::Cfb8 => Mode::Cfb8,
        EncryptionMode::Cfb64 => Mode::Cfb64,
        EncryptionMode::Cfb128 => {
            if bs < 16 {
                return Err(ApiError::validation(
                    "Mode CFB128 needs a 128-bit block cipher (AES); use CFB or CFB64 with TDES",
                ));
            }
            Mode::Cfb128
        }
        EncryptionMode::Ofb => Mode::Ofb,
    };
    let iv = match attrs.iv {
        None => vec![0u8; bs],
        Some(h) => {
            let v = hex("InitializationVector", h)?;
            if v.len() != bs && mode != Mode::Ecb {
                return Err(ApiError::validation(format!(
                    "InitializationVector must be {} hex characters for a {} key",
                    bs * 2,
                    key.key.key_attributes.key_algorithm
                )));
            }
            v
        }
    };
    let out = zeroize::Zeroizing::new(if encrypt {
        cipher.encrypt(mode, &iv, &data)?
    } else {
        cipher.decrypt(mode, &iv, &data)?
    });
    let out_name = if encrypt { "CipherText" } else { "PlainText" };
    let mut v = json!({
        "KeyArn": key.key.key_arn,
        "KeyCheckValue": key.key.key_check_value,
    });
    if let Value::Object(m) = &mut v {
        m.insert(
            out_name.into(),
            Value::String(paycrypt_core::hex::encode(&out)),
        );
    }
    Ok(v)
}

/// `EncryptData`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn encrypt_data(
    state: &AppState,
    ctx: &mut Ctx,
    label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    run(state, ctx, label, body, true)
}

/// `DecryptData`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn decrypt_data(
    state: &AppState,
    ctx: &mut Ctx,
    label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    run(state, ctx, label, body, false)
}
