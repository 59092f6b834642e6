//! `paycrypt bench` smoke run (what CI runs): a debug `paycrypt serve` on a free port with a
//! temporary data directory, then `paycrypt bench` for ~2 s with 4 connections on each
//! operation of the mix (and once on the whole mix), asserting zero errors — which also proves
//! that every pre-built request (DUKPT PIN blocks, PVVs, CVV2s, ARQCs, DUKPT ciphertexts) is
//! valid under the keys the tool imported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{start, start_with, BIN};

fn bench(endpoint: &str, dir: &Path, mix: &str) -> Value {
    let out = Command::new(BIN)
        .args(["--output", "json", "bench", "--mix", mix])
        .args(["--connections", "4", "--duration", "2", "--warmup", "0.2"])
        .args([
            "--pool",
            "32",
            "--endpoint-url",
            endpoint,
            "--credentials-file",
        ])
        .arg(dir.join("credentials"))
        .env_remove("PAYCRYPT_ACCESS_KEY_ID")
        .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench --mix {mix} failed ({}): {stdout}\n{stderr}",
        out.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn bench_smoke_every_operation_without_errors() {
    let dir = std::env::temp_dir().join(format!("paycrypt-bench-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (server, endpoint) = start(&dir);
    for mix in [
        "translate-pin",
        "verify-pin",
        "verify-arqc",
        "decrypt-dukpt",
        "generate-mac",
        "verify-cvv2",
        "mixed",
    ] {
        let r = bench(&endpoint, &dir, mix);
        assert_eq!(r["errors"], 0, "{mix}: {r}");
        assert_eq!(r["errors_by_code"], serde_json::json!({}), "{mix}: {r}");
        let n = r["requests"].as_u64().unwrap();
        assert!(n > 0, "{mix}: {r}");
        assert_eq!(r["connections"], 4);
        let ops = r["operations"].as_array().unwrap();
        assert_eq!(ops.len(), if mix == "mixed" { 6 } else { 1 }, "{r}");
        for o in ops {
            assert!(o["requests"].as_u64().unwrap() > 0, "{mix}: {r}");
        }
        let l = &r["latency_ms"];
        let p = |k: &str| l[k].as_f64().unwrap();
        assert!(
            p("p50") > 0.0 && p("p50") <= p("p99") && p("p99") <= p("max"),
            "{r}"
        );
        assert!(r["throughput_rps"].as_f64().unwrap() > 0.0);
    }

    // Bad usage: one error line, exit code 2.
    let out = Command::new(BIN)
        .args(["bench", "--mix", "nope", "--endpoint-url", &endpoint])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown operation"));

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `paycrypt bench` with `extra` arguments: exit code and JSON report.
fn bench_with(endpoint: &str, dir: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(BIN)
        .args([
            "--output", "json", "bench", "--mix", "mixed", "--pool", "16",
        ])
        .args(["--endpoint-url", endpoint, "--credentials-file"])
        .arg(dir.join("credentials"))
        .args(extra)
        .env_remove("PAYCRYPT_ACCESS_KEY_ID")
        .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

fn healthy(endpoint: &str) -> bool {
    let addr = endpoint.trim_start_matches("http://");
    let Ok(mut c) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut r = String::new();
    let _ = c.read_to_string(&mut r);
    r.starts_with("HTTP/1.1 200")
}

/// The CI version of bench/soak.sh: an open-loop run (`--rate`) under the per-caller limit with
/// zero errors and the server's RSS sampled, then a burst far above the limit answered only with
/// 200 or ThrottlingException (no timeout, no other error) — and the server alive after it.
#[test]
fn bench_open_loop_and_throttled_burst_smoke() {
    let dir = std::env::temp_dir().join(format!("paycrypt-bench-burst-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, endpoint) = start_with(&dir, &["--rate-limit-dp", "60"]);
    let pid = server.0.id().to_string();

    // Open loop at 30 req/s (half the limit) for 2 s: every request answered 200.
    let (code, r) = bench_with(
        &endpoint,
        &dir,
        &[
            "--connections",
            "4",
            "--rate",
            "30",
            "--duration",
            "2",
            "--warmup",
            "0",
        ]
        .iter()
        .copied()
        .chain(["--interval", "1", "--timeout", "10", "--server-pid", &pid])
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["rate_rps"], 30.0, "{r}");
    let n = r["requests"].as_u64().unwrap();
    assert!(
        (50..=70).contains(&n),
        "open loop at 30/s for 2 s sent {n}: {r}"
    );
    let rss = &r["server_rss_kib"];
    assert!(rss["start"].as_u64().unwrap() > 1000, "{r}");
    assert!(
        rss["max"].as_u64().unwrap() >= rss["end"].as_u64().unwrap(),
        "{r}"
    );
    let intervals = r["intervals"].as_array().unwrap();
    assert!(intervals.len() >= 2, "{r}");
    let per_interval: u64 = intervals
        .iter()
        .map(|i| i["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_interval, n, "{r}");

    // Burst at 10x the limit for 2 s: only 200 or ThrottlingException; both occur.
    let (code, r) = bench_with(
        &endpoint,
        &dir,
        &[
            "--connections",
            "8",
            "--rate",
            "600",
            "--duration",
            "2",
            "--warmup",
            "0",
            "--timeout",
            "10",
        ],
    );
    assert_eq!(
        code,
        Some(1),
        "a run with throttled requests reports errors: {r}"
    );
    let codes = r["errors_by_code"].as_object().unwrap();
    assert_eq!(
        codes.keys().collect::<Vec<_>>(),
        vec!["ThrottlingException"],
        "only throttling, no timeout or other error: {r}"
    );
    let throttled = codes["ThrottlingException"].as_u64().unwrap();
    let served = r["requests"].as_u64().unwrap() - throttled;
    // The bucket holds one second (60) and refills at 60/s: about 180 of the ~1200 pass.
    assert!((60..=400).contains(&served), "served {served}: {r}");
    assert!(throttled > 300, "{r}");

    assert!(server.0.try_wait().unwrap().is_none(), "server died");
    assert!(healthy(&endpoint), "server not healthy after the burst");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
