//! PAN, Luhn, masking and track 2 against published examples (tests/vectors/card.json),
//! plus property tests for the parsers (no panics) and the masking policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card::{luhn_check_digit, luhn_valid, mask_pan, Pan, Track2};
use paycrypt_core::Error;
use proptest::prelude::*;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {v}"))
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidLength { .. } => "InvalidLength",
        Error::InvalidInput { .. } => "InvalidInput",
        _ => "other",
    }
}

#[test]
fn card_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/card.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut n = 0;
    for g in doc["groups"].as_array().unwrap() {
        for c in g["cases"].as_array().unwrap() {
            n += 1;
            if g.get("luhn").is_some() {
                assert_eq!(
                    luhn_valid(s(c, "number")),
                    c["valid"].as_bool().unwrap(),
                    "{c}"
                );
            } else if g.get("check_digit").is_some() {
                let cd = luhn_check_digit(s(c, "payload")).unwrap();
                assert_eq!(u64::from(cd), c["check_digit"].as_u64().unwrap(), "{c}");
                assert!(luhn_valid(&format!("{}{cd}", s(c, "payload"))));
            } else if g.get("mask").is_some() {
                assert_eq!(mask_pan(s(c, "pan")), s(c, "masked"), "{c}");
            } else if g.get("pan_ok").is_some() {
                let pan = Pan::new(s(c, "pan")).unwrap();
                assert_eq!(pan.as_str(), s(c, "pan"));
                assert_eq!(pan.to_string(), mask_pan(s(c, "pan")));
                assert_eq!(
                    format!("{pan:?}"),
                    format!("Pan({})", mask_pan(s(c, "pan")))
                );
            } else if g.get("pan_bad").is_some() {
                let e = Pan::new(s(c, "pan")).unwrap_err();
                assert_eq!(kind(&e), s(c, "error"), "{c}");
            } else if g.get("rightmost12").is_some() {
                let pan = Pan::new(s(c, "pan")).unwrap();
                assert_eq!(
                    &pan.rightmost12_excluding_check(),
                    s(c, "rightmost12").as_bytes(),
                    "{c}"
                );
            } else if g.get("track2").is_some() {
                let t = Track2::parse(s(c, "track2")).unwrap();
                assert_eq!(t.pan.as_str(), s(c, "pan"), "{c}");
                assert_eq!(t.expiry, s(c, "expiry"), "{c}");
                assert_eq!(t.service_code, s(c, "service_code"), "{c}");
                assert_eq!(t.discretionary, s(c, "discretionary"), "{c}");
                let dbg = format!("{t:?}");
                assert!(!dbg.contains(s(c, "pan")) && !dbg.contains(s(c, "expiry")));
            } else if g.get("track2_bad").is_some() {
                let e = Track2::parse(s(c, "track2")).unwrap_err();
                assert_eq!(kind(&e), s(c, "error"), "{c}: {e:?}");
            } else {
                panic!("unknown group {}", g["source"]);
            }
        }
    }
    assert_eq!(n, 67);
}

#[test]
fn luhn_check_digit_rejects_non_digits() {
    assert_eq!(kind(&luhn_check_digit("").unwrap_err()), "InvalidInput");
    assert_eq!(kind(&luhn_check_digit("12a4").unwrap_err()), "InvalidInput");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(text in any::<String>()) {
        let _ = Track2::parse(&text);
        let _ = Pan::new(&text);
        let _ = luhn_valid(&text);
        let _ = luhn_check_digit(&text);
        let _ = mask_pan(&text);
    }

    #[test]
    fn track2_like_strings_never_panic(text in "[;0-9=DdFf?é]{0,45}") {
        if let Ok(t) = Track2::parse(&text) {
            prop_assert_eq!(t.expiry.len(), 4);
            prop_assert_eq!(t.service_code.len(), 3);
            let month: u8 = t.expiry[2..].parse().unwrap();
            prop_assert!((1..=12).contains(&month));
        }
    }

    #[test]
    fn track2_round_trips(
        pan in "[0-9]{12,19}",
        yy in 0u8..100,
        mm in 1u8..13,
        sc in "[0-9]{3}",
        dd in "[0-9]{0,10}",
        emv in any::<bool>(),
    ) {
        let text = if emv {
            let t = format!("{pan}D{yy:02}{mm:02}{sc}{dd}");
            if t.len() % 2 == 1 { format!("{t}F") } else { t }
        } else {
            format!(";{pan}={yy:02}{mm:02}{sc}{dd}?")
        };
        let t = Track2::parse(&text).unwrap();
        prop_assert_eq!(t.pan.as_str(), pan.as_str());
        prop_assert_eq!(t.expiry, format!("{yy:02}{mm:02}"));
        prop_assert_eq!(t.service_code, sc);
        prop_assert_eq!(t.discretionary, dd);
    }

    /// The mask never reveals more than the first 6 and last 4 digits, keeps the
    /// length, and reveals nothing in the middle.
    #[test]
    fn mask_reveals_at_most_first6_last4(digits in "[0-9]{0,30}") {
        let masked = mask_pan(&digits);
        prop_assert_eq!(masked.len(), digits.len());
        let n = digits.len();
        let revealed: Vec<usize> = masked
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b != b'*')
            .map(|(i, _)| i)
            .collect();
        prop_assert!(revealed.len() <= 10);
        for &i in &revealed {
            prop_assert!(i < 6 || i + 4 >= n, "position {} of {} revealed", i, n);
            prop_assert_eq!(masked.as_bytes()[i], digits.as_bytes()[i]);
        }
        if n < 13 {
            prop_assert!(revealed.len() <= 4);
        }
        if let Ok(pan) = Pan::new(&digits) {
            let (dbg, shown) = (format!("{pan:?}"), pan.to_string());
            prop_assert!(!dbg.contains(&digits));
            prop_assert!(!shown.contains(&digits));
        }
    }

    #[test]
    fn luhn_check_digit_makes_valid(payload in "[0-9]{1,18}", wrong in 1u8..10) {
        let cd = luhn_check_digit(&payload).unwrap();
        let good = format!("{payload}{cd}");
        let bad = format!("{payload}{}", (cd + wrong) % 10);
        prop_assert!(luhn_valid(&good));
        // Every single-digit error in the check digit is detected.
        prop_assert!(!luhn_valid(&bad));
    }

    #[test]
    fn pan_accepts_exactly_12_to_19_digits(digits in "[0-9]{0,25}") {
        prop_assert_eq!(Pan::new(&digits).is_ok(), (12..=19).contains(&digits.len()));
    }
}
