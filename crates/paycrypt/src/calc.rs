//! `paycrypt calc …`: offline payment-crypto calculators.
//!
//! Every command runs `paycrypt-core` directly (no server, no key store): the
//! desktop "crypto calculator" of a payment engineer. Inputs are hexadecimal
//! (or decimal where the standard says digits); outputs are labelled, either as
//! aligned `label: value` lines or as one JSON object.
//!
//! Keys given on the command line are the user's own test keys: they are held
//! in zeroizing buffers, never written to disk or logs, and never appear in an
//! error message (every error comes from `paycrypt_core::Error`'s `Display`,
//! which carries only field names, lengths and static reasons).
//!
//! Exit codes: 0 success; 1 a verification did not match; 2 invalid input
//! (clap's own usage errors also exit with 2).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use paycrypt_core::cipher::{Algorithm, BlockCipher};
use paycrypt_core::{hex, kcv, Error};
use zeroize::Zeroizing;

mod card;
mod dukpt;
mod emv;
mod mac;
mod pin;
mod tr31;

/// How results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned `label: value` lines.
    #[default]
    Table,
    /// One JSON object per command.
    Json,
}

/// The offline calculator commands.
#[derive(Subcommand, Debug)]
pub enum CalcCommand {
    /// ISO 9564-1 PIN blocks (formats 0–4, IBM 3624): encode a PIN, decode a block.
    #[command(subcommand)]
    Pinblock(pin::PinBlockCommand),
    /// DUKPT (ANSI X9.24-1 TDES, X9.24-3 AES): derive IPEK / initial key, transaction and working keys.
    #[command(subcommand)]
    Dukpt(dukpt::DukptCommand),
    /// Visa PIN verification value (PVV): generate or verify.
    #[command(subcommand)]
    Pvv(pin::PvvCommand),
    /// IBM 3624 PIN: natural PIN, offset, PIN from offset, verify.
    #[command(subcommand)]
    Ibm3624(pin::Ibm3624Command),
    /// Card verification values (CVV/CVC, CVV2/CVC2, iCVV): generate or verify.
    #[command(subcommand)]
    Cvv(card::CvvCommand),
    /// EMV ARQC/TC/AAC: derive ICC master key and session key, generate or verify the cryptogram.
    #[command(subcommand)]
    Arqc(emv::ArqcCommand),
    /// EMV ARPC (issuer authentication, EMV Book 2 8.2): method 1 or method 2.
    Arpc(emv::ArpcArgs),
    /// MAC: ISO 9797-1 algorithm 1/3, CMAC, HMAC, AS2805.4.1; generate, or verify with --verify.
    Mac(mac::MacArgs),
    /// Key check value of a TDES, AES or HMAC key.
    Kcv(mac::KcvArgs),
    /// TR-31 / ANSI X9.143 key blocks: wrap, unwrap, inspect.
    #[command(subcommand)]
    Tr31(tr31::Tr31Command),
    /// Magnetic-stripe track 2 / EMV tag 57 data.
    #[command(subcommand)]
    Track2(card::Track2Command),
}

/// Run one calculator command and print its result in `output` format.
///
/// Returns [`ExitCode::SUCCESS`], `1` when a verification did not match, or `2`
/// for invalid input; in both error cases one `error: …` line is written to stderr.
pub fn run(cmd: CalcCommand, output: OutputFormat) -> ExitCode {
    let result = match cmd {
        CalcCommand::Pinblock(c) => pin::run_pinblock(c),
        CalcCommand::Pvv(c) => pin::run_pvv(c),
        CalcCommand::Ibm3624(c) => pin::run_ibm3624(c),
        CalcCommand::Tr31(c) => tr31::run(c),
        CalcCommand::Dukpt(c) => dukpt::run(c),
        CalcCommand::Cvv(c) => card::run_cvv(c),
        CalcCommand::Arqc(c) => emv::run_arqc(c),
        CalcCommand::Arpc(a) => emv::run_arpc(a),
        CalcCommand::Mac(a) => mac::run_mac(a),
        CalcCommand::Kcv(a) => mac::run_kcv(a),
        CalcCommand::Track2(c) => card::run_track2(c),
    };
    match result {
        Ok(report) => {
            let text = match output {
                OutputFormat::Table => report.to_table(),
                OutputFormat::Json => report.to_json(),
            };
            let mut out = std::io::stdout().lock();
            if out.write_all(&text).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// What went wrong in a calculator command.
#[derive(Debug)]
pub(crate) enum CalcError {
    /// An error of the crypto core (its `Display` never contains secrets).
    Core(Error),
    /// A combination of options that the command does not accept.
    Usage(&'static str),
}

impl CalcError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Core(Error::VerificationFailed(_)) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Core(e) => e.fmt(f),
            Self::Usage(m) => f.write_str(m),
        }
    }
}

impl From<Error> for CalcError {
    fn from(e: Error) -> Self {
        Self::Core(e)
    }
}

pub(crate) type CalcResult<T = Report> = Result<T, CalcError>;

/// The labelled result of a command, in insertion order. Values are zeroized on drop.
#[derive(Default)]
pub(crate) struct Report {
    rows: Vec<(&'static str, Zeroizing<String>)>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Report([REDACTED])")
    }
}

impl Report {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Add a row.
    pub(crate) fn add(&mut self, label: &'static str, value: impl Into<String>) -> &mut Self {
        self.rows.push((label, Zeroizing::new(value.into())));
        self
    }

    /// Add a row whose value is bytes, hex-encoded.
    pub(crate) fn hex(&mut self, label: &'static str, bytes: &[u8]) -> &mut Self {
        self.add(label, hex::encode(bytes))
    }

    /// Capacity for the printed report, reserved up front so that the buffer
    /// holding key material is never reallocated (and left unzeroized).
    fn capacity(&self) -> usize {
        self.rows
            .iter()
            .map(|(l, v)| 2 * l.len() + 6 * v.len() + 16)
            .sum::<usize>()
            + 16
    }

    /// Aligned `label: value` lines (no trailing space after an empty value).
    fn to_table(&self) -> Zeroizing<Vec<u8>> {
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
        let mut s = Zeroizing::new(Vec::with_capacity(
            self.capacity() + width * self.rows.len(),
        ));
        for (label, value) in &self.rows {
            s.extend_from_slice(label.as_bytes());
            s.push(b':');
            if !value.is_empty() {
                s.extend(core::iter::repeat_n(b' ', width - label.len()));
                s.extend_from_slice(value.as_bytes());
            }
            s.push(b'\n');
        }
        s
    }

    /// One JSON object, members in insertion order, all values strings.
    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let mut s = Zeroizing::new(Vec::with_capacity(self.capacity()));
        s.push(b'{');
        for (i, (label, value)) in self.rows.iter().enumerate() {
            if i > 0 {
                s.push(b',');
            }
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *s, label);
            s.push(b':');
            let _ = serde_json::to_writer(&mut *s, value.as_str());
        }
        s.extend_from_slice(b"}\n");
        s
    }
}

// ---------------------------------------------------------------------------
// Shared helpers

/// Decode a hexadecimal key (spaces are not accepted).
pub(crate) fn key(field: &'static str, s: &str) -> CalcResult<paycrypt_core::secret::SecretBytes> {
    Ok(hex::decode_secret(field, s)?)
}

/// Decode hexadecimal data.
pub(crate) fn bytes(field: &'static str, s: &str) -> CalcResult<Vec<u8>> {
    Ok(hex::decode(field, s)?)
}

/// Decode exactly `N` bytes of hexadecimal.
pub(crate) fn array<const N: usize>(
    field: &'static str,
    expected: &'static str,
    s: &str,
) -> CalcResult<[u8; N]> {
    Ok(hex::decode_array::<N>(field, expected, s)?)
}

/// The conventional KCV of a block-cipher key: ANSI X9.24 (encrypt zeros) for
/// DES/TDES, CMAC of a zero block for AES (the AWS Payment Cryptography default), 3 bytes.
pub(crate) fn block_kcv(algorithm: Algorithm, key: &[u8]) -> CalcResult<String> {
    let c = BlockCipher::new(algorithm, key)?;
    let v = if algorithm.is_des_family() {
        kcv::ansi_x9_24(&c, 3)?
    } else {
        kcv::cmac_kcv(&c, 3)?
    };
    Ok(hex::encode(&v))
}

/// KCV of a TDES key of 16 or 24 bytes.
pub(crate) fn tdes_kcv(key: &[u8]) -> CalcResult<String> {
    block_kcv(Algorithm::tdes_for_len(key.len())?, key)
}

/// Validate the outcome of a verification: `Ok` becomes a `result: VALID` report.
pub(crate) fn verified(r: paycrypt_core::Result<()>, mut report: Report) -> CalcResult {
    r?;
    report.add("result", "VALID");
    Ok(report)
}
