-- rejected-flows: rejected traffic by source, destination port, protocol and ENI.
-- src_ip is the packet's original source (pkt-srcaddr where logged). A source that tried 20
-- or more distinct ports in the range is a scan suspect.
WITH r AS (
  SELECT interface_id, COALESCE(pkt_srcaddr, srcaddr) AS src_ip, dstport, protocol, packets,
         bytes, start, "end", direction, reject_reason, tcp_flags
  FROM flows_unique
  WHERE action = 'REJECT' AND log_status = 'OK'
),
sources AS (
  SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip, COUNT(DISTINCT dstport) AS ports_tried,
         COUNT(DISTINCT COALESCE(pkt_dstaddr, dstaddr)) AS hosts_tried
  FROM flows
  WHERE action = 'REJECT' AND log_status = 'OK'
  GROUP BY 1
)
SELECT r.src_ip,
       r.dstport AS dst_port,
       r.protocol,
       r.interface_id,
       COUNT(*) AS records,
       SUM(r.packets) AS packets,
       SUM(r.bytes) AS bytes,
       to_timestamp_seconds(MIN(r.start)) AS first_seen,
       to_timestamp_seconds(MAX(r."end")) AS last_seen,
       MAX(r.direction) AS flow_direction,
       string_agg(DISTINCT r.reject_reason, ',') AS reject_reason,
       COUNT(*) FILTER (WHERE r.tcp_flags = 2) AS syn_only_records,
       MAX(s.ports_tried) AS src_ports_tried,
       MAX(s.hosts_tried) AS src_hosts_tried,
       MAX(s.ports_tried) >= 20 AS scan_suspect
FROM r
JOIN sources s ON s.src_ip = r.src_ip
GROUP BY r.src_ip, r.dstport, r.protocol, r.interface_id
ORDER BY records DESC, bytes DESC, r.src_ip, dst_port, r.protocol, r.interface_id
