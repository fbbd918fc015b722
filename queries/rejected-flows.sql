-- rejected-flows: rejected traffic by source, destination port, protocol and ENI.
-- src_ip is the packet's original source (pkt-srcaddr where logged). A source that tried 20
-- or more distinct ports in the range is a scan suspect.
-- The rejected records are read once, into a table of the columns the report needs, which
-- the query below reads four times: per report row, per source (ports, then hosts) and per
-- report row with a reject reason. Summing the records into (source, destination, port,
-- protocol, ENI, reason) groups first, as this report once did, costs a second aggregation
-- of ~640k groups that are nearly as many as the records (0.2 s of 1.9 on 4.5M records:
-- 638,226 groups of 658,083 rejected records).
CREATE OR REPLACE TABLE rejected_records AS
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip,
       COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       dstport, protocol, interface_id, reject_reason,
       packets, bytes, start, "end", direction, tcp_flags
FROM flows_unique
WHERE action = 'REJECT' AND log_status = 'OK';

-- Ports and hosts per source apart, each one COUNT(DISTINCT): DataFusion then plans it as
-- two GROUP BYs; two of them in one aggregate keep a set of values per source instead
-- (0.8 s of 1.5 on 638k groups).
WITH ports AS (
  SELECT src_ip, COUNT(DISTINCT dstport) AS ports_tried FROM rejected_records GROUP BY src_ip
),
hosts AS (
  SELECT src_ip, COUNT(DISTINCT dst_ip) AS hosts_tried FROM rejected_records GROUP BY src_ip
),
sources AS (
  SELECT p.src_ip, p.ports_tried, h.hosts_tried FROM ports p JOIN hosts h ON h.src_ip = p.src_ip
),
groups AS (
  SELECT src_ip, dstport, protocol, interface_id,
         COUNT(*) AS records,
         SUM(packets) AS packets,
         SUM(bytes) AS bytes,
         MIN(start) AS first_start,
         MAX("end") AS last_end,
         MAX(direction) AS flow_direction,
         COUNT(*) FILTER (WHERE tcp_flags = 2) AS syn_only_records
  FROM rejected_records
  GROUP BY src_ip, dstport, protocol, interface_id
),
-- Apart, over the few rows that have one: an ordered DISTINCT aggregate in `groups` would sort
-- and keep a set for each of hundreds of thousands of groups.
reasons AS (
  SELECT src_ip, dstport, protocol, interface_id,
         string_agg(DISTINCT reject_reason, ',' ORDER BY reject_reason) AS reject_reason
  FROM rejected_records
  WHERE reject_reason IS NOT NULL
  GROUP BY src_ip, dstport, protocol, interface_id
)
SELECT g.src_ip,
       g.dstport AS dst_port,
       g.protocol,
       g.interface_id,
       g.records,
       g.packets,
       g.bytes,
       to_timestamp_seconds(g.first_start) AS first_seen,
       to_timestamp_seconds(g.last_end) AS last_seen,
       g.flow_direction,
       rr.reject_reason,
       g.syn_only_records,
       s.ports_tried AS src_ports_tried,
       s.hosts_tried AS src_hosts_tried,
       s.ports_tried >= 20 AS scan_suspect
FROM sources s -- the small side first: it is the one held in memory
JOIN groups g ON g.src_ip = s.src_ip
LEFT JOIN reasons rr
  ON (rr.src_ip IS NOT DISTINCT FROM g.src_ip) AND (rr.dstport IS NOT DISTINCT FROM g.dstport)
 AND (rr.protocol IS NOT DISTINCT FROM g.protocol)
 AND (rr.interface_id IS NOT DISTINCT FROM g.interface_id)
ORDER BY records DESC, bytes DESC, g.src_ip, dst_port, g.protocol, g.interface_id
