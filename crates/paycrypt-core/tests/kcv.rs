//! Key check values against published and labelled self-computed vectors (tests/vectors/kcv.json).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{ct_eq, BlockCipher};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::kcv;
use paycrypt_core::mac::HashAlgorithm;
use paycrypt_core::Error;
use proptest::prelude::*;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {v}"))
}

pub fn hash(name: &str) -> HashAlgorithm {
    match name {
        "SHA1" => HashAlgorithm::Sha1,
        "SHA224" => HashAlgorithm::Sha224,
        "SHA256" => HashAlgorithm::Sha256,
        "SHA384" => HashAlgorithm::Sha384,
        "SHA512" => HashAlgorithm::Sha512,
        other => panic!("hash {other}"),
    }
}

fn cipher(alg: &str, key: &[u8]) -> BlockCipher {
    if alg.starts_with("TDES") {
        BlockCipher::tdes(key).unwrap()
    } else {
        BlockCipher::aes(key).unwrap()
    }
}

fn compute(c: &Value) -> paycrypt_core::Result<Vec<u8>> {
    let key = decode("key", s(c, "key")).unwrap();
    let len = c["length"].as_u64().unwrap() as usize;
    let alg = s(c, "algorithm");
    match s(c, "method") {
        "ANSI_X9_24" => kcv::ansi_x9_24(&cipher(alg, &key), len),
        "CMAC" => kcv::cmac_kcv(&cipher(alg, &key), len),
        "HMAC" => kcv::hmac_kcv(hash(alg), &key, len),
        "SHA1" => kcv::sha1_kcv(&key, len),
        other => panic!("method {other}"),
    }
}

#[test]
fn kcv_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/kcv.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (mut good, mut bad) = (0, 0);
    for g in doc["groups"].as_array().unwrap() {
        let negative = g.get("negative").is_some();
        for c in g["cases"].as_array().unwrap() {
            let r = compute(c);
            if negative {
                assert!(
                    matches!(
                        r,
                        Err(Error::InvalidLength {
                            field: "kcv_length",
                            ..
                        })
                    ),
                    "{c}: {r:?}"
                );
                bad += 1;
            } else {
                let got = r.unwrap();
                assert_eq!(encode(&got), s(c, "kcv"), "{c}");
                // Verify direction: a received KCV is compared in constant time.
                let expected = decode("kcv", s(c, "kcv")).unwrap();
                assert!(ct_eq(&got, &expected), "{c}");
                let mut tampered = expected.clone();
                tampered[0] ^= 1;
                assert!(!ct_eq(&got, &tampered), "{c}");
                good += 1;
            }
        }
    }
    assert_eq!((good, bad), (22, 6));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A shorter KCV is a prefix of a longer one, for every method.
    #[test]
    fn kcv_lengths_are_prefixes(key in proptest::collection::vec(any::<u8>(), 16), n in 1usize..8) {
        let aes = BlockCipher::aes(&key).unwrap();
        let full = kcv::ansi_x9_24(&aes, 16).unwrap();
        prop_assert_eq!(kcv::ansi_x9_24(&aes, n).unwrap(), full[..n].to_vec());
        let full = kcv::cmac_kcv(&aes, 16).unwrap();
        prop_assert_eq!(kcv::cmac_kcv(&aes, n).unwrap(), full[..n].to_vec());
        let full = kcv::hmac_kcv(HashAlgorithm::Sha256, &key, 32).unwrap();
        prop_assert_eq!(kcv::hmac_kcv(HashAlgorithm::Sha256, &key, n).unwrap(), full[..n].to_vec());
        let full = kcv::sha1_kcv(&key, 20).unwrap();
        prop_assert_eq!(kcv::sha1_kcv(&key, n).unwrap(), full[..n].to_vec());
    }
}
