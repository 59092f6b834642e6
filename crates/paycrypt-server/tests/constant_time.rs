//! Constant-time comparisons on every verify path (issue 7, item 2), checked on the source:
//! every function named `verify*` in paycrypt-core and paycrypt-server (outside test modules),
//! plus the MAC/nonce/KCV checks listed in [`EXTRA`], must
//! - compare through `cipher::ct_eq` (subtle's `ConstantTimeEq`), directly or by delegating to
//!   another verify path or to `mac::verify_truncated` / `card_verification::verify_digits`
//!   (or be a public-key signature check, [`SIGNATURE_CHECKS`]); and
//! - contain no `==` / `!=` other than the reviewed comparisons of public values in
//!   [`REVIEWED`] (lengths, service names, OIDs, the public payload hash).
//!
//! A new verify function, or a new `==` in an existing one, fails this test until it is reviewed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Verify paths not named `verify*`: (file under crates/, function).
const EXTRA: &[(&str, &str)] = &[
    // TR-31 MAC check before any key is released.
    ("paycrypt-core/src/keyblock/tr31.rs", "unwrap_with_padding"),
    // TR-34 random nonce check.
    ("paycrypt-server/src/tr34.rs", "unwrap"),
    // TR-31 `KP` block: KCV of the wrapping key.
    ("paycrypt-server/src/import_export.rs", "check_kp"),
    // CVV/CVV2/dCVV/CVC3 verification dispatch.
    ("paycrypt-server/src/data/card.rs", "run"),
];

/// Parsers of public structure that contain one secret-relevant check each (done with `ct_eq`,
/// required below); their other comparisons are of public ASN.1 fields (OIDs, versions,
/// certificate identifiers, the signed-attributes digest, the clear key-block header), so only
/// the presence of `ct_eq` is checked: the TR-34 2-pass nonce.
const PARSERS: &[&str] = &["paycrypt-server/src/tr34.rs unwrap"];

/// Public-key signature checks (aws-lc-rs): no secret is compared.
const SIGNATURE_CHECKS: &[&str] = &["verify_signed_by"];

/// Reviewed `==`/`!=` lines inside verify paths (trimmed text): comparisons of public values.
const REVIEWED: &[&str] = &[
    // Lengths.
    "if arqc.len() != 8 {",
    "if offset.len() != n {",
    "if body.len() < mac_chars + 2 * bs || (body.len() - mac_chars) % (2 * bs) != 0 {",
    "if bits % 8 != 0 {",
    "if s.len() % 2 != 0 {",
    // The signature length is public (64 hex characters); the comparison itself is ct_eq.
    "if auth.signature.len() != given.len() || !ct_eq(&expected, &given) {",
    // SigV4: the service name and the date of the credential scope are public request fields;
    // the payload hash is the SHA-256 of the body the client sent (public).
    "if auth.service != service {",
    "\"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'\",",
    "if h.as_bytes() != payload_hash.as_bytes() {",
    "if h.as_bytes() != payload_hash.as_slice() {",
];

struct Func {
    file: String,
    name: String,
    body: String,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The byte index of the brace matching the `{` at `open`.
fn matching(s: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, &c) in s.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces");
}

/// Every `fn` with its body, outside `mod tests` blocks.
fn functions(root: &Path) -> Vec<Func> {
    let mut files = Vec::new();
    for c in ["paycrypt-core/src", "paycrypt-server/src"] {
        rs_files(&root.join(c), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let s = std::fs::read_to_string(&f).unwrap();
        let b = s.as_bytes();
        let mut test_spans = Vec::new();
        let mut from = 0;
        while let Some(i) = s[from..].find("mod tests {") {
            let open = from + i + "mod tests ".len();
            let close = matching(b, open);
            test_spans.push(open..close);
            from = close;
        }
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let mut from = 0;
        while let Some(i) = s[from..].find("fn ") {
            let at = from + i;
            from = at + 3;
            let boundary = at == 0 || !b[at - 1].is_ascii_alphanumeric() && b[at - 1] != b'_';
            if !boundary || test_spans.iter().any(|r| r.contains(&at)) {
                continue;
            }
            let name: String = s[at + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            // The body starts at the first `{` outside parentheses/brackets after the
            // signature; a `;` there first means a declaration without a body.
            let mut depth = 0i32;
            let mut open = None;
            for (j, &c) in b.iter().enumerate().skip(at) {
                match c {
                    b'(' | b'[' => depth += 1,
                    b')' | b']' => depth -= 1,
                    b'{' if depth == 0 => {
                        open = Some(j);
                        break;
                    }
                    b';' if depth == 0 => break,
                    _ => {}
                }
            }
            let Some(open) = open else {
                continue;
            };
            let close = matching(b, open);
            out.push(Func {
                file: rel.clone(),
                name,
                body: s[open..=close].to_owned(),
            });
        }
    }
    out
}

fn compares(line: &str) -> bool {
    line.contains("!=")
        || line.match_indices("==").any(|(i, _)| {
            let before = line[..i].chars().last();
            let after = line[i + 2..].chars().next();
            before != Some('=')
                && after != Some('=')
                && before != Some('!')
                && before != Some('<')
                && before != Some('>')
        })
}

#[test]
fn every_verify_path_compares_in_constant_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let funcs = functions(root);
    // ct_eq itself is subtle's constant-time equality.
    let ct = funcs
        .iter()
        .find(|f| f.name == "ct_eq" && f.file.ends_with("paycrypt-core/src/cipher.rs"))
        .expect("cipher::ct_eq");
    assert!(ct.body.contains("ConstantTimeEq"), "{}", ct.body);

    let paths: Vec<&Func> = funcs
        .iter()
        .filter(|f| {
            f.name.starts_with("verify")
                || EXTRA
                    .iter()
                    .any(|(file, name)| f.file.ends_with(file) && f.name == *name)
        })
        .collect();
    for (file, name) in EXTRA {
        assert!(
            paths
                .iter()
                .any(|f| f.file.ends_with(file) && f.name == *name),
            "{file} {name} not found"
        );
    }
    let names: Vec<&str> = paths.iter().map(|f| f.name.as_str()).collect();
    let mut bad = Vec::new();
    let mut listed = Vec::new();
    for f in &paths {
        let direct = ["ct_eq(", "verify_truncated(", "verify_digits("]
            .iter()
            .any(|m| f.body.contains(m));
        let delegates = names
            .iter()
            .any(|n| *n != f.name && f.body.contains(&format!("{n}(")));
        let signature = SIGNATURE_CHECKS.contains(&f.name.as_str());
        if !(direct || delegates || signature) {
            bad.push(format!(
                "{} {}: no constant-time comparison",
                f.file, f.name
            ));
        }
        if PARSERS.contains(&format!("{} {}", f.file, f.name).as_str()) {
            if !f.body.contains("ct_eq(") {
                bad.push(format!("{} {}: no ct_eq", f.file, f.name));
            }
            listed.push(format!("{} {} (ct_eq; parser)", f.file, f.name));
            continue;
        }
        for line in f.body.lines().map(str::trim) {
            if line.starts_with("//") || !compares(line) {
                continue;
            }
            let reviewed = REVIEWED.contains(&line)
                || (signature && line.contains("OID"))
                || (signature && line.contains("oid"));
            if !reviewed {
                bad.push(format!("{} {}: `{line}`", f.file, f.name));
            }
        }
        listed.push(format!(
            "{} {} ({})",
            f.file,
            f.name,
            if direct {
                "ct_eq"
            } else if delegates {
                "delegates"
            } else {
                "signature"
            }
        ));
    }
    println!("{} verify paths:\n  {}", listed.len(), listed.join("\n  "));
    assert!(paths.len() >= 24, "too few verify paths found: {listed:#?}");
    assert!(
        bad.is_empty(),
        "verify paths to review:\n{}",
        bad.join("\n")
    );
}
