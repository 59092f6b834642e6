//! `paycrypt bench`: a closed-loop HTTP load generator for a running paycrypt server.
//!
//! * **Set-up** (blocking, through the control plane): the keys the workload needs are imported
//!   with KNOWN values — a KEK by RSA-OAEP key cryptogram (`GetParametersForImport` →
//!   RSA-OAEP-SHA-256 to the certificate's public key → `ImportKey`), then the working keys as
//!   TR-31 blocks under it — so that every request can be made valid
//!   here with paycrypt-core: PIN blocks that decrypt under the DUKPT PIN key of their KSN, PVVs,
//!   CVV2s and ARQCs that verify, DUKPT ciphertexts.
//! * **Pre-signing**: `--pool` distinct requests per operation are built, SigV4-signed
//!   ([`paycrypt_server::auth::sign_request`]) and serialised to bytes ONCE, then replayed
//!   round-robin, so signing costs nothing during the measurement. This works because the
//!   server has no replay protection beyond the SigV4 clock-skew window (15 minutes): a signed
//!   request stays valid for that long, which is why a run is limited to 10 minutes.
//! * **Load**: `--connections` HTTP/1.1 keep-alive connections (tokio, one task each), each
//!   sending its next request as soon as the previous answer is read (closed loop), for
//!   `--duration` seconds (after `--warmup` seconds whose results are discarded) or for
//!   `--requests` requests. Latency = time from writing the request to reading the whole
//!   answer, recorded in HDR histograms (`hdrhistogram`, 3 significant digits).
//! * **Open loop** (`--rate R`): instead of closed loop, each connection sends on a fixed
//!   schedule (R/connections requests per second, staggered), and latency is measured from the
//!   SCHEDULED send time, not the actual one, so a stalled server is charged for the requests
//!   it delayed (no coordinated omission). Requests scheduled before the end are all sent; a
//!   request unanswered after `--timeout` counts as an error `timeout`.
//! * **Time series and server memory**: `--interval S` adds per-interval requests, errors and
//!   p50/p99; `--server-pid P` samples the server's VmRSS (`/proc/P/status`) every 250 ms and
//!   reports start/end/max and the growth.
//! * **Report**: requests, duration, throughput, latency p50/p90/p99/p99.9/max (overall and per
//!   operation), errors by code. Any non-200 answer or transport failure counts as an error;
//!   a run with errors says so and exits with status 1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use hdrhistogram::Histogram;
use paycrypt_core::card::Pan;
use paycrypt_core::card_verification::{cvv2, CvvKey};
use paycrypt_core::cipher::{BlockCipher, Mode};
use paycrypt_core::dukpt::{tdes, DukptKeyVariant};
use paycrypt_core::emv::{self, AcPadding};
use paycrypt_core::hex;
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm, KeyUsage, ModeOfUse, Tr31Header, Version,
};
use paycrypt_core::pin_verification::visa_pvv;
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use paycrypt_server::auth::{format_amz_date, sign_request, uri_encode, ClientRequest, SERVICE};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use x509_cert::der::{DecodePem, Encode};

use crate::calc::OutputFormat;
use crate::client::{Client, ClientError};
use crate::ops::ClientOpts;

/// Longest run: the pre-signed requests must stay inside the server's 15-minute skew window.
const MAX_RUN_SECS: f64 = 600.0;
/// Distinct DUKPT devices (initial-key IDs) the DUKPT requests are spread over.
const DUKPT_DEVICES: usize = 32;
/// Histogram shards per operation (connections record into shard `conn % SHARDS`).
const SHARDS: usize = 4;
/// Largest response accepted.
const MAX_RESPONSE: usize = 1 << 20;

// Known key values (test keys, never secrets of anyone).
const KEK: &str = "89ABCDEF0123456776543210FEDCBA98";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const ZPK: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const CVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const MK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
const MAC_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";

/// The operations `paycrypt bench` can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    /// TranslatePinData: TDES DUKPT ISO 0 → TDES ZPK ISO 0.
    TranslatePin,
    /// VerifyPinData: Visa PVV, ISO 0 PIN block under a ZPK.
    VerifyPin,
    /// VerifyAuthRequestCryptogram: EMV option A, common session key, ARPC method 1.
    VerifyArqc,
    /// DecryptData: TDES DUKPT data key (request variant), CBC.
    DecryptDukpt,
    /// GenerateMac: ISO 9797-1 algorithm 3 (retail MAC) over 64 bytes.
    GenerateMac,
    /// VerifyCardValidationData: CVV2.
    VerifyCvv2,
}

const ALL_OPS: [Op; 6] = [
    Op::TranslatePin,
    Op::VerifyPin,
    Op::VerifyArqc,
    Op::DecryptDukpt,
    Op::GenerateMac,
    Op::VerifyCvv2,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::TranslatePin => "translate-pin",
            Self::VerifyPin => "verify-pin",
            Self::VerifyArqc => "verify-arqc",
            Self::DecryptDukpt => "decrypt-dukpt",
            Self::GenerateMac => "generate-mac",
            Self::VerifyCvv2 => "verify-cvv2",
        }
    }

    fn aws_name(self) -> &'static str {
        match self {
            Self::TranslatePin => "TranslatePinData",
            Self::VerifyPin => "VerifyPinData",
            Self::VerifyArqc => "VerifyAuthRequestCryptogram",
            Self::DecryptDukpt => "DecryptData",
            Self::GenerateMac => "GenerateMac",
            Self::VerifyCvv2 => "VerifyCardValidationData",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        ALL_OPS.into_iter().find(|o| o.name() == s)
    }
}

/// Arguments of `paycrypt bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    client: ClientOpts,
    /// Workload: comma-separated `OP[:WEIGHT]` with OP one of translate-pin, verify-pin,
    /// verify-arqc, decrypt-dukpt, generate-mac, verify-cvv2; or `mixed` (all six, weight 1).
    #[arg(long, default_value = "translate-pin")]
    mix: String,
    /// Concurrent HTTP/1.1 keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured duration in seconds (ignored with --requests).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many measured requests instead of after --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Warm-up seconds before the measurement (results discarded).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Distinct pre-signed requests per operation, replayed round-robin.
    #[arg(long, default_value_t = 512)]
    pool: usize,
    /// Load-generator threads (the server usually runs on the same machine: keep this small).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Spread requests over N keys seeded with `paycrypt admin seed-keys` (0 = off): generate-mac
    /// uses seeded `mac` keys, translate-pin seeded `pin` keys as its outgoing ZPK. Request j
    /// uses key (j * 2654435761) mod N, so --pool distinct requests reach min(--pool, N) keys.
    #[arg(long, default_value_t = 0)]
    spread_keys: u64,
    /// The --seed the keys were seeded with.
    #[arg(long, default_value_t = 1)]
    spread_seed: u32,
    /// Open loop: send at this fixed total rate (requests/s, spread over the connections);
    /// latency is measured from each request's scheduled send time.
    #[arg(long)]
    rate: Option<f64>,
    /// Per-request timeout in seconds (open loop); an unanswered request counts as `timeout`.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Report requests, errors and p50/p99 per interval of this many seconds (>= 1).
    #[arg(long)]
    interval: Option<f64>,
    /// Sample this server process's resident memory (VmRSS, Linux /proc) during the run.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// One pre-serialised, signed HTTP request.
#[derive(Debug)]
struct Prepared {
    op: usize,
    bytes: Vec<u8>,
}

/// Shared measurement state.
#[derive(Debug)]
struct Shared {
    requests: Arc<Vec<Prepared>>,
    /// `[op * SHARDS + shard]`.
    hist: Vec<Mutex<Histogram<u64>>>,
    /// Per op: measured requests and errors.
    counts: Vec<AtomicU64>,
    errors_per_op: Vec<AtomicU64>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Measured requests left (request-count mode).
    remaining: Option<AtomicU64>,
    measure_start: Instant,
    deadline: Option<Instant>,
    last_done: Mutex<Instant>,
    /// `--interval` time series (None without it).
    series: Option<Series>,
}

/// Run `paycrypt bench`.
pub fn run(args: BenchArgs, output: OutputFormat) -> ExitCode {
    match run_inner(&args, output) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn usage(m: impl Into<String>) -> ClientError {
    ClientError::Usage(m.into())
}

fn parse_mix(s: &str) -> Result<Vec<(Op, usize)>, ClientError> {
    if s == "mixed" {
        return Ok(ALL_OPS.iter().map(|&o| (o, 1)).collect());
    }
    let mut out: Vec<(Op, usize)> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = match part.split_once(':') {
            Some((n, w)) => (
                n,
                w.parse::<usize>()
                    .ok()
                    .filter(|w| (1..=100).contains(w))
                    .ok_or_else(|| usage(format!("--mix: weight of {n} must be 1..100")))?,
            ),
            None => (part, 1),
        };
        let op = Op::parse(name).ok_or_else(|| {
            usage(format!(
                "--mix: unknown operation {name:?} (one of {}, or mixed)",
                ALL_OPS.map(Op::name).join(", ")
            ))
        })?;
        if out.iter().any(|(o, _)| *o == op) {
            return Err(usage(format!("--mix: {name} given twice")));
        }
        out.push((op, w));
    }
    if out.is_empty() {
        return Err(usage("--mix: no operation"));
    }
    Ok(out)
}

fn run_inner(args: &BenchArgs, output: OutputFormat) -> Result<ExitCode, ClientError> {
    let mix = parse_mix(&args.mix)?;
    if !(1..=4096).contains(&args.connections) {
        return Err(usage("--connections must be 1..4096"));
    }
    if !(1..=100_000).contains(&args.pool) {
        return Err(usage("--pool must be 1..100000"));
    }
    if !(1..=64).contains(&args.threads) {
        return Err(usage("--threads must be 1..64"));
    }
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    if !finite(args.warmup) || !finite(args.duration) || args.warmup + args.duration > MAX_RUN_SECS
    {
        return Err(usage(format!(
            "--warmup + --duration must be at most {MAX_RUN_SECS} s (pre-signed requests expire after the 15-minute SigV4 skew window)"
        )));
    }
    if args.requests.is_none() && args.duration <= 0.0 {
        return Err(usage("--duration must be > 0"));
    }
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0 && r <= 1e7) {
            return Err(usage("--rate must be > 0 (requests per second)"));
        }
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        return Err(usage("--timeout must be in (0, 600] seconds"));
    }
    if let Some(i) = args.interval {
        if !(i.is_finite() && (1.0..=MAX_RUN_SECS).contains(&i)) {
            return Err(usage("--interval must be 1..600 seconds"));
        }
    }
    if let Some(pid) = args.server_pid {
        if rss_kib(pid).is_none() {
            return Err(usage(format!(
                "--server-pid {pid}: cannot read VmRSS from /proc/{pid}/status"
            )));
        }
    }
    let client = args.client.client()?;
    let endpoint = client.endpoint().clone();
    if endpoint.tls {
        return Err(usage("paycrypt bench drives plain http:// endpoints only"));
    }

    let t0 = Instant::now();
    eprintln!("bench: importing keys through the control plane…");
    let mut keys = Keys::import(&client, &mix)?;
    keys.spread(args.spread_keys, args.spread_seed)?;
    eprintln!(
        "bench: keys ready in {:.1} s; pre-signing {} requests…",
        t0.elapsed().as_secs_f64(),
        args.pool * mix.len()
    );
    let requests = Arc::new(prepare(&client, &keys, &mix, args.pool)?);

    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|e| ClientError::Transport(format!("cannot start the runtime: {e}")))?;

    let addr = format!("{}:{}", endpoint.host, endpoint.port);
    let report = rt.block_on(drive(args, &mix, requests, &addr))?;
    print_report(&report, output);
    if report.errors > 0 {
        eprintln!(
            "bench: WARNING: {} of {} requests failed (see errors); the figures include them",
            report.errors, report.requests
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- set-up

#[derive(Debug, Default)]
struct Keys {
    bdk: String,
    zpk: String,
    pvk: String,
    cvk: String,
    mk_ac: String,
    mac: String,
    /// `--spread-keys`: ARN prefix (`…:key/`), key count, seed.
    spread: Option<(String, u64, u32)>,
}

impl Keys {
    fn spread(&mut self, n: u64, seed: u32) -> Result<(), ClientError> {
        if n == 0 {
            return Ok(());
        }
        let any = [&self.mac, &self.zpk, &self.bdk]
            .into_iter()
            .find(|a| !a.is_empty())
            .cloned()
            .unwrap_or_default();
        let prefix = any
            .rfind('/')
            .map(|i| any[..=i].to_owned())
            .ok_or_else(|| usage("--spread-keys: cannot derive the ARN prefix"))?;
        if n > paycrypt_keystore::seed::MAX_SEED_INDEX || seed > paycrypt_keystore::seed::MAX_SEED {
            return Err(usage("--spread-keys / --spread-seed out of range"));
        }
        self.spread = Some((prefix, n, seed));
        Ok(())
    }

    /// The seeded key of `kind` for request `j`, or `default`.
    fn spread_key(
        &self,
        kind: paycrypt_keystore::seed::SeedKind,
        j: usize,
        default: &str,
    ) -> String {
        match &self.spread {
            Some((prefix, n, seed)) => {
                let index = (j as u64).wrapping_mul(2_654_435_761) % n;
                let id =
                    paycrypt_keystore::seed::seed_key_id(kind, *seed, index).unwrap_or_default();
                format!("{prefix}{id}")
            }
            None => default.to_owned(),
        }
    }
}

/// Import the KEK (`KEK`, TDES_2KEY, TR31_K0) by RSA-OAEP key cryptogram: one
/// `GetParametersForImport` (import tokens are single-use), then every working key comes as
/// a TR-31 block under it — one RSA key generation on the server instead of one per key.
fn import_kek(client: &Client) -> Result<String, ClientError> {
    let p = client.call(
        "GetParametersForImport",
        &json!({"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}),
    )?;
    let bad = |m: &str| ClientError::Transport(format!("GetParametersForImport: {m}"));
    let cert_b64 = p
        .get("WrappingKeyCertificate")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no WrappingKeyCertificate"))?;
    let token = p
        .get("ImportToken")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no ImportToken"))?;
    let pem = Base64::decode_vec(cert_b64).map_err(|_| bad("certificate is not base64"))?;
    let cert = x509_cert::Certificate::from_pem(&pem).map_err(|_| bad("bad certificate"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| bad("bad public key"))?;
    let key = hex::decode("key", KEK).map_err(core_err)?;
    let wrapped = paycrypt_core::asym::rsa_encrypt(
        &spki,
        paycrypt_core::asym::RsaPadding::OaepSha256,
        &key,
        None,
    )
    .map_err(|_| bad("RSA-OAEP encryption failed"))?;
    let r = client.call(
        "ImportKey",
        &json!({"KeyMaterial": {"KeyCryptogram": {
            "KeyAttributes": {
                "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                "KeyClass": "SYMMETRIC_KEY",
                "KeyAlgorithm": "TDES_2KEY",
                "KeyModesOfUse": {"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true},
            },
            "Exportable": false,
            "WrappedKeyCryptogram": hex::encode(&wrapped),
            "ImportToken": token,
            "WrappingSpec": "RSA_OAEP_SHA_256",
        }}}),
    )?;
    key_arn(&r)
}

fn key_arn(r: &Value) -> Result<String, ClientError> {
    r.pointer("/Key/KeyArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Transport("ImportKey: no Key.KeyArn".into()))
}

/// Import `key_hex` (TDES_2KEY) as a TR-31 version B block under the KEK.
fn import_tr31(
    client: &Client,
    kek_arn: &str,
    usage_code: &str,
    mode: &str,
    key_hex: &str,
) -> Result<String, ClientError> {
    let kek = hex::decode("kek", KEK).map_err(core_err)?;
    let key = hex::decode("key", key_hex).map_err(core_err)?;
    let code = |e: paycrypt_core::keyblock::KeyBlockError| usage(format!("TR-31 header: {e}"));
    let header = Tr31Header::new(
        Version::B,
        KeyUsage::from_code(usage_code).map_err(code)?,
        KeyAlgorithm::from_code("T").map_err(code)?,
        ModeOfUse::from_code(mode).map_err(code)?,
        Exportability::from_code("N").map_err(code)?,
    );
    let block = tr31::wrap(Kbpk::tdes(&kek).map_err(core_err)?, &header, &key).map_err(core_err)?;
    let r = client.call(
        "ImportKey",
        &json!({"KeyMaterial": {"Tr31KeyBlock": {
            "WrappingKeyIdentifier": kek_arn,
            "WrappedKeyBlock": block,
        }}}),
    )?;
    key_arn(&r)
}

impl Keys {
    fn import(client: &Client, mix: &[(Op, usize)]) -> Result<Self, ClientError> {
        let has = |o: Op| mix.iter().any(|(m, _)| *m == o);
        let kek = import_kek(client)?;
        let imp = |usage_code: &str, mode: &str, key: &str| {
            import_tr31(client, &kek, usage_code, mode, key)
        };
        let mut k = Self::default();
        if has(Op::TranslatePin) || has(Op::DecryptDukpt) {
            k.bdk = imp("B0", "X", BDK)?;
        }
        if has(Op::TranslatePin) || has(Op::VerifyPin) {
            k.zpk = imp("P0", "B", ZPK)?;
        }
        if has(Op::VerifyPin) {
            k.pvk = imp("V2", "C", PVK)?;
        }
        if has(Op::VerifyCvv2) {
            k.cvk = imp("C0", "C", CVK)?;
        }
        if has(Op::VerifyArqc) {
            k.mk_ac = imp("E0", "X", MK_AC)?;
        }
        if has(Op::GenerateMac) {
            k.mac = imp("M3", "C", MAC_KEY)?;
        }
        Ok(k)
    }
}

// ---------------------------------------------------------------- request bodies

/// A 16-digit PAN with a valid Luhn check digit, distinct per `j`.
fn pan_for(j: usize) -> String {
    let body = format!("411111{:09}", j % 1_000_000_000);
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn pin_for(j: usize) -> String {
    format!("{:04}", (j * 7919 + 1234) % 10_000)
}

/// KSN of DUKPT request `j`: device `j % DUKPT_DEVICES`, counter `j / DUKPT_DEVICES + 1`.
fn ksn_for(j: usize) -> Result<tdes::Ksn, paycrypt_core::Error> {
    let mut b = [0xFF, 0xFF, 0x98, 0x76, 0x54, 0x32, 0x10, 0xE0, 0x00, 0x00];
    b[6] = u8::try_from(j % DUKPT_DEVICES).unwrap_or(0);
    let counter = u32::try_from(j / DUKPT_DEVICES + 1).unwrap_or(1);
    tdes::Ksn::new(&b)?.with_counter(counter)
}

fn core_err(e: paycrypt_core::Error) -> ClientError {
    ClientError::Usage(format!("cannot build a request: {e}"))
}

/// The path and JSON body of request `j` of `op`.
fn request_for(op: Op, keys: &Keys, j: usize) -> Result<(String, Value), paycrypt_core::Error> {
    let pan_s = pan_for(j);
    let pan = Pan::new(&pan_s)?;
    let pin = Pin::new(&pin_for(j))?;
    Ok(match op {
        Op::TranslatePin => {
            let ksn = ksn_for(j)?;
            let ipek = tdes::derive_ipek(&hex::decode("bdk", BDK)?, &ksn)?;
            let clear = pinblock::encode_clear(PinBlockFormat::Iso0, &pin, Some(&pan))?;
            let mut c8 = [0u8; 8];
            c8.copy_from_slice(clear.expose());
            let block = tdes::encrypt_pin_block(ipek.expose(), &ksn, &c8)?;
            c8.fill(0);
            (
                "/pindata/translate".into(),
                json!({
                    "IncomingKeyIdentifier": keys.bdk,
                    "OutgoingKeyIdentifier": keys.spread_key(paycrypt_keystore::seed::SeedKind::Pin, j, &keys.zpk),
                    "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": pan_s}},
                    "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": pan_s}},
                    "EncryptedPinBlock": hex::encode(&block),
                    "IncomingDukptAttributes": {
                        "KeySerialNumber": hex::encode(ksn.as_bytes()),
                        "DukptKeyDerivationType": "TDES_2KEY",
                    },
                }),
            )
        }
        Op::VerifyPin => {
            let zpk = BlockCipher::tdes(&hex::decode("zpk", ZPK)?)?;
            let block = pinblock::encrypt_pin_block(&zpk, PinBlockFormat::Iso0, &pin, Some(&pan))?;
            let pvk = BlockCipher::tdes(&hex::decode("pvk", PVK)?)?;
            let pvv = visa_pvv(&pvk, &pan, 1, &pin)?;
            (
                "/pindata/verify".into(),
                json!({
                    "VerificationKeyIdentifier": keys.pvk,
                    "EncryptionKeyIdentifier": keys.zpk,
                    "EncryptedPinBlock": hex::encode(&block),
                    "PrimaryAccountNumber": pan_s,
                    "PinBlockFormat": "ISO_FORMAT_0",
                    "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
                }),
            )
        }
        Op::VerifyArqc => {
            let psn = "01";
            let atc = u16::try_from(j % 65_535 + 1).unwrap_or(1).to_be_bytes();
            let mut data = hex::decode(
                "data",
                "000000001000000000000000084000000000000840230101005DA25C3C0000423C00",
            )?;
            data[4] = (j % 256) as u8;
            data.push(0x80);
            while data.len() % 8 != 0 {
                data.push(0);
            }
            let mk = BlockCipher::tdes(&hex::decode("mk", MK_AC)?)?;
            let icc = emv::derive_icc_master_key_option_a(&mk, &pan_s, psn)?;
            let sk =
                emv::derive_common_session_key(icc.expose(), &[atc[0], atc[1], 0, 0, 0, 0, 0, 0])?;
            let arqc = emv::generate_arqc(sk.expose(), &data, AcPadding::None)?;
            (
                "/cryptogram/verify".into(),
                json!({
                    "KeyIdentifier": keys.mk_ac,
                    "TransactionData": hex::encode(&data),
                    "AuthRequestCryptogram": hex::encode(&arqc),
                    "MajorKeyDerivationMode": "EMV_OPTION_A",
                    "SessionKeyDerivationAttributes": {"EmvCommon": {
                        "PrimaryAccountNumber": pan_s,
                        "PanSequenceNumber": psn,
                        "ApplicationTransactionCounter": hex::encode(&atc),
                    }},
                    "AuthResponseAttributes": {"ArpcMethod1": {"AuthResponseCode": "3030"}},
                }),
            )
        }
        Op::DecryptDukpt => {
            let ksn = ksn_for(j)?;
            let ipek = tdes::derive_ipek(&hex::decode("bdk", BDK)?, &ksn)?;
            let plain = format!(";{pan_s}=2812101123456789?   ");
            let mut p = plain.into_bytes();
            p.resize(40, b' ');
            let ct = tdes::encrypt_data(
                ipek.expose(),
                &ksn,
                DukptKeyVariant::Bidirectional,
                Mode::Cbc,
                &[0u8; 8],
                &p,
            )?;
            (
                format!("/keys/{}/decrypt", uri_encode(keys.bdk.as_bytes(), true)),
                json!({
                    "CipherText": hex::encode(&ct),
                    "DecryptionAttributes": {"Dukpt": {
                        "KeySerialNumber": hex::encode(ksn.as_bytes()),
                        "DukptKeyDerivationType": "TDES_2KEY",
                    }},
                }),
            )
        }
        Op::GenerateMac => {
            let msg: Vec<u8> = (0..64).map(|i| ((i * 31 + j) % 256) as u8).collect();
            (
                "/mac/generate".into(),
                json!({
                    "KeyIdentifier": keys.spread_key(paycrypt_keystore::seed::SeedKind::Mac, j, &keys.mac),
                    "MessageData": hex::encode(&msg),
                    "GenerationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"},
                }),
            )
        }
        Op::VerifyCvv2 => {
            let expiry = format!("{:02}{:02}", j % 12 + 1, 28 + j % 5);
            let cvk = CvvKey::new(&hex::decode("cvk", CVK)?)?;
            let v = cvv2(&cvk, &pan_s, &expiry, 3)?;
            (
                "/cardvalidationdata/verify".into(),
                json!({
                    "KeyIdentifier": keys.cvk,
                    "PrimaryAccountNumber": pan_s,
                    "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": expiry}},
                    "ValidationData": v,
                }),
            )
        }
    })
}

/// Build, sign and serialise every request; interleaved by weight so that walking the list
/// round-robin follows the mix.
fn prepare(
    client: &Client,
    keys: &Keys,
    mix: &[(Op, usize)],
    pool: usize,
) -> Result<Vec<Prepared>, ClientError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let amz_date = format_amz_date(i64::try_from(now).unwrap_or(0));
    let authority = client.endpoint().authority.clone();
    let mut out = Vec::with_capacity(pool * mix.iter().map(|m| m.1).sum::<usize>());
    let mut next = vec![0usize; mix.len()];
    for _ in 0..pool {
        for (i, &(op, w)) in mix.iter().enumerate() {
            for _ in 0..w {
                let j = next[i] % pool;
                next[i] += 1;
                let (path, body) = request_for(op, keys, j).map_err(core_err)?;
                let body = serde_json::to_vec(&body)
                    .map_err(|e| usage(format!("cannot encode a request: {e}")))?;
                out.push(Prepared {
                    op: i,
                    bytes: serialise(client, &authority, &amz_date, &path, &body)?,
                });
            }
        }
    }
    Ok(out)
}

fn serialise(
    client: &Client,
    authority: &str,
    amz_date: &str,
    path: &str,
    body: &[u8],
) -> Result<Vec<u8>, ClientError> {
    let content_type = "application/json";
    let headers = [
        ("content-type", content_type),
        ("host", authority),
        ("x-amz-date", amz_date),
    ];
    let auth = sign_request(
        &ClientRequest {
            method: "POST",
            raw_path: path,
            raw_query: "",
            headers: &headers,
            body,
        },
        client.credentials(),
        client.region(),
        SERVICE,
        amz_date,
    )
    .map_err(|e| usage(format!("cannot sign a request: {e}")))?;
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    Ok(req)
}

// ---------------------------------------------------------------- load

async fn drive(
    args: &BenchArgs,
    mix: &[(Op, usize)],
    requests: Arc<Vec<Prepared>>,
    addr: &str,
) -> Result<Report, ClientError> {
    // Connect everything first so that connection set-up is not measured.
    let mut streams = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let s = TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Transport(format!("cannot connect to {addr}: {e}")))?;
        let _ = s.set_nodelay(true);
        streams.push(s);
    }
    let warmup = Duration::from_secs_f64(args.warmup);
    let measure_start = Instant::now() + warmup;
    let deadline = match args.requests {
        Some(_) => None,
        None => Some(measure_start + Duration::from_secs_f64(args.duration)),
    };
    let mut hist = Vec::with_capacity(mix.len() * SHARDS);
    for _ in 0..mix.len() * SHARDS {
        let h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
            .map_err(|e| usage(format!("histogram: {e}")))?;
        hist.push(Mutex::new(h));
    }
    let shared = Arc::new(Shared {
        requests,
        hist,
        counts: (0..mix.len()).map(|_| AtomicU64::new(0)).collect(),
        errors_per_op: (0..mix.len()).map(|_| AtomicU64::new(0)).collect(),
        errors: Mutex::new(BTreeMap::new()),
        remaining: args.requests.map(AtomicU64::new),
        measure_start,
        deadline,
        last_done: Mutex::new(measure_start),
        series: args
            .interval
            .map(|i| Series::new(Duration::from_secs_f64(i))),
    });
    let sampler = args.server_pid.map(|pid| {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = tokio::spawn(sample_rss(
            pid,
            measure_start,
            Arc::clone(&stop),
            Arc::clone(&shared),
        ));
        (stop, handle)
    });
    let n = shared.requests.len();
    let mut tasks = Vec::with_capacity(args.connections);
    let t0 = Instant::now();
    for (c, s) in streams.into_iter().enumerate() {
        let sh = Arc::clone(&shared);
        let start = c * n / args.connections.max(1);
        let addr = addr.to_owned();
        match args.rate {
            Some(rate) => {
                let conns = args.connections as f64;
                let sched = Schedule {
                    t0,
                    period: conns / rate,
                    offset: c as f64 / rate,
                    timeout: Duration::from_secs_f64(args.timeout),
                };
                tasks.push(tokio::spawn(worker_open(sh, s, addr, c, start, sched)));
            }
            None => tasks.push(tokio::spawn(worker(sh, s, addr, c, start))),
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let end = *shared
        .last_done
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let elapsed = end.saturating_duration_since(measure_start);
    let rss = match sampler {
        Some((stop, handle)) => {
            stop.store(true, Ordering::Relaxed);
            handle.await.ok()
        }
        None => None,
    };
    let mut report = Report::build(args, mix, &shared, elapsed);
    report.extra = extra_report(args, &shared, rss);
    Ok(report)
}

fn record_error(sh: &Shared, op: usize, code: String) {
    sh.errors_per_op[op].fetch_add(1, Ordering::Relaxed);
    *sh.errors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(code)
        .or_insert(0) += 1;
}

async fn worker(sh: Arc<Shared>, mut stream: TcpStream, addr: String, conn: usize, start: usize) {
    let n = sh.requests.len();
    let mut i = start;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let now = Instant::now();
        let measured = now >= sh.measure_start;
        if let Some(d) = sh.deadline {
            if now >= d {
                break;
            }
        }
        if measured {
            if let Some(rem) = &sh.remaining {
                if rem
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
                    .is_err()
                {
                    break;
                }
            }
        }
        let req = &sh.requests[i % n];
        i = i.wrapping_add(1);
        let t = Instant::now();
        let result = exchange(&mut stream, &req.bytes, &mut buf).await;
        let done = Instant::now();
        if !measured {
            if result.is_err() {
                if let Ok(s) = TcpStream::connect(&addr).await {
                    let _ = s.set_nodelay(true);
                    stream = s;
                }
            }
            continue;
        }
        let nanos = u64::try_from((done - t).as_nanos()).unwrap_or(u64::MAX);
        record_interval(&sh, done, nanos, matches!(result, Ok((200, _))));
        sh.counts[req.op].fetch_add(1, Ordering::Relaxed);
        {
            let mut h = sh.hist[req.op * SHARDS + conn % SHARDS]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            h.saturating_record(nanos);
        }
        {
            let mut l = sh.last_done.lock().unwrap_or_else(PoisonError::into_inner);
            if done > *l {
                *l = done;
            }
        }
        match result {
            Ok((200, _)) => {}
            Ok((status, body)) => record_error(&sh, req.op, error_code(status, &body)),
            Err(e) => {
                record_error(&sh, req.op, format!("transport: {}", e.kind()));
                match TcpStream::connect(&addr).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        stream = s;
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }
}

/// The AWS error code of an error answer (`__type` without namespace), else `HTTP <status>`.
fn error_code(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("__type")
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        })
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// Write one request and read one `Content-Length` answer; returns the status and body.
async fn exchange(
    stream: &mut TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.write_all(req).await?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head_end) = find_head_end(buf) {
            let (status, len) = parse_head(&buf[..head_end])?;
            let total = head_end + len;
            while buf.len() < total {
                let k = stream.read(&mut chunk).await?;
                if k == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..k]);
            }
            let body = if status == 200 {
                Vec::new()
            } else {
                buf[head_end..total].to_vec()
            };
            return Ok((status, body));
        }
        if buf.len() > 64 * 1024 {
            return Err(invalid("HTTP head too large"));
        }
        let k = stream.read(&mut chunk).await?;
        if k == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..k]);
    }
}

fn invalid(m: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned())
}

/// Index just past `\r\n\r\n`, if the head is complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Status code and Content-Length of a response head.
fn parse_head(head: &[u8]) -> std::io::Result<(u16, usize)> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("HTTP head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(invalid("malformed HTTP status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP/1.x response"));
    }
    let status: u16 = code.parse().map_err(|_| invalid("malformed HTTP status"))?;
    let mut length = None;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| invalid("bad Content-Length"))?,
                );
            } else if k.trim().eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid(
                    "chunked answers are not supported by the bench client",
                ));
            }
        }
    }
    let length = length.ok_or_else(|| invalid("answer without Content-Length"))?;
    if length > MAX_RESPONSE {
        return Err(invalid("answer too large"));
    }
    Ok((status, length))
}

// ---------------------------------------------------------------- report

#[derive(Debug)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

impl Latency {
    /// Percentiles in milliseconds.
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1e6;
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }

    fn json(&self) -> Value {
        json!({"p50": self.p50, "p90": self.p90, "p99": self.p99, "p99_9": self.p999, "max": self.max, "mean": self.mean})
    }
}

#[derive(Debug)]
struct OpReport {
    op: Op,
    requests: u64,
    errors: u64,
    latency: Latency,
}

#[derive(Debug)]
struct Report {
    mix: String,
    connections: usize,
    threads: usize,
    requests: u64,
    errors: u64,
    seconds: f64,
    throughput: f64,
    latency: Latency,
    per_op: Vec<OpReport>,
    errors_by_code: BTreeMap<String, u64>,
    /// `--rate` / `--interval` / `--server-pid` figures (a JSON object, or null).
    extra: Value,
}

impl Report {
    fn build(args: &BenchArgs, mix: &[(Op, usize)], sh: &Shared, elapsed: Duration) -> Self {
        let lock = |i: usize| {
            sh.hist[i]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        // `mix` is never empty, so shard 0 exists.
        let mut all = Histogram::<u64>::new_from(&lock(0));
        let mut per_op = Vec::new();
        for (i, &(op, _)) in mix.iter().enumerate() {
            let mut h = lock(i * SHARDS);
            for s in 1..SHARDS {
                let _ = h.add(lock(i * SHARDS + s));
            }
            let _ = all.add(&h);
            per_op.push(OpReport {
                op,
                requests: sh.counts[i].load(Ordering::Relaxed),
                errors: sh.errors_per_op[i].load(Ordering::Relaxed),
                latency: Latency::of(&h),
            });
        }
        let requests: u64 = per_op.iter().map(|o| o.requests).sum();
        let errors: u64 = per_op.iter().map(|o| o.errors).sum();
        let seconds = elapsed.as_secs_f64();
        Self {
            mix: mix
                .iter()
                .map(|(o, w)| format!("{}:{w}", o.name()))
                .collect::<Vec<_>>()
                .join(","),
            connections: args.connections,
            threads: args.threads,
            requests,
            errors,
            seconds,
            throughput: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            latency: Latency::of(&all),
            per_op,
            errors_by_code: sh
                .errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            extra: Value::Null,
        }
    }
}

fn print_report(r: &Report, output: OutputFormat) {
    match output {
        OutputFormat::Json => {
            let v = json!({
                "mix": r.mix,
                "connections": r.connections,
                "threads": r.threads,
                "requests": r.requests,
                "errors": r.errors,
                "duration_s": r.seconds,
                "throughput_rps": r.throughput,
                "latency_ms": r.latency.json(),
                "operations": r.per_op.iter().map(|o| json!({
                    "operation": o.op.aws_name(),
                    "requests": o.requests,
                    "errors": o.errors,
                    "latency_ms": o.latency.json(),
                })).collect::<Vec<_>>(),
                "errors_by_code": r.errors_by_code,
            });
            let mut v = v;
            if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), &r.extra) {
                for (k, x) in extra {
                    obj.insert(k.clone(), x.clone());
                }
            }
            println!("{v}");
        }
        OutputFormat::Table => {
            let mut s = String::new();
            let _ = writeln!(s, "mix:          {}", r.mix);
            let _ = writeln!(
                s,
                "connections:  {} (load-generator threads: {})",
                r.connections, r.threads
            );
            let _ = writeln!(s, "requests:     {} ({} errors)", r.requests, r.errors);
            let _ = writeln!(s, "duration:     {:.2} s", r.seconds);
            let _ = writeln!(s, "throughput:   {:.0} req/s", r.throughput);
            let _ = writeln!(
                s,
                "latency (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
                r.latency.p50,
                r.latency.p90,
                r.latency.p99,
                r.latency.p999,
                r.latency.max,
                r.latency.mean
            );
            let _ = writeln!(
                s,
                "\n{:<28} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9}",
                "operation", "requests", "errors", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
            );
            for o in &r.per_op {
                let _ = writeln!(
                    s,
                    "{:<28} {:>10} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    o.op.aws_name(),
                    o.requests,
                    o.errors,
                    o.latency.p50,
                    o.latency.p99,
                    o.latency.p999,
                    o.latency.max
                );
            }
            if !r.errors_by_code.is_empty() {
                let _ = writeln!(s, "\nerrors by code:");
                for (code, n) in &r.errors_by_code {
                    let _ = writeln!(s, "  {code}: {n}");
                }
            }
            extra_table(&mut s, &r.extra);
            print!("{s}");
        }
    }
}

// ---------------------------------------------------------------- open loop, series, RSS

/// A connection's fixed send schedule (open loop): request k at `t0 + offset + k * period`.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    t0: Instant,
    period: f64,
    offset: f64,
    timeout: Duration,
}

impl Schedule {
    fn at(&self, k: u64) -> Instant {
        self.t0 + Duration::from_secs_f64(self.offset + k as f64 * self.period)
    }
}

/// How long past the deadline an overloaded open-loop run keeps draining its backlog.
const BACKLOG_GRACE: Duration = Duration::from_secs(30);

async fn worker_open(
    sh: Arc<Shared>,
    mut stream: TcpStream,
    addr: String,
    conn: usize,
    start: usize,
    sched: Schedule,
) {
    let n = sh.requests.len();
    let mut i = start;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut k: u64 = 0;
    loop {
        let scheduled = sched.at(k);
        k += 1;
        let measured = scheduled >= sh.measure_start;
        if let Some(d) = sh.deadline {
            if scheduled >= d {
                break;
            }
            if Instant::now() >= d + BACKLOG_GRACE {
                // Still behind schedule long after the end: count what was never sent.
                let left = (d.saturating_duration_since(scheduled).as_secs_f64() / sched.period)
                    .ceil() as u64;
                let op = sh.requests[i % n].op;
                for _ in 0..left.max(1) {
                    sh.counts[op].fetch_add(1, Ordering::Relaxed);
                    record_error(&sh, op, "not sent (client backlog)".into());
                }
                break;
            }
        }
        if measured {
            if let Some(rem) = &sh.remaining {
                if rem
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
                    .is_err()
                {
                    break;
                }
            }
        }
        if Instant::now() < scheduled {
            tokio::time::sleep_until(scheduled.into()).await;
        }
        let req = &sh.requests[i % n];
        i = i.wrapping_add(1);
        let result =
            tokio::time::timeout(sched.timeout, exchange(&mut stream, &req.bytes, &mut buf))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        let done = Instant::now();
        if result.is_err() {
            // The connection is in an unknown state after a failure or a timeout.
            match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = s;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        if !measured {
            continue;
        }
        let nanos =
            u64::try_from(done.saturating_duration_since(scheduled).as_nanos()).unwrap_or(u64::MAX);
        record_interval(&sh, done, nanos, matches!(result, Ok((200, _))));
        sh.counts[req.op].fetch_add(1, Ordering::Relaxed);
        {
            let mut h = sh.hist[req.op * SHARDS + conn % SHARDS]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            h.saturating_record(nanos);
        }
        {
            let mut l = sh.last_done.lock().unwrap_or_else(PoisonError::into_inner);
            if done > *l {
                *l = done;
            }
        }
        match result {
            Ok((200, _)) => {}
            Ok((status, body)) => record_error(&sh, req.op, error_code(status, &body)),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                record_error(&sh, req.op, "timeout".into());
            }
            Err(e) => record_error(&sh, req.op, format!("transport: {}", e.kind())),
        }
    }
}

/// One `--interval` bucket.
#[derive(Debug)]
struct Slot {
    hist: Histogram<u64>,
    errors: u64,
    rss_max_kib: u64,
}

/// The `--interval` time series: slot `s` covers `[s * step, (s + 1) * step)` after the
/// measurement start (by completion time).
#[derive(Debug)]
struct Series {
    step: Duration,
    slots: Mutex<Vec<Slot>>,
}

impl Series {
    fn new(step: Duration) -> Self {
        Self {
            step,
            slots: Mutex::new(Vec::new()),
        }
    }

    fn with_slot(&self, index: usize, f: impl FnOnce(&mut Slot)) {
        // Bounded: at most 600 s / 1 s slots (plus the backlog drain).
        if index > 4 * MAX_RUN_SECS as usize {
            return;
        }
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        while slots.len() <= index {
            // 2 significant digits keeps a slot at ~50 KB.
            let Ok(hist) = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2) else {
                return;
            };
            slots.push(Slot {
                hist,
                errors: 0,
                rss_max_kib: 0,
            });
        }
        f(&mut slots[index]);
    }

    fn index(&self, start: Instant, t: Instant) -> usize {
        let secs = t.saturating_duration_since(start).as_secs_f64();
        (secs / self.step.as_secs_f64()) as usize
    }
}

fn record_interval(sh: &Shared, done: Instant, nanos: u64, ok: bool) {
    let Some(series) = &sh.series else { return };
    if done < sh.measure_start {
        return;
    }
    series.with_slot(series.index(sh.measure_start, done), |s| {
        s.hist.saturating_record(nanos);
        if !ok {
            s.errors += 1;
        }
    });
}

/// VmRSS of a process in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// RSS samples over the measurement.
#[derive(Debug, Clone, Copy)]
struct Rss {
    start: u64,
    end: u64,
    max: u64,
    samples: u64,
}

async fn sample_rss(
    pid: u32,
    measure_start: Instant,
    stop: Arc<std::sync::atomic::AtomicBool>,
    sh: Arc<Shared>,
) -> Option<Rss> {
    tokio::time::sleep_until(measure_start.into()).await;
    let mut r: Option<Rss> = None;
    loop {
        let done = stop.load(Ordering::Relaxed);
        if let Some(v) = rss_kib(pid) {
            let x = r.get_or_insert(Rss {
                start: v,
                end: v,
                max: v,
                samples: 0,
            });
            x.end = v;
            x.max = x.max.max(v);
            x.samples += 1;
            if let Some(series) = &sh.series {
                let idx = series.index(measure_start, Instant::now());
                series.with_slot(idx, |s| s.rss_max_kib = s.rss_max_kib.max(v));
            }
        }
        if done {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn extra_report(args: &BenchArgs, sh: &Shared, rss: Option<Option<Rss>>) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(rate) = args.rate {
        out.insert("rate_rps".into(), json!(rate));
        out.insert("timeout_s".into(), json!(args.timeout));
    }
    if let Some(Some(r)) = rss {
        let growth = if r.start > 0 {
            (r.end as f64 - r.start as f64) * 100.0 / r.start as f64
        } else {
            0.0
        };
        out.insert(
            "server_rss_kib".into(),
            json!({"start": r.start, "end": r.end, "max": r.max, "samples": r.samples, "growth_pct": growth}),
        );
    }
    if let Some(series) = &sh.series {
        let slots = series.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let step = series.step.as_secs_f64();
        let rows: Vec<Value> = slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let ms = |q: f64| s.hist.value_at_quantile(q) as f64 / 1e6;
                json!({
                    "t_s": i as f64 * step,
                    "requests": s.hist.len(),
                    "errors": s.errors,
                    "p50_ms": ms(0.5),
                    "p99_ms": ms(0.99),
                    "max_ms": s.hist.max() as f64 / 1e6,
                    "server_rss_kib": s.rss_max_kib,
                })
            })
            .collect();
        out.insert("interval_s".into(), json!(step));
        out.insert("intervals".into(), Value::Array(rows));
    }
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

fn extra_table(s: &mut String, extra: &Value) {
    if let Some(rate) = extra.get("rate_rps").and_then(Value::as_f64) {
        let _ = writeln!(
            s,
            "\nopen loop:    {rate:.0} req/s scheduled (latency from the scheduled send time)"
        );
    }
    if let Some(r) = extra.get("server_rss_kib") {
        let _ = writeln!(
            s,
            "server RSS:   start {} KiB, end {} KiB, max {} KiB ({:+.1}%)",
            r["start"],
            r["end"],
            r["max"],
            r["growth_pct"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(Value::Array(rows)) = extra.get("intervals") {
        let _ = writeln!(
            s,
            "\n{:>8} {:>10} {:>7} {:>9} {:>9} {:>9} {:>12}",
            "t s", "requests", "errors", "p50 ms", "p99 ms", "max ms", "RSS KiB"
        );
        for r in rows {
            let _ = writeln!(
                s,
                "{:>8.0} {:>10} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>12}",
                r["t_s"].as_f64().unwrap_or(0.0),
                r["requests"].as_u64().unwrap_or(0),
                r["errors"].as_u64().unwrap_or(0),
                r["p50_ms"].as_f64().unwrap_or(0.0),
                r["p99_ms"].as_f64().unwrap_or(0.0),
                r["max_ms"].as_f64().unwrap_or(0.0),
                r["server_rss_kib"].as_u64().unwrap_or(0)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes() {
        assert_eq!(parse_mix("mixed").unwrap().len(), 6);
        assert_eq!(
            parse_mix("translate-pin:3, verify-cvv2").unwrap(),
            vec![(Op::TranslatePin, 3), (Op::VerifyCvv2, 1)]
        );
        for bad in [
            "",
            "nope",
            "translate-pin:0",
            "translate-pin:x",
            "verify-pin,verify-pin",
        ] {
            assert!(parse_mix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn heads() {
        let h = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(find_head_end(h), Some(h.len()));
        assert_eq!(parse_head(h).unwrap(), (400, 12));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert_eq!(
            error_code(
                400,
                br#"{"__type":"com.amazon#VerificationFailedException"}"#
            ),
            "VerificationFailedException"
        );
        assert_eq!(error_code(502, b"x"), "HTTP 502");
    }

    #[test]
    fn open_loop_schedule_and_rss() {
        let t0 = Instant::now();
        let s = Schedule {
            t0,
            period: 0.5,
            offset: 0.25,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(s.at(0) - t0, Duration::from_millis(250));
        assert_eq!(s.at(4) - t0, Duration::from_millis(2250));
        let series = Series::new(Duration::from_secs(2));
        assert_eq!(series.index(t0, t0 + Duration::from_millis(3999)), 1);
        assert_eq!(series.index(t0 + Duration::from_secs(1), t0), 0);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert_eq!(rss_kib(u32::MAX), None);
    }

    #[test]
    fn request_inputs_are_valid() {
        for j in [0, 1, 31, 32, 511, 99_999] {
            assert!(paycrypt_core::card::luhn_valid(&pan_for(j)), "{j}");
            let k = ksn_for(j).unwrap();
            assert_eq!(k.counter() as usize, j / DUKPT_DEVICES + 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn head_parser_never_panics(s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = find_head_end(&s);
            let _ = parse_head(&s);
        }
    }
}
