-- internet-egress: bytes each ENI sent to the internet, with the share that went to AWS
-- services (pkt-dst-aws-service) and an estimate at the first-tier internet price for the
-- rest. The internet is every address that is not internal: the VPC's own IPv4 and IPv6
-- space (from the inventory), private ranges, and the organisation's public and Elastic
-- IPs are not. NAT gateway ENIs show the internet leg of their clients' traffic.
WITH e AS (
  SELECT interface_id, local_vpc_id, dstaddr, pkt_dst_aws_service, region,
         MAX(local_interface_type) AS interface_type,
         MAX(local_az_id) AS az_id,
         SUM(bytes) AS bytes,
         COUNT(*) AS records
  FROM flows_unique
  WHERE log_status = 'OK' AND action = 'ACCEPT' AND direction = 'egress'
  GROUP BY interface_id, local_vpc_id, dstaddr, pkt_dst_aws_service, region
)
SELECT e.interface_id,
       MAX(e.interface_type) AS interface_type,
       MAX(e.az_id) AS az_id,
       SUM(e.bytes) AS bytes,
       SUM(e.bytes) / MAX(d.bytes_per_gb) AS gb,
       SUM(e.records) AS records,
       COUNT(DISTINCT e.dstaddr) AS destinations,
       COALESCE(SUM(CASE WHEN e.pkt_dst_aws_service IS NOT NULL THEN e.bytes END), 0) AS aws_service_bytes,
       array_to_string(array_sort(array_agg(DISTINCT e.pkt_dst_aws_service)), ',') AS aws_services,
       SUM(CASE WHEN e.pkt_dst_aws_service IS NULL
                THEN e.bytes / d.bytes_per_gb * COALESCE(pr.internet_out_per_gb, d.internet_out_per_gb)
                ELSE 0 END) AS est_cost_usd,
       MAX(d.as_of) AS prices_as_of
FROM e
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = e.region
WHERE addr_class(e.local_vpc_id, e.dstaddr) = 'internet'
GROUP BY e.interface_id
ORDER BY bytes DESC, e.interface_id
