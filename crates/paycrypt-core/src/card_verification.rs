//! Card verification values: CVV/CVC, CVV2, iCVV and Mastercard CVC3 (dynamic CVC).
//!
//! Each AWS Payment Cryptography `CardGenerationAttributes` /
//! `CardVerificationAttributes` member maps to one generate and one verify call:
//!
//! | AWS member | generate | verify |
//! |---|---|---|
//! | `CardVerificationValue1 {CardExpiryDate, ServiceCode}` | [`cvv`] | [`verify_cvv`] |
//! | `CardVerificationValue2 {CardExpiryDate}` | [`cvv2`] | [`verify_cvv2`] |
//! | iCVV (CVV1 with service code `999`) | [`icvv`] | [`verify_icvv`] |
//! | `DynamicCardVerificationCode {UnpredictableNumber, PanSequenceNumber, ApplicationTransactionCounter, TrackData}` | [`cvc3`] | [`verify_cvc3`] |
//! | `DynamicCardVerificationValue {PanSequenceNumber, CardExpiryDate, ServiceCode, ApplicationTransactionCounter}` | [`dcvv`] | [`verify_dcvv`] |
//!
//! Not implemented here (no public algorithm description with a vector, or two
//! agreeing independent descriptions, could be found): Amex CSC versions 1 and 2
//! (`AmexCardSecurityCodeVersion1/2`), Discover dynamic CVV
//! (`DiscoverDynamicCardVerificationCode`) and `CardHolderVerificationValue`.
//! A server should answer those members with [`Error::Unsupported`].
//!
//! Inputs are decimal or hexadecimal strings exactly as AWS passes them; every
//! function validates them and returns a typed error, never panics. Verification
//! compares in constant time and fails with
//! `Error::VerificationFailed(VerificationFailure::InvalidValidationData)`.

use core::fmt;

use zeroize::Zeroize;

use crate::cipher::{ct_eq, BlockCipher};
use crate::error::{Error, KeyError, Result, VerificationFailure};

/// AWS `ValidationDataLength` default: 3 digits.
pub const DEFAULT_VALIDATION_DATA_LENGTH: usize = 3;
/// Smallest accepted validation data length (AWS `ValidationDataLength` minimum).
pub const MIN_VALIDATION_DATA_LENGTH: usize = 3;
/// Largest accepted validation data length (AWS `ValidationDataLength` maximum).
pub const MAX_VALIDATION_DATA_LENGTH: usize = 5;
/// Service code used for CVV2 / CVC2 (the value printed on the card).
pub const CVV2_SERVICE_CODE: &str = "000";
/// Service code used for iCVV / chip CVC (track 2 equivalent data on the chip).
pub const ICVV_SERVICE_CODE: &str = "999";

/// A card verification key (CVK): the double-length TDES key KA ‖ KB of the
/// Visa/Mastercard CVV algorithm (AWS key usage `TR31_C0_CARD_VERIFICATION_KEY`,
/// `TDES_2KEY`). Build it once and reuse it; key schedules are zeroized on drop.
pub struct CvvKey {
    /// Single DES with KA (first step of the algorithm).
    ka: BlockCipher,
    /// TDES EDE with KA ‖ KB (second step).
    kab: BlockCipher,
}

impl fmt::Debug for CvvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CvvKey([REDACTED])")
    }
}

impl CvvKey {
    /// Key the CVV algorithm with a 16-byte CVK (KA ‖ KB).
    ///
    /// # Errors
    /// [`KeyError::Length`] unless 16 bytes; [`KeyError::DegenerateTdes`] if KA = KB.
    pub fn new(key: &[u8]) -> Result<Self> {
        let (ka, _) = split_double_key(key)?;
        let kab = BlockCipher::new(crate::cipher::Algorithm::Tdes2, key)?;
        Ok(Self {
            ka: BlockCipher::des(&ka),
            kab,
        })
    }
}

fn split_double_key(key: &[u8]) -> Result<([u8; 8], [u8; 8])> {
    match (key.get(..8), key.get(8..16)) {
        (Some(a), Some(b)) if key.len() == 16 => {
            let mut ka = [0u8; 8];
            let mut kb = [0u8; 8];
            ka.copy_from_slice(a);
            kb.copy_from_slice(b);
            Ok((ka, kb))
        }
        _ => Err(KeyError::Length {
            algorithm: "TDES_2KEY",
            actual: key.len(),
        }
        .into()),
    }
}

// ---------------------------------------------------------------------------
// Input validation
// ---------------------------------------------------------------------------

fn check_digits(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<()> {
    if !(min..=max).contains(&s.len()) {
        return Err(Error::InvalidLength {
            field,
            expected,
            actual: s.len(),
        });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidInput {
            field,
            reason: "must be decimal digits",
        });
    }
    Ok(())
}

fn check_pan(pan: &str) -> Result<()> {
    check_digits("pan", pan, 12, 19, "12 to 19 digits")
}

fn check_expiry(expiry: &str) -> Result<()> {
    check_digits("card_expiry_date", expiry, 4, 4, "4 digits")
}

fn check_service_code(sc: &str) -> Result<()> {
    check_digits("service_code", sc, 3, 3, "3 digits")
}

fn check_length(length: usize) -> Result<()> {
    if !(MIN_VALIDATION_DATA_LENGTH..=MAX_VALIDATION_DATA_LENGTH).contains(&length) {
        return Err(Error::InvalidLength {
            field: "validation_data_length",
            expected: "3 to 5 digits",
            actual: length,
        });
    }
    Ok(())
}

fn check_value(value: &str) -> Result<()> {
    check_digits(
        "validation_data",
        value,
        MIN_VALIDATION_DATA_LENGTH,
        MAX_VALIDATION_DATA_LENGTH,
        "3 to 5 digits",
    )
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parse `min..=max` hex characters right-aligned into `N` bytes (left-padded
/// with zero nibbles), the way AWS `HexLengthBetween2And8` / `…2And4` fields are
/// widened to the 4-byte UN and the 2-byte ATC.
fn hex_right_aligned<const N: usize>(
    field: &'static str,
    s: &str,
    min: usize,
    expected: &'static str,
) -> Result<[u8; N]> {
    let b = s.as_bytes();
    if b.len() < min || b.len() > 2 * N {
        return Err(Error::InvalidLength {
            field,
            expected,
            actual: b.len(),
        });
    }
    let mut out = [0u8; N];
    let offset = 2 * N - b.len();
    for (i, &c) in b.iter().enumerate() {
        let v = hex_nibble(c).ok_or(Error::InvalidHex {
            field,
            reason: crate::error::HexError::InvalidCharacter { position: i },
        })?;
        let pos = offset + i;
        if let Some(byte) = out.get_mut(pos / 2) {
            *byte |= if pos % 2 == 0 { v << 4 } else { v };
        }
    }
    Ok(out)
}

/// Pack decimal digits (already validated) into nibbles of `out`, starting at nibble `start`.
fn pack_digits(out: &mut [u8; 16], start: usize, digits: &str) -> usize {
    let mut pos = start;
    for c in digits.bytes() {
        let v = c.wrapping_sub(b'0') & 0x0F;
        if let Some(byte) = out.get_mut(pos / 2) {
            *byte |= if pos % 2 == 0 { v << 4 } else { v };
        }
        pos += 1;
    }
    pos
}

/// Decimalize a cipher block the CVV/PVV way: first pass takes the decimal
/// nibbles left to right; if fewer than `out.len()` were found, a second pass
/// takes the nibbles A–F left to right as 0–5. Writes ASCII digits.
fn decimalize(block: &[u8; 8], out: &mut [u8]) {
    let nibbles = block.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let first = nibbles.clone().filter(|&n| n < 10);
    let second = nibbles.filter(|&n| n >= 10).map(|n| n - 10);
    for (o, d) in out.iter_mut().zip(first.chain(second)) {
        *o = b'0' + d;
    }
}

// ---------------------------------------------------------------------------
// CVV / CVC, CVV2, iCVV
// ---------------------------------------------------------------------------

/// The CVV algorithm's raw output block (before decimalization).
fn cvv_block(key: &CvvKey, pan: &str, expiry: &str, service_code: &str) -> Result<[u8; 8]> {
    check_pan(pan)?;
    check_expiry(expiry)?;
    check_service_code(service_code)?;
    // PAN ‖ expiry ‖ service code, right-padded with zeros to 32 digits (≤ 26 used).
    let mut data = [0u8; 16];
    let n = pack_digits(&mut data, 0, pan);
    let n = pack_digits(&mut data, n, expiry);
    pack_digits(&mut data, n, service_code);
    cvv_encipher(key, data)
}

/// The CVV encipherment of 16 packed bytes: DES_KA(block 1) ⊕ block 2, then TDES_KA‖KB.
fn cvv_encipher(key: &CvvKey, mut data: [u8; 16]) -> Result<[u8; 8]> {
    let mut b1 = [0u8; 8];
    let mut b2 = [0u8; 8];
    b1.copy_from_slice(&data[..8]);
    b2.copy_from_slice(&data[8..]);
    data.zeroize();
    let mut x = key.ka.encrypt8(b1)?;
    crate::cipher::xor_into(&mut x, &b2);
    let out = key.kab.encrypt8(x)?;
    b1.zeroize();
    b2.zeroize();
    x.zeroize();
    Ok(out)
}

fn cvv_digits(
    key: &CvvKey,
    pan: &str,
    expiry: &str,
    service_code: &str,
    out: &mut [u8],
) -> Result<()> {
    let mut block = cvv_block(key, pan, expiry, service_code)?;
    decimalize(&block, out);
    block.zeroize();
    Ok(())
}

fn digits_to_string(d: &[u8]) -> String {
    d.iter().map(|&b| char::from(b)).collect()
}

/// Generate a Visa CVV / Mastercard CVC (AWS `CardVerificationValue1`).
///
/// Algorithm (IBM CCA "CVV and CVC method", Visa/Mastercard): the digits
/// PAN ‖ expiry ‖ service code are right-padded with `0` to 32 digits and split
/// into two 8-byte blocks; block 1 is enciphered with single DES under KA, XORed
/// with block 2, and enciphered with TDES under KA ‖ KB. The result is
/// decimalized: decimal nibbles left to right, then (if too few) nibbles A–F as
/// 0–5. The first `length` digits are the CVV.
///
/// `expiry` is 4 digits in whatever order the issuer uses (normally YYMM).
///
/// # Errors
/// [`Error::InvalidLength`] / [`Error::InvalidInput`] for a PAN that is not 12–19
/// digits, an expiry that is not 4 digits, a service code that is not 3 digits,
/// or a `length` outside 3..=5.
pub fn cvv(
    key: &CvvKey,
    pan: &str,
    expiry: &str,
    service_code: &str,
    length: usize,
) -> Result<String> {
    check_length(length)?;
    generate_digits(length, |out| {
        cvv_digits(key, pan, expiry, service_code, out)
    })
}

/// Verify a CVV / CVC (AWS `CardVerificationValue1`); the length of `value`
/// (3–5 digits) selects how many digits are compared, in constant time.
///
/// # Errors
/// As [`cvv`] for malformed inputs (`value` must be 3–5 digits), and
/// `Error::VerificationFailed(VerificationFailure::InvalidValidationData)` on mismatch.
pub fn verify_cvv(
    key: &CvvKey,
    pan: &str,
    expiry: &str,
    service_code: &str,
    value: &str,
) -> Result<()> {
    check_value(value)?;
    verify_digits(value, |expected| {
        cvv_digits(key, pan, expiry, service_code, expected)
    })
}

/// Generate a CVV2 / CVC2 (AWS `CardVerificationValue2`): [`cvv`] with service code `000`.
///
/// # Errors
/// As [`cvv`].
pub fn cvv2(key: &CvvKey, pan: &str, expiry: &str, length: usize) -> Result<String> {
    cvv(key, pan, expiry, CVV2_SERVICE_CODE, length)
}

/// Verify a CVV2 / CVC2 (AWS `CardVerificationValue2`): [`verify_cvv`] with service code `000`.
///
/// # Errors
/// As [`verify_cvv`].
pub fn verify_cvv2(key: &CvvKey, pan: &str, expiry: &str, value: &str) -> Result<()> {
    verify_cvv(key, pan, expiry, CVV2_SERVICE_CODE, value)
}

/// Generate an iCVV / chip CVC: [`cvv`] with service code `999` (AWS maps it to
/// `CardVerificationValue1` with `ServiceCode=999`).
///
/// # Errors
/// As [`cvv`].
pub fn icvv(key: &CvvKey, pan: &str, expiry: &str, length: usize) -> Result<String> {
    cvv(key, pan, expiry, ICVV_SERVICE_CODE, length)
}

/// Verify an iCVV: [`verify_cvv`] with service code `999`.
///
/// # Errors
/// As [`verify_cvv`].
pub fn verify_icvv(key: &CvvKey, pan: &str, expiry: &str, value: &str) -> Result<()> {
    verify_cvv(key, pan, expiry, ICVV_SERVICE_CODE, value)
}

// ---------------------------------------------------------------------------
// Mastercard CVC3 (PayPass mag-stripe dynamic CVC)
// ---------------------------------------------------------------------------

/// Largest track data accepted: AWS `TrackDataType` is 2..160 hex characters.
const MAX_TRACK_BYTES: usize = 80;

/// ISO/IEC 9797-1 MAC algorithm 3 with padding method 2, over `data`, with the
/// 16-byte key K ‖ K′ (`k1` = DES under K, `k` = TDES under K ‖ K′).
fn retail_mac_pad2(k1: &BlockCipher, k: &BlockCipher, data: &[u8]) -> Result<[u8; 8]> {
    let mut state = [0u8; 8];
    // Number of blocks after appending 0x80 and zero fill.
    let blocks = data.len() / 8 + 1;
    for i in 0..blocks {
        let mut block = [0u8; 8];
        let start = i * 8;
        let chunk = data.get(start..).unwrap_or(&[]);
        let take = chunk.len().min(8);
        block[..take].copy_from_slice(&chunk[..take]);
        if take < 8 {
            block[take] = 0x80;
        }
        crate::cipher::xor_into(&mut state, &block);
        state = if i + 1 == blocks {
            k.encrypt8(state)?
        } else {
            k1.encrypt8(state)?
        };
    }
    Ok(state)
}

/// Compute the 16-bit CVC3 value from an ICC CVC3 key (16 bytes, derived from
/// the issuer's CVC3 master key), the track data template, UN and ATC.
///
/// IVCVC3 = rightmost 2 bytes of the ISO 9797-1 MAC algorithm 3 (padding 2)
/// over the track data under the ICC key; CVC3 = rightmost 2 bytes of
/// TDES(ICC key, IVCVC3 ‖ UN ‖ ATC), as an unsigned number (0–65535).
/// This is the construction of pyemv `cvv.generate_cvc3` (Mastercard's own
/// specification is not public).
///
/// # Errors
/// Key errors for a key that is not a non-degenerate 16-byte TDES key.
pub fn cvc3_with_icc_key(
    icc_key: &[u8],
    track_data: &[u8],
    un: [u8; 4],
    atc: [u8; 2],
) -> Result<u16> {
    let (mut ka, mut kb) = split_double_key(icc_key)?;
    kb.zeroize();
    let k1 = BlockCipher::des(&ka);
    ka.zeroize();
    let k = BlockCipher::new(crate::cipher::Algorithm::Tdes2, icc_key)?;
    let mut mac = retail_mac_pad2(&k1, &k, track_data)?;
    let block = [mac[6], mac[7], un[0], un[1], un[2], un[3], atc[0], atc[1]];
    mac.zeroize();
    let mut out = k.encrypt8(block)?;
    let v = u16::from_be_bytes([out[6], out[7]]);
    out.zeroize();
    Ok(v)
}

/// Parse AWS `TrackData` (2..160 hex characters) into `buf`; an odd number of
/// characters is padded with a trailing `F` nibble (the track 2 template rule).
fn parse_track_data<'a>(s: &str, buf: &'a mut [u8; MAX_TRACK_BYTES]) -> Result<&'a [u8]> {
    let b = s.as_bytes();
    if b.len() < 2 || b.len() > 2 * MAX_TRACK_BYTES {
        return Err(Error::InvalidLength {
            field: "track_data",
            expected: "2 to 160 hex characters",
            actual: b.len(),
        });
    }
    for (i, &c) in b.iter().enumerate() {
        let v = hex_nibble(c).ok_or(Error::InvalidHex {
            field: "track_data",
            reason: crate::error::HexError::InvalidCharacter { position: i },
        })?;
        if let Some(byte) = buf.get_mut(i / 2) {
            *byte |= if i % 2 == 0 { v << 4 } else { v };
        }
    }
    let n = b.len().div_ceil(2);
    if b.len() % 2 == 1 {
        if let Some(byte) = buf.get_mut(n - 1) {
            *byte |= 0x0F;
        }
    }
    buf.get(..n).ok_or(Error::InvalidLength {
        field: "track_data",
        expected: "2 to 160 hex characters",
        actual: b.len(),
    })
}

fn cvc3_value(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    track_data: &str,
    unpredictable_number: &str,
    atc: &str,
) -> Result<u16> {
    check_pan(pan)?;
    check_digits("pan_sequence_number", pan_sequence_number, 2, 2, "2 digits")?;
    let un: [u8; 4] = hex_right_aligned(
        "unpredictable_number",
        unpredictable_number,
        2,
        "2 to 8 hex characters",
    )?;
    let atc: [u8; 2] = hex_right_aligned(
        "application_transaction_counter",
        atc,
        2,
        "2 to 4 hex characters",
    )?;
    let mut buf = [0u8; MAX_TRACK_BYTES];
    let track = parse_track_data(track_data, &mut buf)?;
    let icc = crate::emv::derive_icc_master_key_option_a(master_key, pan, pan_sequence_number)?;
    let v = cvc3_with_icc_key(icc.expose(), track, un, atc);
    buf.zeroize();
    v
}

/// The 5 decimal digits of a CVC3 value, zero-padded.
fn cvc3_digits(v: u16) -> [u8; 5] {
    let mut out = [b'0'; 5];
    let mut x = v;
    for o in out.iter_mut().rev() {
        *o = b'0' + (x % 10) as u8;
        x /= 10;
    }
    out
}

/// Generate a Mastercard CVC3 / dynamic CVC (AWS `DynamicCardVerificationCode`).
///
/// The ICC CVC3 key is derived from `master_key` (AWS `TR31_E4`, TDES_2KEY) by
/// EMV Book 2 A1.4.1 option A with the PAN and PAN sequence number; the CVC3 is
/// then [`cvc3_with_icc_key`] over the track data. The 16-bit result is written as
/// 5 decimal digits (zero-padded) and the rightmost `length` digits are returned.
///
/// * `track_data`: the track 1 or track 2 template as hex (2..160 characters;
///   track 1 is its ASCII bytes in hex; an odd length is padded with `F`).
/// * `unpredictable_number`: 2..8 hex characters, left-padded with zeros to 4 bytes.
/// * `atc`: 2..4 hex characters, left-padded with zeros to 2 bytes.
///
/// # Errors
/// [`Error::InvalidLength`], [`Error::InvalidInput`] or [`Error::InvalidHex`] for
/// malformed inputs; key errors for a bad master key.
pub fn cvc3(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    track_data: &str,
    unpredictable_number: &str,
    atc: &str,
    length: usize,
) -> Result<String> {
    check_length(length)?;
    let v = cvc3_value(
        master_key,
        pan,
        pan_sequence_number,
        track_data,
        unpredictable_number,
        atc,
    )?;
    let mut d = cvc3_digits(v);
    let s = digits_to_string(d.get(5 - length..).unwrap_or(&[]));
    d.zeroize();
    Ok(s)
}

/// Verify a Mastercard CVC3 (AWS `DynamicCardVerificationCode`): the rightmost
/// `value.len()` (3–5) digits of the CVC3 are compared in constant time.
///
/// # Errors
/// As [`cvc3`], and
/// `Error::VerificationFailed(VerificationFailure::InvalidValidationData)` on mismatch.
pub fn verify_cvc3(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    track_data: &str,
    unpredictable_number: &str,
    atc: &str,
    value: &str,
) -> Result<()> {
    check_value(value)?;
    let v = cvc3_value(
        master_key,
        pan,
        pan_sequence_number,
        track_data,
        unpredictable_number,
        atc,
    )?;
    let mut d = cvc3_digits(v);
    let ok = ct_eq(d.get(5 - value.len()..).unwrap_or(&[]), value.as_bytes());
    d.zeroize();
    if ok {
        Ok(())
    } else {
        Err(Error::VerificationFailed(
            VerificationFailure::InvalidValidationData,
        ))
    }
}

// ---------------------------------------------------------------------------
// Visa dynamic CVV (dCVV, contactless mag-stripe data)
// ---------------------------------------------------------------------------

/// The dCVV data block: the CVV data (PAN ‖ expiry ‖ service code, zero-padded
/// to 32 nibbles) with the first four PAN digits replaced by the 2-byte ATC as
/// four hexadecimal nibbles.
fn dcvv_block(
    icc_key: &CvvKey,
    pan: &str,
    expiry: &str,
    service_code: &str,
    atc: [u8; 2],
) -> Result<[u8; 8]> {
    check_pan(pan)?;
    check_expiry(expiry)?;
    check_service_code(service_code)?;
    let rest = pan.get(4..).ok_or(Error::InvalidLength {
        field: "pan",
        expected: "12 to 19 digits",
        actual: pan.len(),
    })?;
    let mut data = [0u8; 16];
    data[0] = atc[0];
    data[1] = atc[1];
    let n = pack_digits(&mut data, 4, rest);
    let n = pack_digits(&mut data, n, expiry);
    pack_digits(&mut data, n, service_code);
    cvv_encipher(icc_key, data)
}

fn dcvv_digits(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    expiry: &str,
    service_code: &str,
    atc: &str,
    out: &mut [u8],
) -> Result<()> {
    check_pan(pan)?;
    check_digits("pan_sequence_number", pan_sequence_number, 2, 2, "2 digits")?;
    let atc: [u8; 2] = hex_right_aligned(
        "application_transaction_counter",
        atc,
        2,
        "2 to 4 hex characters",
    )?;
    let icc = crate::emv::derive_icc_master_key_option_a(master_key, pan, pan_sequence_number)?;
    let icc_key = CvvKey::new(icc.expose())?;
    drop(icc);
    let mut block = dcvv_block(&icc_key, pan, expiry, service_code, atc)?;
    decimalize(&block, out);
    block.zeroize();
    Ok(())
}

/// Generate a Visa dynamic CVV (AWS `DynamicCardVerificationValue`; payShield
/// `PM` scheme 0 "Visa dCVV"), the value a contactless card puts in its
/// mag-stripe data in place of the CVV.
///
/// Algorithm (jPOS `JCESecurityModule.calculatedCVV`; the same construction in
/// Visa patent US 8387866 B2 and in the cross-checked tool captures of the
/// vector file):
/// 1. the card key is derived from `master_key` (AWS `TR31_E6`, TDES_2KEY) by
///    EMV Book 2 A1.4.1 option A with the PAN and PAN sequence number
///    (payShield and jPOS assume PSN `00`);
/// 2. the CVV algorithm ([`cvv`]) is run under the card key over
///    ATC ‖ PAN\[4..\] ‖ expiry ‖ service code, where the ATC (2..4 hex
///    characters, left-padded with zeros to 2 bytes) replaces the first four
///    PAN digits as four hexadecimal nibbles;
/// 3. the usual CVV decimalization gives the first `length` digits.
///
/// # Errors
/// [`Error::InvalidLength`], [`Error::InvalidInput`] or [`Error::InvalidHex`] for
/// malformed inputs (PAN 12–19 digits, PSN 2 digits, expiry 4 digits, service
/// code 3 digits, ATC 2–4 hex characters, `length` 3..=5); key errors for a bad
/// master key.
pub fn dcvv(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    expiry: &str,
    service_code: &str,
    atc: &str,
    length: usize,
) -> Result<String> {
    check_length(length)?;
    generate_digits(length, |out| {
        dcvv_digits(
            master_key,
            pan,
            pan_sequence_number,
            expiry,
            service_code,
            atc,
            out,
        )
    })
}

/// Verify a Visa dynamic CVV (AWS `DynamicCardVerificationValue`); the length of
/// `value` (3–5 digits) selects how many digits are compared, in constant time.
///
/// # Errors
/// As [`dcvv`], and
/// `Error::VerificationFailed(VerificationFailure::InvalidValidationData)` on mismatch.
pub fn verify_dcvv(
    master_key: &BlockCipher,
    pan: &str,
    pan_sequence_number: &str,
    expiry: &str,
    service_code: &str,
    atc: &str,
    value: &str,
) -> Result<()> {
    check_value(value)?;
    verify_digits(value, |expected| {
        dcvv_digits(
            master_key,
            pan,
            pan_sequence_number,
            expiry,
            service_code,
            atc,
            expected,
        )
    })
}

/// Run `fill` into a zeroized buffer of `length` digit characters and return them.
fn generate_digits(length: usize, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<String> {
    let mut buf = [0u8; MAX_VALIDATION_DATA_LENGTH];
    let result = match buf.get_mut(..length) {
        Some(out) => fill(out).map(|()| digits_to_string(out)),
        None => Err(Error::InvalidLength {
            field: "validation_data_length",
            expected: "3 to 5 digits",
            actual: length,
        }),
    };
    buf.zeroize();
    result
}

/// Compute the expected digits with `fill` (as many as `value` has) and compare
/// them with `value` in constant time.
fn verify_digits(value: &str, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<()> {
    let mut buf = [0u8; MAX_VALIDATION_DATA_LENGTH];
    let result = match buf.get_mut(..value.len()) {
        Some(expected) => fill(expected).map(|()| ct_eq(expected, value.as_bytes())),
        None => Err(Error::InvalidLength {
            field: "validation_data",
            expected: "3 to 5 digits",
            actual: value.len(),
        }),
    };
    buf.zeroize();
    match result? {
        true => Ok(()),
        false => Err(Error::VerificationFailed(
            VerificationFailure::InvalidValidationData,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::decode;

    #[test]
    fn cvv_psec_docstring() {
        let k = CvvKey::new(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        assert_eq!(
            cvv(&k, "1234567890123456", "9912", "220", 3).unwrap(),
            "170"
        );
        verify_cvv(&k, "1234567890123456", "9912", "220", "170").unwrap();
    }

    #[test]
    fn decimalize_second_pass() {
        // REFERENCE §5.2: block FFB6B5AABBEEFBED: first pass finds 6, 5;
        // second pass maps the leading F to 5: "655".
        let mut out = [0u8; 3];
        decimalize(&[0xFF, 0xB6, 0xB5, 0xAA, 0xBB, 0xEE, 0xFB, 0xED], &mut out);
        assert_eq!(&out, b"655");
    }

    #[test]
    fn hex_right_aligned_pads() {
        let un: [u8; 4] = hex_right_aligned("un", "899", 2, "x").unwrap();
        assert_eq!(un, [0, 0, 0x08, 0x99]);
        assert!(hex_right_aligned::<4>("un", "123456789", 2, "x").is_err());
        assert!(hex_right_aligned::<4>("un", "1", 2, "x").is_err());
        assert!(hex_right_aligned::<4>("un", "12G4", 2, "x").is_err());
    }

    #[test]
    fn cvc3_pyemv_docstring() {
        let mk =
            BlockCipher::tdes(&decode("k", "01234567899876543210012345678998").unwrap()).unwrap();
        let v = cvc3(
            &mk,
            "5123456789012345",
            "00",
            "5123456789012345D35121010000000000000F",
            "00000899",
            "005E",
            5,
        )
        .unwrap();
        assert_eq!(v, "29488");
    }
}
