//! Shared by the binary's integration tests: start a debug `paycrypt serve` on a free port and
//! wait until `/health` answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_paycrypt");

/// A running server, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start(dir: &Path) -> (Server, String) {
    start_with(dir, &[])
}

pub fn start_with(dir: &Path, extra: &[&str]) -> (Server, String) {
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
        .args(extra)
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
