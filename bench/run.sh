#!/usr/bin/env bash
# Run the paycrypt-core criterion benchmarks and the Python peer benchmarks,
# then print one table (operation, paycrypt ops/s per core, ratio to the
# block-cipher limit, peer ops/s, ratio to the peer).
#
#   bench/run.sh                 # full run (a few minutes)
#   BENCH_SMOKE=1 bench/run.sh   # very short runs, for CI smoke
#   bench/run.sh <filter>        # only criterion benchmarks matching <filter>
#   BENCH_RUNS=2 bench/run.sh    # run the suite twice, report the lower median
#
# Environment: PYTHON (default .venv/bin/python as scripts/test.sh creates it, else python3) must have
# pyemv, psec and pydukpt for the peer column; without them the peer column is
# empty. CARGO_TARGET_DIR is honoured. BENCH_ARGS overrides the criterion args.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
crit_dir="$target/criterion"

if [[ "${BENCH_SMOKE:-0}" == "1" ]]; then
  default_args="--warm-up-time 0.1 --measurement-time 0.2 --sample-size 10"
else
  default_args="--warm-up-time 1 --measurement-time 2"
fi
# BENCH_RUNS=N repeats the criterion suite N times; the report takes, per
# benchmark, the lowest of the N medians (other load on a shared machine can
# only add time). Each run's estimates are kept in target/bench-runs/<i>/.
runs="${BENCH_RUNS:-1}"
runs_dir="$target/bench-runs"
rm -rf "$runs_dir"
for ((i = 1; i <= runs; i++)); do
  # shellcheck disable=SC2086
  cargo bench -p paycrypt-core --bench core -- --noplot ${BENCH_ARGS:-$default_args} "$@"
  mkdir -p "$runs_dir/$i"
  for d in "$crit_dir"/*/new; do
    id="$(basename "$(dirname "$d")")"
    mkdir -p "$runs_dir/$i/$id/new"
    cp "$d/estimates.json" "$runs_dir/$i/$id/new/"
  done
done

py="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$py" ]] || py="$(command -v python3)"
peers_out="$target/bench-peers.jsonl"
if "$py" -c 'import pyemv, psec, pydukpt' 2>/dev/null; then
  "$py" "$root/bench/peers.py" > "$peers_out"
else
  echo "peers: pyemv/psec/pydukpt not importable with $py; peer column left empty" >&2
  : > "$peers_out"
fi

echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$root/bench/report.py" "$peers_out" "$runs_dir"/*
