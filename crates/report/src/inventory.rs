//! The ENI and subnet inventory, read from what `aws ec2 describe-subnets` and
//! `aws ec2 describe-network-interfaces` print, and registered as the tables `subnets`,
//! `enis` and `eni_ips`.

use crate::QueryError;
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// File name of the subnets inventory.
pub const SUBNETS_FILE: &str = "describe-subnets.json";
/// File name of the network-interfaces inventory.
pub const ENIS_FILE: &str = "describe-network-interfaces.json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubnetsDoc {
    subnets: Vec<SubnetJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubnetJson {
    subnet_id: String,
    vpc_id: String,
    cidr_block: Option<String>,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    owner_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnisDoc {
    network_interfaces: Vec<EniJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EniJson {
    network_interface_id: String,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    availability_zone: Option<String>,
    interface_type: Option<String>,
    description: Option<String>,
    status: Option<String>,
    requester_managed: Option<bool>,
    private_ip_address: Option<String>,
    #[serde(default)]
    private_ip_addresses: Vec<PrivateIpJson>,
    #[serde(default)]
    ipv6_addresses: Vec<Ipv6Json>,
    attachment: Option<AttachmentJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PrivateIpJson {
    private_ip_address: String,
    primary: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv6Json {
    ipv6_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttachmentJson {
    instance_id: Option<String>,
}

/// One subnet.
#[derive(Debug, Clone)]
pub struct Subnet {
    /// `subnet-...`
    pub subnet_id: String,
    /// `vpc-...`
    pub vpc_id: String,
    /// IPv4 CIDR.
    pub cidr: Option<ipnet::Ipv4Net>,
    /// AZ ID (`use1-az1`).
    pub az_id: Option<String>,
    /// AZ name (`us-east-1a`), which differs per account.
    pub az: Option<String>,
    /// Owner account.
    pub owner_id: Option<String>,
}

/// One network interface.
#[derive(Debug, Clone)]
pub struct Eni {
    /// `eni-...`
    pub interface_id: String,
    /// Its subnet.
    pub subnet_id: Option<String>,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// AZ name.
    pub az: Option<String>,
    /// `interface`, `nat_gateway`, `transit_gateway`, `vpc_endpoint`, ...
    pub interface_type: Option<String>,
    /// AWS's description (names the owning service for requester-managed ENIs).
    pub description: Option<String>,
    /// `in-use` or `available`.
    pub status: Option<String>,
    /// Managed by an AWS service.
    pub requester_managed: bool,
    /// Attached instance.
    pub instance_id: Option<String>,
    /// Every address, primary first: private IPv4s and IPv6s.
    pub ips: Vec<(String, bool)>,
}

/// The inventory of one account and region.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Network interfaces.
    pub enis: Vec<Eni>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, top: &str) -> Result<T, QueryError> {
    let err = |message: String| QueryError::Inventory {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| {
        err(format!(
            "not the JSON that `aws ec2 {}` prints (expected an object with \"{top}\"): {e}",
            if top == "Subnets" {
                "describe-subnets"
            } else {
                "describe-network-interfaces"
            }
        ))
    })
}

impl Inventory {
    /// Reads `describe-subnets.json` and `describe-network-interfaces.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, QueryError> {
        if !dir.is_dir() {
            return Err(QueryError::Inventory {
                path: dir.display().to_string(),
                message: format!("not a directory holding {SUBNETS_FILE} and {ENIS_FILE}"),
            });
        }
        let subnets_path = dir.join(SUBNETS_FILE);
        let doc: SubnetsDoc = read_json(&subnets_path, "Subnets")?;
        let mut subnets = Vec::new();
        for s in doc.subnets {
            let cidr = match &s.cidr_block {
                Some(c) => {
                    Some(
                        c.parse::<ipnet::Ipv4Net>()
                            .map_err(|e| QueryError::Inventory {
                                path: subnets_path.display().to_string(),
                                message: format!("subnet {}: CidrBlock {c:?}: {e}", s.subnet_id),
                            })?,
                    )
                }
                None => None,
            };
            subnets.push(Subnet {
                subnet_id: s.subnet_id,
                vpc_id: s.vpc_id,
                cidr,
                az_id: s.availability_zone_id,
                az: s.availability_zone,
                owner_id: s.owner_id,
            });
        }
        let doc: EnisDoc = read_json(&dir.join(ENIS_FILE), "NetworkInterfaces")?;
        let enis = doc
            .network_interfaces
            .into_iter()
            .map(|e| {
                let mut ips: Vec<(String, bool)> = Vec::new();
                for p in &e.private_ip_addresses {
                    ips.push((p.private_ip_address.clone(), p.primary.unwrap_or(false)));
                }
                if let Some(p) = &e.private_ip_address
                    && !ips.iter().any(|(ip, _)| ip == p)
                {
                    ips.push((p.clone(), true));
                }
                ips.sort_by_key(|(_, primary)| !primary);
                ips.extend(
                    e.ipv6_addresses
                        .iter()
                        .map(|a| (a.ipv6_address.clone(), false)),
                );
                Eni {
                    interface_id: e.network_interface_id,
                    subnet_id: e.subnet_id,
                    vpc_id: e.vpc_id,
                    az: e.availability_zone,
                    interface_type: e.interface_type,
                    description: e.description,
                    status: e.status,
                    requester_managed: e.requester_managed.unwrap_or(false),
                    instance_id: e.attachment.and_then(|a| a.instance_id),
                    ips,
                }
            })
            .collect();
        Ok(Self { subnets, enis })
    }

    fn subnet(&self, id: Option<&str>) -> Option<&Subnet> {
        id.and_then(|id| self.subnets.iter().find(|s| s.subnet_id == id))
    }
}

fn s(v: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

/// Schema of `subnets`.
pub fn subnets_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subnet_id", DataType::Utf8, false),
        Field::new("vpc_id", DataType::Utf8, true),
        Field::new("cidr", DataType::Utf8, true),
        Field::new("az_id", DataType::Utf8, true),
        Field::new("az", DataType::Utf8, true),
        Field::new("owner_id", DataType::Utf8, true),
        Field::new("net_lo", DataType::Int64, true),
        Field::new("net_hi", DataType::Int64, true),
    ]))
}

/// Schema of `enis`.
pub fn enis_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("interface_id", DataType::Utf8, false),
        Field::new("vpc_id", DataType::Utf8, true),
        Field::new("subnet_id", DataType::Utf8, true),
        Field::new("az_id", DataType::Utf8, true),
        Field::new("interface_type", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("requester_managed", DataType::Boolean, true),
        Field::new("instance_id", DataType::Utf8, true),
        Field::new("primary_ip", DataType::Utf8, true),
    ]))
}

/// Schema of `eni_ips`: one row per address of an ENI.
pub fn eni_ips_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ip", DataType::Utf8, false),
        Field::new("interface_id", DataType::Utf8, false),
        Field::new("vpc_id", DataType::Utf8, true),
        Field::new("subnet_id", DataType::Utf8, true),
        Field::new("az_id", DataType::Utf8, true),
        Field::new("interface_type", DataType::Utf8, true),
        Field::new("is_primary", DataType::Boolean, false),
    ]))
}

/// Registers `subnets`, `enis` and `eni_ips` (empty when `inv` is `None`).
pub fn register(ctx: &SessionContext, inv: Option<&Inventory>) -> Result<(), QueryError> {
    let empty = Inventory::default();
    let inv = inv.unwrap_or(&empty);
    let subnets = RecordBatch::try_new(
        subnets_schema(),
        vec![
            s(inv
                .subnets
                .iter()
                .map(|x| Some(x.subnet_id.clone()))
                .collect()),
            s(inv.subnets.iter().map(|x| Some(x.vpc_id.clone())).collect()),
            s(inv
                .subnets
                .iter()
                .map(|x| x.cidr.map(|c| c.to_string()))
                .collect()),
            s(inv.subnets.iter().map(|x| x.az_id.clone()).collect()),
            s(inv.subnets.iter().map(|x| x.az.clone()).collect()),
            s(inv.subnets.iter().map(|x| x.owner_id.clone()).collect()),
            Arc::new(Int64Array::from(
                inv.subnets
                    .iter()
                    .map(|x| x.cidr.map(|c| u32::from(c.network()) as i64))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                inv.subnets
                    .iter()
                    .map(|x| x.cidr.map(|c| u32::from(c.broadcast()) as i64))
                    .collect::<Vec<_>>(),
            )),
        ],
    )?;
    let az_of = |e: &Eni| {
        inv.subnet(e.subnet_id.as_deref())
            .and_then(|s| s.az_id.clone())
    };
    let enis = RecordBatch::try_new(
        enis_schema(),
        vec![
            s(inv
                .enis
                .iter()
                .map(|e| Some(e.interface_id.clone()))
                .collect()),
            s(inv.enis.iter().map(|e| e.vpc_id.clone()).collect()),
            s(inv.enis.iter().map(|e| e.subnet_id.clone()).collect()),
            s(inv.enis.iter().map(az_of).collect()),
            s(inv.enis.iter().map(|e| e.interface_type.clone()).collect()),
            s(inv.enis.iter().map(|e| e.description.clone()).collect()),
            s(inv.enis.iter().map(|e| e.status.clone()).collect()),
            Arc::new(BooleanArray::from(
                inv.enis
                    .iter()
                    .map(|e| Some(e.requester_managed))
                    .collect::<Vec<_>>(),
            )),
            s(inv.enis.iter().map(|e| e.instance_id.clone()).collect()),
            s(inv
                .enis
                .iter()
                .map(|e| e.ips.first().map(|(ip, _)| ip.clone()))
                .collect()),
        ],
    )?;
    let rows: Vec<(&Eni, &(String, bool))> = inv
        .enis
        .iter()
        .flat_map(|e| e.ips.iter().map(move |ip| (e, ip)))
        .collect();
    let eni_ips = RecordBatch::try_new(
        eni_ips_schema(),
        vec![
            s(rows.iter().map(|(_, (ip, _))| Some(ip.clone())).collect()),
            s(rows
                .iter()
                .map(|(e, _)| Some(e.interface_id.clone()))
                .collect()),
            s(rows.iter().map(|(e, _)| e.vpc_id.clone()).collect()),
            s(rows.iter().map(|(e, _)| e.subnet_id.clone()).collect()),
            s(rows.iter().map(|(e, _)| az_of(e)).collect()),
            s(rows.iter().map(|(e, _)| e.interface_type.clone()).collect()),
            Arc::new(BooleanArray::from(
                rows.iter().map(|(_, (_, p))| Some(*p)).collect::<Vec<_>>(),
            )),
        ],
    )?;
    for (name, batch) in [("subnets", subnets), ("enis", enis), ("eni_ips", eni_ips)] {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(name, Arc::new(table))?;
    }
    Ok(())
}

/// The address as an integer when it is IPv4.
pub fn ipv4_to_int(ip: &str) -> Option<i64> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(u32::from(v4) as i64),
        IpAddr::V6(_) => None,
    }
}

/// True for addresses that never leave private networks: RFC 1918, carrier-grade NAT,
/// link-local, loopback, IPv6 unique-local and link-local.
pub fn is_private_ip(ip: &str) -> Option<bool> {
    Some(match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_helpers() {
        assert_eq!(ipv4_to_int("10.0.0.1"), Some(167772161));
        assert_eq!(ipv4_to_int("2001:db8::1"), None);
        assert_eq!(ipv4_to_int("-"), None);
        assert_eq!(is_private_ip("10.1.2.3"), Some(true));
        assert_eq!(is_private_ip("100.64.0.1"), Some(true));
        assert_eq!(is_private_ip("52.95.1.1"), Some(false));
        assert_eq!(is_private_ip("fd00::1"), Some(true));
        assert_eq!(is_private_ip("2600:1f18::1"), Some(false));
    }

    #[test]
    fn bad_inventory_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(SUBNETS_FILE), r#"{"Vpcs": []}"#).unwrap();
        let e = Inventory::load(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(
                "describe-subnets.json: not the JSON that `aws ec2 describe-subnets` prints"
            ),
            "{e}"
        );
        std::fs::write(d.path().join(SUBNETS_FILE), r#"{"Subnets": []}"#).unwrap();
        let e = Inventory::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("describe-network-interfaces.json"), "{e}");
    }
}
