//! RSA key wrapping (OAEP, PKCS#1 v1.5), RSA signatures, and ECDH with the
//! NIST SP 800-56C one-step (Concat) KDF and the ANSI X9.63 KDF.
//!
//! RSA and the elliptic-curve arithmetic come from `aws-lc-rs` (AWS-LC, whose RSA
//! decryption is constant time; the `rsa` crate is deliberately not used because of
//! its open Marvin timing advisory). The two KDFs are implemented here over `sha2`.
//!
//! Keys cross this API as standard encodings: RSA private keys as PKCS#8 DER,
//! public keys as X.509 `SubjectPublicKeyInfo` DER (RSA also as PKCS#1
//! `RSAPublicKey`), EC private keys as PKCS#8 / RFC 5915 DER or a raw scalar, EC
//! public keys as a SEC1 point or SPKI DER.
//!
//! AWS Payment Cryptography requires `SharedInformation` to contain no zero byte;
//! that is a service rule, not a KDF rule, so it is left to the server layer and
//! these KDFs accept any `shared_info`.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPublicKeyUncompressedBin};
use aws_lc_rs::rsa::{
    self as lc_rsa, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey,
    Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, KeyPair as _};
use sha2::Digest;
use zeroize::Zeroizing;

use crate::error::{Error, Result, VerificationFailure};
use crate::secret::SecretBytes;

fn crypto(operation: &'static str) -> Error {
    Error::Crypto { operation }
}

// ---------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------

/// RSA modulus sizes (AWS `KeyAlgorithm` `RSA_2048` / `RSA_3072` / `RSA_4096`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaKeySize {
    /// 2048-bit modulus.
    Rsa2048,
    /// 3072-bit modulus.
    Rsa3072,
    /// 4096-bit modulus.
    Rsa4096,
}

impl RsaKeySize {
    /// Modulus size in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }
}

/// An RSA key pair: the private key as PKCS#8 DER (zeroized on drop) and the
/// public key as SPKI DER and PKCS#1 `RSAPublicKey` DER.
#[derive(Clone)]
pub struct RsaKeyPair {
    /// PKCS#8 `PrivateKeyInfo` DER of the private key.
    pub private_pkcs8: SecretBytes,
    /// X.509 `SubjectPublicKeyInfo` DER of the public key.
    pub public_spki: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER of the public key.
    pub public_pkcs1: Vec<u8>,
}

impl core::fmt::Debug for RsaKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "RsaKeyPair {{ private_pkcs8: [REDACTED], public_spki: {} bytes }}",
            self.public_spki.len()
        )
    }
}

/// Generate an RSA key pair (public exponent 65537).
///
/// # Errors
/// [`Error::Crypto`] if AWS-LC fails.
pub fn rsa_generate(size: RsaKeySize) -> Result<RsaKeyPair> {
    let ks = match size {
        RsaKeySize::Rsa2048 => lc_rsa::KeySize::Rsa2048,
        RsaKeySize::Rsa3072 => lc_rsa::KeySize::Rsa3072,
        RsaKeySize::Rsa4096 => lc_rsa::KeySize::Rsa4096,
    };
    let kp = lc_rsa::KeyPair::generate(ks).map_err(|_| crypto("RSA key generation"))?;
    let der = kp.as_der().map_err(|_| crypto("RSA key encoding"))?;
    let public_spki = kp
        .public_key()
        .as_der()
        .map_err(|_| crypto("RSA key encoding"))?
        .as_ref()
        .to_vec();
    Ok(RsaKeyPair {
        private_pkcs8: SecretBytes::from_slice(der.as_ref()),
        public_spki,
        public_pkcs1: kp.public_key().as_ref().to_vec(),
    })
}

/// The public key (SPKI DER) of a PKCS#8 RSA private key.
///
/// # Errors
/// [`Error::InvalidInput`] if the key does not parse.
pub fn rsa_public_key(private_pkcs8: &[u8]) -> Result<Vec<u8>> {
    let k = private_key(private_pkcs8)?;
    Ok(k.public_key()
        .as_der()
        .map_err(|_| crypto("RSA key encoding"))?
        .as_ref()
        .to_vec())
}

/// RSA encryption padding, as the AWS `PaddingType` enum names them
/// (`PKCS1`, `OAEP_SHA1`, `OAEP_SHA256`, `OAEP_SHA512`; SHA-384 added for
/// completeness). OAEP uses MGF1 with the same hash and an empty label by default.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5 (RFC 8017 §7.2).
    Pkcs1,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
    OaepSha1,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (AWS `RSA_OAEP_SHA_256`).
    OaepSha256,
    /// RSAES-OAEP with SHA-384 and MGF1-SHA-384.
    OaepSha384,
    /// RSAES-OAEP with SHA-512 and MGF1-SHA-512 (AWS `RSA_OAEP_SHA_512`).
    OaepSha512,
}

impl RsaPadding {
    fn oaep(self) -> Option<&'static lc_rsa::OaepAlgorithm> {
        match self {
            Self::Pkcs1 => None,
            Self::OaepSha1 => Some(&lc_rsa::OAEP_SHA1_MGF1SHA1),
            Self::OaepSha256 => Some(&lc_rsa::OAEP_SHA256_MGF1SHA256),
            Self::OaepSha384 => Some(&lc_rsa::OAEP_SHA384_MGF1SHA384),
            Self::OaepSha512 => Some(&lc_rsa::OAEP_SHA512_MGF1SHA512),
        }
    }
}

fn private_key(pkcs8: &[u8]) -> Result<PrivateDecryptingKey> {
    PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| Error::InvalidInput {
        field: "private_key",
        reason: "not a PKCS#8 RSA private key of a supported size",
    })
}

fn public_key(der: &[u8]) -> Result<PublicEncryptingKey> {
    PublicEncryptingKey::from_der(der).map_err(|_| Error::InvalidInput {
        field: "public_key",
        reason: "not an X.509 SubjectPublicKeyInfo RSA public key of a supported size",
    })
}

/// RSA-encrypt `plaintext` (typically a key) to the public key `public_spki`
/// (SPKI DER), with an optional OAEP `label` (ignored for PKCS#1 v1.5).
///
/// # Errors
/// [`Error::InvalidInput`] for a bad key, [`Error::InvalidLength`] if the plaintext
/// is too long for the key and padding, [`Error::Crypto`] on an AWS-LC failure.
pub fn rsa_encrypt(
    public_spki: &[u8],
    padding: RsaPadding,
    plaintext: &[u8],
    label: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let pk = public_key(public_spki)?;
    let too_long = |max: usize| {
        if plaintext.len() > max {
            Err(Error::InvalidLength {
                field: "plaintext",
                expected: "at most the RSA key size minus the padding overhead",
                actual: plaintext.len(),
            })
        } else {
            Ok(())
        }
    };
    match padding.oaep() {
        None => {
            let k = Pkcs1PublicEncryptingKey::new(pk).map_err(|_| crypto("RSA PKCS#1 setup"))?;
            too_long(k.max_plaintext_size())?;
            let mut out = vec![0u8; k.ciphertext_size()];
            let n = k
                .encrypt(plaintext, &mut out)
                .map_err(|_| crypto("RSA PKCS#1 encryption"))?
                .len();
            out.truncate(n);
            Ok(out)
        }
        Some(alg) => {
            let k = OaepPublicEncryptingKey::new(pk).map_err(|_| crypto("RSA OAEP setup"))?;
            too_long(k.max_plaintext_size(alg))?;
            let mut out = vec![0u8; k.ciphertext_size()];
            let n = k
                .encrypt(alg, plaintext, &mut out, label)
                .map_err(|_| crypto("RSA OAEP encryption"))?
                .len();
            out.truncate(n);
            Ok(out)
        }
    }
}

/// RSA-decrypt `ciphertext` with the PKCS#8 private key.
///
/// Every padding failure yields the same error (no padding oracle).
///
/// # Errors
/// [`Error::InvalidInput`] for a bad key, [`Error::InvalidLength`] if the
/// ciphertext is not exactly the modulus size, [`Error::Crypto`]
/// (`"RSA decryption"`) for any decryption or padding failure.
pub fn rsa_decrypt(
    private_pkcs8: &[u8],
    padding: RsaPadding,
    ciphertext: &[u8],
    label: Option<&[u8]>,
) -> Result<SecretBytes> {
    RsaDecryptionKey::from_pkcs8(private_pkcs8)?.decrypt(padding, ciphertext, label)
}

/// A parsed RSA private key for [`RsaDecryptionKey::decrypt`], so that a caller decrypting
/// repeatedly under one key parses the PKCS#8 (and sets up AWS-LC's blinding) only once.
/// Clones share the key. `Debug` shows only the size.
#[derive(Clone)]
pub struct RsaDecryptionKey(PrivateDecryptingKey);

impl core::fmt::Debug for RsaDecryptionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RsaDecryptionKey({} bits)", 8 * self.0.key_size_bytes())
    }
}

impl RsaDecryptionKey {
    /// Parse a PKCS#8 RSA private key.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad key.
    pub fn from_pkcs8(private_pkcs8: &[u8]) -> Result<Self> {
        private_key(private_pkcs8).map(Self)
    }

    /// As [`rsa_decrypt`].
    ///
    /// # Errors
    /// As [`rsa_decrypt`].
    pub fn decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
        label: Option<&[u8]>,
    ) -> Result<SecretBytes> {
        let sk = self.0.clone();
        if ciphertext.len() != sk.key_size_bytes() {
            return Err(Error::InvalidLength {
                field: "ciphertext",
                expected: "the RSA modulus size",
                actual: ciphertext.len(),
            });
        }
        let mut out = Zeroizing::new(vec![0u8; sk.key_size_bytes()]);
        let n = match padding.oaep() {
            None => {
                let k = Pkcs1PrivateDecryptingKey::new(sk).map_err(|_| crypto("RSA decryption"))?;
                k.decrypt(ciphertext, &mut out)
                    .map_err(|_| crypto("RSA decryption"))?
                    .len()
            }
            Some(alg) => {
                let k = OaepPrivateDecryptingKey::new(sk).map_err(|_| crypto("RSA decryption"))?;
                k.decrypt(alg, ciphertext, &mut out, label)
                    .map_err(|_| crypto("RSA decryption"))?
                    .len()
            }
        };
        Ok(SecretBytes::from_slice(out.get(..n).unwrap_or(&[])))
    }
}

/// RSA signature schemes (RSASSA-PKCS1-v1_5, RFC 8017 §8.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaSignatureAlgorithm {
    /// PKCS#1 v1.5 with SHA-256.
    Pkcs1Sha256,
    /// PKCS#1 v1.5 with SHA-384.
    Pkcs1Sha384,
    /// PKCS#1 v1.5 with SHA-512.
    Pkcs1Sha512,
}

/// Sign `message` with the PKCS#8 RSA private key.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad key, [`Error::Crypto`] on an AWS-LC failure.
pub fn rsa_sign(
    private_pkcs8: &[u8],
    algorithm: RsaSignatureAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>> {
    let kp = signature::RsaKeyPair::from_pkcs8(private_pkcs8).map_err(|_| Error::InvalidInput {
        field: "private_key",
        reason: "not a PKCS#8 RSA private key",
    })?;
    let enc: &'static dyn signature::RsaEncoding = match algorithm {
        RsaSignatureAlgorithm::Pkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
        RsaSignatureAlgorithm::Pkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
        RsaSignatureAlgorithm::Pkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
    };
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(
        enc,
        &aws_lc_rs::rand::SystemRandom::new(),
        message,
        &mut sig,
    )
    .map_err(|_| crypto("RSA signing"))?;
    Ok(sig)
}

/// Verify an RSA PKCS#1 v1.5 signature with a public key given as SPKI DER or
/// PKCS#1 `RSAPublicKey` DER (2048 to 8192 bits).
///
/// # Errors
/// [`Error::VerificationFailed`]`(`[`VerificationFailure::InvalidValidationData`]`)`
/// when the signature does not verify (the enum has no signature-specific reason).
pub fn rsa_verify(
    public_key_der: &[u8],
    algorithm: RsaSignatureAlgorithm,
    message: &[u8],
    sig: &[u8],
) -> Result<()> {
    let params: &'static signature::RsaParameters = match algorithm {
        RsaSignatureAlgorithm::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RsaSignatureAlgorithm::Pkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        RsaSignatureAlgorithm::Pkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
    };
    signature::UnparsedPublicKey::new(params, public_key_der)
        .verify(message, sig)
        .map_err(|_| VerificationFailure::InvalidValidationData.into())
}

// ---------------------------------------------------------------------------
// ECDH
// ---------------------------------------------------------------------------

/// NIST curves for ECDH (AWS `KeyAlgorithm` `ECC_NIST_P256/P384/P521`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EccCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

impl EccCurve {
    fn alg(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
            Self::P521 => &agreement::ECDH_P521,
        }
    }

    /// Length of a private scalar and of the shared secret Z, in bytes (32, 48, 66).
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// An EC private key for ECDH.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum EcPrivateKey<'a> {
    /// PKCS#8 `PrivateKeyInfo` or RFC 5915 `ECPrivateKey` DER.
    Der(&'a [u8]),
    /// Big-endian scalar of exactly [`EccCurve::field_len`] bytes.
    Scalar(&'a [u8]),
}

impl core::fmt::Debug for EcPrivateKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EcPrivateKey([REDACTED])")
    }
}

/// A generated EC key pair.
#[derive(Clone)]
pub struct EcKeyPair {
    /// PKCS#8 DER of the private key (zeroized on drop).
    pub private_pkcs8: SecretBytes,
    /// Uncompressed SEC1 public point (`04 ‖ X ‖ Y`).
    pub public_point: Vec<u8>,
    /// X.509 `SubjectPublicKeyInfo` DER of the public key.
    pub public_spki: Vec<u8>,
}

impl core::fmt::Debug for EcKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "EcKeyPair {{ private_pkcs8: [REDACTED], public_point: {} bytes }}",
            self.public_point.len()
        )
    }
}

fn load_private(curve: EccCurve, key: EcPrivateKey<'_>) -> Result<agreement::PrivateKey> {
    let r = match key {
        EcPrivateKey::Der(d) => agreement::PrivateKey::from_private_key_der(curve.alg(), d),
        EcPrivateKey::Scalar(s) => agreement::PrivateKey::from_private_key(curve.alg(), s),
    };
    r.map_err(|_| Error::InvalidInput {
        field: "private_key",
        reason: "not a valid private key for this curve",
    })
}

fn public_of(pk: &agreement::PrivateKey) -> Result<(Vec<u8>, Vec<u8>)> {
    let public = pk
        .compute_public_key()
        .map_err(|_| crypto("EC public key"))?;
    let point: EcPublicKeyUncompressedBin<'_> = public
        .as_be_bytes()
        .map_err(|_| crypto("EC public key encoding"))?;
    let spki = public
        .as_der()
        .map_err(|_| crypto("EC public key encoding"))?;
    Ok((point.as_ref().to_vec(), spki.as_ref().to_vec()))
}

/// Generate an EC key pair for ECDH.
///
/// # Errors
/// [`Error::Crypto`] if AWS-LC fails.
pub fn ec_generate(curve: EccCurve) -> Result<EcKeyPair> {
    let pk =
        agreement::PrivateKey::generate(curve.alg()).map_err(|_| crypto("EC key generation"))?;
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> =
        pk.as_der().map_err(|_| crypto("EC key encoding"))?;
    let (public_point, public_spki) = public_of(&pk)?;
    Ok(EcKeyPair {
        private_pkcs8: SecretBytes::from_slice(der.as_ref()),
        public_point,
        public_spki,
    })
}

/// The uncompressed SEC1 public point of an EC private key.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad key.
pub fn ec_public_point(curve: EccCurve, private_key: EcPrivateKey<'_>) -> Result<Vec<u8>> {
    let pk = load_private(curve, private_key)?;
    Ok(public_of(&pk)?.0)
}

/// The ECDH shared secret Z (the x-coordinate, [`EccCurve::field_len`] bytes;
/// SP 800-56A rev3 §5.7.1.2). The peer key is a SEC1 point (compressed or
/// uncompressed) or SPKI DER; it is checked to be on the curve.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad private or peer key.
pub fn ecdh_shared_secret(
    curve: EccCurve,
    private_key: EcPrivateKey<'_>,
    peer_public: &[u8],
) -> Result<SecretBytes> {
    let pk = load_private(curve, private_key)?;
    let bad_peer = Error::InvalidInput {
        field: "peer_public_key",
        reason: "not a valid public key on this curve",
    };
    agreement::agree(
        &pk,
        agreement::UnparsedPublicKey::new(curve.alg(), peer_public),
        bad_peer,
        |z| Ok(SecretBytes::from_slice(z)),
    )
}

/// Key derivation function applied to Z (AWS `KeyDerivationFunction`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyDerivationFunction {
    /// `NIST_SP800`: SP 800-56C rev2 one-step KDF with a hash (= SP 800-56A Concat KDF):
    /// `H(counter ‖ Z ‖ OtherInfo)`, counter 32-bit big endian from 1.
    NistSp800,
    /// `ANSI_X963`: ANSI X9.63 KDF: `H(Z ‖ counter ‖ SharedInfo)`.
    AnsiX963,
}

/// Hash for the KDF (AWS `KeyDerivationHashAlgorithm`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Largest KDF output this API produces (far above any key length).
const MAX_KDF_OUTPUT: usize = 1024;

fn kdf_run<D: Digest>(z: &[u8], info: &[u8], out_len: usize, counter_first: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(out_len + 64);
    let mut counter: u32 = 1;
    while out.len() < out_len {
        let mut h = D::new();
        if counter_first {
            h.update(counter.to_be_bytes());
            h.update(z);
        } else {
            h.update(z);
            h.update(counter.to_be_bytes());
        }
        h.update(info);
        out.extend_from_slice(&h.finalize());
        counter = counter.wrapping_add(1);
    }
    out.truncate(out_len);
    out
}

fn kdf(
    kdf: KeyDerivationFunction,
    hash: KdfHash,
    z: &[u8],
    info: &[u8],
    out_len: usize,
) -> Result<SecretBytes> {
    if out_len == 0 || out_len > MAX_KDF_OUTPUT {
        return Err(Error::InvalidLength {
            field: "key_length",
            expected: "1 to 1024 bytes",
            actual: out_len,
        });
    }
    let first = kdf == KeyDerivationFunction::NistSp800;
    let v = match hash {
        KdfHash::Sha256 => kdf_run::<sha2::Sha256>(z, info, out_len, first),
        KdfHash::Sha384 => kdf_run::<sha2::Sha384>(z, info, out_len, first),
        KdfHash::Sha512 => kdf_run::<sha2::Sha512>(z, info, out_len, first),
    };
    Ok(SecretBytes::new(v))
}

/// NIST SP 800-56C rev2 §4.1 one-step KDF with hash H (option 1), identical to the
/// SP 800-56A Concatenation KDF: `K = H(1 ‖ Z ‖ OtherInfo) ‖ H(2 ‖ Z ‖ OtherInfo) ‖ …`,
/// truncated to `out_len` bytes.
///
/// # Errors
/// [`Error::InvalidLength`] unless `1 <= out_len <= 1024`.
pub fn concat_kdf(
    hash: KdfHash,
    z: &[u8],
    other_info: &[u8],
    out_len: usize,
) -> Result<SecretBytes> {
    kdf(
        KeyDerivationFunction::NistSp800,
        hash,
        z,
        other_info,
        out_len,
    )
}

/// ANSI X9.63-2001 §5.6.3 KDF (SEC 1 §3.6.1): `K = H(Z ‖ 1 ‖ SharedInfo) ‖ H(Z ‖ 2 ‖ SharedInfo) ‖ …`,
/// counter 32-bit big endian, truncated to `out_len` bytes.
///
/// # Errors
/// [`Error::InvalidLength`] unless `1 <= out_len <= 1024`.
pub fn x963_kdf(
    hash: KdfHash,
    z: &[u8],
    shared_info: &[u8],
    out_len: usize,
) -> Result<SecretBytes> {
    kdf(
        KeyDerivationFunction::AnsiX963,
        hash,
        z,
        shared_info,
        out_len,
    )
}

/// ECDH then KDF: derive an `out_len`-byte key (16 for AES-128 or TDES-2KEY, 32 for
/// AES-256, …) from our private key and the peer's public key.
///
/// # Errors
/// As [`ecdh_shared_secret`] and [`concat_kdf`].
pub fn ecdh_derive_key(
    curve: EccCurve,
    private_key: EcPrivateKey<'_>,
    peer_public: &[u8],
    kdf_fn: KeyDerivationFunction,
    hash: KdfHash,
    shared_info: &[u8],
    out_len: usize,
) -> Result<SecretBytes> {
    let z = ecdh_shared_secret(curve, private_key, peer_public)?;
    kdf(kdf_fn, hash, z.expose(), shared_info, out_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn x963_cavp_count0() {
        let z = decode("z", "96c05619d56c328ab95fe84b18264b08725b85e33fd34f08").unwrap();
        let k = x963_kdf(KdfHash::Sha256, &z, &[], 16).unwrap();
        assert_eq!(encode(k.expose()), "443024C3DAE66B95E6F5670601558F71");
    }

    #[test]
    fn ecdh_round_trip() {
        let a = ec_generate(EccCurve::P256).unwrap();
        let b = ec_generate(EccCurve::P256).unwrap();
        let ka = ecdh_derive_key(
            EccCurve::P256,
            EcPrivateKey::Der(a.private_pkcs8.expose()),
            &b.public_spki,
            KeyDerivationFunction::NistSp800,
            KdfHash::Sha256,
            b"info",
            32,
        )
        .unwrap();
        let kb = ecdh_derive_key(
            EccCurve::P256,
            EcPrivateKey::Der(b.private_pkcs8.expose()),
            &a.public_point,
            KeyDerivationFunction::NistSp800,
            KdfHash::Sha256,
            b"info",
            32,
        )
        .unwrap();
        assert_eq!(ka, kb);
    }
}
