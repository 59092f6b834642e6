//! In-process tests of the data-plane operations beyond symmetric Encrypt/Decrypt and CMAC/HMAC:
//! keys with KNOWN material installed with `Store::import_key`, requests dispatched through the
//! data-plane route table, expected values from the published vectors that paycrypt-core's own
//! vector files carry (sources below) or computed with paycrypt-core in the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::{Pin, SecretBytes};
use paycrypt_keystore::model::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage};
use paycrypt_keystore::{ImportKeyRequest, Store};
use paycrypt_server::audit::{AuditDestination, AuditLog};
use paycrypt_server::data;
use paycrypt_server::metrics::Metrics;
use paycrypt_server::state::{AppState, Ctx};
use serde_json::{json, Value};

fn state() -> Arc<AppState> {
    Arc::new(AppState {
        store: Store::open_in_memory("us-east-1", "111122223333").unwrap(),
        credentials: vec![],
        metrics: Metrics::default(),
        audit: AuditLog::open(&AuditDestination::Off).unwrap(),
        max_body_bytes: 64 * 1024,
        throttle: Default::default(),
        // The standard tables plus the one the IBM 3624 tests below use.
        pin: data::pin::PinPolicy::new(
            Some(&["0123456789012345".into(), "1234567890123456".into()]),
            0,
            0,
        )
        .unwrap(),
    })
}

/// Import `hex` as a key of `usage`/`alg` with TR-31 mode of use letter `mode`; returns its ARN.
fn import(st: &AppState, usage: &str, alg: &str, mode: char, hex: &str) -> String {
    st.store
        .import_key(ImportKeyRequest {
            key_attributes: KeyAttributes {
                key_usage: KeyUsage::parse(usage).unwrap(),
                key_class: KeyClass::SymmetricKey,
                key_algorithm: KeyAlgorithm::parse(alg).unwrap(),
                key_modes_of_use: KeyModesOfUse::from_tr31_mode(mode).unwrap(),
            },
            material: SecretBytes::new(decode("k", hex).unwrap()),
            key_check_value_algorithm: None,
            exportable: false,
            enabled: None,
            tags: vec![],
        })
        .unwrap()
        .key_arn
}

/// POST `path` with `body`: Ok(output) or Err((error code, Reason or message)).
fn call(st: &Arc<AppState>, path: &str, body: Value) -> Result<Value, (String, String)> {
    let (route, label) = data::route(path).expect("route");
    let mut ctx = Ctx::default();
    data::dispatch(st, route, label, &body, &mut ctx).map_err(|e| {
        let b = e.body();
        let detail = b
            .get("Reason")
            .and_then(Value::as_str)
            .map_or_else(|| e.message(), str::to_owned);
        (e.code().to_owned(), detail)
    })
}

fn err_code(r: Result<Value, (String, String)>) -> (String, String) {
    r.expect_err("expected an error")
}

// ANSI X9.24-1:2009 A.4 (via openemv/dukpt, copied in crates/paycrypt-core/tests/vectors/dukpt_tdes.json)
const TDES_BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const TDES_KSN: &str = "FFFF9876543210E00001";
const TDES_DUKPT_BLOCK: &str = "1B9C1845EB993A7A";
const DUKPT_PAN: &str = "4012345678909";
const ZPK: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
const ZPK2: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

fn zpk_block(key: &str, pin: &str, pan: &str) -> String {
    let c = BlockCipher::tdes(&decode("k", key).unwrap()).unwrap();
    encode(
        &pinblock::encrypt_pin_block(
            &c,
            PinBlockFormat::Iso0,
            &Pin::new(pin).unwrap(),
            Some(&Pan::new(pan).unwrap()),
        )
        .unwrap(),
    )
}

#[test]
fn translate_tdes_dukpt_iso0_to_zpk_iso0() {
    let st = state();
    let bdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        'X',
        TDES_BDK,
    );
    let zpk = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let out = call(
        &st,
        "/pindata/translate",
        json!({
            "IncomingKeyIdentifier": bdk,
            "OutgoingKeyIdentifier": zpk,
            "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": DUKPT_PAN}},
            "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": DUKPT_PAN}},
            "EncryptedPinBlock": TDES_DUKPT_BLOCK,
            "IncomingDukptAttributes": {"KeySerialNumber": TDES_KSN, "DukptKeyDerivationType": "TDES_2KEY"}
        }),
    )
    .unwrap();
    assert_eq!(out["PinBlock"], zpk_block(ZPK, "1234", DUKPT_PAN));
    assert_eq!(out["KeyArn"], zpk, "KeyArn is the outgoing key's");
    let kcv = st.store.get_key(&zpk).unwrap().key_check_value;
    assert_eq!(out["KeyCheckValue"], kcv);

    // And back out to a DUKPT-encrypted block: ZPK -> DUKPT (outgoing DUKPT attributes).
    let back = call(
        &st,
        "/pindata/translate",
        json!({
            "IncomingKeyIdentifier": zpk,
            "OutgoingKeyIdentifier": bdk,
            "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": DUKPT_PAN}},
            "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": DUKPT_PAN}},
            "EncryptedPinBlock": out["PinBlock"],
            "OutgoingDukptAttributes": {"KeySerialNumber": TDES_KSN}
        }),
    )
    .unwrap();
    assert_eq!(back["PinBlock"], TDES_DUKPT_BLOCK);
}

#[test]
fn translate_zpk_to_zpk_and_refusals() {
    let st = state();
    let a = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let b = import(
        &st,
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_3KEY",
        'B',
        &format!("{ZPK2}{}", &ZPK[..16]),
    );
    let block = zpk_block(ZPK, "9876", "4111111111111111");
    let base = json!({
        "IncomingKeyIdentifier": a,
        "OutgoingKeyIdentifier": b,
        "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": "4111111111111111"}},
        "OutgoingTranslationAttributes": {"IsoFormat3": {"PrimaryAccountNumber": "4111111111111111"}},
        "EncryptedPinBlock": block,
    });
    let out = call(&st, "/pindata/translate", base.clone()).unwrap();
    let c = BlockCipher::tdes(&decode("k", &format!("{ZPK2}{}", &ZPK[..16])).unwrap()).unwrap();
    let pin = pinblock::decrypt_pin_block(
        &c,
        PinBlockFormat::Iso3,
        &decode("b", out["PinBlock"].as_str().unwrap()).unwrap(),
        Some(&Pan::new("4111111111111111").unwrap()),
    )
    .unwrap();
    assert_eq!(pin.digits(), &[9, 8, 7, 6]);

    // ISO 0 -> ISO 1 is refused (PCI PIN 3-3).
    let mut r = base.clone();
    r["OutgoingTranslationAttributes"] = json!({"IsoFormat1": {}});
    let (code, msg) = err_code(call(&st, "/pindata/translate", r));
    assert_eq!(code, "ValidationException");
    assert!(msg.to_lowercase().contains("translat"), "{msg}");
    // A PAN change is refused.
    let mut r = base.clone();
    r["OutgoingTranslationAttributes"] =
        json!({"IsoFormat0": {"PrimaryAccountNumber": "4111111111111129"}});
    assert_eq!(
        err_code(call(&st, "/pindata/translate", r)).0,
        "ValidationException"
    );
    // As2805Format0 is not supported.
    let mut r = base.clone();
    r["OutgoingTranslationAttributes"] =
        json!({"As2805Format0": {"PrimaryAccountNumber": "4111111111111111"}});
    let (_, msg) = err_code(call(&st, "/pindata/translate", r));
    assert!(
        msg.contains("As2805Format0") && msg.contains("not supported"),
        "{msg}"
    );
    // Bad hex, unknown member.
    let mut r = base.clone();
    r["EncryptedPinBlock"] = json!("ZZ34567890ABCDEF");
    let (_, msg) = err_code(call(&st, "/pindata/translate", r));
    assert!(
        msg.contains("EncryptedPinBlock") && !msg.contains("ZZ34"),
        "{msg}"
    );
    let mut r = base.clone();
    r["Bogus"] = json!(1);
    let (_, msg) = err_code(call(&st, "/pindata/translate", r));
    assert!(msg.contains("'Bogus'"), "{msg}");
    let mut r = base.clone();
    r["IncomingWrappedKey"] = json!({"WrappedKeyMaterial": {"Tr31KeyBlock": "x"}});
    assert!(err_code(call(&st, "/pindata/translate", r))
        .1
        .contains("IncomingWrappedKey"));
    // Wrong key usage: a CVK as the incoming key.
    let cvk = import(
        &st,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        'C',
        TDES_BDK,
    );
    let mut r = base.clone();
    r["IncomingKeyIdentifier"] = json!(cvk);
    let (_, msg) = err_code(call(&st, "/pindata/translate", r));
    assert!(msg.contains("TR31_P0_PIN_ENCRYPTION_KEY"), "{msg}");
    // A stopped key.
    st.store.stop_key_usage(&a).unwrap();
    let (_, msg) = err_code(call(&st, "/pindata/translate", base));
    assert!(msg.contains("disabled"), "{msg}");
}

// ANSI X9.24-3:2017 supplement (AES-128 BDK), via crates/paycrypt-core/tests/vectors/dukpt_aes.json
#[test]
fn translate_aes_dukpt_iso4_to_tdes_iso0() {
    let st = state();
    let bdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        'X',
        "FEDCBA9876543210F1F1F1F1F1F1F1F1",
    );
    let zpk = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let pan = "4111111111111111";
    let out = call(
        &st,
        "/pindata/translate",
        json!({
            "IncomingKeyIdentifier": bdk,
            "OutgoingKeyIdentifier": zpk,
            "IncomingTranslationAttributes": {"IsoFormat4": {"PrimaryAccountNumber": pan}},
            "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": pan}},
            "EncryptedPinBlock": "A912150391AB65A67E52883D81CE2D15",
            "IncomingDukptAttributes": {"KeySerialNumber": "123456789012345600000001", "DukptKeyDerivationType": "AES_128"}
        }),
    )
    .unwrap();
    assert_eq!(out["PinBlock"], zpk_block(ZPK, "1234", pan));
    // An AES DUKPT key with an ISO 0 block is refused (AES keys only with ISO 4).
    let r = call(
        &st,
        "/pindata/translate",
        json!({
            "IncomingKeyIdentifier": bdk,
            "OutgoingKeyIdentifier": zpk,
            "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": pan}},
            "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": pan}},
            "EncryptedPinBlock": "A912150391AB65A6",
            "IncomingDukptAttributes": {"KeySerialNumber": "123456789012345600000001"}
        }),
    );
    assert_eq!(err_code(r).0, "ValidationException");
}

// psec 1.3.0 tests/test_pin.py (via crates/paycrypt-core/tests/vectors/pin_verification.json):
// PVK 0123456789ABCDEFFEDCBA9876543210, PVKI 1, PIN 4524, PAN 1122334455667788 -> PVV 8523.
#[test]
fn visa_pvv_generate_and_verify() {
    let st = state();
    let pvk = import(
        &st,
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        'C',
        TDES_BDK,
    );
    let pek = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let pan = "1122334455667788";
    let block = zpk_block(ZPK, "4524", pan);
    let out = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": {"VisaPinVerificationValue": {"EncryptedPinBlock": block, "PinVerificationKeyIndex": 1}},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    )
    .unwrap();
    assert_eq!(out["PinData"]["VerificationValue"], "8523");
    assert_eq!(out["EncryptedPinBlock"], block);
    assert_eq!(out["GenerationKeyArn"], pvk);
    assert_eq!(out["EncryptionKeyArn"], pek);

    let verify = |pvv: &str, block: &str| {
        call(
            &st,
            "/pindata/verify",
            json!({
                "VerificationKeyIdentifier": pvk,
                "EncryptionKeyIdentifier": pek,
                "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
                "EncryptedPinBlock": block,
                "PrimaryAccountNumber": pan,
                "PinBlockFormat": "ISO_FORMAT_0"
            }),
        )
    };
    verify("8523", &block).unwrap();
    assert_eq!(
        err_code(verify("8524", &block)),
        ("VerificationFailedException".into(), "INVALID_PIN".into())
    );
    let wrong_pin = zpk_block(ZPK, "4525", pan);
    assert_eq!(err_code(verify("8523", &wrong_pin)).1, "INVALID_PIN");

    // VisaPin: a random PIN and its PVV; verifying the returned block with the PVV succeeds.
    let g = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1}},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    )
    .unwrap();
    verify(
        g["PinData"]["VerificationValue"].as_str().unwrap(),
        g["EncryptedPinBlock"].as_str().unwrap(),
    )
    .unwrap();
    // The PVK cannot encrypt PINs (wrong usage as the encryption key).
    let r = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pvk,
            "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1}},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    );
    assert_eq!(err_code(r).0, "ValidationException");
}

// psec 1.3.0 (pin_verification.json): natural PIN 4524 for table 1234567890123456, validation
// data 1122334455667788, pad F, PVK 0123456789ABCDEFFEDCBA9876543210 (as TDES_3KEY K1K2K1).
#[test]
fn ibm3624_generate_and_verify() {
    let st = state();
    let pvk = import(
        &st,
        "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        "TDES_3KEY",
        'C',
        &format!("{TDES_BDK}{}", &TDES_BDK[..16]),
    );
    let pek = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let pan = "4111111111111111";
    let ibm = json!({"DecimalizationTable": "1234567890123456", "PinValidationDataPadCharacter": "F", "PinValidationData": "1122334455667788"});
    let out = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": {"Ibm3624NaturalPin": ibm},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    )
    .unwrap();
    assert_eq!(out["EncryptedPinBlock"], zpk_block(ZPK, "4524", pan));
    assert_eq!(out["PinData"]["PinOffset"], "0000");
    // Customer PIN 1234 -> offset; from-offset gives PIN 1234 back; verify succeeds.
    let mut ibm_off = ibm.clone();
    ibm_off["EncryptedPinBlock"] = json!(zpk_block(ZPK, "1234", pan));
    let off = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": {"Ibm3624PinOffset": ibm_off},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    )
    .unwrap();
    let offset = off["PinData"]["PinOffset"].as_str().unwrap().to_owned();
    assert_eq!(offset, "7710"); // 1234 - 4524 digit-wise mod 10
    let mut from = ibm.clone();
    from["PinOffset"] = json!(offset);
    let f = call(
        &st,
        "/pindata/generate",
        json!({
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": {"Ibm3624PinFromOffset": from.clone()},
            "PrimaryAccountNumber": pan,
            "PinBlockFormat": "ISO_FORMAT_0"
        }),
    )
    .unwrap();
    assert_eq!(f["EncryptedPinBlock"], zpk_block(ZPK, "1234", pan));
    let v = |block: String| {
        call(
            &st,
            "/pindata/verify",
            json!({
                "VerificationKeyIdentifier": pvk,
                "EncryptionKeyIdentifier": pek,
                "VerificationAttributes": {"Ibm3624Pin": from.clone()},
                "EncryptedPinBlock": block,
                "PrimaryAccountNumber": pan,
                "PinBlockFormat": "ISO_FORMAT_0"
            }),
        )
    };
    v(zpk_block(ZPK, "1234", pan)).unwrap();
    assert_eq!(err_code(v(zpk_block(ZPK, "1235", pan))).1, "INVALID_PIN");
    // PinDataLength 4 checks the leftmost 4 digits of a longer PIN.
    v(zpk_block(ZPK, "123456", pan)).unwrap();
}

#[test]
fn verify_pin_under_dukpt() {
    let st = state();
    let bdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        'X',
        TDES_BDK,
    );
    let pvk = import(
        &st,
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        'C',
        TDES_BDK,
    );
    let c = BlockCipher::tdes(&decode("k", TDES_BDK).unwrap()).unwrap();
    let pvv = paycrypt_core::pin_verification::visa_pvv(
        &c,
        &Pan::new(DUKPT_PAN).unwrap(),
        1,
        &Pin::new("1234").unwrap(),
    )
    .unwrap();
    call(
        &st,
        "/pindata/verify",
        json!({
            "VerificationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": bdk,
            "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
            "EncryptedPinBlock": TDES_DUKPT_BLOCK,
            "PrimaryAccountNumber": DUKPT_PAN,
            "PinBlockFormat": "ISO_FORMAT_0",
            "DukptAttributes": {"KeySerialNumber": TDES_KSN, "DukptDerivationType": "TDES_2KEY"}
        }),
    )
    .unwrap();
}

// card_verification.json: IBM CCA CVV method (CVV 170, CVV2 852) and pyemv generate_cvc3 (29488).
#[test]
fn card_validation_data() {
    let st = state();
    let cvk = import(
        &st,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        'C',
        TDES_BDK,
    );
    let g = |attrs: Value| {
        call(
            &st,
            "/cardvalidationdata/generate",
            json!({"KeyIdentifier": cvk, "PrimaryAccountNumber": "1234567890123456", "GenerationAttributes": attrs}),
        )
    };
    assert_eq!(
        g(json!({"CardVerificationValue1": {"CardExpiryDate": "9912", "ServiceCode": "220"}}))
            .unwrap()["ValidationData"],
        "170"
    );
    assert_eq!(
        g(json!({"CardVerificationValue2": {"CardExpiryDate": "9912"}})).unwrap()["ValidationData"],
        "852"
    );
    let v = |value: &str| {
        call(
            &st,
            "/cardvalidationdata/verify",
            json!({"KeyIdentifier": cvk, "PrimaryAccountNumber": "1234567890123456",
                   "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "9912"}}, "ValidationData": value}),
        )
    };
    v("852").unwrap();
    assert_eq!(
        err_code(v("853")),
        (
            "VerificationFailedException".into(),
            "INVALID_VALIDATION_DATA".into()
        )
    );
    let (_, msg) = err_code(g(
        json!({"AmexCardSecurityCodeVersion1": {"CardExpiryDate": "9912"}}),
    ));
    assert!(msg.contains("not supported by this server yet"), "{msg}");

    let e4 = import(
        &st,
        "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
        "TDES_2KEY",
        'X',
        "01234567899876543210012345678998",
    );
    let attrs = json!({"DynamicCardVerificationCode": {"UnpredictableNumber": "00000899", "PanSequenceNumber": "00",
        "ApplicationTransactionCounter": "005E", "TrackData": "5123456789012345D35121010000000000000F"}});
    let out = call(
        &st,
        "/cardvalidationdata/generate",
        json!({"KeyIdentifier": e4, "PrimaryAccountNumber": "5123456789012345", "GenerationAttributes": attrs, "ValidationDataLength": 5}),
    )
    .unwrap();
    assert_eq!(out["ValidationData"], "29488");
    // The CVK cannot be used for CVC3 (E4 required).
    let r = call(
        &st,
        "/cardvalidationdata/generate",
        json!({"KeyIdentifier": cvk, "PrimaryAccountNumber": "5123456789012345", "GenerationAttributes": attrs}),
    );
    assert!(err_code(r).1.contains("TR31_E4"));
}

// pyemv tests/test_cvn_hsm.py@f0654a8 via crates/paycrypt-core/tests/vectors/emv.json
const MK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
const MK_SMI: &str = "FEDCBA98765432100123456789ABCDEF";

#[test]
fn arqc_verify_with_arpc() {
    let st = state();
    let mk = import(
        &st,
        "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        "TDES_2KEY",
        'X',
        MK_AC,
    );
    // Visa CVN 10: ICC MK as AC key, padding method 1 applied by the caller (3 zero bytes).
    let data10 = "0000000040000000000000000124800004800001241911050152BF45851800001C03A06010000000";
    let out = call(
        &st,
        "/cryptogram/verify",
        json!({
            "KeyIdentifier": mk,
            "TransactionData": data10,
            "AuthRequestCryptogram": "29CCA15AE665FA2E",
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "SessionKeyDerivationAttributes": {"Visa": {"PrimaryAccountNumber": "1234567890123456", "PanSequenceNumber": "00"}},
            "AuthResponseAttributes": {"ArpcMethod1": {"AuthResponseCode": "3030"}}
        }),
    )
    .unwrap();
    assert_eq!(out["AuthResponseValue"], "28993816AFAE4AEB");
    // Visa CVN 18: option B, EMV common session key, ARPC method 2 (data aligned: method 2 adds a block).
    let data18 = "0000000040000000000000000124800004800001241911050152BF45851800001C06011203A0B8008000000000000000";
    let out = call(
        &st,
        "/cryptogram/verify",
        json!({
            "KeyIdentifier": mk,
            "TransactionData": data18,
            "AuthRequestCryptogram": "7A788EA6B8A3E733",
            "MajorKeyDerivationMode": "EMV_OPTION_B",
            "SessionKeyDerivationAttributes": {"EmvCommon": {"PrimaryAccountNumber": "1234567890123456", "PanSequenceNumber": "00", "ApplicationTransactionCounter": "001C"}},
            "AuthResponseAttributes": {"ArpcMethod2": {"CardStatusUpdate": "00000000"}}
        }),
    )
    .unwrap();
    assert_eq!(out["AuthResponseValue"], "9AF514C1");
    // Mastercard CVN 16 (SKD with UN): generate gives the ARQC; a tampered one fails.
    let data16 = "00000000999900000000000001248000000000012420990600ABCDEF121800001CA0000322000080";
    let mc = json!({"Mastercard": {"PrimaryAccountNumber": "1234567890123456", "PanSequenceNumber": "00",
        "ApplicationTransactionCounter": "001C", "UnpredictableNumber": "ABCDEF12"}});
    let g = call(
        &st,
        "/cryptogram/generate",
        json!({"KeyIdentifier": mk, "TransactionData": data16, "MajorKeyDerivationMode": "EMV_OPTION_A",
               "SessionKeyDerivationAttributes": mc}),
    )
    .unwrap();
    assert_eq!(g["AuthRequestCryptogram"], "24CCF3DEE3158C70");
    let r = call(
        &st,
        "/cryptogram/verify",
        json!({"KeyIdentifier": mk, "TransactionData": data16, "AuthRequestCryptogram": "24CCF3DEE3158C71",
               "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": mc}),
    );
    assert_eq!(
        err_code(r),
        (
            "VerificationFailedException".into(),
            "INVALID_AUTH_REQUEST_CRYPTOGRAM".into()
        )
    );
    // Unpadded transaction data is refused (callers pad, per AWS).
    let r = call(
        &st,
        "/cryptogram/generate",
        json!({"KeyIdentifier": mk, "TransactionData": "0011", "MajorKeyDerivationMode": "EMV_OPTION_A",
               "SessionKeyDerivationAttributes": mc}),
    );
    assert!(err_code(r).1.contains("TransactionData"));
}

#[test]
fn macs_iso9797_dukpt_emv() {
    let st = state();
    // mac.json (psec docstring / REFERENCE §5.1): alg 3, key 0123..3210, data 1234567890ABCDEF
    // (already aligned, so padding methods 1 and 2 differ; method 1 = no extra block).
    let m3 = import(
        &st,
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        'C',
        TDES_BDK,
    );
    let out = call(
        &st,
        "/mac/generate",
        json!({"KeyIdentifier": m3, "MessageData": "1234567890ABCDEF", "GenerationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"}}),
    )
    .unwrap();
    let expected = paycrypt_core::mac::iso9797_alg3(
        &decode("k", TDES_BDK).unwrap(),
        paycrypt_core::cipher::Padding::Iso9797M1,
        &decode("d", "1234567890ABCDEF").unwrap(),
    )
    .unwrap();
    assert_eq!(out["Mac"], encode(&expected));
    // ISO9797_ALGORITHM1 needs an M1 key.
    let r = call(
        &st,
        "/mac/generate",
        json!({"KeyIdentifier": m3, "MessageData": "1234567890ABCDEF", "GenerationAttributes": {"Algorithm": "ISO9797_ALGORITHM1"}}),
    );
    assert!(err_code(r).1.contains("TR31_M1"));

    // X9.24-1 A.4: request MAC 9CCC7817 / response MAC 20364223 over ASCII "4012345678909D987".
    let bdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        'X',
        TDES_BDK,
    );
    let data = encode(b"4012345678909D987");
    for (variant, mac) in [("REQUEST", "9CCC7817"), ("RESPONSE", "20364223")] {
        let attrs = json!({"DukptIso9797Algorithm3": {"KeySerialNumber": TDES_KSN, "DukptKeyVariant": variant}});
        let out = call(
            &st,
            "/mac/generate",
            json!({"KeyIdentifier": bdk, "MessageData": data, "GenerationAttributes": attrs, "MacLength": 4}),
        )
        .unwrap();
        assert_eq!(out["Mac"], mac);
        call(
            &st,
            "/mac/verify",
            json!({"KeyIdentifier": bdk, "MessageData": data, "Mac": mac, "VerificationAttributes": attrs}),
        )
        .unwrap();
    }
    let r = call(
        &st,
        "/mac/verify",
        json!({"KeyIdentifier": bdk, "MessageData": data, "Mac": "9CCC7818",
               "VerificationAttributes": {"DukptIso9797Algorithm3": {"KeySerialNumber": TDES_KSN, "DukptKeyVariant": "REQUEST"}}}),
    );
    assert_eq!(err_code(r).1, "INVALID_MAC");

    // pyemv test_cvn_hsm.py: Visa CVN 10 script MAC (Visa SM session key from the ATC).
    let smi = import(&st, "TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", 'X', MK_SMI);
    let out = call(
        &st,
        "/mac/generate",
        json!({"KeyIdentifier": smi, "MessageData": "8418000008001C29CCA15AE665FA2E",
               "GenerationAttributes": {"EmvMac": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": "1234567890123456",
                  "PanSequenceNumber": "00", "SessionKeyDerivationMode": "VISA",
                  "SessionKeyDerivationValue": {"ApplicationTransactionCounter": "001C"}}}}),
    )
    .unwrap();
    assert_eq!(out["Mac"], "DB56BA60087CEFD3");
    // Mastercard CVN 16 script MAC (common session key from the ARQC).
    let out = call(
        &st,
        "/mac/generate",
        json!({"KeyIdentifier": smi, "MessageData": "8424000008001C24CCF3DEE3158C70",
               "GenerationAttributes": {"EmvMac": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": "1234567890123456",
                  "PanSequenceNumber": "00", "SessionKeyDerivationMode": "MASTERCARD_SESSION_KEY",
                  "SessionKeyDerivationValue": {"ApplicationCryptogram": "24CCF3DEE3158C70"}}}}),
    )
    .unwrap();
    assert_eq!(out["Mac"], "ED0AB162BAB1DE61");
}

#[test]
fn dukpt_emv_rsa_encryption_and_reencrypt() {
    let st = state();
    // AES DUKPT data key (X9.24-3 supplement: usage 3000 data encrypt key for KSN ...0001).
    let bdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        'X',
        "FEDCBA9876543210F1F1F1F1F1F1F1F1",
    );
    let pt = "00112233445566778899AABBCCDDEEFF";
    let out = call(
        &st,
        &format!("/keys/{}/encrypt", bdk.replace('/', "%2F")),
        json!({"PlainText": pt, "EncryptionAttributes": {"Dukpt": {"KeySerialNumber": "123456789012345600000001",
               "DukptKeyVariant": "REQUEST", "Mode": "ECB"}}}),
    )
    .unwrap();
    let dk = BlockCipher::aes(&decode("k", "A35C412EFD41FDB98B69797C02DCD08F").unwrap()).unwrap();
    let mut b = decode("p", pt).unwrap();
    dk.encrypt_block(&mut b).unwrap();
    assert_eq!(out["CipherText"], encode(&b));

    // TDES DUKPT decrypt round trip (default CBC, BIDIRECTIONAL) and re-encrypt to a D0 key.
    let tbdk = import(
        &st,
        "TR31_B0_BASE_DERIVATION_KEY",
        "TDES_2KEY",
        'X',
        TDES_BDK,
    );
    let d0 = import(
        &st,
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        'B',
        "000102030405060708090A0B0C0D0E0F",
    );
    let track = "3B343031323334353637383930393D3235313231303131323334353F00000000";
    let enc = call(
        &st,
        &format!("/keys/{}/encrypt", tbdk.replace('/', "%2F")),
        json!({"PlainText": track, "EncryptionAttributes": {"Dukpt": {"KeySerialNumber": TDES_KSN}}}),
    )
    .unwrap();
    let wk = paycrypt_core::dukpt::tdes::working_key(
        &decode("k", TDES_BDK).unwrap(),
        &paycrypt_core::dukpt::tdes::Ksn::from_hex(TDES_KSN).unwrap(),
        paycrypt_core::dukpt::tdes::KeyVariant::DataRequest,
    )
    .unwrap();
    let expect = BlockCipher::tdes(wk.expose())
        .unwrap()
        .encrypt(
            paycrypt_core::cipher::Mode::Cbc,
            &[0u8; 8],
            &decode("t", track).unwrap(),
        )
        .unwrap();
    assert_eq!(enc["CipherText"], encode(&expect));
    let dec = call(
        &st,
        &format!("/keys/{}/decrypt", tbdk.replace('/', "%2F")),
        json!({"CipherText": enc["CipherText"], "DecryptionAttributes": {"Dukpt": {"KeySerialNumber": TDES_KSN, "DukptKeyVariant": "BIDIRECTIONAL"}}}),
    )
    .unwrap();
    assert_eq!(dec["PlainText"], track);
    let re = call(
        &st,
        &format!("/keys/{}/reencrypt", tbdk.replace('/', "%2F")),
        json!({"OutgoingKeyIdentifier": d0, "CipherText": enc["CipherText"],
               "IncomingEncryptionAttributes": {"Dukpt": {"KeySerialNumber": TDES_KSN}},
               "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
    )
    .unwrap();
    assert_eq!(re["KeyArn"], d0);
    let aes = BlockCipher::aes(&decode("k", "000102030405060708090A0B0C0D0E0F").unwrap()).unwrap();
    let expect = aes
        .encrypt(
            paycrypt_core::cipher::Mode::Ecb,
            &[],
            &decode("t", track).unwrap(),
        )
        .unwrap();
    assert_eq!(re["CipherText"], encode(&expect));

    // EMV data encryption (E1, option A, session derivation data): round trip and the core value.
    let e1 = import(
        &st,
        "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
        "TDES_2KEY",
        'X',
        MK_SMI,
    );
    let emv = json!({"Emv": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": "1234567890123456",
        "PanSequenceNumber": "00", "SessionDerivationData": "001C000000000000", "Mode": "CBC"}});
    let e = call(
        &st,
        &format!("/keys/{}/encrypt", e1.replace('/', "%2F")),
        json!({"PlainText": "0011223344556677", "EncryptionAttributes": emv}),
    )
    .unwrap();
    let sk = paycrypt_core::emv::derive_data_key(
        &BlockCipher::tdes(&decode("k", MK_SMI).unwrap()).unwrap(),
        paycrypt_core::emv::MajorKeyDerivation::OptionA,
        "1234567890123456",
        "00",
        &[0x00, 0x1C, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    let expect = paycrypt_core::emv::encrypt_data(
        sk.expose(),
        paycrypt_core::emv::EmvEncryptionMode::Cbc,
        None,
        &decode("p", "0011223344556677").unwrap(),
    )
    .unwrap();
    assert_eq!(e["CipherText"], encode(&expect));

    // Symmetric PaddingType and the Emv member in ReEncryptData are refused, naming the member.
    let r = call(
        &st,
        &format!("/keys/{}/encrypt", d0.replace('/', "%2F")),
        json!({"PlainText": pt, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB", "PaddingType": "PKCS1"}}}),
    );
    assert!(err_code(r).1.contains("PaddingType"));
    let r = call(
        &st,
        &format!("/keys/{}/reencrypt", e1.replace('/', "%2F")),
        json!({"OutgoingKeyIdentifier": d0, "CipherText": pt, "IncomingEncryptionAttributes": emv,
               "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
    );
    assert!(err_code(r).1.contains("Emv"));
}

#[test]
fn rsa_encrypt_decrypt_and_reencrypt() {
    use paycrypt_keystore::CreateKeyRequest;
    let st = state();
    let k = st
        .store
        .create_key(CreateKeyRequest {
            key_attributes: KeyAttributes {
                key_usage: KeyUsage::D1AsymmetricKeyForDataEncryption,
                key_class: KeyClass::AsymmetricKeyPair,
                key_algorithm: KeyAlgorithm::Rsa2048,
                key_modes_of_use: KeyModesOfUse::from_tr31_mode('B').unwrap(),
            },
            key_check_value_algorithm: None,
            exportable: false,
            enabled: None,
            tags: vec![],
            derive_key_usage: None,
        })
        .unwrap()
        .key_arn;
    let path = |op: &str| format!("/keys/{}/{op}", k.replace('/', "%2F"));
    for padding in ["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"] {
        let attrs = json!({"Asymmetric": {"PaddingType": padding}});
        let e = call(
            &st,
            &path("encrypt"),
            json!({"PlainText": "00112233", "EncryptionAttributes": attrs}),
        )
        .unwrap();
        assert_eq!(e["CipherText"].as_str().unwrap().len(), 512);
        let d = call(
            &st,
            &path("decrypt"),
            json!({"CipherText": e["CipherText"], "DecryptionAttributes": attrs}),
        )
        .unwrap();
        assert_eq!(d["PlainText"], "00112233");
    }
    // No PaddingType (raw RSA) is refused as not supported.
    let r = call(
        &st,
        &path("encrypt"),
        json!({"PlainText": "00112233", "EncryptionAttributes": {"Asymmetric": {}}}),
    );
    assert!(err_code(r).1.contains("PaddingType"));
    // RSA -> AES D0 re-encryption.
    let d0 = import(
        &st,
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        'B',
        "000102030405060708090A0B0C0D0E0F",
    );
    let pt = "00112233445566778899AABBCCDDEEFF";
    let attrs = json!({"Asymmetric": {"PaddingType": "OAEP_SHA256"}});
    let e = call(
        &st,
        &path("encrypt"),
        json!({"PlainText": pt, "EncryptionAttributes": attrs}),
    )
    .unwrap();
    let re = call(
        &st,
        &path("reencrypt"),
        json!({"OutgoingKeyIdentifier": d0, "CipherText": e["CipherText"], "IncomingEncryptionAttributes": attrs,
               "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
    )
    .unwrap();
    let aes = BlockCipher::aes(&decode("k", "000102030405060708090A0B0C0D0E0F").unwrap()).unwrap();
    let mut b = decode("p", pt).unwrap();
    aes.encrypt_block(&mut b).unwrap();
    assert_eq!(re["CipherText"], encode(&b));
    // A D1 key pair cannot be used for symmetric encryption.
    let r = call(
        &st,
        &path("encrypt"),
        json!({"PlainText": pt, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
    );
    assert!(err_code(r).1.contains("TR31_D0"));
}

// pyemv tests/test_cvn_hsm.py@f0654a8 (emv.json "cvn" cases): PIN change commands for PIN 9999.
#[test]
fn emv_pin_change_visa_and_mastercard() {
    let st = state();
    let smi = import(&st, "TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", 'X', MK_SMI);
    let smc = import(
        &st,
        "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
        "TDES_2KEY",
        'X',
        "89ABCDEF0123456776543210FEDCBA98",
    );
    let ark = import(
        &st,
        "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        "TDES_2KEY",
        'X',
        MK_AC,
    );
    let pek = import(&st, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B', ZPK);
    let pan = "1234567890123456";
    let base = json!({
        "NewPinPekIdentifier": pek,
        "NewEncryptedPinBlock": zpk_block(ZPK, "9999", pan),
        "PinBlockFormat": "ISO_FORMAT_0",
        "SecureMessagingIntegrityKeyIdentifier": smi,
        "SecureMessagingConfidentialityKeyIdentifier": smc,
    });
    let mut visa = base.clone();
    visa["MessageData"] = json!("8424000218001C29CCA15AE665FA2E");
    visa["DerivationMethodAttributes"] = json!({"Visa": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": pan,
        "PanSequenceNumber": "00", "ApplicationTransactionCounter": "001C", "AuthorizationRequestKeyIdentifier": ark}});
    let out = call(&st, "/macemvpinchange/generate", visa).unwrap();
    assert_eq!(out["EncryptedPinBlock"], "BB221AF527377A2811D2B6EBC396A939");
    assert_eq!(out["Mac"], "1A965A5CB2CE62DA");
    assert_eq!(
        out["VisaAmexDerivationOutputs"]["AuthorizationRequestKeyArn"],
        ark
    );

    let mut mc = base;
    mc["MessageData"] = json!("8424000210001C24CCF3DEE3158C70");
    mc["DerivationMethodAttributes"] = json!({"Mastercard": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": pan,
        "PanSequenceNumber": "00", "ApplicationCryptogram": "24CCF3DEE3158C70"}});
    let out = call(&st, "/macemvpinchange/generate", mc.clone()).unwrap();
    assert_eq!(out["EncryptedPinBlock"], "00859B8FE53F316D");
    assert_eq!(out["Mac"], "EB4B64C36BF88E39");
    // The SMC key in the SMI role is refused.
    mc["SecureMessagingIntegrityKeyIdentifier"] = json!(smc);
    assert!(err_code(call(&st, "/macemvpinchange/generate", mc))
        .1
        .contains("TR31_E2"));
}
