//! Property tests for Visa PVV and IBM 3624.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::error::VerificationFailure;
use paycrypt_core::pin_verification::{
    self as pv, DecimalizationPolicy, DecimalizationTable, Ibm3624Params,
};
use paycrypt_core::secret::Pin;
use paycrypt_core::Error;
use proptest::prelude::*;

const PVK: [u8; 16] = *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF\xFE\xDC\xBA\x98\x76\x54\x32\x10";

fn pin_strategy() -> impl Strategy<Value = Pin> {
    proptest::collection::vec(0u8..10, 4..=12).prop_map(|d| Pin::from_digits(d).unwrap())
}

fn pan_strategy() -> impl Strategy<Value = Pan> {
    proptest::collection::vec(0u8..10, 12..=19).prop_map(|d| {
        Pan::new(&d.iter().map(|x| char::from(b'0' + x)).collect::<String>()).unwrap()
    })
}

proptest! {
    #[test]
    fn pvv_generate_verify(pin in pin_strategy(), pan in pan_strategy(), pvki in 0u8..=6) {
        let k = BlockCipher::tdes(&PVK).unwrap();
        let pvv = pv::visa_pvv(&k, &pan, pvki, &pin).unwrap();
        prop_assert_eq!(pvv.len(), 4);
        prop_assert!(pvv.bytes().all(|b| b.is_ascii_digit()));
        pv::verify_visa_pvv(&k, &pan, pvki, &pin, &pvv).unwrap();
        // Another PIN whose first four digits differ fails, unless it happens to
        // share the 4-digit PVV (a 1-in-10,000 collision that is inherent to PVVs).
        let mut d = pin.digits().to_vec();
        d[0] = (d[0] + 1) % 10;
        let other = Pin::from_digits(d).unwrap();
        if pv::visa_pvv(&k, &pan, pvki, &other).unwrap() != pvv {
            prop_assert_eq!(
                pv::verify_visa_pvv(&k, &pan, pvki, &other, &pvv).unwrap_err(),
                Error::VerificationFailed(VerificationFailure::InvalidPin)
            );
        }
    }

    #[test]
    fn ibm3624_offset_verify(pin in pin_strategy(), pan in pan_strategy(), pad in 0u32..16) {
        let k = BlockCipher::tdes(&PVK).unwrap();
        let t = DecimalizationTable::new("0123456789012345").unwrap();
        let vd = pv::validation_data_from_pan(&pan, 0, pan.as_str().len().min(16)).unwrap();
        let p = Ibm3624Params::new(&DecimalizationPolicy::any_valid(), &t, &vd, char::from_digit(pad, 16).unwrap()).unwrap();
        let off = pv::ibm3624_offset(&k, &p, &pin).unwrap();
        prop_assert_eq!(off.len(), pin.len());
        pv::verify_ibm3624_offset(&k, &p, &pin, &off).unwrap();
        prop_assert_eq!(pv::ibm3624_pin_from_offset(&k, &p, &off).unwrap(), pin.clone());
        let natural = pv::ibm3624_natural_pin(&k, &p, pin.len()).unwrap();
        prop_assert_eq!(pv::ibm3624_offset(&k, &p, &natural).unwrap(), "0".repeat(pin.len()));
    }

    #[test]
    fn arbitrary_strings_never_panic(table in ".{0,20}", vd in ".{0,20}", pad in any::<char>(), offset in ".{0,14}", pvv in ".{0,6}", pvki in any::<u8>()) {
        let k = BlockCipher::tdes(&PVK).unwrap();
        let pan = Pan::new("4111111111111111").unwrap();
        let pin = Pin::new("1234").unwrap();
        let _ = pv::verify_visa_pvv(&k, &pan, pvki, &pin, &pvv);
        let _ = pv::visa_pvv(&k, &pan, pvki, &pin);
        if let Ok(t) = DecimalizationTable::new(&table) {
            if let Ok(p) = Ibm3624Params::new(&DecimalizationPolicy::any_valid(), &t, &vd, pad) {
                let _ = pv::verify_ibm3624_offset(&k, &p, &pin, &offset);
                let _ = pv::ibm3624_pin_from_offset(&k, &p, &offset);
            }
        }
        let t = DecimalizationTable::new("0123456789012345").unwrap();
        if let Ok(p) = Ibm3624Params::new(&DecimalizationPolicy::any_valid(), &t, &vd, pad) {
            let _ = pv::verify_ibm3624_offset(&k, &p, &pin, &offset);
        }
    }
}
