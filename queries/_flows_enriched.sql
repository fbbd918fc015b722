-- The view `flows_enriched`, which every report reads: `flows` plus what the inventory adds.
--   direction       flow_direction where logged; for records without it (the default v2
--                   format), 'egress' when srcaddr is one of the ENI's own addresses (any of
--                   them: primary, secondary, prefix-delegated, IPv6) and 'ingress'
--                   otherwise, for ENIs in the inventory; else NULL (unknown).
--   local_*         the logging ENI's AZ, subnet, VPC, type and instance: from the record,
--                   else from the inventory.
SELECT f.*,
       CASE WHEN f.flow_direction IS NOT NULL THEN f.flow_direction
            WHEN inv.interface_id IS NULL THEN NULL
            WHEN eni_of(COALESCE(f.vpc_id, inv.vpc_id), f.srcaddr) = f.interface_id THEN 'egress'
            ELSE 'ingress' END AS direction,
       COALESCE(f.az_id, inv.az_id) AS local_az_id,
       COALESCE(f.subnet_id, inv.subnet_id) AS local_subnet_id,
       COALESCE(f.vpc_id, inv.vpc_id) AS local_vpc_id,
       COALESCE(f.interface_type, inv.interface_type) AS local_interface_type,
       COALESCE(f.instance_id, inv.instance_id) AS local_instance_id
FROM flows f
LEFT JOIN enis inv ON inv.interface_id = f.interface_id
