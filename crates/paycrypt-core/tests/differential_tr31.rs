//! Differential test against psec (tests/differential/gen_tr31.py): paycrypt unwraps
//! every psec block to the same key and header, and with the same padding rebuilds
//! the identical block.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::hex::{decode, encode};
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm, KeyUsage, KeyVersion, ModeOfUse, OptionalBlock,
    OptionalBlockId, Tr31Header, Version,
};
use serde_json::Value;

#[test]
fn psec_tr31_versions_a_b_c_d() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/differential/cases/tr31.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut per_version = [0usize; 4];
    for (i, c) in cases.iter().enumerate() {
        let s = |k: &str| c[k].as_str().unwrap();
        let kbpk_bytes = decode("kbpk", s("kbpk")).unwrap();
        let kbpk = match s("kbpk_alg") {
            "AES" => Kbpk::aes(&kbpk_bytes).unwrap(),
            _ => Kbpk::tdes(&kbpk_bytes).unwrap(),
        };
        let block = s("block");
        let (h, key) = tr31::unwrap(kbpk, block).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(encode(key.expose()), s("key"), "case {i}");
        let version = match s("version") {
            "A" => Version::A,
            "B" => Version::B,
            "C" => Version::C,
            _ => Version::D,
        };
        let mut want = Tr31Header::new(
            version,
            KeyUsage::from_code(s("usage")).unwrap(),
            KeyAlgorithm::from_code(s("algorithm")).unwrap(),
            ModeOfUse::from_code(s("mode")).unwrap(),
            Exportability::from_code(s("exportability")).unwrap(),
        );
        want.key_version = KeyVersion::new(s("key_version")).unwrap();
        for b in c["blocks"].as_array().unwrap() {
            let id = OptionalBlockId::new(b[0].as_str().unwrap()).unwrap();
            want.optional_blocks
                .push(OptionalBlock::new(id, b[1].as_str().unwrap()).unwrap());
        }
        let mut got = h.clone();
        got.optional_blocks
            .retain(|b| b.id() != OptionalBlockId::PB);
        assert_eq!(got, want, "case {i}");
        let padding = decode("padding", s("padding")).unwrap();
        let rebuilt = tr31::wrap_with_padding(kbpk, &want, key.expose(), &padding)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(rebuilt, block, "case {i}");
        per_version[match version {
            Version::A => 0,
            Version::B => 1,
            Version::C => 2,
            _ => 3,
        }] += 1;
    }
    assert!(per_version.iter().all(|&n| n >= 1000), "{per_version:?}");
}
