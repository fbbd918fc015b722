//! The flow-log field catalogue: every field of VPC flow-log versions 2 to 11 and of
//! Transit Gateway flow logs, with the column name and type AWS's Parquet delivery uses.

/// The value type a field is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// 32-bit signed integer (AWS Parquet `INT_32`).
    Int32,
    /// 64-bit signed integer (AWS Parquet `INT_64`).
    Int64,
    /// UTF-8 string.
    Utf8,
}

/// One known flow-log field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// The name as AWS writes it in a format string and an S3 header (`log-status`).
    pub name: &'static str,
    /// The column name of AWS's Parquet delivery: hyphens become underscores (`log_status`).
    pub column: &'static str,
    /// The flow-log version that introduced the field; 6 marks Transit Gateway fields.
    pub version: u8,
    /// How the value is typed.
    pub kind: FieldKind,
}

const fn f(name: &'static str, column: &'static str, version: u8, kind: FieldKind) -> FieldDef {
    FieldDef {
        name,
        column,
        version,
        kind,
    }
}

use FieldKind::{Int32, Int64, Utf8};

/// Every known field, in canonical column order.
pub const FIELDS: &[FieldDef] = &[
    // version 2: the default format, in its order
    f("version", "version", 2, Int32),
    f("account-id", "account_id", 2, Utf8),
    f("interface-id", "interface_id", 2, Utf8),
    f("srcaddr", "srcaddr", 2, Utf8),
    f("dstaddr", "dstaddr", 2, Utf8),
    f("srcport", "srcport", 2, Int32),
    f("dstport", "dstport", 2, Int32),
    f("protocol", "protocol", 2, Int32),
    f("packets", "packets", 2, Int64),
    f("bytes", "bytes", 2, Int64),
    f("start", "start", 2, Int64),
    f("end", "end", 2, Int64),
    f("action", "action", 2, Utf8),
    f("log-status", "log_status", 2, Utf8),
    // version 3
    f("vpc-id", "vpc_id", 3, Utf8),
    f("subnet-id", "subnet_id", 3, Utf8),
    f("instance-id", "instance_id", 3, Utf8),
    f("tcp-flags", "tcp_flags", 3, Int32),
    f("type", "type", 3, Utf8),
    f("pkt-srcaddr", "pkt_srcaddr", 3, Utf8),
    f("pkt-dstaddr", "pkt_dstaddr", 3, Utf8),
    // version 4
    f("region", "region", 4, Utf8),
    f("az-id", "az_id", 4, Utf8),
    f("sublocation-type", "sublocation_type", 4, Utf8),
    f("sublocation-id", "sublocation_id", 4, Utf8),
    // version 5
    f("pkt-src-aws-service", "pkt_src_aws_service", 5, Utf8),
    f("pkt-dst-aws-service", "pkt_dst_aws_service", 5, Utf8),
    f("flow-direction", "flow_direction", 5, Utf8),
    f("traffic-path", "traffic_path", 5, Int32),
    // version 7
    f("ecs-cluster-arn", "ecs_cluster_arn", 7, Utf8),
    f("ecs-cluster-name", "ecs_cluster_name", 7, Utf8),
    f(
        "ecs-container-instance-arn",
        "ecs_container_instance_arn",
        7,
        Utf8,
    ),
    f(
        "ecs-container-instance-id",
        "ecs_container_instance_id",
        7,
        Utf8,
    ),
    f("ecs-container-id", "ecs_container_id", 7, Utf8),
    f(
        "ecs-second-container-id",
        "ecs_second_container_id",
        7,
        Utf8,
    ),
    f("ecs-service-name", "ecs_service_name", 7, Utf8),
    f(
        "ecs-task-definition-arn",
        "ecs_task_definition_arn",
        7,
        Utf8,
    ),
    f("ecs-task-arn", "ecs_task_arn", 7, Utf8),
    f("ecs-task-id", "ecs_task_id", 7, Utf8),
    // versions 8, 9, 10
    f("reject-reason", "reject_reason", 8, Utf8),
    f("resource-id", "resource_id", 9, Utf8),
    f("encryption-status", "encryption_status", 10, Utf8),
    // version 11
    f("instance-tag", "instance_tag", 11, Utf8),
    f("instance-tag-2", "instance_tag_2", 11, Utf8),
    f("interface-tag", "interface_tag", 11, Utf8),
    f("interface-tag-2", "interface_tag_2", 11, Utf8),
    f("asg-tag", "asg_tag", 11, Utf8),
    f("asg-tag-2", "asg_tag_2", 11, Utf8),
    f("interface-type", "interface_type", 11, Utf8),
    f("next-hop-interface-id", "next_hop_interface_id", 11, Utf8),
    f("next-hop-subnet-id", "next_hop_subnet_id", 11, Utf8),
    f("next-hop-az-id", "next_hop_az_id", 11, Utf8),
    f("next-hop-vpc-id", "next_hop_vpc_id", 11, Utf8),
    f(
        "next-hop-interface-type",
        "next_hop_interface_type",
        11,
        Utf8,
    ),
    // Transit Gateway flow logs
    f("resource-type", "resource_type", 6, Utf8),
    f("tgw-id", "tgw_id", 6, Utf8),
    f("tgw-attachment-id", "tgw_attachment_id", 6, Utf8),
    f("tgw-src-vpc-account-id", "tgw_src_vpc_account_id", 6, Utf8),
    f("tgw-dst-vpc-account-id", "tgw_dst_vpc_account_id", 6, Utf8),
    f("tgw-src-vpc-id", "tgw_src_vpc_id", 6, Utf8),
    f("tgw-dst-vpc-id", "tgw_dst_vpc_id", 6, Utf8),
    f("tgw-src-subnet-id", "tgw_src_subnet_id", 6, Utf8),
    f("tgw-dst-subnet-id", "tgw_dst_subnet_id", 6, Utf8),
    f("tgw-src-eni", "tgw_src_eni", 6, Utf8),
    f("tgw-dst-eni", "tgw_dst_eni", 6, Utf8),
    f("tgw-src-az-id", "tgw_src_az_id", 6, Utf8),
    f("tgw-dst-az-id", "tgw_dst_az_id", 6, Utf8),
    f("tgw-pair-attachment-id", "tgw_pair_attachment_id", 6, Utf8),
    f("packets-lost-no-route", "packets_lost_no_route", 6, Int64),
    f("packets-lost-blackhole", "packets_lost_blackhole", 6, Int64),
    f(
        "packets-lost-mtu-exceeded",
        "packets_lost_mtu_exceeded",
        6,
        Int64,
    ),
    f(
        "packets-lost-ttl-expired",
        "packets_lost_ttl_expired",
        6,
        Int64,
    ),
];

/// Index of `start` in [`FIELDS`].
pub const START: usize = 10;
/// Index of `end` in [`FIELDS`].
pub const END: usize = 11;

/// The 14 fields of AWS's default (version 2) format, in order.
pub const DEFAULT_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} \
     ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// Finds a known field by its AWS name (`log-status`) or column name (`log_status`).
pub fn field_index(name: &str) -> Option<usize> {
    FIELDS
        .iter()
        .position(|d| d.name == name || d.column == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_columns_agree() {
        for d in FIELDS {
            assert_eq!(d.name.replace('-', "_"), d.column);
        }
        assert_eq!(FIELDS[START].name, "start");
        assert_eq!(FIELDS[END].name, "end");
    }

    #[test]
    fn field_counts_per_version_match_aws() {
        // "all fields up to version N": v2 = 14, v3 = 21, v4 = 25, v5 = 29, v7 = 39, v11 = 54
        let upto = |v: u8| {
            FIELDS
                .iter()
                .filter(|d| d.version <= v && d.version != 6)
                .count()
        };
        assert_eq!(upto(2), 14);
        assert_eq!(upto(3), 21);
        assert_eq!(upto(4), 25);
        assert_eq!(upto(5), 29);
        assert_eq!(upto(7), 39);
        assert_eq!(upto(8), 40);
        assert_eq!(upto(9), 41);
        assert_eq!(upto(10), 42);
        assert_eq!(upto(11), 54);
        assert_eq!(FIELDS.iter().filter(|d| d.version == 6).count(), 18);
    }

    #[test]
    fn lookup_accepts_both_spellings() {
        assert_eq!(field_index("log-status"), Some(13));
        assert_eq!(field_index("log_status"), Some(13));
        assert_eq!(field_index("nope"), None);
    }
}
