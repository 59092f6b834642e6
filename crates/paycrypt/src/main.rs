//! `paycrypt`: the command-line entry point. `paycrypt serve` runs the AWS Payment
//! Cryptography–compatible server (see `paycrypt_server`); `paycrypt calc` holds the
//! offline calculators that call paycrypt-core directly; `paycrypt keys` / `paycrypt aliases`
//! manage keys on a running server through its AWS API (SigV4-signed), and `paycrypt admin`
//! rotates the master key or migrates the database of a stopped server.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod calc;
mod client;
mod harden;
mod loadgen;
mod ops;
mod seed;
use paycrypt_keystore::MasterKeySource;
use paycrypt_server::audit::AuditDestination;
use paycrypt_server::config::{Config, ENV_MASTER_KEY};

#[derive(Debug, Parser)]
#[command(
    name = "paycrypt",
    version,
    about = "A software payment HSM speaking the AWS Payment Cryptography API"
)]
struct Cli {
    /// Output format (for `calc`, `keys`, `aliases`, `admin`).
    #[arg(long, global = true, value_enum, default_value_t = calc::OutputFormat::Table)]
    output: calc::OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the AWS Payment Cryptography control and data plane APIs on one port.
    ///
    /// Credentials: PAYCRYPT_ACCESS_KEY_ID / PAYCRYPT_SECRET_ACCESS_KEY, or else a pair generated
    /// on first start in <data-dir>/credentials (AWS shared-credentials format, profile default).
    /// Master key: --master-key-file, or PAYCRYPT_MASTER_KEY (64 hex), or else a development key
    /// generated in <data-dir>/master.key.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Data directory (database, development master key, generated credentials).
        #[arg(long, default_value = "./paycrypt-data")]
        data_dir: PathBuf,
        /// Database URL: sqlite://PATH (default <data-dir>/paycrypt.db) or
        /// postgres://USER@HOST:PORT/DB (a Unix socket directory as a %2F-encoded HOST) for
        /// several nodes sharing one database.
        #[arg(long)]
        database_url: Option<String>,
        /// TLS certificate chain (PEM); requires --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); requires --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Audit log: a file path, `stderr` or `off`.
        #[arg(long, default_value = "stderr")]
        audit_log: String,
        /// Region used in key ARNs.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Account id used in key ARNs.
        #[arg(long, default_value = "111122223333")]
        account: String,
        /// File holding the 32-byte master key (raw or 64 hex characters).
        #[arg(long)]
        master_key_file: Option<PathBuf>,
        /// Largest accepted request body in bytes.
        #[arg(long, default_value_t = 256 * 1024)]
        max_body_bytes: usize,
        /// Control-plane requests per second per access key id; excess requests get
        /// ThrottlingException (AWS: 5/s per account). 0 = unlimited (default).
        #[arg(long, default_value_t = 0.0)]
        rate_limit_cp: f64,
        /// Data-plane requests per second per access key id (AWS: 500/s symmetric, 20/s
        /// asymmetric per account). 0 = unlimited (default).
        #[arg(long, default_value_t = 0.0)]
        rate_limit_dp: f64,
        /// Lock all process memory (mlockall) so keys and PINs never reach swap: `auto` locks
        /// when RLIMIT_MEMLOCK is unlimited (or can be raised) or with CAP_IPC_LOCK and warns
        /// otherwise, `require` refuses to start unlocked, `off` skips it. Core dumps are
        /// always disabled (PR_SET_DUMPABLE 0, RLIMIT_CORE 0).
        #[arg(long, value_enum, default_value_t = harden::MlockMode::Auto)]
        mlock: harden::MlockMode,
        /// IBM 3624 decimalization tables accepted by Generate/VerifyPinData (comma-separated,
        /// 16 digits each, mapping onto all ten digits); any other table is refused with
        /// ValidationException. Default: 0123456789012345,9876543210654321 (the standard
        /// table and the one of AWS's published examples).
        #[arg(long, value_delimiter = ',')]
        decimalization_tables: Option<Vec<String>>,
        /// Consecutive failed VerifyPinData per PAN (counted in memory on this node, reset by a
        /// successful verification or a restart) after which that PAN is refused with
        /// AccessDeniedException. 0 = off (default).
        #[arg(long, default_value_t = 0)]
        pin_try_limit: u32,
        /// Failed VerifyPinData per verification key since start after which that key is
        /// refused for VerifyPinData with AccessDeniedException. 0 = off (default).
        #[arg(long, default_value_t = 0)]
        pin_key_failure_limit: u32,
    },
    /// Offline payment-crypto calculators (no server): PIN blocks, DUKPT, CVV, ARQC, MAC, KCV, ...
    #[command(subcommand)]
    Calc(calc::CalcCommand),
    /// Manage keys on a running server (CreateKey, ListKeys, ImportKey, ExportKey, …).
    Keys {
        #[command(flatten)]
        client: ops::ClientOpts,
        #[command(subcommand)]
        command: Box<ops::KeysCommand>,
    },
    /// Manage aliases on a running server (CreateAlias, ListAliases, …).
    Aliases {
        #[command(flatten)]
        client: ops::ClientOpts,
        #[command(subcommand)]
        command: ops::AliasesCommand,
    },
    /// Offline maintenance of a stopped server's data directory: master-key rotation, schema
    /// migration.
    #[command(subcommand)]
    Admin(ops::AdminCommand),
    /// Load generator: drive a running server with pre-signed data-plane requests and report
    /// throughput and latency percentiles.
    Bench(Box<loadgen::BenchArgs>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cli.command {
        Command::Calc(cmd) => calc::run(cmd, cli.output),
        Command::Keys { client, command } => ops::run_keys(&client, *command, cli.output),
        Command::Aliases { client, command } => ops::run_aliases(&client, command, cli.output),
        Command::Admin(cmd) => ops::run_admin(cmd, cli.output),
        Command::Bench(args) => loadgen::run(*args, cli.output),
        Command::Serve {
            listen,
            data_dir,
            database_url,
            tls_cert,
            tls_key,
            audit_log,
            region,
            account,
            master_key_file,
            max_body_bytes,
            rate_limit_cp,
            rate_limit_dp,
            mlock,
            decimalization_tables,
            pin_try_limit,
            pin_key_failure_limit,
        } => {
            // Before the master key or any key is read.
            paycrypt_server::init_tracing();
            match harden::apply(mlock) {
                Ok(report) => {
                    for w in &report.warnings {
                        tracing::warn!("{w}");
                        eprintln!("paycrypt: warning: {w}");
                    }
                    tracing::info!(hardening = %report.summary(), "process hardening");
                    println!("paycrypt: hardening: {}", report.summary());
                }
                Err(e) => {
                    eprintln!("paycrypt: {e}");
                    return ExitCode::FAILURE;
                }
            }
            let master_key = match master_key_file {
                Some(p) => MasterKeySource::File(p),
                None if std::env::var_os(ENV_MASTER_KEY).is_some() => {
                    MasterKeySource::Env(ENV_MASTER_KEY.to_owned())
                }
                None => MasterKeySource::Default,
            };
            let config = Config {
                listen,
                data_dir,
                database_url,
                tls: tls_cert.zip(tls_key),
                audit_log: AuditDestination::parse(&audit_log),
                region,
                account,
                master_key,
                max_body_bytes,
                credentials: None,
                rate_limit_cp,
                rate_limit_dp,
                decimalization_tables,
                pin_try_limit,
                pin_key_failure_limit,
            };
            match paycrypt_server::serve(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("paycrypt: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Print a command-line parsing error as one `error: …` line (exit code 2); `--help` and
/// `--version` print as usual.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    // The message is everything before clap's "Usage:" / "For more information" lines
    // (a list of missing arguments spans several lines), collapsed to one line.
    let text = e.render().to_string();
    let first = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    if first.starts_with("error:") {
        eprintln!("{first} (see --help)");
    } else {
        eprintln!("error: {first} (see --help)");
    }
    ExitCode::from(2)
}
