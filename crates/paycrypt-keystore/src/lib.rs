//! paycrypt key store: the AWS Payment Cryptography key model ([`model`]) and the
//! [`Store`] that keeps keys, aliases and tags, with key material sealed at rest.
//!
//! * Control plane (`create_key`, `delete_key`, aliases, tags, …): synchronous; each call is one
//!   database transaction followed by a cache update. Call them from a blocking context.
//! * Data plane ([`Store::key_for_use`]): reads only the in-memory cache of unsealed keys.
//! * Persistence: embedded SQLite (`<data_dir>/paycrypt.db`, WAL) or PostgreSQL (several nodes,
//!   caches kept in step with LISTEN/NOTIFY); key material sealed with AES-256-GCM under a
//!   master key, bound to the key's ARN and attributes.
//!
//! With several nodes on one PostgreSQL database, each node serves the data plane from its own
//! cache, refreshed on every change notification (typically within milliseconds). Key updates
//! use row versions, so a write computed from a stale cache fails with `Conflict` (retry) rather
//! than overwriting; alias creation is checked by the database. Quotas and tag lists are checked
//! against the local cache (a race between nodes can overshoot a quota slightly or lose a
//! concurrent tag change). A master key rotated on one node stops the others from writing until
//! they are restarted with the new key (they keep serving reads from their caches).
//!
//! Decisions where AWS documentation is silent: `RestoreKey` leaves the key disabled;
//! DELETE_COMPLETE keys stay visible to `GetKey`/`ListKeys` (material destroyed) and are
//! `NotFound` for data-plane use; `ListKeys` without a state filter lists every state.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod backend;
mod cache;
mod error;
pub mod model;
mod postgres;
mod seal;
pub mod seed;
mod sqlite;
mod store;
pub mod validate;

pub use error::StoreError;
pub use seal::MasterKeySource;
pub use store::{
    CreateKeyRequest, ImportKeyRequest, KeyOptions, LoadedKey, Store, StoreConfig, MAX_ALIASES,
    MAX_KEYS,
};

/// The schema version [`Store::open`] brings an SQLite database to (it applies pending
/// migrations on open and refuses a database made by a newer program).
pub const SQLITE_SCHEMA_VERSION: usize = sqlite::MIGRATIONS.len();
/// The schema version [`Store::open`] brings a PostgreSQL database to.
pub const POSTGRES_SCHEMA_VERSION: usize = postgres::MIGRATIONS.len();
