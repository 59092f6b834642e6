//! Published vectors for ECDH (NIST CAVP CDH), the X9.63 and Concat KDFs, and RSA
//! OAEP (Wycheproof) from tests/vectors/asym.json; property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use paycrypt_core::asym::{
    self, EcPrivateKey, EccCurve, KdfHash, KeyDerivationFunction, RsaKeyPair, RsaKeySize,
    RsaPadding, RsaSignatureAlgorithm,
};
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::Error;
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/asym.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn h(c: &Value, k: &str) -> Vec<u8> {
    decode("field", c[k].as_str().unwrap()).unwrap()
}

fn curve(s: &str) -> EccCurve {
    match s {
        "P256" => EccCurve::P256,
        "P384" => EccCurve::P384,
        _ => EccCurve::P521,
    }
}

fn all(v: &Value, key: &str) -> Vec<Value> {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g[key].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn ecdh_cavp_cdh() {
    let v = vectors();
    let cases = all(&v, "ecdh");
    assert_eq!(cases.len(), 5);
    for c in &cases {
        let cv = curve(c["curve"].as_str().unwrap());
        let d = h(c, "d");
        let z = asym::ecdh_shared_secret(cv, EcPrivateKey::Scalar(&d), &h(c, "peer")).unwrap();
        assert_eq!(
            encode(z.expose()),
            c["z"].as_str().unwrap(),
            "{}",
            c["name"]
        );
        // Symmetric direction: a generated key agrees with the CAVP key through its public point.
        let other = asym::ec_generate(cv).unwrap();
        let pub_d = asym::ec_public_point(cv, EcPrivateKey::Scalar(&d)).unwrap();
        let z1 =
            asym::ecdh_shared_secret(cv, EcPrivateKey::Der(other.private_pkcs8.expose()), &pub_d)
                .unwrap();
        let z2 =
            asym::ecdh_shared_secret(cv, EcPrivateKey::Scalar(&d), &other.public_spki).unwrap();
        assert_eq!(z1, z2);
    }
    for c in all(&v, "ecdh_negative") {
        let cv = curve(c["curve"].as_str().unwrap());
        let e = asym::ecdh_shared_secret(cv, EcPrivateKey::Scalar(&h(&c, "d")), &h(&c, "peer"))
            .expect_err(c["name"].as_str().unwrap());
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: "peer_public_key",
                    ..
                }
            ),
            "{e:?}"
        );
    }
    // Private scalar of the wrong length / zero.
    assert!(
        asym::ecdh_shared_secret(EccCurve::P256, EcPrivateKey::Scalar(&[1u8; 31]), &[4u8; 65])
            .is_err()
    );
    assert!(
        asym::ecdh_shared_secret(EccCurve::P256, EcPrivateKey::Scalar(&[0u8; 32]), &[4u8; 65])
            .is_err()
    );
}

#[test]
fn kdf_published() {
    let v = vectors();
    let x963 = all(&v, "x963");
    let concat = all(&v, "concat");
    assert_eq!((x963.len(), concat.len()), (3, 1));
    for c in &x963 {
        let n = c["length"].as_u64().unwrap() as usize;
        let k = asym::x963_kdf(KdfHash::Sha256, &h(c, "z"), &h(c, "info"), n).unwrap();
        assert_eq!(
            encode(k.expose()),
            c["key"].as_str().unwrap(),
            "{}",
            c["name"]
        );
    }
    for c in &concat {
        let n = c["length"].as_u64().unwrap() as usize;
        let k = asym::concat_kdf(KdfHash::Sha256, &h(c, "z"), &h(c, "info"), n).unwrap();
        assert_eq!(encode(k.expose()), c["key"].as_str().unwrap());
    }
    for bad in [0usize, 1025] {
        assert!(matches!(
            asym::x963_kdf(KdfHash::Sha256, b"z", b"", bad),
            Err(Error::InvalidLength { .. })
        ));
    }
}

#[test]
fn rsa_oaep_wycheproof() {
    let v = vectors();
    let g = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|g| g.get("rsa_oaep"))
        .unwrap()
        .clone();
    let sk = h(&g, "private_pkcs8");
    let pk = asym::rsa_public_key(&sk).unwrap();
    let label_of = |c: &Value| {
        let l = h(c, "label");
        if l.is_empty() {
            None
        } else {
            Some(l)
        }
    };
    for c in g["cases"].as_array().unwrap() {
        let label = label_of(c);
        let pt =
            asym::rsa_decrypt(&sk, RsaPadding::OaepSha256, &h(c, "ct"), label.as_deref()).unwrap();
        assert_eq!(
            encode(pt.expose()),
            c["msg"].as_str().unwrap().to_uppercase(),
            "tcId {}",
            c["tcId"]
        );
        // Encrypt direction: randomized, so check it decrypts to the same message.
        let ct =
            asym::rsa_encrypt(&pk, RsaPadding::OaepSha256, pt.expose(), label.as_deref()).unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(
            asym::rsa_decrypt(&sk, RsaPadding::OaepSha256, &ct, label.as_deref()).unwrap(),
            pt
        );
    }
    for c in g["negative"].as_array().unwrap() {
        let label = label_of(c);
        let e = asym::rsa_decrypt(&sk, RsaPadding::OaepSha256, &h(c, "ct"), label.as_deref())
            .expect_err(c["name"].as_str().unwrap());
        let want = c["error"].as_str().unwrap();
        let ok = match want {
            "Crypto" => matches!(e, Error::Crypto { .. }),
            _ => matches!(e, Error::InvalidLength { .. }),
        };
        assert!(ok, "{}: {e:?}", c["name"]);
    }
    // Wrong padding type fails the same way.
    let c = &g["cases"][1];
    assert!(matches!(
        asym::rsa_decrypt(&sk, RsaPadding::OaepSha1, &h(c, "ct"), None),
        Err(Error::Crypto { .. })
    ));
    assert!(asym::rsa_decrypt(b"not a key", RsaPadding::Pkcs1, &[0u8; 256], None).is_err());
}

fn key2048() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| asym::rsa_generate(RsaKeySize::Rsa2048).unwrap())
}

#[test]
fn rsa_generate_sizes_sign_verify() {
    for size in [
        RsaKeySize::Rsa2048,
        RsaKeySize::Rsa3072,
        RsaKeySize::Rsa4096,
    ] {
        let kp = asym::rsa_generate(size).unwrap();
        assert_eq!(
            asym::rsa_public_key(kp.private_pkcs8.expose()).unwrap(),
            kp.public_spki
        );
        let ct =
            asym::rsa_encrypt(&kp.public_spki, RsaPadding::OaepSha512, &[7u8; 16], None).unwrap();
        assert_eq!(ct.len() * 8, size.bits());
        assert!(!format!("{kp:?}").contains(&encode(kp.private_pkcs8.expose())[..20]));
    }
    let kp = key2048();
    for alg in [
        RsaSignatureAlgorithm::Pkcs1Sha256,
        RsaSignatureAlgorithm::Pkcs1Sha384,
        RsaSignatureAlgorithm::Pkcs1Sha512,
    ] {
        let sig = asym::rsa_sign(kp.private_pkcs8.expose(), alg, b"certificate body").unwrap();
        asym::rsa_verify(&kp.public_spki, alg, b"certificate body", &sig).unwrap();
        asym::rsa_verify(&kp.public_pkcs1, alg, b"certificate body", &sig).unwrap();
        assert!(matches!(
            asym::rsa_verify(&kp.public_spki, alg, b"certificate bodY", &sig),
            Err(Error::VerificationFailed(_))
        ));
    }
    // Plaintext too long for OAEP-SHA-512 on 2048 bits (max 126).
    assert!(matches!(
        asym::rsa_encrypt(&kp.public_spki, RsaPadding::OaepSha512, &[0u8; 127], None),
        Err(Error::InvalidLength { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rsa_round_trip(msg in proptest::collection::vec(any::<u8>(), 0..100), p in 0usize..5) {
        let pad = [RsaPadding::Pkcs1, RsaPadding::OaepSha1, RsaPadding::OaepSha256, RsaPadding::OaepSha384, RsaPadding::OaepSha512][p];
        let kp = key2048();
        let ct = asym::rsa_encrypt(&kp.public_spki, pad, &msg, None).unwrap();
        let pt = asym::rsa_decrypt(kp.private_pkcs8.expose(), pad, &ct, None).unwrap();
        prop_assert_eq!(pt.expose(), &msg[..]);
    }

    #[test]
    fn rsa_decrypt_arbitrary_never_panics(ct in proptest::collection::vec(any::<u8>(), 0..300), p in 0usize..2) {
        let pad = [RsaPadding::Pkcs1, RsaPadding::OaepSha256][p];
        let _ = asym::rsa_decrypt(key2048().private_pkcs8.expose(), pad, &ct, None);
        let _ = asym::rsa_encrypt(&ct, pad, b"x", None);
        let _ = asym::rsa_verify(&ct, RsaSignatureAlgorithm::Pkcs1Sha256, b"m", &ct);
    }

    #[test]
    fn ecdh_arbitrary_keys_never_panic(a in proptest::collection::vec(any::<u8>(), 0..140), b in proptest::collection::vec(any::<u8>(), 0..140), c in 0usize..3) {
        let cv = [EccCurve::P256, EccCurve::P384, EccCurve::P521][c];
        let _ = asym::ecdh_shared_secret(cv, EcPrivateKey::Scalar(&a), &b);
        let _ = asym::ecdh_shared_secret(cv, EcPrivateKey::Der(&a), &b);
    }

    #[test]
    fn kdf_prefix_property(z in proptest::collection::vec(any::<u8>(), 1..70), info in proptest::collection::vec(any::<u8>(), 0..40), n in 1usize..200, f in 0usize..2, hh in 0usize..3) {
        // A shorter output is a prefix of a longer one (both KDFs are counter mode).
        let hash = [KdfHash::Sha256, KdfHash::Sha384, KdfHash::Sha512][hh];
        let kdf = if f == 0 { KeyDerivationFunction::NistSp800 } else { KeyDerivationFunction::AnsiX963 };
        let run = |len: usize| match kdf {
            KeyDerivationFunction::NistSp800 => asym::concat_kdf(hash, &z, &info, len).unwrap(),
            _ => asym::x963_kdf(hash, &z, &info, len).unwrap(),
        };
        let long = run(200);
        let short = run(n);
        prop_assert_eq!(short.expose(), &long.expose()[..n]);
    }
}
