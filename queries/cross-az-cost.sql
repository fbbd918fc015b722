-- cross-az-cost: bytes that crossed availability zones, and what they cost.
--  * Accepted OK records with bytes; exact duplicates (overlapping flow logs) count once.
--  * Each hop once: the sender's egress record; the receiver's ingress record only when the
--    sender is not logged (its address belongs to no ENI seen in the data or the inventory).
--  * The peer's AZ, in order: next-hop-az-id (v11), the ENI inventory by address (same VPC),
--    the subnet CIDRs (same VPC), learned from the peer's own egress records; else unknown,
--    shown with no cost, never guessed.
--  * Not cross-AZ: internet peers, the addresses AWS reserves in each subnet (the first four
--    and the last, the DNS resolver among them), sublocations, and Transit Gateway and
--    PrivateLink hops (free across AZs since 2022).
-- The records are read once: summed into a table with one row per conversation (address pair,
-- ENI and everything else the cost depends on), which the query below reads instead of the
-- records.
CREATE OR REPLACE TABLE cross_az_conversations AS
SELECT interface_id, srcaddr, dstaddr, direction, local_az_id, local_vpc_id,
       local_interface_type, sublocation_type, next_hop_az_id, next_hop_interface_type, region,
       COALESCE(SUM(bytes) FILTER (WHERE action = 'ACCEPT' AND bytes > 0), 0) AS bytes,
       COUNT(*) FILTER (WHERE action = 'ACCEPT' AND bytes > 0) AS records
FROM flows_unique
WHERE log_status = 'OK'
GROUP BY interface_id, srcaddr, dstaddr, direction, local_az_id, local_vpc_id,
         local_interface_type, sublocation_type, next_hop_az_id, next_hop_interface_type, region;

WITH f AS (
  SELECT * FROM cross_az_conversations WHERE records > 0
),
-- Facts about addresses, from every OK record, accepted or not.
egress_ips AS (
  SELECT srcaddr AS ip,
         CASE WHEN COUNT(DISTINCT local_az_id) = 1 THEN MIN(local_az_id) END AS az_id
  FROM cross_az_conversations
  WHERE direction = 'egress' AND srcaddr IS NOT NULL
  GROUP BY srcaddr
),
logged_ips AS (
  SELECT ip FROM eni_ips
  WHERE interface_id IN (SELECT DISTINCT interface_id FROM cross_az_conversations)
  UNION
  SELECT ip FROM egress_ips
),
hops AS (
  SELECT f.*,
         CASE WHEN f.direction = 'egress' THEN 'sender_egress' ELSE 'receiver_ingress' END AS confidence,
         CASE WHEN f.direction = 'egress' THEN f.dstaddr ELSE f.srcaddr END AS peer_ip
  FROM logged_ips li -- the small side first: it is the one held in memory
  RIGHT JOIN f ON li.ip = f.srcaddr
  WHERE f.direction = 'egress' OR (f.direction = 'ingress' AND li.ip IS NULL)
),
peers AS (
  SELECT DISTINCT CASE WHEN direction = 'egress' THEN dstaddr ELSE srcaddr END AS peer_ip,
         COALESCE(local_vpc_id, '') AS vpc_key, local_vpc_id
  FROM f
  WHERE direction IS NOT NULL
),
peer_facts AS (
  SELECT p.peer_ip, p.vpc_key,
         CASE WHEN COUNT(DISTINCT ei.az_id) = 1 THEN MIN(ei.az_id) END AS eni_az,
         CASE WHEN COUNT(DISTINCT sn.az_id) = 1 THEN MIN(sn.az_id) END AS subnet_az,
         COALESCE(BOOL_OR(ipv4_to_int(p.peer_ip) - sn.net_lo < 4 OR ipv4_to_int(p.peer_ip) = sn.net_hi), false) AS reserved,
         MIN(ei.interface_type) AS peer_type,
         MIN(l.az_id) AS learned_az,
         -- Per distinct peer (an aggregate, so that it is not pushed down to every record).
         COALESCE(BOOL_OR(is_private_ip(p.peer_ip)), false) AS private
  FROM peers p
  LEFT JOIN egress_ips l ON l.ip = p.peer_ip
  LEFT JOIN eni_ips ei
    ON ei.ip = p.peer_ip AND (p.local_vpc_id IS NULL OR ei.vpc_id IS NULL OR ei.vpc_id = p.local_vpc_id)
  LEFT JOIN subnets sn
    ON ipv4_to_int(p.peer_ip) BETWEEN sn.net_lo AND sn.net_hi
   AND (p.local_vpc_id IS NULL OR sn.vpc_id = p.local_vpc_id)
  GROUP BY p.peer_ip, p.vpc_key
),
resolved AS (
  SELECT h.bytes, h.records, h.confidence, h.region,
         COALESCE(h.next_hop_az_id, pf.eni_az, pf.subnet_az, pf.learned_az) AS peer_az,
         CASE WHEN h.next_hop_az_id IS NOT NULL THEN 'next_hop'
              WHEN pf.eni_az IS NOT NULL THEN 'eni_inventory'
              WHEN pf.subnet_az IS NOT NULL THEN 'subnet_cidr'
              WHEN pf.learned_az IS NOT NULL THEN 'learned'
              ELSE 'unknown' END AS peer_az_source,
         h.local_az_id,
         (pf.private
          AND NOT pf.reserved
          AND h.sublocation_type IS NULL
          AND COALESCE(h.local_interface_type, '') NOT IN ('transit_gateway', 'vpc_endpoint', 'gateway_load_balancer_endpoint')
          AND COALESCE(h.next_hop_interface_type, pf.peer_type, '') NOT IN ('transit_gateway', 'vpc_endpoint', 'gateway_load_balancer_endpoint')
         ) AS billable_path
  FROM hops h
  JOIN peer_facts pf ON pf.peer_ip = h.peer_ip AND pf.vpc_key = COALESCE(h.local_vpc_id, '')
),
pairs AS (
  SELECT CASE WHEN confidence = 'sender_egress' THEN local_az_id ELSE peer_az END AS src_az,
         CASE WHEN confidence = 'sender_egress' THEN peer_az ELSE local_az_id END AS dst_az,
         bytes, records, confidence, peer_az_source, region
  FROM resolved
  WHERE billable_path
),
-- Summed per AZ pair and region first, so the price table is joined to a handful of rows.
by_region AS (
  SELECT COALESCE(src_az, 'unknown') AS src_az_id,
         COALESCE(dst_az, 'unknown') AS dst_az_id,
         region,
         SUM(bytes) AS bytes,
         SUM(records) AS records,
         array_agg(DISTINCT peer_az_source) AS peer_az_sources,
         array_agg(DISTINCT confidence) AS confidences
  FROM pairs
  WHERE src_az IS NULL OR dst_az IS NULL OR src_az <> dst_az
  GROUP BY 1, 2, 3
)
SELECT b.src_az_id,
       b.dst_az_id,
       SUM(b.bytes) AS bytes,
       SUM(b.bytes) / MAX(d.bytes_per_gb) AS gb,
       CASE WHEN b.src_az_id <> 'unknown' AND b.dst_az_id <> 'unknown'
            THEN SUM(b.bytes / d.bytes_per_gb
                     * (COALESCE(pr.cross_az_out_per_gb, d.cross_az_out_per_gb)
                        + COALESCE(pr.cross_az_in_per_gb, d.cross_az_in_per_gb))) END AS cost_usd,
       SUM(b.records) AS records,
       array_to_string(array_sort(array_distinct(flatten(array_agg(b.peer_az_sources)))), ',') AS peer_az_source,
       array_to_string(array_sort(array_distinct(flatten(array_agg(b.confidences)))), ',') AS confidence,
       MAX(d.as_of) AS prices_as_of
FROM by_region b
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = b.region
GROUP BY b.src_az_id, b.dst_az_id
ORDER BY bytes DESC, b.src_az_id, b.dst_az_id
