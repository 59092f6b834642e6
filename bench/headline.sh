#!/usr/bin/env bash
# The headline server measurement of docs/BENCHMARKS.md: TranslatePinData TDES DUKPT ISO 0 ->
# TDES ZPK ISO 0 against a release `paycrypt serve` (audit log off, SQLite in a temp dir), load
# generator on the same machine. Prints the bench JSON of each run and the server CPU time per
# request (utime + stime of the server process from /proc/<pid>/stat, before and after the run,
# divided by the requests the run counted; warm-up requests are included in the CPU but not in
# the count, so the figure is a slight over-estimate).
#
#   bench/headline.sh                      # 64 connections, 10 s, 3 runs
#   CONNS="1 8 64 256" RUNS=1 bench/headline.sh
#   MIX=mixed bench/headline.sh
#   NO_BUILD=1 bench/headline.sh           # skip `cargo build --release -p paycrypt`
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-64}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
MIX=${MIX:-translate-pin}
PORT=${PORT:-18932}
BIN=${BIN:-target/release/paycrypt}
[ -n "${NO_BUILD:-}" ] || cargo build --release -p paycrypt >&2

D=$(mktemp -d)
"$BIN" serve --listen 127.0.0.1:$PORT --audit-log off --data-dir "$D" >"$D/server.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$D"' EXIT
for _ in $(seq 100); do
    grep -q listening "$D/server.out" 2>/dev/null && break
    sleep 0.1
done
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')  cpu: $(lscpu | sed -n 's/^Model name: *//p')  nproc: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $CONNS; do
    for r in $(seq "$RUNS"); do
        before=$(cpu)
        out=$("$BIN" --output json bench --endpoint-url "http://127.0.0.1:$PORT" \
            --credentials-file "$D/credentials" --mix "$MIX" --connections "$c" --duration "$DURATION")
        after=$(cpu)
        python3 - "$c" "$r" "$before" "$after" "$TCK" "$out" <<'EOF'
import json, sys
c, r, b, a, tck, out = sys.argv[1:]
j = json.loads(out)
def find(d, *names):
    for n in names:
        if isinstance(d, dict) and n in d:
            return d[n]
    return None
req = find(j, "requests")
rps = j["throughput_rps"]
lat = j["latency_ms"]
cpu_us = (float(a) - float(b)) / float(tck) / req * 1e6 if req else float("nan")
print(f"conns={c} run={r} requests={req} req/s={rps:.0f} p50={lat.get('p50')} p99={lat.get('p99')} "
      f"p99.9={lat.get('p99_9')} max={lat.get('max')} errors={j['errors']} server_cpu_us_per_req={cpu_us:.1f}")
EOF
        [ -z "${VERBOSE:-}" ] || echo "$out"
    done
done
echo "server RSS: $(ps -o rss= -p $SERVER) kB  load: $(cut -d' ' -f1-3 /proc/loadavg)"
