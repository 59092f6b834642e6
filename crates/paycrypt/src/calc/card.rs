//! `calc cvv` and `calc track2`.

use clap::{Args, Subcommand};
use paycrypt_core::card::{luhn_valid, Track2};
use paycrypt_core::card_verification as cv;

use super::{key, verified, CalcError, CalcResult, Report};

/// CVV commands.
#[derive(Subcommand, Debug)]
pub enum CvvCommand {
    /// Generate a CVV/CVC (magnetic stripe, needs --service-code), CVV2/CVC2 or iCVV.
    Generate(CvvArgs),
    /// Verify a CVV/CVC, CVV2/CVC2 or iCVV (exit code 1 if it does not match).
    Verify(CvvVerifyArgs),
}

/// Which card verification value.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CvvKind {
    /// CVV / CVC on the magnetic stripe, with the card's service code.
    #[default]
    Cvv,
    /// CVV2 / CVC2 printed on the card (service code 000).
    Cvv2,
    /// iCVV / chip CVC in the chip's track 2 image (service code 999).
    Icvv,
}

/// Common arguments of the CVV commands.
#[derive(Args, Debug)]
pub struct CvvArgs {
    /// Card verification key KA‖KB, 16 bytes hex (TDES_2KEY).
    #[arg(long)]
    key: String,
    /// Primary account number, 12–19 digits.
    #[arg(long)]
    pan: String,
    /// Expiry date, 4 digits as the issuer encodes it (normally YYMM).
    #[arg(long)]
    expiry: String,
    /// Which value: cvv (needs --service-code), cvv2 (000) or icvv (999).
    #[arg(long = "type", value_enum, default_value_t = CvvKind::Cvv)]
    kind: CvvKind,
    /// Service code, 3 digits (for --type cvv).
    #[arg(long)]
    service_code: Option<String>,
    /// Number of digits to generate, 3–5.
    #[arg(long, default_value_t = cv::DEFAULT_VALIDATION_DATA_LENGTH)]
    length: usize,
}

/// Arguments of `calc cvv verify`.
#[derive(Args, Debug)]
pub struct CvvVerifyArgs {
    #[command(flatten)]
    common: CvvArgs,
    /// The value to verify, 3–5 digits.
    #[arg(long)]
    value: String,
}

fn service_code(a: &CvvArgs) -> CalcResult<&str> {
    match (a.kind, a.service_code.as_deref()) {
        (CvvKind::Cvv, Some(sc)) => Ok(sc),
        (CvvKind::Cvv, None) => Err(CalcError::Usage(
            "--service-code is required for --type cvv",
        )),
        (CvvKind::Cvv2, None) => Ok(cv::CVV2_SERVICE_CODE),
        (CvvKind::Icvv, None) => Ok(cv::ICVV_SERVICE_CODE),
        (_, Some(_)) => Err(CalcError::Usage(
            "--service-code applies to --type cvv only (cvv2 uses 000, icvv 999)",
        )),
    }
}

pub(crate) fn run_cvv(cmd: CvvCommand) -> CalcResult {
    match cmd {
        CvvCommand::Generate(a) => {
            let sc = service_code(&a)?;
            let k = cv::CvvKey::new(key("key", &a.key)?.expose())?;
            let v = cv::cvv(&k, &a.pan, &a.expiry, sc, a.length)?;
            let mut r = Report::new();
            r.add("service_code", sc);
            r.add(kind_label(a.kind), v);
            Ok(r)
        }
        CvvCommand::Verify(v) => {
            let a = &v.common;
            let sc = service_code(a)?;
            let k = cv::CvvKey::new(key("key", &a.key)?.expose())?;
            let mut r = Report::new();
            r.add("service_code", sc);
            verified(cv::verify_cvv(&k, &a.pan, &a.expiry, sc, &v.value), r)
        }
    }
}

fn kind_label(k: CvvKind) -> &'static str {
    match k {
        CvvKind::Cvv => "cvv",
        CvvKind::Cvv2 => "cvv2",
        CvvKind::Icvv => "icvv",
    }
}

/// Track 2 commands.
#[derive(Subcommand, Debug)]
pub enum Track2Command {
    /// Split track 2 (`;PAN=YYMMSSSDD…?`) or EMV tag 57 hex (`PAN D YYMM SSS DD… F`) into fields.
    Parse(Track2Args),
}

/// Arguments of `calc track2 parse`.
#[derive(Args, Debug)]
pub struct Track2Args {
    /// Track 2 data, e.g. `;4111111111111111=25121011234567890?` or `5123456789012345D35121010000000000000F`.
    track2: String,
}

pub(crate) fn run_track2(cmd: Track2Command) -> CalcResult {
    match cmd {
        Track2Command::Parse(a) => {
            let t = Track2::parse(&a.track2)?;
            let mut r = Report::new();
            r.add("pan", t.pan.as_str());
            r.add(
                "pan_luhn",
                if luhn_valid(t.pan.as_str()) {
                    "valid"
                } else {
                    "invalid"
                },
            );
            r.add("expiry", t.expiry.as_str());
            r.add("service_code", t.service_code.as_str());
            r.add("discretionary_data", t.discretionary.as_str());
            Ok(r)
        }
    }
}
