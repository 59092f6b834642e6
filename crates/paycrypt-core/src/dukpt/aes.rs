//! AES DUKPT, ANSI X9.24-3:2017.
//!
//! * The KSN is 12 bytes: the initial key ID (8 bytes: BDK ID ‖ derivation ID)
//!   ‖ a 32-bit transaction counter.
//! * Every key is derived by AES-ECB encrypting 16-byte derivation data under
//!   the parent key (§6.3): `version 01 ‖ key block counter ‖ key usage (2) ‖
//!   algorithm (2) ‖ length in bits (2) ‖ 8 bytes of KSN data`, one block per
//!   16 bytes of derived key, the block counter starting at 1.
//! * Initial key: usage `8001`, KSN data = initial key ID, derived under the
//!   BDK with the BDK's own algorithm. Derivation (transaction) key for a
//!   counter: one step per 1 bit of the counter, highest first, usage `8000`,
//!   KSN data = rightmost 4 bytes of the initial key ID ‖ the counter bits so far.
//!   Working keys: the usage code and working-key algorithm, KSN data = rightmost
//!   4 bytes of the initial key ID ‖ the counter.
//! * Counters with more than sixteen 1 bits (§6.1) and counter 0 are refused.
//! * A working key may not be stronger than the derivation key (§6.1.3):
//!   AES working keys at most the derivation key length; TDES working keys are always allowed.
//!
//! The byte layout follows the public reference `openemv/dukpt` `src/dukpt_aes.c`
//! and is proven by the X9.24-3 supplement vectors in the tests.

use zeroize::{Zeroize, Zeroizing};

use super::{check_data_mode, DukptKeyVariant};
use crate::cipher::{Algorithm, BlockCipher, Mode};
use crate::error::{Error, KeyError, Result};
use crate::hex;
use crate::mac;
use crate::secret::SecretBytes;

/// KSN length in bytes.
pub const KSN_LEN: usize = 12;
/// Initial key ID length in bytes.
pub const INITIAL_KEY_ID_LEN: usize = 8;
/// The most 1 bits a transaction counter may have (X9.24-3 §6.1).
pub const MAX_COUNTER_ONE_BITS: u32 = 16;

/// An AES DUKPT key serial number (12 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ksn([u8; KSN_LEN]);

impl core::fmt::Debug for Ksn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Ksn({})", hex::encode(&self.0))
    }
}

impl Ksn {
    /// A KSN from exactly 12 bytes.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for any other length.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        <[u8; KSN_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidLength {
                field: "ksn",
                expected: "12 bytes (24 hex)",
                actual: bytes.len(),
            })
    }

    /// Build a KSN from an initial key ID and a counter.
    pub fn from_parts(initial_key_id: &[u8; INITIAL_KEY_ID_LEN], counter: u32) -> Self {
        let mut k = [0u8; KSN_LEN];
        k[..8].copy_from_slice(initial_key_id);
        k[8..].copy_from_slice(&counter.to_be_bytes());
        Self(k)
    }

    /// Parse a KSN from 24 hex characters.
    ///
    /// # Errors
    /// [`Error::InvalidHex`] or [`Error::InvalidLength`].
    pub fn from_hex(s: &str) -> Result<Self> {
        Self::new(&hex::decode("ksn", s)?)
    }

    /// The 12 KSN bytes.
    pub fn as_bytes(&self) -> &[u8; KSN_LEN] {
        &self.0
    }

    /// The initial key ID (leftmost 8 bytes).
    pub fn initial_key_id(&self) -> [u8; INITIAL_KEY_ID_LEN] {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        id
    }

    /// The 32-bit transaction counter.
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([self.0[8], self.0[9], self.0[10], self.0[11]])
    }

    /// The next KSN a device uses (smallest larger counter with at most sixteen
    /// 1 bits), or `None` when the counter space is exhausted.
    pub fn next(&self) -> Option<Self> {
        let mut c = u64::from(self.counter()) + 1;
        while c.count_ones() > MAX_COUNTER_ONE_BITS {
            c += c & c.wrapping_neg();
        }
        let c = u32::try_from(c).ok()?;
        Some(Self::from_parts(&self.initial_key_id(), c))
    }
}

/// AES DUKPT key usage indicator (X9.24-3 §6.3.2, tables 2 and 3).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// Key encryption key (`0002`).
    KeyEncryptionKey,
    /// PIN encryption (`1000`).
    PinEncryption,
    /// MAC generation (`2000`).
    MacGeneration,
    /// MAC verification (`2001`).
    MacVerification,
    /// MAC generation and verification (`2002`).
    MacBoth,
    /// Data encryption, encrypt (`3000`).
    DataEncrypt,
    /// Data encryption, decrypt (`3001`).
    DataDecrypt,
    /// Data encryption, both (`3002`).
    DataBoth,
}

impl KeyUsage {
    /// The 16-bit usage code of the derivation data.
    pub fn code(self) -> u16 {
        match self {
            Self::KeyEncryptionKey => 0x0002,
            Self::PinEncryption => 0x1000,
            Self::MacGeneration => 0x2000,
            Self::MacVerification => 0x2001,
            Self::MacBoth => 0x2002,
            Self::DataEncrypt => 0x3000,
            Self::DataDecrypt => 0x3001,
            Self::DataBoth => 0x3002,
        }
    }

    /// The MAC usage for an AWS `DukptKeyVariant` (see [`DukptKeyVariant`]).
    pub fn for_mac(direction: DukptKeyVariant) -> Self {
        match direction {
            DukptKeyVariant::Request => Self::MacGeneration,
            DukptKeyVariant::Response => Self::MacVerification,
            DukptKeyVariant::Bidirectional => Self::MacBoth,
        }
    }

    /// The data-encryption usage for an AWS `DukptKeyVariant` (see [`DukptKeyVariant`]).
    pub fn for_data(direction: DukptKeyVariant) -> Self {
        match direction {
            DukptKeyVariant::Request => Self::DataEncrypt,
            DukptKeyVariant::Response => Self::DataDecrypt,
            DukptKeyVariant::Bidirectional => Self::DataBoth,
        }
    }
}

const USAGE_KEY_DERIVATION: u16 = 0x8000;
const USAGE_INITIAL_KEY: u16 = 0x8001;

/// Algorithm indicator and key length in bits of the derivation data.
fn algorithm_code(algorithm: Algorithm) -> Result<(u16, u16)> {
    Ok(match algorithm {
        Algorithm::Tdes2 => (0, 128),
        Algorithm::Tdes3 => (1, 192),
        Algorithm::Aes128 => (2, 128),
        Algorithm::Aes192 => (3, 192),
        Algorithm::Aes256 => (4, 256),
        _ => {
            return Err(KeyError::WrongAlgorithm {
                expected: "TDES_2KEY, TDES_3KEY or AES working key",
            }
            .into())
        }
    })
}

/// A derived key (at most 32 bytes) on the stack, zeroized on drop.
struct DerivedKey {
    bytes: Zeroizing<[u8; 32]>,
    len: usize,
}

impl DerivedKey {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// Derive a key of `algorithm` under `parent` (X9.24-3 §6.3.1).
fn derive(
    parent: &BlockCipher,
    usage: u16,
    algorithm: Algorithm,
    ksn_data: [u8; 8],
) -> Result<DerivedKey> {
    let (alg, bits) = algorithm_code(algorithm)?;
    let len = usize::from(bits / 8);
    let mut data = [0u8; 16];
    data[0] = 0x01;
    data[2..4].copy_from_slice(&usage.to_be_bytes());
    data[4..6].copy_from_slice(&alg.to_be_bytes());
    data[6..8].copy_from_slice(&bits.to_be_bytes());
    data[8..].copy_from_slice(&ksn_data);
    let mut out = DerivedKey {
        bytes: Zeroizing::new([0u8; 32]),
        len,
    };
    for (i, chunk) in out
        .bytes
        .chunks_exact_mut(16)
        .take(len.div_ceil(16))
        .enumerate()
    {
        data[1] = (i + 1) as u8;
        chunk.copy_from_slice(&data);
        parent.encrypt_block(chunk)?;
    }
    data.zeroize();
    Ok(out)
}

fn aes_derivation_cipher(key: &[u8], what: &'static str) -> Result<BlockCipher> {
    let alg = Algorithm::aes_for_len(key.len()).map_err(|_| KeyError::Length {
        algorithm: what,
        actual: key.len(),
    })?;
    BlockCipher::new(alg, key)
}

fn check_counter(counter: u32) -> Result<()> {
    if counter == 0 {
        return Err(Error::InvalidInput {
            field: "ksn",
            reason: "transaction counter 0 is the initial KSN, not a transaction KSN",
        });
    }
    if counter.count_ones() > MAX_COUNTER_ONE_BITS {
        return Err(Error::InvalidInput {
            field: "ksn",
            reason: "transaction counter has more than sixteen 1 bits (ANSI X9.24-3 6.1)",
        });
    }
    Ok(())
}

/// Derive the initial key (IK) from an AES BDK and the 8-byte initial key ID.
/// The IK has the BDK's algorithm.
///
/// # Errors
/// [`KeyError::Length`] unless the BDK is 16, 24 or 32 bytes.
pub fn derive_initial_key(
    bdk: &[u8],
    initial_key_id: &[u8; INITIAL_KEY_ID_LEN],
) -> Result<SecretBytes> {
    let c = aes_derivation_cipher(bdk, "AES DUKPT BDK")?;
    let k = derive(&c, USAGE_INITIAL_KEY, c.algorithm(), *initial_key_id)?;
    Ok(SecretBytes::from_slice(k.as_slice()))
}

/// The transaction derivation key of `ksn` and the cipher keyed with it (so that the working
/// key derivation does not schedule it again).
fn derivation_key(initial_key: &[u8], ksn: &Ksn) -> Result<(Option<DerivedKey>, BlockCipher)> {
    let counter = ksn.counter();
    check_counter(counter)?;
    let mut c = aes_derivation_cipher(initial_key, "AES DUKPT initial key")?;
    let alg = c.algorithm();
    let mut key = None;
    let mut working = 0u32;
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&ksn.0[4..8]);
    for bit in (0..32).rev() {
        let mask = 1u32 << bit;
        if counter & mask == 0 {
            continue;
        }
        working |= mask;
        data[4..].copy_from_slice(&working.to_be_bytes());
        let k = derive(&c, USAGE_KEY_DERIVATION, alg, data)?;
        c = BlockCipher::new(alg, k.as_slice())?;
        key = Some(k);
    }
    Ok((key, c))
}

/// Derive the transaction-specific derivation key for `ksn` from the initial
/// key (X9.24-3 §6.4 host side). Its algorithm is the initial key's.
///
/// # Errors
/// [`KeyError::Length`] unless the IK is 16, 24 or 32 bytes; [`Error::InvalidInput`]
/// for counter 0 or a counter with more than sixteen 1 bits.
pub fn derive_transaction_key(initial_key: &[u8], ksn: &Ksn) -> Result<SecretBytes> {
    // `check_counter` refuses counter 0, so at least one derivation step ran.
    match derivation_key(initial_key, ksn)? {
        (Some(k), _) => Ok(SecretBytes::from_slice(k.as_slice())),
        (None, _) => Err(Error::InvalidInput {
            field: "ksn",
            reason: "transaction counter 0 is the initial KSN, not a transaction KSN",
        }),
    }
}

fn working_vec(
    derivation_key: &[u8],
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<DerivedKey> {
    let c = aes_derivation_cipher(derivation_key, "AES DUKPT derivation key")?;
    working_with(&c, ksn, usage, key_type)
}

/// The working key under the keyed derivation-key cipher `c`.
fn working_with(
    c: &BlockCipher,
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<DerivedKey> {
    algorithm_code(key_type)?;
    if !key_type.is_des_family() && key_type.key_len() > c.algorithm().key_len() {
        return Err(Error::InvalidInput {
            field: "key_type",
            reason: "working key may not be stronger than the derivation key (X9.24-3 6.1.3)",
        });
    }
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&ksn.0[4..8]);
    data[4..].copy_from_slice(&ksn.0[8..]);
    derive(c, usage.code(), key_type, data)
}

/// Derive a working key from a transaction derivation key (see [`derive_transaction_key`]).
///
/// `key_type` is the working key's algorithm: TDES_2KEY, TDES_3KEY or an AES
/// size not larger than the derivation key.
///
/// # Errors
/// [`KeyError::WrongAlgorithm`] for single DES, [`Error::InvalidInput`] for a
/// working key stronger than the derivation key, [`KeyError::Length`] for a bad derivation key.
pub fn derive_working_key(
    derivation_key: &[u8],
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<SecretBytes> {
    Ok(SecretBytes::from_slice(
        working_vec(derivation_key, ksn, usage, key_type)?.as_slice(),
    ))
}

fn working_from_ik(
    initial_key: &[u8],
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<DerivedKey> {
    let (_, c) = derivation_key(initial_key, ksn)?;
    working_with(&c, ksn, usage, key_type)
}

/// The working key for `ksn`, from the initial key (the cached-IK path).
///
/// # Errors
/// As [`derive_transaction_key`] and [`derive_working_key`].
pub fn working_key_from_initial_key(
    initial_key: &[u8],
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<SecretBytes> {
    Ok(SecretBytes::from_slice(
        working_from_ik(initial_key, ksn, usage, key_type)?.as_slice(),
    ))
}

/// The working key for `ksn`, from the BDK.
///
/// # Errors
/// As [`derive_initial_key`] and [`working_key_from_initial_key`].
pub fn working_key(
    bdk: &[u8],
    ksn: &Ksn,
    usage: KeyUsage,
    key_type: Algorithm,
) -> Result<SecretBytes> {
    let ik = derive_initial_key(bdk, &ksn.initial_key_id())?;
    working_key_from_initial_key(ik.expose(), ksn, usage, key_type)
}

/// Generate a full-length CMAC with the DUKPT MAC key of `direction` (AWS `DukptCmac`).
///
/// # Errors
/// As [`working_key_from_initial_key`].
pub fn generate_cmac(
    initial_key: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    key_type: Algorithm,
    data: &[u8],
) -> Result<Vec<u8>> {
    let k = working_from_ik(initial_key, ksn, KeyUsage::for_mac(direction), key_type)?;
    mac::cmac(&BlockCipher::new(key_type, k.as_slice())?, data)
}

/// Verify a (possibly truncated, 4 bytes or more) CMAC made with [`generate_cmac`].
///
/// # Errors
/// As [`generate_cmac`] and [`mac::verify_truncated`].
pub fn verify_cmac(
    initial_key: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    key_type: Algorithm,
    data: &[u8],
    received: &[u8],
) -> Result<()> {
    let mut computed = generate_cmac(initial_key, ksn, direction, key_type, data)?;
    let r = mac::verify_truncated(&computed, received);
    computed.zeroize();
    r
}

/// Encrypt data with the DUKPT data key of `direction` (ECB or CBC, whole blocks, no padding).
///
/// # Errors
/// [`Error::Unsupported`] for another mode; [`Error::InvalidLength`] for bad
/// data/IV lengths; as [`working_key_from_initial_key`].
pub fn encrypt_data(
    initial_key: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    key_type: Algorithm,
    mode: Mode,
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>> {
    check_data_mode(mode)?;
    let k = working_from_ik(initial_key, ksn, KeyUsage::for_data(direction), key_type)?;
    BlockCipher::new(key_type, k.as_slice())?.encrypt(mode, iv, data)
}

/// Decrypt data with the DUKPT data key of `direction`. The result is secret.
///
/// # Errors
/// As [`encrypt_data`].
pub fn decrypt_data(
    initial_key: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    key_type: Algorithm,
    mode: Mode,
    iv: &[u8],
    data: &[u8],
) -> Result<SecretBytes> {
    check_data_mode(mode)?;
    let k = working_from_ik(initial_key, ksn, KeyUsage::for_data(direction), key_type)?;
    Ok(SecretBytes::new(
        BlockCipher::new(key_type, k.as_slice())?.decrypt(mode, iv, data)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn x9_24_3_first_ksn() {
        let bdk = decode("b", "FEDCBA9876543210F1F1F1F1F1F1F1F1").unwrap();
        let ksn = Ksn::from_hex("123456789012345600000001").unwrap();
        let ik = derive_initial_key(&bdk, &ksn.initial_key_id()).unwrap();
        assert_eq!(encode(ik.expose()), "1273671EA26AC29AFA4D1084127652A1");
        let t = derive_transaction_key(ik.expose(), &ksn).unwrap();
        assert_eq!(encode(t.expose()), "4F21B565BAD9835E112B6465635EAE44");
        let pin = working_key(&bdk, &ksn, KeyUsage::PinEncryption, Algorithm::Aes128).unwrap();
        assert_eq!(encode(pin.expose()), "AF8CB133A78F8DC2D1359F18527593FB");
        assert!(working_key(&bdk, &ksn, KeyUsage::PinEncryption, Algorithm::Aes256).is_err());
        assert_eq!(
            working_key(&bdk, &ksn, KeyUsage::PinEncryption, Algorithm::Tdes3)
                .unwrap()
                .len(),
            24
        );
    }

    #[test]
    fn counter_rules() {
        let id = [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56];
        assert!(derive_transaction_key(&[1u8; 16], &Ksn::from_parts(&id, 0)).is_err());
        assert!(derive_transaction_key(&[1u8; 16], &Ksn::from_parts(&id, 0x1FFFF)).is_err());
        assert_eq!(
            Ksn::from_parts(&id, 0xFFFF).next().unwrap().counter(),
            0x10000
        );
        assert!(Ksn::from_parts(&id, 0xFFFF_0000).next().is_none());
    }
}
