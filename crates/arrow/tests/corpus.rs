//! Conformance: every data line of ../shared/corpus (real lines from public projects' tests
//! and AWS's documentation) parses with the values its source asserts, and the malformed ones
//! are reported with their line numbers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;
use std::collections::BTreeMap;
use std::path::PathBuf;
use vpcflow_arrow::{DecodeEvent, FlowDecoderBuilder};
use vpcflow_format::Layout;

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        dir.is_dir(),
        "the conformance corpus is expected at {} (the shared/ folder beside the repository)",
        dir.display()
    );
    dir
}

/// A decoded file: rows by line number (column -> displayed value, "NULL" for null), and bad
/// lines with their errors.
struct Decoded {
    rows: BTreeMap<u64, BTreeMap<String, String>>,
    bad: Vec<(u64, String)>,
    unknown: Vec<String>,
}

impl Decoded {
    fn get(&self, line: u64, column: &str) -> &str {
        let row = self
            .rows
            .get(&line)
            .unwrap_or_else(|| panic!("line {line} did not decode"));
        row.get(column)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
}

fn decode(name: &str, format: Option<&str>, batch_size: usize) -> Decoded {
    let text = std::fs::read(corpus_dir().join(name)).unwrap();
    let layout = format.map_or_else(Layout::default_v2, |f| Layout::parse_format(f).unwrap());
    let mut d = FlowDecoderBuilder::new(layout)
        .with_batch_size(batch_size)
        .build_decoder(name.into(), None);
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut bad = Vec::new();
    let mut emit = |e: DecodeEvent<'_>| match e {
        DecodeEvent::Batch(_, b) => batches.push(b),
        DecodeEvent::BadLine { line, error, .. } => bad.push((line, error.to_string())),
    };
    d.decode(&text, true, &mut emit).unwrap();
    d.finish(&mut emit).unwrap();
    let unknown = d.unknown_fields().iter().cloned().collect();
    let mut rows = BTreeMap::new();
    for b in &batches {
        let lines = b.column_by_name("source_line").unwrap();
        for r in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let v = if col.is_null(r) {
                    "NULL".to_string()
                } else {
                    array_value_to_string(col, r).unwrap()
                };
                row.insert(f.name().clone(), v);
            }
            let line: u64 = array_value_to_string(lines, r).unwrap().parse().unwrap();
            rows.insert(line, row);
        }
    }
    Decoded { rows, bad, unknown }
}

/// Decodes at batch sizes 1 and 1000 and checks both agree.
fn check(name: &str, format: Option<&str>) -> Decoded {
    let a = decode(name, format, 1);
    let b = decode(name, format, 1000);
    assert_eq!(a.rows, b.rows, "{name}: batch size changed the result");
    assert_eq!(a.bad, b.bad);
    b
}

const V2: Option<&str> = None;

#[test]
fn vrl_default_v2() {
    let d = check("vrl-default-v2.log", V2);
    assert_eq!(d.rows.len(), 7);
    assert!(d.bad.is_empty());
    let expect = [
        ("version", "2"),
        ("account_id", "123456789010"),
        ("interface_id", "eni-1235b8ca123456789"),
        ("srcaddr", "172.31.16.139"),
        ("dstaddr", "172.31.16.21"),
        ("srcport", "20641"),
        ("dstport", "22"),
        ("protocol", "6"),
        ("packets", "20"),
        ("bytes", "4249"),
        ("start", "1418530010"),
        ("end", "1418530070"),
        ("action", "ACCEPT"),
        ("log_status", "OK"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(1, c), v, "column {c}");
    }
    // NODATA: every `-` is null.
    for c in [
        "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "action",
    ] {
        assert_eq!(d.get(3, c), "NULL", "column {c}");
    }
    assert_eq!(d.get(3, "start"), "1431280876");
    assert_eq!(d.get(3, "end"), "1431280934");
    assert_eq!(d.get(3, "log_status"), "NODATA");
    assert_eq!(d.get(4, "log_status"), "SKIPDATA");
    assert_eq!(d.get(2, "action"), "REJECT");
    assert_eq!(d.get(5, "protocol"), "1");
    assert_eq!(d.get(5, "srcport"), "0");
    assert_eq!(
        d.get(7, "srcaddr"),
        "2001:db8:1234:a100:8d6e:3477:df66:f105"
    );
}

#[test]
fn aws_docs_default_is_the_same_as_vrl() {
    let a = check("aws-docs-examples-default-v2.log", V2);
    let b = check("vrl-default-v2.log", V2);
    let strip = |d: &Decoded| {
        d.rows
            .values()
            .map(|r| {
                let mut r = r.clone();
                r.remove("source");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn vrl_custom_v3_order_a_bytes_before_packets() {
    let fmt = "version vpc_id subnet_id instance_id interface_id account_id type srcaddr dstaddr srcport dstport pkt_srcaddr pkt_dstaddr protocol bytes packets start end action tcp_flags log_status";
    let d = check("vrl-custom-v3-order-a.log", Some(fmt));
    assert_eq!(d.rows.len(), 8);
    assert!(d.bad.is_empty(), "{:?}", d.bad);
    let expect = [
        ("version", "3"),
        ("vpc_id", "vpc-abcdefab012345678"),
        ("subnet_id", "subnet-aaaaaaaa012345678"),
        ("instance_id", "i-01234567890123456"),
        ("type", "IPv4"),
        ("srcaddr", "52.213.180.42"),
        ("dstaddr", "10.0.0.62"),
        ("srcport", "43416"),
        ("dstport", "5001"),
        ("pkt_srcaddr", "52.213.180.42"),
        ("pkt_dstaddr", "10.0.0.62"),
        ("protocol", "6"),
        ("bytes", "568"),
        ("packets", "8"),
        ("start", "1566848875"),
        ("end", "1566848933"),
        ("action", "ACCEPT"),
        ("tcp_flags", "2"),
        ("log_status", "OK"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(1, c), v, "column {c}");
    }
}

#[test]
fn vrl_nat_custom_without_version() {
    let d = check(
        "vrl-custom-pkt-addrs-nat.log",
        Some("instance_id interface_id srcaddr dstaddr pkt_srcaddr pkt_dstaddr"),
    );
    assert_eq!(d.rows.len(), 6);
    for line in 1..=4 {
        assert_eq!(d.get(line, "instance_id"), "NULL");
    }
    assert_eq!(d.get(5, "instance_id"), "i-01234567890123456");
    assert_eq!(d.get(1, "version"), "NULL");
    assert_eq!(d.get(1, "pkt_dstaddr"), "203.0.113.5");
}

#[test]
fn vrl_custom_v3_order_b_transit_gateway_example() {
    let fmt = "version interface_id account_id vpc_id subnet_id instance_id srcaddr dstaddr srcport dstport protocol tcp_flags type pkt_srcaddr pkt_dstaddr action log_status";
    let d = check("vrl-custom-v3-order-b.log", Some(fmt));
    assert_eq!(d.rows.len(), 4);
    assert_eq!(d.get(3, "instance_id"), "NULL");
    assert_eq!(d.get(3, "srcaddr"), "10.40.1.175");
    assert_eq!(d.get(3, "pkt_srcaddr"), "10.20.33.164");
    assert_eq!(d.get(4, "dstaddr"), "10.40.2.31");
    assert_eq!(d.get(4, "pkt_dstaddr"), "10.20.33.164");
}

#[test]
fn vrl_custom_v5_all_fields() {
    let fmt = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account_id vpc_id subnet_id instance_id interface_id region az_id sublocation_type sublocation_id action tcp_flags pkt_srcaddr pkt_dstaddr pkt_src_aws_service pkt_dst_aws_service traffic_path flow_direction log_status";
    let d = check("vrl-custom-v5-all-fields.log", Some(fmt));
    assert_eq!(d.rows.len(), 2);
    let expect = [
        ("account_id", "123456789012"),
        ("az_id", "apse2-az3"),
        ("bytes", "15044"),
        ("packets", "14"),
        ("region", "ap-southeast-2"),
        ("pkt_src_aws_service", "S3"),
        ("pkt_dst_aws_service", "NULL"),
        ("traffic_path", "NULL"),
        ("flow_direction", "ingress"),
        ("tcp_flags", "19"),
        ("type", "IPv4"),
        ("version", "5"),
        ("instance_id", "i-0c50d5961bcb2d47b"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(1, c), v, "column {c}");
    }
    assert_eq!(d.get(2, "pkt_dst_aws_service"), "S3");
    assert_eq!(d.get(2, "traffic_path"), "8");
    assert_eq!(d.get(2, "flow_direction"), "egress");
}

#[test]
fn vrl_custom_v7_ecs() {
    let fmt = "version srcaddr dstaddr srcport dstport protocol start end action log_status ecs_cluster_arn ecs_cluster_name ecs_container_instance_arn ecs_container_instance_id ecs_container_id ecs_second_container_id ecs_service_name ecs_task_definition_arn ecs_task_arn ecs_task_id";
    let d = check("vrl-custom-v7-ecs.log", Some(fmt));
    assert_eq!(d.rows.len(), 1);
    assert_eq!(d.get(1, "version"), "7");
    assert_eq!(d.get(1, "ecs_cluster_name"), "my-cluster");
    assert_eq!(d.get(1, "ecs_second_container_id"), "NULL");
    assert_eq!(d.get(1, "ecs_service_name"), "my-service");
    assert_eq!(d.get(1, "ecs_task_id"), "abcd1234");
}

#[test]
fn vrl_custom_v8_to_v11() {
    let fmt = "version srcaddr dstaddr srcport dstport protocol start end action log_status reject_reason resource_id encryption_status instance_tag instance_tag_2 interface_tag interface_tag_2 asg_tag asg_tag_2 interface_type next_hop_interface_id next_hop_subnet_id next_hop_az_id next_hop_vpc_id next_hop_interface_type";
    let d = check("vrl-custom-v8-v11-fields.log", Some(fmt));
    assert_eq!(d.rows.len(), 2);
    let expect = [
        ("version", "11"),
        ("reject_reason", "BPA"),
        ("resource_id", "nat-0c50d5961bcb2d47b"),
        ("encryption_status", "1"),
        ("interface_type", "nat_gateway"),
        ("next_hop_az_id", "apse2-az3"),
        ("next_hop_interface_type", "network_load_balancer"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(1, c), v, "column {c}");
    }
    assert_eq!(d.get(2, "next_hop_az_id"), "NULL");
    assert_eq!(d.get(2, "action"), "ACCEPT");
}

#[test]
fn flowlogs_reader_v2_and_milliseconds() {
    let d = check("flowlogs-reader-v2-default.log", V2);
    assert_eq!(d.rows.len(), 6);
    assert_eq!(d.get(1, "account_id"), "123456789010");
    assert_eq!(d.get(1, "srcaddr"), "198.51.100.1");
    assert_eq!(d.get(1, "srcport"), "443");
    assert_eq!(d.get(1, "dstport"), "49152");
    assert_eq!(d.get(1, "packets"), "10");
    assert_eq!(d.get(1, "bytes"), "840");
    assert_eq!(d.get(1, "start"), "1439387263"); // 2015-08-12 13:47:43
    assert_eq!(d.get(1, "end"), "1439387264");
    assert_eq!(d.get(3, "action"), "REJECT");
    assert_eq!(d.get(3, "interface_id"), "eni-102010cd");
    assert_eq!(d.get(3, "end"), "1439387266");
    // milliseconds normalised: 2017-12-06 12:40:58 / 12:40:59
    assert_eq!(d.get(6, "start"), "1512564058");
    assert_eq!(d.get(6, "end"), "1512564059");
}

#[test]
fn flowlogs_reader_v3_alphabetical_header() {
    let d = check("flowlogs-reader-v3-s3-header.log", V2);
    assert_eq!(d.rows.len(), 2);
    assert!(d.bad.is_empty());
    let expect = [
        ("version", "3"),
        ("account_id", "000000000000"),
        ("srcaddr", "172.18.160.68"),
        ("srcport", "443"),
        ("dstaddr", "172.18.160.93"),
        ("dstport", "47460"),
        ("pkt_srcaddr", "192.168.0.1"),
        ("pkt_dstaddr", "172.18.160.93"),
        ("packets", "10"),
        ("bytes", "6392"),
        ("start", "1568300367"), // 2019-09-12 14:59:27
        ("end", "1568300425"),
        ("vpc_id", "vpc-0461a061"),
        ("subnet_id", "subnet-089e7569"),
        ("instance_id", "i-06f9249b"),
        ("tcp_flags", "19"),
        ("type", "IPv4"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(2, c), v, "column {c}");
    }
    assert_eq!(d.get(3, "srcport"), "8088");
    assert_eq!(d.get(3, "bytes"), "1698");
    assert_eq!(d.get(3, "tcp_flags"), "3");
    assert_eq!(d.get(3, "pkt_srcaddr"), "172.18.160.9");
    assert_eq!(d.get(3, "pkt_dstaddr"), "192.168.0.1");
}

#[test]
fn flowlogs_reader_v4_sublocations() {
    let d = check("flowlogs-reader-v4-s3-header.log", V2);
    assert_eq!(d.rows.len(), 2);
    assert_eq!(d.get(2, "version"), "4");
    assert_eq!(d.get(2, "region"), "us-east-1");
    assert_eq!(d.get(2, "az_id"), "use1-az4");
    assert_eq!(d.get(2, "sublocation_type"), "wavelength");
    assert_eq!(d.get(2, "sublocation_id"), "wlid04");
    assert_eq!(d.get(3, "sublocation_type"), "outpost");
    assert_eq!(d.get(3, "sublocation_id"), "outpostid04");
}

#[test]
fn flowlogs_reader_v5_and_its_bogus_line() {
    let d = check("flowlogs-reader-v5-s3-header.log", V2);
    assert_eq!(d.rows.len(), 2);
    assert_eq!(d.bad, [(4, "expected 29 fields, found 2".to_string())]);
    let expect = [
        ("account_id", "999999999999"),
        ("action", "ACCEPT"),
        ("az_id", "use2-az2"),
        ("bytes", "4895"),
        ("srcaddr", "198.51.100.7"),
        ("srcport", "443"),
        ("dstaddr", "192.0.2.156"),
        ("dstport", "50318"),
        ("pkt_srcaddr", "198.51.100.6"),
        ("pkt_src_aws_service", "S3"),
        ("flow_direction", "ingress"),
        ("packets", "15"),
        ("tcp_flags", "19"),
        ("traffic_path", "NULL"),
        ("start", "1614866493"), // 2021-03-04 14:01:33
        ("end", "1614866511"),
        ("vpc_id", "vpc-04456ab739938ee3f"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(2, c), v, "column {c}");
    }
    assert_eq!(d.get(3, "flow_direction"), "egress");
    assert_eq!(d.get(3, "pkt_dst_aws_service"), "S3");
    assert_eq!(d.get(3, "bytes"), "3015");
    assert_eq!(d.get(3, "packets"), "16");
    assert_eq!(d.get(3, "tcp_flags"), "7");
    assert_eq!(d.get(3, "traffic_path"), "7");
}

#[test]
fn flowlogs_reader_v6_transit_gateway() {
    let d = check("flowlogs-reader-v6-tgw-s3-header.log", V2);
    assert_eq!(d.rows.len(), 1);
    assert!(d.unknown.is_empty());
    let expect = [
        ("resource_type", "TransitGateway"),
        ("tgw_id", "00000000"),
        ("tgw_attachment_id", "00000001"),
        ("tgw_src_vpc_account_id", "00000002"),
        ("tgw_pair_attachment_id", "00000012"),
        ("packets_lost_no_route", "13"),
        ("packets_lost_blackhole", "14"),
        ("packets_lost_mtu_exceeded", "15"),
        ("packets_lost_ttl_expired", "16"),
    ];
    for (c, v) in expect {
        assert_eq!(d.get(2, c), v, "column {c}");
    }
}

#[test]
fn splunk_cloudwatch_sample_totals() {
    let d = check("splunk-cloudfwd-cloudwatchlogs-vpcflowlog-v2.log", V2);
    assert_eq!(d.rows.len(), 360);
    assert!(d.bad.is_empty());
    let count = |c: &str, v: &str| d.rows.values().filter(|r| r[c] == v).count();
    assert_eq!(count("action", "ACCEPT"), 350);
    assert_eq!(count("action", "REJECT"), 10);
    assert_eq!(count("interface_id", "eni-63c18886"), 346);
    assert_eq!(count("interface_id", "eni-b1578161"), 14);
    assert_eq!(count("protocol", "6"), 348);
    assert_eq!(count("protocol", "17"), 12);
    let sum = |c: &str| -> i64 { d.rows.values().map(|r| r[c].parse::<i64>().unwrap()).sum() };
    assert_eq!(sum("packets"), 2797);
    assert_eq!(sum("bytes"), 600636);
    let min_start = d
        .rows
        .values()
        .map(|r| r["start"].parse::<i64>().unwrap())
        .min();
    let max_end = d
        .rows
        .values()
        .map(|r| r["end"].parse::<i64>().unwrap())
        .max();
    assert!(min_start.unwrap() >= 1506905612);
    assert!(max_end.unwrap() <= 1506906212);
}

#[test]
fn splunk_samples_without_final_newline() {
    let d = check("splunk-cloudfwd-vpc-flow-log-sample-v2.log", V2);
    assert_eq!((d.rows.len(), d.bad.len()), (10, 0));
    assert_eq!(d.get(1, "account_id"), "063605715280");
    assert_eq!(d.get(10, "dstaddr"), "10.95.0.50");
    let d = check("splunk-cloudfwd-kinesis-example-vpcflowlogs-v2.log", V2);
    assert_eq!((d.rows.len(), d.bad.len()), (8, 0));
    assert_eq!(d.get(8, "srcaddr"), "172.31.16.139");
}

#[test]
fn aws_docs_tcp_flag_sequence_with_double_space() {
    let d = check("aws-docs-examples-tcp-flag-sequence-v3.log", V2);
    assert_eq!(d.rows.len(), 8);
    assert!(d.bad.is_empty());
    let flags: Vec<&str> = (2..=9).map(|l| d.get(l, "tcp_flags")).collect();
    assert_eq!(flags, ["2", "18", "2", "18", "1", "1", "3", "19"]);
    assert_eq!(d.get(9, "dstport"), "43638");
    assert_eq!(d.get(9, "pkt_srcaddr"), "10.0.0.62");
    assert_eq!(d.get(6, "bytes"), "63388");
    assert_eq!(d.get(6, "packets"), "1219");
}

#[test]
fn aws_docs_nat_gateway_comment_lines_are_rejected() {
    let d = check("aws-docs-examples-nat-gateway-custom.log", V2);
    assert_eq!(d.rows.len(), 4);
    assert_eq!(
        d.bad,
        [
            (6, "expected 6 fields, found 16".to_string()),
            (7, "expected 6 fields, found 17".to_string())
        ]
    );
    assert_eq!(d.get(2, "instance_id"), "NULL");
    assert_eq!(d.get(2, "dstaddr"), "10.0.0.220");
    assert_eq!(d.get(2, "pkt_dstaddr"), "203.0.113.5");
}

#[test]
fn aws_docs_transit_gateway_and_traffic_path() {
    let d = check("aws-docs-examples-transit-gateway-v3.log", V2);
    assert_eq!((d.rows.len(), d.bad.len()), (4, 0));
    assert_eq!(d.get(4, "interface_id"), "eni-11111111111111111");
    assert_eq!(d.get(4, "instance_id"), "NULL");
    let d = check("aws-docs-examples-traffic-path-v5.log", V2);
    assert_eq!((d.rows.len(), d.bad.len()), (2, 0));
    assert_eq!(d.get(2, "flow_direction"), "ingress");
    assert_eq!(d.get(2, "traffic_path"), "NULL");
    assert_eq!(d.get(3, "traffic_path"), "8");
    assert_eq!(d.get(3, "pkt_dst_aws_service"), "S3");
}

#[test]
fn every_corpus_text_file_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    let this = include_str!("corpus.rs");
    for n in names {
        assert!(
            this.contains(&format!("\"{n}\"")),
            "corpus file {n} has no test"
        );
    }
}
