//! EMV data encryption for AWS `EncryptData` / `DecryptData` with
//! `EmvEncryptionAttributes {MajorKeyDerivationMode, PrimaryAccountNumber,
//! PanSequenceNumber, SessionDerivationData, Mode, InitializationVector}`.
//!
//! Key chain: issuer MK (TR31_E1 / E6, TDES) → ICC MK (EMV Book 2 A1.4 option
//! A/B) → session key = common session key (A1.3.1) with R = the 8-byte
//! `SessionDerivationData` (as the SM confidentiality key uses R = ARQC).
//! Then TDES in ECB or CBC (IV default zero) over data that is a multiple of 8
//! bytes (AWS: no implicit padding).

use super::session::derive_common_session_key;
use super::{derive_icc_master_key, MajorKeyDerivation};
use crate::cipher::{BlockCipher, Mode};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The AWS `EmvEncryptionMode` enum.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmvEncryptionMode {
    /// TDES ECB.
    Ecb,
    /// TDES CBC.
    Cbc,
}

impl EmvEncryptionMode {
    fn mode(self) -> Mode {
        match self {
            Self::Ecb => Mode::Ecb,
            Self::Cbc => Mode::Cbc,
        }
    }
}

/// Derive the EMV data-encryption session key (see the module documentation).
///
/// # Errors
/// As [`derive_icc_master_key`] and [`derive_common_session_key`].
pub fn derive_data_key(
    issuer_mk: &BlockCipher,
    major: MajorKeyDerivation,
    pan: &str,
    psn: &str,
    session_derivation_data: &[u8; 8],
) -> Result<SecretBytes> {
    let icc = derive_icc_master_key(issuer_mk, major, pan, psn)?;
    derive_common_session_key(icc.expose(), session_derivation_data)
}

fn iv_or_zero(iv: Option<&[u8]>) -> Result<[u8; 8]> {
    match iv {
        None => Ok([0u8; 8]),
        Some(v) => super::array("initialization_vector", "8 bytes", v),
    }
}

fn check_data(data: &[u8]) -> Result<()> {
    if data.is_empty() || data.len() % 8 != 0 {
        return Err(Error::InvalidLength {
            field: "data",
            expected: "a non-empty multiple of 8 bytes",
            actual: data.len(),
        });
    }
    Ok(())
}

/// Encrypt `data` with an EMV data key from [`derive_data_key`].
///
/// # Errors
/// [`Error::InvalidLength`] for data that is not a non-empty multiple of 8 bytes
/// or an IV that is not 8 bytes; key errors for a bad key.
pub fn encrypt_data(
    key: &[u8],
    mode: EmvEncryptionMode,
    iv: Option<&[u8]>,
    data: &[u8],
) -> Result<Vec<u8>> {
    check_data(data)?;
    let iv = iv_or_zero(iv)?;
    BlockCipher::tdes(key)?.encrypt(mode.mode(), &iv, data)
}

/// Decrypt `data` with an EMV data key from [`derive_data_key`].
///
/// # Errors
/// As [`encrypt_data`].
pub fn decrypt_data(
    key: &[u8],
    mode: EmvEncryptionMode,
    iv: Option<&[u8]>,
    data: &[u8],
) -> Result<Vec<u8>> {
    check_data(data)?;
    let iv = iv_or_zero(iv)?;
    BlockCipher::tdes(key)?.decrypt(mode.mode(), &iv, data)
}
