//! Differential DUKPT cases: TDES against pydukpt, AES against an independent
//! Python re-implementation (tests/differential/gen_dukpt.py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::Algorithm;
use paycrypt_core::dukpt::{aes, tdes};
use paycrypt_core::hex::{decode, encode};
use serde_json::Value;

fn cases(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../tests/differential/cases/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

#[test]
fn tdes_against_pydukpt() {
    let cases = cases("dukpt_tdes");
    assert!(cases.len() >= 1000);
    for c in &cases {
        let bdk = decode("bdk", s(c, "bdk")).unwrap();
        let ksn = tdes::Ksn::from_hex(s(c, "ksn")).unwrap();
        let ipek = tdes::derive_ipek(&bdk, &ksn).unwrap();
        assert_eq!(encode(ipek.expose()), s(c, "ipek"));
        let t = tdes::derive_transaction_key(ipek.expose(), &ksn).unwrap();
        assert_eq!(
            encode(t.expose()),
            s(c, "transaction_key"),
            "{}",
            s(c, "ksn")
        );
        for (v, field) in [
            (tdes::KeyVariant::Pin, "pin_key"),
            (tdes::KeyVariant::MacRequest, "mac_request_key"),
            (tdes::KeyVariant::MacResponse, "mac_response_key"),
            (tdes::KeyVariant::DataRequest, "data_request_key"),
            (tdes::KeyVariant::DataResponse, "data_response_key"),
        ] {
            let k = tdes::working_key_from_ipek(ipek.expose(), &ksn, v).unwrap();
            assert_eq!(encode(k.expose()), s(c, field), "{field}");
        }
    }
}

fn key_type(name: &str) -> Algorithm {
    match name {
        "TDES_2KEY" => Algorithm::Tdes2,
        "TDES_3KEY" => Algorithm::Tdes3,
        "AES_128" => Algorithm::Aes128,
        "AES_192" => Algorithm::Aes192,
        "AES_256" => Algorithm::Aes256,
        other => panic!("{other}"),
    }
}

fn usage(name: &str) -> aes::KeyUsage {
    use aes::KeyUsage as U;
    match name {
        "KEK" => U::KeyEncryptionKey,
        "PIN" => U::PinEncryption,
        "MAC_GEN" => U::MacGeneration,
        "MAC_VER" => U::MacVerification,
        "MAC_BOTH" => U::MacBoth,
        "DATA_ENC" => U::DataEncrypt,
        "DATA_DEC" => U::DataDecrypt,
        "DATA_BOTH" => U::DataBoth,
        other => panic!("{other}"),
    }
}

#[test]
fn aes_against_independent_python() {
    let cases = cases("dukpt_aes");
    assert!(cases.len() >= 1000);
    for c in &cases {
        let bdk = decode("bdk", s(c, "bdk")).unwrap();
        let ksn = aes::Ksn::from_hex(s(c, "ksn")).unwrap();
        let ik = aes::derive_initial_key(&bdk, &ksn.initial_key_id()).unwrap();
        assert_eq!(encode(ik.expose()), s(c, "initial_key"));
        let t = aes::derive_transaction_key(ik.expose(), &ksn).unwrap();
        assert_eq!(encode(t.expose()), s(c, "transaction_key"));
        let w = aes::working_key_from_initial_key(
            ik.expose(),
            &ksn,
            usage(s(c, "usage")),
            key_type(s(c, "key_type")),
        )
        .unwrap();
        assert_eq!(encode(w.expose()), s(c, "working_key"));
    }
}
