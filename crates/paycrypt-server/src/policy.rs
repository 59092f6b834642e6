//! The one decision whether a key may be used for a data-plane operation (AWS-API.md §3.4):
//! key state, `Enabled`, `KeyUsage`, `KeyAlgorithm` and `KeyModesOfUse`.
//!
//! Every refusal is a `ValidationException` (AWS documents no dedicated exception for a disabled
//! key or a key of the wrong type; the data plane models only Validation, AccessDenied,
//! ResourceNotFound, Throttling and InternalServer), with a message naming the key ARN and the
//! rule, never key material.

use paycrypt_keystore::model::{Key, KeyAlgorithm, KeyModesOfUse, KeyState, KeyUsage};

use crate::error::ApiError;

/// The data-plane MAC algorithms (`MacAlgorithm` enum).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    /// ISO 9797-1 algorithm 1 (TDES CBC-MAC), key usage M1.
    Iso9797Algorithm1,
    /// ISO 9797-1 algorithm 3 (retail MAC), key usage M3.
    Iso9797Algorithm3,
    /// CMAC (ISO 9797-1 algorithm 5), key usage M6.
    Cmac,
    /// HMAC with the key's hash, key usage M7.
    Hmac,
    /// HMAC-SHA-224, key usage M7.
    HmacSha224,
    /// HMAC-SHA-256, key usage M7.
    HmacSha256,
    /// HMAC-SHA-384, key usage M7.
    HmacSha384,
    /// HMAC-SHA-512, key usage M7.
    HmacSha512,
    /// AS2805.4.1 MAC, key usage M0.
    As2805_4_1,
}

impl MacAlgorithm {
    /// Wire names, in model order.
    pub const NAMES: &'static [&'static str] = &[
        "ISO9797_ALGORITHM1",
        "ISO9797_ALGORITHM3",
        "CMAC",
        "HMAC",
        "HMAC_SHA224",
        "HMAC_SHA256",
        "HMAC_SHA384",
        "HMAC_SHA512",
        "AS2805_4_1",
    ];

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ISO9797_ALGORITHM1" => Self::Iso9797Algorithm1,
            "ISO9797_ALGORITHM3" => Self::Iso9797Algorithm3,
            "CMAC" => Self::Cmac,
            "HMAC" => Self::Hmac,
            "HMAC_SHA224" => Self::HmacSha224,
            "HMAC_SHA256" => Self::HmacSha256,
            "HMAC_SHA384" => Self::HmacSha384,
            "HMAC_SHA512" => Self::HmacSha512,
            "AS2805_4_1" => Self::As2805_4_1,
            _ => return None,
        })
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iso9797Algorithm1 => "ISO9797_ALGORITHM1",
            Self::Iso9797Algorithm3 => "ISO9797_ALGORITHM3",
            Self::Cmac => "CMAC",
            Self::Hmac => "HMAC",
            Self::HmacSha224 => "HMAC_SHA224",
            Self::HmacSha256 => "HMAC_SHA256",
            Self::HmacSha384 => "HMAC_SHA384",
            Self::HmacSha512 => "HMAC_SHA512",
            Self::As2805_4_1 => "AS2805_4_1",
        }
    }

    /// The key usage this algorithm needs.
    pub fn key_usage(self) -> KeyUsage {
        match self {
            Self::Iso9797Algorithm1 => KeyUsage::M1Iso9797_1MacKey,
            Self::Iso9797Algorithm3 => KeyUsage::M3Iso9797_3MacKey,
            Self::Cmac => KeyUsage::M6Iso9797_5CmacKey,
            Self::Hmac
            | Self::HmacSha224
            | Self::HmacSha256
            | Self::HmacSha384
            | Self::HmacSha512 => KeyUsage::M7HmacKey,
            Self::As2805_4_1 => KeyUsage::M0Iso16609MacKey,
        }
    }
}

/// What a data-plane operation wants to do with a key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// EncryptData with `Symmetric` attributes.
    EncryptSymmetric,
    /// DecryptData with `Symmetric` attributes.
    DecryptSymmetric,
    /// GenerateMac with this algorithm.
    GenerateMac(MacAlgorithm),
    /// VerifyMac with this algorithm.
    VerifyMac(MacAlgorithm),
}

fn refuse(key: &Key, why: &str) -> ApiError {
    ApiError::validation(format!("Key {} {why}", key.key_arn))
}

fn has_mode(modes: &KeyModesOfUse, want: fn(&KeyModesOfUse) -> bool) -> bool {
    modes.no_restrictions || want(modes)
}

/// Decide whether `key` may be used for `operation`.
///
/// # Errors
/// `ValidationException` when the key is not CREATE_COMPLETE, is disabled, or its usage,
/// algorithm or modes of use do not allow the operation; `ResourceNotFoundException` for a
/// DELETE_COMPLETE key.
pub fn authorize(key: &Key, operation: KeyUse) -> Result<(), ApiError> {
    match key.key_state {
        KeyState::CreateComplete => {}
        KeyState::DeletePending => {
            return Err(refuse(
                key,
                "is pending deletion (DELETE_PENDING) and cannot be used",
            ))
        }
        KeyState::DeleteComplete => {
            return Err(ApiError::ResourceNotFound {
                resource_id: key.key_arn.clone(),
            })
        }
        _ => return Err(refuse(key, "is not in state CREATE_COMPLETE")),
    }
    if !key.enabled {
        return Err(refuse(
            key,
            "is disabled (StopKeyUsage); call StartKeyUsage to use it",
        ));
    }
    let a = &key.key_attributes;
    match operation {
        KeyUse::EncryptSymmetric | KeyUse::DecryptSymmetric => {
            if a.key_usage != KeyUsage::D0SymmetricDataEncryptionKey {
                return Err(refuse(
                    key,
                    "cannot be used for symmetric encryption: KeyUsage must be TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
                ));
            }
            if !(a.key_algorithm.is_tdes() || a.key_algorithm.is_aes()) {
                return Err(refuse(
                    key,
                    "cannot be used for symmetric encryption: KeyAlgorithm must be TDES or AES",
                ));
            }
            let ok = if operation == KeyUse::EncryptSymmetric {
                has_mode(&a.key_modes_of_use, |m| m.encrypt)
            } else {
                has_mode(&a.key_modes_of_use, |m| m.decrypt)
            };
            if !ok {
                return Err(refuse(
                    key,
                    if operation == KeyUse::EncryptSymmetric {
                        "does not allow KeyModesOfUse Encrypt"
                    } else {
                        "does not allow KeyModesOfUse Decrypt"
                    },
                ));
            }
        }
        KeyUse::GenerateMac(alg) | KeyUse::VerifyMac(alg) => {
            if a.key_usage != alg.key_usage() {
                return Err(refuse(
                    key,
                    &format!(
                        "cannot be used with MAC algorithm {}: KeyUsage must be {}",
                        alg.as_str(),
                        alg.key_usage().as_str()
                    ),
                ));
            }
            let alg_ok = match alg {
                MacAlgorithm::Iso9797Algorithm1
                | MacAlgorithm::Iso9797Algorithm3
                | MacAlgorithm::As2805_4_1 => a.key_algorithm.is_tdes(),
                MacAlgorithm::Cmac => a.key_algorithm.is_tdes() || a.key_algorithm.is_aes(),
                MacAlgorithm::Hmac => a.key_algorithm.is_hmac(),
                MacAlgorithm::HmacSha224 => hmac_ok(a.key_algorithm, KeyAlgorithm::HmacSha224),
                MacAlgorithm::HmacSha256 => hmac_ok(a.key_algorithm, KeyAlgorithm::HmacSha256),
                MacAlgorithm::HmacSha384 => hmac_ok(a.key_algorithm, KeyAlgorithm::HmacSha384),
                MacAlgorithm::HmacSha512 => hmac_ok(a.key_algorithm, KeyAlgorithm::HmacSha512),
            };
            if !alg_ok {
                return Err(refuse(
                    key,
                    &format!(
                        "with KeyAlgorithm {} cannot be used with MAC algorithm {}",
                        a.key_algorithm.as_str(),
                        alg.as_str()
                    ),
                ));
            }
            let generate = matches!(operation, KeyUse::GenerateMac(_));
            let ok = if generate {
                has_mode(&a.key_modes_of_use, |m| m.generate)
            } else {
                has_mode(&a.key_modes_of_use, |m| m.verify)
            };
            if !ok {
                return Err(refuse(
                    key,
                    if generate {
                        "does not allow KeyModesOfUse Generate"
                    } else {
                        "does not allow KeyModesOfUse Verify"
                    },
                ));
            }
        }
    }
    Ok(())
}

/// An HMAC_SHAxxx request fits an HMAC key of exactly that hash, or a TDES/AES M7 key.
fn hmac_ok(key: KeyAlgorithm, wanted: KeyAlgorithm) -> bool {
    key == wanted || key.is_tdes() || key.is_aes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use paycrypt_keystore::model::{KeyAttributes, KeyCheckValueAlgorithm, KeyClass, KeyOrigin};

    fn key(usage: KeyUsage, alg: KeyAlgorithm, mode: char) -> Key {
        Key {
            key_arn: "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop"
                .into(),
            key_attributes: KeyAttributes {
                key_usage: usage,
                key_class: KeyClass::SymmetricKey,
                key_algorithm: alg,
                key_modes_of_use: KeyModesOfUse::from_tr31_mode(mode).unwrap(),
            },
            key_check_value: "ABCDEF".into(),
            key_check_value_algorithm: KeyCheckValueAlgorithm::Cmac,
            enabled: true,
            exportable: false,
            key_state: KeyState::CreateComplete,
            key_origin: KeyOrigin::AwsPaymentCryptography,
            create_timestamp: 0.0,
            usage_start_timestamp: None,
            usage_stop_timestamp: None,
            delete_pending_timestamp: None,
            delete_timestamp: None,
            derive_key_usage: None,
        }
    }

    #[test]
    fn encryption_rules() {
        let k = key(
            KeyUsage::D0SymmetricDataEncryptionKey,
            KeyAlgorithm::Aes128,
            'E',
        );
        assert!(authorize(&k, KeyUse::EncryptSymmetric).is_ok());
        assert!(authorize(&k, KeyUse::DecryptSymmetric).is_err());
        let k = key(
            KeyUsage::D0SymmetricDataEncryptionKey,
            KeyAlgorithm::Tdes3Key,
            'N',
        );
        assert!(authorize(&k, KeyUse::DecryptSymmetric).is_ok());
        let k = key(KeyUsage::P0PinEncryptionKey, KeyAlgorithm::Tdes2Key, 'B');
        assert!(authorize(&k, KeyUse::EncryptSymmetric).is_err());
    }

    #[test]
    fn mac_rules_and_state() {
        let mut k = key(KeyUsage::M6Iso9797_5CmacKey, KeyAlgorithm::Aes256, 'G');
        assert!(authorize(&k, KeyUse::GenerateMac(MacAlgorithm::Cmac)).is_ok());
        assert!(authorize(&k, KeyUse::VerifyMac(MacAlgorithm::Cmac)).is_err());
        assert!(authorize(&k, KeyUse::GenerateMac(MacAlgorithm::Hmac)).is_err());
        k.enabled = false;
        assert!(authorize(&k, KeyUse::GenerateMac(MacAlgorithm::Cmac))
            .unwrap_err()
            .message()
            .contains("disabled"));
        k.enabled = true;
        k.key_state = KeyState::DeletePending;
        assert!(authorize(&k, KeyUse::GenerateMac(MacAlgorithm::Cmac)).is_err());
        let h = key(KeyUsage::M7HmacKey, KeyAlgorithm::HmacSha256, 'C');
        assert!(authorize(&h, KeyUse::VerifyMac(MacAlgorithm::Hmac)).is_ok());
        assert!(authorize(&h, KeyUse::VerifyMac(MacAlgorithm::HmacSha256)).is_ok());
        assert!(authorize(&h, KeyUse::VerifyMac(MacAlgorithm::HmacSha512)).is_err());
    }
}
