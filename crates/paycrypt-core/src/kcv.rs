//! Key check values, as the AWS `KeyCheckValueAlgorithm` enum names them.

use crate::cipher::BlockCipher;
use crate::error::{Error, Result};
use crate::mac::cmac;

/// How a key check value is computed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KcvAlgorithm {
    /// ANSI X9.24: encrypt a block of zeros, keep the leftmost bytes.
    AnsiX924,
    /// CMAC over a block of zeros (X9.24-3 / X9.143 for AES keys).
    Cmac,
    /// HMAC of the empty message with the key, for HMAC keys.
    Hmac,
    /// SHA-1 of the key (or public key) bytes.
    Sha1,
}

/// ANSI X9.24 KCV: E_K(0…0), leftmost `len` bytes (3 is the convention).
///
/// # Errors
/// [`Error::InvalidLength`] if `len` exceeds the block size.
pub fn ansi_x9_24(cipher: &BlockCipher, len: usize) -> Result<Vec<u8>> {
    let bs = cipher.block_size();
    check_len(len, bs)?;
    let mut b = vec![0u8; bs];
    cipher.encrypt_block(&mut b)?;
    b.truncate(len);
    Ok(b)
}

/// CMAC KCV: CMAC_K(0…0 one block), leftmost `len` bytes (3, or 5 in X9.143 `KP`/`KC` blocks).
///
/// # Errors
/// [`Error::InvalidLength`] if `len` exceeds the block size.
pub fn cmac_kcv(cipher: &BlockCipher, len: usize) -> Result<Vec<u8>> {
    let bs = cipher.block_size();
    check_len(len, bs)?;
    let mut m = cmac(cipher, &vec![0u8; bs])?;
    m.truncate(len);
    Ok(m)
}

/// HMAC KCV: HMAC_K(empty message) with the key's hash, leftmost `len` bytes.
///
/// # Errors
/// [`Error::InvalidLength`] if `len` exceeds the digest size.
pub fn hmac_kcv(hash: crate::mac::HashAlgorithm, key: &[u8], len: usize) -> Result<Vec<u8>> {
    let mut m = crate::mac::hmac(hash, key, &[])?;
    check_len(len, m.len())?;
    m.truncate(len);
    Ok(m)
}

/// SHA-1 KCV: SHA-1 of `material`, leftmost `len` bytes.
///
/// # Errors
/// [`Error::InvalidLength`] if `len` exceeds 20.
pub fn sha1_kcv(material: &[u8], len: usize) -> Result<Vec<u8>> {
    use sha1::Digest;
    check_len(len, 20)?;
    let d = sha1::Sha1::digest(material);
    Ok(d[..len].to_vec())
}

fn check_len(len: usize, max: usize) -> Result<()> {
    if len == 0 || len > max {
        return Err(Error::InvalidLength {
            field: "kcv_length",
            expected: "1 to the block or digest size",
            actual: len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn x9_24_tdes() {
        // REFERENCE §3.8; also in AWS docs' CreateKey responses for this key.
        let c =
            BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        assert_eq!(encode(&ansi_x9_24(&c, 3).unwrap()), "08D7B4");
    }

    #[test]
    fn cmac_aes() {
        // X9.143:2021 §8.1 / TR-31:2018 A.7.4 key, KCV 08793E / 08793E25AB
        let c =
            BlockCipher::aes(&decode("k", "3F419E1CB7079442AA37474C2EFBF8B8").unwrap()).unwrap();
        assert_eq!(encode(&cmac_kcv(&c, 3).unwrap()), "08793E");
        assert_eq!(encode(&cmac_kcv(&c, 5).unwrap()), "08793E25AB");
    }

    #[test]
    fn lengths() {
        let c = BlockCipher::aes(&[1u8; 16]).unwrap();
        assert!(ansi_x9_24(&c, 0).is_err());
        assert!(ansi_x9_24(&c, 17).is_err());
        assert_eq!(sha1_kcv(b"abc", 3).unwrap(), vec![0xA9, 0x99, 0x3E]);
    }
}
