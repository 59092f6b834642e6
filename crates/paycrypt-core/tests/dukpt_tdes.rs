//! ANSI X9.24-1:2009 A.4 TDES DUKPT vectors (all rows of A.4.2 and A.4.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{Mode, Padding};
use paycrypt_core::dukpt::tdes::{self, KeyVariant, Ksn};
use paycrypt_core::dukpt::DukptKeyVariant;
use paycrypt_core::error::{Error, VerificationFailure};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::mac::MacAlgorithm;
use proptest::prelude::*;
use serde_json::Value;

fn load() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dukpt_tdes.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

const ALG3: MacAlgorithm = MacAlgorithm::Iso9797Alg3 {
    padding: Padding::Iso9797M1,
};

/// ISO 9564 format 0 clear PIN block, built here (the pinblock module is another helper's).
fn iso0(pin: &str, pan: &str) -> [u8; 8] {
    let mut p = [0xFFu8; 8];
    let digits: Vec<u8> = pin.bytes().map(|c| c - b'0').collect();
    p[0] = digits.len() as u8;
    for (i, d) in digits.iter().enumerate() {
        let n = i + 2;
        p[n / 2] = if n % 2 == 0 {
            (p[n / 2] & 0x0F) | (d << 4)
        } else {
            (p[n / 2] & 0xF0) | d
        };
    }
    let pan12 = &pan[pan.len() - 13..pan.len() - 1];
    let mut f = [0u8; 8];
    f[2..].copy_from_slice(&decode("pan", pan12).unwrap());
    for (a, b) in p.iter_mut().zip(f) {
        *a ^= b;
    }
    p
}

#[test]
fn all_published_rows() {
    let doc = load();
    let mut n = 0;
    for g in doc["groups"].as_array().unwrap() {
        let c = &g["common"];
        let bdk = decode("bdk", s(c, "bdk")).unwrap();
        let clear = iso0(s(c, "pin"), s(c, "pan"));
        assert_eq!(encode(&clear), s(c, "clear_pin_block"));
        let data = s(c, "mac_data_ascii").as_bytes();
        for case in g["cases"].as_array().unwrap() {
            let ksn = Ksn::from_hex(s(case, "ksn")).unwrap();
            let ipek = tdes::derive_ipek(&bdk, &ksn).unwrap();
            assert_eq!(encode(ipek.expose()), s(c, "ipek"));
            let t = tdes::derive_transaction_key(ipek.expose(), &ksn).unwrap();
            assert_eq!(
                encode(t.expose()),
                s(case, "transaction_key"),
                "{}",
                s(case, "ksn")
            );
            // PIN: encrypt, decrypt, and via the generic working key
            let epb = tdes::encrypt_pin_block(ipek.expose(), &ksn, &clear).unwrap();
            assert_eq!(encode(&epb), s(case, "encrypted_pin_block"));
            assert_eq!(
                tdes::decrypt_pin_block(ipek.expose(), &ksn, &epb)
                    .unwrap()
                    .expose(),
                &clear
            );
            let pk = tdes::working_key(&bdk, &ksn, KeyVariant::Pin).unwrap();
            let pv = tdes::variant_key(t.expose(), KeyVariant::Pin).unwrap();
            assert_eq!(pk, pv);
            // MACs (alg 3, 4-byte truncation): generate and verify both directions
            for (dir, field) in [
                (DukptKeyVariant::Request, "request_mac"),
                (DukptKeyVariant::Response, "response_mac"),
            ] {
                let mac = tdes::generate_mac(ipek.expose(), &ksn, dir, ALG3, data).unwrap();
                assert_eq!(
                    encode(&mac[..4]),
                    s(case, field),
                    "{field} {}",
                    s(case, "ksn")
                );
                let expected = decode("mac", s(case, field)).unwrap();
                tdes::verify_mac(ipek.expose(), &ksn, dir, ALG3, data, &expected).unwrap();
                let mut bad = expected.clone();
                bad[0] ^= 1;
                assert_eq!(
                    tdes::verify_mac(ipek.expose(), &ksn, dir, ALG3, data, &bad).unwrap_err(),
                    Error::VerificationFailed(VerificationFailure::InvalidMac)
                );
            }
            n += 1;
        }
    }
    assert_eq!(n, 34);
}

#[test]
fn bidirectional_is_request_and_data_round_trip() {
    let bdk = decode("bdk", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let ksn = Ksn::from_hex("FFFF9876543210E00001").unwrap();
    let ipek = tdes::derive_ipek(&bdk, &ksn).unwrap();
    let data = b"4012345678909D987";
    assert_eq!(
        tdes::generate_mac(
            ipek.expose(),
            &ksn,
            DukptKeyVariant::Bidirectional,
            ALG3,
            data
        )
        .unwrap(),
        tdes::generate_mac(ipek.expose(), &ksn, DukptKeyVariant::Request, ALG3, data).unwrap()
    );
    let mut padded = data.to_vec();
    padded.resize(24, 0);
    for dir in [DukptKeyVariant::Request, DukptKeyVariant::Response] {
        for mode in [Mode::Ecb, Mode::Cbc] {
            let ct = tdes::encrypt_data(ipek.expose(), &ksn, dir, mode, &[0; 8], &padded).unwrap();
            assert_eq!(
                tdes::decrypt_data(ipek.expose(), &ksn, dir, mode, &[0; 8], &ct)
                    .unwrap()
                    .expose(),
                &padded[..]
            );
        }
    }
    // the data key is the one-way function of the variant
    let t = tdes::derive_transaction_key(ipek.expose(), &ksn).unwrap();
    let v = tdes::variant_key(t.expose(), KeyVariant::DataRequest).unwrap();
    let mut raw = t.expose().to_vec();
    raw[5] ^= 0xFF;
    raw[13] ^= 0xFF;
    assert_ne!(v.expose(), &raw[..]);
    assert!(tdes::encrypt_data(
        ipek.expose(),
        &ksn,
        DukptKeyVariant::Request,
        Mode::Ofb,
        &[0; 8],
        &padded
    )
    .is_err());
    assert!(tdes::encrypt_data(
        ipek.expose(),
        &ksn,
        DukptKeyVariant::Request,
        Mode::Cbc,
        &[0; 8],
        &padded[..17]
    )
    .is_err());
}

#[test]
fn negative_inputs() {
    assert!(matches!(
        Ksn::from_hex("FFFF9876543210E0000"),
        Err(Error::InvalidHex { .. })
    ));
    assert!(matches!(
        Ksn::from_hex("FFFF9876543210E0000G"),
        Err(Error::InvalidHex { .. })
    ));
    assert!(matches!(
        Ksn::from_hex("FFFF9876543210E000"),
        Err(Error::InvalidLength { .. })
    ));
    let ksn = Ksn::from_hex("FFFF9876543210E00001").unwrap();
    assert!(matches!(
        tdes::derive_ipek(&[0x11; 24], &ksn),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        tdes::derive_ipek(&[0x11; 16], &ksn),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        tdes::derive_transaction_key(&[0x11; 15], &ksn),
        Err(Error::InvalidKey(_))
    ));
    let zero = ksn.with_counter(0).unwrap();
    assert!(matches!(
        tdes::derive_transaction_key(&[0x11; 16], &zero),
        Err(Error::InvalidInput { .. })
    ));
    let eleven = ksn.with_counter(0x7FF).unwrap();
    assert!(matches!(
        tdes::derive_transaction_key(&[0x11; 16], &eleven),
        Err(Error::InvalidInput { .. })
    ));
    assert!(ksn.with_counter(0x20_0000).is_err());
    let cmac_aes = MacAlgorithm::Cmac(paycrypt_core::cipher::Algorithm::Aes128);
    assert!(matches!(
        tdes::generate_mac(&[0x11; 16], &ksn, DukptKeyVariant::Request, cmac_aes, b""),
        Err(Error::Unsupported { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_ksn_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16), ipek in any::<[u8; 16]>()) {
        if let Ok(ksn) = Ksn::new(&bytes) {
            let _ = tdes::derive_transaction_key(&ipek, &ksn);
            let _ = tdes::working_key(&ipek, &ksn, KeyVariant::DataResponse);
            let _ = ksn.next();
        }
        let _ = Ksn::from_hex(&String::from_utf8_lossy(&bytes));
    }

    /// Consecutive counters: BDK path == IPEK path == transaction key + variant.
    #[test]
    fn bdk_and_ipek_paths_agree(bdk in any::<[u8; 16]>(), ksn in any::<[u8; 10]>(), steps in 1usize..4) {
        let bdk_ok = paycrypt_core::cipher::BlockCipher::tdes(&bdk).is_ok();
        prop_assume!(bdk_ok);
        let mut k = Ksn::new(&ksn).unwrap().with_counter(0).unwrap();
        let ipek = tdes::derive_ipek(&bdk, &k).unwrap();
        for _ in 0..steps {
            k = match k.next() { Some(n) => n, None => break };
            for v in [KeyVariant::Pin, KeyVariant::MacRequest, KeyVariant::DataResponse] {
                let a = tdes::working_key(&bdk, &k, v).unwrap();
                let b = tdes::working_key_from_ipek(ipek.expose(), &k, v).unwrap();
                let t = tdes::derive_transaction_key(ipek.expose(), &k).unwrap();
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(&a, &tdes::variant_key(t.expose(), v).unwrap());
            }
        }
    }
}
