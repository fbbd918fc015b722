//! `vpcflow inventory fetch` with the real EC2 client against a local moto server.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::Value;
use util::{Dir, Moto, stderr, stdout};

#[test]
fn fetched_inventory_is_what_reports_read() {
    let moto = Moto::start();
    let d = Dir::new();
    let ids = moto.python(&format!(
        r#"
ec2 = boto3.client('ec2', endpoint_url='{ep}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
vpc = ec2.create_vpc(CidrBlock='10.7.0.0/16')['Vpc']['VpcId']
a = ec2.create_subnet(VpcId=vpc, CidrBlock='10.7.1.0/24', AvailabilityZone='us-east-1a')['Subnet']
b = ec2.create_subnet(VpcId=vpc, CidrBlock='10.7.2.0/24', AvailabilityZone='us-east-1b')['Subnet']
busy = ec2.create_network_interface(SubnetId=a['SubnetId'], PrivateIpAddress='10.7.1.10', Description='busy')['NetworkInterface']
idle = ec2.create_network_interface(SubnetId=b['SubnetId'], PrivateIpAddresses=[{{'PrivateIpAddress': '10.7.2.20', 'Primary': True}}, {{'PrivateIpAddress': '10.7.2.21', 'Primary': False}}], Description='idle')['NetworkInterface']
eip = ec2.allocate_address(Domain='vpc')
ec2.associate_address(AllocationId=eip['AllocationId'], NetworkInterfaceId=busy['NetworkInterfaceId'])
spare = ec2.allocate_address(Domain='vpc')
print(busy['NetworkInterfaceId'], idle['NetworkInterfaceId'], a['AvailabilityZoneId'], b['AvailabilityZoneId'], eip['PublicIp'], spare['PublicIp'])
"#,
        ep = moto.endpoint
    ));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let (busy, idle, az_a, az_b, eip, spare) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    let inv = d.join("inventory");
    let o = moto.vpcflow(&["inventory", "fetch", "--out", inv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("wrote "), "{}", stdout(&o));
    let enis: Value = serde_json::from_slice(
        &std::fs::read(inv.join("describe-network-interfaces.json")).unwrap(),
    )
    .unwrap();
    let idle_json = enis["NetworkInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["NetworkInterfaceId"] == idle)
        .unwrap();
    assert_eq!(
        idle_json["PrivateIpAddresses"][1]["PrivateIpAddress"],
        "10.7.2.21"
    );
    // Every address an ENI owns: its Elastic IP too; and the organisation's Elastic IPs and
    // the VPCs' address space, in files of their own.
    let busy_json = enis["NetworkInterfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["NetworkInterfaceId"] == busy)
        .unwrap();
    assert_eq!(busy_json["Association"]["PublicIp"], eip);
    let addresses: Value =
        serde_json::from_slice(&std::fs::read(inv.join("describe-addresses.json")).unwrap())
            .unwrap();
    let public: Vec<&str> = addresses["Addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["PublicIp"].as_str().unwrap())
        .collect();
    assert!(
        public.contains(&eip) && public.contains(&spare),
        "{addresses}"
    );
    let vpcs: Value =
        serde_json::from_slice(&std::fs::read(inv.join("describe-vpcs.json")).unwrap()).unwrap();
    assert!(
        vpcs["Vpcs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["CidrBlock"] == "10.7.0.0/16"),
        "{vpcs}"
    );
    let subnets: Value =
        serde_json::from_slice(&std::fs::read(inv.join("describe-subnets.json")).unwrap()).unwrap();
    assert!(
        subnets["Subnets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["CidrBlock"] == "10.7.2.0/24" && s["AvailabilityZoneId"] == az_b)
    );

    // The reports read it: direction and AZ for default-format records (the peer is an
    // address of subnet b that no ENI holds), the ENI that nothing reached as idle, and the
    // Elastic IP as the busy ENI's (not the internet).
    let f = d.write(
        "flows.log",
        format!(
            "2 123456789012 {busy} 10.7.1.10 10.7.2.30 40000 443 6 10 5000 1764547200 1764547260 ACCEPT OK\n\
             2 123456789012 {busy} 10.7.1.10 {spare} 40000 443 6 10 70 1764547200 1764547260 ACCEPT OK\n"
        ),
    );
    let out = d.join("ds");
    assert!(
        util::vpcflow([
            "ingest",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap()
        ])
        .status
        .success()
    );
    let inv_args = ["--inventory", inv.to_str().unwrap()];
    let row = &util::report(&out, "cross-az-cost", &inv_args)[0];
    assert_eq!(
        (
            row["src_az_id"].as_str(),
            row["dst_az_id"].as_str(),
            row["bytes"].as_i64()
        ),
        (Some(az_a), Some(az_b), Some(5000))
    );
    assert_eq!(row["peer_az_source"], "subnet_cidr");
    let idle_rows = util::report(&out, "idle-interfaces", &inv_args);
    assert_eq!(idle_rows.len(), 1, "{idle_rows:?}");
    assert_eq!(idle_rows[0]["interface_id"], idle);
    assert_eq!(idle_rows[0]["logged"], false);
    // The spare Elastic IP is the organisation's: not internet egress.
    assert!(util::report(&out, "internet-egress", &inv_args).is_empty());
}
