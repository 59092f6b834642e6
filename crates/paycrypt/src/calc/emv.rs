//! `calc arqc` and `calc arpc`: EMV application cryptograms.

use clap::{Args, Subcommand};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::emv::{self, AcPadding, MajorKeyDerivation, SessionKeyDerivation};
use paycrypt_core::secret::SecretBytes;

use super::{array, bytes, key, tdes_kcv, verified, CalcError, CalcResult, Report};

/// ICC master key derivation (EMV Book 2 A1.4).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Derivation {
    /// Option A: rightmost 16 digits of PAN ‖ PSN.
    #[default]
    OptionA,
    /// Option B: SHA-1 of PAN ‖ PSN for PANs longer than 16 digits (= option A otherwise).
    OptionB,
}

/// Session key derivation (the AWS `SessionKeyDerivation` modes).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Scheme {
    /// EMV common session key, R = ATC ‖ 00…00 (EMV Book 2 A1.3; Visa CVN 18/22, Mastercard CVN 20/21).
    Common,
    /// Mastercard SKD, R = ATC ‖ 0000 ‖ UN (Mastercard CVN 16/17, Interac); needs --un.
    Mastercard,
    /// Visa CVN 10: no session key, the ICC master key MACs directly (default padding method 1).
    Visa,
    /// EMV2000 tree (height 8, branch factor 4, IV zero).
    Emv2000,
}

/// Padding of the transaction data before the MAC.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Padding {
    /// None: the data is already padded to a multiple of 8 bytes (as AWS expects).
    None,
    /// ISO 9797-1 method 1 (zeros): Visa CVN 10.
    Method1,
    /// ISO 9797-1 method 2 (`80 00…`): EMV CSK, Visa CVN 18/22, Mastercard.
    Method2,
}

/// The EMV key chain: issuer master key → ICC master key → session key.
#[derive(Args, Debug)]
pub struct KeyChainArgs {
    /// Issuer master key for application cryptograms (MK-AC), 16 bytes hex.
    #[arg(long)]
    mk: String,
    /// Primary account number (digits).
    #[arg(long)]
    pan: String,
    /// PAN sequence number, 2 digits.
    #[arg(long, default_value = "00")]
    psn: String,
    /// ICC master key derivation.
    #[arg(long, value_enum, default_value_t = Derivation::OptionA)]
    derivation: Derivation,
    /// Session key derivation scheme.
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// Application transaction counter (tag 9F36), 2 bytes hex (not used by --scheme visa).
    #[arg(long)]
    atc: Option<String>,
    /// Unpredictable number (tag 9F37), 4 bytes hex (--scheme mastercard).
    #[arg(long)]
    un: Option<String>,
}

/// The derived keys of a [`KeyChainArgs`].
struct Keys {
    icc_mk: SecretBytes,
    session_key: SecretBytes,
}

impl KeyChainArgs {
    fn atc(&self) -> CalcResult<[u8; 2]> {
        let s = self.atc.as_deref().ok_or(CalcError::Usage(
            "--atc is required for --scheme common, mastercard and emv2000",
        ))?;
        array("atc", "2 bytes (4 hex digits)", s)
    }

    fn derive(&self) -> CalcResult<Keys> {
        let mk = key("mk", &self.mk)?;
        if mk.len() != 16 {
            return Err(paycrypt_core::Error::InvalidLength {
                field: "mk",
                expected: "16 bytes (double-length TDES key)",
                actual: mk.len(),
            }
            .into());
        }
        let major = match self.derivation {
            Derivation::OptionA => MajorKeyDerivation::OptionA,
            Derivation::OptionB => MajorKeyDerivation::OptionB,
        };
        let derivation = match self.scheme {
            Scheme::Common => SessionKeyDerivation::EmvCommon { atc: self.atc()? },
            Scheme::Emv2000 => SessionKeyDerivation::Emv2000 { atc: self.atc()? },
            Scheme::Visa => SessionKeyDerivation::Visa,
            Scheme::Mastercard => {
                let atc = self.atc()?;
                let un = self
                    .un
                    .as_deref()
                    .ok_or(CalcError::Usage("--un is required for --scheme mastercard"))?;
                SessionKeyDerivation::Mastercard {
                    atc,
                    unpredictable_number: array("un", "4 bytes (8 hex digits)", un)?,
                }
            }
        };
        if !matches!(self.scheme, Scheme::Mastercard) && self.un.is_some() {
            return Err(CalcError::Usage("--un applies to --scheme mastercard only"));
        }
        let cipher = BlockCipher::tdes(mk.expose())?;
        let icc_mk = emv::derive_icc_master_key(&cipher, major, &self.pan, &self.psn)?;
        let session_key = derivation.session_key(icc_mk.expose())?;
        Ok(Keys {
            icc_mk,
            session_key,
        })
    }

    fn report(&self, keys: &Keys) -> CalcResult<Report> {
        let mut r = Report::new();
        r.hex("icc_master_key", keys.icc_mk.expose());
        r.add("icc_master_key_kcv", tdes_kcv(keys.icc_mk.expose())?);
        r.hex("session_key", keys.session_key.expose());
        r.add("session_key_kcv", tdes_kcv(keys.session_key.expose())?);
        Ok(r)
    }

    fn default_padding(&self) -> AcPadding {
        match self.scheme {
            Scheme::Visa => AcPadding::Method1,
            _ => AcPadding::Method2,
        }
    }
}

/// ARQC commands.
#[derive(Subcommand, Debug)]
pub enum ArqcCommand {
    /// Generate an ARQC (also TC/AAC): ISO 9797-1 MAC algorithm 3 over the transaction data.
    Generate(ArqcArgs),
    /// Verify an ARQC (exit code 1 if it does not match).
    Verify(ArqcVerifyArgs),
}

/// Arguments of `calc arqc generate`.
#[derive(Args, Debug)]
pub struct ArqcArgs {
    #[command(flatten)]
    chain: KeyChainArgs,
    /// Transaction data (CDOL1 data etc.), hex.
    #[arg(long)]
    data: String,
    /// Padding of the data [default: method1 for --scheme visa, method2 otherwise].
    #[arg(long, value_enum)]
    padding: Option<Padding>,
}

/// Arguments of `calc arqc verify`.
#[derive(Args, Debug)]
pub struct ArqcVerifyArgs {
    #[command(flatten)]
    common: ArqcArgs,
    /// The ARQC to verify, 8 bytes hex.
    #[arg(long)]
    arqc: String,
}

fn padding(a: &ArqcArgs) -> AcPadding {
    match a.padding {
        Some(Padding::None) => AcPadding::None,
        Some(Padding::Method1) => AcPadding::Method1,
        Some(Padding::Method2) => AcPadding::Method2,
        None => a.chain.default_padding(),
    }
}

pub(crate) fn run_arqc(cmd: ArqcCommand) -> CalcResult {
    match cmd {
        ArqcCommand::Generate(a) => {
            let keys = a.chain.derive()?;
            let data = bytes("data", &a.data)?;
            let arqc = emv::generate_arqc(keys.session_key.expose(), &data, padding(&a))?;
            let mut r = a.chain.report(&keys)?;
            r.hex("arqc", &arqc);
            Ok(r)
        }
        ArqcCommand::Verify(v) => {
            let a = &v.common;
            let keys = a.chain.derive()?;
            let data = bytes("data", &a.data)?;
            let arqc = bytes("arqc", &v.arqc)?;
            let r = a.chain.report(&keys)?;
            verified(
                emv::verify_arqc(keys.session_key.expose(), &data, padding(a), &arqc),
                r,
            )
        }
    }
}

/// ARPC method.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ArpcMethod {
    /// Method 1: TDES(key)[ARQC ⊕ ARC ‖ 00…00], 8 bytes; needs --arc.
    #[value(name = "1")]
    One,
    /// Method 2: MAC over ARQC ‖ CSU ‖ proprietary data, 4 bytes; needs --csu.
    #[value(name = "2")]
    Two,
}

/// Which key computes the ARPC.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ArpcKey {
    /// The AC session key (CSK schemes, EMV Book 2).
    Session,
    /// The ICC master key (Visa CVN 10, Mastercard CVN 16/17).
    Icc,
}

/// Arguments of `calc arpc`.
#[derive(Args, Debug)]
pub struct ArpcArgs {
    #[command(flatten)]
    chain: KeyChainArgs,
    /// ARPC method (EMV Book 2 8.2.1 / 8.2.2).
    #[arg(long, value_enum)]
    method: ArpcMethod,
    /// The ARQC being answered, 8 bytes hex.
    #[arg(long)]
    arqc: String,
    /// Method 1: authorisation response code, 2 bytes hex (e.g. 3030 for "00").
    #[arg(long)]
    arc: Option<String>,
    /// Method 2: card status update, 4 bytes hex.
    #[arg(long)]
    csu: Option<String>,
    /// Method 2: proprietary authentication data, 0–8 bytes hex.
    #[arg(long, default_value = "")]
    prop: String,
    /// Key of the ARPC.
    #[arg(long, value_enum, default_value_t = ArpcKey::Session)]
    arpc_key: ArpcKey,
}

pub(crate) fn run_arpc(a: ArpcArgs) -> CalcResult {
    let keys = a.chain.derive()?;
    let arqc: [u8; 8] = array("arqc", "8 bytes (16 hex digits)", &a.arqc)?;
    let k = match a.arpc_key {
        ArpcKey::Session => keys.session_key.expose(),
        ArpcKey::Icc => keys.icc_mk.expose(),
    };
    let mut r = a.chain.report(&keys)?;
    match a.method {
        ArpcMethod::One => {
            if a.csu.is_some() || !a.prop.is_empty() {
                return Err(CalcError::Usage(
                    "--csu and --prop apply to --method 2 only",
                ));
            }
            let arc = a
                .arc
                .as_deref()
                .ok_or(CalcError::Usage("--arc is required for --method 1"))?;
            let arc: [u8; 2] = array("arc", "2 bytes (4 hex digits)", arc)?;
            r.hex("arpc", &emv::arpc_method1(k, &arqc, &arc)?);
        }
        ArpcMethod::Two => {
            if a.arc.is_some() {
                return Err(CalcError::Usage("--arc applies to --method 1 only"));
            }
            let csu = a
                .csu
                .as_deref()
                .ok_or(CalcError::Usage("--csu is required for --method 2"))?;
            let csu: [u8; 4] = array("csu", "4 bytes (8 hex digits)", csu)?;
            let prop = bytes("prop", &a.prop)?;
            r.hex("arpc", &emv::arpc_method2(k, &arqc, &csu, &prop)?);
        }
    }
    Ok(r)
}
