//! End-to-end tests of `paycrypt calc …`, running the built binary.
//!
//! Known-answer values are the published vectors already used by paycrypt-core's
//! own tests (their sources are in `crates/paycrypt-core/tests/vectors/*.json`):
//! ANSI X9.24-1 A.4 / X9.24-3 (DUKPT), psec / IBM docs / X9.24-3 p.31 (PIN blocks),
//! psec (PVV, IBM 3624), IBM CCA via psec (CVV), pyemv HSM-verified CVN vectors
//! (ARQC/ARPC), psec / NIST SP 800-38B / RFC 4231 (MAC), TR-31:2018 A.7 and
//! X9.143 §8.1 (key blocks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paycrypt");
const K: &str = "0123456789ABCDEFFEDCBA9876543210";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = Command::new(BIN).args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

/// Run `paycrypt --output json calc <args>`, expect success and return the object.
fn json(args: &[&str]) -> Value {
    let mut all = vec!["--output", "json", "calc"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.code, 0, "{args:?}: stderr {}", o.stderr);
    assert!(o.stderr.is_empty());
    assert_eq!(o.stdout.lines().count(), 1, "one JSON line");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(v.is_object());
    v
}

/// Run `paycrypt calc <args>` (table output), expect success and return the `label: value` pairs.
fn table(args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["calc"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.code, 0, "{args:?}: stderr {}", o.stderr);
    o.stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn get(t: &[(String, String)], k: &str) -> String {
    t.iter().find(|(l, _)| l == k).unwrap().1.clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

/// Expect exit code `code`, nothing on stdout and exactly one `error: ` line
/// on stderr containing `needle` and none of `secrets`.
fn fails(code: i32, args: &[&str], needle: &str, secrets: &[&str]) {
    let mut all = vec!["calc"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.code, code, "{args:?}: {}", o.stderr);
    assert!(o.stdout.is_empty(), "{args:?}: stdout {}", o.stdout);
    assert_eq!(o.stderr.lines().count(), 1, "{args:?}: {}", o.stderr);
    assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
    assert!(
        o.stderr.contains(needle),
        "{args:?}: {} lacks {needle}",
        o.stderr
    );
    for sec in secrets {
        assert!(!o.stderr.contains(sec), "{args:?}: secret in {}", o.stderr);
    }
}

// ---------------------------------------------------------------------------
// KCV

#[test]
fn kcv_tdes_and_aes() {
    let t = table(&["kcv", "--key", K]);
    assert_eq!(get(&t, "kcv"), "08D7B4");
    let v = json(&[
        "kcv",
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--algorithm",
        "aes",
        "--length",
        "5",
    ]);
    assert_eq!(s(&v, "kcv"), "08793E25AB");
    let v = json(&[
        "kcv",
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--algorithm",
        "aes",
        "--method",
        "ansi",
    ]);
    assert_eq!(s(&v, "method"), "ANSI X9.24");
    let v = json(&["kcv", "--key", "0B0B", "--algorithm", "hmac"]);
    assert_eq!(s(&v, "kcv").len(), 6);
}

#[test]
fn kcv_errors() {
    fails(
        2,
        &["kcv", "--key", "0123G56789ABCDEFFEDCBA9876543210"],
        "key: not a hexadecimal character at position 4",
        &["0123G5"],
    );
    fails(
        2,
        &[
            "kcv",
            "--key",
            "0123456789ABCDEFFEDCBA98765432",
            "--algorithm",
            "aes",
        ],
        "15-byte key is not valid for AES",
        &["0123456789ABCDEF"],
    );
    fails(
        2,
        &["kcv", "--key", "0123456789ABCDEF0123456789ABCDEF"],
        "TDES key parts are equal",
        &["0123456789ABCDEF"],
    );
    fails(2, &["kcv", "--key", K, "--length", "9"], "kcv_length", &[K]);
}

// ---------------------------------------------------------------------------
// DUKPT

#[test]
fn dukpt_tdes_x9_24_1_a4() {
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk",
        K,
        "--ksn",
        "FFFF9876543210E00001",
    ]);
    assert_eq!(s(&v, "ipek"), "6AC292FAA1315B4D858AB3A3D7D5933A");
    assert_eq!(s(&v, "bdk_kcv"), "08D7B4");
    assert_eq!(s(&v, "transaction_key"), "042666B49184CFA368DE9628D0397BC9");
    // PIN variant: transaction key XOR 00000000000000FF 00000000000000FF
    assert_eq!(s(&v, "pin_key"), "042666B49184CF5C68DE9628D0397B36");
    for k in [
        "pin_key_kcv",
        "mac_request_key_kcv",
        "mac_response_key_kcv",
        "data_request_key_kcv",
        "data_response_key_kcv",
    ] {
        assert_eq!(s(&v, k).len(), 6);
    }
    let t = table(&[
        "dukpt",
        "derive",
        "--bdk",
        K,
        "--ksn",
        "FFFF9876543210EFF800",
    ]);
    assert_eq!(
        get(&t, "transaction_key"),
        "F9CDFEBF4F5B1D9EB3EC12454527E176"
    );
    // initial KSN: IPEK only
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk",
        K,
        "--ksn",
        "FFFF9876543210E00000",
    ]);
    assert_eq!(s(&v, "ipek"), "6AC292FAA1315B4D858AB3A3D7D5933A");
    assert!(v.get("transaction_key").is_none());
}

#[test]
fn dukpt_aes_x9_24_3() {
    let bdk = "FEDCBA9876543210F1F1F1F1F1F1F1F1";
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk",
        bdk,
        "--ksn",
        "123456789012345600000001",
    ]);
    assert_eq!(s(&v, "initial_key"), "1273671EA26AC29AFA4D1084127652A1");
    assert_eq!(s(&v, "transaction_key"), "4F21B565BAD9835E112B6465635EAE44");
    assert_eq!(s(&v, "pin_key"), "AF8CB133A78F8DC2D1359F18527593FB");
    assert_eq!(
        s(&v, "mac_generation_key"),
        "A2DC23DE6FDE0824A2BC321E08E4B8B7"
    );
    assert_eq!(
        s(&v, "data_encrypt_key"),
        "A35C412EFD41FDB98B69797C02DCD08F"
    );
    let bdk256 = "FEDCBA9876543210F1F1F1F1F1F1F1F1FEDCBA9876543210F1F1F1F1F1F1F1F1";
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk",
        bdk256,
        "--ksn",
        "123456789012345600000001",
    ]);
    assert_eq!(
        s(&v, "initial_key"),
        "CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F"
    );
    assert_eq!(
        s(&v, "pin_key"),
        "8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502"
    );
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk",
        bdk256,
        "--ksn",
        "123456789012345600000001",
        "--key-type",
        "tdes2",
    ]);
    assert_eq!(s(&v, "working_key_type"), "TDES_2KEY");
    assert_eq!(s(&v, "pin_key").len(), 32);
}

#[test]
fn dukpt_errors() {
    fails(
        2,
        &["dukpt", "derive", "--bdk", K, "--ksn", "FFFF9876543210E000"],
        "ksn: length 9 is invalid",
        &[K],
    );
    fails(
        2,
        &[
            "dukpt",
            "derive",
            "--bdk",
            K,
            "--ksn",
            "FFFF9876543210E0000X",
        ],
        "ksn: not a hexadecimal character at position 19",
        &[K],
    );
    fails(
        2,
        &[
            "dukpt",
            "derive",
            "--bdk",
            "0123456789ABCDEFFEDCBA98765432",
            "--ksn",
            "FFFF9876543210E00001",
        ],
        "invalid key",
        &["0123456789ABCDEFFEDCBA98765432"],
    );
    fails(
        2,
        &[
            "dukpt",
            "derive",
            "--bdk",
            K,
            "--ksn",
            "FFFF9876543210E00001",
            "--key-type",
            "aes128",
        ],
        "--key-type applies to AES DUKPT",
        &[K],
    );
}

// ---------------------------------------------------------------------------
// PIN blocks

#[test]
fn pinblock_iso0() {
    let v = json(&[
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "4111111111111111",
        "--format",
        "0",
    ]);
    assert_eq!(s(&v, "clear_pin_block"), "041225EEEEEEEEEE");
    let v = json(&[
        "pinblock",
        "decode",
        "--block",
        "041225EEEEEEEEEE",
        "--pan",
        "4111111111111111",
        "--format",
        "0",
    ]);
    assert_eq!(s(&v, "pin"), "1234");
    // ANSI X9.24-1 A.4 clear block
    let t = table(&[
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "4012345678909",
        "--format",
        "0",
    ]);
    assert_eq!(get(&t, "clear_pin_block"), "041274EDCBA9876F");
    // encipher, then decipher
    let v = json(&[
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "4111111111111111",
        "--format",
        "0",
        "--key",
        K,
    ]);
    assert_eq!(s(&v, "key_kcv"), "08D7B4");
    let enc = s(&v, "encrypted_pin_block").to_owned();
    let v = json(&[
        "pinblock",
        "decode",
        "--block",
        &enc,
        "--pan",
        "4111111111111111",
        "--format",
        "0",
        "--key",
        K,
    ]);
    assert_eq!(s(&v, "clear_pin_block"), "041225EEEEEEEEEE");
    assert_eq!(s(&v, "pin"), "1234");
}

#[test]
fn pinblock_other_formats() {
    // psec docstring: ISO 2
    let v = json(&["pinblock", "encode", "--pin", "1234", "--format", "2"]);
    assert_eq!(s(&v, "clear_pin_block"), "241234FFFFFFFFFF");
    // IBM docs ISO 3 with explicit fill
    let v = json(&[
        "pinblock",
        "encode",
        "--pin",
        "123456",
        "--pan",
        "1112223334445550",
        "--format",
        "3",
        "--fill",
        "AFBECDDC",
    ]);
    assert_eq!(s(&v, "clear_pin_block"), "361216759CFA8889");
    let v = json(&[
        "pinblock",
        "decode",
        "--block",
        "341277EEEFCCB43C",
        "--pan",
        "5544332211009966",
        "--format",
        "3",
    ]);
    assert_eq!(s(&v, "pin"), "1234");
    // ISO 4: X9.24-3 p.31
    let pin_key = "AF8CB133A78F8DC2D1359F18527593FB";
    let v = json(&[
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "4111111111111111",
        "--format",
        "4",
        "--key",
        pin_key,
        "--fill",
        "2F69ADDE2E9E7ACE",
    ]);
    assert_eq!(s(&v, "pin_field"), "441234AAAAAAAAAA2F69ADDE2E9E7ACE");
    assert_eq!(s(&v, "pan_field"), "44111111111111111000000000000000");
    assert_eq!(
        s(&v, "encrypted_pin_block"),
        "A912150391AB65A67E52883D81CE2D15"
    );
    let v = json(&[
        "pinblock",
        "decode",
        "--block",
        "A912150391AB65A67E52883D81CE2D15",
        "--pan",
        "4111111111111111",
        "--format",
        "4",
        "--key",
        pin_key,
    ]);
    assert_eq!(s(&v, "pin"), "1234");
    // random fill, format 1 and 3, round trip through the key
    for f in ["1", "3"] {
        let v = json(&[
            "pinblock",
            "encode",
            "--pin",
            "98765",
            "--pan",
            "4111111111111111",
            "--format",
            f,
            "--key",
            K,
        ]);
        let enc = s(&v, "encrypted_pin_block").to_owned();
        let v = json(&[
            "pinblock",
            "decode",
            "--block",
            &enc,
            "--pan",
            "4111111111111111",
            "--format",
            f,
            "--key",
            K,
        ]);
        assert_eq!(s(&v, "pin"), "98765");
    }
    let v = json(&[
        "pinblock", "encode", "--pin", "1234", "--format", "ibm3624", "--pad", "A",
    ]);
    assert_eq!(s(&v, "clear_pin_block"), "1234AAAAAAAAAAAA");
}

#[test]
fn pinblock_errors() {
    fails(
        2,
        &[
            "pinblock",
            "decode",
            "--block",
            "041Z25EEEEEEEEEE",
            "--pan",
            "4111111111111111",
            "--format",
            "0",
        ],
        "pin_block: not a hexadecimal character at position 3",
        &["041Z25"],
    );
    fails(
        2,
        &[
            "pinblock",
            "decode",
            "--block",
            "041225EEEEEEEEEF",
            "--pan",
            "4111111111111111",
            "--format",
            "0",
        ],
        "PIN block: fill",
        &["1234"],
    );
    fails(
        2,
        &[
            "pinblock",
            "decode",
            "--block",
            "041225EEEEEEEEEE",
            "--format",
            "0",
        ],
        "requires a PAN",
        &[],
    );
    fails(
        2,
        &[
            "pinblock",
            "encode",
            "--pin",
            "12a4",
            "--pan",
            "4111111111111111",
            "--format",
            "0",
        ],
        "pin:",
        &["12a4"],
    );
    fails(
        2,
        &[
            "pinblock",
            "encode",
            "--pin",
            "1234",
            "--pan",
            "41111111111",
            "--format",
            "0",
        ],
        "pan: length 11",
        &["41111111111"],
    );
    fails(
        2,
        &[
            "pinblock",
            "encode",
            "--pin",
            "1234",
            "--pan",
            "4111111111111111",
            "--format",
            "4",
            "--key",
            K.get(..30).unwrap(),
        ],
        "invalid key",
        &[K.get(..30).unwrap()],
    );
    fails(
        2,
        &[
            "pinblock", "encode", "--pin", "1234", "--format", "2", "--fill", "AB",
        ],
        "--fill applies",
        &[],
    );
}

// ---------------------------------------------------------------------------
// PVV and IBM 3624

#[test]
fn pvv() {
    let v = json(&[
        "pvv",
        "generate",
        "--pvk",
        K,
        "--pan",
        "1122334455667788",
        "--pvki",
        "1",
        "--pin",
        "4524",
    ]);
    assert_eq!(s(&v, "pvv"), "8523");
    let v = json(&[
        "pvv",
        "verify",
        "--pvk",
        K,
        "--pan",
        "1122334455667788",
        "--pvki",
        "2",
        "--pin",
        "1912",
        "--pvv",
        "3244",
    ]);
    assert_eq!(s(&v, "result"), "VALID");
    fails(
        1,
        &[
            "pvv",
            "verify",
            "--pvk",
            K,
            "--pan",
            "1122334455667788",
            "--pvki",
            "1",
            "--pin",
            "4524",
            "--pvv",
            "8524",
        ],
        "verification failed: INVALID_PIN",
        &[K, "4524"],
    );
    fails(
        2,
        &[
            "pvv",
            "generate",
            "--pvk",
            K,
            "--pan",
            "1122334455667788",
            "--pvki",
            "7",
            "--pin",
            "4524",
        ],
        "pvki",
        &[K, "4524"],
    );
}

#[test]
fn ibm3624() {
    let base = [
        "--pvk",
        K,
        "--dec-table",
        "1234567890123456",
        "--validation-data",
        "1122334455667788",
    ];
    let mut a = vec!["ibm3624", "natural-pin"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "natural_pin"), "4524");
    let mut a = vec!["ibm3624", "offset", "--pin", "5635"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "offset"), "1111");
    let mut a = vec!["ibm3624", "pin-from-offset", "--offset", "1111"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "pin"), "5635");
    let mut a = vec!["ibm3624", "verify", "--pin", "5635", "--offset", "1111"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "result"), "VALID");
    let mut a = vec!["ibm3624", "verify", "--pin", "5636", "--offset", "1111"];
    a.extend_from_slice(&base);
    fails(1, &a, "INVALID_PIN", &[K]);
    fails(
        2,
        &[
            "ibm3624",
            "natural-pin",
            "--pvk",
            K,
            "--dec-table",
            "1111111111111111",
            "--validation-data",
            "1122334455667788",
        ],
        "decimalization",
        &[K],
    );
}

// ---------------------------------------------------------------------------
// CVV

#[test]
fn cvv() {
    let base = ["--key", K, "--pan", "1234567890123456", "--expiry", "9912"];
    let mut a = vec!["cvv", "generate", "--service-code", "220"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "cvv"), "170");
    let mut a = vec!["cvv", "generate", "--type", "cvv2"];
    a.extend_from_slice(&base);
    let v = json(&a);
    assert_eq!(s(&v, "cvv2"), "852");
    assert_eq!(s(&v, "service_code"), "000");
    let mut a = vec!["cvv", "generate", "--type", "icvv"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "icvv"), "293");
    let mut a = vec!["cvv", "verify", "--service-code", "220", "--value", "170"];
    a.extend_from_slice(&base);
    assert_eq!(s(&json(&a), "result"), "VALID");
    let mut a = vec!["cvv", "verify", "--service-code", "220", "--value", "171"];
    a.extend_from_slice(&base);
    fails(1, &a, "INVALID_VALIDATION_DATA", &[K]);
    let mut a = vec!["cvv", "generate"];
    a.extend_from_slice(&base);
    fails(2, &a, "--service-code is required", &[K]);
    fails(
        2,
        &[
            "cvv",
            "generate",
            "--key",
            K,
            "--pan",
            "12345678901",
            "--expiry",
            "9912",
            "--service-code",
            "220",
        ],
        "pan",
        &[K],
    );
}

// ---------------------------------------------------------------------------
// EMV ARQC / ARPC (pyemv tests/test_cvn_hsm.py, HSM-verified)

const VISA18_DATA: &str =
    "0000000040000000000000000124800004800001241911050152BF45851800001C06011203A0B800";
const VISA10_DATA: &str =
    "0000000040000000000000000124800004800001241911050152BF45851800001C03A06010";
const MC16_DATA: &str =
    "00000000999900000000000001248000000000012420990600ABCDEF121800001CA00003220000";

#[test]
fn arqc_schemes() {
    // Visa CVN 18: option B, EMV common session key
    let v = json(&[
        "arqc",
        "generate",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--psn",
        "00",
        "--derivation",
        "option-b",
        "--scheme",
        "common",
        "--atc",
        "001C",
        "--data",
        VISA18_DATA,
    ]);
    assert_eq!(s(&v, "arqc"), "7A788EA6B8A3E733");
    assert!(s(&v, "icc_master_key_kcv").starts_with("BAB0"));
    assert!(s(&v, "session_key_kcv").starts_with("22C8"));
    // Visa CVN 10: ICC MK directly, padding method 1 by default
    let v = json(&[
        "arqc",
        "generate",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--scheme",
        "visa",
        "--data",
        VISA10_DATA,
    ]);
    assert_eq!(s(&v, "arqc"), "29CCA15AE665FA2E");
    // Mastercard CVN 16: Mastercard SKD with UN
    let v = json(&[
        "arqc",
        "verify",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--scheme",
        "mastercard",
        "--atc",
        "001C",
        "--un",
        "ABCDEF12",
        "--data",
        MC16_DATA,
        "--arqc",
        "24CCF3DEE3158C70",
    ]);
    assert_eq!(s(&v, "result"), "VALID");
    assert!(s(&v, "session_key_kcv").starts_with("2FD5"));
    fails(
        1,
        &[
            "arqc",
            "verify",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "mastercard",
            "--atc",
            "001C",
            "--un",
            "ABCDEF12",
            "--data",
            MC16_DATA,
            "--arqc",
            "24CCF3DEE3158C71",
        ],
        "INVALID_AUTH_REQUEST_CRYPTOGRAM",
        &[K],
    );
}

#[test]
fn arpc_methods() {
    let v = json(&[
        "arpc",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--scheme",
        "mastercard",
        "--atc",
        "001C",
        "--un",
        "ABCDEF12",
        "--arqc",
        "24CCF3DEE3158C70",
        "--method",
        "1",
        "--arc",
        "0010",
        "--arpc-key",
        "icc",
    ]);
    assert_eq!(s(&v, "arpc"), "73F6BBF389A6586C");
    let v = json(&[
        "arpc",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--derivation",
        "option-b",
        "--scheme",
        "common",
        "--atc",
        "001C",
        "--arqc",
        "7A788EA6B8A3E733",
        "--method",
        "2",
        "--csu",
        "00000000",
    ]);
    assert_eq!(s(&v, "arpc"), "9AF514C1");
    let v = json(&[
        "arpc",
        "--mk",
        K,
        "--pan",
        "1234567890123456",
        "--scheme",
        "visa",
        "--arqc",
        "29CCA15AE665FA2E",
        "--method",
        "1",
        "--arc",
        "3030",
    ]);
    assert_eq!(s(&v, "arpc"), "28993816AFAE4AEB");
}

#[test]
fn emv_errors() {
    fails(
        2,
        &[
            "arqc",
            "generate",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "mastercard",
            "--atc",
            "001C",
            "--data",
            MC16_DATA,
        ],
        "--un is required",
        &[K],
    );
    fails(
        2,
        &[
            "arqc",
            "generate",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "common",
            "--atc",
            "01C",
            "--data",
            MC16_DATA,
        ],
        "atc: odd number",
        &[K],
    );
    fails(
        2,
        &[
            "arqc",
            "generate",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--psn",
            "0",
            "--scheme",
            "visa",
            "--data",
            MC16_DATA,
        ],
        "pan_sequence_number",
        &[K],
    );
    fails(
        2,
        &[
            "arqc",
            "generate",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "visa",
            "--padding",
            "none",
            "--data",
            "0011",
        ],
        "length",
        &[K],
    );
    fails(
        2,
        &[
            "arpc",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "visa",
            "--arqc",
            "29CCA15AE665FA2E",
            "--method",
            "1",
        ],
        "--arc is required",
        &[K],
    );
    fails(
        2,
        &[
            "arpc",
            "--mk",
            K,
            "--pan",
            "1234567890123456",
            "--scheme",
            "visa",
            "--arqc",
            "29CCA15AE665FA",
            "--method",
            "1",
            "--arc",
            "3030",
        ],
        "arqc: length 7",
        &[K],
    );
}

// ---------------------------------------------------------------------------
// MAC

#[test]
fn mac_algorithms() {
    let v = json(&[
        "mac",
        "--algorithm",
        "iso9797-3",
        "--padding",
        "2",
        "--key",
        K,
        "--data",
        "1234567890ABCDEF",
    ]);
    assert_eq!(s(&v, "mac"), "912476C111DB4238");
    let v = json(&[
        "mac",
        "--algorithm",
        "iso9797-1",
        "--padding",
        "2",
        "--key",
        K,
        "--data",
        "1234567890ABCDEF",
    ]);
    assert_eq!(s(&v, "mac"), "925B1737EF681AD3");
    let v = json(&[
        "mac",
        "--algorithm",
        "cmac",
        "--cipher",
        "aes",
        "--key",
        "2B7E151628AED2A6ABF7158809CF4F3C",
        "--data",
        "6BC1BEE22E409F96E93D7E117393172A",
        "--length",
        "8",
    ]);
    assert_eq!(s(&v, "mac"), "070A16B46B4D4144F79BDD9DD04A287C");
    assert_eq!(s(&v, "mac_truncated"), "070A16B46B4D4144");
    let v = json(&[
        "mac",
        "--algorithm",
        "cmac",
        "--cipher",
        "aes",
        "--key",
        "2B7E151628AED2A6ABF7158809CF4F3C",
        "--data",
        "",
    ]);
    assert_eq!(s(&v, "mac"), "BB1D6929E95937287FA37D129B756746");
    let v = json(&[
        "mac",
        "--algorithm",
        "cmac",
        "--key",
        "8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5",
        "--data",
        "6BC1BEE22E409F96",
    ]);
    assert_eq!(s(&v, "mac"), "8E8F293136283797");
    let v = json(&[
        "mac",
        "--algorithm",
        "hmac-sha256",
        "--key",
        "0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B",
        "--data",
        "4869205468657265",
    ]);
    assert_eq!(
        s(&v, "mac"),
        "B0344C61D8DB38535CA8AFCEAF0BF12B881DC200C9833DA726E9376C2E32CFF7"
    );
    let v = json(&[
        "mac",
        "--algorithm",
        "hmac-sha256",
        "--key",
        "0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B",
        "--data",
        "4869205468657265",
        "--verify",
        "B0344C61D8DB3853",
    ]);
    assert_eq!(s(&v, "result"), "VALID");
    fails(
        1,
        &[
            "mac",
            "--algorithm",
            "iso9797-3",
            "--padding",
            "2",
            "--key",
            K,
            "--data",
            "1234567890ABCDEF",
            "--verify",
            "912476C111DB4239",
        ],
        "INVALID_MAC",
        &[K],
    );
}

#[test]
fn mac_errors() {
    fails(
        2,
        &[
            "mac",
            "--algorithm",
            "hmac-sha256",
            "--key",
            "0B0B",
            "--data",
            "48692",
        ],
        "data: odd number of hexadecimal characters",
        &["0B0B"],
    );
    fails(
        2,
        &[
            "mac",
            "--algorithm",
            "iso9797-3",
            "--key",
            K,
            "--data",
            "00",
            "--verify",
            "9124",
        ],
        "mac: length 2",
        &[K],
    );
    fails(
        2,
        &[
            "mac",
            "--algorithm",
            "cmac",
            "--cipher",
            "aes",
            "--key",
            "2B7E1516",
            "--data",
            "00",
        ],
        "4-byte key is not valid for AES",
        &["2B7E1516"],
    );
}

// ---------------------------------------------------------------------------
// TR-31

#[test]
fn tr31_unwrap_wrap_inspect() {
    // TR-31:2018 A.7.2.2, version B
    let kbpk = "DD7515F2BFC17F85CE48F3CA25CB21F6";
    let block = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";
    let v = json(&["tr31", "unwrap", "--kbpk", kbpk, "--block", block]);
    assert_eq!(s(&v, "key"), "3F419E1CB7079442AA37474C2EFBF8B8");
    assert_eq!(s(&v, "key_kcv"), "57C409");
    assert_eq!(s(&v, "key_usage"), "P0");
    let padding = s(&v, "padding").to_owned();
    let v = json(&[
        "tr31",
        "wrap",
        "--kbpk",
        kbpk,
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--kb-version",
        "B",
        "--usage",
        "P0",
        "--algorithm",
        "T",
        "--mode-of-use",
        "E",
        "--padding",
        &padding,
    ]);
    assert_eq!(s(&v, "key_block"), block);
    // X9.143:2021 §8.1, version D (AES)
    let v = json(&["tr31", "unwrap", "--kbpk", "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6", "--block", "D0144P0AE00E00002C77FA3F4A553BED6E88AE5C172A4166E3D4ACA8E2AC71C158A476FAC12C13C3829DE55D3AB54C48F4C4FEF7AC75E90FC47F1B77E7B19A73ED46E64410082557"]);
    assert_eq!(s(&v, "key"), "3F419E1CB7079442AA37474C2EFBF8B8");
    assert_eq!(s(&v, "key_kcv"), "08793E");
    // TR-31:2018 A.7.3.1, version C with KS block
    let v = json(&["tr31", "inspect", "--block", "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C"]);
    assert_eq!(s(&v, "optional_blocks"), "KS=00604B120F9292800000");
    assert_eq!(s(&v, "key_version"), "12");
    assert!(v.get("key").is_none());
    // random wrap with an IK block round-trips
    let aes = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
    let v = json(&[
        "tr31",
        "wrap",
        "--kbpk",
        aes,
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--usage",
        "B1",
        "--algorithm",
        "A",
        "--mode-of-use",
        "X",
        "--opt",
        "IK=1234567890123456",
    ]);
    let kb = s(&v, "key_block").to_owned();
    let v = json(&["tr31", "unwrap", "--kbpk", aes, "--block", &kb]);
    assert_eq!(s(&v, "key"), "3F419E1CB7079442AA37474C2EFBF8B8");
    assert!(s(&v, "optional_blocks").starts_with("IK=1234567890123456"));
}

#[test]
fn tr31_errors() {
    let kbpk = "DD7515F2BFC17F85CE48F3CA25CB21F6";
    fails(
        2,
        &[
            "tr31",
            "unwrap",
            "--kbpk",
            kbpk,
            "--block",
            "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248F",
        ],
        "key block MAC does not verify",
        &[kbpk, "3F419E1C"],
    );
    fails(
        2,
        &[
            "tr31",
            "inspect",
            "--block",
            "B0072P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
        ],
        "length",
        &[],
    );
    fails(
        2,
        &[
            "tr31",
            "wrap",
            "--kbpk",
            kbpk,
            "--key",
            "3F419E1CB7079442AA37474C2EFBF8B8",
            "--kb-version",
            "B",
            "--usage",
            "ZZ",
            "--algorithm",
            "T",
            "--mode-of-use",
            "E",
        ],
        "unknown key usage",
        &[kbpk, "3F419E1C"],
    );
    fails(
        2,
        &[
            "tr31",
            "wrap",
            "--kbpk",
            kbpk,
            "--key",
            "3F419E1CB7079442AA37474C2EFBF8B8",
            "--kb-version",
            "B",
            "--usage",
            "P0",
            "--algorithm",
            "T",
            "--mode-of-use",
            "E",
            "--opt",
            "KS",
        ],
        "--opt takes ID=VALUE",
        &[kbpk],
    );
}

// ---------------------------------------------------------------------------
// Track 2

#[test]
fn track2() {
    let v = json(&["track2", "parse", ";4111111111111111=25121011234567890?"]);
    assert_eq!(s(&v, "pan"), "4111111111111111");
    assert_eq!(s(&v, "pan_luhn"), "valid");
    assert_eq!(s(&v, "expiry"), "2512");
    assert_eq!(s(&v, "service_code"), "101");
    assert_eq!(s(&v, "discretionary_data"), "1234567890");
    let t = table(&["track2", "parse", "5123456789012345D35121010000000000000F"]);
    assert_eq!(get(&t, "service_code"), "101");
    fails(
        2,
        &["track2", "parse", "4111111111111111"],
        "track2: no field separator",
        &[],
    );
    fails(
        2,
        &["track2", "parse", "4111111111111111=2513101"],
        "expiry month",
        &[],
    );
}

// ---------------------------------------------------------------------------
// CLI behaviour

#[test]
fn help_on_every_command() {
    let paths: &[&[&str]] = &[
        &[],
        &["pinblock"],
        &["pinblock", "encode"],
        &["pinblock", "decode"],
        &["dukpt"],
        &["dukpt", "derive"],
        &["pvv"],
        &["pvv", "generate"],
        &["pvv", "verify"],
        &["ibm3624"],
        &["ibm3624", "natural-pin"],
        &["ibm3624", "offset"],
        &["ibm3624", "pin-from-offset"],
        &["ibm3624", "verify"],
        &["cvv"],
        &["cvv", "generate"],
        &["cvv", "verify"],
        &["arqc"],
        &["arqc", "generate"],
        &["arqc", "verify"],
        &["arpc"],
        &["mac"],
        &["kcv"],
        &["tr31"],
        &["tr31", "wrap"],
        &["tr31", "unwrap"],
        &["tr31", "inspect"],
        &["track2"],
        &["track2", "parse"],
    ];
    for p in paths {
        let mut a = vec!["calc"];
        a.extend_from_slice(p);
        a.push("--help");
        let o = run(&a);
        assert_eq!(o.code, 0, "{a:?}");
        assert!(o.stdout.contains("Usage: paycrypt calc"), "{a:?}");
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    let o = run(&["calc", "kcv"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--key"));
    let o = run(&[
        "calc", "pinblock", "encode", "--pin", "1234", "--format", "7",
    ]);
    assert_eq!(o.code, 2);
    let o = run(&["--output", "xml", "calc", "kcv", "--key", K]);
    assert_eq!(o.code, 2);
}

#[test]
fn table_is_aligned() {
    let o = run(&[
        "calc",
        "dukpt",
        "derive",
        "--bdk",
        K,
        "--ksn",
        "FFFF9876543210E00001",
    ]);
    let cols: Vec<usize> = o
        .stdout
        .lines()
        .map(|l| l.len() - l.split_once(": ").unwrap().1.trim_start().len())
        .collect();
    assert!(cols.windows(2).all(|w| w[0] == w[1]), "{}", o.stdout);
}
