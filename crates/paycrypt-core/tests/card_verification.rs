//! Published vectors (tests/vectors/card_verification.json) and property tests
//! for CVV/CVC, CVV2, iCVV, Mastercard CVC3 and Visa dCVV.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card_verification::{
    cvc3, cvv, cvv2, dcvv, icvv, verify_cvc3, verify_cvv, verify_cvv2, verify_dcvv, verify_icvv,
    CvvKey,
};
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::error::{Error, VerificationFailure};
use paycrypt_core::hex;
use proptest::prelude::*;
use serde_json::Value;

fn s<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {c}"))
}

fn key_bytes(c: &Value) -> Vec<u8> {
    hex::decode("key", s(c, "key")).unwrap()
}

/// Generate per the case (`length` present) or verify (`value` present).
fn run(c: &Value, generate: bool, value: Option<&str>) -> Result<Option<String>, Error> {
    let op = s(c, "op");
    let length = c["length"].as_u64().map(|l| l as usize);
    match op {
        "cvv" | "cvv2" | "icvv" => {
            let k = CvvKey::new(&key_bytes(c))?;
            let (pan, exp) = (s(c, "pan"), s(c, "expiry"));
            if generate {
                let len = length.unwrap();
                Ok(Some(match op {
                    "cvv" => cvv(&k, pan, exp, s(c, "service_code"), len)?,
                    "cvv2" => cvv2(&k, pan, exp, len)?,
                    _ => icvv(&k, pan, exp, len)?,
                }))
            } else {
                let v = value.unwrap();
                match op {
                    "cvv" => verify_cvv(&k, pan, exp, s(c, "service_code"), v)?,
                    "cvv2" => verify_cvv2(&k, pan, exp, v)?,
                    _ => verify_icvv(&k, pan, exp, v)?,
                }
                Ok(None)
            }
        }
        "cvc3" => {
            let mk = BlockCipher::tdes(&key_bytes(c))?;
            let args = (
                s(c, "pan"),
                s(c, "psn"),
                s(c, "track_data"),
                s(c, "un"),
                s(c, "atc"),
            );
            if generate {
                Ok(Some(cvc3(
                    &mk,
                    args.0,
                    args.1,
                    args.2,
                    args.3,
                    args.4,
                    length.unwrap(),
                )?))
            } else {
                verify_cvc3(&mk, args.0, args.1, args.2, args.3, args.4, value.unwrap())?;
                Ok(None)
            }
        }
        "dcvv" => {
            let key = key_bytes(c);
            // A master key with equal halves is single DES (see the vector source).
            let mk = if key.len() == 16 && key[..8] == key[8..] {
                BlockCipher::des(&key[..8].try_into().unwrap())
            } else {
                BlockCipher::tdes(&key)?
            };
            let args = (
                s(c, "pan"),
                s(c, "psn"),
                s(c, "expiry"),
                s(c, "service_code"),
                s(c, "atc"),
            );
            if generate {
                Ok(Some(dcvv(
                    &mk,
                    args.0,
                    args.1,
                    args.2,
                    args.3,
                    args.4,
                    length.unwrap(),
                )?))
            } else {
                verify_dcvv(&mk, args.0, args.1, args.2, args.3, args.4, value.unwrap())?;
                Ok(None)
            }
        }
        other => panic!("unknown op {other}"),
    }
}

fn error_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidHex { .. } => "InvalidHex",
        Error::InvalidLength { .. } => "InvalidLength",
        Error::InvalidInput { .. } => "InvalidInput",
        Error::InvalidKey(_) => "InvalidKey",
        Error::VerificationFailed(VerificationFailure::InvalidValidationData) => {
            "VerificationFailed"
        }
        _ => "Other",
    }
}

/// Change one digit of a value.
fn tamper(v: &str) -> String {
    let mut b = v.as_bytes().to_vec();
    b[0] = if b[0] == b'9' { b'0' } else { b[0] + 1 };
    String::from_utf8(b).unwrap()
}

#[test]
fn published_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/card_verification.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut n = 0;
    for g in doc["groups"].as_array().unwrap() {
        assert!(!s(g, "source").is_empty());
        for c in g["cases"].as_array().unwrap() {
            n += 1;
            if let Some(expected) = c["expected"].as_str() {
                assert_eq!(
                    run(c, true, None).unwrap().as_deref(),
                    Some(expected),
                    "{c}"
                );
                run(c, false, Some(expected)).unwrap_or_else(|e| panic!("verify {c}: {e}"));
                let e = run(c, false, Some(&tamper(expected))).unwrap_err();
                assert_eq!(
                    e,
                    Error::VerificationFailed(VerificationFailure::InvalidValidationData),
                    "{c}"
                );
            } else {
                let want = s(c, "error");
                let got = match c["value"].as_str() {
                    Some(v) => run(c, false, Some(v)),
                    None => run(c, true, None),
                };
                let e = got.expect_err(&format!("expected {want} for {c}"));
                assert_eq!(error_name(&e), want, "{c}: {e}");
            }
        }
    }
    assert!(n >= 40, "only {n} cases");
}

fn test_key() -> CvvKey {
    CvvKey::new(&hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap()
}

fn test_mk() -> BlockCipher {
    BlockCipher::tdes(&hex::decode("k", "01234567899876543210012345678998").unwrap()).unwrap()
}

#[test]
fn lengths_are_prefixes_and_suffixes() {
    let k = test_key();
    let five = cvv(&k, "1234567890123456", "9912", "220", 5).unwrap();
    assert!(five.starts_with("170"));
    assert_eq!(
        cvv(&k, "1234567890123456", "9912", "220", 4).unwrap(),
        five[..4]
    );
    verify_cvv(&k, "1234567890123456", "9912", "220", &five).unwrap();
    let mk = test_mk();
    let t2 = "5123456789012345D35121010000000000000F";
    assert_eq!(
        cvc3(&mk, "5123456789012345", "00", t2, "00000899", "005E", 4).unwrap(),
        "9488"
    );
    // AWS hex fields shorter than the EMV data element are left-padded with zeros.
    assert_eq!(
        cvc3(&mk, "5123456789012345", "00", t2, "0899", "5E", 5).unwrap(),
        "29488"
    );
    assert_eq!(
        cvc3(&mk, "5123456789012345", "00", t2, "899", "5e", 5).unwrap(),
        "29488"
    );
    // An odd-length track 2 template is padded with F.
    assert_eq!(
        cvc3(
            &mk,
            "5123456789012345",
            "00",
            &t2[..t2.len() - 1],
            "00000899",
            "005E",
            5
        )
        .unwrap(),
        "29488"
    );
}

#[test]
fn errors_do_not_leak_inputs() {
    let k = test_key();
    let e = verify_cvv(&k, "1234567890123456", "9912", "220", "999").unwrap_err();
    let text = format!("{e} {e:?} {k:?}");
    assert!(
        !text.contains("1234567890123456")
            && !text.contains("170")
            && !text.contains("0123456789ABCDEF")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cvv_round_trip(pan in "[0-9]{12,19}", exp in "[0-9]{4}", sc in "[0-9]{3}", len in 3usize..=5) {
        let k = test_key();
        let v = cvv(&k, &pan, &exp, &sc, len).unwrap();
        prop_assert_eq!(v.len(), len);
        prop_assert!(v.bytes().all(|b| b.is_ascii_digit()));
        verify_cvv(&k, &pan, &exp, &sc, &v).unwrap();
        prop_assert_eq!(
            verify_cvv(&k, &pan, &exp, &sc, &tamper(&v)).unwrap_err(),
            Error::VerificationFailed(VerificationFailure::InvalidValidationData)
        );
        let v2 = cvv2(&k, &pan, &exp, len).unwrap();
        verify_cvv2(&k, &pan, &exp, &v2).unwrap();
        prop_assert!(verify_cvv2(&k, &pan, &exp, &tamper(&v2)).is_err());
        let vi = icvv(&k, &pan, &exp, len).unwrap();
        verify_icvv(&k, &pan, &exp, &vi).unwrap();
        prop_assert!(verify_icvv(&k, &pan, &exp, &tamper(&vi)).is_err());
    }

    #[test]
    fn cvc3_round_trip(
        pan in "[0-9]{12,19}",
        psn in "[0-9]{2}",
        track in "([0-9A-F]{2}){1,80}",
        un in "[0-9A-F]{2,8}",
        atc in "[0-9A-F]{2,4}",
        len in 3usize..=5,
    ) {
        let mk = test_mk();
        let v = cvc3(&mk, &pan, &psn, &track, &un, &atc, len).unwrap();
        prop_assert_eq!(v.len(), len);
        verify_cvc3(&mk, &pan, &psn, &track, &un, &atc, &v).unwrap();
        prop_assert_eq!(
            verify_cvc3(&mk, &pan, &psn, &track, &un, &atc, &tamper(&v)).unwrap_err(),
            Error::VerificationFailed(VerificationFailure::InvalidValidationData)
        );
    }

    #[test]
    fn dcvv_round_trip(
        pan in "[0-9]{12,19}",
        psn in "[0-9]{2}",
        exp in "[0-9]{4}",
        sc in "[0-9]{3}",
        atc in "[0-9A-Fa-f]{2,4}",
        len in 3usize..=5,
    ) {
        let mk = test_mk();
        let v = dcvv(&mk, &pan, &psn, &exp, &sc, &atc, len).unwrap();
        prop_assert_eq!(v.len(), len);
        prop_assert!(v.bytes().all(|b| b.is_ascii_digit()));
        verify_dcvv(&mk, &pan, &psn, &exp, &sc, &atc, &v).unwrap();
        prop_assert_eq!(
            verify_dcvv(&mk, &pan, &psn, &exp, &sc, &atc, &tamper(&v)).unwrap_err(),
            Error::VerificationFailed(VerificationFailure::InvalidValidationData)
        );
        // The ATC is widened to 2 bytes: leading zeros do not change the value.
        let padded = format!("{:0>4}", atc);
        prop_assert_eq!(dcvv(&mk, &pan, &psn, &exp, &sc, &padded, len).unwrap(), v);
    }

    #[test]
    fn arbitrary_strings_never_panic(
        pan in ".{0,24}", exp in ".{0,6}", sc in ".{0,5}", value in ".{0,7}",
        psn in ".{0,3}", track in ".{0,170}", un in ".{0,10}", atc in ".{0,6}",
        len in 0usize..10, key in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let k = test_key();
        let _ = cvv(&k, &pan, &exp, &sc, len);
        let _ = verify_cvv(&k, &pan, &exp, &sc, &value);
        let _ = cvv2(&k, &pan, &exp, len);
        let _ = verify_icvv(&k, &pan, &exp, &value);
        let _ = CvvKey::new(&key);
        let mk = test_mk();
        let _ = cvc3(&mk, &pan, &psn, &track, &un, &atc, len);
        let _ = verify_cvc3(&mk, &pan, &psn, &track, &un, &atc, &value);
        let _ = dcvv(&mk, &pan, &psn, &exp, &sc, &atc, len);
        let _ = verify_dcvv(&mk, &pan, &psn, &exp, &sc, &atc, &value);
        let _ = paycrypt_core::card_verification::cvc3_with_icc_key(&key, track.as_bytes(), [0; 4], [0; 2]);
    }
}
