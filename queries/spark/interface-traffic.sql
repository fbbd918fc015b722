-- interface-traffic in Spark SQL: queries/interface-traffic.sql over the views of
-- _flows_unique.sql. One row per ENI. Bytes and packets of OK records, in and out by
-- direction (accepted and rejected alike, rejected bytes also shown apart). Exact duplicate
-- records (the same ENI logged by two flow logs) count once.
-- Without an inventory, as `vpcflow report interface-traffic` without --inventory:
-- description is NULL (vpcflow joins the empty `enis` table).
-- Spark sorts NULLs first in ascending order and DataFusion last: the ORDER BY says which.
WITH per_eni AS (
  SELECT f.interface_id,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'ingress' THEN bytes END), 0) AS bytes_in,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'egress' THEN bytes END), 0) AS bytes_out,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'ingress' THEN packets END), 0) AS packets_in,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'egress' THEN packets END), 0) AS packets_out,
         COUNT(*) AS records,
         COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND action = 'REJECT' THEN bytes END), 0) AS rejected_bytes,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction IS NULL THEN bytes END), 0) AS bytes_unknown_direction,
         COUNT(DISTINCT CASE WHEN direction = 'egress' THEN dstaddr
                             WHEN direction = 'ingress' THEN srcaddr END) AS distinct_peers,
         COUNT(*) FILTER (WHERE log_status = 'NODATA') AS records_nodata,
         COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS records_skipdata,
         MAX(local_az_id) AS az_id,
         MAX(local_subnet_id) AS subnet_id,
         MAX(local_vpc_id) AS vpc_id,
         MAX(local_instance_id) AS instance_id,
         MAX(local_interface_type) AS interface_type,
         timestamp_seconds(MIN(`start`)) AS first_seen,
         timestamp_seconds(MAX(`end`)) AS last_seen
  FROM flows_unique f
  WHERE f.interface_id IS NOT NULL
  GROUP BY f.interface_id
)
SELECT p.interface_id, p.bytes_in, p.bytes_out, p.packets_in, p.packets_out, p.records,
       p.rejected_records, p.rejected_bytes, p.bytes_unknown_direction, p.distinct_peers,
       p.records_nodata, p.records_skipdata, p.az_id, p.subnet_id, p.vpc_id, p.instance_id,
       p.interface_type, CAST(NULL AS STRING) AS description, p.first_seen, p.last_seen
FROM per_eni p
ORDER BY p.bytes_in + p.bytes_out DESC NULLS FIRST, p.interface_id ASC NULLS LAST
