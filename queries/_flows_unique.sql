-- The view `flows_unique`: `flows_enriched` with exact duplicate records removed where an ENI
-- is logged by more than one flow log (overlapping VPC-, subnet- and ENI-level subscriptions,
-- or S3 and CloudWatch destinations). vpcflow first finds those ENIs
-- (SELECT interface_id FROM flows GROUP BY interface_id HAVING COUNT(DISTINCT flow_log_id) > 1)
-- and puts them in place of {multi}; only they pay for de-duplication. When there are none,
-- the view is `flows_enriched` itself.
SELECT * FROM flows_enriched
WHERE interface_id IS NULL OR interface_id NOT IN ({multi})
UNION ALL
SELECT DISTINCT ON (interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes,
                    start, "end", action, log_status, flow_direction, tcp_flags) *
FROM flows_enriched
WHERE interface_id IN ({multi})
