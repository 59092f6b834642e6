//! The PostgreSQL backend (`--database-url postgres://…`), for several paycrypt nodes sharing
//! one database. Same schema and semantics as the SQLite backend ([`crate::backend`]); each
//! committed batch sends `NOTIFY paycrypt_changes` so that other nodes reload their caches
//! ([`listen`]). Connections are unencrypted (`NoTls`): use a Unix socket or a trusted network.
//!
//! The `postgres` client runs its own small Tokio runtime: call [`crate::Store`] control-plane
//! methods (and `open`) from a blocking context, never directly inside an async task.

use std::sync::Weak;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Transaction};

use crate::backend::{
    master_key_changed, stale_key, Backend, Change, IsCurrent, RowSource, Snapshot,
};
use crate::error::StoreError;
use crate::model::{Key, Tag};

/// The notification channel.
pub(crate) const CHANNEL: &str = "paycrypt_changes";

/// Ordered schema migrations (PostgreSQL dialect of [`crate::sqlite`]'s list).
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE meta (
         name  TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );
     CREATE TABLE keys (
         arn           TEXT PRIMARY KEY NOT NULL,
         key_state     TEXT NOT NULL,
         key_json      TEXT NOT NULL,
         sealed        BYTEA,
         master_key_id TEXT
     );
     CREATE TABLE aliases (
         alias_name TEXT PRIMARY KEY NOT NULL,
         key_arn    TEXT
     );
     CREATE TABLE tags (
         arn       TEXT NOT NULL,
         position  BIGINT NOT NULL,
         tag_key   TEXT NOT NULL,
         tag_value TEXT NOT NULL,
         PRIMARY KEY (arn, tag_key)
     );",
    // 2: row versions for optimistic concurrency.
    "ALTER TABLE keys ADD COLUMN version BIGINT NOT NULL DEFAULT 1;",
    // 3: account-level settings (replication regions, MPA teams, resource policies) and the
    // TR-31 exportability letter of each key (NULL for keys stored before).
    "CREATE TABLE settings (
         name  TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );
     ALTER TABLE keys ADD COLUMN exportability TEXT;",
];

/// A fixed advisory-lock id serializing migrations between nodes starting together.
const MIGRATION_LOCK: i64 = 0x7061_7963_7279_7074; // "paycrypt"

fn db_err(what: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| {
        // Never include query parameters (sealed blobs) — the driver's Display does not.
        StoreError::internal(format!("database error ({what}): {e}"))
    }
}

/// PostgreSQL persistence.
pub(crate) struct PgBackend {
    /// Always `Some` until dropped (see the `Drop` impl).
    client: Option<Client>,
    /// To reconnect after the connection dropped (PostgreSQL restarted or failed over).
    url: String,
    /// Sent as the NOTIFY payload so a node can ignore its own notifications.
    node_id: String,
}

impl core::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgBackend")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn connect(url: &str) -> Result<Client, StoreError> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|_| StoreError::validation("the PostgreSQL URL is malformed"))?;
    config.connect_timeout(Duration::from_secs(10));
    config
        .connect(NoTls)
        .map_err(|e| StoreError::internal(format!("cannot connect to PostgreSQL: {e}")))
}

impl Drop for PgBackend {
    /// `postgres::Client` closes its connection by blocking on its own Tokio runtime, which
    /// panics ("Cannot start a runtime from within a runtime") when the last `Store` handle is
    /// dropped inside an async task — as a server does when it shuts down. So the client is
    /// closed on a short-lived plain thread.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            close_on_thread(client);
        }
    }
}

/// Drop a client on a short-lived plain thread (see [`PgBackend`]'s `Drop`).
fn close_on_thread(client: Client) {
    if let Ok(t) = std::thread::Builder::new()
        .name("paycrypt-pg-close".into())
        .spawn(move || drop(client))
    {
        let _ = t.join();
    }
}

impl PgBackend {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        // A connection dropped by the server (restart, failover) stays closed: open a new one
        // so that writes recover by themselves once PostgreSQL is back.
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let fresh = connect(&self.url)?;
            if let Some(old) = self.client.replace(fresh) {
                close_on_thread(old);
            }
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::internal("the PostgreSQL connection is closed"))
    }

    /// Connect, migrate, and check (or record) region and account.
    pub fn open(url: &str, region: &str, account: &str, node_id: &str) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        migrate(&mut client)?;
        let mut tx = client.transaction().map_err(db_err("begin"))?;
        for (name, want) in [("region", region), ("account", account)] {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &want],
            )
            .map_err(db_err("meta"))?;
            let have: String = tx
                .query_one("SELECT value FROM meta WHERE name = $1", &[&name])
                .map_err(db_err("meta"))?
                .get(0);
            if have != want {
                return Err(StoreError::validation(format!(
                    "the database was created for {name} {have}, not {want}"
                )));
            }
        }
        tx.commit().map_err(db_err("commit"))?;
        Ok(Self {
            client: Some(client),
            url: url.to_owned(),
            node_id: node_id.to_owned(),
        })
    }
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(db_err("begin"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db_err("migration lock"))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);")
        .map_err(db_err("schema_version"))?;
    let current: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .map_err(db_err("schema_version"))?
        .map_or(0, |r| r.get(0));
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::internal(format!(
            "the database schema version {current} is newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for sql in MIGRATIONS.iter().skip(current) {
        tx.batch_execute(sql).map_err(db_err("migration"))?;
    }
    if current < MIGRATIONS.len() {
        let v = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        tx.execute("DELETE FROM schema_version", &[])
            .map_err(db_err("schema_version"))?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&v])
            .map_err(db_err("schema_version"))?;
    }
    tx.commit().map_err(db_err("commit"))
}

impl PgBackend {
    /// One consistent snapshot of all tables; key rows go to `sink` (all, or with
    /// `is_current`, only those the caller does not hold at their current version).
    fn load_rows(
        &mut self,
        is_current: Option<IsCurrent<'_>>,
        sink: &mut dyn FnMut(Vec<RowSource>) -> Result<(), StoreError>,
    ) -> Result<Snapshot, StoreError> {
        // One consistent snapshot of all tables.
        let mut tx = self
            .client()?
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db_err("begin"))?;
        let master_key_id: Option<String> = tx
            .query_opt("SELECT value FROM meta WHERE name = 'master_key_id'", &[])
            .map_err(db_err("meta"))?
            .map(|r| r.get(0));
        let mut snap = Snapshot {
            master_key_id,
            ..Snapshot::default()
        };
        // Key rows: all, or (incremental reload) only those new or at another version.
        const COLS: &str =
            "SELECT arn, key_json, sealed, master_key_id, version, exportability FROM keys";
        let raw = |r: &postgres::Row| RowSource::Raw {
            arn: r.get(0),
            json: r.get(1),
            blob: r.get(2),
            master_key_id: r.get(3),
            version: r.get(4),
            exportability: r.get(5),
        };
        let rows: Vec<RowSource> = match is_current {
            None => tx
                .query(&format!("{COLS} ORDER BY arn"), &[])
                .map_err(db_err("keys"))?
                .iter()
                .map(raw)
                .collect(),
            Some(current) => {
                let stale: Vec<String> = tx
                    .query("SELECT arn, version FROM keys", &[])
                    .map_err(db_err("keys"))?
                    .iter()
                    .filter(|r| !current(r.get::<_, &str>(0), r.get(1)))
                    .map(|r| r.get(0))
                    .collect();
                if stale.is_empty() {
                    Vec::new()
                } else {
                    tx.query(
                        &format!("{COLS} WHERE arn = ANY($1) ORDER BY arn"),
                        &[&stale],
                    )
                    .map_err(db_err("keys"))?
                    .iter()
                    .map(raw)
                    .collect()
                }
            }
        };
        sink(rows)?;
        for r in tx
            .query(
                "SELECT alias_name, key_arn FROM aliases ORDER BY alias_name",
                &[],
            )
            .map_err(db_err("aliases"))?
        {
            snap.aliases.push((r.get(0), r.get(1)));
        }
        for r in tx
            .query(
                "SELECT arn, tag_key, tag_value FROM tags ORDER BY arn, position",
                &[],
            )
            .map_err(db_err("tags"))?
        {
            let arn: String = r.get(0);
            let tag = Tag {
                key: r.get(1),
                value: r.get(2),
            };
            match snap.tags.last_mut() {
                Some((a, v)) if *a == arn => v.push(tag),
                _ => snap.tags.push((arn, vec![tag])),
            }
        }
        for r in tx
            .query("SELECT name, value FROM settings ORDER BY name", &[])
            .map_err(db_err("settings"))?
        {
            snap.settings.push((r.get(0), r.get(1)));
        }
        tx.commit().map_err(db_err("commit"))?;
        Ok(snap)
    }
}

impl Backend for PgBackend {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let mut rows = Vec::new();
        let mut snap = self.load_rows(None, &mut |chunk| {
            rows.extend(chunk);
            Ok(())
        })?;
        for r in rows {
            snap.keys.push(r.into_row()?);
        }
        Ok(snap)
    }

    fn load_chunked(
        &mut self,
        sink: &mut dyn FnMut(Vec<RowSource>) -> Result<(), StoreError>,
    ) -> Result<Snapshot, StoreError> {
        self.load_rows(None, sink)
    }

    fn load_changed(
        &mut self,
        is_current: &dyn Fn(&str, i64) -> bool,
        sink: &mut dyn FnMut(Vec<RowSource>) -> Result<(), StoreError>,
    ) -> Result<Snapshot, StoreError> {
        self.load_rows(Some(is_current), sink)
    }

    fn apply(&mut self, master_key_id: &str, changes: &[Change]) -> Result<(), StoreError> {
        let node_id = self.node_id.clone();
        let mut tx = self.client()?.transaction().map_err(db_err("begin"))?;
        // Lock the master-key marker: concurrent rotations and writes serialize on it.
        let recorded: Option<String> = tx
            .query_opt(
                "SELECT value FROM meta WHERE name = 'master_key_id' FOR UPDATE",
                &[],
            )
            .map_err(db_err("meta"))?
            .map(|r| r.get(0));
        if let Some(db) = recorded {
            if db != master_key_id {
                return Err(master_key_changed(&db, master_key_id));
            }
        }
        for ch in changes {
            apply_one(&mut tx, ch)?;
        }
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &node_id])
            .map_err(db_err("notify"))?;
        tx.commit().map_err(db_err("commit"))
    }
}

fn key_json(key: &Key) -> Result<String, StoreError> {
    serde_json::to_string(key).map_err(|_| StoreError::internal("cannot serialize key metadata"))
}

fn apply_one(tx: &mut Transaction<'_>, ch: &Change) -> Result<(), StoreError> {
    match ch {
        Change::InsertKey { key, sealed } => {
            tx.execute(
                "INSERT INTO keys (arn, key_state, key_json, sealed, master_key_id, version,
                     exportability)
                 VALUES ($1, $2, $3, $4, $5, 1, $6)",
                &[
                    &key.key_arn,
                    &key.key_state.as_str(),
                    &key_json(key)?,
                    &sealed.blob,
                    &sealed.master_key_id,
                    &key.exportability.map(|e| e.as_str()),
                ],
            )
            .map_err(db_err("insert key"))?;
        }
        Change::UpdateKey {
            key,
            expected_version,
            destroy_material,
        } => {
            let sql = if *destroy_material {
                "UPDATE keys SET key_state = $2, key_json = $3, version = version + 1,
                     sealed = NULL, master_key_id = NULL, exportability = $5
                 WHERE arn = $1 AND version = $4"
            } else {
                "UPDATE keys SET key_state = $2, key_json = $3, version = version + 1,
                     exportability = $5
                 WHERE arn = $1 AND version = $4"
            };
            let n = tx
                .execute(
                    sql,
                    &[
                        &key.key_arn,
                        &key.key_state.as_str(),
                        &key_json(key)?,
                        expected_version,
                        &key.exportability.map(|e| e.as_str()),
                    ],
                )
                .map_err(db_err("update key"))?;
            if n != 1 {
                return Err(stale_key(&key.key_arn));
            }
        }
        Change::Reseal {
            arn,
            sealed,
            expected_version,
        } => {
            let n = tx
                .execute(
                    "UPDATE keys SET sealed = $2, master_key_id = $3, version = version + 1
                     WHERE arn = $1 AND version = $4",
                    &[arn, &sealed.blob, &sealed.master_key_id, expected_version],
                )
                .map_err(db_err("reseal key"))?;
            if n != 1 {
                return Err(stale_key(arn));
            }
        }
        Change::InsertAlias { name, key_arn } => {
            let n = tx
                .execute(
                    "INSERT INTO aliases (alias_name, key_arn) VALUES ($1, $2)
                     ON CONFLICT (alias_name) DO NOTHING",
                    &[name, key_arn],
                )
                .map_err(db_err("insert alias"))?;
            if n != 1 {
                return Err(StoreError::conflict(format!("alias {name} already exists")));
            }
        }
        Change::UpdateAlias { name, key_arn } => {
            let n = tx
                .execute(
                    "UPDATE aliases SET key_arn = $2 WHERE alias_name = $1",
                    &[name, key_arn],
                )
                .map_err(db_err("update alias"))?;
            if n != 1 {
                return Err(StoreError::not_found(name));
            }
        }
        Change::DeleteAlias(name) => {
            let n = tx
                .execute("DELETE FROM aliases WHERE alias_name = $1", &[name])
                .map_err(db_err("delete alias"))?;
            if n != 1 {
                return Err(StoreError::not_found(name));
            }
        }
        Change::SetTags { arn, tags } => {
            tx.execute("DELETE FROM tags WHERE arn = $1", &[arn])
                .map_err(db_err("tags"))?;
            for (i, t) in tags.iter().enumerate() {
                let pos = i64::try_from(i).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO tags (arn, position, tag_key, tag_value) VALUES ($1, $2, $3, $4)",
                    &[arn, &pos, &t.key, &t.value],
                )
                .map_err(db_err("tags"))?;
            }
        }
        Change::SetSetting { name, value } => {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                    &[name, v],
                ),
                None => tx.execute("DELETE FROM settings WHERE name = $1", &[name]),
            }
            .map_err(db_err("settings"))?;
        }
        Change::SetMasterKeyId(id) => {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('master_key_id', $1)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[id],
            )
            .map_err(db_err("meta"))?;
        }
    }
    Ok(())
}

/// The cross-node listener: a thread with its own connection that `LISTEN`s on [`CHANNEL`]
/// and calls `reload` on the store for every notification from another node. It reconnects
/// after errors and ends when the store is dropped.
pub(crate) fn listen<T: Send + Sync + 'static>(
    url: String,
    node_id: String,
    store: Weak<T>,
    reload: fn(&T),
) -> Result<(), StoreError> {
    let mut client = connect(&url)?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(db_err("listen"))?;
    // The store loaded its snapshot before this LISTEN: a change committed by another node in
    // between sent its notification to nobody here, so load once more now that we listen.
    if let Some(s) = store.upgrade() {
        reload(&s);
    }
    std::thread::Builder::new()
        .name("paycrypt-pg-listen".into())
        .spawn(move || {
            let mut client = Some(client);
            loop {
                if store.strong_count() == 0 {
                    return;
                }
                let Some(c) = client.as_mut() else {
                    std::thread::sleep(Duration::from_secs(1));
                    client = connect(&url).ok().and_then(|mut c| {
                        c.batch_execute(&format!("LISTEN {CHANNEL}")).ok()?;
                        Some(c)
                    });
                    if client.is_some() {
                        // Changes may have been missed while disconnected.
                        if let Some(s) = store.upgrade() {
                            reload(&s);
                        }
                    }
                    continue;
                };
                let mut foreign = false;
                let mut failed = false;
                {
                    // Wait (at most 500 ms, to notice a dropped store) for the first
                    // notification, then take only those already queued and reload at once.
                    // (Waiting for a quiet spell instead would delay every reload by the whole
                    // timeout and postpone it forever while another node keeps writing.)
                    let mut n = c.notifications();
                    let first = n.timeout_iter(Duration::from_millis(500)).next();
                    match first {
                        Ok(Some(note)) => {
                            foreign |= note.payload() != node_id;
                            let mut queued = n.iter();
                            loop {
                                match queued.next() {
                                    Ok(Some(note)) => foreign |= note.payload() != node_id,
                                    Ok(None) => break,
                                    Err(_) => {
                                        failed = true;
                                        break;
                                    }
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(_) => failed = true,
                    }
                }
                if failed || c.is_closed() {
                    client = None;
                    continue;
                }
                if foreign {
                    if let Some(s) = store.upgrade() {
                        reload(&s);
                    }
                }
            }
        })
        .map_err(|_| StoreError::internal("cannot start the PostgreSQL listener thread"))?;
    Ok(())
}
