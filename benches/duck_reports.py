"""DuckDB equivalents of vpcflow's reports, and the check that both give the same answer.

    duck_reports.py run REPORT DATASET THREADS OUT_CSV [INVENTORY_DIR]
        Runs REPORT in DuckDB on the vpcflow dataset DATASET (the `--out` of `vpcflow ingest`)
        and writes its rows to OUT_CSV. With INVENTORY_DIR (describe-subnets.json and
        describe-network-interfaces.json, as `vpcflow report --inventory` takes them), DuckDB
        reads the inventory itself and makes the same address lookups as vpcflow.
    duck_reports.py compare REPORT VPCFLOW_CSV DUCKDB_CSV
        Exits 0 and prints "equal" when both results hold the same rows (in any order; numbers
        equal, floats within 1e-9 relative); else prints the rows only one side has, exits 1.

The SQL follows queries/*.sql and crates/report/src (lib.rs: flows_enriched; unique.rs: flows_unique;
addresses.rs and udf.rs: eni_of, az_of, az_source_of, eni_type_of, addr_class and
is_reserved_ip). vpcflow's address functions are computed here as lookup tables over the
distinct (VPC, address) pairs a report asks about; addresses are matched to CIDRs as bit
strings (IPv4 and IPv6), since DuckDB's inet extension cannot be assumed. The inventory is read
as vpcflow reads it: describe-subnets.json and describe-network-interfaces.json, and
describe-vpcs.json and describe-addresses.json where present.
Not covered: a --prices file (the built-in table, queries/prices.toml, is used); IPv6
addresses written with an embedded IPv4 part (::ffff:1.2.3.4) count as no address; where
one VPC's prefix-delegated ranges overlap, ties between ENIs are broken by the last range
listed rather than exactly as AddressBook::owner breaks them; a dataset whose Parquet files
have different schemas (the compared fields are the first file's columns).
"""
import csv
import math
import os
import re
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = ("interface-traffic", "rejected-flows", "cross-az-cost", "top-talkers")
INTERMEDIATE = (
    "('nat_gateway', 'regional_nat_gateway', 'transit_gateway', 'network_load_balancer', "
    "'gateway_load_balancer', 'load_balancer', 'vpc_endpoint', 'gateway_load_balancer_endpoint')"
)


def q(s):
    return "'" + s.replace("'", "''") + "'"


# Addresses as bit strings: 32 characters for IPv4, 128 for IPv6; NULL when not an address.
MACROS = r"""
CREATE MACRO ip4bits(s) AS CASE WHEN regexp_full_match(s,
    '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}')
  THEN array_to_string(list_transform(string_split(s, '.'), lambda x: lpad(bin(x::INTEGER), 8, '0')), '') END;
CREATE MACRO ip6groups(s) AS CASE WHEN contains(s, '::') THEN list_concat(
    CASE WHEN split_part(s, '::', 1) = '' THEN []::VARCHAR[] ELSE string_split(split_part(s, '::', 1), ':') END,
    list_transform(range(8 - (CASE WHEN split_part(s, '::', 1) = '' THEN 0 ELSE len(string_split(split_part(s, '::', 1), ':')) END)
                            - (CASE WHEN split_part(s, '::', 2) = '' THEN 0 ELSE len(string_split(split_part(s, '::', 2), ':')) END)),
                   lambda x: '0'),
    CASE WHEN split_part(s, '::', 2) = '' THEN []::VARCHAR[] ELSE string_split(split_part(s, '::', 2), ':') END)
  ELSE string_split(s, ':') END;
CREATE MACRO ip6bits_of(g) AS CASE WHEN len(g) = 8 AND len(list_filter(g, lambda x: NOT regexp_full_match(x, '[0-9a-f]{1,4}'))) = 0
  THEN array_to_string(list_transform(g, lambda x: lpad(bin(('0x' || x)::INTEGER), 16, '0')), '') END;
CREATE MACRO abits(s) AS CASE WHEN contains(s, ':')
  THEN CASE WHEN regexp_full_match(lower(s), '[0-9a-f:]+') AND length(s) - length(replace(s, '::', '')) <= 2
                 AND NOT (contains(s, '::') AND len(list_filter(string_split(s, ':'), lambda x: x <> '')) > 7)
            THEN ip6bits_of(ip6groups(lower(s))) END
  ELSE ip4bits(s) END;
-- inventory.rs is_private_ip: RFC 1918, 100.64/10, link-local, loopback; ULA, link-local, ::1.
CREATE MACRO bits_private(b) AS CASE WHEN length(b) = 32 THEN
    starts_with(b, '00001010') OR starts_with(b, '101011000001') OR starts_with(b, '1100000010101000')
    OR starts_with(b, '01111111') OR starts_with(b, '1010100111111110') OR starts_with(b, '0110010001')
  ELSE starts_with(b, '1111110') OR starts_with(b, '1111111010') OR b = repeat('0', 127) || '1' END;
CREATE MACRO cidr_bits(c) AS left(abits(split_part(c, '/', 1)), split_part(c, '/', 2)::INTEGER);
CREATE MACRO ts(x) AS make_timestamp(x * 1000000);
"""


def inventory_sql(inv):
    """Tables of the inventory, read by DuckDB from the JSON that `aws ec2 describe-*` prints:
    enis (as vpcflow's `enis` table), and for the lookups eni_facts, inv_addr (exact private
    and IPv6 addresses), inv_public (public and Elastic IPs) and inv_nets (subnet CIDRs, ENI
    prefixes and VPC CIDRs). describe-vpcs.json and describe-addresses.json are optional."""
    sub = os.path.join(inv, "describe-subnets.json")
    eni = os.path.join(inv, "describe-network-interfaces.json")
    vpcs = os.path.join(inv, "describe-vpcs.json")
    addresses = os.path.join(inv, "describe-addresses.json")
    vpc_rows = (f"""SELECT v->>'VpcId' AS vpc_id, ord, list_concat(
                      [v->>'CidrBlock'],
                      list_transform(CAST(COALESCE(v->'CidrBlockAssociationSet', '[]') AS JSON[]), lambda x: x->>'CidrBlock'),
                      list_transform(CAST(COALESCE(v->'Ipv6CidrBlockAssociationSet', '[]') AS JSON[]), lambda x: x->>'Ipv6CidrBlock')) AS cidrs
                    FROM (SELECT unnest(Vpcs) AS v, unnest(range(len(Vpcs))) AS ord
                          FROM read_json({q(vpcs)}, columns = {{'Vpcs': 'JSON[]'}}, format = 'unstructured'))"""
                if os.path.exists(vpcs) else "SELECT NULL::VARCHAR AS vpc_id, 0 AS ord, []::VARCHAR[] AS cidrs WHERE false")
    elastic = (f"""SELECT unnest(list_transform(Addresses, lambda x: x->>'PublicIp')) AS ip, NULL::BIGINT AS eni_ord
                   FROM read_json({q(addresses)}, columns = {{'Addresses': 'JSON[]'}}, format = 'unstructured')"""
               if os.path.exists(addresses) else "SELECT NULL::VARCHAR AS ip, NULL::BIGINT AS eni_ord WHERE false")
    return f"""
CREATE TEMP TABLE inv_subnet_rows AS
WITH d AS (SELECT unnest(Subnets) AS s, unnest(range(len(Subnets))) AS ord
           FROM read_json({q(sub)}, columns = {{'Subnets': 'JSON[]'}}, format = 'unstructured'))
SELECT ord, s->>'SubnetId' AS subnet_id, s->>'VpcId' AS vpc_id, s->>'CidrBlock' AS cidr,
       s->>'AvailabilityZoneId' AS az_id,
       list_transform(CAST(COALESCE(s->'Ipv6CidrBlockAssociationSet', '[]') AS JSON[]),
                      lambda x: x->>'Ipv6CidrBlock') AS v6
FROM d;
CREATE TEMP TABLE inv_eni_rows AS
WITH d AS (SELECT unnest(NetworkInterfaces) AS e, unnest(range(len(NetworkInterfaces))) AS ord
           FROM read_json({q(eni)}, columns = {{'NetworkInterfaces': 'JSON[]'}}, format = 'unstructured'))
SELECT ord, e->>'NetworkInterfaceId' AS interface_id, e->>'SubnetId' AS subnet_id,
       e->>'VpcId' AS vpc_id, e->>'InterfaceType' AS interface_type,
       e->>'Description' AS description, e->'Attachment'->>'InstanceId' AS instance_id,
       e->>'PrivateIpAddress' AS primary_ip, e->'Association'->>'PublicIp' AS public_ip,
       CAST(COALESCE(e->'PrivateIpAddresses', '[]') AS JSON[]) AS privs,
       list_transform(CAST(COALESCE(e->'Ipv6Addresses', '[]') AS JSON[]), lambda x: x->>'Ipv6Address') AS v6,
       list_concat(
         list_transform(CAST(COALESCE(e->'Ipv4Prefixes', '[]') AS JSON[]), lambda x: x->>'Ipv4Prefix'),
         list_transform(CAST(COALESCE(e->'Ipv6Prefixes', '[]') AS JSON[]), lambda x: x->>'Ipv6Prefix')) AS prefixes
FROM d;
-- vpcflow's `enis` table: the AZ of the first subnet with the ENI's subnet ID.
CREATE TEMP TABLE enis AS
SELECT e.interface_id, e.vpc_id, e.subnet_id,
       (SELECT arg_min(s.az_id, s.ord) FROM inv_subnet_rows s WHERE s.subnet_id = e.subnet_id) AS az_id,
       e.interface_type, e.description, e.instance_id
FROM inv_eni_rows e ORDER BY e.ord;
-- The address book's ENIs: the AZ of the last subnet with the ID that names one.
CREATE TEMP TABLE eni_facts AS
SELECT e.ord AS eni_ord, e.interface_id, e.vpc_id, e.interface_type,
       (SELECT arg_max(s.az_id, s.ord) FROM inv_subnet_rows s
        WHERE s.subnet_id = e.subnet_id AND s.az_id IS NOT NULL) AS az
FROM inv_eni_rows e;
CREATE TEMP TABLE inv_addr AS
SELECT DISTINCT abits(ip) AS bits, eni_ord FROM (
  SELECT unnest(list_transform(privs, lambda x: x->>'PrivateIpAddress')) AS ip, ord AS eni_ord FROM inv_eni_rows
  UNION ALL SELECT primary_ip, ord FROM inv_eni_rows
  UNION ALL SELECT unnest(v6), ord FROM inv_eni_rows)
WHERE abits(ip) IS NOT NULL;
-- A public IP names the last ENI that lists it; an Elastic IP no ENI lists names none.
CREATE TEMP TABLE inv_public AS
SELECT abits(ip) AS bits, max(eni_ord) AS eni_ord FROM (
  SELECT unnest(list_transform(privs, lambda x: x->'Association'->>'PublicIp')) AS ip, ord AS eni_ord FROM inv_eni_rows
  UNION ALL SELECT public_ip, ord FROM inv_eni_rows
  UNION ALL {elastic})
WHERE abits(ip) IS NOT NULL GROUP BY 1;
-- Subnet CIDRs (IPv4, then IPv6, in file order) and prefix-delegated ranges, numbered in the
-- address book's order (nid), which breaks ties as vpcflow's longest match does.
CREATE TEMP TABLE inv_nets AS
WITH n AS (
  SELECT 'subnet' AS kind, vpc_id AS nvpc, ord * 1000 AS seq, NULL::BIGINT AS eni_ord, az_id AS naz, cidr AS c
  FROM inv_subnet_rows WHERE cidr IS NOT NULL
  UNION ALL
  SELECT 'subnet', vpc_id, ord * 1000 + i, NULL, az_id, v6[i]
  FROM (SELECT *, unnest(range(1, len(v6) + 1)) AS i FROM inv_subnet_rows) WHERE v6[i] IS NOT NULL
  UNION ALL
  SELECT 'prefix', e.vpc_id, ord * 1000 + i, ord, NULL, prefixes[i]
  FROM (SELECT *, unnest(range(1, len(prefixes) + 1)) AS i FROM inv_eni_rows) e
  UNION ALL
  SELECT 'vpc', vpc_id, ord * 1000 + i, NULL, NULL, cidrs[i]
  FROM (SELECT *, unnest(range(1, len(cidrs) + 1)) AS i FROM ({vpc_rows})) WHERE cidrs[i] IS NOT NULL)
SELECT row_number() OVER (ORDER BY kind DESC, seq) AS nid, kind, nvpc, seq, eni_ord, naz,
       length(abits(split_part(c, '/', 1))) AS fam_len, split_part(c, '/', 2)::INTEGER AS plen,
       cidr_bits(c) AS nbits
FROM n WHERE abits(split_part(c, '/', 1)) IS NOT NULL;
"""


def lookup_sql(name, pairs, inv):
    """Table `name`(vpc, ip, eni, eni_type, az, az_source, class, reserved): vpcflow's eni_of,
    eni_type_of, az_of, az_source_of, addr_class and is_reserved_ip of each distinct (vpc, ip)
    of the query `pairs` (columns vpc, ip). Without an inventory the address book is empty:
    no owner, no AZ, not reserved, and the class is private or internet."""
    if not inv:
        return f"""
CREATE TEMP TABLE {name} AS
SELECT vpc, ip, NULL::VARCHAR AS eni, NULL::VARCHAR AS eni_type, NULL::VARCHAR AS az,
       NULL::VARCHAR AS az_source,
       CASE WHEN bits IS NULL THEN NULL WHEN bits_private(bits) THEN 'private' ELSE 'internet' END AS class,
       CASE WHEN bits IS NOT NULL THEN false END AS reserved
FROM (SELECT vpc, ip, abits(ip) AS bits FROM (SELECT DISTINCT vpc, ip FROM ({pairs})));
"""
    return f"""
CREATE TEMP TABLE {name}_a AS SELECT vpc, ip, abits(ip) AS bits FROM (SELECT DISTINCT vpc, ip FROM ({pairs}));
CREATE TEMP TABLE {name} AS
WITH m AS (  -- every subnet CIDR and prefix that holds the address
  SELECT a.vpc, a.ip, n.* FROM {name}_a a
  JOIN (SELECT DISTINCT fam_len, plen FROM inv_nets) l ON l.fam_len = length(a.bits)
  JOIN inv_nets n ON n.fam_len = l.fam_len AND n.plen = l.plen AND n.nbits = left(a.bits, l.plen)
),
nets AS (
  SELECT vpc, ip,
         bool_or(kind IN ('subnet', 'vpc') AND nvpc = vpc) AS in_space,
         bool_or(kind IN ('subnet', 'vpc')) AS any_space,
         arg_max(nid, plen::BIGINT * 100000000 + nid) FILTER (WHERE kind = 'subnet' AND nvpc = vpc) AS own_subnet,
         arg_max(nid, plen::BIGINT * 100000000 + nid) FILTER (WHERE kind = 'subnet') AS any_subnet,
         count(DISTINCT nvpc) FILTER (WHERE kind = 'subnet') AS subnet_vpcs,
         arg_max(eni_ord, plen::BIGINT * 100000000 + seq) FILTER (WHERE kind = 'prefix' AND nvpc = vpc) AS prefix_in_vpc,
         arg_min(eni_ord, seq) FILTER (WHERE kind = 'prefix') AS prefix_first,
         count(DISTINCT COALESCE(nvpc, chr(0))) FILTER (WHERE kind = 'prefix') AS prefix_vpcs
  FROM m GROUP BY vpc, ip
),
exact AS (
  SELECT a.vpc, a.ip,
         min(x.eni_ord) FILTER (WHERE f.vpc_id = a.vpc) AS exact_in_vpc,
         min(x.eni_ord) AS exact_first,
         count(DISTINCT COALESCE(f.vpc_id, chr(0))) AS exact_vpcs
  FROM {name}_a a JOIN inv_addr x ON x.bits = a.bits JOIN eni_facts f ON f.eni_ord = x.eni_ord
  GROUP BY a.vpc, a.ip
),
facts AS (
  SELECT a.vpc, a.ip, a.bits, p.bits IS NOT NULL AS public, p.eni_ord AS public_eni,
         COALESCE(n.in_space, false) AS in_space, COALESCE(n.any_space, false) AS any_space,
         n.own_subnet, n.any_subnet, n.subnet_vpcs, n.prefix_in_vpc, n.prefix_first, n.prefix_vpcs,
         x.exact_in_vpc, x.exact_first, x.exact_vpcs
  FROM {name}_a a
  LEFT JOIN inv_public p ON p.bits = a.bits
  LEFT JOIN nets n ON n.vpc IS NOT DISTINCT FROM a.vpc AND n.ip IS NOT DISTINCT FROM a.ip
  LEFT JOIN exact x ON x.vpc IS NOT DISTINCT FROM a.vpc AND x.ip IS NOT DISTINCT FROM a.ip
),
chosen AS (  -- AddressBook::owner and AddressBook::subnet
  SELECT *,
         CASE WHEN public THEN public_eni
              WHEN vpc IS NOT NULL AND exact_in_vpc IS NOT NULL THEN exact_in_vpc
              WHEN vpc IS NOT NULL AND prefix_in_vpc IS NOT NULL THEN prefix_in_vpc
              WHEN vpc IS NOT NULL AND in_space THEN NULL
              WHEN exact_first IS NOT NULL THEN CASE WHEN exact_vpcs = 1 THEN exact_first END
              WHEN prefix_first IS NOT NULL THEN CASE WHEN prefix_vpcs = 1 THEN prefix_first END
         END AS owner,
         CASE WHEN vpc IS NOT NULL AND own_subnet IS NOT NULL THEN own_subnet
              WHEN vpc IS NOT NULL AND in_space THEN NULL
              WHEN subnet_vpcs = 1 THEN any_subnet
         END AS subnet
  FROM facts
)
SELECT c.vpc, c.ip, e.interface_id AS eni, e.interface_type AS eni_type,
       COALESCE(e.az, s.naz) AS az,
       CASE WHEN e.az IS NOT NULL THEN 'eni_inventory' WHEN s.naz IS NOT NULL THEN 'subnet_cidr' END AS az_source,
       CASE WHEN c.bits IS NULL THEN NULL
            WHEN c.public THEN 'org_public'
            WHEN c.vpc IS NOT NULL THEN
              CASE WHEN c.in_space THEN 'own_vpc'
                   WHEN e.eni_ord IS NOT NULL THEN CASE WHEN e.vpc_id = c.vpc THEN 'own_vpc' ELSE 'other_vpc' END
                   WHEN c.any_space THEN 'other_vpc'
                   WHEN bits_private(c.bits) THEN 'private' ELSE 'internet' END
            WHEN c.any_space OR e.eni_ord IS NOT NULL THEN 'own_vpc'
            WHEN bits_private(c.bits) THEN 'private' ELSE 'internet' END AS class,
       CASE WHEN c.bits IS NULL THEN NULL
            WHEN s.fam_len = 32 AND length(c.bits) = 32 THEN
              s.plen >= 30
              OR position('1' IN substr(c.bits, s.plen + 1, 30 - s.plen)) = 0
              OR position('0' IN substr(c.bits, s.plen + 1)) = 0
            ELSE false END AS reserved
FROM chosen c
LEFT JOIN eni_facts e ON e.eni_ord = c.owner
LEFT JOIN inv_nets s ON s.nid = c.subnet;
"""


def enriched_sql(inv):
    """The view flows_enriched (queries/_flows_enriched*.sql)."""
    if not inv:
        return """
CREATE VIEW flows_enriched AS
SELECT f.*, f.flow_direction AS direction, f.az_id AS local_az_id, f.subnet_id AS local_subnet_id,
       f.vpc_id AS local_vpc_id, f.interface_type AS local_interface_type, f.instance_id AS local_instance_id
FROM flows f;
"""
    pairs = """SELECT COALESCE(f.vpc_id, inv.vpc_id) AS vpc, f.srcaddr AS ip
               FROM flows f JOIN enis inv ON inv.interface_id = f.interface_id
               WHERE f.flow_direction IS NULL"""
    return lookup_sql("direction_lookup", pairs, inv) + """
CREATE VIEW flows_enriched AS
SELECT f.*,
       CASE WHEN f.flow_direction IS NOT NULL THEN f.flow_direction
            WHEN inv.interface_id IS NULL THEN NULL
            WHEN d.eni = f.interface_id THEN 'egress'
            ELSE 'ingress' END AS direction,
       COALESCE(f.az_id, inv.az_id) AS local_az_id,
       COALESCE(f.subnet_id, inv.subnet_id) AS local_subnet_id,
       COALESCE(f.vpc_id, inv.vpc_id) AS local_vpc_id,
       COALESCE(f.interface_type, inv.interface_type) AS local_interface_type,
       COALESCE(f.instance_id, inv.instance_id) AS local_instance_id
FROM flows f
LEFT JOIN enis inv ON inv.interface_id = f.interface_id
LEFT JOIN direction_lookup d ON f.flow_direction IS NULL
  AND d.vpc IS NOT DISTINCT FROM COALESCE(f.vpc_id, inv.vpc_id) AND d.ip = f.srcaddr;
"""


def sql_list(values):
    return ", ".join(q(v) for v in values)


def unique_sql(con):
    """The view flows_unique, by the rule unique.rs applies: for each ENI logged by
    several flow logs, its records grouped by the fields all of its flow logs carry; each group
    keeps the records of the flow log holding the most of them (then the richest, then the
    lowest ID)."""
    several = con.execute("SELECT MIN(flow_log_id) <> MAX(flow_log_id) FROM flows").fetchone()[0]
    multi = []
    if several:
        multi = [r[0] for r in con.execute(
            "SELECT interface_id FROM flows WHERE flow_log_id IS NOT NULL AND interface_id IS NOT NULL "
            "GROUP BY interface_id HAVING COUNT(DISTINCT flow_log_id) > 1 ORDER BY interface_id").fetchall()]
    if not multi:
        return "CREATE VIEW flows_unique AS SELECT * FROM flows_enriched;"
    # Compared fields: every flow field up to unknown_fields, but version and flow_direction;
    # then the derived direction.
    fields = []
    for (name,) in con.execute("SELECT column_name FROM (DESCRIBE flows)").fetchall():
        if name == "unknown_fields":
            break
        if name not in ("version", "flow_direction"):
            fields.append(name)
    fields.append("direction")
    rows = con.execute(
        "SELECT interface_id, COALESCE(flow_log_id, ''), "
        + ", ".join(f'COUNT("{f}") > 0' for f in fields)
        + f" FROM flows_enriched WHERE interface_id IN ({sql_list(multi)}) GROUP BY 1, 2").fetchall()
    keys, richness = {}, {}
    for eni, log, *carried in rows:
        richness[log] = max(richness.get(log, 0), sum(carried))
        key = keys.setdefault(eni, [True] * len(fields))
        for i, c in enumerate(carried):
            key[i] = key[i] and c
    by_key = {}
    for eni in sorted(keys):
        by_key.setdefault(tuple(keys[eni]), []).append(eni)
    rich = "CASE COALESCE(flow_log_id, '') " + " ".join(
        f"WHEN {q(log)} THEN {n}" for log, n in sorted(richness.items())) + " ELSE 0 END"
    branches = [f"SELECT * FROM flows_enriched WHERE interface_id IS NULL OR interface_id NOT IN ({sql_list(multi)})"]
    for key, enis in sorted(by_key.items()):
        group = ", ".join(["interface_id"] + [f'"{f}"' for f, k in zip(fields, key) if k])
        branches.append(
            f"SELECT * EXCLUDE (__n, __rich, __rank) FROM ("
            f" SELECT *, RANK() OVER (PARTITION BY {group} ORDER BY __n DESC, __rich DESC, flow_log_id ASC NULLS LAST) AS __rank"
            f" FROM (SELECT *, COUNT(*) OVER (PARTITION BY {group}, flow_log_id) AS __n, {rich} AS __rich"
            f"       FROM flows_enriched WHERE interface_id IN ({sql_list(enis)})))"
            f" WHERE __rank = 1")
    return "CREATE VIEW flows_unique AS " + "\nUNION ALL\n".join(branches) + ";"


def prices_sql():
    """vpcflow's `prices` table from the built-in price file: one row per region, every key
    filled from `default`."""
    with open(os.path.join(ROOT, "queries", "prices.toml"), "rb") as f:
        t = tomllib.load(f)
    meta, regions = t["meta"], t["regions"]
    default = regions["default"]
    rows = []
    for region, p in regions.items():
        full = {**default, **p}
        rows.append(f"({q(region)}, {float(full['cross_az_out_per_gb'])!r}, {float(full['cross_az_in_per_gb'])!r}, "
                    f"{float(meta['bytes_per_gb'])!r}, {q(str(meta['as_of']))})")
    return ("CREATE TEMP TABLE prices AS SELECT * FROM (VALUES " + ", ".join(rows)
            + ") AS p(region, cross_az_out_per_gb, cross_az_in_per_gb, bytes_per_gb, as_of);")


def report_sql(report, inv):
    """The statements of a report; the last one is its query."""
    if report == "interface-traffic":
        descriptions = ("SELECT interface_id, MAX(description) AS description FROM enis GROUP BY interface_id"
                        if inv else "SELECT NULL::VARCHAR AS interface_id, NULL::VARCHAR AS description WHERE false")
        return [f"""
WITH per_eni AS (
  SELECT f.interface_id,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'ingress' THEN bytes END), 0) AS bytes_in,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'egress' THEN bytes END), 0) AS bytes_out,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'ingress' THEN packets END), 0) AS packets_in,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction = 'egress' THEN packets END), 0) AS packets_out,
         COUNT(*) AS records,
         COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND action = 'REJECT' THEN bytes END), 0) AS rejected_bytes,
         COALESCE(SUM(CASE WHEN log_status = 'OK' AND direction IS NULL THEN bytes END), 0) AS bytes_unknown_direction,
         COUNT(DISTINCT CASE WHEN direction = 'egress' THEN dstaddr
                             WHEN direction = 'ingress' THEN srcaddr END) AS distinct_peers,
         COUNT(*) FILTER (WHERE log_status = 'NODATA') AS records_nodata,
         COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS records_skipdata,
         MAX(local_az_id) AS az_id, MAX(local_subnet_id) AS subnet_id, MAX(local_vpc_id) AS vpc_id,
         MAX(local_instance_id) AS instance_id, MAX(local_interface_type) AS interface_type,
         ts(MIN(start)) AS first_seen, ts(MAX("end")) AS last_seen
  FROM flows_unique f
  WHERE f.interface_id IS NOT NULL
  GROUP BY f.interface_id
),
descriptions AS ({descriptions})
SELECT p.interface_id, p.bytes_in, p.bytes_out, p.packets_in, p.packets_out, p.records,
       p.rejected_records, p.rejected_bytes, p.bytes_unknown_direction, p.distinct_peers,
       p.records_nodata, p.records_skipdata, p.az_id, p.subnet_id, p.vpc_id, p.instance_id,
       p.interface_type, d.description, p.first_seen, p.last_seen
FROM per_eni p
LEFT JOIN descriptions d ON d.interface_id = p.interface_id
ORDER BY p.bytes_in + p.bytes_out DESC, p.interface_id"""]

    if report == "rejected-flows":
        return ["""
CREATE TEMP TABLE rejected_groups AS
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip, COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       dstport, protocol, interface_id, reject_reason,
       COUNT(*) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes,
       MIN(start) AS first_start, MAX("end") AS last_end, MAX(direction) AS flow_direction,
       COUNT(*) FILTER (WHERE tcp_flags = 2) AS syn_only_records
FROM flows_unique
WHERE action = 'REJECT' AND log_status = 'OK'
GROUP BY 1, 2, dstport, protocol, interface_id, reject_reason""", """
WITH sources AS (
  SELECT src_ip, COUNT(DISTINCT dstport) AS ports_tried, COUNT(DISTINCT dst_ip) AS hosts_tried
  FROM rejected_groups GROUP BY src_ip
),
groups AS (
  SELECT src_ip, dstport, protocol, interface_id,
         SUM(records) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes,
         MIN(first_start) AS first_start, MAX(last_end) AS last_end,
         MAX(flow_direction) AS flow_direction,
         string_agg(DISTINCT reject_reason, ',' ORDER BY reject_reason) AS reject_reason,
         SUM(syn_only_records) AS syn_only_records
  FROM rejected_groups
  GROUP BY src_ip, dstport, protocol, interface_id
)
SELECT g.src_ip, g.dstport AS dst_port, g.protocol, g.interface_id, g.records, g.packets, g.bytes,
       ts(g.first_start) AS first_seen, ts(g.last_end) AS last_seen, g.flow_direction,
       g.reject_reason, g.syn_only_records, s.ports_tried AS src_ports_tried,
       s.hosts_tried AS src_hosts_tried, s.ports_tried >= 20 AS scan_suspect
FROM sources s JOIN groups g ON g.src_ip = s.src_ip
ORDER BY records DESC, bytes DESC, g.src_ip, dst_port, g.protocol, g.interface_id"""]

    if report == "top-talkers":
        f = f"""
CREATE TEMP TABLE f AS
SELECT interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, packets, bytes,
       direction, local_vpc_id, COALESCE(local_vpc_id, '') AS vpc_key
FROM flows_unique
WHERE log_status = 'OK' AND action = 'ACCEPT'
  AND COALESCE(local_interface_type, 'interface') NOT IN {INTERMEDIATE};"""
        pairs = "SELECT local_vpc_id AS vpc, srcaddr AS ip FROM f WHERE direction = 'ingress'"
        return [f, lookup_sql("src_lookup", pairs, inv), """
WITH sent AS (
  SELECT DISTINCT vpc_key, srcaddr AS ip FROM f WHERE direction = 'egress'
  UNION
  SELECT DISTINCT vpc_key, pkt_srcaddr FROM f WHERE direction = 'egress' AND pkt_srcaddr IS NOT NULL
),
logged_enis AS (SELECT DISTINCT interface_id FROM f),
s AS (
  SELECT srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, dstport, packets, bytes, local_vpc_id
  FROM f WHERE direction = 'egress' OR direction IS NULL
  UNION ALL
  SELECT f.srcaddr, f.dstaddr, f.pkt_srcaddr, f.pkt_dstaddr, f.dstport, f.packets, f.bytes, f.local_vpc_id
  FROM f
  LEFT JOIN sent ON sent.vpc_key = f.vpc_key AND sent.ip = f.srcaddr
  LEFT JOIN src_lookup lk ON lk.vpc IS NOT DISTINCT FROM f.local_vpc_id AND lk.ip = f.srcaddr
  LEFT JOIN logged_enis le ON le.interface_id = lk.eni
  WHERE f.direction = 'ingress' AND sent.ip IS NULL AND le.interface_id IS NULL
)
SELECT COALESCE(pkt_srcaddr, srcaddr) AS src_ip, COALESCE(pkt_dstaddr, dstaddr) AS dst_ip,
       SUM(bytes) AS bytes, SUM(packets) AS packets, COUNT(*) AS records,
       COUNT(DISTINCT dstport) AS dst_ports, MIN(dstport) AS lowest_dst_port, local_vpc_id AS vpc_id
FROM s
GROUP BY 1, 2, local_vpc_id
ORDER BY bytes DESC, src_ip, dst_ip, vpc_id"""]

    if report == "cross-az-cost":
        conv = f"""
CREATE TEMP TABLE cross_az_conversations AS
SELECT interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, direction, local_az_id,
       local_vpc_id, local_interface_type, sublocation_type, next_hop_az_id,
       next_hop_interface_type, traffic_path, region,
       COALESCE(SUM(bytes) FILTER (WHERE action = 'ACCEPT' AND bytes > 0), 0) AS bytes,
       COUNT(*) FILTER (WHERE action = 'ACCEPT' AND bytes > 0) AS records
FROM flows_unique
WHERE log_status = 'OK'
GROUP BY interface_id, srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr, direction, local_az_id,
         local_vpc_id, local_interface_type, sublocation_type, next_hop_az_id,
         next_hop_interface_type, traffic_path, region;
CREATE TEMP TABLE conv AS
SELECT *, COALESCE(local_vpc_id, '') AS vpc_key,
       COALESCE(local_interface_type, '') IN {INTERMEDIATE} AS intermediate
FROM cross_az_conversations;"""
        # addr_class(local_vpc_id, pkt_srcaddr) of sent; eni_of(local_vpc_id, srcaddr) of inbound;
        # every function of (local_vpc_id, peer_ip) of hops: one lookup table for all.
        pairs = """SELECT local_vpc_id AS vpc, pkt_srcaddr AS ip FROM conv
                   WHERE direction = 'egress' AND NOT intermediate AND pkt_srcaddr IS NOT NULL AND pkt_srcaddr <> srcaddr
                   UNION ALL SELECT local_vpc_id, srcaddr FROM conv WHERE direction = 'ingress' AND records > 0
                   UNION ALL SELECT local_vpc_id, dstaddr FROM conv WHERE direction = 'egress' AND records > 0
                   UNION ALL SELECT local_vpc_id, pkt_dstaddr FROM conv
                   WHERE direction = 'ingress' AND records > 0 AND pkt_dstaddr <> dstaddr"""
        return [conv, lookup_sql("addr", pairs, inv), prices_sql(), """
WITH sent AS (
  SELECT vpc_key, srcaddr AS ip, local_az_id, next_hop_az_id
  FROM conv WHERE direction = 'egress' AND srcaddr IS NOT NULL
  UNION ALL
  SELECT c.vpc_key, c.pkt_srcaddr, c.local_az_id, c.next_hop_az_id
  FROM conv c JOIN addr lk ON lk.vpc IS NOT DISTINCT FROM c.local_vpc_id AND lk.ip = c.pkt_srcaddr
  WHERE c.direction = 'egress' AND NOT c.intermediate AND c.pkt_srcaddr IS NOT NULL
    AND c.pkt_srcaddr <> c.srcaddr AND lk.class <> 'internet'
),
senders AS (
  SELECT vpc_key, ip,
         CASE WHEN COUNT(DISTINCT local_az_id) = 1 THEN MIN(local_az_id) END AS az_id,
         BOOL_OR(next_hop_az_id IS NOT NULL) AS names_next_hop
  FROM sent GROUP BY vpc_key, ip
),
logged_enis AS (SELECT DISTINCT interface_id FROM conv),
own_addresses AS (
  SELECT DISTINCT interface_id, srcaddr AS ip FROM conv
  WHERE direction = 'egress' AND srcaddr IS NOT NULL
  UNION
  SELECT DISTINCT interface_id, pkt_srcaddr FROM conv
  WHERE direction = 'egress' AND NOT intermediate AND pkt_srcaddr IS NOT NULL
),
inbound AS (
  SELECT c.*,
         s.ip IS NOT NULL AS seen_sending,
         COALESCE(s.names_next_hop, false) AS sender_names_next_hop,
         le.interface_id IS NOT NULL AS sender_eni_logged,
         (c.pkt_dstaddr IS NOT NULL AND c.pkt_dstaddr <> c.dstaddr AND own.ip IS NULL
          AND COALESCE(pd.eni, '') <> c.interface_id)
           OR COALESCE(c.local_interface_type, '') IN ('nat_gateway', 'regional_nat_gateway') AS transit
  FROM conv c
  LEFT JOIN senders s ON s.vpc_key = c.vpc_key AND s.ip = c.srcaddr
  LEFT JOIN addr lk ON lk.vpc IS NOT DISTINCT FROM c.local_vpc_id AND lk.ip = c.srcaddr
  LEFT JOIN logged_enis le ON le.interface_id = lk.eni
  LEFT JOIN own_addresses own ON own.interface_id = c.interface_id AND own.ip = c.pkt_dstaddr
  LEFT JOIN addr pd ON pd.vpc IS NOT DISTINCT FROM c.local_vpc_id AND pd.ip = c.pkt_dstaddr
  WHERE c.direction = 'ingress' AND c.records > 0
),
hops AS (
  SELECT bytes, records, region, local_az_id, local_vpc_id, vpc_key, local_interface_type,
         sublocation_type, traffic_path, next_hop_az_id, next_hop_interface_type,
         'sender_egress' AS confidence, dstaddr AS peer_ip
  FROM conv WHERE direction = 'egress' AND records > 0
  UNION ALL
  SELECT bytes, records, region, local_az_id, local_vpc_id, vpc_key, local_interface_type,
         sublocation_type, traffic_path, NULL, NULL, 'receiver_ingress', srcaddr
  FROM inbound
  WHERE NOT (seen_sending OR sender_eni_logged) OR (transit AND NOT sender_names_next_hop)
),
peer_facts AS (
  SELECT p.vpc_key, p.peer_ip, lk.az AS inv_az, lk.az_source AS inv_source, lk.eni_type AS peer_type,
         lk.class, COALESCE(lk.reserved, false) AS reserved, l.az_id AS learned_az
  FROM (SELECT DISTINCT vpc_key, local_vpc_id,
               CASE WHEN direction = 'egress' THEN dstaddr ELSE srcaddr END AS peer_ip
        FROM conv WHERE direction IN ('egress', 'ingress') AND records > 0) p
  LEFT JOIN addr lk ON lk.vpc IS NOT DISTINCT FROM p.local_vpc_id AND lk.ip IS NOT DISTINCT FROM p.peer_ip
  LEFT JOIN senders l ON l.vpc_key = p.vpc_key AND l.ip = p.peer_ip
),
typed AS (
  SELECT h.*, pf.class, pf.reserved,
         h.next_hop_az_id IS NOT NULL AS named_next_hop,
         COALESCE(h.next_hop_az_id, pf.inv_az, pf.learned_az) AS peer_az,
         CASE WHEN h.next_hop_az_id IS NOT NULL THEN 'next_hop'
              WHEN pf.inv_az IS NOT NULL THEN pf.inv_source
              WHEN pf.learned_az IS NOT NULL THEN 'learned'
              ELSE 'unknown' END AS peer_az_source,
         CASE WHEN h.confidence = 'sender_egress' THEN h.local_interface_type ELSE pf.peer_type END AS sender_type,
         CASE WHEN h.confidence = 'sender_egress' THEN COALESCE(h.next_hop_interface_type, pf.peer_type)
              ELSE h.local_interface_type END AS receiver_type
  FROM hops h
  JOIN peer_facts pf ON pf.vpc_key = h.vpc_key AND pf.peer_ip IS NOT DISTINCT FROM h.peer_ip
),
classified AS (
  SELECT *,
         CASE WHEN 'transit_gateway' IN (COALESCE(sender_type, ''), COALESCE(receiver_type, '')) THEN 'tgw'
              WHEN COALESCE(sender_type, '') IN ('vpc_endpoint', 'gateway_load_balancer_endpoint')
                OR COALESCE(receiver_type, '') IN ('vpc_endpoint', 'gateway_load_balancer_endpoint') THEN 'endpoint'
              WHEN NOT named_next_hop AND class = 'org_public' THEN 'public_ip'
              WHEN COALESCE(receiver_type, '') IN ('nat_gateway', 'regional_nat_gateway') THEN 'to_nat'
              WHEN COALESCE(sender_type, '') IN ('nat_gateway', 'regional_nat_gateway') THEN 'from_nat'
              WHEN COALESCE(receiver_type, '') IN ('network_load_balancer', 'gateway_load_balancer', 'load_balancer') THEN 'to_lb'
              WHEN COALESCE(sender_type, '') IN ('network_load_balancer', 'gateway_load_balancer', 'load_balancer') THEN 'lb_to_target'
              WHEN class = 'other_vpc' OR traffic_path IN (4, 5) THEN 'peering'
              ELSE 'direct' END AS base_hop_type
  FROM typed
),
pairs AS (
  SELECT CASE WHEN confidence = 'sender_egress' THEN local_az_id ELSE peer_az END AS src_az,
         CASE WHEN confidence = 'sender_egress' THEN peer_az ELSE local_az_id END AS dst_az,
         base_hop_type, bytes, records, confidence, peer_az_source, region
  FROM classified
  WHERE sublocation_type IS NULL
    AND base_hop_type NOT IN ('tgw', 'endpoint')
    AND (named_next_hop OR (class <> 'internet' AND NOT reserved))
),
by_region AS (
  SELECT COALESCE(src_az, 'unknown') AS src_az_id, COALESCE(dst_az, 'unknown') AS dst_az_id,
         CASE WHEN base_hop_type = 'public_ip' AND src_az = dst_az THEN 'public_ip_same_az'
              ELSE base_hop_type END AS hop_type,
         region, SUM(bytes) AS bytes, SUM(records) AS records,
         array_agg(DISTINCT peer_az_source) AS peer_az_sources,
         array_agg(DISTINCT confidence) AS confidences
  FROM pairs
  WHERE src_az IS NULL OR dst_az IS NULL OR src_az <> dst_az OR base_hop_type = 'public_ip'
  GROUP BY 1, 2, 3, 4
)
SELECT b.src_az_id, b.dst_az_id, SUM(b.bytes) AS bytes, SUM(b.bytes) / MAX(d.bytes_per_gb) AS gb,
       CASE WHEN b.src_az_id <> 'unknown' AND b.dst_az_id <> 'unknown'
            THEN SUM(b.bytes / d.bytes_per_gb
                     * (COALESCE(pr.cross_az_out_per_gb, d.cross_az_out_per_gb)
                        + COALESCE(pr.cross_az_in_per_gb, d.cross_az_in_per_gb))) END AS cost_usd,
       SUM(b.records) AS records,
       array_to_string(list_sort(list_distinct(flatten(array_agg(b.peer_az_sources)))), ',') AS peer_az_source,
       array_to_string(list_sort(list_distinct(flatten(array_agg(b.confidences)))), ',') AS confidence,
       MAX(d.as_of) AS prices_as_of, b.hop_type
FROM by_region b
CROSS JOIN (SELECT * FROM prices WHERE region = 'default') d
LEFT JOIN prices pr ON pr.region = b.region
GROUP BY b.src_az_id, b.dst_az_id, b.hop_type
ORDER BY bytes DESC, b.src_az_id, b.dst_az_id, b.hop_type"""]
    raise SystemExit(f"unknown report {report!r}; these have DuckDB equivalents: {', '.join(REPORTS)}")


def run(report, data, threads, out, inv=None):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(MACROS)
    con.execute(f"CREATE VIEW flows AS SELECT * FROM read_parquet("
                f"{q(os.path.join(data, 'date=*', 'hour=*', '*.parquet'))}, hive_partitioning = true)")
    if inv:
        con.execute(inventory_sql(inv))
    con.execute(enriched_sql(bool(inv)))
    con.execute(unique_sql(con))
    *prepare, query = report_sql(report, bool(inv))
    for statement in prepare:
        con.execute(statement)
    con.execute(f"COPY ({query}) TO {q(out)} (FORMAT csv, HEADER)")


def cell(v):
    """A CSV cell as a comparable value: empty is NULL, numbers are numbers, timestamps have
    one spelling (vpcflow writes 2025-12-01T00:00:01, DuckDB 2025-12-01 00:00:01)."""
    if v == "":
        return None
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|-?inf|NaN", v):
        return float(v)
    if re.fullmatch(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?", v):
        return v.replace("T", " ")
    return v


def sort_key(row):
    return tuple((0, "") if c is None else (1, f"{c:.9e}") if isinstance(c, float) else (2, str(c)) for c in row)


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, str) or isinstance(b, str):
            return False
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    return rows[0], sorted(([cell(c) for c in r] for r in rows[1:]), key=sort_key)


def compare(report, vpcflow_csv, duck_csv):
    vh, vrows = load(vpcflow_csv)
    dh, drows = load(duck_csv)
    if vh != dh:
        sys.exit(f"{report}: DIFFERENT columns\n  vpcflow: {','.join(vh)}\n  duckdb:  {','.join(dh)}")
    if len(vrows) == len(drows) and all(
            len(v) == len(d) and all(same(x, y) for x, y in zip(v, d)) for v, d in zip(vrows, drows)):
        print(f"equal ({len(vrows)} rows)")
        return
    print(f"{report}: DIFFERENT results: vpcflow {len(vrows)} rows, DuckDB {len(drows)} rows "
          f"(columns {','.join(vh)})", file=sys.stderr)
    # The rows only one side has (floats to 9 significant digits), else the first pair of
    # sorted rows that differ.
    from collections import Counter
    vk, dk = Counter(map(sort_key, vrows)), Counter(map(sort_key, drows))
    only_v = [r for r in vrows if (vk - dk)[sort_key(r)]][:5]
    only_d = [r for r in drows if (dk - vk)[sort_key(r)]][:5]
    for side, rows in (("vpcflow", only_v), ("duckdb", only_d)):
        for r in rows:
            print(f"  only in {side}: {r}", file=sys.stderr)
    if not only_v and not only_d:
        for v, d in zip(vrows, drows):
            if not all(same(x, y) for x, y in zip(v, d)):
                print(f"  vpcflow: {v}\n  duckdb:  {d}", file=sys.stderr)
                break
    sys.exit(1)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) in (5, 6) and args[0] == "run":
        run(*args[1:])
    elif len(args) == 4 and args[0] == "compare":
        compare(*args[1:])
    else:
        sys.exit(__doc__)
