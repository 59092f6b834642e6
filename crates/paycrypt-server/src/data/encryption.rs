//! `EncryptData` / `DecryptData` (`POST /keys/{KeyIdentifier}/encrypt|decrypt`) and
//! `ReEncryptData` (`POST /keys/{IncomingKeyIdentifier}/reencrypt`), AWS-API.md §3.10:
//! - `Symmetric`: D0 keys, TDES or AES, modes ECB, CBC, CFB (full block), CFB1, CFB8, CFB64,
//!   CFB128, OFB; IV default zero; data a multiple of the cipher block. `PaddingType` (an RSA
//!   padding enum) is refused there.
//! - `Dukpt`: B0 BDK (TDES_2KEY: X9.24-1 data variant; AES: X9.24-3 data working key of the
//!   `DukptKeyDerivationType`, default the BDK's algorithm); `Mode` ECB/CBC (default CBC), IV
//!   default zero, `DukptKeyVariant` default BIDIRECTIONAL (TDES: = the request variant, the
//!   P2PE convention of AWS-API.md §3.12 item 6).
//! - `Emv`: E1/E6 issuer master key (TDES_2KEY): ICC master key by option A/B, session key by
//!   the EMV common session key derivation with `SessionDerivationData`, TDES `Mode` ECB/CBC
//!   (default CBC), IV default zero (`paycrypt_core::emv::derive_data_key`). Not in ReEncryptData
//!   (the model has no `Emv` there).
//! - `Asymmetric`: D1 RSA keys; `PaddingType` PKCS1 / OAEP_SHA1 / OAEP_SHA256 / OAEP_SHA512
//!   required (raw RSA without padding is refused as not supported). Encryption uses the public
//!   key (an imported PUBLIC_KEY or the public half of a key pair), decryption the PKCS#8 private
//!   key of a key pair.
//!
//! `WrappedKey` / `IncomingWrappedKey` / `OutgoingWrappedKey` (dynamic keys, [`super::wrapped`]):
//! with `Symmetric` attributes only; the key identifier then names the KEK (TR-31 D0 block, mode
//! B or D) or the K3 key pair (ECDH-derived key), and the response's `KeyCheckValue` is the
//! working key's.

use paycrypt_core::asym::{self, RsaPadding};
use paycrypt_core::cipher::{BlockCipher, Mode};
use paycrypt_core::emv::{self, EmvEncryptionMode};
use paycrypt_keystore::LoadedKey;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::attrs::{
    self, hex_array, read_dukpt, Dukpt, DukptRequest, VariantMember, HEX16, MAJOR_MODES, PAN, PSN,
};
use super::wrapped::{self, read_wrapped_key, WorkingKey, WrappedKeyRequest};
use super::{check_label, hex, use_key};
use crate::error::ApiError;
use crate::policy::KeyUse;
use crate::state::{AppState, Ctx};
use crate::validate::{Input, StrShape, CIPHER_TEXT, IV, KEY_IDENTIFIER, PLAIN_TEXT};

const MODES: &[&str] = &[
    "ECB", "CBC", "CFB", "CFB1", "CFB8", "CFB64", "CFB128", "OFB",
];
const PADDING_TYPES: &[&str] = &["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"];
const ECB_CBC: &[&str] = &["ECB", "CBC"];

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

fn parse_padding(s: &str) -> Option<RsaPadding> {
    Some(match s {
        "PKCS1" => RsaPadding::Pkcs1,
        "OAEP_SHA1" => RsaPadding::OaepSha1,
        "OAEP_SHA256" => RsaPadding::OaepSha256,
        "OAEP_SHA512" => RsaPadding::OaepSha512,
        _ => return None,
    })
}

fn parse_ecb_cbc(s: &str) -> Option<Mode> {
    Some(match s {
        "ECB" => Mode::Ecb,
        "CBC" => Mode::Cbc,
        _ => return None,
    })
}

/// One member of `EncryptionDecryptionAttributes` / `ReEncryptionAttributes`.
enum Attrs<'a> {
    Symmetric {
        mode: EncryptionMode,
        iv: Option<&'a str>,
    },
    Asymmetric {
        padding: RsaPadding,
    },
    Dukpt {
        req: DukptRequest<'a>,
        mode: Mode,
        iv: Option<&'a str>,
    },
    Emv {
        major: emv::MajorKeyDerivation,
        pan: &'a str,
        psn: &'a str,
        sdd: [u8; 8],
        mode: EmvEncryptionMode,
        iv: Option<&'a str>,
    },
}

/// Read the attributes union `name`; `emv_allowed` is false for `ReEncryptionAttributes`.
fn attributes<'a>(
    i: &mut Input<'a>,
    name: &'static str,
    emv_allowed: bool,
) -> Result<Attrs<'a>, ApiError> {
    let (member, mut u) = i.req_union(name)?;
    let a = match member.as_str() {
        "Symmetric" => {
            let mut s = u.req_obj("Symmetric")?;
            let mode = s.req_enum("Mode", parse_mode, MODES)?;
            let iv = s.opt_str("InitializationVector", IV)?;
            if s.opt_enum("PaddingType", parse_padding, PADDING_TYPES)?
                .is_some()
            {
                return Err(ApiError::validation(format!(
                    "'{}' is an RSA padding and applies to Asymmetric attributes only; symmetric data must be padded by the caller",
                    s.path_of("PaddingType")
                )));
            }
            s.finish()?;
            Attrs::Symmetric { mode, iv }
        }
        "Asymmetric" => {
            let mut s = u.req_obj("Asymmetric")?;
            let padding = s.opt_enum("PaddingType", parse_padding, PADDING_TYPES)?;
            let path = s.path_of("PaddingType");
            s.finish()?;
            let padding = padding.ok_or_else(|| {
                ApiError::unsupported(&format!("RSA without padding (give '{path}')"))
            })?;
            Attrs::Asymmetric { padding }
        }
        "Dukpt" => {
            let mut s = u.req_obj("Dukpt")?;
            let req = read_dukpt(
                &mut s,
                "DukptKeyDerivationType",
                false,
                VariantMember::Optional,
            )?;
            let mode = s
                .opt_enum("Mode", parse_ecb_cbc, ECB_CBC)?
                .unwrap_or(Mode::Cbc);
            let iv = s.opt_str("InitializationVector", IV)?;
            s.finish()?;
            Attrs::Dukpt { req, mode, iv }
        }
        "Emv" if emv_allowed => {
            let mut s = u.req_obj("Emv")?;
            let major = s.req_enum("MajorKeyDerivationMode", attrs::parse_major, MAJOR_MODES)?;
            let pan = s.req_str("PrimaryAccountNumber", PAN)?;
            let psn = s.req_str("PanSequenceNumber", PSN)?;
            let sdd = hex_array::<8>(
                "SessionDerivationData",
                s.req_str("SessionDerivationData", HEX16)?,
            )?;
            let mode = s
                .opt_enum(
                    "Mode",
                    |m| match m {
                        "ECB" => Some(EmvEncryptionMode::Ecb),
                        "CBC" => Some(EmvEncryptionMode::Cbc),
                        _ => None,
                    },
                    ECB_CBC,
                )?
                .unwrap_or(EmvEncryptionMode::Cbc);
            let iv = s.opt_str("InitializationVector", IV)?;
            s.finish()?;
            Attrs::Emv {
                major,
                pan,
                psn,
                sdd,
                mode,
                iv,
            }
        }
        _ => return Err(u.unknown_member(&member)),
    };
    u.finish()?;
    Ok(a)
}

fn key_use(a: &Attrs<'_>, encrypt: bool) -> KeyUse {
    match (a, encrypt) {
        (Attrs::Symmetric { .. }, true) => KeyUse::EncryptSymmetric,
        (Attrs::Symmetric { .. }, false) => KeyUse::DecryptSymmetric,
        (Attrs::Asymmetric { .. }, true) => KeyUse::EncryptAsymmetric,
        (Attrs::Asymmetric { .. }, false) => KeyUse::DecryptAsymmetric,
        (Attrs::Dukpt { .. }, _) => KeyUse::DukptDerive,
        (Attrs::Emv { .. }, _) => KeyUse::EmvData,
    }
}

fn symmetric_mode(mode: EncryptionMode, bs: usize) -> Result<Mode, ApiError> {
    Ok(match mode {
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
    })
}

/// The IV for a block cipher of block size `bs` (default zero).
fn iv_for(iv: Option<&str>, bs: usize, mode: Mode) -> Result<Vec<u8>, ApiError> {
    match iv {
        None => Ok(vec![0u8; bs]),
        Some(h) => {
            let v = hex("InitializationVector", h)?;
            if v.len() != bs && mode != Mode::Ecb {
                return Err(ApiError::validation(format!(
                    "InitializationVector must be {} hex characters for this key",
                    bs * 2
                )));
            }
            Ok(v)
        }
    }
}

fn check_blocks(name: &str, data: &[u8], bs: usize) -> Result<(), ApiError> {
    if data.is_empty() || data.len() % bs != 0 {
        return Err(ApiError::validation(format!(
            "{name} must be a multiple of {bs} bytes ({} hex characters) for this key",
            bs * 2
        )));
    }
    Ok(())
}

/// Symmetric encryption/decryption of `data` with `cipher`.
fn symmetric(
    cipher: &BlockCipher,
    mode: EncryptionMode,
    iv: Option<&str>,
    data: &[u8],
    data_name: &str,
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let bs = cipher.block_size();
    let mode = symmetric_mode(mode, bs)?;
    let iv = iv_for(iv, bs, mode)?;
    check_blocks(data_name, data, bs)?;
    Ok(Zeroizing::new(if encrypt {
        cipher.encrypt(mode, &iv, data)?
    } else {
        cipher.decrypt(mode, &iv, data)?
    }))
}

/// The key of one side of an operation: a stored key, or a dynamic working key.
enum Side {
    Stored(std::sync::Arc<LoadedKey>),
    Wrapped(WorkingKey),
}

impl Side {
    fn arn(&self) -> &str {
        match self {
            Self::Stored(k) => &k.key.key_arn,
            Self::Wrapped(w) => w.arn(),
        }
    }

    fn kcv(&self) -> &str {
        match self {
            Self::Stored(k) => &k.key.key_check_value,
            Self::Wrapped(w) => &w.kcv,
        }
    }

    fn apply(
        &self,
        a: &Attrs<'_>,
        data: &[u8],
        data_name: &str,
        encrypt: bool,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        match (self, a) {
            (Self::Stored(k), _) => apply(k, a, data, data_name, encrypt),
            (Self::Wrapped(w), Attrs::Symmetric { mode, iv }) => {
                symmetric(&w.cipher()?, *mode, *iv, data, data_name, encrypt)
            }
            (Self::Wrapped(_), _) => Err(ApiError::validation(
                "A wrapped (dynamic) key applies to Symmetric attributes only",
            )),
        }
    }
}

/// Resolve one side: `wrapped` (dynamic key; `Symmetric` attributes only) or the stored key.
fn side(
    state: &AppState,
    ctx: &mut Ctx,
    id: &str,
    a: &Attrs<'_>,
    wrapped: Option<&WrappedKeyRequest<'_>>,
    encrypt: bool,
) -> Result<Side, ApiError> {
    match wrapped {
        None => Ok(Side::Stored(use_key(state, ctx, id, key_use(a, encrypt))?)),
        Some(w) => {
            if !matches!(a, Attrs::Symmetric { .. }) {
                return Err(ApiError::validation(format!(
                    "'{}' applies to Symmetric attributes only",
                    w.path
                )));
            }
            Ok(Side::Wrapped(wrapped::resolve(
                state,
                ctx,
                id,
                w,
                key_use(a, encrypt),
            )?))
        }
    }
}

/// Encrypt (`encrypt`) or decrypt `data` under `key` with the attributes `a`.
fn apply(
    key: &LoadedKey,
    a: &Attrs<'_>,
    data: &[u8],
    data_name: &str,
    encrypt: bool,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let run =
        |cipher: &BlockCipher, mode: Mode, iv: &[u8]| -> Result<Zeroizing<Vec<u8>>, ApiError> {
            check_blocks(data_name, data, cipher.block_size())?;
            Ok(Zeroizing::new(if encrypt {
                cipher.encrypt(mode, iv, data)?
            } else {
                cipher.decrypt(mode, iv, data)?
            }))
        };
    match a {
        Attrs::Symmetric { mode, iv } => {
            let algorithm = key
                .key
                .key_attributes
                .key_algorithm
                .cipher_algorithm()
                .ok_or_else(|| ApiError::validation("The key's algorithm is not a block cipher"))?;
            let cipher = BlockCipher::new(algorithm, key.material())?;
            symmetric(&cipher, *mode, *iv, data, data_name, encrypt)
        }
        Attrs::Dukpt { req, mode, iv } => {
            let d = Dukpt::new_cached(key, req)?;
            let variant = req
                .variant
                .unwrap_or(paycrypt_core::dukpt::DukptKeyVariant::Bidirectional);
            let cipher = d.data_cipher(variant)?;
            let iv = iv_for(*iv, cipher.block_size(), *mode)?;
            run(&cipher, *mode, &iv)
        }
        Attrs::Emv {
            major,
            pan,
            psn,
            sdd,
            mode,
            iv,
        } => {
            let mk = BlockCipher::tdes(key.material())?;
            let sk = emv::derive_data_key(&mk, *major, pan, psn, sdd)?;
            let iv = iv.map(|h| hex("InitializationVector", h)).transpose()?;
            check_blocks(data_name, data, 8)?;
            Ok(Zeroizing::new(if encrypt {
                emv::encrypt_data(sk.expose(), *mode, iv.as_deref(), data)?
            } else {
                emv::decrypt_data(sk.expose(), *mode, iv.as_deref(), data)?
            }))
        }
        Attrs::Asymmetric { padding } => {
            if encrypt {
                let spki = key
                    .public_key_der()
                    .ok_or_else(|| ApiError::validation("The key has no usable RSA public key"))?;
                Ok(Zeroizing::new(asym::rsa_encrypt(
                    &spki, *padding, data, None,
                )?))
            } else {
                let pt = super::rsa_decryption_key(key)?.decrypt(*padding, data, None)?;
                Ok(Zeroizing::new(pt.expose().to_vec()))
            }
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
    let attrs = attributes(&mut i, attr_name, true)?;
    let wrapped = read_wrapped_key(&mut i, "WrappedKey")?;
    i.finish()?;

    let key = side(state, ctx, id, &attrs, wrapped.as_ref(), encrypt)?;
    let data = Zeroizing::new(hex(data_name, data_hex)?);
    let out = key.apply(&attrs, &data, data_name, encrypt)?;
    let out_name = if encrypt { "CipherText" } else { "PlainText" };
    let mut v = json!({
        "KeyArn": key.arn(),
        "KeyCheckValue": key.kcv(),
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

/// `ReEncryptData`: decrypt under the incoming key and attributes, encrypt under the outgoing
/// ones; answers the outgoing key's ARN and KCV.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn re_encrypt_data(
    state: &AppState,
    ctx: &mut Ctx,
    label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let in_id = check_label("IncomingKeyIdentifier", label, KEY_IDENTIFIER)?;
    let mut i = Input::root(body)?;
    let out_id = i.req_str("OutgoingKeyIdentifier", KEY_IDENTIFIER)?;
    let data_hex = i.req_str("CipherText", CIPHER_TEXT)?;
    let in_attrs = attributes(&mut i, "IncomingEncryptionAttributes", false)?;
    let out_attrs = attributes(&mut i, "OutgoingEncryptionAttributes", false)?;
    let in_wrapped = read_wrapped_key(&mut i, "IncomingWrappedKey")?;
    let out_wrapped = read_wrapped_key(&mut i, "OutgoingWrappedKey")?;
    i.finish()?;

    let in_key = side(state, ctx, in_id, &in_attrs, in_wrapped.as_ref(), false)?;
    let out_key = side(state, ctx, out_id, &out_attrs, out_wrapped.as_ref(), true)?;
    let data = hex("CipherText", data_hex)?;
    let clear = in_key.apply(&in_attrs, &data, "CipherText", false)?;
    let out = out_key.apply(&out_attrs, &clear, "the decrypted data", true)?;
    Ok(json!({
        "KeyArn": out_key.arn(),
        "KeyCheckValue": out_key.kcv(),
        "CipherText": paycrypt_core::hex::encode(&out),
    }))
}
