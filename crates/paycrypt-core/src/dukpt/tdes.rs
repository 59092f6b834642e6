//! TDES DUKPT, ANSI X9.24-1:2009 Annex A (identical to ANSI X9.24-3:2017 Annex C).
//!
//! * The KSN is 10 bytes: key-set ID and device ID (59 bits) ‖ a 21-bit
//!   transaction counter. An 8-byte KSN (AWS accepts 16 hex characters) is
//!   left-padded with `FFFF`, the X9.24-1 convention for KSNs shorter than 80 bits.
//! * The IPEK (initial key) is derived from a double-length BDK (A.6); the
//!   current transaction key from the IPEK with the non-reversible key
//!   generation process once per 1 bit of the counter (A.2/A.3).
//! * Counters with more than ten 1 bits are never used by a device (A.2) and
//!   are refused here, as is counter 0 (the initial KSN is not a transaction KSN).
//! * Working keys are variants of the transaction key (A.4.1, table A-1); the
//!   data variants additionally go through the one-way function of figure A-2
//!   (each half TDES-encrypted under the variant itself).

use zeroize::{Zeroize, Zeroizing};

use super::{check_data_mode, DukptKeyVariant};
use crate::cipher::{BlockCipher, Mode};
use crate::error::{Error, KeyError, Result};
use crate::hex;
use crate::mac::{self, MacAlgorithm};
use crate::secret::SecretBytes;

/// KSN length in bytes.
pub const KSN_LEN: usize = 10;
/// Mask of the 21-bit transaction counter (rightmost bits of the KSN).
pub const COUNTER_MASK: u32 = 0x1F_FFFF;
/// The most 1 bits a transaction counter may have (X9.24-1 A.2).
pub const MAX_COUNTER_ONE_BITS: u32 = 10;

const KEY_MASK: [u8; 16] = [
    0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0,
];

/// A TDES DUKPT key serial number (10 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ksn([u8; KSN_LEN]);

impl core::fmt::Debug for Ksn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Ksn({})", hex::encode(&self.0))
    }
}

impl Ksn {
    /// A KSN from 10 bytes, or from 8 bytes left-padded with `FFFF`.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for any other length.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let mut k = [0xFFu8; KSN_LEN];
        match bytes.len() {
            10 => k.copy_from_slice(bytes),
            8 => k[2..].copy_from_slice(bytes),
            actual => {
                return Err(Error::InvalidLength {
                    field: "ksn",
                    expected: "10 bytes (20 hex) or 8 bytes (16 hex)",
                    actual,
                })
            }
        }
        Ok(Self(k))
    }

    /// Parse a KSN from 20 (or 16) hex characters.
    ///
    /// # Errors
    /// [`Error::InvalidHex`] or [`Error::InvalidLength`].
    pub fn from_hex(s: &str) -> Result<Self> {
        Self::new(&hex::decode("ksn", s)?)
    }

    /// The 10 KSN bytes.
    pub fn as_bytes(&self) -> &[u8; KSN_LEN] {
        &self.0
    }

    /// The 21-bit transaction counter.
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([0, self.0[7], self.0[8], self.0[9]]) & COUNTER_MASK
    }

    /// This KSN with its counter replaced.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `counter` does not fit in 21 bits.
    pub fn with_counter(&self, counter: u32) -> Result<Self> {
        if counter > COUNTER_MASK {
            return Err(Error::InvalidInput {
                field: "counter",
                reason: "TDES DUKPT counter must fit in 21 bits",
            });
        }
        let mut k = self.0;
        let c = counter.to_be_bytes();
        k[7] = (k[7] & 0xE0) | c[1];
        k[8] = c[2];
        k[9] = c[3];
        Ok(Self(k))
    }

    /// The initial KSN (counter cleared).
    pub fn initial(&self) -> Self {
        let mut k = self.0;
        k[7] &= 0xE0;
        k[8] = 0;
        k[9] = 0;
        Self(k)
    }

    /// The next KSN a device uses: the smallest larger counter with at most ten
    /// 1 bits, or `None` when the counter space is exhausted.
    pub fn next(&self) -> Option<Self> {
        let mut c = self.counter() + 1;
        while c.count_ones() > MAX_COUNTER_ONE_BITS {
            c += c & c.wrapping_neg();
        }
        self.with_counter(c).ok()
    }
}

/// Check a counter for use in a transaction key derivation.
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
            reason: "transaction counter has more than ten 1 bits (ANSI X9.24-1 A.2)",
        });
    }
    Ok(())
}

fn key16(key: &[u8], what: &'static str) -> Result<Zeroizing<[u8; 16]>> {
    let mut k = Zeroizing::new([0u8; 16]);
    if key.len() != 16 {
        return Err(KeyError::Length {
            algorithm: what,
            actual: key.len(),
        }
        .into());
    }
    k.copy_from_slice(key);
    Ok(k)
}

fn xor16(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut o = [0u8; 16];
    for ((o, x), y) in o.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    o
}

fn ipek_array(bdk: &[u8], ksn: &Ksn) -> Result<Zeroizing<[u8; 16]>> {
    let bdk = key16(bdk, "TDES DUKPT BDK (TDES_2KEY)")?;
    let mut block = [0u8; 8];
    block.copy_from_slice(&ksn.initial().0[..8]);
    let mut out = Zeroizing::new([0u8; 16]);
    let left = BlockCipher::tdes(&bdk[..])?.encrypt8(block)?;
    let mut variant = Zeroizing::new(xor16(&bdk, &KEY_MASK));
    let right = BlockCipher::tdes(&variant[..])?.encrypt8(block)?;
    variant.zeroize();
    out[..8].copy_from_slice(&left);
    out[8..].copy_from_slice(&right);
    Ok(out)
}

/// Derive the IPEK (initial key) from a double-length BDK (X9.24-1 A.6).
///
/// The counter bits of `ksn` are ignored, so any KSN of the device gives the same IPEK.
///
/// # Errors
/// [`KeyError::Length`] unless the BDK is 16 bytes (TDES_2KEY; AWS accepts no
/// TDES_3KEY BDK for DUKPT), [`KeyError::DegenerateTdes`] for a degenerate BDK.
pub fn derive_ipek(bdk: &[u8], ksn: &Ksn) -> Result<SecretBytes> {
    Ok(SecretBytes::from_slice(&ipek_array(bdk, ksn)?[..]))
}

/// One step of the non-reversible key generation process (A.2) under `register`.
fn non_reversible(key: &[u8; 16], register: [u8; 8]) -> Result<[u8; 16]> {
    let half = |k: &[u8; 16]| -> Result<[u8; 8]> {
        let mut kl = [0u8; 8];
        kl.copy_from_slice(&k[..8]);
        let des = BlockCipher::des(&kl);
        kl.zeroize();
        let mut r = [0u8; 8];
        for (i, b) in r.iter_mut().enumerate() {
            *b = k[8 + i] ^ register[i];
        }
        des.encrypt_block(&mut r)?;
        for (i, b) in r.iter_mut().enumerate() {
            *b ^= k[8 + i];
        }
        Ok(r)
    };
    let mut masked = xor16(key, &KEY_MASK);
    let left = half(&masked);
    masked.zeroize();
    let right = half(key)?;
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&left?);
    out[8..].copy_from_slice(&right);
    Ok(out)
}

fn transaction_key_array(ipek: &[u8; 16], ksn: &Ksn) -> Result<Zeroizing<[u8; 16]>> {
    let counter = ksn.counter();
    check_counter(counter)?;
    let mut reg8 = [0u8; 8];
    reg8.copy_from_slice(&ksn.0[2..]);
    let mut register = u64::from_be_bytes(reg8) & !u64::from(COUNTER_MASK);
    let mut key = Zeroizing::new(*ipek);
    for bit in (0..21).rev() {
        let b = 1u32 << bit;
        if counter & b != 0 {
            register |= u64::from(b);
            *key = non_reversible(&key, register.to_be_bytes())?;
        }
    }
    Ok(key)
}

/// Derive the current transaction key for `ksn` from the IPEK (X9.24-1 A.3,
/// host side): one non-reversible step per 1 bit of the counter, highest bit first.
///
/// # Errors
/// [`KeyError::Length`] unless the IPEK is 16 bytes; [`Error::InvalidInput`] for
/// counter 0 or a counter with more than ten 1 bits.
pub fn derive_transaction_key(ipek: &[u8], ksn: &Ksn) -> Result<SecretBytes> {
    let ipek = key16(ipek, "TDES DUKPT IPEK")?;
    Ok(SecretBytes::from_slice(
        &transaction_key_array(&ipek, ksn)?[..],
    ))
}

/// A TDES DUKPT working-key variant (X9.24-1 A.4.1 table A-1; X9.24-3 C.5.2 table 5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyVariant {
    /// PIN encryption: `00000000000000FF 00000000000000FF`.
    Pin,
    /// MAC, request: `000000000000FF00 000000000000FF00`.
    MacRequest,
    /// MAC, response: `00000000FF000000 00000000FF000000`.
    MacResponse,
    /// Data encryption, request: `0000000000FF0000 0000000000FF0000`, then the one-way function.
    DataRequest,
    /// Data encryption, response: `000000FF00000000 000000FF00000000`, then the one-way function.
    DataResponse,
}

impl KeyVariant {
    /// Index of the byte XORed with `FF` in each half.
    fn byte(self) -> usize {
        match self {
            Self::Pin => 7,
            Self::MacRequest => 6,
            Self::MacResponse => 4,
            Self::DataRequest => 5,
            Self::DataResponse => 3,
        }
    }

    /// The MAC variant for an AWS `DukptKeyVariant` (`Bidirectional` = request).
    pub fn for_mac(direction: DukptKeyVariant) -> Self {
        match direction {
            DukptKeyVariant::Response => Self::MacResponse,
            DukptKeyVariant::Request | DukptKeyVariant::Bidirectional => Self::MacRequest,
        }
    }

    /// The data variant for an AWS `DukptKeyVariant` (`Bidirectional` = request).
    pub fn for_data(direction: DukptKeyVariant) -> Self {
        match direction {
            DukptKeyVariant::Response => Self::DataResponse,
            DukptKeyVariant::Request | DukptKeyVariant::Bidirectional => Self::DataRequest,
        }
    }
}

fn variant_array(key: &[u8; 16], variant: KeyVariant) -> Result<Zeroizing<[u8; 16]>> {
    let mut v = Zeroizing::new(*key);
    let i = variant.byte();
    v[i] ^= 0xFF;
    v[i + 8] ^= 0xFF;
    if matches!(variant, KeyVariant::DataRequest | KeyVariant::DataResponse) {
        // Figure A-2: each half of the variant TDES-encrypted under the variant.
        let c = BlockCipher::tdes(&v[..])?;
        let mut out = Zeroizing::new([0u8; 16]);
        out.copy_from_slice(&v[..]);
        c.encrypt_block(&mut out[..8])?;
        c.encrypt_block(&mut out[8..])?;
        return Ok(out);
    }
    Ok(v)
}

/// Apply a working-key variant to a transaction key (data variants include the one-way function).
///
/// # Errors
/// [`KeyError::Length`] unless the key is 16 bytes.
pub fn variant_key(transaction_key: &[u8], variant: KeyVariant) -> Result<SecretBytes> {
    let k = key16(transaction_key, "TDES DUKPT transaction key")?;
    Ok(SecretBytes::from_slice(&variant_array(&k, variant)?[..]))
}

fn working_array(ipek: &[u8], ksn: &Ksn, variant: KeyVariant) -> Result<Zeroizing<[u8; 16]>> {
    let ipek = key16(ipek, "TDES DUKPT IPEK")?;
    let t = transaction_key_array(&ipek, ksn)?;
    variant_array(&t, variant)
}

/// The working key for `ksn` and `variant`, from the IPEK (the cached-IPEK path).
///
/// # Errors
/// As [`derive_transaction_key`].
pub fn working_key_from_ipek(ipek: &[u8], ksn: &Ksn, variant: KeyVariant) -> Result<SecretBytes> {
    Ok(SecretBytes::from_slice(
        &working_array(ipek, ksn, variant)?[..],
    ))
}

/// The working key for `ksn` and `variant`, from the BDK.
///
/// # Errors
/// As [`derive_ipek`] and [`derive_transaction_key`].
pub fn working_key(bdk: &[u8], ksn: &Ksn, variant: KeyVariant) -> Result<SecretBytes> {
    let ipek = ipek_array(bdk, ksn)?;
    working_key_from_ipek(&ipek[..], ksn, variant)
}

/// Encrypt an 8-byte clear PIN block under the PIN variant of the transaction key (TDES-ECB).
///
/// # Errors
/// As [`derive_transaction_key`].
pub fn encrypt_pin_block(ipek: &[u8], ksn: &Ksn, clear: &[u8; 8]) -> Result<[u8; 8]> {
    let k = working_array(ipek, ksn, KeyVariant::Pin)?;
    BlockCipher::tdes(&k[..])?.encrypt8(*clear)
}

/// Decrypt an 8-byte PIN block encrypted under the PIN variant (TDES-ECB).
///
/// # Errors
/// As [`derive_transaction_key`].
pub fn decrypt_pin_block(ipek: &[u8], ksn: &Ksn, encrypted: &[u8; 8]) -> Result<SecretBytes> {
    let k = working_array(ipek, ksn, KeyVariant::Pin)?;
    let mut clear = Zeroizing::new(BlockCipher::tdes(&k[..])?.decrypt8(*encrypted)?);
    let out = SecretBytes::from_slice(&clear[..]);
    clear.zeroize();
    Ok(out)
}

fn check_mac_algorithm(algorithm: MacAlgorithm) -> Result<()> {
    use crate::cipher::Algorithm;
    match algorithm {
        MacAlgorithm::Iso9797Alg1 {
            algorithm: Algorithm::Tdes2,
            ..
        }
        | MacAlgorithm::Iso9797Alg3 { .. }
        | MacAlgorithm::Cmac(Algorithm::Tdes2) => Ok(()),
        _ => Err(Error::Unsupported {
            what: "TDES DUKPT MACs are ISO 9797-1 alg 1/3 or CMAC with TDES_2KEY",
        }),
    }
}

/// Generate a full-length MAC with the request/response MAC variant (AWS
/// `DukptIso9797Algorithm1` / `DukptIso9797Algorithm3` / `DukptCmac` for TDES).
///
/// `algorithm` must be [`MacAlgorithm::Iso9797Alg1`] with TDES_2KEY,
/// [`MacAlgorithm::Iso9797Alg3`] or [`MacAlgorithm::Cmac`] with TDES_2KEY. The
/// X9.24-1 test data use algorithm 3 with padding method 1 and a 4-byte MAC.
///
/// # Errors
/// [`Error::Unsupported`] for another algorithm; as [`derive_transaction_key`].
pub fn generate_mac(
    ipek: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    algorithm: MacAlgorithm,
    data: &[u8],
) -> Result<Vec<u8>> {
    check_mac_algorithm(algorithm)?;
    let k = working_array(ipek, ksn, KeyVariant::for_mac(direction))?;
    mac::generate(algorithm, &k[..], data)
}

/// Verify a (possibly truncated, 4 bytes or more) MAC made with [`generate_mac`].
///
/// # Errors
/// As [`generate_mac`] and [`mac::verify`].
pub fn verify_mac(
    ipek: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    algorithm: MacAlgorithm,
    data: &[u8],
    received: &[u8],
) -> Result<()> {
    let mut computed = generate_mac(ipek, ksn, direction, algorithm, data)?;
    let r = mac::verify_truncated(&computed, received);
    computed.zeroize();
    r
}

/// Encrypt data with the data variant (TDES, ECB or CBC; data a multiple of 8 bytes, no padding).
///
/// # Errors
/// [`Error::Unsupported`] for another mode, [`Error::InvalidLength`] for bad
/// data/IV lengths; as [`derive_transaction_key`].
pub fn encrypt_data(
    ipek: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    mode: Mode,
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>> {
    check_data_mode(mode)?;
    let k = working_array(ipek, ksn, KeyVariant::for_data(direction))?;
    BlockCipher::tdes(&k[..])?.encrypt(mode, iv, data)
}

/// Decrypt data with the data variant (TDES, ECB or CBC). The result is secret.
///
/// # Errors
/// As [`encrypt_data`].
pub fn decrypt_data(
    ipek: &[u8],
    ksn: &Ksn,
    direction: DukptKeyVariant,
    mode: Mode,
    iv: &[u8],
    data: &[u8],
) -> Result<SecretBytes> {
    check_data_mode(mode)?;
    let k = working_array(ipek, ksn, KeyVariant::for_data(direction))?;
    Ok(SecretBytes::new(
        BlockCipher::tdes(&k[..])?.decrypt(mode, iv, data)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn x9_24_1_first_key() {
        let bdk = decode("b", "0123456789ABCDEFFEDCBA9876543210").unwrap();
        let ksn = Ksn::from_hex("FFFF9876543210E00001").unwrap();
        let ipek = derive_ipek(&bdk, &ksn).unwrap();
        assert_eq!(encode(ipek.expose()), "6AC292FAA1315B4D858AB3A3D7D5933A");
        let t = derive_transaction_key(ipek.expose(), &ksn).unwrap();
        assert_eq!(encode(t.expose()), "042666B49184CFA368DE9628D0397BC9");
        let pb = decode("p", "041274EDCBA9876F").unwrap();
        let enc = encrypt_pin_block(ipek.expose(), &ksn, &pb.clone().try_into().unwrap()).unwrap();
        assert_eq!(encode(&enc), "1B9C1845EB993A7A");
        assert_eq!(
            decrypt_pin_block(ipek.expose(), &ksn, &enc)
                .unwrap()
                .expose(),
            &pb[..]
        );
    }

    #[test]
    fn ksn_rules() {
        let ksn = Ksn::from_hex("FFFF9876543210E00000").unwrap();
        assert!(derive_transaction_key(&[1u8; 16], &ksn).is_err());
        let many = ksn.with_counter(0x7FF).unwrap();
        assert!(derive_transaction_key(&[1u8; 16], &many).is_err());
        assert_eq!(
            ksn.with_counter(0x3FF).unwrap().next().unwrap().counter(),
            0x400
        );
        assert!(ksn.with_counter(0x1F_F800).unwrap().next().is_none());
        assert_eq!(
            Ksn::from_hex("9876543210E00001").unwrap(),
            Ksn::from_hex("FFFF9876543210E00001").unwrap()
        );
        assert!(Ksn::new(&[0; 9]).is_err());
    }
}
