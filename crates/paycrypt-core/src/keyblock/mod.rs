//! Key blocks: TR-31 / ANSI X9.143.
//!
//! [`tr31`] builds and opens key blocks of versions A, B, C and D.

pub mod tr31;

/// Why a key block was refused.
///
/// Carries only static information and positions, never key material.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBlockError {
    /// The key block's MAC does not verify (wrong KBPK or tampered block).
    MacMismatch,
    /// A character that is not printable ASCII (X9.143 header) or not hexadecimal
    /// (payload, MAC), at this zero-based position in the key block.
    InvalidCharacter {
        /// Zero-based character position.
        position: usize,
    },
    /// The key block is shorter than its fixed parts, or its 4-digit length field
    /// is not numeric or does not equal the number of characters received.
    InvalidBlockLength,
    /// The version ID is not A, B, C or D.
    UnsupportedVersion,
    /// The 2-character key usage is not in the X9.143 list.
    UnknownKeyUsage,
    /// The algorithm character is not in the X9.143 list.
    UnknownAlgorithm,
    /// The mode-of-use character is not in the X9.143 list.
    UnknownModeOfUse,
    /// The key version number is not two alphanumeric characters.
    InvalidKeyVersion,
    /// The exportability character is not E, N or S.
    UnknownExportability,
    /// The number-of-optional-blocks field is not two digits, or more than 99 blocks.
    InvalidOptionalBlockCount,
    /// The reserved field is not `00`.
    InvalidReservedField,
    /// An optional block is malformed (ID, length, truncated data, bad value for a known ID).
    InvalidOptionalBlock,
    /// The header length (with optional blocks) is not a multiple of the cipher block size.
    HeaderNotAligned,
    /// The encrypted payload is missing, not hexadecimal or not whole cipher blocks.
    InvalidPayload,
    /// The KBPK's algorithm does not fit the version (TDES for A/B/C, AES for D).
    WrongKbpkAlgorithm,
    /// The key length (wrapped, or decoded from the payload after the MAC verified)
    /// does not fit the payload or the header's algorithm.
    InvalidKeyLength,
    /// The padding given for wrapping does not bring the payload to whole cipher blocks.
    InvalidPadding,
    /// The resulting key block would exceed 9999 characters.
    TooLong,
}

impl core::fmt::Display for KeyBlockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MacMismatch => f.write_str("key block MAC does not verify"),
            Self::InvalidCharacter { position } => {
                write!(f, "invalid character at position {position}")
            }
            Self::InvalidBlockLength => {
                f.write_str("key block length field does not match the key block")
            }
            Self::UnsupportedVersion => f.write_str("unsupported key block version"),
            Self::UnknownKeyUsage => f.write_str("unknown key usage"),
            Self::UnknownAlgorithm => f.write_str("unknown key algorithm"),
            Self::UnknownModeOfUse => f.write_str("unknown mode of use"),
            Self::InvalidKeyVersion => f.write_str("invalid key version number"),
            Self::UnknownExportability => f.write_str("unknown exportability"),
            Self::InvalidOptionalBlockCount => f.write_str("invalid number of optional blocks"),
            Self::InvalidReservedField => f.write_str("reserved field is not 00"),
            Self::InvalidOptionalBlock => f.write_str("malformed optional block"),
            Self::HeaderNotAligned => {
                f.write_str("header length is not a multiple of the cipher block size")
            }
            Self::InvalidPayload => f.write_str("malformed encrypted payload"),
            Self::WrongKbpkAlgorithm => {
                f.write_str("key block protection key algorithm does not fit the version")
            }
            Self::InvalidKeyLength => f.write_str("invalid wrapped key length"),
            Self::InvalidPadding => f.write_str("padding does not complete the cipher block"),
            Self::TooLong => f.write_str("key block longer than 9999 characters"),
        }
    }
}
