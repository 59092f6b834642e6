//! The persistence interface behind [`crate::Store`]: a backend loads everything on open and
//! applies each control-plane write as one atomic batch of [`Change`]s. SQLite implements it
//! ([`crate::sqlite`]); a PostgreSQL backend can implement the same trait.

use crate::error::StoreError;
use crate::model::{Key, Tag};
use crate::seal::Sealed;

/// One stored key: metadata and sealed material (`None` once destroyed, DELETE_COMPLETE).
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub key: Key,
    pub sealed: Option<Sealed>,
}

/// Everything a backend holds.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub keys: Vec<KeyRow>,
    pub aliases: Vec<(String, Option<String>)>,
    pub tags: Vec<(String, Vec<Tag>)>,
    /// The master key id recorded by the backend, if any row or marker exists.
    pub master_key_id: Option<String>,
}

/// One write; a batch of them is applied all-or-nothing.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Insert or replace a key row.
    PutKey(KeyRow),
    /// Replace a key's metadata, keeping its sealed material.
    UpdateKey(Key),
    /// Destroy a key's sealed material (DELETE_COMPLETE).
    DestroyMaterial(String),
    /// Insert or replace an alias.
    PutAlias {
        name: String,
        key_arn: Option<String>,
    },
    /// Remove an alias.
    DeleteAlias(String),
    /// Replace the whole tag list of a resource.
    SetTags { arn: String, tags: Vec<Tag> },
    /// Record the master key id the rows are sealed under.
    SetMasterKeyId(String),
}

/// A persistence backend. Implementations must apply a batch atomically and durably.
pub(crate) trait Backend: Send {
    /// Read everything (on open).
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Apply a batch in one transaction.
    fn apply(&mut self, changes: &[Change]) -> Result<(), StoreError>;
}

/// No persistence: for [`crate::Store::open_in_memory`].
#[derive(Debug, Default)]
pub(crate) struct MemoryBackend;

impl Backend for MemoryBackend {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn apply(&mut self, _changes: &[Change]) -> Result<(), StoreError> {
        Ok(())
    }
}
