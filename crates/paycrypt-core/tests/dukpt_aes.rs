//! ANSI X9.24-3:2017 AES DUKPT supplement vectors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::{xor_into, Algorithm, BlockCipher, Mode};
use paycrypt_core::dukpt::aes::{self, KeyUsage, Ksn};
use paycrypt_core::dukpt::DukptKeyVariant;
use paycrypt_core::error::{Error, VerificationFailure};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::mac;
use proptest::prelude::*;
use serde_json::Value;

fn load() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dukpt_aes.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

fn id8(h: &str) -> [u8; 8] {
    decode("id", h).unwrap().try_into().unwrap()
}

#[test]
fn all_published_rows() {
    let doc = load();
    let groups = doc["groups"].as_array().unwrap();
    let mut n = 0;
    for g in groups {
        let c = &g["common"];
        let bdk = decode("bdk", s(c, "bdk")).unwrap();
        let ik_expected = s(c, "initial_key");
        let pin_type = Algorithm::aes_for_len(bdk.len()).unwrap();
        for case in g["cases"].as_array().unwrap() {
            let ksn = Ksn::from_hex(s(case, "ksn")).unwrap();
            let ik = aes::derive_initial_key(&bdk, &ksn.initial_key_id()).unwrap();
            assert_eq!(encode(ik.expose()), ik_expected);
            let t = aes::derive_transaction_key(ik.expose(), &ksn).unwrap();
            assert_eq!(
                encode(t.expose()),
                s(case, "transaction_key"),
                "{}",
                s(case, "ksn")
            );
            if let Some(pk) = case["pin_key"].as_str() {
                let k = aes::working_key(&bdk, &ksn, KeyUsage::PinEncryption, pin_type).unwrap();
                assert_eq!(encode(k.expose()), pk);
                let k2 =
                    aes::derive_working_key(t.expose(), &ksn, KeyUsage::PinEncryption, pin_type)
                        .unwrap();
                assert_eq!(k, k2);
            }
            if let Some(epb) = case["encrypted_pin_block"].as_str() {
                // ISO 9564 format 4: AES_K(AES_K(PIN field) xor PAN field), built with BlockCipher.
                let k = aes::working_key_from_initial_key(
                    ik.expose(),
                    &ksn,
                    KeyUsage::PinEncryption,
                    Algorithm::Aes128,
                )
                .unwrap();
                let cph = BlockCipher::aes(k.expose()).unwrap();
                let mut b = decode("pf", s(c, "pin_field")).unwrap();
                cph.encrypt_block(&mut b).unwrap();
                xor_into(&mut b, &decode("panf", s(c, "pan_field")).unwrap());
                cph.encrypt_block(&mut b).unwrap();
                assert_eq!(encode(&b), epb);
            }
            if let Some(mk) = case["mac_generation_key"].as_str() {
                let k = aes::working_key(&bdk, &ksn, KeyUsage::MacGeneration, Algorithm::Aes128)
                    .unwrap();
                assert_eq!(encode(k.expose()), mk);
                // the DUKPT CMAC helper uses that key for REQUEST
                let data = b"4012345678909D987";
                let m = aes::generate_cmac(
                    ik.expose(),
                    &ksn,
                    DukptKeyVariant::Request,
                    Algorithm::Aes128,
                    data,
                )
                .unwrap();
                assert_eq!(
                    m,
                    mac::cmac(&BlockCipher::aes(k.expose()).unwrap(), data).unwrap()
                );
                aes::verify_cmac(
                    ik.expose(),
                    &ksn,
                    DukptKeyVariant::Request,
                    Algorithm::Aes128,
                    data,
                    &m[..8],
                )
                .unwrap();
                assert_eq!(
                    aes::verify_cmac(
                        ik.expose(),
                        &ksn,
                        DukptKeyVariant::Response,
                        Algorithm::Aes128,
                        data,
                        &m[..8]
                    )
                    .unwrap_err(),
                    Error::VerificationFailed(VerificationFailure::InvalidMac)
                );
            }
            if let Some(dk) = case["data_encrypt_key"].as_str() {
                let k =
                    aes::working_key(&bdk, &ksn, KeyUsage::DataEncrypt, Algorithm::Aes128).unwrap();
                assert_eq!(encode(k.expose()), dk);
                let mut pt = b"4012345678909D987".to_vec();
                pt.resize(32, 0);
                let ct = aes::encrypt_data(
                    ik.expose(),
                    &ksn,
                    DukptKeyVariant::Request,
                    Algorithm::Aes128,
                    Mode::Cbc,
                    &[0; 16],
                    &pt,
                )
                .unwrap();
                assert_eq!(
                    ct,
                    BlockCipher::aes(k.expose())
                        .unwrap()
                        .encrypt(Mode::Cbc, &[0; 16], &pt)
                        .unwrap()
                );
                let back = aes::decrypt_data(
                    ik.expose(),
                    &ksn,
                    DukptKeyVariant::Request,
                    Algorithm::Aes128,
                    Mode::Cbc,
                    &[0; 16],
                    &ct,
                )
                .unwrap();
                assert_eq!(back.expose(), &pt[..]);
            }
            n += 1;
        }
    }
    assert_eq!(n, 23);
}

#[test]
fn negative_inputs() {
    let bdk = decode("bdk", "FEDCBA9876543210F1F1F1F1F1F1F1F1").unwrap();
    let id = id8("1234567890123456");
    assert!(matches!(
        Ksn::from_hex("12345678901234560000000"),
        Err(Error::InvalidHex { .. })
    ));
    assert!(matches!(
        Ksn::from_hex("1234567890123456000000"),
        Err(Error::InvalidLength { .. })
    ));
    assert!(matches!(
        aes::derive_initial_key(&bdk[..15], &id),
        Err(Error::InvalidKey(_))
    ));
    let ik = aes::derive_initial_key(&bdk, &id).unwrap();
    // counter 0 and > 16 one bits
    for c in [0u32, 0x1FFFF, 0xFFFF_FFFF] {
        assert!(matches!(
            aes::derive_transaction_key(ik.expose(), &Ksn::from_parts(&id, c)),
            Err(Error::InvalidInput { .. })
        ));
    }
    let ksn = Ksn::from_parts(&id, 1);
    // stronger working key than an AES-128 derivation key
    assert!(matches!(
        aes::working_key(&bdk, &ksn, KeyUsage::DataBoth, Algorithm::Aes192),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        aes::working_key(&bdk, &ksn, KeyUsage::DataBoth, Algorithm::Des),
        Err(Error::InvalidKey(_))
    ));
    assert!(aes::encrypt_data(
        ik.expose(),
        &ksn,
        DukptKeyVariant::Request,
        Algorithm::Aes128,
        Mode::Ofb,
        &[0; 16],
        &[0; 16]
    )
    .is_err());
    assert!(aes::encrypt_data(
        ik.expose(),
        &ksn,
        DukptKeyVariant::Request,
        Algorithm::Aes128,
        Mode::Cbc,
        &[0; 16],
        &[0; 15]
    )
    .is_err());
    // TDES working keys are allowed and have the right length
    assert_eq!(
        aes::working_key(&bdk, &ksn, KeyUsage::KeyEncryptionKey, Algorithm::Tdes2)
            .unwrap()
            .len(),
        16
    );
    // usage mapping of DukptKeyVariant
    assert_eq!(
        KeyUsage::for_mac(DukptKeyVariant::Bidirectional),
        KeyUsage::MacBoth
    );
    assert_eq!(
        KeyUsage::for_data(DukptKeyVariant::Response),
        KeyUsage::DataDecrypt
    );
}

proptest! {
    #[test]
    fn arbitrary_ksn_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16), ik in any::<[u8; 16]>()) {
        if let Ok(ksn) = Ksn::new(&bytes) {
            let _ = aes::derive_transaction_key(&ik, &ksn);
            let _ = aes::working_key_from_initial_key(&ik, &ksn, KeyUsage::MacBoth, Algorithm::Tdes3);
            let _ = ksn.next();
        }
        let _ = Ksn::from_hex(&String::from_utf8_lossy(&bytes));
    }

    /// Consecutive counters: the BDK path, the IK path and derivation-key path agree.
    #[test]
    fn bdk_and_ik_paths_agree(bdk in prop_oneof![any::<[u8; 16]>().prop_map(|a| a.to_vec()), any::<[u8; 32]>().prop_map(|a| a.to_vec())],
                              id in any::<[u8; 8]>(), start in 0u32..0xFFFF_0000, steps in 1usize..3) {
        let ik = aes::derive_initial_key(&bdk, &id).unwrap();
        let mut k = Ksn::from_parts(&id, start);
        for _ in 0..steps {
            k = match k.next() { Some(n) => n, None => break };
            let a = aes::working_key(&bdk, &k, KeyUsage::PinEncryption, Algorithm::Aes128).unwrap();
            let b = aes::working_key_from_initial_key(ik.expose(), &k, KeyUsage::PinEncryption, Algorithm::Aes128).unwrap();
            let d = aes::derive_transaction_key(ik.expose(), &k).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &aes::derive_working_key(d.expose(), &k, KeyUsage::PinEncryption, Algorithm::Aes128).unwrap());
        }
    }
}
