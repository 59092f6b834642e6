//! Sealing key material at rest: AES-256-GCM under the master key, a random 96-bit nonce
//! per seal, and the key's ARN plus its security-relevant attributes as associated data.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use paycrypt_core::secret::SecretBytes;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

use crate::error::StoreError;
use crate::model::Key;

/// Where the 256-bit master key comes from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A file holding 32 raw bytes or 64 hex characters (surrounding whitespace ignored).
    File(PathBuf),
    /// The name of an environment variable holding 64 hex characters.
    Env(String),
    /// `<data_dir>/master.key`, created (mode 0600) with a random key on first use.
    /// For development only: [`crate::Store::warnings`] says so.
    Default,
}

/// The loaded master key: an AES-256-GCM key and its identifier.
pub(crate) struct MasterKey {
    key: LessSafeKey,
    id: String,
}

impl core::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MasterKey {{ id: {} }}", self.id)
    }
}

/// Sealed material as stored: nonce ‖ ciphertext ‖ tag, and the master key id it is sealed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub blob: Vec<u8>,
    pub master_key_id: String,
}

impl MasterKey {
    /// From 32 raw bytes. The identifier is the 8-byte AES-CMAC KCV of the key (hex): it
    /// identifies the key without revealing it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 32 {
            return Err(StoreError::validation("the master key must be 32 bytes"));
        }
        let cipher = paycrypt_core::cipher::BlockCipher::aes(bytes)
            .map_err(|_| StoreError::internal("master key: AES key schedule failed"))?;
        let kcv = paycrypt_core::kcv::cmac_kcv(&cipher, 8)
            .map_err(|_| StoreError::internal("master key: KCV failed"))?;
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::internal("master key: AES-GCM key setup failed"))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            id: paycrypt_core::hex::encode(&kcv),
        })
    }

    /// A fresh random master key (in-memory stores, tests).
    pub fn random() -> Result<Self, StoreError> {
        let k = paycrypt_core::random::secret_bytes(32)
            .map_err(|_| StoreError::internal("random generator failed"))?;
        Self::from_bytes(k.expose())
    }

    /// Load from a source. Returns the key and a warning to show the operator, if any.
    pub fn load(
        source: &MasterKeySource,
        data_dir: &Path,
    ) -> Result<(Self, Option<String>), StoreError> {
        match source {
            MasterKeySource::File(path) => {
                let warning = permission_warning(path);
                Ok((Self::from_file(path)?, warning))
            }
            MasterKeySource::Env(var) => {
                let v = Zeroizing::new(std::env::var(var).map_err(|_| {
                    StoreError::validation(format!(
                        "master key environment variable {var} is not set or not UTF-8"
                    ))
                })?);
                let bytes = decode_hex_key(v.trim()).ok_or_else(|| {
                    StoreError::validation(format!(
                        "master key environment variable {var} must hold 64 hex characters"
                    ))
                })?;
                Ok((Self::from_bytes(&bytes[..])?, None))
            }
            MasterKeySource::Default => {
                let path = data_dir.join("master.key");
                let mut warning = format!(
                    "WARNING: using the development master key file {} (created on first start, \
                     stored next to the database). Do not use this in production: supply the \
                     master key from a separate file or an environment variable.",
                    path.display()
                );
                if !path.exists() {
                    create_default_key_file(&path)?;
                    warning.push_str(" A new master key was generated.");
                }
                let key = Self::from_file(&path)?;
                if let Some(w) = permission_warning(&path) {
                    warning.push(' ');
                    warning.push_str(&w);
                }
                Ok((key, Some(warning)))
            }
        }
    }

    fn from_file(path: &Path) -> Result<Self, StoreError> {
        let data = Zeroizing::new(std::fs::read(path).map_err(|e| {
            StoreError::internal(format!(
                "cannot read master key file {}: {}",
                path.display(),
                e.kind()
            ))
        })?);
        if data.len() == 32 {
            return Self::from_bytes(&data[..]);
        }
        let text = std::str::from_utf8(&data[..]).map_err(|_| bad_key_file(path))?;
        let bytes = decode_hex_key(text.trim()).ok_or_else(|| bad_key_file(path))?;
        Self::from_bytes(&bytes[..])
    }

    /// The identifier recorded next to every sealed row.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seal `material` for `key` (AAD = [`aad`]).
    pub fn seal(&self, key: &Key, material: &[u8]) -> Result<Sealed, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        paycrypt_core::random::fill(&mut nonce)
            .map_err(|_| StoreError::internal("random generator failed"))?;
        let mut buf = Zeroizing::new(Vec::with_capacity(NONCE_LEN + material.len() + 16));
        buf.extend_from_slice(material);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(key).as_bytes()),
                &mut *buf,
            )
            .map_err(|_| StoreError::internal("sealing failed"))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + buf.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&buf);
        Ok(Sealed {
            blob,
            master_key_id: self.id.clone(),
        })
    }

    /// Unseal a blob made by [`MasterKey::seal`] for the same key ARN and attributes.
    pub fn unseal(&self, key: &Key, sealed: &Sealed) -> Result<SecretBytes, StoreError> {
        let fail = || {
            StoreError::internal(format!(
                "key {}: sealed material failed its integrity check",
                key.key_arn
            ))
        };
        if sealed.master_key_id != self.id {
            return Err(StoreError::internal(format!(
                "key {} is sealed under master key {}, not the current master key {}",
                key.key_arn, sealed.master_key_id, self.id
            )));
        }
        if sealed.blob.len() < NONCE_LEN + 16 {
            return Err(fail());
        }
        let (n, ct) = sealed.blob.split_at(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(n);
        let mut buf = ct.to_vec();
        let res = self.key.open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(key).as_bytes()),
            &mut buf,
        );
        match res {
            Ok(plain) => {
                let out = SecretBytes::from_slice(plain);
                buf.zeroize();
                Ok(out)
            }
            Err(_) => {
                buf.zeroize();
                Err(fail())
            }
        }
    }
}

/// The associated data binding sealed material to its key: ARN, usage, class, algorithm,
/// modes of use, exportable, origin and derive-key usage. Changing any of them in the
/// database makes the material fail to unseal.
pub(crate) fn aad(key: &Key) -> String {
    let a = &key.key_attributes;
    let m = &a.key_modes_of_use;
    let bits: String = [
        m.encrypt,
        m.decrypt,
        m.wrap,
        m.unwrap,
        m.generate,
        m.sign,
        m.verify,
        m.derive_key,
        m.no_restrictions,
    ]
    .iter()
    .map(|b| if *b { '1' } else { '0' })
    .collect();
    let mut s = format!(
        "paycrypt-seal-v1|{}|{}|{}|{}|{}|{}|{}|{}",
        key.key_arn,
        a.key_usage,
        a.key_class,
        a.key_algorithm,
        bits,
        key.exportable,
        key.key_origin,
        key.derive_key_usage.map_or("-", |u| u.as_str()),
    );
    // The TR-31 exportability letter, when recorded (keys stored before it existed keep the
    // v1 form above, so their material still unseals).
    if let Some(e) = key.exportability {
        s.push('|');
        s.push(e.tr31_code());
    }
    s
}

fn decode_hex_key(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if s.len() != 64 {
        return None;
    }
    paycrypt_core::hex::decode_secret("master_key", s)
        .ok()
        .map(|b| Zeroizing::new(b.expose().to_vec()))
}

fn bad_key_file(path: &Path) -> StoreError {
    StoreError::validation(format!(
        "master key file {} must hold 32 raw bytes or 64 hex characters",
        path.display()
    ))
}

fn create_default_key_file(path: &Path) -> Result<(), StoreError> {
    use std::io::Write;
    let key = paycrypt_core::random::secret_bytes(32)
        .map_err(|_| StoreError::internal("random generator failed"))?;
    let mut text = Zeroizing::new(paycrypt_core::hex::encode(key.expose()));
    text.push('\n');
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |e: std::io::Error| {
        StoreError::internal(format!(
            "cannot create master key file {}: {}",
            path.display(),
            e.kind()
        ))
    };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "WARNING: master key file {} is accessible to group/others (mode {:o}); use 0600.",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_path: &Path) -> Option<String> {
    None
}
