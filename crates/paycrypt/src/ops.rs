//! Operator commands: `paycrypt keys …` and `paycrypt aliases …` talk to a running server
//! through its AWS Payment Cryptography control plane (see [`crate::client`]); `paycrypt admin
//! …` works offline on a stopped server's data directory (master-key rotation, schema
//! migration).
//!
//! Output: `--output table` (default) prints aligned `Field: value` lines, or one row per item
//! for lists; `--output json` prints the server's JSON answer. Errors print as one
//! `error: <Code>: <message>` line on stderr; the exit code is 1 when the server refused (or
//! could not be reached) and 2 for invalid command-line input.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64ct::{Base64, Encoding};
use clap::{Args, Subcommand};
use paycrypt_keystore::model::KeyModesOfUse;
use paycrypt_keystore::{MasterKeySource, Store, StoreConfig};
use serde_json::{json, Map, Value};

use crate::calc::OutputFormat;
use crate::client::{resolve_credentials, Client, ClientError, Endpoint};

/// Options shared by every command that talks to a server.
#[derive(Args, Debug, Clone)]
pub struct ClientOpts {
    /// Server endpoint (http[s]://host[:port]); default PAYCRYPT_ENDPOINT, else
    /// http://127.0.0.1:8080.
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Region the requests are signed for.
    #[arg(long, global = true, default_value = "us-east-1")]
    region: String,
    /// AWS shared-credentials file (profile [default]) used when PAYCRYPT_ACCESS_KEY_ID /
    /// PAYCRYPT_SECRET_ACCESS_KEY are not set.
    #[arg(long, global = true, default_value = "./paycrypt-data/credentials")]
    credentials_file: PathBuf,
    /// PEM file of CA certificates trusted for an https endpoint (default: SSL_CERT_FILE, else
    /// the system bundle).
    #[arg(long, global = true)]
    ca_file: Option<PathBuf>,
}

impl ClientOpts {
    pub(crate) fn client(&self) -> Result<Client, ClientError> {
        let url = self
            .endpoint_url
            .clone()
            .or_else(|| {
                std::env::var("PAYCRYPT_ENDPOINT")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
        let endpoint = Endpoint::parse(&url)?;
        let creds = resolve_credentials(&self.credentials_file)?;
        Ok(Client::new(
            endpoint,
            self.region.clone(),
            creds,
            self.ca_file.clone(),
        ))
    }
}

/// Key modes of use: a TR-31 mode letter and/or explicit flags (combined).
#[derive(Args, Debug, Clone, Default)]
pub struct ModesArgs {
    /// TR-31 mode of use: B (encrypt/decrypt/wrap/unwrap), E (encrypt/wrap), D (decrypt/unwrap),
    /// C (generate/verify), G (generate), V (verify), S (sign), X (derive key), N (no restrictions).
    #[arg(long, value_name = "LETTER")]
    modes: Option<char>,
    /// Allow Encrypt.
    #[arg(long)]
    encrypt: bool,
    /// Allow Decrypt.
    #[arg(long)]
    decrypt: bool,
    /// Allow Wrap.
    #[arg(long)]
    wrap: bool,
    /// Allow Unwrap.
    #[arg(long)]
    unwrap: bool,
    /// Allow Generate.
    #[arg(long)]
    generate: bool,
    /// Allow Sign.
    #[arg(long)]
    sign: bool,
    /// Allow Verify.
    #[arg(long)]
    verify: bool,
    /// Allow DeriveKey.
    #[arg(long)]
    derive_key: bool,
    /// NoRestrictions.
    #[arg(long)]
    no_restrictions: bool,
}

impl ModesArgs {
    /// The KeyModesOfUse JSON, or `None` when nothing was given.
    fn to_json(&self) -> Result<Option<Value>, ClientError> {
        let mut m = match self.modes {
            Some(c) => KeyModesOfUse::from_tr31_mode(c.to_ascii_uppercase()).ok_or_else(|| {
                ClientError::usage(format!(
                    "--modes {c:?} is not one of B, E, D, C, G, V, S, X, N"
                ))
            })?,
            None => KeyModesOfUse::default(),
        };
        m.encrypt |= self.encrypt;
        m.decrypt |= self.decrypt;
        m.wrap |= self.wrap;
        m.unwrap |= self.unwrap;
        m.generate |= self.generate;
        m.sign |= self.sign;
        m.verify |= self.verify;
        m.derive_key |= self.derive_key;
        m.no_restrictions |= self.no_restrictions;
        if m == KeyModesOfUse::default() {
            return Ok(None);
        }
        serde_json::to_value(m)
            .map(Some)
            .map_err(|e| ClientError::usage(format!("modes of use: {e}")))
    }
}

/// Key attributes for `keys create` and key-cryptogram import.
#[derive(Args, Debug, Clone)]
pub struct AttributeArgs {
    /// KeyUsage, e.g. TR31_P0_PIN_ENCRYPTION_KEY, TR31_K0_KEY_ENCRYPTION_KEY.
    #[arg(long)]
    usage: Option<String>,
    /// KeyAlgorithm: TDES_2KEY, TDES_3KEY, AES_128, AES_192, AES_256, HMAC_SHA256, RSA_2048, …
    #[arg(long)]
    algorithm: Option<String>,
    /// KeyClass (default SYMMETRIC_KEY; PUBLIC_KEY for certificate imports).
    #[arg(long)]
    class: Option<String>,
    #[command(flatten)]
    modes: ModesArgs,
    /// The key may be exported (default).
    #[arg(long, overrides_with = "no_exportable")]
    exportable: bool,
    /// The key may not be exported.
    #[arg(long)]
    no_exportable: bool,
}

impl AttributeArgs {
    fn key_attributes(&self, default_class: &str) -> Result<Value, ClientError> {
        let usage = self
            .usage
            .as_deref()
            .ok_or_else(|| ClientError::usage("--usage is required"))?;
        let algorithm = self
            .algorithm
            .as_deref()
            .ok_or_else(|| ClientError::usage("--algorithm is required"))?;
        let modes = self.modes.to_json()?.ok_or_else(|| {
            ClientError::usage(
                "give the modes of use: --modes LETTER and/or --encrypt, --decrypt, …",
            )
        })?;
        Ok(json!({
            "KeyUsage": usage,
            "KeyClass": self.class.as_deref().unwrap_or(default_class),
            "KeyAlgorithm": algorithm,
            "KeyModesOfUse": modes,
        }))
    }

    fn exportable(&self) -> bool {
        !self.no_exportable
    }
}

/// `paycrypt keys …`.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key (CreateKey).
    Create {
        #[command(flatten)]
        attributes: AttributeArgs,
        /// Create the key disabled.
        #[arg(long)]
        disabled: bool,
        /// KeyCheckValueAlgorithm (CMAC, ANSI_X9_24, HMAC, SHA_1).
        #[arg(long)]
        kcv_algorithm: Option<String>,
        /// DeriveKeyUsage (for ECC key-agreement keys).
        #[arg(long)]
        derive_key_usage: Option<String>,
        /// A tag KEY=VALUE (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// List keys (ListKeys, following NextToken).
    List {
        /// Only keys in this state (CREATE_COMPLETE, DELETE_PENDING, DELETE_COMPLETE, …).
        #[arg(long)]
        state: Option<String>,
    },
    /// Show a key (GetKey).
    Get {
        /// Key ARN or alias.
        id: String,
    },
    /// Schedule a key for deletion (DeleteKey).
    Delete {
        /// Key ARN or alias.
        id: String,
        /// Waiting period in days (3–180; server default 7).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Cancel a pending deletion (RestoreKey; the key stays disabled).
    Restore {
        /// Key ARN or alias.
        id: String,
    },
    /// Enable a key (StartKeyUsage).
    Start {
        /// Key ARN or alias.
        id: String,
    },
    /// Disable a key (StopKeyUsage).
    Stop {
        /// Key ARN or alias.
        id: String,
    },
    /// Import a key (ImportKey): a TR-31 block under a KEK, an RSA-OAEP key cryptogram, a
    /// TR-34 key block, or a root / trusted public-key certificate.
    Import(ImportArgs),
    /// Get the wrapping certificate and import token for a key-cryptogram or TR-34 import
    /// (GetParametersForImport); writes the certificate (PEM) to a file.
    ImportParams {
        /// KEY_CRYPTOGRAM or TR34_KEY_BLOCK.
        #[arg(long, default_value = "KEY_CRYPTOGRAM")]
        key_material_type: String,
        /// RSA_2048, RSA_3072 or RSA_4096.
        #[arg(long)]
        wrapping_key_algorithm: String,
        /// Where to write the wrapping-key certificate (PEM).
        #[arg(long)]
        certificate_out: PathBuf,
        /// Where to write the certificate chain (PEM).
        #[arg(long)]
        chain_out: Option<PathBuf>,
    },
    /// Export a key (ExportKey): as a TR-31 block under a KEK, an RSA-OAEP key cryptogram, or
    /// a TR-34 key block.
    Export(ExportArgs),
    /// Get the signing certificate and export token for a TR-34 export (GetParametersForExport);
    /// writes the certificate (PEM) to a file.
    ExportParams {
        /// RSA_2048, RSA_3072 or RSA_4096.
        #[arg(long)]
        signing_key_algorithm: String,
        /// Where to write the signing-key certificate (PEM).
        #[arg(long)]
        certificate_out: PathBuf,
        /// Where to write the certificate chain (PEM).
        #[arg(long)]
        chain_out: Option<PathBuf>,
    },
}

/// `keys import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// TR-31 key block to import (with --kek).
    #[arg(long, conflicts_with_all = ["cryptogram", "tr34"], requires = "kek")]
    tr31: Option<String>,
    /// The key-encryption key (ARN or alias) protecting the TR-31 block.
    #[arg(long)]
    kek: Option<String>,
    /// RSA-OAEP key cryptogram (hex) under the certificate of `keys import-params`
    /// (with --token and the key attributes).
    #[arg(long, conflicts_with = "tr34", requires = "token")]
    cryptogram: Option<String>,
    /// TR-34 key block (hex) (with --token, --ca and --signing-certificate).
    #[arg(long, requires = "token")]
    tr34: Option<String>,
    /// A root CA certificate (PEM file) to import as a PUBLIC_KEY (with the key attributes,
    /// e.g. --usage TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE --algorithm RSA_2048 --verify).
    #[arg(long, conflicts_with_all = ["tr31", "cryptogram", "tr34", "trusted_certificate"])]
    root_certificate: Option<PathBuf>,
    /// A certificate (PEM file) signed by --ca to import as a trusted PUBLIC_KEY (with the key
    /// attributes).
    #[arg(long, conflicts_with_all = ["tr31", "cryptogram", "tr34"], requires = "ca")]
    trusted_certificate: Option<PathBuf>,
    /// The import token of `keys import-params`.
    #[arg(long)]
    token: Option<String>,
    /// RSA-OAEP wrapping spec of the cryptogram (RSA_OAEP_SHA_256 or RSA_OAEP_SHA_512).
    #[arg(long)]
    wrapping_spec: Option<String>,
    /// TR-34 / --trusted-certificate: the CA key (ARN or alias) that signed the certificate.
    #[arg(long)]
    ca: Option<String>,
    /// TR-34: the sender's signing certificate (PEM file).
    #[arg(long)]
    signing_certificate: Option<PathBuf>,
    /// TR-34: the random nonce (hex) of a one-pass block.
    #[arg(long)]
    nonce: Option<String>,
    /// Key attributes of a key-cryptogram import.
    #[command(flatten)]
    attributes: AttributeArgs,
    /// KeyCheckValueAlgorithm of the imported key.
    #[arg(long)]
    kcv_algorithm: Option<String>,
    /// Import the key disabled.
    #[arg(long)]
    disabled: bool,
}

/// `keys export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The key to export (ARN or alias).
    id: String,
    /// Export as a TR-31 key block (with --kek).
    #[arg(long, conflicts_with_all = ["cryptogram", "tr34"], requires = "kek")]
    tr31: bool,
    /// The key-encryption key (ARN or alias) for the TR-31 block.
    #[arg(long)]
    kek: Option<String>,
    /// Export as an RSA-OAEP key cryptogram (with --certificate and --ca).
    #[arg(long, conflicts_with = "tr34", requires_all = ["certificate", "ca"])]
    cryptogram: bool,
    /// Export as a TR-34 key block (with --certificate, --ca and --token).
    #[arg(long, requires_all = ["certificate", "ca", "token"])]
    tr34: bool,
    /// The receiver's wrapping-key certificate (PEM file).
    #[arg(long)]
    certificate: Option<PathBuf>,
    /// The CA key (ARN or alias) that signed --certificate.
    #[arg(long)]
    ca: Option<String>,
    /// TR-34: the export token of `keys export-params`.
    #[arg(long)]
    token: Option<String>,
    /// RSA-OAEP wrapping spec (RSA_OAEP_SHA_256 or RSA_OAEP_SHA_512).
    #[arg(long)]
    wrapping_spec: Option<String>,
    /// TR-31/TR-34 header: modes of use to narrow the key to.
    #[command(flatten)]
    modes: ModesArgs,
    /// TR-31/TR-34 header: EXPORTABLE, NON_EXPORTABLE or SENSITIVE.
    #[arg(long)]
    exportability: Option<String>,
    /// TR-31/TR-34 header: key version (2 characters).
    #[arg(long)]
    key_version: Option<String>,
    /// TR-34: random nonce (hex).
    #[arg(long)]
    nonce: Option<String>,
    /// KeyCheckValueAlgorithm of the answer.
    #[arg(long)]
    kcv_algorithm: Option<String>,
}

/// `paycrypt aliases …`.
#[derive(Subcommand, Debug)]
pub enum AliasesCommand {
    /// Create an alias (CreateAlias).
    Create {
        /// alias/NAME.
        name: String,
        /// The key ARN it points to.
        #[arg(long)]
        key: Option<String>,
    },
    /// List aliases (ListAliases, following NextToken).
    List {
        /// Only aliases of this key ARN.
        #[arg(long)]
        key: Option<String>,
    },
    /// Show an alias (GetAlias).
    Get {
        /// alias/NAME.
        name: String,
    },
    /// Point an alias at another key, or at none without --key (UpdateAlias).
    Update {
        /// alias/NAME.
        name: String,
        /// The new key ARN.
        #[arg(long)]
        key: Option<String>,
    },
    /// Delete an alias (DeleteAlias).
    Delete {
        /// alias/NAME.
        name: String,
    },
}

/// `paycrypt admin …`: offline maintenance of a data directory. Stop the server first: it keeps
/// every key unsealed in memory and would keep writing under the old master key.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Re-seal every key under a new master key (one transaction), then restart the server with
    /// --master-key-file NEW. The server must be stopped.
    RotateMasterKey {
        #[command(flatten)]
        store: StoreArgs,
        /// File with the new 32-byte master key (raw or 64 hex characters).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
    /// Apply pending database schema migrations and print the schema version.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Benchmarking tool: insert N real keys with deterministic ids and material (ids
    /// `b<kind><seed><index>`), 10,000 per transaction, for `paycrypt bench --spread-keys`.
    /// Never use it on a production store. The server must be stopped.
    SeedKeys {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        seed: crate::seed::SeedArgs,
    },
}

/// How to open a data directory (same meaning as for `serve`).
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Data directory.
    #[arg(long, default_value = "./paycrypt-data")]
    data_dir: PathBuf,
    /// Database URL (sqlite://PATH or postgres://…); default <data-dir>/paycrypt.db.
    #[arg(long)]
    database_url: Option<String>,
    /// The current master key file; default PAYCRYPT_MASTER_KEY, else <data-dir>/master.key.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// Region of the key ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Account of the key ARNs.
    #[arg(long, default_value = "111122223333")]
    account: String,
}

impl StoreArgs {
    fn open(&self) -> Result<Store, ClientError> {
        let master_key = match &self.master_key_file {
            Some(p) => MasterKeySource::File(p.clone()),
            None if std::env::var_os(paycrypt_server::config::ENV_MASTER_KEY).is_some() => {
                MasterKeySource::Env(paycrypt_server::config::ENV_MASTER_KEY.to_owned())
            }
            None => {
                let p = self.data_dir.join("master.key");
                if !p.is_file() {
                    return Err(ClientError::usage(format!(
                        "no master key: give --master-key-file, set {}, or use a data directory with master.key",
                        paycrypt_server::config::ENV_MASTER_KEY
                    )));
                }
                MasterKeySource::Default
            }
        };
        Store::open(StoreConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            master_key,
            region: self.region.clone(),
            account: self.account.clone(),
        })
        .map_err(|e| ClientError::Server {
            code: "StoreError".into(),
            message: e.to_string(),
        })
    }

    fn schema_version(&self) -> usize {
        match self.database_url.as_deref() {
            Some(u) if u.starts_with("postgres") => paycrypt_keystore::POSTGRES_SCHEMA_VERSION,
            _ => paycrypt_keystore::SQLITE_SCHEMA_VERSION,
        }
    }
}

/// Print the result of a command, or its error as one line; return the exit code.
fn finish(result: Result<Value, ClientError>, output: OutputFormat) -> ExitCode {
    match result {
        Ok(v) => {
            let text = match output {
                OutputFormat::Json => serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
                OutputFormat::Table => table(&v),
            };
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Run `keys …`.
pub fn run_keys(opts: &ClientOpts, cmd: KeysCommand, output: OutputFormat) -> ExitCode {
    finish(keys(opts, cmd), output)
}

/// Run `aliases …`.
pub fn run_aliases(opts: &ClientOpts, cmd: AliasesCommand, output: OutputFormat) -> ExitCode {
    finish(aliases(opts, cmd), output)
}

/// Run `admin …`.
pub fn run_admin(cmd: AdminCommand, output: OutputFormat) -> ExitCode {
    finish(admin(cmd), output)
}

fn key_id(id: &str) -> Value {
    json!({ "KeyIdentifier": id })
}

fn keys(opts: &ClientOpts, cmd: KeysCommand) -> Result<Value, ClientError> {
    // Check local input before resolving credentials or connecting.
    let (op, input) = match cmd {
        KeysCommand::Create {
            attributes,
            disabled,
            kcv_algorithm,
            derive_key_usage,
            tags,
        } => {
            let mut m = Map::new();
            m.insert(
                "KeyAttributes".into(),
                attributes.key_attributes("SYMMETRIC_KEY")?,
            );
            m.insert("Exportable".into(), attributes.exportable().into());
            if disabled {
                m.insert("Enabled".into(), false.into());
            }
            if let Some(k) = kcv_algorithm {
                m.insert("KeyCheckValueAlgorithm".into(), k.into());
            }
            if let Some(d) = derive_key_usage {
                m.insert("DeriveKeyUsage".into(), d.into());
            }
            if !tags.is_empty() {
                m.insert("Tags".into(), parse_tags(&tags)?);
            }
            ("CreateKey", Value::Object(m))
        }
        KeysCommand::List { state } => {
            let client = opts.client()?;
            let mut base = Map::new();
            if let Some(s) = state {
                base.insert("KeyState".into(), s.into());
            }
            return paginate(&client, "ListKeys", base, "Keys");
        }
        KeysCommand::Get { id } => ("GetKey", key_id(&id)),
        KeysCommand::Delete { id, days } => {
            let mut v = key_id(&id);
            if let (Some(d), Some(o)) = (days, v.as_object_mut()) {
                o.insert("DeleteKeyInDays".into(), d.into());
            }
            ("DeleteKey", v)
        }
        KeysCommand::Restore { id } => ("RestoreKey", key_id(&id)),
        KeysCommand::Start { id } => ("StartKeyUsage", key_id(&id)),
        KeysCommand::Stop { id } => ("StopKeyUsage", key_id(&id)),
        KeysCommand::Import(a) => ("ImportKey", import_input(a)?),
        KeysCommand::ImportParams {
            key_material_type,
            wrapping_key_algorithm,
            certificate_out,
            chain_out,
        } => {
            let client = opts.client()?;
            let out = client.call(
                "GetParametersForImport",
                &json!({
                    "KeyMaterialType": key_material_type,
                    "WrappingKeyAlgorithm": wrapping_key_algorithm,
                }),
            )?;
            return save_certificates(
                out,
                "WrappingKeyCertificate",
                &certificate_out,
                chain_out.as_deref(),
            );
        }
        KeysCommand::Export(a) => ("ExportKey", export_input(a)?),
        KeysCommand::ExportParams {
            signing_key_algorithm,
            certificate_out,
            chain_out,
        } => {
            let client = opts.client()?;
            let out = client.call(
                "GetParametersForExport",
                &json!({
                    "KeyMaterialType": "TR34_KEY_BLOCK",
                    "SigningKeyAlgorithm": signing_key_algorithm,
                }),
            )?;
            return save_certificates(
                out,
                "SigningKeyCertificate",
                &certificate_out,
                chain_out.as_deref(),
            );
        }
    };
    opts.client()?.call(op, &input)
}

fn parse_tags(tags: &[String]) -> Result<Value, ClientError> {
    tags.iter()
        .map(|t| {
            let (k, v) = t
                .split_once('=')
                .ok_or_else(|| ClientError::usage(format!("--tag {t:?} must be KEY=VALUE")))?;
            Ok(json!({ "Key": k, "Value": v }))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Call a list operation until NextToken runs out; returns `{ item_field: [...] }`.
fn paginate(
    client: &Client,
    op: &str,
    base: Map<String, Value>,
    item_field: &str,
) -> Result<Value, ClientError> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = base.clone();
        if let Some(t) = token.take() {
            input.insert("NextToken".into(), t.into());
        }
        let page = client.call(op, &Value::Object(input))?;
        if let Some(Value::Array(a)) = page.get(item_field) {
            items.extend(a.iter().cloned());
        }
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let mut out = Map::new();
    out.insert(item_field.to_owned(), Value::Array(items));
    Ok(Value::Object(out))
}

/// Read a certificate file (PEM) as the API wants it: base64 of the PEM text. A file that
/// already holds that base64 form is passed through.
fn read_certificate(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ClientError::usage(format!("cannot read {}: {}", path.display(), e.kind())))?;
    let t = text.trim();
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    if t.starts_with(BEGIN) {
        Ok(Base64::encode_string(text.as_bytes()))
    } else if Base64::decode_vec(t).is_ok_and(|d| d.starts_with(BEGIN.as_bytes())) {
        Ok(t.to_owned())
    } else {
        Err(ClientError::usage(format!(
            "{} is not a PEM certificate",
            path.display()
        )))
    }
}

fn save_certificates(
    mut out: Value,
    field: &str,
    certificate_out: &Path,
    chain_out: Option<&Path>,
) -> Result<Value, ClientError> {
    let chain_field = format!("{field}Chain");
    let mut write = |f: &str, path: &Path| -> Result<(), ClientError> {
        let b64 = out
            .get(f)
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::Transport(format!("the answer has no {f}")))?;
        let pem = Base64::decode_vec(b64)
            .map_err(|_| ClientError::Transport(format!("{f} is not base64")))?;
        std::fs::write(path, pem).map_err(|e| {
            ClientError::usage(format!("cannot write {}: {}", path.display(), e.kind()))
        })?;
        if let Some(o) = out.as_object_mut() {
            o.insert(f.to_owned(), path.display().to_string().into());
        }
        Ok(())
    };
    write(field, certificate_out)?;
    if let Some(p) = chain_out {
        write(&chain_field, p)?;
    }
    Ok(out)
}

fn import_input(a: ImportArgs) -> Result<Value, ClientError> {
    let material = if let Some(block) = a.tr31 {
        let kek = a
            .kek
            .ok_or_else(|| ClientError::usage("--tr31 needs --kek"))?;
        json!({ "Tr31KeyBlock": { "WrappingKeyIdentifier": kek, "WrappedKeyBlock": block } })
    } else if let Some(cryptogram) = a.cryptogram {
        let mut m = Map::new();
        m.insert(
            "KeyAttributes".into(),
            a.attributes.key_attributes("SYMMETRIC_KEY")?,
        );
        m.insert("Exportable".into(), a.attributes.exportable().into());
        m.insert("WrappedKeyCryptogram".into(), cryptogram.into());
        m.insert("ImportToken".into(), a.token.unwrap_or_default().into());
        if let Some(s) = a.wrapping_spec {
            m.insert("WrappingSpec".into(), s.into());
        }
        json!({ "KeyCryptogram": m })
    } else if let Some(block) = a.tr34 {
        let ca =
            a.ca.ok_or_else(|| ClientError::usage("--tr34 needs --ca"))?;
        let cert = a
            .signing_certificate
            .ok_or_else(|| ClientError::usage("--tr34 needs --signing-certificate"))?;
        let mut m = Map::new();
        m.insert("CertificateAuthorityPublicKeyIdentifier".into(), ca.into());
        m.insert(
            "SigningKeyCertificate".into(),
            read_certificate(&cert)?.into(),
        );
        m.insert("ImportToken".into(), a.token.unwrap_or_default().into());
        m.insert("WrappedKeyBlock".into(), block.into());
        m.insert("KeyBlockFormat".into(), "X9_TR34_2012".into());
        if let Some(n) = a.nonce {
            m.insert("RandomNonce".into(), n.into());
        }
        json!({ "Tr34KeyBlock": m })
    } else if let Some(cert) = a.root_certificate {
        json!({ "RootCertificatePublicKey": {
            "KeyAttributes": a.attributes.key_attributes("PUBLIC_KEY")?,
            "PublicKeyCertificate": read_certificate(&cert)?,
        } })
    } else if let Some(cert) = a.trusted_certificate {
        let ca =
            a.ca.ok_or_else(|| ClientError::usage("--trusted-certificate needs --ca"))?;
        json!({ "TrustedCertificatePublicKey": {
            "KeyAttributes": a.attributes.key_attributes("PUBLIC_KEY")?,
            "PublicKeyCertificate": read_certificate(&cert)?,
            "CertificateAuthorityPublicKeyIdentifier": ca,
        } })
    } else {
        return Err(ClientError::usage(
            "give one of --tr31 BLOCK --kek ID, --cryptogram HEX --token T, --tr34 HEX --token T, \
             --root-certificate FILE, --trusted-certificate FILE --ca ID",
        ));
    };
    let mut m = Map::new();
    m.insert("KeyMaterial".into(), material);
    if let Some(k) = a.kcv_algorithm {
        m.insert("KeyCheckValueAlgorithm".into(), k.into());
    }
    if a.disabled {
        m.insert("Enabled".into(), false.into());
    }
    Ok(Value::Object(m))
}

fn export_input(a: ExportArgs) -> Result<Value, ClientError> {
    let mut headers = Map::new();
    if let Some(m) = a.modes.to_json()? {
        headers.insert("KeyModesOfUse".into(), m);
    }
    if let Some(e) = a.exportability {
        headers.insert("KeyExportability".into(), e.into());
    }
    if let Some(v) = a.key_version {
        headers.insert("KeyVersion".into(), v.into());
    }
    let cert = |c: Option<PathBuf>| -> Result<String, ClientError> {
        read_certificate(&c.ok_or_else(|| ClientError::usage("--certificate is required"))?)
    };
    let ca = |c: Option<String>| c.ok_or_else(|| ClientError::usage("--ca is required"));
    let material = if a.tr31 {
        let mut m = Map::new();
        m.insert(
            "WrappingKeyIdentifier".into(),
            a.kek
                .ok_or_else(|| ClientError::usage("--tr31 needs --kek"))?
                .into(),
        );
        if !headers.is_empty() {
            m.insert("KeyBlockHeaders".into(), Value::Object(headers));
        }
        json!({ "Tr31KeyBlock": m })
    } else if a.cryptogram {
        let mut m = Map::new();
        m.insert(
            "CertificateAuthorityPublicKeyIdentifier".into(),
            ca(a.ca)?.into(),
        );
        m.insert("WrappingKeyCertificate".into(), cert(a.certificate)?.into());
        if let Some(s) = a.wrapping_spec {
            m.insert("WrappingSpec".into(), s.into());
        }
        json!({ "KeyCryptogram": m })
    } else if a.tr34 {
        let mut m = Map::new();
        m.insert(
            "CertificateAuthorityPublicKeyIdentifier".into(),
            ca(a.ca)?.into(),
        );
        m.insert("WrappingKeyCertificate".into(), cert(a.certificate)?.into());
        m.insert("ExportToken".into(), a.token.unwrap_or_default().into());
        m.insert("KeyBlockFormat".into(), "X9_TR34_2012".into());
        if let Some(n) = a.nonce {
            m.insert("RandomNonce".into(), n.into());
        }
        if !headers.is_empty() {
            m.insert("KeyBlockHeaders".into(), Value::Object(headers));
        }
        json!({ "Tr34KeyBlock": m })
    } else {
        return Err(ClientError::usage(
            "give one of --tr31 --kek ID, --cryptogram --certificate FILE --ca ID, --tr34 --certificate FILE --ca ID --token T",
        ));
    };
    let mut m = Map::new();
    m.insert("ExportKeyIdentifier".into(), a.id.into());
    m.insert("KeyMaterial".into(), material);
    if let Some(k) = a.kcv_algorithm {
        m.insert(
            "ExportAttributes".into(),
            json!({ "KeyCheckValueAlgorithm": k }),
        );
    }
    Ok(Value::Object(m))
}

fn aliases(opts: &ClientOpts, cmd: AliasesCommand) -> Result<Value, ClientError> {
    let with_key = |name: String, key: Option<String>| {
        let mut m = Map::new();
        m.insert("AliasName".into(), name.into());
        if let Some(k) = key {
            m.insert("KeyArn".into(), k.into());
        }
        Value::Object(m)
    };
    let (op, input) = match cmd {
        AliasesCommand::Create { name, key } => ("CreateAlias", with_key(name, key)),
        AliasesCommand::Update { name, key } => ("UpdateAlias", with_key(name, key)),
        AliasesCommand::Get { name } => ("GetAlias", json!({ "AliasName": name })),
        AliasesCommand::Delete { name } => ("DeleteAlias", json!({ "AliasName": name })),
        AliasesCommand::List { key } => {
            let client = opts.client()?;
            let mut base = Map::new();
            if let Some(k) = key {
                base.insert("KeyArn".into(), k.into());
            }
            return paginate(&client, "ListAliases", base, "Aliases");
        }
    };
    opts.client()?.call(op, &input)
}

fn admin(cmd: AdminCommand) -> Result<Value, ClientError> {
    match cmd {
        AdminCommand::Migrate { store } => {
            let s = store.open()?;
            let failures = s.integrity_failures();
            Ok(json!({
                "SchemaVersion": store.schema_version(),
                "MasterKeyId": s.master_key_id(),
                "IntegrityFailures": failures,
            }))
        }
        AdminCommand::SeedKeys { store, seed } => crate::seed::run(&store.open()?, &seed),
        AdminCommand::RotateMasterKey {
            store,
            new_master_key_file,
        } => {
            if !new_master_key_file.is_file() {
                return Err(ClientError::usage(format!(
                    "cannot read {}",
                    new_master_key_file.display()
                )));
            }
            let s = store.open()?;
            let n = s
                .rotate_master_key(MasterKeySource::File(new_master_key_file.clone()))
                .map_err(|e| ClientError::Server {
                    code: "StoreError".into(),
                    message: e.to_string(),
                })?;
            Ok(json!({
                "KeysResealed": n,
                "MasterKeyId": s.master_key_id(),
                "Next": format!(
                    "start the server with --master-key-file {}",
                    new_master_key_file.display()
                ),
            }))
        }
    }
}

/// Render an answer as text: a column table for `Keys` / `Aliases` lists, otherwise aligned
/// `Path.To.Field: value` lines.
fn table(v: &Value) -> String {
    if let Some(Value::Array(items)) = v.get("Keys") {
        return columns(
            items,
            &[
                ("KeyArn", &["KeyArn"]),
                ("State", &["KeyState"]),
                ("Usage", &["KeyAttributes", "KeyUsage"]),
                ("Algorithm", &["KeyAttributes", "KeyAlgorithm"]),
                ("KCV", &["KeyCheckValue"]),
                ("Enabled", &["Enabled"]),
            ],
        );
    }
    if let Some(Value::Array(items)) = v.get("Aliases") {
        return columns(
            items,
            &[("AliasName", &["AliasName"]), ("KeyArn", &["KeyArn"])],
        );
    }
    let mut rows = Vec::new();
    flatten("", v, &mut rows);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, val) in rows {
        let _ = writeln!(out, "{k:width$}  {val}");
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn flatten(prefix: &str, v: &Value, rows: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                // Key.X → X: one wrapper object is noise in a table.
                let p = if prefix.is_empty() && m.len() == 1 && val.is_object() {
                    String::new()
                } else if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, val, rows);
            }
        }
        Value::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), val, rows);
            }
        }
        other => rows.push((format!("{prefix}:"), scalar(other))),
    }
}

fn columns(items: &[Value], cols: &[(&str, &[&str])]) -> String {
    let cell = |item: &Value, path: &[&str]| {
        let mut v = item;
        for p in path {
            match v.get(p) {
                Some(x) => v = x,
                None => return String::new(),
            }
        }
        scalar(v)
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|it| cols.iter().map(|(_, p)| cell(it, p)).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, String::len))
                .max()
                .unwrap_or(0)
                .max(h.len())
        })
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(cols.iter().map(|(h, _)| *h).collect(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_letters_and_flags() {
        let m = ModesArgs {
            modes: Some('e'),
            decrypt: true,
            ..ModesArgs::default()
        };
        let v = m.to_json().unwrap().unwrap();
        assert_eq!(v["Encrypt"], true);
        assert_eq!(v["Wrap"], true);
        assert_eq!(v["Decrypt"], true);
        assert_eq!(v["Sign"], false);
        assert!(ModesArgs::default().to_json().unwrap().is_none());
        let bad = ModesArgs {
            modes: Some('Q'),
            ..ModesArgs::default()
        };
        assert_eq!(bad.to_json().unwrap_err().exit_code(), 2);
    }

    #[test]
    fn tables() {
        let t = table(&json!({"Key": {"KeyArn": "arn:x", "KeyAttributes": {"KeyUsage": "U"}}}));
        assert!(t.contains("KeyArn:"), "{t}");
        assert!(t.contains("KeyAttributes.KeyUsage:  U"), "{t}");
        let t = table(&json!({"Keys": [{"KeyArn": "arn:a", "KeyState": "CREATE_COMPLETE"}]}));
        assert!(t.starts_with("KeyArn"), "{t}");
        assert!(t.contains("arn:a   CREATE_COMPLETE"), "{t}");
        assert!(parse_tags(&["a=b".into()]).is_ok());
        assert!(parse_tags(&["ab".into()]).is_err());
    }
}
