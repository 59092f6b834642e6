//! ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with a double-length DES key,
//! as EMV Book 2 A1.2.1 specifies for application cryptograms, ARPC method 2
//! and secure messaging: a thin adapter over [`crate::mac`].

use crate::cipher::Padding;
use crate::error::Result;
use crate::mac;

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
/// [`crate::mac::iso9797_alg3`] restricted to double-length keys, as EMV requires.
pub(crate) fn retail_mac(key: &[u8], data: &[u8], pad: MacPad) -> Result<[u8; 8]> {
    super::double_length("key", key)?;
    match pad {
        MacPad::None => mac::iso9797_alg3_prepadded(key, data),
        MacPad::M1 => mac::iso9797_alg3(key, Padding::Iso9797M1, data),
        MacPad::M2 => mac::iso9797_alg3(key, Padding::Iso9797M2, data),
    }
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
