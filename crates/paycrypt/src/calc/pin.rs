//! `calc pinblock`, `calc pvv` and `calc ibm3624`.

use clap::{Args, Subcommand};
use paycrypt_core::card::Pan;
use paycrypt_core::cipher::{Algorithm, BlockCipher};
use paycrypt_core::pin_verification as pv;
use paycrypt_core::pinblock::{self, Format4PanField, PinBlockFormat};
use paycrypt_core::secret::{Pin, SecretBytes};
use paycrypt_core::{random, Error};
use zeroize::Zeroizing;

use super::{block_kcv, bytes, key, verified, CalcError, CalcResult, Report};

/// PIN block format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// ISO 9564-1 format 0 (ANSI X9.8): PIN ⊕ PAN, fill F; TDES.
    #[value(name = "0")]
    Iso0,
    /// ISO format 1: random (transaction) fill, no PAN; TDES.
    #[value(name = "1")]
    Iso1,
    /// ISO format 2: fill F, no PAN (ICC only); TDES.
    #[value(name = "2")]
    Iso2,
    /// ISO format 3: as format 0 with random fill A–F; TDES.
    #[value(name = "3")]
    Iso3,
    /// ISO format 4: 16-byte AES PIN block (ISO 9564-1:2017 PAN field).
    #[value(name = "4")]
    Iso4,
    /// IBM 3624 PIN-pad format: PIN padded with --pad; TDES.
    Ibm3624,
}

/// Arguments that select the format.
#[derive(Args, Debug)]
pub struct FormatArgs {
    /// PIN block format.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// IBM 3624 pad character (A–F).
    #[arg(long, default_value = "F")]
    pad: String,
}

impl FormatArgs {
    fn format(&self) -> CalcResult<PinBlockFormat> {
        Ok(match self.format {
            FormatArg::Iso0 => PinBlockFormat::Iso0,
            FormatArg::Iso1 => PinBlockFormat::Iso1,
            FormatArg::Iso2 => PinBlockFormat::Iso2,
            FormatArg::Iso3 => PinBlockFormat::Iso3,
            FormatArg::Iso4 => PinBlockFormat::ISO4,
            FormatArg::Ibm3624 => PinBlockFormat::Ibm3624 {
                pad: pad_nibble(&self.pad)?,
            },
        })
    }

    /// The block cipher for `key`: AES for format 4, TDES otherwise.
    fn cipher(&self, key: &[u8]) -> CalcResult<BlockCipher> {
        let alg = if self.format == FormatArg::Iso4 {
            Algorithm::aes_for_len(key.len())?
        } else {
            Algorithm::tdes_for_len(key.len())?
        };
        Ok(BlockCipher::new(alg, key)?)
    }
}

fn pad_nibble(s: &str) -> CalcResult<u8> {
    match s.as_bytes() {
        [c] if c.is_ascii_hexdigit() => {
            let v = char::from(*c).to_digit(16).unwrap_or(0);
            Ok(u8::try_from(v).unwrap_or(0))
        }
        _ => Err(Error::InvalidInput {
            field: "pad",
            reason: "must be one hexadecimal character (A to F)",
        }
        .into()),
    }
}

fn pan(s: Option<&str>) -> CalcResult<Option<Pan>> {
    Ok(s.map(Pan::new).transpose()?)
}

/// PIN block commands.
#[derive(Subcommand, Debug)]
pub enum PinBlockCommand {
    /// Build a PIN block from a PIN (and PAN); with --key also encipher it.
    Encode(EncodeArgs),
    /// Recover the PIN from a clear PIN block, or from an enciphered one with --key.
    Decode(DecodeArgs),
}

/// Arguments of `calc pinblock encode`.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// The PIN, 4–12 digits.
    #[arg(long)]
    pin: String,
    /// PAN, 12–19 digits (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
    #[command(flatten)]
    format: FormatArgs,
    /// PIN encryption key, hex: TDES (16/24 bytes) for formats 0–3 and IBM 3624, AES for format 4.
    #[arg(long)]
    key: Option<String>,
    /// Explicit fill instead of random: format 1 = 14−L hex nibbles, format 3 = 14−L nibbles A–F, format 4 = 8 bytes hex.
    #[arg(long)]
    fill: Option<String>,
}

/// Arguments of `calc pinblock decode`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The PIN block, hex (8 bytes; 16 for format 4).
    #[arg(long)]
    block: String,
    /// PAN, 12–19 digits (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
    #[command(flatten)]
    format: FormatArgs,
    /// Key that enciphered the block, hex (TDES; AES for format 4). Without it the block is taken as clear.
    #[arg(long)]
    key: Option<String>,
}

/// The fill to use: the user's, or fresh random values of the format's kind.
fn fill(format: FormatArg, pin_len: usize, given: Option<&str>) -> CalcResult<SecretBytes> {
    let n = 14usize.saturating_sub(pin_len);
    match (format, given) {
        (FormatArg::Iso1 | FormatArg::Iso3, Some(s)) => {
            let mut v = Vec::with_capacity(s.len());
            for (position, c) in s.chars().enumerate() {
                let d = c.to_digit(16).ok_or(Error::InvalidHex {
                    field: "fill",
                    reason: paycrypt_core::error::HexError::InvalidCharacter { position },
                })?;
                v.push(u8::try_from(d).unwrap_or(0));
            }
            Ok(SecretBytes::new(v))
        }
        (FormatArg::Iso4, Some(s)) => Ok(SecretBytes::new(bytes("fill", s)?)),
        (FormatArg::Iso1, None) => Ok(SecretBytes::new(
            (0..n)
                .map(|_| random::nibble_in(0, 15))
                .collect::<Result<_, _>>()?,
        )),
        (FormatArg::Iso3, None) => Ok(SecretBytes::new(
            (0..n)
                .map(|_| random::nibble_in(10, 15))
                .collect::<Result<_, _>>()?,
        )),
        (FormatArg::Iso4, None) => Ok(random::secret_bytes(8)?),
        (_, Some(_)) => Err(CalcError::Usage(
            "--fill applies to formats 1, 3 and 4 only (the other fills are fixed)",
        )),
        (_, None) => Ok(SecretBytes::new(Vec::new())),
    }
}

pub(crate) fn run_pinblock(cmd: PinBlockCommand) -> CalcResult {
    match cmd {
        PinBlockCommand::Encode(a) => encode(&a),
        PinBlockCommand::Decode(a) => decode(&a),
    }
}

fn format_name(f: PinBlockFormat) -> String {
    f.to_string()
}

fn encode(a: &EncodeArgs) -> CalcResult {
    let format = a.format.format()?;
    let pin = Pin::new(&a.pin)?;
    let pan = pan(a.pan.as_deref())?;
    let fill = fill(a.format.format, pin.len(), a.fill.as_deref())?;
    let clear = pinblock::encode_clear_with_fill(format, &pin, pan.as_ref(), fill.expose())?;
    let mut r = Report::new();
    r.add("format", format_name(format));
    if a.format.format == FormatArg::Iso4 {
        r.hex("pin_field", clear.expose());
        if let Some(p) = &pan {
            r.hex(
                "pan_field",
                &pinblock::iso4_pan_field(p, Format4PanField::Iso9564_2017),
            );
        }
    } else {
        if let (true, Some(p)) = (format.binds_pan(), &pan) {
            r.hex("pan_field", &pinblock::iso0_pan_field(p));
        }
        r.hex("clear_pin_block", clear.expose());
    }
    match &a.key {
        Some(k) => {
            let k = key("key", k)?;
            let c = a.format.cipher(k.expose())?;
            let block = pinblock::encrypt_pin_block_with_fill(
                &c,
                format,
                &pin,
                pan.as_ref(),
                fill.expose(),
            )?;
            r.add("key_kcv", block_kcv(c.algorithm(), k.expose())?);
            r.hex("encrypted_pin_block", &block);
        }
        None if a.format.format == FormatArg::Iso4 => {
            r.add(
                "note",
                "format 4 is defined enciphered only: give --key (AES) for the PIN block",
            );
        }
        None => {}
    }
    Ok(r)
}

fn decode(a: &DecodeArgs) -> CalcResult {
    let format = a.format.format()?;
    let pan = pan(a.pan.as_deref())?;
    let block = bytes("pin_block", &a.block)?;
    let mut r = Report::new();
    r.add("format", format_name(format));
    let clear: Zeroizing<Vec<u8>> = match &a.key {
        None => Zeroizing::new(block),
        Some(k) => {
            let k = key("key", k)?;
            let c = a.format.cipher(k.expose())?;
            r.add("key_kcv", block_kcv(c.algorithm(), k.expose())?);
            Zeroizing::new(decipher(&c, a.format.format, &block, pan.as_ref())?)
        }
    };
    if a.format.format == FormatArg::Iso4 {
        r.hex("pin_field", &clear);
    } else {
        r.hex("clear_pin_block", &clear);
    }
    let pin = pinblock::decode_clear(format, &clear, pan.as_ref())?;
    r.add("pin", pin.to_ascii().as_str());
    Ok(r)
}

/// Decipher a PIN block to its clear form (for format 4: the plain-text PIN field).
fn decipher(
    c: &BlockCipher,
    format: FormatArg,
    block: &[u8],
    pan: Option<&Pan>,
) -> CalcResult<Vec<u8>> {
    let want = if format == FormatArg::Iso4 { 16 } else { 8 };
    if block.len() != want {
        return Err(Error::InvalidLength {
            field: "pin_block",
            expected: if want == 16 {
                "16 bytes (format 4)"
            } else {
                "8 bytes"
            },
            actual: block.len(),
        }
        .into());
    }
    let mut out = block.to_vec();
    c.decrypt_block(&mut out)?;
    if format == FormatArg::Iso4 {
        // ISO 9564-1 format 4: C = E(E(PIN field) ⊕ PAN field).
        let p = pan.ok_or(Error::PinBlock(pinblock::PinBlockError::PanRequired))?;
        let field = pinblock::iso4_pan_field(p, Format4PanField::Iso9564_2017);
        for (o, f) in out.iter_mut().zip(field.iter()) {
            *o ^= f;
        }
        c.decrypt_block(&mut out)?;
    }
    Ok(out)
}

/// Visa PVV commands.
#[derive(Subcommand, Debug)]
pub enum PvvCommand {
    /// Compute the Visa PIN verification value (4 digits).
    Generate(PvvArgs),
    /// Verify a Visa PVV (exit code 1 if it does not match).
    Verify(PvvVerifyArgs),
}

/// Arguments of `calc pvv generate`.
#[derive(Args, Debug)]
pub struct PvvArgs {
    /// PIN verification key (PVK pair), TDES hex.
    #[arg(long)]
    pvk: String,
    /// PAN, 12–19 digits.
    #[arg(long)]
    pan: String,
    /// PIN verification key index, 0–6.
    #[arg(long)]
    pvki: u8,
    /// The PIN (its 4 leftmost digits are used).
    #[arg(long)]
    pin: String,
}

/// Arguments of `calc pvv verify`.
#[derive(Args, Debug)]
pub struct PvvVerifyArgs {
    #[command(flatten)]
    common: PvvArgs,
    /// The PVV to verify, 4 digits.
    #[arg(long)]
    pvv: String,
}

fn tdes(field: &'static str, s: &str) -> CalcResult<BlockCipher> {
    let k = key(field, s)?;
    Ok(BlockCipher::tdes(k.expose())?)
}

pub(crate) fn run_pvv(cmd: PvvCommand) -> CalcResult {
    match cmd {
        PvvCommand::Generate(a) => {
            let pvk = tdes("pvk", &a.pvk)?;
            let pan = Pan::new(&a.pan)?;
            let pin = Pin::new(&a.pin)?;
            let mut r = Report::new();
            r.add("pvv", pv::visa_pvv(&pvk, &pan, a.pvki, &pin)?);
            Ok(r)
        }
        PvvCommand::Verify(v) => {
            let a = &v.common;
            let pvk = tdes("pvk", &a.pvk)?;
            let pan = Pan::new(&a.pan)?;
            let pin = Pin::new(&a.pin)?;
            verified(
                pv::verify_visa_pvv(&pvk, &pan, a.pvki, &pin, &v.pvv),
                Report::new(),
            )
        }
    }
}

/// IBM 3624 commands.
#[derive(Subcommand, Debug)]
pub enum Ibm3624Command {
    /// The natural PIN (offset 0) of --pin-length digits.
    NaturalPin(NaturalArgs),
    /// The offset of a customer-selected PIN.
    Offset(OffsetArgs),
    /// The customer PIN from its offset.
    PinFromOffset(FromOffsetArgs),
    /// Verify a PIN against its offset (exit code 1 if it does not match).
    Verify(VerifyOffsetArgs),
}

/// Inputs of every IBM 3624 computation.
#[derive(Args, Debug)]
pub struct Ibm3624Args {
    /// PIN verification key, TDES hex.
    #[arg(long)]
    pvk: String,
    /// PIN validation data, 4–16 hex digits (often PAN digits).
    #[arg(long)]
    validation_data: String,
    /// Decimalization table, 16 digits.
    #[arg(long, default_value = "0123456789012345")]
    dec_table: String,
    /// Pad character of the validation data (one hex character).
    #[arg(long, default_value = "F")]
    pad: char,
}

impl Ibm3624Args {
    fn params(&self) -> CalcResult<(BlockCipher, pv::Ibm3624Params)> {
        let pvk = tdes("pvk", &self.pvk)?;
        let table = pv::DecimalizationTable::new(&self.dec_table)?;
        let params = pv::Ibm3624Params::new(
            &pv::DecimalizationPolicy::any_valid(),
            &table,
            &self.validation_data,
            self.pad,
        )?;
        Ok((pvk, params))
    }
}

/// Arguments of `calc ibm3624 natural-pin`.
#[derive(Args, Debug)]
pub struct NaturalArgs {
    #[command(flatten)]
    common: Ibm3624Args,
    /// PIN length, 4–12.
    #[arg(long, default_value_t = 4)]
    pin_length: usize,
}

/// Arguments of `calc ibm3624 offset`.
#[derive(Args, Debug)]
pub struct OffsetArgs {
    #[command(flatten)]
    common: Ibm3624Args,
    /// The customer PIN, 4–12 digits.
    #[arg(long)]
    pin: String,
}

/// Arguments of `calc ibm3624 pin-from-offset`.
#[derive(Args, Debug)]
pub struct FromOffsetArgs {
    #[command(flatten)]
    common: Ibm3624Args,
    /// The PIN offset, 4–12 digits.
    #[arg(long)]
    offset: String,
}

/// Arguments of `calc ibm3624 verify`.
#[derive(Args, Debug)]
pub struct VerifyOffsetArgs {
    #[command(flatten)]
    common: Ibm3624Args,
    /// The PIN, as many digits as the offset.
    #[arg(long)]
    pin: String,
    /// The PIN offset.
    #[arg(long)]
    offset: String,
}

pub(crate) fn run_ibm3624(cmd: Ibm3624Command) -> CalcResult {
    let mut r = Report::new();
    match cmd {
        Ibm3624Command::NaturalPin(a) => {
            let (pvk, params) = a.common.params()?;
            let pin = pv::ibm3624_natural_pin(&pvk, &params, a.pin_length)?;
            r.add("natural_pin", pin.to_ascii().as_str());
        }
        Ibm3624Command::Offset(a) => {
            let (pvk, params) = a.common.params()?;
            let pin = Pin::new(&a.pin)?;
            r.add("offset", pv::ibm3624_offset(&pvk, &params, &pin)?);
        }
        Ibm3624Command::PinFromOffset(a) => {
            let (pvk, params) = a.common.params()?;
            let pin = pv::ibm3624_pin_from_offset(&pvk, &params, &a.offset)?;
            r.add("pin", pin.to_ascii().as_str());
        }
        Ibm3624Command::Verify(a) => {
            let (pvk, params) = a.common.params()?;
            let pin = Pin::new(&a.pin)?;
            return verified(pv::verify_ibm3624_offset(&pvk, &params, &pin, &a.offset), r);
        }
    }
    Ok(r)
}
