//! Published and negative vectors for Visa PVV and IBM 3624 (tests/vectors/pin_verification.json).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::hex;
use paycrypt_core::pin_verification::{
    self as pv, DecimalizationPolicy, DecimalizationTable, Ibm3624Params,
};
use paycrypt_core::secret::Pin;
use paycrypt_core::Error;
use serde_json::Value;

fn err_name(e: &Error) -> String {
    let s = match e {
        Error::PinBlock(p) => format!("{p:?}"),
        Error::InvalidKey(k) => format!("{k:?}"),
        Error::VerificationFailed(v) => format!("{v:?}"),
        o => format!("{o:?}"),
    };
    s.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap()
        .to_owned()
}

fn s<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {c}"))
}

fn pvk(c: &Value) -> BlockCipher {
    let k = hex::decode("pvk", s(c, "pvk")).unwrap();
    if c["key_algorithm"].as_str() == Some("AES") {
        BlockCipher::aes(&k).unwrap()
    } else {
        BlockCipher::tdes(&k).unwrap()
    }
}

fn params(c: &Value) -> paycrypt_core::Result<Ibm3624Params> {
    let table = DecimalizationTable::new(s(c, "table"))?;
    let policy = match c["registered"].as_array() {
        Some(list) => DecimalizationPolicy::registered(
            list.iter()
                .map(|t| DecimalizationTable::new(t.as_str().unwrap()).unwrap())
                .collect(),
        ),
        None => DecimalizationPolicy::any_valid(),
    };
    let pad = s(c, "pad").chars().next().unwrap();
    Ibm3624Params::new(&policy, &table, s(c, "validation_data"), pad)
}

#[test]
fn vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/pin_verification.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut n = 0;
    for g in doc["groups"].as_array().unwrap() {
        assert!(!g["source"].as_str().unwrap().is_empty());
        for c in g["cases"].as_array().unwrap() {
            n += 1;
            check(c);
        }
    }
    assert!(n >= 30, "only {n} cases");
}

fn check(c: &Value) {
    match s(c, "kind") {
        "pvv" => {
            let k = pvk(c);
            let pan = Pan::new(s(c, "pan")).unwrap();
            let pin = Pin::new(s(c, "pin")).unwrap();
            let pvki = c["pvki"].as_u64().unwrap() as u8;
            assert_eq!(
                pv::visa_pvv(&k, &pan, pvki, &pin).unwrap(),
                s(c, "pvv"),
                "{c}"
            );
            pv::verify_visa_pvv(&k, &pan, pvki, &pin, s(c, "pvv")).unwrap();
        }
        "pvv_error" => {
            let k = pvk(c);
            let pan = Pan::new(s(c, "pan")).unwrap();
            let pin = Pin::new(s(c, "pin")).unwrap();
            let pvki = c["pvki"].as_u64().unwrap() as u8;
            let e = pv::verify_visa_pvv(&k, &pan, pvki, &pin, s(c, "pvv")).unwrap_err();
            assert_eq!(err_name(&e), s(c, "error"), "{c}");
        }
        "natural_pin" => {
            let p = params(c).unwrap();
            let len = c["pin_length"].as_u64().unwrap() as usize;
            let pin = pv::ibm3624_natural_pin(&pvk(c), &p, len).unwrap();
            assert_eq!(pin.to_ascii().as_str(), s(c, "pin"));
            assert_eq!(
                pv::ibm3624_offset(&pvk(c), &p, &pin).unwrap(),
                "0".repeat(len)
            );
        }
        "pin_from_offset" => {
            let p = params(c).unwrap();
            let k = pvk(c);
            let pin = pv::ibm3624_pin_from_offset(&k, &p, s(c, "offset")).unwrap();
            assert_eq!(pin.to_ascii().as_str(), s(c, "pin"), "{c}");
            assert_eq!(pv::ibm3624_offset(&k, &p, &pin).unwrap(), s(c, "offset"));
            pv::verify_ibm3624_offset(&k, &p, &pin, s(c, "offset")).unwrap();
        }
        "offset" => {
            let p = params(c).unwrap();
            let k = pvk(c);
            let pin = Pin::new(s(c, "pin")).unwrap();
            assert_eq!(pv::ibm3624_offset(&k, &p, &pin).unwrap(), s(c, "offset"));
            pv::verify_ibm3624_offset(&k, &p, &pin, s(c, "offset")).unwrap();
        }
        "table_error" => {
            let e = DecimalizationTable::new(s(c, "table")).unwrap_err();
            assert_eq!(err_name(&e), s(c, "error"), "{c}");
        }
        "params_error" => {
            let e = params(c).unwrap_err();
            assert_eq!(err_name(&e), s(c, "error"), "{c}");
        }
        "verify_offset_error" => {
            let p = params(c).unwrap();
            let pin = Pin::new(s(c, "pin")).unwrap();
            let e = pv::verify_ibm3624_offset(&pvk(c), &p, &pin, s(c, "offset")).unwrap_err();
            assert_eq!(err_name(&e), s(c, "error"), "{c}");
        }
        k => panic!("unknown kind {k}"),
    }
}

#[test]
fn validation_data_from_pan_selects_digits() {
    let pan = Pan::new("1122334455667788").unwrap();
    assert_eq!(
        pv::validation_data_from_pan(&pan, 1, 14).unwrap(),
        "12233445566778"
    );
    assert!(pv::validation_data_from_pan(&pan, 3, 14).is_err());
    assert!(pv::validation_data_from_pan(&pan, 0, 3).is_err());
}

#[test]
fn registered_policy_accepts_registered_table() {
    let t = DecimalizationTable::new("1234567890123456").unwrap();
    let policy = DecimalizationPolicy::registered(vec![
        DecimalizationTable::new("0123456789012345").unwrap(),
        t.clone(),
    ]);
    assert!(policy.check(&t).is_ok());
    let p = Ibm3624Params::new(&policy, &t, "1122334455667788", 'F').unwrap();
    let k =
        BlockCipher::tdes(&hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
    let pin = Pin::new("1234").unwrap();
    pv::verify_ibm3624_offset(&k, &p, &pin, "7710").unwrap();
    assert!(!format!("{t:?}").contains("1234"));
    assert!(!format!("{p:?}").contains("1122"));
}

#[test]
fn random_pins_have_requested_length_and_verify() {
    let k =
        BlockCipher::tdes(&hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    for len in 4..=12 {
        let p = pv::random_pin(len).unwrap();
        assert_eq!(p.len(), len);
        let (pin, pvv) = pv::generate_visa_pin(&k, &pan, 3, len).unwrap();
        pv::verify_visa_pvv(&k, &pan, 3, &pin, &pvv).unwrap();
        let t = DecimalizationTable::new("0123456789012345").unwrap();
        let params = Ibm3624Params::new(
            &DecimalizationPolicy::any_valid(),
            &t,
            "4111111111111111",
            'F',
        )
        .unwrap();
        let (pin, off) = pv::ibm3624_random_pin(&k, &params, len).unwrap();
        assert_eq!(off.len(), len);
        pv::verify_ibm3624_offset(&k, &params, &pin, &off).unwrap();
    }
    assert!(pv::random_pin(3).is_err());
    assert!(pv::random_pin(13).is_err());
    // Digit distribution sanity: all ten digits appear over many draws.
    let mut seen = [0u32; 10];
    for _ in 0..200 {
        for d in pv::random_pin(12).unwrap().digits() {
            seen[*d as usize] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n > 120), "{seen:?}");
}
