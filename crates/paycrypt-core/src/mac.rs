//! Message authentication codes.
//!
//! CMAC (NIST SP 800-38B / ISO 9797-1 algorithm 5) over any [`BlockCipher`] lives
//! here because key check values and key blocks need it too.

use crate::cipher::{xor_into, BlockCipher};
use crate::error::Result;

/// CMAC (NIST SP 800-38B) of `data` under `cipher`, full block length.
///
/// # Errors
/// Only if the cipher reports a block-length error, which cannot happen for a
/// correctly constructed [`BlockCipher`].
pub fn cmac(cipher: &BlockCipher, data: &[u8]) -> Result<Vec<u8>> {
    let bs = cipher.block_size();
    let rb: u8 = if bs == 8 { 0x1B } else { 0x87 };
    let mut l = vec![0u8; bs];
    cipher.encrypt_block(&mut l)?;
    let dbl = |v: &[u8]| -> Vec<u8> {
        let mut out = vec![0u8; v.len()];
        let mut carry = 0u8;
        for i in (0..v.len()).rev() {
            out[i] = (v[i] << 1) | carry;
            carry = v[i] >> 7;
        }
        if carry == 1 {
            out[v.len() - 1] ^= rb;
        }
        out
    };
    let k1 = dbl(&l);
    let k2 = dbl(&k1);
    let n = if data.is_empty() {
        1
    } else {
        data.len().div_ceil(bs)
    };
    let complete = !data.is_empty() && data.len() % bs == 0;
    let mut x = vec![0u8; bs];
    for i in 0..n - 1 {
        xor_into(&mut x, &data[i * bs..(i + 1) * bs]);
        cipher.encrypt_block(&mut x)?;
    }
    let mut last = vec![0u8; bs];
    let tail = &data[(n - 1) * bs..];
    last[..tail.len()].copy_from_slice(tail);
    if complete {
        xor_into(&mut last, &k1);
    } else {
        last[tail.len()] = 0x80;
        xor_into(&mut last, &k2);
    }
    xor_into(&mut x, &last);
    cipher.encrypt_block(&mut x)?;
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn sp800_38b_aes128() {
        // NIST SP 800-38B, D.1 (AES-128)
        let c =
            BlockCipher::aes(&decode("k", "2b7e151628aed2a6abf7158809cf4f3c").unwrap()).unwrap();
        assert_eq!(
            encode(&cmac(&c, &[]).unwrap()),
            "BB1D6929E95937287FA37D129B756746"
        );
        let m = decode("m", "6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(
            encode(&cmac(&c, &m).unwrap()),
            "070A16B46B4D4144F79BDD9DD04A287C"
        );
        let m = decode(
            "m",
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411",
        )
        .unwrap();
        assert_eq!(
            encode(&cmac(&c, &m).unwrap()),
            "DFA66747DE9AE63030CA32611497C827"
        );
    }

    #[test]
    fn sp800_38b_tdes3() {
        // NIST SP 800-38B, D.4 (three-key TDEA), example 2 (8-byte message)
        let c = BlockCipher::tdes(
            &decode("k", "8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5").unwrap(),
        )
        .unwrap();
        assert_eq!(encode(&cmac(&c, &[]).unwrap()), "B7A688E122FFAF95");
        let m = decode("m", "6bc1bee22e409f96").unwrap();
        assert_eq!(encode(&cmac(&c, &m).unwrap()), "8E8F293136283797");
    }
}

/// Hash algorithms for HMAC.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1 (only for legacy KCVs and OAEP; not an HMAC key algorithm in AWS).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// HMAC of `data` under `key` with `hash` (RFC 2104), full digest length.
///
/// # Errors
/// None in practice (HMAC accepts any key length); kept fallible for uniformity.
pub fn hmac(hash: HashAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    use hmac::{KeyInit, Mac};
    fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut m = <M as KeyInit>::new_from_slice(key).map_err(|_| crate::Error::Crypto {
            operation: "HMAC key setup",
        })?;
        m.update(data);
        Ok(m.finalize().into_bytes().to_vec())
    }
    match hash {
        HashAlgorithm::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, data),
        HashAlgorithm::Sha224 => run::<hmac::Hmac<sha2::Sha224>>(key, data),
        HashAlgorithm::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, data),
        HashAlgorithm::Sha384 => run::<hmac::Hmac<sha2::Sha384>>(key, data),
        HashAlgorithm::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, data),
    }
}

#[cfg(test)]
mod hmac_tests {
    use super::*;
    use crate::hex::encode;

    #[test]
    fn rfc4231_case2() {
        let d = b"what do ya want for nothing?";
        assert_eq!(
            encode(&hmac(HashAlgorithm::Sha256, b"Jefe", d).unwrap()),
            "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
        );
        assert_eq!(
            encode(&hmac(HashAlgorithm::Sha224, b"Jefe", d).unwrap()),
            "A30E01098BC6DBBF45690F3A7E9E6D0F8BBEA2A39E6148008FD05E44"
        );
    }
}
