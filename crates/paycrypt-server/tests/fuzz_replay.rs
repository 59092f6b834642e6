//! The cargo-fuzz targets on the stable toolchain: every committed seed in `fuzz/corpus/<target>/`,
//! every crash regression in `fuzz/regressions/<target>/`, then a few thousand deterministic
//! mutations of them (bit flips, byte insert/delete/overwrite, chunk duplication, splicing)
//! through the same target bodies that libFuzzer runs (`fuzz/src/targets.rs`, included here).
//! A failure prints the target and the input in hex; save it under `fuzz/regressions/<target>/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn read_dir_files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(&p).unwrap())
        .collect()
}

/// Seeds (must be non-empty: the corpus is committed) and crash regressions of `target`.
fn inputs(target: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let seeds = read_dir_files(&fuzz_dir().join("corpus").join(target));
    assert!(!seeds.is_empty(), "no committed corpus for {target}");
    (
        seeds,
        read_dir_files(&fuzz_dir().join("regressions").join(target)),
    )
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{}",
    b"[]",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\\u0000",
    b"\xff\xfe",
    b"%2F",
    b"..",
    b"=",
    b"D",
    b"|",
    b"\n",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                v.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                let i = rng.below(len + 1);
                v.splice(i..i, s.iter().copied());
            }
        }
    }
    v
}

fn run(target: &str, n: usize, body: impl Fn(&[u8])) {
    run_filtered(target, n, |_| true, body);
}

/// As [`run`], mutated inputs for which `keep` is false are skipped (seeds always run).
fn run_filtered(target: &str, n: usize, keep: impl Fn(&[u8]) -> bool, body: impl Fn(&[u8])) {
    let (seeds, regressions) = inputs(target);
    let mut count = 0usize;
    let mut check = |input: &[u8]| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(input)));
        if r.is_err() {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            panic!("fuzz target {target} failed on input (hex) {hex}");
        }
        count += 1;
    };
    for s in seeds.iter().chain(&regressions) {
        check(s);
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    let mut pool = seeds.clone();
    pool.extend(regressions);
    let mut ran = 0;
    while ran < n {
        let m = mutate(&mut rng, &pool);
        if keep(&m) {
            check(&m);
            ran += 1;
        }
    }
    assert_eq!(count, pool.len() + n);
}

#[test]
fn fuzz_tr31() {
    run("tr31", 4000, targets::tr31);
}

#[test]
fn fuzz_pinblock() {
    run("pinblock", 4000, targets::pinblock);
}

#[test]
fn fuzz_track2() {
    run("track2", 4000, targets::track2);
}

#[test]
fn fuzz_arqc() {
    run("arqc", 4000, targets::arqc);
}

#[test]
fn fuzz_sigv4() {
    run("sigv4", 2000, targets::sigv4);
}

#[test]
fn fuzz_http() {
    // GetParametersForImport/Export generate an RSA key pair per call (~1–2 s each in a debug
    // build): their seeds run, their mutations are left to libFuzzer.
    let slow: Vec<u8> = ["GetParametersForImport", "GetParametersForExport"]
        .iter()
        .map(|op| targets::CONTROL_OPS.iter().position(|o| o == op).unwrap() as u8)
        .collect();
    let n = targets::http_op_count();
    let h = targets::Harness::new();
    run_filtered(
        "http",
        2000,
        |d| {
            d.first()
                .is_some_and(|s| !slow.contains(&((usize::from(*s) % n) as u8)))
        },
        |d| {
            let _ = targets::http(&h, d);
        },
    );
}

/// The HTTP target's selector covers every control-plane operation and every data-plane route.
#[test]
fn fuzz_http_selects_every_operation() {
    assert_eq!(
        targets::http_op_count(),
        paycrypt_server::control::SUPPORTED.len() + paycrypt_server::data::ROUTES.len() + 1
    );
    assert!(targets::http_op_count() <= 256);
}

/// The libFuzzer crate cannot rot unnoticed: every `[[bin]]` of `fuzz/Cargo.toml` has its
/// source, calls the body of the same name that this file runs, and has a committed corpus.
#[test]
fn fuzz_crate_matches_the_replayed_bodies() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "paycrypt-fuzz")
        .collect();
    assert_eq!(
        bins,
        ["tr31", "pinblock", "track2", "arqc", "sigv4", "http"],
        "fuzz/Cargo.toml targets changed: replay them here too"
    );
    for b in bins {
        let src = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{b}.rs"))).unwrap();
        assert!(src.contains("fuzz_target!"), "{b}");
        assert!(
            src.contains(&format!("targets::{b}(")) || src.contains(&format!("{b}(h, data)")),
            "fuzz_targets/{b}.rs does not call targets::{b}"
        );
        assert!(!inputs(b).0.is_empty());
    }
}
