//! Library benchmarks for paycrypt-core (criterion).
//!
//! One benchmark per operation. The first group measures the block-cipher
//! primitives (one block with a pre-keyed cipher, and key schedule + one block)
//! from which `docs/BENCHMARKS.md` computes each operation's "limit": the cost
//! of the block-cipher calls and key schedules the operation cannot avoid.
//! The per-benchmark comment `calls:` gives that count, taken from the code.
//!
//! Benchmark ids are flat (no `/`) so `bench/run.sh` can read
//! `target/criterion/<id>/new/estimates.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use paycrypt_core::asym;
use paycrypt_core::card::Pan;
use paycrypt_core::card_verification::{self, CvvKey};
use paycrypt_core::cipher::{BlockCipher, Padding};
use paycrypt_core::dukpt::{aes as adukpt, tdes as tdukpt};
use paycrypt_core::hex::decode;
use paycrypt_core::keyblock::tr31;
use paycrypt_core::pin_verification::{self as pv, DecimalizationPolicy, DecimalizationTable};
use paycrypt_core::pinblock::{self, PinBlockFormat};
use paycrypt_core::secret::Pin;
use paycrypt_core::{emv, kcv, mac};
use std::hint::black_box;

const K2: &str = "0123456789ABCDEFFEDCBA9876543210";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const AES128: &str = "FEDCBA9876543210F1F1F1F1F1F1F1F1";

fn h(s: &str) -> Vec<u8> {
    decode("bench", s).unwrap()
}

/// Block-cipher primitives: the units of every "limit".
///
/// Every iteration encrypts a fresh constant block (no chaining from one
/// iteration to the next), like the operations below: chaining would measure
/// the cipher's latency, not the per-call cost the operations see.
fn primitives(c: &mut Criterion) {
    let k2 = h(K2);
    let ka = h(AES128);
    let des = BlockCipher::des(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
    let tdes = BlockCipher::tdes(&k2).unwrap();
    let aes = BlockCipher::aes(&ka).unwrap();

    // calls: 1 DES block
    c.bench_function("prim_des_block", |b| {
        b.iter(|| des.encrypt8(black_box([0x11; 8])).unwrap())
    });
    // calls: 1 TDES block (= 3 DES)
    c.bench_function("prim_tdes2_block", |b| {
        b.iter(|| tdes.encrypt8(black_box([0x11; 8])).unwrap())
    });
    // calls: 1 AES-128 block
    c.bench_function("prim_aes128_block", |b| {
        b.iter(|| aes.encrypt16(black_box([0x11; 16])).unwrap())
    });
    // calls: 1 DES key schedule + 1 DES block
    c.bench_function("prim_des_ks_block", |b| {
        let key = [0x01u8, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        b.iter(|| {
            BlockCipher::des(black_box(&key))
                .encrypt8(black_box([0x11; 8]))
                .unwrap()
        })
    });
    // calls: 1 TDES (2-key) key schedule + 1 TDES block
    c.bench_function("prim_tdes2_ks_block", |b| {
        b.iter(|| {
            BlockCipher::tdes(black_box(&k2))
                .unwrap()
                .encrypt8(black_box([0x11; 8]))
                .unwrap()
        })
    });
    // calls: 1 AES-128 key schedule + 1 AES block
    c.bench_function("prim_aes128_ks_block", |b| {
        b.iter(|| {
            BlockCipher::aes(black_box(&ka))
                .unwrap()
                .encrypt16(black_box([0x11; 16]))
                .unwrap()
        })
    });
}

fn kcv_and_mac(c: &mut Criterion) {
    let k2 = h(K2);
    let ka = h(AES128);
    let tdes = BlockCipher::tdes(&k2).unwrap();
    let aes = BlockCipher::aes(&ka).unwrap();
    let m16 = [0x5Au8; 16];
    let m64 = [0x5Au8; 64];

    // calls: 1 TDES block (pre-keyed cipher)
    c.bench_function("kcv_tdes", |b| {
        b.iter(|| kcv::ansi_x9_24(black_box(&tdes), 3).unwrap())
    });
    // calls: 2 TDES blocks (pre-keyed, padding method 1)
    c.bench_function("mac_iso9797_alg1_tdes_16", |b| {
        b.iter(|| mac::iso9797_alg1(&tdes, Padding::Iso9797M1, black_box(&m16)).unwrap())
    });
    // calls: 8 TDES blocks
    c.bench_function("mac_iso9797_alg1_tdes_64", |b| {
        b.iter(|| mac::iso9797_alg1(&tdes, Padding::Iso9797M1, black_box(&m64)).unwrap())
    });
    // calls: 2 x DES ks+block (K, K') + 2 DES blocks (2 CBC blocks + decrypt + encrypt = 4)
    c.bench_function("mac_iso9797_alg3_16", |b| {
        b.iter(|| mac::iso9797_alg3(black_box(&k2), Padding::Iso9797M1, black_box(&m16)).unwrap())
    });
    // calls: 2 x DES ks+block + 8 DES blocks (8 CBC blocks + decrypt + encrypt = 10)
    c.bench_function("mac_iso9797_alg3_64", |b| {
        b.iter(|| mac::iso9797_alg3(black_box(&k2), Padding::Iso9797M1, black_box(&m64)).unwrap())
    });
    // calls: 5 AES blocks (subkey + 4 data blocks; pre-keyed)
    c.bench_function("mac_cmac_aes128_64", |b| {
        b.iter(|| mac::cmac(&aes, black_box(&m64)).unwrap())
    });
    // calls: 9 TDES blocks (subkey + 8 data blocks; pre-keyed)
    c.bench_function("mac_cmac_tdes_64", |b| {
        b.iter(|| mac::cmac(&tdes, black_box(&m64)).unwrap())
    });
    // calls: no block cipher (SHA-256 compressions only)
    c.bench_function("mac_hmac_sha256_64", |b| {
        b.iter(|| mac::hmac(mac::HashAlgorithm::Sha256, black_box(&ka), black_box(&m64)).unwrap())
    });
}

fn dukpt(c: &mut Criterion) {
    let bdk = h(BDK);
    // Counter 0x0F0F: 8 one bits (typical, max is 10 for TDES DUKPT).
    let ksn = tdukpt::Ksn::from_hex("FFFF9876543210E00000")
        .unwrap()
        .with_counter(0x0F0F)
        .unwrap();
    let ipek = tdukpt::derive_ipek(&bdk, &ksn).unwrap();

    // calls: 2 x TDES ks+block
    c.bench_function("dukpt_tdes_ipek", |b| {
        b.iter(|| tdukpt::derive_ipek(black_box(&bdk), black_box(&ksn)).unwrap())
    });
    // calls: 8 one bits x 2 x DES ks+block
    c.bench_function("dukpt_tdes_transaction_key_8bits", |b| {
        b.iter(|| {
            tdukpt::derive_transaction_key(black_box(ipek.expose()), black_box(&ksn)).unwrap()
        })
    });
    // calls: 16 x DES ks+block (variant is an XOR)
    c.bench_function("dukpt_tdes_pin_key_from_ipek", |b| {
        b.iter(|| {
            tdukpt::working_key_from_ipek(
                black_box(ipek.expose()),
                black_box(&ksn),
                tdukpt::KeyVariant::Pin,
            )
            .unwrap()
        })
    });

    let abdk = h(AES128);
    let aksn = adukpt::Ksn::from_parts(&[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56], 0x0F0F);
    let ik = adukpt::derive_initial_key(&abdk, &aksn.initial_key_id()).unwrap();
    // calls: (8 + 1) x AES ks+block (8 derivation steps + the working key)
    c.bench_function("dukpt_aes128_working_key_from_ik", |b| {
        b.iter(|| {
            adukpt::working_key_from_initial_key(
                black_box(ik.expose()),
                black_box(&aksn),
                adukpt::KeyUsage::PinEncryption,
                paycrypt_core::cipher::Algorithm::Aes128,
            )
            .unwrap()
        })
    });
}

fn card(c: &mut Criterion) {
    let k2 = h(K2);
    let cvk = CvvKey::new(&k2).unwrap();
    let pan = "4123456789012345";
    let cvv = card_verification::cvv(&cvk, pan, "8701", "101", 3).unwrap();

    // calls: 1 DES block + 1 TDES block (pre-keyed CvvKey)
    c.bench_function("cvv_generate", |b| {
        b.iter(|| card_verification::cvv(&cvk, black_box(pan), "8701", "101", 3).unwrap())
    });
    c.bench_function("cvv_verify", |b| {
        b.iter(|| {
            card_verification::verify_cvv(&cvk, black_box(pan), "8701", "101", black_box(&cvv))
                .unwrap()
        })
    });

    let mk = BlockCipher::tdes(&k2).unwrap();
    // Visa dCVV from the issuer master key (keyed).
    // calls: 2 TDES (option A) + DES ks+block + TDES ks+block (ICC CvvKey)
    c.bench_function("dcvv_generate", |b| {
        b.iter(|| {
            card_verification::dcvv(&mk, black_box(pan), "00", "8701", "101", "005E", 3).unwrap()
        })
    });
    // 19-byte track data -> 3 MAC blocks with padding method 2.
    let track = "5413339000001513D14122010123409172000F";
    // calls: 2 TDES (option A) + DES ks+block + TDES ks+block + 1 DES + 1 TDES
    c.bench_function("cvc3_generate", |b| {
        b.iter(|| {
            card_verification::cvc3(
                &mk,
                black_box("5413339000001513"),
                "00",
                black_box(track),
                "00000899",
                "005E",
                5,
            )
            .unwrap()
        })
    });
}

fn emv_ops(c: &mut Criterion) {
    let k2 = h(K2);
    let imk = BlockCipher::tdes(&k2).unwrap();
    let pan = "5413339000001513";
    let icc = emv::derive_icc_master_key_option_a(&imk, pan, "00").unwrap();
    let r = [0x00, 0x1C, 0, 0, 0, 0, 0, 0];

    // calls: 2 TDES blocks (pre-keyed issuer MK)
    c.bench_function("emv_icc_mk_option_a", |b| {
        b.iter(|| emv::derive_icc_master_key_option_a(&imk, black_box(pan), "00").unwrap())
    });
    // calls: TDES ks+block + 1 TDES block
    c.bench_function("emv_common_session_key", |b| {
        b.iter(|| emv::derive_common_session_key(black_box(icc.expose()), black_box(&r)).unwrap())
    });

    // 37 bytes of CDOL1 data (padding method 2 -> 5 blocks).
    let data: Vec<u8> = (0u8..37).collect();
    let sk = emv::derive_common_session_key(icc.expose(), &r).unwrap();
    let arqc = emv::generate_arqc(sk.expose(), &data, emv::AcPadding::Method2).unwrap();
    // Full server chain: issuer MK (keyed) -> ICC MK -> session key -> ARQC check.
    // calls: 2 TDES + (TDES ks+block + TDES) + 2 x DES ks+block + 5 DES
    c.bench_function("emv_arqc_verify_chain", |b| {
        b.iter(|| {
            let icc = emv::derive_icc_master_key_option_a(&imk, black_box(pan), "00").unwrap();
            let sk = emv::derive_common_session_key(icc.expose(), black_box(&r)).unwrap();
            emv::verify_arqc(
                sk.expose(),
                black_box(&data),
                emv::AcPadding::Method2,
                black_box(&arqc),
            )
            .unwrap()
        })
    });
    // calls: TDES ks+block
    c.bench_function("emv_arpc_method1", |b| {
        b.iter(|| emv::arpc_method1(black_box(icc.expose()), black_box(&arqc), b"00").unwrap())
    });
}

fn pin(c: &mut Criterion) {
    let k2 = h(K2);
    let zpk_in = BlockCipher::tdes(&k2).unwrap();
    let zpk_out = BlockCipher::tdes(&h("89ABCDEF0123456776543210FEDCBA98")).unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    let pin = Pin::new("1234").unwrap();
    let clear = pinblock::encode_clear(PinBlockFormat::Iso0, &pin, Some(&pan)).unwrap();

    // calls: none (nibble work only)
    c.bench_function("pin_iso0_encode", |b| {
        b.iter(|| {
            pinblock::encode_clear(PinBlockFormat::Iso0, black_box(&pin), Some(&pan)).unwrap()
        })
    });
    c.bench_function("pin_iso0_decode", |b| {
        b.iter(|| {
            pinblock::decode_clear(PinBlockFormat::Iso0, black_box(clear.expose()), Some(&pan))
                .unwrap()
        })
    });

    // calls: 1 TDES decrypt + 1 TDES encrypt (both keys pre-keyed)
    let eb = pinblock::encrypt_pin_block(&zpk_in, PinBlockFormat::Iso0, &pin, Some(&pan)).unwrap();
    c.bench_function("pin_translate_tdes_iso0_to_tdes_iso0", |b| {
        b.iter(|| {
            pinblock::translate(
                &zpk_in,
                PinBlockFormat::Iso0,
                black_box(&eb),
                Some(&pan),
                &zpk_out,
                PinBlockFormat::Iso0,
                Some(&pan),
            )
            .unwrap()
        })
    });

    // TDES DUKPT ISO 0 -> ZPK ISO 0, the headline PIN-translation server op.
    let bdk = h(BDK);
    let ksn = tdukpt::Ksn::from_hex("FFFF9876543210E00000")
        .unwrap()
        .with_counter(0x0F0F)
        .unwrap();
    let ipek = tdukpt::derive_ipek(&bdk, &ksn).unwrap();
    let wk = tdukpt::working_key_from_ipek(ipek.expose(), &ksn, tdukpt::KeyVariant::Pin).unwrap();
    let deb = pinblock::encrypt_pin_block(
        &BlockCipher::tdes(wk.expose()).unwrap(),
        PinBlockFormat::Iso0,
        &pin,
        Some(&pan),
    )
    .unwrap();
    // calls: 2 x TDES ks+block (IPEK) + 16 x DES ks+block + TDES ks+block + 1 TDES
    c.bench_function("pin_translate_dukpt_tdes_iso0_to_zpk_iso0", |b| {
        b.iter(|| {
            let wk = tdukpt::working_key(black_box(&bdk), black_box(&ksn), tdukpt::KeyVariant::Pin)
                .unwrap();
            let kin = BlockCipher::tdes(wk.expose()).unwrap();
            pinblock::translate(
                &kin,
                PinBlockFormat::Iso0,
                black_box(&deb),
                Some(&pan),
                &zpk_out,
                PinBlockFormat::Iso0,
                Some(&pan),
            )
            .unwrap()
        })
    });
    // Same with the IPEK cached.
    // calls: 16 x DES ks+block + TDES ks+block + 1 TDES
    c.bench_function(
        "pin_translate_dukpt_tdes_iso0_to_zpk_iso0_cached_ipek",
        |b| {
            b.iter(|| {
                let wk = tdukpt::working_key_from_ipek(
                    black_box(ipek.expose()),
                    black_box(&ksn),
                    tdukpt::KeyVariant::Pin,
                )
                .unwrap();
                let kin = BlockCipher::tdes(wk.expose()).unwrap();
                pinblock::translate(
                    &kin,
                    PinBlockFormat::Iso0,
                    black_box(&deb),
                    Some(&pan),
                    &zpk_out,
                    PinBlockFormat::Iso0,
                    Some(&pan),
                )
                .unwrap()
            })
        },
    );

    // AES DUKPT (AES-128 BDK, PIN key AES-128) ISO 4 -> ZPK ISO 0.
    let abdk = h(AES128);
    let aksn = adukpt::Ksn::from_parts(&[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56], 0x0F0F);
    let awk = adukpt::working_key(
        &abdk,
        &aksn,
        adukpt::KeyUsage::PinEncryption,
        paycrypt_core::cipher::Algorithm::Aes128,
    )
    .unwrap();
    let aeb = pinblock::encrypt_pin_block(
        &BlockCipher::aes(awk.expose()).unwrap(),
        PinBlockFormat::ISO4,
        &pin,
        Some(&pan),
    )
    .unwrap();
    // calls: AES ks+block (initial key) + 8 x AES ks+block + AES ks+block (working key)
    //        + AES ks + 2 AES decrypts + 1 TDES
    c.bench_function("pin_translate_dukpt_aes_iso4_to_zpk_iso0", |b| {
        b.iter(|| {
            let wk = adukpt::working_key(
                black_box(&abdk),
                black_box(&aksn),
                adukpt::KeyUsage::PinEncryption,
                paycrypt_core::cipher::Algorithm::Aes128,
            )
            .unwrap();
            let kin = BlockCipher::aes(wk.expose()).unwrap();
            pinblock::translate(
                &kin,
                PinBlockFormat::ISO4,
                black_box(&aeb),
                Some(&pan),
                &zpk_out,
                PinBlockFormat::Iso0,
                Some(&pan),
            )
            .unwrap()
        })
    });

    // PIN verification (PVK pre-keyed, clear PIN).
    let pvk = BlockCipher::tdes(&k2).unwrap();
    let pvv = pv::visa_pvv(&pvk, &pan, 1, &pin).unwrap();
    // calls: 1 TDES block
    c.bench_function("pvv_generate", |b| {
        b.iter(|| pv::visa_pvv(&pvk, black_box(&pan), 1, black_box(&pin)).unwrap())
    });
    c.bench_function("pvv_verify", |b| {
        b.iter(|| pv::verify_visa_pvv(&pvk, black_box(&pan), 1, black_box(&pin), &pvv).unwrap())
    });
    let table = DecimalizationTable::new("0123456789012345").unwrap();
    let params = pv::Ibm3624Params::new(
        &DecimalizationPolicy::any_valid(),
        &table,
        "4111111111111",
        'F',
    )
    .unwrap();
    let offset = pv::ibm3624_offset(&pvk, &params, &pin).unwrap();
    // calls: 1 TDES block
    c.bench_function("ibm3624_offset_verify", |b| {
        b.iter(|| {
            pv::verify_ibm3624_offset(&pvk, black_box(&params), black_box(&pin), &offset).unwrap()
        })
    });
}

fn keyblocks(c: &mut Criterion) {
    // TR-31 B: TDES-2 KBPK wrapping a TDES-2 key (header 16 chars, payload 32 bytes).
    let kbpk_t = h("89ABCDEF0123456776543210FEDCBA98");
    let key_t = h(K2);
    let hdr_b = tr31::Tr31Header::new(
        tr31::Version::B,
        tr31::KeyUsage::P0,
        tr31::KeyAlgorithm::Tdes,
        tr31::ModeOfUse::EncryptOnly,
        tr31::Exportability::Trusted,
    );
    let blk_b = tr31::wrap(tr31::Kbpk::tdes(&kbpk_t).unwrap(), &hdr_b, &key_t).unwrap();
    // calls: 3 x TDES ks+block + 16 TDES blocks (8 derivation, 7 CMAC, 4 CBC; -3 counted in ks+block)
    c.bench_function("tr31_b_wrap", |b| {
        b.iter(|| {
            tr31::wrap(
                tr31::Kbpk::tdes(&kbpk_t).unwrap(),
                black_box(&hdr_b),
                black_box(&key_t),
            )
            .unwrap()
        })
    });
    c.bench_function("tr31_b_unwrap", |b| {
        b.iter(|| tr31::unwrap(tr31::Kbpk::tdes(&kbpk_t).unwrap(), black_box(&blk_b)).unwrap())
    });

    // TR-31 D: AES-128 KBPK wrapping an AES-128 key (payload 48 bytes).
    let kbpk_a = h(AES128);
    let key_a = h("00112233445566778899AABBCCDDEEFF");
    let hdr_d = tr31::Tr31Header::new(
        tr31::Version::D,
        tr31::KeyUsage::P0,
        tr31::KeyAlgorithm::Aes,
        tr31::ModeOfUse::EncryptOnly,
        tr31::Exportability::Trusted,
    );
    let blk_d = tr31::wrap(tr31::Kbpk::aes(&kbpk_a).unwrap(), &hdr_d, &key_a).unwrap();
    c.bench_function("tr31_d_wrap", |b| {
        b.iter(|| {
            tr31::wrap(
                tr31::Kbpk::aes(&kbpk_a).unwrap(),
                black_box(&hdr_d),
                black_box(&key_a),
            )
            .unwrap()
        })
    });
    c.bench_function("tr31_d_unwrap", |b| {
        b.iter(|| tr31::unwrap(tr31::Kbpk::aes(&kbpk_a).unwrap(), black_box(&blk_d)).unwrap())
    });
}

fn asymmetric(c: &mut Criterion) {
    let kp = asym::rsa_generate(asym::RsaKeySize::Rsa2048).unwrap();
    let ct = asym::rsa_encrypt(
        &kp.public_spki,
        asym::RsaPadding::OaepSha256,
        &[0x42; 16],
        None,
    )
    .unwrap();
    // calls: none (aws-lc-rs RSA; includes PKCS#8 parsing of the private key)
    c.bench_function("rsa2048_oaep_sha256_decrypt", |b| {
        b.iter(|| {
            asym::rsa_decrypt(
                kp.private_pkcs8.expose(),
                asym::RsaPadding::OaepSha256,
                black_box(&ct),
                None,
            )
            .unwrap()
        })
    });
    // calls: none (aws-lc-rs RSA; the PKCS#8 key parsed once outside the loop, as the server's
    // key cache does)
    let parsed = asym::RsaDecryptionKey::from_pkcs8(kp.private_pkcs8.expose()).unwrap();
    c.bench_function("rsa2048_oaep_sha256_decrypt_parsed_key", |b| {
        b.iter(|| {
            parsed
                .decrypt(asym::RsaPadding::OaepSha256, black_box(&ct), None)
                .unwrap()
        })
    });
    let a = asym::ec_generate(asym::EccCurve::P256).unwrap();
    let p = asym::ec_generate(asym::EccCurve::P256).unwrap();
    // calls: none (aws-lc-rs P-256; includes PKCS#8 parsing)
    c.bench_function("ecdh_p256_derive", |b| {
        b.iter(|| {
            asym::ecdh_shared_secret(
                asym::EccCurve::P256,
                asym::EcPrivateKey::Der(a.private_pkcs8.expose()),
                black_box(&p.public_point),
            )
            .unwrap()
        })
    });
}

criterion_group!(
    benches,
    primitives,
    kcv_and_mac,
    dukpt,
    card,
    emv_ops,
    pin,
    keyblocks,
    asymmetric
);
criterion_main!(benches);
