-- top-talkers: end-to-end conversations by bytes. Counted once, from the sender's egress
-- record; the receiver's ingress record only when the sender is not logged: none of its
-- addresses (srcaddr or pkt-srcaddr of egress records, or any address the inventory lists
-- for an ENI with records) is the source, looked up in the record's own VPC. The hops of
-- intermediate ENIs (NAT and Transit Gateways, load balancers, endpoints) are left out, and
-- the packet-level addresses name the real ends (a pod, not its node).
-- The records are read once: summed per ENI, addresses, port and direction into a table that
-- the query below reads four times. The table keeps its text as plain strings: a string view
-- takes 16 bytes plus the text itself where it is longer than 12 (ENI and VPC ids), and for
-- the 2.8M conversations of a realistic day that was 180 MB more at the peak.
CREATE OR REPLACE TABLE talker_conversations AS
SELECT arrow_cast(interface_id, 'Utf8') AS interface_id, arrow_cast(srcaddr, 'Utf8') AS srcaddr,
       arrow_cast(dstaddr, 'Utf8') AS dstaddr, arrow_cast(pkt_srcaddr, 'Utf8') AS pkt_srcaddr,
       arrow_cast(pkt_dstaddr, 'Utf8') AS pkt_dstaddr, dstport,
       arrow_cast(direction, 'Utf8') AS direction, arrow_cast(local_vpc_id, 'Utf8') AS local_vpc_id,
       packets, bytes, records
FROM (
SELECT interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, direction,
       local_vpc_id, SUM(packets) AS packets, SUM(bytes) AS bytes, COUNT(*) AS records
FROM flows_unique
WHERE log_status = 'OK' AND action = 'ACCEPT'
  AND COALESCE(local_interface_type, 'interface') NOT IN
      ('nat_gateway', 'regional_nat_gateway', 'transit_gateway', 'network_load_balancer',
       'gateway_load_balancer', 'load_balancer', 'vpc_endpoint',
       'gateway_load_balancer_endpoint')
GROUP BY interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, direction,
         local_vpc_id
);

WITH f AS (
  SELECT *, COALESCE(local_vpc_id, '') AS vpc_key FROM talker_conversations
),
sent AS (
  SELECT DISTINCT vpc_key, srcaddr AS ip FROM f WHERE direction = 'egress'
  UNION
  SELECT DISTINCT vpc_key, pkt_srcaddr FROM f
  WHERE direction = 'egress' AND pkt_srcaddr IS NOT NULL
),
logged_enis AS (SELECT DISTINCT interface_id FROM f),
s AS (
  SELECT srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, packets, bytes, records,
         local_vpc_id
  FROM f WHERE direction = 'egress' OR direction IS NULL
  UNION ALL
  SELECT f.srcaddr, f.dstaddr, f.pkt_srcaddr, f.pkt_dstaddr, f.dstport, f.packets, f.bytes,
         f.records, f.local_vpc_id
  FROM f
  LEFT JOIN sent ON sent.vpc_key = f.vpc_key AND sent.ip = f.srcaddr
  LEFT JOIN logged_enis le ON le.interface_id = eni_of(f.local_vpc_id, f.srcaddr)
  WHERE f.direction = 'ingress' AND sent.ip IS NULL AND le.interface_id IS NULL
)
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip,
       COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       SUM(bytes) AS bytes,
       SUM(packets) AS packets,
       SUM(records) AS records,
       COUNT(DISTINCT dstport) AS dst_ports,
       MIN(dstport) AS lowest_dst_port,
       local_vpc_id AS vpc_id
FROM s
GROUP BY 1, 2, local_vpc_id
ORDER BY bytes DESC, src_ip, dst_ip, vpc_id
