//! Card data helpers: PAN validation and masking, Luhn, track 2 parsing.

use core::fmt;

use crate::error::{Error, Result};

/// Mask a PAN as first 6 / last 4 (`411111******1111`). Every log line of the
/// project that mentions a PAN uses this. PANs shorter than 13 characters keep
/// only their last 4; anything shorter than 5 is fully masked.
pub fn mask_pan(pan: &str) -> String {
    let n = pan.chars().count();
    let chars: Vec<char> = pan.chars().collect();
    let (head, tail) = if n >= 13 {
        (6, 4)
    } else if n >= 5 {
        (0, 4)
    } else {
        (0, 0)
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

/// Luhn (mod 10) check over a digit string.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    luhn_sum(digits.bytes().map(|b| b - b'0'), false) % 10 == 0
}

/// The Luhn check digit to append to `digits`.
///
/// # Errors
/// [`Error::InvalidInput`] if `digits` is empty or not all decimal.
pub fn luhn_check_digit(digits: &str) -> Result<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidInput {
            field: "pan",
            reason: "must be decimal digits",
        });
    }
    let s = luhn_sum(digits.bytes().map(|b| b - b'0'), true);
    Ok(((10 - s % 10) % 10) as u8)
}

fn luhn_sum(digits: impl DoubleEndedIterator<Item = u8>, double_first: bool) -> u32 {
    digits
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let double = (i % 2 == 0) == double_first;
            let d = u32::from(d);
            if double {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum()
}

/// A primary account number: 12–19 decimal digits. `Debug`/`Display` print it masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String);

impl Pan {
    /// Parse a PAN (12–19 digits; the Luhn digit is not required to be valid,
    /// since test and token PANs often are not).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] or [`Error::InvalidInput`].
    pub fn new(s: &str) -> Result<Self> {
        if !(12..=19).contains(&s.len()) {
            return Err(Error::InvalidLength {
                field: "pan",
                expected: "12 to 19 digits",
                actual: s.len(),
            });
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidInput {
                field: "pan",
                reason: "must be decimal digits",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The digits. Never log this; use [`Pan::masked`].
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 6 / last 4.
    pub fn masked(&self) -> String {
        mask_pan(&self.0)
    }

    /// The 12 rightmost digits excluding the check digit (ISO 9564 formats 0 and 3),
    /// left-padded with zeros when the PAN has fewer than 13 digits.
    pub fn rightmost12_excluding_check(&self) -> [u8; 12] {
        let body = &self.0.as_bytes()[..self.0.len() - 1];
        let mut out = [b'0'; 12];
        let take = body.len().min(12);
        out[12 - take..].copy_from_slice(&body[body.len() - take..]);
        out
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Track 2 (or track-2-equivalent data, EMV tag 57) split into its fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Track2 {
    /// Primary account number.
    pub pan: Pan,
    /// Expiry date YYMM.
    pub expiry: String,
    /// Three-digit service code.
    pub service_code: String,
    /// Discretionary data (may be empty).
    pub discretionary: String,
}

impl fmt::Debug for Track2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Track2")
            .field("pan", &self.pan)
            .field("expiry", &"****")
            .field("service_code", &self.service_code)
            .field("discretionary", &"[REDACTED]")
            .finish()
    }
}

impl Track2 {
    /// Parse track 2 text: optional start sentinel `;`, PAN, separator `=` or `D`,
    /// YYMM, service code, discretionary data, optional end sentinel `?` and LRC,
    /// or the hex form of EMV tag 57 (separator `D`, padded with `F`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] / [`Error::InvalidLength`] describing the first problem.
    pub fn parse(s: &str) -> Result<Self> {
        let mut t = s.trim();
        if let Some(rest) = t.strip_prefix(';') {
            t = rest;
        }
        if let Some(pos) = t.find('?') {
            t = &t[..pos];
        }
        let t = t.trim_end_matches(['F', 'f']);
        let sep = t.find(['=', 'D', 'd']).ok_or(Error::InvalidInput {
            field: "track2",
            reason: "no field separator ('=' or 'D')",
        })?;
        let pan = Pan::new(&t[..sep])?;
        let rest = &t[sep + 1..];
        if rest.len() < 7 {
            return Err(Error::InvalidLength {
                field: "track2",
                expected: "expiry (4) and service code (3) after the separator",
                actual: rest.len(),
            });
        }
        if !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidInput {
                field: "track2",
                reason: "data after the separator must be decimal digits",
            });
        }
        let month: u8 = rest[2..4].parse().map_err(|_| Error::InvalidInput {
            field: "track2",
            reason: "bad expiry month",
        })?;
        if !(1..=12).contains(&month) {
            return Err(Error::InvalidInput {
                field: "track2",
                reason: "expiry month must be 01 to 12",
            });
        }
        if t.len() > 37 {
            return Err(Error::InvalidLength {
                field: "track2",
                expected: "at most 37 characters",
                actual: t.len(),
            });
        }
        Ok(Self {
            pan,
            expiry: rest[..4].to_owned(),
            service_code: rest[4..7].to_owned(),
            discretionary: rest[7..].to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_pan("4111111111111111"), "411111******1111");
        assert_eq!(mask_pan("4012345678909"), "401234***8909");
        assert_eq!(
            format!("{:?}", Pan::new("4111111111111111").unwrap()),
            "Pan(411111******1111)"
        );
    }

    #[test]
    fn luhn() {
        assert_eq!(
            &Pan::new("123456789012")
                .unwrap()
                .rightmost12_excluding_check(),
            b"012345678901"
        );
        assert_eq!(
            &Pan::new("4111111111111111")
                .unwrap()
                .rightmost12_excluding_check(),
            b"111111111111"
        );
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("4012345678909"));
        assert!(!luhn_valid("4111111111111112"));
        assert_eq!(luhn_check_digit("411111111111111").unwrap(), 1);
        assert_eq!(luhn_check_digit("7992739871").unwrap(), 3);
    }

    #[test]
    fn track2() {
        let t = Track2::parse(";4111111111111111=25121011234567890?").unwrap();
        assert_eq!(t.pan.as_str(), "4111111111111111");
        assert_eq!(t.expiry, "2512");
        assert_eq!(t.service_code, "101");
        assert_eq!(t.discretionary, "1234567890");
        let t = Track2::parse("5123456789012345D35121010000000000000F").unwrap();
        assert_eq!(t.service_code, "101");
        assert_eq!(t.discretionary, "0000000000000");
        assert!(Track2::parse("4111111111111111").is_err());
        assert!(Track2::parse("4111111111111111=2513101").is_err());
        assert!(!format!("{t:?}").contains("5123456789012345"));
    }
}
