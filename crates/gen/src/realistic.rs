//! The realistic shape: several VPCs, about 1,000 ENIs, EKS pods, a second flow log over one
//! subnet, and peer sets as large as a real account's.
//!
//! Per 4,000,000 records (seed 1, defaults) it writes about: 1,008 ENIs in 3 VPCs, 150k
//! internet talkers and 20k scanners as sources and destinations, 600k distinct address pairs
//! and 400k rejected (source, port, protocol, ENI) groups. The data set's cardinalities are
//! measured, not assumed, wherever they are reported (benches/BENCHMARKS.md).
//!
//! What AWS writes for a pod on a node ENI is modelled as AWS documents it: the node ENI's
//! records show the node's primary address in `srcaddr` (egress) or `dstaddr` (ingress), and
//! `pkt-srcaddr`/`pkt-dstaddr` show the pod's; the remote end of a record shows the packet's
//! own address.

use crate::{
    ACCOUNT, Eni, GenError, GenOptions, Object, Rec, Rng, Subnet, Totals, io, object_path,
    write_inventory, write_rec,
};
use std::collections::HashSet;
use std::io::Write;

/// VPCs, each with one subnet per availability zone.
const VPCS: usize = 3;
/// Flow log IDs: one per VPC, then the subnet-level one over VPC 0's first subnet.
const VPC_FLOW_LOGS: [&str; VPCS] = [
    "fl-0123456789abcd000",
    "fl-0123456789abcd001",
    "fl-0123456789abcd002",
];
const SUBNET_FLOW_LOG: &str = "fl-0123456789abcd100";
/// Ports that services listen on inside the VPCs.
const SERVICE_PORTS: [u32; 8] = [443, 80, 5432, 6379, 8080, 9092, 3306, 27017];
/// Ports that scanners try across hosts.
const SCANNED_PORTS: [u32; 16] = [
    22, 23, 53, 80, 123, 161, 443, 445, 1433, 1900, 3306, 3389, 5432, 6379, 8080, 9200,
];

fn subnets() -> Vec<Subnet> {
    let azs = [
        ("use1-az1", "us-east-1a"),
        ("use1-az2", "us-east-1b"),
        ("use1-az4", "us-east-1c"),
    ];
    let mut out = Vec::new();
    for v in 0..VPCS {
        for (s, (az_id, az)) in azs.into_iter().enumerate() {
            out.push(Subnet {
                id: format!("subnet-0{v:02x}{s:02x}0000aaaabbbbcccc"),
                az_id,
                az,
                vpc: format!("vpc-0a1b2c3d4e5f607{v:02x}"),
                cidr: format!("10.{v}.{}.0/22", 4 * s),
                resolver: format!("10.{v}.{}.2", 4 * s),
            });
        }
    }
    out
}

/// The address at `offset` in the /22 of subnet `s` of VPC `v`.
fn addr(v: usize, s: usize, offset: usize) -> String {
    format!("10.{v}.{}.{}", 4 * s + offset / 256, offset % 256)
}

fn enis(per_az: usize, subnets: &[Subnet]) -> Vec<Eni> {
    let per_az = per_az.clamp(1, 500);
    let mut out = Vec::new();
    for (si, _) in subnets.iter().enumerate() {
        let (v, s) = (si / 3, si % 3);
        for i in 0..per_az {
            let n = si * per_az + i;
            out.push(Eni {
                id: format!("eni-{n:017x}"),
                instance: format!("i-{n:017x}"),
                subnet: si,
                ip: addr(v, s, 10 + i),
                secondary: addr(v, s, 512 + i),
                node: n.is_multiple_of(2),
            });
        }
    }
    out
}

/// The `k`-th address of a pool spread over the /8s in `first`.
fn pool_address(k: u64, first: &[u64]) -> String {
    let n = first.len() as u64;
    let rest = k / n;
    format!(
        "{}.{}.{}.{}",
        first[(k % n) as usize],
        (rest >> 16) & 255,
        (rest >> 8) & 255,
        rest & 255
    )
}

/// The `k`-th internet talker: public addresses in ranges that cloud and CDN hosts use.
fn talker(k: u64) -> String {
    pool_address(k, &[3, 13, 18, 23, 34, 35, 44, 52, 54, 99])
}

/// The `k`-th scanner, in ranges apart from the talkers'.
fn scanner(k: u64) -> String {
    pool_address(k, &[45, 80, 89, 185, 193, 194])
}

/// Heavy-tailed pick in 0..n: low values far more often (density ~ 1/sqrt(x)).
fn skewed(rng: &mut Rng, n: u64) -> u64 {
    let u = rng.unit();
    ((n as f64 * u * u) as u64).min(n.saturating_sub(1))
}

/// Pareto-tailed conversation size in bytes, at least 40, at most 4 GB.
fn heavy_bytes(rng: &mut Rng) -> u64 {
    let u = rng.unit();
    40 + (600.0 * (u.powf(-1.25) - 1.0)).min(4e9) as u64
}

pub(crate) fn generate(opts: &GenOptions) -> Result<Totals, GenError> {
    let subnets = subnets();
    let enis = enis(opts.enis_per_az.unwrap_or(112), &subnets);
    let per_vpc = enis.len() / VPCS;
    let mut rng = Rng(opts.seed);
    let mut totals = Totals::default();
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    write_inventory(&opts.out, &subnets, &enis).map_err(io(&opts.out))?;
    let talkers = (opts.records / 27).max(50);
    let scanners = (opts.records / 200).max(20);
    let windows = opts.files.max(1) as u64;
    let mut written = 0u64;
    let mut since_bad = 0u64;
    let mut status_records = HashSet::new();
    // Spreads the skewed picks over all VPCs and subnets (a permutation: 7919 is prime and
    // larger than any ENI count).
    let eni_at = |i: u64| ((i * 7919) % enis.len() as u64) as usize;
    for window_i in 0..windows {
        let window = opts.start + window_i as i64 * 300;
        let stamp = chrono::DateTime::from_timestamp(window + 300, 0).unwrap_or_default();
        let mut objects = Vec::with_capacity(VPCS + 1);
        for log in VPC_FLOW_LOGS.iter().chain([&SUBNET_FLOW_LOG]) {
            let path = object_path(&opts.out, log, stamp, rng.next() as u32);
            objects.push(Object::create(path, opts.format)?);
        }
        let target = opts.records * (window_i + 1) / windows;
        while written < target {
            let ai = eni_at(skewed(&mut rng, enis.len() as u64));
            let a = &enis[ai];
            let sa = &subnets[a.subnet];
            let start = window + rng.below(240) as i64;
            let bytes = heavy_bytes(&mut rng);
            let packets = 1 + bytes / 1200 + rng.below(3);
            let ephemeral = 32768 + rng.below(28000) as u32;
            let kind = rng.below(100);
            let base = Rec {
                eni: a,
                sub: sa,
                src: &a.ip,
                dst: &a.ip,
                pkt_src: None,
                pkt_dst: None,
                srcport: ephemeral,
                dstport: 443,
                protocol: 6,
                packets,
                bytes,
                start,
                action: "ACCEPT",
                tcp_flags: 3,
                egress: true,
                traffic_path: None,
                status: "OK",
            };
            let peer: String;
            let mut recs: Vec<Rec<'_>> = Vec::with_capacity(2);
            if kind < 40 {
                // A conversation inside a VPC, logged by both ENIs. A node's end is one of its
                // pods half of the time.
                let vpc = ai / per_vpc;
                let b = loop {
                    let b = &enis[vpc * per_vpc + rng.below(per_vpc as u64) as usize];
                    if b.id != a.id {
                        break b;
                    }
                };
                let sb = &subnets[b.subnet];
                let a_pod = a.node && rng.below(2) == 0;
                let b_pod = b.node && rng.below(2) == 0;
                let src_end = if a_pod { &a.secondary } else { &a.ip };
                let dst_end = if b_pod { &b.secondary } else { &b.ip };
                let port = SERVICE_PORTS[rng.below(SERVICE_PORTS.len() as u64) as usize];
                recs.push(Rec {
                    dst: dst_end,
                    pkt_src: a_pod.then_some(src_end.as_str()),
                    dstport: port,
                    traffic_path: Some(1),
                    ..base
                });
                recs.push(Rec {
                    eni: b,
                    sub: sb,
                    src: src_end,
                    dst: &b.ip,
                    pkt_dst: b_pod.then_some(dst_end.as_str()),
                    dstport: port,
                    egress: false,
                    ..base
                });
                if sa.az_id != sb.az_id {
                    *totals
                        .cross_az
                        .entry(format!("{}|{}", sa.az_id, sb.az_id))
                        .or_default() += bytes;
                }
            } else if kind < 60 {
                peer = talker(skewed(&mut rng, talkers));
                recs.push(Rec {
                    dst: &peer,
                    tcp_flags: 19,
                    traffic_path: Some(8),
                    ..base
                });
            } else if kind < 72 {
                peer = talker(skewed(&mut rng, talkers));
                recs.push(Rec {
                    src: &peer,
                    dst: &a.ip,
                    egress: false,
                    ..base
                });
            } else if kind < 95 {
                // Scanners: some sweep the ports of one host, some one port across hosts,
                // the rest try common ports anywhere.
                let k = skewed(&mut rng, scanners);
                peer = scanner(k);
                let (eni, port) = match k % 3 {
                    0 => (eni_at(k), 1 + rng.below(1024) as u32),
                    1 => (
                        rng.below(enis.len() as u64) as usize,
                        SCANNED_PORTS[(k / 3) as usize % SCANNED_PORTS.len()],
                    ),
                    _ => (
                        rng.below(enis.len() as u64) as usize,
                        SCANNED_PORTS[rng.below(SCANNED_PORTS.len() as u64) as usize],
                    ),
                };
                let t = &enis[eni];
                let udp = matches!(port, 53 | 123 | 161 | 1900);
                recs.push(Rec {
                    eni: t,
                    sub: &subnets[t.subnet],
                    src: &peer,
                    dst: &t.ip,
                    dstport: port,
                    protocol: if udp { 17 } else { 6 },
                    packets: 1,
                    bytes: 40 + rng.below(20),
                    action: "REJECT",
                    tcp_flags: if udp { 0 } else { 2 },
                    egress: false,
                    ..base
                });
            } else if kind < 98 {
                // DNS to the reserved resolver address of another zone's subnet.
                let other = &subnets[(a.subnet / 3) * 3 + (a.subnet + 1) % 3];
                let small = 60 + rng.below(400);
                totals.reserved_bytes += small;
                recs.push(Rec {
                    dst: &other.resolver,
                    dstport: 53,
                    protocol: 17,
                    packets: 1,
                    bytes: small,
                    tcp_flags: 0,
                    traffic_path: Some(1),
                    ..base
                });
            } else {
                // One NODATA/SKIPDATA record per ENI and interval, as AWS writes them.
                let status = if kind == 98 { "NODATA" } else { "SKIPDATA" };
                if !status_records.insert((ai, start)) {
                    continue;
                }
                recs.push(Rec {
                    src: "-",
                    dst: "-",
                    srcport: 0,
                    dstport: 0,
                    protocol: 0,
                    packets: 0,
                    bytes: 0,
                    action: "-",
                    tcp_flags: 0,
                    egress: false,
                    status,
                    ..base
                });
            }
            for r in &recs {
                // VPC 0's first subnet is also covered by a subnet-level flow log.
                let vpc = r.eni.subnet / 3;
                let logs: &[usize] = if r.eni.subnet == 0 {
                    &[0, VPCS]
                } else {
                    &[vpc]
                };
                for &o in logs {
                    let obj = &mut objects[o];
                    write_rec(&mut obj.w, opts.format, r).map_err(io(&obj.path))?;
                }
                totals.count(r, logs.len() as u64);
                written += 1;
                since_bad += 1;
                if opts.bad_every > 0 && since_bad >= opts.bad_every {
                    since_bad = 0;
                    let obj = &mut objects[vpc];
                    writeln!(obj.w, "2 {ACCOUNT} this line is not a record")
                        .map_err(io(&obj.path))?;
                    totals.bad_lines += 1;
                }
            }
        }
        for obj in objects {
            obj.finish()?;
            totals.files += 1;
        }
    }
    Ok(totals)
}
