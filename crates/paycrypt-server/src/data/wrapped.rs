//! Dynamic (wrapped) working keys: the `WrappedKey` members of EncryptData / DecryptData
//! (`WrappedKey`), ReEncryptData and TranslatePinData (`IncomingWrappedKey` /
//! `OutgoingWrappedKey`), GeneratePinData and VerifyPinData (`EncryptionWrappedKey`)
//! (AWS-API.md §3.4 "Dynamic keys", §3.7 ECDH).
//!
//! * `WrappedKeyMaterial.Tr31KeyBlock`: the operation's key identifier names the KEK (K0/K1,
//!   TDES or AES, Unwrap or Decrypt allowed); the working key is unwrapped from the TR-31 block
//!   (versions A/B/C under a TDES KEK, D under an AES KEK; MAC checked first). Data encryption
//!   accepts only a D0 block, PIN translation only a P0 block, both with mode of use `B` or `D`,
//!   and the block's own attributes must allow the operation
//!   ([`crate::policy::authorize_tr31_working_key`]); the KEK must be at least as strong as the
//!   working key.
//! * `WrappedKeyMaterial.DiffieHellmanSymmetricKey` (`EcdhDerivationAttributes`): the operation's
//!   key identifier names a K3 ECC key pair (DeriveKey). The peer's leaf certificate
//!   (`PublicKeyCertificate`, base64 of PEM) must be within its validity and signed by the CA
//!   named by `CertificateAuthorityPublicKeyIdentifier` (a root or trusted certificate imported
//!   with ImportKey), and its key must be on the K3 key's curve. The working key is
//!   `KDF(ECDH(K3 private, peer public), SharedInformation)` with the KDF `NIST_SP800` (SP 800-56C
//!   one-step / concatenation KDF) or `ANSI_X963` and SHA-256/384/512, of the length of
//!   `KeyAlgorithm` (TDES or AES). `SharedInformation` must not contain zero bytes (AWS). The
//!   derived key is single-purpose: its usage is the K3 key's `DeriveKeyUsage`; a K3 key without
//!   one serves PIN operations only, as a P0 key (the AWS PIN samples create K3 keys without it)
//!   ([`crate::policy::authorize_ecdh_working_key`]).
//!
//! Responses name the operation's key (KEK or K3 key) as `KeyArn` and give the working key's
//! check value as `KeyCheckValue`, computed with `WrappedKey.KeyCheckValueAlgorithm` (default
//! ANSI X9.24 for TDES, CMAC for AES).

use std::sync::Arc;

use paycrypt_core::asym::{self, EcPrivateKey, EccCurve, KdfHash, KeyDerivationFunction};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::secret::SecretBytes;
use paycrypt_keystore::model::{KeyAlgorithm, KeyCheckValueAlgorithm};
use paycrypt_keystore::LoadedKey;

use super::{hex, use_key};
use crate::ca;
use crate::error::ApiError;
use crate::import_export;
use crate::policy::{authorize_ecdh_working_key, authorize_tr31_working_key, KeyUse};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, StrShape};

fn is_alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_certificate(s: &str) -> bool {
    !s.is_empty() && !s.contains(['[', ';', ']', '<', '>'])
}

/// `Tr31WrappedKeyBlock`.
pub const TR31_BLOCK: StrShape = StrShape {
    min: 56,
    max: 9984,
    pattern: "[0-9a-zA-Z]+",
    check: is_alnum,
};
/// `CertificateType`.
pub const CERTIFICATE: StrShape = StrShape {
    min: 1,
    max: 32768,
    pattern: "[^\\[;\\]<>]+",
    check: is_certificate,
};
/// `SharedInformation`.
pub const SHARED_INFORMATION: StrShape = crate::validate::even_hex(2, 2048);

/// `SymmetricKeyAlgorithm` wire names.
pub const SYMMETRIC_KEY_ALGORITHMS: &[&str] = &[
    "TDES_2KEY",
    "TDES_3KEY",
    "AES_128",
    "AES_192",
    "AES_256",
    "HMAC_SHA256",
    "HMAC_SHA384",
    "HMAC_SHA512",
    "HMAC_SHA224",
];
/// `KeyDerivationFunction` wire names.
pub const KDF_NAMES: &[&str] = &["NIST_SP800", "ANSI_X963"];
/// `KeyDerivationHashAlgorithm` wire names.
pub const KDF_HASH_NAMES: &[&str] = &["SHA_256", "SHA_384", "SHA_512"];
/// `KeyCheckValueAlgorithm` wire names.
pub const KCV_NAMES: &[&str] = &["CMAC", "ANSI_X9_24", "HMAC", "SHA_1"];

fn parse_symmetric(s: &str) -> Option<KeyAlgorithm> {
    KeyAlgorithm::parse(s).filter(|a| a.is_symmetric())
}

fn parse_kdf(s: &str) -> Option<KeyDerivationFunction> {
    match s {
        "NIST_SP800" => Some(KeyDerivationFunction::NistSp800),
        "ANSI_X963" => Some(KeyDerivationFunction::AnsiX963),
        _ => None,
    }
}

fn parse_hash(s: &str) -> Option<KdfHash> {
    match s {
        "SHA_256" => Some(KdfHash::Sha256),
        "SHA_384" => Some(KdfHash::Sha384),
        "SHA_512" => Some(KdfHash::Sha512),
        _ => None,
    }
}

/// The ECDH derivation parameters of a request.
#[derive(Debug, Clone)]
pub struct EcdhRequest<'a> {
    /// `CertificateAuthorityPublicKeyIdentifier`.
    pub ca: &'a str,
    /// `PublicKeyCertificate` (base64 of PEM).
    pub certificate: &'a str,
    /// Path of the certificate member (for messages).
    pub certificate_path: String,
    /// The derived key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The KDF.
    pub kdf: KeyDerivationFunction,
    /// The KDF hash.
    pub hash: KdfHash,
    /// `SharedInformation` (hex).
    pub shared_info: &'a str,
}

/// Read the ECDH members shared by `EcdhDerivationAttributes` and the `DiffieHellman*`
/// structures: the CA, the certificate, the algorithm member `alg_name`, the KDF and its hash.
/// `SharedInformation` is read by the caller (its place differs) and passed in.
///
/// # Errors
/// `ValidationException` naming the member.
pub fn read_ecdh<'a>(
    s: &mut Input<'a>,
    alg_name: &'static str,
    shared_info: Option<&'a str>,
) -> Result<EcdhRequest<'a>, ApiError> {
    let ca = s.req_str(
        "CertificateAuthorityPublicKeyIdentifier",
        crate::validate::KEY_IDENTIFIER,
    )?;
    let certificate = s.req_str("PublicKeyCertificate", CERTIFICATE)?;
    let certificate_path = s.path_of("PublicKeyCertificate");
    let algorithm = s.req_enum(alg_name, parse_symmetric, SYMMETRIC_KEY_ALGORITHMS)?;
    let kdf = s.req_enum("KeyDerivationFunction", parse_kdf, KDF_NAMES)?;
    let hash = s.req_enum("KeyDerivationHashAlgorithm", parse_hash, KDF_HASH_NAMES)?;
    let shared_info = match shared_info {
        Some(v) => v,
        None => s.req_str("SharedInformation", SHARED_INFORMATION)?,
    };
    Ok(EcdhRequest {
        ca,
        certificate,
        certificate_path,
        algorithm,
        kdf,
        hash,
        shared_info,
    })
}

/// A `WrappedKeyMaterial` member.
#[derive(Debug, Clone)]
pub enum Material<'a> {
    /// `Tr31KeyBlock`.
    Tr31(&'a str),
    /// `DiffieHellmanSymmetricKey`.
    Ecdh(EcdhRequest<'a>),
}

/// A `WrappedKey` structure as read from the request.
#[derive(Debug, Clone)]
pub struct WrappedKeyRequest<'a> {
    /// The key material.
    pub material: Material<'a>,
    /// `KeyCheckValueAlgorithm`, if given.
    pub kcv_algorithm: Option<KeyCheckValueAlgorithm>,
    /// The member's path (for messages).
    pub path: String,
}

/// Read the optional `WrappedKey` member `name`.
///
/// # Errors
/// `ValidationException` naming the member.
pub fn read_wrapped_key<'a>(
    i: &mut Input<'a>,
    name: &'static str,
) -> Result<Option<WrappedKeyRequest<'a>>, ApiError> {
    let path = i.path_of(name);
    let Some(mut w) = i.opt_obj(name)? else {
        return Ok(None);
    };
    let (member, mut u) = w.req_union("WrappedKeyMaterial")?;
    let material = match member.as_str() {
        "Tr31KeyBlock" => Material::Tr31(u.req_str("Tr31KeyBlock", TR31_BLOCK)?),
        "DiffieHellmanSymmetricKey" => {
            let mut s = u.req_obj("DiffieHellmanSymmetricKey")?;
            let e = read_ecdh(&mut s, "KeyAlgorithm", None)?;
            s.finish()?;
            Material::Ecdh(e)
        }
        _ => {
            let p = u.path_of(&member);
            u.finish()?;
            return Err(ApiError::validation(format!("Unknown member '{p}'")));
        }
    };
    u.finish()?;
    let kcv_algorithm = w.opt_enum(
        "KeyCheckValueAlgorithm",
        KeyCheckValueAlgorithm::parse,
        KCV_NAMES,
    )?;
    w.finish()?;
    Ok(Some(WrappedKeyRequest {
        material,
        kcv_algorithm,
        path,
    }))
}

/// A resolved dynamic working key.
#[derive(Debug)]
pub struct WorkingKey {
    /// The operation's key (the KEK or the K3 key pair).
    pub outer: Arc<LoadedKey>,
    /// The working key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The working key (zeroized on drop).
    pub material: SecretBytes,
    /// The working key's check value.
    pub kcv: String,
}

impl WorkingKey {
    /// The working key as a block cipher (TDES or AES).
    ///
    /// # Errors
    /// `ValidationException` for another algorithm.
    pub fn cipher(&self) -> Result<BlockCipher, ApiError> {
        let alg = self
            .algorithm
            .cipher_algorithm()
            .ok_or_else(|| ApiError::validation("The dynamic working key is not TDES or AES"))?;
        Ok(BlockCipher::new(alg, self.material.expose())?)
    }

    /// The ARN of the operation's key.
    pub fn arn(&self) -> &str {
        &self.outer.key.key_arn
    }
}

/// The curve of an ECC key algorithm.
///
/// # Errors
/// `ValidationException` for a non-ECC algorithm.
pub fn curve_of(alg: KeyAlgorithm) -> Result<EccCurve, ApiError> {
    match alg {
        KeyAlgorithm::EccNistP256 => Ok(EccCurve::P256),
        KeyAlgorithm::EccNistP384 => Ok(EccCurve::P384),
        KeyAlgorithm::EccNistP521 => Ok(EccCurve::P521),
        _ => Err(ApiError::validation(
            "The key agreement key must be ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521",
        )),
    }
}

/// Derive the symmetric key of `e` with the (authorized) K3 key pair `k3`: verify the peer
/// certificate against the CA (authorized for certificate verification here), then ECDH + KDF.
///
/// # Errors
/// `ResourceNotFoundException` for the CA, `ValidationException` for a bad certificate,
/// curve, shared information or algorithm.
pub fn ecdh_derive(
    state: &AppState,
    ctx: &mut Ctx,
    k3: &LoadedKey,
    e: &EcdhRequest<'_>,
) -> Result<SecretBytes, ApiError> {
    let len = e
        .algorithm
        .symmetric_key_len()
        .filter(|_| e.algorithm.is_tdes() || e.algorithm.is_aes())
        .ok_or_else(|| {
            ApiError::validation(format!(
                "An ECDH-derived key of {} cannot be used here (TDES or AES only)",
                e.algorithm
            ))
        })?;
    let info = hex("SharedInformation", e.shared_info)?;
    if info.contains(&0) {
        return Err(ApiError::validation(
            "SharedInformation must not contain zero bytes",
        ));
    }
    let k3_alg = k3.key.key_attributes.key_algorithm;
    let curve = curve_of(k3_alg)?;
    let ca_key = use_key(state, ctx, e.ca, KeyUse::VerifyCertificate)?;
    let cert = ca::from_api(&e.certificate_path, e.certificate)?;
    ca::check_validity(&cert, ca::now_secs())?;
    ca::verify_signed_by(&cert, ca_key.material())?;
    let spki = ca::cert_spki(&cert)?;
    let peer_alg = ca::spki_algorithm(&spki)?;
    if peer_alg != k3_alg {
        return Err(ApiError::validation(format!(
            "The PublicKeyCertificate holds a {peer_alg} key; the key agreement key is {k3_alg} (both must be on the same curve)"
        )));
    }
    Ok(asym::ecdh_derive_key(
        curve,
        EcPrivateKey::Der(k3.material()),
        &spki,
        e.kdf,
        e.hash,
        &info,
        len,
    )?)
}

/// The default check-value algorithm of a symmetric key (ANSI X9.24 for TDES, CMAC for AES,
/// HMAC for HMAC keys).
pub fn default_kcv_algorithm(alg: KeyAlgorithm) -> KeyCheckValueAlgorithm {
    if alg.is_tdes() {
        KeyCheckValueAlgorithm::AnsiX9_24
    } else if alg.is_hmac() {
        KeyCheckValueAlgorithm::Hmac
    } else {
        KeyCheckValueAlgorithm::Cmac
    }
}

/// Resolve the dynamic working key of `w` for `operation` (`EncryptSymmetric`,
/// `DecryptSymmetric`, `PinEncrypt` or `PinDecrypt`), with `id` the operation's key identifier.
///
/// # Errors
/// Not-found, policy and validation errors.
pub fn resolve(
    state: &AppState,
    ctx: &mut Ctx,
    id: &str,
    w: &WrappedKeyRequest<'_>,
    operation: KeyUse,
) -> Result<WorkingKey, ApiError> {
    let (outer, algorithm, material) = match &w.material {
        Material::Tr31(block) => {
            let kek = use_key(state, ctx, id, KeyUse::UnwrapKey)?;
            let (header, clear) = import_export::unwrap_tr31(&kek, block)?;
            let (attrs, _) = import_export::attributes_from_header(&header, clear.expose().len())?;
            let letter = header.mode_of_use.code().chars().next().unwrap_or('?');
            authorize_tr31_working_key(&kek.key, attrs, letter, operation)?;
            import_export::check_strength(
                kek.key.key_attributes.key_algorithm,
                attrs.key_algorithm,
            )?;
            (kek, attrs.key_algorithm, clear)
        }
        Material::Ecdh(e) => {
            let k3 = use_key(state, ctx, id, KeyUse::EcdhDerive)?;
            authorize_ecdh_working_key(&k3.key, e.algorithm, operation)?;
            let key = ecdh_derive(state, ctx, &k3, e)?;
            (k3, e.algorithm, key)
        }
    };
    let kcv_alg = w
        .kcv_algorithm
        .unwrap_or_else(|| default_kcv_algorithm(algorithm));
    let kcv = import_export::kcv(algorithm, material.expose(), kcv_alg)?;
    Ok(WorkingKey {
        outer,
        algorithm,
        material,
        kcv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_key as key;
    use paycrypt_keystore::model::{KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage};

    fn attrs(usage: KeyUsage, mode: char) -> KeyAttributes {
        KeyAttributes {
            key_usage: usage,
            key_class: KeyClass::SymmetricKey,
            key_algorithm: KeyAlgorithm::Aes128,
            key_modes_of_use: KeyModesOfUse::from_tr31_mode(mode).unwrap(),
        }
    }

    #[test]
    fn tr31_working_key_rules() {
        let kek = key(
            KeyUsage::K1KeyBlockProtectionKey,
            KeyClass::SymmetricKey,
            KeyAlgorithm::Aes256,
            'B',
        );
        let d0 = KeyUsage::D0SymmetricDataEncryptionKey;
        let p0 = KeyUsage::P0PinEncryptionKey;
        assert!(
            authorize_tr31_working_key(&kek, attrs(d0, 'B'), 'B', KeyUse::EncryptSymmetric).is_ok()
        );
        assert!(
            authorize_tr31_working_key(&kek, attrs(d0, 'D'), 'D', KeyUse::DecryptSymmetric).is_ok()
        );
        // Mode D cannot encrypt; mode E is never accepted for dynamic keys.
        assert!(
            authorize_tr31_working_key(&kek, attrs(d0, 'D'), 'D', KeyUse::EncryptSymmetric)
                .is_err()
        );
        assert!(
            authorize_tr31_working_key(&kek, attrs(d0, 'E'), 'E', KeyUse::EncryptSymmetric)
                .is_err()
        );
        // Usage must fit the operation.
        assert!(
            authorize_tr31_working_key(&kek, attrs(p0, 'B'), 'B', KeyUse::EncryptSymmetric)
                .is_err()
        );
        assert!(authorize_tr31_working_key(&kek, attrs(p0, 'B'), 'B', KeyUse::PinEncrypt).is_ok());
        assert!(authorize_tr31_working_key(&kek, attrs(d0, 'B'), 'B', KeyUse::PinDecrypt).is_err());
        // Only data and PIN operations take dynamic keys.
        assert!(authorize_tr31_working_key(&kek, attrs(d0, 'B'), 'B', KeyUse::WrapKey).is_err());
    }

    #[test]
    fn ecdh_working_key_rules() {
        let mut k3 = key(
            KeyUsage::K3AsymmetricKeyForKeyAgreement,
            KeyClass::AsymmetricKeyPair,
            KeyAlgorithm::EccNistP256,
            'X',
        );
        assert!(crate::policy::authorize(&k3, KeyUse::EcdhDerive).is_ok());
        // Without DeriveKeyUsage: PIN operations only (as P0).
        assert!(authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes128, KeyUse::PinEncrypt).is_ok());
        assert!(
            authorize_ecdh_working_key(&k3, KeyAlgorithm::Tdes2Key, KeyUse::PinDecrypt).is_ok()
        );
        assert!(
            authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes128, KeyUse::EncryptSymmetric)
                .is_err()
        );
        assert!(authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes256, KeyUse::UnwrapKey).is_err());
        k3.derive_key_usage = Some(KeyUsage::K1KeyBlockProtectionKey);
        assert!(authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes256, KeyUse::UnwrapKey).is_ok());
        assert!(authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes256, KeyUse::PinEncrypt).is_err());
        k3.derive_key_usage = Some(KeyUsage::D0SymmetricDataEncryptionKey);
        assert!(
            authorize_ecdh_working_key(&k3, KeyAlgorithm::Aes256, KeyUse::DecryptSymmetric).is_ok()
        );
        assert!(authorize_ecdh_working_key(
            &k3,
            KeyAlgorithm::HmacSha256,
            KeyUse::DecryptSymmetric
        )
        .is_err());
        // A public key cannot agree; a K3 key needs DeriveKey.
        let public = key(
            KeyUsage::K3AsymmetricKeyForKeyAgreement,
            KeyClass::PublicKey,
            KeyAlgorithm::EccNistP256,
            'X',
        );
        assert!(crate::policy::authorize(&public, KeyUse::EcdhDerive).is_err());
        let rsa = key(
            KeyUsage::K3AsymmetricKeyForKeyAgreement,
            KeyClass::AsymmetricKeyPair,
            KeyAlgorithm::Rsa2048,
            'X',
        );
        assert!(crate::policy::authorize(&rsa, KeyUse::EcdhDerive).is_err());
    }

    #[test]
    fn curves() {
        assert_eq!(curve_of(KeyAlgorithm::EccNistP384).unwrap(), EccCurve::P384);
        assert!(curve_of(KeyAlgorithm::Aes128).is_err());
        assert_eq!(
            default_kcv_algorithm(KeyAlgorithm::Tdes3Key),
            KeyCheckValueAlgorithm::AnsiX9_24
        );
        assert_eq!(
            default_kcv_algorithm(KeyAlgorithm::Aes192),
            KeyCheckValueAlgorithm::Cmac
        );
    }
}
