//! `paycrypt admin seed-keys` + `paycrypt bench --spread-keys` (issue #6 scale curves, smoke):
//! seed MAC and PIN keys into a data directory, start a debug server on it, and drive
//! GenerateMac and TranslatePinData spread over the seeded keys with zero errors — proving the
//! seeded keys are real, usable keys at the ids the load generator derives. A wrong seed makes
//! every spread request fail (the keys do not exist).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{start, BIN};

fn seed(dir: &Path, kind: &str, count: &str) -> Output {
    Command::new(BIN)
        .args(["--output", "json", "admin", "seed-keys", "--data-dir"])
        .arg(dir)
        .args(["--kind", kind, "--count", count, "--seed", "7"])
        .env_remove("PAYCRYPT_MASTER_KEY")
        .output()
        .unwrap()
}

fn bench(endpoint: &str, dir: &Path, seed: &str) -> (Option<i32>, Value) {
    let out = Command::new(BIN)
        .args([
            "--output",
            "json",
            "bench",
            "--mix",
            "generate-mac,translate-pin",
        ])
        .args(["--connections", "4", "--duration", "1", "--warmup", "0.2"])
        .args([
            "--pool",
            "200",
            "--spread-keys",
            "150",
            "--spread-seed",
            seed,
        ])
        .args(["--endpoint-url", endpoint, "--credentials-file"])
        .arg(dir.join("credentials"))
        .env_remove("PAYCRYPT_ACCESS_KEY_ID")
        .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

/// A temporary directory, removed on drop.
struct Dir(std::path::PathBuf);

impl Dir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn seeded_keys_serve_spread_load() {
    let tmp = std::env::temp_dir().join(format!("paycrypt-seed-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = Dir(tmp);
    // The development master key location, as `serve` uses it by default.
    std::fs::write(dir.path().join("master.key"), "ab".repeat(32)).unwrap();

    for kind in ["mac", "pin"] {
        let out = seed(dir.path(), kind, "150");
        assert!(out.status.success(), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["KeysWritten"], 150, "{v}");
        let first = v["FirstKeyArn"].as_str().unwrap();
        let prefix = if kind == "mac" { "bm007" } else { "bp007" };
        assert!(
            first.ends_with(&format!("key/{prefix}00000000000")),
            "{first}"
        );
    }
    // The same ids again: refused, nothing written.
    let again = seed(dir.path(), "mac", "1");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Bad usage.
    let bad = seed(dir.path(), "rsa", "1");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    let (server, endpoint) = start(dir.path());
    let (code, r) = bench(&endpoint, dir.path(), "7");
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    for o in r["operations"].as_array().unwrap() {
        assert!(o["requests"].as_u64().unwrap() > 0, "{r}");
    }
    // Keys of another seed do not exist: every request fails.
    let (code, r) = bench(&endpoint, dir.path(), "8");
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["errors"], r["requests"], "{r}");
    drop(server);
}
