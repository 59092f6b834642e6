//! TR-31 / X9.143 published vectors (tests/vectors/tr31.json) and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_core::cipher::BlockCipher;
use paycrypt_core::hex::{decode, encode};
use paycrypt_core::kcv;
use paycrypt_core::keyblock::tr31::{
    self, Exportability, Kbpk, KeyAlgorithm, KeyUsage, KeyVersion, ModeOfUse, OptionalBlock,
    OptionalBlockId, Tr31Header, Version,
};
use paycrypt_core::keyblock::KeyBlockError;
use paycrypt_core::Error;
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/tr31.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(c: &'a Value, k: &str) -> &'a str {
    c[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

fn kbpk<'a>(alg: &str, key: &'a [u8]) -> Kbpk<'a> {
    match alg {
        "TDES" => Kbpk::tdes(key).unwrap(),
        "AES" => Kbpk::aes(key).unwrap(),
        other => panic!("alg {other}"),
    }
}

fn error_name(e: &Error) -> String {
    match e {
        Error::KeyBlock(kb) => {
            let d = format!("{kb:?}");
            d.split([' ', '{']).next().unwrap().to_string()
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn published_vectors() {
    let v = vectors();
    let mut n = 0;
    for g in v["groups"].as_array().unwrap() {
        for c in g["cases"].as_array().into_iter().flatten() {
            let name = s(c, "name");
            let k = decode("kbpk", s(c, "kbpk")).unwrap();
            let kbpk = kbpk(s(c, "kbpk_alg"), &k);
            let block = s(c, "block");
            let u =
                tr31::unwrap_with_padding(kbpk, block).unwrap_or_else(|e| panic!("{name}: {e}"));
            let key = s(c, "key");
            assert_eq!(encode(u.key.expose()), key, "{name}");
            let h = &u.header;
            assert_eq!(h.key_usage.code(), s(c, "usage"), "{name}");
            assert_eq!(h.algorithm.code(), s(c, "algorithm"), "{name}");
            assert_eq!(h.mode_of_use.code(), s(c, "mode"), "{name}");
            assert_eq!(h.key_version.as_str(), s(c, "key_version"), "{name}");
            assert_eq!(h.exportability.code(), s(c, "exportability"), "{name}");
            let blocks: Vec<(String, String)> = h
                .optional_blocks
                .iter()
                .filter(|b| b.id() != OptionalBlockId::PB)
                .map(|b| (b.id().as_str().to_string(), b.value().to_string()))
                .collect();
            let want: Vec<(String, String)> = c["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                .collect();
            assert_eq!(blocks, want, "{name}");
            // KCV of the recovered key: X9.24 for TDES, CMAC for AES.
            let kcv_hex = s(c, "kcv");
            let cipher = match h.algorithm {
                KeyAlgorithm::Tdes => BlockCipher::tdes(u.key.expose()).unwrap(),
                _ => BlockCipher::aes(u.key.expose()).unwrap(),
            };
            let got = match h.algorithm {
                KeyAlgorithm::Tdes => kcv::ansi_x9_24(&cipher, kcv_hex.len() / 2).unwrap(),
                _ => kcv::cmac_kcv(&cipher, kcv_hex.len() / 2).unwrap(),
            };
            assert_eq!(encode(&got), kcv_hex, "{name}");
            // Header-only parse agrees.
            assert_eq!(&tr31::parse_header(block).unwrap(), h, "{name}");
            // Wrap direction: same header, key and padding reproduce the published block.
            let again = tr31::wrap_with_padding(kbpk, h, u.key.expose(), u.padding.expose())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(again, block, "{name}");
            // And a fresh random wrap opens to the same key.
            let fresh = tr31::wrap(kbpk, h, u.key.expose()).unwrap();
            assert_eq!(
                tr31::unwrap(kbpk, &fresh).unwrap().1.expose(),
                u.key.expose()
            );
            n += 1;
        }
        for c in g["negative"].as_array().into_iter().flatten() {
            let name = s(c, "name");
            let k = decode("kbpk", s(c, "kbpk")).unwrap();
            let kbpk = kbpk(s(c, "kbpk_alg"), &k);
            let e = tr31::unwrap(kbpk, s(c, "block")).expect_err(name);
            assert_eq!(error_name(&e), s(c, "error"), "{name}: {e:?}");
            n += 1;
        }
    }
    assert_eq!(n, 30);
}

#[test]
fn obfuscation_lengths() {
    // X9.143 key-length obfuscation: TDES padded as if 24 bytes, AES as if 32.
    let k16 = [0x11u8; 16];
    let mut k16b = k16;
    k16b[8] = 0x22;
    let tdes_kbpk = [0x01u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let h = Tr31Header::new(
        Version::B,
        KeyUsage::P0,
        KeyAlgorithm::Tdes,
        ModeOfUse::EncryptOnly,
        Exportability::Trusted,
    );
    let kb = tr31::wrap(Kbpk::tdes(&tdes_kbpk).unwrap(), &h, &k16b).unwrap();
    assert_eq!(kb.len(), 16 + 2 * 32 + 16);
    assert!(kb.starts_with("B0096P0TE00E0000"));
    let aes_kbpk = [7u8; 32];
    let mut hd = h.clone();
    hd.version = Version::D;
    hd.algorithm = KeyAlgorithm::Aes;
    let kb = tr31::wrap(Kbpk::aes(&aes_kbpk).unwrap(), &hd, &k16).unwrap();
    assert!(kb.starts_with("D0144P0AE00E0000"), "{kb}");
}

#[test]
fn optional_blocks_and_pb() {
    let aes_kbpk = [7u8; 16];
    let mut h = Tr31Header::new(
        Version::D,
        KeyUsage::B1,
        KeyAlgorithm::Aes,
        ModeOfUse::Derive,
        Exportability::Sensitive,
    );
    h.key_version = KeyVersion::new("c1").unwrap();
    h.optional_blocks = vec![
        OptionalBlock::ik("0123456789ABCDEF").unwrap(),
        OptionalBlock::new(OptionalBlockId::KC, "0108793E").unwrap(),
        OptionalBlock::new(OptionalBlockId::HM, "21").unwrap(),
        OptionalBlock::new(OptionalBlockId::TS, "20261121120000Z").unwrap(),
        OptionalBlock::new(OptionalBlockId::new("LB").unwrap(), &"x".repeat(300)).unwrap(),
    ];
    let key = [9u8; 16];
    let kb = tr31::wrap(Kbpk::aes(&aes_kbpk).unwrap(), &h, &key).unwrap();
    let (hh, k) = tr31::unwrap(Kbpk::aes(&aes_kbpk).unwrap(), &kb).unwrap();
    assert_eq!(k.expose(), &key);
    assert_eq!(hh.key_version.component_number(), Some(1));
    // 5 blocks + PB; the 300-char label uses the extended length form 00 02 xxxx.
    assert_eq!(hh.optional_blocks.len(), 6);
    assert!(kb.contains("LB00020136"), "{kb}");
    let pb = hh.optional_block(OptionalBlockId::PB).unwrap();
    assert!(pb.value().chars().all(|c| c == '0'));
    let stripped: Vec<_> = hh
        .optional_blocks
        .iter()
        .filter(|b| b.id() != OptionalBlockId::PB)
        .cloned()
        .collect();
    assert_eq!(stripped, h.optional_blocks);
    // Header alignment to 16.
    let header_len = 16
        + hh.optional_blocks
            .iter()
            .map(|b| {
                let n = b.value().len() + 4;
                if n <= 255 {
                    n
                } else {
                    n + 6
                }
            })
            .sum::<usize>();
    assert_eq!(header_len % 16, 0);
    // Invalid values for known IDs are refused.
    assert!(OptionalBlock::ks("0123").is_err());
    assert!(OptionalBlock::new(OptionalBlockId::HM, "2").is_err());
    assert!(OptionalBlock::new(OptionalBlockId::KC, "0208793E").is_err());
    assert!(OptionalBlock::new(OptionalBlockId::LB, "tab\there").is_err());
    assert!(OptionalBlockId::new("P-").is_err());
}

#[test]
fn wrap_refusals() {
    let kbpk = [0x01u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let h = Tr31Header::new(
        Version::B,
        KeyUsage::P0,
        KeyAlgorithm::Tdes,
        ModeOfUse::EncryptOnly,
        Exportability::Trusted,
    );
    let kb = |e: KeyBlockError| Error::KeyBlock(e);
    // Key length must fit the algorithm.
    assert_eq!(
        tr31::wrap(Kbpk::tdes(&kbpk).unwrap(), &h, &[1u8; 8]).unwrap_err(),
        kb(KeyBlockError::InvalidKeyLength)
    );
    // Padding must complete the block.
    assert_eq!(
        tr31::wrap_with_padding(Kbpk::tdes(&kbpk).unwrap(), &h, &[1u8; 16], &[0u8; 5]).unwrap_err(),
        kb(KeyBlockError::InvalidPadding)
    );
    // Version D needs an AES KBPK.
    let mut hd = h.clone();
    hd.version = Version::D;
    assert_eq!(
        tr31::wrap(Kbpk::tdes(&kbpk).unwrap(), &hd, &[1u8; 16]).unwrap_err(),
        kb(KeyBlockError::WrongKbpkAlgorithm)
    );
    assert_eq!(
        tr31::wrap(Kbpk::aes(&kbpk).unwrap(), &h, &[1u8; 16]).unwrap_err(),
        kb(KeyBlockError::WrongKbpkAlgorithm)
    );
    // Too long.
    let mut hl = h.clone();
    hl.optional_blocks = (0..40)
        .map(|_| OptionalBlock::new(OptionalBlockId::LB, &"A".repeat(250)).unwrap())
        .collect();
    assert_eq!(
        tr31::wrap(Kbpk::tdes(&kbpk).unwrap(), &hl, &[1u8; 16]).unwrap_err(),
        kb(KeyBlockError::TooLong)
    );
    // Every code round-trips.
    for u in KeyUsage::ALL {
        assert_eq!(KeyUsage::from_code(u.code()).unwrap(), *u);
    }
    for m in ModeOfUse::ALL {
        assert_eq!(ModeOfUse::from_code(m.code()).unwrap(), *m);
    }
    assert_eq!(KeyUsage::ALL.len(), 43);
}

fn arb_header() -> impl Strategy<Value = (Tr31Header, usize)> {
    (
        0usize..4,
        0usize..KeyUsage::ALL.len(),
        0usize..ModeOfUse::ALL.len(),
        0usize..Exportability::ALL.len(),
        proptest::collection::vec(("[A-Z][A-Z0-9]", "[ -~]{0,40}"), 0..4),
        0usize..3,
    )
        .prop_map(|(v, u, m, e, blocks, klen)| {
            let version = [Version::A, Version::B, Version::C, Version::D][v];
            let algorithm = if version == Version::D && klen != 0 {
                KeyAlgorithm::Aes
            } else {
                KeyAlgorithm::Tdes
            };
            let mut h = Tr31Header::new(
                version,
                KeyUsage::ALL[u],
                algorithm,
                ModeOfUse::ALL[m],
                Exportability::ALL[e],
            );
            for (id, val) in blocks {
                let id = OptionalBlockId::new(&id).unwrap();
                if let Ok(b) = OptionalBlock::new(id, &val) {
                    if id != OptionalBlockId::PB {
                        h.optional_blocks.push(b);
                    }
                }
            }
            let key_len = match algorithm {
                KeyAlgorithm::Aes => [16, 24, 32][klen],
                _ => [16, 24, 16][klen],
            };
            (h, key_len)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn wrap_unwrap_round_trip((h, key_len) in arb_header(), seed in any::<[u8; 32]>()) {
        let mut key = vec![0u8; key_len];
        for (i, b) in key.iter_mut().enumerate() { *b = seed[i % 32] ^ (i as u8).wrapping_mul(37); }
        if key_len >= 16 { key[0] ^= 0x5A; key[8] ^= 0xA5; }
        let kbpk_bytes: Vec<u8> = seed.iter().map(|b| b ^ 0x3C).collect();
        let kbpk = if h.version == Version::D {
            Kbpk::aes(&kbpk_bytes[..[16, 24, 32][usize::from(seed[0] % 3)]]).unwrap()
        } else {
            match Kbpk::tdes(&kbpk_bytes[..[16, 24][usize::from(seed[0] % 2)]]) {
                Ok(k) => k,
                Err(_) => return Ok(()),
            }
        };
        let kb = match tr31::wrap(kbpk, &h, &key) {
            Ok(kb) => kb,
            // Rare: a degenerate derived TDES key or a random key with equal halves.
            Err(Error::InvalidKey(_)) => return Ok(()),
            Err(e) => panic!("{e:?}"),
        };
        prop_assert_eq!(kb.len() % h.version.block_size(), 0);
        let (hh, k) = tr31::unwrap(kbpk, &kb).unwrap();
        prop_assert_eq!(k.expose(), &key[..]);
        let stripped: Vec<_> = hh.optional_blocks.iter().filter(|b| b.id() != OptionalBlockId::PB).cloned().collect();
        prop_assert_eq!(&stripped, &h.optional_blocks);
        prop_assert_eq!(hh.key_usage, h.key_usage);
        // Any single-character change is detected.
        let pos = usize::from(seed[1]) % kb.len();
        let mut bytes = kb.into_bytes();
        bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(tr31::unwrap(kbpk, &tampered).is_err());
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,200}") {
        let _ = tr31::parse_header(&s);
        let k = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 1, 2, 3, 4, 5, 6, 7, 8];
        let _ = tr31::unwrap(Kbpk::tdes(&k).unwrap(), &s);
        let _ = tr31::unwrap(Kbpk::aes(&k).unwrap(), &s);
    }

    #[test]
    fn parse_header_like_never_panics(tail in "[0-9A-Z]{0,120}", v in "[A-E]", len in 0u32..200) {
        let s = format!("{v}{len:04}{tail}");
        let _ = tr31::parse_header(&s);
        let k = [7u8; 32];
        let _ = tr31::unwrap(Kbpk::aes(&k).unwrap(), &s);
    }
}
