//! `GenerateMacEmvPinChange` (`POST /macemvpinchange/generate`): the issuer-script PIN change of
//! EMV Book 2 section 9 via `paycrypt_core::emv::generate_mac_emv_pin_change`.
//!
//! The new PIN block (`NewEncryptedPinBlock`, `PinBlockFormat` ISO 0/1/3; ISO 0/3 bound to the
//! derivation attributes' PAN) is first decrypted under the P0 `NewPinPekIdentifier` with
//! `pinblock::decrypt_pin_block`; the core then derives the ICC SMI (E2) / SMC (E1) master keys
//! and session keys per `DerivationMethodAttributes`, builds and encrypts the scheme's PIN-change
//! block, and MACs `MessageData ‖ encrypted block`. `EmvCommon` honours `Mode`,
//! `PinBlockPaddingType` and `PinBlockLengthPosition`; `Visa`/`Amex` use the E0
//! `AuthorizationRequestKeyIdentifier` for the VIS PIN block and the optional
//! `CurrentPinAttributes` (current PIN block in the same `PinBlockFormat`, under its own P0 key);
//! `Mastercard` and `Emv2000` as documented in `paycrypt_core::emv::sm`. The full 8-byte MAC is
//! returned.

use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::emv::{
    self, CommandEncryption, CommandPadding, EmvEncryptionMode, PinChangeDerivation,
    PinChangeRequest,
};
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use serde_json::{json, Map, Value};

use super::attrs::{
    self, hex_array, COMMAND_MESSAGE_DATA, HEX16, HEX4, MAJOR_MODES, PAN, PIN_BLOCK_16, PSN,
};
use super::{hex, use_key};
use crate::error::ApiError;
use crate::policy::KeyUse;
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER};

const FORMATS: &[&str] = &["ISO_FORMAT_0", "ISO_FORMAT_1", "ISO_FORMAT_3"];

fn parse_format(s: &str) -> Option<PinBlockFormat> {
    Some(match s {
        "ISO_FORMAT_0" => PinBlockFormat::Iso0,
        "ISO_FORMAT_1" => PinBlockFormat::Iso1,
        "ISO_FORMAT_3" => PinBlockFormat::Iso3,
        _ => return None,
    })
}

enum Scheme<'a> {
    EmvCommon {
        ac: [u8; 8],
        encryption: CommandEncryption,
    },
    Mastercard {
        ac: [u8; 8],
    },
    VisaAmex {
        amex: bool,
        atc: [u8; 2],
        ark: &'a str,
        current: Option<(&'a str, &'a str)>,
    },
    Emv2000 {
        atc: [u8; 2],
    },
}

struct Derivation<'a> {
    major: emv::MajorKeyDerivation,
    pan: &'a str,
    psn: &'a str,
    scheme: Scheme<'a>,
}

fn derivation<'a>(i: &mut Input<'a>) -> Result<Derivation<'a>, ApiError> {
    let (member, mut u) = i.req_union("DerivationMethodAttributes")?;
    let name: &'static str = match member.as_str() {
        "EmvCommon" => "EmvCommon",
        "Amex" => "Amex",
        "Visa" => "Visa",
        "Emv2000" => "Emv2000",
        "Mastercard" => "Mastercard",
        _ => return Err(u.unknown_member(&member)),
    };
    let mut s = u.req_obj(name)?;
    let major = s.req_enum("MajorKeyDerivationMode", attrs::parse_major, MAJOR_MODES)?;
    let pan = s.req_str("PrimaryAccountNumber", PAN)?;
    let psn = s.req_str("PanSequenceNumber", PSN)?;
    let scheme = match name {
        "EmvCommon" => {
            let ac = hex_array::<8>(
                "ApplicationCryptogram",
                s.req_str("ApplicationCryptogram", HEX16)?,
            )?;
            let mode = s.req_enum(
                "Mode",
                |m| match m {
                    "ECB" => Some(EmvEncryptionMode::Ecb),
                    "CBC" => Some(EmvEncryptionMode::Cbc),
                    _ => None,
                },
                &["ECB", "CBC"],
            )?;
            let padding = s.req_enum(
                "PinBlockPaddingType",
                |m| match m {
                    "NO_PADDING" => Some(CommandPadding::None),
                    "ISO_IEC_7816_4" => Some(CommandPadding::Iso7816),
                    _ => None,
                },
                &["NO_PADDING", "ISO_IEC_7816_4"],
            )?;
            let length_prefix = s.req_enum(
                "PinBlockLengthPosition",
                |m| match m {
                    "NONE" => Some(false),
                    "FRONT_OF_PIN_BLOCK" => Some(true),
                    _ => None,
                },
                &["NONE", "FRONT_OF_PIN_BLOCK"],
            )?;
            Scheme::EmvCommon {
                ac,
                encryption: CommandEncryption {
                    mode,
                    length_prefix,
                    padding,
                },
            }
        }
        "Mastercard" => Scheme::Mastercard {
            ac: hex_array::<8>(
                "ApplicationCryptogram",
                s.req_str("ApplicationCryptogram", HEX16)?,
            )?,
        },
        "Emv2000" => Scheme::Emv2000 {
            atc: hex_array::<2>(
                "ApplicationTransactionCounter",
                s.req_str("ApplicationTransactionCounter", HEX4)?,
            )?,
        },
        _ => {
            let atc = hex_array::<2>(
                "ApplicationTransactionCounter",
                s.req_str("ApplicationTransactionCounter", HEX4)?,
            )?;
            let ark = s.req_str("AuthorizationRequestKeyIdentifier", KEY_IDENTIFIER)?;
            let current = match s.opt_obj("CurrentPinAttributes")? {
                Some(mut c) => {
                    let id = c.req_str("CurrentPinPekIdentifier", KEY_IDENTIFIER)?;
                    let block = c.req_str("CurrentEncryptedPinBlock", PIN_BLOCK_16)?;
                    c.finish()?;
                    Some((id, block))
                }
                None => None,
            };
            Scheme::VisaAmex {
                amex: name == "Amex",
                atc,
                ark,
                current,
            }
        }
    };
    s.finish()?;
    u.finish()?;
    Ok(Derivation {
        major,
        pan,
        psn,
        scheme,
    })
}

/// `GenerateMacEmvPinChange`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn generate_mac_emv_pin_change(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let pek_id = i.req_str("NewPinPekIdentifier", KEY_IDENTIFIER)?;
    let block_hex = i.req_str("NewEncryptedPinBlock", PIN_BLOCK_16)?;
    let format = i.req_enum("PinBlockFormat", parse_format, FORMATS)?;
    let smi_id = i.req_str("SecureMessagingIntegrityKeyIdentifier", KEY_IDENTIFIER)?;
    let smc_id = i.req_str(
        "SecureMessagingConfidentialityKeyIdentifier",
        KEY_IDENTIFIER,
    )?;
    let msg = i.req_str("MessageData", COMMAND_MESSAGE_DATA)?;
    let d = derivation(&mut i)?;
    i.finish()?;

    let pan = if format.binds_pan() {
        Some(attrs::pan("PrimaryAccountNumber", d.pan)?)
    } else {
        None
    };
    let message = hex("MessageData", msg)?;
    let new_block = hex("NewEncryptedPinBlock", block_hex)?;
    let pek = use_key(state, ctx, pek_id, KeyUse::PinDecrypt)?;
    let smi = use_key(state, ctx, smi_id, KeyUse::EmvIntegrity)?;
    let smc = use_key(state, ctx, smc_id, KeyUse::EmvConfidentiality)?;
    let new_pin =
        pinblock::decrypt_pin_block(&attrs::pin_cipher(&pek)?, format, &new_block, pan.as_ref())?;
    let smi_c = BlockCipher::tdes(smi.material())?;
    let smc_c = BlockCipher::tdes(smc.material())?;
    let mut visa_out = None;
    let out = match d.scheme {
        Scheme::EmvCommon { ac, encryption } => run(
            &smi_c,
            &smc_c,
            &d,
            &new_pin,
            &message,
            PinChangeDerivation::EmvCommon {
                application_cryptogram: ac,
                encryption,
            },
        )?,
        Scheme::Mastercard { ac } => run(
            &smi_c,
            &smc_c,
            &d,
            &new_pin,
            &message,
            PinChangeDerivation::Mastercard {
                application_cryptogram: ac,
            },
        )?,
        Scheme::Emv2000 { atc } => run(
            &smi_c,
            &smc_c,
            &d,
            &new_pin,
            &message,
            PinChangeDerivation::Emv2000 { atc },
        )?,
        Scheme::VisaAmex {
            amex,
            atc,
            ark,
            current,
        } => {
            let ark_key = use_key(state, ctx, ark, KeyUse::AuthRequestCryptogram)?;
            let mk_ac = BlockCipher::tdes(ark_key.material())?;
            let mut outputs = Map::new();
            outputs.insert(
                "AuthorizationRequestKeyArn".into(),
                json!(ark_key.key.key_arn),
            );
            outputs.insert(
                "AuthorizationRequestKeyCheckValue".into(),
                json!(ark_key.key.key_check_value),
            );
            let current_pin: Option<Pin> = match current {
                Some((id, block)) => {
                    let k = use_key(state, ctx, id, KeyUse::PinDecrypt)?;
                    let b = hex("CurrentEncryptedPinBlock", block)?;
                    let p = pinblock::decrypt_pin_block(
                        &attrs::pin_cipher(&k)?,
                        format,
                        &b,
                        pan.as_ref(),
                    )?;
                    outputs.insert("CurrentPinPekArn".into(), json!(k.key.key_arn));
                    outputs.insert(
                        "CurrentPinPekKeyCheckValue".into(),
                        json!(k.key.key_check_value),
                    );
                    Some(p)
                }
                None => None,
            };
            visa_out = Some(Value::Object(outputs));
            let derivation = if amex {
                PinChangeDerivation::Amex {
                    atc,
                    issuer_mk_ac: &mk_ac,
                    current_pin: current_pin.as_ref(),
                }
            } else {
                PinChangeDerivation::Visa {
                    atc,
                    issuer_mk_ac: &mk_ac,
                    current_pin: current_pin.as_ref(),
                }
            };
            run(&smi_c, &smc_c, &d, &new_pin, &message, derivation)?
        }
    };
    let mut v = json!({
        "NewPinPekArn": pek.key.key_arn,
        "NewPinPekKeyCheckValue": pek.key.key_check_value,
        "SecureMessagingIntegrityKeyArn": smi.key.key_arn,
        "SecureMessagingIntegrityKeyCheckValue": smi.key.key_check_value,
        "SecureMessagingConfidentialityKeyArn": smc.key.key_arn,
        "SecureMessagingConfidentialityKeyCheckValue": smc.key.key_check_value,
        "Mac": paycrypt_core::hex::encode(&out.mac),
        "EncryptedPinBlock": paycrypt_core::hex::encode(&out.encrypted_pin_block),
    });
    if let (Some(o), Value::Object(m)) = (visa_out, &mut v) {
        m.insert("VisaAmexDerivationOutputs".into(), o);
    }
    Ok(v)
}

fn run(
    smi: &BlockCipher,
    smc: &BlockCipher,
    d: &Derivation<'_>,
    new_pin: &Pin,
    message: &[u8],
    derivation: PinChangeDerivation<'_>,
) -> Result<emv::PinChangeOutput, ApiError> {
    Ok(emv::generate_mac_emv_pin_change(&PinChangeRequest {
        issuer_mk_smi: smi,
        issuer_mk_smc: smc,
        major: d.major,
        pan: d.pan,
        psn: d.psn,
        new_pin,
        message_data: message,
        derivation,
    })?)
}
