#!/usr/bin/env bash
# The main reports with vpcflow and with DuckDB doing the same work on the same Parquet
# dataset, each result checked against the other (called by e2e.sh).
#
#   reports.sh VPCFLOW_BIN DATASET PYTHON THREADS [INVENTORY_DIR]
#
# For each report: `vpcflow report NAME --data DATASET --output csv` and its DuckDB equivalent
# (benches/duck_reports.py: the same SQL, with vpcflow's flows_unique de-duplication of ENIs
# logged by several flow logs, and its address lookups), each timed with its peak RSS
# (benches/measure.py); then, outside the timings, the two results are compared: the same
# rows in any order, numbers equal, floats within 1e-9 relative. A difference prints the
# rows only one side has and fails the script. With INVENTORY_DIR (describe-subnets.json and
# describe-network-interfaces.json as `vpcflow generate` writes them; describe-vpcs.json and
# describe-addresses.json where present) every report runs a second time with it (`+inv`
# rows): vpcflow gets --inventory, DuckDB reads the JSON itself.
set -euo pipefail
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: $0 VPCFLOW_BIN DATASET PYTHON THREADS [INVENTORY_DIR]" >&2
  exit 64
fi
abs() { case $1 in */*) echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" ;; *) echo "$1" ;; esac; }
bin=$(abs "$1"); data=$(cd "$2" && pwd); py=$(abs "$3"); threads=$4; inv=${5:+$(cd "$5" && pwd)}
cd "$(dirname "$0")/.."
reports="interface-traffic rejected-flows cross-az-cost top-talkers"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

printf '%-28s %10s %10s %10s %10s %7s  %s\n' report vpcflow_s duckdb_s vpcflow_MB duckdb_MB ratio result
modes=("")
[ -n "$inv" ] && modes+=("$inv")
for mode in "${modes[@]}"; do
  for r in $reports; do
    label=$r; v_args=(); d_args=()
    if [ -n "$mode" ]; then label="$r +inv"; v_args=(--inventory "$mode"); d_args=("$mode"); fi
    read -r _ v_s v_rss < <("$py" benches/measure.py --stdout "$out/vpcflow.csv" "vpcflow-$r" \
      "$bin" report "$r" --data "$data" --output csv "${v_args[@]}")
    read -r _ d_s d_rss < <("$py" benches/measure.py "duckdb-$r" \
      "$py" benches/duck_reports.py run "$r" "$data" "$threads" "$out/duckdb.csv" "${d_args[@]}")
    if ! verdict=$("$py" benches/duck_reports.py compare "$label" "$out/vpcflow.csv" "$out/duckdb.csv"); then
      echo "reports.sh: $label: vpcflow and DuckDB disagree (above); the timings are not comparable" >&2
      exit 1
    fi
    printf '%-28s %10s %10s %10s %10s %7s  %s\n' "$label" "$v_s" "$d_s" "$v_rss" "$d_rss" \
      "$("$py" -c "print(f'{$d_s / $v_s:.2f}')")" "$verdict"
  done
done
