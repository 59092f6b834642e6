//! Hexadecimal decoding with typed errors, and upper-case encoding.

use crate::error::{Error, HexError, Result};
use crate::secret::SecretBytes;

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode a hex string; `field` names the input in the error.
///
/// # Errors
/// [`Error::InvalidHex`] on an odd length or a non-hex character.
pub fn decode(field: &'static str, s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err(Error::InvalidHex {
            field,
            reason: HexError::OddLength,
        });
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(Error::InvalidHex {
            field,
            reason: HexError::InvalidCharacter { position: 2 * i },
        })?;
        let lo = nibble(pair[1]).ok_or(Error::InvalidHex {
            field,
            reason: HexError::InvalidCharacter {
                position: 2 * i + 1,
            },
        })?;
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

/// Decode a hex string that must decode to exactly `N` bytes.
///
/// # Errors
/// [`Error::InvalidHex`] or [`Error::InvalidLength`].
pub fn decode_array<const N: usize>(
    field: &'static str,
    expected: &'static str,
    s: &str,
) -> Result<[u8; N]> {
    let v = decode(field, s)?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| Error::InvalidLength {
        field,
        expected,
        actual: v.len(),
    })
}

/// Decode a hex string holding secret material (a key, a clear PIN block) into
/// a buffer that is zeroized on drop.
///
/// # Errors
/// [`Error::InvalidHex`].
pub fn decode_secret(field: &'static str, s: &str) -> Result<SecretBytes> {
    decode(field, s).map(SecretBytes::from)
}

/// Encode bytes as upper-case hex (the convention of payment HSMs and AWS).
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0F)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(decode("x", "00ffA5").unwrap(), vec![0, 0xff, 0xa5]);
        assert_eq!(encode(&[0, 0xff, 0xa5]), "00FFA5");
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode("x", "abc").unwrap_err(),
            Error::InvalidHex {
                field: "x",
                reason: HexError::OddLength
            }
        );
        assert_eq!(
            decode("x", "0g").unwrap_err(),
            Error::InvalidHex {
                field: "x",
                reason: HexError::InvalidCharacter { position: 1 }
            }
        );
    }
}
