-- interface-traffic: one row per ENI. Bytes and packets of OK records, in and out by
-- direction (accepted and rejected alike; rejected bytes are also shown apart). Exact
-- duplicate records (the same ENI logged by two flow logs) count once.
WITH f AS (
  SELECT * FROM flows_unique WHERE interface_id IS NOT NULL
)
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
       MAX(COALESCE(local_interface_type, e.interface_type)) AS interface_type,
       MAX(e.description) AS description,
       to_timestamp_seconds(MIN(start)) AS first_seen,
       to_timestamp_seconds(MAX("end")) AS last_seen
FROM f
LEFT JOIN enis e ON e.interface_id = f.interface_id
GROUP BY f.interface_id
ORDER BY bytes_in + bytes_out DESC, f.interface_id
