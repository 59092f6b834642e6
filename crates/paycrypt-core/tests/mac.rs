//! MAC vectors: psec ISO 9797-1 alg 1/3, RFC 4231 HMAC, NIST SP 800-38B CMAC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{Algorithm, Padding};
use paycrypt_core::error::{Error, VerificationFailure};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::mac::{self, HashAlgorithm, MacAlgorithm};
use proptest::prelude::*;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

pub fn key_algorithm(name: &str) -> Algorithm {
    match name {
        "TDES_2KEY" => Algorithm::Tdes2,
        "TDES_3KEY" => Algorithm::Tdes3,
        "AES_128" => Algorithm::Aes128,
        "AES_192" => Algorithm::Aes192,
        "AES_256" => Algorithm::Aes256,
        other => panic!("{other}"),
    }
}

fn padding(n: u64) -> Padding {
    match n {
        1 => Padding::Iso9797M1,
        2 => Padding::Iso9797M2,
        3 => Padding::Iso9797M3,
        _ => panic!("padding"),
    }
}

fn algorithm(case: &Value) -> MacAlgorithm {
    match s(case, "algorithm") {
        "ISO9797_ALGORITHM1" => MacAlgorithm::Iso9797Alg1 {
            algorithm: key_algorithm(s(case, "key_algorithm")),
            padding: padding(case["padding"].as_u64().unwrap()),
        },
        "ISO9797_ALGORITHM3" => MacAlgorithm::Iso9797Alg3 {
            padding: padding(case["padding"].as_u64().unwrap()),
        },
        "CMAC" => MacAlgorithm::Cmac(key_algorithm(s(case, "key_algorithm"))),
        "HMAC_SHA224" => MacAlgorithm::Hmac(HashAlgorithm::Sha224),
        "HMAC_SHA256" => MacAlgorithm::Hmac(HashAlgorithm::Sha256),
        "HMAC_SHA384" => MacAlgorithm::Hmac(HashAlgorithm::Sha384),
        "HMAC_SHA512" => MacAlgorithm::Hmac(HashAlgorithm::Sha512),
        "AS2805_4_1" => MacAlgorithm::As2805_4_1,
        other => panic!("{other}"),
    }
}

#[test]
fn published_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/mac.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut n = 0;
    for g in doc["groups"].as_array().unwrap() {
        for case in g["cases"].as_array().unwrap() {
            let alg = algorithm(case);
            let key = decode("key", s(case, "key")).unwrap();
            let data = decode("data", s(case, "data")).unwrap();
            let expected = s(case, "mac");
            let m = mac::generate(alg, &key, &data).unwrap();
            assert_eq!(encode(&m), expected, "{case}");
            assert_eq!(m.len(), alg.full_len());
            mac::verify(alg, &key, &data, &m).unwrap();
            mac::verify(alg, &key, &data, &m[..4]).unwrap();
            let mut bad = m.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x80;
            assert_eq!(
                mac::verify(alg, &key, &data, &bad).unwrap_err(),
                Error::VerificationFailed(VerificationFailure::InvalidMac)
            );
            let mut tampered = data.clone();
            tampered.push(0);
            assert!(mac::verify(alg, &key, &tampered, &m).is_err());
            n += 1;
        }
    }
    assert_eq!(n, 30);
}

#[test]
fn negative_inputs() {
    let k16 = decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let alg3 = MacAlgorithm::Iso9797Alg3 {
        padding: Padding::Iso9797M1,
    };
    // degenerate and wrong-length keys
    assert!(matches!(
        mac::generate(alg3, &[0x11; 16], b"x"),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        mac::generate(alg3, &[0x11; 8], b"x"),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        mac::generate(MacAlgorithm::Cmac(Algorithm::Aes128), &[0; 15], b"x"),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        mac::generate(MacAlgorithm::Cmac(Algorithm::Des), &[0; 8], b"x"),
        Err(Error::InvalidKey(_))
    ));
    // PKCS#7 is not an ISO 9797-1 MAC padding
    assert!(matches!(
        mac::generate(
            MacAlgorithm::Iso9797Alg3 {
                padding: Padding::Pkcs7
            },
            &k16,
            b"x"
        ),
        Err(Error::Unsupported { .. })
    ));
    // MAC length bounds
    let m = mac::generate(alg3, &k16, b"x").unwrap();
    assert!(matches!(
        mac::verify(alg3, &k16, b"x", &m[..3]),
        Err(Error::InvalidLength { .. })
    ));
    assert!(matches!(
        mac::verify(alg3, &k16, b"x", &[m.clone(), vec![0]].concat()),
        Err(Error::InvalidLength { .. })
    ));
    assert!(mac::truncate(&m, 3).is_err());
    // AS2805.4.1 == alg 3 with padding 1 (the documented convention)
    assert_eq!(
        mac::generate(MacAlgorithm::As2805_4_1, &k16, b"abc").unwrap(),
        mac::generate(alg3, &k16, b"abc").unwrap()
    );
    // 24-byte alg 3 key with K3 = K1 equals the 16-byte key
    let k24 = [&k16[..], &k16[..8]].concat();
    assert_eq!(
        mac::generate(alg3, &k24, b"abcdefghij").unwrap(),
        mac::generate(alg3, &k16, b"abcdefghij").unwrap()
    );
}

proptest! {
    #[test]
    fn generate_verify_round_trip(data in proptest::collection::vec(any::<u8>(), 0..100), key in any::<[u8; 24]>(), len in 4usize..=8, pad in 1u64..=3) {
        for alg in [
            MacAlgorithm::Iso9797Alg1 { algorithm: Algorithm::Tdes3, padding: padding(pad) },
            MacAlgorithm::Iso9797Alg3 { padding: padding(pad) },
            MacAlgorithm::Cmac(Algorithm::Aes192),
            MacAlgorithm::Hmac(HashAlgorithm::Sha256),
        ] {
            if let Ok(m) = mac::generate(alg, &key, &data) {
                let t = mac::truncate(&m, len).unwrap();
                prop_assert!(mac::verify(alg, &key, &data, &t).is_ok());
            }
        }
    }

    #[test]
    fn verify_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40), key in proptest::collection::vec(any::<u8>(), 0..40), m in proptest::collection::vec(any::<u8>(), 0..70)) {
        for alg in [MacAlgorithm::As2805_4_1, MacAlgorithm::Cmac(Algorithm::Tdes2), MacAlgorithm::Hmac(HashAlgorithm::Sha512)] {
            let _ = mac::verify(alg, &key, &data, &m);
        }
    }
}
