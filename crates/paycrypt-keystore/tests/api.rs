//! Control-plane and data-plane behaviour of the store (in-memory backend).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycrypt_core::cipher::BlockCipher;
use paycrypt_keystore::model::*;
use paycrypt_keystore::{validate, Store, StoreError, MAX_ALIASES, MAX_KEYS};

fn store() -> Store {
    Store::open_in_memory(REGION, ACCOUNT).unwrap()
}

fn is_validation<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Validation(_)))
}

#[test]
fn create_key_tdes_bdk() {
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let prefix = format!("arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/");
    let id = k.key_arn.strip_prefix(&prefix).unwrap();
    assert_eq!(id.len(), 16);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(k.key_state, KeyState::CreateComplete);
    assert_eq!(k.key_origin, KeyOrigin::AwsPaymentCryptography);
    assert!(k.enabled);
    assert!(k.exportable);
    assert_eq!(k.usage_start_timestamp, Some(k.create_timestamp));
    assert!(k.create_timestamp > 1.7e9);
    assert_eq!(
        k.key_check_value_algorithm,
        KeyCheckValueAlgorithm::AnsiX9_24
    );
    assert_eq!(k.key_check_value.len(), 6);
    let lk = s.key_for_use(&k.key_arn).unwrap();
    assert_eq!(lk.key, k);
    let m = lk.material();
    assert_eq!(m.len(), 16);
    // Odd parity, halves differ, KCV matches.
    assert!(m.iter().all(|b| b.count_ones() % 2 == 1));
    assert_ne!(m[..8], m[8..]);
    let kcv = paycrypt_core::kcv::ansi_x9_24(&BlockCipher::tdes(m).unwrap(), 3).unwrap();
    assert_eq!(paycrypt_core::hex::encode(&kcv), k.key_check_value);
    // Debug never shows material.
    let dbg = format!("{lk:?}");
    assert!(dbg.contains("REDACTED"));
    assert!(!dbg.contains(&paycrypt_core::hex::encode(m)));
    assert_eq!(s.get_key(&k.key_arn).unwrap(), k);
}

#[test]
fn create_key_kcv_defaults_and_choices() {
    let s = store();
    let aes = s
        .create_key(create_req(
            KeyUsage::K1KeyBlockProtectionKey,
            KeyAlgorithm::Aes256,
            'B',
        ))
        .unwrap();
    assert_eq!(aes.key_check_value_algorithm, KeyCheckValueAlgorithm::Cmac);
    let m = s.key_for_use(&aes.key_arn).unwrap();
    assert_eq!(m.material().len(), 32);
    let kcv = paycrypt_core::kcv::cmac_kcv(&BlockCipher::aes(m.material()).unwrap(), 3).unwrap();
    assert_eq!(paycrypt_core::hex::encode(&kcv), aes.key_check_value);

    let hmac = s
        .create_key(create_req(
            KeyUsage::M7HmacKey,
            KeyAlgorithm::HmacSha384,
            'C',
        ))
        .unwrap();
    assert_eq!(hmac.key_check_value_algorithm, KeyCheckValueAlgorithm::Hmac);
    let m = s.key_for_use(&hmac.key_arn).unwrap();
    assert_eq!(m.material().len(), 48);
    let kcv =
        paycrypt_core::kcv::hmac_kcv(paycrypt_core::mac::HashAlgorithm::Sha384, m.material(), 3)
            .unwrap();
    assert_eq!(paycrypt_core::hex::encode(&kcv), hmac.key_check_value);

    // CMAC KCV on a TDES key is allowed; HMAC KCV on AES / SHA_1 on symmetric are not.
    let mut r = create_req(KeyUsage::P0PinEncryptionKey, KeyAlgorithm::Tdes3Key, 'B');
    r.key_check_value_algorithm = Some(KeyCheckValueAlgorithm::Cmac);
    let k = s.create_key(r).unwrap();
    let m = s.key_for_use(&k.key_arn).unwrap();
    let kcv = paycrypt_core::kcv::cmac_kcv(&BlockCipher::tdes(m.material()).unwrap(), 3).unwrap();
    assert_eq!(paycrypt_core::hex::encode(&kcv), k.key_check_value);
    for (alg, kcv) in [
        (KeyAlgorithm::Aes128, KeyCheckValueAlgorithm::Hmac),
        (KeyAlgorithm::Aes128, KeyCheckValueAlgorithm::Sha1),
        (KeyAlgorithm::Tdes2Key, KeyCheckValueAlgorithm::Hmac),
    ] {
        let mut r = create_req(KeyUsage::D0SymmetricDataEncryptionKey, alg, 'B');
        r.key_check_value_algorithm = Some(kcv);
        assert!(is_validation(s.create_key(r)));
    }
    let mut r = create_req(KeyUsage::M7HmacKey, KeyAlgorithm::HmacSha256, 'G');
    r.key_check_value_algorithm = Some(KeyCheckValueAlgorithm::Cmac);
    assert!(is_validation(s.create_key(r)));
}

#[test]
fn create_disabled_and_tags() {
    let s = store();
    let mut r = bdk();
    r.enabled = Some(false);
    r.exportable = false;
    r.tags = vec![
        Tag {
            key: "b".into(),
            value: "2".into(),
        },
        Tag {
            key: "a".into(),
            value: "".into(),
        },
    ];
    let k = s.create_key(r).unwrap();
    assert!(!k.enabled);
    assert!(!k.exportable);
    assert_eq!(k.usage_start_timestamp, None);
    let (tags, next) = s.list_tags_for_resource(&k.key_arn, None, None).unwrap();
    assert_eq!(next, None);
    assert_eq!(
        tags.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // Duplicate tag keys / bad tags are refused.
    let mut r = bdk();
    r.tags = vec![
        Tag {
            key: "a".into(),
            value: "1".into(),
        },
        Tag {
            key: "a".into(),
            value: "2".into(),
        },
    ];
    assert!(is_validation(s.create_key(r)));
    let mut r = bdk();
    r.tags = (0..201)
        .map(|i| Tag {
            key: format!("k{i}"),
            value: String::new(),
        })
        .collect();
    assert!(is_validation(s.create_key(r)));
}

/// The AWS "valid key attributes" table (AWS-API.md §3.3), written out independently of the
/// store's own encoding: (usage, allowed algorithms, allowed TR-31 mode letters).
fn aws_table(u: KeyUsage) -> (Vec<KeyAlgorithm>, &'static str) {
    use KeyAlgorithm as A;
    use KeyUsage as U;
    let tdes = vec![A::Tdes2Key, A::Tdes3Key];
    let sym = vec![A::Tdes2Key, A::Tdes3Key, A::Aes128, A::Aes192, A::Aes256];
    let rsa = vec![A::Rsa2048, A::Rsa3072, A::Rsa4096];
    let ecc = vec![A::EccNistP256, A::EccNistP384, A::EccNistP521];
    match u {
        U::B0BaseDerivationKey => (sym, "XN"),
        U::C0CardVerificationKey => (sym, "GVCN"),
        U::D0SymmetricDataEncryptionKey => (sym, "BEDN"),
        U::E0EmvMkeyAppCryptograms
        | U::E1EmvMkeyConfidentiality
        | U::E2EmvMkeyIntegrity
        | U::E4EmvMkeyDynamicNumbers
        | U::E5EmvMkeyCardPersonalization
        | U::E6EmvMkeyOther => (sym, "XN"),
        U::K0KeyEncryptionKey | U::K1KeyBlockProtectionKey => (sym, "BEDN"),
        U::M1Iso9797_1MacKey | U::M3Iso9797_3MacKey => (tdes, "GVCN"),
        U::M6Iso9797_5CmacKey => (sym, "GVCN"),
        U::M7HmacKey => {
            let mut v = sym;
            v.extend([A::HmacSha224, A::HmacSha256, A::HmacSha384, A::HmacSha512]);
            (v, "GVCN")
        }
        U::P0PinEncryptionKey => (sym, "BEDN"),
        U::V1Ibm3624PinVerificationKey | U::V2VisaPinVerificationKey => (sym, "GVCN"),
        U::D1AsymmetricKeyForDataEncryption => (rsa, "BED"),
        U::S0AsymmetricKeyForDigitalSignature => {
            let mut v = rsa;
            v.extend(ecc);
            (v, "SV")
        }
        U::K3AsymmetricKeyForKeyAgreement => (ecc, "X"),
        U::K2Tr34AsymmetricKey => (rsa, "XBED"),
        U::M0Iso16609MacKey => (tdes, "GVC"),
        U::P1PinGenerationKey => (vec![], ""),
        _ => unreachable!("new KeyUsage without a table row"),
    }
}

fn mode_sets() -> Vec<(Option<char>, KeyModesOfUse)> {
    let mut v: Vec<(Option<char>, KeyModesOfUse)> = "BXNEDCGVS"
        .chars()
        .map(|c| (Some(c), KeyModesOfUse::from_tr31_mode(c).unwrap()))
        .collect();
    // Some sets with no TR-31 letter: always invalid.
    let none = KeyModesOfUse::default();
    let mut ed = none;
    ed.encrypt = true;
    ed.decrypt = true;
    let mut e = none;
    e.encrypt = true;
    let mut xn = none;
    xn.derive_key = true;
    xn.no_restrictions = true;
    let mut bg = KeyModesOfUse::from_tr31_mode('B').unwrap();
    bg.generate = true;
    let mut sv = none;
    sv.sign = true;
    sv.verify = true;
    v.extend([
        (None, none),
        (None, ed),
        (None, e),
        (None, xn),
        (None, bg),
        (None, sv),
    ]);
    v
}

#[test]
fn attribute_table_create() {
    let s = store();
    let mut created = 0;
    let mut checked = 0;
    let mut pairs_created = std::collections::HashSet::new();
    for &u in KeyUsage::ALL {
        let (algs, modes) = aws_table(u);
        let symmetric_usage = !matches!(
            u,
            KeyUsage::D1AsymmetricKeyForDataEncryption
                | KeyUsage::S0AsymmetricKeyForDigitalSignature
                | KeyUsage::K3AsymmetricKeyForKeyAgreement
                | KeyUsage::K2Tr34AsymmetricKey
        );
        for &a in KeyAlgorithm::ALL {
            for &class in KeyClass::ALL {
                for (letter, m) in mode_sets() {
                    checked += 1;
                    let attrs = KeyAttributes {
                        key_usage: u,
                        key_class: class,
                        key_algorithm: a,
                        key_modes_of_use: m,
                    };
                    let class_ok = if symmetric_usage {
                        class == KeyClass::SymmetricKey
                    } else {
                        class == KeyClass::AsymmetricKeyPair
                    };
                    let valid =
                        algs.contains(&a) && class_ok && letter.is_some_and(|l| modes.contains(l));
                    let req = paycrypt_keystore::CreateKeyRequest {
                        key_attributes: attrs,
                        key_check_value_algorithm: None,
                        exportable: false,
                        enabled: None,
                        tags: vec![],
                        derive_key_usage: None,
                    };
                    if valid && !symmetric_usage {
                        // Key-pair generation is slow (RSA-4096): generate one per algorithm,
                        // check the rule alone for the other valid combinations.
                        assert_eq!(
                            validate::check_attributes(&attrs, None, validate::Provenance::Create),
                            Ok(())
                        );
                        if pairs_created.insert(a) {
                            let k = s.create_key(req).unwrap();
                            assert_eq!(k.key_attributes, attrs);
                            assert_eq!(k.key_check_value.len(), 8);
                            let lk = s.key_for_use(&k.key_arn).unwrap();
                            assert!(lk.public_key_der().is_some());
                        }
                        continue;
                    }
                    match (valid, s.create_key(req)) {
                        (true, Ok(k)) => {
                            created += 1;
                            assert_eq!(k.key_attributes, attrs);
                            let len = s.key_for_use(&k.key_arn).unwrap().material().len();
                            assert_eq!(Some(len), a.symmetric_key_len());
                        }
                        (false, Err(StoreError::Validation(msg))) => assert!(!msg.is_empty()),
                        (v, r) => panic!("{attrs:?}: expected valid={v}, got {r:?}"),
                    }
                }
            }
        }
    }
    assert_eq!(
        created, 288,
        "symmetric (usage, algorithm, modes) combinations"
    );
    assert!(checked > 20_000, "{checked}");
    assert_eq!(pairs_created.len(), 6); // RSA 2048/3072/4096, ECC P-256/384/521
}

#[test]
fn attribute_messages_say_what_is_wrong() {
    let s = store();
    let msg = |r: Result<Key, StoreError>| match r {
        Err(StoreError::Validation(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = msg(s.create_key(create_req(
        KeyUsage::M1Iso9797_1MacKey,
        KeyAlgorithm::Aes128,
        'C',
    )));
    assert!(
        m.contains("AES_128") && m.contains("TR31_M1_ISO_9797_1_MAC_KEY"),
        "{m}"
    );
    let m = msg(s.create_key(create_req(
        KeyUsage::B0BaseDerivationKey,
        KeyAlgorithm::Tdes2Key,
        'B',
    )));
    assert!(
        m.contains("KeyModesOfUse") && m.contains("{DeriveKey}"),
        "{m}"
    );
    let mut r = bdk();
    r.key_attributes.key_class = KeyClass::PublicKey;
    let m = msg(s.create_key(r));
    assert!(m.contains("KeyClass"), "{m}");
    let m = msg(s.create_key(create_req(
        KeyUsage::P1PinGenerationKey,
        KeyAlgorithm::Tdes2Key,
        'G',
    )));
    assert!(m.contains("P1"), "{m}");
    // DeriveKeyUsage only with K3.
    let mut r = bdk();
    r.derive_key_usage = Some(KeyUsage::P0PinEncryptionKey);
    let m = msg(s.create_key(r));
    assert!(m.contains("DeriveKeyUsage"), "{m}");
}

#[test]
fn import_symmetric() {
    let s = store();
    // Well-known TDES test key; its ANSI X9.24 KCV is 08D7B4.
    let key = paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let k = s
        .import_key(import_req(
            KeyUsage::P0PinEncryptionKey,
            KeyAlgorithm::Tdes2Key,
            'B',
            &key,
        ))
        .unwrap();
    assert_eq!(k.key_check_value, "08D7B4");
    assert_eq!(k.key_origin, KeyOrigin::External);
    assert!(!k.exportable);
    assert_eq!(s.key_for_use(&k.key_arn).unwrap().material(), &key[..]);
    // Importing the same material twice gives two ARNs.
    let k2 = s
        .import_key(import_req(
            KeyUsage::P0PinEncryptionKey,
            KeyAlgorithm::Tdes2Key,
            'B',
            &key,
        ))
        .unwrap();
    assert_ne!(k.key_arn, k2.key_arn);

    // Degenerate TDES (equal halves, parity ignored) and wrong lengths are refused.
    let degenerate = paycrypt_core::hex::decode("k", "0123456789ABCDEF0123456789ABCDEE").unwrap();
    for (alg, m) in [
        (KeyAlgorithm::Tdes2Key, degenerate.clone()),
        (KeyAlgorithm::Tdes2Key, vec![1u8; 24]),
        (
            KeyAlgorithm::Tdes3Key,
            [degenerate.clone(), vec![0x45; 8]].concat(),
        ),
        (KeyAlgorithm::Aes128, vec![7u8; 32]),
        (KeyAlgorithm::Aes256, vec![7u8; 31]),
    ] {
        let r = s.import_key(import_req(KeyUsage::K0KeyEncryptionKey, alg, 'B', &m));
        assert!(is_validation(r), "{alg}");
    }
    // HMAC import: 16..128 bytes.
    let k = s
        .import_key(import_req(
            KeyUsage::M7HmacKey,
            KeyAlgorithm::HmacSha256,
            'G',
            &[0x0b; 20],
        ))
        .unwrap();
    // RFC 4231 test case 1 is HMAC over "Hi There"; KCV is HMAC over the empty message.
    let kcv = paycrypt_core::mac::hmac(paycrypt_core::mac::HashAlgorithm::Sha256, &[0x0b; 20], b"")
        .unwrap();
    assert_eq!(k.key_check_value, paycrypt_core::hex::encode(&kcv[..3]));
    assert!(is_validation(s.import_key(import_req(
        KeyUsage::M7HmacKey,
        KeyAlgorithm::HmacSha256,
        'G',
        &[1; 8]
    ))));
}

#[test]
fn import_public_key() {
    let s = store();
    let mut r = import_req(
        KeyUsage::S0AsymmetricKeyForDigitalSignature,
        KeyAlgorithm::Rsa2048,
        'V',
        b"not really DER but opaque to the store",
    );
    r.key_attributes.key_class = KeyClass::PublicKey;
    let k = s.import_key(r.clone()).unwrap();
    assert_eq!(k.key_check_value.len(), 8);
    assert_eq!(k.key_check_value_algorithm, KeyCheckValueAlgorithm::Cmac);
    let lk = s.key_for_use(&k.key_arn).unwrap();
    assert_eq!(
        lk.public_key_der().unwrap(),
        b"not really DER but opaque to the store"
    );
    // Public S0 keys may only verify.
    r.key_attributes.key_modes_of_use = KeyModesOfUse::from_tr31_mode('S').unwrap();
    assert!(is_validation(s.import_key(r.clone())));
    // ASYMMETRIC_KEY_PAIR is not importable.
    r.key_attributes.key_modes_of_use = KeyModesOfUse::from_tr31_mode('V').unwrap();
    r.key_attributes.key_class = KeyClass::AsymmetricKeyPair;
    assert!(is_validation(s.import_key(r)));
}

#[test]
fn identifiers_and_not_found() {
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let other_region = k.key_arn.replace(REGION, "eu-west-1");
    let other_account = k.key_arn.replace(ACCOUNT, "999999999999");
    let unknown = format!("arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/zzzzzzzzzzzzzzzz");
    for id in [
        &other_region,
        &other_account,
        &unknown,
        &"alias/nope".to_string(),
    ] {
        assert_eq!(
            s.get_key(id),
            Err(StoreError::NotFound {
                resource_id: id.clone()
            })
        );
        assert!(matches!(
            s.key_for_use(id),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.delete_key(id, None),
            Err(StoreError::NotFound { .. })
        ));
    }
    for bad in [
        "",
        "abc",
        "key/abcdefghijklmnop",
        "alias/with space",
        "arn:aws:kms:us-east-2:111122223333:key/abcdefghijklmnop",
    ] {
        assert!(is_validation(s.get_key(bad)), "{bad}");
        assert!(is_validation(s.key_for_use(bad)), "{bad}");
    }
    // Alias ARN form resolves too.
    s.create_alias("alias/bdk", Some(&k.key_arn)).unwrap();
    let alias_arn = format!("arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:alias/bdk");
    assert_eq!(s.get_key(&alias_arn).unwrap().key_arn, k.key_arn);
    assert_eq!(s.key_for_use("alias/bdk").unwrap().key.key_arn, k.key_arn);
}

#[test]
fn lifecycle() {
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let arn = k.key_arn.as_str();

    // Stop / start usage.
    let stopped = s.stop_key_usage(arn).unwrap();
    assert!(!stopped.enabled);
    assert!(stopped.usage_stop_timestamp.is_some());
    assert!(!s.key_for_use(arn).unwrap().key.enabled);
    assert_eq!(s.stop_key_usage(arn).unwrap(), stopped); // idempotent
    let started = s.start_key_usage(arn).unwrap();
    assert!(started.enabled);
    assert!(started.usage_start_timestamp.is_some());
    assert_eq!(started.usage_stop_timestamp, None);

    // DeleteKeyInDays range.
    for d in [0, 2, 181, 1000] {
        assert!(is_validation(s.delete_key(arn, Some(d))));
    }
    let d = s.delete_key(arn, None).unwrap();
    assert_eq!(d.key_state, KeyState::DeletePending);
    assert!(!d.enabled);
    let pend = d.delete_pending_timestamp.unwrap();
    assert!((d.delete_timestamp.unwrap() - pend - 7.0 * 86_400.0).abs() < 1e-6);
    // Still returned for use (caller decides) but marked.
    let lk = s.key_for_use(arn).unwrap();
    assert_eq!(lk.key.key_state, KeyState::DeletePending);
    assert!(matches!(
        s.delete_key(arn, None),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.start_key_usage(arn),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.stop_key_usage(arn),
        Err(StoreError::Conflict(_))
    ));

    // Restore: CREATE_COMPLETE, timestamps removed, still disabled.
    let r = s.restore_key(arn).unwrap();
    assert_eq!(r.key_state, KeyState::CreateComplete);
    assert_eq!(r.delete_pending_timestamp, None);
    assert_eq!(r.delete_timestamp, None);
    assert!(!r.enabled);
    assert!(matches!(s.restore_key(arn), Err(StoreError::Conflict(_))));
    assert!(s.start_key_usage(arn).unwrap().enabled);

    // Delete with 3 days, sweep before and after.
    let d = s.delete_key(arn, Some(3)).unwrap();
    let due = d.delete_timestamp.unwrap();
    assert!((due - d.delete_pending_timestamp.unwrap() - 3.0 * 86_400.0).abs() < 1e-6);
    assert_eq!(s.sweep_deletions(due - 1.0).unwrap(), 0);
    assert_eq!(s.sweep_deletions(due).unwrap(), 1);
    assert_eq!(s.sweep_deletions(due + 10.0).unwrap(), 0);
    let gone = s.get_key(arn).unwrap();
    assert_eq!(gone.key_state, KeyState::DeleteComplete);
    assert!(!gone.enabled);
    assert!(matches!(
        s.key_for_use(arn),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(s.restore_key(arn), Err(StoreError::Conflict(_))));
    assert!(matches!(
        s.delete_key(arn, None),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.start_key_usage(arn),
        Err(StoreError::Conflict(_))
    ));
    // ListKeys by state.
    let (l, _) = s
        .list_keys(Some(KeyState::DeleteComplete), None, None)
        .unwrap();
    assert_eq!(l.len(), 1);
    let (l, _) = s
        .list_keys(Some(KeyState::CreateComplete), None, None)
        .unwrap();
    assert!(l.is_empty());
}

#[test]
fn aliases() {
    let s = store();
    let k1 = s.create_key(bdk()).unwrap();
    let k2 = s.create_key(bdk()).unwrap();
    let a = s.create_alias("alias/one", Some(&k1.key_arn)).unwrap();
    assert_eq!(a.key_arn.as_deref(), Some(k1.key_arn.as_str()));
    match s.create_alias("alias/one", None) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already exists")),
        other => panic!("{other:?}"),
    }
    // Alias without a key.
    let empty = s.create_alias("alias/empty", None).unwrap();
    assert_eq!(empty.key_arn, None);
    assert!(matches!(
        s.get_key("alias/empty"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.get_alias("alias/empty").unwrap(), empty);
    // Bad names.
    for bad in [
        "alias/",
        "alias",
        "alias/a b",
        "aliases/abc",
        "alias/é",
        &format!("alias/{}", "a".repeat(251)),
    ] {
        assert!(is_validation(s.create_alias(bad, None)), "{bad}");
        assert!(is_validation(s.get_alias(bad)), "{bad}");
    }
    assert!(s
        .create_alias(&format!("alias/{}", "a".repeat(250)), None)
        .is_ok());
    // Target must exist.
    let unknown = format!("arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/zzzzzzzzzzzzzzzz");
    assert!(matches!(
        s.create_alias("alias/x", Some(&unknown)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(is_validation(s.create_alias("alias/x", Some("alias/one"))));
    assert!(matches!(
        s.get_alias("alias/x"),
        Err(StoreError::NotFound { .. })
    ));
    // Update / dissociate.
    let u = s.update_alias("alias/one", Some(&k2.key_arn)).unwrap();
    assert_eq!(u.key_arn.as_deref(), Some(k2.key_arn.as_str()));
    assert_eq!(s.get_key("alias/one").unwrap().key_arn, k2.key_arn);
    assert!(matches!(
        s.update_alias("alias/missing", None),
        Err(StoreError::NotFound { .. })
    ));
    s.update_alias("alias/empty", Some(&k1.key_arn)).unwrap();
    // List with filter.
    let (l, _) = s.list_aliases(Some(&k1.key_arn), None, None).unwrap();
    assert_eq!(
        l.iter().map(|a| a.alias_name.as_str()).collect::<Vec<_>>(),
        ["alias/empty"]
    );
    let (l, _) = s.list_aliases(None, None, None).unwrap();
    assert_eq!(l.len(), 3);
    assert!(matches!(
        s.list_aliases(Some(&unknown), None, None),
        Err(StoreError::NotFound { .. })
    ));
    // Delete.
    s.delete_alias("alias/one").unwrap();
    assert!(matches!(
        s.delete_alias("alias/one"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.get_key("alias/one"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn pagination_and_tokens() {
    let s = store();
    let mut arns: Vec<String> = (0..7)
        .map(|_| s.create_key(bdk()).unwrap().key_arn)
        .collect();
    arns.sort();
    for i in 0..7 {
        s.create_alias(&format!("alias/a{i}"), None).unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = s.list_keys(None, token.as_deref(), Some(3)).unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.into_iter().map(|k| k.key_arn));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, arns);
    let (page, next) = s.list_keys(None, None, Some(7)).unwrap();
    assert_eq!(page.len(), 7);
    assert_eq!(next, None);
    let (page, next) = s.list_aliases(None, None, Some(5)).unwrap();
    assert_eq!(page.len(), 5);
    let (page2, next2) = s.list_aliases(None, next.as_deref(), Some(5)).unwrap();
    assert_eq!(page2.len(), 2);
    assert_eq!(next2, None);
    // MaxResults range.
    for m in [0, 101] {
        assert!(is_validation(s.list_keys(None, None, Some(m))));
        assert!(is_validation(s.list_aliases(None, None, Some(m))));
        assert!(is_validation(s.list_tags_for_resource(
            &arns[0],
            None,
            Some(m)
        )));
    }
    // Garbage tokens, and a token of another list.
    let alias_token = next.unwrap();
    for bad in ["", "x", "garbage-token", "pck1", "pck1ZZ", &alias_token] {
        assert!(is_validation(s.list_keys(None, Some(bad), None)), "{bad}");
    }
    assert!(is_validation(s.list_aliases(None, Some("garbage"), None)));
    assert!(is_validation(s.list_tags_for_resource(
        &arns[0],
        Some("garbage"),
        None
    )));
}

#[test]
fn tags() {
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let arn = k.key_arn.as_str();
    let t = |k: &str, v: &str| Tag {
        key: k.into(),
        value: v.into(),
    };
    s.tag_resource(arn, vec![t("env", "dev"), t("team", "pay")])
        .unwrap();
    s.tag_resource(arn, vec![t("env", "prod")]).unwrap();
    let (l, _) = s.list_tags_for_resource(arn, None, None).unwrap();
    assert_eq!(l, vec![t("env", "prod"), t("team", "pay")]);
    s.untag_resource(arn, vec!["team".into(), "absent".into()])
        .unwrap();
    let (l, _) = s.list_tags_for_resource(arn, None, None).unwrap();
    assert_eq!(l, vec![t("env", "prod")]);
    // Limits.
    assert!(is_validation(s.tag_resource(arn, vec![t("", "x")])));
    assert!(is_validation(
        s.tag_resource(arn, vec![t(&"k".repeat(129), "x")])
    ));
    assert!(is_validation(
        s.tag_resource(arn, vec![t("k", &"v".repeat(257))])
    ));
    s.tag_resource(arn, vec![t(&"k".repeat(128), &"v".repeat(256))])
        .unwrap();
    assert!(is_validation(s.untag_resource(arn, vec![String::new()])));
    let many: Vec<Tag> = (0..198).map(|i| t(&format!("t{i:03}"), "")).collect();
    s.tag_resource(arn, many).unwrap(); // 200 in all
    assert!(matches!(
        s.tag_resource(arn, vec![t("one-more", "")]),
        Err(StoreError::QuotaExceeded(_))
    ));
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = s
            .list_tags_for_resource(arn, token.as_deref(), Some(64))
            .unwrap();
        all.extend(page);
        match next {
            Some(n) => token = Some(n),
            None => break,
        }
    }
    assert_eq!(all.len(), 200);
    // Resource must be an existing key ARN of this store.
    assert!(is_validation(s.tag_resource("alias/x", vec![t("a", "b")])));
    let unknown = format!("arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/zzzzzzzzzzzzzzzz");
    assert!(matches!(
        s.tag_resource(&unknown, vec![t("a", "b")]),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.list_tags_for_resource(&unknown, None, None),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn quotas() {
    let s = store();
    let mut last = None;
    for _ in 0..MAX_KEYS {
        last = Some(s.create_key(bdk()).unwrap());
    }
    assert!(matches!(
        s.create_key(bdk()),
        Err(StoreError::QuotaExceeded(_))
    ));
    // DELETE_PENDING keys still count; DELETE_COMPLETE keys do not.
    let last = last.unwrap();
    let d = s.delete_key(&last.key_arn, None).unwrap();
    assert!(matches!(
        s.create_key(bdk()),
        Err(StoreError::QuotaExceeded(_))
    ));
    assert_eq!(s.sweep_deletions(d.delete_timestamp.unwrap()).unwrap(), 1);
    s.create_key(bdk()).unwrap();

    for i in 0..MAX_ALIASES {
        s.create_alias(&format!("alias/q{i}"), None).unwrap();
    }
    assert!(matches!(
        s.create_alias("alias/over", None),
        Err(StoreError::QuotaExceeded(_))
    ));
    s.delete_alias("alias/q0").unwrap();
    s.create_alias("alias/over", None).unwrap();
}

#[test]
fn errors_never_contain_material() {
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let hex = paycrypt_core::hex::encode(s.key_for_use(&k.key_arn).unwrap().material());
    let errs = [
        s.delete_key(&k.key_arn, Some(1)).unwrap_err(),
        s.restore_key(&k.key_arn).unwrap_err(),
        s.create_alias("bad", None).unwrap_err(),
    ];
    for e in errs {
        assert!(!e.to_string().contains(&hex));
    }
}

#[test]
fn store_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Store>();
    let s = store();
    let k = s.create_key(bdk()).unwrap();
    let s2 = s.clone();
    let h = std::thread::spawn(move || s2.key_for_use(&k.key_arn).unwrap().key.key_arn.clone());
    assert!(h.join().unwrap().starts_with("arn:"));
    assert!(Store::open_in_memory("bad", ACCOUNT).is_err());
    assert!(Store::open_in_memory(REGION, "123").is_err());
}

#[test]
fn create_key_pairs() {
    use aws_lc_rs::signature::{self as sig, KeyPair as _, UnparsedPublicKey};
    let s = store();
    // ECC P-256 signing key: sign with the stored PKCS#8, verify with public_key_der.
    let mut r = create_req(
        KeyUsage::S0AsymmetricKeyForDigitalSignature,
        KeyAlgorithm::EccNistP256,
        'S',
    );
    r.key_attributes.key_class = KeyClass::AsymmetricKeyPair;
    let k = s.create_key(r).unwrap();
    assert_eq!(k.key_check_value_algorithm, KeyCheckValueAlgorithm::Cmac);
    let lk = s.key_for_use(&k.key_arn).unwrap();
    let kp =
        sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, lk.material()).unwrap();
    let spki = lk.public_key_der().unwrap();
    let kcv = paycrypt_core::kcv::sha1_kcv(&spki, 4).unwrap();
    assert_eq!(paycrypt_core::hex::encode(&kcv), k.key_check_value);
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let signature = kp.sign(&rng, b"message").unwrap();
    UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, kp.public_key().as_ref())
        .verify(b"message", signature.as_ref())
        .unwrap();

    // K3 ECDH key with DeriveKeyUsage.
    let mut r = create_req(
        KeyUsage::K3AsymmetricKeyForKeyAgreement,
        KeyAlgorithm::EccNistP384,
        'X',
    );
    r.key_attributes.key_class = KeyClass::AsymmetricKeyPair;
    r.derive_key_usage = Some(KeyUsage::K1KeyBlockProtectionKey);
    let k = s.create_key(r.clone()).unwrap();
    assert_eq!(k.derive_key_usage, Some(KeyUsage::K1KeyBlockProtectionKey));
    r.derive_key_usage = Some(KeyUsage::S0AsymmetricKeyForDigitalSignature);
    assert!(is_validation(s.create_key(r)));

    // RSA-2048 decryption key: PKCS#8 loads as an RSA decrypting key.
    let mut r = create_req(
        KeyUsage::D1AsymmetricKeyForDataEncryption,
        KeyAlgorithm::Rsa2048,
        'D',
    );
    r.key_attributes.key_class = KeyClass::AsymmetricKeyPair;
    let k = s.create_key(r).unwrap();
    let lk = s.key_for_use(&k.key_arn).unwrap();
    assert!(aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(lk.material()).is_ok());
    assert!(lk.public_key_der().unwrap().len() > 256);
    // Symmetric keys have no public key.
    let b = s.create_key(bdk()).unwrap();
    assert_eq!(s.key_for_use(&b.key_arn).unwrap().public_key_der(), None);
}
