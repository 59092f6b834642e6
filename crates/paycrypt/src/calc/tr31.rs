//! `calc tr31`: TR-31 / ANSI X9.143 key blocks.

use clap::{Args, Subcommand};
use paycrypt_core::cipher::Algorithm;
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm, KeyUsage, KeyVersion, ModeOfUse, OptionalBlock,
    OptionalBlockId, Tr31Header, Version,
};
use paycrypt_core::Error;

use super::{block_kcv, key, CalcError, CalcResult, Report};

/// TR-31 commands.
#[derive(Subcommand, Debug)]
pub enum Tr31Command {
    /// Wrap a key into a key block under a KBPK (versions A, B, C with TDES; D with AES).
    Wrap(WrapArgs),
    /// Verify and decrypt a key block: header fields, the key and its KCV.
    Unwrap(UnwrapArgs),
    /// Show the header fields of a key block without any key (the MAC is NOT checked).
    Inspect(InspectArgs),
}

/// Key block version.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum VersionArg {
    /// A: TDES key variant binding (deprecated).
    A,
    /// B: TDES key derivation binding.
    B,
    /// C: TDES key variant binding.
    C,
    /// D: AES key derivation binding.
    D,
}

/// Arguments of `calc tr31 wrap`.
#[derive(Args, Debug)]
pub struct WrapArgs {
    /// Key block protection key, hex (TDES for A/B/C, AES for D).
    #[arg(long)]
    kbpk: String,
    /// The key to wrap, hex.
    #[arg(long)]
    key: String,
    /// Key block version.
    #[arg(long = "kb-version", value_enum, ignore_case = true, default_value_t = VersionArg::D)]
    version: VersionArg,
    /// Key usage, 2 characters (e.g. P0, K0, B0, D0, M3, C0, V2, E0).
    #[arg(long)]
    usage: String,
    /// Algorithm of the wrapped key: T (TDES), A (AES), H (HMAC), D (DES), R, E, S.
    #[arg(long)]
    algorithm: String,
    /// Mode of use: B, C, D, E, G, N, S, T, V, X, Y.
    #[arg(long)]
    mode_of_use: String,
    /// Key version number, 2 characters.
    #[arg(long, default_value = "00")]
    key_version: String,
    /// Exportability: E (trusted), N (non-exportable), S (sensitive).
    #[arg(long, default_value = "E")]
    exportability: String,
    /// Optional block ID=VALUE (repeatable), e.g. --opt KS=00604B120F9292800000.
    #[arg(long = "opt", value_name = "ID=VALUE")]
    optional_blocks: Vec<String>,
    /// Explicit payload padding, hex (reproduces a given block); default: random, key length obfuscated.
    #[arg(long)]
    padding: Option<String>,
}

/// Arguments of `calc tr31 unwrap`.
#[derive(Args, Debug)]
pub struct UnwrapArgs {
    /// Key block protection key, hex (TDES for A/B/C, AES for D).
    #[arg(long)]
    kbpk: String,
    /// The key block.
    #[arg(long)]
    block: String,
}

/// Arguments of `calc tr31 inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The key block.
    #[arg(long)]
    block: String,
}

fn kb(e: paycrypt_core::keyblock::KeyBlockError) -> CalcError {
    Error::KeyBlock(e).into()
}

fn kbpk_for(version: Version, k: &[u8]) -> CalcResult<Kbpk<'_>> {
    Ok(match version {
        Version::D => Kbpk::aes(k)?,
        _ => Kbpk::tdes(k)?,
    })
}

pub(crate) fn run(cmd: Tr31Command) -> CalcResult {
    match cmd {
        Tr31Command::Wrap(a) => wrap(&a),
        Tr31Command::Unwrap(a) => {
            let k = key("kbpk", &a.kbpk)?;
            let header = tr31::parse_header(&a.block)?;
            let u = tr31::unwrap_with_padding(kbpk_for(header.version, k.expose())?, &a.block)?;
            let mut r = header_report(&u.header);
            r.add("mac", "verified");
            r.hex("key", u.key.expose());
            if let Some(kcv) = key_kcv(u.header.algorithm, u.key.expose()) {
                r.add("key_kcv", kcv);
            }
            r.hex("padding", u.padding.expose());
            Ok(r)
        }
        Tr31Command::Inspect(a) => {
            let header = tr31::parse_header(&a.block)?;
            let mut r = header_report(&header);
            r.add(
                "mac",
                "not checked (inspect needs no key; use unwrap to verify)",
            );
            Ok(r)
        }
    }
}

fn wrap(a: &WrapArgs) -> CalcResult {
    let version = match a.version {
        VersionArg::A => Version::A,
        VersionArg::B => Version::B,
        VersionArg::C => Version::C,
        VersionArg::D => Version::D,
    };
    let mut header = Tr31Header::new(
        version,
        KeyUsage::from_code(&a.usage).map_err(kb)?,
        KeyAlgorithm::from_code(&a.algorithm).map_err(kb)?,
        ModeOfUse::from_code(&a.mode_of_use).map_err(kb)?,
        Exportability::from_code(&a.exportability).map_err(kb)?,
    );
    header.key_version = KeyVersion::new(&a.key_version).map_err(kb)?;
    for o in &a.optional_blocks {
        let (id, value) = o.split_once('=').ok_or(CalcError::Usage(
            "--opt takes ID=VALUE, e.g. KS=00604B120F9292800000",
        ))?;
        let id = OptionalBlockId::new(id).map_err(kb)?;
        header
            .optional_blocks
            .push(OptionalBlock::new(id, value).map_err(kb)?);
    }
    let kbpk = key("kbpk", &a.kbpk)?;
    let k = key("key", &a.key)?;
    let kbpk = kbpk_for(version, kbpk.expose())?;
    let block = match &a.padding {
        Some(p) => {
            let p = key("padding", p)?;
            tr31::wrap_with_padding(kbpk, &header, k.expose(), p.expose())?
        }
        None => tr31::wrap(kbpk, &header, k.expose())?,
    };
    let mut r = Report::new();
    if let Some(kcv) = key_kcv(header.algorithm, k.expose()) {
        r.add("key_kcv", kcv);
    }
    r.add("key_block", block);
    Ok(r)
}

/// KCV of a wrapped TDES (ANSI) or AES (CMAC) key; none for other algorithms.
fn key_kcv(alg: KeyAlgorithm, k: &[u8]) -> Option<String> {
    let a = match alg {
        KeyAlgorithm::Tdes => Algorithm::tdes_for_len(k.len()).ok()?,
        KeyAlgorithm::Aes => Algorithm::aes_for_len(k.len()).ok()?,
        _ => return None,
    };
    block_kcv(a, k).ok()
}

fn header_report(h: &Tr31Header) -> Report {
    let mut r = Report::new();
    r.add("version", h.version.id().to_string());
    r.add("key_usage", h.key_usage.code());
    r.add("algorithm", h.algorithm.code());
    r.add("mode_of_use", h.mode_of_use.code());
    r.add("key_version", h.key_version.as_str());
    r.add("exportability", h.exportability.code());
    let blocks: Vec<String> = h
        .optional_blocks
        .iter()
        .map(|b| format!("{}={}", b.id().as_str(), b.value()))
        .collect();
    r.add("optional_blocks", blocks.join(" "));
    r
}
