//! Application cryptograms (ARQC/TC/AAC, EMV Book 2 8.1 and A1.2) and issuer
//! authentication (ARPC method 1 and 2, EMV Book 2 8.2).

use super::retail::{retail_mac, MacPad};
use super::{array, double_length};
use crate::cipher::{ct_eq, BlockCipher};
use crate::error::{Error, Result, VerificationFailure};

/// Padding of the transaction data before the ARQC MAC.
///
/// AWS documents that callers pad `TransactionData` themselves before sending it
/// (user guide, "Verify auth request (ARQC) cryptogram": *Transaction data
/// padding*); [`AcPadding::None`] reproduces that (the data must then be a
/// multiple of 8 bytes). The two ISO/IEC 9797-1 methods are those of pyemv
/// `ac.generate_ac` (`PaddingType.EMV` / `PaddingType.VISA`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcPadding {
    /// No padding: the caller already padded; data must be a non-empty multiple of 8 bytes.
    None,
    /// ISO/IEC 9797-1 method 1 (zeros, none if aligned): Visa CVN 10 (pyemv `PaddingType.VISA`).
    Method1,
    /// ISO/IEC 9797-1 method 2 (`80 00…`): EMV CSK, Visa CVN 18/22, Mastercard,
    /// Interac (EMV Book 2 A1.2.1; pyemv `PaddingType.EMV`).
    Method2,
}

impl AcPadding {
    fn mac_pad(self) -> MacPad {
        match self {
            Self::None => MacPad::None,
            Self::Method1 => MacPad::M1,
            Self::Method2 => MacPad::M2,
        }
    }
}

/// Generate an application cryptogram (ARQC, TC or AAC): ISO/IEC 9797-1 MAC
/// algorithm 3 with DES over `transaction_data` padded as `padding`, keyed with
/// the 16-byte AC session key (or ICC MK for Visa CVN 10). 8 bytes.
///
/// # Errors
/// [`Error::InvalidLength`] for a key that is not 16 bytes or unpadded data that
/// is not a non-empty multiple of 8 bytes.
pub fn generate_arqc(
    session_key: &[u8],
    transaction_data: &[u8],
    padding: AcPadding,
) -> Result<[u8; 8]> {
    retail_mac(session_key, transaction_data, padding.mac_pad())
}

/// Verify an ARQC in constant time.
///
/// # Errors
/// [`VerificationFailure::InvalidAuthRequestCryptogram`] on mismatch;
/// [`Error::InvalidLength`] if `arqc` is not 8 bytes or as [`generate_arqc`].
pub fn verify_arqc(
    session_key: &[u8],
    transaction_data: &[u8],
    padding: AcPadding,
    arqc: &[u8],
) -> Result<()> {
    if arqc.len() != 8 {
        return Err(Error::InvalidLength {
            field: "auth_request_cryptogram",
            expected: "8 bytes",
            actual: arqc.len(),
        });
    }
    let expected = generate_arqc(session_key, transaction_data, padding)?;
    if ct_eq(&expected, arqc) {
        Ok(())
    } else {
        Err(VerificationFailure::InvalidAuthRequestCryptogram.into())
    }
}

/// ARPC method 1 (EMV Book 2 8.2.1): TDES(key)[ARQC ⊕ (ARC ‖ `00`×6)], 8 bytes.
/// `key` is the AC session key (CSK schemes) or the ICC MK (Visa CVN 10,
/// Mastercard CVN 16/17), as the scheme requires; AWS `ArpcMethod1 {AuthResponseCode}`.
///
/// # Errors
/// [`Error::InvalidLength`] unless `key` is 16 bytes; key errors for a degenerate key.
pub fn arpc_method1(key: &[u8], arqc: &[u8; 8], auth_response_code: &[u8; 2]) -> Result<[u8; 8]> {
    double_length("key", key)?;
    let mut block = *arqc;
    block[0] ^= auth_response_code[0];
    block[1] ^= auth_response_code[1];
    BlockCipher::tdes(key)?.encrypt8(block)
}

/// Check an ARPC method 1 value in constant time (the card's side; handy for tests).
///
/// # Errors
/// [`VerificationFailure::InvalidAuthRequestCryptogram`] on mismatch, or as [`arpc_method1`].
pub fn verify_arpc_method1(
    key: &[u8],
    arqc: &[u8; 8],
    auth_response_code: &[u8; 2],
    arpc: &[u8],
) -> Result<()> {
    let expected = arpc_method1(key, arqc, auth_response_code)?;
    if ct_eq(&expected, arpc) {
        Ok(())
    } else {
        Err(VerificationFailure::InvalidAuthRequestCryptogram.into())
    }
}

/// ARPC method 2 (EMV Book 2 8.2.2): the first 4 bytes of ISO/IEC 9797-1 MAC
/// algorithm 3 (padding method 2) over ARQC ‖ CSU ‖ proprietary authentication
/// data (0–8 bytes), keyed with the AC session key. AWS `ArpcMethod2
/// {CardStatusUpdate, ProprietaryAuthenticationData}`.
///
/// # Errors
/// [`Error::InvalidLength`] for a key that is not 16 bytes or proprietary data
/// longer than 8 bytes.
pub fn arpc_method2(
    session_key: &[u8],
    arqc: &[u8; 8],
    card_status_update: &[u8; 4],
    proprietary_data: &[u8],
) -> Result<[u8; 4]> {
    if proprietary_data.len() > 8 {
        return Err(Error::InvalidLength {
            field: "proprietary_authentication_data",
            expected: "0 to 8 bytes",
            actual: proprietary_data.len(),
        });
    }
    let mut buf = [0u8; 20];
    buf[..8].copy_from_slice(arqc);
    buf[8..12].copy_from_slice(card_status_update);
    buf[12..12 + proprietary_data.len()].copy_from_slice(proprietary_data);
    let mac = retail_mac(session_key, &buf[..12 + proprietary_data.len()], MacPad::M2)?;
    array("arpc", "4 bytes", &mac[..4])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn pyemv_ac_docstrings() {
        let sk = decode("k", "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB").unwrap();
        let data = decode(
            "d",
            "000000002000000000000000012400000080000124110309003804823E58000001",
        )
        .unwrap();
        let arqc = generate_arqc(&sk, &data, AcPadding::Method2).unwrap();
        assert_eq!(encode(&arqc), "3B76CF10FECD8789");
        verify_arqc(&sk, &data, AcPadding::Method2, &arqc).unwrap();
        let mut bad = arqc;
        bad[7] ^= 1;
        assert_eq!(
            verify_arqc(&sk, &data, AcPadding::Method2, &bad).unwrap_err(),
            Error::VerificationFailed(VerificationFailure::InvalidAuthRequestCryptogram)
        );
        let q = [0x12, 0x34, 0x56, 0x78, 0x90, 0xAB, 0xCD, 0xEF];
        assert_eq!(
            encode(&arpc_method1(&sk, &q, &[0, 0]).unwrap()),
            "F5E6F44147E2F1B0"
        );
        assert_eq!(
            encode(&arpc_method2(&sk, &q, &[0; 4], &[]).unwrap()),
            "9308BEBC"
        );
        assert!(arpc_method2(&sk, &q, &[0; 4], &[0; 9]).is_err());
    }
}
