//! Containers for secret values: zeroized on drop, never printed.

use core::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Secret bytes (a key, an intermediate key, a clear PIN block).
///
/// The buffer is zeroized when dropped; `Debug` prints only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Take ownership of `v`.
    pub fn new(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }

    /// Copy `s` into a new secret buffer.
    pub fn from_slice(s: &[u8]) -> Self {
        Self::new(s.to_vec())
    }

    /// `n` zero bytes.
    pub fn zeroed(n: usize) -> Self {
        Self::new(vec![0u8; n])
    }

    /// The secret bytes. Keep the borrow short; never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access to the secret bytes.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A clear PIN: 4 to 12 decimal digits, zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// Parse a PIN from ASCII digits.
    ///
    /// # Errors
    /// [`crate::Error::InvalidLength`] unless 4–12 digits; [`crate::Error::InvalidInput`] on a non-digit.
    pub fn new(digits: &str) -> crate::Result<Self> {
        Self::from_digits(digits.bytes().map(|c| c.wrapping_sub(b'0')).collect())
    }

    /// Build a PIN from digit values 0–9 (not ASCII).
    ///
    /// # Errors
    /// As [`Pin::new`].
    pub fn from_digits(mut digits: Vec<u8>) -> crate::Result<Self> {
        if !(4..=12).contains(&digits.len()) {
            let actual = digits.len();
            digits.zeroize();
            return Err(crate::Error::InvalidLength {
                field: "pin",
                expected: "4 to 12 digits",
                actual,
            });
        }
        if digits.iter().any(|&d| d > 9) {
            digits.zeroize();
            return Err(crate::Error::InvalidInput {
                field: "pin",
                reason: "PIN must contain only decimal digits",
            });
        }
        Ok(Self(Zeroizing::new(digits)))
    }

    /// The digit values (0–9), most significant first.
    pub fn digits(&self) -> &[u8] {
        &self.0
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a PIN has at least 4 digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The PIN as ASCII digits in a zeroizing buffer (for tests and the offline calculator).
    pub fn to_ascii(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.iter().map(|d| char::from(b'0' + d)).collect())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin([REDACTED; {} digits])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let s = SecretBytes::from_slice(&[0x12, 0x34]);
        assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 2])");
        let p = Pin::new("1234").unwrap();
        assert!(!format!("{p:?}").contains("1234"));
    }

    #[test]
    fn pin_rules() {
        assert!(Pin::new("123").is_err());
        assert!(Pin::new("1234567890123").is_err());
        assert!(Pin::new("12a4").is_err());
        assert_eq!(Pin::new("0570").unwrap().digits(), &[0, 5, 7, 0]);
    }
}
