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
    /// ImportKey: unwrap a TR-31 key block with this KEK (K0/K1, TDES/AES, Unwrap or Decrypt).
    UnwrapKey,
    /// ExportKey: wrap a key into a TR-31 key block with this KEK (K0/K1, TDES/AES, Wrap or
    /// Encrypt).
    WrapKey,
    /// ExportKey: the key being exported (must be exportable).
    ExportKey,
    /// ImportKey/ExportKey: a certificate authority public key (S0 PUBLIC_KEY, Verify) checking
    /// a certificate's signature.
    VerifyCertificate,
    /// Decrypt a PIN block with a P0 PIN encryption key (TranslatePinData incoming,
    /// VerifyPinData, GeneratePinData from a PIN block, GenerateMacEmvPinChange).
    PinDecrypt,
    /// Encrypt a PIN block with a P0 PIN encryption key (TranslatePinData outgoing,
    /// GeneratePinData).
    PinEncrypt,
    /// Derive DUKPT working keys from a B0 base derivation key (PIN, MAC and data).
    DukptDerive,
    /// GeneratePinData with a PIN verification key of this scheme.
    PinGenerate(PinScheme),
    /// VerifyPinData with a PIN verification key of this scheme.
    PinVerify(PinScheme),
    /// GenerateCardValidationData (CVV/CVV2) with a C0 key.
    CardGenerate,
    /// VerifyCardValidationData (CVV/CVV2) with a C0 key.
    CardVerify,
    /// Dynamic card data from an EMV master key: dCVV (E6) or CVC3 (E4).
    CardDynamic(DynamicCardScheme),
    /// ARQC generation/verification (and ARPC) with an E0 issuer master key.
    AuthRequestCryptogram,
    /// EMV secure-messaging MAC (EmvMac, GenerateMacEmvPinChange) with an E2 key.
    EmvIntegrity,
    /// EMV secure-messaging confidentiality (GenerateMacEmvPinChange) with an E1 key.
    EmvConfidentiality,
    /// EncryptData/DecryptData with `Emv` attributes (E1 or E6 key).
    EmvData,
    /// EncryptData with `Asymmetric` attributes (D1 RSA key).
    EncryptAsymmetric,
    /// DecryptData with `Asymmetric` attributes (D1 RSA key pair).
    DecryptAsymmetric,
    /// ECDH key agreement with a K3 ECC key pair (`DiffieHellmanSymmetricKey`,
    /// `DiffieHellmanTr31KeyBlock`): derive a single-purpose symmetric key.
    EcdhDerive,
    /// ExportKey by this method: the key being exported must be exportable and its TR-31
    /// exportability must allow the method (X9.143 / AWS `KeyExportability`: `E` by TR-31 or
    /// TR-34 key block only, `S` by any method, `N` never).
    ExportKeyBy(ExportMethod),
    /// GetCertificateSigningRequest: an ASYMMETRIC_KEY_PAIR (RSA or ECC) signs a PKCS#10 request
    /// for its own public key (proof of possession; any usage, e.g. S0 or K3 for ECDH).
    CertificateSigningRequest,
}

/// How a key leaves the service (the `ExportKeyMaterial` union member).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportMethod {
    /// `Tr31KeyBlock`: a TR-31 key block under a KEK.
    Tr31KeyBlock,
    /// `Tr34KeyBlock`: an X9 TR-34 key block to a certificate.
    Tr34KeyBlock,
    /// `DiffieHellmanTr31KeyBlock`: a TR-31 key block under an ECDH-derived KBPK.
    DiffieHellmanTr31KeyBlock,
    /// `KeyCryptogram`: RSA-OAEP key cryptogram (no key block).
    KeyCryptogram,
    /// `As2805KeyCryptogram`: AS2805 variant-encrypted key (no key block).
    As2805KeyCryptogram,
}

impl ExportMethod {
    /// Whether the method is a key block (binds the key's attributes to it).
    pub fn is_key_block(self) -> bool {
        matches!(
            self,
            Self::Tr31KeyBlock | Self::Tr34KeyBlock | Self::DiffieHellmanTr31KeyBlock
        )
    }
}

/// The PIN verification schemes (`PinGenerationAttributes` / `PinVerificationAttributes`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinScheme {
    /// Visa PIN / PVV: V2 key.
    Visa,
    /// IBM 3624: V1 key.
    Ibm3624,
}

/// The dynamic card-data schemes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicCardScheme {
    /// Visa dCVV (`DynamicCardVerificationValue`): E6 key.
    Dcvv,
    /// Mastercard CVC3 (`DynamicCardVerificationCode`): E4 key.
    Cvc3,
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
        KeyUse::UnwrapKey | KeyUse::WrapKey => {
            if !matches!(
                a.key_usage,
                KeyUsage::K0KeyEncryptionKey | KeyUsage::K1KeyBlockProtectionKey
            ) {
                return Err(refuse(
                    key,
                    "cannot wrap or unwrap keys: KeyUsage must be TR31_K0_KEY_ENCRYPTION_KEY or TR31_K1_KEY_BLOCK_PROTECTION_KEY",
                ));
            }
            if !(a.key_algorithm.is_tdes() || a.key_algorithm.is_aes()) {
                return Err(refuse(
                    key,
                    "cannot wrap or unwrap keys: KeyAlgorithm must be TDES or AES",
                ));
            }
            let unwrap = operation == KeyUse::UnwrapKey;
            let ok = if unwrap {
                has_mode(&a.key_modes_of_use, |m| m.unwrap || m.decrypt)
            } else {
                has_mode(&a.key_modes_of_use, |m| m.wrap || m.encrypt)
            };
            if !ok {
                return Err(refuse(
                    key,
                    if unwrap {
                        "does not allow KeyModesOfUse Unwrap or Decrypt"
                    } else {
                        "does not allow KeyModesOfUse Wrap or Encrypt"
                    },
                ));
            }
        }
        KeyUse::ExportKey => {
            if !key.exportable {
                return Err(refuse(key, "is not exportable (Exportable=false)"));
            }
        }
        KeyUse::VerifyCertificate => {
            if a.key_usage != KeyUsage::S0AsymmetricKeyForDigitalSignature
                || a.key_class != paycrypt_keystore::model::KeyClass::PublicKey
            {
                return Err(refuse(
                    key,
                    "is not a certificate authority: import it with RootCertificatePublicKey or TrustedCertificatePublicKey (TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE, PUBLIC_KEY)",
                ));
            }
            if !has_mode(&a.key_modes_of_use, |m| m.verify) {
                return Err(refuse(key, "does not allow KeyModesOfUse Verify"));
            }
        }
        KeyUse::ExportKeyBy(method) => {
            use paycrypt_keystore::model::KeyExportability as E;
            match key.effective_exportability() {
                E::NonExportable => {
                    return Err(refuse(
                        key,
                        "is not exportable (Exportable=false or TR-31 exportability N)",
                    ))
                }
                E::Exportable if !method.is_key_block() => {
                    return Err(refuse(
                        key,
                        "has TR-31 exportability E (EXPORTABLE): it may leave only in a TR-31 or TR-34 key block, not as a key cryptogram",
                    ))
                }
                _ => {}
            }
        }
        KeyUse::CertificateSigningRequest => {
            if a.key_class != paycrypt_keystore::model::KeyClass::AsymmetricKeyPair
                || !(a.key_algorithm.is_rsa() || a.key_algorithm.is_ecc())
            {
                return Err(refuse(
                    key,
                    "is not an RSA or ECC ASYMMETRIC_KEY_PAIR held here: a certificate signing request needs the private key",
                ));
            }
        }
        other => authorize_more(key, other)?,
    }
    Ok(())
}

/// The key checks of the PIN, card, EMV, DUKPT and asymmetric operations (AWS-API.md §3.4).
fn authorize_more(key: &Key, operation: KeyUse) -> Result<(), ApiError> {
    use KeyUsage as U;
    let a = &key.key_attributes;
    let alg = a.key_algorithm;
    let m = &a.key_modes_of_use;
    let tdes2 = |k: KeyAlgorithm| k == KeyAlgorithm::Tdes2Key;
    // (allowed usages, algorithm check + its name, mode check + its name)
    let (usages, alg_ok, alg_text, mode_ok, mode_text): (&[U], bool, &str, bool, &str) =
        match operation {
            KeyUse::PinDecrypt => (
                &[U::P0PinEncryptionKey],
                alg.is_tdes() || alg.is_aes(),
                "TDES or AES",
                has_mode(m, |m| m.decrypt || m.unwrap),
                "Decrypt",
            ),
            KeyUse::PinEncrypt => (
                &[U::P0PinEncryptionKey],
                alg.is_tdes() || alg.is_aes(),
                "TDES or AES",
                has_mode(m, |m| m.encrypt || m.wrap),
                "Encrypt",
            ),
            KeyUse::DukptDerive => (
                &[U::B0BaseDerivationKey],
                alg == KeyAlgorithm::Tdes2Key || alg.is_aes(),
                "TDES_2KEY or AES (DUKPT has no TDES_3KEY BDK)",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::PinGenerate(s) | KeyUse::PinVerify(s) => {
                let generate = matches!(operation, KeyUse::PinGenerate(_));
                let (u, ok, text): (&[U], bool, &str) = match s {
                    PinScheme::Visa => (&[U::V2VisaPinVerificationKey], alg.is_tdes(), "TDES"),
                    PinScheme::Ibm3624 => (
                        &[U::V1Ibm3624PinVerificationKey],
                        alg == KeyAlgorithm::Tdes3Key,
                        "TDES_3KEY",
                    ),
                };
                if generate {
                    (u, ok, text, has_mode(m, |m| m.generate), "Generate")
                } else {
                    (u, ok, text, has_mode(m, |m| m.verify), "Verify")
                }
            }
            KeyUse::CardGenerate => (
                &[U::C0CardVerificationKey],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.generate),
                "Generate",
            ),
            KeyUse::CardVerify => (
                &[U::C0CardVerificationKey],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.verify),
                "Verify",
            ),
            KeyUse::CardDynamic(s) => (
                match s {
                    DynamicCardScheme::Dcvv => &[U::E6EmvMkeyOther],
                    DynamicCardScheme::Cvc3 => &[U::E4EmvMkeyDynamicNumbers],
                },
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::AuthRequestCryptogram => (
                &[U::E0EmvMkeyAppCryptograms],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::EmvIntegrity => (
                &[U::E2EmvMkeyIntegrity],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::EmvConfidentiality => (
                &[U::E1EmvMkeyConfidentiality],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::EmvData => (
                &[U::E1EmvMkeyConfidentiality, U::E6EmvMkeyOther],
                tdes2(alg),
                "TDES_2KEY",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            KeyUse::EncryptAsymmetric => (
                &[U::D1AsymmetricKeyForDataEncryption],
                alg.is_rsa(),
                "RSA",
                has_mode(m, |m| m.encrypt || m.wrap),
                "Encrypt",
            ),
            KeyUse::DecryptAsymmetric => (
                &[U::D1AsymmetricKeyForDataEncryption],
                alg.is_rsa() && a.key_class != paycrypt_keystore::model::KeyClass::PublicKey,
                "RSA (a key pair: a public key cannot decrypt)",
                has_mode(m, |m| m.decrypt || m.unwrap),
                "Decrypt",
            ),
            KeyUse::EcdhDerive => (
                &[U::K3AsymmetricKeyForKeyAgreement],
                alg.is_ecc() && a.key_class != paycrypt_keystore::model::KeyClass::PublicKey,
                "ECC_NIST_P256/P384/P521 (a key pair: a public key cannot agree)",
                has_mode(m, |m| m.derive_key),
                "DeriveKey",
            ),
            _ => return Err(refuse(key, "cannot be used for this operation")),
        };
    if !usages.contains(&a.key_usage) {
        let names: Vec<&str> = usages.iter().map(|u| u.as_str()).collect();
        return Err(refuse(
            key,
            &format!(
                "cannot be used for this operation: KeyUsage must be {}",
                names.join(" or ")
            ),
        ));
    }
    if !alg_ok {
        return Err(refuse(
            key,
            &format!(
                "with KeyAlgorithm {} cannot be used for this operation: KeyAlgorithm must be {alg_text}",
                alg.as_str()
            ),
        ));
    }
    if !mode_ok {
        return Err(refuse(
            key,
            &format!("does not allow KeyModesOfUse {mode_text}"),
        ));
    }
    Ok(())
}

/// Decide whether the working key of a dynamic TR-31 key block (`WrappedKey` with
/// `Tr31KeyBlock`, AWS-API.md §3.4) may be used for `operation`: the block's mode of use must be
/// `B` or `D` (AWS accepts no other mode for dynamic keys) and its attributes (usage D0 for
/// data encryption, P0 for PIN blocks; modes of use) must allow the operation under
/// [`authorize`]. `kek` is the (already authorized) key block protection key; `attrs` the
/// block's attributes; `mode_of_use` its TR-31 mode letter.
///
/// # Errors
/// `ValidationException` naming the rule.
pub fn authorize_tr31_working_key(
    kek: &Key,
    attrs: paycrypt_keystore::model::KeyAttributes,
    mode_of_use: char,
    operation: KeyUse,
) -> Result<(), ApiError> {
    let what = match operation {
        KeyUse::EncryptSymmetric | KeyUse::DecryptSymmetric => "a TR31_D0 key block",
        KeyUse::PinEncrypt | KeyUse::PinDecrypt => "a TR31_P0 key block",
        _ => {
            return Err(refuse(
                kek,
                "cannot carry a dynamic working key for this operation",
            ))
        }
    };
    if !matches!(mode_of_use, 'B' | 'D') {
        return Err(ApiError::validation(format!(
            "The dynamic key must be {what} with mode of use B or D (got {mode_of_use})"
        )));
    }
    let mut k = kek.clone();
    k.key_arn = format!("{} (dynamic TR-31 working key)", kek.key_arn);
    k.key_attributes = attrs;
    k.derive_key_usage = None;
    authorize(&k, operation)
}

/// Decide whether the symmetric key derived by ECDH with the K3 key pair `k3` (already
/// authorized for [`KeyUse::EcdhDerive`]) may be used for `operation` (AWS-API.md §3.7: the
/// derived key is single-purpose, its usage fixed by the K3 key's `DeriveKeyUsage`). A K3 key
/// without `DeriveKeyUsage` is accepted for PIN operations only, as a P0 key (the AWS PIN
/// samples create their K3 keys without it). The derived key may encrypt, decrypt, wrap and
/// unwrap (TR-31 mode `B`).
///
/// # Errors
/// `ValidationException` naming the rule.
pub fn authorize_ecdh_working_key(
    k3: &Key,
    algorithm: KeyAlgorithm,
    operation: KeyUse,
) -> Result<(), ApiError> {
    let usage = match (k3.derive_key_usage, operation) {
        (Some(u), _) => u,
        (None, KeyUse::PinEncrypt | KeyUse::PinDecrypt) => KeyUsage::P0PinEncryptionKey,
        (None, _) => {
            return Err(refuse(
                k3,
                "has no DeriveKeyUsage: an ECDH-derived key without it serves PIN operations only (create the K3 key with DeriveKeyUsage)",
            ))
        }
    };
    let mut k = k3.clone();
    k.key_arn = format!("{} (ECDH-derived key)", k3.key_arn);
    k.key_attributes = paycrypt_keystore::model::KeyAttributes {
        key_usage: usage,
        key_class: paycrypt_keystore::model::KeyClass::SymmetricKey,
        key_algorithm: algorithm,
        key_modes_of_use: KeyModesOfUse::from_tr31_mode('B').unwrap_or_default(),
    };
    k.derive_key_usage = None;
    authorize(&k, operation)
}

/// An HMAC_SHAxxx request fits an HMAC key of exactly that hash, or a TDES/AES M7 key.
fn hmac_ok(key: KeyAlgorithm, wanted: KeyAlgorithm) -> bool {
    key == wanted || key.is_tdes() || key.is_aes()
}

/// A test key (CREATE_COMPLETE, enabled, not exportable) with these attributes and the
/// TR-31 mode of use `mode`.
#[cfg(test)]
pub(crate) fn test_key(
    usage: KeyUsage,
    class: paycrypt_keystore::model::KeyClass,
    alg: KeyAlgorithm,
    mode: char,
) -> Key {
    use paycrypt_keystore::model::{KeyAttributes, KeyCheckValueAlgorithm, KeyOrigin};
    Key {
        key_arn: "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop".into(),
        key_attributes: KeyAttributes {
            key_usage: usage,
            key_class: class,
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
        multi_region_key_type: None,
        primary_region: None,
        replication_status: None,
        using_default_replication_regions: None,
        exportability: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paycrypt_keystore::model::KeyClass;

    fn key(usage: KeyUsage, alg: KeyAlgorithm, mode: char) -> Key {
        test_key(usage, KeyClass::SymmetricKey, alg, mode)
    }

    #[test]
    fn export_methods_by_exportability() {
        use paycrypt_keystore::model::KeyExportability as E;
        let all = [
            ExportMethod::Tr31KeyBlock,
            ExportMethod::Tr34KeyBlock,
            ExportMethod::DiffieHellmanTr31KeyBlock,
            ExportMethod::KeyCryptogram,
            ExportMethod::As2805KeyCryptogram,
        ];
        let mut k = key(
            KeyUsage::D0SymmetricDataEncryptionKey,
            KeyAlgorithm::Aes128,
            'B',
        );
        // Not exportable: never, whatever letter is recorded.
        k.exportability = Some(E::Sensitive);
        for m in all {
            assert!(authorize(&k, KeyUse::ExportKeyBy(m)).is_err());
        }
        k.exportable = true;
        for m in all {
            assert!(authorize(&k, KeyUse::ExportKeyBy(m)).is_ok());
        }
        k.exportability = Some(E::Exportable);
        for m in all {
            assert_eq!(
                authorize(&k, KeyUse::ExportKeyBy(m)).is_ok(),
                m.is_key_block(),
                "{m:?}"
            );
        }
        k.exportability = Some(E::NonExportable);
        for m in all {
            assert!(authorize(&k, KeyUse::ExportKeyBy(m)).is_err());
        }
        // Keys stored before the letter was recorded: exportable means S.
        k.exportability = None;
        assert!(authorize(&k, KeyUse::ExportKeyBy(ExportMethod::KeyCryptogram)).is_ok());
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

    #[test]
    fn pin_card_emv_dukpt_rules() {
        let bdk = key(KeyUsage::B0BaseDerivationKey, KeyAlgorithm::Tdes2Key, 'X');
        assert!(authorize(&bdk, KeyUse::DukptDerive).is_ok());
        assert!(authorize(&bdk, KeyUse::PinDecrypt).is_err());
        let bdk3 = key(KeyUsage::B0BaseDerivationKey, KeyAlgorithm::Tdes3Key, 'X');
        assert!(authorize(&bdk3, KeyUse::DukptDerive).is_err());
        let pek_e = key(KeyUsage::P0PinEncryptionKey, KeyAlgorithm::Aes128, 'E');
        assert!(authorize(&pek_e, KeyUse::PinEncrypt).is_ok());
        assert!(authorize(&pek_e, KeyUse::PinDecrypt).is_err());
        let pvk = key(
            KeyUsage::V1Ibm3624PinVerificationKey,
            KeyAlgorithm::Tdes2Key,
            'C',
        );
        assert!(authorize(&pvk, KeyUse::PinVerify(PinScheme::Ibm3624)).is_err());
        let pvk = key(
            KeyUsage::V2VisaPinVerificationKey,
            KeyAlgorithm::Tdes2Key,
            'G',
        );
        assert!(authorize(&pvk, KeyUse::PinGenerate(PinScheme::Visa)).is_ok());
        assert!(authorize(&pvk, KeyUse::PinVerify(PinScheme::Visa)).is_err());
        let cvk = key(KeyUsage::C0CardVerificationKey, KeyAlgorithm::Tdes3Key, 'C');
        assert!(authorize(&cvk, KeyUse::CardGenerate).is_err());
        let e6 = key(KeyUsage::E6EmvMkeyOther, KeyAlgorithm::Tdes2Key, 'X');
        assert!(authorize(&e6, KeyUse::CardDynamic(DynamicCardScheme::Dcvv)).is_ok());
        assert!(authorize(&e6, KeyUse::CardDynamic(DynamicCardScheme::Cvc3)).is_err());
        assert!(authorize(&e6, KeyUse::EmvData).is_ok());
        assert!(authorize(&e6, KeyUse::AuthRequestCryptogram).is_err());
    }
}
