//! The ENI and subnet inventory, read from what `aws ec2 describe-subnets`,
//! `describe-network-interfaces` and (where present) `describe-vpcs` and `describe-addresses`
//! print, registered as the tables `subnets`, `enis`, `eni_ips`, `eni_prefixes` and
//! `vpc_cidrs`, and kept as an [`AddressBook`] that the reports' address functions look up.

use crate::QueryError;
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// File name of the subnets inventory.
pub const SUBNETS_FILE: &str = "describe-subnets.json";
/// File name of the network-interfaces inventory.
pub const ENIS_FILE: &str = "describe-network-interfaces.json";
/// File name of the VPCs inventory (optional).
pub const VPCS_FILE: &str = "describe-vpcs.json";
/// File name of the Elastic IPs inventory (optional).
pub const ADDRESSES_FILE: &str = "describe-addresses.json";

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
    #[serde(default)]
    ipv6_cidr_block_association_set: Vec<Ipv6CidrJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv6CidrJson {
    ipv6_cidr_block: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CidrJson {
    cidr_block: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VpcsDoc {
    vpcs: Vec<VpcJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VpcJson {
    vpc_id: String,
    cidr_block: Option<String>,
    #[serde(default)]
    cidr_block_association_set: Vec<CidrJson>,
    #[serde(default)]
    ipv6_cidr_block_association_set: Vec<Ipv6CidrJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddressesDoc {
    addresses: Vec<AddressJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddressJson {
    public_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationJson {
    public_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv4PrefixJson {
    ipv4_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipv6PrefixJson {
    ipv6_prefix: String,
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
    #[serde(default)]
    ipv4_prefixes: Vec<Ipv4PrefixJson>,
    #[serde(default)]
    ipv6_prefixes: Vec<Ipv6PrefixJson>,
    association: Option<AssociationJson>,
    attachment: Option<AttachmentJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PrivateIpJson {
    private_ip_address: String,
    primary: Option<bool>,
    association: Option<AssociationJson>,
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
    /// IPv6 CIDRs.
    pub ipv6_cidrs: Vec<ipnet::Ipv6Net>,
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
    /// Public and Elastic IPv4 addresses associated with it.
    pub public_ips: Vec<String>,
    /// Prefix-delegated IPv4 and IPv6 ranges.
    pub prefixes: Vec<IpNet>,
}

/// One VPC's address space.
#[derive(Debug, Clone)]
pub struct Vpc {
    /// `vpc-...`
    pub vpc_id: String,
    /// Its IPv4 and IPv6 CIDRs.
    pub cidrs: Vec<IpNet>,
}

/// The inventory of one account and region.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Network interfaces.
    pub enis: Vec<Eni>,
    /// VPCs (from `describe-vpcs.json`, where present).
    pub vpcs: Vec<Vpc>,
    /// The organisation's Elastic IPs (from `describe-addresses.json`, where present).
    pub elastic_ips: Vec<String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, top: &str) -> Result<T, QueryError> {
    let err = |message: String| QueryError::Inventory {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let command = match top {
        "Subnets" => "describe-subnets",
        "Vpcs" => "describe-vpcs",
        "Addresses" => "describe-addresses",
        _ => "describe-network-interfaces",
    };
    serde_json::from_slice(&text).map_err(|e| {
        err(format!(
            "not the JSON that `aws ec2 {command}` prints (expected an object with \"{top}\"): {e}"
        ))
    })
}

/// Parses a CIDR of the inventory, naming the file and the resource where it is bad.
fn cidr<T: std::str::FromStr>(
    path: &Path,
    owner: &str,
    key: &str,
    text: &str,
) -> Result<T, QueryError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| QueryError::Inventory {
        path: path.display().to_string(),
        message: format!("{owner}: {key} {text:?}: {e}"),
    })
}

impl Inventory {
    /// Reads `describe-subnets.json` and `describe-network-interfaces.json` from `dir`, and
    /// `describe-vpcs.json` and `describe-addresses.json` where they are there.
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
            let cidr4 = match &s.cidr_block {
                Some(c) => Some(cidr(&subnets_path, &s.subnet_id, "CidrBlock", c)?),
                None => None,
            };
            let mut ipv6_cidrs = Vec::new();
            for a in &s.ipv6_cidr_block_association_set {
                if let Some(c) = &a.ipv6_cidr_block {
                    ipv6_cidrs.push(cidr(&subnets_path, &s.subnet_id, "Ipv6CidrBlock", c)?);
                }
            }
            subnets.push(Subnet {
                subnet_id: s.subnet_id,
                vpc_id: s.vpc_id,
                cidr: cidr4,
                ipv6_cidrs,
                az_id: s.availability_zone_id,
                az: s.availability_zone,
                owner_id: s.owner_id,
            });
        }
        let enis_path = dir.join(ENIS_FILE);
        let doc: EnisDoc = read_json(&enis_path, "NetworkInterfaces")?;
        let mut enis = Vec::new();
        for e in doc.network_interfaces {
            let mut ips: Vec<(String, bool)> = Vec::new();
            let mut public_ips: Vec<String> = Vec::new();
            for p in &e.private_ip_addresses {
                ips.push((p.private_ip_address.clone(), p.primary.unwrap_or(false)));
                public_ips.extend(p.association.as_ref().and_then(|a| a.public_ip.clone()));
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
            if let Some(ip) = e.association.as_ref().and_then(|a| a.public_ip.clone())
                && !public_ips.contains(&ip)
            {
                public_ips.push(ip);
            }
            let id = &e.network_interface_id;
            let mut prefixes = Vec::new();
            for p in &e.ipv4_prefixes {
                prefixes.push(IpNet::V4(cidr(
                    &enis_path,
                    id,
                    "Ipv4Prefix",
                    &p.ipv4_prefix,
                )?));
            }
            for p in &e.ipv6_prefixes {
                prefixes.push(IpNet::V6(cidr(
                    &enis_path,
                    id,
                    "Ipv6Prefix",
                    &p.ipv6_prefix,
                )?));
            }
            enis.push(Eni {
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
                public_ips,
                prefixes,
            });
        }
        let mut vpcs = Vec::new();
        let vpcs_path = dir.join(VPCS_FILE);
        if vpcs_path.exists() {
            let doc: VpcsDoc = read_json(&vpcs_path, "Vpcs")?;
            for v in doc.vpcs {
                let mut cidrs = Vec::new();
                let v4 = v.cidr_block.iter().chain(
                    v.cidr_block_association_set
                        .iter()
                        .filter_map(|a| a.cidr_block.as_ref()),
                );
                for c in v4 {
                    cidrs.push(IpNet::V4(cidr(&vpcs_path, &v.vpc_id, "CidrBlock", c)?));
                }
                for c in v
                    .ipv6_cidr_block_association_set
                    .iter()
                    .filter_map(|a| a.ipv6_cidr_block.as_ref())
                {
                    cidrs.push(IpNet::V6(cidr(&vpcs_path, &v.vpc_id, "Ipv6CidrBlock", c)?));
                }
                cidrs.dedup();
                vpcs.push(Vpc {
                    vpc_id: v.vpc_id,
                    cidrs,
                });
            }
        }
        let mut elastic_ips = Vec::new();
        let addresses_path = dir.join(ADDRESSES_FILE);
        if addresses_path.exists() {
            let doc: AddressesDoc = read_json(&addresses_path, "Addresses")?;
            elastic_ips.extend(doc.addresses.into_iter().filter_map(|a| a.public_ip));
        }
        Ok(Self {
            subnets,
            enis,
            vpcs,
            elastic_ips,
        })
    }

    fn subnet(&self, id: Option<&str>) -> Option<&Subnet> {
        id.and_then(|id| self.subnets.iter().find(|s| s.subnet_id == id))
    }

    /// The AZ ID of an ENI, from its subnet.
    fn az_of(&self, e: &Eni) -> Option<String> {
        self.subnet(e.subnet_id.as_deref())
            .and_then(|s| s.az_id.clone())
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
        Field::new("ipv6_cidrs", DataType::Utf8, true),
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
        Field::new("kind", DataType::Utf8, false),
    ]))
}

/// Schema of `eni_prefixes`: one row per prefix-delegated range of an ENI.
pub fn eni_prefixes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("prefix", DataType::Utf8, false),
        Field::new("interface_id", DataType::Utf8, false),
        Field::new("vpc_id", DataType::Utf8, true),
        Field::new("az_id", DataType::Utf8, true),
    ]))
}

/// Schema of `vpc_cidrs`: one row per IPv4 or IPv6 CIDR of a VPC.
pub fn vpc_cidrs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("vpc_id", DataType::Utf8, false),
        Field::new("cidr", DataType::Utf8, false),
    ]))
}

/// Registers `subnets`, `enis`, `eni_ips`, `eni_prefixes` and `vpc_cidrs` (empty when `inv`
/// is `None`).
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
            s(inv
                .subnets
                .iter()
                .map(|x| {
                    (!x.ipv6_cidrs.is_empty()).then(|| {
                        x.ipv6_cidrs
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                })
                .collect()),
        ],
    )?;
    let az_of = |e: &Eni| inv.az_of(e);
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
    // (ENI, address, primary, kind)
    let rows: Vec<(&Eni, &str, bool, &str)> = inv
        .enis
        .iter()
        .flat_map(|e| {
            let private = e.ips.iter().map(move |(ip, primary)| {
                let kind = if ip.contains(':') { "ipv6" } else { "private" };
                (e, ip.as_str(), *primary, kind)
            });
            let public = e
                .public_ips
                .iter()
                .map(move |ip| (e, ip.as_str(), false, "public"));
            private.chain(public)
        })
        .collect();
    let eni_ips = RecordBatch::try_new(
        eni_ips_schema(),
        vec![
            s(rows.iter().map(|r| Some(r.1.to_string())).collect()),
            s(rows
                .iter()
                .map(|r| Some(r.0.interface_id.clone()))
                .collect()),
            s(rows.iter().map(|r| r.0.vpc_id.clone()).collect()),
            s(rows.iter().map(|r| r.0.subnet_id.clone()).collect()),
            s(rows.iter().map(|r| az_of(r.0)).collect()),
            s(rows.iter().map(|r| r.0.interface_type.clone()).collect()),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| Some(r.2)).collect::<Vec<_>>(),
            )),
            s(rows.iter().map(|r| Some(r.3.to_string())).collect()),
        ],
    )?;
    let prefixes: Vec<(&Eni, &IpNet)> = inv
        .enis
        .iter()
        .flat_map(|e| e.prefixes.iter().map(move |p| (e, p)))
        .collect();
    let eni_prefixes = RecordBatch::try_new(
        eni_prefixes_schema(),
        vec![
            s(prefixes.iter().map(|(_, p)| Some(p.to_string())).collect()),
            s(prefixes
                .iter()
                .map(|(e, _)| Some(e.interface_id.clone()))
                .collect()),
            s(prefixes.iter().map(|(e, _)| e.vpc_id.clone()).collect()),
            s(prefixes.iter().map(|(e, _)| az_of(e)).collect()),
        ],
    )?;
    let cidrs: Vec<(&str, &IpNet)> = inv
        .vpcs
        .iter()
        .flat_map(|v| v.cidrs.iter().map(move |c| (v.vpc_id.as_str(), c)))
        .collect();
    let vpc_cidrs = RecordBatch::try_new(
        vpc_cidrs_schema(),
        vec![
            s(cidrs.iter().map(|(v, _)| Some(v.to_string())).collect()),
            s(cidrs.iter().map(|(_, c)| Some(c.to_string())).collect()),
        ],
    )?;
    for (name, batch) in [
        ("subnets", subnets),
        ("enis", enis),
        ("eni_ips", eni_ips),
        ("eni_prefixes", eni_prefixes),
        ("vpc_cidrs", vpc_cidrs),
    ] {
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
