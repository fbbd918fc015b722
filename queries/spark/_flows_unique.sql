-- The views `flows_enriched` and `flows_unique` of vpcflow's reports, in Spark SQL, for a
-- session where `flows` is the dataset (`vpcflow ddl --engine spark`). Run these statements
-- first, then a report of this folder. Written out from vpcflow's flow schema: the test
-- (crates/cli/tests/spark.rs) checks that it names every field.
--
-- `flows_enriched` is vpcflow's view when it has no inventory (queries/_flows_enriched_bare.sql):
-- every column is the record's own value.
CREATE OR REPLACE TEMPORARY VIEW flows_enriched AS
SELECT f.*,
       f.flow_direction AS direction,
       f.az_id AS local_az_id,
       f.subnet_id AS local_subnet_id,
       f.vpc_id AS local_vpc_id,
       f.interface_type AS local_interface_type,
       f.instance_id AS local_instance_id
FROM flows f;

-- `flows_unique`: each observation once where an ENI is logged by several flow logs (analytics
-- section 7, rule 1), as vpcflow builds it (crates/report/src/lib.rs, unique_view). The records of
-- such an ENI are grouped by the fields that all of its flow logs carry; each group keeps
-- the records of the flow log that holds the most of them, then the one that carries the
-- most fields, then the lowest ID. vpcflow works out the carried fields before it writes its
-- SQL. Here they are columns: c_FIELD (this flow log carries FIELD for this ENI) and
-- k_FIELD (every flow log of this ENI does); in the group key a field that not every flow log
-- of the ENI carries is NULL.
-- The compared fields are every field of the record but `version`, with `direction` in place
-- of `flow_direction`. Provenance (flow_log_id, source, source_line) never takes part.
CREATE OR REPLACE TEMPORARY VIEW multi_logged_enis AS
SELECT interface_id FROM flows
WHERE flow_log_id IS NOT NULL AND interface_id IS NOT NULL
GROUP BY interface_id
HAVING COUNT(DISTINCT flow_log_id) > 1;

CREATE OR REPLACE TEMPORARY VIEW multi_logged_carried AS
SELECT interface_id, COALESCE(flow_log_id, '') AS log,
         COUNT(`account_id`) > 0 AS c_account_id,
         COUNT(`interface_id`) > 0 AS c_interface_id,
         COUNT(`srcaddr`) > 0 AS c_srcaddr,
         COUNT(`dstaddr`) > 0 AS c_dstaddr,
         COUNT(`srcport`) > 0 AS c_srcport,
         COUNT(`dstport`) > 0 AS c_dstport,
         COUNT(`protocol`) > 0 AS c_protocol,
         COUNT(`packets`) > 0 AS c_packets,
         COUNT(`bytes`) > 0 AS c_bytes,
         COUNT(`start`) > 0 AS c_start,
         COUNT(`end`) > 0 AS c_end,
         COUNT(`action`) > 0 AS c_action,
         COUNT(`log_status`) > 0 AS c_log_status,
         COUNT(`vpc_id`) > 0 AS c_vpc_id,
         COUNT(`subnet_id`) > 0 AS c_subnet_id,
         COUNT(`instance_id`) > 0 AS c_instance_id,
         COUNT(`tcp_flags`) > 0 AS c_tcp_flags,
         COUNT(`type`) > 0 AS c_type,
         COUNT(`pkt_srcaddr`) > 0 AS c_pkt_srcaddr,
         COUNT(`pkt_dstaddr`) > 0 AS c_pkt_dstaddr,
         COUNT(`region`) > 0 AS c_region,
         COUNT(`az_id`) > 0 AS c_az_id,
         COUNT(`sublocation_type`) > 0 AS c_sublocation_type,
         COUNT(`sublocation_id`) > 0 AS c_sublocation_id,
         COUNT(`pkt_src_aws_service`) > 0 AS c_pkt_src_aws_service,
         COUNT(`pkt_dst_aws_service`) > 0 AS c_pkt_dst_aws_service,
         COUNT(`traffic_path`) > 0 AS c_traffic_path,
         COUNT(`ecs_cluster_arn`) > 0 AS c_ecs_cluster_arn,
         COUNT(`ecs_cluster_name`) > 0 AS c_ecs_cluster_name,
         COUNT(`ecs_container_instance_arn`) > 0 AS c_ecs_container_instance_arn,
         COUNT(`ecs_container_instance_id`) > 0 AS c_ecs_container_instance_id,
         COUNT(`ecs_container_id`) > 0 AS c_ecs_container_id,
         COUNT(`ecs_second_container_id`) > 0 AS c_ecs_second_container_id,
         COUNT(`ecs_service_name`) > 0 AS c_ecs_service_name,
         COUNT(`ecs_task_definition_arn`) > 0 AS c_ecs_task_definition_arn,
         COUNT(`ecs_task_arn`) > 0 AS c_ecs_task_arn,
         COUNT(`ecs_task_id`) > 0 AS c_ecs_task_id,
         COUNT(`reject_reason`) > 0 AS c_reject_reason,
         COUNT(`resource_id`) > 0 AS c_resource_id,
         COUNT(`encryption_status`) > 0 AS c_encryption_status,
         COUNT(`instance_tag`) > 0 AS c_instance_tag,
         COUNT(`instance_tag_2`) > 0 AS c_instance_tag_2,
         COUNT(`interface_tag`) > 0 AS c_interface_tag,
         COUNT(`interface_tag_2`) > 0 AS c_interface_tag_2,
         COUNT(`asg_tag`) > 0 AS c_asg_tag,
         COUNT(`asg_tag_2`) > 0 AS c_asg_tag_2,
         COUNT(`interface_type`) > 0 AS c_interface_type,
         COUNT(`next_hop_interface_id`) > 0 AS c_next_hop_interface_id,
         COUNT(`next_hop_subnet_id`) > 0 AS c_next_hop_subnet_id,
         COUNT(`next_hop_az_id`) > 0 AS c_next_hop_az_id,
         COUNT(`next_hop_vpc_id`) > 0 AS c_next_hop_vpc_id,
         COUNT(`next_hop_interface_type`) > 0 AS c_next_hop_interface_type,
         COUNT(`resource_type`) > 0 AS c_resource_type,
         COUNT(`tgw_id`) > 0 AS c_tgw_id,
         COUNT(`tgw_attachment_id`) > 0 AS c_tgw_attachment_id,
         COUNT(`tgw_src_vpc_account_id`) > 0 AS c_tgw_src_vpc_account_id,
         COUNT(`tgw_dst_vpc_account_id`) > 0 AS c_tgw_dst_vpc_account_id,
         COUNT(`tgw_src_vpc_id`) > 0 AS c_tgw_src_vpc_id,
         COUNT(`tgw_dst_vpc_id`) > 0 AS c_tgw_dst_vpc_id,
         COUNT(`tgw_src_subnet_id`) > 0 AS c_tgw_src_subnet_id,
         COUNT(`tgw_dst_subnet_id`) > 0 AS c_tgw_dst_subnet_id,
         COUNT(`tgw_src_eni`) > 0 AS c_tgw_src_eni,
         COUNT(`tgw_dst_eni`) > 0 AS c_tgw_dst_eni,
         COUNT(`tgw_src_az_id`) > 0 AS c_tgw_src_az_id,
         COUNT(`tgw_dst_az_id`) > 0 AS c_tgw_dst_az_id,
         COUNT(`tgw_pair_attachment_id`) > 0 AS c_tgw_pair_attachment_id,
         COUNT(`packets_lost_no_route`) > 0 AS c_packets_lost_no_route,
         COUNT(`packets_lost_blackhole`) > 0 AS c_packets_lost_blackhole,
         COUNT(`packets_lost_mtu_exceeded`) > 0 AS c_packets_lost_mtu_exceeded,
         COUNT(`packets_lost_ttl_expired`) > 0 AS c_packets_lost_ttl_expired,
         COUNT(`direction`) > 0 AS c_direction
FROM flows_enriched
WHERE interface_id IN (SELECT interface_id FROM multi_logged_enis)
GROUP BY 1, 2;

CREATE OR REPLACE TEMPORARY VIEW multi_logged_keys AS
SELECT interface_id,
         BOOL_AND(c_account_id) AS k_account_id,
         BOOL_AND(c_interface_id) AS k_interface_id,
         BOOL_AND(c_srcaddr) AS k_srcaddr,
         BOOL_AND(c_dstaddr) AS k_dstaddr,
         BOOL_AND(c_srcport) AS k_srcport,
         BOOL_AND(c_dstport) AS k_dstport,
         BOOL_AND(c_protocol) AS k_protocol,
         BOOL_AND(c_packets) AS k_packets,
         BOOL_AND(c_bytes) AS k_bytes,
         BOOL_AND(c_start) AS k_start,
         BOOL_AND(c_end) AS k_end,
         BOOL_AND(c_action) AS k_action,
         BOOL_AND(c_log_status) AS k_log_status,
         BOOL_AND(c_vpc_id) AS k_vpc_id,
         BOOL_AND(c_subnet_id) AS k_subnet_id,
         BOOL_AND(c_instance_id) AS k_instance_id,
         BOOL_AND(c_tcp_flags) AS k_tcp_flags,
         BOOL_AND(c_type) AS k_type,
         BOOL_AND(c_pkt_srcaddr) AS k_pkt_srcaddr,
         BOOL_AND(c_pkt_dstaddr) AS k_pkt_dstaddr,
         BOOL_AND(c_region) AS k_region,
         BOOL_AND(c_az_id) AS k_az_id,
         BOOL_AND(c_sublocation_type) AS k_sublocation_type,
         BOOL_AND(c_sublocation_id) AS k_sublocation_id,
         BOOL_AND(c_pkt_src_aws_service) AS k_pkt_src_aws_service,
         BOOL_AND(c_pkt_dst_aws_service) AS k_pkt_dst_aws_service,
         BOOL_AND(c_traffic_path) AS k_traffic_path,
         BOOL_AND(c_ecs_cluster_arn) AS k_ecs_cluster_arn,
         BOOL_AND(c_ecs_cluster_name) AS k_ecs_cluster_name,
         BOOL_AND(c_ecs_container_instance_arn) AS k_ecs_container_instance_arn,
         BOOL_AND(c_ecs_container_instance_id) AS k_ecs_container_instance_id,
         BOOL_AND(c_ecs_container_id) AS k_ecs_container_id,
         BOOL_AND(c_ecs_second_container_id) AS k_ecs_second_container_id,
         BOOL_AND(c_ecs_service_name) AS k_ecs_service_name,
         BOOL_AND(c_ecs_task_definition_arn) AS k_ecs_task_definition_arn,
         BOOL_AND(c_ecs_task_arn) AS k_ecs_task_arn,
         BOOL_AND(c_ecs_task_id) AS k_ecs_task_id,
         BOOL_AND(c_reject_reason) AS k_reject_reason,
         BOOL_AND(c_resource_id) AS k_resource_id,
         BOOL_AND(c_encryption_status) AS k_encryption_status,
         BOOL_AND(c_instance_tag) AS k_instance_tag,
         BOOL_AND(c_instance_tag_2) AS k_instance_tag_2,
         BOOL_AND(c_interface_tag) AS k_interface_tag,
         BOOL_AND(c_interface_tag_2) AS k_interface_tag_2,
         BOOL_AND(c_asg_tag) AS k_asg_tag,
         BOOL_AND(c_asg_tag_2) AS k_asg_tag_2,
         BOOL_AND(c_interface_type) AS k_interface_type,
         BOOL_AND(c_next_hop_interface_id) AS k_next_hop_interface_id,
         BOOL_AND(c_next_hop_subnet_id) AS k_next_hop_subnet_id,
         BOOL_AND(c_next_hop_az_id) AS k_next_hop_az_id,
         BOOL_AND(c_next_hop_vpc_id) AS k_next_hop_vpc_id,
         BOOL_AND(c_next_hop_interface_type) AS k_next_hop_interface_type,
         BOOL_AND(c_resource_type) AS k_resource_type,
         BOOL_AND(c_tgw_id) AS k_tgw_id,
         BOOL_AND(c_tgw_attachment_id) AS k_tgw_attachment_id,
         BOOL_AND(c_tgw_src_vpc_account_id) AS k_tgw_src_vpc_account_id,
         BOOL_AND(c_tgw_dst_vpc_account_id) AS k_tgw_dst_vpc_account_id,
         BOOL_AND(c_tgw_src_vpc_id) AS k_tgw_src_vpc_id,
         BOOL_AND(c_tgw_dst_vpc_id) AS k_tgw_dst_vpc_id,
         BOOL_AND(c_tgw_src_subnet_id) AS k_tgw_src_subnet_id,
         BOOL_AND(c_tgw_dst_subnet_id) AS k_tgw_dst_subnet_id,
         BOOL_AND(c_tgw_src_eni) AS k_tgw_src_eni,
         BOOL_AND(c_tgw_dst_eni) AS k_tgw_dst_eni,
         BOOL_AND(c_tgw_src_az_id) AS k_tgw_src_az_id,
         BOOL_AND(c_tgw_dst_az_id) AS k_tgw_dst_az_id,
         BOOL_AND(c_tgw_pair_attachment_id) AS k_tgw_pair_attachment_id,
         BOOL_AND(c_packets_lost_no_route) AS k_packets_lost_no_route,
         BOOL_AND(c_packets_lost_blackhole) AS k_packets_lost_blackhole,
         BOOL_AND(c_packets_lost_mtu_exceeded) AS k_packets_lost_mtu_exceeded,
         BOOL_AND(c_packets_lost_ttl_expired) AS k_packets_lost_ttl_expired,
         BOOL_AND(c_direction) AS k_direction
FROM multi_logged_carried
GROUP BY interface_id;

CREATE OR REPLACE TEMPORARY VIEW multi_logged_richness AS
SELECT log, MAX(CAST(c_account_id AS INT) +
             CAST(c_interface_id AS INT) +
             CAST(c_srcaddr AS INT) +
             CAST(c_dstaddr AS INT) +
             CAST(c_srcport AS INT) +
             CAST(c_dstport AS INT) +
             CAST(c_protocol AS INT) +
             CAST(c_packets AS INT) +
             CAST(c_bytes AS INT) +
             CAST(c_start AS INT) +
             CAST(c_end AS INT) +
             CAST(c_action AS INT) +
             CAST(c_log_status AS INT) +
             CAST(c_vpc_id AS INT) +
             CAST(c_subnet_id AS INT) +
             CAST(c_instance_id AS INT) +
             CAST(c_tcp_flags AS INT) +
             CAST(c_type AS INT) +
             CAST(c_pkt_srcaddr AS INT) +
             CAST(c_pkt_dstaddr AS INT) +
             CAST(c_region AS INT) +
             CAST(c_az_id AS INT) +
             CAST(c_sublocation_type AS INT) +
             CAST(c_sublocation_id AS INT) +
             CAST(c_pkt_src_aws_service AS INT) +
             CAST(c_pkt_dst_aws_service AS INT) +
             CAST(c_traffic_path AS INT) +
             CAST(c_ecs_cluster_arn AS INT) +
             CAST(c_ecs_cluster_name AS INT) +
             CAST(c_ecs_container_instance_arn AS INT) +
             CAST(c_ecs_container_instance_id AS INT) +
             CAST(c_ecs_container_id AS INT) +
             CAST(c_ecs_second_container_id AS INT) +
             CAST(c_ecs_service_name AS INT) +
             CAST(c_ecs_task_definition_arn AS INT) +
             CAST(c_ecs_task_arn AS INT) +
             CAST(c_ecs_task_id AS INT) +
             CAST(c_reject_reason AS INT) +
             CAST(c_resource_id AS INT) +
             CAST(c_encryption_status AS INT) +
             CAST(c_instance_tag AS INT) +
             CAST(c_instance_tag_2 AS INT) +
             CAST(c_interface_tag AS INT) +
             CAST(c_interface_tag_2 AS INT) +
             CAST(c_asg_tag AS INT) +
             CAST(c_asg_tag_2 AS INT) +
             CAST(c_interface_type AS INT) +
             CAST(c_next_hop_interface_id AS INT) +
             CAST(c_next_hop_subnet_id AS INT) +
             CAST(c_next_hop_az_id AS INT) +
             CAST(c_next_hop_vpc_id AS INT) +
             CAST(c_next_hop_interface_type AS INT) +
             CAST(c_resource_type AS INT) +
             CAST(c_tgw_id AS INT) +
             CAST(c_tgw_attachment_id AS INT) +
             CAST(c_tgw_src_vpc_account_id AS INT) +
             CAST(c_tgw_dst_vpc_account_id AS INT) +
             CAST(c_tgw_src_vpc_id AS INT) +
             CAST(c_tgw_dst_vpc_id AS INT) +
             CAST(c_tgw_src_subnet_id AS INT) +
             CAST(c_tgw_dst_subnet_id AS INT) +
             CAST(c_tgw_src_eni AS INT) +
             CAST(c_tgw_dst_eni AS INT) +
             CAST(c_tgw_src_az_id AS INT) +
             CAST(c_tgw_dst_az_id AS INT) +
             CAST(c_tgw_pair_attachment_id AS INT) +
             CAST(c_packets_lost_no_route AS INT) +
             CAST(c_packets_lost_blackhole AS INT) +
             CAST(c_packets_lost_mtu_exceeded AS INT) +
             CAST(c_packets_lost_ttl_expired AS INT) +
             CAST(c_direction AS INT)) AS rich
FROM multi_logged_carried
GROUP BY log;

CREATE OR REPLACE TEMPORARY VIEW flows_unique AS
SELECT * FROM flows_enriched
WHERE interface_id IS NULL
   OR interface_id NOT IN (SELECT interface_id FROM multi_logged_enis)
UNION ALL
SELECT r.rec.* FROM (
  SELECT rec, RANK() OVER (PARTITION BY grp ORDER BY n DESC, rich DESC, flow_log_id ASC NULLS LAST) AS rnk
  FROM (
    SELECT rec, grp, rich, flow_log_id, COUNT(*) OVER (PARTITION BY grp, flow_log_id) AS n
    FROM (
      SELECT struct(f.*) AS rec,
             f.flow_log_id,
             COALESCE(w.rich, 0) AS rich,
             struct(
           f.interface_id,
           IF(k.k_account_id, f.`account_id`, NULL),
           IF(k.k_interface_id, f.`interface_id`, NULL),
           IF(k.k_srcaddr, f.`srcaddr`, NULL),
           IF(k.k_dstaddr, f.`dstaddr`, NULL),
           IF(k.k_srcport, f.`srcport`, NULL),
           IF(k.k_dstport, f.`dstport`, NULL),
           IF(k.k_protocol, f.`protocol`, NULL),
           IF(k.k_packets, f.`packets`, NULL),
           IF(k.k_bytes, f.`bytes`, NULL),
           IF(k.k_start, f.`start`, NULL),
           IF(k.k_end, f.`end`, NULL),
           IF(k.k_action, f.`action`, NULL),
           IF(k.k_log_status, f.`log_status`, NULL),
           IF(k.k_vpc_id, f.`vpc_id`, NULL),
           IF(k.k_subnet_id, f.`subnet_id`, NULL),
           IF(k.k_instance_id, f.`instance_id`, NULL),
           IF(k.k_tcp_flags, f.`tcp_flags`, NULL),
           IF(k.k_type, f.`type`, NULL),
           IF(k.k_pkt_srcaddr, f.`pkt_srcaddr`, NULL),
           IF(k.k_pkt_dstaddr, f.`pkt_dstaddr`, NULL),
           IF(k.k_region, f.`region`, NULL),
           IF(k.k_az_id, f.`az_id`, NULL),
           IF(k.k_sublocation_type, f.`sublocation_type`, NULL),
           IF(k.k_sublocation_id, f.`sublocation_id`, NULL),
           IF(k.k_pkt_src_aws_service, f.`pkt_src_aws_service`, NULL),
           IF(k.k_pkt_dst_aws_service, f.`pkt_dst_aws_service`, NULL),
           IF(k.k_traffic_path, f.`traffic_path`, NULL),
           IF(k.k_ecs_cluster_arn, f.`ecs_cluster_arn`, NULL),
           IF(k.k_ecs_cluster_name, f.`ecs_cluster_name`, NULL),
           IF(k.k_ecs_container_instance_arn, f.`ecs_container_instance_arn`, NULL),
           IF(k.k_ecs_container_instance_id, f.`ecs_container_instance_id`, NULL),
           IF(k.k_ecs_container_id, f.`ecs_container_id`, NULL),
           IF(k.k_ecs_second_container_id, f.`ecs_second_container_id`, NULL),
           IF(k.k_ecs_service_name, f.`ecs_service_name`, NULL),
           IF(k.k_ecs_task_definition_arn, f.`ecs_task_definition_arn`, NULL),
           IF(k.k_ecs_task_arn, f.`ecs_task_arn`, NULL),
           IF(k.k_ecs_task_id, f.`ecs_task_id`, NULL),
           IF(k.k_reject_reason, f.`reject_reason`, NULL),
           IF(k.k_resource_id, f.`resource_id`, NULL),
           IF(k.k_encryption_status, f.`encryption_status`, NULL),
           IF(k.k_instance_tag, f.`instance_tag`, NULL),
           IF(k.k_instance_tag_2, f.`instance_tag_2`, NULL),
           IF(k.k_interface_tag, f.`interface_tag`, NULL),
           IF(k.k_interface_tag_2, f.`interface_tag_2`, NULL),
           IF(k.k_asg_tag, f.`asg_tag`, NULL),
           IF(k.k_asg_tag_2, f.`asg_tag_2`, NULL),
           IF(k.k_interface_type, f.`interface_type`, NULL),
           IF(k.k_next_hop_interface_id, f.`next_hop_interface_id`, NULL),
           IF(k.k_next_hop_subnet_id, f.`next_hop_subnet_id`, NULL),
           IF(k.k_next_hop_az_id, f.`next_hop_az_id`, NULL),
           IF(k.k_next_hop_vpc_id, f.`next_hop_vpc_id`, NULL),
           IF(k.k_next_hop_interface_type, f.`next_hop_interface_type`, NULL),
           IF(k.k_resource_type, f.`resource_type`, NULL),
           IF(k.k_tgw_id, f.`tgw_id`, NULL),
           IF(k.k_tgw_attachment_id, f.`tgw_attachment_id`, NULL),
           IF(k.k_tgw_src_vpc_account_id, f.`tgw_src_vpc_account_id`, NULL),
           IF(k.k_tgw_dst_vpc_account_id, f.`tgw_dst_vpc_account_id`, NULL),
           IF(k.k_tgw_src_vpc_id, f.`tgw_src_vpc_id`, NULL),
           IF(k.k_tgw_dst_vpc_id, f.`tgw_dst_vpc_id`, NULL),
           IF(k.k_tgw_src_subnet_id, f.`tgw_src_subnet_id`, NULL),
           IF(k.k_tgw_dst_subnet_id, f.`tgw_dst_subnet_id`, NULL),
           IF(k.k_tgw_src_eni, f.`tgw_src_eni`, NULL),
           IF(k.k_tgw_dst_eni, f.`tgw_dst_eni`, NULL),
           IF(k.k_tgw_src_az_id, f.`tgw_src_az_id`, NULL),
           IF(k.k_tgw_dst_az_id, f.`tgw_dst_az_id`, NULL),
           IF(k.k_tgw_pair_attachment_id, f.`tgw_pair_attachment_id`, NULL),
           IF(k.k_packets_lost_no_route, f.`packets_lost_no_route`, NULL),
           IF(k.k_packets_lost_blackhole, f.`packets_lost_blackhole`, NULL),
           IF(k.k_packets_lost_mtu_exceeded, f.`packets_lost_mtu_exceeded`, NULL),
           IF(k.k_packets_lost_ttl_expired, f.`packets_lost_ttl_expired`, NULL),
           IF(k.k_direction, f.`direction`, NULL)) AS grp
      FROM flows_enriched f
      JOIN multi_logged_keys k ON k.interface_id = f.interface_id
      LEFT JOIN multi_logged_richness w ON w.log = COALESCE(f.flow_log_id, '')
    )
  )
) r
WHERE r.rnk = 1;
