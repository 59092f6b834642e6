//! Issuer script secure messaging (EMV Book 2 section 9): command MAC
//! (integrity, 9.2), command data encryption (confidentiality, 9.3), the
//! PIN-change plaintext blocks, and the AWS `GenerateMacEmvPinChange` flow.

use super::data::EmvEncryptionMode;
use super::retail::{retail_mac, MacPad};
use super::session::{
    derive_common_session_key, derive_emv2000_tree_session_key, derive_visa_sm_session_key,
};
use super::{
    derive_icc_master_key, double_length, MajorKeyDerivation, EMV2000_BRANCH_FACTOR, EMV2000_HEIGHT,
};
use crate::cipher::{xor_into, BlockCipher, Mode};
use crate::error::{Error, Result};
use crate::secret::{Pin, SecretBytes};
use zeroize::Zeroize;

/// MAC of an issuer script command (EMV Book 2 9.2.3, format 2): ISO/IEC 9797-1
/// MAC algorithm 3 with padding method 2 over `data`, keyed with the 16-byte
/// SM integrity session key; 8 bytes (schemes transmit 4 to 8 leftmost bytes).
///
/// `data` is whatever the scheme MACs: command header ‖ {ATC ‖ ARQC} ‖ command
/// data (pyemv `sm.generate_command_mac`).
///
/// # Errors
/// [`Error::InvalidLength`] unless the key is 16 bytes.
pub fn generate_command_mac(sk_smi: &[u8], data: &[u8]) -> Result<[u8; 8]> {
    retail_mac(sk_smi, data, MacPad::M2)
}

/// Padding of command data before encryption (AWS `PinBlockPaddingType`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandPadding {
    /// `NO_PADDING`: the data must already be a multiple of 8 bytes.
    None,
    /// `ISO_IEC_7816_4`: always pad with `80 00…` (= ISO/IEC 9797-1 method 2).
    Iso7816,
    /// Pad with `80 00…` only when the data is not a multiple of 8 bytes
    /// (Mastercard, pyemv `EncryptionType.MASTERCARD`).
    Iso7816IfUnaligned,
}

/// How command data is encrypted for confidentiality (EMV Book 2 9.3, format 2),
/// matching the AWS `EmvCommonAttributes` fields `Mode`, `PinBlockPaddingType`
/// and `PinBlockLengthPosition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandEncryption {
    /// ECB or CBC (CBC with a zero IV).
    pub mode: EmvEncryptionMode,
    /// Prefix the data with one byte holding its length (`FRONT_OF_PIN_BLOCK`).
    pub length_prefix: bool,
    /// Padding after the optional length prefix.
    pub padding: CommandPadding,
}

impl CommandEncryption {
    /// Visa (VIS): length byte in front, `80` padding, TDES ECB (pyemv `EncryptionType.VISA`).
    pub const VISA: Self = Self {
        mode: EmvEncryptionMode::Ecb,
        length_prefix: true,
        padding: CommandPadding::Iso7816,
    };
    /// Mastercard (M/Chip): TDES CBC, `80` padding only if unaligned (pyemv `EncryptionType.MASTERCARD`).
    pub const MASTERCARD: Self = Self {
        mode: EmvEncryptionMode::Cbc,
        length_prefix: false,
        padding: CommandPadding::Iso7816IfUnaligned,
    };
    /// EMV CCD: TDES CBC, always `80` padding (pyemv `EncryptionType.EMV`).
    pub const EMV: Self = Self {
        mode: EmvEncryptionMode::Cbc,
        length_prefix: false,
        padding: CommandPadding::Iso7816,
    };
}

/// Encrypt issuer script command data (EMV Book 2 9.3) with the 16-byte SM
/// confidentiality session key, formatted as `enc` says.
///
/// # Errors
/// [`Error::InvalidLength`] for a key that is not 16 bytes, data longer than 255
/// bytes with a length prefix, or unaligned data with [`CommandPadding::None`].
pub fn encrypt_command_data(
    sk_smc: &[u8],
    data: &[u8],
    enc: &CommandEncryption,
) -> Result<Vec<u8>> {
    double_length("key", sk_smc)?;
    let mut buf = Vec::with_capacity(data.len() + 9);
    if enc.length_prefix {
        let len = u8::try_from(data.len()).map_err(|_| Error::InvalidLength {
            field: "command_data",
            expected: "at most 255 bytes",
            actual: data.len(),
        })?;
        buf.push(len);
    }
    buf.extend_from_slice(data);
    let pad = match enc.padding {
        CommandPadding::None => false,
        CommandPadding::Iso7816 => true,
        CommandPadding::Iso7816IfUnaligned => buf.len() % 8 != 0,
    };
    if pad {
        buf.push(0x80);
        while buf.len() % 8 != 0 {
            buf.push(0);
        }
    }
    if buf.is_empty() || buf.len() % 8 != 0 {
        let actual = buf.len();
        buf.zeroize();
        return Err(Error::InvalidLength {
            field: "command_data",
            expected: "a non-empty multiple of 8 bytes (no padding requested)",
            actual,
        });
    }
    let mode = match enc.mode {
        EmvEncryptionMode::Ecb => Mode::Ecb,
        EmvEncryptionMode::Cbc => Mode::Cbc,
    };
    let out = BlockCipher::tdes(sk_smc).and_then(|c| c.encrypt(mode, &[0u8; 8], &buf));
    buf.zeroize();
    out
}

/// The PIN-change plaintext block in ISO 9564-1 format 2 (EMV Book 2 9.3,
/// Mastercard/CCD/Interac): `2` ‖ PIN length ‖ PIN ‖ `F` fill, 8 bytes
/// (pyemv `sm.format_iso9564_2_pin_block`).
pub fn format_iso9564_2_pin_block(pin: &Pin) -> SecretBytes {
    let mut nibbles = [0x0Fu8; 16];
    nibbles[0] = 2;
    // A Pin holds 4..=12 digits, so the length fits a nibble.
    nibbles[1] = (pin.len() & 0x0F) as u8;
    for (n, d) in nibbles[2..].iter_mut().zip(pin.digits()) {
        *n = *d;
    }
    let out = pack(&nibbles);
    nibbles.zeroize();
    out
}

fn pack(nibbles: &[u8; 16]) -> SecretBytes {
    let mut out = SecretBytes::zeroed(8);
    for (o, pair) in out.expose_mut().iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hi << 4) | (lo & 0x0F);
        }
    }
    out
}

/// The Visa (VIS) PIN-change block, 8 bytes (pyemv `sm.format_vis_pin_block`):
/// (`00 00 00 00` ‖ bytes 4–7 of the ICC MK-AC) ⊕ (PIN length byte ‖ PIN ‖ `F`
/// fill), further ⊕ (current PIN ‖ `0` fill) when the current PIN is given.
///
/// # Errors
/// [`Error::InvalidLength`] unless `icc_mk_ac` is 16 bytes.
pub fn format_vis_pin_block(
    icc_mk_ac: &[u8],
    new_pin: &Pin,
    current_pin: Option<&Pin>,
) -> Result<SecretBytes> {
    double_length("icc_master_key_ac", icc_mk_ac)?;
    let mut nibbles = [0x0Fu8; 16];
    nibbles[0] = 0;
    nibbles[1] = (new_pin.len() & 0x0F) as u8;
    for (n, d) in nibbles[2..].iter_mut().zip(new_pin.digits()) {
        *n = *d;
    }
    let mut block = pack(&nibbles);
    nibbles.zeroize();
    xor_into(&mut block.expose_mut()[4..], &icc_mk_ac[4..8]);
    if let Some(cur) = current_pin {
        let mut cn = [0u8; 16];
        for (n, d) in cn.iter_mut().zip(cur.digits()) {
            *n = *d;
        }
        let c = pack(&cn);
        cn.zeroize();
        xor_into(block.expose_mut(), c.expose());
    }
    Ok(block)
}

/// The AWS `DerivationMethodAttributes` union of `GenerateMacEmvPinChange`,
/// minus the PAN/PSN/major-derivation fields common to all members.
///
/// Mapping (each choice follows the pyemv CVN class named):
/// - `EmvCommon`: SM session keys = common session key with R = application
///   cryptogram (EMV SU-46; pyemv `VisaCVN22._derive_sk_sm_common`); ISO 9564
///   format 2 PIN block; encryption as given (`Mode`, `PinBlockPaddingType`,
///   `PinBlockLengthPosition`).
/// - `Mastercard`: as `EmvCommon` with [`CommandEncryption::MASTERCARD`]
///   (pyemv `MasterCardCVN16..21`, `InteracCVN133`).
/// - `Visa`: SM session keys = Visa SM key with the ATC; VIS PIN block built with
///   the ICC MK-AC (derived from the issuer MK-AC, AWS
///   `AuthorizationRequestKeyIdentifier`), optionally with the current PIN;
///   [`CommandEncryption::VISA`] (pyemv `VisaCVN10/18`).
/// - `Amex`: treated as `Visa` (same AWS fields and outputs,
///   `VisaAmexDerivationOutputs`). ⚠️ Amex AEIPS is not public.
/// - `Emv2000`: SM session keys = EMV2000 tree with the ATC; ISO 9564 format 2
///   block; [`CommandEncryption::EMV`]. ⚠️ No public vector; an assumption.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum PinChangeDerivation<'a> {
    /// EMV common session keys from the application cryptogram.
    EmvCommon {
        /// The ARQC (tag 9F26) of the transaction carrying the script.
        application_cryptogram: [u8; 8],
        /// How the PIN block is encrypted.
        encryption: CommandEncryption,
    },
    /// Mastercard: common session keys from the application cryptogram.
    Mastercard {
        /// The ARQC (tag 9F26).
        application_cryptogram: [u8; 8],
    },
    /// Visa: Visa SM session keys from the ATC and a VIS PIN block.
    Visa {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
        /// Issuer MK-AC (the ICC MK-AC is derived from it for the VIS PIN block).
        issuer_mk_ac: &'a BlockCipher,
        /// The current PIN, if the card's PIN-change command carries it.
        current_pin: Option<&'a Pin>,
    },
    /// Amex: as Visa.
    Amex {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
        /// Issuer MK-AC.
        issuer_mk_ac: &'a BlockCipher,
        /// The current PIN, if present.
        current_pin: Option<&'a Pin>,
    },
    /// EMV2000 tree session keys from the ATC.
    Emv2000 {
        /// Application transaction counter (tag 9F36).
        atc: [u8; 2],
    },
}

/// Inputs of [`generate_mac_emv_pin_change`].
#[derive(Debug, Clone, Copy)]
pub struct PinChangeRequest<'a> {
    /// Issuer MK for secure-messaging integrity (TR31_E2).
    pub issuer_mk_smi: &'a BlockCipher,
    /// Issuer MK for secure-messaging confidentiality (TR31_E1).
    pub issuer_mk_smc: &'a BlockCipher,
    /// ICC master key derivation (option A/B).
    pub major: MajorKeyDerivation,
    /// Primary account number (digits).
    pub pan: &'a str,
    /// PAN sequence number (2 digits).
    pub psn: &'a str,
    /// The new PIN (decrypted from the incoming PIN block by the caller).
    pub new_pin: &'a Pin,
    /// The command message data (APDU header and whatever the scheme MACs
    /// before the PIN block, e.g. ATC ‖ ARQC for Visa/Mastercard); the
    /// encrypted PIN block is appended to it for the MAC.
    pub message_data: &'a [u8],
    /// Scheme-specific derivation.
    pub derivation: PinChangeDerivation<'a>,
}

/// Outputs of [`generate_mac_emv_pin_change`].
#[derive(Clone, PartialEq, Eq)]
pub struct PinChangeOutput {
    /// The command MAC (8 bytes; schemes may send the leftmost 4).
    pub mac: [u8; 8],
    /// The PIN block encrypted under the SM confidentiality session key.
    pub encrypted_pin_block: Vec<u8>,
}

impl core::fmt::Debug for PinChangeOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PinChangeOutput")
            .field("encrypted_pin_block_len", &self.encrypted_pin_block.len())
            .finish_non_exhaustive()
    }
}

/// AWS `GenerateMacEmvPinChange`: derive the ICC SMI/SMC master keys, the SM
/// session keys per [`PinChangeDerivation`], build the scheme's PIN-change
/// block from the new PIN, encrypt it, and MAC `message_data ‖ encrypted block`
/// (AWS: "the target encrypted PIN block … is appended to the message data").
///
/// # Errors
/// As the derivation, formatting and encryption steps.
pub fn generate_mac_emv_pin_change(req: &PinChangeRequest<'_>) -> Result<PinChangeOutput> {
    let icc_smi = derive_icc_master_key(req.issuer_mk_smi, req.major, req.pan, req.psn)?;
    let icc_smc = derive_icc_master_key(req.issuer_mk_smc, req.major, req.pan, req.psn)?;
    let (sk_smi, sk_smc, block, enc) = match req.derivation {
        PinChangeDerivation::EmvCommon {
            application_cryptogram,
            encryption,
        } => (
            derive_common_session_key(icc_smi.expose(), &application_cryptogram)?,
            derive_common_session_key(icc_smc.expose(), &application_cryptogram)?,
            format_iso9564_2_pin_block(req.new_pin),
            encryption,
        ),
        PinChangeDerivation::Mastercard {
            application_cryptogram,
        } => (
            derive_common_session_key(icc_smi.expose(), &application_cryptogram)?,
            derive_common_session_key(icc_smc.expose(), &application_cryptogram)?,
            format_iso9564_2_pin_block(req.new_pin),
            CommandEncryption::MASTERCARD,
        ),
        PinChangeDerivation::Visa {
            atc,
            issuer_mk_ac,
            current_pin,
        }
        | PinChangeDerivation::Amex {
            atc,
            issuer_mk_ac,
            current_pin,
        } => {
            let icc_ac = derive_icc_master_key(issuer_mk_ac, req.major, req.pan, req.psn)?;
            (
                derive_visa_sm_session_key(icc_smi.expose(), &atc)?,
                derive_visa_sm_session_key(icc_smc.expose(), &atc)?,
                format_vis_pin_block(icc_ac.expose(), req.new_pin, current_pin)?,
                CommandEncryption::VISA,
            )
        }
        PinChangeDerivation::Emv2000 { atc } => {
            let tree = |k: &[u8]| {
                derive_emv2000_tree_session_key(
                    k,
                    &atc,
                    EMV2000_HEIGHT,
                    EMV2000_BRANCH_FACTOR,
                    &[0u8; 16],
                )
            };
            (
                tree(icc_smi.expose())?,
                tree(icc_smc.expose())?,
                format_iso9564_2_pin_block(req.new_pin),
                CommandEncryption::EMV,
            )
        }
    };
    let encrypted_pin_block = encrypt_command_data(sk_smc.expose(), block.expose(), &enc)?;
    let mut mac_input = Vec::with_capacity(req.message_data.len() + encrypted_pin_block.len());
    mac_input.extend_from_slice(req.message_data);
    mac_input.extend_from_slice(&encrypted_pin_block);
    let mac = generate_command_mac(sk_smi.expose(), &mac_input)?;
    Ok(PinChangeOutput {
        mac,
        encrypted_pin_block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    #[test]
    fn pyemv_sm_docstrings() {
        let k = decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
        let mac = generate_command_mac(&k, &decode("c", "8424000008").unwrap()).unwrap();
        assert_eq!(encode(&mac), "0BFFF5DF3FAA24E1");
        let pb = format_iso9564_2_pin_block(&Pin::new("9999").unwrap());
        let e = encrypt_command_data(&k, pb.expose(), &CommandEncryption::EMV).unwrap();
        assert_eq!(encode(&e), "5A862D1381CCB94822CFDD706A376178");
        let pb = decode("p", "241234FFFFFFFFFF").unwrap();
        let e = encrypt_command_data(&k, &pb, &CommandEncryption::MASTERCARD).unwrap();
        assert_eq!(encode(&e), "9859240AE52820C3");
        let v = format_vis_pin_block(&k, &Pin::new("1234").unwrap(), None).unwrap();
        assert_eq!(encode(v.expose()), "041234FF76543210");
        let f2 = format_iso9564_2_pin_block(&Pin::new("123456789012").unwrap());
        assert_eq!(encode(f2.expose()), "2C123456789012FF");
    }
}
