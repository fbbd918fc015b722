//! `vpcflow query` and `vpcflow report` over a dataset in S3 (moto on 127.0.0.1, through the
//! fault proxy, which counts the requests): the same answers as over the same dataset on
//! local disk, planned from the manifest without listing the partitions.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::path::Path;
use std::process::Output;
use util::{Dir, FaultProxy, Moto, rounded, stderr, stdout};

const ROLLUPS: [&str; 3] = ["interface-traffic", "rejected-flows", "cross-az-cost"];

/// `vpcflow ARGS...` against moto, reaching S3 through `--endpoint-url` (the proxy).
fn through(moto: &Moto, proxy: &FaultProxy, args: &[&str]) -> Output {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--endpoint-url", &proxy.endpoint]);
    moto.vpcflow(&a)
}

/// The JSON rows a command printed, fractional numbers rounded, sorted.
fn rows(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", stderr(o));
    let mut v: Vec<String> = stdout(o)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| rounded(&serde_json::from_str(l).unwrap()).to_string())
        .collect();
    v.sort();
    v
}

/// `page` with every fractional number at 10 significant digits.
fn floats_rounded(page: &[u8]) -> String {
    let text = String::from_utf8_lossy(page);
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        match token.parse::<f64>() {
            Ok(v) if token.contains('.') => out.push_str(&format!("{v:.9e}")),
            _ => out.push_str(token),
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || ((c == 'e' || c == '-') && !token.is_empty()) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// Requests that list a bucket (ListObjectsV2), with their query strings.
fn lists(requests: &[String]) -> Vec<&String> {
    requests
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("list-type="))
        .collect()
}

fn report_names() -> Vec<String> {
    let o = util::vpcflow(["report", "--list"]);
    assert!(o.status.success());
    stdout(&o)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn query_and_report_read_an_s3_dataset_like_a_local_one() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto);
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let totals = util::generate(&gen_dir, 20000, 30, "2025-12-01T00:00:00Z", 4, 3000);
    let logs = gen_dir.join("AWSLogs");
    let inventory = gen_dir.join("inventory");
    let inv = inventory.to_str().unwrap();
    let ingest = |out: &str| {
        let mut args = vec![logs.to_str().unwrap(), "--out", out, "--inventory", inv];
        for r in ROLLUPS {
            args.extend(["--rollup", r]);
        }
        let (code, s, err) = moto.ingest(&args);
        // 2: some lines were quarantined (`--bad-every`).
        assert_eq!(code, 2, "{err}");
        assert_eq!(s["records"], totals["records"]);
    };
    let local = d.join("local");
    ingest(local.to_str().unwrap());
    moto.python("s3.create_bucket(Bucket='bucket')");
    ingest("s3://bucket/lake");
    let s3 = "s3://bucket/lake";
    let local = local.to_str().unwrap();
    let data_keys = moto.python(
        "print('\\n'.join(o['Key'] for p in s3.get_paginator('list_objects_v2').paginate(Bucket='bucket', Prefix='lake/date=') for o in p.get('Contents', [])))",
    );
    let data_keys: Vec<&str> = data_keys
        .lines()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    let hours: std::collections::BTreeSet<&str> = data_keys
        .iter()
        .map(|k| k.rsplit_once('/').unwrap().0)
        .collect();
    assert!(hours.len() >= 2, "{hours:?}");
    proxy.take_requests();

    // Every row, by SQL.
    let sql = "SELECT * EXCLUDE (unknown_fields) FROM flows ORDER BY source, source_line";
    let q = |data: &str| {
        let o = through(
            &moto,
            &proxy,
            &["query", "--data", data, "--output", "csv", sql],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let all = q(s3);
    assert_eq!(
        all.lines().count() as u64 - 1,
        totals["records"].as_u64().unwrap()
    );
    assert!(all == q(local), "the rows differ");
    // The plan came from the manifests: the bucket was listed twice, never its partitions:
    // `_manifest/` (for the shards' manifests) and the rollup tables.
    let requests = proxy.take_requests();
    assert_eq!(
        lists(&requests)
            .iter()
            .map(|r| {
                (
                    r.contains("prefix=lake%2F_manifest%2F"),
                    r.contains("prefix=lake%2F_rollups%2F"),
                )
            })
            .collect::<Vec<_>>(),
        [(true, false), (false, true)],
        "{requests:#?}"
    );
    let heads = requests.iter().filter(|r| r.starts_with("HEAD ")).count();
    assert_eq!(heads, data_keys.len(), "one HEAD per Parquet file");
    eprintln!(
        "query, whole dataset ({} files): {} requests, {} LIST, {heads} HEAD",
        data_keys.len(),
        requests.len(),
        lists(&requests).len()
    );

    // Every report, with and without the inventory, and over one hour.
    let names = report_names();
    assert!(names.len() >= 8, "{names:?}");
    let hour = hours.iter().next().unwrap(); // lake/date=2025-12-01/hour=00
    let (day, hh) = {
        let p: Vec<&str> = hour.split('/').collect();
        (&p[1][5..], &p[2][5..])
    };
    let from = format!("{day}T{hh}:00:00Z");
    let to = format!("{day}T{:02}:00:00Z", hh.parse::<u32>().unwrap() + 1);
    for name in &names {
        let mut variants: Vec<Vec<&str>> = vec![vec!["--inventory", inv]];
        if name != "idle-interfaces" {
            variants.push(vec![]);
        }
        variants.push(vec!["--inventory", inv, "--from", &from, "--to", &to]);
        for extra in variants {
            let run = |data: &str| {
                let mut a = vec!["report", name, "--data", data, "--output", "json"];
                a.extend(&extra);
                rows(&through(&moto, &proxy, &a))
            };
            let got = run(s3);
            assert_eq!(got, run(local), "report {name} {extra:?}");
        }
    }
    // A non-trivial answer: the traffic report names the generated ENIs.
    let traffic = rows(&through(
        &moto,
        &proxy,
        &[
            "report",
            "interface-traffic",
            "--data",
            s3,
            "--output",
            "json",
            "--inventory",
            inv,
        ],
    ));
    assert!(traffic.len() >= 4, "{traffic:?}");
    proxy.take_requests();

    // One hour: only its files are asked for.
    let o = through(
        &moto,
        &proxy,
        &[
            "report",
            "interface-traffic",
            "--data",
            s3,
            "--output",
            "json",
            "--from",
            &from,
            "--to",
            &to,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let requests = proxy.take_requests();
    let in_hour = data_keys.iter().filter(|k| k.starts_with(hour)).count();
    assert!(in_hour < data_keys.len());
    let heads: Vec<&String> = requests.iter().filter(|r| r.starts_with("HEAD ")).collect();
    assert_eq!(heads.len(), in_hour, "{heads:#?}");
    for r in &requests {
        let path = r
            .split_whitespace()
            .nth(1)
            .unwrap()
            .replace("%3D", "=")
            .replace("%2F", "/");
        assert!(
            path.contains("/_manifest/")
                || path.contains("/_rollups/")
                || path.contains(&format!("/{hour}/"))
                || path.contains("list-type="),
            "a request outside the hour: {r}"
        );
    }
    assert_eq!(lists(&requests).len(), 2, "{requests:#?}");
    let manifest_gets: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("/_manifest/"))
        .collect();
    assert_eq!(
        manifest_gets.len(),
        2,
        "manifest.json and the next commit: {manifest_gets:#?}"
    );
    eprintln!(
        "report over one hour ({in_hour} of {} files): {} requests: {} LIST (_manifest/, _rollups/), {} \
         manifest GETs, {} HEAD, {} other",
        data_keys.len(),
        requests.len(),
        lists(&requests).len(),
        manifest_gets.len(),
        heads.len(),
        requests.len() - lists(&requests).len() - manifest_gets.len() - heads.len()
    );

    // The rollup tables.
    for r in ROLLUPS {
        let sql = format!("SELECT * FROM rollup_{}", r.replace('-', "_"));
        let got = rows(&through(
            &moto,
            &proxy,
            &["query", "--data", s3, "--output", "json", &sql],
        ));
        assert!(!got.is_empty(), "{r}");
        assert_eq!(got, util::rollup_rows(Path::new(local), r), "{r}");
    }
    // A rollup equals its report over the hour (its times are UTC instants; the report's
    // have no zone).
    let zoneless = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .map(|r| {
                let mut v: serde_json::Value = serde_json::from_str(&r).unwrap();
                for k in ["first_seen", "last_seen"] {
                    if let Some(t) = v[k].as_str().and_then(|t| t.strip_suffix('Z')) {
                        v[k] = serde_json::Value::String(t.to_string());
                    }
                }
                v.to_string()
            })
            .collect()
    };
    let rollup = zoneless(rows(&through(
        &moto,
        &proxy,
        &[
            "query",
            "--data",
            s3,
            "--output",
            "json",
            &format!(
                "SELECT * EXCLUDE (hour_start, date) FROM rollup_interface_traffic \
                 WHERE hour_start = TIMESTAMP '{day} {hh}:00:00Z'"
            ),
        ],
    )));
    let report = rows(&through(
        &moto,
        &proxy,
        &[
            "report",
            "interface-traffic",
            "--data",
            s3,
            "--output",
            "json",
            "--inventory",
            inv,
            "--from",
            &from,
            "--to",
            &to,
        ],
    ));
    assert_eq!(rollup, report);

    // The dashboard over S3 is the dashboard over the local copy.
    let page = |data: &str, name: &str| {
        let out = d.join(name);
        let o = through(
            &moto,
            &proxy,
            &[
                "dashboard",
                "--data",
                data,
                "--out",
                out.to_str().unwrap(),
                "--inventory",
                inv,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(out).unwrap()
    };
    // Sums of floating-point values may differ in their last bits with the order they are
    // added in: numbers are compared at 10 significant digits.
    let (remote, here) = (
        floats_rounded(&page(s3, "s3.html")),
        floats_rounded(&page(local, "local.html")),
    );
    let at = remote
        .bytes()
        .zip(here.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(remote.len().min(here.len()));
    assert!(
        remote == here,
        "the dashboards differ at byte {at}: {:?}",
        &remote[at.saturating_sub(200).min(remote.len())..(at + 200).min(remote.len())]
    );
}

#[test]
fn a_missing_s3_dataset_is_one_clear_line() {
    let moto = Moto::start();
    moto.python("s3.create_bucket(Bucket='bucket')\ns3.put_object(Bucket='bucket', Key='other/x', Body=b'x')");
    for (data, expect) in [
        ("s3://no-such-bucket/lake", "s3://no-such-bucket/lake/"),
        ("s3://bucket/lake", "s3://bucket/lake/"),
        ("s3://bucket/other", "s3://bucket/other/"),
    ] {
        for args in [
            vec!["query", "--data", data, "SELECT COUNT(*) FROM flows"],
            vec!["report", "interface-traffic", "--data", data],
        ] {
            let o = moto.vpcflow(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let err = stderr(&o);
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(expect), "{err}");
            assert!(err.contains("not a vpcflow dataset"), "{err}");
            assert!(
                err.contains("_manifest/manifest.json does not exist"),
                "{err}"
            );
        }
    }
    // No credentials anywhere in the chain: one line, the location and the chain's reason.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    c.args(["query", "--data", "s3://bucket/lake", "SELECT 1"]);
    for k in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        c.env_remove(k);
    }
    for (k, v) in moto.env() {
        if !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET") && k != "AWS_SESSION_TOKEN"
        {
            c.env(k, v);
        }
    }
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("s3://bucket/lake/"), "{err}");
    assert!(
        err.contains("loading AWS credentials: the credential provider was not enabled"),
        "{err}"
    );
}
