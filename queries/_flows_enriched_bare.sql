-- The view `flows_enriched` when there is no inventory: `_flows_enriched.sql` with its joins
-- finding nothing, so that each column is the record's own value. Written out so that no
-- report pays for two joins against empty tables on every record.
SELECT f.*,
       f.flow_direction AS direction,
       f.az_id AS local_az_id,
       f.subnet_id AS local_subnet_id,
       f.vpc_id AS local_vpc_id,
       f.interface_type AS local_interface_type,
       f.instance_id AS local_instance_id
FROM flows f
