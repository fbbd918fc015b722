//! Who owns an address: the inventory as lookups, scoped by VPC.
//!
//! Every lookup takes the VPC of the record that names the address. The same private
//! address in two VPCs is two hosts; an address outside the record's own VPC space is looked
//! up in the other VPCs (reached through peering or a Transit Gateway) only where exactly one
//! of them holds it. An ENI owns every address it has: primary and secondary private IPv4,
//! IPv6, prefix-delegated ranges, and its public or Elastic IPv4 (public addresses are unique,
//! so they need no VPC).

use crate::inventory::{Inventory, is_private_ip};
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// What the inventory says of an ENI, for lookups.
#[derive(Debug, Clone)]
pub struct EniFacts {
    /// `eni-...`
    pub interface_id: String,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// Its AZ ID.
    pub az_id: Option<String>,
    /// `interface`, `nat_gateway`, ...
    pub interface_type: Option<String>,
}

#[derive(Debug, Clone)]
struct SubnetRange {
    vpc_id: String,
    net: IpNet,
    az_id: Option<String>,
}

/// Where an address sits, as the reports class it (analytics §7 rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Inside the record's own VPC (its CIDRs, or owned by one of its ENIs).
    OwnVpc,
    /// Inside another VPC of the inventory (peering, Transit Gateway).
    OtherVpc,
    /// A public or Elastic IP of the organisation.
    OrgPublic,
    /// A private range (RFC 1918, 100.64/10, link-local, ULA) the inventory does not place.
    Private,
    /// Everything else.
    Internet,
}

impl AddressClass {
    /// Its name in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnVpc => "own_vpc",
            Self::OtherVpc => "other_vpc",
            Self::OrgPublic => "org_public",
            Self::Private => "private",
            Self::Internet => "internet",
        }
    }
}

/// The inventory's addresses, indexed.
#[derive(Debug, Default)]
pub struct AddressBook {
    enis: Vec<EniFacts>,
    /// Exact private and IPv6 addresses: the ENIs (any VPC) that hold each.
    exact: HashMap<IpAddr, Vec<usize>>,
    /// Public and Elastic IPs: the ENI they are associated with, if any.
    public: HashMap<IpAddr, Option<usize>>,
    /// Prefix-delegated ranges.
    prefixes: Vec<(IpNet, usize)>,
    subnets: Vec<SubnetRange>,
    /// Each VPC's address space: its CIDRs and its subnets' CIDRs.
    space: Vec<(String, IpNet)>,
}

impl AddressBook {
    /// Indexes `inv`.
    pub fn new(inv: &Inventory) -> Self {
        let mut book = Self::default();
        let az_of: HashMap<&str, &str> = inv
            .subnets
            .iter()
            .filter_map(|s| Some((s.subnet_id.as_str(), s.az_id.as_deref()?)))
            .collect();
        for s in &inv.subnets {
            let nets = s
                .cidr
                .map(IpNet::V4)
                .into_iter()
                .chain(s.ipv6_cidrs.iter().copied().map(IpNet::V6));
            for net in nets {
                book.subnets.push(SubnetRange {
                    vpc_id: s.vpc_id.clone(),
                    net,
                    az_id: s.az_id.clone(),
                });
                book.space.push((s.vpc_id.clone(), net));
            }
        }
        for v in &inv.vpcs {
            for net in &v.cidrs {
                book.space.push((v.vpc_id.clone(), *net));
            }
        }
        for e in &inv.enis {
            let i = book.enis.len();
            book.enis.push(EniFacts {
                interface_id: e.interface_id.clone(),
                vpc_id: e.vpc_id.clone(),
                az_id: e
                    .subnet_id
                    .as_deref()
                    .and_then(|s| az_of.get(s))
                    .map(|s| s.to_string()),
                interface_type: e.interface_type.clone(),
            });
            for (ip, _) in &e.ips {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    book.exact.entry(ip).or_default().push(i);
                }
            }
            for ip in &e.public_ips {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    book.public.insert(ip, Some(i));
                }
            }
            book.prefixes.extend(e.prefixes.iter().map(|p| (*p, i)));
        }
        for ip in &inv.elastic_ips {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                book.public.entry(ip).or_insert(None);
            }
        }
        book
    }

    /// True when the inventory holds no address at all.
    pub fn is_empty(&self) -> bool {
        self.enis.is_empty() && self.subnets.is_empty() && self.public.is_empty()
    }

    fn in_vpc(&self, i: usize, vpc: &str) -> bool {
        self.enis[i].vpc_id.as_deref() == Some(vpc)
    }

    /// Whether `ip` lies in the address space of `vpc`.
    fn in_space(&self, vpc: &str, ip: IpAddr) -> bool {
        self.space
            .iter()
            .any(|(v, net)| v == vpc && net.contains(&ip))
    }

    /// The ENI that owns `ip`, seen from a record of `vpc` (`None`: the record names no VPC).
    pub fn owner(&self, vpc: Option<&str>, ip: IpAddr) -> Option<&EniFacts> {
        if let Some(owner) = self.public.get(&ip) {
            return owner.map(|i| &self.enis[i]);
        }
        let exact = self.exact.get(&ip).map(Vec::as_slice).unwrap_or_default();
        let ranged = || {
            self.prefixes
                .iter()
                .filter(|(net, _)| net.contains(&ip))
                .map(|(_, i)| *i)
        };
        if let Some(vpc) = vpc {
            if let Some(i) = exact.iter().find(|i| self.in_vpc(**i, vpc)) {
                return Some(&self.enis[*i]);
            }
            if let Some(i) = ranged()
                .filter(|i| self.in_vpc(*i, vpc))
                .max_by_key(|i| self.prefix_len_of(*i, ip))
            {
                return Some(&self.enis[i]);
            }
            if self.in_space(vpc, ip) {
                // An address of the record's own VPC that no ENI of it holds.
                return None;
            }
        }
        // Another VPC (or an unknown one): only an owner that no other VPC shares.
        let mut found: Vec<usize> = exact.to_vec();
        if found.is_empty() {
            found = ranged().collect();
        }
        let vpcs: HashSet<Option<&str>> = found
            .iter()
            .map(|i| self.enis[*i].vpc_id.as_deref())
            .collect();
        (vpcs.len() == 1)
            .then(|| found.first().map(|i| &self.enis[*i]))
            .flatten()
    }

    fn prefix_len_of(&self, i: usize, ip: IpAddr) -> u8 {
        self.prefixes
            .iter()
            .filter(|(net, j)| *j == i && net.contains(&ip))
            .map(|(net, _)| net.prefix_len())
            .max()
            .unwrap_or(0)
    }

    /// The subnet range holding `ip`, seen from a record of `vpc`: the longest match in that
    /// VPC, else (outside its space) the longest match of the one other VPC that holds it.
    fn subnet(&self, vpc: Option<&str>, ip: IpAddr) -> Option<&SubnetRange> {
        let longest = |f: &dyn Fn(&SubnetRange) -> bool| {
            self.subnets
                .iter()
                .filter(|s| s.net.contains(&ip) && f(s))
                .max_by_key(|s| s.net.prefix_len())
        };
        if let Some(vpc) = vpc {
            if let Some(s) = longest(&|s| s.vpc_id == vpc) {
                return Some(s);
            }
            if self.in_space(vpc, ip) {
                return None;
            }
        }
        let vpcs: HashSet<&str> = self
            .subnets
            .iter()
            .filter(|s| s.net.contains(&ip))
            .map(|s| s.vpc_id.as_str())
            .collect();
        if vpcs.len() == 1 {
            longest(&|_| true)
        } else {
            None
        }
    }

    /// The AZ ID of `ip` and where it came from (`eni_inventory` or `subnet_cidr`).
    pub fn az(&self, vpc: Option<&str>, ip: IpAddr) -> Option<(&str, &'static str)> {
        if let Some(az) = self.owner(vpc, ip).and_then(|e| e.az_id.as_deref()) {
            return Some((az, "eni_inventory"));
        }
        self.subnet(vpc, ip)
            .and_then(|s| s.az_id.as_deref())
            .map(|az| (az, "subnet_cidr"))
    }

    /// Whether `ip` is one of the addresses AWS reserves in its IPv4 subnet (the first four
    /// and the last: the VPC router and DNS resolver among them).
    pub fn is_reserved(&self, vpc: Option<&str>, ip: IpAddr) -> bool {
        match (self.subnet(vpc, ip).map(|s| s.net), ip) {
            (Some(IpNet::V4(net)), IpAddr::V4(v4)) => {
                let offset = u32::from(v4).wrapping_sub(u32::from(net.network()));
                offset < 4 || v4 == net.broadcast()
            }
            _ => false,
        }
    }

    /// Where `ip` sits, seen from a record of `vpc` (rule 5: a VPC's own space and the
    /// organisation's public IPs are not the internet).
    pub fn class(&self, vpc: Option<&str>, ip: IpAddr) -> AddressClass {
        if self.public.contains_key(&ip) {
            return AddressClass::OrgPublic;
        }
        if let Some(vpc) = vpc {
            if self.in_space(vpc, ip) {
                return AddressClass::OwnVpc;
            }
            if let Some(owner) = self.owner(Some(vpc), ip) {
                return if owner.vpc_id.as_deref() == Some(vpc) {
                    AddressClass::OwnVpc
                } else {
                    AddressClass::OtherVpc
                };
            }
            if self.space.iter().any(|(_, net)| net.contains(&ip)) {
                return AddressClass::OtherVpc;
            }
        } else if self.space.iter().any(|(_, net)| net.contains(&ip))
            || self.owner(None, ip).is_some()
        {
            return AddressClass::OwnVpc;
        }
        match is_private_ip_addr(ip) {
            true => AddressClass::Private,
            false => AddressClass::Internet,
        }
    }
}

fn is_private_ip_addr(ip: IpAddr) -> bool {
    is_private_ip(&ip.to_string()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Eni, Subnet, Vpc};

    fn eni(id: &str, vpc: &str, subnet: &str, ips: &[&str]) -> Eni {
        Eni {
            interface_id: id.into(),
            subnet_id: Some(subnet.into()),
            vpc_id: Some(vpc.into()),
            az: None,
            interface_type: Some("interface".into()),
            description: None,
            status: None,
            requester_managed: false,
            instance_id: None,
            ips: ips.iter().map(|ip| (ip.to_string(), false)).collect(),
            public_ips: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    fn subnet(id: &str, vpc: &str, cidr: &str, az: &str) -> Subnet {
        Subnet {
            subnet_id: id.into(),
            vpc_id: vpc.into(),
            cidr: Some(cidr.parse().unwrap()),
            ipv6_cidrs: Vec::new(),
            az_id: Some(az.into()),
            az: None,
            owner_id: None,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn same_address_in_two_vpcs_is_two_hosts() {
        let inv = Inventory {
            subnets: vec![
                subnet("s-a", "vpc-a", "10.0.1.0/24", "use1-az1"),
                subnet("s-b", "vpc-b", "10.0.1.0/24", "use1-az2"),
                subnet("s-c", "vpc-c", "10.9.0.0/24", "use1-az3"),
            ],
            enis: vec![
                eni("eni-a", "vpc-a", "s-a", &["10.0.1.5"]),
                eni("eni-b", "vpc-b", "s-b", &["10.0.1.5"]),
                eni("eni-c", "vpc-c", "s-c", &["10.9.0.7"]),
            ],
            vpcs: vec![Vpc {
                vpc_id: "vpc-a".into(),
                cidrs: vec!["10.0.0.0/16".parse().unwrap()],
            }],
            elastic_ips: vec!["198.51.100.9".into()],
        };
        let book = AddressBook::new(&inv);
        let id = |v, a| book.owner(v, ip(a)).map(|e| e.interface_id.as_str());
        assert_eq!(id(Some("vpc-a"), "10.0.1.5"), Some("eni-a"));
        assert_eq!(id(Some("vpc-b"), "10.0.1.5"), Some("eni-b"));
        // No VPC named: ambiguous, so no owner.
        assert_eq!(id(None, "10.0.1.5"), None);
        // Outside vpc-a's space, held by one other VPC only: reached through peering.
        assert_eq!(id(Some("vpc-a"), "10.9.0.7"), Some("eni-c"));
        // Inside vpc-a's space (10.0.0.0/16) but no ENI: not looked for elsewhere.
        assert_eq!(id(Some("vpc-a"), "10.0.2.9"), None);
        assert_eq!(
            book.az(Some("vpc-b"), ip("10.0.1.77")),
            Some(("use1-az2", "subnet_cidr"))
        );
        assert_eq!(
            book.class(Some("vpc-a"), ip("10.0.2.9")),
            AddressClass::OwnVpc
        );
        assert_eq!(
            book.class(Some("vpc-a"), ip("10.9.0.7")),
            AddressClass::OtherVpc
        );
        assert_eq!(
            book.class(Some("vpc-a"), ip("192.168.0.1")),
            AddressClass::Private
        );
        assert_eq!(
            book.class(Some("vpc-a"), ip("198.51.100.9")),
            AddressClass::OrgPublic
        );
        assert_eq!(
            book.class(Some("vpc-a"), ip("8.8.8.8")),
            AddressClass::Internet
        );
        assert!(book.is_reserved(Some("vpc-a"), ip("10.0.1.2")));
        assert!(!book.is_reserved(Some("vpc-a"), ip("10.0.1.5")));
    }

    #[test]
    fn prefixes_ipv6_and_public_ips_belong_to_their_eni() {
        let mut node = eni("eni-node", "vpc-a", "s-a", &["10.0.1.10", "2600:1f18::10"]);
        node.prefixes = vec![
            "10.0.1.16/28".parse().unwrap(),
            "2600:1f18:0:0:1::/80".parse().unwrap(),
        ];
        node.public_ips = vec!["54.1.2.3".into()];
        let mut s = subnet("s-a", "vpc-a", "10.0.1.0/24", "use1-az1");
        s.ipv6_cidrs = vec!["2600:1f18::/64".parse().unwrap()];
        let inv = Inventory {
            subnets: vec![s],
            enis: vec![node],
            ..Default::default()
        };
        let book = AddressBook::new(&inv);
        for a in [
            "10.0.1.10",
            "10.0.1.20",
            "2600:1f18::10",
            "2600:1f18::1:0:0:5",
            "54.1.2.3",
        ] {
            assert_eq!(
                book.owner(Some("vpc-a"), ip(a))
                    .map(|e| e.interface_id.as_str()),
                Some("eni-node"),
                "{a}"
            );
        }
        // The public IP is found from any VPC.
        assert!(book.owner(Some("vpc-z"), ip("54.1.2.3")).is_some());
        assert_eq!(
            book.class(Some("vpc-a"), ip("2600:1f18::99")),
            AddressClass::OwnVpc
        );
        assert_eq!(
            book.az(Some("vpc-a"), ip("2600:1f18::99")),
            Some(("use1-az1", "subnet_cidr"))
        );
    }
}
