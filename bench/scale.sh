#!/usr/bin/env bash
# Scale curves (issue #6 item 4): for each store size N, seed N keys with
# `paycrypt admin seed-keys` (N/2 MAC keys + N/2 PIN keys), start `paycrypt serve` and time it
# until /health answers, read the server's RSS (VmRSS, /proc/<pid>/status) idle and after each
# load run (VmRSS and the peak VmHWM), and drive it with `paycrypt bench`:
#   * translate-pin at 64 connections (the 7 keys the bench imports),
#   * generate-mac and translate-pin spread over min(pool, N/2) seeded keys (--spread-keys),
#   * at the largest size, translate-pin at each of $CONNS connections.
# Output: one tab-separated line per measurement on stdout (the bench JSON goes to $WORK).
#
# Usage: bench/scale.sh                       # 1k, 100k, 1M keys, 10 s runs (~10 minutes)
#        SIZES="1000" DURATION=1 CONNS="4" POOL=500 bench/scale.sh      # smoke
# Env: PAYCRYPT_BIN (default target/release/paycrypt), WORK (default /tmp/paycrypt-scale; seeded
# stores are kept and reused), PORT (18940), SIZES, CONNS, DURATION, POOL (20000),
# NO_PIN_SPREAD=1 (skip the translate-pin spread run, for stores without seeded PIN keys),
# SERVE_ARGS (extra `paycrypt serve` options, e.g. "--mlock off").
set -euo pipefail

BIN=${PAYCRYPT_BIN:-target/release/paycrypt}
WORK=${WORK:-/tmp/paycrypt-scale}
PORT=${PORT:-18940}
SIZES=${SIZES:-"1000 100000 1000000"}
CONNS=${CONNS:-"1 8 64 256"}
DURATION=${DURATION:-10}
POOL=${POOL:-20000}
URL="http://127.0.0.1:$PORT"

rss() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }

server_pid=""
stop() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi; }
trap stop EXIT

printf 'keys\trun\tconns\treq_per_s\tp50_ms\tp99_ms\tp99.9_ms\terrors\trss_after_MB\trss_peak_MB\n'

bench() { # size label conns extra-args...
    local n=$1 label=$2 c=$3
    shift 3
    local out="$WORK/n$n/bench-$label-c$c.json"
    "$BIN" --output json bench --endpoint-url "$URL" --credentials-file "$WORK/n$n/credentials" \
        --connections "$c" --duration "$DURATION" "$@" >"$out" 2>"$WORK/n$n/bench.log" || true
    python3 - "$out" "$n" "$label" "$c" "$(rss "$server_pid" VmRSS)" "$(rss "$server_pid" VmHWM)" <<'PY'
import json, sys
path, n, label, c, rss, hwm = sys.argv[1:]
try:
    r = json.load(open(path))
    l = r["latency_ms"]
    print(f"{n}\t{label}\t{c}\t{r['throughput_rps']:.0f}\t{l['p50']:.3f}\t{l['p99']:.3f}\t{l['p99_9']:.3f}\t{r['errors']}\t{rss}\t{hwm}")
except Exception as e:  # a failed bench run: say so, keep going
    print(f"{n}\t{label}\t{c}\tFAILED ({e})\t\t\t\t\t{rss}\t{hwm}")
PY
}

for n in $SIZES; do
    d="$WORK/n$n"
    mkdir -p "$d"
    if [ ! -f "$d/master.hex" ]; then
        (umask 077; openssl rand -hex 32 >"$d/master.hex")
    fi
    if [ ! -f "$d/seeded" ]; then
        half=$((n / 2))
        t0=$(now)
        "$BIN" --output json admin seed-keys --data-dir "$d" --master-key-file "$d/master.hex" \
            --count "$half" --kind mac >"$d/seed-mac.json"
        "$BIN" --output json admin seed-keys --data-dir "$d" --master-key-file "$d/master.hex" \
            --count $((n - half)) --kind pin >"$d/seed-pin.json"
        t1=$(now)
        printf '%s\tseed\t-\t%.0f keys/s (%.1f s)\n' "$n" "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" >&2
        touch "$d/seeded"
    fi
    t0=$(now)
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$d" --master-key-file "$d/master.hex" \
        --audit-log off ${SERVE_ARGS:-} 2>"$d/serve.log" &
    server_pid=$!
    until curl -sf "$URL/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { echo "server died: $(tail -3 "$d/serve.log")" >&2; exit 1; }
        sleep 0.02
    done
    t1=$(now)
    printf '%s\tstart-up\t-\t%.2f s\t\t\t\t\t%s\t%s\n' "$n" "$(echo "$t1 - $t0" | bc -l)" \
        "$(rss "$server_pid" VmRSS)" "$(rss "$server_pid" VmHWM)"
    spread=$((n / 2))
    bench "$n" translate-pin 64 --mix translate-pin
    bench "$n" generate-mac-spread 64 --mix generate-mac --pool "$POOL" --spread-keys "$spread"
    if [ -z "${NO_PIN_SPREAD:-}" ]; then
        bench "$n" translate-pin-spread 64 --mix translate-pin --pool "$POOL" --spread-keys "$spread"
    fi
    if [ "$n" = "${SIZES##* }" ]; then
        for c in $CONNS; do
            bench "$n" translate-pin "$c" --mix translate-pin
        done
    fi
    stop
done
