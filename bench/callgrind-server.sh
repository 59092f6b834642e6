#!/usr/bin/env bash
# User-space instructions per request of the server, counted by callgrind (reproducible on a
# shared machine, unlike time): the release server runs under `valgrind --tool=callgrind`,
# `paycrypt bench` sets up its keys (control plane, not counted) and starts its warm-up; the
# counters are then zeroed, REQUESTS measured requests run, and the server's own request counter
# (`/metrics`, TranslatePinData or the MIX's operations) gives the number of requests between
# the zeroing and the dump. Kernel work (TCP, epoll) is not counted by callgrind.
#
#   bench/callgrind-server.sh                 # 64 connections, translate-pin, 10000 requests
#   CONNS=8 REQUESTS=5000 bench/callgrind-server.sh
# Output: instructions per request (total and the top functions, inclusive) and the dump file.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-64}
REQUESTS=${REQUESTS:-10000}
MIX=${MIX:-translate-pin}
PORT=${PORT:-18933}
BIN=${BIN:-target/release/paycrypt}
OUT=${OUT:-target/callgrind-server}
mkdir -p "$OUT"
D=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$BIN" serve --listen 127.0.0.1:$PORT --audit-log off --data-dir "$D" >"$D/server.out" 2>&1 &
VG=$!
trap 'kill $VG 2>/dev/null || true; wait $VG 2>/dev/null || true; rm -rf "$D"' EXIT
for _ in $(seq 600); do
    grep -q listening "$D/server.out" 2>/dev/null && break
    sleep 0.2
done
count() {
    curl -s "http://127.0.0.1:$PORT/metrics" |
        awk '/^paycrypt_requests_total/ && !/(ImportKey|GetParametersForImport|CreateKey|GetKey|CreateAlias|Unknown)/ {n += $2} END {print n + 0}'
}
"$BIN" bench --endpoint-url "http://127.0.0.1:$PORT" --credentials-file "$D/credentials" \
    --mix "$MIX" --connections "$CONNS" --requests "$REQUESTS" --warmup 10 --pool 64 >"$D/bench.out" 2>&1 &
BENCH=$!
# wait for the warm-up traffic to begin (the set-up is over)
for _ in $(seq 1200); do
    [ "$(count)" -gt 200 ] && break
    sleep 0.25
done
callgrind_control -z $VG >/dev/null
start=$(count)
wait $BENCH || { cat "$D/bench.out"; exit 1; }
end=$(count)
callgrind_control -d $VG >/dev/null
sleep 2
F=$(ls -t "$OUT"/callgrind.out.$VG* | head -1)
N=$((end - start))
TOTAL=$(callgrind_annotate "$F" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "requests between zero and dump: $N (bench: $(grep -m1 -i 'requests' "$D/bench.out" | tr -s ' '))"
echo "instructions: $TOTAL  per request: $((TOTAL / N))"
echo "dump: $F"
callgrind_annotate --inclusive=yes "$F" 2>/dev/null | sed -n '1,60p' | grep -E '^ *[0-9,]+ ' | head -40 |
    awk -v n="$N" '{c=$1; gsub(",", "", c); $1=""; printf "%10.0f  %s\n", c / n, substr($0, 1, 140)}'
