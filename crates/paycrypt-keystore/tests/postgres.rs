//! The PostgreSQL backend against a throw-away cluster started by the test (initdb + pg_ctl on
//! a Unix socket in a temporary directory). Needs the PostgreSQL server binaries (`initdb` on
//! PATH or under /usr/lib/postgresql/*/bin); without them the test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycrypt_keystore::model::*;
use paycrypt_keystore::{KeyOptions, MasterKeySource, Store, StoreConfig, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres_user: bool,
    port: u16,
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
        v.sort();
        v.reverse();
        candidates.extend(v);
    }
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn start() -> Option<Cluster> {
        let bin = find_bin_dir()?;
        let as_postgres_user = is_root();
        let dir = tempfile::tempdir().unwrap();
        let mut port_bytes = [0u8; 2];
        paycrypt_core::random::fill(&mut port_bytes).unwrap();
        let port = 20_000 + u16::from_le_bytes(port_bytes) % 20_000;
        let cluster = Cluster {
            dir,
            bin,
            as_postgres_user,
            port,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cluster.dir.path(), std::fs::Permissions::from_mode(0o777))
                .unwrap();
        }
        let data = cluster.dir.path().join("data");
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "paycrypt", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-k {} -c listen_addresses='' -p {} -c fsync=off",
            cluster.dir.path().display(),
            port
        );
        let out = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.path().join("log"))
            .args(["-w", "-o", &opts, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }

    fn url(&self, db: &str) -> String {
        let host: String = self.dir.path().display().to_string().replace('/', "%2F");
        format!("postgresql://paycrypt@{host}:{}/{db}", self.port)
    }

    fn raw(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).unwrap()
    }

    fn create_db(&self, db: &str) -> String {
        self.raw("postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        self.url(db)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn config(dir: &Path, url: &str, mk: &Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        database_url: Some(url.to_owned()),
        master_key: MasterKeySource::File(mk.to_path_buf()),
        region: REGION.into(),
        account: ACCOUNT.into(),
    }
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

#[test]
fn postgres_backend() {
    let Some(pg) = Cluster::start() else {
        assert!(
            std::env::var_os("PAYCRYPT_REQUIRE_POSTGRES").is_none(),
            "PAYCRYPT_REQUIRE_POSTGRES is set but no PostgreSQL server binaries (initdb, pg_ctl) were found"
        );
        eprintln!("PostgreSQL server binaries not found; PostgreSQL backend not exercised");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mk = work.path().join("mk.hex");
    std::fs::write(&mk, paycrypt_core::hex::encode(&[0x81; 32])).unwrap();
    let mk2 = work.path().join("mk2.hex");
    std::fs::write(&mk2, paycrypt_core::hex::encode(&[0x82; 32])).unwrap();

    // --- Persistence across reopen, sealed at rest.
    let url = pg.create_db("persist");
    let clear = paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let (k, bdk_key) = {
        let s = Store::open(config(work.path(), &url, &mk)).unwrap();
        let k = s
            .import_key(import_req(
                KeyUsage::P0PinEncryptionKey,
                KeyAlgorithm::Tdes2Key,
                'B',
                &clear,
            ))
            .unwrap();
        let mut r = bdk();
        r.tags = vec![Tag {
            key: "t".into(),
            value: "v".into(),
        }];
        let b = s.create_key(r).unwrap();
        s.create_alias("alias/pin", Some(&k.key_arn)).unwrap();
        s.delete_key(&b.key_arn, None).unwrap();
        (k, b)
    };
    {
        let s = Store::open(config(work.path(), &url, &mk)).unwrap();
        assert_eq!(s.key_for_use("alias/pin").unwrap().material(), &clear[..]);
        assert_eq!(s.get_key(&k.key_arn).unwrap(), k);
        assert_eq!(
            s.get_key(&bdk_key.key_arn).unwrap().key_state,
            KeyState::DeletePending
        );
        let (tags, _) = s
            .list_tags_for_resource(&bdk_key.key_arn, None, None)
            .unwrap();
        assert_eq!(tags.len(), 1);
        let d = s
            .get_key(&bdk_key.key_arn)
            .unwrap()
            .delete_timestamp
            .unwrap();
        assert_eq!(s.sweep_deletions(d).unwrap(), 1);
    }
    let mut raw = pg.raw("persist");
    let row = raw
        .query_one("SELECT sealed FROM keys WHERE arn = $1", &[&k.key_arn])
        .unwrap();
    let blob: Vec<u8> = row.get(0);
    assert!(!blob.windows(16).any(|w| w == &clear[..]));
    let row = raw
        .query_one(
            "SELECT sealed FROM keys WHERE arn = $1",
            &[&bdk_key.key_arn],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<Vec<u8>>>(0), None);
    let v: i64 = raw
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, 3);
    // Wrong master key / region are refused.
    assert!(matches!(
        Store::open(config(work.path(), &url, &mk2)),
        Err(StoreError::Validation(_))
    ));
    let mut c = config(work.path(), &url, &mk);
    c.region = "eu-west-1".into();
    assert!(matches!(Store::open(c), Err(StoreError::Validation(_))));

    // --- Tampering: attribute change detected on open.
    let mut json: String = raw
        .query_one("SELECT key_json FROM keys WHERE arn = $1", &[&k.key_arn])
        .unwrap()
        .get(0);
    json = json.replace(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    );
    raw.execute(
        "UPDATE keys SET key_json = $2 WHERE arn = $1",
        &[&k.key_arn, &json],
    )
    .unwrap();
    let s = Store::open(config(work.path(), &url, &mk)).unwrap();
    assert_eq!(s.integrity_failures(), vec![k.key_arn.clone()]);
    assert!(matches!(
        s.key_for_use(&k.key_arn),
        Err(StoreError::Internal(_))
    ));
    drop(s);

    // --- Two nodes on one database.
    let url = pg.create_db("nodes");
    let a = Store::open(config(work.path(), &url, &mk)).unwrap();
    let b = Store::open(config(work.path(), &url, &mk)).unwrap();
    let k = a.create_key(bdk()).unwrap();
    eventually("node B sees the new key", || b.get_key(&k.key_arn).is_ok());
    assert_eq!(
        b.key_for_use(&k.key_arn).unwrap().material(),
        a.key_for_use(&k.key_arn).unwrap().material()
    );
    a.create_alias("alias/shared", Some(&k.key_arn)).unwrap();
    eventually("node B sees the alias", || {
        b.get_key("alias/shared").is_ok()
    });
    // Propagation is prompt even while another node keeps writing: node B must see a key
    // within one second although A commits (and notifies) every ~100 ms for three seconds.
    // (A listener that waited for a quiet spell before reloading never caught up.)
    let writer = {
        let a = a.clone();
        std::thread::spawn(move || {
            for _ in 0..30 {
                a.create_key(bdk()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let k2 = a.create_key(bdk()).unwrap();
    let start = Instant::now();
    while b.get_key(&k2.key_arn).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "node B did not see a new key within 1 s while node A kept writing"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("propagation under continuous writes: {:?}", start.elapsed());
    writer.join().unwrap();
    match b.create_alias("alias/shared", None) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already exists")),
        r => panic!("{r:?}"),
    }
    b.stop_key_usage(&k.key_arn).unwrap();
    eventually("node A sees the key disabled", || {
        !a.key_for_use(&k.key_arn).unwrap().key.enabled
    });
    // A change that bypasses the store (no NOTIFY): B's cache is stale, its update conflicts
    // instead of overwriting; after a reload it succeeds.
    let mut raw = pg.raw("nodes");
    raw.execute(
        "UPDATE keys SET version = version + 1 WHERE arn = $1",
        &[&k.key_arn],
    )
    .unwrap();
    assert!(matches!(
        b.start_key_usage(&k.key_arn),
        Err(StoreError::Conflict(_))
    ));
    b.reload().unwrap();
    assert!(b.start_key_usage(&k.key_arn).unwrap().enabled);
    eventually("node A sees the key enabled again", || {
        a.key_for_use(&k.key_arn).unwrap().key.enabled
    });
    // Rotation on A: B can still serve from its cache but may no longer write. (32 keys: k, k2
    // and the writer thread's 30.)
    assert_eq!(
        a.rotate_master_key(MasterKeySource::File(mk2.clone()))
            .unwrap(),
        32
    );
    assert!(b.key_for_use(&k.key_arn).is_ok());
    match b.create_key(bdk()) {
        Err(StoreError::Internal(m)) => assert!(m.contains("rotated"), "{m}"),
        r => panic!("{r:?}"),
    }
    let a2 = a.create_key(bdk()).unwrap();
    drop((a, b));
    // The last handle of a PostgreSQL store may be dropped inside an async runtime (a server
    // shutting down does): closing the connection must not panic there.
    let d = Store::open(config(work.path(), &url, &mk2)).unwrap();
    d.create_key(bdk()).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .build()
        .unwrap()
        .block_on(async move { drop(d) });
    let c = Store::open(config(work.path(), &url, &mk2)).unwrap();
    assert!(c.integrity_failures().is_empty());
    assert!(c.key_for_use(&a2.key_arn).is_ok());
    assert!(c.key_for_use("alias/shared").is_ok());

    // --- Settings and exportability (schema 3), across reopen.
    let url = pg.create_db("settings");
    let (e_key, arn) = {
        let s = Store::open(config(work.path(), &url, &mk)).unwrap();
        assert_eq!(
            s.update_default_replication_regions(true, &["eu-west-1".into()])
                .unwrap(),
            vec!["eu-west-1".to_owned()]
        );
        let k = s
            .import_key_with(
                import_req_exportable(KeyUsage::P0PinEncryptionKey, KeyAlgorithm::Tdes2Key, 'B'),
                KeyOptions::new(None, Some(KeyExportability::Exportable)),
            )
            .unwrap();
        s.put_resource_policy(&k.key_arn, r#"{"Version":"2012-10-17"}"#)
            .unwrap();
        s.associate_mpa_team("IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE", TEAM)
            .unwrap();
        (k.clone(), k.key_arn)
    };
    let s = Store::open(config(work.path(), &url, &mk)).unwrap();
    assert!(s.integrity_failures().is_empty());
    let k = s.get_key(&arn).unwrap();
    assert_eq!(k.exportability, Some(KeyExportability::Exportable));
    assert_eq!(k, e_key);
    assert_eq!(k.using_default_replication_regions, Some(true));
    assert_eq!(
        s.default_replication_regions(),
        vec!["eu-west-1".to_owned()]
    );
    assert_eq!(
        s.get_resource_policy(&arn).unwrap(),
        r#"{"Version":"2012-10-17"}"#
    );
    assert_eq!(
        s.mpa_team("IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE").unwrap(),
        TEAM
    );
    s.delete_resource_policy(&arn).unwrap();
    drop(s);
    let s = Store::open(config(work.path(), &url, &mk)).unwrap();
    assert!(matches!(
        s.get_resource_policy(&arn),
        Err(StoreError::NotFound { .. })
    ));
    // The exportability letter is bound to the sealed material.
    let mut raw = pg.raw("settings");
    raw.execute(
        "UPDATE keys SET exportability = 'SENSITIVE' WHERE arn = $1",
        &[&arn],
    )
    .unwrap();
    let s = Store::open(config(work.path(), &url, &mk)).unwrap();
    assert_eq!(s.integrity_failures().len(), 1);
}

const TEAM: &str = "arn:aws:mpa:us-east-2:111122223333:approval-team/team1";

fn import_req_exportable(
    usage: KeyUsage,
    alg: KeyAlgorithm,
    mode: char,
) -> paycrypt_keystore::ImportKeyRequest {
    let mut r = import_req(
        usage,
        alg,
        mode,
        &paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap(),
    );
    r.exportable = true;
    r
}
