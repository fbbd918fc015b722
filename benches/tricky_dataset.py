"""A small adversarial input for checking benches/duck_reports.py against vpcflow: several VPCs
with overlapping CIDRs, secondary IPs, prefix-delegated pods in pkt-srcaddr, IPv6, public and
Elastic IPs, NAT/endpoint/LB/TGW ENIs, reserved addresses, next hops, sublocations, v2 records
without flow-direction, and three flow logs overlapping on some ENIs (the same records, a v2
copy, observations only one of them holds, a record twice in one flow log). Even seeds also
write describe-vpcs.json and describe-addresses.json.

    python3 benches/tricky_dataset.py OUT [SEED]
    vpcflow ingest OUT/AWSLogs --out OUT/flows
    benches/reports.sh VPCFLOW_BIN OUT/flows PYTHON 2 OUT/inventory
"""
import gzip, json, os, random, sys

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rnd = random.Random(seed)
acct, region = "123456789012", "us-east-1"
subnets = [
    ("subnet-a1", "vpc-a", "10.0.1.0/24", "use1-az1", ["2600:1f18:a:1::/64"]),
    ("subnet-a2", "vpc-a", "10.0.2.0/24", "use1-az2", []),
    ("subnet-a3", "vpc-a", "10.0.3.0/25", "use1-az4", ["2600:1f18:a:3::/64"]),
    ("subnet-b1", "vpc-b", "10.0.1.0/24", "use1-az3", []),
    ("subnet-b2", "vpc-b", "10.9.0.0/24", "use1-az2", []),
    ("subnet-c1", "vpc-c", "10.20.0.0/24", "use1-az1", []),
]
sub = {s[0]: s for s in subnets}
enis = []  # dict per ENI
def eni(i, subnet, ips, typ="interface", v6=(), prefixes=(), public=None, sec_public=None):
    enis.append(dict(id=f"eni-{i:017x}", subnet=subnet, vpc=sub[subnet][1], ips=list(ips), type=typ,
                     v6=list(v6), prefixes=list(prefixes), public=public, sec_public=sec_public))
n = 0
for k in range(6):
    n += 1; eni(n, "subnet-a1", [f"10.0.1.{10+k}", f"10.0.1.{100+k}"], v6=[f"2600:1f18:a:1::{10+k:x}"] if k < 3 else [])
for k in range(5):
    n += 1; eni(n, "subnet-a2", [f"10.0.2.{10+k}", f"10.0.2.{100+k}"], public=f"54.1.2.{k+1}" if k < 2 else None)
n += 1; eni(n, "subnet-a3", ["10.0.3.10"], v6=["2600:1f18:a:3::10"], prefixes=["10.0.3.16/28", "10.0.3.32/28"])  # pod node
n += 1; eni(n, "subnet-a1", ["10.0.1.5"])  # same address as in vpc-b
n += 1; eni(n, "subnet-b1", ["10.0.1.5", "10.0.1.6"])
n += 1; eni(n, "subnet-b2", ["10.9.0.7"])
n += 1; eni(n, "subnet-c1", ["10.20.0.7"])  # only in vpc-c: reached by peering from vpc-a
nat = n + 1; n += 1; eni(n, "subnet-a1", ["10.0.1.200"], typ="nat_gateway", public="3.3.3.3")
n += 1; eni(n, "subnet-a2", ["10.0.2.200"], typ="vpc_endpoint")
n += 1; eni(n, "subnet-a2", ["10.0.2.201"], typ="network_load_balancer", sec_public="3.3.3.4")
n += 1; eni(n, "subnet-a3", ["10.0.3.100"], typ="transit_gateway")
n += 1; eni(n, "subnet-a2", ["10.0.2.50"])  # in the inventory, never logged
unlisted = [dict(id="eni-0000000000000ff01", subnet="subnet-a1", vpc="vpc-a", ips=["10.0.1.77"], type="interface",
                 v6=[], prefixes=[], public=None, sec_public=None)]

os.makedirs(f"{out}/inventory", exist_ok=True)
json.dump({"Subnets": [{"SubnetId": s, "VpcId": v, "CidrBlock": c, "AvailabilityZoneId": az,
                        "AvailabilityZone": "us-east-1x",
                        "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": x} for x in v6]}
                       for s, v, c, az, v6 in subnets]}, open(f"{out}/inventory/describe-subnets.json", "w"), indent=1)
def eni_json(e):
    d = {"NetworkInterfaceId": e["id"], "SubnetId": e["subnet"], "VpcId": e["vpc"], "InterfaceType": e["type"],
         "Description": f"desc of {e['id']}", "PrivateIpAddress": e["ips"][0],
         "PrivateIpAddresses": [{"PrivateIpAddress": ip, "Primary": i == 0,
                                 **({"Association": {"PublicIp": e["sec_public"]}} if i == 0 and e["sec_public"] else {})}
                                for i, ip in enumerate(e["ips"])]}
    if e["type"] == "interface":
        d["Attachment"] = {"InstanceId": "i-" + e["id"][4:]}
    if e["v6"]:
        d["Ipv6Addresses"] = [{"Ipv6Address": x} for x in e["v6"]]
    if e["prefixes"]:
        d["Ipv4Prefixes"] = [{"Ipv4Prefix": x} for x in e["prefixes"]]
    if e["public"]:
        d["Association"] = {"PublicIp": e["public"]}
    return d
json.dump({"NetworkInterfaces": [eni_json(e) for e in enis]}, open(f"{out}/inventory/describe-network-interfaces.json", "w"), indent=1)

if seed % 2 == 0:
    json.dump({"Vpcs": [{"VpcId": "vpc-a", "CidrBlock": "10.0.0.0/16",
                         "CidrBlockAssociationSet": [{"CidrBlock": "10.0.0.0/16"}, {"CidrBlock": "10.1.0.0/16"}],
                         "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600:1f18:a::/56"}]},
                        {"VpcId": "vpc-c", "CidrBlock": "10.20.0.0/16"}]}, open(f"{out}/inventory/describe-vpcs.json", "w"))
    json.dump({"Addresses": [{"PublicIp": "3.3.3.3"}, {"PublicIp": "18.1.1.1"}]}, open(f"{out}/inventory/describe-addresses.json", "w"))
logged = [e for e in enis if not e["id"].endswith(f"{n:017x}")] + unlisted
def addrs(e):
    a = list(e["ips"]) + e["v6"]
    for p in e["prefixes"]:
        base = p.split("/")[0].rsplit(".", 1)
        a.append(f"{base[0]}.{int(base[1]) + rnd.randrange(1, 14)}")
    return a
peers_extra = ["8.8.8.8", "52.95.1.1", "3.3.3.3", "54.1.2.1", "54.1.2.2", "3.3.3.4", "10.0.1.2", "10.0.1.1",
               "10.0.1.255", "10.0.2.3", "192.168.5.5", "10.0.1.5", "10.20.0.7", "10.9.0.7", "10.0.9.9",
               "2600:1f18:a:1::99", "2600:1f18:a:3::5", "2a05:d000::1", "fd00::5", "100.64.1.1", "10.0.3.200", "18.1.1.1", "10.1.5.5", "10.20.5.5", "2600:1f18:a:7::1", "10.0.3.130"]
FULL = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
        "log-status vpc-id subnet-id instance-id az-id pkt-srcaddr pkt-dstaddr flow-direction traffic-path "
        "sublocation-type tcp-flags region reject-reason next-hop-az-id interface-type").split()
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
t0 = 1764547200
records = []  # dicts
for _ in range(6000):
    e = rnd.choice(logged)
    me = rnd.choice(addrs(e))
    other = rnd.choice(logged + [None] * 6)
    peer = rnd.choice(addrs(other)) if other else rnd.choice(peers_extra)
    if (":" in me) != (":" in peer):
        peer = "2600:1f18:a:1::99" if ":" in me else "10.0.2.11"
    egress = rnd.random() < 0.5
    src, dst = (me, peer) if egress else (peer, me)
    psrc, pdst = src, dst
    if e["type"] == "nat_gateway" and rnd.random() < 0.5:
        pdst = rnd.choice(["8.8.8.8", "52.95.1.1"]) if not egress else pdst
        psrc = rnd.choice(["10.0.2.10", "10.0.1.11"]) if egress else psrc
    if e["prefixes"] and egress and rnd.random() < 0.5:
        psrc = addrs(e)[-1]  # the pod behind its node's address
    if e["id"] == logged[0]["id"] and egress and rnd.random() < 0.5:
        psrc = "10.0.1.230"  # a pod address no inventory lists
    st = t0 + rnd.randrange(0, 3 * 3600)
    status = rnd.choices(["OK", "NODATA", "SKIPDATA"], [40, 1, 1])[0]
    r = {"version": "5", "account-id": acct, "interface-id": e["id"], "log-status": status,
         "start": str(st), "end": str(st + rnd.randrange(1, 60))}
    if status == "OK":
        r.update({"srcaddr": src, "dstaddr": dst, "srcport": str(rnd.choice([443, 80, 5432, rnd.randrange(1024, 65535)])),
                  "dstport": str(rnd.choice([443, 80, 22, 3389, 5432] + list(range(1, 30)))), "protocol": rnd.choice(["6", "17"]),
                  "packets": str(rnd.randrange(1, 50)), "bytes": str(rnd.choice([0] + [rnd.randrange(40, 100000)] * 8)),
                  "action": rnd.choices(["ACCEPT", "REJECT"], [5, 1])[0], "vpc-id": e["vpc"], "subnet-id": e["subnet"],
                  "instance-id": ("i-" + e["id"][4:]) if e["type"] == "interface" else "-", "az-id": sub[e["subnet"]][3],
                  "pkt-srcaddr": psrc, "pkt-dstaddr": pdst, "flow-direction": "egress" if egress else "ingress",
                  "traffic-path": rnd.choice(["1", "1", "4", "-"]) if egress else "-",
                  "sublocation-type": "outpost" if rnd.random() < 0.02 else "-",
                  "tcp-flags": rnd.choice(["2", "3", "18"]), "region": region,
                  "reject-reason": "BPA" if rnd.random() < 0.05 else "-",
                  "next-hop-az-id": rnd.choice(["use1-az1", "use1-az2"]) if egress and rnd.random() < 0.08 else "-",
                  "interface-type": "-" if rnd.random() < 0.3 else e["type"]})
    records.append(r)
dups = {logged[i]["id"] for i in (0, 1, 2, 7, 12)}  # also logged by fl-B (v2) and fl-C (full)
v2only = {logged[3]["id"], unlisted[0]["id"]}                            # logged only by the v2 flow log
files = {}
def put(fl, hour, fmt, r):
    files.setdefault((fl, hour, tuple(fmt)), []).append(" ".join(r.get(k, "-") for k in fmt))
for r in records:
    hour = (int(r["start"]) - t0) // 3600
    eid = r["interface-id"]
    if eid in v2only:
        put("fl-0b0b0b0b0b0b0b0b0", hour, V2, {**r, "version": "2"}); continue
    put("fl-0a0a0a0a0a0a0a0a0", hour, FULL, r)
    if eid in dups:
        if rnd.random() < 0.7:
            put("fl-0b0b0b0b0b0b0b0b0", hour, V2, {**r, "version": "2"})
        if rnd.random() < 0.5:
            put("fl-0c0c0c0c0c0c0c0c0", hour, FULL, r)
        if rnd.random() < 0.1:  # an observation only fl-C holds
            put("fl-0c0c0c0c0c0c0c0c0", hour, FULL, {**r, "bytes": str(int(r.get("bytes", "0").replace("-", "0")) + 1)})
        if rnd.random() < 0.05:  # the same record twice in one flow log
            put("fl-0a0a0a0a0a0a0a0a0", hour, FULL, r)
for (fl, hour, fmt), lines in files.items():
    d = f"{out}/AWSLogs/{acct}/vpcflowlogs/{region}/2025/12/01"
    os.makedirs(d, exist_ok=True)
    name = f"{acct}_vpcflowlogs_{region}_{fl}_20251201T{hour:02d}05Z_{abs(hash((fl, hour))) % 16**8:08x}.log.gz"
    with gzip.open(f"{d}/{name}", "wt") as f:
        f.write(" ".join(fmt) + "\n" + "\n".join(lines) + "\n")
print(len(records), "records;", len(files), "objects")
