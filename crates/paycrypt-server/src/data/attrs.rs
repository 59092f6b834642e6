//! Shapes and attribute readers shared by the data-plane operations: PAN, PIN block formats,
//! DUKPT attributes (with working-key derivation), EMV derivation modes.
//!
//! DUKPT (AWS-API.md §3.8): a TDES_2KEY BDK means TDES DUKPT (ANSI X9.24-1; KSN 20 hex, or 16
//! hex left-padded with `FFFF`); an AES BDK means AES DUKPT (ANSI X9.24-3; KSN 24 hex) whose
//! working keys have the `DukptKeyDerivationType` algorithm (default: the BDK's algorithm; never
//! stronger than the BDK). TDES DUKPT accepts only derivation type TDES_2KEY.

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::{Algorithm, BlockCipher};
use paycrypt_core::dukpt::{self, DukptKeyVariant};
use paycrypt_core::emv::MajorKeyDerivation;
use paycrypt_core::pinblock::PinBlockFormat;
use paycrypt_core::secret::SecretBytes;
use paycrypt_keystore::model::KeyAlgorithm;
use paycrypt_keystore::LoadedKey;

use crate::error::ApiError;
use crate::validate::{Input, StrShape};

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn hexchars(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn upper_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn ksn_shape(s: &str) -> bool {
    matches!(s.len(), 16 | 20 | 24) && hexchars(s)
}

/// A `[0-9]+` shape of the given bounds.
pub const fn digit_shape(min: usize, max: usize) -> StrShape {
    StrShape {
        min,
        max,
        pattern: "[0-9]+",
        check: digits,
    }
}

/// A `[0-9a-fA-F]+` shape of the given bounds (odd lengths pass the pattern; decoding refuses them).
pub const fn hex_shape(min: usize, max: usize) -> StrShape {
    StrShape {
        min,
        max,
        pattern: "[0-9a-fA-F]+",
        check: hexchars,
    }
}

/// `PrimaryAccountNumberType`.
pub const PAN: StrShape = digit_shape(12, 19);
/// `NumberLengthEquals2` (PAN sequence number).
pub const PSN: StrShape = digit_shape(2, 2);
/// `CardExpiryDateType`.
pub const EXPIRY: StrShape = digit_shape(4, 4);
/// `ServiceCodeType`.
pub const SERVICE_CODE: StrShape = digit_shape(3, 3);
/// `ValidationDataType`.
pub const VALIDATION_DATA: StrShape = digit_shape(3, 5);
/// `VerificationValueType`.
pub const VERIFICATION_VALUE: StrShape = digit_shape(4, 12);
/// `DecimalizationTableType`.
pub const DECIMALIZATION_TABLE: StrShape = digit_shape(16, 16);
/// `PinValidationDataType`.
pub const PIN_VALIDATION_DATA: StrShape = digit_shape(4, 16);
/// `PinOffsetType`.
pub const PIN_OFFSET: StrShape = digit_shape(4, 12);
/// `HexLengthEquals1` (`[0-9A-F]+`).
pub const PAD_CHARACTER: StrShape = StrShape {
    min: 1,
    max: 1,
    pattern: "[0-9A-F]+",
    check: upper_hex,
};
/// `EncryptedPinBlockType`.
pub const ENCRYPTED_PIN_BLOCK: StrShape = hex_shape(16, 32);
/// `HexEvenLengthBetween16And32`.
pub const PIN_BLOCK_EVEN: StrShape = crate::validate::even_hex(16, 32);
/// `PinBlockLengthEquals16`.
pub const PIN_BLOCK_16: StrShape = hex_shape(16, 16);
/// `HexLength16Or20Or24`.
pub const KSN: StrShape = StrShape {
    min: 16,
    max: 24,
    pattern: "(?:[0-9a-fA-F]{16}|[0-9a-fA-F]{20}|[0-9a-fA-F]{24})",
    check: ksn_shape,
};
/// `HexLengthEquals4`.
pub const HEX4: StrShape = hex_shape(4, 4);
/// `HexLengthEquals8`.
pub const HEX8: StrShape = hex_shape(8, 8);
/// `HexLengthBetween2And4`.
pub const HEX2_4: StrShape = hex_shape(2, 4);
/// `HexLengthBetween2And8`.
pub const HEX2_8: StrShape = hex_shape(2, 8);
/// `ApplicationCryptogramType` / `AuthRequestCryptogramType` / `SessionDerivationDataType`.
pub const HEX16: StrShape = hex_shape(16, 16);
/// `TrackDataType`.
pub const TRACK_DATA: StrShape = hex_shape(2, 160);
/// `TransactionDataType`.
pub const TRANSACTION_DATA: StrShape = hex_shape(2, 1024);
/// `ProprietaryAuthenticationDataType`.
pub const PROPRIETARY_DATA: StrShape = hex_shape(1, 16);
/// `CommandMessageDataType`.
pub const COMMAND_MESSAGE_DATA: StrShape = crate::validate::even_hex(16, 1024);

/// Decode a hex member into exactly `N` bytes.
///
/// # Errors
/// `ValidationException` naming the member.
pub fn hex_array<const N: usize>(field: &'static str, s: &str) -> Result<[u8; N], ApiError> {
    let v = super::hex(field, s)?;
    v.as_slice()
        .try_into()
        .map_err(|_| ApiError::validation(format!("{field} must be {} hex characters", N * 2)))
}

/// Parse a PAN member (already shape-checked).
///
/// # Errors
/// `ValidationException` naming the member.
pub fn pan(field: &str, s: &str) -> Result<Pan, ApiError> {
    Pan::new(s).map_err(|_| ApiError::validation(format!("{field} is not a valid PAN")))
}

/// `PinBlockFormatForPinData` wire names.
pub const PIN_DATA_FORMATS: &[&str] = &[
    "ISO_FORMAT_0",
    "ISO_FORMAT_1",
    "ISO_FORMAT_3",
    "ISO_FORMAT_4",
];

/// Parse `PinBlockFormatForPinData`.
pub fn parse_pin_data_format(s: &str) -> Option<PinBlockFormat> {
    Some(match s {
        "ISO_FORMAT_0" => PinBlockFormat::Iso0,
        "ISO_FORMAT_1" => PinBlockFormat::Iso1,
        "ISO_FORMAT_3" => PinBlockFormat::Iso3,
        "ISO_FORMAT_4" => PinBlockFormat::ISO4,
        _ => return None,
    })
}

/// The PAN a PIN block format needs: required for ISO 0/3/4, refused for ISO 1 (it would be
/// ignored otherwise).
///
/// # Errors
/// `ValidationException` naming `PrimaryAccountNumber`.
pub fn pan_for_format(
    format: PinBlockFormat,
    pan_str: Option<&str>,
) -> Result<Option<Pan>, ApiError> {
    match (format.binds_pan(), pan_str) {
        (true, Some(p)) => Ok(Some(pan("PrimaryAccountNumber", p)?)),
        (true, None) => Err(ApiError::validation(format!(
            "PrimaryAccountNumber is required for PIN block {format}"
        ))),
        (false, Some(_)) => Err(ApiError::validation(format!(
            "PrimaryAccountNumber must not be given for PIN block {format} (it carries no PAN)"
        ))),
        (false, None) => Ok(None),
    }
}

/// A P0 key as a PIN block cipher.
///
/// # Errors
/// `ValidationException` for a non-TDES/AES key (policy already refuses those).
pub fn pin_cipher(key: &LoadedKey) -> Result<BlockCipher, ApiError> {
    let alg = key
        .key
        .key_attributes
        .key_algorithm
        .cipher_algorithm()
        .ok_or_else(|| ApiError::validation("The PIN encryption key is not TDES or AES"))?;
    Ok(BlockCipher::new(alg, key.material())?)
}

/// `DukptDerivationType` wire names.
pub const DUKPT_DERIVATION_TYPES: &[&str] =
    &["TDES_2KEY", "TDES_3KEY", "AES_128", "AES_192", "AES_256"];

/// Parse `DukptDerivationType`.
pub fn parse_derivation_type(s: &str) -> Option<Algorithm> {
    Some(match s {
        "TDES_2KEY" => Algorithm::Tdes2,
        "TDES_3KEY" => Algorithm::Tdes3,
        "AES_128" => Algorithm::Aes128,
        "AES_192" => Algorithm::Aes192,
        "AES_256" => Algorithm::Aes256,
        _ => return None,
    })
}

/// `DukptKeyVariant` wire names.
pub const DUKPT_VARIANTS: &[&str] = &["BIDIRECTIONAL", "REQUEST", "RESPONSE"];

/// Parse `DukptKeyVariant`.
pub fn parse_variant(s: &str) -> Option<DukptKeyVariant> {
    Some(match s {
        "BIDIRECTIONAL" => DukptKeyVariant::Bidirectional,
        "REQUEST" => DukptKeyVariant::Request,
        "RESPONSE" => DukptKeyVariant::Response,
        _ => return None,
    })
}

/// `MajorKeyDerivationMode` / `EmvMajorKeyDerivationMode` wire names.
pub const MAJOR_MODES: &[&str] = &["EMV_OPTION_A", "EMV_OPTION_B"];

/// Parse `MajorKeyDerivationMode`.
pub fn parse_major(s: &str) -> Option<MajorKeyDerivation> {
    Some(match s {
        "EMV_OPTION_A" => MajorKeyDerivation::OptionA,
        "EMV_OPTION_B" => MajorKeyDerivation::OptionB,
        _ => return None,
    })
}

/// DUKPT request attributes as read from the request (before the BDK is known).
#[derive(Debug, Clone, Copy)]
pub struct DukptRequest<'a> {
    /// `KeySerialNumber`.
    pub ksn: &'a str,
    /// `DukptKeyDerivationType` / `DukptDerivationType`, if given.
    pub derivation: Option<Algorithm>,
    /// `DukptKeyVariant`, if given.
    pub variant: Option<DukptKeyVariant>,
}

/// A DUKPT BDK with a parsed KSN and the working-key algorithm: ready to derive working keys.
#[derive(Debug)]
pub enum Dukpt {
    /// TDES DUKPT (X9.24-1).
    Tdes {
        /// The IPEK.
        ipek: SecretBytes,
        /// The KSN.
        ksn: dukpt::tdes::Ksn,
    },
    /// AES DUKPT (X9.24-3).
    Aes {
        /// The initial key.
        ik: SecretBytes,
        /// The KSN.
        ksn: dukpt::aes::Ksn,
        /// The working-key algorithm.
        key_type: Algorithm,
    },
}

impl Dukpt {
    /// Resolve the request against the (authorized) BDK: KSN length, derivation type default
    /// and strength, IPEK/IK derivation.
    ///
    /// # Errors
    /// `ValidationException` naming `KeySerialNumber` or the derivation type.
    pub fn new(bdk: &LoadedKey, req: &DukptRequest<'_>) -> Result<Self, ApiError> {
        Self::resolve(bdk, req, None)
    }

    /// As [`Dukpt::new`], taking the initial key (IPEK / AES initial key) from the process-wide
    /// DUKPT cache ([`super::dukpt_cache`]) when it holds one for this BDK (ARN and KCV) and
    /// the KSN's initial-key part; the data plane's fast path.
    ///
    /// # Errors
    /// As [`Dukpt::new`].
    pub fn new_cached(bdk: &LoadedKey, req: &DukptRequest<'_>) -> Result<Self, ApiError> {
        Self::resolve(bdk, req, Some(super::dukpt_cache::global()))
    }

    /// As [`Dukpt::new`] with an explicit cache (`None`: derive every time).
    ///
    /// # Errors
    /// As [`Dukpt::new`].
    pub fn resolve(
        bdk: &LoadedKey,
        req: &DukptRequest<'_>,
        cache: Option<&super::dukpt_cache::DukptCache>,
    ) -> Result<Self, ApiError> {
        let cached = |initial: &[u8],
                      derive: &dyn Fn() -> Result<SecretBytes, ApiError>|
         -> Result<SecretBytes, ApiError> {
            match cache {
                Some(c) => {
                    c.get_or_derive(&bdk.key.key_arn, &bdk.key.key_check_value, initial, derive)
                }
                None => derive(),
            }
        };
        let bdk_alg = bdk.key.key_attributes.key_algorithm;
        let ksn_bytes = super::hex("KeySerialNumber", req.ksn)?;
        match bdk_alg {
            KeyAlgorithm::Tdes2Key => {
                if let Some(d) = req.derivation {
                    if d != Algorithm::Tdes2 {
                        return Err(ApiError::validation(
                            "DukptKeyDerivationType must be TDES_2KEY for a TDES_2KEY BDK (TDES DUKPT)",
                        ));
                    }
                }
                let ksn = dukpt::tdes::Ksn::new(&ksn_bytes).map_err(|_| {
                    ApiError::validation(
                        "KeySerialNumber must be 20 (or 16) hex characters for a TDES DUKPT BDK",
                    )
                })?;
                let ipek = cached(ksn.initial().as_bytes(), &|| {
                    Ok(dukpt::tdes::derive_ipek(bdk.material(), &ksn)?)
                })?;
                Ok(Self::Tdes { ipek, ksn })
            }
            a if a.is_aes() => {
                let bdk_cipher = a.cipher_algorithm().unwrap_or(Algorithm::Aes128);
                // The core refuses a working key stronger than the BDK (X9.24-3 6.3).
                let key_type = req.derivation.unwrap_or(bdk_cipher);
                let ksn = dukpt::aes::Ksn::new(&ksn_bytes).map_err(|_| {
                    ApiError::validation(
                        "KeySerialNumber must be 24 hex characters for an AES DUKPT BDK",
                    )
                })?;
                let id = ksn.initial_key_id();
                let ik = cached(&id, &|| {
                    Ok(dukpt::aes::derive_initial_key(bdk.material(), &id)?)
                })?;
                Ok(Self::Aes { ik, ksn, key_type })
            }
            _ => Err(ApiError::validation("A DUKPT BDK must be TDES_2KEY or AES")),
        }
    }

    /// The PIN encryption working key as a cipher (X9.24-1 PIN variant; X9.24-3 usage `1000`).
    ///
    /// # Errors
    /// The core's KSN/counter errors as `ValidationException`.
    pub fn pin_cipher(&self) -> Result<BlockCipher, ApiError> {
        match self {
            Self::Tdes { ipek, ksn } => {
                let k = dukpt::tdes::working_key_from_ipek(
                    ipek.expose(),
                    ksn,
                    dukpt::tdes::KeyVariant::Pin,
                )?;
                Ok(BlockCipher::tdes(k.expose())?)
            }
            Self::Aes { ik, ksn, key_type } => {
                let k = dukpt::aes::working_key_from_initial_key(
                    ik.expose(),
                    ksn,
                    dukpt::aes::KeyUsage::PinEncryption,
                    *key_type,
                )?;
                Ok(BlockCipher::new(*key_type, k.expose())?)
            }
        }
    }

    /// The data encryption working key of `variant` as a cipher.
    ///
    /// # Errors
    /// The core's KSN/counter errors as `ValidationException`.
    pub fn data_cipher(&self, variant: DukptKeyVariant) -> Result<BlockCipher, ApiError> {
        match self {
            Self::Tdes { ipek, ksn } => {
                let k = dukpt::tdes::working_key_from_ipek(
                    ipek.expose(),
                    ksn,
                    dukpt::tdes::KeyVariant::for_data(variant),
                )?;
                Ok(BlockCipher::tdes(k.expose())?)
            }
            Self::Aes { ik, ksn, key_type } => {
                let k = dukpt::aes::working_key_from_initial_key(
                    ik.expose(),
                    ksn,
                    dukpt::aes::KeyUsage::for_data(variant),
                    *key_type,
                )?;
                Ok(BlockCipher::new(*key_type, k.expose())?)
            }
        }
    }
}

/// Whether a DUKPT structure has a `DukptKeyVariant` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantMember {
    /// The structure has no such member (`DukptAttributes`).
    Absent,
    /// Optional member.
    Optional,
    /// Required member (`MacAlgorithmDukpt`).
    Required,
}

/// Read a DUKPT structure: `KeySerialNumber`, the derivation-type member `dt_name` (required
/// when `dt_required`) and `DukptKeyVariant` per `variant`.
///
/// # Errors
/// `ValidationException` naming the member.
pub fn read_dukpt<'a>(
    s: &mut Input<'a>,
    dt_name: &'static str,
    dt_required: bool,
    variant: VariantMember,
) -> Result<DukptRequest<'a>, ApiError> {
    let ksn = s.req_str("KeySerialNumber", KSN)?;
    let derivation = if dt_required {
        Some(s.req_enum(dt_name, parse_derivation_type, DUKPT_DERIVATION_TYPES)?)
    } else {
        s.opt_enum(dt_name, parse_derivation_type, DUKPT_DERIVATION_TYPES)?
    };
    let variant = match variant {
        VariantMember::Absent => None,
        VariantMember::Optional => s.opt_enum("DukptKeyVariant", parse_variant, DUKPT_VARIANTS)?,
        VariantMember::Required => {
            Some(s.req_enum("DukptKeyVariant", parse_variant, DUKPT_VARIANTS)?)
        }
    };
    Ok(DukptRequest {
        ksn,
        derivation,
        variant,
    })
}
