#!/usr/bin/env bash
# One large input across the cores (issue 12 item 4): every object of an e2e.sh input
# concatenated into one multi-member gzip file, ingested with 1 thread and with THREADS, three
# times each, alternating. Prints wall seconds and peak RSS per run, and the records each run
# committed (all equal).
#
#   benches/split.sh [INPUT]     INPUT: a tree from `vpcflow generate` (default: e2e.sh's)
#
# Environment: VPCFLOW_BIN (default: target/release/vpcflow, built), THREADS (default 2),
# RUNS (default 3).
set -euo pipefail
given_input="${1:+$(realpath "$1")}"
bin="${VPCFLOW_BIN:+$(realpath "$VPCFLOW_BIN")}"
cd "$(dirname "$0")/.."
input="${given_input:-bench-data/input-4000000-72}"
threads="${THREADS:-2}"
runs="${RUNS:-3}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin vpcflow
  bin="$PWD/target/release/vpcflow"
fi
[ -d "$input/AWSLogs" ] || { echo "split.sh: no $input/AWSLogs (run benches/e2e.sh first)" >&2; exit 1; }
py="$(bash scripts/python-env.sh bench)"
work="$(mktemp -d "${TMPDIR:-/tmp}/vpcflow-split.XXXXXX")"
trap 'rm -rf "$work"' EXIT
one="$work/all.log.gz"
find "$input/AWSLogs" -name '*.log.gz' -print0 | sort -z | xargs -0 cat > "$one"
echo "one input: $(du -b "$one" | cut -f1) bytes gzipped, $(find "$input/AWSLogs" -name '*.log.gz' | wc -l) members"
echo "threads  seconds  peak_MB  records  text_bytes"
for _ in $(seq "$runs"); do
  for t in 1 "$threads"; do
    rm -rf "$work/out"
    line=$("$py" benches/measure.py --stdout "$work/summary.json" "$t" \
      "$bin" ingest "$one" --out "$work/out" --threads "$t" --json)
    counts=$("$py" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["records"], s["text_bytes"])' "$work/summary.json")
    printf '%7s %8s %8s  %s %s\n' $line $counts
  done
done
