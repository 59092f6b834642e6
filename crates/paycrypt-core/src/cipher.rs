//! Block ciphers (DES, TDES, AES) behind one type, modes of operation and padding.
//!
//! The block ciphers themselves come from RustCrypto's audited `des` and `aes`
//! crates (key schedules zeroized on drop); this module only dispatches to them
//! and implements the modes (ECB, CBC, CFB-1/8/64/128, OFB) and ISO 9797-1 /
//! PKCS#7 padding around them.

use ::aes::{Aes128, Aes192, Aes256};
use ::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use ::des::{Des, TdesEde2, TdesEde3};

use crate::error::{Error, KeyError, Result};

/// A symmetric key algorithm, as the AWS `SymmetricKeyAlgorithm` enum names the block ciphers.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Single DES. Only for the internal steps of algorithms that specify it
    /// (DUKPT key generation, retail MAC, CVV, PVV); never a stored key.
    Des,
    /// Two-key triple DES (16-byte key).
    Tdes2,
    /// Three-key triple DES (24-byte key).
    Tdes3,
    /// AES with a 128-bit key.
    Aes128,
    /// AES with a 192-bit key.
    Aes192,
    /// AES with a 256-bit key.
    Aes256,
}

impl Algorithm {
    /// Block size in bytes (8 for DES/TDES, 16 for AES).
    pub fn block_size(self) -> usize {
        match self {
            Self::Des | Self::Tdes2 | Self::Tdes3 => 8,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Des => 8,
            Self::Tdes2 | Self::Aes128 => 16,
            Self::Tdes3 | Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    /// Whether this is DES or TDES.
    pub fn is_des_family(self) -> bool {
        self.block_size() == 8
    }

    /// The TDES algorithm for a key of `len` bytes.
    ///
    /// # Errors
    /// [`KeyError::Length`] unless 16 or 24.
    pub fn tdes_for_len(len: usize) -> Result<Self> {
        match len {
            16 => Ok(Self::Tdes2),
            24 => Ok(Self::Tdes3),
            actual => Err(KeyError::Length {
                algorithm: "TDES",
                actual,
            }
            .into()),
        }
    }

    /// The AES algorithm for a key of `len` bytes.
    ///
    /// # Errors
    /// [`KeyError::Length`] unless 16, 24 or 32.
    pub fn aes_for_len(len: usize) -> Result<Self> {
        match len {
            16 => Ok(Self::Aes128),
            24 => Ok(Self::Aes192),
            32 => Ok(Self::Aes256),
            actual => Err(KeyError::Length {
                algorithm: "AES",
                actual,
            }
            .into()),
        }
    }
}

enum Inner {
    Des(Des),
    Tdes2(TdesEde2),
    Tdes3(TdesEde3),
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

/// A keyed block cipher. The key schedule is zeroized on drop; `Debug` shows only the algorithm.
pub struct BlockCipher {
    inner: Inner,
}

impl core::fmt::Debug for BlockCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BlockCipher({:?})", self.algorithm())
    }
}

macro_rules! dispatch {
    ($self:ident, $c:ident => $e:expr) => {
        match &$self.inner {
            Inner::Des($c) => $e,
            Inner::Tdes2($c) => $e,
            Inner::Tdes3($c) => $e,
            Inner::Aes128($c) => $e,
            Inner::Aes192($c) => $e,
            Inner::Aes256($c) => $e,
        }
    };
}

fn init<C: KeyInit>(key: &[u8], algorithm: &'static str) -> Result<C> {
    C::new_from_slice(key).map_err(|_| {
        KeyError::Length {
            algorithm,
            actual: key.len(),
        }
        .into()
    })
}

/// Refuse TDES keys whose 8-byte parts are equal (they degrade to single DES).
/// Parity bits are ignored in the comparison.
///
/// # Errors
/// [`KeyError::DegenerateTdes`].
pub fn check_tdes_key(key: &[u8]) -> Result<()> {
    let part = |i: usize| -> [u8; 8] {
        let mut p = [0u8; 8];
        for (o, b) in p.iter_mut().zip(&key[8 * i..8 * i + 8]) {
            *o = b & 0xFE;
        }
        p
    };
    let degenerate = match key.len() {
        16 => part(0) == part(1),
        24 => part(0) == part(1) || part(1) == part(2),
        actual => {
            return Err(KeyError::Length {
                algorithm: "TDES",
                actual,
            }
            .into())
        }
    };
    if degenerate {
        return Err(KeyError::DegenerateTdes.into());
    }
    Ok(())
}

impl BlockCipher {
    /// Key a cipher of the given algorithm. TDES keys with equal parts are refused.
    ///
    /// # Errors
    /// [`KeyError::Length`] or [`KeyError::DegenerateTdes`].
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<Self> {
        let inner = match algorithm {
            Algorithm::Des => Inner::Des(init(key, "DES")?),
            Algorithm::Tdes2 => {
                check_tdes_key(key)?;
                Inner::Tdes2(init(key, "TDES_2KEY")?)
            }
            Algorithm::Tdes3 => {
                check_tdes_key(key)?;
                Inner::Tdes3(init(key, "TDES_3KEY")?)
            }
            Algorithm::Aes128 => Inner::Aes128(init(key, "AES_128")?),
            Algorithm::Aes192 => Inner::Aes192(init(key, "AES_192")?),
            Algorithm::Aes256 => Inner::Aes256(init(key, "AES_256")?),
        };
        Ok(Self { inner })
    }

    /// TDES with a 16- or 24-byte key.
    ///
    /// # Errors
    /// As [`BlockCipher::new`].
    pub fn tdes(key: &[u8]) -> Result<Self> {
        Self::new(Algorithm::tdes_for_len(key.len())?, key)
    }

    /// AES with a 16-, 24- or 32-byte key.
    ///
    /// # Errors
    /// As [`BlockCipher::new`].
    pub fn aes(key: &[u8]) -> Result<Self> {
        Self::new(Algorithm::aes_for_len(key.len())?, key)
    }

    /// Single DES, for algorithms that specify single-DES steps.
    pub fn des(key: &[u8; 8]) -> Self {
        Self {
            inner: Inner::Des(Des::new(&Array::from(*key))),
        }
    }

    /// The algorithm of this cipher.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::Des(_) => Algorithm::Des,
            Inner::Tdes2(_) => Algorithm::Tdes2,
            Inner::Tdes3(_) => Algorithm::Tdes3,
            Inner::Aes128(_) => Algorithm::Aes128,
            Inner::Aes192(_) => Algorithm::Aes192,
            Inner::Aes256(_) => Algorithm::Aes256,
        }
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> usize {
        self.algorithm().block_size()
    }

    fn check_block(&self, len: usize) -> Result<()> {
        if len == self.block_size() {
            Ok(())
        } else {
            Err(Error::InvalidLength {
                field: "block",
                expected: "one cipher block",
                actual: len,
            })
        }
    }

    /// Encrypt one block in place.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if `block` is not exactly one block.
    #[inline]
    pub fn encrypt_block(&self, block: &mut [u8]) -> Result<()> {
        self.check_block(block.len())?;
        dispatch!(self, c => {
            let b = <&mut Array<u8, _>>::try_from(block).map_err(|_| Error::InvalidLength {
                field: "block", expected: "one cipher block", actual: 0 })?;
            c.encrypt_block(b)
        });
        Ok(())
    }

    /// Decrypt one block in place.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if `block` is not exactly one block.
    #[inline]
    pub fn decrypt_block(&self, block: &mut [u8]) -> Result<()> {
        self.check_block(block.len())?;
        dispatch!(self, c => {
            let b = <&mut Array<u8, _>>::try_from(block).map_err(|_| Error::InvalidLength {
                field: "block", expected: "one cipher block", actual: 0 })?;
            c.decrypt_block(b)
        });
        Ok(())
    }

    /// Encrypt an 8-byte block (DES/TDES); a convenience for the 8-byte algorithms.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if this is an AES cipher.
    #[inline]
    pub fn encrypt8(&self, block: [u8; 8]) -> Result<[u8; 8]> {
        let mut b = block;
        self.encrypt_block(&mut b)?;
        Ok(b)
    }

    /// Decrypt an 8-byte block (DES/TDES).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if this is an AES cipher.
    #[inline]
    pub fn decrypt8(&self, block: [u8; 8]) -> Result<[u8; 8]> {
        let mut b = block;
        self.decrypt_block(&mut b)?;
        Ok(b)
    }

    /// Encrypt a 16-byte block (AES).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if this is a DES/TDES cipher.
    #[inline]
    pub fn encrypt16(&self, block: [u8; 16]) -> Result<[u8; 16]> {
        let mut b = block;
        self.encrypt_block(&mut b)?;
        Ok(b)
    }

    /// Decrypt a 16-byte block (AES).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] if this is a DES/TDES cipher.
    #[inline]
    pub fn decrypt16(&self, block: [u8; 16]) -> Result<[u8; 16]> {
        let mut b = block;
        self.decrypt_block(&mut b)?;
        Ok(b)
    }

    /// Encrypt `data` in `mode` with `iv` (ignored for ECB).
    ///
    /// ECB and CBC need whole blocks (pad first with [`pad`]); the CFB and OFB
    /// modes take any length. CFB segment sizes larger than the block are refused.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for a bad data or IV length, [`Error::Unsupported`]
    /// for a CFB segment larger than the block.
    pub fn encrypt(&self, mode: Mode, iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.apply(mode, iv, data, true)
    }

    /// Decrypt `data` in `mode` with `iv` (ignored for ECB).
    ///
    /// # Errors
    /// As [`BlockCipher::encrypt`].
    pub fn decrypt(&self, mode: Mode, iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.apply(mode, iv, data, false)
    }

    fn apply(&self, mode: Mode, iv: &[u8], data: &[u8], enc: bool) -> Result<Vec<u8>> {
        let bs = self.block_size();
        if mode != Mode::Ecb && iv.len() != bs {
            return Err(Error::InvalidLength {
                field: "iv",
                expected: "one cipher block",
                actual: iv.len(),
            });
        }
        let mut out = data.to_vec();
        match mode {
            Mode::Ecb | Mode::Cbc => {
                if data.len() % bs != 0 {
                    return Err(Error::InvalidLength {
                        field: "data",
                        expected: "a multiple of the cipher block size",
                        actual: data.len(),
                    });
                }
                let mut chain = [0u8; 16];
                chain[..bs].copy_from_slice(if mode == Mode::Cbc {
                    iv
                } else {
                    &[0u8; 16][..bs]
                });
                for blk in out.chunks_exact_mut(bs) {
                    if enc {
                        if mode == Mode::Cbc {
                            xor_into(blk, &chain[..bs]);
                        }
                        self.encrypt_block(blk)?;
                        chain[..bs].copy_from_slice(blk);
                    } else {
                        let mut saved = [0u8; 16];
                        saved[..bs].copy_from_slice(blk);
                        self.decrypt_block(blk)?;
                        if mode == Mode::Cbc {
                            xor_into(blk, &chain[..bs]);
                        }
                        chain = saved;
                    }
                }
            }
            Mode::Ofb => {
                let mut reg = [0u8; 16];
                reg[..bs].copy_from_slice(iv);
                for chunk in out.chunks_mut(bs) {
                    self.encrypt_block(&mut reg[..bs])?;
                    xor_into(chunk, &reg[..chunk.len()]);
                }
            }
            Mode::Cfb1 => self.cfb1(iv, &mut out, enc)?,
            Mode::Cfb8 | Mode::Cfb64 | Mode::Cfb128 => {
                let seg = match mode {
                    Mode::Cfb8 => 1,
                    Mode::Cfb64 => 8,
                    _ => 16,
                };
                if seg > bs {
                    return Err(Error::Unsupported {
                        what: "CFB segment larger than the cipher block",
                    });
                }
                let mut reg = [0u8; 16];
                reg[..bs].copy_from_slice(iv);
                for chunk in out.chunks_mut(seg) {
                    let mut ks = reg;
                    self.encrypt_block(&mut ks[..bs])?;
                    let n = chunk.len();
                    let mut cipher_seg = [0u8; 16];
                    if enc {
                        xor_into(chunk, &ks[..n]);
                        cipher_seg[..n].copy_from_slice(chunk);
                    } else {
                        cipher_seg[..n].copy_from_slice(chunk);
                        xor_into(chunk, &ks[..n]);
                    }
                    // shift register left by `seg` bytes and append the cipher segment
                    reg.copy_within(seg..bs, 0);
                    reg[bs - seg..bs].copy_from_slice(&cipher_seg[..seg]);
                }
            }
        }
        Ok(out)
    }

    fn cfb1(&self, iv: &[u8], data: &mut [u8], enc: bool) -> Result<()> {
        let bs = self.block_size();
        let mut reg = [0u8; 16];
        reg[..bs].copy_from_slice(iv);
        for byte in data.iter_mut() {
            let mut outb = 0u8;
            for bit in (0..8).rev() {
                let mut ks = reg;
                self.encrypt_block(&mut ks[..bs])?;
                let in_bit = (*byte >> bit) & 1;
                let out_bit = in_bit ^ (ks[0] >> 7);
                let c_bit = if enc { out_bit } else { in_bit };
                outb |= out_bit << bit;
                // shift the register left by one bit, append c_bit
                for i in 0..bs {
                    let next = if i + 1 < bs { reg[i + 1] >> 7 } else { c_bit };
                    reg[i] = (reg[i] << 1) | next;
                }
            }
            *byte = outb;
        }
        Ok(())
    }
}

/// Modes of operation, as the AWS `EncryptionMode` enum names them (`CFB` = full-block CFB).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Electronic codebook.
    Ecb,
    /// Cipher block chaining.
    Cbc,
    /// Cipher feedback, 1-bit segments.
    Cfb1,
    /// Cipher feedback, 8-bit segments.
    Cfb8,
    /// Cipher feedback, 64-bit segments (full-block CFB for DES/TDES).
    Cfb64,
    /// Cipher feedback, 128-bit segments (full-block CFB for AES).
    Cfb128,
    /// Output feedback.
    Ofb,
}

impl Mode {
    /// Full-block CFB for a cipher with this block size (`CFB` in the AWS enum).
    pub fn cfb_full_block(block_size: usize) -> Self {
        if block_size == 8 {
            Self::Cfb64
        } else {
            Self::Cfb128
        }
    }
}

/// Padding methods.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// ISO/IEC 9797-1 method 1: zero bytes to the block boundary (none if aligned;
    /// an empty message becomes one zero block). Not reversible.
    Iso9797M1,
    /// ISO/IEC 9797-1 method 2 (= ISO/IEC 7816-4): `80` then zeros, always at least one byte.
    Iso9797M2,
    /// ISO/IEC 9797-1 method 3: a block holding the bit length of the data, then method-1 padding.
    Iso9797M3,
    /// PKCS#7: `n` bytes of value `n`, always at least one byte.
    Pkcs7,
}

/// Pad `data` to a multiple of `block_size`.
///
/// `block_size` is the cipher block size (8 or 16); it must be non-zero, and at
/// most 255 for PKCS#7 (RFC 5652 §6.3 only defines block sizes below 256).
pub fn pad(padding: Padding, data: &[u8], block_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2 * block_size);
    match padding {
        Padding::Iso9797M1 => {
            out.extend_from_slice(data);
            let target = if data.is_empty() {
                block_size
            } else {
                data.len().div_ceil(block_size) * block_size
            };
            out.resize(target, 0);
        }
        Padding::Iso9797M2 => {
            out.extend_from_slice(data);
            out.push(0x80);
            let target = out.len().div_ceil(block_size) * block_size;
            out.resize(target, 0);
        }
        Padding::Iso9797M3 => {
            let bits = (data.len() as u64).saturating_mul(8);
            let mut len_block = vec![0u8; block_size];
            let be = bits.to_be_bytes();
            let n = be.len().min(block_size);
            len_block[block_size - n..].copy_from_slice(&be[be.len() - n..]);
            out.extend_from_slice(&len_block);
            out.extend_from_slice(data);
            // The data part is padded as method 1: an empty message becomes one zero block.
            let target = if data.is_empty() {
                out.len() + block_size
            } else {
                out.len().div_ceil(block_size) * block_size
            };
            out.resize(target, 0);
        }
        Padding::Pkcs7 => {
            out.extend_from_slice(data);
            let n = block_size - data.len() % block_size;
            out.resize(data.len() + n, n as u8);
        }
    }
    out
}

/// Remove reversible padding (ISO 9797-1 method 2 or PKCS#7).
///
/// # Errors
/// [`Error::InvalidLength`] unless `data` is a non-empty multiple of a non-zero
/// `block_size`; [`Error::InvalidInput`] when the padding is malformed;
/// [`Error::Unsupported`] for method 1 and 3, which cannot be removed unambiguously.
pub fn unpad(padding: Padding, data: &[u8], block_size: usize) -> Result<Vec<u8>> {
    let bad = Error::InvalidInput {
        field: "padding",
        reason: "malformed padding",
    };
    if block_size == 0 || data.is_empty() || data.len() % block_size != 0 {
        return Err(Error::InvalidLength {
            field: "data",
            expected: "a non-empty multiple of the cipher block size",
            actual: data.len(),
        });
    }
    match padding {
        Padding::Pkcs7 => {
            let n = usize::from(data[data.len() - 1]);
            if n == 0
                || n > block_size
                || data[data.len() - n..].iter().any(|&b| usize::from(b) != n)
            {
                return Err(bad);
            }
            Ok(data[..data.len() - n].to_vec())
        }
        Padding::Iso9797M2 => {
            let last_nz = data.iter().rposition(|&b| b != 0).ok_or(bad.clone())?;
            if data[last_nz] != 0x80 || data.len() - last_nz > block_size {
                return Err(bad);
            }
            Ok(data[..last_nz].to_vec())
        }
        Padding::Iso9797M1 | Padding::Iso9797M3 => Err(Error::Unsupported {
            what: "removing ISO 9797-1 padding method 1 or 3",
        }),
    }
}

/// XOR `src` into `dst` (up to the shorter length).
#[inline]
pub fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    // NIST SP 800-38A, F.1–F.5 (AES-128), key 2b7e1516...
    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";

    fn aes() -> BlockCipher {
        BlockCipher::aes(&decode("k", KEY).unwrap()).unwrap()
    }

    #[test]
    fn sp800_38a_aes128_vectors() {
        let c = aes();
        let iv = decode("iv", IV).unwrap();
        let pt = decode("pt", PT).unwrap();
        let cases = [
            (
                Mode::Ecb,
                "3AD77BB40D7A3660A89ECAF32466EF97F5D3D58503B9699DE785895A96FDBAAF",
            ),
            (
                Mode::Cbc,
                "7649ABAC8119B246CEE98E9B12E9197D5086CB9B507219EE95DB113A917678B2",
            ),
            (
                Mode::Cfb128,
                "3B3FD92EB72DAD20333449F8E83CFB4AC8A64537A0B3A93FCDE3CDAD9F1CE58B",
            ),
            (
                Mode::Ofb,
                "3B3FD92EB72DAD20333449F8E83CFB4A7789508D16918F03F53C52DAC54ED825",
            ),
        ];
        for (mode, ct) in cases {
            let out = c.encrypt(mode, &iv, &pt).unwrap();
            assert_eq!(encode(&out), ct, "{mode:?}");
            assert_eq!(c.decrypt(mode, &iv, &out).unwrap(), pt, "{mode:?}");
        }
        // F.3.7 CFB8-AES128 (18 bytes)
        let pt8 = decode("pt", "6bc1bee22e409f96e93d7e117393172aae2d").unwrap();
        let ct8 = c.encrypt(Mode::Cfb8, &iv, &pt8).unwrap();
        assert_eq!(encode(&ct8), "3B79424C9C0DD436BACE9E0ED4586A4F32B9");
        assert_eq!(c.decrypt(Mode::Cfb8, &iv, &ct8).unwrap(), pt8);
        // F.3.1 CFB1-AES128: plaintext bits 0110 1011 1100 0001 → 0110 1000 1011 0011
        let ct1 = c.encrypt(Mode::Cfb1, &iv, &[0x6b, 0xc1]).unwrap();
        assert_eq!(encode(&ct1), "68B3");
        assert_eq!(c.decrypt(Mode::Cfb1, &iv, &ct1).unwrap(), vec![0x6b, 0xc1]);
    }

    #[test]
    fn tdes_kcv_and_degenerate() {
        let c =
            BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        assert_eq!(encode(&c.encrypt8([0; 8]).unwrap()[..3]), "08D7B4");
        let e = BlockCipher::tdes(&decode("k", "0123456789ABCDEF0123456789ABCDEF").unwrap())
            .unwrap_err();
        assert_eq!(e, Error::InvalidKey(KeyError::DegenerateTdes));
        assert!(BlockCipher::tdes(&[0u8; 8]).is_err());
        assert!(c.encrypt16([0; 16]).is_err());
    }

    #[test]
    fn padding() {
        assert_eq!(
            encode(&pad(Padding::Iso9797M1, &[0x12, 0x34], 8)),
            "1234000000000000"
        );
        assert_eq!(
            encode(&pad(Padding::Iso9797M2, &[0x12, 0x34], 8)),
            "1234800000000000"
        );
        assert_eq!(
            encode(&pad(Padding::Iso9797M3, &[0x12, 0x34], 8)),
            "00000000000000101234000000000000"
        );
        assert_eq!(
            encode(&pad(Padding::Iso9797M3, &[], 8)),
            "00000000000000000000000000000000"
        );
        let p = pad(Padding::Pkcs7, &[1u8; 16], 16);
        assert_eq!(p.len(), 32);
        assert_eq!(unpad(Padding::Pkcs7, &p, 16).unwrap(), vec![1u8; 16]);
        let p = pad(Padding::Iso9797M2, &[0u8; 3], 8);
        assert_eq!(unpad(Padding::Iso9797M2, &p, 8).unwrap(), vec![0u8; 3]);
        assert!(unpad(Padding::Pkcs7, &[0u8; 8], 8).is_err());
    }
}
