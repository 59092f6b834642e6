//! The DUKPT fast path: a bounded cache of derived initial keys (TDES IPEKs, AES DUKPT initial
//! keys) per (BDK ARN, BDK key check value, initial-key part of the KSN).
//!
//! Every DUKPT request derives its working key from the device's initial key, which itself is
//! derived from the BDK and the KSN's initial-key part (X9.24-1 A.6: the KSN with the counter
//! cleared; X9.24-3 6.3.2: the 8-byte initial key ID). A terminal sends many transactions under
//! one initial key, so that first step is cached here.
//!
//! * **Keyed by ARN and KCV**: an entry can only be hit by the same stored key (ARNs are never
//!   reused; the KCV is part of the key so that no entry could ever serve different material).
//! * **Bounded**: [`SHARDS`] shards of at most [`PER_SHARD`] entries; a full shard evicts its
//!   least recently used entry. Values are [`SecretBytes`], zeroized when evicted or dropped.
//! * **Lock-light**: one shard `Mutex` held only for a map lookup/insert (never across a
//!   derivation, never across an await); a miss derives outside the lock.
//!
//! The cache is process-wide ([`global`]), shared by every data-plane request of the process.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock, PoisonError};

use paycrypt_core::secret::SecretBytes;

/// Number of shards.
pub const SHARDS: usize = 16;
/// Most entries per shard.
pub const PER_SHARD: usize = 256;

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    arn: Box<str>,
    kcv: Box<str>,
    initial: Box<[u8]>,
}

struct Entry {
    key: SecretBytes,
    used: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<CacheKey, Entry>,
    tick: u64,
}

/// A bounded, sharded LRU cache of DUKPT initial keys.
pub struct DukptCache {
    shards: [Mutex<Shard>; SHARDS],
    hasher: RandomState,
    per_shard: usize,
}

impl std::fmt::Debug for DukptCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DukptCache({} shards)", self.shards.len())
    }
}

impl Default for DukptCache {
    fn default() -> Self {
        Self::with_capacity(PER_SHARD)
    }
}

impl DukptCache {
    /// A cache of [`SHARDS`] shards holding at most `per_shard` entries each.
    pub fn with_capacity(per_shard: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            hasher: RandomState::new(),
            per_shard: per_shard.max(1),
        }
    }

    fn shard(&self, k: &CacheKey) -> &Mutex<Shard> {
        // Always < SHARDS.
        let i = usize::try_from(self.hasher.hash_one(k) % SHARDS as u64).unwrap_or(0) % SHARDS;
        &self.shards[i]
    }

    /// The initial key for (`arn`, `kcv`, `initial`), from the cache or computed by `derive`
    /// (outside any lock) and remembered.
    ///
    /// # Errors
    /// Whatever `derive` returns (nothing is cached then).
    pub fn get_or_derive<E>(
        &self,
        arn: &str,
        kcv: &str,
        initial: &[u8],
        derive: impl FnOnce() -> Result<SecretBytes, E>,
    ) -> Result<SecretBytes, E> {
        let k = CacheKey {
            arn: arn.into(),
            kcv: kcv.into(),
            initial: initial.into(),
        };
        let shard = self.shard(&k);
        {
            let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
            s.tick += 1;
            let tick = s.tick;
            if let Some(e) = s.map.get_mut(&k) {
                e.used = tick;
                return Ok(e.key.clone());
            }
        }
        let key = derive()?;
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        s.tick += 1;
        let tick = s.tick;
        if !s.map.contains_key(&k) && s.map.len() >= self.per_shard {
            let oldest = s
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(o) = oldest {
                // Dropping the entry zeroizes its key.
                s.map.remove(&o);
            }
        }
        s.map.insert(
            k,
            Entry {
                key: key.clone(),
                used: tick,
            },
        );
        Ok(key)
    }

    /// Number of cached entries (all shards).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The process-wide cache used by the data plane.
pub fn global() -> &'static DukptCache {
    static CACHE: OnceLock<DukptCache> = OnceLock::new();
    CACHE.get_or_init(DukptCache::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_bound() {
        let c = DukptCache::with_capacity(2);
        let mut calls = 0;
        let mut get = |arn: &str, kcv: &str, init: &[u8], v: u8| {
            c.get_or_derive::<()>(arn, kcv, init, || {
                calls += 1;
                Ok(SecretBytes::new(vec![v; 16]))
            })
            .unwrap()
        };
        assert_eq!(get("a", "K1", &[1], 1).expose(), &[1u8; 16]);
        assert_eq!(get("a", "K1", &[1], 9).expose(), &[1u8; 16]);
        // Another KCV under the same ARN never hits the old entry.
        assert_eq!(get("a", "K2", &[1], 2).expose(), &[2u8; 16]);
        assert_eq!(get("a", "K1", &[2], 3).expose(), &[3u8; 16]);
        assert_eq!(calls, 3);
        // Bounded: never more than SHARDS * 2 entries.
        for i in 0..200u8 {
            c.get_or_derive::<()>("b", "K", &[i], || Ok(SecretBytes::new(vec![i; 16])))
                .unwrap();
        }
        assert!(c.len() <= SHARDS * 2);
        // Errors are not cached.
        assert!(c.get_or_derive::<()>("e", "K", &[0], || Err(())).is_err());
        assert_eq!(
            c.get_or_derive::<()>("e", "K", &[0], || Ok(SecretBytes::new(vec![7; 16])))
                .unwrap()
                .expose(),
            &[7u8; 16]
        );
    }

    /// The cached and uncached paths give the same working keys (TDES and AES DUKPT, PIN and
    /// data keys, first call = miss, second = hit, several counters of one device).
    #[test]
    fn cached_and_uncached_paths_agree() {
        use crate::data::attrs::{Dukpt, DukptRequest};
        use paycrypt_core::dukpt::DukptKeyVariant;
        use paycrypt_keystore::model::{
            KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage,
        };
        use paycrypt_keystore::{ImportKeyRequest, Store};

        let store = Store::open_in_memory("us-east-1", "111122223333").unwrap();
        let import = |alg: KeyAlgorithm, hex: &str| {
            let key = store
                .import_key(ImportKeyRequest {
                    key_attributes: KeyAttributes {
                        key_usage: KeyUsage::B0BaseDerivationKey,
                        key_class: KeyClass::SymmetricKey,
                        key_algorithm: alg,
                        key_modes_of_use: KeyModesOfUse::from_tr31_mode('X').unwrap(),
                    },
                    material: SecretBytes::new(paycrypt_core::hex::decode("k", hex).unwrap()),
                    key_check_value_algorithm: None,
                    exportable: false,
                    enabled: None,
                    tags: vec![],
                })
                .unwrap();
            store.key_for_use(&key.key_arn).unwrap()
        };
        // X9.24-1 and X9.24-3 test BDKs.
        let tdes = import(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210");
        let aes = import(KeyAlgorithm::Aes128, "FEDCBA9876543210F0E1D2C3B4A59687");
        let cache = DukptCache::with_capacity(4);
        let cases: [(&_, &[&str]); 2] = [
            (
                &tdes,
                &[
                    "FFFF9876543210E00001",
                    "FFFF9876543210E00002",
                    "FFFF9876543210E00001",
                    "FFFF9876543211E00003",
                ],
            ),
            (
                &aes,
                &[
                    "123456789012345600000001",
                    "123456789012345600000002",
                    "123456789012345600000001",
                ],
            ),
        ];
        for (bdk, ksns) in cases {
            for ksn in ksns {
                let req = DukptRequest {
                    ksn,
                    derivation: None,
                    variant: None,
                };
                let plain = Dukpt::resolve(bdk, &req, None).unwrap();
                let cached = Dukpt::resolve(bdk, &req, Some(&cache)).unwrap();
                let global = Dukpt::new_cached(bdk, &req).unwrap();
                let enc = |c: paycrypt_core::cipher::BlockCipher| {
                    let mut b = vec![0x5Au8; c.block_size()];
                    c.encrypt_block(&mut b).unwrap();
                    b
                };
                for d in [&cached, &global] {
                    assert_eq!(
                        enc(plain.pin_cipher().unwrap()),
                        enc(d.pin_cipher().unwrap()),
                        "PIN key for {ksn}"
                    );
                    for v in [DukptKeyVariant::Bidirectional, DukptKeyVariant::Response] {
                        assert_eq!(
                            enc(plain.data_cipher(v).unwrap()),
                            enc(d.data_cipher(v).unwrap()),
                            "data key for {ksn}"
                        );
                    }
                }
            }
        }
        // Two TDES devices and one AES device: three entries.
        assert_eq!(cache.len(), 3);
    }
}
