#!/usr/bin/env bash
# End-to-end benchmark: vpcflow against its peers on the same input, in the same run, with the
# same thread count. Generates gzipped v5 flow logs in AWS's S3 layout with the project's
# generator (or takes a given tree), then does the same ingest (every gzipped object -> typed
# Parquet, zstd, partitioned by date and hour) with `vpcflow ingest` and with three peers from
# the project's venv (benches/peers.py): Polars (scan_csv -> sink_parquet), ClickHouse through
# chDB (file() -> INSERT INTO FUNCTION file(Parquet)) and DuckDB (read_csv -> COPY TO). Each
# peer's output is read back and its row count must equal vpcflow's, or the script fails. It
# also times the decompression floor: only gunzipping every object to /dev/null with THREADS
# processes, with ISA-L's igzip, libdeflate-gunzip and GNU gzip (Debian packages isal,
# libdeflate-tools and gzip; installed with apt-get when missing and possible, else skipped).
# Prints one table (seconds, peak RSS, records/s, text MB/s and the ratios to vpcflow), then
# runs benches/reports.sh: four reports, vpcflow against DuckDB doing the same work, without
# and with the generated inventory, each pair's results checked equal.
#
#   benches/e2e.sh [RECORDS] [WINDOWS]    defaults: 4000000 records in 72 five-minute windows:
#                                         288 objects (4 flow logs), about 1 GB of text
# The generator's default shape is the realistic one (3 VPCs, 1,008 ENIs, pods, a second flow
# log over one subnet, ~150k internet talkers and ~20k scanners per 4M records); the data's
# measured cardinalities are printed with the table.
#
# Environment:
#   THREADS=N       threads (or decompressing processes) for every tool (default 2)
#   DATA=DIR        working directory, relative to the repository root (default bench-data);
#                   generated inputs are kept there, one per RECORDS, FILES and GEN_ARGS
#   KEEP=1          keep the Parquet outputs (DATA/out-*)
#   VPCFLOW_BIN=F   the vpcflow binary to measure (default: `cargo build --release` and
#                   target/release/vpcflow)
#   INPUT=DIR       ingest this tree (AWSLogs/ and totals.json from `vpcflow generate`, v5)
#                   instead of generating one; RECORDS, FILES and GEN_ARGS are then unused
#   GEN_ARGS="..."  extra flags for `vpcflow generate` (split on spaces), e.g. "--seed 7"
#   SKIP_REPORTS=1  skip benches/reports.sh
set -euo pipefail
# Paths given relative to the caller's directory, resolved before moving to the repository.
bin="${VPCFLOW_BIN:+$(realpath "$VPCFLOW_BIN")}"
given_input="${INPUT:+$(realpath "$INPUT")}"
cd "$(dirname "$0")/.."
records="${1:-4000000}"
files="${2:-72}"
threads="${THREADS:-2}"
data="${DATA:-bench-data}"
read -r -a gen_args <<< "${GEN_ARGS:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin vpcflow
  bin="$PWD/target/release/vpcflow"
fi
[ -x "$bin" ] || { echo "e2e.sh: $bin is not an executable" >&2; exit 1; }
py="$(bash scripts/python-env.sh bench)"
mkdir -p "$data"

if [ -n "$given_input" ]; then
  input="$given_input"
  if [ ! -f "$input/totals.json" ] || [ ! -d "$input/AWSLogs" ]; then
    echo "e2e.sh: INPUT=$input has no AWSLogs/ and totals.json (vpcflow generate --out)" >&2
    exit 1
  fi
else
  input="$data/input-$records-$files"
  if [ ${#gen_args[@]} -gt 0 ]; then # a cached input per set of generate flags
    input="$input-$(printf '%s' "${gen_args[*]}" | tr -c 'A-Za-z0-9=.,-' '_')"
  fi
  if [ ! -f "$input/totals.json" ]; then
    rm -rf "$input"
    "$bin" generate --out "$input" --records "$records" --files "$files" --format v5 \
      ${gen_args[@]+"${gen_args[@]}"} >&2
  fi
fi
objects="$data/objects.list" # NUL-separated, for the decompression floors
find "$input/AWSLogs" -name '*.log.gz' -print0 | sort -z > "$objects"
n_objects=$(tr -cd '\0' < "$objects" | wc -c)
[ "$n_objects" -gt 0 ] || { echo "e2e.sh: no *.log.gz under $input/AWSLogs" >&2; exit 1; }
expected=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["records"])' "$input/totals.json")
text_bytes=$(xargs -0 -a "$objects" gzip -lq | awk '{s+=$2} END {print s}')
gz_bytes=$(du -sb "$input/AWSLogs" | cut -f1)
xargs -0 -a "$objects" cat > /dev/null # into the page cache, for every tool alike
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "input: $expected records, $n_objects objects, $gz_bytes bytes gzipped, $text_bytes bytes of text; threads $threads"

measure() { # label, command... -> prints "label seconds peak_rss_mb"
  "$py" benches/measure.py "$@"
}
calc() { "$py" -c "print(f'{$1:$2}')"; }
version() { "$py" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1"; }

# The table, filled row by row: name, seconds, peak MB, peer/vpcflow, vpcflow/floor.
rows=()
row() {
  local rate mbs
  rate=$(calc "$n_records / $2" .0f); mbs=$(calc "$text_bytes / $2 / 1e6" .1f)
  rows+=("$(printf '%-30s %9s %8s %11s %10s %13s %14s' "$1" "$2" "$3" "$rate" "$mbs" "$4" "$5")")
}

# vpcflow
out_v="$data/out-vpcflow"
rm -rf "$out_v"
read -r _ v_s v_rss < <(measure vpcflow "$bin" ingest "$input/AWSLogs" --out "$out_v" --threads "$threads")
n_records=$("$bin" query --data "$out_v" --output csv "SELECT COUNT(*) FROM flows" | tail -n 1)
if [ "$n_records" != "$expected" ]; then
  echo "e2e.sh: vpcflow wrote $n_records records, totals.json says $expected" >&2
  exit 1
fi
row vpcflow "$v_s" "$v_rss" - -
# What the data is like (not timed): the figures BENCHMARKS.md states for each data set.
"$bin" query --data "$out_v" --output csv "
  SELECT COUNT(DISTINCT interface_id) AS enis, COUNT(DISTINCT vpc_id) AS vpcs,
         COUNT(DISTINCT flow_log_id) AS flow_logs, COUNT(DISTINCT srcaddr) AS sources,
         COUNT(DISTINCT dstaddr) AS destinations,
         COUNT(DISTINCT srcaddr || '>' || dstaddr) AS address_pairs,
         COUNT(DISTINCT srcaddr) FILTER (WHERE action = 'REJECT') AS rejected_sources,
         COUNT(DISTINCT srcaddr || '|' || dstport || '|' || protocol || '|' || interface_id)
           FILTER (WHERE action = 'REJECT') AS rejected_groups,
         COUNT(*) FILTER (WHERE pkt_srcaddr <> srcaddr OR pkt_dstaddr <> dstaddr) AS pod_records
  FROM flows" | "$py" -c '
import csv, sys
r = list(csv.DictReader(sys.stdin))[0]
print("cardinality: " + ", ".join(f"{k} {int(v):,}" for k, v in r.items()))' > "$data/cardinality.txt"

# The peers: the same ingest, each output read back and counted.
outs=("$out_v")
for peer in polars chdb duckdb; do
  case $peer in
    polars) name="Polars $(version polars)" ;;
    chdb) name="ClickHouse (chDB $(version chdb))" ;;
    duckdb) name="DuckDB $(version duckdb)" ;;
  esac
  out="$data/out-$peer"
  outs+=("$out")
  rm -rf "$out"
  # POLARS_MAX_THREADS only matters to Polars (peers.py sets it too); the others take $threads.
  read -r _ p_s p_rss < <(measure "$peer" env POLARS_MAX_THREADS="$threads" \
    "$py" benches/peers.py "$peer" "$input" "$out" "$threads")
  got=$("$py" benches/peers.py count "$out")
  if [ "$got" != "$n_records" ]; then
    echo "e2e.sh: $name wrote $got rows, vpcflow $n_records: the outputs differ" >&2
    exit 1
  fi
  row "$name" "$p_s" "$p_rss" "$(calc "$p_s / $v_s" .2f)" -
done

# The decompression floor: every object gunzipped to /dev/null, THREADS processes at a time,
# in batches of files small enough to keep them all busy.
have() { # command, Debian package: true when the command is there or could be installed
  command -v "$1" > /dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "installing $2 (for $1) ..." >&2
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; }; } >&2 ||
      true
  fi
  command -v "$1" > /dev/null
}
batch=$(( (n_objects + threads * 4 - 1) / (threads * 4) ))
for floor in "igzip -d -c:isal" "libdeflate-gunzip -c:libdeflate-tools" "gzip -d -c:gzip"; do
  cmd=${floor%%:*}; pkg=${floor##*:}
  name="floor: ${cmd% -c}"
  if ! have "${cmd%% *}" "$pkg"; then
    echo "e2e.sh: ${cmd%% *} not found: the $name row is skipped (Debian package $pkg)" >&2
    rows+=("$(printf '%-30s skipped: install the Debian package %s' "$name" "$pkg")")
    continue
  fi
  # Through bash for the redirection: measure.py would hold all the text in memory.
  # shellcheck disable=SC2016 # $1..$4 are bash -c's arguments; $4 (the command) is split
  read -r _ f_s f_rss < <(measure "floor-${cmd%% *}" bash -c \
    'xargs -0 -a "$1" -P "$2" -n "$3" $4 > /dev/null' _ "$objects" "$threads" "$batch" "$cmd")
  row "$name" "$f_s" "$f_rss" - "$(calc "$v_s / $f_s" .2f)"
done

cat "$data/cardinality.txt"
printf '\n%-30s %9s %8s %11s %10s %13s %14s\n' ingest seconds peak_MB records/s text_MB/s \
  peer/vpcflow vpcflow/floor
printf '%s\n' "${rows[@]}"
echo "(peer/vpcflow: the peer's seconds / vpcflow's, above 1 when vpcflow is faster;"
echo " vpcflow/floor: vpcflow's seconds / the seconds only to decompress the input, $threads processes)"

if [ "${SKIP_REPORTS:-0}" != 1 ] && [ -x benches/reports.sh ]; then
  echo
  inventory=()
  [ -d "$input/inventory" ] && inventory=("$input/inventory")
  bash benches/reports.sh "$bin" "$out_v" "$py" "$threads" ${inventory[@]+"${inventory[@]}"}
fi
[ "${KEEP:-0}" = 1 ] || rm -rf "${outs[@]}"
rm -f "$objects"
