//! EMV: ICC master key derivation, session keys, ARQC/ARPC, issuer script
//! secure messaging and EMV data encryption.
//!
//! The algorithms are those of EMV 4.4 Book 2 (Security and Key Management),
//! Annex A1 and sections 8 and 9, with the scheme conventions of the public
//! reference implementation pyemv 1.5.0 (`knovichikhin/pyemv`), against which
//! every function here is tested differentially (`tests/differential/gen_emv.py`).
//!
//! Layout:
//! - this module: ICC master key derivation (A1.4 option A and B),
//! - [`session`]: session keys (A1.3 common session key, EMV2000 tree,
//!   Mastercard SKD, Visa secure-messaging key) and the AWS
//!   `SessionKeyDerivation` mapping,
//! - [`ac`]: ARQC generation/verification (A1.2, ISO/IEC 9797-1 MAC algorithm 3)
//!   and ARPC method 1 and 2 (8.2),
//! - [`sm`]: issuer script secure messaging (section 9): command MAC, command
//!   data encryption, PIN-change blocks and the AWS `GenerateMacEmvPinChange` flow,
//! - [`data`]: EMV data encryption for AWS `EncryptData`/`DecryptData`
//!   with `EmvEncryptionAttributes`.

use crate::cipher::BlockCipher;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use zeroize::Zeroize;

pub mod ac;
pub mod data;
pub mod session;
pub mod sm;

mod retail;

pub use ac::{
    arpc_method1, arpc_method2, generate_arqc, verify_arpc_method1, verify_arqc, AcPadding,
};
pub use data::{decrypt_data, derive_data_key, encrypt_data, EmvEncryptionMode};
pub use session::{
    derive_ac_key, derive_common_session_key, derive_emv2000_tree_session_key,
    derive_mastercard_session_key, derive_visa_sm_session_key, SessionKeyDerivation,
    EMV2000_BRANCH_FACTOR, EMV2000_HEIGHT,
};
pub use sm::{
    encrypt_command_data, format_iso9564_2_pin_block, format_vis_pin_block, generate_command_mac,
    generate_mac_emv_pin_change, CommandEncryption, CommandPadding, PinChangeDerivation,
    PinChangeOutput, PinChangeRequest,
};

/// Set odd parity on every byte of a DES/TDES key (the convention for derived keys).
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        let ones = (*b & 0xFE).count_ones();
        *b = (*b & 0xFE) | u8::from(ones % 2 == 0);
    }
}

/// How the ICC master key is derived from the issuer master key; the AWS
/// `MajorKeyDerivationMode` / `EmvMajorKeyDerivationMode` enums
/// (`EMV_OPTION_A`, `EMV_OPTION_B`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MajorKeyDerivation {
    /// EMV Book 2 A1.4.1 option A (rightmost 16 digits of PAN ‖ PSN).
    OptionA,
    /// EMV Book 2 A1.4.2 option B (SHA-1 of PAN ‖ PSN for PANs longer than 16 digits).
    OptionB,
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

fn check_pan_psn(pan: &str, psn: &str) -> Result<()> {
    digits("pan", pan)?;
    digits("pan_sequence_number", psn)?;
    if psn.len() != 2 {
        return Err(Error::InvalidLength {
            field: "pan_sequence_number",
            expected: "2 digits",
            actual: psn.len(),
        });
    }
    Ok(())
}

/// Pack ASCII digits (already checked) into BCD, left-padding to `out.len() * 2` digits.
fn pack_digits_right(src: &[u8], out: &mut [u8]) {
    let n = out.len() * 2;
    let take = src.len().min(n);
    let src = &src[src.len() - take..];
    let pad = n - take;
    for (i, o) in out.iter_mut().enumerate() {
        let nib = |k: usize| -> u8 {
            if k < pad {
                0
            } else {
                src.get(k - pad).map_or(0, |c| c - b'0')
            }
        };
        *o = (nib(2 * i) << 4) | nib(2 * i + 1);
    }
}

/// ICC MK = TDES(MK, Y) ‖ TDES(MK, Y ⊕ FF..FF) with odd parity (A1.4.1 / A1.4.2 last step).
fn icc_mk_from_y(mk: &BlockCipher, y: &mut [u8; 8]) -> Result<SecretBytes> {
    let zl = mk.encrypt8(*y)?;
    let mut yr = *y;
    for b in yr.iter_mut() {
        *b ^= 0xFF;
    }
    let zr = mk.encrypt8(yr);
    y.zeroize();
    yr.zeroize();
    let zr = zr?;
    let mut out = SecretBytes::zeroed(16);
    out.expose_mut()[..8].copy_from_slice(&zl);
    out.expose_mut()[8..].copy_from_slice(&zr);
    set_odd_parity(out.expose_mut());
    Ok(out)
}

/// EMV Book 2 A1.4.1 option A: derive the 16-byte ICC master key from an issuer
/// master key (TDES), the PAN and the PAN sequence number (2 digits, `00` if absent).
///
/// Y = rightmost 16 digits of PAN ‖ PSN (left-padded with zeros when shorter);
/// key = TDES(MK, Y) ‖ TDES(MK, Y ⊕ FF…FF), odd parity.
///
/// # Errors
/// [`Error::InvalidInput`] for non-digit PAN/PSN, [`Error::InvalidLength`] for a
/// PSN that is not 2 digits, [`Error::InvalidLength`] if `mk` is AES.
pub fn derive_icc_master_key_option_a(
    mk: &BlockCipher,
    pan: &str,
    psn: &str,
) -> Result<SecretBytes> {
    check_pan_psn(pan, psn)?;
    let mut all = [0u8; 21];
    let n = pan.len().min(19);
    all[..n].copy_from_slice(&pan.as_bytes()[pan.len() - n..]);
    all[n..n + 2].copy_from_slice(psn.as_bytes());
    let mut y = [0u8; 8];
    pack_digits_right(&all[..n + 2], &mut y);
    all.zeroize();
    icc_mk_from_y(mk, &mut y)
}

/// EMV Book 2 A1.4.2 option B: for a PAN longer than 16 digits, Y is the first
/// 16 decimal digits of SHA-1(PAN ‖ PSN) (PAN ‖ PSN as BCD, a leading `0` nibble
/// added when the digit count is odd); if the digest has fewer than 16 decimal
/// digits, its hexadecimal letters `A`–`F` (in order) are decimalised to `0`–`5`
/// to complete Y. Then as option A. For a PAN of 16 digits or fewer option B
/// *is* option A (A1.4.2: "If the PAN is less than or equal to 16 digits …
/// option A").
///
/// # Errors
/// As [`derive_icc_master_key_option_a`].
pub fn derive_icc_master_key_option_b(
    mk: &BlockCipher,
    pan: &str,
    psn: &str,
) -> Result<SecretBytes> {
    check_pan_psn(pan, psn)?;
    if pan.len() <= 16 {
        return derive_icc_master_key_option_a(mk, pan, psn);
    }
    use sha1::Digest;
    // PAN (17..) ‖ PSN (2) as BCD, right-justified with a leading zero nibble if odd.
    let total = pan.len() + 2;
    let nbytes = total.div_ceil(2);
    let mut ascii = Vec::with_capacity(total);
    ascii.extend_from_slice(pan.as_bytes());
    ascii.extend_from_slice(psn.as_bytes());
    let mut bcd = vec![0u8; nbytes];
    pack_digits_right(&ascii, &mut bcd);
    ascii.zeroize();
    let mut digest: [u8; 20] = sha1::Sha1::digest(&bcd).into();
    bcd.zeroize();
    let mut nibbles = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        nibbles[2 * i] = b >> 4;
        nibbles[2 * i + 1] = b & 0x0F;
    }
    digest.zeroize();
    let mut y_nibbles = [0u8; 16];
    let mut k = 0;
    for &n in nibbles.iter().filter(|&&n| n < 10) {
        if k == 16 {
            break;
        }
        y_nibbles[k] = n;
        k += 1;
    }
    for &n in nibbles.iter().filter(|&&n| n >= 10) {
        if k == 16 {
            break;
        }
        y_nibbles[k] = n - 10;
        k += 1;
    }
    nibbles.zeroize();
    let mut y = [0u8; 8];
    for (i, o) in y.iter_mut().enumerate() {
        *o = (y_nibbles[2 * i] << 4) | y_nibbles[2 * i + 1];
    }
    y_nibbles.zeroize();
    icc_mk_from_y(mk, &mut y)
}

/// Derive the ICC master key with the given [`MajorKeyDerivation`] mode.
///
/// # Errors
/// As [`derive_icc_master_key_option_a`].
pub fn derive_icc_master_key(
    mk: &BlockCipher,
    mode: MajorKeyDerivation,
    pan: &str,
    psn: &str,
) -> Result<SecretBytes> {
    match mode {
        MajorKeyDerivation::OptionA => derive_icc_master_key_option_a(mk, pan, psn),
        MajorKeyDerivation::OptionB => derive_icc_master_key_option_b(mk, pan, psn),
    }
}

/// Check that a key given as bytes is a double-length DES key (16 bytes), as
/// every EMV ICC master key and session key is.
fn double_length(field: &'static str, key: &[u8]) -> Result<()> {
    if key.len() != 16 {
        return Err(Error::InvalidLength {
            field,
            expected: "16 bytes (double-length DES key)",
            actual: key.len(),
        });
    }
    Ok(())
}

/// Copy a slice into a fixed array or fail with a typed length error.
fn array<const N: usize>(field: &'static str, expected: &'static str, s: &[u8]) -> Result<[u8; N]> {
    s.try_into().map_err(|_| Error::InvalidLength {
        field,
        expected,
        actual: s.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    fn mk() -> BlockCipher {
        BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap()
    }

    #[test]
    fn option_a_pyemv_docstring() {
        // pyemv kd.derive_icc_mk_a docstring (REFERENCE §3.5)
        let k = derive_icc_master_key_option_a(&mk(), "12345678901234567", "01").unwrap();
        assert_eq!(encode(k.expose()), "73AD54688CEF2934B0979857E3C719F1");
    }

    #[test]
    fn option_b_pyemv_docstring() {
        let k = derive_icc_master_key_option_b(&mk(), "12345678901234567", "01").unwrap();
        assert_eq!(encode(k.expose()), "AD406D7F6D7570916D75E5DCAB8CF737");
    }

    #[test]
    fn bad_inputs() {
        assert!(derive_icc_master_key_option_a(&mk(), "", "00").is_err());
        assert!(derive_icc_master_key_option_b(&mk(), "12345678901234567", "0").is_err());
        assert!(derive_icc_master_key_option_b(&mk(), "1234567890123456x", "00").is_err());
    }
}
