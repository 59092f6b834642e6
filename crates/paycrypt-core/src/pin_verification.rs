//! PIN verification values: Visa PVV, IBM 3624 natural PIN and offset, random PINs.
//!
//! # Visa PIN Verification Value (PVV)
//!
//! The algorithm is public in the IBM CCA documentation ("PVV generation
//! algorithm"):
//! 1. Build the transformed security parameter TSP: the 11 rightmost PAN
//!    digits excluding the check digit, then the PVKI (one digit), then the
//!    4 leftmost PIN digits.
//! 2. Encrypt the TSP under the TDES PVK pair.
//! 3. Scan the result's hex digits left to right and keep the decimal ones.
//! 4. If fewer than 4 were found, scan again and take `A`–`F` as 0–5.
//!
//! The PVKI is limited to 0–6, as in AWS `PinVerificationKeyIndex`.
//!
//! # IBM 3624
//!
//! 1. Pad the validation data (4–16 hex digits) on the right with the pad
//!    character to 16 nibbles.
//! 2. Encrypt it under the TDES PVK.
//! 3. Decimalize every nibble through the decimalization table.
//! 4. The natural PIN is the first *L* digits, where *L* is the PIN length.
//!
//! The customer PIN is `natural + offset` digit by digit mod 10; the offset is
//! `PIN − natural` mod 10, with as many digits as the PIN. The AWS shapes map
//! to functions here:
//!
//! | AWS shape | Function |
//! |---|---|
//! | `Ibm3624NaturalPin` | [`ibm3624_natural_pin`] |
//! | `Ibm3624PinFromOffset` | [`ibm3624_pin_from_offset`] |
//! | `Ibm3624PinOffset` | [`ibm3624_offset`] (after decrypting the PIN block) |
//! | `Ibm3624RandomPin` | [`ibm3624_random_pin`] |
//! | `Ibm3624PinVerification` | [`verify_ibm3624_offset`] |
//! | `VisaPin` | [`generate_visa_pin`] |
//! | `VisaPinVerificationValue` | [`visa_pvv`] (after decrypting the PIN block) |
//! | `VisaPinVerification` | [`verify_visa_pvv`] |
//!
//! # Decimalization-table attack
//!
//! Bond and Zieliński (2003) showed that a caller-supplied decimalization
//! table, together with a verification oracle, reveals a PIN in about 15
//! guesses. Two defences apply here:
//! - [`DecimalizationTable::new`] accepts only tables that map onto all ten
//!   digits.
//! - Every IBM 3624 computation goes through [`Ibm3624Params::new`], which
//!   applies a [`DecimalizationPolicy`]. With
//!   [`DecimalizationPolicy::registered`], only tables registered ahead of time
//!   are accepted, as with IBM CCA's "use stored decimalization tables only".
//!
//! All verifications compare in constant time and fail with
//! [`VerificationFailure::InvalidPin`].

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::card::Pan;
use crate::cipher::{ct_eq, Algorithm, BlockCipher};
use crate::error::{Error, KeyError, Result, VerificationFailure};
use crate::random;
use crate::secret::Pin;

/// Highest Visa PVKI accepted (AWS `PinVerificationKeyIndex` is 0..6).
pub const MAX_PVKI: u8 = 6;

fn check_pvk(pvk: &BlockCipher) -> Result<()> {
    if matches!(pvk.algorithm(), Algorithm::Tdes2 | Algorithm::Tdes3) {
        Ok(())
    } else {
        Err(KeyError::WrongAlgorithm {
            expected: "TDES (PIN verification key)",
        }
        .into())
    }
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn parse_decimal(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if !(min..=max).contains(&s.len()) {
        return Err(Error::InvalidLength {
            field,
            expected: match (min, max) {
                (4, 4) => "4 digits",
                _ => "4 to 12 digits",
            },
            actual: s.len(),
        });
    }
    let v: Zeroizing<Vec<u8>> = Zeroizing::new(s.bytes().map(|b| b.wrapping_sub(b'0')).collect());
    if v.iter().any(|&d| d > 9) {
        return Err(Error::InvalidInput {
            field,
            reason: "must be decimal digits",
        });
    }
    Ok(v)
}

fn encrypt_nibbles(pvk: &BlockCipher, block: [u8; 8]) -> Result<Zeroizing<[u8; 16]>> {
    let mut b = pvk.encrypt8(block)?;
    let mut nib = Zeroizing::new([0u8; 16]);
    for (pair, byte) in nib.chunks_exact_mut(2).zip(&b) {
        if let [hi, lo] = pair {
            *hi = byte >> 4;
            *lo = byte & 0x0F;
        }
    }
    b.zeroize();
    Ok(nib)
}

/// Compute the Visa PVV (4 digits, ASCII) for `pin` (its 4 leftmost digits are used).
///
/// # Errors
/// [`KeyError::WrongAlgorithm`] unless `pvk` is TDES; [`Error::InvalidInput`] if `pvki > 6`.
pub fn visa_pvv(pvk: &BlockCipher, pan: &Pan, pvki: u8, pin: &Pin) -> Result<String> {
    let pvv = visa_pvv_digits(pvk, pan, pvki, pin)?;
    Ok(pvv.iter().map(|d| char::from(b'0' + d)).collect())
}

fn visa_pvv_digits(pvk: &BlockCipher, pan: &Pan, pvki: u8, pin: &Pin) -> Result<[u8; 4]> {
    check_pvk(pvk)?;
    if pvki > MAX_PVKI {
        return Err(Error::InvalidInput {
            field: "pvki",
            reason: "PIN verification key index must be 0 to 6",
        });
    }
    // TSP nibbles: 11 PAN digits (excluding the check digit), PVKI, 4 PIN digits.
    let mut tsp = [0u8; 16];
    let digits: Vec<u8> = pan.as_str().bytes().map(|b| b - b'0').collect();
    let end = digits.len().saturating_sub(1);
    let start = end.saturating_sub(11);
    for (o, d) in tsp.iter_mut().zip(digits.get(start..end).unwrap_or(&[])) {
        *o = *d;
    }
    if let Some(s) = tsp.get_mut(11) {
        *s = pvki;
    }
    for (o, d) in tsp.iter_mut().skip(12).zip(pin.digits()) {
        *o = *d;
    }
    let mut block = [0u8; 8];
    for (o, pair) in block.iter_mut().zip(tsp.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hi << 4) | lo;
        }
    }
    tsp.zeroize();
    let nib = encrypt_nibbles(pvk, block)?;
    block.zeroize();
    let mut pvv = [0u8; 4];
    let mut n = 0usize;
    for &x in nib
        .iter()
        .filter(|&&x| x <= 9)
        .chain(nib.iter().filter(|&&x| x > 9))
    {
        if let Some(slot) = pvv.get_mut(n) {
            *slot = if x > 9 { x - 10 } else { x };
            n += 1;
        }
    }
    Ok(pvv)
}

/// Verify a Visa PVV in constant time.
///
/// # Errors
/// As [`visa_pvv`]; [`Error::InvalidLength`] / [`Error::InvalidInput`] if `pvv`
/// is not 4 digits; [`VerificationFailure::InvalidPin`] on mismatch.
pub fn verify_visa_pvv(pvk: &BlockCipher, pan: &Pan, pvki: u8, pin: &Pin, pvv: &str) -> Result<()> {
    let given = parse_decimal("pvv", pvv, 4, 4)?;
    let mut want = visa_pvv_digits(pvk, pan, pvki, pin)?;
    let ok = ct_eq(&want, &given);
    want.zeroize();
    if ok {
        Ok(())
    } else {
        Err(VerificationFailure::InvalidPin.into())
    }
}

/// Generate a random PIN of `pin_len` digits and its Visa PVV (AWS `VisaPin`).
///
/// # Errors
/// As [`random_pin`] and [`visa_pvv`].
pub fn generate_visa_pin(
    pvk: &BlockCipher,
    pan: &Pan,
    pvki: u8,
    pin_len: usize,
) -> Result<(Pin, String)> {
    let pin = random_pin(pin_len)?;
    let pvv = visa_pvv(pvk, pan, pvki, &pin)?;
    Ok((pin, pvv))
}

/// A uniformly random PIN of `len` digits (4–12), by rejection sampling on random bytes.
///
/// # Errors
/// [`Error::InvalidLength`] unless 4–12; [`Error::Crypto`] if the random generator fails.
pub fn random_pin(len: usize) -> Result<Pin> {
    if !(4..=12).contains(&len) {
        return Err(Error::InvalidLength {
            field: "pin_length",
            expected: "4 to 12 digits",
            actual: len,
        });
    }
    let mut digits = Vec::with_capacity(len);
    let mut buf = Zeroizing::new([0u8; 16]);
    while digits.len() < len {
        random::fill(buf.as_mut())?;
        for &b in buf.iter() {
            // 250 = 25 × 10: values 250..=255 would bias the digits.
            if b < 250 && digits.len() < len {
                digits.push(b % 10);
            }
        }
    }
    Pin::from_digits(digits)
}

/// An IBM 3624 decimalization table: 16 decimal digits, the image of the hex
/// digits `0`–`F`, mapping onto all ten digits. `Debug` does not print it (AWS
/// marks it sensitive).
#[derive(Clone, PartialEq, Eq)]
pub struct DecimalizationTable([u8; 16]);

impl DecimalizationTable {
    /// Parse a table such as `"0123456789012345"`.
    ///
    /// # Errors
    /// [`Error::InvalidLength`] unless 16 characters; [`Error::InvalidInput`] if
    /// a character is not decimal, or the table does not map onto all ten digits.
    pub fn new(s: &str) -> Result<Self> {
        if s.len() != 16 {
            return Err(Error::InvalidLength {
                field: "decimalization_table",
                expected: "16 digits",
                actual: s.len(),
            });
        }
        let mut t = [0u8; 16];
        for (o, b) in t.iter_mut().zip(s.bytes()) {
            *o = b.wrapping_sub(b'0');
        }
        if t.iter().any(|&d| d > 9) {
            return Err(Error::InvalidInput {
                field: "decimalization_table",
                reason: "must be 16 decimal digits",
            });
        }
        let mut seen = [false; 10];
        for &d in &t {
            if let Some(s) = seen.get_mut(usize::from(d)) {
                *s = true;
            }
        }
        if !seen.iter().all(|&s| s) {
            return Err(Error::InvalidInput {
                field: "decimalization_table",
                reason: "table must map onto all ten decimal digits",
            });
        }
        Ok(Self(t))
    }

    /// Decimalize one nibble.
    fn map(&self, nibble: u8) -> u8 {
        self.0.get(usize::from(nibble & 0x0F)).copied().unwrap_or(0)
    }
}

impl fmt::Debug for DecimalizationTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecimalizationTable([REDACTED])")
    }
}

/// Which decimalization tables IBM 3624 operations may use.
#[derive(Debug, Clone)]
pub struct DecimalizationPolicy {
    registered: Option<Vec<DecimalizationTable>>,
}

impl DecimalizationPolicy {
    /// Accept any valid table (one that maps onto all ten digits).
    pub fn any_valid() -> Self {
        Self { registered: None }
    }

    /// Accept only these tables, registered ahead of time (the defence against
    /// the decimalization-table attack, REFERENCE §4.3 / IBM CCA).
    pub fn registered(tables: Vec<DecimalizationTable>) -> Self {
        Self {
            registered: Some(tables),
        }
    }

    /// Check `table` against the policy. The comparison is constant-time in the table contents.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the table is not registered.
    pub fn check(&self, table: &DecimalizationTable) -> Result<()> {
        match &self.registered {
            None => Ok(()),
            Some(list) => {
                let mut found = false;
                for t in list {
                    found |= ct_eq(&t.0, &table.0);
                }
                if found {
                    Ok(())
                } else {
                    Err(Error::InvalidInput {
                        field: "decimalization_table",
                        reason: "not a registered decimalization table",
                    })
                }
            }
        }
    }
}

/// The inputs of every IBM 3624 computation (AWS `Ibm3624*` shapes): the
/// decimalization table, and the PIN validation data padded with the pad
/// character. Build with [`Ibm3624Params::new`], which applies the policy.
#[derive(Clone)]
pub struct Ibm3624Params {
    table: DecimalizationTable,
    validation_block: [u8; 8],
}

impl fmt::Debug for Ibm3624Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ibm3624Params([REDACTED])")
    }
}

impl Drop for Ibm3624Params {
    fn drop(&mut self) {
        self.validation_block.zeroize();
        self.table.0.zeroize();
    }
}

impl Ibm3624Params {
    /// Check `table` against `policy` and pad `validation_data` (4–16 hex
    /// digits; AWS allows decimal only) on the right with `pad` (one hex
    /// character) to 16 nibbles.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (policy refusal, non-hex data or pad), [`Error::InvalidLength`].
    pub fn new(
        policy: &DecimalizationPolicy,
        table: &DecimalizationTable,
        validation_data: &str,
        pad: char,
    ) -> Result<Self> {
        policy.check(table)?;
        if !(4..=16).contains(&validation_data.len()) {
            return Err(Error::InvalidLength {
                field: "pin_validation_data",
                expected: "4 to 16 hexadecimal digits",
                actual: validation_data.len(),
            });
        }
        let pad = u8::try_from(pad)
            .ok()
            .and_then(hex_nibble)
            .ok_or(Error::InvalidInput {
                field: "pin_validation_data_pad_character",
                reason: "must be one hexadecimal character",
            })?;
        let mut nib = [pad; 16];
        for (o, b) in nib.iter_mut().zip(validation_data.bytes()) {
            *o = hex_nibble(b).ok_or(Error::InvalidInput {
                field: "pin_validation_data",
                reason: "must be hexadecimal digits",
            })?;
        }
        let mut validation_block = [0u8; 8];
        for (o, pair) in validation_block.iter_mut().zip(nib.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *o = (hi << 4) | lo;
            }
        }
        nib.zeroize();
        Ok(Self {
            table: table.clone(),
            validation_block,
        })
    }

    /// The 16 decimalized digits of `E_pvk(validation block)`.
    fn decimalized(&self, pvk: &BlockCipher) -> Result<Zeroizing<[u8; 16]>> {
        check_pvk(pvk)?;
        let mut nib = encrypt_nibbles(pvk, self.validation_block)?;
        for x in nib.iter_mut() {
            *x = self.table.map(*x);
        }
        Ok(nib)
    }
}

/// Select validation data from a PAN: `len` digits starting at zero-based
/// position `start` (payShield/psec style "PAN verify offset and length").
///
/// # Errors
/// [`Error::InvalidInput`] if the range is not inside the PAN or `len` is not 4–16.
pub fn validation_data_from_pan(pan: &Pan, start: usize, len: usize) -> Result<String> {
    if !(4..=16).contains(&len) {
        return Err(Error::InvalidLength {
            field: "pin_validation_data",
            expected: "4 to 16 digits",
            actual: len,
        });
    }
    pan.as_str()
        .get(start..start.saturating_add(len))
        .map(str::to_owned)
        .ok_or(Error::InvalidInput {
            field: "pin_validation_data",
            reason: "start and length must lie inside the PAN",
        })
}

fn check_pin_len(len: usize) -> Result<()> {
    if (4..=12).contains(&len) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            field: "pin_length",
            expected: "4 to 12 digits",
            actual: len,
        })
    }
}

/// The IBM 3624 natural PIN of `pin_len` digits (AWS `Ibm3624NaturalPin`).
///
/// # Errors
/// [`KeyError::WrongAlgorithm`] unless `pvk` is TDES; [`Error::InvalidLength`] unless `pin_len` is 4–12.
pub fn ibm3624_natural_pin(
    pvk: &BlockCipher,
    params: &Ibm3624Params,
    pin_len: usize,
) -> Result<Pin> {
    check_pin_len(pin_len)?;
    let d = params.decimalized(pvk)?;
    Pin::from_digits(d.get(..pin_len).unwrap_or(&[]).to_vec())
}

/// The IBM 3624 offset of `pin` (as many digits as the PIN; AWS `Ibm3624PinOffset`).
///
/// # Errors
/// As [`ibm3624_natural_pin`].
pub fn ibm3624_offset(pvk: &BlockCipher, params: &Ibm3624Params, pin: &Pin) -> Result<String> {
    let d = params.decimalized(pvk)?;
    Ok(pin
        .digits()
        .iter()
        .zip(d.iter())
        .map(|(p, n)| char::from(b'0' + (10 + p - n) % 10))
        .collect())
}

/// The customer PIN from its offset: `natural + offset` digit-wise mod 10, as
/// many digits as the offset (AWS `Ibm3624PinFromOffset`).
///
/// # Errors
/// As [`ibm3624_natural_pin`]; [`Error::InvalidLength`]/[`Error::InvalidInput`] unless `offset` is 4–12 digits.
pub fn ibm3624_pin_from_offset(
    pvk: &BlockCipher,
    params: &Ibm3624Params,
    offset: &str,
) -> Result<Pin> {
    let off = parse_decimal("pin_offset", offset, 4, 12)?;
    let d = params.decimalized(pvk)?;
    Pin::from_digits(
        off.iter()
            .zip(d.iter())
            .map(|(o, n)| (o + n) % 10)
            .collect(),
    )
}

/// Verify `pin` against its IBM 3624 offset, in constant time (AWS `Ibm3624PinVerification`).
/// The PIN must have as many digits as the offset.
///
/// # Errors
/// As [`ibm3624_pin_from_offset`]; [`VerificationFailure::InvalidPin`] on mismatch.
pub fn verify_ibm3624_offset(
    pvk: &BlockCipher,
    params: &Ibm3624Params,
    pin: &Pin,
    offset: &str,
) -> Result<()> {
    let expected = ibm3624_pin_from_offset(pvk, params, offset)?;
    if ct_eq(expected.digits(), pin.digits()) {
        Ok(())
    } else {
        Err(VerificationFailure::InvalidPin.into())
    }
}

/// A random PIN of `pin_len` digits and its IBM 3624 offset (AWS `Ibm3624RandomPin`).
///
/// # Errors
/// As [`random_pin`] and [`ibm3624_offset`].
pub fn ibm3624_random_pin(
    pvk: &BlockCipher,
    params: &Ibm3624Params,
    pin_len: usize,
) -> Result<(Pin, String)> {
    let pin = random_pin(pin_len)?;
    let offset = ibm3624_offset(pvk, params, &pin)?;
    Ok((pin, offset))
}
