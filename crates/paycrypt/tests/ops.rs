//! `paycrypt keys|aliases|admin` against the real binary: a `paycrypt serve` on a free port with
//! a temporary data directory (its generated credentials file is what the CLI reads), then the
//! whole key lifecycle, aliases, a KEK imported by RSA-OAEP key cryptogram, a TR-31 working key
//! imported under it and exported back (both made / checked with paycrypt-core), bad input, and
//! offline `admin migrate` / `admin rotate-master-key` followed by a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use paycrypt_core::asym::{rsa_encrypt, RsaPadding};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm, KeyUsage, ModeOfUse, Tr31Header, Version,
};
use paycrypt_core::{hex, kcv};
use serde_json::Value;
use x509_cert::der::{DecodePem, Encode};

const BIN: &str = env!("CARGO_BIN_EXE_paycrypt");

struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
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
            .arg(data_dir)
            .args(extra)
            .env_remove("PAYCRYPT_ACCESS_KEY_ID")
            .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
            .env_remove("PAYCRYPT_MASTER_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = Server {
            child,
            endpoint: format!("http://{listen}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("paycrypt serve exited early: {status}");
            }
            if extra.contains(&"--tls-cert") {
                // TLS: a listening socket is enough; the test's first command checks the rest.
                if TcpStream::connect(&listen).is_ok() {
                    s.endpoint = format!("https://{listen}");
                    return s;
                }
            } else if let Ok(mut c) = TcpStream::connect(&listen) {
                let _ =
                    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut r = String::new();
                let _ = c.read_to_string(&mut r);
                if r.starts_with("HTTP/1.1 200") {
                    return s;
                }
            }
            assert!(Instant::now() < deadline, "server did not become healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cli<'a> {
    endpoint: &'a str,
    creds: PathBuf,
}

impl Cli<'_> {
    fn raw(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--output", "json"])
            .args(args)
            .args(["--endpoint-url", self.endpoint, "--credentials-file"])
            .arg(&self.creds)
            .env_remove("PAYCRYPT_ACCESS_KEY_ID")
            .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
            .env_remove("PAYCRYPT_ENDPOINT")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let o = self.raw(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// A failing command: its exit code and its one stderr line.
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let o = self.raw(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(o.stdout.is_empty());
        let err = String::from_utf8(o.stderr).unwrap();
        (o.status.code().unwrap(), err)
    }
}

fn one_line_error(err: &str) {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
}

fn admin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--output", "json", "admin"])
        .args(args)
        .env_remove("PAYCRYPT_MASTER_KEY")
        .output()
        .unwrap()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_str().unwrap_or_else(|| panic!("{path:?} in {v}"))
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("paycrypt-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn operator_commands_against_a_running_server() {
    let dir = tmp_dir("main");
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let cli = Cli {
        endpoint: &server.endpoint,
        creds: data.join("credentials"),
    };

    // ---- lifecycle
    let k = cli.ok(&[
        "keys",
        "create",
        "--usage",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "--algorithm",
        "TDES_3KEY",
        "--modes",
        "B",
        "--tag",
        "team=ops",
    ]);
    let arn = s(&k, &["Key", "KeyArn"]).to_owned();
    assert_eq!(k["Key"]["KeyAttributes"]["KeyModesOfUse"]["Wrap"], true);
    assert_eq!(k["Key"]["Exportable"], true);
    let k2 = cli.ok(&[
        "keys",
        "create",
        "--usage",
        "TR31_M7_HMAC_KEY",
        "--algorithm",
        "HMAC_SHA256",
        "--generate",
        "--verify",
        "--no-exportable",
        "--disabled",
    ]);
    assert_eq!(k2["Key"]["Exportable"], false);
    assert_eq!(k2["Key"]["Enabled"], false);

    let list = cli.ok(&["keys", "list"]);
    let arns: Vec<&str> = list["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyArn"].as_str().unwrap())
        .collect();
    assert!(arns.contains(&arn.as_str()) && arns.len() == 2, "{list}");
    assert_eq!(
        cli.ok(&["keys", "list", "--state", "DELETE_PENDING"])["Keys"],
        serde_json::json!([])
    );
    assert_eq!(
        s(&cli.ok(&["keys", "get", &arn]), &["Key", "KeyState"]),
        "CREATE_COMPLETE"
    );

    let a = cli.ok(&["aliases", "create", "alias/ops-test", "--key", &arn]);
    assert_eq!(s(&a, &["Alias", "KeyArn"]), arn);
    assert_eq!(
        s(
            &cli.ok(&["aliases", "get", "alias/ops-test"]),
            &["Alias", "KeyArn"]
        ),
        arn
    );
    assert_eq!(
        s(
            &cli.ok(&["keys", "get", "alias/ops-test"]),
            &["Key", "KeyArn"]
        ),
        arn
    );
    let al = cli.ok(&["aliases", "list", "--key", &arn]);
    assert_eq!(al["Aliases"].as_array().unwrap().len(), 1);

    assert_eq!(
        cli.ok(&["keys", "stop", "alias/ops-test"])["Key"]["Enabled"],
        false
    );
    assert_eq!(cli.ok(&["keys", "start", &arn])["Key"]["Enabled"], true);
    let d = cli.ok(&["keys", "delete", &arn, "--days", "3"]);
    assert_eq!(s(&d, &["Key", "KeyState"]), "DELETE_PENDING");
    assert_eq!(
        cli.ok(&["keys", "list", "--state", "DELETE_PENDING"])["Keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = cli.ok(&["keys", "restore", &arn]);
    assert_eq!(s(&r, &["Key", "KeyState"]), "CREATE_COMPLETE");
    let u = cli.ok(&["aliases", "update", "alias/ops-test"]);
    assert!(u["Alias"].get("KeyArn").is_none(), "{u}");
    cli.ok(&["aliases", "delete", "alias/ops-test"]);

    // ---- table output
    let o = Command::new(BIN)
        .args([
            "keys",
            "list",
            "--endpoint-url",
            &server.endpoint,
            "--credentials-file",
        ])
        .arg(&cli.creds)
        .env_remove("PAYCRYPT_ACCESS_KEY_ID")
        .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("KeyArn") && text.contains(&arn), "{text}");

    // ---- import a KEK by RSA-OAEP key cryptogram
    let cert_path = dir.join("wrapping.pem");
    let p = cli.ok(&[
        "keys",
        "import-params",
        "--wrapping-key-algorithm",
        "RSA_3072",
        "--certificate-out",
        cert_path.to_str().unwrap(),
    ]);
    let token = s(&p, &["ImportToken"]).to_owned();
    let pem = std::fs::read_to_string(&cert_path).unwrap();
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let kek = hex::decode("k", "00112233445566778899AABBCCDDEEFF").unwrap();
    let cryptogram = rsa_encrypt(&spki, RsaPadding::OaepSha256, &kek, None).unwrap();
    let imported = cli.ok(&[
        "keys",
        "import",
        "--cryptogram",
        &hex::encode(&cryptogram),
        "--token",
        &token,
        "--usage",
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "--algorithm",
        "AES_128",
        "--modes",
        "B",
        "--wrapping-spec",
        "RSA_OAEP_SHA_256",
    ]);
    let kek_arn = s(&imported, &["Key", "KeyArn"]).to_owned();
    let kek_kcv = kcv::cmac_kcv(&BlockCipher::aes(&kek).unwrap(), 3).unwrap();
    assert_eq!(
        s(&imported, &["Key", "KeyCheckValue"]),
        hex::encode(&kek_kcv)
    );

    // ---- import a TR-31 working key under it, check its KCV, export it back
    let wk = hex::decode("wk", "F0E1D2C3B4A5968778695A4B3C2D1E0F").unwrap();
    let header = Tr31Header::new(
        Version::D,
        KeyUsage::from_code("D0").unwrap(),
        KeyAlgorithm::from_code("A").unwrap(),
        ModeOfUse::from_code("B").unwrap(),
        Exportability::from_code("E").unwrap(),
    );
    let block = tr31::wrap(Kbpk::aes(&kek).unwrap(), &header, &wk).unwrap();
    let w = cli.ok(&["keys", "import", "--tr31", &block, "--kek", &kek_arn]);
    let wk_arn = s(&w, &["Key", "KeyArn"]).to_owned();
    let wk_kcv = kcv::cmac_kcv(&BlockCipher::aes(&wk).unwrap(), 3).unwrap();
    assert_eq!(s(&w, &["Key", "KeyCheckValue"]), hex::encode(&wk_kcv));
    assert_eq!(
        s(&w, &["Key", "KeyAttributes", "KeyUsage"]),
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
    );
    let export = |kek_arn: &str, wk_arn: &str, cli: &Cli<'_>| {
        let e = cli.ok(&[
            "keys", "export", wk_arn, "--tr31", "--kek", kek_arn, "--modes", "E",
        ]);
        assert_eq!(
            s(&e, &["WrappedKey", "WrappedKeyMaterialFormat"]),
            "TR31_KEY_BLOCK"
        );
        let (h, material) = tr31::unwrap(
            Kbpk::aes(&kek).unwrap(),
            s(&e, &["WrappedKey", "KeyMaterial"]),
        )
        .unwrap();
        assert_eq!(h.mode_of_use.code(), "E");
        assert_eq!(material.expose(), wk.as_slice());
    };
    export(&kek_arn, &wk_arn, &cli);

    // ---- bad input: one line, non-zero exit
    let (code, err) = cli.fails(&[
        "keys",
        "get",
        "arn:aws:payment-cryptography:us-east-1:111122223333:key/doesnotexist1234",
    ]);
    one_line_error(&err);
    assert_eq!(code, 1);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    let (code, err) = cli.fails(&[
        "keys",
        "create",
        "--usage",
        "NOPE",
        "--algorithm",
        "AES_128",
        "--modes",
        "E",
    ]);
    one_line_error(&err);
    assert_eq!(code, 1);
    assert!(err.contains("ValidationException"), "{err}");
    let (code, err) = cli.fails(&[
        "keys",
        "create",
        "--usage",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "--algorithm",
        "AES_128",
        "--modes",
        "Q",
    ]);
    one_line_error(&err);
    assert_eq!(code, 2);
    let (code, err) = cli.fails(&["keys", "import"]);
    one_line_error(&err);
    assert_eq!(code, 2);
    let (code, err) = cli.fails(&["keys", "delete", &arn, "--days", "many"]);
    one_line_error(&err);
    assert_eq!(code, 2);
    let bad = |creds: &Path, endpoint: &str| {
        let o = Command::new(BIN)
            .args([
                "keys",
                "list",
                "--endpoint-url",
                endpoint,
                "--credentials-file",
            ])
            .arg(creds)
            .env_remove("PAYCRYPT_ACCESS_KEY_ID")
            .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
            .output()
            .unwrap();
        let err = String::from_utf8(o.stderr).unwrap();
        one_line_error(&err);
        (o.status.code().unwrap(), err)
    };
    assert_eq!(bad(&cli.creds, "ftp://x").0, 2);
    assert_eq!(
        bad(Path::new("/nonexistent/credentials"), &server.endpoint).0,
        2
    );
    let wrong = dir.join("wrong-credentials");
    std::fs::write(
        &wrong,
        "[default]\naws_access_key_id = PCAKWRONG\naws_secret_access_key = nope\n",
    )
    .unwrap();
    let (code, err) = bad(&wrong, &server.endpoint);
    assert_eq!(code, 1);
    assert!(err.contains("UnrecognizedClientException"), "{err}");
    // Nothing listening: one line, exit 1.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, err) = bad(&cli.creds, &format!("http://127.0.0.1:{closed}"));
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect"), "{err}");

    // ---- offline admin on the stopped server's data directory
    server.stop();
    let data_s = data.to_str().unwrap();
    let m = admin(&["migrate", "--data-dir", data_s]);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let mv: Value = serde_json::from_slice(&m.stdout).unwrap();
    assert_eq!(
        mv["SchemaVersion"],
        paycrypt_keystore::SQLITE_SCHEMA_VERSION
    );
    assert_eq!(mv["IntegrityFailures"], serde_json::json!([]));

    let new_key = dir.join("new-master.key");
    std::fs::write(
        &new_key,
        "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90\n",
    )
    .unwrap();
    let r = admin(&[
        "rotate-master-key",
        "--data-dir",
        data_s,
        "--new-master-key-file",
        new_key.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rv: Value = serde_json::from_slice(&r.stdout).unwrap();
    // 2 created + KEK + working key (+ the server's own import wrapping key pair).
    assert!(rv["KeysResealed"].as_u64().unwrap() >= 4, "{rv}");
    // The old (default) master key no longer opens the store: one line, exit 1.
    let old = admin(&["migrate", "--data-dir", data_s]);
    assert_eq!(old.status.code(), Some(1));
    one_line_error(&String::from_utf8(old.stderr).unwrap());
    // A missing new key file is a usage error.
    let bad = admin(&[
        "rotate-master-key",
        "--data-dir",
        data_s,
        "--new-master-key-file",
        "/nonexistent",
    ]);
    assert_eq!(bad.status.code(), Some(2));

    // ---- restart with the new master key: the keys still work
    let server = Server::start(&data, &["--master-key-file", new_key.to_str().unwrap()]);
    let cli = Cli {
        endpoint: &server.endpoint,
        creds: data.join("credentials"),
    };
    assert_eq!(
        s(
            &cli.ok(&["keys", "get", &wk_arn]),
            &["Key", "KeyCheckValue"]
        ),
        hex::encode(&wk_kcv)
    );
    export(&kek_arn, &wk_arn, &cli);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An https endpoint: trusted through --ca-file; refused (one line, exit 1) without it.
#[test]
fn https_endpoint_with_ca_file() {
    let dir = tmp_dir("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "the openssl command (Debian's openssl package) is needed to make the test certificate"
    );
    let data = dir.join("data");
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let creds = data.join("credentials");
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args([
                "--output",
                "json",
                "keys",
                "list",
                "--endpoint-url",
                &server.endpoint,
            ])
            .arg("--credentials-file")
            .arg(&creds)
            .args(extra)
            .env_remove("PAYCRYPT_ACCESS_KEY_ID")
            .env_remove("PAYCRYPT_SECRET_ACCESS_KEY")
            .env_remove("SSL_CERT_FILE")
            .output()
            .unwrap()
    };
    // The credentials file is written before the port opens; wait for the TLS listener.
    let deadline = Instant::now() + Duration::from_secs(30);
    let o = loop {
        let o = run(&["--ca-file", cert.to_str().unwrap()]);
        if o.status.success() || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Keys"], serde_json::json!([]));
    // Not trusted by the system bundle (or no bundle at all): refused, one line.
    let o = run(&[]);
    assert!(!o.status.success());
    one_line_error(&String::from_utf8(o.stderr).unwrap());
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn openssl(args: &[&str], dir: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `keys import --root-certificate` and `keys export --cryptogram`: a root CA and an RSA-3072
/// leaf made by openssl; the exported cryptogram decrypts (paycrypt-core RSA-OAEP with the
/// leaf's private key) to a key whose CMAC KCV is the one the server reports.
#[test]
fn export_key_cryptogram_to_an_openssl_certificate() {
    let dir = tmp_dir("kc");
    let steps: [&[&str]; 4] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ops root",
        ],
        &[
            "req",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=ops leaf",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            "leaf.pem",
        ],
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.der",
        ],
    ];
    assert!(
        steps.iter().all(|a| openssl(a, &dir)),
        "the openssl command (Debian's openssl package) is needed to make the test certificates"
    );
    let data = dir.join("data");
    let server = Server::start(&data, &[]);
    let cli = Cli {
        endpoint: &server.endpoint,
        creds: data.join("credentials"),
    };
    let ca = cli.ok(&[
        "keys",
        "import",
        "--root-certificate",
        dir.join("ca.pem").to_str().unwrap(),
        "--usage",
        "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        "--algorithm",
        "RSA_2048",
        "--verify",
    ]);
    assert_eq!(s(&ca, &["Key", "KeyAttributes", "KeyClass"]), "PUBLIC_KEY");
    let ca_arn = s(&ca, &["Key", "KeyArn"]).to_owned();
    let k = cli.ok(&[
        "keys",
        "create",
        "--usage",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "--algorithm",
        "AES_128",
        "--modes",
        "B",
        "--exportable",
    ]);
    let arn = s(&k, &["Key", "KeyArn"]).to_owned();
    let e = cli.ok(&[
        "keys",
        "export",
        &arn,
        "--cryptogram",
        "--certificate",
        dir.join("leaf.pem").to_str().unwrap(),
        "--ca",
        &ca_arn,
        "--wrapping-spec",
        "RSA_OAEP_SHA_512",
    ]);
    assert_eq!(
        s(&e, &["WrappedKey", "WrappedKeyMaterialFormat"]),
        "KEY_CRYPTOGRAM"
    );
    let leaf_key = std::fs::read(dir.join("leaf.der")).unwrap();
    let ct = hex::decode("c", s(&e, &["WrappedKey", "KeyMaterial"])).unwrap();
    let clear =
        paycrypt_core::asym::rsa_decrypt(&leaf_key, RsaPadding::OaepSha512, &ct, None).unwrap();
    let kcv = kcv::cmac_kcv(&BlockCipher::aes(clear.expose()).unwrap(), 3).unwrap();
    assert_eq!(hex::encode(&kcv), s(&k, &["Key", "KeyCheckValue"]));
    // A certificate the CA did not sign is refused by the server: one line, exit 1.
    let (code, err) = cli.fails(&[
        "keys",
        "export",
        &arn,
        "--cryptogram",
        "--certificate",
        dir.join("ca.pem").to_str().unwrap(),
        "--ca",
        &ca_arn,
    ]);
    one_line_error(&err);
    assert_eq!(code, 1, "{err}");
    // A file that is not a certificate is a usage error.
    let (code, err) = cli.fails(&[
        "keys",
        "export",
        &arn,
        "--cryptogram",
        "--certificate",
        dir.join("leaf.csr").to_str().unwrap(),
        "--ca",
        &ca_arn,
    ]);
    one_line_error(&err);
    assert_eq!(code, 2, "{err}");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
