//! `calc dukpt`: TDES (ANSI X9.24-1) and AES (ANSI X9.24-3) DUKPT key derivation.

use clap::{Args, Subcommand};
use paycrypt_core::cipher::Algorithm;
use paycrypt_core::dukpt::{aes, tdes};

use super::{block_kcv, bytes, key, tdes_kcv, CalcError, CalcResult, Report};

/// DUKPT commands.
#[derive(Subcommand, Debug)]
pub enum DukptCommand {
    /// Derive the IPEK / initial key, the transaction key and the working keys, with KCVs.
    ///
    /// The KSN length selects the variant: 10 bytes (20 hex digits) = TDES DUKPT
    /// (IPEK, transaction key, PIN / MAC / data variants); 12 bytes (24 hex digits)
    /// = AES DUKPT (initial key, derivation key, working keys of --key-type).
    /// KCVs: ANSI X9.24 (TDES keys), CMAC (AES keys), 3 bytes.
    Derive(DeriveArgs),
}

/// Working-key algorithm of AES DUKPT.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum KeyType {
    /// Two-key TDES (16 bytes).
    Tdes2,
    /// Three-key TDES (24 bytes).
    Tdes3,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
}

impl KeyType {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Tdes2 => Algorithm::Tdes2,
            Self::Tdes3 => Algorithm::Tdes3,
            Self::Aes128 => Algorithm::Aes128,
            Self::Aes192 => Algorithm::Aes192,
            Self::Aes256 => Algorithm::Aes256,
        }
    }
}

/// Arguments of `calc dukpt derive`.
#[derive(Args, Debug)]
pub struct DeriveArgs {
    /// Base derivation key, hex: 16 bytes (TDES DUKPT) or 16/24/32 bytes (AES DUKPT).
    #[arg(long)]
    bdk: String,
    /// Key serial number, hex: 20 digits (TDES DUKPT) or 24 digits (AES DUKPT).
    #[arg(long)]
    ksn: String,
    /// AES DUKPT only: algorithm of the working keys [default: the BDK's AES size].
    #[arg(long, value_enum)]
    key_type: Option<KeyType>,
}

pub(crate) fn run(cmd: DukptCommand) -> CalcResult {
    match cmd {
        DukptCommand::Derive(a) => derive(&a),
    }
}

fn derive(a: &DeriveArgs) -> CalcResult {
    let bdk = key("bdk", &a.bdk)?;
    let ksn = bytes("ksn", &a.ksn)?;
    match ksn.len() {
        tdes::KSN_LEN => {
            if a.key_type.is_some() {
                return Err(CalcError::Usage(
                    "--key-type applies to AES DUKPT (24-digit KSN) only",
                ));
            }
            derive_tdes(bdk.expose(), &tdes::Ksn::new(&ksn)?)
        }
        aes::KSN_LEN => derive_aes(bdk.expose(), &aes::Ksn::new(&ksn)?, a.key_type),
        actual => Err(paycrypt_core::Error::InvalidLength {
            field: "ksn",
            expected: "10 bytes (TDES DUKPT) or 12 bytes (AES DUKPT)",
            actual,
        }
        .into()),
    }
}

fn derive_tdes(bdk: &[u8], ksn: &tdes::Ksn) -> CalcResult {
    let mut r = Report::new();
    r.add("dukpt", "TDES (ANSI X9.24-1)");
    r.hex("ksn", ksn.as_bytes());
    r.add("counter", ksn.counter().to_string());
    r.add("bdk_kcv", tdes_kcv(bdk)?);
    let ipek = tdes::derive_ipek(bdk, ksn)?;
    r.hex("ipek", ipek.expose());
    r.add("ipek_kcv", tdes_kcv(ipek.expose())?);
    if ksn.counter() == 0 {
        r.add("note", "counter 0 is the initial KSN: no transaction key");
        return Ok(r);
    }
    let tk = tdes::derive_transaction_key(ipek.expose(), ksn)?;
    r.hex("transaction_key", tk.expose());
    r.add("transaction_key_kcv", tdes_kcv(tk.expose())?);
    let variants: [(&'static str, &'static str, tdes::KeyVariant); 5] = [
        ("pin_key", "pin_key_kcv", tdes::KeyVariant::Pin),
        (
            "mac_request_key",
            "mac_request_key_kcv",
            tdes::KeyVariant::MacRequest,
        ),
        (
            "mac_response_key",
            "mac_response_key_kcv",
            tdes::KeyVariant::MacResponse,
        ),
        (
            "data_request_key",
            "data_request_key_kcv",
            tdes::KeyVariant::DataRequest,
        ),
        (
            "data_response_key",
            "data_response_key_kcv",
            tdes::KeyVariant::DataResponse,
        ),
    ];
    for (label, kcv_label, v) in variants {
        let k = tdes::variant_key(tk.expose(), v)?;
        r.hex(label, k.expose());
        r.add(kcv_label, tdes_kcv(k.expose())?);
    }
    Ok(r)
}

fn derive_aes(bdk: &[u8], ksn: &aes::Ksn, key_type: Option<KeyType>) -> CalcResult {
    let bdk_alg = Algorithm::aes_for_len(bdk.len())?;
    let key_type = key_type.map_or(bdk_alg, KeyType::algorithm);
    let mut r = Report::new();
    r.add("dukpt", "AES (ANSI X9.24-3)");
    r.hex("ksn", ksn.as_bytes());
    r.hex("initial_key_id", &ksn.initial_key_id());
    r.add("counter", ksn.counter().to_string());
    r.add("bdk_kcv", block_kcv(bdk_alg, bdk)?);
    let ik = aes::derive_initial_key(bdk, &ksn.initial_key_id())?;
    r.hex("initial_key", ik.expose());
    r.add("initial_key_kcv", block_kcv(bdk_alg, ik.expose())?);
    if ksn.counter() == 0 {
        r.add("note", "counter 0 is the initial KSN: no transaction key");
        return Ok(r);
    }
    let dk = aes::derive_transaction_key(ik.expose(), ksn)?;
    r.hex("transaction_key", dk.expose());
    r.add("transaction_key_kcv", block_kcv(bdk_alg, dk.expose())?);
    r.add("working_key_type", key_type_name(key_type));
    let usages: [(&'static str, &'static str, aes::KeyUsage); 8] = [
        ("pin_key", "pin_key_kcv", aes::KeyUsage::PinEncryption),
        (
            "mac_generation_key",
            "mac_generation_key_kcv",
            aes::KeyUsage::MacGeneration,
        ),
        (
            "mac_verification_key",
            "mac_verification_key_kcv",
            aes::KeyUsage::MacVerification,
        ),
        ("mac_both_key", "mac_both_key_kcv", aes::KeyUsage::MacBoth),
        (
            "data_encrypt_key",
            "data_encrypt_key_kcv",
            aes::KeyUsage::DataEncrypt,
        ),
        (
            "data_decrypt_key",
            "data_decrypt_key_kcv",
            aes::KeyUsage::DataDecrypt,
        ),
        (
            "data_both_key",
            "data_both_key_kcv",
            aes::KeyUsage::DataBoth,
        ),
        (
            "key_encryption_key",
            "key_encryption_key_kcv",
            aes::KeyUsage::KeyEncryptionKey,
        ),
    ];
    for (label, kcv_label, usage) in usages {
        let k = aes::derive_working_key(dk.expose(), ksn, usage, key_type)?;
        r.hex(label, k.expose());
        r.add(kcv_label, block_kcv(key_type, k.expose())?);
    }
    Ok(r)
}

fn key_type_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Tdes2 => "TDES_2KEY",
        Algorithm::Tdes3 => "TDES_3KEY",
        Algorithm::Aes128 => "AES_128",
        Algorithm::Aes192 => "AES_192",
        Algorithm::Aes256 => "AES_256",
        _ => "DES",
    }
}
