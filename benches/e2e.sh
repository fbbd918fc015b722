#!/usr/bin/env bash
# End-to-end benchmark: vpcflow against DuckDB on the same input, in the same run, with the
# same thread count. Generates gzipped v5 flow logs in AWS's S3 layout with the project's
# generator, ingests them with `vpcflow ingest` and with DuckDB (read_csv -> COPY TO parquet,
# partitioned by date and hour), then runs the main reports and their DuckDB equivalents on the
# Parquet dataset, without and with the generated inventory (benches/reports.sh, which checks
# that both give the same rows). Prints each pair with its ratio and both peak RSS.
#
#   benches/e2e.sh [RECORDS] [FILES]      defaults: 4000000 records in 288 files (~1 GB text)
#
# Environment: THREADS (default 2), DATA (default bench-data), KEEP=1 keeps the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-4000000}"
files="${2:-288}"
threads="${THREADS:-2}"
data="${DATA:-bench-data}"
py="$(bash scripts/python-env.sh)"
cargo build --release --quiet --bin vpcflow
bin="$PWD/target/release/vpcflow"
input="$data/input-$records-$files"
if [ ! -f "$input/totals.json" ]; then
  rm -rf "$input"
  "$bin" generate --out "$input" --records "$records" --files "$files" --format v5 >&2
fi
text_bytes=$(find "$input/AWSLogs" -name '*.log.gz' -exec gzip -lq {} + | awk '{s+=$2} END {print s}')
gz_bytes=$(du -sb "$input/AWSLogs" | cut -f1)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "input: $records records, $files objects, $gz_bytes bytes gzipped, $text_bytes bytes of text; threads $threads"

measure() { # label, command... -> prints "label seconds peak_rss_mb"
  "$py" benches/measure.py "$@"
}
calc() { "$py" -c "print(f'{$1:$2}')"; }

out_v="$data/out-vpcflow"; out_d="$data/out-duckdb"
rm -rf "$out_v" "$out_d"
read -r _ v_s v_rss < <(measure vpcflow "$bin" ingest "$input/AWSLogs" --out "$out_v" --threads "$threads")
cat > "$data/duck-ingest.py" <<PY
import duckdb
con = duckdb.connect()
con.execute("SET threads=$threads")
con.execute("""
COPY (
  SELECT *, strftime(to_timestamp(start), '%Y-%m-%d') AS date, strftime(to_timestamp(start), '%H') AS hour
  FROM read_csv('$input/AWSLogs/**/*.log.gz', delim=' ', header=true, nullstr='-', auto_detect=false,
    columns={'version':'INTEGER','srcaddr':'VARCHAR','dstaddr':'VARCHAR','srcport':'INTEGER','dstport':'INTEGER',
      'protocol':'INTEGER','start':'BIGINT','end':'BIGINT','type':'VARCHAR','packets':'BIGINT','bytes':'BIGINT',
      'account-id':'VARCHAR','vpc-id':'VARCHAR','subnet-id':'VARCHAR','instance-id':'VARCHAR','interface-id':'VARCHAR',
      'region':'VARCHAR','az-id':'VARCHAR','sublocation-type':'VARCHAR','sublocation-id':'VARCHAR','action':'VARCHAR',
      'tcp-flags':'INTEGER','pkt-srcaddr':'VARCHAR','pkt-dstaddr':'VARCHAR','pkt-src-aws-service':'VARCHAR',
      'pkt-dst-aws-service':'VARCHAR','traffic-path':'INTEGER','flow-direction':'VARCHAR','log-status':'VARCHAR'})
) TO '$out_d' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour))
""")
PY
read -r _ d_s d_rss < <(measure duckdb "$py" "$data/duck-ingest.py")
printf '\n%-24s %12s %12s %10s %10s %8s\n' step vpcflow_s duckdb_s vpcflow_MB duckdb_MB ratio
printf '%-24s %12s %12s %10s %10s %8s\n' ingest "$v_s" "$d_s" "$v_rss" "$d_rss" "$(calc "$d_s / $v_s" .2f)"
printf '%-24s %12s %12s\n' "ingest records/s" "$(calc "$records / $v_s" .0f)" "$(calc "$records / $d_s" .0f)"
printf '%-24s %12s %12s\n' "ingest text MB/s" "$(calc "$text_bytes / $v_s / 1e6" .1f)" "$(calc "$text_bytes / $d_s / 1e6" .1f)"

if [ -x benches/reports.sh ]; then
  bash benches/reports.sh "$bin" "$out_v" "$py" "$threads" "$input/inventory"
fi
[ "${KEEP:-0}" = 1 ] || rm -rf "$out_v" "$out_d"
