//! `paycrypt bench` smoke run (what CI runs): a debug `paycrypt serve` on a free port with a
//! temporary data directory, then `paycrypt bench` for ~2 s with 4 connections on each
//! operation of the mix (and once on the whole mix), asserting zero errors — which also proves
//! that every pre-built request (DUKPT PIN blocks, PVVs, CVV2s, ARQCs, DUKPT ciphertexts) is
//! valid under the keys the tool imported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paycrypt");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &listen,
            "--audit-log",
            "off",
            "--data-dir",
        ])
        .arg(dir)
        .env_remove("PAYCRYPT_ACCESS_KEY_ID")
        .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
        .env_remove("PAYCRYPT_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("paycrypt serve exited early: {status}");
        }
        if let Ok(mut c) = TcpStream::connect(&listen) {
            let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut r = String::new();
            let _ = c.read_to_string(&mut r);
            if r.starts_with("HTTP/1.1 200") {
                return (server, format!("http://{listen}"));
            }
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
