-- rejected-flows in Spark SQL: queries/rejected-flows.sql over the views of
-- _flows_unique.sql. Rejected traffic by source, destination port, protocol and ENI.
-- src_ip is the packet's original source (pkt-srcaddr where logged). A source that tried 20
-- or more distinct ports in the range is a scan suspect.
-- The rejected records are summed once into rejected_groups (per report row, destination and
-- reject reason), cached, and read twice below (per source, and per report row).
-- DataFusion's string_agg(DISTINCT ... ORDER BY ...) is collect_set, sorted and joined here
-- (NULL where the group has no reason). Spark sorts NULLs first in ascending order and
-- DataFusion last: the ORDER BY says which.
CREATE OR REPLACE TEMPORARY VIEW rejected_groups AS
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip,
       COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       dstport, protocol, interface_id, reject_reason,
       COUNT(*) AS records,
       SUM(packets) AS packets,
       SUM(bytes) AS bytes,
       MIN(`start`) AS first_start,
       MAX(`end`) AS last_end,
       MAX(direction) AS flow_direction,
       COUNT(*) FILTER (WHERE tcp_flags = 2) AS syn_only_records
FROM flows_unique
WHERE action = 'REJECT' AND log_status = 'OK'
GROUP BY 1, 2, dstport, protocol, interface_id, reject_reason;

CACHE TABLE rejected_groups;

WITH sources AS (
  SELECT src_ip, COUNT(DISTINCT dstport) AS ports_tried, COUNT(DISTINCT dst_ip) AS hosts_tried
  FROM rejected_groups
  GROUP BY src_ip
),
groups AS (
  SELECT src_ip, dstport, protocol, interface_id,
         SUM(records) AS records,
         SUM(packets) AS packets,
         SUM(bytes) AS bytes,
         MIN(first_start) AS first_start,
         MAX(last_end) AS last_end,
         MAX(flow_direction) AS flow_direction,
         CASE WHEN COUNT(reject_reason) > 0
              THEN array_join(array_sort(collect_set(reject_reason)), ',') END AS reject_reason,
         SUM(syn_only_records) AS syn_only_records
  FROM rejected_groups
  GROUP BY src_ip, dstport, protocol, interface_id
)
SELECT g.src_ip,
       g.dstport AS dst_port,
       g.protocol,
       g.interface_id,
       g.records,
       g.packets,
       g.bytes,
       timestamp_seconds(g.first_start) AS first_seen,
       timestamp_seconds(g.last_end) AS last_seen,
       g.flow_direction,
       g.reject_reason,
       g.syn_only_records,
       s.ports_tried AS src_ports_tried,
       s.hosts_tried AS src_hosts_tried,
       s.ports_tried >= 20 AS scan_suspect
FROM sources s
JOIN groups g ON g.src_ip = s.src_ip
ORDER BY g.records DESC NULLS FIRST, g.bytes DESC NULLS FIRST, g.src_ip ASC NULLS LAST,
         dst_port ASC NULLS LAST, g.protocol ASC NULLS LAST, g.interface_id ASC NULLS LAST
