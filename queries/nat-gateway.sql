-- nat-gateway: bytes each NAT gateway processed and who sent them. Processing is charged on
-- both directions of the legs between the NAT gateway's ENI and private addresses; the legs
-- to and from the internet carry the same bytes again and are not counted twice.
WITH nat AS (
  SELECT interface_id FROM enis WHERE interface_type = 'nat_gateway'
  UNION
  SELECT DISTINCT interface_id FROM flows WHERE interface_type = 'nat_gateway'
),
legs AS (
  SELECT f.interface_id, f.bytes, f.direction, f.local_az_id, f.region,
         COALESCE(f.pkt_dst_aws_service, f.pkt_src_aws_service) AS aws_service,
         CASE WHEN f.direction = 'ingress' THEN f.srcaddr ELSE f.dstaddr END AS client_ip
  FROM flows_unique f
  JOIN nat n ON n.interface_id = f.interface_id
  WHERE f.log_status = 'OK' AND f.action = 'ACCEPT' AND f.direction IS NOT NULL
)
SELECT l.interface_id AS nat_interface_id,
       MAX(l.local_az_id) AS nat_az_id,
       l.client_ip,
       MAX(c.interface_id) AS client_interface_id,
       MAX(c.az_id) AS client_az_id,
       COALESCE(SUM(CASE WHEN l.direction = 'ingress' THEN l.bytes END), 0) AS bytes_sent,
       COALESCE(SUM(CASE WHEN l.direction = 'egress' THEN l.bytes END), 0) AS bytes_received,
       SUM(l.bytes) AS bytes_processed,
       SUM(l.bytes) / MAX(d.bytes_per_gb) AS gb,
       SUM(l.bytes / d.bytes_per_gb * COALESCE(pr.nat_gateway_per_gb, d.nat_gateway_per_gb)) AS cost_usd,
       array_to_string(array_sort(array_agg(DISTINCT l.aws_service)), ',') AS aws_services,
       MAX(d.as_of) AS prices_as_of
FROM legs l
LEFT JOIN eni_ips c ON c.ip = l.client_ip
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = l.region
WHERE is_private_ip(l.client_ip)
GROUP BY l.interface_id, l.client_ip
ORDER BY bytes_processed DESC, nat_interface_id, client_ip
