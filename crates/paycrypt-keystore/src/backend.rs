//! The persistence interface behind [`crate::Store`]: a backend loads everything on open and
//! applies each control-plane write as one atomic batch of [`Change`]s. SQLite implements it
//! ([`crate::sqlite`]) and PostgreSQL ([`crate::postgres`]); both share these semantics:
//!
//! * every batch is one transaction, all or nothing;
//! * the batch is refused (`Internal`) if the database's recorded master key id is not the
//!   writer's (another process rotated the master key);
//! * key rows carry a version: updates name the version they were computed from and fail with
//!   `Conflict` if another writer changed the row meanwhile (optimistic concurrency);
//! * alias inserts fail with `Conflict` if the alias exists, alias updates/deletes with
//!   `NotFound` if it does not.

use crate::error::StoreError;
use crate::model::{Key, Tag};
use crate::seal::Sealed;

/// One stored key: metadata, sealed material (`None` once destroyed, DELETE_COMPLETE) and the
/// row version.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub key: Key,
    pub sealed: Option<Sealed>,
    pub version: i64,
}

/// Everything a backend holds.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub keys: Vec<KeyRow>,
    pub aliases: Vec<(String, Option<String>)>,
    pub tags: Vec<(String, Vec<Tag>)>,
    /// The master key id recorded by the backend, if any.
    pub master_key_id: Option<String>,
    /// Account-level settings (name, value): default replication regions, MPA team
    /// associations, resource policies (schema version 3).
    pub settings: Vec<(String, String)>,
}

/// One write; a batch of them is applied all-or-nothing.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Insert a new key row (version 1).
    InsertKey { key: Key, sealed: Sealed },
    /// Replace a key's metadata (and optionally destroy its material) if the row is still at
    /// `expected_version`; the version is incremented.
    UpdateKey {
        key: Key,
        expected_version: i64,
        destroy_material: bool,
    },
    /// Replace a key's sealed material (master key rotation) if the row is still at
    /// `expected_version`; the version is incremented.
    Reseal {
        arn: String,
        sealed: Sealed,
        expected_version: i64,
    },
    /// Insert a new alias (`Conflict` if it exists).
    InsertAlias {
        name: String,
        key_arn: Option<String>,
    },
    /// Re-point an existing alias (`NotFound` if it does not exist).
    UpdateAlias {
        name: String,
        key_arn: Option<String>,
    },
    /// Remove an alias (`NotFound` if it does not exist).
    DeleteAlias(String),
    /// Replace the whole tag list of a resource.
    SetTags { arn: String, tags: Vec<Tag> },
    /// Record the master key id the rows are sealed under.
    SetMasterKeyId(String),
    /// Set (`Some`) or remove (`None`) an account-level setting.
    SetSetting { name: String, value: Option<String> },
}

/// A key row as read: parsed, or still raw (parsed by the loader, in parallel).
#[derive(Debug)]
pub(crate) enum RowSource {
    Parsed(KeyRow),
    Raw {
        arn: String,
        json: String,
        blob: Option<Vec<u8>>,
        master_key_id: Option<String>,
        version: i64,
        exportability: Option<String>,
    },
}

impl RowSource {
    /// The row, checked: readable metadata naming the row's own ARN, material with a master
    /// key id.
    pub(crate) fn into_row(self) -> Result<KeyRow, StoreError> {
        let (arn, json, blob, mk, version, exportability) = match self {
            Self::Parsed(r) => return Ok(r),
            Self::Raw {
                arn,
                json,
                blob,
                master_key_id,
                version,
                exportability,
            } => (arn, json, blob, master_key_id, version, exportability),
        };
        let mut key: Key = serde_json::from_str(&json)
            .map_err(|_| StoreError::internal(format!("key row {arn}: unreadable metadata")))?;
        key.exportability = crate::sqlite::parse_exportability(&arn, exportability.as_deref())?;
        if key.key_arn != arn {
            return Err(StoreError::internal(format!(
                "key row {arn}: metadata names another key"
            )));
        }
        let sealed = match (blob, mk) {
            (Some(blob), Some(master_key_id)) => Some(Sealed {
                blob,
                master_key_id,
            }),
            (None, _) => None,
            (Some(_), None) => {
                return Err(StoreError::internal(format!(
                    "key row {arn}: sealed material without a master key id"
                )))
            }
        };
        Ok(KeyRow {
            key,
            sealed,
            version,
        })
    }
}

/// `is_current(arn, version)`: whether the caller already holds the key row at that version.
pub(crate) type IsCurrent<'a> = &'a dyn Fn(&str, i64) -> bool;

/// A persistence backend. Implementations must apply a batch atomically and durably.
pub(crate) trait Backend: Send {
    /// Read everything (on open and on reload).
    fn load(&mut self) -> Result<Snapshot, StoreError>;

    /// Read everything, handing the key rows to `sink` in chunks (in ARN order) instead of in
    /// the snapshot (whose `keys` is then empty). The default reads the whole snapshot first.
    fn load_chunked(
        &mut self,
        sink: &mut dyn FnMut(Vec<RowSource>) -> Result<(), StoreError>,
    ) -> Result<Snapshot, StoreError> {
        let mut snap = self.load()?;
        let rows = std::mem::take(&mut snap.keys)
            .into_iter()
            .map(RowSource::Parsed)
            .collect();
        sink(rows)?;
        Ok(snap)
    }

    /// [`Backend::load_chunked`], but a backend may leave out key rows for which
    /// `is_current(arn, version)` holds (the caller has them at that version): an incremental
    /// reload. Key rows are never deleted, so the rows given are upserts. The default gives all.
    fn load_changed(
        &mut self,
        is_current: &dyn Fn(&str, i64) -> bool,
        sink: &mut dyn FnMut(Vec<RowSource>) -> Result<(), StoreError>,
    ) -> Result<Snapshot, StoreError> {
        let _ = is_current;
        self.load_chunked(sink)
    }
    /// Apply a batch in one transaction, if the database is sealed under `master_key_id` (or
    /// records no master key yet).
    fn apply(&mut self, master_key_id: &str, changes: &[Change]) -> Result<(), StoreError>;
}

/// No persistence: for [`crate::Store::open_in_memory`].
#[derive(Debug, Default)]
pub(crate) struct MemoryBackend;

impl Backend for MemoryBackend {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn apply(&mut self, _master_key_id: &str, _changes: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Conflict error for a stale key version.
pub(crate) fn stale_key(arn: &str) -> StoreError {
    StoreError::conflict(format!(
        "key {arn} was modified concurrently by another writer; retry"
    ))
}

/// Error for a batch written with a master key that is no longer the database's.
pub(crate) fn master_key_changed(db: &str, ours: &str) -> StoreError {
    StoreError::internal(format!(
        "the database is now sealed under master key {db}, not {ours} (rotated by another \
         process); restart with the new master key"
    ))
}
