#!/usr/bin/env bash
# The three main reports with vpcflow and the equivalent DuckDB queries, on the same Parquet
# dataset (called by e2e.sh: reports.sh VPCFLOW_BIN DATASET PYTHON THREADS). The generated
# input has one flow log per ENI, so, as in vpcflow's flows_unique view, nothing is
# de-duplicated; the DuckDB queries do the same work as vpcflow's.
set -euo pipefail
bin=$1; data=$2; py=$3; threads=$4
cd "$(dirname "$0")/.."
src="read_parquet('$data/**/*.parquet', hive_partitioning = true)"
private="(regexp_matches(ip, '^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|169\.254\.|127\.)') OR regexp_matches(lower(ip), '^f[cd]|^fe[89ab]'))"
declare -A duck
duck[interface-traffic]="
WITH f AS (SELECT interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, \"end\",
  action, log_status, flow_direction AS direction, az_id, subnet_id, vpc_id, instance_id FROM $src WHERE interface_id IS NOT NULL)
SELECT interface_id,
  COALESCE(SUM(CASE WHEN log_status='OK' AND direction='ingress' THEN bytes END),0) AS bytes_in,
  COALESCE(SUM(CASE WHEN log_status='OK' AND direction='egress' THEN bytes END),0) AS bytes_out,
  COALESCE(SUM(CASE WHEN log_status='OK' AND direction='ingress' THEN packets END),0) AS packets_in,
  COALESCE(SUM(CASE WHEN log_status='OK' AND direction='egress' THEN packets END),0) AS packets_out,
  COUNT(*) AS records, COUNT(*) FILTER (WHERE action='REJECT') AS rejected_records,
  COALESCE(SUM(CASE WHEN log_status='OK' AND action='REJECT' THEN bytes END),0) AS rejected_bytes,
  COUNT(DISTINCT CASE WHEN direction='egress' THEN dstaddr WHEN direction='ingress' THEN srcaddr END) AS distinct_peers,
  COUNT(*) FILTER (WHERE log_status='NODATA') AS nodata, COUNT(*) FILTER (WHERE log_status='SKIPDATA') AS skipdata,
  MAX(az_id), MAX(subnet_id), MAX(vpc_id), MAX(instance_id), to_timestamp(MIN(start)), to_timestamp(MAX(\"end\"))
FROM f GROUP BY interface_id ORDER BY bytes_in + bytes_out DESC, interface_id"
duck[rejected-flows]="
WITH r AS (SELECT interface_id, COALESCE(pkt_srcaddr, srcaddr) AS src_ip, COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
  srcport, dstport, protocol, packets, bytes, start, \"end\", flow_direction AS direction, tcp_flags
  FROM $src WHERE action='REJECT' AND log_status='OK'),
s AS (SELECT src_ip, COUNT(DISTINCT dstport) AS ports_tried, COUNT(DISTINCT dst_ip) AS hosts_tried FROM r GROUP BY src_ip)
SELECT r.src_ip, r.dstport, r.protocol, r.interface_id, COUNT(*) AS records, SUM(packets), SUM(bytes) AS bytes,
  to_timestamp(MIN(start)), to_timestamp(MAX(\"end\")), MAX(direction), COUNT(*) FILTER (WHERE tcp_flags=2),
  MAX(s.ports_tried), MAX(s.hosts_tried), MAX(s.ports_tried) >= 20
FROM r JOIN s ON s.src_ip = r.src_ip GROUP BY r.src_ip, r.dstport, r.protocol, r.interface_id
ORDER BY records DESC, bytes DESC, r.src_ip, r.dstport, r.protocol, r.interface_id"
duck[cross-az-cost]="
WITH f AS (SELECT interface_id, srcaddr, dstaddr, srcport, dstport, protocol, start, \"end\", bytes,
  flow_direction AS direction, az_id, vpc_id, sublocation_type, next_hop_az_id FROM $src
  WHERE log_status='OK' AND action='ACCEPT' AND bytes > 0),
logged AS (SELECT DISTINCT srcaddr AS ip FROM f WHERE direction='egress'),
learned AS (SELECT srcaddr AS ip, MIN(az_id) AS az FROM f WHERE direction='egress' AND az_id IS NOT NULL
  GROUP BY srcaddr HAVING COUNT(DISTINCT az_id) = 1),
hops AS (SELECT f.*, 'sender_egress' AS confidence, dstaddr AS ip FROM f WHERE direction='egress'
  UNION ALL SELECT f.*, 'receiver_ingress', srcaddr FROM f WHERE direction='ingress' AND srcaddr NOT IN (SELECT ip FROM logged)),
r AS (SELECT h.bytes, h.confidence, h.az_id AS local_az, COALESCE(h.next_hop_az_id, l.az) AS peer_az
  FROM hops h LEFT JOIN learned l ON l.ip = h.ip WHERE ${private//ip/h.ip} AND h.sublocation_type IS NULL),
p AS (SELECT CASE WHEN confidence='sender_egress' THEN local_az ELSE peer_az END AS s,
             CASE WHEN confidence='sender_egress' THEN peer_az ELSE local_az END AS d, bytes FROM r)
SELECT COALESCE(s,'unknown'), COALESCE(d,'unknown'), SUM(bytes) AS bytes, SUM(bytes)/1073741824.0 AS gb,
  CASE WHEN MAX(s) IS NOT NULL AND MAX(d) IS NOT NULL THEN SUM(bytes)/1073741824.0*0.02 END AS cost_usd, COUNT(*)
FROM p WHERE s IS NULL OR d IS NULL OR s <> d GROUP BY 1, 2 ORDER BY bytes DESC"
for r in interface-traffic rejected-flows cross-az-cost; do
  read -r _ v_s v_rss < <("$py" benches/measure.py "$r" "$bin" report "$r" --data "$data" --output csv)
  q=$(mktemp --suffix=.py)
  cat > "$q" <<PY
import duckdb
con = duckdb.connect()
con.execute("SET threads=$threads")
rows = con.execute("""${duck[$r]}""").fetchall()
print(len(rows))
PY
  read -r _ d_s d_rss < <("$py" benches/measure.py "duckdb-$r" "$py" "$q")
  rm -f "$q"
  printf '%-24s %12s %12s %10s %10s %8s\n' "report $r" "$v_s" "$d_s" "$v_rss" "$d_rss" \
    "$("$py" -c "print(f'{$d_s / $v_s:.2f}')")"
done
