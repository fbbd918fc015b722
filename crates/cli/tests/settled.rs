//! Known answers for the settled definitions (analytics §7): one small topology, worked out
//! by hand per rule. Every expected row below comes from the rules and the records written
//! here, not from running the reports.
//!
//! The topology ("the hard VPC"):
//!
//! ```text
//! vpc-a 10.0.0.0/16, 2600:1f18:a::/56
//!   subnet-a1 10.0.1.0/24 2600:1f18:a:1::/64 use1-az1
//!     eni-node1 10.0.1.10 (+ secondary 10.0.1.11, prefix 10.0.1.32/28, 2600:1f18:a:1::10,
//!               public 54.0.0.10)
//!     eni-web1  10.0.1.30 (Elastic IP 54.0.0.30)
//!     eni-nat1  10.0.1.100 nat_gateway (public 54.0.0.100)
//!   subnet-a2 10.0.2.0/24 2600:1f18:a:2::/64 use1-az2
//!     eni-app2 10.0.2.20 (+ 2600:1f18:a:2::20), eni-quiet2 10.0.2.98, eni-idle2 10.0.2.99,
//!     eni-rej2 10.0.2.97
//! vpc-b 10.0.0.0/16 (the same private space)
//!   subnet-b1 10.0.1.0/24 use1-az3
//!     eni-b1 10.0.1.10 (the same address as eni-node1), eni-natb 10.0.1.200 nat_gateway
//! ```

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use util::{Dir, ingest, query, report, stderr, vpcflow};

/// One GiB: the built-in price table's GB.
const G: u64 = 1 << 30;
/// 2025-12-01T00:00:00Z.
const T0: u64 = 1764547200;

const HEADER_V5: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id az-id flow-direction pkt-srcaddr pkt-dstaddr";
const HEADER_V11: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id az-id flow-direction pkt-srcaddr pkt-dstaddr next-hop-az-id next-hop-interface-type";

/// A v5 record: (ENI, VPC, AZ, direction, srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr, bytes).
#[allow(clippy::too_many_arguments)]
fn rec(
    eni: &str,
    vpc: &str,
    az: &str,
    dir: &str,
    src: &str,
    dst: &str,
    psrc: &str,
    pdst: &str,
    bytes: u64,
) -> String {
    format!(
        "5 123456789012 {eni} {src} {dst} 40000 443 6 10 {bytes} {T0} {} ACCEPT OK {vpc} {az} {dir} {psrc} {pdst}",
        T0 + 60
    )
}

/// The same record with `src`/`dst` as the packet-level addresses too.
fn rec_plain(
    eni: &str,
    vpc: &str,
    az: &str,
    dir: &str,
    src: &str,
    dst: &str,
    bytes: u64,
) -> String {
    rec(eni, vpc, az, dir, src, dst, src, dst, bytes)
}

/// A default-format (v2) record.
fn rec_v2(eni: &str, src: &str, dst: &str, bytes: u64, action: &str) -> String {
    format!(
        "2 123456789012 {eni} {src} {dst} 40000 443 6 10 {bytes} {T0} {} {action} OK",
        T0 + 60
    )
}

/// Writes a flow-log object of flow log `fl` in `region` under `dir/logs`, named as AWS
/// names them, with `header` (none: the default format) and `lines`.
fn object(dir: &Dir, region: &str, fl: &str, header: Option<&str>, lines: &[String]) {
    let mut text = String::new();
    if let Some(h) = header {
        text.push_str(h);
        text.push('\n');
    }
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    dir.write(
        &format!(
            "logs/AWSLogs/123456789012/vpcflowlogs/{region}/2025/12/01/123456789012_vpcflowlogs_{region}_{fl}_20251201T0000Z_0000.log"
        ),
        text,
    );
}

/// The inventory of the hard VPC, as `aws ec2 describe-*` prints it.
fn inventory(dir: &Dir) -> PathBuf {
    let subnet = |id: &str, vpc: &str, cidr: &str, v6: Option<&str>, az: &str| {
        json!({"SubnetId": id, "VpcId": vpc, "CidrBlock": cidr, "AvailabilityZoneId": az,
               "Ipv6CidrBlockAssociationSet": v6.map(|c| vec![json!({"Ipv6CidrBlock": c})]).unwrap_or_default()})
    };
    let eni = |id: &str, vpc: &str, subnet: &str, ip: &str, kind: &str| {
        json!({"NetworkInterfaceId": id, "VpcId": vpc, "SubnetId": subnet, "InterfaceType": kind,
               "PrivateIpAddress": ip, "PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": true}]})
    };
    let mut node1 = eni("eni-node1", "vpc-a", "subnet-a1", "10.0.1.10", "interface");
    node1["PrivateIpAddresses"] = json!([
        {"PrivateIpAddress": "10.0.1.10", "Primary": true},
        {"PrivateIpAddress": "10.0.1.11", "Primary": false}]);
    node1["Ipv4Prefixes"] = json!([{"Ipv4Prefix": "10.0.1.32/28"}]);
    node1["Ipv6Addresses"] = json!([{"Ipv6Address": "2600:1f18:a:1::10"}]);
    node1["Association"] = json!({"PublicIp": "54.0.0.10"});
    let mut web1 = eni("eni-web1", "vpc-a", "subnet-a1", "10.0.1.30", "interface");
    web1["PrivateIpAddresses"] = json!([{"PrivateIpAddress": "10.0.1.30", "Primary": true,
                                         "Association": {"PublicIp": "54.0.0.30"}}]);
    let mut nat1 = eni(
        "eni-nat1",
        "vpc-a",
        "subnet-a1",
        "10.0.1.100",
        "nat_gateway",
    );
    nat1["Association"] = json!({"PublicIp": "54.0.0.100"});
    let mut app2 = eni("eni-app2", "vpc-a", "subnet-a2", "10.0.2.20", "interface");
    app2["Ipv6Addresses"] = json!([{"Ipv6Address": "2600:1f18:a:2::20"}]);
    let enis = vec![
        node1,
        web1,
        nat1,
        app2,
        eni("eni-quiet2", "vpc-a", "subnet-a2", "10.0.2.98", "interface"),
        eni("eni-idle2", "vpc-a", "subnet-a2", "10.0.2.99", "interface"),
        eni("eni-rej2", "vpc-a", "subnet-a2", "10.0.2.97", "interface"),
        eni("eni-b1", "vpc-b", "subnet-b1", "10.0.1.10", "interface"),
        eni(
            "eni-natb",
            "vpc-b",
            "subnet-b1",
            "10.0.1.200",
            "nat_gateway",
        ),
    ];
    let subnets = vec![
        subnet(
            "subnet-a1",
            "vpc-a",
            "10.0.1.0/24",
            Some("2600:1f18:a:1::/64"),
            "use1-az1",
        ),
        subnet(
            "subnet-a2",
            "vpc-a",
            "10.0.2.0/24",
            Some("2600:1f18:a:2::/64"),
            "use1-az2",
        ),
        subnet("subnet-b1", "vpc-b", "10.0.1.0/24", None, "use1-az3"),
    ];
    let vpcs = json!({"Vpcs": [
        {"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16",
         "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a::/56"}]},
        {"VpcId": "vpc-b", "CidrBlock": "10.0.0.0/16"}]});
    let addresses = json!({"Addresses": [
        {"PublicIp": "54.0.0.30", "NetworkInterfaceId": "eni-web1"},
        {"PublicIp": "54.0.0.250"}]});
    dir.write(
        "inv/describe-subnets.json",
        json!({ "Subnets": subnets }).to_string(),
    );
    dir.write(
        "inv/describe-network-interfaces.json",
        json!({ "NetworkInterfaces": enis }).to_string(),
    );
    dir.write("inv/describe-vpcs.json", vpcs.to_string());
    dir.write("inv/describe-addresses.json", addresses.to_string());
    dir.join("inv")
}

/// Ingests `dir/logs` into `dir/flows`.
fn dataset(dir: &Dir) -> PathBuf {
    dataset_named(dir, "flows")
}

/// `dir/logs` ingested into the dataset `dir/NAME`.
fn dataset_named(dir: &Dir, name: &str) -> PathBuf {
    let out = dir.join(name);
    let (code, s, o) = ingest(&[
        dir.join("logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{s} {}", stderr(&o));
    out
}

fn with_inventory(inv: &Path) -> Vec<&str> {
    vec!["--inventory", inv.to_str().unwrap()]
}

/// The named columns of each row, in order.
fn pick(rows: &[Value], cols: &[&str]) -> Vec<Vec<Value>> {
    rows.iter()
        .map(|r| cols.iter().map(|c| r[*c].clone()).collect())
        .collect()
}

/// cross-az-cost as (src, dst, hop type, bytes, cost rounded to cents of a cent).
fn cross_az(data: &Path, extra: &[&str]) -> Vec<(String, String, String, u64, Option<f64>)> {
    report(data, "cross-az-cost", extra)
        .iter()
        .map(|r| {
            (
                r["src_az_id"].as_str().unwrap().to_string(),
                r["dst_az_id"].as_str().unwrap().to_string(),
                r["hop_type"].as_str().unwrap().to_string(),
                r["bytes"].as_u64().unwrap(),
                r["cost_usd"].as_f64().map(|c| (c * 1e6).round() / 1e6),
            )
        })
        .collect()
}

fn row(
    src: &str,
    dst: &str,
    hop: &str,
    bytes: u64,
    cost: Option<f64>,
) -> (String, String, String, u64, Option<f64>) {
    (src.into(), dst.into(), hop.into(), bytes, cost)
}

/// Rule 1: records of one ENI from several flow logs are one observation when every field
/// both carry is equal. A v2 and a v5 record of one flow count once; two NAT records that
/// differ only in pkt-dstaddr are two, also where a v2 flow log (which cannot tell them
/// apart) logs the same ENI.
#[test]
fn rule1_observations_across_flow_logs_of_different_formats() {
    let d = Dir::new();
    let inv = inventory(&d);
    let r = "us-east-1";
    object(
        &d,
        r,
        "fl-0v2",
        None,
        &[
            rec_v2("eni-app2", "10.0.2.20", "10.0.1.10", 1000, "ACCEPT"),
            rec_v2("eni-nat1", "10.0.2.20", "10.0.1.100", 500, "ACCEPT"),
            rec_v2("eni-nat1", "10.0.2.20", "10.0.1.100", 500, "ACCEPT"),
        ],
    );
    object(
        &d,
        r,
        "fl-1v5",
        Some(HEADER_V5),
        &[rec_plain(
            "eni-app2",
            "vpc-a",
            "use1-az2",
            "egress",
            "10.0.2.20",
            "10.0.1.10",
            1000,
        )],
    );
    let nat = [
        rec(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "ingress",
            "10.0.2.20",
            "10.0.1.100",
            "10.0.2.20",
            "93.184.216.34",
            500,
        ),
        rec(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "ingress",
            "10.0.2.20",
            "10.0.1.100",
            "10.0.2.20",
            "198.51.100.7",
            500,
        ),
    ];
    object(&d, r, "fl-2nat", Some(HEADER_V5), &nat);
    object(&d, r, "fl-3nat", Some(HEADER_V5), &nat);
    let data = dataset(&d);
    assert_eq!(util::query_i64(&data, "SELECT count(*) FROM flows"), 8);

    let traffic = report(&data, "interface-traffic", &with_inventory(&inv));
    assert_eq!(
        pick(
            &traffic,
            &["interface_id", "bytes_in", "bytes_out", "records"]
        ),
        [
            vec![json!("eni-app2"), json!(0), json!(1000), json!(1)],
            vec![json!("eni-nat1"), json!(1000), json!(0), json!(2)],
        ]
    );
    let nat = report(&data, "nat-gateway", &with_inventory(&inv));
    assert_eq!(
        pick(
            &nat,
            &[
                "nat_interface_id",
                "client_ip",
                "client_interface_id",
                "client_az_id",
                "bytes_sent",
                "bytes_received",
                "bytes_processed"
            ]
        ),
        [vec![
            json!("eni-nat1"),
            json!("10.0.2.20"),
            json!("eni-app2"),
            json!("use1-az2"),
            json!(1000),
            json!(0),
            json!(1000)
        ]]
    );
    // A filter on a field the v2 flow log does not carry cannot choose the groups: the v2
    // record of eni-app2's flow is the v5 record's twin and loses to it, so no record of
    // eni-app2 without pkt-dstaddr is left.
    assert_eq!(
        util::query_i64(
            &data,
            "SELECT count(*) FROM flows_unique \
             WHERE interface_id = 'eni-app2' AND pkt_dstaddr IS NULL"
        ),
        0
    );
    // Without an inventory the v2 records have no direction; the v5 copy of the flow is kept.
    let traffic = report(&data, "interface-traffic", &[]);
    let app2: Vec<_> = traffic
        .iter()
        .filter(|r| r["interface_id"] == "eni-app2")
        .collect();
    assert_eq!(
        (
            &app2[0]["bytes_out"],
            &app2[0]["bytes_unknown_direction"],
            &app2[0]["records"]
        ),
        (&json!(1000), &json!(0), &json!(1))
    );
}

/// Rule 1, the winner of a group: the flow log holding the most of its records, whatever
/// its ID; a group one flow log alone holds is kept; a field both flow logs carry that is
/// NULL in one record and set in the other tells two observations apart.
#[test]
fn rule1_a_group_keeps_the_flow_log_holding_most_of_it() {
    let d = Dir::new();
    let r = "us-east-1";
    let line = |dst: &str, pdst: &str, bytes: u64| {
        rec(
            "eni-app2",
            "vpc-a",
            "use1-az2",
            "egress",
            "10.0.2.20",
            dst,
            "10.0.2.20",
            pdst,
            bytes,
        )
    };
    // R: once in fl-1a, twice in fl-2b. S: in fl-1a only. U: pkt-dstaddr NULL in fl-1a,
    // set in fl-2b.
    let r_rec = line("10.0.1.10", "10.0.1.10", 100);
    object(
        &d,
        r,
        "fl-1a",
        Some(HEADER_V5),
        &[
            r_rec.clone(),
            line("10.0.1.30", "10.0.1.30", 200),
            line("10.0.1.31", "-", 400),
        ],
    );
    object(
        &d,
        r,
        "fl-2b",
        Some(HEADER_V5),
        &[r_rec.clone(), r_rec, line("10.0.1.31", "10.0.1.31", 400)],
    );
    let data = dataset(&d);
    assert_eq!(util::query_i64(&data, "SELECT count(*) FROM flows"), 6);
    // Kept: R twice (fl-2b), S, U from both: 5 records, 100+100+200+400+400 bytes out.
    assert_eq!(
        util::query_i64(&data, "SELECT count(*) FROM flows_unique"),
        5
    );
    let traffic = report(&data, "interface-traffic", &[]);
    assert_eq!(
        pick(&traffic, &["interface_id", "bytes_out", "records"]),
        [vec![json!("eni-app2"), json!(1200), json!(5)]]
    );
    assert_eq!(
        util::query_i64(
            &data,
            "SELECT count(*) FROM flows_unique WHERE flow_log_id = 'fl-2b' AND bytes = 100"
        ),
        2
    );
    // A query's filter takes part in the counting (a field one value in the records it
    // keeps leaves the key), but which fields a flow log carries is judged on all its
    // records: fl-1a carries pkt-dstaddr, so U's two records stay two observations.
    assert_eq!(
        util::query_i64(
            &data,
            "SELECT count(*) FROM flows_unique WHERE dstaddr = '10.0.1.31'"
        ),
        2
    );
    assert_eq!(
        util::query_i64(&data, "SELECT count(*) FROM flows_unique WHERE bytes = 100"),
        2
    );
    // Two scans in one query, the second's filter narrower than the first's (it may reuse
    // the first's counting): 5 records, and U's 2.
    assert_eq!(
        util::query_i64(
            &data,
            "SELECT (SELECT count(*) FROM flows_unique WHERE bytes >= 100) \
                  + 10 * (SELECT count(*) FROM flows_unique \
                          WHERE bytes >= 100 AND dstaddr = '10.0.1.31')"
        ),
        25
    );
}

/// Rule 1 where one source line names two records (two datasets' files put together, each
/// with its own version of one object): the records are told apart by their fields, not by
/// where they came from.
#[test]
fn rule1_holds_where_one_source_line_names_two_records() {
    let line = |dst: &str, bytes: u64| {
        rec_plain(
            "eni-app2",
            "vpc-a",
            "use1-az2",
            "egress",
            "10.0.2.20",
            dst,
            bytes,
        )
    };
    let r = "us-east-1";
    // First version: R once in fl-1a, twice in fl-2b (fl-2b wins R; fl-1a's R loses).
    let d = Dir::new();
    let r_rec = line("10.0.1.10", 100);
    object(
        &d,
        r,
        "fl-1a",
        Some(HEADER_V5),
        std::slice::from_ref(&r_rec),
    );
    object(&d, r, "fl-2b", Some(HEADER_V5), &[r_rec.clone(), r_rec]);
    let data = dataset(&d);
    // Second version of fl-1a's object, same name and line, into another dataset: a record
    // no other flow log holds.
    object(&d, r, "fl-1a", Some(HEADER_V5), &[line("10.0.1.30", 300)]);
    std::fs::remove_file(d.join("logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/12/01/123456789012_vpcflowlogs_us-east-1_fl-2b_20251201T0000Z_0000.log")).unwrap();
    let other = dataset_named(&d, "other");
    let mut copied = 0;
    for entry in util::walk(&other) {
        if entry.extension().is_some_and(|e| e == "parquet") {
            let rel = entry.strip_prefix(&other).unwrap();
            let to = data
                .join(rel)
                .with_file_name(format!("merged-{copied}.parquet"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &to).unwrap();
            copied += 1;
        }
    }
    assert_eq!(copied, 1);
    assert_eq!(
        util::query_i64(
            &data,
            "SELECT count(DISTINCT source) FROM flows WHERE flow_log_id = 'fl-1a'"
        ),
        1
    );
    assert_eq!(util::query_i64(&data, "SELECT count(*) FROM flows"), 4);
    // Kept: R twice (fl-2b) and the second version's record.
    let traffic = report(&data, "interface-traffic", &[]);
    assert_eq!(
        pick(&traffic, &["interface_id", "bytes_out", "records"]),
        [vec![json!("eni-app2"), json!(500), json!(3)]]
    );
}

/// Rule 3: the same private address in two VPCs is two hosts: a NAT gateway's client is
/// looked up in the NAT gateway's VPC, and an address of the record's own VPC space that no
/// ENI there holds is unknown, not the ENI of another VPC that has it.
#[test]
fn rule3_addresses_are_scoped_by_vpc() {
    let d = Dir::new();
    let inv = inventory(&d);
    object(
        &d,
        "us-east-1",
        "fl-0b",
        Some(HEADER_V5),
        &[
            rec(
                "eni-natb",
                "vpc-b",
                "use1-az3",
                "ingress",
                "10.0.1.10",
                "10.0.1.200",
                "10.0.1.10",
                "93.184.216.34",
                G,
            ),
            rec_plain(
                "eni-natb",
                "vpc-b",
                "use1-az3",
                "egress",
                "10.0.1.200",
                "93.184.216.34",
                G,
            ),
            rec_plain(
                "eni-b1",
                "vpc-b",
                "use1-az3",
                "egress",
                "10.0.1.10",
                "10.0.2.20",
                5000,
            ),
            rec_plain(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "egress",
                "10.0.1.10",
                "10.0.1.30",
                7000,
            ),
        ],
    );
    let data = dataset(&d);
    let nat = report(&data, "nat-gateway", &with_inventory(&inv));
    assert_eq!(
        pick(
            &nat,
            &[
                "nat_interface_id",
                "client_ip",
                "client_interface_id",
                "client_az_id",
                "bytes_processed"
            ]
        ),
        [vec![
            json!("eni-natb"),
            json!("10.0.1.10"),
            json!("eni-b1"),
            json!("use1-az3"),
            json!(G)
        ]]
    );
    assert_eq!(nat[0]["cost_usd"].as_f64().unwrap(), 0.045);
    // eni-b1 -> 10.0.2.20: inside vpc-b's space, held by no ENI there (eni-app2 is in vpc-a).
    assert_eq!(
        cross_az(&data, &with_inventory(&inv)),
        [row("use1-az3", "unknown", "direct", 5000, None)]
    );
}

/// Rule 4: an ENI owns all its addresses. A pod on a prefix-delegated address of a node
/// sends; its node's egress record (pkt-srcaddr) makes it a logged sender, so the receiver's
/// ingress record is not a second count. Traffic to a secondary address is the node's.
#[test]
fn rule4_pods_secondary_and_prefix_addresses_belong_to_their_eni() {
    let d = Dir::new();
    let inv = inventory(&d);
    object(
        &d,
        "us-east-1",
        "fl-0a",
        Some(HEADER_V5),
        &[
            rec(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "egress",
                "10.0.1.10",
                "10.0.2.20",
                "10.0.1.40",
                "10.0.2.20",
                2 * G,
            ),
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "ingress",
                "10.0.1.40",
                "10.0.2.20",
                2 * G,
            ),
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                "10.0.1.11",
                G,
            ),
            rec_plain(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "ingress",
                "10.0.2.20",
                "10.0.1.11",
                G,
            ),
        ],
    );
    let data = dataset(&d);
    let inv_args = with_inventory(&inv);
    assert_eq!(
        cross_az(&data, &inv_args),
        [
            row("use1-az1", "use1-az2", "direct", 2 * G, Some(0.04)),
            row("use1-az2", "use1-az1", "direct", G, Some(0.02)),
        ]
    );
    let talkers = report(&data, "top-talkers", &inv_args);
    assert_eq!(
        pick(&talkers, &["src_ip", "dst_ip", "bytes", "records"]),
        [
            vec![
                json!("10.0.1.40"),
                json!("10.0.2.20"),
                json!(2 * G),
                json!(1)
            ],
            vec![json!("10.0.2.20"), json!("10.0.1.11"), json!(G), json!(1)],
        ]
    );
    // Without an inventory: the pod is still a logged sender (its node's pkt-srcaddr), and
    // 10.0.2.20's AZ is learned from its own egress records; 10.0.1.11 never sends, so its
    // AZ is unknown.
    let rows = report(&data, "cross-az-cost", &[]);
    assert_eq!(
        pick(
            &rows,
            &[
                "src_az_id",
                "dst_az_id",
                "bytes",
                "peer_az_source",
                "confidence"
            ]
        ),
        [
            vec![
                json!("use1-az1"),
                json!("use1-az2"),
                json!(2 * G),
                json!("learned"),
                json!("sender_egress")
            ],
            vec![
                json!("use1-az2"),
                json!("unknown"),
                json!(G),
                json!("unknown"),
                json!("sender_egress")
            ],
        ]
    );
    assert_eq!(report(&data, "top-talkers", &[]).len(), 2);
}

/// Rules 4 and 7: a pod receives on its node's secondary address, logged as AWS logs it:
/// the node ENI's ingress record has the node's primary address in dstaddr and the pod's in
/// pkt-dstaddr. The packet is addressed to that ENI, not beyond it, so the sender's egress
/// record (dstaddr the pod) is the hop's one count: 3 GiB az2->az1, not 6. With the
/// inventory the pod's address is the node's; without it, the node is seen sending from it.
#[test]
fn rules4_7_pod_receiving_on_its_nodes_secondary_address_counts_once() {
    let d = Dir::new();
    let inv = inventory(&d);
    object(
        &d,
        "us-east-1",
        "fl-0a",
        Some(HEADER_V5),
        &[
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                "10.0.1.11",
                3 * G,
            ),
            rec(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "ingress",
                "10.0.2.20",
                "10.0.1.10",
                "10.0.2.20",
                "10.0.1.11",
                3 * G,
            ),
            // The pod answers: node1 sends from its primary, the pod in pkt-srcaddr.
            rec(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "egress",
                "10.0.1.10",
                "10.0.2.20",
                "10.0.1.11",
                "10.0.2.20",
                G,
            ),
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "ingress",
                "10.0.1.11",
                "10.0.2.20",
                G,
            ),
        ],
    );
    let data = dataset(&d);
    let want = [
        row("use1-az2", "use1-az1", "direct", 3 * G, Some(0.06)),
        row("use1-az1", "use1-az2", "direct", G, Some(0.02)),
    ];
    assert_eq!(cross_az(&data, &with_inventory(&inv)), want);
    assert_eq!(cross_az(&data, &[]), want);
}

/// Rule 5: the VPC's own IPv4 and IPv6 space and the organisation's public IPs are internal.
/// IPv6 addresses of a subnet are matched by prefix; an Elastic IP of the organisation is a
/// public-IP hop (rule 8), not internet egress.
#[test]
fn rule5_own_ipv6_space_and_org_public_ips_are_not_the_internet() {
    let d = Dir::new();
    let inv = inventory(&d);
    let app2 = |src: &str, dst: &str, bytes| {
        rec_plain("eni-app2", "vpc-a", "use1-az2", "egress", src, dst, bytes)
    };
    object(
        &d,
        "us-east-1",
        "fl-0a",
        Some(HEADER_V5),
        &[
            app2("2600:1f18:a:2::20", "2600:1f18:a:1::10", G),
            app2("2600:1f18:a:2::20", "2600:1f18:a:1::77", 2 * G),
            app2("2600:1f18:a:2::20", "2a00:1450:4001::1", 3 * G),
            app2("10.0.2.20", "54.0.0.30", 4 * G),
            app2("10.0.2.20", "8.8.8.8", 5 * G),
        ],
    );
    let data = dataset(&d);
    let inv_args = with_inventory(&inv);
    let egress = report(&data, "internet-egress", &inv_args);
    assert_eq!(
        pick(&egress, &["interface_id", "bytes", "destinations"]),
        [vec![json!("eni-app2"), json!(8 * G), json!(2)]]
    );
    assert!((egress[0]["est_cost_usd"].as_f64().unwrap() - 0.72).abs() < 1e-9);
    assert_eq!(
        cross_az(&data, &inv_args),
        [
            row("use1-az2", "use1-az1", "public_ip", 4 * G, Some(0.08)),
            row("use1-az2", "use1-az1", "direct", 3 * G, Some(0.06)),
        ]
    );
    let rows = report(&data, "cross-az-cost", &inv_args);
    assert_eq!(rows[1]["peer_az_source"], "eni_inventory,subnet_cidr");
}

/// The NAT gateway records of AWS's example (instance -> NAT -> internet host and back),
/// with the instance eni-app2 in use1-az2 and the NAT gateway eni-nat1 in use1-az1. With
/// `next_hop`, the instance's own record names the NAT gateway as its next hop (v11).
fn nat_in_another_az(d: &Dir, next_hop: bool) {
    let internet = "93.184.216.34";
    let app2_out = if next_hop {
        format!(
            "{} use1-az1 nat_gateway",
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                internet,
                4 * G
            )
        )
    } else {
        rec_plain(
            "eni-app2",
            "vpc-a",
            "use1-az2",
            "egress",
            "10.0.2.20",
            internet,
            4 * G,
        )
    };
    let dash = |r: String| if next_hop { format!("{r} - -") } else { r };
    let lines = vec![
        app2_out,
        dash(rec(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "ingress",
            "10.0.2.20",
            "10.0.1.100",
            "10.0.2.20",
            internet,
            4 * G,
        )),
        dash(rec_plain(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "egress",
            "10.0.1.100",
            internet,
            4 * G,
        )),
        dash(rec_plain(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "ingress",
            internet,
            "10.0.1.100",
            G,
        )),
        dash(rec(
            "eni-nat1",
            "vpc-a",
            "use1-az1",
            "egress",
            "10.0.1.100",
            "10.0.2.20",
            internet,
            "10.0.2.20",
            G,
        )),
        dash(rec_plain(
            "eni-app2",
            "vpc-a",
            "use1-az2",
            "ingress",
            internet,
            "10.0.2.20",
            G,
        )),
    ];
    let header = if next_hop { HEADER_V11 } else { HEADER_V5 };
    object(d, "us-east-1", "fl-0a", Some(header), &lines);
}

/// Rules 6 and 7: the instance -> NAT leg crosses AZs although the packets' destination is
/// public. The instance's own record names only the internet host, so the NAT gateway's
/// ingress record is the evidence for that leg; the NAT -> instance leg is the NAT's egress
/// record. Each leg once.
#[test]
fn rules6_7_nat_gateway_in_another_az_without_next_hop() {
    let d = Dir::new();
    let inv = inventory(&d);
    nat_in_another_az(&d, false);
    let data = dataset(&d);
    let inv_args = with_inventory(&inv);
    assert_eq!(
        cross_az(&data, &inv_args),
        [
            row("use1-az2", "use1-az1", "to_nat", 4 * G, Some(0.08)),
            row("use1-az1", "use1-az2", "from_nat", G, Some(0.02)),
        ]
    );
    let rows = report(&data, "cross-az-cost", &inv_args);
    assert_eq!(
        pick(&rows, &["confidence", "peer_az_source"]),
        [
            vec![json!("receiver_ingress"), json!("eni_inventory")],
            vec![json!("sender_egress"), json!("eni_inventory")],
        ]
    );
    let nat = report(&data, "nat-gateway", &inv_args);
    assert_eq!(
        pick(
            &nat,
            &[
                "client_ip",
                "client_interface_id",
                "client_az_id",
                "bytes_sent",
                "bytes_received",
                "bytes_processed"
            ]
        ),
        [vec![
            json!("10.0.2.20"),
            json!("eni-app2"),
            json!("use1-az2"),
            json!(4 * G),
            json!(G),
            json!(5 * G)
        ]]
    );
    assert!((nat[0]["cost_usd"].as_f64().unwrap() - 0.225).abs() < 1e-9);
}

/// Rules 6 and 7 with next-hop-az-id: the instance's egress record names its next hop, so it
/// is the evidence for the instance -> NAT leg (billed by the next hop's AZ), and the NAT
/// gateway's ingress record of the same packets is not counted again. The same holds
/// without an inventory.
#[test]
fn rules6_7_nat_gateway_in_another_az_with_next_hop() {
    let d = Dir::new();
    let inv = inventory(&d);
    nat_in_another_az(&d, true);
    let data = dataset(&d);
    let rows = report(&data, "cross-az-cost", &with_inventory(&inv));
    assert_eq!(
        pick(
            &rows,
            &[
                "src_az_id",
                "dst_az_id",
                "hop_type",
                "bytes",
                "confidence",
                "peer_az_source"
            ]
        ),
        [
            vec![
                json!("use1-az2"),
                json!("use1-az1"),
                json!("to_nat"),
                json!(4 * G),
                json!("sender_egress"),
                json!("next_hop")
            ],
            vec![
                json!("use1-az1"),
                json!("use1-az2"),
                json!("from_nat"),
                json!(G),
                json!("sender_egress"),
                json!("eni_inventory")
            ],
        ]
    );
    // Without an inventory the NAT gateway ENI is not known as one: its leg to the instance
    // is a direct hop, whose peer AZ is learned from the instance's own records.
    assert_eq!(
        cross_az(&data, &[]),
        [
            row("use1-az2", "use1-az1", "to_nat", 4 * G, Some(0.08)),
            row("use1-az1", "use1-az2", "direct", G, Some(0.02)),
        ]
    );
}

/// Rule 8: a hop to a public or Elastic IP of the organisation is billed each way at the
/// cross-AZ rate even inside one AZ; the receiver's ingress record (from the sender's
/// public IP, which is the sender ENI's) is not a second count.
#[test]
fn rule8_public_ip_hops_inside_one_az_are_billed() {
    let d = Dir::new();
    let inv = inventory(&d);
    object(
        &d,
        "us-east-1",
        "fl-0a",
        Some(HEADER_V5),
        &[
            rec_plain(
                "eni-web1",
                "vpc-a",
                "use1-az1",
                "egress",
                "10.0.1.30",
                "54.0.0.10",
                G,
            ),
            rec_plain(
                "eni-node1",
                "vpc-a",
                "use1-az1",
                "ingress",
                "54.0.0.30",
                "10.0.1.10",
                G,
            ),
        ],
    );
    let data = dataset(&d);
    assert_eq!(
        cross_az(&data, &with_inventory(&inv)),
        [row(
            "use1-az1",
            "use1-az1",
            "public_ip_same_az",
            G,
            Some(0.02)
        )]
    );
    assert!(report(&data, "internet-egress", &with_inventory(&inv)).is_empty());
}

/// Rule 9: idle means idle to everyone. eni-quiet2 has no records of its own but a peer sent
/// to it; eni-node1 is reached on an address of its delegated prefix; eni-rej2 only rejected
/// traffic; eni-b1 has eni-node1's address, but in another VPC.
#[test]
fn rule9_idle_to_everyone() {
    let d = Dir::new();
    let inv = inventory(&d);
    let reject = format!(
        "5 123456789012 eni-rej2 198.51.100.1 10.0.2.97 40000 22 6 1 40 {T0} {} REJECT OK vpc-a use1-az2 ingress 198.51.100.1 10.0.2.97",
        T0 + 60
    );
    object(
        &d,
        "us-east-1",
        "fl-0a",
        Some(HEADER_V5),
        &[
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                "10.0.2.98",
                100,
            ),
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                "10.0.1.40",
                100,
            ),
            rec_plain(
                "eni-app2",
                "vpc-a",
                "use1-az2",
                "egress",
                "10.0.2.20",
                "10.0.1.10",
                100,
            ),
            reject,
        ],
    );
    let data = dataset(&d);
    let idle = report(&data, "idle-interfaces", &with_inventory(&inv));
    assert_eq!(
        pick(
            &idle,
            &["interface_id", "logged", "records", "rejected_records"]
        ),
        [
            vec![json!("eni-b1"), json!(false), json!(0), json!(0)],
            vec![json!("eni-idle2"), json!(false), json!(0), json!(0)],
            vec![json!("eni-nat1"), json!(false), json!(0), json!(0)],
            vec![json!("eni-natb"), json!(false), json!(0), json!(0)],
            vec![json!("eni-rej2"), json!(true), json!(1), json!(1)],
            vec![json!("eni-web1"), json!(false), json!(0), json!(0)],
        ]
    );
}

/// Rule 10: without the inventory a report still runs, and says on standard error what is
/// incomplete and why.
#[test]
fn rule10_reports_name_what_the_inventory_would_complete() {
    let d = Dir::new();
    object(
        &d,
        "us-east-1",
        "fl-0v2",
        None,
        &[rec_v2("eni-app2", "10.0.2.20", "10.0.1.10", 1000, "ACCEPT")],
    );
    let data = dataset(&d);
    let o = vpcflow([
        "report",
        "interface-traffic",
        "--data",
        data.to_str().unwrap(),
        "--output",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("note: without --inventory, 1 records carry no flow-direction"),
        "{err}"
    );
    assert!(err.contains("give --inventory DIR"), "{err}");
    let o = vpcflow(["report", "cross-az-cost", "--data", data.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("peers' AZs come only from next-hop-az-id"),
        "{}",
        stderr(&o)
    );
    // With it, nothing is said.
    let inv = inventory(&d);
    let o = vpcflow([
        "report",
        "interface-traffic",
        "--data",
        data.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
}

/// Records of formats without a `region` field are priced by the region of their S3 key.
#[test]
fn records_without_region_are_priced_by_their_keys_region() {
    let d = Dir::new();
    let inv = inventory(&d);
    object(
        &d,
        "ap-southeast-1",
        "fl-0v2",
        None,
        &[rec_v2("eni-nat1", "10.0.2.20", "10.0.1.100", G, "ACCEPT")],
    );
    let data = dataset(&d);
    assert_eq!(
        query(&data, "SELECT DISTINCT region FROM flows"),
        [json!({"region": "ap-southeast-1"})]
    );
    let nat = report(&data, "nat-gateway", &with_inventory(&inv));
    // ap-southeast-1's NAT gateway processing price, not us-east-1's 0.045.
    assert!(
        (nat[0]["cost_usd"].as_f64().unwrap() - 0.059).abs() < 1e-12,
        "{nat:?}"
    );
}

/// `--data` must be a dataset: a directory without a manifest or partitions is an error
/// naming it, not an empty answer.
#[test]
fn data_that_is_not_a_dataset_is_an_error() {
    let d = Dir::new();
    d.write("not-a-dataset/notes.txt", "hello");
    let path = d.join("not-a-dataset");
    for args in [
        vec![
            "report",
            "interface-traffic",
            "--data",
            path.to_str().unwrap(),
        ],
        vec![
            "query",
            "--data",
            path.to_str().unwrap(),
            "SELECT count(*) FROM flows",
        ],
    ] {
        let o = vpcflow(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("not a vpcflow dataset"),
            "{err}"
        );
    }
}
