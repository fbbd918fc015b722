-- top-talkers: end-to-end conversations by bytes. Counted once, from the sender's egress
-- record (the receiver's ingress record only when the sender is not logged); the hops of
-- intermediate ENIs (NAT and Transit Gateways, load balancers, endpoints) are left out, and
-- the packet-level addresses name the real ends.
WITH f AS (
  SELECT srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, packets, bytes, direction
  FROM flows_unique
  WHERE log_status = 'OK' AND action = 'ACCEPT'
    AND COALESCE(local_interface_type, 'interface') NOT IN
        ('nat_gateway', 'transit_gateway', 'network_load_balancer', 'gateway_load_balancer',
         'load_balancer', 'vpc_endpoint', 'gateway_load_balancer_endpoint')
),
logged AS (SELECT DISTINCT srcaddr AS ip FROM f WHERE direction = 'egress'),
s AS (
  SELECT * FROM f WHERE direction = 'egress' OR direction IS NULL
  UNION ALL
  SELECT * FROM f WHERE direction = 'ingress' AND srcaddr NOT IN (SELECT ip FROM logged)
)
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip,
       COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       SUM(bytes) AS bytes,
       SUM(packets) AS packets,
       COUNT(*) AS records,
       COUNT(DISTINCT dstport) AS dst_ports,
       MIN(dstport) AS lowest_dst_port
FROM s
GROUP BY 1, 2
ORDER BY bytes DESC, src_ip, dst_ip
