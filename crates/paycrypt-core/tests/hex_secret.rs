//! Hex codec and secret containers: typed errors, round trips, no panics, redacted Debug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::error::HexError;
use paycrypt_core::hex::{decode, decode_array, decode_secret, encode};
use paycrypt_core::secret::{Pin, SecretBytes};
use paycrypt_core::Error;
use proptest::prelude::*;

#[test]
fn hex_examples_and_errors() {
    assert_eq!(decode("x", "").unwrap(), Vec::<u8>::new());
    assert_eq!(
        decode("x", "0123456789abcdefABCDEF").unwrap(),
        vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xAB, 0xCD, 0xEF]
    );
    assert_eq!(encode(&[0x00, 0x7F, 0x80, 0xFF]), "007F80FF");
    let odd = Error::InvalidHex {
        field: "x",
        reason: HexError::OddLength,
    };
    assert_eq!(decode("x", "123").unwrap_err(), odd);
    for (text, pos) in [
        ("0G", 1),
        ("G0", 0),
        ("00 1", 2),
        ("0x12", 1),
        ("é00", 0),
        ("1é0", 1),
    ] {
        assert_eq!(
            decode("x", text).unwrap_err(),
            Error::InvalidHex {
                field: "x",
                reason: HexError::InvalidCharacter { position: pos }
            },
            "{text}"
        );
    }
    assert_eq!(
        decode_array::<2>("k", "2 bytes", "001122").unwrap_err(),
        Error::InvalidLength {
            field: "k",
            expected: "2 bytes",
            actual: 3
        }
    );
    assert_eq!(
        decode_array::<3>("k", "3 bytes", "001122").unwrap(),
        [0, 0x11, 0x22]
    );
    let s = decode_secret("k", "0123456789ABCDEF").unwrap();
    assert_eq!(
        s.expose(),
        &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
    );
    assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 8])");
}

#[test]
fn pin_examples() {
    assert_eq!(Pin::new("1234").unwrap().digits(), &[1, 2, 3, 4]);
    assert_eq!(
        &*Pin::new("000000000000").unwrap().to_ascii(),
        "000000000000"
    );
    assert!(matches!(
        Pin::new("123"),
        Err(Error::InvalidLength { field: "pin", .. })
    ));
    assert!(matches!(
        Pin::new("1234567890123"),
        Err(Error::InvalidLength { field: "pin", .. })
    ));
    assert!(matches!(
        Pin::new("12a4"),
        Err(Error::InvalidInput { field: "pin", .. })
    ));
    assert!(matches!(
        Pin::from_digits(vec![1, 2, 3, 10]),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(
        format!("{:?}", Pin::new("9876").unwrap()),
        "Pin([REDACTED; 4 digits])"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hex_decode_never_panics(text in any::<String>()) {
        match decode("x", &text) {
            Ok(bytes) => prop_assert_eq!(encode(&bytes), text.to_ascii_uppercase()),
            Err(e) => {
                let typed = matches!(e, Error::InvalidHex { field: "x", .. });
                prop_assert!(typed);
            }
        }
        let _ = decode_array::<16>("x", "16 bytes", &text);
        let _ = decode_secret("x", &text);
    }

    #[test]
    fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let text = encode(&bytes);
        prop_assert_eq!(text.len(), 2 * bytes.len());
        prop_assert_eq!(decode("x", &text).unwrap(), bytes.clone());
        prop_assert_eq!(decode("x", &text.to_lowercase()).unwrap(), bytes);
    }

    #[test]
    fn secrets_never_print_their_content(bytes in proptest::collection::vec(any::<u8>(), 1..40), pin in "[0-9]{4,12}") {
        let dbg = format!("{:?}", SecretBytes::from_slice(&bytes));
        prop_assert_eq!(dbg, format!("SecretBytes([REDACTED; {}])", bytes.len()));
        let p = Pin::new(&pin).unwrap();
        prop_assert_eq!(&*p.to_ascii(), pin.as_str());
        let shown = format!("{p:?}");
        prop_assert_eq!(shown, format!("Pin([REDACTED; {} digits])", pin.len()));
    }

    #[test]
    fn pin_new_never_panics(text in any::<String>()) {
        let _ = Pin::new(&text);
    }
}
