//! A generator of realistic VPC flow-log data whose totals are known by construction.
//!
//! It lays gzipped text objects out as AWS does in S3
//! (`AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{mm}/{dd}/{account}_vpcflowlogs_{region}_{fl-id}_{time}_{hash}.log.gz`,
//! one object per 5-minute window, each with its header line) and writes beside them the
//! inventory that `aws ec2 describe-subnets` / `describe-network-interfaces` would print and a
//! `totals.json` with the answers the reports must give.
//!
//! Two shapes (`Shape`):
//! - `Realistic` (the default) is shaped like a real account's VPCs, at any size: three VPCs
//!   with subnets in three availability zones and about 1,000 instance ENIs, half of them EKS
//!   nodes whose pods send from secondary addresses (`pkt-srcaddr`/`pkt-dstaddr` name the pod,
//!   `srcaddr`/`dstaddr` the node, as AWS logs them); a second, subnet-level flow log over one
//!   subnet, so those ENIs' records arrive twice; heavy-tailed internet talkers (a pool of
//!   records/27 addresses) and conversation sizes; scanners (records/200) sweeping ports of one
//!   host, one port across hosts, or common ports at random. See `realistic.rs`.
//! - `Small`: one VPC, 12 ENIs, 50 internet peers and 40 scanners: tiny cardinalities, for
//!   tests that want to read their data by eye.
//!
//! Traffic in both is a mix of ENI-to-ENI conversations (logged on both ends: egress at the
//! sender, ingress at the receiver), internet egress and ingress, rejected scans from the
//! internet, DNS queries to the VPC's reserved resolver addresses, and NODATA / SKIPDATA
//! records.
#![deny(missing_docs)]

mod realistic;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The account that owns everything generated.
pub const ACCOUNT: &str = "123456789012";
/// The region of everything generated.
pub const REGION: &str = "us-east-1";
/// The VPC of everything generated.
pub const VPC: &str = "vpc-0a1b2c3d4e5f60718";
/// The flow-log ID in the object names.
pub const FLOW_LOG_ID: &str = "fl-0123456789abcdef0";
/// The VPC's CIDR.
pub const VPC_CIDR: &str = "10.0.0.0/16";

/// The record layout of the generated objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenFormat {
    /// AWS's default format (14 version-2 fields): no AZ, no direction.
    V2,
    /// The 29 fields up to version 5, in the order of AWS's example, with `az-id` and
    /// `flow-direction`.
    V5,
}

const V5_HEADER: &str = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status";
const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// The shape of the generated traffic (see the crate's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Three VPCs, about 1,000 ENIs, pods, two flow logs over one subnet, large peer sets.
    Realistic,
    /// One VPC, 12 ENIs, a few dozen peers.
    Small,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Records to write, about (the last conversation may add one more).
    pub records: u64,
    /// Objects to write, one per 5-minute window.
    pub files: u32,
    /// Unix seconds of the first window.
    pub start: i64,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// Record layout.
    pub format: GenFormat,
    /// Traffic shape.
    pub shape: Shape,
    /// Instance ENIs per availability zone (and per VPC); `None`: the shape's default (112 for
    /// `Realistic`, which makes 1,008 ENIs; 4 for `Small`).
    pub enis_per_az: Option<usize>,
    /// Write a malformed line after every this many records (0: never).
    pub bad_every: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            out: PathBuf::from("generated"),
            records: 100_000,
            files: 12,
            start: 1_764_547_200, // 2025-12-01T00:00:00Z
            seed: 1,
            format: GenFormat::V5,
            shape: Shape::Realistic,
            enis_per_az: None,
            bad_every: 0,
        }
    }
}

/// Traffic of one ENI, as the `interface-traffic` report must give it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct EniTotals {
    /// Bytes of OK records into the ENI (accepted and rejected).
    pub bytes_in: u64,
    /// Bytes of OK records out of the ENI.
    pub bytes_out: u64,
    /// Packets in.
    pub packets_in: u64,
    /// Packets out.
    pub packets_out: u64,
    /// All records of the ENI, NODATA and SKIPDATA included.
    pub records: u64,
    /// REJECT records.
    pub rejected_records: u64,
}

/// Rejected traffic from one source to one port of one ENI.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RejectTotals {
    /// Records.
    pub records: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The answers, by construction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Records written: the lines an ingest reads, duplicates included.
    pub records: u64,
    /// Of `records`, the copies that a second flow log over the same ENI wrote (each is one
    /// observation with a record of the first: reports count it once).
    pub duplicate_records: u64,
    /// Malformed lines written.
    pub bad_lines: u64,
    /// Objects written.
    pub files: u64,
    /// Sum of `bytes` over all records.
    pub bytes: u64,
    /// Per ENI (each observation once).
    pub enis: BTreeMap<String, EniTotals>,
    /// Rejected, keyed `src_ip|dst_port|protocol|interface_id`.
    pub rejected: BTreeMap<String, RejectTotals>,
    /// Bytes that crossed AZs, keyed `src_az|dst_az`, each hop counted once.
    pub cross_az: BTreeMap<String, u64>,
    /// Bytes of egress records to the VPC's reserved addresses (never cross-AZ).
    pub reserved_bytes: u64,
}

/// An I/O error with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct GenError {
    path: PathBuf,
    source: std::io::Error,
}

struct Eni {
    id: String,
    instance: String,
    subnet: usize,
    ip: String,
    secondary: String,
    /// An EKS node: its pods send and receive on `secondary`.
    node: bool,
}

struct Subnet {
    id: String,
    az_id: &'static str,
    az: &'static str,
    vpc: String,
    cidr: String,
    /// The resolver's reserved address (base + 2).
    resolver: String,
}

/// splitmix64: small, fast and good enough for synthetic traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

fn subnets() -> Vec<Subnet> {
    [
        ("use1-az1", "us-east-1a", 1),
        ("use1-az2", "us-east-1b", 2),
        ("use1-az4", "us-east-1c", 3),
    ]
    .into_iter()
    .map(|(az_id, az, octet)| Subnet {
        id: format!("subnet-0{octet}{octet}{octet}{octet}aaaabbbbcccc"),
        az_id,
        az,
        vpc: VPC.to_string(),
        cidr: format!("10.0.{octet}.0/24"),
        resolver: format!("10.0.{octet}.2"),
    })
    .collect()
}

fn enis(per_az: usize, subnets: &[Subnet]) -> Vec<Eni> {
    let mut out = Vec::new();
    for (s, _) in subnets.iter().enumerate() {
        for i in 0..per_az {
            let n = s * per_az + i;
            out.push(Eni {
                id: format!("eni-{n:017x}"),
                instance: format!("i-{n:017x}"),
                subnet: s,
                ip: format!("10.0.{}.{}", s + 1, 10 + i),
                secondary: format!("10.0.{}.{}", s + 1, 100 + i),
                node: false,
            });
        }
    }
    out
}

/// One record, in field terms.
#[derive(Clone, Copy)]
struct Rec<'a> {
    eni: &'a Eni,
    sub: &'a Subnet,
    src: &'a str,
    dst: &'a str,
    /// pkt-srcaddr and pkt-dstaddr where they differ from srcaddr and dstaddr (a pod's).
    pkt_src: Option<&'a str>,
    pkt_dst: Option<&'a str>,
    srcport: u32,
    dstport: u32,
    protocol: u32,
    packets: u64,
    bytes: u64,
    start: i64,
    action: &'static str,
    tcp_flags: u32,
    egress: bool,
    traffic_path: Option<u32>,
    status: &'static str,
}

fn write_rec(w: &mut impl Write, f: GenFormat, r: &Rec<'_>) -> std::io::Result<()> {
    let end = r.start + 60;
    let ok = r.status == "OK";
    match (f, ok) {
        (GenFormat::V2, true) => writeln!(
            w,
            "2 {ACCOUNT} {} {} {} {} {} {} {} {} {} {end} {} OK",
            r.eni.id,
            r.src,
            r.dst,
            r.srcport,
            r.dstport,
            r.protocol,
            r.packets,
            r.bytes,
            r.start,
            r.action
        ),
        (GenFormat::V2, false) => writeln!(
            w,
            "2 {ACCOUNT} {} - - - - - - - {} {end} - {}",
            r.eni.id, r.start, r.status
        ),
        (GenFormat::V5, true) => {
            let path = r.traffic_path.map_or("-".to_string(), |p| p.to_string());
            writeln!(
                w,
                "5 {} {} {} {} {} {} {end} IPv4 {} {} {ACCOUNT} {} {} {} {} {REGION} {} - - {} {} {} {} - - {path} {} OK",
                r.src,
                r.dst,
                r.srcport,
                r.dstport,
                r.protocol,
                r.start,
                r.packets,
                r.bytes,
                r.sub.vpc,
                r.sub.id,
                r.eni.instance,
                r.eni.id,
                r.sub.az_id,
                r.action,
                r.tcp_flags,
                r.pkt_src.unwrap_or(r.src),
                r.pkt_dst.unwrap_or(r.dst),
                if r.egress { "egress" } else { "ingress" },
            )
        }
        (GenFormat::V5, false) => writeln!(
            w,
            "5 - - - - - {} {end} - - - {ACCOUNT} {} {} {} {} {REGION} {} - - - - - - - - - - {}",
            r.start, r.sub.vpc, r.sub.id, r.eni.instance, r.eni.id, r.sub.az_id, r.status
        ),
    }
}

impl Totals {
    /// Counts one observation, written `copies` times (by that many flow logs).
    fn count(&mut self, r: &Rec<'_>, copies: u64) {
        self.records += copies;
        self.duplicate_records += copies - 1;
        let e = self.enis.entry(r.eni.id.clone()).or_default();
        e.records += 1;
        if r.status != "OK" {
            return;
        }
        self.bytes += r.bytes;
        if r.egress {
            e.bytes_out += r.bytes;
            e.packets_out += r.packets;
        } else {
            e.bytes_in += r.bytes;
            e.packets_in += r.packets;
        }
        if r.action == "REJECT" {
            e.rejected_records += 1;
            let key = format!(
                "{}|{}|{}|{}",
                r.pkt_src.unwrap_or(r.src),
                r.dstport,
                r.protocol,
                r.eni.id
            );
            let t = self.rejected.entry(key).or_default();
            t.records += 1;
            t.packets += r.packets;
            t.bytes += r.bytes;
        }
    }
}

/// Generates the data set; returns its totals (also written to `totals.json`).
pub fn generate(opts: &GenOptions) -> Result<Totals, GenError> {
    let totals = match opts.shape {
        Shape::Realistic => realistic::generate(opts)?,
        Shape::Small => generate_small(opts)?,
    };
    let tp = opts.out.join("totals.json");
    let json = serde_json::to_vec_pretty(&totals).map_err(|e| GenError {
        path: tp.clone(),
        source: e.into(),
    })?;
    std::fs::write(&tp, json).map_err(io(&tp))?;
    Ok(totals)
}

/// Maps an I/O error to a `GenError` naming `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenError + use<> {
    let path = path.to_path_buf();
    move |source| GenError { path, source }
}

/// The object key's name part for a window ending at `stamp`.
fn object_path(
    out: &Path,
    flow_log: &str,
    stamp: chrono::DateTime<chrono::Utc>,
    hash: u32,
) -> PathBuf {
    out.join(format!(
        "AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{}/{ACCOUNT}_vpcflowlogs_{REGION}_{flow_log}_{}_{hash:08x}.log.gz",
        stamp.format("%Y/%m/%d"),
        stamp.format("%Y%m%dT%H%MZ"),
    ))
}

/// A gzipped object being written, header first.
struct Object {
    path: PathBuf,
    w: std::io::BufWriter<GzEncoder<std::fs::File>>,
}

impl Object {
    fn create(path: PathBuf, format: GenFormat) -> Result<Self, GenError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let f = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w =
            std::io::BufWriter::with_capacity(1 << 16, GzEncoder::new(f, Compression::fast()));
        let header = match format {
            GenFormat::V2 => V2_HEADER,
            GenFormat::V5 => V5_HEADER,
        };
        writeln!(w, "{header}").map_err(io(&path))?;
        Ok(Self { path, w })
    }

    fn finish(self) -> Result<(), GenError> {
        let path = self.path;
        let gz = self.w.into_inner().map_err(|e| GenError {
            path: path.clone(),
            source: e.into_error(),
        })?;
        gz.finish().map_err(io(&path))?;
        Ok(())
    }
}

fn generate_small(opts: &GenOptions) -> Result<Totals, GenError> {
    let subnets = subnets();
    let enis = enis(opts.enis_per_az.unwrap_or(4).max(1), &subnets);
    let mut rng = Rng(opts.seed);
    let mut totals = Totals::default();
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    write_inventory(&opts.out, &subnets, &enis).map_err(io(&opts.out))?;
    let files = opts.files.max(1) as u64;
    let mut written = 0u64;
    let mut since_bad = 0u64;
    let public_peers: Vec<String> = (0..50)
        .map(|i| format!("52.95.{}.{}", i / 10, 10 + i))
        .collect();
    let scanners: Vec<String> = (0..40).map(|i| format!("203.0.113.{}", 1 + i)).collect();
    let scan_ports = [22u32, 23, 445, 1433, 3306, 3389, 5432, 6379, 8080, 9200];
    let mut status_records = std::collections::HashSet::new();
    for file in 0..files {
        let window = opts.start + file as i64 * 300;
        let stamp = chrono::DateTime::from_timestamp(window + 300, 0).unwrap_or_default();
        let path = object_path(&opts.out, FLOW_LOG_ID, stamp, rng.next() as u32);
        let target = opts.records * (file + 1) / files;
        let mut obj = Object::create(path, opts.format)?;
        while written < target {
            let ai = rng.below(enis.len() as u64) as usize;
            let a = &enis[ai];
            let sa = &subnets[a.subnet];
            let start = window + rng.below(240) as i64;
            let bytes = 40 + rng.below(200_000);
            let packets = 1 + bytes / 1200 + rng.below(3);
            let ephemeral = 32768 + rng.below(28000) as u32;
            let kind = rng.below(100);
            let mut recs: Vec<Rec<'_>> = Vec::with_capacity(2);
            if kind < 45 {
                let b = loop {
                    let b = &enis[rng.below(enis.len() as u64) as usize];
                    if b.id != a.id {
                        break b;
                    }
                };
                let sb = &subnets[b.subnet];
                let port = [443u32, 5432, 6379, 8080][rng.below(4) as usize];
                let mk = |eni, sub, egress| Rec {
                    eni,
                    sub,
                    src: &a.ip,
                    dst: &b.ip,
                    pkt_src: None,
                    pkt_dst: None,
                    srcport: ephemeral,
                    dstport: port,
                    protocol: 6,
                    packets,
                    bytes,
                    start,
                    action: "ACCEPT",
                    tcp_flags: 3,
                    egress,
                    traffic_path: egress.then_some(1),
                    status: "OK",
                };
                recs.push(mk(a, sa, true));
                recs.push(mk(b, sb, false));
                if sa.az_id != sb.az_id {
                    *totals
                        .cross_az
                        .entry(format!("{}|{}", sa.az_id, sb.az_id))
                        .or_default() += bytes;
                }
            } else if kind < 65 {
                let peer = &public_peers[rng.below(public_peers.len() as u64) as usize];
                recs.push(Rec {
                    eni: a,
                    sub: sa,
                    src: &a.ip,
                    dst: peer,
                    pkt_src: None,
                    pkt_dst: None,
                    srcport: ephemeral,
                    dstport: 443,
                    protocol: 6,
                    packets,
                    bytes,
                    start,
                    action: "ACCEPT",
                    tcp_flags: 19,
                    egress: true,
                    traffic_path: Some(8),
                    status: "OK",
                });
            } else if kind < 85 {
                let peer = &public_peers[rng.below(public_peers.len() as u64) as usize];
                recs.push(Rec {
                    eni: a,
                    sub: sa,
                    src: peer,
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
                    egress: false,
                    traffic_path: None,
                    status: "OK",
                });
            } else if kind < 95 {
                let scanner = &scanners[rng.below(scanners.len() as u64) as usize];
                let port = scan_ports[rng.below(scan_ports.len() as u64) as usize];
                let protocol = if port == 23 { 17 } else { 6 };
                recs.push(Rec {
                    eni: a,
                    sub: sa,
                    src: scanner,
                    dst: &a.ip,
                    pkt_src: None,
                    pkt_dst: None,
                    srcport: ephemeral,
                    dstport: port,
                    protocol,
                    packets: 1,
                    bytes: 40 + rng.below(20),
                    start,
                    action: "REJECT",
                    tcp_flags: 2,
                    egress: false,
                    traffic_path: None,
                    status: "OK",
                });
            } else if kind < 98 {
                // DNS to the reserved resolver address (base + 2) of another zone's subnet.
                let other = &subnets[(a.subnet + 1) % subnets.len()];
                let resolver = &other.resolver;
                let small = 60 + rng.below(400);
                totals.reserved_bytes += small;
                recs.push(Rec {
                    eni: a,
                    sub: sa,
                    src: &a.ip,
                    dst: resolver,
                    pkt_src: None,
                    pkt_dst: None,
                    srcport: ephemeral,
                    dstport: 53,
                    protocol: 17,
                    packets: 1,
                    bytes: small,
                    start,
                    action: "ACCEPT",
                    tcp_flags: 0,
                    egress: true,
                    traffic_path: Some(1),
                    status: "OK",
                });
            } else {
                // One NODATA/SKIPDATA record per ENI and interval, as AWS writes them; two
                // identical records would be indistinguishable from a duplicate delivery.
                let status = if kind == 98 { "NODATA" } else { "SKIPDATA" };
                if !status_records.insert((ai, start)) {
                    continue;
                }
                recs.push(Rec {
                    eni: a,
                    sub: sa,
                    src: "-",
                    dst: "-",
                    pkt_src: None,
                    pkt_dst: None,
                    srcport: 0,
                    dstport: 0,
                    protocol: 0,
                    packets: 0,
                    bytes: 0,
                    start,
                    action: "-",
                    tcp_flags: 0,
                    egress: false,
                    traffic_path: None,
                    status,
                });
            }
            for r in &recs {
                let (w, path) = (&mut obj.w, &obj.path);
                write_rec(w, opts.format, r).map_err(io(path))?;
                totals.count(r, 1);
                written += 1;
                since_bad += 1;
                if opts.bad_every > 0 && since_bad >= opts.bad_every {
                    since_bad = 0;
                    writeln!(w, "2 {ACCOUNT} this line is not a record").map_err(io(path))?;
                    totals.bad_lines += 1;
                }
            }
        }
        obj.finish()?;
        totals.files += 1;
    }
    Ok(totals)
}

fn write_inventory(out: &Path, subnets: &[Subnet], enis: &[Eni]) -> std::io::Result<()> {
    let inv = out.join("inventory");
    std::fs::create_dir_all(&inv)?;
    let subnets_json: Vec<_> = subnets
        .iter()
        .map(|s| {
            serde_json::json!({
                "AvailabilityZone": s.az,
                "AvailabilityZoneId": s.az_id,
                "CidrBlock": s.cidr,
                "SubnetId": s.id,
                "VpcId": s.vpc,
                "OwnerId": ACCOUNT,
                "State": "available",
                "Ipv6CidrBlockAssociationSet": [],
            })
        })
        .collect();
    let mut enis_json: Vec<_> = enis
        .iter()
        .map(|e| {
            let s = &subnets[e.subnet];
            serde_json::json!({
                "AvailabilityZone": s.az,
                "Description": if e.node {
                    format!("aws-K8S-{}", e.instance)
                } else {
                    format!("Primary network interface of {}", e.instance)
                },
                "InterfaceType": "interface",
                "NetworkInterfaceId": e.id,
                "OwnerId": ACCOUNT,
                "PrivateIpAddress": e.ip,
                "PrivateIpAddresses": [
                    {"Primary": true, "PrivateIpAddress": e.ip},
                    {"Primary": false, "PrivateIpAddress": e.secondary},
                ],
                "RequesterManaged": false,
                "Status": "in-use",
                "SubnetId": s.id,
                "VpcId": s.vpc,
                "Attachment": {"InstanceId": e.instance, "Status": "attached", "DeviceIndex": 0},
            })
        })
        .collect();
    // An ENI that never carries traffic: a clean-up candidate.
    enis_json.push(serde_json::json!({
        "AvailabilityZone": subnets[0].az,
        "Description": "detached spare interface",
        "InterfaceType": "interface",
        "NetworkInterfaceId": "eni-0idle000000000000",
        "OwnerId": ACCOUNT,
        "PrivateIpAddress": "10.0.1.250",
        "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.1.250"}],
        "RequesterManaged": false,
        "Status": "available",
        "SubnetId": subnets[0].id,
        "VpcId": subnets[0].vpc,
    }));
    std::fs::write(
        inv.join("describe-subnets.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "Subnets": subnets_json }))?,
    )?;
    std::fs::write(
        inv.join("describe-network-interfaces.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "NetworkInterfaces": enis_json }))?,
    )?;
    Ok(())
}
