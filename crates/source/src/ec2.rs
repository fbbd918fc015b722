//! EC2: a flow log's own record format (DescribeFlowLogs) and the subnet and ENI inventory
//! (DescribeSubnets, DescribeNetworkInterfaces), written as `aws ec2 describe-*` prints it.

use crate::IngestError;
use crate::aws::AwsContext;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::Filter;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

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
            rt: aws.rt.clone(),
            client: aws_sdk_ec2::Client::new(&aws.sdk),
        }
    }

    /// The LogFormat of the flow logs that deliver to `log_group`, if any. Flow logs of
    /// different formats in one group are an error: the caller must say which with `--format`.
    pub fn flow_log_format(&self, log_group: &str) -> Result<Option<String>, IngestError> {
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
        let mut formats: Vec<String> = Vec::new();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err(&name, DisplayErrorContext(&e)))?;
            for fl in page.flow_logs() {
                if let Some(f) = fl.log_format()
                    && !formats.iter().any(|x| x == f)
                {
                    formats.push(f.to_string());
                }
            }
        }
        match formats.len() {
            0 => Ok(None),
            1 => Ok(formats.pop()),
            _ => Err(err(
                &name,
                format!(
                    "flow logs of {} different formats deliver to this group; give one with --format: {}",
                    formats.len(),
                    formats.join(" | ")
                ),
            )),
        }
    }

    /// Writes `describe-subnets.json` and `describe-network-interfaces.json` into `dir`, in the
    /// shape `aws ec2 describe-subnets` / `describe-network-interfaces` print. Returns the
    /// numbers of subnets and ENIs.
    pub fn fetch_inventory(&self, dir: &Path) -> Result<(usize, usize), IngestError> {
        let mut subnets = Vec::new();
        let mut pages = self.client.describe_subnets().into_paginator().send();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err("ec2 DescribeSubnets", DisplayErrorContext(&e)))?;
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
            let page =
                page.map_err(|e| err("ec2 DescribeNetworkInterfaces", DisplayErrorContext(&e)))?;
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
                        .map(|p| json!({"PrivateIpAddress": p.private_ip_address(), "Primary": p.primary()}))
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
        Ok(counts)
    }
}
