//! The key-use matrix (issue 7, item 1): every key-bearing member of every implemented data-plane
//! operation × every key type CreateKey accepts (AWS-API.md §3.3), plus disabled, stopped and
//! DELETE_PENDING keys, called THROUGH THE API: the axum router in-process, every request signed
//! with SigV4 (`auth::sign_request`), keys created with signed CreateKey calls.
//!
//! The expected outcome of each cell comes from the rules table in this file ([`rule`]), written
//! from AWS-API.md §3.4 (and §3.8/§3.9 for the DUKPT and PIN-block rules), never from
//! `policy.rs`. "Accepted" = the request got past key authorization: HTTP 200, or a
//! `VerificationFailedException` (the test data is arbitrary). "Refused" = a
//! `ValidationException` (docs/OPERATIONS.md: key-use refusals are ValidationException).
//!
//! To keep the key the only variable, the data of each request is made valid UNDER THE KEY BEING
//! TESTED whenever its material allows it (PIN blocks, DUKPT PIN blocks and RSA ciphertexts are
//! computed with paycrypt-core from the key's material, whatever its usage), so a wrongly
//! accepted key would not be hidden by a later data error. Refusals are also split into
//! "refused at key authorization" (the message names the key ARN) and "refused by a later
//! check" and both counts are printed.
//!
//! Readings of the documentation made here (each cited where used):
//! - `NoRestrictions` (TR-31 mode `N`) satisfies any mode requirement (§3.4 lists it explicitly for
//!   B0, D0 and P0; §3.3 lets every symmetric usage be created with it).
//! - GenerateMacEmvPinChange's integrity key (E2): §3.4 lists `{NoRestrictions}`; `{DeriveKey}` is
//!   accepted too (the only other set §3.3 allows for E2, the mode the same E2 key needs for
//!   GenerateMac `EmvMac`, and the mode §3.4 gives the SMC and ARQC keys of the same operation).
//! - HMAC: `HMAC_SHAxxx` fits an M7 key of exactly that hash or an M7 TDES/AES key (§3.3 allows
//!   those algorithms for M7); generic `HMAC` fits an M7 key of any HMAC_SHA* algorithm.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use paycrypt_core::card::Pan;
use paycrypt_core::cipher::{Algorithm, BlockCipher};
use paycrypt_core::dukpt::{aes as daes, tdes as dtdes};
use paycrypt_core::hex::encode;
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use serde_json::{json, Value};

const PAN: &str = "4111111111111111";
const PT: &str = "00112233445566778899AABBCCDDEEFF";
const KSN20: &str = "FFFF9876543210E00001";
const KSN24: &str = "123456789012345600000001";
const PIN: &str = "1234";

mod api_harness;
use api_harness::Api;

// ---------------------------------------------------------------- key types (AWS-API.md §3.3)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Usable,
    Disabled,
    Stopped,
    DeletePending,
}

#[derive(Debug, Clone)]
struct Kt {
    usage: &'static str,
    alg: &'static str,
    class: &'static str,
    /// TR-31 mode letter (§3.3 mapping): B={E,D,W,U} E={E,W} D={D,U} X={DeriveKey}
    /// N={NoRestrictions} G={Generate} V={Verify} C={G,V} S={Sign}.
    mode: char,
    state: St,
}

struct Key {
    kt: Kt,
    arn: String,
    material: Vec<u8>,
    spki: Option<Vec<u8>>,
}

const SYM: &[&str] = &["TDES_2KEY", "TDES_3KEY", "AES_128", "AES_192", "AES_256"];
const TDES: &[&str] = &["TDES_2KEY", "TDES_3KEY"];
const M7: &[&str] = &[
    "TDES_2KEY",
    "TDES_3KEY",
    "AES_128",
    "AES_192",
    "AES_256",
    "HMAC_SHA224",
    "HMAC_SHA256",
    "HMAC_SHA384",
    "HMAC_SHA512",
];

/// Every (usage, algorithm, class, mode set) of §3.3 that CreateKey accepts. RSA key pairs are
/// RSA_2048 only (RSA_3072/4096 generation costs seconds each in a debug build and the rules
/// of §3.4 do not distinguish RSA sizes); PUBLIC_KEY keys need a certificate import and are
/// not part of this matrix.
fn key_types() -> Vec<Kt> {
    let mut v = Vec::new();
    let mut add = |usage: &'static str, algs: &[&'static str], modes: &str, class: &'static str| {
        for &alg in algs {
            for mode in modes.chars() {
                v.push(Kt {
                    usage,
                    alg,
                    class,
                    mode,
                    state: St::Usable,
                });
            }
        }
    };
    let s = "SYMMETRIC_KEY";
    add("TR31_B0_BASE_DERIVATION_KEY", SYM, "XN", s);
    add("TR31_C0_CARD_VERIFICATION_KEY", SYM, "GVCN", s);
    add("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", SYM, "BEDN", s);
    for u in [
        "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
        "TR31_E2_EMV_MKEY_INTEGRITY",
        "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
        "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION",
        "TR31_E6_EMV_MKEY_OTHER",
    ] {
        add(u, SYM, "XN", s);
    }
    add("TR31_K0_KEY_ENCRYPTION_KEY", SYM, "BEDN", s);
    add("TR31_K1_KEY_BLOCK_PROTECTION_KEY", SYM, "BEDN", s);
    add("TR31_M1_ISO_9797_1_MAC_KEY", TDES, "GVCN", s);
    add("TR31_M3_ISO_9797_3_MAC_KEY", TDES, "GVCN", s);
    add("TR31_M6_ISO_9797_5_CMAC_KEY", SYM, "GVCN", s);
    add("TR31_M7_HMAC_KEY", M7, "GVCN", s);
    add("TR31_P0_PIN_ENCRYPTION_KEY", SYM, "BEDN", s);
    add("TR31_V1_IBM3624_PIN_VERIFICATION_KEY", SYM, "GVCN", s);
    add("TR31_V2_VISA_PIN_VERIFICATION_KEY", SYM, "GVCN", s);
    add("TR31_M0_ISO_16609_MAC_KEY", TDES, "GVC", s);
    let a = "ASYMMETRIC_KEY_PAIR";
    add(
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        &["RSA_2048"],
        "BED",
        a,
    );
    add(
        "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        &["RSA_2048"],
        "S",
        a,
    );
    add(
        "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        &["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"],
        "S",
        a,
    );
    add(
        "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
        &["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"],
        "X",
        a,
    );
    add("TR31_K2_TR34_ASYMMETRIC_KEY", &["RSA_2048"], "X", a);
    v
}

fn modes_json(m: char) -> Value {
    let mut o = serde_json::Map::new();
    let set: &[&str] = match m {
        'B' => &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        'E' => &["Encrypt", "Wrap"],
        'D' => &["Decrypt", "Unwrap"],
        'X' => &["DeriveKey"],
        'N' => &["NoRestrictions"],
        'G' => &["Generate"],
        'V' => &["Verify"],
        'C' => &["Generate", "Verify"],
        'S' => &["Sign"],
        _ => unreachable!(),
    };
    for f in set {
        o.insert((*f).into(), Value::Bool(true));
    }
    Value::Object(o)
}

/// Whether the key's mode set allows `want` (E, D, W, U, G, V, X, S); N allows everything.
fn mode(k: &Kt, want: char) -> bool {
    match k.mode {
        'N' => true,
        'B' => "EDWU".contains(want),
        'E' => "EW".contains(want),
        'D' => "DU".contains(want),
        'C' => "GV".contains(want),
        m => m == want,
    }
}

fn is_tdes(a: &str) -> bool {
    a.starts_with("TDES")
}
fn is_aes(a: &str) -> bool {
    a.starts_with("AES")
}

async fn create(api: &Api, kt: &Kt) -> Key {
    let v = api
        .cp(
            "CreateKey",
            json!({"KeyAttributes": {"KeyUsage": kt.usage, "KeyClass": kt.class, "KeyAlgorithm": kt.alg,
                   "KeyModesOfUse": modes_json(kt.mode)},
                   "Exportable": false, "Enabled": kt.state != St::Disabled}),
        )
        .await;
    let arn = v["Key"]["KeyArn"].as_str().unwrap().to_owned();
    // The test reads the material (to build data valid under this key) before the state changes.
    let loaded = api.st.store.key_for_use(&arn).unwrap();
    let material = loaded.material().to_vec();
    let spki = loaded.public_key_der();
    match kt.state {
        St::Stopped => {
            api.cp("StopKeyUsage", json!({"KeyIdentifier": arn})).await;
        }
        St::DeletePending => {
            let v = api
                .cp(
                    "DeleteKey",
                    json!({"KeyIdentifier": arn, "DeleteKeyInDays": 3}),
                )
                .await;
            assert_eq!(v["Key"]["KeyState"], "DELETE_PENDING");
        }
        _ => {}
    }
    Key {
        kt: kt.clone(),
        arn,
        material,
        spki,
    }
}

// ---------------------------------------------------------------- data valid under a key

fn cipher_for(k: &Key) -> Option<BlockCipher> {
    if is_tdes(k.kt.alg) {
        BlockCipher::tdes(&k.material).ok()
    } else if is_aes(k.kt.alg) {
        BlockCipher::aes(&k.material).ok()
    } else {
        None
    }
}

/// An ISO 0 or ISO 4 PIN block of [`PIN`] under the key's material, or arbitrary bytes of the
/// right length when the material cannot encrypt that format.
fn pin_block(k: &Key, iso4: bool) -> String {
    let (format, len) = if iso4 {
        (PinBlockFormat::ISO4, 32)
    } else {
        (PinBlockFormat::Iso0, 16)
    };
    cipher_for(k)
        .and_then(|c| {
            pinblock::encrypt_pin_block(
                &c,
                format,
                &Pin::new(PIN).unwrap(),
                Some(&Pan::new(PAN).unwrap()),
            )
            .ok()
        })
        .map_or_else(|| "A5".repeat(len / 2), |b| encode(&b))
}

/// A DUKPT PIN block (TDES: ISO 0 with KSN20; AES: ISO 4 with KSN24 and the derivation type of
/// the material's length) under the key's material taken as a BDK, or arbitrary bytes.
fn dukpt_pin_block(k: &Key, aes: bool) -> String {
    let pin = Pin::new(PIN).unwrap();
    let pan = Pan::new(PAN).unwrap();
    let r = if aes {
        let alg = match k.material.len() {
            16 => Some(Algorithm::Aes128),
            24 => Some(Algorithm::Aes192),
            32 => Some(Algorithm::Aes256),
            _ => None,
        };
        alg.and_then(|alg| {
            let ksn = daes::Ksn::from_hex(KSN24).ok()?;
            let wk =
                daes::working_key(&k.material, &ksn, daes::KeyUsage::PinEncryption, alg).ok()?;
            let c = BlockCipher::aes(wk.expose()).ok()?;
            pinblock::encrypt_pin_block(&c, PinBlockFormat::ISO4, &pin, Some(&pan)).ok()
        })
    } else {
        (|| {
            let ksn = dtdes::Ksn::from_hex(KSN20).ok()?;
            let ipek = dtdes::derive_ipek(&k.material, &ksn).ok()?;
            let clear = pinblock::encode_clear(PinBlockFormat::Iso0, &pin, Some(&pan)).ok()?;
            let clear: [u8; 8] = clear.expose().try_into().ok()?;
            dtdes::encrypt_pin_block(ipek.expose(), &ksn, &clear)
                .ok()
                .map(|b| b.to_vec())
        })()
    };
    r.map_or_else(|| "A5".repeat(if aes { 16 } else { 8 }), |b| encode(&b))
}

/// An RSA-OAEP-SHA256 ciphertext under the key's public key, or arbitrary bytes.
fn rsa_ciphertext(k: &Key) -> String {
    k.spki
        .as_ref()
        .filter(|_| k.kt.alg.starts_with("RSA"))
        .and_then(|spki| {
            paycrypt_core::asym::rsa_encrypt(
                spki,
                paycrypt_core::asym::RsaPadding::OaepSha256,
                &[0x11; 16],
                None,
            )
            .ok()
        })
        .map_or_else(|| "A5".repeat(256), |c| encode(&c))
}

// ---------------------------------------------------------------- the cells

/// Companion keys: valid for their own role, so that the key under test is the only variable.
struct Env {
    d0: Key,
    p0_tdes: Key,
    p0_aes: Key,
    v2: Key,
    e1: Key,
    e2: Key,
}

fn path(arn: &str, op: &str) -> String {
    format!("/keys/{}/{op}", arn.replace('/', "%2F"))
}

/// The rules table (AWS-API.md §3.4 unless noted): does the operation member accept this key?
/// (State is checked separately: only CREATE_COMPLETE enabled keys are usable, §3.11.)
fn rule(cell: &str, k: &Kt) -> bool {
    let (u, a) = (k.usage, k.alg);
    let tdes2 = a == "TDES_2KEY";
    let b0 = u == "TR31_B0_BASE_DERIVATION_KEY" && mode(k, 'X');
    let p0 = u == "TR31_P0_PIN_ENCRYPTION_KEY";
    match cell {
        // Encrypt/Decrypt symmetric: D0, TDES_2KEY/3KEY or AES; encrypt {E,W}, decrypt {D,U}.
        "EncryptData/Symmetric" | "ReEncryptData/Outgoing" => {
            u == "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
                && (is_tdes(a) || is_aes(a))
                && mode(k, 'E')
        }
        "DecryptData/Symmetric" | "ReEncryptData/Incoming" => {
            u == "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
                && (is_tdes(a) || is_aes(a))
                && mode(k, 'D')
        }
        // DUKPT: B0, TDES_2KEY or AES, {DeriveKey}; §3.8: TDES DUKPT KSN 20 hex, AES DUKPT 24 hex.
        "EncryptData/Dukpt/KSN20"
        | "DecryptData/Dukpt/KSN20"
        | "GenerateMac/DukptIso9797Algorithm3/KSN20"
        | "VerifyMac/DukptIso9797Algorithm3/KSN20"
        | "VerifyPinData/Encryption/Dukpt/KSN20"
        | "TranslatePinData/Incoming/Dukpt/KSN20"
        | "TranslatePinData/Outgoing/Dukpt/KSN20" => b0 && tdes2,
        "EncryptData/Dukpt/KSN24"
        | "DecryptData/Dukpt/KSN24"
        | "GenerateMac/DukptCmac/KSN24"
        | "VerifyMac/DukptCmac/KSN24"
        | "VerifyPinData/Encryption/Dukpt/KSN24"
        | "TranslatePinData/Incoming/Dukpt/KSN24"
        | "TranslatePinData/Outgoing/Dukpt/KSN24" => b0 && is_aes(a),
        // EMV encryption: E1 or E6, TDES_2KEY, {DeriveKey}.
        "EncryptData/Emv" | "DecryptData/Emv" => {
            matches!(
                u,
                "TR31_E1_EMV_MKEY_CONFIDENTIALITY" | "TR31_E6_EMV_MKEY_OTHER"
            ) && tdes2
                && mode(k, 'X')
        }
        // RSA: D1; encrypt {E,W}, decrypt {D,U}.
        "EncryptData/Asymmetric" => {
            u == "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION"
                && a.starts_with("RSA")
                && mode(k, 'E')
        }
        "DecryptData/Asymmetric" => {
            u == "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION"
                && a.starts_with("RSA")
                && mode(k, 'D')
        }
        // MAC: M1 TDES ALG1, M3 TDES ALG3, M6 TDES/AES CMAC, M7 HMAC, M0 TDES AS2805_4_1.
        c if c.starts_with("GenerateMac/Algorithm/") || c.starts_with("VerifyMac/Algorithm/") => {
            let want = if c.starts_with("Generate") { 'G' } else { 'V' };
            let alg = c.rsplit('/').next().unwrap();
            let ok = match alg {
                "ISO9797_ALGORITHM1" => u == "TR31_M1_ISO_9797_1_MAC_KEY" && is_tdes(a),
                "ISO9797_ALGORITHM3" => u == "TR31_M3_ISO_9797_3_MAC_KEY" && is_tdes(a),
                "CMAC" => u == "TR31_M6_ISO_9797_5_CMAC_KEY" && (is_tdes(a) || is_aes(a)),
                "AS2805_4_1" => u == "TR31_M0_ISO_16609_MAC_KEY" && is_tdes(a),
                "HMAC" => u == "TR31_M7_HMAC_KEY" && a.starts_with("HMAC_"),
                h => u == "TR31_M7_HMAC_KEY" && (a == h || is_tdes(a) || is_aes(a)),
            };
            ok && mode(k, want)
        }
        // EMV MAC and the PIN-change integrity key: E2, TDES_2KEY (see the module note).
        "GenerateMac/EmvMac" | "VerifyMac/EmvMac" | "GenerateMacEmvPinChange/Integrity" => {
            u == "TR31_E2_EMV_MKEY_INTEGRITY" && tdes2 && mode(k, 'X')
        }
        "GenerateMacEmvPinChange/Confidentiality" => {
            u == "TR31_E1_EMV_MKEY_CONFIDENTIALITY" && tdes2 && mode(k, 'X')
        }
        // New-PIN PEK: P0 decrypt-capable; the PIN block of this operation is 8 bytes (ISO 0),
        // and AES keys only support ISO 4 (§3.9), so TDES only.
        "GenerateMacEmvPinChange/NewPinPek" => p0 && is_tdes(a) && mode(k, 'D'),
        // ARQC: E0, TDES_2KEY, {DeriveKey} (also the PIN-change ARQC key, Visa/Amex).
        "VerifyAuthRequestCryptogram"
        | "GenerateAuthRequestCryptogram"
        | "GenerateMacEmvPinChange/AuthorizationRequestKey" => {
            u == "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS" && tdes2 && mode(k, 'X')
        }
        // Card data: CVV/CVV2 C0 TDES_2KEY only; dCVV E6 / dCVC E4 TDES_2KEY {DeriveKey}.
        "GenerateCardValidationData/CVV1" | "GenerateCardValidationData/CVV2" => {
            u == "TR31_C0_CARD_VERIFICATION_KEY" && tdes2 && mode(k, 'G')
        }
        "VerifyCardValidationData/CVV1" | "VerifyCardValidationData/CVV2" => {
            u == "TR31_C0_CARD_VERIFICATION_KEY" && tdes2 && mode(k, 'V')
        }
        "GenerateCardValidationData/dCVV" | "VerifyCardValidationData/dCVV" => {
            u == "TR31_E6_EMV_MKEY_OTHER" && tdes2 && mode(k, 'X')
        }
        "GenerateCardValidationData/dCVC" | "VerifyCardValidationData/dCVC" => {
            u == "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS" && tdes2 && mode(k, 'X')
        }
        // PIN generation/verification keys: V2 TDES (Visa), V1 TDES_3KEY (IBM 3624).
        "GeneratePinData/Generation/VisaPin" => {
            u == "TR31_V2_VISA_PIN_VERIFICATION_KEY" && is_tdes(a) && mode(k, 'G')
        }
        "GeneratePinData/Generation/Ibm3624NaturalPin" => {
            u == "TR31_V1_IBM3624_PIN_VERIFICATION_KEY" && a == "TDES_3KEY" && mode(k, 'G')
        }
        "VerifyPinData/Verification/VisaPin" => {
            u == "TR31_V2_VISA_PIN_VERIFICATION_KEY" && is_tdes(a) && mode(k, 'V')
        }
        "VerifyPinData/Verification/Ibm3624Pin" => {
            u == "TR31_V1_IBM3624_PIN_VERIFICATION_KEY" && a == "TDES_3KEY" && mode(k, 'V')
        }
        // PEKs: P0; encrypt {E,W}, decrypt {D,U}; ISO 0 needs a TDES key and AES keys support
        // only ISO 4 (§3.9; ISO 4 is a 16-byte AES block).
        "GeneratePinData/Encryption/VisaPin/ISO0" | "TranslatePinData/Outgoing/P0/ISO0" => {
            p0 && is_tdes(a) && mode(k, 'E')
        }
        "GeneratePinData/Encryption/VisaPin/ISO4" | "TranslatePinData/Outgoing/P0/ISO4" => {
            p0 && is_aes(a) && mode(k, 'E')
        }
        "GeneratePinData/Encryption/VisaPvv/ISO0"
        | "VerifyPinData/Encryption/P0/ISO0"
        | "TranslatePinData/Incoming/P0/ISO0" => p0 && is_tdes(a) && mode(k, 'D'),
        "GeneratePinData/Encryption/VisaPvv/ISO4"
        | "VerifyPinData/Encryption/P0/ISO4"
        | "TranslatePinData/Incoming/P0/ISO4" => p0 && is_aes(a) && mode(k, 'D'),
        other => panic!("no rule for {other}"),
    }
}

const MAC_ALGS: &[&str] = &[
    "ISO9797_ALGORITHM1",
    "ISO9797_ALGORITHM3",
    "CMAC",
    "HMAC",
    "HMAC_SHA224",
    "HMAC_SHA256",
    "HMAC_SHA384",
    "HMAC_SHA512",
    "AS2805_4_1",
];

fn cell_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "EncryptData/Symmetric",
        "DecryptData/Symmetric",
        "EncryptData/Dukpt/KSN20",
        "EncryptData/Dukpt/KSN24",
        "DecryptData/Dukpt/KSN20",
        "DecryptData/Dukpt/KSN24",
        "EncryptData/Emv",
        "DecryptData/Emv",
        "EncryptData/Asymmetric",
        "DecryptData/Asymmetric",
        "ReEncryptData/Incoming",
        "ReEncryptData/Outgoing",
        "GenerateMac/DukptIso9797Algorithm3/KSN20",
        "VerifyMac/DukptIso9797Algorithm3/KSN20",
        "GenerateMac/DukptCmac/KSN24",
        "VerifyMac/DukptCmac/KSN24",
        "GenerateMac/EmvMac",
        "VerifyMac/EmvMac",
        "GenerateAuthRequestCryptogram",
        "VerifyAuthRequestCryptogram",
        "GenerateCardValidationData/CVV1",
        "GenerateCardValidationData/CVV2",
        "GenerateCardValidationData/dCVV",
        "GenerateCardValidationData/dCVC",
        "VerifyCardValidationData/CVV1",
        "VerifyCardValidationData/CVV2",
        "VerifyCardValidationData/dCVV",
        "VerifyCardValidationData/dCVC",
        "GenerateMacEmvPinChange/NewPinPek",
        "GenerateMacEmvPinChange/Integrity",
        "GenerateMacEmvPinChange/Confidentiality",
        "GenerateMacEmvPinChange/AuthorizationRequestKey",
        "GeneratePinData/Generation/VisaPin",
        "GeneratePinData/Generation/Ibm3624NaturalPin",
        "GeneratePinData/Encryption/VisaPin/ISO0",
        "GeneratePinData/Encryption/VisaPin/ISO4",
        "GeneratePinData/Encryption/VisaPvv/ISO0",
        "GeneratePinData/Encryption/VisaPvv/ISO4",
        "VerifyPinData/Verification/VisaPin",
        "VerifyPinData/Verification/Ibm3624Pin",
        "VerifyPinData/Encryption/P0/ISO0",
        "VerifyPinData/Encryption/P0/ISO4",
        "VerifyPinData/Encryption/Dukpt/KSN20",
        "VerifyPinData/Encryption/Dukpt/KSN24",
        "TranslatePinData/Incoming/P0/ISO0",
        "TranslatePinData/Incoming/P0/ISO4",
        "TranslatePinData/Outgoing/P0/ISO0",
        "TranslatePinData/Outgoing/P0/ISO4",
        "TranslatePinData/Incoming/Dukpt/KSN20",
        "TranslatePinData/Incoming/Dukpt/KSN24",
        "TranslatePinData/Outgoing/Dukpt/KSN20",
        "TranslatePinData/Outgoing/Dukpt/KSN24",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for a in MAC_ALGS {
        v.push(format!("GenerateMac/Algorithm/{a}"));
        v.push(format!("VerifyMac/Algorithm/{a}"));
    }
    v
}

const IBM: &str = r#"{"DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F", "PinValidationData": "4111111111"}"#;

/// The request of `cell` with the key under test `k` in the member the cell names.
fn request(cell: &str, env: &Env, k: &Key) -> (String, Value) {
    let arn = k.arn.as_str();
    let emv_session = json!({"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": "1234567890123456",
        "PanSequenceNumber": "00", "SessionDerivationData": "001C000000000000", "Mode": "ECB"});
    let emv_mac = json!({"EmvMac": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": "1234567890123456",
        "PanSequenceNumber": "00", "SessionKeyDerivationMode": "VISA",
        "SessionKeyDerivationValue": {"ApplicationTransactionCounter": "001C"}}});
    let arqc = json!({"KeyIdentifier": arn,
        "TransactionData": "00000000999900000000000001248000000000012420990600ABCDEF121800001CA0000322000080",
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "SessionKeyDerivationAttributes": {"Visa": {"PrimaryAccountNumber": "1234567890123456", "PanSequenceNumber": "00"}}});
    let card = |scheme: &str| -> Value {
        match scheme {
            "CVV1" => {
                json!({"CardVerificationValue1": {"CardExpiryDate": "9912", "ServiceCode": "220"}})
            }
            "CVV2" => json!({"CardVerificationValue2": {"CardExpiryDate": "9912"}}),
            "dCVV" => {
                json!({"DynamicCardVerificationValue": {"PanSequenceNumber": "00", "CardExpiryDate": "9912",
                "ServiceCode": "220", "ApplicationTransactionCounter": "005E"}})
            }
            _ => {
                json!({"DynamicCardVerificationCode": {"UnpredictableNumber": "00000899", "PanSequenceNumber": "00",
                "ApplicationTransactionCounter": "005E", "TrackData": "5123456789012345D35121010000000000000F"}})
            }
        }
    };
    let ibm: Value = serde_json::from_str(IBM).unwrap();
    let parts: Vec<&str> = cell.split('/').collect();
    match parts.as_slice() {
        ["EncryptData", "Symmetric"] => (
            path(arn, "encrypt"),
            json!({"PlainText": PT, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
        ),
        ["DecryptData", "Symmetric"] => (
            path(arn, "decrypt"),
            json!({"CipherText": PT, "DecryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
        ),
        [op @ ("EncryptData" | "DecryptData"), "Dukpt", ksn] => {
            let ksn = if *ksn == "KSN20" { KSN20 } else { KSN24 };
            let attrs = json!({"Dukpt": {"KeySerialNumber": ksn, "Mode": "ECB"}});
            if *op == "EncryptData" {
                (
                    path(arn, "encrypt"),
                    json!({"PlainText": PT, "EncryptionAttributes": attrs}),
                )
            } else {
                (
                    path(arn, "decrypt"),
                    json!({"CipherText": PT, "DecryptionAttributes": attrs}),
                )
            }
        }
        ["EncryptData", "Emv"] => (
            path(arn, "encrypt"),
            json!({"PlainText": PT, "EncryptionAttributes": {"Emv": emv_session}}),
        ),
        ["DecryptData", "Emv"] => (
            path(arn, "decrypt"),
            json!({"CipherText": PT, "DecryptionAttributes": {"Emv": emv_session}}),
        ),
        ["EncryptData", "Asymmetric"] => (
            path(arn, "encrypt"),
            json!({"PlainText": "0011223344556677", "EncryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}}),
        ),
        ["DecryptData", "Asymmetric"] => (
            path(arn, "decrypt"),
            json!({"CipherText": rsa_ciphertext(k), "DecryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}}),
        ),
        ["ReEncryptData", "Incoming"] => (
            path(arn, "reencrypt"),
            json!({"OutgoingKeyIdentifier": env.d0.arn, "CipherText": PT,
                   "IncomingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}},
                   "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
        ),
        ["ReEncryptData", "Outgoing"] => (
            path(&env.d0.arn, "reencrypt"),
            json!({"OutgoingKeyIdentifier": arn, "CipherText": PT,
                   "IncomingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}},
                   "OutgoingEncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}),
        ),
        [op @ ("GenerateMac" | "VerifyMac"), kind, rest @ ..] => {
            let attrs = match (*kind, rest) {
                ("Algorithm", [alg]) => json!({"Algorithm": alg}),
                ("DukptIso9797Algorithm3", _) => {
                    json!({"DukptIso9797Algorithm3": {"KeySerialNumber": KSN20, "DukptKeyVariant": "BIDIRECTIONAL"}})
                }
                ("DukptCmac", _) => {
                    json!({"DukptCmac": {"KeySerialNumber": KSN24, "DukptKeyVariant": "BIDIRECTIONAL"}})
                }
                _ => emv_mac,
            };
            if *op == "GenerateMac" {
                (
                    "/mac/generate".into(),
                    json!({"KeyIdentifier": arn, "MessageData": PT, "GenerationAttributes": attrs}),
                )
            } else {
                (
                    "/mac/verify".into(),
                    json!({"KeyIdentifier": arn, "MessageData": PT, "Mac": "0011223344556677", "VerificationAttributes": attrs}),
                )
            }
        }
        ["GenerateAuthRequestCryptogram"] => ("/cryptogram/generate".into(), arqc),
        ["VerifyAuthRequestCryptogram"] => {
            let mut r = arqc;
            r["AuthRequestCryptogram"] = json!("24CCF3DEE3158C71");
            ("/cryptogram/verify".into(), r)
        }
        ["GenerateCardValidationData", s] => (
            "/cardvalidationdata/generate".into(),
            json!({"KeyIdentifier": arn, "PrimaryAccountNumber": "5123456789012345", "GenerationAttributes": card(s)}),
        ),
        ["VerifyCardValidationData", s] => (
            "/cardvalidationdata/verify".into(),
            json!({"KeyIdentifier": arn, "PrimaryAccountNumber": "5123456789012345", "VerificationAttributes": card(s),
                   "ValidationData": "123"}),
        ),
        ["GenerateMacEmvPinChange", member] => {
            let new_pek = if *member == "NewPinPek" {
                k
            } else {
                &env.p0_tdes
            };
            let mut r = json!({
                "NewPinPekIdentifier": new_pek.arn,
                "NewEncryptedPinBlock": pin_block(new_pek, false),
                "PinBlockFormat": "ISO_FORMAT_0",
                "SecureMessagingIntegrityKeyIdentifier": if *member == "Integrity" { arn } else { &env.e2.arn },
                "SecureMessagingConfidentialityKeyIdentifier": if *member == "Confidentiality" { arn } else { &env.e1.arn },
                "MessageData": "8424000210001C24CCF3DEE3158C70",
                "DerivationMethodAttributes": {"Mastercard": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": PAN,
                    "PanSequenceNumber": "00", "ApplicationCryptogram": "24CCF3DEE3158C70"}},
            });
            if *member == "AuthorizationRequestKey" {
                r["MessageData"] = json!("8424000218001C29CCA15AE665FA2E");
                r["DerivationMethodAttributes"] = json!({"Visa": {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": PAN,
                    "PanSequenceNumber": "00", "ApplicationTransactionCounter": "001C", "AuthorizationRequestKeyIdentifier": arn}});
            }
            ("/macemvpinchange/generate".into(), r)
        }
        ["GeneratePinData", "Generation", scheme] => {
            let attrs = if *scheme == "VisaPin" {
                json!({"VisaPin": {"PinVerificationKeyIndex": 1}})
            } else {
                json!({"Ibm3624NaturalPin": ibm})
            };
            (
                "/pindata/generate".into(),
                json!({"GenerationKeyIdentifier": arn, "EncryptionKeyIdentifier": env.p0_tdes.arn,
                       "GenerationAttributes": attrs, "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"}),
            )
        }
        ["GeneratePinData", "Encryption", scheme, fmt] => {
            let iso4 = *fmt == "ISO4";
            let attrs = if *scheme == "VisaPin" {
                json!({"VisaPin": {"PinVerificationKeyIndex": 1}})
            } else {
                json!({"VisaPinVerificationValue": {"EncryptedPinBlock": pin_block(k, iso4), "PinVerificationKeyIndex": 1}})
            };
            (
                "/pindata/generate".into(),
                json!({"GenerationKeyIdentifier": env.v2.arn, "EncryptionKeyIdentifier": arn,
                       "GenerationAttributes": attrs, "PrimaryAccountNumber": PAN,
                       "PinBlockFormat": if iso4 { "ISO_FORMAT_4" } else { "ISO_FORMAT_0" }}),
            )
        }
        ["VerifyPinData", "Verification", scheme] => {
            let attrs = if *scheme == "VisaPin" {
                json!({"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": "0000"}})
            } else {
                let mut i = ibm;
                i["PinOffset"] = json!("0000");
                json!({"Ibm3624Pin": i})
            };
            (
                "/pindata/verify".into(),
                json!({"VerificationKeyIdentifier": arn, "EncryptionKeyIdentifier": env.p0_tdes.arn,
                       "VerificationAttributes": attrs, "EncryptedPinBlock": pin_block(&env.p0_tdes, false),
                       "PrimaryAccountNumber": PAN, "PinBlockFormat": "ISO_FORMAT_0"}),
            )
        }
        ["VerifyPinData", "Encryption", kind, v] => {
            let iso4 = matches!(*v, "ISO4" | "KSN24");
            let mut r = json!({"VerificationKeyIdentifier": env.v2.arn, "EncryptionKeyIdentifier": arn,
                "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": "0000"}},
                "PrimaryAccountNumber": PAN, "PinBlockFormat": if iso4 { "ISO_FORMAT_4" } else { "ISO_FORMAT_0" }});
            if *kind == "Dukpt" {
                r["EncryptedPinBlock"] = json!(dukpt_pin_block(k, iso4));
                r["DukptAttributes"] = json!({"KeySerialNumber": if iso4 { KSN24 } else { KSN20 },
                    "DukptDerivationType": if iso4 { "AES_128" } else { "TDES_2KEY" }});
            } else {
                r["EncryptedPinBlock"] = json!(pin_block(k, iso4));
            }
            ("/pindata/verify".into(), r)
        }
        ["TranslatePinData", side, kind, v] => {
            let iso4 = matches!(*v, "ISO4" | "KSN24");
            let fmt = if iso4 {
                json!({"IsoFormat4": {"PrimaryAccountNumber": PAN}})
            } else {
                json!({"IsoFormat0": {"PrimaryAccountNumber": PAN}})
            };
            let companion = if iso4 { &env.p0_aes } else { &env.p0_tdes };
            let dukpt = json!({"KeySerialNumber": if iso4 { KSN24 } else { KSN20 }});
            let mut r =
                json!({"IncomingTranslationAttributes": fmt, "OutgoingTranslationAttributes": fmt});
            if *side == "Incoming" {
                r["IncomingKeyIdentifier"] = json!(arn);
                r["OutgoingKeyIdentifier"] = json!(companion.arn);
                if *kind == "Dukpt" {
                    r["EncryptedPinBlock"] = json!(dukpt_pin_block(k, iso4));
                    r["IncomingDukptAttributes"] = dukpt;
                } else {
                    r["EncryptedPinBlock"] = json!(pin_block(k, iso4));
                }
            } else {
                r["IncomingKeyIdentifier"] = json!(companion.arn);
                r["OutgoingKeyIdentifier"] = json!(arn);
                r["EncryptedPinBlock"] = json!(pin_block(companion, iso4));
                if *kind == "Dukpt" {
                    r["OutgoingDukptAttributes"] = dukpt;
                }
            }
            ("/pindata/translate".into(), r)
        }
        _ => panic!("no request for {cell}"),
    }
}

#[derive(Default, Debug)]
struct Counts {
    tested: usize,
    accepted: usize,
    refused_at_key: usize,
    refused_later: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_use_matrix() {
    let started = std::time::Instant::now();
    let api = Api::new();
    let ok = |usage, alg, mode| Kt {
        usage,
        alg,
        class: "SYMMETRIC_KEY",
        mode,
        state: St::Usable,
    };
    let env = Env {
        d0: create(
            &api,
            &ok("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", 'B'),
        )
        .await,
        p0_tdes: create(&api, &ok("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", 'B')).await,
        p0_aes: create(&api, &ok("TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", 'B')).await,
        v2: create(
            &api,
            &ok("TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", 'C'),
        )
        .await,
        e1: create(
            &api,
            &ok("TR31_E1_EMV_MKEY_CONFIDENTIALITY", "TDES_2KEY", 'X'),
        )
        .await,
        e2: create(&api, &ok("TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", 'X')).await,
    };

    // Every key type of §3.3, usable; and for each (usage, algorithm) its broadest mode set
    // again as a disabled, a stopped and a DELETE_PENDING key.
    let types = key_types();
    let mut keys = Vec::new();
    for kt in &types {
        keys.push(create(&api, kt).await);
    }
    let n_types = keys.len();
    // (Only for the (usage, algorithm) pairs some operation member accepts: for the others the
    // usable key is already refused everywhere.)
    let cells = cell_names();
    let mut seen = std::collections::HashSet::new();
    for kt in types.iter().rev() {
        if cells.iter().any(|c| rule(c, kt)) && seen.insert((kt.usage, kt.alg)) {
            for state in [St::Disabled, St::Stopped, St::DeletePending] {
                let mut t = kt.clone();
                t.state = state;
                keys.push(create(&api, &t).await);
            }
        }
    }
    let setup = started.elapsed();

    // Two workers, each taking every other operation member.
    let shared = Arc::new((api, env, keys));
    let mut tasks = Vec::new();
    for part in 0..2usize {
        let shared = Arc::clone(&shared);
        let mine: Vec<String> = cells.iter().skip(part).step_by(2).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let (api, env, keys) = &*shared;
            let mut counts = Counts::default();
            let mut wrong = Vec::new();
            let mut per_cell = Vec::new();
            for cell in &mine {
                let mut accepted_here = 0;
                let mut later_here = 0;
                for k in keys {
                    let expect = k.kt.state == St::Usable && rule(cell, &k.kt);
                    let (p, body) = request(cell, env, k);
                    let (status, code, v) = api.post(&p, None, &body).await;
                    counts.tested += 1;
                    let accepted = status == 200 || code == "VerificationFailedException";
                    let refused = status == 400 && code == "ValidationException";
                    let msg = v["message"].as_str().unwrap_or("").to_owned();
                    if accepted {
                        counts.accepted += 1;
                        accepted_here += 1;
                    } else if refused && msg.contains(&k.arn) {
                        counts.refused_at_key += 1;
                    } else if refused {
                        counts.refused_later += 1;
                        later_here += 1;
                    }
                    if (expect && !accepted) || (!expect && !refused) {
                        wrong.push(format!(
                            "{cell} × {} {} {} mode {} {:?}: expected {}, got {status} {code} {msg}",
                            k.kt.usage,
                            k.kt.alg,
                            k.kt.class,
                            k.kt.mode,
                            k.kt.state,
                            if expect { "accepted" } else { "refused" },
                        ));
                    }
                }
                per_cell.push(format!(
                    "{cell}: {accepted_here} accepted, {later_here} refused by a later check"
                ));
            }
            (counts, wrong, per_cell)
        }));
    }
    let mut counts = Counts::default();
    let mut wrong = Vec::new();
    let mut per_cell = Vec::new();
    for t in tasks {
        let (c, w, p) = t.await.unwrap();
        counts.tested += c.tested;
        counts.accepted += c.accepted;
        counts.refused_at_key += c.refused_at_key;
        counts.refused_later += c.refused_later;
        wrong.extend(w);
        per_cell.extend(p);
    }
    let keys = &shared.2;
    println!(
        "key-use matrix: {} operation members × {} keys ({} usable key types + {} disabled/stopped/DELETE_PENDING) = {} cells; \
         accepted {}, refused {} (at key authorization {}, by a later check {}); setup {:.1?}, total {:.1?}",
        cells.len(),
        keys.len(),
        n_types,
        keys.len() - n_types,
        counts.tested,
        counts.accepted,
        counts.refused_at_key + counts.refused_later,
        counts.refused_at_key,
        counts.refused_later,
        setup,
        started.elapsed()
    );
    for c in &per_cell {
        println!("  {c}");
    }
    assert!(
        wrong.is_empty(),
        "{} cells disagree with the rules table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Every cell has at least one key it accepts (the rules table is not vacuous).
    assert!(
        per_cell.iter().all(|c| !c.contains(": 0 accepted")),
        "{per_cell:#?}"
    );
}
