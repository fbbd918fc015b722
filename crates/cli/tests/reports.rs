//! Reports: known answers on generated data (totals known by construction), golden output on
//! sample-logs/, and clear errors on bad arguments.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use util::{Dir, ingest, repo_root, report, stderr, stdout, vpcflow};

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Generates (small shape), ingests, and returns (dataset, generated dir, totals).
fn generated(d: &Dir, format: &str, seed: &str) -> (std::path::PathBuf, std::path::PathBuf, Value) {
    generated_shape(d, "small", "8000", format, seed)
}

fn generated_shape(
    d: &Dir,
    shape: &str,
    records: &str,
    format: &str,
    seed: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Value) {
    let gen_dir = d.join("gen");
    let o = vpcflow([
        "generate",
        "--shape",
        shape,
        "--out",
        gen_dir.to_str().unwrap(),
        "--records",
        records,
        "--files",
        "24",
        "--format",
        format,
        "--seed",
        seed,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let totals: Value =
        serde_json::from_slice(&std::fs::read(gen_dir.join("totals.json")).unwrap()).unwrap();
    let out = d.join("flows");
    let (code, s, o) = ingest(&[
        gen_dir.join("AWSLogs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{}", stderr(&o));
    assert_eq!(s["records"], totals["records"]);
    (out, gen_dir, totals)
}

fn check_known_answers(data: &Path, inventory: &[&str], totals: &Value, expect_unknown: u64) {
    // interface-traffic: per-ENI bytes, packets, records, rejected records.
    let rows = report(data, "interface-traffic", inventory);
    let mut got = BTreeMap::new();
    for r in &rows {
        got.insert(
            r["interface_id"].as_str().unwrap().to_string(),
            [
                &r["bytes_in"],
                &r["bytes_out"],
                &r["packets_in"],
                &r["packets_out"],
                &r["records"],
                &r["rejected_records"],
            ]
            .map(int),
        );
        assert_eq!(int(&r["bytes_unknown_direction"]), 0);
    }
    let want: BTreeMap<String, [u64; 6]> = totals["enis"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                [
                    &t["bytes_in"],
                    &t["bytes_out"],
                    &t["packets_in"],
                    &t["packets_out"],
                    &t["records"],
                    &t["rejected_records"],
                ]
                .map(int),
            )
        })
        .collect();
    assert_eq!(got, want);

    // rejected-flows: records, packets and bytes by source, port, protocol and ENI.
    let rows = report(data, "rejected-flows", inventory);
    let got: BTreeMap<String, [u64; 3]> = rows
        .iter()
        .map(|r| {
            (
                format!(
                    "{}|{}|{}|{}",
                    r["src_ip"].as_str().unwrap(),
                    r["dst_port"],
                    r["protocol"],
                    r["interface_id"].as_str().unwrap()
                ),
                [&r["records"], &r["packets"], &r["bytes"]].map(int),
            )
        })
        .collect();
    let want: BTreeMap<String, [u64; 3]> = totals["rejected"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                [&t["records"], &t["packets"], &t["bytes"]].map(int),
            )
        })
        .collect();
    assert_eq!(got, want);

    // cross-az-cost: bytes per AZ pair, each hop once; unknown peers shown apart, not priced.
    let rows = report(data, "cross-az-cost", inventory);
    let mut got = BTreeMap::new();
    let mut unknown = 0;
    for r in &rows {
        let (src, dst) = (
            r["src_az_id"].as_str().unwrap(),
            r["dst_az_id"].as_str().unwrap(),
        );
        if src == "unknown" || dst == "unknown" {
            unknown += int(&r["bytes"]);
            assert!(r.get("cost_usd").is_none_or(Value::is_null), "{r}");
            continue;
        }
        let bytes = int(&r["bytes"]);
        let cost = r["cost_usd"].as_f64().unwrap();
        let expect_cost = bytes as f64 / 1073741824.0 * 0.02;
        assert!(
            (cost - expect_cost).abs() < 1e-12,
            "{cost} vs {expect_cost}"
        );
        got.insert(format!("{src}|{dst}"), bytes);
    }
    let want: BTreeMap<String, u64> = totals["cross_az"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), int(v)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(unknown, expect_unknown);
}

/// `sample-logs/` ingested into `d/flows`.
fn sample_dataset(d: &Dir) -> std::path::PathBuf {
    let out = d.join("flows");
    let (code, _, _) = ingest(&[
        repo_root().join("sample-logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "sample-logs/malformed holds bad lines on purpose");
    out
}

#[test]
fn known_answers_v5_without_inventory() {
    let d = Dir::new();
    let (out, _, totals) = generated(&d, "v5", "11");
    // Without an inventory the VPC resolver addresses cannot be told from ENIs: their bytes
    // are shown as unknown, never billed.
    check_known_answers(&out, &[], &totals, int(&totals["reserved_bytes"]));
}

#[test]
fn known_answers_v2_with_inventory() {
    let d = Dir::new();
    let (out, gen_dir, totals) = generated(&d, "v2", "12");
    let inv = gen_dir.join("inventory");
    // With it, direction comes from the ENIs' own addresses and the reserved addresses are
    // recognised and left out.
    check_known_answers(&out, &["--inventory", inv.to_str().unwrap()], &totals, 0);
    let idle = report(
        &out,
        "idle-interfaces",
        &["--inventory", inv.to_str().unwrap()],
    );
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0]["interface_id"], "eni-0idle000000000000");
}

/// The realistic shape (three VPCs, 1,008 ENIs, EKS pods on secondary addresses, one subnet
/// logged by two flow logs, scanners): every answer still equals the generator's totals.
/// Pods are logged as AWS logs them (the node's primary address in srcaddr/dstaddr, the pod's
/// in pkt-srcaddr/pkt-dstaddr), so a pod's ingress record is not a second count of its
/// sender's egress hop, and the duplicated records of the subnet's ENIs count once.
#[test]
fn known_answers_realistic_shape_with_inventory() {
    let d = Dir::new();
    let (out, gen_dir, totals) = generated_shape(&d, "realistic", "60000", "v5", "21");
    assert!(
        int(&totals["duplicate_records"]) > 1000,
        "{}",
        totals["duplicate_records"]
    );
    assert!(totals["enis"].as_object().unwrap().len() > 1000);
    let shape = util::query(
        &out,
        "SELECT COUNT(DISTINCT vpc_id) AS vpcs, COUNT(DISTINCT flow_log_id) AS logs, \
                COUNT(*) FILTER (WHERE pkt_srcaddr <> srcaddr) AS pod_sends, \
                COUNT(*) FILTER (WHERE pkt_dstaddr <> dstaddr) AS pod_receives \
         FROM flows",
    );
    assert_eq!(shape[0]["vpcs"], 3);
    assert_eq!(shape[0]["logs"], 4);
    assert!(int(&shape[0]["pod_sends"]) > 1000 && int(&shape[0]["pod_receives"]) > 1000);
    let inv = gen_dir.join("inventory");
    check_known_answers(&out, &["--inventory", inv.to_str().unwrap()], &totals, 0);
}

/// `csv` with every fractional number at 10 significant digits (`{:.9e}`): the golden files
/// keep that precision, so that the order in which floating-point sums are added (which may
/// change the last bits) does not count as a difference, and a cent's fraction still does.
fn floats_rounded(csv: &str) -> String {
    let mut out = String::with_capacity(csv.len());
    for line in csv.lines() {
        let mut field = String::new();
        let mut quoted = false;
        let mut fields = Vec::new();
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    field.push(c);
                }
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        let fields: Vec<String> = fields
            .into_iter()
            .map(|f| match f.parse::<f64>() {
                Ok(v) if f.contains(['.', 'e']) => format!("{v:.9e}"),
                _ => f,
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[test]
fn golden_outputs_on_sample_logs() {
    let d = Dir::new();
    let out = sample_dataset(&d);
    let inv = repo_root().join("sample-logs/inventory");
    let bless = std::env::var_os("VPCFLOW_BLESS").is_some();
    let list = stdout(&vpcflow(["report", "--list"]));
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names.len(), 8, "{list}");
    for name in names {
        assert!(repo_root().join(format!("queries/{name}.sql")).is_file());
        let o = vpcflow([
            "report",
            name,
            "--data",
            out.to_str().unwrap(),
            "--inventory",
            inv.to_str().unwrap(),
            "--output",
            "csv",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let golden = repo_root().join(format!("crates/cli/tests/golden/{name}.csv"));
        let got = floats_rounded(&stdout(&o));
        if bless {
            std::fs::write(&golden, &got).unwrap();
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{} missing: run with VPCFLOW_BLESS=1", golden.display()));
        assert_eq!(got, want, "report {name} differs from {}", golden.display());
    }
}

#[test]
fn time_range_prunes_and_filters() {
    let d = Dir::new();
    let out = sample_dataset(&d);
    // The v5 object's records start before 00:05; the rest after.
    let rows = report(
        &out,
        "interface-traffic",
        &[
            "--from",
            "2025-12-01T00:00:00Z",
            "--to",
            "2025-12-01T00:05:00Z",
        ],
    );
    let total: u64 = rows.iter().map(|r| int(&r["records"])).sum();
    assert_eq!(total, 23);
    let rows = report(&out, "interface-traffic", &["--from", "2025-12-02"]);
    assert!(rows.is_empty());
    let rows = report(
        &out,
        "interface-traffic",
        &["--to", "2025-12-01", "--limit", "2"],
    );
    assert_eq!(rows.len(), 2);
}

#[test]
fn csv_and_json_stream_every_row_or_the_first_n() {
    // CSV and JSON lines are written as the result streams in; --limit stops after N rows.
    let d = Dir::new();
    let out = sample_dataset(&d);
    let data = out.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = vpcflow(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let all = run(&["report", "top-talkers", "--data", data, "--output", "csv"]);
    let json = run(&["report", "top-talkers", "--data", data, "--output", "json"]);
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines.len() > 4, "{all}");
    assert_eq!(
        lines.len(),
        json.lines().count() + 1,
        "a header and every row"
    );
    assert!(
        lines[0].starts_with("src_ip,dst_ip,bytes,packets,records,"),
        "{}",
        lines[0]
    );
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(lines[1].starts_with(&format!(
        "{},{},{},",
        first["src_ip"].as_str().unwrap(),
        first["dst_ip"].as_str().unwrap(),
        int(&first["bytes"])
    )));
    let three = run(&[
        "report",
        "top-talkers",
        "--data",
        data,
        "--output",
        "csv",
        "--limit",
        "3",
    ]);
    assert_eq!(three.lines().collect::<Vec<_>>(), lines[..4]);
    let sql = "SELECT * FROM flows_unique ORDER BY source, source_line";
    let q = run(&[
        "query", "--data", data, "--output", "csv", "--limit", "5", sql,
    ]);
    assert_eq!(q.lines().count(), 6, "{q}");
    let q = run(&[
        "query", "--data", data, "--output", "json", "--limit", "5", sql,
    ]);
    assert_eq!(q.lines().count(), 5, "{q}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let d = Dir::new();
    let out = d.join("flows");
    ingest(&[
        repo_root()
            .join("sample-logs/cloudwatch-export")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let data = out.to_str().unwrap();
    let err = |args: &[&str]| {
        let o = vpcflow(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        stderr(&o)
    };
    let e = err(&["report", "no-such-report", "--data", data]);
    assert!(
        e.contains("unknown report \"no-such-report\"; the reports are: interface-traffic"),
        "{e}"
    );
    let e = err(&[
        "report",
        "interface-traffic",
        "--data",
        data,
        "--from",
        "last tuesday",
    ]);
    assert!(
        e.contains("--from") && e.contains("\"last tuesday\" is not a time"),
        "{e}"
    );
    let bad_inv = d.join("inv");
    std::fs::create_dir_all(&bad_inv).unwrap();
    std::fs::write(bad_inv.join("describe-subnets.json"), "[1, 2]").unwrap();
    let e = err(&[
        "report",
        "interface-traffic",
        "--data",
        data,
        "--inventory",
        bad_inv.to_str().unwrap(),
    ]);
    assert!(
        e.contains("describe-subnets.json: not the JSON that `aws ec2 describe-subnets` prints"),
        "{e}"
    );
    let prices = d.write("prices.toml", "[regions.default]\ncross_az_per_gb = 0.02\n");
    let e = err(&[
        "report",
        "cross-az-cost",
        "--data",
        data,
        "--prices",
        prices.to_str().unwrap(),
    ]);
    assert!(
        e.contains("prices.toml") && e.contains("unknown field `cross_az_per_gb`"),
        "{e}"
    );
    let e = err(&["report", "idle-interfaces", "--data", data]);
    assert!(e.contains("needs --inventory"), "{e}");
    let e = err(&["query", "--data", data, " ; "]);
    assert!(e.contains("no SQL statement given"), "{e}");
}

#[test]
fn query_runs_several_statements_and_prints_the_last() {
    let d = Dir::new();
    let out = sample_dataset(&d);
    let data = out.to_str().unwrap();
    let one = stdout(&vpcflow([
        "query",
        "--data",
        data,
        "--output",
        "csv",
        "SELECT interface_id, COUNT(*) AS n FROM flows GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3",
    ]));
    let two = stdout(&vpcflow([
        "query",
        "--data",
        data,
        "--output",
        "csv",
        "CREATE TABLE per_eni AS SELECT interface_id, COUNT(*) AS n FROM flows GROUP BY 1; \
         SELECT interface_id, n FROM per_eni ORDER BY 2 DESC, 1 LIMIT 3",
    ]));
    assert_eq!(one.lines().count(), 4, "{one}");
    assert_eq!(one, two);
}

#[test]
fn prices_file_changes_the_cost_and_is_named() {
    let d = Dir::new();
    let out = sample_dataset(&d);
    let inv = repo_root().join("sample-logs/inventory");
    let prices = d.write(
        "p.toml",
        "[meta]\nas_of = \"2027-01\"\n[regions.default]\ncross_az_out_per_gb = 0.5\ncross_az_in_per_gb = 0.5\n",
    );
    let o = vpcflow([
        "report",
        "cross-az-cost",
        "--data",
        out.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--prices",
        prices.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let bytes = int(&first["bytes"]) as f64;
    assert!((first["cost_usd"].as_f64().unwrap() - bytes / 1073741824.0).abs() < 1e-12);
    assert_eq!(first["prices_as_of"], "2027-01");
    assert!(stderr(&o).contains("as of 2027-01"), "{}", stderr(&o));
}

#[test]
fn duplicates_across_flow_logs_count_once() {
    // The same records delivered by two flow logs (two object names, two flow-log IDs) count
    // once in the reports, though both copies land in the dataset.
    let d = Dir::new();
    let src = repo_root().join(
        "sample-logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/12/01/123456789012_vpcflowlogs_us-east-1_fl-0aa11bb22cc33dd44_20251201T0005Z_5f3e2a1b.log.gz",
    );
    let bytes = std::fs::read(&src).unwrap();
    d.write("once/123456789012_vpcflowlogs_us-east-1_fl-0aaaaaaaaaaaaaaa1_20251201T0005Z_00000001.log.gz", &bytes);
    d.write("twice/123456789012_vpcflowlogs_us-east-1_fl-0aaaaaaaaaaaaaaa1_20251201T0005Z_00000001.log.gz", &bytes);
    d.write("twice/123456789012_vpcflowlogs_us-east-1_fl-0bbbbbbbbbbbbbbb2_20251201T0005Z_00000002.log.gz", &bytes);
    let (once, twice) = (d.join("ds-once"), d.join("ds-twice"));
    ingest(&[
        d.join("once").to_str().unwrap(),
        "--out",
        once.to_str().unwrap(),
    ]);
    let (_, s, _) = ingest(&[
        d.join("twice").to_str().unwrap(),
        "--out",
        twice.to_str().unwrap(),
    ]);
    assert_eq!(s["records"], 46);
    for name in [
        "interface-traffic",
        "rejected-flows",
        "cross-az-cost",
        "top-talkers",
        "nat-gateway",
    ] {
        assert_eq!(
            report(&once, name, &[]),
            report(&twice, name, &[]),
            "report {name}"
        );
    }
    assert_eq!(
        report(&once, "interface-traffic", &[])
            .iter()
            .map(|r| int(&r["records"]))
            .sum::<u64>(),
        23
    );
}
