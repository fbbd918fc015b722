-- idle-interfaces: ENIs in the inventory that carried no accepted traffic in the range
-- (clean-up candidates), with what the logs did see of them. Idle means idle to everyone:
-- no accepted OK record, the ENI's own or a peer's, names any of its addresses (primary,
-- secondary, prefix-delegated, IPv6, public or Elastic IP) as source or destination, at the
-- record or the packet level, looked up in the record's own VPC. `logged` says whether the
-- ENI has records of its own; one without is idle only if no peer saw traffic to it.
-- The addresses are read once, into a table of the distinct addresses per VPC.
CREATE OR REPLACE TABLE idle_seen_addresses AS
SELECT DISTINCT local_vpc_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr
FROM flows_enriched
WHERE action = 'ACCEPT' AND log_status = 'OK';

WITH own AS (
  SELECT interface_id,
         COUNT(*) AS records,
         COUNT(*) FILTER (WHERE action = 'ACCEPT' AND log_status = 'OK') AS accepted_records,
         COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records,
         MAX("end") AS last_seen
  FROM flows
  GROUP BY interface_id
),
addresses AS (
  SELECT local_vpc_id, srcaddr AS ip FROM idle_seen_addresses
  UNION SELECT local_vpc_id, dstaddr FROM idle_seen_addresses
  UNION SELECT local_vpc_id, pkt_srcaddr FROM idle_seen_addresses
  UNION SELECT local_vpc_id, pkt_dstaddr FROM idle_seen_addresses
),
touched AS (
  SELECT DISTINCT eni_of(local_vpc_id, ip) AS interface_id FROM addresses WHERE ip IS NOT NULL
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
       to_timestamp_seconds(s.last_seen) AS last_seen,
       s.interface_id IS NOT NULL AS logged
FROM enis e
LEFT JOIN own s ON s.interface_id = e.interface_id
LEFT JOIN touched t ON t.interface_id = e.interface_id
WHERE COALESCE(s.accepted_records, 0) = 0 AND t.interface_id IS NULL
ORDER BY e.interface_id
