#!/usr/bin/env bash
# Instructions per call of some paycrypt-core operations, counted by callgrind in the criterion
# bench binary (load-independent, unlike the criterion times on a shared machine).
#
#   bench/callgrind-ops.sh                    # builds the bench binary first
#   BIN=path/to/core-<hash> bench/callgrind-ops.sh
#
# For each row: `valgrind --tool=callgrind --toggle-collect='*<function>'` runs the benchmark for
# about 1 s (criterion --profile-time), then total instructions / calls of the function. A
# function the compiler inlined into the benchmark cannot be counted this way ("n/a").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
    BIN=$(cargo bench -p paycrypt-core --bench core --no-run 2>&1 |
        sed -n 's/.*Executable benches\/core.rs (\(.*\))/\1/p' | tail -1)
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
run() { # <bench> <function path suffix>
    valgrind --tool=callgrind --callgrind-out-file="$OUT" --toggle-collect="*$2" \
        "$BIN" --bench --profile-time 1 "^$1\$" >/dev/null 2>&1
    local tot calls
    tot=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    calls=$(callgrind_annotate --tree=calling --threshold=100 --auto=no "$OUT" 2>/dev/null |
        grep -E ">.*$2 \(" | sed -E 's/.*\(([0-9,]+)x\).*/\1/' | tr -d , | sort -n | tail -1)
    if [ -n "$calls" ]; then
        echo "$1: $((tot / calls)) instructions per call of $2 ($calls calls)"
    else
        echo "$1: n/a ($2 inlined)"
    fi
}
run tr31_d_unwrap 'tr31::unwrap_with_padding'
run tr31_d_wrap 'tr31::wrap_with_padding'
run tr31_b_unwrap 'tr31::unwrap_with_padding'
run tr31_b_wrap 'tr31::wrap_with_padding'
run dukpt_aes128_working_key_from_ik 'aes::working_key_from_initial_key'
run prim_aes128_ks_block 'cipher::BlockCipher::new'
