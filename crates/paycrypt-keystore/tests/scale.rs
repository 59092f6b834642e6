//! Scale smoke test (issue #6): 20,000 keys through the bulk (seeding) path, then a cold open:
//! every key usable with the right material and KCV, tampered rows refused and reported, and
//! the in-memory cache compact (RSS growth per key of a second open of the same store).
//!
//! One test in its own binary, so that no other test allocates while RSS is measured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use paycrypt_keystore::seed::{seed_key_id, seed_key_material, SeedKind};
use paycrypt_keystore::{MasterKeySource, Store, StoreConfig, StoreError, MAX_KEYS};

const N: u64 = 20_000;
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";
/// Budget of RSS growth per key for a second open of the 20,000-key store. Measured: 314
/// bytes/key (stable), of which the compact table is ~120 and the rest fixed costs spread over
/// the keys (SQLite's 2 MB page cache of the second connection, loader buffers). The former
/// cache (a full `Key`, ARN strings and an `Arc` per key in a `HashMap`) took ~880 bytes/key
/// at 1M keys (docs/BENCHMARKS.md) plus the same fixed costs.
const MAX_BYTES_PER_KEY: u64 = 450;

fn open(dir: &Path) -> Result<Store, StoreError> {
    Store::open(StoreConfig {
        data_dir: dir.to_path_buf(),
        database_url: None,
        master_key: MasterKeySource::File(dir.join("master.key")),
        region: REGION.into(),
        account: ACCOUNT.into(),
    })
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn arn(kind: SeedKind, i: u64) -> String {
    format!(
        "arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/{}",
        seed_key_id(kind, 3, i).unwrap()
    )
}

#[test]
fn twenty_thousand_keys_load_compact_and_correct() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("master.key"), [0x5Au8; 32]).unwrap();
    let t0 = std::time::Instant::now();
    {
        let s = open(dir.path()).unwrap();
        let mut progress = Vec::new();
        let n = s
            .seed_keys(SeedKind::Mac, 3, 0, N, |d| progress.push(d))
            .unwrap();
        assert_eq!(n, N);
        assert_eq!(
            progress,
            vec![10_000, 20_000],
            "one transaction per 10,000 keys"
        );
        // Seeding again is refused (the ids exist) and writes nothing.
        assert!(matches!(
            s.seed_keys(SeedKind::Mac, 3, N - 1, 2, |_| ()),
            Err(StoreError::Conflict(_))
        ));
        // The quota was raised: the control plane can still create keys.
        assert!(s.key_quota() >= N as usize + MAX_KEYS);
        assert_eq!(s.list_keys(None, None, Some(100)).unwrap().0.len(), 100);
    }
    let seeded = t0.elapsed();

    // Tamper with three rows: swapped sealed blobs and a flipped ciphertext byte.
    let tampered = [
        arn(SeedKind::Mac, 10),
        arn(SeedKind::Mac, 11),
        arn(SeedKind::Mac, 19_999),
    ];
    {
        let db = rusqlite::Connection::open(dir.path().join("paycrypt.db")).unwrap();
        let blob = |a: &str| -> Vec<u8> {
            db.query_row("SELECT sealed FROM keys WHERE arn = ?1", [a], |r| r.get(0))
                .unwrap()
        };
        let (b10, b11, mut b19) = (blob(&tampered[0]), blob(&tampered[1]), blob(&tampered[2]));
        b19[20] ^= 1;
        for (a, b) in [
            (&tampered[0], b11),
            (&tampered[1], b10),
            (&tampered[2], b19),
        ] {
            db.execute(
                "UPDATE keys SET sealed = ?2 WHERE arn = ?1",
                rusqlite::params![a, b],
            )
            .unwrap();
        }
    }

    // Cold open; then a second open of the same store measures the cache's footprint (the
    // first open warms the allocator with the loader's transient buffers).
    let t1 = std::time::Instant::now();
    let s1 = open(dir.path()).unwrap();
    let opened = t1.elapsed();
    let before = rss_bytes();
    let s2 = open(dir.path()).unwrap();
    let after = rss_bytes();
    let per_key = after.saturating_sub(before) / N;
    eprintln!(
        "scale: seeded {N} keys in {seeded:?}, cold open {opened:?}, cache ≈ {per_key} bytes/key"
    );
    assert!(
        per_key <= MAX_BYTES_PER_KEY,
        "the key cache takes {per_key} bytes per key (budget {MAX_BYTES_PER_KEY})"
    );

    // Broken rows: refused for use, reported, and listed in the warnings.
    let mut want = tampered.to_vec();
    want.sort();
    assert_eq!(s2.integrity_failures(), want);
    assert!(s2
        .warnings()
        .iter()
        .any(|w| w.contains("3 key(s) failed their integrity check")));
    for a in &tampered {
        assert!(matches!(s2.key_for_use(a), Err(StoreError::Internal(_))));
        assert_eq!(
            s2.get_key(a).unwrap().key_arn,
            *a,
            "metadata still readable"
        );
    }

    // Every other key: usable, with its deterministic material and a KCV that matches it.
    for i in 0..N {
        let a = arn(SeedKind::Mac, i);
        if tampered.contains(&a) {
            continue;
        }
        let k = s2.key_for_use(&a).unwrap();
        let m = seed_key_material(SeedKind::Mac, 3, i).unwrap();
        assert_eq!(k.material(), m.expose(), "key {i}");
        assert_eq!(k.key.key_arn, a);
        assert!(k.key.enabled && !k.key.exportable);
        if i % 1000 == 0 {
            let c = paycrypt_core::cipher::BlockCipher::tdes(m.expose()).unwrap();
            let kcv = paycrypt_core::kcv::ansi_x9_24(&c, 3).unwrap();
            assert_eq!(k.key.key_check_value, paycrypt_core::hex::encode(&kcv));
        }
    }

    // ListKeys walks all of them in ARN order, 100 per page.
    let mut token = None;
    let mut seen = 0usize;
    let mut last = String::new();
    loop {
        let (page, next) = s1.list_keys(None, token.as_deref(), Some(100)).unwrap();
        for k in &page {
            assert!(k.key_arn > last);
            last.clone_from(&k.key_arn);
        }
        seen += page.len();
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, N as usize);
    drop(s1);
}
