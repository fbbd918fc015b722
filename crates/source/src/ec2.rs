//! EC2: a flow log's own record format (DescribeFlowLogs) and the subnet and ENI inventory
//! (DescribeSubnets, DescribeNetworkInterfaces), written as `aws ec2 describe-*` prints it.

use crate::IngestError;
use aws_sdk_ec2::types::Filter;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use vpcflow_aws::AwsContext;
use vpcflow_aws::one_line;

/// A connection to EC2.
pub struct Ec2 {
    rt: Arc<tokio::runtime::Runtime>,
    client: aws_sdk_ec2::Client,
}

fn err(source_name: &str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Source {
        source_name: source_name.to_string(),
        message: e.to_string(),
    }
}

/// A flow log that delivers to a CloudWatch Logs group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFlowLog {
    /// `fl-...`
    pub id: Option<String>,
    /// Its LogFormat.
    pub format: Option<String>,
}

fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect(),
    )
}

impl Ec2 {
    /// An EC2 client.
    pub fn new(aws: &AwsContext) -> Self {
        Self {
            rt: aws.runtime().clone(),
            client: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(aws.sdk())
                    .retry_classifier(vpcflow_aws::RefusedIsFinal)
                    .build(),
            ),
        }
    }

    /// The flow logs that deliver to `log_group`: each one's ID and LogFormat.
    pub fn group_flow_logs(&self, log_group: &str) -> Result<Vec<GroupFlowLog>, IngestError> {
        let name = format!("cloudwatch://{log_group}");
        let mut pages = self
            .client
            .describe_flow_logs()
            .filter(
                Filter::builder()
                    .name("log-group-name")
                    .values(log_group)
                    .build(),
            )
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err(&name, one_line("DescribeFlowLogs", &e)))?;
            out.extend(page.flow_logs().iter().map(|fl| GroupFlowLog {
                id: fl.flow_log_id().map(str::to_string),
                format: fl.log_format().map(str::to_string),
            }));
        }
        Ok(out)
    }

    /// The LogFormat of the flow logs that deliver to `log_group`, if any. Flow logs of
    /// different formats in one group are an error: the caller must say which with `--format`.
    pub fn flow_log_format(&self, log_group: &str) -> Result<Option<String>, IngestError> {
        let mut formats: Vec<String> = Vec::new();
        for f in self.group_flow_logs(log_group)? {
            if let Some(f) = f.format
                && !formats.contains(&f)
            {
                formats.push(f);
            }
        }
        match formats.len() {
            0 => Ok(None),
            1 => Ok(formats.pop()),
            _ => Err(err(
                &format!("cloudwatch://{log_group}"),
                format!(
                    "flow logs of {} different formats deliver to this group; give one with --format: {}",
                    formats.len(),
                    formats.join(" | ")
                ),
            )),
        }
    }

    /// Writes `describe-subnets.json`, `describe-network-interfaces.json`,
    /// `describe-vpcs.json` and `describe-addresses.json` into `dir`, in the shape
    /// `aws ec2 describe-*` prints them, with every address an ENI owns (secondary and
    /// prefix-delegated ranges, IPv6, public and Elastic IPs). Returns the numbers of subnets
    /// and ENIs.
    pub fn fetch_inventory(&self, dir: &Path) -> Result<(usize, usize), IngestError> {
        let mut subnets = Vec::new();
        let mut pages = self.client.describe_subnets().into_paginator().send();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err("ec2", one_line("DescribeSubnets", &e)))?;
            for s in page.subnets() {
                subnets.push(json!({
                    "SubnetId": s.subnet_id(),
                    "VpcId": s.vpc_id(),
                    "CidrBlock": s.cidr_block(),
                    "AvailabilityZone": s.availability_zone(),
                    "AvailabilityZoneId": s.availability_zone_id(),
                    "OwnerId": s.owner_id(),
                    "State": s.state().map(|x| x.as_str()),
                    "Ipv6CidrBlockAssociationSet": s.ipv6_cidr_block_association_set().iter()
                        .map(|a| json!({"Ipv6CidrBlock": a.ipv6_cidr_block()}))
                        .collect::<Vec<_>>(),
                    "Tags": tags(s.tags()),
                }));
            }
        }
        let mut enis = Vec::new();
        let mut pages = self
            .client
            .describe_network_interfaces()
            .into_paginator()
            .send();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err("ec2", one_line("DescribeNetworkInterfaces", &e)))?;
            for e in page.network_interfaces() {
                enis.push(json!({
                    "NetworkInterfaceId": e.network_interface_id(),
                    "SubnetId": e.subnet_id(),
                    "VpcId": e.vpc_id(),
                    "AvailabilityZone": e.availability_zone(),
                    "InterfaceType": e.interface_type().map(|x| x.as_str()),
                    "Description": e.description(),
                    "Status": e.status().map(|x| x.as_str()),
                    "RequesterManaged": e.requester_managed(),
                    "OwnerId": e.owner_id(),
                    "PrivateIpAddress": e.private_ip_address(),
                    "PrivateIpAddresses": e.private_ip_addresses().iter()
                        .map(|p| json!({
                            "PrivateIpAddress": p.private_ip_address(),
                            "Primary": p.primary(),
                            "Association": p.association().map(|a| json!({"PublicIp": a.public_ip()})),
                        }))
                        .collect::<Vec<_>>(),
                    "Association": e.association().map(|a| json!({"PublicIp": a.public_ip()})),
                    "Ipv4Prefixes": e.ipv4_prefixes().iter()
                        .map(|p| json!({"Ipv4Prefix": p.ipv4_prefix()}))
                        .collect::<Vec<_>>(),
                    "Ipv6Prefixes": e.ipv6_prefixes().iter()
                        .map(|p| json!({"Ipv6Prefix": p.ipv6_prefix()}))
                        .collect::<Vec<_>>(),
                    "Ipv6Addresses": e.ipv6_addresses().iter()
                        .map(|a| json!({"Ipv6Address": a.ipv6_address()}))
                        .collect::<Vec<_>>(),
                    "Attachment": e.attachment().map(|a| json!({
                        "InstanceId": a.instance_id(),
                        "Status": a.status().map(|x| x.as_str()),
                        "DeviceIndex": a.device_index(),
                    })),
                    "TagSet": tags(e.tag_set()),
                }));
            }
        }
        let mut vpcs = Vec::new();
        let mut pages = self.client.describe_vpcs().into_paginator().send();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err("ec2", one_line("DescribeVpcs", &e)))?;
            for v in page.vpcs() {
                vpcs.push(json!({
                    "VpcId": v.vpc_id(),
                    "OwnerId": v.owner_id(),
                    "CidrBlock": v.cidr_block(),
                    "CidrBlockAssociationSet": v.cidr_block_association_set().iter()
                        .map(|a| json!({"CidrBlock": a.cidr_block()}))
                        .collect::<Vec<_>>(),
                    "Ipv6CidrBlockAssociationSet": v.ipv6_cidr_block_association_set().iter()
                        .map(|a| json!({"Ipv6CidrBlock": a.ipv6_cidr_block()}))
                        .collect::<Vec<_>>(),
                }));
            }
        }
        // The organisation's Elastic IPs, also those not associated with an ENI now.
        let addresses = self
            .rt
            .block_on(self.client.describe_addresses().send())
            .map_err(|e| err("ec2", one_line("DescribeAddresses", &e)))?;
        let addresses: Vec<Value> = addresses
            .addresses()
            .iter()
            .map(|a| {
                json!({
                    "PublicIp": a.public_ip(),
                    "AllocationId": a.allocation_id(),
                    "NetworkInterfaceId": a.network_interface_id(),
                    "PrivateIpAddress": a.private_ip_address(),
                })
            })
            .collect();
        std::fs::create_dir_all(dir).map_err(|e| err(&dir.display().to_string(), e))?;
        let write = |name: &str, v: Value| -> Result<(), IngestError> {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            let text = serde_json::to_vec_pretty(&v).map_err(|e| err(name, e))?;
            std::fs::write(&tmp, text).map_err(|e| err(&tmp.display().to_string(), e))?;
            std::fs::rename(&tmp, &path).map_err(|e| err(&path.display().to_string(), e))
        };
        let counts = (subnets.len(), enis.len());
        write("describe-subnets.json", json!({ "Subnets": subnets }))?;
        write(
            "describe-network-interfaces.json",
            json!({ "NetworkInterfaces": enis }),
        )?;
        write("describe-vpcs.json", json!({ "Vpcs": vpcs }))?;
        write("describe-addresses.json", json!({ "Addresses": addresses }))?;
        Ok(counts)
    }
}
