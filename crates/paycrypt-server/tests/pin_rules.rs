//! PIN-security rules through the signed API (issue 7, item 2):
//! - the PCI PIN 3-3 translation matrix in full through TranslatePinData: every incoming ×
//!   outgoing ISO format 0/1/3/4, with a TDES zone key (P0), an AES zone key, a TDES DUKPT BDK
//!   and an AES DUKPT BDK on each side (4 × 4 × 4 × 4 = 256 requests). Expected outcomes come
//!   from the rule (REFERENCE.md PCI PIN 3-3: 0/3/4 never to 1; 1 to 0/3/4, and 1 to 1 as a key
//!   change only; AWS-API.md §3.9: AES keys only with ISO 4, ISO 4 only with AES), and every
//!   translated block is decrypted here with paycrypt-core under the outgoing key's material and
//!   must give the original PIN. (paycrypt-core's own tests cover the format matrix of
//!   `translation_allowed` without keys; tests/interop covers single DUKPT→zone pairs via
//!   boto3; this is the API-level matrix with keys.)
//! - a PAN change between PAN-bound formats is refused, for every allowed PAN-bound pair and
//!   every key kind;
//! - decimalization tables: only registered ones (default `0123456789012345` and AWS's example
//!   table `9876543210654321`), never echoed in the error;
//! - PIN-try counters per PAN and per key, the AccessDenied refusal, the reset on success, the
//!   metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_harness;
use api_harness::Api;

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::{Algorithm, BlockCipher};
use paycrypt_core::dukpt::{aes as daes, tdes as dtdes};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use paycrypt_server::data::pin::PinPolicy;
use serde_json::{json, Value};

const PAN: &str = "4111111111111111";
const OTHER_PAN: &str = "4000001234567899";
const KSN20: &str = "FFFF9876543210E00001";
const KSN24: &str = "123456789012345600000001";
const PIN: &str = "492817";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ZoneTdes,
    ZoneAes,
    DukptTdes,
    DukptAes,
}

impl Kind {
    fn aes(self) -> bool {
        matches!(self, Kind::ZoneAes | Kind::DukptAes)
    }
    fn dukpt(self) -> bool {
        matches!(self, Kind::DukptTdes | Kind::DukptAes)
    }
}

const KINDS: [Kind; 4] = [
    Kind::ZoneTdes,
    Kind::ZoneAes,
    Kind::DukptTdes,
    Kind::DukptAes,
];
const FORMATS: [(u8, PinBlockFormat); 4] = [
    (0, PinBlockFormat::Iso0),
    (1, PinBlockFormat::Iso1),
    (3, PinBlockFormat::Iso3),
    (4, PinBlockFormat::ISO4),
];

struct Keys {
    zone_tdes: (String, Vec<u8>),
    zone_aes: (String, Vec<u8>),
    bdk_tdes: (String, Vec<u8>),
    bdk_aes: (String, Vec<u8>),
}

impl Keys {
    async fn new(api: &Api) -> Self {
        let b = json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true});
        let x = json!({"DeriveKey": true});
        Self {
            zone_tdes: api
                .create_key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b.clone())
                .await,
            zone_aes: api
                .create_key("TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", b)
                .await,
            bdk_tdes: api
                .create_key("TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", x.clone())
                .await,
            bdk_aes: api
                .create_key("TR31_B0_BASE_DERIVATION_KEY", "AES_128", x)
                .await,
        }
    }

    fn get(&self, k: Kind) -> &(String, Vec<u8>) {
        match k {
            Kind::ZoneTdes => &self.zone_tdes,
            Kind::ZoneAes => &self.zone_aes,
            Kind::DukptTdes => &self.bdk_tdes,
            Kind::DukptAes => &self.bdk_aes,
        }
    }
}

/// The PIN-block cipher of a key kind, computed here from the material (DUKPT: the transaction's
/// PIN working key, X9.24-1 PIN variant for TDES, X9.24-3 usage 1000 AES-128 for AES).
fn working_cipher(keys: &Keys, k: Kind) -> BlockCipher {
    let m = &keys.get(k).1;
    match k {
        Kind::ZoneTdes => BlockCipher::tdes(m).unwrap(),
        Kind::ZoneAes => BlockCipher::aes(m).unwrap(),
        Kind::DukptTdes => {
            let ksn = dtdes::Ksn::from_hex(KSN20).unwrap();
            let wk = dtdes::working_key(m, &ksn, dtdes::KeyVariant::Pin).unwrap();
            BlockCipher::tdes(wk.expose()).unwrap()
        }
        Kind::DukptAes => {
            let ksn = daes::Ksn::from_hex(KSN24).unwrap();
            let wk = daes::working_key(m, &ksn, daes::KeyUsage::PinEncryption, Algorithm::Aes128)
                .unwrap();
            BlockCipher::aes(wk.expose()).unwrap()
        }
    }
}

fn fmt_json(n: u8, pan: &str) -> Value {
    match n {
        1 => json!({"IsoFormat1": {}}),
        _ => json!({format!("IsoFormat{n}"): {"PrimaryAccountNumber": pan}}),
    }
}

/// A block of [`PIN`] in `format` under `kind`, or arbitrary bytes of the format's length when
/// the key cannot carry the format (TDES with ISO 4, AES with an 8-byte format).
fn in_block(keys: &Keys, kind: Kind, format: PinBlockFormat) -> String {
    let compatible = kind.aes() == (format == PinBlockFormat::ISO4);
    if !compatible {
        return "A5".repeat(format.block_len());
    }
    let pan = Pan::new(PAN).unwrap();
    let c = working_cipher(keys, kind);
    encode(
        &pinblock::encrypt_pin_block(
            &c,
            format,
            &Pin::new(PIN).unwrap(),
            format.binds_pan().then_some(&pan),
        )
        .unwrap(),
    )
}

fn translate_request(
    keys: &Keys,
    (in_kind, in_n, in_f): (Kind, u8, PinBlockFormat),
    (out_kind, out_n): (Kind, u8),
    out_pan: &str,
) -> Value {
    let mut r = json!({
        "IncomingKeyIdentifier": keys.get(in_kind).0,
        "OutgoingKeyIdentifier": keys.get(out_kind).0,
        "IncomingTranslationAttributes": fmt_json(in_n, PAN),
        "OutgoingTranslationAttributes": fmt_json(out_n, out_pan),
        "EncryptedPinBlock": in_block(keys, in_kind, in_f),
    });
    if in_kind.dukpt() {
        r["IncomingDukptAttributes"] =
            json!({"KeySerialNumber": if in_kind.aes() { KSN24 } else { KSN20 }});
    }
    if out_kind.dukpt() {
        r["OutgoingDukptAttributes"] =
            json!({"KeySerialNumber": if out_kind.aes() { KSN24 } else { KSN20 }});
    }
    r
}

/// PCI PIN 3-3 (REFERENCE.md): a PAN-bound format (0, 3, 4) never goes to format 1.
fn pci_allowed(from: u8, to: u8) -> bool {
    !(matches!(from, 0 | 3 | 4) && to == 1)
}

#[tokio::test]
async fn pci_pin_3_3_translation_matrix_and_pan_change() {
    let api = Api::new();
    let keys = Keys::new(&api).await;
    let (mut ok, mut refused, mut pan_change_refused) = (0, 0, 0);
    let mut pairs_ok = std::collections::BTreeSet::new();
    for in_kind in KINDS {
        for (in_n, in_f) in FORMATS {
            for out_kind in KINDS {
                for (out_n, out_f) in FORMATS {
                    let fits = |k: Kind, f: PinBlockFormat| k.aes() == (f == PinBlockFormat::ISO4);
                    let expect =
                        fits(in_kind, in_f) && fits(out_kind, out_f) && pci_allowed(in_n, out_n);
                    let body =
                        translate_request(&keys, (in_kind, in_n, in_f), (out_kind, out_n), PAN);
                    let (status, code, v) = api.post("/pindata/translate", None, &body).await;
                    let what = format!("{in_kind:?} ISO{in_n} -> {out_kind:?} ISO{out_n}");
                    if expect {
                        assert_eq!(status, 200, "{what}: {code} {v}");
                        // Decode the answer independently under the outgoing key.
                        let out = decode("PinBlock", v["PinBlock"].as_str().unwrap()).unwrap();
                        let pan = Pan::new(PAN).unwrap();
                        let pin = pinblock::decrypt_pin_block(
                            &working_cipher(&keys, out_kind),
                            out_f,
                            &out,
                            out_f.binds_pan().then_some(&pan),
                        )
                        .unwrap();
                        assert_eq!(pin.digits(), Pin::new(PIN).unwrap().digits(), "{what}");
                        assert_eq!(v["KeyArn"], keys.get(out_kind).0.as_str(), "{what}");
                        ok += 1;
                        pairs_ok.insert((in_n, out_n));
                    } else {
                        assert_eq!(
                            (status, code.as_str()),
                            (400, "ValidationException"),
                            "{what}: {v}"
                        );
                        let msg = v["message"].as_str().unwrap();
                        if !pci_allowed(in_n, out_n) && fits(in_kind, in_f) {
                            assert!(
                                msg.contains("not allowed") || msg.contains("translat"),
                                "{what}: {msg}"
                            );
                        }
                        refused += 1;
                    }
                    // PAN change: between two PAN-bound formats the outgoing PAN must equal the
                    // incoming one (PCI PIN 3-3).
                    if expect && in_f.binds_pan() && out_f.binds_pan() {
                        let body = translate_request(
                            &keys,
                            (in_kind, in_n, in_f),
                            (out_kind, out_n),
                            OTHER_PAN,
                        );
                        let (status, code, v) = api.post("/pindata/translate", None, &body).await;
                        assert_eq!(
                            (status, code.as_str()),
                            (400, "ValidationException"),
                            "PAN change {what}: {v}"
                        );
                        let msg = v["message"].as_str().unwrap();
                        assert!(!msg.contains(PAN) && !msg.contains(OTHER_PAN), "{msg}");
                        pan_change_refused += 1;
                    }
                }
            }
        }
    }
    // Every format pair the rule allows was exercised with at least one key combination.
    for a in [0u8, 1, 3, 4] {
        for b in [0u8, 1, 3, 4] {
            assert_eq!(
                pairs_ok.contains(&(a, b)),
                pci_allowed(a, b),
                "ISO{a} -> ISO{b}"
            );
        }
    }
    println!(
        "PCI PIN 3-3 matrix through TranslatePinData: 256 requests, {ok} translated and decoded to the same PIN, {refused} refused; {pan_change_refused} PAN changes refused"
    );
    assert_eq!(ok + refused, 256);
}

fn ibm_generate(table: &str, gen: &str, pek: &str) -> Value {
    json!({"GenerationKeyIdentifier": gen, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": {"Ibm3624NaturalPin": {"DecimalizationTable": table,
            "PinValidationDataPadCharacter": "F", "PinValidationData": "4111111111"}},
        "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"})
}

#[tokio::test]
async fn decimalization_tables_must_be_registered() {
    // Default registration.
    let api = Api::new();
    let b = json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true});
    let c = json!({"Generate": true, "Verify": true});
    let (pvk, _) = api
        .create_key(
            "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
            "TDES_3KEY",
            c.clone(),
        )
        .await;
    let (pek, _) = api
        .create_key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b.clone())
        .await;
    for table in ["0123456789012345", "9876543210654321"] {
        let (s, code, v) = api
            .post("/pindata/generate", None, &ibm_generate(table, &pvk, &pek))
            .await;
        assert_eq!(s, 200, "{table}: {code} {v}");
    }
    // A valid but unregistered table, tables that do not map onto all ten digits, and
    // malformed ones: ValidationException, the table never echoed.
    for table in [
        "1234567890123456",
        "0123456789999999", // maps onto all ten digits but is not registered (an attack variant)
        "0000000000000000",
        "0123456780012345", // never maps to 9
        "012345678901234A",
    ] {
        for body in [
            ibm_generate(table, &pvk, &pek),
            json!({"VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
                "VerificationAttributes": {"Ibm3624Pin": {"DecimalizationTable": table,
                    "PinValidationDataPadCharacter": "F", "PinValidationData": "4111111111", "PinOffset": "0000"}},
                "EncryptedPinBlock": "0123456789ABCDEF", "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"}),
        ] {
            let path = if body.get("GenerationKeyIdentifier").is_some() {
                "/pindata/generate"
            } else {
                "/pindata/verify"
            };
            let (s, code, v) = api.post(path, None, &body).await;
            assert_eq!(
                (s, code.as_str()),
                (400, "ValidationException"),
                "{table} {path}: {v}"
            );
            let text = v.to_string();
            assert!(!text.contains(table), "the table is echoed: {text}");
            assert!(text.contains("DecimalizationTable"), "{text}");
        }
    }
    // A custom registration replaces the default set.
    let custom = Api::with_pin(PinPolicy::new(Some(&["1234567890123456".into()]), 0, 0).unwrap());
    let (pvk, _) = custom
        .create_key("TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_3KEY", c)
        .await;
    let (pek, _) = custom
        .create_key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b)
        .await;
    let (s, _, _) = custom
        .post(
            "/pindata/generate",
            None,
            &ibm_generate("1234567890123456", &pvk, &pek),
        )
        .await;
    assert_eq!(s, 200);
    let (s, code, _) = custom
        .post(
            "/pindata/generate",
            None,
            &ibm_generate("0123456789012345", &pvk, &pek),
        )
        .await;
    assert_eq!((s, code.as_str()), (400, "ValidationException"));
    // Registering a table that does not map onto all ten digits is refused at start-up.
    let e = PinPolicy::new(Some(&["0123456780012345".into()]), 0, 0).unwrap_err();
    assert!(!e.contains("0123456780012345"), "{e}");
    assert!(PinPolicy::new(Some(&[]), 0, 0).is_err());
}

fn verify_visa(pvk: &str, pek: &str, pan: &str, block: &str, pvv: &str) -> Value {
    json!({"VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
        "EncryptedPinBlock": block, "PrimaryAccountNumber": pan, "PinBlockFormat": "ISO_FORMAT_0"})
}

/// GeneratePinData VisaPin for `pan`: (encrypted PIN block, PVV).
async fn issue(api: &Api, pvk: &str, pek: &str, pan: &str) -> (String, String) {
    let (s, code, v) = api
        .post(
            "/pindata/generate",
            None,
            &json!({"GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
                "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1}},
                "PrimaryAccountNumber": pan, "PinBlockFormat": "ISO_FORMAT_0"}),
        )
        .await;
    assert_eq!(s, 200, "{code} {v}");
    (
        v["EncryptedPinBlock"].as_str().unwrap().to_owned(),
        v["PinData"]["VerificationValue"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn wrong_pvv(pvv: &str) -> String {
    pvv.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn pin_try_limits_per_pan_and_per_key() {
    // 3 consecutive failures per PAN; 5 failures per verification key.
    let api = Api::with_pin(PinPolicy::new(None, 3, 5).unwrap());
    let (pvk, _) = api
        .create_key(
            "TR31_V2_VISA_PIN_VERIFICATION_KEY",
            "TDES_2KEY",
            json!({"Generate": true, "Verify": true}),
        )
        .await;
    let (pek, _) = api
        .create_key(
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_2KEY",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
        )
        .await;
    let pan_a = "4111111111111111";
    let pan_b = "4000001234567899";
    let (block_a, pvv_a) = issue(&api, &pvk, &pek, pan_a).await;
    let (block_b, pvv_b) = issue(&api, &pvk, &pek, pan_b).await;
    let verify = |pan: &str, block: &str, pvv: &str| {
        let body = verify_visa(&pvk, &pek, pan, block, pvv);
        let api = &api;
        async move { api.post("/pindata/verify", None, &body).await }
    };
    assert_eq!(verify(pan_a, &block_a, &pvv_a).await.0, 200);

    // PAN B: two failures, a success (resets), two failures: never locked.
    for _ in 0..2 {
        let (s, code, v) = verify(pan_b, &block_b, &wrong_pvv(&pvv_b)).await;
        assert_eq!((s, code.as_str()), (400, "VerificationFailedException"));
        assert_eq!(v["Reason"], "INVALID_PIN");
    }
    assert_eq!(verify(pan_b, &block_b, &pvv_b).await.0, 200);
    // PAN A: three failures, then refused even with the right PIN.
    for _ in 0..3 {
        assert_eq!(
            verify(pan_a, &block_a, &wrong_pvv(&pvv_a)).await.1,
            "VerificationFailedException"
        );
    }
    let (s, code, v) = verify(pan_a, &block_a, &pvv_a).await;
    assert_eq!((s, code.as_str()), (403, "AccessDeniedException"), "{v}");
    let text = v.to_string();
    assert!(!text.contains(pan_a) && !text.contains("411111"), "{text}");
    // PAN B still works (5 failures on the key so far: 2 + 3).
    let (s, code, v) = verify(pan_b, &block_b, &pvv_b).await;
    assert_eq!(
        (s, code.as_str()),
        (403, "AccessDeniedException"),
        "the key limit (5) is reached: {v}"
    );
    assert!(v["message"].as_str().unwrap().contains("verification key"));

    let m = api.metrics().await;
    assert_eq!(metric(&m, "paycrypt_pin_verification_failures_total"), 5);
    assert_eq!(metric(&m, "paycrypt_pin_try_limit_refusals_total"), 2);
    assert!(!m.contains(pan_a) && !m.contains(pan_b));
    assert_eq!(api.st.pin.refusals(), 2);

    // A restart (a new process state) resets the counters.
    let fresh = Api::with_pin(PinPolicy::new(None, 3, 5).unwrap());
    let (pvk2, _) = fresh
        .create_key(
            "TR31_V2_VISA_PIN_VERIFICATION_KEY",
            "TDES_2KEY",
            json!({"Generate": true, "Verify": true}),
        )
        .await;
    let (pek2, _) = fresh
        .create_key(
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_2KEY",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
        )
        .await;
    let (block, pvv) = issue(&fresh, &pvk2, &pek2, pan_a).await;
    let (s, _, _) = fresh
        .post(
            "/pindata/verify",
            None,
            &verify_visa(&pvk2, &pek2, pan_a, &block, &pvv),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn pin_try_limits_off_by_default() {
    let api = Api::new();
    let (pvk, _) = api
        .create_key(
            "TR31_V2_VISA_PIN_VERIFICATION_KEY",
            "TDES_2KEY",
            json!({"Generate": true, "Verify": true}),
        )
        .await;
    let (pek, _) = api
        .create_key(
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_2KEY",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
        )
        .await;
    let (block, pvv) = issue(&api, &pvk, &pek, PAN).await;
    for _ in 0..10 {
        let (_, code, _) = api
            .post(
                "/pindata/verify",
                None,
                &verify_visa(&pvk, &pek, PAN, &block, &wrong_pvv(&pvv)),
            )
            .await;
        assert_eq!(code, "VerificationFailedException");
    }
    let (s, _, _) = api
        .post(
            "/pindata/verify",
            None,
            &verify_visa(&pvk, &pek, PAN, &block, &pvv),
        )
        .await;
    assert_eq!(s, 200);
    let m = api.metrics().await;
    assert_eq!(metric(&m, "paycrypt_pin_verification_failures_total"), 10);
    assert_eq!(metric(&m, "paycrypt_pin_try_limit_refusals_total"), 0);
}

/// VerifyPinData Ibm3624Pin with an ISO format 1 block and no PAN.
fn verify_ibm_iso1(pvk: &str, pek: &str, block: &str, data: &str, offset: &str) -> Value {
    json!({"VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": {"Ibm3624Pin": {"DecimalizationTable": "0123456789012345",
            "PinValidationDataPadCharacter": "F", "PinValidationData": data, "PinOffset": offset}},
        "EncryptedPinBlock": block, "PinBlockFormat": "ISO_FORMAT_1"})
}

#[tokio::test]
async fn pin_try_limit_applies_without_a_pan() {
    // IBM 3624 + ISO format 1: no PAN in the request; the subject is the key and the
    // PinValidationData. 3 consecutive failures, no key limit.
    let api = Api::with_pin(PinPolicy::new(None, 3, 0).unwrap());
    let (pvk, _) = api
        .create_key(
            "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
            "TDES_3KEY",
            json!({"Generate": true, "Verify": true}),
        )
        .await;
    let (pek, _) = api
        .create_key(
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_2KEY",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
        )
        .await;
    // A natural PIN (offset 0000) for each of two accounts, as an ISO 1 block.
    let mut blocks = Vec::new();
    for data in ["4111111111", "4000001234"] {
        let (s, code, v) = api
            .post(
                "/pindata/generate",
                None,
                &json!({"GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
                    "GenerationAttributes": {"Ibm3624NaturalPin": {"DecimalizationTable": "0123456789012345",
                        "PinValidationDataPadCharacter": "F", "PinValidationData": data}},
                    "PinBlockFormat": "ISO_FORMAT_1"}),
            )
            .await;
        assert_eq!(s, 200, "{code} {v}");
        blocks.push(v["EncryptedPinBlock"].as_str().unwrap().to_owned());
    }
    let verify = |i: usize, offset: &str| {
        let data = ["4111111111", "4000001234"][i];
        let body = verify_ibm_iso1(&pvk, &pek, &blocks[i], data, offset);
        let api = &api;
        async move { api.post("/pindata/verify", None, &body).await }
    };
    // Two failures, a success (resets), then three failures and the right PIN is refused.
    for _ in 0..2 {
        assert_eq!(verify(0, "1111").await.1, "VerificationFailedException");
    }
    assert_eq!(verify(0, "0000").await.0, 200);
    for _ in 0..3 {
        assert_eq!(verify(0, "1111").await.1, "VerificationFailedException");
    }
    let (s, code, v) = verify(0, "0000").await;
    assert_eq!((s, code.as_str()), (403, "AccessDeniedException"), "{v}");
    assert!(!v.to_string().contains("4111111111"), "{v}");
    // Another account (other PinValidationData) under the same key is not affected.
    assert_eq!(verify(1, "1111").await.1, "VerificationFailedException");
    assert_eq!(verify(1, "0000").await.0, 200);
    // Bad input after the check (PinOffset of the wrong length) does not use up a try.
    for _ in 0..5 {
        assert_eq!(verify(1, "11111").await.1, "ValidationException");
    }
    assert_eq!(verify(1, "0000").await.0, 200);
    let m = api.metrics().await;
    assert_eq!(metric(&m, "paycrypt_pin_verification_failures_total"), 6);
    assert_eq!(metric(&m, "paycrypt_pin_try_limit_refusals_total"), 1);
}

#[tokio::test]
async fn pin_try_table_full_of_locked_pans_fails_closed() {
    // One subject per shard (16 shards): at most 16 PANs can be tracked. Limit 1: every PAN that
    // fails once is locked, so the table fills with locked entries that cannot be evicted. From
    // then on a new PAN must be refused (never verified uncounted).
    let api = Api::with_pin(PinPolicy::with_shard_capacity(None, 1, 0, 1).unwrap());
    let (pvk, _) = api
        .create_key(
            "TR31_V2_VISA_PIN_VERIFICATION_KEY",
            "TDES_2KEY",
            json!({"Generate": true, "Verify": true}),
        )
        .await;
    let (pek, _) = api
        .create_key(
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_2KEY",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
        )
        .await;
    let (block, pvv) = issue(&api, &pvk, &pek, PAN).await;
    // (The PVV is the issued PAN's: another PAN fails, except by a 1-in-10^4 chance under the
    // random keys; a success resets its entry, so it is counted apart.)
    let (mut failed, mut refused, mut verified) = (0u64, 0u64, 0u64);
    for i in 0..64u64 {
        let pan = format!("5{i:015}");
        let (s, code, v) = api
            .post(
                "/pindata/verify",
                None,
                &verify_visa(&pvk, &pek, &pan, &block, &pvv),
            )
            .await;
        match code.as_str() {
            "VerificationFailedException" => failed += 1,
            _ if s == 200 => verified += 1,
            "AccessDeniedException" => {
                assert_eq!(s, 403);
                assert!(!v.to_string().contains(&pan[..12]), "{v}");
                refused += 1;
            }
            _ => panic!("{s} {code} {v}"),
        }
    }
    assert!(failed <= 16, "{failed} PANs were tracked in a table of 16");
    assert_eq!(failed + refused + verified, 64);
    assert!(refused >= 64 - 16 - verified, "{refused}");
    // The issued PAN is new too: refused even with the right PIN while its shard is full.
    let (s, code, _) = api
        .post(
            "/pindata/verify",
            None,
            &verify_visa(&pvk, &pek, PAN, &block, &pvv),
        )
        .await;
    let extra = u64::from(code == "AccessDeniedException");
    assert!(s == 200 || s == 403, "{s} {code}");
    let m = api.metrics().await;
    assert_eq!(
        metric(&m, "paycrypt_pin_verification_failures_total"),
        failed
    );
    assert_eq!(
        metric(&m, "paycrypt_pin_try_limit_refusals_total"),
        refused + extra
    );
    assert_eq!(api.st.pin.refusals(), refused + extra);
}
