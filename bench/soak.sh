#!/usr/bin/env bash
# Soak and burst test of a release `paycrypt serve` with `paycrypt bench` (issue #7, item 5).
#
#   bench/soak.sh                       # full run: ~10 min soak + bursts (~12 min in all)
#   SOAK_SECS=30 PEAK_SECS=5 bench/soak.sh   # a short rehearsal
#
# 1. peak:  closed loop, --mix mixed, $CONNS connections, $PEAK_SECS s  -> peak req/s P
# 2. soak:  open loop at 80 % of P (--rate), $SOAK_SECS s, per-minute p50/p99 and errors,
#           server VmRSS start/end/max (--server-pid)        -> zero errors, RSS growth < 10 %
# 3. burst, rate limit on: "normal" = 10 % of P; the server runs with
#           --rate-limit-dp = 2 x normal per caller; the bench sends 20 x normal (2 x P) for
#           $BURST_SECS s -> every answer is 200 or ThrottlingException, no timeout, server alive
# 4. burst, no rate limit: 20 x normal again -> everything served (queued), no error, no
#           timeout, server alive
#
# Environment: PAYCRYPT_BIN (default target/release/paycrypt), CONNS (64), PEAK_SECS (20),
# SOAK_SECS (600), BURST_SECS (15), SOAK_FRACTION (80: the soak rate in % of the peak),
# SKIP_BURST (1 = soak only), OUT (a new temp directory: every JSON report is kept there).
# Exit status 0 only if every check passed. Traffic goes to 127.0.0.1 only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PAYCRYPT_BIN:-$root/target/release/paycrypt}"
conns="${CONNS:-64}"
peak_secs="${PEAK_SECS:-20}"
soak_secs="${SOAK_SECS:-600}"
burst_secs="${BURST_SECS:-15}"
frac="${SOAK_FRACTION:-80}"
out="${OUT:-$(mktemp -d -t paycrypt-soak.XXXXXX)}"
mkdir -p "$out"
[[ -x "$bin" ]] || { echo "soak: $bin not found: cargo build --release -p paycrypt" >&2; exit 2; }
py="$(command -v python3)"
fail=0

health() { "$py" -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)' "http://127.0.0.1:$srv_port/health" >/dev/null 2>&1; }

port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server_pid=""
loadavg_pid=""
start_server() { # $1 = name, rest = extra serve args
  local name="$1"; shift
  local data="$out/$name-data"
  mkdir -p "$data"
  srv_port="$(port)"
  "$bin" serve --listen "127.0.0.1:$srv_port" --audit-log off --data-dir "$data" "$@" \
    >"$out/$name-server.log" 2>&1 &
  server_pid=$!
  creds="$data/credentials"
  for _ in $(seq 1 300); do
    if health && [[ -s "$creds" ]]; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "soak: server $name exited" >&2; cat "$out/$name-server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "soak: server $name not healthy" >&2; exit 1
}

stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
}
trap 'kill "$server_pid" "$loadavg_pid" 2>/dev/null || true' EXIT

alive() {
  if kill -0 "$server_pid" 2>/dev/null && health; then
    echo "server alive: yes"
  else
    echo "server alive: NO"; fail=1
  fi
}

bench() { # $1 = report name, rest = bench args; the bench's own exit status is ignored here
  local name="$1"; shift
  "$bin" --output json bench --endpoint-url "http://127.0.0.1:$srv_port" --credentials-file "$creds" \
    --mix mixed --connections "$conns" "$@" >"$out/$name.json" 2>"$out/$name.err" || true
  [[ -s "$out/$name.json" ]] || { echo "soak: bench $name produced no report" >&2; cat "$out/$name.err" >&2; exit 1; }
}

field() { "$py" -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$out/$1.json" "$2"; }

# Machine load next to the figures (the machine may be shared): /proc/loadavg every 10 s.
( while sleep 10; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done ) >"$out/loadavg.log" &
loadavg_pid=$!
echo "soak: reports in $out; machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "soak: $(date -u +%FT%TZ) $("$bin" --version 2>/dev/null || echo paycrypt)"

# ---------------------------------------------------------------- 1. peak
start_server main
bench peak --duration "$peak_secs" --warmup 2
peak="$(field peak 'int(r["throughput_rps"])')"
echo "peak (closed loop, $conns connections, ${peak_secs} s): $peak req/s, errors $(field peak 'r["errors"]'), p99 $(field peak 'r["latency_ms"]["p99"]') ms"

# ---------------------------------------------------------------- 2. soak at 80 %
rate=$((peak * frac / 100))
echo "soak: $rate req/s ($frac % of peak) for $soak_secs s, open loop; started $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
bench soak --rate "$rate" --duration "$soak_secs" --warmup 0 --interval "$(( soak_secs >= 120 ? 60 : 10 ))" \
  --server-pid "$server_pid" --timeout 10
echo "soak ended $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" - "$out/soak.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  requests {r['requests']}  errors {r['errors']} {r['errors_by_code']}  achieved {r['throughput_rps']:.0f} req/s of {r['rate_rps']:.0f}")
print(f"  overall p50 {r['latency_ms']['p50']:.3f} ms  p99 {r['latency_ms']['p99']:.3f} ms  p99.9 {r['latency_ms']['p99_9']:.3f} ms  max {r['latency_ms']['max']:.1f} ms")
print(f"  {'t (s)':>6} {'requests':>9} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'RSS KiB':>8}")
rows = [x for x in r["intervals"] if x["requests"] > 0]
full = [x for x in rows if x["requests"] > 0.5 * r["rate_rps"] * r["interval_s"]]
for x in rows:
    print(f"  {x['t_s']:>6.0f} {x['requests']:>9} {x['errors']:>6} {x['p50_ms']:>8.3f} {x['p99_ms']:>8.3f} {x['max_ms']:>8.1f} {x['server_rss_kib']:>8}")
p99s = [x["p99_ms"] for x in full]
m = r["server_rss_kib"]
growth = (m["end"] - m["start"]) * 100 / m["start"]
peak_growth = (m["max"] - m["start"]) * 100 / m["start"]
print(f"  p99 per interval: min {min(p99s):.3f} ms, max {max(p99s):.3f} ms, max/min {max(p99s) / min(p99s):.2f}")
print(f"  server RSS: start {m['start']} KiB, end {m['end']} KiB (growth {growth:+.1f} %), max {m['max']} KiB ({peak_growth:+.1f} %), {m['samples']} samples")
ok = r["errors"] == 0 and growth < 10 and peak_growth < 10
print("  soak check:", "PASS" if ok else "FAIL", "(zero errors, RSS growth < 10 %)")
sys.exit(0 if ok else 1)
PY
alive
stop_server

if [[ "${SKIP_BURST:-0}" == 1 ]]; then
  echo "soak: done $(date -u +%T) (bursts skipped); machine load: $out/loadavg.log; result: $([[ $fail == 0 ]] && echo PASS || echo FAIL)"
  exit "$fail"
fi

# ---------------------------------------------------------------- 3. burst with rate limits
normal=$((peak / 10))
limit=$((normal * 2))
burst=$((normal * 20))
echo "burst with --rate-limit-dp $limit: normal = $normal req/s (10 % of peak), burst = $burst req/s (20 x normal) for $burst_secs s"
start_server limited --rate-limit-dp "$limit"
bench burst-limited --rate "$burst" --duration "$burst_secs" --warmup 0 --interval 5 --timeout 10 --server-pid "$server_pid"
"$py" - "$out/burst-limited.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
codes = r["errors_by_code"]
ok200 = r["requests"] - r["errors"]
print(f"  requests {r['requests']}: 200 {ok200}, throttled {codes.get('ThrottlingException', 0)}, other {dict((k, v) for k, v in codes.items() if k != 'ThrottlingException')}")
print(f"  served {ok200 / r['duration_s']:.0f} req/s; p99 {r['latency_ms']['p99']:.3f} ms, max {r['latency_ms']['max']:.1f} ms")
ok = set(codes) <= {"ThrottlingException"} and ok200 > 0
print("  burst (limited) check:", "PASS" if ok else "FAIL", "(only 200 or ThrottlingException, no timeout)")
sys.exit(0 if ok else 1)
PY
bench after-burst --rate "$normal" --duration 5 --warmup 0 --timeout 10
echo "  after the burst, $normal req/s for 5 s: errors $(field after-burst 'r["errors"]') $(field after-burst 'r["errors_by_code"]')"
[[ "$(field after-burst 'r["errors"]')" == 0 ]] || fail=1
alive
stop_server

# ---------------------------------------------------------------- 4. burst without rate limits
echo "burst without rate limits: $burst req/s for $burst_secs s"
start_server unlimited
bench burst-unlimited --rate "$burst" --duration "$burst_secs" --warmup 0 --interval 5 --timeout 30 --server-pid "$server_pid"
"$py" - "$out/burst-unlimited.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  requests {r['requests']}, errors {r['errors']} {r['errors_by_code']}; achieved {r['throughput_rps']:.0f} req/s of {r['rate_rps']:.0f} scheduled")
print(f"  latency from the scheduled send time: p50 {r['latency_ms']['p50']:.1f} ms, p99 {r['latency_ms']['p99']:.1f} ms, max {r['latency_ms']['max']:.1f} ms (queueing)")
m = r["server_rss_kib"]
print(f"  server RSS start {m['start']} KiB, max {m['max']} KiB")
ok = r["errors"] == 0
print("  burst (unlimited) check:", "PASS" if ok else "FAIL", "(everything served, no timeout)")
sys.exit(0 if ok else 1)
PY
alive
stop_server
echo "machine load (1/5/15-min averages, every 10 s): $out/loadavg.log"
echo "soak: done $(date -u +%T); result: $([[ $fail == 0 ]] && echo PASS || echo FAIL)"
exit "$fail"
