//! Key blocks: TR-31 / ANSI X9.143.

/// Why a key block was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBlockError {
    /// The key block's MAC does not verify (wrong KBPK or tampered block).
    MacMismatch,
}

impl core::fmt::Display for KeyBlockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MacMismatch => f.write_str("key block MAC does not verify"),
        }
    }
}
