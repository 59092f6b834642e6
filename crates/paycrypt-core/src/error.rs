//! The one error type of the crypto core.
//!
//! Every variant carries only static descriptions, field names and lengths:
//! an error can never contain key material, a PIN, a PIN block or a PAN, so it
//! is always safe to log or to return to a caller.

use core::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in the crypto core.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A hexadecimal input is malformed.
    InvalidHex {
        /// Which input (e.g. `"pin_block"`).
        field: &'static str,
        /// What is wrong with it.
        reason: HexError,
    },
    /// An input has a length that the operation does not accept.
    InvalidLength {
        /// Which input.
        field: &'static str,
        /// What was expected, in words (e.g. `"16 or 24 bytes"`).
        expected: &'static str,
        /// The length received (bytes, digits or characters as `expected` says).
        actual: usize,
    },
    /// An input has the right length but a value the operation does not accept.
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A key cannot be used (wrong length, degenerate TDES key, ...).
    InvalidKey(KeyError),
    /// A PIN block is malformed, bound to another PAN, or a translation is forbidden.
    PinBlock(crate::pinblock::PinBlockError),
    /// A TR-31 / X9.143 key block is malformed or fails its integrity check.
    KeyBlock(crate::keyblock::KeyBlockError),
    /// A verification (MAC, PIN, CVV, ARQC, ...) did not match.
    VerificationFailed(VerificationFailure),
    /// The requested combination is valid in general but not supported here.
    Unsupported {
        /// What is not supported.
        what: &'static str,
    },
    /// A failure inside the underlying cryptographic library (e.g. RSA decryption failed).
    Crypto {
        /// Which operation failed.
        operation: &'static str,
    },
}

/// Why a hexadecimal string was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// A character that is not `0-9a-fA-F`, at this position.
    InvalidCharacter {
        /// Zero-based character position.
        position: usize,
    },
    /// An odd number of characters.
    OddLength,
}

/// Why a key was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key length does not fit the algorithm.
    Length {
        /// Algorithm name.
        algorithm: &'static str,
        /// Length received in bytes.
        actual: usize,
    },
    /// A TDES key whose parts are equal (it would act as single DES).
    DegenerateTdes,
    /// The key does not fit the operation (e.g. an AES key where TDES is required).
    WrongAlgorithm {
        /// What the operation needs.
        expected: &'static str,
    },
}

/// Which verification failed; mirrors AWS `VerificationFailedReason`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationFailure {
    /// A MAC did not verify.
    InvalidMac,
    /// A PIN did not verify.
    InvalidPin,
    /// Card validation data (CVV, CSC, dCVV, CVC3, ...) did not verify.
    InvalidValidationData,
    /// An ARQC did not verify.
    InvalidAuthRequestCryptogram,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHex { field, reason } => write!(f, "{field}: {reason}"),
            Self::InvalidLength {
                field,
                expected,
                actual,
            } => write!(
                f,
                "{field}: length {actual} is invalid, expected {expected}"
            ),
            Self::InvalidInput { field, reason } => write!(f, "{field}: {reason}"),
            Self::InvalidKey(e) => write!(f, "invalid key: {e}"),
            Self::PinBlock(e) => write!(f, "PIN block: {e}"),
            Self::KeyBlock(e) => write!(f, "key block: {e}"),
            Self::VerificationFailed(v) => write!(f, "verification failed: {v}"),
            Self::Unsupported { what } => write!(f, "not supported: {what}"),
            Self::Crypto { operation } => write!(f, "cryptographic operation failed: {operation}"),
        }
    }
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { position } => {
                write!(f, "not a hexadecimal character at position {position}")
            }
            Self::OddLength => f.write_str("odd number of hexadecimal characters"),
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { algorithm, actual } => {
                write!(f, "{actual}-byte key is not valid for {algorithm}")
            }
            Self::DegenerateTdes => f.write_str("TDES key parts are equal (single-DES strength)"),
            Self::WrongAlgorithm { expected } => write!(f, "operation requires a {expected} key"),
        }
    }
}

impl fmt::Display for VerificationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidMac => "INVALID_MAC",
            Self::InvalidPin => "INVALID_PIN",
            Self::InvalidValidationData => "INVALID_VALIDATION_DATA",
            Self::InvalidAuthRequestCryptogram => "INVALID_AUTH_REQUEST_CRYPTOGRAM",
        })
    }
}

impl std::error::Error for Error {}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Self::InvalidKey(e)
    }
}

impl From<crate::pinblock::PinBlockError> for Error {
    fn from(e: crate::pinblock::PinBlockError) -> Self {
        Self::PinBlock(e)
    }
}

impl From<crate::keyblock::KeyBlockError> for Error {
    fn from(e: crate::keyblock::KeyBlockError) -> Self {
        Self::KeyBlock(e)
    }
}

impl From<VerificationFailure> for Error {
    fn from(v: VerificationFailure) -> Self {
        Self::VerificationFailed(v)
    }
}
