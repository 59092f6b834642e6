//! ISO 9564-1 PIN blocks (formats 0–4) and the IBM 3624 PIN-pad format.

/// Why a PIN block was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinBlockError {
    /// The control field (first nibble) is not that of the expected format.
    ControlField,
}

impl core::fmt::Display for PinBlockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ControlField => f.write_str("control field does not match the PIN block format"),
        }
    }
}
