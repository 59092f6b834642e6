//! ISO 9564-1 PIN blocks (formats 0–4) and the IBM 3624 PIN-pad format:
//! encoding, decoding, encipherment and translation under the PCI PIN 3-3 rules.
//!
//! # Formats
//!
//! | Format | Layout (nibbles) | PAN bound | Key |
//! |---|---|---|---|
//! | ISO 0 | `0 L P…P F…F` ⊕ `0000 ‖ 12 PAN digits` | yes | TDES |
//! | ISO 1 | `1 L P…P X…X` (X = transaction field, any nibble) | no | TDES |
//! | ISO 2 | `2 L P…P F…F` (ICC only) | no | TDES |
//! | ISO 3 | `3 L P…P R…R` (R random `A`–`F`) ⊕ PAN field as ISO 0 | yes | TDES |
//! | ISO 4 | PIN field `4 L P…P A…A ‖ 8 random bytes`, PAN field `M ‖ PAN ‖ 0…0`, `C = E(E(PIN field) ⊕ PAN field)` | yes | AES |
//! | IBM 3624 | `P…P X…X` (X = the pad character) | no | TDES |
//!
//! `L` is the PIN length (4–12). The ISO 0/3 PAN field holds the 12 rightmost
//! PAN digits excluding the check digit. ISO 9564-1 says that a shorter PAN is
//! right-justified and left-padded with zeros. This module accepts every
//! [`Pan`] (12–19 digits). For a 12-digit PAN, the 11 digits before the check
//! digit are padded with one zero. psec requires at least 13 digits; AWS
//! accepts 12–19-digit PANs. The 12-digit case is tested against a vector
//! computed by hand.
//!
//! # Format 4 PAN field
//!
//! ISO 9564-1:2017 uses the full PAN: `M` = PAN length − 12, then the PAN
//! left-justified and padded with `0` to 32 nibbles
//! ([`Format4PanField::Iso9564_2017`], the default, which is what the AWS
//! samples, psec and the ANSI X9.24-3 example use). The AWS TranslatePinData
//! documentation also mentions a "legacy PAN length" for format 4: the 12
//! rightmost digits excluding the check digit. [`Format4PanField::Legacy12`]
//! reads this as `M = 0` followed by those 12 digits, padded with `0`. The
//! reading is selected in [`PinBlockFormat::Iso4`].
//!
//! # Validation and errors
//!
//! The clear-block functions ([`encode_clear`], [`decode_clear`]) report the
//! exact problem ([`PinBlockError::ControlField`], [`PinBlockError::PinLength`],
//! …). They are for offline tools and tests. The functions that decrypt
//! ([`decrypt_pin_block`], [`translate`]) report every malformed decrypted
//! block as the single [`PinBlockError::InvalidPinBlock`], whether the fault
//! is the control field, the length, the fill or a PAN that does not match
//! the block. A caller therefore cannot use the error kind as an oracle on
//! the clear block. Key and format mismatches (for example a TDES key with
//! format 4) are reported as [`crate::error::KeyError::WrongAlgorithm`]. AES
//! keys serve only format 4, as in AWS. TDES keys (2- or 3-key) serve the
//! 8-byte formats. Single DES is refused (PCI PIN 2-3).
//!
//! # Translation
//!
//! [`translation_allowed`] is the PCI PIN 3-3 matrix (see its documentation).
//! [`translate`] applies it and checks that the input and output PANs are
//! equal when both formats bind a PAN. The clear PIN exists only in fixed
//! stack arrays inside the call, and they are zeroized before it returns.

use core::fmt;

use zeroize::Zeroize;

use crate::card::Pan;
use crate::cipher::{Algorithm, BlockCipher};
use crate::error::{Error, KeyError, Result};
use crate::random;
use crate::secret::{Pin, SecretBytes};

/// Why a PIN block was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinBlockError {
    /// The control field (first nibble) is not that of the expected format.
    ControlField,
    /// The PIN length field is outside 4–12 (or, for IBM 3624, the PIN is not 4–12 digits).
    PinLength,
    /// A PIN digit nibble is not a decimal digit.
    PinDigit,
    /// The fill nibbles do not follow the format's rule (`F` for formats 0
    /// and 2, `A`–`F` for format 3, `A` for format 4, the pad character for
    /// IBM 3624).
    Fill,
    /// A decrypted PIN block is malformed or bound to another PAN. This is the
    /// uniform error of every decrypting function: it does not say which check failed.
    InvalidPinBlock,
    /// The format binds a PAN, and none was given.
    PanRequired,
    /// The input and output PANs of a translation between PAN-bearing formats differ (PCI PIN 3-3).
    PanMismatch,
    /// The translation between these formats is forbidden (PCI PIN 3-3).
    TranslationNotAllowed {
        /// Input format.
        from: PinBlockFormat,
        /// Output format.
        to: PinBlockFormat,
    },
    /// Explicit fill has the wrong length or a value that the format does not allow.
    InvalidFill,
    /// The IBM 3624 pad character must be a hexadecimal `A`–`F` (a decimal pad would make the PIN length ambiguous).
    PadCharacter,
}

impl fmt::Display for PinBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlField => f.write_str("control field does not match the PIN block format"),
            Self::PinLength => f.write_str("PIN length must be 4 to 12 digits"),
            Self::PinDigit => f.write_str("PIN digit is not decimal"),
            Self::Fill => f.write_str("fill digits do not match the PIN block format"),
            Self::InvalidPinBlock => f.write_str("invalid PIN block"),
            Self::PanRequired => f.write_str("this PIN block format requires a PAN"),
            Self::PanMismatch => {
                f.write_str("input and output PAN must be equal for PAN-bound formats")
            }
            Self::TranslationNotAllowed { from, to } => {
                write!(
                    f,
                    "translation from {from} to {to} is not allowed (PCI PIN 3-3)"
                )
            }
            Self::InvalidFill => f.write_str("explicit fill has an invalid length or value"),
            Self::PadCharacter => f.write_str("IBM 3624 pad character must be A to F"),
        }
    }
}

/// How the ISO 9564 format 4 plain-text PAN field is built (see the module documentation).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format4PanField {
    /// ISO 9564-1:2017: `M = len − 12`, the full PAN, padded with `0`. The default.
    #[default]
    Iso9564_2017,
    /// AWS "legacy PAN length": `M = 0` and the 12 rightmost PAN digits excluding the check digit.
    Legacy12,
}

/// A PIN block format.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinBlockFormat {
    /// ISO 9564-1 format 0 (ANSI X9.8): PIN xor PAN, fill `F`.
    Iso0,
    /// ISO 9564-1 format 1: PIN with a transaction (random) fill, no PAN.
    Iso1,
    /// ISO 9564-1 format 2: PIN with fill `F`, no PAN; for ICC (offline PIN) only.
    Iso2,
    /// ISO 9564-1 format 3: as format 0 with a random fill `A`–`F`.
    Iso3,
    /// ISO 9564-1 format 4: the 16-byte AES PIN block.
    Iso4 {
        /// How the PAN field is built.
        pan_field: Format4PanField,
    },
    /// IBM 3624 PIN-pad format: the PIN padded with `pad` (`A`–`F`) to 16 nibbles, no control field.
    Ibm3624 {
        /// Pad character nibble value, `0xA`–`0xF`.
        pad: u8,
    },
}

impl PinBlockFormat {
    /// ISO format 4 with the ISO 9564-1:2017 full-PAN field.
    pub const ISO4: Self = Self::Iso4 {
        pan_field: Format4PanField::Iso9564_2017,
    };
    /// IBM 3624 with pad character `F`.
    pub const IBM3624_F: Self = Self::Ibm3624 { pad: 0xF };

    /// Whether the format binds the PAN (ISO 0, 3, 4).
    pub fn binds_pan(self) -> bool {
        matches!(self, Self::Iso0 | Self::Iso3 | Self::Iso4 { .. })
    }

    /// Block length in bytes: 16 for ISO 4, 8 otherwise.
    pub fn block_len(self) -> usize {
        match self {
            Self::Iso4 { .. } => 16,
            _ => 8,
        }
    }

    fn control(self) -> Option<u8> {
        match self {
            Self::Iso0 => Some(0),
            Self::Iso1 => Some(1),
            Self::Iso2 => Some(2),
            Self::Iso3 => Some(3),
            Self::Iso4 { .. } => Some(4),
            Self::Ibm3624 { .. } => None,
        }
    }
}

impl fmt::Display for PinBlockFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Iso0 => f.write_str("ISO format 0"),
            Self::Iso1 => f.write_str("ISO format 1"),
            Self::Iso2 => f.write_str("ISO format 2"),
            Self::Iso3 => f.write_str("ISO format 3"),
            Self::Iso4 {
                pan_field: Format4PanField::Iso9564_2017,
            } => f.write_str("ISO format 4"),
            Self::Iso4 {
                pan_field: Format4PanField::Legacy12,
            } => f.write_str("ISO format 4 (legacy 12-digit PAN field)"),
            Self::Ibm3624 { pad } => write!(f, "IBM 3624 (pad {pad:X})"),
        }
    }
}

/// The PCI PIN 3-3 translation matrix (PCI PIN Security Requirements v3.1; IBM CCA
/// "ANSI X9.8 PIN – Enforce PIN block restrictions" as the public model).
///
/// | from \ to | 0 | 1 | 2 | 3 | 4 | 3624 |
/// |---|---|---|---|---|---|---|
/// | 0, 3, 4 | ✔ | ✘ | ✘ | ✔ | ✔ | ✘ |
/// | 1 | ✔ | ✔ | ✘ | ✔ | ✔ | ✘ |
/// | 2 | ✘ | ✘ | ✘ | ✘ | ✘ | ✘ |
/// | 3624 | ✔ | ✘ | ✘ | ✔ | ✔ | ✔ |
///
/// These are the choices made here:
/// - A PAN-bound block (0, 3, 4) never goes to a format without a PAN. This
///   closes the format-1 attack that exposes the clear PIN.
/// - Format 1 may go to 0, 3 and 4. It may also go to 1 again, which is a key
///   change only, since a format-1 block has no PAN binding to lose.
/// - Format 2 is only for the PIN pad ↔ ICC interface (PCI PIN 3-2). A host
///   never translates from it or to it.
/// - IBM 3624 output is produced only from IBM 3624 input (IBM CCA). A 3624
///   block, which has no PAN binding, may be moved into a PAN-bound ISO format.
///
/// This function does not check the PAN-equality rule; [`translate`] does.
///
/// # Errors
/// [`PinBlockError::TranslationNotAllowed`].
pub fn translation_allowed(from: PinBlockFormat, to: PinBlockFormat) -> Result<()> {
    use PinBlockFormat::{Ibm3624, Iso0, Iso1, Iso2, Iso3, Iso4};
    let ok = match (from, to) {
        (Iso2, _) | (_, Iso2) => false,
        (Ibm3624 { .. }, Ibm3624 { .. }) => true,
        (_, Ibm3624 { .. }) => false,
        (Iso0 | Iso3 | Iso4 { .. }, Iso1) => false,
        (Ibm3624 { .. }, Iso1) => false,
        (Iso1, Iso1) => true,
        (_, Iso0 | Iso3 | Iso4 { .. }) => true,
    };
    if ok {
        Ok(())
    } else {
        Err(PinBlockError::TranslationNotAllowed { from, to }.into())
    }
}

/// PIN digits in a fixed array, zeroized on drop.
struct Digits {
    d: [u8; 12],
    len: usize,
}

impl Drop for Digits {
    fn drop(&mut self) {
        self.d.zeroize();
    }
}

impl Digits {
    fn from_pin(pin: &Pin) -> Result<Self> {
        let src = pin.digits();
        let mut d = [0u8; 12];
        let n = src.len();
        if !(4..=12).contains(&n) {
            return Err(PinBlockError::PinLength.into());
        }
        for (o, &s) in d.iter_mut().zip(src) {
            *o = s;
        }
        Ok(Self { d, len: n })
    }

    fn as_slice(&self) -> &[u8] {
        self.d.get(..self.len).unwrap_or(&[])
    }

    fn to_pin(&self) -> Result<Pin> {
        Pin::from_digits(self.as_slice().to_vec())
    }
}

/// Where fill nibbles/bytes come from.
#[derive(Clone, Copy)]
enum FillSource<'a> {
    Random,
    Given(&'a [u8]),
}

fn is_tdes(a: Algorithm) -> bool {
    matches!(a, Algorithm::Tdes2 | Algorithm::Tdes3)
}

fn is_aes(a: Algorithm) -> bool {
    matches!(a, Algorithm::Aes128 | Algorithm::Aes192 | Algorithm::Aes256)
}

fn check_key(cipher: &BlockCipher, format: PinBlockFormat) -> Result<()> {
    let a = cipher.algorithm();
    match format {
        PinBlockFormat::Iso4 { .. } if !is_aes(a) => Err(KeyError::WrongAlgorithm {
            expected: "AES (ISO 9564 format 4)",
        }
        .into()),
        PinBlockFormat::Iso4 { .. } => Ok(()),
        _ if !is_tdes(a) => Err(KeyError::WrongAlgorithm {
            expected: "TDES (PIN block formats 0 to 3 and IBM 3624)",
        }
        .into()),
        _ => Ok(()),
    }
}

fn check_pad(format: PinBlockFormat) -> Result<()> {
    match format {
        PinBlockFormat::Ibm3624 { pad } if !(0xA..=0xF).contains(&pad) => {
            Err(PinBlockError::PadCharacter.into())
        }
        _ => Ok(()),
    }
}

fn pan_digits(pan: &Pan) -> impl DoubleEndedIterator<Item = u8> + ExactSizeIterator + '_ {
    pan.as_str().bytes().map(|b| b.wrapping_sub(b'0') & 0x0F)
}

/// The 12 rightmost PAN digits excluding the check digit, left-padded with
/// zeros when the PAN is shorter than 13 digits (ISO 9564-1).
fn pan12(pan: &Pan) -> [u8; 12] {
    let mut out = [0u8; 12];
    // All digits but the check digit, rightmost 12, right-justified.
    let n = pan.as_str().len();
    for (o, d) in out
        .iter_mut()
        .rev()
        .zip(pan_digits(pan).rev().skip(1).take(n.saturating_sub(1)))
    {
        *o = d;
    }
    out
}

/// The ISO 9564 format 0/3 PAN field: `0000` followed by the 12 rightmost PAN
/// digits excluding the check digit (zero-padded on the left for a 12-digit PAN).
pub fn iso0_pan_field(pan: &Pan) -> [u8; 8] {
    let mut nib = [0u8; 16];
    for (o, d) in nib.iter_mut().skip(4).zip(pan12(pan)) {
        *o = d;
    }
    pack8(&nib)
}

/// The ISO 9564 format 4 plain-text PAN field.
///
/// With [`Format4PanField::Iso9564_2017`] it is `M` (PAN length − 12), then
/// the PAN, padded with `0` to 32 nibbles. With [`Format4PanField::Legacy12`]
/// it is `0`, then the 12 rightmost digits excluding the check digit, padded
/// with `0`.
pub fn iso4_pan_field(pan: &Pan, reading: Format4PanField) -> [u8; 16] {
    let mut nib = [0u8; 32];
    match reading {
        Format4PanField::Iso9564_2017 => {
            let n = pan.as_str().len();
            if let Some(m) = nib.first_mut() {
                *m = u8::try_from(n.saturating_sub(12)).unwrap_or(0) & 0x0F;
            }
            for (o, d) in nib.iter_mut().skip(1).zip(pan_digits(pan)) {
                *o = d;
            }
        }
        Format4PanField::Legacy12 => {
            for (o, d) in nib.iter_mut().skip(1).zip(pan12(pan)) {
                *o = d;
            }
        }
    }
    pack16(&nib)
}

fn pack8(nib: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, pair) in out.iter_mut().zip(nib.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hi << 4) | (lo & 0x0F);
        }
    }
    out
}

fn pack16(nib: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(nib.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *o = (hi << 4) | (lo & 0x0F);
        }
    }
    out
}

fn unpack8(b: &[u8; 8]) -> [u8; 16] {
    let mut nib = [0u8; 16];
    for (pair, byte) in nib.chunks_exact_mut(2).zip(b) {
        if let [hi, lo] = pair {
            *hi = byte >> 4;
            *lo = byte & 0x0F;
        }
    }
    nib
}

fn xor8(a: &mut [u8; 8], b: &[u8; 8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Uniform random values from one buffer of OS randomness (one system call per block).
struct RandomPool {
    buf: [u8; 16],
    pos: usize,
}

impl Drop for RandomPool {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl RandomPool {
    fn new() -> Self {
        Self {
            buf: [0u8; 16],
            pos: 16,
        }
    }

    /// A uniform value in `lo..=hi` (rejection sampling on bytes).
    fn in_range(&mut self, lo: u8, hi: u8) -> Result<u8> {
        let span = u16::from(hi.saturating_sub(lo)) + 1;
        let limit = 256 - 256 % span;
        loop {
            if self.pos >= self.buf.len() {
                random::fill(&mut self.buf)?;
                self.pos = 0;
            }
            let b = u16::from(self.buf.get(self.pos).copied().unwrap_or(0));
            self.pos += 1;
            if b < limit {
                return Ok(lo + u8::try_from(b % span).unwrap_or(0));
            }
        }
    }
}

fn next_fill(src: FillSource<'_>, pool: &mut RandomPool, i: usize, lo: u8, hi: u8) -> Result<u8> {
    match src {
        FillSource::Random => pool.in_range(lo, hi),
        FillSource::Given(g) => match g.get(i) {
            Some(&v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(PinBlockError::InvalidFill.into()),
        },
    }
}

/// Build the 8-byte plain-text PIN field of an 8-byte format (before the PAN xor).
fn build8(format: PinBlockFormat, pin: &Digits, fill: FillSource<'_>) -> Result<[u8; 8]> {
    let n = pin.len;
    let mut nib = [0u8; 16];
    let (start, fill_lo, fill_hi, given_len) = match format {
        PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => (2, 0xF, 0xF, 0),
        PinBlockFormat::Iso1 => (2, 0x0, 0xF, 14 - n),
        PinBlockFormat::Iso3 => (2, 0xA, 0xF, 14 - n),
        PinBlockFormat::Ibm3624 { pad } => (0, pad, pad, 0),
        PinBlockFormat::Iso4 { .. } => {
            return Err(Error::Unsupported {
                what: "ISO format 4 is a 16-byte block",
            })
        }
    };
    if let FillSource::Given(g) = fill {
        if g.len() != given_len {
            return Err(PinBlockError::InvalidFill.into());
        }
    }
    if let (Some(c), Some(slot)) = (format.control(), nib.first_mut()) {
        *slot = c;
    }
    if let Some(slot) = nib.get_mut(1).filter(|_| start == 2) {
        *slot = u8::try_from(n).unwrap_or(0);
    }
    for (o, &d) in nib.iter_mut().skip(start).zip(pin.as_slice()) {
        *o = d;
    }
    let mut pool = RandomPool::new();
    for (i, o) in nib.iter_mut().skip(start + n).enumerate() {
        *o = if given_len == 0 {
            fill_lo
        } else {
            match next_fill(fill, &mut pool, i, fill_lo, fill_hi) {
                Ok(v) => v,
                Err(e) => {
                    nib.zeroize();
                    return Err(e);
                }
            }
        };
    }
    let out = pack8(&nib);
    nib.zeroize();
    Ok(out)
}

/// Build the 16-byte ISO 4 plain-text PIN field.
fn build_iso4_pin_field(pin: &Digits, fill: FillSource<'_>) -> Result<[u8; 16]> {
    let mut nib = [0xAu8; 16];
    if let Some(c) = nib.first_mut() {
        *c = 4;
    }
    if let Some(l) = nib.get_mut(1) {
        *l = u8::try_from(pin.len).unwrap_or(0);
    }
    for (o, &d) in nib.iter_mut().skip(2).zip(pin.as_slice()) {
        *o = d;
    }
    let mut out = [0u8; 16];
    let head = pack8(&nib);
    nib.zeroize();
    let mut tail = [0u8; 8];
    match fill {
        FillSource::Random => random::fill(&mut tail)?,
        FillSource::Given(g) => {
            if g.len() != 8 {
                return Err(PinBlockError::InvalidFill.into());
            }
            tail.copy_from_slice(g);
        }
    }
    for (o, b) in out.iter_mut().zip(head.iter().chain(&tail)) {
        *o = *b;
    }
    Ok(out)
}

/// Parse 16 plain nibbles (PAN already removed) of an 8-byte format, or the
/// first 8 bytes of an ISO 4 PIN field. All checks are evaluated without
/// early exit; the first failed check (in the order control, length, digits,
/// fill) decides the error.
fn parse_nibbles(format: PinBlockFormat, nib: &[u8; 16]) -> Result<Digits, PinBlockError> {
    let mut d = [0u8; 12];
    let (control_ok, len, start, fill_lo, fill_hi) = match format {
        PinBlockFormat::Ibm3624 { pad } => {
            if !(0xA..=0xF).contains(&pad) {
                return Err(PinBlockError::PadCharacter);
            }
            // Length = number of leading decimal nibbles.
            let mut len = 0usize;
            let mut seen_non_digit = false;
            for &x in nib {
                seen_non_digit |= x > 9;
                len += usize::from(!seen_non_digit);
            }
            (true, len, 0usize, pad, pad)
        }
        _ => {
            let control = format.control().unwrap_or(0xFF);
            let c = nib.first().copied().unwrap_or(0xFF);
            let l = usize::from(nib.get(1).copied().unwrap_or(0));
            let (lo, hi) = match format {
                PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => (0xF, 0xF),
                PinBlockFormat::Iso1 => (0x0, 0xF),
                PinBlockFormat::Iso3 => (0xA, 0xF),
                _ => (0xA, 0xA),
            };
            (c == control, l, 2usize, lo, hi)
        }
    };
    let len_ok = (4..=12).contains(&len);
    let eff_len = if len_ok { len } else { 12 };
    let mut digits_ok = true;
    let mut fill_ok = true;
    for (i, &x) in nib.iter().enumerate().skip(start) {
        let is_pin = i < start + eff_len;
        if is_pin {
            digits_ok &= x <= 9;
            if let Some(slot) = d.get_mut(i - start) {
                *slot = x;
            }
        } else {
            fill_ok &= (fill_lo..=fill_hi).contains(&x);
        }
    }
    let result = if !control_ok {
        Err(PinBlockError::ControlField)
    } else if !len_ok {
        Err(PinBlockError::PinLength)
    } else if !digits_ok {
        Err(PinBlockError::PinDigit)
    } else if !fill_ok {
        Err(PinBlockError::Fill)
    } else {
        return Ok(Digits { d, len });
    };
    d.zeroize();
    result
}

fn require_pan(format: PinBlockFormat, pan: Option<&Pan>) -> Result<Option<&Pan>> {
    if format.binds_pan() {
        pan.map(Some).ok_or(PinBlockError::PanRequired.into())
    } else {
        Ok(None)
    }
}

/// In clear form only ISO 0 and 3 use the PAN (the ISO 4 PAN field is applied at encipherment).
fn require_clear_pan(format: PinBlockFormat, pan: Option<&Pan>) -> Result<Option<&Pan>> {
    match format {
        PinBlockFormat::Iso4 { .. } => Ok(None),
        _ => require_pan(format, pan),
    }
}

/// Encode the clear form of a PIN block.
///
/// - 8-byte formats: the clear PIN block (already xored with the PAN field for ISO 0 and 3).
/// - ISO format 4: the 16-byte plain-text PIN field (the PAN is bound only at
///   encipherment, see [`encrypt_pin_block`]; `pan` is not used).
///
/// Random fill (formats 1, 3, 4) comes from the operating system.
///
/// # Errors
/// [`PinBlockError::PanRequired`] (ISO 0/3 without a PAN), [`PinBlockError::PadCharacter`],
/// [`Error::Crypto`] if the random generator fails.
pub fn encode_clear(format: PinBlockFormat, pin: &Pin, pan: Option<&Pan>) -> Result<SecretBytes> {
    encode_clear_inner(format, pin, pan, FillSource::Random)
}

/// As [`encode_clear`], with the fill given explicitly (for deterministic tests and
/// differential cases):
/// - ISO 1: exactly `14 − PIN length` nibble values `0x0`–`0xF`.
/// - ISO 3: exactly `14 − PIN length` nibble values `0xA`–`0xF`.
/// - ISO 4: exactly 8 bytes, the random part of the PIN field.
/// - ISO 0, ISO 2, IBM 3624: an empty slice (the fill is fixed).
///
/// # Errors
/// As [`encode_clear`], plus [`PinBlockError::InvalidFill`].
pub fn encode_clear_with_fill(
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: &[u8],
) -> Result<SecretBytes> {
    encode_clear_inner(format, pin, pan, FillSource::Given(fill))
}

fn encode_clear_inner(
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: FillSource<'_>,
) -> Result<SecretBytes> {
    check_pad(format)?;
    let pan = require_clear_pan(format, pan)?;
    let digits = Digits::from_pin(pin)?;
    if let PinBlockFormat::Iso4 { .. } = format {
        if let FillSource::Given(g) = fill {
            if g.len() != 8 {
                return Err(PinBlockError::InvalidFill.into());
            }
        }
        let mut f = build_iso4_pin_field(&digits, fill)?;
        let out = SecretBytes::from_slice(&f);
        f.zeroize();
        return Ok(out);
    }
    let mut b = build8(format, &digits, fill)?;
    if let Some(pan) = pan {
        xor8(&mut b, &iso0_pan_field(pan));
    }
    let out = SecretBytes::from_slice(&b);
    b.zeroize();
    Ok(out)
}

/// Decode a clear PIN block (or, for ISO format 4, a plain-text PIN field) and
/// return the PIN, with a precise error for each validation.
///
/// # Errors
/// [`Error::InvalidLength`] (8 bytes, or 16 for ISO 4); [`PinBlockError::PanRequired`];
/// [`PinBlockError::ControlField`], [`PinBlockError::PinLength`],
/// [`PinBlockError::PinDigit`], [`PinBlockError::Fill`] (a wrong PAN on ISO 0/3
/// shows up as one of these); [`PinBlockError::PadCharacter`].
pub fn decode_clear(format: PinBlockFormat, block: &[u8], pan: Option<&Pan>) -> Result<Pin> {
    let digits = decode_clear_digits(format, block, pan)?;
    digits.to_pin()
}

fn decode_clear_digits(format: PinBlockFormat, block: &[u8], pan: Option<&Pan>) -> Result<Digits> {
    let pan = require_clear_pan(format, pan)?;
    let want = format.block_len();
    if block.len() != want {
        return Err(Error::InvalidLength {
            field: "pin_block",
            expected: if want == 16 { "16 bytes" } else { "8 bytes" },
            actual: block.len(),
        });
    }
    let mut b = [0u8; 8];
    for (o, i) in b.iter_mut().zip(block) {
        *o = *i;
    }
    if let Some(pan) = pan {
        xor8(&mut b, &iso0_pan_field(pan));
    }
    let mut nib = unpack8(&b);
    b.zeroize();
    let r = parse_nibbles(format, &nib);
    nib.zeroize();
    Ok(r?)
}

/// Encrypt a PIN into a PIN block of `format` under `cipher`, with random fill.
///
/// For ISO 0–3 and IBM 3624 the result is `E(clear block)` (8 bytes, TDES). For
/// ISO 4 it is `E(E(PIN field) ⊕ PAN field)` (16 bytes, AES).
///
/// # Errors
/// [`KeyError::WrongAlgorithm`] (AES key with an 8-byte format, TDES or DES key
/// with ISO 4); otherwise as [`encode_clear`].
pub fn encrypt_pin_block(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
) -> Result<Vec<u8>> {
    let digits = Digits::from_pin(pin)?;
    let mut out = [0u8; 16];
    let n = encrypt_digits(cipher, format, &digits, pan, FillSource::Random, &mut out)?;
    Ok(out.get(..n).unwrap_or(&[]).to_vec())
}

/// As [`encrypt_pin_block`] with explicit fill (see [`encode_clear_with_fill`]).
///
/// # Errors
/// As [`encrypt_pin_block`], plus [`PinBlockError::InvalidFill`].
pub fn encrypt_pin_block_with_fill(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: &[u8],
) -> Result<Vec<u8>> {
    let digits = Digits::from_pin(pin)?;
    let mut out = [0u8; 16];
    let n = encrypt_digits(
        cipher,
        format,
        &digits,
        pan,
        FillSource::Given(fill),
        &mut out,
    )?;
    Ok(out.get(..n).unwrap_or(&[]).to_vec())
}

fn encrypt_digits(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    digits: &Digits,
    pan: Option<&Pan>,
    fill: FillSource<'_>,
    out: &mut [u8; 16],
) -> Result<usize> {
    check_key(cipher, format)?;
    check_pad(format)?;
    let pan = require_pan(format, pan)?;
    if let PinBlockFormat::Iso4 { pan_field } = format {
        let pan = pan.ok_or(PinBlockError::PanRequired)?;
        let mut f = build_iso4_pin_field(digits, fill)?;
        cipher.encrypt_block(&mut f)?;
        xor16(&mut f, &iso4_pan_field(pan, pan_field));
        cipher.encrypt_block(&mut f)?;
        *out = f;
        return Ok(16);
    }
    let mut b = build8(format, digits, fill)?;
    if let Some(pan) = pan {
        xor8(&mut b, &iso0_pan_field(pan));
    }
    let r = cipher.encrypt_block(&mut b);
    if let Err(e) = r {
        b.zeroize();
        return Err(e);
    }
    for (o, i) in out.iter_mut().zip(&b) {
        *o = *i;
    }
    Ok(8)
}

fn decrypt_digits(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    block: &[u8],
    pan: Option<&Pan>,
) -> Result<Digits> {
    check_key(cipher, format)?;
    check_pad(format)?;
    let pan = require_pan(format, pan)?;
    let want = format.block_len();
    if block.len() != want {
        return Err(Error::InvalidLength {
            field: "pin_block",
            expected: if want == 16 { "16 bytes" } else { "8 bytes" },
            actual: block.len(),
        });
    }
    let mut head = [0u8; 8];
    if let PinBlockFormat::Iso4 { pan_field } = format {
        let pan = pan.ok_or(PinBlockError::PanRequired)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(block);
        cipher.decrypt_block(&mut b)?;
        xor16(&mut b, &iso4_pan_field(pan, pan_field));
        cipher.decrypt_block(&mut b)?;
        for (o, i) in head.iter_mut().zip(&b) {
            *o = *i;
        }
        b.zeroize();
    } else {
        head.copy_from_slice(block);
        cipher.decrypt_block(&mut head)?;
        if let Some(pan) = pan {
            xor8(&mut head, &iso0_pan_field(pan));
        }
    }
    let mut nib = unpack8(&head);
    head.zeroize();
    let r = parse_nibbles(format, &nib);
    nib.zeroize();
    r.map_err(|_| PinBlockError::InvalidPinBlock.into())
}

/// Decrypt a PIN block of `format` under `cipher` and return the PIN.
///
/// `pan` is required for ISO 0, 3 and 4 and ignored otherwise.
///
/// # Errors
/// [`KeyError::WrongAlgorithm`], [`Error::InvalidLength`], [`PinBlockError::PanRequired`];
/// [`PinBlockError::InvalidPinBlock`] for every malformed decrypted block,
/// including one that is bound to another PAN or was encrypted under another key.
pub fn decrypt_pin_block(
    cipher: &BlockCipher,
    format: PinBlockFormat,
    block: &[u8],
    pan: Option<&Pan>,
) -> Result<Pin> {
    decrypt_digits(cipher, format, block, pan)?.to_pin()
}

/// Translate an encrypted PIN block from one key and format to another: decrypt,
/// validate, re-encode with fresh random fill, encrypt.
///
/// The rules:
/// - PCI PIN 3-3 through [`translation_allowed`].
/// - When both formats bind a PAN, `in_pan` must equal `out_pan`. The input
///   block's PAN binding is checked by decoding it with `in_pan`.
/// - The key algorithm must match each format (AES only for ISO 4).
///
/// The clear PIN stays in fixed arrays that are zeroized before return.
///
/// # Errors
/// [`PinBlockError::TranslationNotAllowed`], [`PinBlockError::PanMismatch`],
/// [`PinBlockError::PanRequired`], [`KeyError::WrongAlgorithm`], [`Error::InvalidLength`],
/// [`PinBlockError::InvalidPinBlock`].
pub fn translate(
    in_cipher: &BlockCipher,
    in_format: PinBlockFormat,
    block: &[u8],
    in_pan: Option<&Pan>,
    out_cipher: &BlockCipher,
    out_format: PinBlockFormat,
    out_pan: Option<&Pan>,
) -> Result<Vec<u8>> {
    let mut out = [0u8; 16];
    let n = translate_into(
        in_cipher, in_format, block, in_pan, out_cipher, out_format, out_pan, &mut out,
    )?;
    Ok(out.get(..n).unwrap_or(&[]).to_vec())
}

/// As [`translate`], writing the output block into `out` without allocating;
/// returns the number of bytes written (8 or 16).
///
/// # Errors
/// As [`translate`].
#[allow(clippy::too_many_arguments)]
pub fn translate_into(
    in_cipher: &BlockCipher,
    in_format: PinBlockFormat,
    block: &[u8],
    in_pan: Option<&Pan>,
    out_cipher: &BlockCipher,
    out_format: PinBlockFormat,
    out_pan: Option<&Pan>,
    out: &mut [u8; 16],
) -> Result<usize> {
    translation_allowed(in_format, out_format)?;
    let in_pan = require_pan(in_format, in_pan)?;
    let out_pan = require_pan(out_format, out_pan)?;
    if let (Some(a), Some(b)) = (in_pan, out_pan) {
        if a.as_str() != b.as_str() {
            return Err(PinBlockError::PanMismatch.into());
        }
    }
    check_key(out_cipher, out_format)?;
    check_pad(out_format)?;
    let digits = decrypt_digits(in_cipher, in_format, block, in_pan)?;
    encrypt_digits(
        out_cipher,
        out_format,
        &digits,
        out_pan,
        FillSource::Random,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    fn pan(s: &str) -> Pan {
        Pan::new(s).unwrap()
    }

    #[test]
    fn seed_example() {
        let p = Pin::new("1234").unwrap();
        let b = encode_clear(PinBlockFormat::Iso0, &p, Some(&pan("4111111111111111"))).unwrap();
        assert_eq!(encode(b.expose()), "041225EEEEEEEEEE");
    }

    #[test]
    fn twelve_digit_pan_is_left_padded() {
        // PAN 123456789012: digits before the check digit "12345678901" → "012345678901".
        assert_eq!(
            encode(&iso0_pan_field(&pan("123456789012"))),
            "0000012345678901"
        );
        assert_eq!(
            encode(&iso0_pan_field(&pan("4111111111111111"))),
            "0000111111111111"
        );
    }

    #[test]
    fn iso4_fields() {
        assert_eq!(
            encode(&iso4_pan_field(
                &pan("4111111111111111"),
                Format4PanField::Iso9564_2017
            )),
            "44111111111111111000000000000000"
        );
        assert_eq!(
            encode(&iso4_pan_field(
                &pan("4111111111111111"),
                Format4PanField::Legacy12
            )),
            "01111111111110000000000000000000"
        );
    }

    #[test]
    fn random_iso3_fill_covers_a_to_f() {
        let p = Pin::new("1234").unwrap();
        let mut seen = [0u32; 16];
        for _ in 0..200 {
            let b = encode_clear(PinBlockFormat::Iso3, &p, Some(&pan("1000000000000"))).unwrap();
            // PAN field is all zero here, so the clear fill is visible.
            for byte in &b.expose()[3..] {
                seen[usize::from(byte >> 4)] += 1;
                seen[usize::from(byte & 0xF)] += 1;
            }
        }
        assert!(seen[..10].iter().all(|&n| n == 0));
        assert!(seen[10..].iter().all(|&n| n > 200), "{seen:?}");
    }

    #[test]
    fn uniform_error_on_wrong_pan() {
        let c =
            BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
        let p = Pin::new("1234").unwrap();
        let b = encrypt_pin_block(&c, PinBlockFormat::Iso0, &p, Some(&pan("4111111111111111")))
            .unwrap();
        let e = decrypt_pin_block(&c, PinBlockFormat::Iso0, &b, Some(&pan("4111111111111129")));
        assert_eq!(
            e.unwrap_err(),
            Error::PinBlock(PinBlockError::InvalidPinBlock)
        );
    }
}
