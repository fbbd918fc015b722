-- nat-gateway: bytes each NAT gateway processed and who sent them. Processing is charged on
-- both directions of the legs between the NAT gateway's ENI and internal addresses (its
-- VPC's own space, private ranges, the organisation's public IPs); the legs to and from the
-- internet carry the same bytes again and are not counted twice. Each client is looked up in
-- the NAT gateway's own VPC (the same private address in another VPC is another host).
WITH nat AS (
  SELECT interface_id FROM enis WHERE interface_type IN ('nat_gateway', 'regional_nat_gateway')
  UNION
  SELECT DISTINCT interface_id FROM flows
  WHERE interface_type IN ('nat_gateway', 'regional_nat_gateway')
),
legs AS (
  SELECT f.interface_id, f.local_vpc_id, f.region,
         CASE WHEN f.direction = 'ingress' THEN f.srcaddr ELSE f.dstaddr END AS client_ip,
         COALESCE(SUM(CASE WHEN f.direction = 'ingress' THEN f.bytes END), 0) AS bytes_sent,
         COALESCE(SUM(CASE WHEN f.direction = 'egress' THEN f.bytes END), 0) AS bytes_received,
         SUM(f.bytes) AS bytes,
         MAX(f.local_az_id) AS nat_az_id,
         array_agg(DISTINCT COALESCE(f.pkt_dst_aws_service, f.pkt_src_aws_service)) AS aws_services
  FROM flows_unique f
  JOIN nat n ON n.interface_id = f.interface_id
  WHERE f.log_status = 'OK' AND f.action = 'ACCEPT' AND f.direction IS NOT NULL
  GROUP BY f.interface_id, f.local_vpc_id, f.region, 4
)
SELECT l.interface_id AS nat_interface_id,
       MAX(l.nat_az_id) AS nat_az_id,
       l.client_ip,
       MAX(eni_of(l.local_vpc_id, l.client_ip)) AS client_interface_id,
       MAX(az_of(l.local_vpc_id, l.client_ip)) AS client_az_id,
       SUM(l.bytes_sent) AS bytes_sent,
       SUM(l.bytes_received) AS bytes_received,
       SUM(l.bytes) AS bytes_processed,
       SUM(l.bytes) / MAX(d.bytes_per_gb) AS gb,
       SUM(l.bytes / d.bytes_per_gb * COALESCE(pr.nat_gateway_per_gb, d.nat_gateway_per_gb)) AS cost_usd,
       array_to_string(array_sort(array_distinct(flatten(array_agg(l.aws_services)))), ',') AS aws_services,
       MAX(d.as_of) AS prices_as_of
FROM legs l
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = l.region
WHERE addr_class(l.local_vpc_id, l.client_ip) <> 'internet'
GROUP BY l.interface_id, l.client_ip
ORDER BY bytes_processed DESC, nat_interface_id, client_ip
