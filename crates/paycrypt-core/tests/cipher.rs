//! Block ciphers, modes and padding against published vectors (tests/vectors/cipher.json),
//! negative cases, and property tests (round trips, no panics).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{self, pad, unpad, Algorithm, BlockCipher, Mode, Padding};
use paycrypt_core::error::KeyError;
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::Error;
use proptest::prelude::*;
use serde_json::Value;

fn groups() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/cipher.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["groups"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {v}"))
}

fn h(v: &Value, k: &str) -> Vec<u8> {
    decode("vector", s(v, k)).unwrap()
}

fn new_cipher(name: &str, key: &[u8]) -> paycrypt_core::Result<BlockCipher> {
    match name {
        "AES" => BlockCipher::aes(key),
        "TDES" => BlockCipher::tdes(key),
        "DES" => Ok(BlockCipher::des(&<[u8; 8]>::try_from(key).unwrap())),
        "AES_128" => BlockCipher::new(Algorithm::Aes128, key),
        "AES_192" => BlockCipher::new(Algorithm::Aes192, key),
        "AES_256" => BlockCipher::new(Algorithm::Aes256, key),
        "TDES_2KEY" => BlockCipher::new(Algorithm::Tdes2, key),
        "TDES_3KEY" => BlockCipher::new(Algorithm::Tdes3, key),
        other => panic!("algorithm {other}"),
    }
}

fn mode(name: &str) -> Mode {
    match name {
        "ECB" => Mode::Ecb,
        "CBC" => Mode::Cbc,
        "CFB1" => Mode::Cfb1,
        "CFB8" => Mode::Cfb8,
        "CFB64" => Mode::Cfb64,
        "CFB128" => Mode::Cfb128,
        "OFB" => Mode::Ofb,
        other => panic!("mode {other}"),
    }
}

fn padding(name: &str) -> Padding {
    match name {
        "ISO9797_M1" => Padding::Iso9797M1,
        "ISO9797_M2" => Padding::Iso9797M2,
        "ISO9797_M3" => Padding::Iso9797M3,
        "PKCS7" => Padding::Pkcs7,
        other => panic!("padding {other}"),
    }
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidKey(KeyError::Length { .. }) => "KeyLength",
        Error::InvalidKey(KeyError::DegenerateTdes) => "DegenerateTdes",
        Error::InvalidLength { .. } => "InvalidLength",
        Error::InvalidInput { .. } => "InvalidInput",
        Error::Unsupported { .. } => "Unsupported",
        _ => "other",
    }
}

#[test]
fn published_cipher_vectors() {
    let mut n = 0;
    for g in groups() {
        if g.get("padding").is_some() || g.get("negative").is_some() {
            continue;
        }
        for c in g["cases"].as_array().unwrap() {
            let alg = s(c, "algorithm");
            let key = h(c, "key");
            let m = mode(s(c, "mode"));
            let (iv, pt, ct) = (h(c, "iv"), h(c, "plaintext"), h(c, "ciphertext"));
            let cipher = new_cipher(alg, &key).unwrap();
            assert_eq!(
                encode(&cipher.encrypt(m, &iv, &pt).unwrap()),
                s(c, "ciphertext"),
                "{c}"
            );
            assert_eq!(cipher.decrypt(m, &iv, &ct).unwrap(), pt, "{c}");
            if m == Mode::Ecb {
                // The single-block API agrees with the ECB mode.
                let bs = cipher.block_size();
                for (p, x) in pt.chunks(bs).zip(ct.chunks(bs)) {
                    let mut b = p.to_vec();
                    cipher.encrypt_block(&mut b).unwrap();
                    assert_eq!(b, x);
                    cipher.decrypt_block(&mut b).unwrap();
                    assert_eq!(b, p);
                }
            }
            if alg == "TDES_2KEY" {
                // Keying option 2 as a 24-byte key K1||K2||K1 is the same cipher.
                let k3 = [&key[..], &key[..8]].concat();
                let c3 = new_cipher("TDES_3KEY", &k3).unwrap();
                assert_eq!(c3.encrypt(m, &iv, &pt).unwrap(), ct, "{c}");
            }
            n += 1;
        }
    }
    assert_eq!(n, 50);
}

#[test]
fn published_padding_examples() {
    let mut n = 0;
    for g in groups() {
        if g.get("padding").is_none() {
            continue;
        }
        for c in g["cases"].as_array().unwrap() {
            let p = padding(s(c, "padding"));
            let bs = c["block_size"].as_u64().unwrap() as usize;
            let data = h(c, "data");
            let padded = pad(p, &data, bs);
            assert_eq!(encode(&padded), s(c, "padded"), "{c}");
            if matches!(p, Padding::Pkcs7 | Padding::Iso9797M2) {
                assert_eq!(unpad(p, &padded, bs).unwrap(), data, "{c}");
            }
            n += 1;
        }
    }
    assert_eq!(n, 16);
}

#[test]
fn negative_cases() {
    let mut n = 0;
    for g in groups() {
        if g.get("negative").is_none() {
            continue;
        }
        for c in g["cases"].as_array().unwrap() {
            let err = match s(c, "op") {
                "new" => new_cipher(s(c, "algorithm"), &h(c, "key")).unwrap_err(),
                "encrypt" | "decrypt" => {
                    let cipher = new_cipher(s(c, "algorithm"), &h(c, "key")).unwrap();
                    let (m, iv, data) = (mode(s(c, "mode")), h(c, "iv"), h(c, "data"));
                    if s(c, "op") == "encrypt" {
                        cipher.encrypt(m, &iv, &data).unwrap_err()
                    } else {
                        cipher.decrypt(m, &iv, &data).unwrap_err()
                    }
                }
                "unpad" => unpad(
                    padding(s(c, "padding")),
                    &h(c, "data"),
                    c["block_size"].as_u64().unwrap() as usize,
                )
                .unwrap_err(),
                other => panic!("op {other}"),
            };
            assert_eq!(kind(&err), s(c, "error"), "{c}: {err:?}");
            n += 1;
        }
    }
    assert_eq!(n, 39);
}

#[test]
fn single_block_api_rejects_wrong_sizes() {
    let aes = BlockCipher::aes(&[7u8; 16]).unwrap();
    let tdes =
        BlockCipher::tdes(&decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
    assert_eq!(kind(&aes.encrypt8([0; 8]).unwrap_err()), "InvalidLength");
    assert_eq!(kind(&aes.decrypt8([0; 8]).unwrap_err()), "InvalidLength");
    assert_eq!(kind(&tdes.encrypt16([0; 16]).unwrap_err()), "InvalidLength");
    assert_eq!(kind(&tdes.decrypt16([0; 16]).unwrap_err()), "InvalidLength");
    assert_eq!(
        kind(&aes.encrypt_block(&mut [0u8; 15]).unwrap_err()),
        "InvalidLength"
    );
    assert_eq!(
        kind(&tdes.decrypt_block(&mut [0u8; 9]).unwrap_err()),
        "InvalidLength"
    );
    // 3-key TDES with K1 = K3 (keying option 2) is allowed; only K1=K2 / K2=K3 degenerate.
    let k = decode("k", "0123456789ABCDEFFEDCBA98765432100123456789ABCDEF").unwrap();
    assert_eq!(BlockCipher::tdes(&k).unwrap().algorithm(), Algorithm::Tdes3);
    // Debug shows only the algorithm.
    assert_eq!(format!("{tdes:?}"), "BlockCipher(Tdes2)");
}

#[test]
fn constant_time_compare() {
    assert!(cipher::ct_eq(b"", b""));
    assert!(cipher::ct_eq(b"08D7B4", b"08D7B4"));
    assert!(!cipher::ct_eq(b"08D7B4", b"08D7B5"));
    assert!(!cipher::ct_eq(b"08D7B4", b"08D7B4\0"));
}

// ---- property tests ----

const FAMILIES: [Algorithm; 5] = [
    Algorithm::Aes128,
    Algorithm::Aes192,
    Algorithm::Aes256,
    Algorithm::Tdes2,
    Algorithm::Tdes3,
];
const MODES: [Mode; 7] = [
    Mode::Ecb,
    Mode::Cbc,
    Mode::Cfb1,
    Mode::Cfb8,
    Mode::Cfb64,
    Mode::Cfb128,
    Mode::Ofb,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_mode_round_trips(
        fam in 0usize..5,
        m in 0usize..7,
        key in proptest::collection::vec(any::<u8>(), 32),
        iv in proptest::collection::vec(any::<u8>(), 16),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let alg = FAMILIES[fam];
        let mode = MODES[m];
        let Ok(cipher) = BlockCipher::new(alg, &key[..alg.key_len()]) else {
            // Only degenerate TDES keys are refused; random keys hit that with ~2^-56 odds.
            return Ok(());
        };
        let bs = alg.block_size();
        let iv = &iv[..bs];
        let mut data = data;
        if matches!(mode, Mode::Ecb | Mode::Cbc) {
            data.truncate(data.len() / bs * bs);
        }
        if mode == Mode::Cfb128 && bs == 8 {
            prop_assert_eq!(kind(&cipher.encrypt(mode, iv, &data).unwrap_err()), "Unsupported");
            return Ok(());
        }
        let ct = cipher.encrypt(mode, iv, &data).unwrap();
        prop_assert_eq!(ct.len(), data.len());
        prop_assert_eq!(cipher.decrypt(mode, iv, &ct).unwrap(), data.clone());
        // Stream modes: a prefix of the plaintext encrypts to a prefix of the ciphertext.
        if !matches!(mode, Mode::Ecb | Mode::Cbc) && !data.is_empty() {
            let half = data.len() / 2;
            prop_assert_eq!(cipher.encrypt(mode, iv, &data[..half]).unwrap(), ct[..half].to_vec());
        }
    }

    #[test]
    fn modes_never_panic_on_arbitrary_lengths(
        fam in 0usize..5,
        m in 0usize..7,
        iv in proptest::collection::vec(any::<u8>(), 0..20),
        data in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let alg = FAMILIES[fam];
        let key: Vec<u8> = (0..alg.key_len() as u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        let cipher = BlockCipher::new(alg, &key).unwrap();
        let _ = cipher.encrypt(MODES[m], &iv, &data);
        let _ = cipher.decrypt(MODES[m], &iv, &data);
    }

    #[test]
    fn reversible_padding_round_trips(
        data in proptest::collection::vec(any::<u8>(), 0..70),
        bs in prop_oneof![Just(8usize), Just(16usize)],
        m2 in any::<bool>(),
    ) {
        let p = if m2 { Padding::Iso9797M2 } else { Padding::Pkcs7 };
        let padded = pad(p, &data, bs);
        prop_assert_eq!(padded.len() % bs, 0);
        prop_assert!(padded.len() > data.len() && padded.len() <= data.len() + bs);
        prop_assert_eq!(&padded[..data.len()], &data[..]);
        prop_assert_eq!(unpad(p, &padded, bs).unwrap(), data);
    }

    #[test]
    fn irreversible_padding_shapes(
        data in proptest::collection::vec(any::<u8>(), 0..70),
        bs in prop_oneof![Just(8usize), Just(16usize)],
    ) {
        let m1 = pad(Padding::Iso9797M1, &data, bs);
        prop_assert_eq!(m1.len() % bs, 0);
        // Method 1 adds fewer than one block of zeros, except that an empty input becomes one block.
        let grown = m1.len() - data.len();
        prop_assert!(!m1.is_empty() && (grown < bs || data.is_empty()));
        prop_assert_eq!(&m1[..data.len()], &data[..]);
        prop_assert!(m1[data.len()..].iter().all(|&b| b == 0));
        let m3 = pad(Padding::Iso9797M3, &data, bs);
        prop_assert_eq!(&m3[..bs], &pad_len_block(data.len(), bs)[..]);
        prop_assert_eq!(&m3[bs..], &m1[..]);
    }

    #[test]
    fn unpad_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..40),
        bs in 0usize..20,
        p in 0usize..4,
    ) {
        let p = [Padding::Iso9797M1, Padding::Iso9797M2, Padding::Iso9797M3, Padding::Pkcs7][p];
        let _ = unpad(p, &data, bs);
    }
}

/// ISO 9797-1 method 3 length block: the bit length, big-endian, right-aligned in one block.
fn pad_len_block(len: usize, bs: usize) -> Vec<u8> {
    let mut b = vec![0u8; bs];
    let bits = (len as u64 * 8).to_be_bytes();
    b[bs - 8..].copy_from_slice(&bits);
    b
}
