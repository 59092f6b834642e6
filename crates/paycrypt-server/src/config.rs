//! Server configuration and the API credentials (environment or `<data-dir>/credentials`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use paycrypt_keystore::MasterKeySource;

use crate::audit::AuditDestination;
use crate::auth::Credentials;

/// Environment variable holding the access key id.
pub const ENV_ACCESS_KEY_ID: &str = "PAYCRYPT_ACCESS_KEY_ID";
/// Environment variable holding the secret access key.
pub const ENV_SECRET_ACCESS_KEY: &str = "PAYCRYPT_SECRET_ACCESS_KEY";
/// Environment variable holding the master key as 64 hex characters.
pub const ENV_MASTER_KEY: &str = "PAYCRYPT_MASTER_KEY";

/// Everything `paycrypt serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port; the bound address is logged).
    pub listen: SocketAddr,
    /// Data directory (database, master key file, generated credentials).
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://path`); `None` = `<data_dir>/paycrypt.db`.
    pub database_url: Option<String>,
    /// TLS certificate and private key (PEM files); `None` = plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Audit log destination.
    pub audit_log: AuditDestination,
    /// Region in key ARNs.
    pub region: String,
    /// Account in key ARNs.
    pub account: String,
    /// Master key source for sealing key material.
    pub master_key: MasterKeySource,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Credentials; `None` = from the environment, else `<data_dir>/credentials`.
    pub credentials: Option<Credentials>,
    /// Control-plane requests per second per access key id (0 = unlimited, the default).
    pub rate_limit_cp: f64,
    /// Data-plane requests per second per access key id (0 = unlimited, the default).
    pub rate_limit_dp: f64,
    /// Registered decimalization tables (`None` = `data::pin::DEFAULT_DECIMALIZATION_TABLES`).
    pub decimalization_tables: Option<Vec<String>>,
    /// Consecutive failed `VerifyPinData` per PAN before it is refused (0 = off, the default).
    pub pin_try_limit: u32,
    /// Failed `VerifyPinData` per verification key before it is refused (0 = off, the default).
    pub pin_key_failure_limit: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./paycrypt-data"),
            database_url: None,
            tls: None,
            audit_log: AuditDestination::Stderr,
            region: "us-east-1".into(),
            account: "111122223333".into(),
            master_key: MasterKeySource::Default,
            max_body_bytes: 256 * 1024,
            credentials: None,
            rate_limit_cp: 0.0,
            rate_limit_dp: 0.0,
            decimalization_tables: None,
            pin_try_limit: 0,
            pin_key_failure_limit: 0,
        }
    }
}

/// Where the credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `PAYCRYPT_ACCESS_KEY_ID` / `PAYCRYPT_SECRET_ACCESS_KEY`.
    Environment,
    /// Given in [`Config::credentials`].
    Config,
    /// Read from an existing credentials file.
    File(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// Resolve the credentials: the config's, else the environment's (both variables must be set),
/// else `<data_dir>/credentials` (AWS shared-credentials format, profile `[default]`), created
/// with a random pair (mode 0600) when it does not exist.
///
/// # Errors
/// A message for an incomplete environment, an unreadable/malformed file or a write failure.
pub fn resolve_credentials(config: &Config) -> Result<(Credentials, CredentialSource), String> {
    if let Some(c) = &config.credentials {
        return Ok((c.clone(), CredentialSource::Config));
    }
    let id = std::env::var(ENV_ACCESS_KEY_ID)
        .ok()
        .filter(|s| !s.is_empty());
    let secret = std::env::var(ENV_SECRET_ACCESS_KEY)
        .ok()
        .filter(|s| !s.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => {
            return Ok((Credentials::new(id, secret), CredentialSource::Environment))
        }
        (None, None) => {}
        _ => {
            return Err(format!(
                "set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither"
            ))
        }
    }
    let path = config.data_dir.join("credentials");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let c = parse_credentials_file(&text).ok_or_else(|| {
            format!(
                "{} has no [default] profile with aws_access_key_id and aws_secret_access_key",
                path.display()
            )
        })?;
        return Ok((c, CredentialSource::File(path)));
    }
    let c = generate_credentials().map_err(|e| format!("cannot generate credentials: {e}"))?;
    write_credentials_file(&path, &c)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((c, CredentialSource::Generated(path)))
}

/// Parse the `[default]` profile of an AWS shared-credentials file.
pub fn parse_credentials_file(text: &str) -> Option<Credentials> {
    let mut in_default = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_default = line == "[default]";
            continue;
        }
        if !in_default {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    Some(Credentials::new(id?, secret?))
}

const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(
    prefix: &str,
    len: usize,
    alphabet: &[u8],
) -> Result<String, paycrypt_core::Error> {
    let mut s = String::from(prefix);
    let mut buf = vec![0u8; len];
    paycrypt_core::random::fill(&mut buf)?;
    for b in buf {
        // 256 is a multiple of 64 and close enough for 36 (bias irrelevant for an id).
        s.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
    }
    Ok(s)
}

/// A random access key id (`PCAK` + 16 upper-case alphanumerics) and a 40-character secret.
///
/// # Errors
/// If the OS random generator fails.
pub fn generate_credentials() -> Result<Credentials, paycrypt_core::Error> {
    Ok(Credentials::new(
        random_string("PCAK", 16, ALNUM_UPPER)?,
        random_string("", 40, SECRET_CHARS)?,
    ))
}

fn write_credentials_file(path: &Path, c: &Credentials) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    use std::io::Write;
    let mut f = o.open(path)?;
    let text = zeroize::Zeroizing::new(format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        c.access_key_id,
        c.secret()
    ));
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("paycrypt-cred-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        let c = generate_credentials().unwrap();
        assert_eq!(c.access_key_id.len(), 20);
        assert_eq!(c.secret().len(), 40);
        let p = dir.join("credentials");
        write_credentials_file(&p, &c).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let back = parse_credentials_file(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(back.access_key_id, c.access_key_id);
        assert_eq!(back.secret(), c.secret());
        assert!(!format!("{back:?}").contains(c.secret()));
        let _ = cfg;
        let _ = std::fs::remove_dir_all(dir);
    }
}
