//! Benchmark seeding: put many real keys into a store quickly ([`Store::seed_keys`]).
//!
//! A seeded key is an ordinary key (imported origin, sealed under the master key like any
//! other, with its real KCV); only its identifier and material are deterministic, so that a
//! load generator can address and use it without a database:
//!
//! * key id ([`seed_key_id`]): `b` ‖ kind letter (`m` MAC, `p` PIN) ‖ the seed as 3 base-36
//!   digits ‖ the index as 11 decimal digits — 16 characters of `[a-z0-9]` like any key id, and
//!   recognisable as seeded (`bm…`, `bp…`);
//! * material ([`seed_key_material`]): the first 16 bytes of HMAC-SHA-256 under a fixed label
//!   over (kind, seed, index), with odd parity — a TDES 2-key key.
//!
//! Seeding writes [`SEED_BATCH`] keys per database transaction and raises the store's key
//! quota ([`Store::key_quota`]) so that the control plane can still create keys afterwards.
//! It is a benchmarking tool: never seed a production store.

use paycrypt_core::secret::SecretBytes;

use crate::error::StoreError;
use crate::model::{
    KeyAlgorithm, KeyAttributes, KeyCheckValueAlgorithm, KeyClass, KeyModesOfUse, KeyUsage,
};
use crate::store::Store;

/// Keys per database transaction when seeding.
pub const SEED_BATCH: usize = 10_000;
/// Largest seed (3 base-36 digits).
pub const MAX_SEED: u32 = 36 * 36 * 36 - 1;
/// Largest index + 1 (11 decimal digits).
pub const MAX_SEED_INDEX: u64 = 100_000_000_000;

/// The kind of key [`Store::seed_keys`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedKind {
    /// TR31_M3_ISO_9797_3_MAC_KEY, TDES_2KEY, Generate + Verify (GenerateMac/VerifyMac with
    /// ISO9797_ALGORITHM3).
    Mac,
    /// TR31_P0_PIN_ENCRYPTION_KEY, TDES_2KEY, Encrypt + Decrypt + Wrap + Unwrap (a ZPK:
    /// TranslatePinData, VerifyPinData).
    Pin,
}

impl SeedKind {
    /// `mac` / `pin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mac" => Some(Self::Mac),
            "pin" => Some(Self::Pin),
            _ => None,
        }
    }

    /// `mac` / `pin`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mac => "mac",
            Self::Pin => "pin",
        }
    }

    fn letter(self) -> char {
        match self {
            Self::Mac => 'm',
            Self::Pin => 'p',
        }
    }

    /// The key attributes of seeded keys of this kind.
    pub fn attributes(self) -> KeyAttributes {
        let (key_usage, key_modes_of_use) = match self {
            Self::Mac => (
                KeyUsage::M3Iso9797_3MacKey,
                KeyModesOfUse {
                    generate: true,
                    verify: true,
                    ..KeyModesOfUse::default()
                },
            ),
            Self::Pin => (
                KeyUsage::P0PinEncryptionKey,
                KeyModesOfUse {
                    encrypt: true,
                    decrypt: true,
                    wrap: true,
                    unwrap: true,
                    ..KeyModesOfUse::default()
                },
            ),
        };
        KeyAttributes {
            key_usage,
            key_class: KeyClass::SymmetricKey,
            key_algorithm: KeyAlgorithm::Tdes2Key,
            key_modes_of_use,
        }
    }
}

/// The key id of seeded key `index` (`None` if `seed` > [`MAX_SEED`] or `index` ≥
/// [`MAX_SEED_INDEX`]).
pub fn seed_key_id(kind: SeedKind, seed: u32, index: u64) -> Option<String> {
    const B36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if seed > MAX_SEED || index >= MAX_SEED_INDEX {
        return None;
    }
    let d = |n: u32| char::from(B36[(n % 36) as usize]);
    Some(format!(
        "b{}{}{}{}{index:011}",
        kind.letter(),
        d(seed / 1296),
        d(seed / 36),
        d(seed)
    ))
}

/// The clear material of seeded key `index` (16 bytes, odd parity).
///
/// # Errors
/// `Internal` if the derivation fails or (probability 2^-56) yields a degenerate TDES key.
pub fn seed_key_material(kind: SeedKind, seed: u32, index: u64) -> Result<SecretBytes, StoreError> {
    let mut msg = [0u8; 13];
    msg[0] = kind.letter() as u8;
    msg[1..5].copy_from_slice(&seed.to_be_bytes());
    msg[5..13].copy_from_slice(&index.to_be_bytes());
    let mac = paycrypt_core::mac::hmac(
        paycrypt_core::mac::HashAlgorithm::Sha256,
        b"paycrypt seed-keys v1 (benchmark keys, not secret)",
        &msg,
    )
    .map_err(|_| StoreError::internal("seed key derivation failed"))?;
    let mut m = SecretBytes::from_slice(mac.get(..16).unwrap_or_default());
    paycrypt_core::emv::set_odd_parity(m.expose_mut());
    if paycrypt_core::cipher::check_tdes_key(m.expose()).is_err() {
        return Err(StoreError::internal(
            "seed key derivation gave a degenerate key",
        ));
    }
    Ok(m)
}

impl Store {
    /// Benchmarking: insert `count` seeded keys `start..start+count` of `kind` (see the
    /// [module docs](crate::seed)), [`SEED_BATCH`] per transaction; `progress` is called with
    /// the number written so far after each batch. Returns the number of keys written.
    ///
    /// # Errors
    /// `Validation` for a seed or index out of range; `Conflict` if one of the keys exists (no
    /// key of that batch is written; earlier batches stay); `Internal` on a database error.
    pub fn seed_keys(
        &self,
        kind: SeedKind,
        seed: u32,
        start: u64,
        count: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, StoreError> {
        let end = start
            .checked_add(count)
            .filter(|e| *e <= MAX_SEED_INDEX)
            .ok_or_else(|| StoreError::validation("seed key index out of range"))?;
        if seed > MAX_SEED {
            return Err(StoreError::validation(format!(
                "the seed must be at most {MAX_SEED}"
            )));
        }
        let attrs = kind.attributes();
        let prefix = format!(
            "arn:aws:payment-cryptography:{}:{}:key/",
            self.region(),
            self.account()
        );
        let mut done = 0u64;
        let mut i = start;
        while i < end {
            let n = (end - i).min(SEED_BATCH as u64);
            let mut batch = Vec::with_capacity(n as usize);
            for index in i..i + n {
                let id = seed_key_id(kind, seed, index)
                    .ok_or_else(|| StoreError::validation("seed key index out of range"))?;
                let material = seed_key_material(kind, seed, index)?;
                batch.push((format!("{prefix}{id}"), attrs, material));
            }
            self.bulk_insert_keys(batch, KeyCheckValueAlgorithm::AnsiX9_24)?;
            i += n;
            done += n;
            progress(done);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_material_are_deterministic() {
        assert_eq!(
            seed_key_id(SeedKind::Mac, 0, 0).unwrap(),
            "bm00000000000000"
        );
        assert_eq!(
            seed_key_id(SeedKind::Pin, 46655, 99_999_999_999).unwrap(),
            "bpzzz99999999999"
        );
        assert_eq!(seed_key_id(SeedKind::Pin, 46656, 0), None);
        assert_eq!(seed_key_id(SeedKind::Pin, 1, MAX_SEED_INDEX), None);
        let a = seed_key_material(SeedKind::Mac, 7, 42).unwrap();
        assert_eq!(a, seed_key_material(SeedKind::Mac, 7, 42).unwrap());
        assert_ne!(a, seed_key_material(SeedKind::Mac, 7, 43).unwrap());
        assert_ne!(a, seed_key_material(SeedKind::Pin, 7, 42).unwrap());
        assert_eq!(a.len(), 16);
        assert!(a.expose().iter().all(|b| b.count_ones() % 2 == 1));
    }
}
