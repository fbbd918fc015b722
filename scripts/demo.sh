#!/usr/bin/env bash
# The main job on the bundled samples: ingest sample-logs/ into a Parquet dataset, then ask it
# questions. Exit status 2 from ingest is expected: sample-logs/malformed/ holds bad lines on
# purpose, and they are quarantined, not lost.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/sample-flows}"
cargo build --release --quiet --bin vpcflow || exit 1
bin=target/release/vpcflow
rm -rf "$out"
run() { echo "+ $*" >&2; "$@"; }
run $bin ingest sample-logs --out "$out"
status=$?
[ $status -le 2 ] || exit $status
run $bin query --data "$out" \
  "SELECT log_status, action, count(*) AS records, sum(bytes) AS bytes
   FROM flows GROUP BY 1, 2 ORDER BY 1, 2" || exit 1
run $bin report cross-az-cost --data "$out" --inventory sample-logs/inventory || exit 1
# The scheduled job (examples/job.toml ingests sample-logs/AWSLogs into out/job-demo with
# hourly rollups); a second run finds nothing new. Everything is written under out/, which
# `cargo clean` leaves alone.
rm -rf out/job-demo
run $bin run --config examples/job.toml --log-level warn
[ $? -le 2 ] || exit 1
run $bin run --config examples/job.toml --log-level warn
[ $? -le 2 ] || exit 1
run $bin query --data out/job-demo \
  "SELECT hour_start, interface_id, bytes_in, bytes_out FROM rollup_interface_traffic
   ORDER BY bytes_in + bytes_out DESC LIMIT 5" || exit 1
