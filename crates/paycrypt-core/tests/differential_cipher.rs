//! Differential cases for the foundation modules (tests/differential/gen_cipher.py):
//! block-cipher modes and padding against `cryptography`/psec (CFB1 against an independent
//! bit-level re-implementation), KCVs against `cryptography`/hmac/hashlib, Luhn and masking
//! against an independent re-implementation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card::{luhn_check_digit, luhn_valid, mask_pan};
use paycrypt_core::cipher::{pad, unpad, Algorithm, BlockCipher, Mode, Padding};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::kcv;
use paycrypt_core::mac::HashAlgorithm;
use serde_json::Value;

fn doc(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/differential/cases/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cases(d: &Value) -> &Vec<Value> {
    d["cases"].as_array().unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {v}"))
}

fn h(v: &Value, k: &str) -> Vec<u8> {
    decode("case", s(v, k)).unwrap()
}

fn algorithm(name: &str) -> Algorithm {
    match name {
        "AES_128" => Algorithm::Aes128,
        "AES_192" => Algorithm::Aes192,
        "AES_256" => Algorithm::Aes256,
        "TDES_2KEY" => Algorithm::Tdes2,
        "TDES_3KEY" => Algorithm::Tdes3,
        other => panic!("{other}"),
    }
}

fn check_mode(file: &str) {
    let d = doc(file);
    let mut per_alg = std::collections::BTreeMap::<String, usize>::new();
    for c in cases(&d) {
        let alg = algorithm(s(c, "alg"));
        let mode = match s(&d, "mode") {
            "ECB" => Mode::Ecb,
            "CBC" => Mode::Cbc,
            "CFB1" => Mode::Cfb1,
            "CFB8" => Mode::Cfb8,
            "CFB" => Mode::cfb_full_block(alg.block_size()),
            "OFB" => Mode::Ofb,
            other => panic!("{other}"),
        };
        let cipher = BlockCipher::new(alg, &h(c, "key")).unwrap();
        let (iv, pt) = (h(c, "iv"), h(c, "pt"));
        let ct = cipher.encrypt(mode, &iv, &pt).unwrap();
        assert_eq!(encode(&ct), s(c, "ct"), "{file}: {c}");
        assert_eq!(cipher.decrypt(mode, &iv, &ct).unwrap(), pt, "{file}: {c}");
        *per_alg.entry(s(c, "alg").to_owned()).or_default() += 1;
    }
    assert_eq!(per_alg.len(), 5, "{file}");
    assert!(per_alg.values().all(|&n| n >= 1000), "{file}: {per_alg:?}");
}

#[test]
fn ecb_against_cryptography() {
    check_mode("cipher_ecb");
}

#[test]
fn cbc_against_cryptography() {
    check_mode("cipher_cbc");
}

#[test]
fn cfb8_against_cryptography() {
    check_mode("cipher_cfb8");
}

#[test]
fn full_block_cfb_against_cryptography() {
    check_mode("cipher_cfb");
}

#[test]
fn ofb_against_cryptography() {
    check_mode("cipher_ofb");
}

#[test]
fn cfb1_against_independent_reimplementation() {
    check_mode("cipher_cfb1");
}

#[test]
fn padding_against_psec_and_cryptography() {
    let d = doc("cipher_padding");
    let mut per = std::collections::BTreeMap::<&str, usize>::new();
    for c in cases(&d) {
        let p = match s(c, "method") {
            "ISO9797_M1" => Padding::Iso9797M1,
            "ISO9797_M2" => Padding::Iso9797M2,
            "ISO9797_M3" => Padding::Iso9797M3,
            "PKCS7" => Padding::Pkcs7,
            other => panic!("{other}"),
        };
        let bs = c["block_size"].as_u64().unwrap() as usize;
        let data = h(c, "data");
        let padded = pad(p, &data, bs);
        assert_eq!(encode(&padded), s(c, "padded"), "{c}");
        if matches!(p, Padding::Iso9797M2 | Padding::Pkcs7) {
            assert_eq!(unpad(p, &padded, bs).unwrap(), data, "{c}");
        }
        *per.entry(s(c, "method")).or_default() += 1;
    }
    assert_eq!(per.len(), 4);
    assert!(per.values().all(|&n| n >= 1000), "{per:?}");
}

#[test]
fn kcv_against_cryptography_and_hmac() {
    let d = doc("kcv");
    let mut per = std::collections::BTreeMap::<&str, usize>::new();
    for c in cases(&d) {
        let key = h(c, "key");
        let len = c["len"].as_u64().unwrap() as usize;
        let got = match s(c, "method") {
            "ANSI_X9_24" => kcv::ansi_x9_24(
                &BlockCipher::new(algorithm(s(c, "alg")), &key).unwrap(),
                len,
            ),
            "CMAC" => kcv::cmac_kcv(
                &BlockCipher::new(algorithm(s(c, "alg")), &key).unwrap(),
                len,
            ),
            "HMAC" => {
                let hash = match s(c, "alg") {
                    "SHA1" => HashAlgorithm::Sha1,
                    "SHA224" => HashAlgorithm::Sha224,
                    "SHA256" => HashAlgorithm::Sha256,
                    "SHA384" => HashAlgorithm::Sha384,
                    "SHA512" => HashAlgorithm::Sha512,
                    other => panic!("{other}"),
                };
                kcv::hmac_kcv(hash, &key, len)
            }
            "SHA1" => kcv::sha1_kcv(&key, len),
            other => panic!("{other}"),
        }
        .unwrap();
        assert_eq!(encode(&got), s(c, "kcv"), "{c}");
        *per.entry(s(c, "method")).or_default() += 1;
    }
    assert_eq!(per.len(), 4);
    assert!(per.values().all(|&n| n >= 1000), "{per:?}");
}

#[test]
fn luhn_against_independent_reimplementation() {
    let d = doc("card_luhn");
    assert!(cases(&d).len() >= 1000);
    for c in cases(&d) {
        let cd = luhn_check_digit(s(c, "payload")).unwrap();
        assert_eq!(u64::from(cd), c["check_digit"].as_u64().unwrap(), "{c}");
        assert!(luhn_valid(s(c, "valid")), "{c}");
        assert!(!luhn_valid(s(c, "invalid")), "{c}");
    }
}

#[test]
fn mask_against_independent_reimplementation() {
    let d = doc("card_mask");
    assert!(cases(&d).len() >= 1000);
    for c in cases(&d) {
        assert_eq!(mask_pan(s(c, "pan")), s(c, "masked"), "{c}");
    }
}
