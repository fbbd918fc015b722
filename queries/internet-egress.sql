-- internet-egress: bytes each ENI sent to public addresses, with the share that went to AWS
-- services (pkt-dst-aws-service) and an estimate at the first-tier internet price for the
-- rest. NAT gateway ENIs show the internet leg of their clients' traffic.
SELECT f.interface_id,
       MAX(f.local_interface_type) AS interface_type,
       MAX(f.local_az_id) AS az_id,
       SUM(f.bytes) AS bytes,
       SUM(f.bytes) / MAX(d.bytes_per_gb) AS gb,
       COUNT(*) AS records,
       COUNT(DISTINCT f.dstaddr) AS destinations,
       COALESCE(SUM(CASE WHEN f.pkt_dst_aws_service IS NOT NULL THEN f.bytes END), 0) AS aws_service_bytes,
       array_to_string(array_sort(array_agg(DISTINCT f.pkt_dst_aws_service)), ',') AS aws_services,
       SUM(CASE WHEN f.pkt_dst_aws_service IS NULL
                THEN f.bytes / d.bytes_per_gb * COALESCE(pr.internet_out_per_gb, d.internet_out_per_gb)
                ELSE 0 END) AS est_cost_usd,
       MAX(d.as_of) AS prices_as_of
FROM flows_unique f
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = f.region
WHERE f.log_status = 'OK' AND f.action = 'ACCEPT' AND f.direction = 'egress'
  AND NOT is_private_ip(f.dstaddr)
GROUP BY f.interface_id
ORDER BY bytes DESC, f.interface_id
