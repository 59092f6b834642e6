//! Differential MAC cases: psec (ISO 9797-1 alg 1 and 3), cryptography (CMAC, HMAC).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{Algorithm, Padding};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::mac::{self, HashAlgorithm, MacAlgorithm};
use serde_json::Value;

fn cases(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../tests/differential/cases/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = doc["cases"].as_array().unwrap().clone();
    assert!(v.len() >= 1000, "{name}");
    v
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

fn key_algorithm(name: &str) -> Algorithm {
    match name {
        "TDES_2KEY" => Algorithm::Tdes2,
        "TDES_3KEY" => Algorithm::Tdes3,
        "AES_128" => Algorithm::Aes128,
        "AES_192" => Algorithm::Aes192,
        "AES_256" => Algorithm::Aes256,
        other => panic!("{other}"),
    }
}

fn padding(c: &Value) -> Padding {
    match c["padding"].as_u64().unwrap() {
        1 => Padding::Iso9797M1,
        2 => Padding::Iso9797M2,
        _ => Padding::Iso9797M3,
    }
}

fn check(alg: MacAlgorithm, c: &Value) {
    let key = decode("key", s(c, "key")).unwrap();
    let data = decode("data", s(c, "data")).unwrap();
    let m = mac::generate(alg, &key, &data).unwrap();
    assert_eq!(encode(&m), s(c, "mac"), "{c}");
    mac::verify(alg, &key, &data, &decode("mac", s(c, "mac")).unwrap()).unwrap();
}

#[test]
fn iso9797_alg1_against_psec() {
    for c in cases("mac_iso9797_alg1") {
        check(
            MacAlgorithm::Iso9797Alg1 {
                algorithm: key_algorithm(s(&c, "key_algorithm")),
                padding: padding(&c),
            },
            &c,
        );
    }
}

#[test]
fn iso9797_alg3_against_psec() {
    for c in cases("mac_iso9797_alg3") {
        check(
            MacAlgorithm::Iso9797Alg3 {
                padding: padding(&c),
            },
            &c,
        );
    }
}

#[test]
fn cmac_against_cryptography() {
    for c in cases("mac_cmac") {
        check(
            MacAlgorithm::Cmac(key_algorithm(s(&c, "key_algorithm"))),
            &c,
        );
    }
}

#[test]
fn hmac_against_cryptography() {
    for c in cases("mac_hmac") {
        let h = match s(&c, "algorithm") {
            "HMAC_SHA224" => HashAlgorithm::Sha224,
            "HMAC_SHA256" => HashAlgorithm::Sha256,
            "HMAC_SHA384" => HashAlgorithm::Sha384,
            _ => HashAlgorithm::Sha512,
        };
        check(MacAlgorithm::Hmac(h), &c);
    }
}
