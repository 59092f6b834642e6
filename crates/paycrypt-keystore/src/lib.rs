//! paycrypt key store: the AWS Payment Cryptography key model ([`model`]) and the
//! [`Store`] that keeps keys, aliases and tags, with key material sealed at rest.
//!
//! * Control plane (`create_key`, `delete_key`, aliases, tags, …): synchronous; each call is one
//!   database transaction followed by a cache update. Call them from a blocking context.
//! * Data plane ([`Store::key_for_use`]): reads only the in-memory cache of unsealed keys.
//! * Persistence: embedded SQLite (`<data_dir>/paycrypt.db`, WAL), key material sealed with
//!   AES-256-GCM under a master key, bound to the key's ARN and attributes.
//!
//! Decisions where AWS documentation is silent: `RestoreKey` leaves the key disabled;
//! DELETE_COMPLETE keys stay visible to `GetKey`/`ListKeys` (material destroyed) and are
//! `NotFound` for data-plane use; `ListKeys` without a state filter lists every state.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod backend;
mod error;
pub mod model;
mod seal;
mod sqlite;
mod store;
pub mod validate;

pub use error::StoreError;
pub use seal::MasterKeySource;
pub use store::{
    CreateKeyRequest, ImportKeyRequest, LoadedKey, Store, StoreConfig, MAX_ALIASES, MAX_KEYS,
};
