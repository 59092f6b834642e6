//! The key store: keys, aliases and tags with AWS Payment Cryptography semantics, an
//! in-memory cache of unsealed keys for the data plane, and a persistence backend.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use paycrypt_core::secret::SecretBytes;

use crate::backend::{Backend, Change, MemoryBackend, RowSource};
use crate::cache::{Compact, EntryRef, KeyId, KeyTable};
use crate::error::StoreError;
use crate::model::{
    Alias, Key, KeyAlgorithm, KeyAttributes, KeyCheckValueAlgorithm, KeyClass, KeyExportability,
    KeyOrigin, KeyReplicationState, KeyState, KeySummary, KeyUsage, MultiRegionKeyType,
    ReplicationStatusType, Tag,
};
use crate::seal::{MasterKey, MasterKeySource};
use crate::validate::{self, Identifier, Provenance, TokenKind};

/// Maximum keys per store, excluding DELETE_COMPLETE keys (AWS default quota).
pub const MAX_KEYS: usize = 2_000;
/// Maximum aliases per store (AWS default quota).
pub const MAX_ALIASES: usize = 2_000;
/// Seconds per day, for `DeleteKeyInDays`.
const DAY: f64 = 86_400.0;

/// How to open a persistent store.
#[derive(Clone)]
pub struct StoreConfig {
    /// Directory for the database file (`paycrypt.db`) and the default master key file.
    pub data_dir: PathBuf,
    /// `None`: SQLite at `<data_dir>/paycrypt.db`. `sqlite://<path>`: SQLite at that path.
    /// `postgres://…` / `postgresql://…`: PostgreSQL (shared by several nodes; no TLS).
    pub database_url: Option<String>,
    /// Where the master key comes from.
    pub master_key: MasterKeySource,
    /// AWS region used in ARNs (`[a-z]{2}-[a-z]{1,16}-[0-9]+`).
    pub region: String,
    /// 12-digit account id used in ARNs.
    pub account: String,
}

impl core::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The database URL may hold a password: show only its scheme.
        let url = self
            .database_url
            .as_deref()
            .map(|u| u.split("://").next().unwrap_or("?").to_owned() + "://…");
        f.debug_struct("StoreConfig")
            .field("data_dir", &self.data_dir)
            .field("database_url", &url)
            .field("master_key", &self.master_key)
            .field("region", &self.region)
            .field("account", &self.account)
            .finish()
    }
}

/// `CreateKey` input.
#[derive(Debug, Clone)]
pub struct CreateKeyRequest {
    /// Usage, class, algorithm, modes of use (checked against the AWS table).
    pub key_attributes: KeyAttributes,
    /// KCV algorithm; default ANSI_X9_24 for TDES, CMAC for AES, HMAC for HMAC keys.
    pub key_check_value_algorithm: Option<KeyCheckValueAlgorithm>,
    /// Whether the key may be exported.
    pub exportable: bool,
    /// Default true.
    pub enabled: Option<bool>,
    /// Up to 200 tags.
    pub tags: Vec<Tag>,
    /// Only for K3 (ECDH) keys.
    pub derive_key_usage: Option<KeyUsage>,
}

/// `ImportKey` input, after the server has unwrapped the material (TR-31, TR-34, key cryptogram).
#[derive(Debug, Clone)]
pub struct ImportKeyRequest {
    /// Usage, class, algorithm, modes of use (checked against the AWS table; asymmetric usages
    /// must use class PUBLIC_KEY).
    pub key_attributes: KeyAttributes,
    /// The clear key material (for PUBLIC_KEY: the public key bytes, stored as given).
    pub material: SecretBytes,
    /// KCV algorithm; defaults as for [`CreateKeyRequest`].
    pub key_check_value_algorithm: Option<KeyCheckValueAlgorithm>,
    /// Whether the key may be exported.
    pub exportable: bool,
    /// Default true.
    pub enabled: Option<bool>,
    /// Up to 200 tags.
    pub tags: Vec<Tag>,
}

/// Options of [`Store::create_key_with`] / [`Store::import_key_with`] beyond the basic request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct KeyOptions {
    /// `ReplicationRegions`: `Some` = the caller's list (possibly empty); `None` = the
    /// account's default replication regions ([`Store::default_replication_regions`]).
    pub replication_regions: Option<Vec<String>>,
    /// The TR-31 exportability to record (import: the key block's letter). `None`: `SENSITIVE`
    /// for exportable keys, `NON_EXPORTABLE` otherwise. A non-exportable key is always
    /// recorded `NON_EXPORTABLE`, and `NON_EXPORTABLE` makes the key non-exportable.
    pub exportability: Option<KeyExportability>,
}

impl KeyOptions {
    /// Options with these replication regions (`None` = account defaults) and exportability.
    pub fn new(
        replication_regions: Option<Vec<String>>,
        exportability: Option<KeyExportability>,
    ) -> Self {
        Self {
            replication_regions,
            exportability,
        }
    }
}

/// Setting name of a raised key quota (decimal; only [`Store::seed_keys`] raises it).
const SETTING_KEY_QUOTA: &str = "key-quota";
/// Setting name of the account's default replication regions (a JSON list).
const SETTING_DEFAULT_REGIONS: &str = "default-replication-regions";
/// Setting-name prefix of MPA team associations (`mpa-team:<MpaOperation>` = team ARN).
const SETTING_MPA_PREFIX: &str = "mpa-team:";
/// Setting-name prefix of resource policies (`resource-policy:<key ARN>` = JSON document).
const SETTING_POLICY_PREFIX: &str = "resource-policy:";

/// A key ready for data-plane use: its metadata and its clear material.
pub struct LoadedKey {
    /// Metadata (state, enabled, attributes, KCV...). The caller authorizes the use.
    pub key: Key,
    material: SecretBytes,
}

impl LoadedKey {
    pub(crate) fn new(key: Key, material: SecretBytes) -> Self {
        Self { key, material }
    }

    /// The clear key material. Keep the borrow short; never log it.
    pub fn material(&self) -> &[u8] {
        self.material.expose()
    }

    /// The DER SubjectPublicKeyInfo of an asymmetric key: the stored bytes of an imported
    /// PUBLIC_KEY, or the public half of a generated ASYMMETRIC_KEY_PAIR (whose material is a
    /// PKCS#8 private key). `None` for symmetric keys or unparsable material.
    pub fn public_key_der(&self) -> Option<Vec<u8>> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{self as sig, KeyPair as _};
        let attrs = &self.key.key_attributes;
        match attrs.key_class {
            KeyClass::PublicKey => Some(self.material().to_vec()),
            KeyClass::AsymmetricKeyPair if attrs.key_algorithm.is_rsa() => {
                let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(self.material()).ok()?;
                Some(kp.public_key().as_der().ok()?.as_ref().to_vec())
            }
            KeyClass::AsymmetricKeyPair => {
                let curve = match attrs.key_algorithm {
                    KeyAlgorithm::EccNistP256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    KeyAlgorithm::EccNistP384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    KeyAlgorithm::EccNistP521 => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
                    _ => return None,
                };
                let kp = sig::EcdsaKeyPair::from_pkcs8(curve, self.material()).ok()?;
                Some(kp.public_key().as_der().ok()?.as_ref().to_vec())
            }
            _ => None,
        }
    }
}

impl core::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("key", &self.key)
            .field("material", &self.material)
            .finish()
    }
}

struct Cache {
    keys: KeyTable,
    aliases: BTreeMap<String, Option<String>>,
    tags: HashMap<String, Vec<Tag>>,
    settings: BTreeMap<String, String>,
}

impl Cache {
    fn new(region: &str, account: &str) -> Self {
        Self {
            keys: KeyTable::new(region, account),
            aliases: BTreeMap::new(),
            tags: HashMap::new(),
            settings: BTreeMap::new(),
        }
    }
}

struct Writer {
    backend: Box<dyn Backend>,
    master: MasterKey,
}

impl Writer {
    fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        self.backend.apply(self.master.id(), changes)
    }
}

/// Parse and unseal a chunk of key rows into compact records, on all cores. A row whose
/// material fails to unseal becomes a broken record (metadata kept, material none).
fn unseal_rows(
    rows: Vec<RowSource>,
    master: &MasterKey,
    prefix: &str,
) -> Result<Vec<(KeyId, Compact)>, StoreError> {
    let one = |r: RowSource| -> Result<(KeyId, Compact), StoreError> {
        let row = r.into_row()?;
        let id: KeyId = row
            .key
            .key_arn
            .strip_prefix(prefix)
            .and_then(|id| id.as_bytes().try_into().ok())
            .ok_or_else(|| crate::cache::foreign(&row.key.key_arn))?;
        let c = match &row.sealed {
            None => Compact::new(&row.key, None, false, row.version),
            Some(sealed) => match master.unseal(&row.key, sealed) {
                Ok(m) => Compact::new(&row.key, Some(m.expose()), false, row.version),
                Err(_) => Compact::new(&row.key, None, true, row.version),
            },
        };
        Ok((id, c))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 16);
    // Every Vec of records is allocated at its final size (no `realloc` leaving copies of
    // clear material in freed memory) and wiped after its records are moved out.
    let unseal_part = |part: Vec<RowSource>| -> Result<Vec<(KeyId, Compact)>, StoreError> {
        let mut out = Vec::with_capacity(part.len());
        for r in part {
            out.push(one(r)?);
        }
        Ok(out)
    };
    if threads == 1 || rows.len() < 1024 {
        return unseal_part(rows);
    }
    let per = rows.len().div_ceil(threads);
    let mut parts: Vec<Vec<RowSource>> = Vec::with_capacity(threads);
    let mut it = rows.into_iter();
    loop {
        let part: Vec<RowSource> = it.by_ref().take(per).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let results: Vec<Result<Vec<(KeyId, Compact)>, StoreError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| sc.spawn(move || unseal_part(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::internal("key loader thread failed")))
            })
            .collect()
    });
    let total = results.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum();
    let mut out = Vec::with_capacity(total);
    for r in results {
        crate::cache::drain_wiping(r?, |x| {
            out.push(x);
            Ok(())
        })?;
    }
    Ok(out)
}

/// Load everything from the backend into a new cache (key rows streamed in chunks and
/// unsealed in parallel). Returns the cache, the number of keys that failed to unseal, and the
/// master key id the database records.
fn load_cache(
    backend: &mut dyn Backend,
    master: &MasterKey,
    region: &str,
    account: &str,
) -> Result<(Cache, usize, Option<String>), StoreError> {
    let prefix = format!("arn:aws:payment-cryptography:{region}:{account}:key/");
    let mut cache = Cache::new(region, account);
    let mut ids = Vec::new();
    let snap = backend.load_chunked(&mut |rows| {
        crate::cache::drain_wiping(unseal_rows(rows, master, &prefix)?, |(id, c)| {
            cache.keys.push_loaded(&mut ids, id, c)
        })
    })?;
    cache.keys.finish_load(ids)?;
    let broken = cache.keys.broken();
    cache.aliases = snap.aliases.into_iter().collect();
    cache.tags = snap.tags.into_iter().collect();
    cache.settings = snap.settings.into_iter().collect();
    Ok((cache, broken, snap.master_key_id))
}

struct Inner {
    region: String,
    account: String,
    data_dir: Option<PathBuf>,
    warnings: Vec<String>,
    writer: Mutex<Writer>,
    cache: RwLock<Cache>,
}

impl Inner {
    fn reload(&self) -> Result<(), StoreError> {
        // Incremental: only key rows that are new or at another version than the cache's are
        // read and unsealed (key rows are never deleted); aliases, tags and settings are read
        // whole. Writers hold the writer lock, so the cache cannot change meanwhile.
        let mut guard = lock(&self.writer);
        let w = &mut *guard;
        let prefix = format!(
            "arn:aws:payment-cryptography:{}:{}:key/",
            self.region, self.account
        );
        let mut records: Vec<(KeyId, Compact)> = Vec::new();
        let snap = {
            let c = read(&self.cache);
            let is_current =
                |arn: &str, v: i64| c.keys.get(arn).is_some_and(|e| e.e.version() == v);
            let master = &w.master;
            w.backend.load_changed(&is_current, &mut |rows| {
                crate::cache::drain_wiping(unseal_rows(rows, master, &prefix)?, |x| {
                    crate::cache::push_wiping(&mut records, x);
                    Ok(())
                })
            })?
        };
        if let Some(id) = &snap.master_key_id {
            if id != w.master.id() {
                return Err(crate::backend::master_key_changed(id, w.master.id()));
            }
        }
        let mut c = write(&self.cache);
        crate::cache::drain_wiping(records, |(id, record)| c.keys.put(id, record))?;
        c.aliases = snap.aliases.into_iter().collect();
        c.tags = snap.tags.into_iter().collect();
        c.settings = snap.settings.into_iter().collect();
        drop(c);
        drop(guard);
        Ok(())
    }
}

/// The key store. Cheap to clone (an `Arc` inside); `Send + Sync`.
///
/// Control-plane methods serialize on one writer lock, write to the backend first (one
/// transaction per call) and then update the in-memory cache. [`Store::key_for_use`] reads only
/// the cache.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("region", &self.inner.region)
            .field("account", &self.inner.account)
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

fn now() -> f64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    // Millisecond precision, as AWS shows (e.g. 1698245002.065).
    (ms as f64) / 1000.0
}

fn random_key_id() -> Result<String, StoreError> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(16);
    let mut buf = [0u8; 32];
    while out.len() < 16 {
        paycrypt_core::random::fill(&mut buf)
            .map_err(|_| StoreError::internal("random generator failed"))?;
        for b in buf {
            // Rejection sampling: 252 = 7 * 36, so values below it are uniform mod 36.
            if b < 252 && out.len() < 16 {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    Ok(out)
}

fn kcv_hex(
    alg: KeyAlgorithm,
    material: &[u8],
    kcv_alg: KeyCheckValueAlgorithm,
) -> Result<String, StoreError> {
    use paycrypt_core::mac::HashAlgorithm as H;
    let bad = || {
        StoreError::validation(format!(
            "KeyCheckValueAlgorithm {kcv_alg} is not valid for KeyAlgorithm {alg}"
        ))
    };
    let failed = || StoreError::internal("key check value computation failed");
    let v = match kcv_alg {
        KeyCheckValueAlgorithm::AnsiX9_24 | KeyCheckValueAlgorithm::Cmac => {
            let c = alg.cipher_algorithm().ok_or_else(bad)?;
            let cipher = paycrypt_core::cipher::BlockCipher::new(c, material).map_err(|_| {
                StoreError::validation(format!("key material is not a valid {alg} key"))
            })?;
            if kcv_alg == KeyCheckValueAlgorithm::AnsiX9_24 {
                paycrypt_core::kcv::ansi_x9_24(&cipher, 3).map_err(|_| failed())?
            } else {
                paycrypt_core::kcv::cmac_kcv(&cipher, 3).map_err(|_| failed())?
            }
        }
        KeyCheckValueAlgorithm::Hmac => {
            let h = match alg {
                KeyAlgorithm::HmacSha224 => H::Sha224,
                KeyAlgorithm::HmacSha256 => H::Sha256,
                KeyAlgorithm::HmacSha384 => H::Sha384,
                KeyAlgorithm::HmacSha512 => H::Sha512,
                _ => return Err(bad()),
            };
            paycrypt_core::kcv::hmac_kcv(h, material, 3).map_err(|_| failed())?
        }
        KeyCheckValueAlgorithm::Sha1 => {
            if alg.is_symmetric() {
                return Err(bad());
            }
            paycrypt_core::kcv::sha1_kcv(material, 4).map_err(|_| failed())?
        }
    };
    Ok(paycrypt_core::hex::encode(&v))
}

fn default_kcv_algorithm(alg: KeyAlgorithm) -> KeyCheckValueAlgorithm {
    if alg.is_tdes() {
        KeyCheckValueAlgorithm::AnsiX9_24
    } else if alg.is_hmac() {
        KeyCheckValueAlgorithm::Hmac
    } else if alg.is_aes() {
        KeyCheckValueAlgorithm::Cmac
    } else {
        // AWS examples label asymmetric KCVs CMAC (AWS-API.md §3.5).
        KeyCheckValueAlgorithm::Cmac
    }
}

/// KCV of an asymmetric key: SHA-1 over the public key bytes (DER SubjectPublicKeyInfo),
/// leftmost 4 bytes, upper-case hex. (AWS shows 4-byte KCVs for asymmetric keys without
/// documenting the algorithm.)
fn asymmetric_kcv(public_key: &[u8]) -> Result<String, StoreError> {
    let v = paycrypt_core::kcv::sha1_kcv(public_key, 4)
        .map_err(|_| StoreError::internal("key check value computation failed"))?;
    Ok(paycrypt_core::hex::encode(&v))
}

/// Generate an RSA or ECC key pair: (PKCS#8 v1 DER private key, DER SubjectPublicKeyInfo).
fn generate_key_pair(alg: KeyAlgorithm) -> Result<(SecretBytes, Vec<u8>), StoreError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{self as sig, KeyPair as _};
    let fail = || StoreError::internal(format!("{alg} key pair generation failed"));
    if alg.is_rsa() {
        let size = match alg {
            KeyAlgorithm::Rsa2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
            KeyAlgorithm::Rsa3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
            _ => aws_lc_rs::rsa::KeySize::Rsa4096,
        };
        let kp = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| fail())?;
        let pkcs8 =
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&kp).map_err(|_| fail())?;
        let spki = kp.public_key().as_der().map_err(|_| fail())?;
        return Ok((
            SecretBytes::from_slice(pkcs8.as_ref()),
            spki.as_ref().to_vec(),
        ));
    }
    let curve = match alg {
        KeyAlgorithm::EccNistP256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        KeyAlgorithm::EccNistP384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeyAlgorithm::EccNistP521 => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => {
            return Err(StoreError::validation(format!(
                "{alg} is not a key pair algorithm"
            )))
        }
    };
    let kp = sig::EcdsaKeyPair::generate(curve).map_err(|_| fail())?;
    let pkcs8 = kp.to_pkcs8v1().map_err(|_| fail())?;
    let spki = kp.public_key().as_der().map_err(|_| fail())?;
    Ok((
        SecretBytes::from_slice(pkcs8.as_ref()),
        spki.as_ref().to_vec(),
    ))
}

/// Check imported symmetric material against its algorithm.
fn check_material(alg: KeyAlgorithm, material: &[u8]) -> Result<(), StoreError> {
    if alg.is_hmac() {
        if !(16..=128).contains(&material.len()) {
            return Err(StoreError::validation(format!(
                "{alg} key material must be 16 to 128 bytes"
            )));
        }
        return Ok(());
    }
    if !alg.is_symmetric() {
        if material.is_empty() || material.len() > 16_384 {
            return Err(StoreError::validation(
                "public key material must be 1 to 16384 bytes",
            ));
        }
        return Ok(());
    }
    if Some(material.len()) != alg.symmetric_key_len() {
        return Err(StoreError::validation(format!(
            "key material length {} does not match KeyAlgorithm {alg}",
            material.len()
        )));
    }
    if alg.is_tdes() && paycrypt_core::cipher::check_tdes_key(material).is_err() {
        return Err(StoreError::validation(
            "TDES key material has equal key parts (degenerates to single DES)",
        ));
    }
    Ok(())
}

fn generate_material(alg: KeyAlgorithm) -> Result<SecretBytes, StoreError> {
    let len = alg
        .symmetric_key_len()
        .ok_or_else(|| StoreError::validation(format!("KeyAlgorithm {alg} cannot be generated")))?;
    loop {
        let mut m = paycrypt_core::random::secret_bytes(len)
            .map_err(|_| StoreError::internal("random generator failed"))?;
        if alg.is_tdes() {
            paycrypt_core::emv::set_odd_parity(m.expose_mut());
            if paycrypt_core::cipher::check_tdes_key(m.expose()).is_err() {
                continue; // never hand out a degenerate TDES key
            }
        }
        return Ok(m);
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

fn paginate<T: Clone>(
    items: Vec<(String, T)>,
    kind: TokenKind,
    next_token: Option<&str>,
    max_results: Option<u32>,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    let size = validate::page_size(max_results)?;
    let after = next_token
        .map(|t| validate::parse_token(kind, t))
        .transpose()?;
    let mut it = items
        .into_iter()
        .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
        .peekable();
    let mut out = Vec::with_capacity(size.min(64));
    let mut last = None;
    while out.len() < size {
        match it.next() {
            Some((k, v)) => {
                out.push(v);
                last = Some(k);
            }
            None => break,
        }
    }
    let token = match (it.peek(), last) {
        (Some(_), Some(l)) => Some(validate::make_token(kind, &l)),
        _ => None,
    };
    Ok((out, token))
}

impl Store {
    /// Open (or create) a persistent store — SQLite at `<data_dir>/paycrypt.db` by default, or
    /// PostgreSQL for a `postgres://` URL — migrate its schema and unseal every key into memory.
    /// With PostgreSQL a listener thread keeps this node's cache in step with other nodes.
    /// Call it from a blocking context (the PostgreSQL client runs its own runtime).
    ///
    /// # Errors
    /// `Validation` for a bad region/account, master key, database URL, or a database sealed
    /// under a different master key or made for another region/account; `Internal` for I/O or
    /// database errors.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        check_scope(&config.region, &config.account)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StoreError::internal(format!(
                "cannot create data directory {}: {}",
                config.data_dir.display(),
                e.kind()
            ))
        })?;
        let db_path = match config.database_url.as_deref() {
            None => config.data_dir.join("paycrypt.db"),
            Some(url) => {
                if let Some(p) = url.strip_prefix("sqlite://") {
                    PathBuf::from(p)
                } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    return Self::open_postgres(config.clone(), url);
                } else {
                    return Err(StoreError::validation(
                        "database URL must start with sqlite:// or postgres://",
                    ));
                }
            }
        };
        let (master, warning) = MasterKey::load(&config.master_key, &config.data_dir)?;
        let backend =
            crate::sqlite::SqliteBackend::open(&db_path, &config.region, &config.account)?;
        Self::with_backend(
            Box::new(backend),
            master,
            &config.region,
            &config.account,
            Some(config.data_dir),
            warning.into_iter().collect(),
        )
    }

    fn open_postgres(config: StoreConfig, url: &str) -> Result<Store, StoreError> {
        let (master, warning) = MasterKey::load(&config.master_key, &config.data_dir)?;
        let node_id = random_key_id()?;
        let backend =
            crate::postgres::PgBackend::open(url, &config.region, &config.account, &node_id)?;
        let store = Self::with_backend(
            Box::new(backend),
            master,
            &config.region,
            &config.account,
            Some(config.data_dir),
            warning.into_iter().collect(),
        )?;
        crate::postgres::listen(
            url.to_owned(),
            node_id,
            Arc::downgrade(&store.inner),
            |inner: &Inner| {
                // Errors leave the previous cache in place; the next notification retries.
                let _ = inner.reload();
            },
        )?;
        Ok(store)
    }

    /// Reload the cache from the database (keys, aliases, tags). The PostgreSQL backend calls
    /// this on every change notification from another node; with SQLite it picks up changes
    /// made by another process on the same file.
    ///
    /// # Errors
    /// `Internal` on a database error, or if the database is now sealed under another master
    /// key (the old cache stays in place then).
    pub fn reload(&self) -> Result<(), StoreError> {
        self.inner.reload()
    }

    /// A store that keeps nothing on disk (tests, demos). Material is held in memory only.
    ///
    /// # Errors
    /// `Validation` for a bad region or account id.
    pub fn open_in_memory(region: &str, account: &str) -> Result<Store, StoreError> {
        check_scope(region, account)?;
        Self::with_backend(
            Box::new(MemoryBackend),
            MasterKey::random()?,
            region,
            account,
            None,
            Vec::new(),
        )
    }

    fn with_backend(
        mut backend: Box<dyn Backend>,
        master: MasterKey,
        region: &str,
        account: &str,
        data_dir: Option<PathBuf>,
        mut warnings: Vec<String>,
    ) -> Result<Store, StoreError> {
        let (cache, broken, db_master) = load_cache(&mut *backend, &master, region, account)?;
        match &db_master {
            Some(id) if id != master.id() => {
                return Err(StoreError::validation(format!(
                "the database is sealed under master key {id}, but the configured master key is {}",
                master.id()
            )))
            }
            Some(_) => {}
            None => backend.apply(
                master.id(),
                &[Change::SetMasterKeyId(master.id().to_owned())],
            )?,
        }
        if broken > 0 {
            warnings.push(format!(
                "WARNING: {broken} key(s) failed their integrity check when unsealed and are unusable"
            ));
        }
        Ok(Store {
            inner: Arc::new(Inner {
                region: region.to_owned(),
                account: account.to_owned(),
                data_dir,
                warnings,
                writer: Mutex::new(Writer { backend, master }),
                cache: RwLock::new(cache),
            }),
        })
    }

    /// Warnings for the operator (development master key, loose file permissions, keys that
    /// failed their integrity check). The server should print them at start-up.
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    /// The ARNs of keys whose stored material failed to unseal (tampered or corrupted rows).
    pub fn integrity_failures(&self) -> Vec<String> {
        let c = read(&self.inner.cache);
        c.keys
            .iter()
            .filter(|e| e.e.broken())
            .map(|e| e.arn())
            .collect()
    }

    /// The region in ARNs.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account in ARNs.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The identifier (8-byte CMAC KCV, hex) of the current master key.
    pub fn master_key_id(&self) -> String {
        lock(&self.inner.writer).master.id().to_owned()
    }

    fn in_scope(&self, region: &str, account: &str) -> bool {
        region == self.inner.region && account == self.inner.account
    }

    /// Resolve a `KeyArnOrKeyAliasType` to a cached key ARN.
    fn resolve<'c>(&self, cache: &'c Cache, identifier: &str) -> Result<EntryRef<'c>, StoreError> {
        let nf = || StoreError::not_found(identifier);
        let arn: &str = match validate::parse_identifier(identifier)? {
            Identifier::KeyArn {
                arn,
                region,
                account,
            } => {
                if !self.in_scope(region, account) {
                    return Err(nf());
                }
                arn
            }
            Identifier::Alias { name, scope } => {
                if let Some((r, a)) = scope {
                    if !self.in_scope(r, a) {
                        return Err(nf());
                    }
                }
                match cache.aliases.get(name) {
                    Some(Some(arn)) => arn.as_str(),
                    _ => return Err(nf()),
                }
            }
        };
        cache.keys.get(arn).ok_or_else(nf)
    }

    /// Resolve a `KeyArn` argument (alias targets, tag resources): must be a key ARN of this
    /// store. Returns the ARN.
    fn resolve_key_arn(&self, cache: &Cache, field: &str, arn: &str) -> Result<String, StoreError> {
        let (region, account) = validate::check_key_arn(field, arn)?;
        if !self.in_scope(region, account) || !cache.keys.contains(arn) {
            return Err(StoreError::not_found(arn));
        }
        Ok(arn.to_owned())
    }

    fn insert_new_key(
        &self,
        key: Key,
        material: SecretBytes,
        tags: Vec<Tag>,
    ) -> Result<Key, StoreError> {
        let mut w = lock(&self.inner.writer);
        let live = read(&self.inner.cache).keys.live();
        let quota = self.key_quota();
        if live >= quota {
            return Err(StoreError::QuotaExceeded(format!(
                "the account already has {quota} keys (the maximum)"
            )));
        }
        let mut key = key;
        // ARN collisions are astronomically unlikely; still, never overwrite a key.
        loop {
            let arn = format!(
                "arn:aws:payment-cryptography:{}:{}:key/{}",
                self.inner.region,
                self.inner.account,
                random_key_id()?
            );
            if !read(&self.inner.cache).keys.contains(&arn) {
                key.key_arn = arn;
                break;
            }
        }
        let sealed = w.master.seal(&key, material.expose())?;
        let mut changes = vec![Change::InsertKey {
            key: key.clone(),
            sealed,
        }];
        if !tags.is_empty() {
            changes.push(Change::SetTags {
                arn: key.key_arn.clone(),
                tags: tags.clone(),
            });
        }
        w.apply(&changes)?;
        let mut c = write(&self.inner.cache);
        if !tags.is_empty() {
            c.tags.insert(key.key_arn.clone(), tags);
        }
        c.keys.insert(&key, Some(material.expose()), false, 1)?;
        Ok(key)
    }

    fn new_key_metadata(
        attrs: KeyAttributes,
        kcv: String,
        kcv_alg: KeyCheckValueAlgorithm,
        exportable: bool,
        enabled: bool,
        origin: KeyOrigin,
        derive_key_usage: Option<KeyUsage>,
    ) -> Key {
        let t = now();
        Key {
            key_arn: String::new(),
            key_attributes: attrs,
            key_check_value: kcv,
            key_check_value_algorithm: kcv_alg,
            enabled,
            exportable,
            key_state: KeyState::CreateComplete,
            key_origin: origin,
            create_timestamp: t,
            usage_start_timestamp: enabled.then_some(t),
            usage_stop_timestamp: None,
            delete_pending_timestamp: None,
            delete_timestamp: None,
            derive_key_usage,
            multi_region_key_type: None,
            primary_region: None,
            replication_status: None,
            using_default_replication_regions: None,
            exportability: None,
        }
    }

    /// `CreateKey`: generate a key, compute its KCV, seal and store it. Origin
    /// AWS_PAYMENT_CRYPTOGRAPHY.
    ///
    /// * Symmetric keys: random material; TDES keys get odd parity and are never generated with
    ///   equal parts. KCV per `KeyCheckValueAlgorithm` (default ANSI_X9_24 for TDES, CMAC for AES,
    ///   HMAC for HMAC keys), 3 bytes.
    /// * ASYMMETRIC_KEY_PAIR (RSA 2048/3072/4096, ECC P-256/384/521, generated with aws-lc-rs):
    ///   the material is the PKCS#8 v1 DER private key ([`LoadedKey::public_key_der`] gives the
    ///   public key). The KCV is 4 bytes (8 hex, as AWS shows for asymmetric keys) of SHA-1 over
    ///   the DER SubjectPublicKeyInfo; AWS does not document its algorithm (AWS-API.md §3.5), and
    ///   the label is the requested `KeyCheckValueAlgorithm` (default CMAC, as AWS examples show).
    ///
    /// # Errors
    /// `Validation` for attributes outside the AWS table, a KCV algorithm that does not fit the
    /// key, or bad tags; `QuotaExceeded` past 2,000 keys.
    pub fn create_key(&self, req: CreateKeyRequest) -> Result<Key, StoreError> {
        self.create_key_with(req, KeyOptions::default())
    }

    /// [`Store::create_key`] with the options of [`KeyOptions`] (replication regions, TR-31
    /// exportability). Without `exportability`, an exportable created key is recorded as
    /// `SENSITIVE` (AWS lets keys it generated leave by TR-31, TR-34 and RSA key cryptogram) and
    /// a non-exportable one as `NON_EXPORTABLE`.
    ///
    /// # Errors
    /// As [`Store::create_key`], plus `Validation` for a bad replication region.
    pub fn create_key_with(
        &self,
        req: CreateKeyRequest,
        opts: KeyOptions,
    ) -> Result<Key, StoreError> {
        let attrs = req.key_attributes;
        validate::check_attributes(&attrs, req.derive_key_usage, Provenance::Create)?;
        validate::check_tags(&req.tags)?;
        let alg = attrs.key_algorithm;
        let kcv_alg = req
            .key_check_value_algorithm
            .unwrap_or_else(|| default_kcv_algorithm(alg));
        let (material, kcv) = if alg.is_symmetric() {
            let material = generate_material(alg)?;
            let kcv = kcv_hex(alg, material.expose(), kcv_alg)?;
            (material, kcv)
        } else {
            // Key generation happens outside the writer lock (RSA-4096 takes a while).
            let (private_pkcs8, public_spki) = generate_key_pair(alg)?;
            (private_pkcs8, asymmetric_kcv(&public_spki)?)
        };
        let key = Self::new_key_metadata(
            attrs,
            kcv,
            kcv_alg,
            req.exportable,
            req.enabled.unwrap_or(true),
            KeyOrigin::AwsPaymentCryptography,
            req.derive_key_usage,
        );
        let key = self.finish_new_key(key, opts)?;
        self.insert_new_key(key, material, req.tags)
    }

    /// `ImportKey` (after unwrapping): store caller-supplied material. Origin EXTERNAL.
    /// Symmetric material must have the algorithm's exact length (HMAC: 16..128 bytes) and TDES
    /// keys with equal parts are refused. Asymmetric usages are accepted only as PUBLIC_KEY
    /// (material = DER SubjectPublicKeyInfo, stored as given; KCV = first 4 bytes of SHA-1 over
    /// it, labelled with the requested algorithm, default CMAC).
    ///
    /// # Errors
    /// As [`Store::create_key`], plus `Validation` for bad material.
    pub fn import_key(&self, req: ImportKeyRequest) -> Result<Key, StoreError> {
        self.import_key_with(req, KeyOptions::default())
    }

    /// [`Store::import_key`] with the options of [`KeyOptions`]: the importer passes the TR-31
    /// exportability of the key block (defaults as for [`Store::create_key_with`]).
    ///
    /// # Errors
    /// As [`Store::import_key`], plus `Validation` for a bad replication region.
    pub fn import_key_with(
        &self,
        req: ImportKeyRequest,
        opts: KeyOptions,
    ) -> Result<Key, StoreError> {
        let attrs = req.key_attributes;
        validate::check_attributes(&attrs, None, Provenance::Import)?;
        validate::check_tags(&req.tags)?;
        check_material(attrs.key_algorithm, req.material.expose())?;
        let (kcv_alg, kcv) = if attrs.key_class == KeyClass::PublicKey {
            let a = req
                .key_check_value_algorithm
                .unwrap_or_else(|| default_kcv_algorithm(attrs.key_algorithm));
            (a, asymmetric_kcv(req.material.expose())?)
        } else {
            let a = req
                .key_check_value_algorithm
                .unwrap_or_else(|| default_kcv_algorithm(attrs.key_algorithm));
            (a, kcv_hex(attrs.key_algorithm, req.material.expose(), a)?)
        };
        let key = Self::new_key_metadata(
            attrs,
            kcv,
            kcv_alg,
            req.exportable,
            req.enabled.unwrap_or(true),
            KeyOrigin::External,
            None,
        );
        let key = self.finish_new_key(key, opts)?;
        self.insert_new_key(key, req.material, req.tags)
    }

    /// `GetKey`: metadata by key ARN, alias name or alias ARN. DELETE_COMPLETE keys are still
    /// returned (state DELETE_COMPLETE, material gone).
    ///
    /// # Errors
    /// `Validation` for a malformed identifier, `NotFound` for an unknown key or an alias
    /// without a key.
    pub fn get_key(&self, key_identifier: &str) -> Result<Key, StoreError> {
        let c = read(&self.inner.cache);
        Ok(self.resolve(&c, key_identifier)?.key())
    }

    /// Data plane: the key and its unsealed material, from the in-memory cache only (no
    /// database access). Disabled and DELETE_PENDING keys are returned too — the caller checks
    /// `key.enabled`/`key.key_state`.
    ///
    /// # Errors
    /// `Validation` for a malformed identifier; `NotFound` for unknown keys and for
    /// DELETE_COMPLETE keys (their material is destroyed); `Internal` for a key whose stored
    /// material failed its integrity check.
    pub fn key_for_use(&self, key_identifier: &str) -> Result<Arc<LoadedKey>, StoreError> {
        let c = read(&self.inner.cache);
        let e = self.resolve(&c, key_identifier)?;
        if e.e.state() == KeyState::DeleteComplete {
            return Err(StoreError::not_found(key_identifier));
        }
        if e.e.broken() {
            return Err(StoreError::internal(format!(
                "key {} failed its integrity check and cannot be used",
                e.arn()
            )));
        }
        Ok(e.loaded())
    }

    /// `ListKeys`: summaries in ARN order, optionally filtered by state.
    ///
    /// # Errors
    /// `Validation` for MaxResults outside 1..100 or an invalid NextToken.
    pub fn list_keys(
        &self,
        state: Option<KeyState>,
        next_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<(Vec<KeySummary>, Option<String>), StoreError> {
        // The table is in ARN order: read only the page (and one more, for the token).
        let size = validate::page_size(max_results)?;
        let after = next_token
            .map(|t| validate::parse_token(TokenKind::Keys, t))
            .transpose()?;
        let items: Vec<(String, KeySummary)> = {
            let c = read(&self.inner.cache);
            c.keys
                .iter_after(after.as_deref())
                .filter(|e| state.is_none_or(|s| e.e.state() == s))
                .take(size.saturating_add(1))
                .map(|e| {
                    let k = e.key();
                    (k.key_arn.clone(), KeySummary::from(&k))
                })
                .collect()
        };
        paginate(items, TokenKind::Keys, next_token, max_results)
    }

    /// Apply a metadata change to one key: `f` checks the state and edits the key; it returns
    /// `Ok(false)` for "nothing to write".
    fn update_key(
        &self,
        key_identifier: &str,
        f: impl FnOnce(&mut Key) -> Result<bool, StoreError>,
    ) -> Result<Key, StoreError> {
        let mut w = lock(&self.inner.writer);
        let (mut key, material, broken, version) = {
            let c = read(&self.inner.cache);
            let e = self.resolve(&c, key_identifier)?;
            let m = e.e.material();
            let material = (!m.is_empty()).then(|| SecretBytes::from_slice(m));
            (e.key(), material, e.e.broken(), e.e.version())
        };
        if !f(&mut key)? {
            return Ok(key);
        }
        w.apply(&[Change::UpdateKey {
            key: key.clone(),
            expected_version: version,
            destroy_material: false,
        }])?;
        write(&self.inner.cache).keys.insert(
            &key,
            material.as_ref().map(SecretBytes::expose),
            broken,
            version + 1,
        )?;
        Ok(key)
    }

    /// `DeleteKey`: schedule deletion in `delete_key_in_days` (3..180, default 7) days. The key
    /// is disabled at once, state DELETE_PENDING, `DeletePendingTimestamp` = now,
    /// `DeleteTimestamp` = now + days.
    ///
    /// # Errors
    /// `Validation` for days outside 3..180; `NotFound`; `Conflict` if the key is already
    /// DELETE_PENDING or DELETE_COMPLETE.
    pub fn delete_key(
        &self,
        key_identifier: &str,
        delete_key_in_days: Option<u32>,
    ) -> Result<Key, StoreError> {
        let days = delete_key_in_days.unwrap_or(7);
        if !(3..=180).contains(&days) {
            return Err(StoreError::validation(
                "DeleteKeyInDays must be between 3 and 180",
            ));
        }
        self.update_key(key_identifier, |k| {
            if k.key_state != KeyState::CreateComplete {
                return Err(StoreError::conflict(format!(
                    "key {} is in state {} and cannot be deleted",
                    k.key_arn, k.key_state
                )));
            }
            let t = now();
            if k.enabled {
                k.usage_stop_timestamp = Some(t);
            }
            k.enabled = false;
            k.key_state = KeyState::DeletePending;
            k.delete_pending_timestamp = Some(t);
            k.delete_timestamp = Some(t + f64::from(days) * DAY);
            Ok(true)
        })
    }

    /// `RestoreKey`: cancel a scheduled deletion. State back to CREATE_COMPLETE, both deletion
    /// timestamps removed. The key stays **disabled** (as AWS KMS's CancelKeyDeletion does; the
    /// AWS docs only say KeyState becomes CREATE_COMPLETE): call [`Store::start_key_usage`].
    ///
    /// # Errors
    /// `NotFound`; `Conflict` unless the key is DELETE_PENDING.
    pub fn restore_key(&self, key_identifier: &str) -> Result<Key, StoreError> {
        self.update_key(key_identifier, |k| {
            if k.key_state != KeyState::DeletePending {
                return Err(StoreError::conflict(format!(
                    "key {} is in state {}; only DELETE_PENDING keys can be restored",
                    k.key_arn, k.key_state
                )));
            }
            k.key_state = KeyState::CreateComplete;
            k.delete_pending_timestamp = None;
            k.delete_timestamp = None;
            Ok(true)
        })
    }

    /// `StartKeyUsage`: enable the key (`UsageStartTimestamp` = now, stop timestamp cleared).
    /// Idempotent on an enabled key.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` unless the key is CREATE_COMPLETE.
    pub fn start_key_usage(&self, key_identifier: &str) -> Result<Key, StoreError> {
        self.update_key(key_identifier, |k| {
            require_usable_state(k)?;
            if k.enabled {
                return Ok(false);
            }
            k.enabled = true;
            k.usage_start_timestamp = Some(now());
            k.usage_stop_timestamp = None;
            Ok(true)
        })
    }

    /// `StopKeyUsage`: disable the key (`UsageStopTimestamp` = now). Idempotent on a disabled key.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` unless the key is CREATE_COMPLETE.
    pub fn stop_key_usage(&self, key_identifier: &str) -> Result<Key, StoreError> {
        self.update_key(key_identifier, |k| {
            require_usable_state(k)?;
            if !k.enabled {
                return Ok(false);
            }
            k.enabled = false;
            k.usage_stop_timestamp = Some(now());
            Ok(true)
        })
    }

    /// `CreateAlias`: a new alias, optionally pointing at a key of this store.
    ///
    /// # Errors
    /// `Validation` for a bad name or ARN; `NotFound` for an unknown key; `Conflict` if the
    /// alias already exists; `QuotaExceeded` past 2,000 aliases.
    pub fn create_alias(
        &self,
        alias_name: &str,
        key_arn: Option<&str>,
    ) -> Result<Alias, StoreError> {
        validate::check_alias_name(alias_name)?;
        let mut w = lock(&self.inner.writer);
        let target = {
            let c = read(&self.inner.cache);
            let target = key_arn
                .map(|a| self.resolve_key_arn(&c, "KeyArn", a))
                .transpose()?;
            if c.aliases.contains_key(alias_name) {
                return Err(StoreError::conflict(format!(
                    "alias {alias_name} already exists"
                )));
            }
            if c.aliases.len() >= MAX_ALIASES {
                return Err(StoreError::QuotaExceeded(format!(
                    "the account already has {MAX_ALIASES} aliases (the maximum)"
                )));
            }
            target
        };
        w.apply(&[Change::InsertAlias {
            name: alias_name.to_owned(),
            key_arn: target.clone(),
        }])?;
        write(&self.inner.cache)
            .aliases
            .insert(alias_name.to_owned(), target.clone());
        Ok(Alias {
            alias_name: alias_name.to_owned(),
            key_arn: target,
        })
    }

    /// `GetAlias`.
    ///
    /// # Errors
    /// `Validation` for a bad name; `NotFound`.
    pub fn get_alias(&self, alias_name: &str) -> Result<Alias, StoreError> {
        validate::check_alias_name(alias_name)?;
        let c = read(&self.inner.cache);
        match c.aliases.get(alias_name) {
            Some(t) => Ok(Alias {
                alias_name: alias_name.to_owned(),
                key_arn: t.clone(),
            }),
            None => Err(StoreError::not_found(alias_name)),
        }
    }

    /// `ListAliases`: in name order, optionally only those pointing at `key_arn`.
    ///
    /// # Errors
    /// `Validation` for a bad ARN, MaxResults or NextToken; `NotFound` for an unknown key.
    pub fn list_aliases(
        &self,
        key_arn: Option<&str>,
        next_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<(Vec<Alias>, Option<String>), StoreError> {
        let items: Vec<(String, Alias)> = {
            let c = read(&self.inner.cache);
            let filter = key_arn
                .map(|a| self.resolve_key_arn(&c, "KeyArn", a))
                .transpose()?;
            c.aliases
                .iter()
                .filter(|(_, t)| filter.is_none() || t.as_deref() == filter.as_deref())
                .map(|(n, t)| {
                    (
                        n.clone(),
                        Alias {
                            alias_name: n.clone(),
                            key_arn: t.clone(),
                        },
                    )
                })
                .collect()
        };
        paginate(items, TokenKind::Aliases, next_token, max_results)
    }

    /// `UpdateAlias`: point an existing alias at another key, or at none (`key_arn` = None).
    ///
    /// # Errors
    /// `Validation`; `NotFound` for an unknown alias or key.
    pub fn update_alias(
        &self,
        alias_name: &str,
        key_arn: Option<&str>,
    ) -> Result<Alias, StoreError> {
        validate::check_alias_name(alias_name)?;
        let mut w = lock(&self.inner.writer);
        let target = {
            let c = read(&self.inner.cache);
            let target = key_arn
                .map(|a| self.resolve_key_arn(&c, "KeyArn", a))
                .transpose()?;
            if !c.aliases.contains_key(alias_name) {
                return Err(StoreError::not_found(alias_name));
            }
            target
        };
        w.apply(&[Change::UpdateAlias {
            name: alias_name.to_owned(),
            key_arn: target.clone(),
        }])?;
        write(&self.inner.cache)
            .aliases
            .insert(alias_name.to_owned(), target.clone());
        Ok(Alias {
            alias_name: alias_name.to_owned(),
            key_arn: target,
        })
    }

    /// `DeleteAlias`.
    ///
    /// # Errors
    /// `Validation`; `NotFound`.
    pub fn delete_alias(&self, alias_name: &str) -> Result<(), StoreError> {
        validate::check_alias_name(alias_name)?;
        let mut w = lock(&self.inner.writer);
        if !read(&self.inner.cache).aliases.contains_key(alias_name) {
            return Err(StoreError::not_found(alias_name));
        }
        w.apply(&[Change::DeleteAlias(alias_name.to_owned())])?;
        write(&self.inner.cache).aliases.remove(alias_name);
        Ok(())
    }

    fn set_tags(
        &self,
        resource_arn: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut w = lock(&self.inner.writer);
        let (arn, mut tags) = {
            let c = read(&self.inner.cache);
            let arn = self.resolve_key_arn(&c, "ResourceArn", resource_arn)?;
            let tags = c.tags.get(&arn).cloned().unwrap_or_default();
            (arn, tags)
        };
        f(&mut tags)?;
        w.apply(&[Change::SetTags {
            arn: arn.clone(),
            tags: tags.clone(),
        }])?;
        let mut c = write(&self.inner.cache);
        if tags.is_empty() {
            c.tags.remove(&arn);
        } else {
            c.tags.insert(arn, tags);
        }
        Ok(())
    }

    /// `TagResource`: add tags to a key, replacing the values of existing tag keys.
    ///
    /// # Errors
    /// `Validation` for a bad ARN or tags; `NotFound`; `QuotaExceeded` past 200 tags.
    pub fn tag_resource(&self, resource_arn: &str, tags: Vec<Tag>) -> Result<(), StoreError> {
        validate::check_tags(&tags)?;
        self.set_tags(resource_arn, |cur| {
            for t in tags {
                match cur.iter_mut().find(|c| c.key == t.key) {
                    Some(c) => c.value = t.value,
                    None => cur.push(t),
                }
            }
            if cur.len() > validate::MAX_TAGS {
                return Err(StoreError::QuotaExceeded(
                    "a resource can have at most 200 tags".to_owned(),
                ));
            }
            Ok(())
        })
    }

    /// `UntagResource`: remove tags by key (unknown keys are ignored).
    ///
    /// # Errors
    /// `Validation` for a bad ARN or tag key; `NotFound`.
    pub fn untag_resource(
        &self,
        resource_arn: &str,
        tag_keys: Vec<String>,
    ) -> Result<(), StoreError> {
        if tag_keys.len() > validate::MAX_TAGS {
            return Err(StoreError::validation("at most 200 tag keys are allowed"));
        }
        for k in &tag_keys {
            validate::check_tag_key(k)?;
        }
        self.set_tags(resource_arn, |cur| {
            cur.retain(|t| !tag_keys.contains(&t.key));
            Ok(())
        })
    }

    /// `ListTagsForResource`: in tag-key order.
    ///
    /// # Errors
    /// `Validation` for a bad ARN, MaxResults or NextToken; `NotFound`.
    pub fn list_tags_for_resource(
        &self,
        resource_arn: &str,
        next_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<(Vec<Tag>, Option<String>), StoreError> {
        let mut items: Vec<(String, Tag)> = {
            let c = read(&self.inner.cache);
            let arn = self.resolve_key_arn(&c, "ResourceArn", resource_arn)?;
            c.tags
                .get(&arn)
                .map(|v| v.iter().map(|t| (t.key.clone(), t.clone())).collect())
                .unwrap_or_default()
        };
        items.sort_by(|a, b| a.0.cmp(&b.0));
        paginate(items, TokenKind::Tags, next_token, max_results)
    }

    /// Complete due deletions: every DELETE_PENDING key whose `DeleteTimestamp` ≤ `now` (epoch
    /// seconds) becomes DELETE_COMPLETE and its material is destroyed (database row and memory).
    /// Cheap when nothing is due (one read-locked scan of the cache). Returns how many keys.
    ///
    /// # Errors
    /// `Internal` on a database error (nothing is changed then).
    pub fn sweep_deletions(&self, now: f64) -> Result<usize, StoreError> {
        let due = |k: &Key| {
            k.key_state == KeyState::DeletePending && k.delete_timestamp.is_some_and(|t| t <= now)
        };
        // Only DELETE_PENDING keys can be due: check the state before building the key.
        let pending_due =
            |e: &EntryRef<'_>| e.e.state() == KeyState::DeletePending && due(&e.key());
        if !read(&self.inner.cache).keys.iter().any(|e| pending_due(&e)) {
            return Ok(0);
        }
        let mut w = lock(&self.inner.writer);
        let due_keys: Vec<(Key, i64)> = read(&self.inner.cache)
            .keys
            .iter()
            .filter(|e| pending_due(e))
            .map(|e| {
                let mut k = e.key();
                k.key_state = KeyState::DeleteComplete;
                k.enabled = false;
                (k, e.e.version())
            })
            .collect();
        let changes: Vec<Change> = due_keys
            .iter()
            .map(|(k, v)| Change::UpdateKey {
                key: k.clone(),
                expected_version: *v,
                destroy_material: true,
            })
            .collect();
        w.apply(&changes)?;
        let mut c = write(&self.inner.cache);
        let n = due_keys.len();
        for (k, v) in due_keys {
            c.keys.insert(&k, None, false, v + 1)?;
        }
        Ok(n)
    }

    /// Re-seal every key under a new master key in ONE transaction (all or nothing), then switch
    /// to it. Returns the number of keys re-sealed. The new key must come from a file or an
    /// environment variable ([`MasterKeySource::Default`] is refused); configure the same source
    /// for the next [`Store::open`].
    ///
    /// # Errors
    /// `Validation` for a bad source (or `Default`); `Internal` if any key currently fails its
    /// integrity check (fix or delete it first) or on a database error (the old master key stays
    /// in force then).
    pub fn rotate_master_key(&self, new: MasterKeySource) -> Result<usize, StoreError> {
        if new == MasterKeySource::Default {
            return Err(StoreError::validation(
                "rotate to a master key given as a file or an environment variable",
            ));
        }
        let dir = self.inner.data_dir.clone().unwrap_or_default();
        let (master, _) = MasterKey::load(&new, &dir)?;
        let mut w = lock(&self.inner.writer);
        let mut changes = Vec::new();
        let mut resealed = Vec::new();
        {
            let c = read(&self.inner.cache);
            for e in c.keys.iter() {
                if e.e.state() == KeyState::DeleteComplete {
                    continue;
                }
                let arn = e.arn();
                if e.e.broken() {
                    return Err(StoreError::internal(format!(
                        "key {arn} fails its integrity check; cannot rotate the master key"
                    )));
                }
                let sealed = master.seal(&e.key(), e.e.material())?;
                changes.push(Change::Reseal {
                    arn: arn.clone(),
                    sealed,
                    expected_version: e.e.version(),
                });
                resealed.push((arn, e.e.version()));
            }
        }
        let n = changes.len();
        changes.push(Change::SetMasterKeyId(master.id().to_owned()));
        w.apply(&changes)?;
        w.master = master;
        let mut c = write(&self.inner.cache);
        for (arn, v) in resealed {
            c.keys.set_version(&arn, v + 1);
        }
        Ok(n)
    }
}

/// Replication regions, account-level settings (default replication regions, MPA team
/// associations, resource policies). A paycrypt deployment has **one region**: requested
/// replication regions are stored and reported (`ReplicationStatus` = `FAILED` with a message
/// saying so), never acted on. MPA team associations and resource policies are stored and
/// returned, never enforced.
impl Store {
    /// The value of an account-level setting.
    fn setting(&self, name: &str) -> Option<String> {
        read(&self.inner.cache).settings.get(name).cloned()
    }

    /// Write settings (all or nothing), then update the cache. Call with the writer lock held.
    fn write_settings(
        &self,
        w: &mut Writer,
        changes: Vec<(String, Option<String>)>,
    ) -> Result<(), StoreError> {
        let batch: Vec<Change> = changes
            .iter()
            .map(|(name, value)| Change::SetSetting {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        w.apply(&batch)?;
        let mut c = write(&self.inner.cache);
        for (name, value) in changes {
            match value {
                Some(v) => c.settings.insert(name, v),
                None => c.settings.remove(&name),
            };
        }
        Ok(())
    }

    fn check_regions(&self, regions: &[String]) -> Result<(), StoreError> {
        for r in regions {
            if !validate::is_region(r) {
                return Err(StoreError::validation(
                    "ReplicationRegions: every region must match [a-z]{2}-[a-z]{1,16}-[0-9]+",
                ));
            }
            if *r == self.inner.region {
                return Err(StoreError::validation(format!(
                    "ReplicationRegions: {r} is this deployment's own region"
                )));
            }
        }
        Ok(())
    }

    /// Set a key's replication members from its region set.
    fn set_replication(
        &self,
        key: &mut Key,
        regions: &std::collections::BTreeSet<String>,
        using_default: bool,
    ) {
        if regions.is_empty() {
            key.multi_region_key_type = None;
            key.primary_region = None;
            key.replication_status = None;
            key.using_default_replication_regions = None;
            return;
        }
        let own = &self.inner.region;
        key.multi_region_key_type = Some(MultiRegionKeyType::Primary);
        key.primary_region = Some(own.clone());
        key.using_default_replication_regions = Some(using_default);
        key.replication_status = Some(
            regions
                .iter()
                .map(|r| {
                    (
                        r.clone(),
                        ReplicationStatusType {
                            status: KeyReplicationState::Failed,
                            status_message: Some(format!(
                                "Not replicated: a paycrypt deployment has one region ({own}); \
                                 the key exists only there"
                            )),
                        },
                    )
                })
                .collect(),
        );
    }

    fn key_regions(key: &Key) -> std::collections::BTreeSet<String> {
        key.replication_status
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Exportability and replication of a key about to be inserted.
    fn finish_new_key(&self, mut key: Key, opts: KeyOptions) -> Result<Key, StoreError> {
        let e = match (key.exportable, opts.exportability) {
            (false, _) | (true, Some(KeyExportability::NonExportable)) => {
                KeyExportability::NonExportable
            }
            (true, Some(e)) => e,
            (true, None) => KeyExportability::Sensitive,
        };
        key.exportable = e != KeyExportability::NonExportable;
        key.exportability = Some(e);
        let (regions, using_default) = match opts.replication_regions {
            Some(r) => {
                self.check_regions(&r)?;
                (r, false)
            }
            None => (self.default_replication_regions(), true),
        };
        let set = regions.into_iter().collect();
        self.set_replication(&mut key, &set, using_default);
        Ok(key)
    }

    /// `GetDefaultKeyReplicationRegions`: the account's default replication regions (sorted).
    pub fn default_replication_regions(&self) -> Vec<String> {
        self.setting(SETTING_DEFAULT_REGIONS)
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default()
    }

    /// `EnableDefaultKeyReplicationRegions` (`enable`) / `DisableDefaultKeyReplicationRegions`:
    /// add or remove regions from the account's defaults; returns the new list (sorted). New
    /// keys created or imported without `ReplicationRegions` get these regions (reported as
    /// not replicated, see the `impl` docs).
    ///
    /// # Errors
    /// `Validation` for a malformed region or this deployment's own region; `Internal` on a
    /// database error.
    pub fn update_default_replication_regions(
        &self,
        enable: bool,
        regions: &[String],
    ) -> Result<Vec<String>, StoreError> {
        self.check_regions(regions)?;
        let mut w = lock(&self.inner.writer);
        let mut set: std::collections::BTreeSet<String> =
            self.default_replication_regions().into_iter().collect();
        for r in regions {
            if enable {
                set.insert(r.clone());
            } else {
                set.remove(r);
            }
        }
        let list: Vec<String> = set.into_iter().collect();
        let value = if list.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&list)
                    .map_err(|_| StoreError::internal("cannot serialize regions"))?,
            )
        };
        self.write_settings(&mut w, vec![(SETTING_DEFAULT_REGIONS.to_owned(), value)])?;
        Ok(list)
    }

    /// `AddKeyReplicationRegions` / `RemoveKeyReplicationRegions`: change a key's replication
    /// regions (removing unknown regions is a no-op). A key left with no region is no longer
    /// multi-region. Explicit changes clear `UsingDefaultReplicationRegions`.
    ///
    /// # Errors
    /// `Validation` for a malformed region or the own region; `NotFound`; `Conflict` unless the
    /// key is CREATE_COMPLETE.
    pub fn change_key_replication_regions(
        &self,
        key_identifier: &str,
        add: bool,
        regions: &[String],
    ) -> Result<Key, StoreError> {
        self.check_regions(regions)?;
        self.update_key(key_identifier, |k| {
            require_usable_state(k)?;
            let mut set = Self::key_regions(k);
            let before = set.clone();
            for r in regions {
                if add {
                    set.insert(r.clone());
                } else {
                    set.remove(r);
                }
            }
            if set == before {
                return Ok(false);
            }
            self.set_replication(k, &set, false);
            Ok(true)
        })
    }

    /// `PutResourcePolicy`: store the policy document (as given) of a key. paycrypt does not
    /// evaluate IAM or resource policies.
    ///
    /// # Errors
    /// `Validation` for a malformed ARN; `NotFound` for an unknown key.
    pub fn put_resource_policy(&self, resource_arn: &str, policy: &str) -> Result<(), StoreError> {
        let mut w = lock(&self.inner.writer);
        let arn = {
            let c = read(&self.inner.cache);
            self.resolve_key_arn(&c, "ResourceArn", resource_arn)?
        };
        self.write_settings(
            &mut w,
            vec![(
                format!("{SETTING_POLICY_PREFIX}{arn}"),
                Some(policy.to_owned()),
            )],
        )
    }

    /// `GetResourcePolicy`: the stored policy document of a key.
    ///
    /// # Errors
    /// `Validation` for a malformed ARN; `NotFound` for an unknown key or a key without policy.
    pub fn get_resource_policy(&self, resource_arn: &str) -> Result<String, StoreError> {
        let arn = {
            let c = read(&self.inner.cache);
            self.resolve_key_arn(&c, "ResourceArn", resource_arn)?
        };
        self.setting(&format!("{SETTING_POLICY_PREFIX}{arn}"))
            .ok_or_else(|| StoreError::not_found(resource_arn))
    }

    /// `DeleteResourcePolicy`.
    ///
    /// # Errors
    /// `Validation` for a malformed ARN; `NotFound` for an unknown key or a key without policy.
    pub fn delete_resource_policy(&self, resource_arn: &str) -> Result<(), StoreError> {
        let mut w = lock(&self.inner.writer);
        let name = {
            let c = read(&self.inner.cache);
            let arn = self.resolve_key_arn(&c, "ResourceArn", resource_arn)?;
            let name = format!("{SETTING_POLICY_PREFIX}{arn}");
            if !c.settings.contains_key(&name) {
                return Err(StoreError::not_found(resource_arn));
            }
            name
        };
        self.write_settings(&mut w, vec![(name, None)])
    }

    /// `AssociateMpaTeam`: record the MPA team for an operation (`MpaOperation`). paycrypt has
    /// no multi-party approval: the association is stored and returned, never enforced.
    ///
    /// # Errors
    /// `Conflict` if the operation already has a team (disassociate first).
    pub fn associate_mpa_team(&self, action: &str, team_arn: &str) -> Result<(), StoreError> {
        let mut w = lock(&self.inner.writer);
        let name = format!("{SETTING_MPA_PREFIX}{action}");
        if read(&self.inner.cache).settings.contains_key(&name) {
            return Err(StoreError::conflict(format!(
                "an MPA team is already associated with {action}; disassociate it first"
            )));
        }
        self.write_settings(&mut w, vec![(name, Some(team_arn.to_owned()))])
    }

    /// `DisassociateMpaTeam`: remove the association; returns the team ARN it had.
    ///
    /// # Errors
    /// `NotFound` if the operation has no team.
    pub fn disassociate_mpa_team(&self, action: &str) -> Result<String, StoreError> {
        let mut w = lock(&self.inner.writer);
        let name = format!("{SETTING_MPA_PREFIX}{action}");
        let team = read(&self.inner.cache)
            .settings
            .get(&name)
            .cloned()
            .ok_or_else(|| StoreError::not_found(action))?;
        self.write_settings(&mut w, vec![(name, None)])?;
        Ok(team)
    }

    /// `GetMpaTeamAssociation`: the team ARN associated with an operation.
    ///
    /// # Errors
    /// `NotFound` if the operation has no team.
    pub fn mpa_team(&self, action: &str) -> Result<String, StoreError> {
        self.setting(&format!("{SETTING_MPA_PREFIX}{action}"))
            .ok_or_else(|| StoreError::not_found(action))
    }
}

fn require_usable_state(k: &Key) -> Result<(), StoreError> {
    if k.key_state == KeyState::CreateComplete {
        Ok(())
    } else {
        Err(StoreError::conflict(format!(
            "key {} is in state {}",
            k.key_arn, k.key_state
        )))
    }
}

fn check_scope(region: &str, account: &str) -> Result<(), StoreError> {
    if !validate::is_region(region) {
        return Err(StoreError::validation(format!(
            "region {region:?} does not match [a-z]{{2}}-[a-z]{{1,16}}-[0-9]+"
        )));
    }
    if !validate::is_account(account) {
        return Err(StoreError::validation("account must be 12 digits"));
    }
    Ok(())
}

/// Bulk insertion (benchmark seeding, [`crate::seed`]).
impl Store {
    /// The key quota: [`MAX_KEYS`], or more in a store seeded for benchmarks
    /// ([`Store::seed_keys`] raises it to the seeded keys plus [`MAX_KEYS`]).
    pub fn key_quota(&self) -> usize {
        self.setting(SETTING_KEY_QUOTA)
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(MAX_KEYS, |q| q.max(MAX_KEYS))
    }

    /// Insert new symmetric keys (ARN, attributes, clear material) in ONE transaction: imported
    /// origin, enabled, non-exportable, no replication regions, KCV per `kcv_alg`, sealed like
    /// any other key. Raises the key quota to keep [`MAX_KEYS`] of room above the live keys.
    ///
    /// # Errors
    /// `Validation` for attributes outside the AWS table, bad material or an ARN outside this
    /// store; `Conflict` if a key exists (nothing is written then); `Internal` on a database
    /// error.
    pub(crate) fn bulk_insert_keys(
        &self,
        items: Vec<(String, KeyAttributes, SecretBytes)>,
        kcv_alg: KeyCheckValueAlgorithm,
    ) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(items.len());
        for (arn, attrs, material) in items {
            let (region, account) = validate::check_key_arn("KeyArn", &arn)?;
            if !self.in_scope(region, account) {
                return Err(StoreError::validation(format!(
                    "{arn} is outside this store"
                )));
            }
            validate::check_attributes(&attrs, None, Provenance::Import)?;
            check_material(attrs.key_algorithm, material.expose())?;
            let kcv = kcv_hex(attrs.key_algorithm, material.expose(), kcv_alg)?;
            let mut key =
                Self::new_key_metadata(attrs, kcv, kcv_alg, false, true, KeyOrigin::External, None);
            key.key_arn = arn;
            key.exportability = Some(KeyExportability::NonExportable);
            keys.push((key, material));
        }
        let mut w = lock(&self.inner.writer);
        let live = {
            let c = read(&self.inner.cache);
            let mut seen = std::collections::HashSet::new();
            for (k, _) in &keys {
                if c.keys.contains(&k.key_arn) || !seen.insert(k.key_arn.as_str()) {
                    return Err(StoreError::conflict(format!(
                        "key {} already exists",
                        k.key_arn
                    )));
                }
            }
            c.keys.live()
        };
        let quota = self.key_quota().max(live + keys.len() + MAX_KEYS);
        let mut changes = Vec::with_capacity(keys.len() + 1);
        for (k, m) in &keys {
            changes.push(Change::InsertKey {
                key: k.clone(),
                sealed: w.master.seal(k, m.expose())?,
            });
        }
        changes.push(Change::SetSetting {
            name: SETTING_KEY_QUOTA.to_owned(),
            value: Some(quota.to_string()),
        });
        w.apply(&changes)?;
        let mut c = write(&self.inner.cache);
        c.settings
            .insert(SETTING_KEY_QUOTA.to_owned(), quota.to_string());
        for (key, material) in keys {
            c.keys.insert(&key, Some(material.expose()), false, 1)?;
        }
        Ok(())
    }
}
