-- cross-az-cost: bytes that crossed availability zones, and what they cost, per AZ pair and
-- hop type. The rules (analytics §7):
--  * Accepted OK records with bytes; one observation logged by several flow logs counts once.
--  * A hop is sender ENI -> next ENI on the path, counted once from the best evidence:
--    - the sender's egress record, when it describes the hop: its dstaddr is the next ENI's
--      address, or it names the next hop (next-hop-az-id, v11), in which case the hop is
--      billed by the next hop's AZ even when the packet's final destination is public (an
--      instance in az2 sending to the internet through a NAT gateway in az1 pays az2->az1);
--    - else the next ENI's ingress record: where the sender is not logged (none of its
--      addresses, seen as srcaddr or pkt-srcaddr of egress records or listed in the
--      inventory for an ENI with records, is the source), or where the next ENI received
--      packets addressed beyond it (a NAT gateway ENI, or pkt-dstaddr <> dstaddr where
--      pkt-dstaddr is none of the ENI's own addresses) and the sender's own records name no
--      next hop: a NAT gateway's ingress record of an instance's internet-bound packets is
--      the evidence for the instance->NAT leg. A pod's packets to its node's ENI (pkt-dstaddr
--      the pod's secondary address, dstaddr the node's primary, as AWS logs them) are
--      addressed to that ENI: the sender's egress record, whose dstaddr is the pod, counts.
--      An ENI's own addresses are those the inventory lists for it and those it sends from
--      (srcaddr, and pkt-srcaddr unless it is an intermediate ENI).
--  * Every address is looked up in the VPC of the record that names it (the same private
--    address in two VPCs is two hosts), or in the one other VPC that holds it (peering).
--  * The peer's AZ, in order: next-hop-az-id, the ENI inventory (every address an ENI owns:
--    secondary and prefix-delegated IPv4, IPv6, public and Elastic IPs), the subnet CIDRs
--    (IPv4 and IPv6), learned from the addresses logged ENIs send from in the same VPC; else
--    unknown, shown with no cost, never guessed.
--  * Not cross-AZ: internet peers (the VPC's own IPv4 and IPv6 space, private ranges and the
--    organisation's public IPs are internal), the addresses AWS reserves in each subnet,
--    sublocations, and Transit Gateway and PrivateLink hops (free across AZs since 2022).
--  * A hop to a public or Elastic IP of the organisation is billed at the cross-AZ rate each
--    way even inside one AZ (hop_type public_ip_same_az).
-- The records are read once: summed into a table with one row per conversation (address
-- pair, ENI and everything else the cost depends on), which the query below reads.
CREATE OR REPLACE TABLE cross_az_conversations AS
SELECT interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, direction, local_az_id,
       local_vpc_id, local_interface_type, sublocation_type, next_hop_az_id,
       next_hop_interface_type, traffic_path, region,
       COALESCE(SUM(bytes) FILTER (WHERE action = 'ACCEPT' AND bytes > 0), 0) AS bytes,
       COUNT(*) FILTER (WHERE action = 'ACCEPT' AND bytes > 0) AS records
FROM flows_unique
WHERE log_status = 'OK'
GROUP BY interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, direction, local_az_id,
         local_vpc_id, local_interface_type, sublocation_type, next_hop_az_id,
         next_hop_interface_type, traffic_path, region;

WITH conv AS (
  SELECT *,
         COALESCE(local_vpc_id, '') AS vpc_key,
         COALESCE(local_interface_type, '') IN
           ('nat_gateway', 'regional_nat_gateway', 'transit_gateway', 'network_load_balancer',
            'gateway_load_balancer', 'load_balancer', 'vpc_endpoint',
            'gateway_load_balancer_endpoint') AS intermediate
  FROM cross_az_conversations
),
-- Addresses logged ENIs send from, per VPC, from every OK record (accepted or not):
-- srcaddr, and pkt-srcaddr (a pod's address on its node's ENI) where it is internal.
sent AS (
  SELECT vpc_key, srcaddr AS ip, local_az_id, next_hop_az_id
  FROM conv
  WHERE direction = 'egress' AND srcaddr IS NOT NULL
  UNION ALL
  SELECT vpc_key, pkt_srcaddr, local_az_id, next_hop_az_id
  FROM conv
  WHERE direction = 'egress' AND NOT intermediate AND pkt_srcaddr IS NOT NULL
    AND pkt_srcaddr <> srcaddr AND addr_class(local_vpc_id, pkt_srcaddr) <> 'internet'
),
senders AS (
  SELECT vpc_key, ip,
         CASE WHEN COUNT(DISTINCT local_az_id) = 1 THEN MIN(local_az_id) END AS az_id,
         BOOL_OR(next_hop_az_id IS NOT NULL) AS names_next_hop
  FROM sent
  GROUP BY vpc_key, ip
),
logged_enis AS (SELECT DISTINCT interface_id FROM conv),
-- The addresses each ENI sends from: its own, without an inventory.
own_addresses AS (
  SELECT DISTINCT interface_id, srcaddr AS ip FROM conv
  WHERE direction = 'egress' AND srcaddr IS NOT NULL
  UNION
  SELECT DISTINCT interface_id, pkt_srcaddr FROM conv
  WHERE direction = 'egress' AND NOT intermediate AND pkt_srcaddr IS NOT NULL
),
-- Ingress conversations with what is known of their sender, one join per step: the small
-- side (senders, logged ENIs, own addresses) is then the one held in memory, where one
-- SELECT with three joins held the ingress conversations (487k rows, 180 MB) twice.
inbound_s AS (
  SELECT c.*,
         s.ip IS NOT NULL AS seen_sending,
         COALESCE(s.names_next_hop, false) AS sender_names_next_hop
  FROM conv c
  LEFT JOIN senders s ON s.vpc_key = c.vpc_key AND s.ip = c.srcaddr
  WHERE c.direction = 'ingress' AND c.records > 0
),
inbound_l AS (
  SELECT c.*, le.interface_id IS NOT NULL AS sender_eni_logged
  FROM logged_enis le
  RIGHT JOIN inbound_s c ON le.interface_id = eni_of(c.local_vpc_id, c.srcaddr)
),
inbound AS (
  SELECT c.*,
         (c.pkt_dstaddr IS NOT NULL AND c.pkt_dstaddr <> c.dstaddr AND own.ip IS NULL
          AND COALESCE(eni_of(c.local_vpc_id, c.pkt_dstaddr), '') <> c.interface_id)
           OR COALESCE(c.local_interface_type, '') IN ('nat_gateway', 'regional_nat_gateway')
           AS transit
  FROM own_addresses own
  RIGHT JOIN inbound_l c ON own.interface_id = c.interface_id AND own.ip = c.pkt_dstaddr
),
hops AS (
  SELECT bytes, records, region, local_az_id, local_vpc_id, vpc_key, local_interface_type,
         sublocation_type, traffic_path, next_hop_az_id, next_hop_interface_type,
         'sender_egress' AS confidence, dstaddr AS peer_ip
  FROM conv
  WHERE direction = 'egress' AND records > 0
  UNION ALL
  SELECT bytes, records, region, local_az_id, local_vpc_id, vpc_key, local_interface_type,
         sublocation_type, traffic_path, NULL, NULL,
         'receiver_ingress', srcaddr
  FROM inbound
  WHERE NOT (seen_sending OR sender_eni_logged)
     OR (transit AND NOT sender_names_next_hop)
),
-- What is known of each address a hop can name: the peers of every egress and ingress
-- conversation with bytes, a superset of the hops' peers. Taken from conv rather than from
-- hops, since DataFusion computes a WITH query wherever it is named: hops and its joins are
-- then computed once, not twice (-0.7 GB peak, -1.4 s).
peer_facts AS (
  SELECT p.vpc_key, p.peer_ip,
         az_of(p.local_vpc_id, p.peer_ip) AS inv_az,
         az_source_of(p.local_vpc_id, p.peer_ip) AS inv_source,
         eni_type_of(p.local_vpc_id, p.peer_ip) AS peer_type,
         addr_class(p.local_vpc_id, p.peer_ip) AS class,
         COALESCE(is_reserved_ip(p.local_vpc_id, p.peer_ip), false) AS reserved,
         l.az_id AS learned_az
  FROM (SELECT DISTINCT vpc_key, local_vpc_id,
                CASE WHEN direction = 'egress' THEN dstaddr ELSE srcaddr END AS peer_ip
        FROM conv WHERE direction IN ('egress', 'ingress') AND records > 0) p
  LEFT JOIN senders l ON l.vpc_key = p.vpc_key AND l.ip = p.peer_ip
),
typed AS (
  SELECT h.*, pf.class, pf.reserved,
         h.next_hop_az_id IS NOT NULL AS named_next_hop,
         COALESCE(h.next_hop_az_id, pf.inv_az, pf.learned_az) AS peer_az,
         CASE WHEN h.next_hop_az_id IS NOT NULL THEN 'next_hop'
              WHEN pf.inv_az IS NOT NULL THEN pf.inv_source
              WHEN pf.learned_az IS NOT NULL THEN 'learned'
              ELSE 'unknown' END AS peer_az_source,
         CASE WHEN h.confidence = 'sender_egress' THEN h.local_interface_type
              ELSE pf.peer_type END AS sender_type,
         CASE WHEN h.confidence = 'sender_egress'
              THEN COALESCE(h.next_hop_interface_type, pf.peer_type)
              ELSE h.local_interface_type END AS receiver_type
  FROM hops h
  JOIN peer_facts pf ON pf.vpc_key = h.vpc_key AND pf.peer_ip = h.peer_ip
),
classified AS (
  SELECT *,
         CASE WHEN 'transit_gateway' IN (COALESCE(sender_type, ''), COALESCE(receiver_type, ''))
                THEN 'tgw'
              WHEN COALESCE(sender_type, '') IN ('vpc_endpoint', 'gateway_load_balancer_endpoint')
                OR COALESCE(receiver_type, '') IN ('vpc_endpoint', 'gateway_load_balancer_endpoint')
                THEN 'endpoint'
              WHEN NOT named_next_hop AND class = 'org_public' THEN 'public_ip'
              WHEN COALESCE(receiver_type, '') IN ('nat_gateway', 'regional_nat_gateway') THEN 'to_nat'
              WHEN COALESCE(sender_type, '') IN ('nat_gateway', 'regional_nat_gateway') THEN 'from_nat'
              WHEN COALESCE(receiver_type, '') IN ('network_load_balancer', 'gateway_load_balancer', 'load_balancer')
                THEN 'to_lb'
              WHEN COALESCE(sender_type, '') IN ('network_load_balancer', 'gateway_load_balancer', 'load_balancer')
                THEN 'lb_to_target'
              WHEN class = 'other_vpc' OR traffic_path IN (4, 5) THEN 'peering'
              ELSE 'direct' END AS base_hop_type
  FROM typed
),
pairs AS (
  SELECT CASE WHEN confidence = 'sender_egress' THEN local_az_id ELSE peer_az END AS src_az,
         CASE WHEN confidence = 'sender_egress' THEN peer_az ELSE local_az_id END AS dst_az,
         base_hop_type, bytes, records, confidence, peer_az_source, region
  FROM classified
  WHERE sublocation_type IS NULL
    AND base_hop_type NOT IN ('tgw', 'endpoint')
    AND (named_next_hop OR (class <> 'internet' AND NOT reserved))
),
-- Summed per AZ pair, hop type and region first, so the price table is joined to a handful
-- of rows.
by_region AS (
  SELECT COALESCE(src_az, 'unknown') AS src_az_id,
         COALESCE(dst_az, 'unknown') AS dst_az_id,
         CASE WHEN base_hop_type = 'public_ip' AND src_az = dst_az THEN 'public_ip_same_az'
              ELSE base_hop_type END AS hop_type,
         region,
         SUM(bytes) AS bytes,
         SUM(records) AS records,
         array_agg(DISTINCT peer_az_source) AS peer_az_sources,
         array_agg(DISTINCT confidence) AS confidences
  FROM pairs
  WHERE src_az IS NULL OR dst_az IS NULL OR src_az <> dst_az OR base_hop_type = 'public_ip'
  GROUP BY 1, 2, 3, 4
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
       MAX(d.as_of) AS prices_as_of,
       b.hop_type
FROM by_region b
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = b.region
GROUP BY b.src_az_id, b.dst_az_id, b.hop_type
ORDER BY bytes DESC, b.src_az_id, b.dst_az_id, b.hop_type
