-- idle-interfaces: ENIs in the inventory that carried no accepted traffic in the range
-- (clean-up candidates), with what the logs did see of them.
WITH seen AS (
  SELECT interface_id,
         COUNT(*) AS records,
         COUNT(*) FILTER (WHERE action = 'ACCEPT' AND log_status = 'OK') AS accepted_records,
         COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records,
         MAX("end") AS last_seen
  FROM flows
  GROUP BY interface_id
)
SELECT e.interface_id,
       e.interface_type,
       e.status,
       e.description,
       e.subnet_id,
       e.az_id,
       e.instance_id,
       e.primary_ip,
       COALESCE(s.records, 0) AS records,
       COALESCE(s.rejected_records, 0) AS rejected_records,
       to_timestamp_seconds(s.last_seen) AS last_seen
FROM enis e
LEFT JOIN seen s ON s.interface_id = e.interface_id
WHERE COALESCE(s.accepted_records, 0) = 0
ORDER BY e.interface_id
