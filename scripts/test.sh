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
cargo test --workspace --doc

# ---- interop: the AWS-compatible server driven through boto3 and the AWS CLI ----
# Debug build: `cargo test` above already compiled every dependency in the debug profile, so
# this only links the binary (a release build costs ~6 extra minutes on 2 cores from cold).
cargo build -p paycrypt
PAYCRYPT_BIN="${CARGO_TARGET_DIR:-target}/debug/paycrypt" .venv/bin/python -m pytest -q tests/interop
# ---- end interop ----
