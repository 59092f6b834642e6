//! Differential tests against `cryptography` (tests/differential/gen_asym.py):
//! SP 800-56C one-step KDF, ANSI X9.63 KDF, ECDH P-256/384/521 (+KDF), RSA
//! OAEP / PKCS#1 v1.5 decryption.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::asym::{
    self, EcPrivateKey, EccCurve, KdfHash, KeyDerivationFunction, RsaPadding,
};
use paycrypt_core::hex::{decode, encode};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../tests/differential/cases/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn hash(s: &str) -> KdfHash {
    match s {
        "SHA256" => KdfHash::Sha256,
        "SHA384" => KdfHash::Sha384,
        _ => KdfHash::Sha512,
    }
}

fn h(c: &Value, k: &str) -> Vec<u8> {
    decode("field", c[k].as_str().unwrap()).unwrap()
}

fn kdf_cases(
    name: &str,
    f: fn(
        KdfHash,
        &[u8],
        &[u8],
        usize,
    ) -> paycrypt_core::Result<paycrypt_core::secret::SecretBytes>,
) {
    let cases = load(name);
    assert!(cases.len() >= 1000);
    for (i, c) in cases.iter().enumerate() {
        let len = c["length"].as_u64().unwrap() as usize;
        let k = f(
            hash(c["hash"].as_str().unwrap()),
            &h(c, "z"),
            &h(c, "info"),
            len,
        )
        .unwrap();
        assert_eq!(
            encode(k.expose()),
            c["key"].as_str().unwrap(),
            "{name} case {i}"
        );
    }
}

#[test]
fn concat_kdf_vs_cryptography() {
    kdf_cases("asym_concat_kdf", asym::concat_kdf);
}

#[test]
fn x963_kdf_vs_cryptography() {
    kdf_cases("asym_x963_kdf", asym::x963_kdf);
}

#[test]
fn ecdh_vs_cryptography() {
    let cases = load("asym_ecdh");
    assert_eq!(cases.len(), 1000);
    for (i, c) in cases.iter().enumerate() {
        let curve = match c["curve"].as_str().unwrap() {
            "P256" => EccCurve::P256,
            "P384" => EccCurve::P384,
            _ => EccCurve::P521,
        };
        let scalar = h(c, "private_scalar");
        let pkcs8 = h(c, "private_pkcs8");
        let peer = h(c, "peer_public");
        let z = asym::ecdh_shared_secret(curve, EcPrivateKey::Scalar(&scalar), &peer)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(encode(z.expose()), c["z"].as_str().unwrap(), "case {i}");
        let kdf = match c["kdf"].as_str().unwrap() {
            "NIST_SP800" => KeyDerivationFunction::NistSp800,
            _ => KeyDerivationFunction::AnsiX963,
        };
        let key = if pkcs8.is_empty() {
            EcPrivateKey::Scalar(&scalar)
        } else {
            EcPrivateKey::Der(&pkcs8)
        };
        let k = asym::ecdh_derive_key(
            curve,
            key,
            &peer,
            kdf,
            hash(c["hash"].as_str().unwrap()),
            &h(c, "info"),
            c["length"].as_u64().unwrap() as usize,
        )
        .unwrap();
        assert_eq!(encode(k.expose()), c["key"].as_str().unwrap(), "case {i}");
    }
}

#[test]
fn rsa_decrypt_vs_cryptography() {
    let cases = load("asym_rsa");
    let keys: Vec<(usize, Vec<u8>, Vec<u8>)> = cases
        .iter()
        .filter(|c| c.get("private_pkcs8").is_some())
        .map(|c| {
            (
                c["key"].as_u64().unwrap() as usize,
                h(c, "private_pkcs8"),
                h(c, "public_spki"),
            )
        })
        .collect();
    assert_eq!(keys.len(), 4);
    let mut n = 0;
    for (i, c) in cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.get("padding").is_some())
    {
        let (_, sk, pk) = &keys[c["key"].as_u64().unwrap() as usize];
        let pad = match c["padding"].as_str().unwrap() {
            "PKCS1" => RsaPadding::Pkcs1,
            "OAEP_SHA1" => RsaPadding::OaepSha1,
            "OAEP_SHA256" => RsaPadding::OaepSha256,
            _ => RsaPadding::OaepSha512,
        };
        let label = h(c, "label");
        let label = if label.is_empty() {
            None
        } else {
            Some(&label[..])
        };
        let pt = asym::rsa_decrypt(sk, pad, &h(c, "ciphertext"), label)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(
            encode(pt.expose()),
            c["plaintext"].as_str().unwrap(),
            "case {i}"
        );
        // And our encryption decrypts back (randomized, so compare plaintexts).
        if n % 10 == 0 {
            let ct = asym::rsa_encrypt(pk, pad, pt.expose(), label).unwrap();
            assert_eq!(asym::rsa_decrypt(sk, pad, &ct, label).unwrap(), pt);
        }
        n += 1;
    }
    assert!(n >= 200, "{n}");
}
