//! EMV session key derivation (EMV Book 2 A1.3) and the mapping of the AWS
//! `SessionKeyDerivation` union onto it.

use super::{derive_icc_master_key, double_length, set_odd_parity, MajorKeyDerivation};
use crate::cipher::{xor_into, BlockCipher};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use zeroize::Zeroize;

/// EMV Book 2 A1.3.1 common session key derivation (CSK, EMV SU-46):
/// SK = TDES(MK, R with byte 2 = `F0`) ‖ TDES(MK, R with byte 2 = `0F`), odd parity.
///
/// `r` is the 8-byte diversification value: `ATC ‖ 00…00` for application
/// cryptograms, `ATC ‖ 00 00 ‖ UN` for the Mastercard SKD, or the ARQC for the
/// secure-messaging keys.
///
/// # Errors
/// [`Error::InvalidLength`] unless `icc_mk` is 16 bytes; key errors for a degenerate key.
pub fn derive_common_session_key(icc_mk: &[u8], r: &[u8; 8]) -> Result<SecretBytes> {
    double_length("icc_master_key", icc_mk)?;
    let c = BlockCipher::tdes(icc_mk)?;
    let mut ra = *r;
    ra[2] = 0xF0;
    let mut rb = *r;
    rb[2] = 0x0F;
    let mut out = SecretBytes::zeroed(16);
    out.expose_mut()[..8].copy_from_slice(&c.encrypt8(ra)?);
    out.expose_mut()[8..].copy_from_slice(&c.encrypt8(rb)?);
    set_odd_parity(out.expose_mut());
    Ok(out)
}

/// Mastercard session key derivation (M/Chip "SKD"): the common session key
/// with R = ATC ‖ `00 00` ‖ UN (as pyemv `MasterCardCVN16._derive_sk_ac_mastercard`).
///
/// # Errors
/// As [`derive_common_session_key`].
pub fn derive_mastercard_session_key(
    icc_mk: &[u8],
    atc: &[u8; 2],
    unpredictable_number: &[u8; 4],
) -> Result<SecretBytes> {
    let mut r = [0u8; 8];
    r[..2].copy_from_slice(atc);
    r[4..].copy_from_slice(unpredictable_number);
    derive_common_session_key(icc_mk, &r)
}

/// Visa secure-messaging session key (VIS; pyemv `kd.derive_visa_sm_sk`):
/// SK = (MK_L ⊕ `00…00 ‖ ATC`) ‖ (MK_R ⊕ `00…00 ‖ ATC⊕FFFF`), odd parity.
///
/// # Errors
/// [`Error::InvalidLength`] unless `icc_mk` is 16 bytes.
pub fn derive_visa_sm_session_key(icc_mk: &[u8], atc: &[u8; 2]) -> Result<SecretBytes> {
    double_length("icc_master_key", icc_mk)?;
    let mut out = SecretBytes::from_slice(icc_mk);
    let k = out.expose_mut();
    xor_into(&mut k[6..8], atc);
    xor_into(&mut k[14..16], &[!atc[0], !atc[1]]);
    set_odd_parity(k);
    Ok(out)
}

/// Branch factor used for the AWS `EMV2000` mode: 4, the value recommended by
/// EMV 2000 Book 2 A1.3.2 and pyemv's default. ⚠️ AWS does not document its
/// parameters; this is the specification's recommendation.
pub const EMV2000_BRANCH_FACTOR: u32 = 4;
/// Tree height used for the AWS `EMV2000` mode: 8 (see [`EMV2000_BRANCH_FACTOR`]).
pub const EMV2000_HEIGHT: u32 = 8;

/// EMV 2000 Book 2 A1.3 tree-based session key derivation (EMV2000-Tree; pyemv
/// `kd.derive_emv2000_tree_sk`), replaced by the common session key in 2005 (SU-46).
///
/// With F(X, Y, j) = TDES(X)[Y_L ⊕ (j mod b)] ‖ TDES(X)[Y_R ⊕ (j mod b) ⊕ `F0`],
/// walking the tree from the ICC MK (parent) and `iv` (grandparent) down to the
/// leaf indexed by the ATC, SK = F(P, GP, ATC) ⊕ GP with odd parity.
///
/// # Errors
/// [`Error::InvalidLength`] unless `icc_mk` is 16 bytes; [`Error::InvalidInput`] if
/// `branch_factor < 2`, `height` is not 1..=16, or `branch_factor^height < 65535`
/// (the tree would not cover every ATC).
pub fn derive_emv2000_tree_session_key(
    icc_mk: &[u8],
    atc: &[u8; 2],
    height: u32,
    branch_factor: u32,
    iv: &[u8; 16],
) -> Result<SecretBytes> {
    double_length("icc_master_key", icc_mk)?;
    if branch_factor < 2 || !(1..=16).contains(&height) {
        return Err(Error::InvalidInput {
            field: "emv2000_tree",
            reason: "branch factor must be at least 2 and height 1 to 16",
        });
    }
    let b = u64::from(branch_factor);
    let leaves = b.checked_pow(height).unwrap_or(u64::MAX);
    if leaves < 65535 {
        return Err(Error::InvalidInput {
            field: "emv2000_tree",
            reason: "branch_factor^height must cover every ATC value",
        });
    }
    let atc_n = u64::from(u16::from_be_bytes(*atc));
    let derive = |x: &[u8], y: &[u8; 16], j: u64| -> Result<[u8; 16]> {
        let c = BlockCipher::tdes(x)?;
        let jb = (j % b).to_be_bytes();
        let mut l = [0u8; 8];
        l.copy_from_slice(&y[..8]);
        xor_into(&mut l, &jb);
        let mut r = [0u8; 8];
        r.copy_from_slice(&y[8..]);
        xor_into(&mut r, &jb);
        r[7] ^= 0xF0;
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&c.encrypt8(l)?);
        out[8..].copy_from_slice(&c.encrypt8(r)?);
        l.zeroize();
        r.zeroize();
        Ok(out)
    };
    let mut p = [0u8; 16];
    p.copy_from_slice(icc_mk);
    let mut gp = *iv;
    let mut result = SecretBytes::zeroed(16);
    for h in 1..=height {
        let div = b.checked_pow(height - h).unwrap_or(u64::MAX);
        let j = atc_n / div;
        let ik = derive(&p, &gp, j);
        let mut ik = match ik {
            Ok(k) => k,
            Err(e) => {
                p.zeroize();
                gp.zeroize();
                return Err(e);
            }
        };
        if h < height {
            gp = p;
            p = ik;
        } else {
            let out = result.expose_mut();
            out.copy_from_slice(&ik);
            xor_into(out, &gp);
            set_odd_parity(out);
        }
        ik.zeroize();
    }
    p.zeroize();
    gp.zeroize();
    Ok(result)
}

/// The AWS `SessionKeyDerivation` union (`SessionKeyDerivationMode` enum), minus
/// the PAN and PSN that every member carries (they feed the ICC master key).
///
/// What each mode derives from the ICC master key (MK-AC):
/// - `EmvCommon` (`EMV_COMMON_SESSION_KEY`): common session key, R = ATC ‖ `00`×6
///   (EMV Book 2 A1.3.1; pyemv `VisaCVN18/22._derive_sk_ac_common`).
/// - `Mastercard` (`MASTERCARD_SESSION_KEY`): R = ATC ‖ `00 00` ‖ UN
///   ([`derive_mastercard_session_key`]).
/// - `Emv2000` (`EMV2000`): EMV2000 tree with ATC, IV zero, branch factor
///   [`EMV2000_BRANCH_FACTOR`], height [`EMV2000_HEIGHT`].
/// - `Visa` (`VISA`): **no session key**; the ICC MK is used directly, as Visa
///   CVN 10 does (AWS user guide: "CVN10 … uses per card key derivation rather
///   than session (per transaction) derivation"; the AWS `SessionKeyVisa`
///   structure has only PAN and PSN; pyemv `VisaCVN10._derive_sk_ac_none`).
///   Visa CVN 18/22 use `EmvCommon` (AWS user guide: "CVN18 and CVN22 utilize the
///   CSK method").
/// - `Amex` (`AMEX`): **no session key**, ICC MK directly. `SessionKeyAmex` has
///   only PAN and PSN (no ATC), so no per-transaction key can be derived; the
///   AWS API notes group it with Visa ("Visa, Amex and JCB CVN01 are
///   interchangeable", payShield mapping). ⚠️ Amex's AEIPS spec is not public.
/// - `UnionPay` (`UNION_PAY`): common session key with R = ATC ‖ `00`×6, the same
///   as `EmvCommon`. ⚠️ No public UnionPay/PBOC vector was found to confirm it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyDerivation {
    /// EMV common session key with the ATC.
    EmvCommon {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
    },
    /// Mastercard SKD with ATC and unpredictable number.
    Mastercard {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
        /// Unpredictable number (tag 9F37).
        unpredictable_number: [u8; 4],
    },
    /// EMV2000 tree with the ATC.
    Emv2000 {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
    },
    /// Amex: the ICC master key directly.
    Amex,
    /// Visa (CVN 10): the ICC master key directly.
    Visa,
    /// UnionPay: common session key with the ATC.
    UnionPay {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
    },
}

impl SessionKeyDerivation {
    /// Derive the session key (or return the ICC MK itself, for `Visa`/`Amex`)
    /// from an ICC master key.
    ///
    /// # Errors
    /// As [`derive_common_session_key`].
    pub fn session_key(&self, icc_mk: &[u8]) -> Result<SecretBytes> {
        double_length("icc_master_key", icc_mk)?;
        match *self {
            Self::EmvCommon { atc } | Self::UnionPay { atc } => {
                let mut r = [0u8; 8];
                r[..2].copy_from_slice(&atc);
                derive_common_session_key(icc_mk, &r)
            }
            Self::Mastercard {
                atc,
                unpredictable_number,
            } => derive_mastercard_session_key(icc_mk, &atc, &unpredictable_number),
            Self::Emv2000 { atc } => derive_emv2000_tree_session_key(
                icc_mk,
                &atc,
                EMV2000_HEIGHT,
                EMV2000_BRANCH_FACTOR,
                &[0u8; 16],
            ),
            Self::Amex | Self::Visa => Ok(SecretBytes::from_slice(icc_mk)),
        }
    }
}

/// The whole AWS ARQC key chain: issuer MK-AC → ICC MK (option A/B) → session
/// key per [`SessionKeyDerivation`]. Returns the 16-byte key that MACs the
/// transaction data (and, for ARPC, that the server normally uses too).
///
/// # Errors
/// As [`derive_icc_master_key`] and [`derive_common_session_key`].
pub fn derive_ac_key(
    issuer_mk: &BlockCipher,
    major: MajorKeyDerivation,
    pan: &str,
    psn: &str,
    derivation: &SessionKeyDerivation,
) -> Result<SecretBytes> {
    let icc = derive_icc_master_key(issuer_mk, major, pan, psn)?;
    derivation.session_key(icc.expose())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    const MK: &str = "0123456789ABCDEFFEDCBA9876543210";

    #[test]
    fn pyemv_docstrings() {
        let mk = decode("k", MK).unwrap();
        let r = [0x00, 0x1C, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            encode(derive_common_session_key(&mk, &r).unwrap().expose()),
            "E9FB384AF807B940FEDCEA613461B0C4"
        );
        assert_eq!(
            encode(
                derive_visa_sm_session_key(&mk, &[0x00, 0x1C])
                    .unwrap()
                    .expose()
            ),
            "0123456789ABCDF2FEDCBA987654CDF2"
        );
        assert_eq!(
            encode(
                derive_emv2000_tree_session_key(&mk, &[0x00, 0x1C], 8, 4, &[0; 16])
                    .unwrap()
                    .expose()
            ),
            "E5BF6D1067F194B0A89B7F5D83BC64A2"
        );
        assert!(derive_emv2000_tree_session_key(&mk, &[0, 0], 4, 4, &[0; 16]).is_err());
        assert!(derive_common_session_key(&mk[..8], &r).is_err());
    }
}
