//! Randomness from the operating system.

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Fill `buf` with random bytes.
///
/// # Errors
/// [`Error::Crypto`] if the operating system's generator fails.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Crypto {
        operation: "random number generation",
    })
}

/// `n` random secret bytes (key material).
///
/// # Errors
/// As [`fill`].
pub fn secret_bytes(n: usize) -> Result<SecretBytes> {
    let mut s = SecretBytes::zeroed(n);
    fill(s.expose_mut())?;
    Ok(s)
}

/// A uniformly random nibble in `lo..=hi` (rejection sampling), for PIN block fill.
///
/// # Errors
/// As [`fill`].
pub fn nibble_in(lo: u8, hi: u8) -> Result<u8> {
    loop {
        let mut b = [0u8; 1];
        fill(&mut b)?;
        let n = b[0] & 0x0F;
        if (lo..=hi).contains(&n) {
            return Ok(n);
        }
    }
}
