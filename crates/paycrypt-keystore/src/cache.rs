//! The compact in-memory key table behind [`crate::Store`].
//!
//! Every key of a store has an ARN `arn:aws:payment-cryptography:<region>:<account>:key/<id>`
//! with the store's own region and account and a 16-character id, so the table keeps only the
//! id (16 bytes) and, per key, a fixed-size [`Compact`] record (~100 bytes): attributes, KCV,
//! state, flags, timestamps and — for symmetric keys up to 32 bytes — the clear material inline
//! in a zeroizing array. Rare members (replication, deletion timestamps, unusual KCVs) and
//! large material (HMAC keys over 32 bytes, asymmetric keys) live in a side box. The full
//! [`Key`] / [`LoadedKey`] is rebuilt on demand (a few small allocations per lookup).
//!
//! Records live in one `Vec` (dense); a `BTreeMap<id, index>` orders them by id (= ARN order,
//! for `ListKeys` pagination without sorting).

use std::collections::BTreeMap;
use std::sync::Arc;

use paycrypt_core::secret::SecretBytes;
use zeroize::Zeroize;

use crate::error::StoreError;
use crate::model::{
    Key, KeyAttributes, KeyCheckValueAlgorithm, KeyExportability, KeyOrigin, KeyState, KeyUsage,
    MultiRegionKeyType, ReplicationStatusType,
};
use crate::store::LoadedKey;

/// A key id (the part of the ARN after `key/`).
pub(crate) type KeyId = [u8; 16];

/// Largest material kept inline.
const INLINE: usize = 32;

/// Clear material of up to 32 bytes, zeroized on drop, never printed.
struct InlineSecret {
    len: u8,
    bytes: [u8; INLINE],
}

impl Drop for InlineSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl InlineSecret {
    fn expose(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// Key material of a record.
enum Material {
    /// Destroyed (DELETE_COMPLETE) or unusable (failed its integrity check).
    None,
    Inline(InlineSecret),
    Heap(Box<SecretBytes>),
}

impl Material {
    fn new(m: &[u8]) -> Self {
        if m.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..m.len()].copy_from_slice(m);
            Self::Inline(InlineSecret {
                len: m.len() as u8,
                bytes,
            })
        } else {
            Self::Heap(Box::new(SecretBytes::from_slice(m)))
        }
    }

    fn expose(&self) -> &[u8] {
        match self {
            Self::None => &[],
            Self::Inline(s) => s.expose(),
            Self::Heap(s) => s.expose(),
        }
    }
}

impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Material({} bytes, redacted)", self.expose().len())
    }
}

/// Members most keys do not have.
#[derive(Debug, Default, PartialEq)]
struct Extra {
    /// A KCV that does not fit the inline 8 characters.
    kcv: Option<String>,
    /// A usage start other than the creation time.
    usage_start: Option<f64>,
    usage_stop: Option<f64>,
    delete_pending: Option<f64>,
    delete: Option<f64>,
    multi_region_key_type: Option<MultiRegionKeyType>,
    primary_region: Option<String>,
    replication_status: Option<BTreeMap<String, ReplicationStatusType>>,
    using_default_replication_regions: Option<bool>,
}

const ENABLED: u8 = 1;
const EXPORTABLE: u8 = 2;
const BROKEN: u8 = 4;
/// `usage_start_timestamp == Some(create_timestamp)`.
const USAGE_START_IS_CREATE: u8 = 8;

/// One key, compactly.
#[derive(Debug)]
pub(crate) struct Compact {
    attrs: KeyAttributes,
    kcv: [u8; 8],
    kcv_len: u8,
    kcv_alg: KeyCheckValueAlgorithm,
    state: KeyState,
    origin: KeyOrigin,
    exportability: Option<KeyExportability>,
    derive_key_usage: Option<KeyUsage>,
    flags: u8,
    version: i64,
    create: f64,
    material: Material,
    extra: Option<Box<Extra>>,
}

impl Compact {
    /// `material`: the clear material, or `None` (destroyed or broken).
    pub(crate) fn new(key: &Key, material: Option<&[u8]>, broken: bool, version: i64) -> Self {
        let mut extra = Extra {
            usage_stop: key.usage_stop_timestamp,
            delete_pending: key.delete_pending_timestamp,
            delete: key.delete_timestamp,
            multi_region_key_type: key.multi_region_key_type,
            primary_region: key.primary_region.clone(),
            replication_status: key.replication_status.clone(),
            using_default_replication_regions: key.using_default_replication_regions,
            ..Extra::default()
        };
        let mut flags = 0u8;
        if key.enabled {
            flags |= ENABLED;
        }
        if key.exportable {
            flags |= EXPORTABLE;
        }
        if broken {
            flags |= BROKEN;
        }
        match key.usage_start_timestamp {
            Some(t) if t.to_bits() == key.create_timestamp.to_bits() => {
                flags |= USAGE_START_IS_CREATE;
            }
            other => extra.usage_start = other,
        }
        let mut kcv = [0u8; 8];
        let kcv_len = if key.key_check_value.len() <= 8 {
            kcv[..key.key_check_value.len()].copy_from_slice(key.key_check_value.as_bytes());
            key.key_check_value.len() as u8
        } else {
            extra.kcv = Some(key.key_check_value.clone());
            0
        };
        Self {
            attrs: key.key_attributes,
            kcv,
            kcv_len,
            kcv_alg: key.key_check_value_algorithm,
            state: key.key_state,
            origin: key.key_origin,
            exportability: key.exportability,
            derive_key_usage: key.derive_key_usage,
            flags,
            version,
            create: key.create_timestamp,
            material: material.map_or(Material::None, Material::new),
            extra: (extra != Extra::default()).then(|| Box::new(extra)),
        }
    }

    pub(crate) fn state(&self) -> KeyState {
        self.state
    }

    pub(crate) fn broken(&self) -> bool {
        self.flags & BROKEN != 0
    }

    pub(crate) fn version(&self) -> i64 {
        self.version
    }

    pub(crate) fn material(&self) -> &[u8] {
        self.material.expose()
    }

    fn kcv(&self) -> String {
        match self.extra.as_ref().and_then(|e| e.kcv.clone()) {
            Some(k) => k,
            None => String::from_utf8_lossy(
                self.kcv
                    .get(..usize::from(self.kcv_len))
                    .unwrap_or_default(),
            )
            .into_owned(),
        }
    }

    fn to_key(&self, arn: String) -> Key {
        let x = self.extra.as_deref();
        Key {
            key_arn: arn,
            key_attributes: self.attrs,
            key_check_value: self.kcv(),
            key_check_value_algorithm: self.kcv_alg,
            enabled: self.flags & ENABLED != 0,
            exportable: self.flags & EXPORTABLE != 0,
            key_state: self.state,
            key_origin: self.origin,
            create_timestamp: self.create,
            usage_start_timestamp: if self.flags & USAGE_START_IS_CREATE != 0 {
                Some(self.create)
            } else {
                x.and_then(|e| e.usage_start)
            },
            usage_stop_timestamp: x.and_then(|e| e.usage_stop),
            delete_pending_timestamp: x.and_then(|e| e.delete_pending),
            delete_timestamp: x.and_then(|e| e.delete),
            derive_key_usage: self.derive_key_usage,
            multi_region_key_type: x.and_then(|e| e.multi_region_key_type),
            primary_region: x.and_then(|e| e.primary_region.clone()),
            replication_status: x.and_then(|e| e.replication_status.clone()),
            using_default_replication_regions: x.and_then(|e| e.using_default_replication_regions),
            exportability: self.exportability,
        }
    }
}

/// A record and its ARN, borrowed from the table.
#[derive(Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    table: &'a KeyTable,
    id: &'a KeyId,
    pub(crate) e: &'a Compact,
}

impl EntryRef<'_> {
    pub(crate) fn arn(&self) -> String {
        self.table.arn(self.id)
    }

    /// The full key metadata.
    pub(crate) fn key(&self) -> Key {
        self.e.to_key(self.arn())
    }

    /// The key and a copy of its material, for the data plane.
    pub(crate) fn loaded(&self) -> Arc<LoadedKey> {
        Arc::new(LoadedKey::new(
            self.key(),
            SecretBytes::from_slice(self.e.material()),
        ))
    }
}

/// The keys of one store (one region and account).
#[derive(Debug)]
pub(crate) struct KeyTable {
    prefix: String,
    index: BTreeMap<KeyId, u32>,
    entries: Vec<Compact>,
    live: usize,
}

impl KeyTable {
    pub(crate) fn new(region: &str, account: &str) -> Self {
        Self {
            prefix: format!("arn:aws:payment-cryptography:{region}:{account}:key/"),
            index: BTreeMap::new(),
            entries: Vec::new(),
            live: 0,
        }
    }

    /// The id of a key ARN of this store (`None` for any other string).
    pub(crate) fn id_of(&self, arn: &str) -> Option<KeyId> {
        let id = arn.strip_prefix(self.prefix.as_str())?;
        id.as_bytes().try_into().ok()
    }

    fn arn(&self, id: &KeyId) -> String {
        let mut s = String::with_capacity(self.prefix.len() + 16);
        s.push_str(&self.prefix);
        s.push_str(&String::from_utf8_lossy(id));
        s
    }

    pub(crate) fn get(&self, arn: &str) -> Option<EntryRef<'_>> {
        let id = self.id_of(arn)?;
        let (id, &i) = self.index.get_key_value(&id)?;
        Some(EntryRef {
            table: self,
            id,
            e: self.entries.get(i as usize)?,
        })
    }

    pub(crate) fn contains(&self, arn: &str) -> bool {
        self.id_of(arn)
            .is_some_and(|id| self.index.contains_key(&id))
    }

    /// Keys not DELETE_COMPLETE.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Insert or replace a key.
    ///
    /// # Errors
    /// `Internal` if the ARN is not a key ARN of this store.
    pub(crate) fn insert(
        &mut self,
        key: &Key,
        material: Option<&[u8]>,
        broken: bool,
        version: i64,
    ) -> Result<(), StoreError> {
        let id = self
            .id_of(&key.key_arn)
            .ok_or_else(|| foreign(&key.key_arn))?;
        let c = Compact::new(key, material, broken, version);
        self.put(id, c)
    }

    /// Insert or replace a record.
    pub(crate) fn put(&mut self, id: KeyId, c: Compact) -> Result<(), StoreError> {
        let alive = c.state != KeyState::DeleteComplete;
        if let Some(&i) = self.index.get(&id) {
            if let Some(slot) = self.entries.get_mut(i as usize) {
                if slot.state != KeyState::DeleteComplete {
                    self.live -= 1;
                }
                *slot = c;
            }
        } else {
            let i = u32::try_from(self.entries.len())
                .map_err(|_| StoreError::internal("too many keys"))?;
            push_wiping(&mut self.entries, c);
            self.index.insert(id, i);
        }
        if alive {
            self.live += 1;
        }
        Ok(())
    }

    pub(crate) fn set_version(&mut self, arn: &str, version: i64) {
        if let Some(i) = self.id_of(arn).and_then(|id| self.index.get(&id).copied()) {
            if let Some(e) = self.entries.get_mut(i as usize) {
                e.version = version;
            }
        }
    }

    /// Every key in ARN order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> {
        self.index.iter().filter_map(move |(id, &i)| {
            Some(EntryRef {
                table: self,
                id,
                e: self.entries.get(i as usize)?,
            })
        })
    }

    /// Keys with ARN > `after` (all when `None`), in ARN order.
    pub(crate) fn iter_after(&self, after: Option<&str>) -> impl Iterator<Item = EntryRef<'_>> {
        use std::ops::Bound;
        let lower = match after {
            None => Bound::Unbounded,
            Some(a) => match a.strip_prefix(self.prefix.as_str()) {
                // An id of another length: compare as bytes, padded/truncated to 16.
                Some(id) => {
                    let mut k = [0u8; 16];
                    let b = id.as_bytes();
                    let n = b.len().min(16);
                    k[..n].copy_from_slice(&b[..n]);
                    if b.len() > 16 || self.id_of(a).is_some() {
                        Bound::Excluded(k)
                    } else {
                        Bound::Included(k)
                    }
                }
                None if a < self.prefix.as_str() => Bound::Unbounded,
                // Past every ARN of this store.
                None => Bound::Excluded([0xFF; 16]),
            },
        };
        self.index
            .range((lower, Bound::Unbounded))
            .filter_map(move |(id, &i)| {
                Some(EntryRef {
                    table: self,
                    id,
                    e: self.entries.get(i as usize)?,
                })
            })
    }

    /// Append a record while loading (ids must be new); call [`KeyTable::finish_load`] after
    /// the last one. `ids` collects the index entries, built at the end in one go.
    pub(crate) fn push_loaded(
        &mut self,
        ids: &mut Vec<(KeyId, u32)>,
        id: KeyId,
        c: Compact,
    ) -> Result<(), StoreError> {
        let i =
            u32::try_from(self.entries.len()).map_err(|_| StoreError::internal("too many keys"))?;
        if c.state != KeyState::DeleteComplete {
            self.live += 1;
        }
        push_wiping(&mut self.entries, c);
        ids.push((id, i));
        Ok(())
    }

    /// Build the index of the loaded records.
    pub(crate) fn finish_load(&mut self, ids: Vec<(KeyId, u32)>) -> Result<(), StoreError> {
        // No `shrink_to_fit`: it would copy every record (material included) to a new buffer;
        // the unused capacity was never written, so it costs address space, not memory.
        if ids.windows(2).all(|w| w[0].0 < w[1].0) {
            // Sorted (rows come in ARN order): bulk-built, densely packed nodes.
            self.index = ids.into_iter().collect();
        } else {
            for (id, i) in ids {
                if self.index.insert(id, i).is_some() {
                    return Err(StoreError::internal("duplicate key row"));
                }
            }
        }
        Ok(())
    }

    /// Keys whose material failed to unseal.
    pub(crate) fn broken(&self) -> usize {
        self.entries.iter().filter(|c| c.broken()).count()
    }
}

pub(crate) fn foreign(arn: &str) -> StoreError {
    StoreError::internal(format!("key row {arn}: not a key ARN of this store"))
}

/// Wipe the first `used` slots of the (now empty) buffer of `v`: the bytes of elements moved out of it (by `drain`) stay in
/// the buffer until it is reused or freed, and records carry clear key material inline.
pub(crate) fn wipe_spare<T>(v: &mut Vec<T>, used: usize) {
    let spare = v.spare_capacity_mut();
    let n = used.min(spare.len());
    if let Some(s) = spare.get_mut(..n) {
        s.zeroize();
    }
}

/// `v.push(x)`, but when the buffer is full the elements move to a new buffer and the old one
/// is wiped before it is freed (a plain `push` would `realloc` and leave a copy of every
/// record's material in freed memory).
pub(crate) fn push_wiping<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        let mut grown = Vec::with_capacity(v.capacity().saturating_mul(2).max(64));
        let used = v.len();
        grown.append(v);
        wipe_spare(v, used);
        *v = grown;
    }
    v.push(x);
}

/// Move every element out of `v` into `f`, then wipe the buffer. After the first error the
/// remaining elements are dropped (records wipe their material on drop) and the error returned.
pub(crate) fn drain_wiping<T>(
    mut v: Vec<T>,
    mut f: impl FnMut(T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let used = v.len();
    let mut res = Ok(());
    for x in v.drain(..) {
        if res.is_ok() {
            res = f(x);
        }
    }
    wipe_spare(&mut v, used);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_compact() {
        assert!(size_of::<Compact>() <= 104, "{}", size_of::<Compact>());
    }

    #[test]
    fn wiping_growth_and_drain_keep_every_record() {
        let mut v: Vec<(u32, Material)> = Vec::new();
        for i in 0..1000u32 {
            push_wiping(&mut v, (i, Material::new(&[(i % 251) as u8; 16])));
        }
        assert_eq!(v.len(), 1000);
        for (i, (n, m)) in v.iter().enumerate() {
            assert_eq!(*n as usize, i);
            assert_eq!(m.expose(), &[(i % 251) as u8; 16]);
        }
        let mut seen = Vec::new();
        let r = drain_wiping(v, |(n, _)| {
            if n == 500 {
                return Err(StoreError::internal("stop"));
            }
            seen.push(n);
            Ok(())
        });
        assert!(r.is_err());
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn material_debug_is_redacted() {
        let m = Material::new(&[0xAB; 16]);
        let s = format!("{m:?}");
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab"),
            "{s}"
        );
        assert_eq!(m.expose(), &[0xAB; 16]);
        let big = Material::new(&[7u8; 64]);
        assert_eq!(big.expose().len(), 64);
    }
}
