//! EMV: ICC master key derivation, session keys, ARQC/ARPC, issuer script secure messaging.

use crate::cipher::BlockCipher;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Set odd parity on every byte of a DES/TDES key (the convention for derived keys).
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        let ones = (*b & 0xFE).count_ones();
        *b = (*b & 0xFE) | u8::from(ones % 2 == 0);
    }
}

/// Digits-only check for PAN / PAN sequence number inputs.
fn digits(field: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidInput {
            field,
            reason: "must be decimal digits",
        });
    }
    Ok(())
}

/// EMV Book 2 A1.4.1 option A: derive the 16-byte ICC master key from an issuer
/// master key (TDES), the PAN and the PAN sequence number (2 digits, `00` if absent).
///
/// Y = rightmost 16 digits of PAN ‖ PSN (left-padded with zeros when shorter);
/// key = TDES(MK, Y) ‖ TDES(MK, Y ⊕ FF…FF), odd parity.
///
/// # Errors
/// [`Error::InvalidInput`] for non-digit PAN/PSN, key errors for a bad MK.
pub fn derive_icc_master_key_option_a(
    mk: &BlockCipher,
    pan: &str,
    psn: &str,
) -> Result<SecretBytes> {
    digits("pan", pan)?;
    digits("pan_sequence_number", psn)?;
    if psn.len() != 2 {
        return Err(Error::InvalidLength {
            field: "pan_sequence_number",
            expected: "2 digits",
            actual: psn.len(),
        });
    }
    let mut all = String::with_capacity(pan.len() + 2);
    all.push_str(pan);
    all.push_str(psn);
    let start = all.len().saturating_sub(16);
    let tail = format!("{:0>16}", &all[start..]);
    let y: [u8; 8] = crate::hex::decode_array("pan", "16 digits", &tail)?;
    let zl = mk.encrypt8(y)?;
    let mut yr = y;
    for b in yr.iter_mut() {
        *b ^= 0xFF;
    }
    let zr = mk.encrypt8(yr)?;
    let mut out = SecretBytes::zeroed(16);
    out.expose_mut()[..8].copy_from_slice(&zl);
    out.expose_mut()[8..].copy_from_slice(&zr);
    set_odd_parity(out.expose_mut());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn option_a_pyemv_docstring() {
        // pyemv kd.derive_icc_mk_a docstring (REFERENCE §3.5)
        let mk =
            BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        let k = derive_icc_master_key_option_a(&mk, "12345678901234567", "01").unwrap();
        assert_eq!(encode(k.expose()), "73AD54688CEF2934B0979857E3C719F1");
    }
}
