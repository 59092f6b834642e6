//! `calc mac` and `calc kcv`.

use clap::Args;
use paycrypt_core::cipher::{Algorithm, BlockCipher, Padding};
use paycrypt_core::mac::{self, HashAlgorithm, MacAlgorithm};
use paycrypt_core::{hex, kcv};

use super::{bytes, key, verified, CalcError, CalcResult, Report};

/// MAC algorithm.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum MacAlg {
    /// ISO 9797-1 MAC algorithm 1: CBC-MAC (ANSI X9.9 with TDES; AES CBC-MAC with --cipher aes).
    #[value(name = "iso9797-1")]
    Iso9797Alg1,
    /// ISO 9797-1 MAC algorithm 3: the ANSI X9.19 retail MAC (TDES key).
    #[value(name = "iso9797-3")]
    Iso9797Alg3,
    /// CMAC (NIST SP 800-38B), TDES or AES (--cipher).
    Cmac,
    /// HMAC-SHA-224.
    HmacSha224,
    /// HMAC-SHA-256.
    HmacSha256,
    /// HMAC-SHA-384.
    HmacSha384,
    /// HMAC-SHA-512.
    HmacSha512,
    /// AS2805.4.1 (ISO 9797-1 algorithm 3, padding method 1).
    #[value(name = "as2805-4-1")]
    As2805,
}

/// Block cipher of the MAC key (for iso9797-1 and cmac).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherArg {
    /// TDES (16- or 24-byte key).
    Tdes,
    /// AES (16-, 24- or 32-byte key).
    Aes,
}

/// ISO 9797-1 padding method.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PaddingArg {
    /// Method 1: zeros (none if the data is block-aligned and not empty).
    #[value(name = "1")]
    M1,
    /// Method 2: `80` then zeros.
    #[value(name = "2")]
    M2,
    /// Method 3: a length block, then zeros.
    #[value(name = "3")]
    M3,
}

/// Arguments of `calc mac`.
#[derive(Args, Debug)]
pub struct MacArgs {
    /// MAC algorithm.
    #[arg(long, value_enum)]
    algorithm: MacAlg,
    /// MAC key, hex.
    #[arg(long)]
    key: String,
    /// Message, hex (may be empty).
    #[arg(long)]
    data: String,
    /// Block cipher of the key, for iso9797-1 and cmac.
    #[arg(long, value_enum, default_value_t = CipherArg::Tdes)]
    cipher: CipherArg,
    /// ISO 9797-1 padding method, for iso9797-1 and iso9797-3.
    #[arg(long, value_enum, default_value_t = PaddingArg::M1)]
    padding: PaddingArg,
    /// Also show the MAC truncated to this many leftmost bytes (4 up to the full length).
    #[arg(long)]
    length: Option<usize>,
    /// Verify this MAC (full or truncated to 4+ leftmost bytes) instead of printing one; exit code 1 if it does not match.
    #[arg(long, value_name = "MAC")]
    verify: Option<String>,
}

fn block_algorithm(cipher: CipherArg, key_len: usize) -> CalcResult<Algorithm> {
    Ok(match cipher {
        CipherArg::Tdes => Algorithm::tdes_for_len(key_len)?,
        CipherArg::Aes => Algorithm::aes_for_len(key_len)?,
    })
}

fn padding(p: PaddingArg) -> Padding {
    match p {
        PaddingArg::M1 => Padding::Iso9797M1,
        PaddingArg::M2 => Padding::Iso9797M2,
        PaddingArg::M3 => Padding::Iso9797M3,
    }
}

pub(crate) fn run_mac(a: MacArgs) -> CalcResult {
    let k = key("key", &a.key)?;
    let data = bytes("data", &a.data)?;
    let alg = match a.algorithm {
        MacAlg::Iso9797Alg1 => MacAlgorithm::Iso9797Alg1 {
            algorithm: block_algorithm(a.cipher, k.len())?,
            padding: padding(a.padding),
        },
        MacAlg::Iso9797Alg3 => MacAlgorithm::Iso9797Alg3 {
            padding: padding(a.padding),
        },
        MacAlg::Cmac => MacAlgorithm::Cmac(block_algorithm(a.cipher, k.len())?),
        MacAlg::HmacSha224 => MacAlgorithm::Hmac(HashAlgorithm::Sha224),
        MacAlg::HmacSha256 => MacAlgorithm::Hmac(HashAlgorithm::Sha256),
        MacAlg::HmacSha384 => MacAlgorithm::Hmac(HashAlgorithm::Sha384),
        MacAlg::HmacSha512 => MacAlgorithm::Hmac(HashAlgorithm::Sha512),
        MacAlg::As2805 => MacAlgorithm::As2805_4_1,
    };
    if let Some(m) = &a.verify {
        if a.length.is_some() {
            return Err(CalcError::Usage(
                "--length and --verify cannot be combined (the MAC's length is used)",
            ));
        }
        let m = bytes("mac", m)?;
        return verified(mac::verify(alg, k.expose(), &data, &m), Report::new());
    }
    let full = mac::generate(alg, k.expose(), &data)?;
    let mut r = Report::new();
    r.hex("mac", &full);
    if let Some(n) = a.length {
        r.hex("mac_truncated", &mac::truncate(&full, n)?);
    }
    Ok(r)
}

/// Key algorithm for `calc kcv`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum KcvKeyAlg {
    /// TDES key (16 or 24 bytes); default method ansi.
    Tdes,
    /// AES key (16, 24 or 32 bytes); default method cmac.
    Aes,
    /// HMAC key (any length); HMAC of the empty message with --hash.
    Hmac,
}

/// KCV method for block-cipher keys.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum KcvMethod {
    /// ANSI X9.24: encrypt a zero block.
    Ansi,
    /// CMAC of a zero block.
    Cmac,
}

/// Hash of an HMAC key.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum HashArg {
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Arguments of `calc kcv`.
#[derive(Args, Debug)]
pub struct KcvArgs {
    /// The key, hex.
    #[arg(long)]
    key: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KcvKeyAlg::Tdes)]
    algorithm: KcvKeyAlg,
    /// KCV method for TDES/AES keys [default: ansi for tdes, cmac for aes (as AWS)].
    #[arg(long, value_enum)]
    method: Option<KcvMethod>,
    /// Hash of an HMAC key.
    #[arg(long, value_enum, default_value_t = HashArg::Sha256)]
    hash: HashArg,
    /// KCV length in bytes.
    #[arg(long, default_value_t = 3)]
    length: usize,
}

pub(crate) fn run_kcv(a: KcvArgs) -> CalcResult {
    let k = key("key", &a.key)?;
    let mut r = Report::new();
    let v = match a.algorithm {
        KcvKeyAlg::Tdes | KcvKeyAlg::Aes => {
            let (alg, default) = match a.algorithm {
                KcvKeyAlg::Aes => (Algorithm::aes_for_len(k.len())?, KcvMethod::Cmac),
                _ => (Algorithm::tdes_for_len(k.len())?, KcvMethod::Ansi),
            };
            let c = BlockCipher::new(alg, k.expose())?;
            match a.method.unwrap_or(default) {
                KcvMethod::Ansi => {
                    r.add("method", "ANSI X9.24");
                    kcv::ansi_x9_24(&c, a.length)?
                }
                KcvMethod::Cmac => {
                    r.add("method", "CMAC");
                    kcv::cmac_kcv(&c, a.length)?
                }
            }
        }
        KcvKeyAlg::Hmac => {
            if a.method.is_some() {
                return Err(CalcError::Usage(
                    "--method applies to tdes and aes keys only (HMAC keys use --hash)",
                ));
            }
            let h = match a.hash {
                HashArg::Sha224 => HashAlgorithm::Sha224,
                HashArg::Sha256 => HashAlgorithm::Sha256,
                HashArg::Sha384 => HashAlgorithm::Sha384,
                HashArg::Sha512 => HashAlgorithm::Sha512,
            };
            r.add("method", "HMAC");
            kcv::hmac_kcv(h, k.expose(), a.length)?
        }
    };
    r.add("kcv", hex::encode(&v));
    Ok(r)
}
