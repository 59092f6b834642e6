//! Private ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with a double-length
//! DES key, as EMV Book 2 A1.2.1 specifies for application cryptograms, ARPC
//! method 2 and secure messaging. Kept private to this module on purpose (the
//! crate-wide `mac` module may offer the same; the lead can deduplicate).

use crate::cipher::{xor_into, BlockCipher};
use crate::error::{Error, Result};
use zeroize::Zeroize;

/// ISO/IEC 9797-1 padding applied before the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacPad {
    /// No padding: the data must already be a non-empty multiple of 8 bytes.
    None,
    /// Method 1: zeros to the block boundary (an empty message is one zero block).
    M1,
    /// Method 2: `80` then zeros.
    M2,
}

/// Retail MAC over `data` (padded as `pad`) with the 16-byte key `key`:
/// single-DES CBC with the left half, then the final block decrypted with the
/// right half and encrypted again with the left half. Returns the full 8 bytes.
pub(crate) fn retail_mac(key: &[u8], data: &[u8], pad: MacPad) -> Result<[u8; 8]> {
    super::double_length("key", key)?;
    let mut k1: [u8; 8] = super::array("key", "16 bytes", &key[..8])?;
    let mut k2: [u8; 8] = super::array("key", "16 bytes", &key[8..])?;
    let c1 = BlockCipher::des(&k1);
    let c2 = BlockCipher::des(&k2);
    k1.zeroize();
    k2.zeroize();
    if pad == MacPad::None && (data.is_empty() || data.len() % 8 != 0) {
        return Err(Error::InvalidLength {
            field: "data",
            expected: "a non-empty multiple of 8 bytes (no padding requested)",
            actual: data.len(),
        });
    }
    let mut h = [0u8; 8];
    let mut chunks = data.chunks_exact(8);
    for blk in chunks.by_ref() {
        xor_into(&mut h, blk);
        c1.encrypt_block(&mut h)?;
    }
    let rem = chunks.remainder();
    let last = match pad {
        MacPad::None => None,
        MacPad::M1 => {
            if rem.is_empty() && !data.is_empty() {
                None
            } else {
                let mut b = [0u8; 8];
                b[..rem.len()].copy_from_slice(rem);
                Some(b)
            }
        }
        MacPad::M2 => {
            let mut b = [0u8; 8];
            b[..rem.len()].copy_from_slice(rem);
            b[rem.len()] = 0x80;
            Some(b)
        }
    };
    if let Some(mut b) = last {
        xor_into(&mut h, &b);
        b.zeroize();
        c1.encrypt_block(&mut h)?;
    }
    c2.decrypt_block(&mut h)?;
    c1.encrypt_block(&mut h)?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn psec_standard_alg3() {
        // REFERENCE §5.1: K = 0123456789ABCDEF, K' = FEDCBA9876543210, data 1234567890ABCDEF, pad 2.
        let k = decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
        let d = decode("d", "1234567890ABCDEF").unwrap();
        assert_eq!(
            encode(&retail_mac(&k, &d, MacPad::M2).unwrap()),
            "912476C111DB4238"
        );
        assert!(retail_mac(&k, &d[..3], MacPad::None).is_err());
        assert!(retail_mac(&k[..8], &d, MacPad::M1).is_err());
    }
}
