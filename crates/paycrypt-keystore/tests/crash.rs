//! Crash safety: a child process (this test binary re-invoked) writes to the store in a loop —
//! creating, importing, deleting, sweeping, aliasing, tagging and rotating the master key — and
//! is killed with SIGKILL at random moments. After each kill the store must reopen with every
//! key row complete and unsealable, and its material must match the recorded KCV.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycrypt_keystore::model::*;
use paycrypt_keystore::{MasterKeySource, Store, StoreConfig, StoreError};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHILD_ENV: &str = "PAYCRYPT_KEYSTORE_CRASH_CHILD_DIR";

fn key_files(dir: &Path) -> [PathBuf; 2] {
    [dir.join("mk-a.hex"), dir.join("mk-b.hex")]
}

/// Open with whichever of the two master keys the database is sealed under.
fn open_any(dir: &Path) -> (Store, usize) {
    let files = key_files(dir);
    for (i, f) in files.iter().enumerate() {
        let cfg = StoreConfig {
            data_dir: dir.to_path_buf(),
            database_url: None,
            master_key: MasterKeySource::File(f.clone()),
            region: REGION.into(),
            account: ACCOUNT.into(),
        };
        match Store::open(cfg) {
            Ok(s) => return (s, i),
            Err(StoreError::Validation(m)) if m.contains("master key") => continue,
            Err(e) => panic!("open failed: {e}"),
        }
    }
    panic!("no master key opens the database");
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    paycrypt_core::random::fill(&mut b).unwrap();
    u32::from_le_bytes(b)
}

/// The child's work loop. Runs only when re-invoked by `sigkill_at_random_moments`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let (s, mut current) = open_any(&dir);
    let files = key_files(&dir);
    let mut i: u64 = 0;
    loop {
        i += 1;
        let created = match rand_u32() % 3 {
            0 => s.create_key(bdk()),
            1 => s.create_key(create_req(
                KeyUsage::K1KeyBlockProtectionKey,
                KeyAlgorithm::Aes256,
                'B',
            )),
            _ => {
                let mut m = paycrypt_core::random::secret_bytes(16).unwrap();
                paycrypt_core::emv::set_odd_parity(m.expose_mut());
                s.import_key(import_req(
                    KeyUsage::P0PinEncryptionKey,
                    KeyAlgorithm::Tdes2Key,
                    'B',
                    m.expose(),
                ))
            }
        };
        let k = match created {
            Ok(k) => k,
            Err(StoreError::QuotaExceeded(_)) => {
                // Make room (fast machines reach the 2,000-key quota).
                let (live, _) = s
                    .list_keys(Some(KeyState::CreateComplete), None, Some(100))
                    .unwrap();
                for k in live {
                    s.delete_key(&k.key_arn, None).unwrap();
                }
                s.sweep_deletions(f64::MAX).unwrap();
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        s.tag_resource(
            &k.key_arn,
            vec![Tag {
                key: "i".into(),
                value: i.to_string(),
            }],
        )
        .unwrap();
        match s.create_alias(&format!("alias/c{i}-{}", rand_u32()), Some(&k.key_arn)) {
            Ok(_) => {}
            Err(StoreError::QuotaExceeded(_)) => {
                let (aliases, _) = s.list_aliases(None, None, Some(100)).unwrap();
                for a in aliases {
                    s.delete_alias(&a.alias_name).unwrap();
                }
            }
            Err(e) => panic!("{e}"),
        }
        if i % 3 == 0 {
            s.delete_key(&k.key_arn, None).unwrap();
        }
        if i % 7 == 0 {
            s.sweep_deletions(f64::MAX).unwrap();
        }
        if i % 25 == 0 {
            current = 1 - current;
            s.rotate_master_key(MasterKeySource::File(files[current].clone()))
                .unwrap();
        }
    }
}

fn check_store(dir: &Path) -> usize {
    let (s, _) = open_any(dir);
    assert!(
        s.integrity_failures().is_empty(),
        "{:?}",
        s.integrity_failures()
    );
    let mut n = 0;
    let mut token = None;
    loop {
        let (page, next) = s.list_keys(None, token.as_deref(), Some(100)).unwrap();
        for summary in page {
            n += 1;
            if summary.key_state == KeyState::DeleteComplete {
                continue;
            }
            let lk = s.key_for_use(&summary.key_arn).unwrap();
            let alg = lk.key.key_attributes.key_algorithm;
            let cipher = paycrypt_core::cipher::BlockCipher::new(
                alg.cipher_algorithm().unwrap(),
                lk.material(),
            )
            .unwrap();
            let kcv = match lk.key.key_check_value_algorithm {
                KeyCheckValueAlgorithm::AnsiX9_24 => {
                    paycrypt_core::kcv::ansi_x9_24(&cipher, 3).unwrap()
                }
                _ => paycrypt_core::kcv::cmac_kcv(&cipher, 3).unwrap(),
            };
            assert_eq!(paycrypt_core::hex::encode(&kcv), lk.key.key_check_value);
        }
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    // Every alias points at an existing key.
    let (aliases, _) = s.list_aliases(None, None, Some(100)).unwrap();
    for a in aliases {
        if let Some(arn) = a.key_arn {
            s.get_key(&arn).unwrap();
        }
    }
    drop(s);
    let c = rusqlite::Connection::open(dir.join("paycrypt.db")).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    n
}

#[test]
fn sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    for (f, b) in key_files(dir.path()).iter().zip([0x51u8, 0x52]) {
        std::fs::write(f, paycrypt_core::hex::encode(&[b; 32])).unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut counts = Vec::new();
    for round in 0..6 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + u64::from(rand_u32() % 350)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "child exited early in round {round}"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        counts.push(check_store(dir.path()));
    }
    eprintln!("keys after each kill: {counts:?}");
    // The child made progress across rounds (rows survived the kills).
    assert!(
        counts.last().unwrap() > counts.first().unwrap(),
        "{counts:?}"
    );
    assert!(*counts.first().unwrap() > 0, "{counts:?}");
}
