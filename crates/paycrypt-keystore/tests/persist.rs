//! SQLite persistence: reopen, sealing/tamper detection, master keys and rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycrypt_keystore::model::*;
use paycrypt_keystore::{MasterKeySource, Store, StoreConfig, StoreError};
use std::path::Path;

fn write_key_file(path: &Path, byte: u8) {
    std::fs::write(path, paycrypt_core::hex::encode(&[byte; 32])).unwrap();
}

fn config(dir: &Path, master: MasterKeySource) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        database_url: None,
        master_key: master,
        region: REGION.into(),
        account: ACCOUNT.into(),
    }
}

fn open_file(dir: &Path, key_file: &Path) -> Result<Store, StoreError> {
    Store::open(config(dir, MasterKeySource::File(key_file.to_path_buf())))
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("paycrypt.db")).unwrap()
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x11);
    let (k1, k2, k3, m1);
    {
        let s = open_file(dir.path(), &mk).unwrap();
        assert!(s.warnings().is_empty() || s.warnings().iter().all(|w| w.contains("mode")));
        let mut r = bdk();
        r.tags = vec![Tag {
            key: "team".into(),
            value: "acq".into(),
        }];
        k1 = s.create_key(r).unwrap();
        m1 = s.key_for_use(&k1.key_arn).unwrap().material().to_vec();
        k2 = s
            .import_key(import_req(
                KeyUsage::P0PinEncryptionKey,
                KeyAlgorithm::Tdes2Key,
                'B',
                &paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap(),
            ))
            .unwrap();
        k3 = s
            .create_key(create_req(
                KeyUsage::M7HmacKey,
                KeyAlgorithm::HmacSha512,
                'C',
            ))
            .unwrap();
        s.create_alias("alias/bdk", Some(&k1.key_arn)).unwrap();
        s.create_alias("alias/free", None).unwrap();
        s.stop_key_usage(&k2.key_arn).unwrap();
        let d = s.delete_key(&k3.key_arn, Some(30)).unwrap();
        assert_eq!(d.key_state, KeyState::DeletePending);
    }
    let s = open_file(dir.path(), &mk).unwrap();
    assert!(s.integrity_failures().is_empty());
    assert_eq!(s.get_key("alias/bdk").unwrap(), k1);
    assert_eq!(s.key_for_use("alias/bdk").unwrap().material(), &m1[..]);
    let k2b = s.get_key(&k2.key_arn).unwrap();
    assert!(!k2b.enabled);
    assert_eq!(k2b.key_check_value, "08D7B4");
    assert_eq!(
        s.key_for_use(&k2.key_arn).unwrap().material(),
        &paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()[..]
    );
    let k3b = s.get_key(&k3.key_arn).unwrap();
    assert_eq!(k3b.key_state, KeyState::DeletePending);
    assert_eq!(s.get_alias("alias/free").unwrap().key_arn, None);
    let (tags, _) = s.list_tags_for_resource(&k1.key_arn, None, None).unwrap();
    assert_eq!(tags.len(), 1);
    let (keys, _) = s.list_keys(None, None, None).unwrap();
    assert_eq!(keys.len(), 3);

    // Sweep: material destroyed in the database too.
    assert_eq!(s.sweep_deletions(k3b.delete_timestamp.unwrap()).unwrap(), 1);
    drop(s);
    let sealed: Option<Vec<u8>> = db(dir.path())
        .query_row(
            "SELECT sealed FROM keys WHERE arn = ?1",
            [&k3.key_arn],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sealed, None);
    let s = open_file(dir.path(), &mk).unwrap();
    assert_eq!(
        s.get_key(&k3.key_arn).unwrap().key_state,
        KeyState::DeleteComplete
    );
    assert!(matches!(
        s.key_for_use(&k3.key_arn),
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.integrity_failures().is_empty());
}

#[test]
fn schema_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x12);
    drop(open_file(dir.path(), &mk).unwrap());
    drop(open_file(dir.path(), &mk).unwrap()); // migrations are idempotent
    let c = db(dir.path());
    let v: i64 = c
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 3);
    let n: i64 = c
        .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // A database from the future is refused.
    c.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(c);
    assert!(matches!(
        open_file(dir.path(), &mk),
        Err(StoreError::Internal(_))
    ));
}

#[test]
fn material_is_sealed_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x13);
    let clear = paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let s = open_file(dir.path(), &mk).unwrap();
    let k = s
        .import_key(import_req(
            KeyUsage::K0KeyEncryptionKey,
            KeyAlgorithm::Tdes2Key,
            'B',
            &clear,
        ))
        .unwrap();
    let mk_id = s.master_key_id();
    drop(s);
    let (blob, id): (Vec<u8>, String) = db(dir.path())
        .query_row(
            "SELECT sealed, master_key_id FROM keys WHERE arn = ?1",
            [&k.key_arn],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(id, mk_id);
    assert_eq!(blob.len(), 12 + 16 + 16); // nonce + ciphertext + tag
    assert!(!blob
        .windows(8)
        .any(|w| w == &clear[..8] || w == &clear[8..]));
    // The whole database file holds no copy of the clear key.
    for f in ["paycrypt.db", "paycrypt.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
            assert!(!bytes.windows(16).any(|w| w == &clear[..]), "{f}");
        }
    }
}

/// Changing attributes in a row, or swapping ciphertexts between rows, makes the keys unusable.
#[test]
fn tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x14);
    let s = open_file(dir.path(), &mk).unwrap();
    let a = s
        .create_key(create_req(
            KeyUsage::K0KeyEncryptionKey,
            KeyAlgorithm::Aes128,
            'B',
        ))
        .unwrap();
    let b = s
        .create_key(create_req(
            KeyUsage::D0SymmetricDataEncryptionKey,
            KeyAlgorithm::Aes128,
            'B',
        ))
        .unwrap();
    let c = s
        .create_key(create_req(
            KeyUsage::K0KeyEncryptionKey,
            KeyAlgorithm::Aes128,
            'B',
        ))
        .unwrap();
    let d = s
        .create_key(create_req(
            KeyUsage::K0KeyEncryptionKey,
            KeyAlgorithm::Aes128,
            'B',
        ))
        .unwrap();
    let untouched = s.create_key(bdk()).unwrap();
    drop(s);
    let conn = db(dir.path());
    // 1. Key A: usage K0 -> D0 in the metadata (a KEK turned into a data key).
    let json: String = conn
        .query_row(
            "SELECT key_json FROM keys WHERE arn = ?1",
            [&a.key_arn],
            |r| r.get(0),
        )
        .unwrap();
    let json2 = json.replace(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    );
    assert_ne!(json, json2);
    conn.execute(
        "UPDATE keys SET key_json = ?2 WHERE arn = ?1",
        [&a.key_arn, &json2],
    )
    .unwrap();
    // 2. Keys B and C: swap sealed material.
    let get = |arn: &str| -> Vec<u8> {
        conn.query_row("SELECT sealed FROM keys WHERE arn = ?1", [arn], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let (sb, sc) = (get(&b.key_arn), get(&c.key_arn));
    conn.execute(
        "UPDATE keys SET sealed = ?2 WHERE arn = ?1",
        rusqlite::params![b.key_arn, sc],
    )
    .unwrap();
    conn.execute(
        "UPDATE keys SET sealed = ?2 WHERE arn = ?1",
        rusqlite::params![c.key_arn, sb],
    )
    .unwrap();
    // 3. Key D: exportable false -> true.
    let json: String = conn
        .query_row(
            "SELECT key_json FROM keys WHERE arn = ?1",
            [&d.key_arn],
            |r| r.get(0),
        )
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["Exportable"] = serde_json::Value::Bool(false);
    conn.execute(
        "UPDATE keys SET key_json = ?2 WHERE arn = ?1",
        [&d.key_arn, &v.to_string()],
    )
    .unwrap();
    drop(conn);

    let s = open_file(dir.path(), &mk).unwrap();
    let mut expected = vec![
        a.key_arn.clone(),
        b.key_arn.clone(),
        c.key_arn.clone(),
        d.key_arn.clone(),
    ];
    expected.sort();
    assert_eq!(s.integrity_failures(), expected);
    assert!(s.warnings().iter().any(|w| w.contains("4 key(s)")));
    for arn in &expected {
        assert!(matches!(s.key_for_use(arn), Err(StoreError::Internal(_))));
    }
    assert!(s.key_for_use(&untouched.key_arn).is_ok());
    // Rotation refuses to re-seal a store with broken keys.
    let mk2 = dir.path().join("mk2.hex");
    write_key_file(&mk2, 0x15);
    assert!(matches!(
        s.rotate_master_key(MasterKeySource::File(mk2)),
        Err(StoreError::Internal(_))
    ));
}

#[test]
fn wrong_master_key_and_scope_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x21);
    drop(open_file(dir.path(), &mk).unwrap());
    let other = dir.path().join("other.hex");
    write_key_file(&other, 0x22);
    match open_file(dir.path(), &other) {
        Err(StoreError::Validation(m)) => assert!(m.contains("master key"), "{m}"),
        r => panic!("{r:?}"),
    }
    let mut c = config(dir.path(), MasterKeySource::File(mk.clone()));
    c.region = "eu-west-1".into();
    assert!(matches!(Store::open(c), Err(StoreError::Validation(_))));
    let mut c = config(dir.path(), MasterKeySource::File(mk.clone()));
    c.database_url = Some("mysql://localhost/paycrypt".into());
    match Store::open(c) {
        Err(StoreError::Validation(m)) => assert!(m.contains("postgres://")),
        r => panic!("{r:?}"),
    }
    // Bad key files.
    let bad = dir.path().join("bad.hex");
    std::fs::write(&bad, "abcd").unwrap();
    assert!(matches!(
        open_file(dir.path(), &bad),
        Err(StoreError::Validation(_))
    ));
    assert!(open_file(dir.path(), &dir.path().join("missing")).is_err());
    // Raw 32-byte file is accepted (a different key, so refused for this database).
    let raw = dir.path().join("raw.bin");
    std::fs::write(&raw, [0x21u8; 32]).unwrap();
    assert!(open_file(dir.path(), &raw).is_ok());
}

#[test]
fn master_key_from_env_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let var = "PAYCRYPT_TEST_MASTER_KEY_ENV";
    // Only this test reads this variable.
    std::env::set_var(var, paycrypt_core::hex::encode(&[0x31; 32]));
    let s = Store::open(config(dir.path(), MasterKeySource::Env(var.into()))).unwrap();
    let k = s.create_key(bdk()).unwrap();
    drop(s);
    let f = dir.path().join("same.hex");
    write_key_file(&f, 0x31);
    let s = open_file(dir.path(), &f).unwrap();
    assert!(s.key_for_use(&k.key_arn).is_ok());
    drop(s);
    assert!(Store::open(config(
        dir.path(),
        MasterKeySource::Env("PAYCRYPT_TEST_UNSET_VAR".into())
    ))
    .is_err());

    // Default: <data_dir>/master.key, 0600, loud warning.
    let dir2 = tempfile::tempdir().unwrap();
    let s = Store::open(config(dir2.path(), MasterKeySource::Default)).unwrap();
    let path = dir2.path().join("master.key");
    assert!(s
        .warnings()
        .iter()
        .any(|w| w.contains("WARNING") && w.contains("development") && w.contains("generated")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let k = s.create_key(bdk()).unwrap();
    drop(s);
    let s = Store::open(config(dir2.path(), MasterKeySource::Default)).unwrap();
    assert!(s.warnings().iter().all(|w| !w.contains("generated")));
    assert!(s.key_for_use(&k.key_arn).is_ok());
}

#[test]
fn rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x41);
    let mk2 = dir.path().join("mk2.hex");
    write_key_file(&mk2, 0x42);
    let s = open_file(dir.path(), &mk).unwrap();
    let keys: Vec<Key> = (0..5).map(|_| s.create_key(bdk()).unwrap()).collect();
    let materials: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| s.key_for_use(&k.key_arn).unwrap().material().to_vec())
        .collect();
    let gone = s.create_key(bdk()).unwrap();
    let d = s.delete_key(&gone.key_arn, None).unwrap();
    s.sweep_deletions(d.delete_timestamp.unwrap()).unwrap();
    let old_id = s.master_key_id();
    assert_eq!(
        s.rotate_master_key(MasterKeySource::File(mk2.clone()))
            .unwrap(),
        5
    );
    assert_ne!(s.master_key_id(), old_id);
    // Still usable without reopening; new keys are sealed under the new master key.
    let after = s.create_key(bdk()).unwrap();
    drop(s);
    let ids: Vec<Option<String>> = {
        let c = db(dir.path());
        let mut st = c.prepare("SELECT master_key_id FROM keys").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(ids.iter().filter(|i| i.is_none()).count(), 1); // the destroyed key
    assert!(matches!(
        open_file(dir.path(), &mk),
        Err(StoreError::Validation(_))
    ));
    let s = open_file(dir.path(), &mk2).unwrap();
    assert!(s.integrity_failures().is_empty());
    for (k, m) in keys.iter().zip(&materials) {
        assert_eq!(s.key_for_use(&k.key_arn).unwrap().material(), &m[..]);
    }
    assert!(s.key_for_use(&after.key_arn).is_ok());
    assert!(matches!(
        s.rotate_master_key(MasterKeySource::Default),
        Err(StoreError::Validation(_))
    ));
}

#[test]
fn key_pairs_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x61);
    let s = open_file(dir.path(), &mk).unwrap();
    let mut r = create_req(
        KeyUsage::S0AsymmetricKeyForDigitalSignature,
        KeyAlgorithm::EccNistP521,
        'S',
    );
    r.key_attributes.key_class = KeyClass::AsymmetricKeyPair;
    let k = s.create_key(r).unwrap();
    let lk = s.key_for_use(&k.key_arn).unwrap();
    let (m, spki) = (lk.material().to_vec(), lk.public_key_der().unwrap());
    drop((lk, s));
    let s = open_file(dir.path(), &mk).unwrap();
    let lk = s.key_for_use(&k.key_arn).unwrap();
    assert_eq!(lk.material(), &m[..]);
    assert_eq!(lk.public_key_der().unwrap(), spki);
    assert_eq!(s.get_key(&k.key_arn).unwrap(), k);
}

#[test]
fn migrates_a_version_1_database() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x71);
    {
        // The schema as migration 1 left it.
        let c = db(dir.path());
        c.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);
             CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
             CREATE TABLE keys (arn TEXT PRIMARY KEY NOT NULL, key_state TEXT NOT NULL,
                 key_json TEXT NOT NULL, sealed BLOB, master_key_id TEXT);
             CREATE TABLE aliases (alias_name TEXT PRIMARY KEY NOT NULL, key_arn TEXT);
             CREATE TABLE tags (arn TEXT NOT NULL, position INTEGER NOT NULL,
                 tag_key TEXT NOT NULL, tag_value TEXT NOT NULL, PRIMARY KEY (arn, tag_key));
             INSERT INTO aliases VALUES ('alias/old', NULL);",
        )
        .unwrap();
    }
    let s = open_file(dir.path(), &mk).unwrap();
    assert_eq!(s.get_alias("alias/old").unwrap().key_arn, None);
    let k = s.create_key(bdk()).unwrap();
    s.stop_key_usage(&k.key_arn).unwrap();
    drop(s);
    let c = db(dir.path());
    let (v, row_version): (i64, i64) = c
        .query_row(
            "SELECT (SELECT version FROM schema_version), version FROM keys",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((v, row_version), (3, 2));
}

/// Two writers on one database: a stale row version is a Conflict, not a lost update; a master
/// key rotated by one writer stops the other from writing rows the first could not read.
#[test]
fn concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x72);
    let a = open_file(dir.path(), &mk).unwrap();
    let k = a.create_key(bdk()).unwrap();
    let b = open_file(dir.path(), &mk).unwrap(); // loads k at version 1
    a.stop_key_usage(&k.key_arn).unwrap(); // version 2
    assert!(matches!(
        b.delete_key(&k.key_arn, None),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.get_key(&k.key_arn).unwrap().key_state,
        KeyState::CreateComplete
    );
    // Alias created by A meanwhile: B's insert is a conflict too.
    a.create_alias("alias/shared", None).unwrap();
    match b.create_alias("alias/shared", None) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already exists")),
        r => panic!("{r:?}"),
    }
    // Rotation by A: B's next write is refused.
    let mk2 = dir.path().join("mk2.hex");
    write_key_file(&mk2, 0x73);
    a.rotate_master_key(MasterKeySource::File(mk2)).unwrap();
    match b.create_key(bdk()) {
        Err(StoreError::Internal(m)) => assert!(m.contains("rotated"), "{m}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn config_debug_hides_database_password() {
    let c = StoreConfig {
        data_dir: "/tmp/x".into(),
        database_url: Some("postgres://user:hunter2@db/paycrypt".into()),
        master_key: MasterKeySource::Default,
        region: REGION.into(),
        account: ACCOUNT.into(),
    };
    let d = format!("{c:?}");
    assert!(!d.contains("hunter2"), "{d}");
    assert!(d.contains("postgres://"));
}

#[cfg(unix)]
#[test]
fn database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mk = dir.path().join("mk.hex");
    write_key_file(&mk, 0x74);
    drop(open_file(dir.path(), &mk).unwrap());
    let mode = std::fs::metadata(dir.path().join("paycrypt.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
