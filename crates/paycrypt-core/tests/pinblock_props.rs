//! Property tests and the full translation matrix for ISO 9564 PIN blocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::error::KeyError;
use paycrypt_core::pinblock::{self, Format4PanField, PinBlockError, PinBlockFormat};
use paycrypt_core::secret::Pin;
use paycrypt_core::Error;
use proptest::prelude::*;

const TDES_A: [u8; 16] = *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF\xFE\xDC\xBA\x98\x76\x54\x32\x10";
const TDES_B: [u8; 24] = *b"\x89\xAB\xCD\xEF\x01\x23\x45\x67\xFE\xDC\xBA\x98\x76\x54\x32\x10\x13\x57\x9B\xDF\x02\x46\x8A\xCE";
const AES_A: [u8; 16] = *b"\xAF\x8C\xB1\x33\xA7\x8F\x8D\xC2\xD1\x35\x9F\x18\x52\x75\x93\xFB";
const AES_B: [u8; 32] = [0x5A; 32];

const ALL: [PinBlockFormat; 8] = [
    PinBlockFormat::Iso0,
    PinBlockFormat::Iso1,
    PinBlockFormat::Iso2,
    PinBlockFormat::Iso3,
    PinBlockFormat::ISO4,
    PinBlockFormat::Iso4 {
        pan_field: Format4PanField::Legacy12,
    },
    PinBlockFormat::IBM3624_F,
    PinBlockFormat::Ibm3624 { pad: 0xA },
];

fn key_for(f: PinBlockFormat, second: bool) -> BlockCipher {
    match (f, second) {
        (PinBlockFormat::Iso4 { .. }, false) => BlockCipher::aes(&AES_A).unwrap(),
        (PinBlockFormat::Iso4 { .. }, true) => BlockCipher::aes(&AES_B).unwrap(),
        (_, false) => BlockCipher::tdes(&TDES_A).unwrap(),
        (_, true) => BlockCipher::tdes(&TDES_B).unwrap(),
    }
}

fn code(f: PinBlockFormat) -> u8 {
    match f {
        PinBlockFormat::Iso0 => 0,
        PinBlockFormat::Iso1 => 1,
        PinBlockFormat::Iso2 => 2,
        PinBlockFormat::Iso3 => 3,
        PinBlockFormat::Iso4 { .. } => 4,
        _ => 9,
    }
}

/// The PCI PIN 3-3 matrix as documented in `translation_allowed`.
fn expected_allowed(from: PinBlockFormat, to: PinBlockFormat) -> bool {
    match (code(from), code(to)) {
        (2, _) | (_, 2) => false,
        (0 | 3 | 4, 0 | 3 | 4) => true,
        (0 | 3 | 4, _) => false,
        (1, 0 | 1 | 3 | 4) => true,
        (1, _) => false,
        (9, 9 | 0 | 3 | 4) => true,
        (9, _) => false,
        _ => unreachable!(),
    }
}

#[test]
fn translation_matrix() {
    let mut allowed = 0;
    for from in ALL {
        for to in ALL {
            let r = pinblock::translation_allowed(from, to);
            if expected_allowed(from, to) {
                allowed += 1;
                assert!(r.is_ok(), "{from} -> {to}");
            } else {
                assert_eq!(
                    r.unwrap_err(),
                    Error::PinBlock(PinBlockError::TranslationNotAllowed { from, to }),
                    "{from} -> {to}"
                );
            }
        }
    }
    // Spot checks of the rules named in PCI PIN 3-3 / AWS.
    for f in [
        PinBlockFormat::Iso0,
        PinBlockFormat::Iso3,
        PinBlockFormat::ISO4,
    ] {
        assert!(pinblock::translation_allowed(f, PinBlockFormat::Iso1).is_err());
        assert!(pinblock::translation_allowed(PinBlockFormat::Iso1, f).is_ok());
        assert!(pinblock::translation_allowed(PinBlockFormat::Iso2, f).is_err());
        assert!(pinblock::translation_allowed(f, PinBlockFormat::IBM3624_F).is_err());
    }
    assert!(allowed > 20);
}

#[test]
fn translation_requires_equal_pans_and_matching_keys() {
    let pin = Pin::new("1234").unwrap();
    let p1 = Pan::new("4111111111111111").unwrap();
    let p2 = Pan::new("4111111111111129").unwrap();
    let k = key_for(PinBlockFormat::Iso0, false);
    let b = pinblock::encrypt_pin_block(&k, PinBlockFormat::Iso0, &pin, Some(&p1)).unwrap();
    let aes = key_for(PinBlockFormat::ISO4, false);
    let e = pinblock::translate(
        &k,
        PinBlockFormat::Iso0,
        &b,
        Some(&p1),
        &aes,
        PinBlockFormat::ISO4,
        Some(&p2),
    );
    assert_eq!(e.unwrap_err(), Error::PinBlock(PinBlockError::PanMismatch));
    let e = pinblock::translate(
        &k,
        PinBlockFormat::Iso0,
        &b,
        Some(&p2),
        &aes,
        PinBlockFormat::ISO4,
        Some(&p2),
    );
    assert_eq!(
        e.unwrap_err(),
        Error::PinBlock(PinBlockError::InvalidPinBlock)
    );
    let e = pinblock::translate(
        &k,
        PinBlockFormat::Iso0,
        &b,
        Some(&p1),
        &k,
        PinBlockFormat::ISO4,
        Some(&p1),
    );
    assert!(matches!(
        e.unwrap_err(),
        Error::InvalidKey(KeyError::WrongAlgorithm { .. })
    ));
    let e = pinblock::translate(
        &k,
        PinBlockFormat::Iso0,
        &b,
        None,
        &k,
        PinBlockFormat::Iso3,
        Some(&p1),
    );
    assert_eq!(e.unwrap_err(), Error::PinBlock(PinBlockError::PanRequired));
    // Single DES is refused for PIN blocks.
    let des = BlockCipher::des(&[0x13; 8]);
    assert!(pinblock::encrypt_pin_block(&des, PinBlockFormat::Iso0, &pin, Some(&p1)).is_err());
    // ISO 0 -> ISO 4 with the same PAN works, also into the fixed-array API.
    let mut out = [0u8; 16];
    let n = pinblock::translate_into(
        &k,
        PinBlockFormat::Iso0,
        &b,
        Some(&p1),
        &aes,
        PinBlockFormat::ISO4,
        Some(&p1),
        &mut out,
    )
    .unwrap();
    assert_eq!(n, 16);
    assert_eq!(
        pinblock::decrypt_pin_block(&aes, PinBlockFormat::ISO4, &out, Some(&p1)).unwrap(),
        pin
    );
}

#[test]
fn legacy12_and_full_pan_readings_differ_and_do_not_cross_decode() {
    let pin = Pin::new("1234").unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    let k = key_for(PinBlockFormat::ISO4, false);
    let legacy = PinBlockFormat::Iso4 {
        pan_field: Format4PanField::Legacy12,
    };
    let b = pinblock::encrypt_pin_block(&k, legacy, &pin, Some(&pan)).unwrap();
    assert_eq!(
        pinblock::decrypt_pin_block(&k, legacy, &b, Some(&pan)).unwrap(),
        pin
    );
    assert_eq!(
        pinblock::decrypt_pin_block(&k, PinBlockFormat::ISO4, &b, Some(&pan)).unwrap_err(),
        Error::PinBlock(PinBlockError::InvalidPinBlock)
    );
}

fn pin_strategy() -> impl Strategy<Value = Pin> {
    proptest::collection::vec(0u8..10, 4..=12).prop_map(|d| Pin::from_digits(d).unwrap())
}

fn pan_strategy() -> impl Strategy<Value = Pan> {
    proptest::collection::vec(0u8..10, 12..=19).prop_map(|d| {
        Pan::new(&d.iter().map(|x| char::from(b'0' + x)).collect::<String>()).unwrap()
    })
}

fn format_strategy() -> impl Strategy<Value = PinBlockFormat> {
    (0usize..ALL.len()).prop_map(|i| ALL[i])
}

proptest! {
    #[test]
    fn clear_round_trip(f in format_strategy(), pin in pin_strategy(), pan in pan_strategy()) {
        let b = pinblock::encode_clear(f, &pin, Some(&pan)).unwrap();
        prop_assert_eq!(b.len(), f.block_len());
        prop_assert_eq!(pinblock::decode_clear(f, b.expose(), Some(&pan)).unwrap(), pin);
    }

    #[test]
    fn encrypted_round_trip(f in format_strategy(), pin in pin_strategy(), pan in pan_strategy()) {
        let k = key_for(f, false);
        let b = pinblock::encrypt_pin_block(&k, f, &pin, Some(&pan)).unwrap();
        prop_assert_eq!(pinblock::decrypt_pin_block(&k, f, &b, Some(&pan)).unwrap(), pin);
    }

    #[test]
    fn translate_then_decode(from in format_strategy(), to in format_strategy(), pin in pin_strategy(), pan in pan_strategy()) {
        let ki = key_for(from, false);
        let ko = key_for(to, true);
        let b = pinblock::encrypt_pin_block(&ki, from, &pin, Some(&pan)).unwrap();
        let r = pinblock::translate(&ki, from, &b, Some(&pan), &ko, to, Some(&pan));
        if expected_allowed(from, to) {
            let out = r.unwrap();
            prop_assert_eq!(pinblock::decrypt_pin_block(&ko, to, &out, Some(&pan)).unwrap(), pin);
        } else {
            let is_forbidden = matches!(r, Err(Error::PinBlock(PinBlockError::TranslationNotAllowed { .. })));
            prop_assert!(is_forbidden);
        }
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(f in format_strategy(), bytes in proptest::collection::vec(any::<u8>(), 0..40), pan in proptest::option::of(pan_strategy()), pad in 0u8..16) {
        let _ = pinblock::decode_clear(f, &bytes, pan.as_ref());
        let _ = pinblock::decode_clear(PinBlockFormat::Ibm3624 { pad }, &bytes, pan.as_ref());
        let k = key_for(f, false);
        let _ = pinblock::decrypt_pin_block(&k, f, &bytes, pan.as_ref());
        let _ = pinblock::decrypt_pin_block(&key_for(PinBlockFormat::ISO4, false), f, &bytes, pan.as_ref());
        let _ = pinblock::translate(&k, f, &bytes, pan.as_ref(), &key_for(PinBlockFormat::ISO4, true), PinBlockFormat::ISO4, pan.as_ref());
    }

    #[test]
    fn encode_with_arbitrary_fill_never_panics(f in format_strategy(), pin in pin_strategy(), pan in proptest::option::of(pan_strategy()), fill in proptest::collection::vec(any::<u8>(), 0..12)) {
        let _ = pinblock::encode_clear_with_fill(f, &pin, pan.as_ref(), &fill);
        let _ = pinblock::encrypt_pin_block_with_fill(&key_for(f, false), f, &pin, pan.as_ref(), &fill);
    }
}
