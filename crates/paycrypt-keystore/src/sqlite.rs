//! The embedded SQLite backend: one file, WAL journal, full synchronous commits, versioned
//! schema migrations applied on open, one transaction per batch of changes.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::backend::{master_key_changed, stale_key, Backend, Change, RowSource, Snapshot};
use crate::error::StoreError;
use crate::model::{Key, Tag};

/// Ordered schema migrations; migration `i` brings the schema to version `i + 1`.
/// Never edit a released migration: append a new one.
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
         sealed        BLOB,
         master_key_id TEXT
     );
     CREATE TABLE aliases (
         alias_name TEXT PRIMARY KEY NOT NULL,
         key_arn    TEXT
     );
     CREATE TABLE tags (
         arn       TEXT NOT NULL,
         position  INTEGER NOT NULL,
         tag_key   TEXT NOT NULL,
         tag_value TEXT NOT NULL,
         PRIMARY KEY (arn, tag_key)
     );",
    // 2: row versions for optimistic concurrency.
    "ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;",
    // 3: account-level settings (replication regions, MPA teams, resource policies) and the
    // TR-31 exportability letter of each key (NULL for keys stored before).
    "CREATE TABLE settings (
         name  TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );
     ALTER TABLE keys ADD COLUMN exportability TEXT;",
];

fn db_err(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::internal(format!("database error ({what}): {e}"))
}

/// SQLite persistence.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    /// Open or create the database file, apply pending migrations, and check (or record) the
    /// region and account the ARNs were made for.
    pub fn open(path: &Path, region: &str, account: &str) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(db_err("open"))?;
        restrict_permissions(path);
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err("busy_timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err("journal_mode"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err("synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err("foreign_keys"))?;
        migrate(&mut conn)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("begin"))?;
        for (name, want) in [("region", region), ("account", account)] {
            let have: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err("meta"))?;
            match have {
                Some(h) if h != want => {
                    return Err(StoreError::validation(format!(
                        "the database was created for {name} {h}, not {want}"
                    )))
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                        params![name, want],
                    )
                    .map_err(db_err("meta"))?;
                }
            }
        }
        tx.commit().map_err(db_err("commit"))?;
        Ok(Self { conn })
    }
}

/// The schema version of the database (0 for a new file).
fn schema_version(conn: &Connection) -> Result<usize, StoreError> {
    let v: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()
        .map_err(db_err("schema_version"))?;
    Ok(v.and_then(|v| usize::try_from(v).ok()).unwrap_or(0))
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err("begin"))?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(db_err("schema_version"))?;
    let current = schema_version(&tx)?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::internal(format!(
            "the database schema version {current} is newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for sql in MIGRATIONS.iter().skip(current) {
        tx.execute_batch(sql).map_err(db_err("migration"))?;
    }
    if current < MIGRATIONS.len() {
        tx.execute("DELETE FROM schema_version", [])
            .map_err(db_err("schema_version"))?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)],
        )
        .map_err(db_err("schema_version"))?;
    }
    tx.commit().map_err(db_err("commit"))
}

/// Key rows per chunk handed to the loader.
const LOAD_CHUNK: usize = 16_384;

impl Backend for SqliteBackend {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let mut rows = Vec::new();
        let mut snap = self.load_chunked(&mut |chunk| {
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
        let tx = self.conn.transaction().map_err(db_err("begin"))?;
        let mut snap = Snapshot {
            master_key_id: tx
                .query_row(
                    "SELECT value FROM meta WHERE name = 'master_key_id'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err("meta"))?,
            ..Snapshot::default()
        };
        {
            let mut st = tx
                .prepare(
                    "SELECT arn, key_json, sealed, master_key_id, version, exportability FROM keys ORDER BY arn",
                )
                .map_err(db_err("keys"))?;
            let rows = st
                .query_map([], |r| {
                    Ok(RowSource::Raw {
                        arn: r.get(0)?,
                        json: r.get(1)?,
                        blob: r.get(2)?,
                        master_key_id: r.get(3)?,
                        version: r.get(4)?,
                        exportability: r.get(5)?,
                    })
                })
                .map_err(db_err("keys"))?;
            let mut chunk = Vec::with_capacity(LOAD_CHUNK);
            for row in rows {
                chunk.push(row.map_err(db_err("keys"))?);
                if chunk.len() == LOAD_CHUNK {
                    sink(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(LOAD_CHUNK),
                    ))?;
                }
            }
            if !chunk.is_empty() {
                sink(chunk)?;
            }
        }
        {
            let mut st = tx
                .prepare("SELECT alias_name, key_arn FROM aliases ORDER BY alias_name")
                .map_err(db_err("aliases"))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("aliases"))?;
            for row in rows {
                snap.aliases.push(row.map_err(db_err("aliases"))?);
            }
        }
        {
            let mut st = tx
                .prepare("SELECT arn, tag_key, tag_value FROM tags ORDER BY arn, position")
                .map_err(db_err("tags"))?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Tag {
                            key: r.get(1)?,
                            value: r.get(2)?,
                        },
                    ))
                })
                .map_err(db_err("tags"))?;
            for row in rows {
                let (arn, tag) = row.map_err(db_err("tags"))?;
                match snap.tags.last_mut() {
                    Some((a, v)) if *a == arn => v.push(tag),
                    _ => snap.tags.push((arn, vec![tag])),
                }
            }
        }
        {
            let mut st = tx
                .prepare("SELECT name, value FROM settings ORDER BY name")
                .map_err(db_err("settings"))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("settings"))?;
            for row in rows {
                snap.settings.push(row.map_err(db_err("settings"))?);
            }
        }
        tx.commit().map_err(db_err("commit"))?;
        Ok(snap)
    }

    fn apply(&mut self, master_key_id: &str, changes: &[Change]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("begin"))?;
        let recorded: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'master_key_id'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err("meta"))?;
        if let Some(db) = recorded {
            if db != master_key_id {
                return Err(master_key_changed(&db, master_key_id));
            }
        }
        for ch in changes {
            apply_one(&tx, ch)?;
        }
        tx.commit().map_err(db_err("commit"))
    }
}

fn key_json(key: &Key) -> Result<String, StoreError> {
    serde_json::to_string(key).map_err(|_| StoreError::internal("cannot serialize key metadata"))
}

fn apply_one(tx: &rusqlite::Transaction<'_>, ch: &Change) -> Result<(), StoreError> {
    match ch {
        Change::InsertKey { key, sealed } => {
            // Cached: bulk inserts (benchmark seeding) run thousands of these per transaction.
            tx.prepare_cached(
                "INSERT INTO keys (arn, key_state, key_json, sealed, master_key_id, version,
                     exportability)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
            )
            .map_err(db_err("insert key"))?
            .execute(params![
                key.key_arn,
                key.key_state.as_str(),
                key_json(key)?,
                sealed.blob,
                sealed.master_key_id,
                key.exportability.map(|e| e.as_str())
            ])
            .map_err(db_err("insert key"))?;
        }
        Change::UpdateKey {
            key,
            expected_version,
            destroy_material,
        } => {
            let sql = if *destroy_material {
                "UPDATE keys SET key_state = ?2, key_json = ?3, version = version + 1,
                     sealed = NULL, master_key_id = NULL, exportability = ?5
                 WHERE arn = ?1 AND version = ?4"
            } else {
                "UPDATE keys SET key_state = ?2, key_json = ?3, version = version + 1,
                     exportability = ?5
                 WHERE arn = ?1 AND version = ?4"
            };
            let n = tx
                .execute(
                    sql,
                    params![
                        key.key_arn,
                        key.key_state.as_str(),
                        key_json(key)?,
                        expected_version,
                        key.exportability.map(|e| e.as_str())
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
                    "UPDATE keys SET sealed = ?2, master_key_id = ?3, version = version + 1
                     WHERE arn = ?1 AND version = ?4",
                    params![arn, sealed.blob, sealed.master_key_id, expected_version],
                )
                .map_err(db_err("reseal key"))?;
            if n != 1 {
                return Err(stale_key(arn));
            }
        }
        Change::InsertAlias { name, key_arn } => {
            let n = tx
                .execute(
                    "INSERT INTO aliases (alias_name, key_arn) VALUES (?1, ?2)
                     ON CONFLICT (alias_name) DO NOTHING",
                    params![name, key_arn],
                )
                .map_err(db_err("insert alias"))?;
            if n != 1 {
                return Err(StoreError::conflict(format!("alias {name} already exists")));
            }
        }
        Change::UpdateAlias { name, key_arn } => {
            let n = tx
                .execute(
                    "UPDATE aliases SET key_arn = ?2 WHERE alias_name = ?1",
                    params![name, key_arn],
                )
                .map_err(db_err("update alias"))?;
            if n != 1 {
                return Err(StoreError::not_found(name));
            }
        }
        Change::DeleteAlias(name) => {
            let n = tx
                .execute("DELETE FROM aliases WHERE alias_name = ?1", [name])
                .map_err(db_err("delete alias"))?;
            if n != 1 {
                return Err(StoreError::not_found(name));
            }
        }
        Change::SetTags { arn, tags } => {
            tx.execute("DELETE FROM tags WHERE arn = ?1", [arn])
                .map_err(db_err("tags"))?;
            for (i, t) in tags.iter().enumerate() {
                tx.execute(
                    "INSERT INTO tags (arn, position, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4)",
                    params![arn, i64::try_from(i).unwrap_or(i64::MAX), t.key, t.value],
                )
                .map_err(db_err("tags"))?;
            }
        }
        Change::SetSetting { name, value } => {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![name, v],
                ),
                None => tx.execute("DELETE FROM settings WHERE name = ?1", [name]),
            }
            .map_err(db_err("settings"))?;
        }
        Change::SetMasterKeyId(id) => {
            tx.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('master_key_id', ?1)",
                [id],
            )
            .map_err(db_err("meta"))?;
        }
    }
    Ok(())
}

/// Parse the `exportability` column (`EXPORTABLE`/`NON_EXPORTABLE`/`SENSITIVE` or NULL).
pub(crate) fn parse_exportability(
    arn: &str,
    v: Option<&str>,
) -> Result<Option<crate::model::KeyExportability>, StoreError> {
    match v {
        None => Ok(None),
        Some(s) => crate::model::KeyExportability::parse(s)
            .map(Some)
            .ok_or_else(|| {
                StoreError::internal(format!("key row {arn}: unreadable exportability"))
            }),
    }
}

/// Make the database file readable by its owner only (the material in it is sealed, but the
/// metadata need not be world-readable either). Best effort.
#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}
