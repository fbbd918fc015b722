//! S3 sources with the real AWS SDK client against a local moto server on 127.0.0.1.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::Value;
use util::{Dir, Moto, query, query_i64, stderr, stdout};

#[test]
fn objects_in_every_key_layout_land_exactly_once() {
    let moto = Moto::start();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let o = util::vpcflow([
        "generate",
        "--shape",
        "small",
        "--out",
        gen_dir.to_str().unwrap(),
        "--records",
        "3000",
        "--files",
        "6",
        "--seed",
        "5",
    ]);
    assert!(o.status.success());
    let totals: Value =
        serde_json::from_slice(&std::fs::read(gen_dir.join("totals.json")).unwrap()).unwrap();
    // The generated objects go up three times, once in each of AWS's layouts (plain, Hive,
    // hourly), under three prefixes.
    moto.python(&format!(
        r#"
s3.create_bucket(Bucket='logs')
root = '{}'
for dirpath, _, names in os.walk(root):
    for n in [n for n in names if n.endswith('.log.gz')]:
        rel = os.path.relpath(os.path.join(dirpath, n), root)   # AWSLogs/acct/vpcflowlogs/region/yyyy/mm/dd/name
        p = rel.split('/')
        body = open(os.path.join(dirpath, n), 'rb').read()
        hh = p[7].split('_')[4][9:11]
        s3.put_object(Bucket='logs', Key='plain/' + rel, Body=body)
        s3.put_object(Bucket='logs', Key=f'hive/AWSLogs/aws-account-id={{p[1]}}/aws-service=vpcflowlogs/aws-region={{p[3]}}/year={{p[4]}}/month={{p[5]}}/day={{p[6]}}/{{p[7]}}', Body=body)
        s3.put_object(Bucket='logs', Key=f'hourly/AWSLogs/{{p[1]}}/vpcflowlogs/{{p[3]}}/{{p[4]}}/{{p[5]}}/{{p[6]}}/{{hh}}/{{p[7]}}', Body=body)
"#,
        gen_dir.display()
    ));
    for prefix in ["plain/", "hive/", "hourly/"] {
        let out = d.join(&format!("ds-{}", prefix.trim_end_matches('/')));
        let (code, s, err) = moto.ingest(&[
            &format!("s3://logs/{prefix}"),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{prefix}: {err}");
        assert_eq!(s["files"], 6, "{prefix}");
        assert_eq!(s["records"], totals["records"], "{prefix}");
        let n = query_i64(
            &out,
            "SELECT count(*) FROM (SELECT DISTINCT source, source_line FROM flows)",
        );
        assert_eq!(
            n,
            totals["records"].as_i64().unwrap(),
            "{prefix}: each record once"
        );
        assert_eq!(
            query_i64(&out, "SELECT sum(bytes) FROM flows"),
            totals["bytes"].as_i64().unwrap()
        );
        let src = query(
            &out,
            "SELECT min(source) AS s, min(flow_log_id) AS f FROM flows",
        );
        assert!(
            src[0]["s"]
                .as_str()
                .unwrap()
                .starts_with(&format!("s3://logs/{prefix}AWSLogs/"))
        );
        assert_eq!(src[0]["f"], "fl-0123456789abcdef0");
    }
}

#[test]
fn a_time_range_lists_only_its_days() {
    let moto = Moto::start();
    let d = Dir::new();
    let line = |start: i64| {
        format!(
            "2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 100 {start} {} ACCEPT OK\n",
            start + 60
        )
    };
    let day = 86400;
    let t0 = 1764547200; // 2025-12-01
    let mut code = String::from("s3.create_bucket(Bucket='logs')\n");
    for (i, name_day) in ["2025/11/30", "2025/12/01", "2025/12/02"]
        .iter()
        .enumerate()
    {
        let stamp = ["20251130T1200Z", "20251201T1200Z", "20251202T1200Z"][i];
        let body = util::gzip(line(t0 + (i as i64 - 1) * day + 43200).as_bytes());
        let f = d.write(&format!("o{i}.gz"), body);
        code.push_str(&format!(
            "s3.put_object(Bucket='logs', Key='AWSLogs/123456789012/vpcflowlogs/us-east-1/{name_day}/123456789012_vpcflowlogs_us-east-1_fl-1_{stamp}_0000000{i}.log.gz', Body=open('{}','rb').read())\n",
            f.display()
        ));
    }
    moto.python(&code);
    let out = d.join("ds");
    for prefix in [
        "s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/",
        "s3://logs/AWSLogs/123456789012/vpcflowlogs/",
        "s3://logs/",
    ] {
        let _ = std::fs::remove_dir_all(&out);
        let (code, s, err) = moto.ingest(&[
            prefix,
            "--out",
            out.to_str().unwrap(),
            "--from",
            "2025-12-01",
            "--to",
            "2025-12-01",
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(s["files"], 1, "{prefix}");
        let rows = query(&out, "SELECT date FROM flows");
        assert_eq!(
            rows,
            [serde_json::json!({"date": "2025-12-01"})],
            "{prefix}"
        );
    }
}

#[test]
fn faults_are_named_and_the_rest_lands() {
    let moto = Moto::start();
    let d = Dir::new();
    let good = util::gzip(
        b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 100 1764547200 1764547260 ACCEPT OK\n",
    );
    let mut bad = util::gzip(
        &b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 100 1764547200 1764547260 ACCEPT OK\n"
            .repeat(500),
    );
    let n = bad.len();
    bad.truncate(n / 2);
    let (g, b) = (d.write("good.gz", good), d.write("bad.gz", bad));
    moto.python(&format!(
        "s3.create_bucket(Bucket='logs')\ns3.put_object(Bucket='logs', Key='a/good.log.gz', Body=open('{}','rb').read())\ns3.put_object(Bucket='logs', Key='a/cut.log.gz', Body=open('{}','rb').read())\n",
        g.display(),
        b.display()
    ));
    let out = d.join("ds");
    let (code, s, _) = moto.ingest(&["s3://logs/a/", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(s["failed_files"][0]["source"], "s3://logs/a/cut.log.gz");
    assert!(
        s["failed_files"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("truncated gzip data")
    );
    assert!(s["records"].as_i64().unwrap() >= 1);
    assert_eq!(
        query_i64(
            &out,
            "SELECT count(*) FROM flows WHERE source = 's3://logs/a/good.log.gz'"
        ),
        1
    );

    // A bucket that does not exist: a clear error naming it, exit 1, and no secret in it.
    let (code, _, err) = moto.ingest(&[
        "s3://no-such-bucket/x/",
        "--out",
        d.join("ds2").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("s3://no-such-bucket/x/"), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
    assert!(
        !err.contains("testing"),
        "credentials must not appear: {err}"
    );
}

#[test]
fn throttling_and_5xx_are_retried_and_denied_or_vanished_objects_are_named() {
    let moto = Moto::start();
    let proxy = util::FaultProxy::start(&moto);
    let d = Dir::new();
    let line = |n: u32| {
        format!(
            "2 123456789012 eni-1 10.0.0.1 10.0.0.2 {n} 443 6 1 100 1764547200 1764547260 ACCEPT OK\n"
        )
    };
    let mut code = String::from("s3.create_bucket(Bucket='logs')\n");
    for (i, name) in ["good", "throttled", "flaky", "forbidden", "deleted"]
        .iter()
        .enumerate()
    {
        let f = d.write(&format!("{name}.gz"), util::gzip(line(i as u32).as_bytes()));
        code.push_str(&format!(
            "s3.put_object(Bucket='logs', Key='busy/{name}.log.gz', Body=open('{}','rb').read())\n",
            f.display()
        ));
    }
    moto.python(&code);
    let out = d.join("ds");
    let o = moto.vpcflow(&[
        "ingest",
        "--json",
        "s3://logs/busy/",
        "--out",
        out.to_str().unwrap(),
        "--endpoint-url",
        &proxy.endpoint,
    ]);
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap_or(Value::Null);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(s["files"], 5);
    assert_eq!(
        s["records"], 3,
        "good, throttled and flaky land after retries: {s}"
    );
    let failed: Vec<(String, String)> = s["failed_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["source"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "s3://logs/busy/deleted.log.gz");
    assert!(
        failed[0]
            .1
            .contains("object not found (deleted after it was listed?)"),
        "{failed:?}"
    );
    assert_eq!(failed[1].0, "s3://logs/busy/forbidden.log.gz");
    assert!(failed[1].1.contains("AccessDenied"), "{failed:?}");
    assert!(
        !stderr(&o).contains("testing") && !stdout(&o).contains("testing"),
        "no credentials in output"
    );
    let ports = query(&out, "SELECT srcport FROM flows ORDER BY srcport");
    assert_eq!(
        ports,
        [
            serde_json::json!({"srcport": 0}),
            serde_json::json!({"srcport": 1}),
            serde_json::json!({"srcport": 2})
        ]
    );
}

#[test]
fn aws_parquet_objects_land_in_the_canonical_schema() {
    let moto = Moto::start();
    let d = Dir::new();
    let (aws, other) = (d.join("aws.parquet"), d.join("other.parquet"));
    // One file typed as AWS's Parquet delivery documents it (INT_32 / INT_64 / STRING, nulls),
    // with a column vpcflow does not know; one written by another tool, with numbers as
    // strings ("None" for missing) and the account as an integer.
    util::run_python(&format!(
        r#"
import duckdb
duckdb.sql("""COPY (SELECT * FROM (VALUES
  (5::INTEGER, '123456789012', 'eni-0p1', '10.0.0.1', '10.0.1.1', 443::INTEGER, 50000::INTEGER, 6::INTEGER, 10::BIGINT, 840::BIGINT, 1764547200::BIGINT, 1764547260::BIGINT, 'ACCEPT', 'OK', 'use1-az1', 'egress', 'x'),
  (5::INTEGER, '123456789012', 'eni-0p1', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1764550800::BIGINT, 1764550860::BIGINT, NULL, 'NODATA', 'use1-az1', NULL, NULL)
) t(version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, "end", action, log_status, az_id, flow_direction, future_col)) TO '{aws}' (FORMAT parquet)""")
duckdb.sql("""COPY (SELECT * FROM (VALUES
  (2::BIGINT, 123456789010::BIGINT, 'eni-202010ab', '-', '-', 'None', 'None', 'None', 'None', 'None', 1439387263::BIGINT, 1439387264::BIGINT, '-', 'NODATA')
) t(version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, "end", action, log_status)) TO '{other}' (FORMAT parquet)""")
"#,
        aws = aws.display(),
        other = other.display()
    ));
    moto.python(&format!(
        "s3.create_bucket(Bucket='logs')\n\
         s3.put_object(Bucket='logs', Key='AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/12/01/123456789012_vpcflowlogs_us-east-1_fl-0p_20251201T0005Z_abcd0001.log.parquet', Body=open('{}','rb').read())\n\
         s3.put_object(Bucket='logs', Key='AWSLogs/123456789012/vpcflowlogs/us-east-1/2015/08/12/123456789010_vpcflowlogs_us-east-1_fl-0q_20150812T1350Z_abcd0002.log.parquet', Body=open('{}','rb').read())\n",
        aws.display(),
        other.display()
    ));
    let out = d.join("ds");
    let (code, s, err) = moto.ingest(&["s3://logs/AWSLogs/", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err} {s}");
    assert_eq!(s["records"], 3);
    assert_eq!(s["unknown_fields"], serde_json::json!(["future_col"]));
    let rows = query(
        &out,
        "SELECT version, account_id, srcaddr, srcport, bytes, start, log_status, flow_direction, flow_log_id, source_line, \
         unknown_fields['future_col'] AS future, date, hour FROM flows ORDER BY start",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["account_id"], "123456789010");
    assert_eq!(rows[0]["srcaddr"], Value::Null);
    assert_eq!(rows[0].get("srcport"), None, "'None' is null: {}", rows[0]);
    assert_eq!(rows[0]["log_status"], "NODATA");
    assert_eq!(rows[0]["flow_log_id"], "fl-0q");
    assert_eq!(rows[1]["version"], 5);
    assert_eq!(rows[1]["srcport"], 443);
    assert_eq!(rows[1]["bytes"], 840);
    assert_eq!(rows[1]["flow_direction"], "egress");
    assert_eq!(rows[1]["future"], "x");
    assert_eq!(
        (rows[1]["date"].as_str(), rows[1]["hour"].as_str()),
        (Some("2025-12-01"), Some("00"))
    );
    assert_eq!(
        (rows[2]["hour"].as_str(), rows[2]["source_line"].as_i64()),
        (Some("01"), Some(2))
    );
    // The same object in the Hive-compatible and hourly layouts.
    moto.python(&format!(
        "body = open('{}','rb').read()\n\
         s3.put_object(Bucket='logs', Key='hive/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2025/month=12/day=01/123456789012_vpcflowlogs_us-east-1_fl-0p_20251201T0005Z_abcd0001.log.parquet', Body=body)\n\
         s3.put_object(Bucket='logs', Key='hourly/AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/12/01/00/123456789012_vpcflowlogs_us-east-1_fl-0p_20251201T0005Z_abcd0001.log.parquet', Body=body)\n",
        aws.display()
    ));
    for prefix in ["hive", "hourly"] {
        let o = d.join(&format!("ds-{prefix}"));
        let (code, s, err) = moto.ingest(&[
            &format!("s3://logs/{prefix}/AWSLogs/"),
            "--out",
            o.to_str().unwrap(),
            "--from",
            "2025-12-01",
            "--to",
            "2025-12-01",
        ]);
        assert_eq!(
            (code, s["records"].as_i64()),
            (0, Some(2)),
            "{prefix}: {err}"
        );
        assert_eq!(query_i64(&o, "SELECT sum(bytes) FROM flows"), 840);
    }
    // A Parquet file named on the command line is read the same way.
    let out2 = d.join("ds2");
    let (code, s, err) = moto.ingest(&[aws.to_str().unwrap(), "--out", out2.to_str().unwrap()]);
    assert_eq!((code, s["records"].as_i64()), (0, Some(2)), "{err}");
}

#[test]
fn incremental_runs_take_new_late_changed_and_cut_off_objects_once() {
    let moto = Moto::start();
    let proxy = util::FaultProxy::start(&moto);
    let d = Dir::new();
    let gens: Vec<(std::path::PathBuf, Value)> = [
        ("2025-12-01T00:00:00Z", 4, 7),
        ("2025-12-01T01:00:00Z", 4, 8),
        ("2025-12-01T00:40:00Z", 2, 9), // late objects for hour 00
    ]
    .iter()
    .enumerate()
    .map(|(i, (start, files, seed))| {
        let dir = d.join(&format!("gen{i}"));
        let totals = util::generate(&dir, 2000, *files, start, *seed, 0);
        (dir, totals)
    })
    .collect();
    let upload = |dir: &std::path::Path| {
        moto.python(&format!(
            r#"
root = '{}'
for dirpath, _, names in os.walk(root):
    for n in sorted(names):
        if n.endswith('.log.gz'):
            rel = os.path.relpath(os.path.join(dirpath, n), root)
            s3.put_object(Bucket='logs', Key=rel, Body=open(os.path.join(dirpath, n), 'rb').read())
"#,
            dir.display()
        ));
    };
    let cut_lines: String = (0..300)
        .map(|i| format!("2 123456789012 eni-9 10.0.0.9 10.0.0.2 {i} 443 6 1 100 1764547200 1764547260 ACCEPT OK\n"))
        .collect();
    let cut = d.write("cut.gz", util::gzip(cut_lines.as_bytes()));
    moto.python(&format!(
        "s3.create_bucket(Bucket='logs')\ns3.put_object(Bucket='logs', Key='AWSLogs/123456789012/vpcflowlogs/us-east-1/2025/12/01/x_cutoff.log.gz', Body=open('{}','rb').read())\n",
        cut.display()
    ));
    upload(&gens[0].0);
    let out = d.join("ds");
    let run = || {
        let o = moto.vpcflow(&[
            "ingest",
            "--json",
            "s3://logs/AWSLogs/",
            "--out",
            out.to_str().unwrap(),
            "--endpoint-url",
            &proxy.endpoint,
        ]);
        let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap_or(Value::Null);
        (o.status.code(), s, stderr(&o))
    };
    let records = |i: usize| gens[i].1["records"].as_i64().unwrap();
    let count = || query_i64(&out, "SELECT count(*) FROM flows");

    // The download of one object breaks off half-way: nothing of it lands, the rest does.
    let (code, s, err) = run();
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(s["files"], 5);
    let failed = &s["failed_files"][0];
    assert!(
        failed["source"]
            .as_str()
            .unwrap()
            .ends_with("x_cutoff.log.gz")
    );
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("nothing of it was committed, the next run reads it again"),
        "{s}"
    );
    assert_eq!(count(), records(0));
    // The next run reads that object, and only it.
    let (code, s, err) = run();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(1), Some(4))
    );
    assert_eq!(count(), records(0) + 300);
    // New objects for a new hour and late ones for the past hour.
    upload(&gens[1].0);
    upload(&gens[2].0);
    let (code, s, err) = run();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(6), Some(5))
    );
    let all = records(0) + records(1) + records(2) + 300;
    assert_eq!(count(), all);
    // One object deleted (its records stay), one overwritten (a new ETag: replaced).
    let keys = moto.python(
        "print('\\n'.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='logs')['Contents'])))",
    );
    let keys: Vec<&str> = keys.lines().collect();
    let (changed, deleted) = (keys[0], keys[1]);
    let before = query_i64(
        &out,
        &format!("SELECT count(*) FROM flows WHERE source = 's3://logs/{changed}'"),
    );
    moto.python(&format!(
        "s3.delete_object(Bucket='logs', Key='{deleted}')\ns3.put_object(Bucket='logs', Key='{changed}', Body=open('{}','rb').read())\n",
        cut.display()
    ));
    let (code, s, err) = run();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (
            s["files"].as_i64(),
            s["replaced"].as_i64(),
            s["skipped"].as_i64()
        ),
        (Some(1), Some(1), Some(9))
    );
    assert_eq!(count(), all - before + 300);
    assert_eq!(
        query_i64(
            &out,
            "SELECT count(*) FROM (SELECT source, source_line FROM flows GROUP BY 1, 2 HAVING count(*) > 1)"
        ),
        0,
        "no record twice"
    );
}

#[test]
fn an_s3_output_holds_the_same_dataset_exactly_once_through_kills() {
    let moto = Moto::start();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    util::generate(&gen_dir, 20000, 12, "2025-12-01T00:00:00Z", 4, 3000);
    let logs = gen_dir.join("AWSLogs");
    let inventory = gen_dir.join("inventory");
    let job = |out: &str| -> Vec<String> {
        [
            "ingest",
            "--json",
            logs.to_str().unwrap(),
            "--out",
            out,
            "--commit-every",
            "200000",
            "--inventory",
            inventory.to_str().unwrap(),
            "--rollup",
            "interface-traffic",
            "--rollup",
            "cross-az-cost",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let reference = d.join("ref");
    let o = util::vpcflow(job(reference.to_str().unwrap()));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    moto.python("s3.create_bucket(Bucket='lake')");
    // A local copy of everything under an S3 prefix, to read with vpcflow.
    let download = |prefix: &str, to: &std::path::Path| -> Vec<String> {
        let keys = moto.python(&format!(
            r#"
keys = []
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='lake', Prefix='{prefix}'):
    for o in page.get('Contents', []):
        rel = o['Key'][len('{prefix}'):]
        keys.append(rel)
        path = os.path.join('{to}', rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file('lake', o['Key'], path)
print('\n'.join(keys))
"#,
            to = to.display()
        ));
        keys.lines().map(str::to_string).collect()
    };
    let run = |out: &str, env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args(job(out));
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };

    // One run: the same rows, quarantine and rollups as a local run; nothing temporary left.
    let o = run("s3://lake/flows", &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["dataset"], "s3://lake/flows");
    let copy = d.join("copy");
    let keys = download("flows/", &copy);
    assert!(keys.iter().any(|k| k.starts_with("date=")), "{keys:?}");
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with("_tmp/") || k == "_manifest/LOCK"),
        "{keys:?}"
    );
    assert_eq!(util::all_rows(&copy), util::all_rows(&reference));
    for r in ["interface-traffic", "cross-az-cost"] {
        assert_eq!(
            util::rollup_rows(&copy, r),
            util::rollup_rows(&reference, r),
            "{r}"
        );
    }
    // Again: nothing new.
    let o = run("s3://lake/flows", &[]).output().unwrap();
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(0), Some(12))
    );

    // Killed runs leave a lock behind that blocks the dataset until its lease ends; then the
    // next run takes it over and finishes the job.
    let lease = [("VPCFLOW_S3_LOCK_LEASE_SECONDS", "2")];
    let mut killed = 0;
    for wait in [1000, 1400, 1800, 2200] {
        let mut child = run("s3://lake/killed", &lease)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        if killed == 1 && wait == 1000 {
            let o = run("s3://lake/killed", &lease).output().unwrap();
            assert_eq!(o.status.code(), Some(3), "the lease holds: {}", stderr(&o));
            assert!(
                stderr(&o).contains("another vpcflow run is working on this dataset"),
                "{}",
                stderr(&o)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(2200));
    }
    assert!(killed >= 2, "{killed} runs killed");
    let o = run("s3://lake/killed", &lease).output().unwrap();
    assert!(matches!(o.status.code(), Some(0 | 2)), "{}", stderr(&o));
    let copy2 = d.join("copy2");
    download("killed/", &copy2);
    assert_eq!(util::all_rows(&copy2), util::all_rows(&reference));
    assert_eq!(
        util::rollup_rows(&copy2, "interface-traffic"),
        util::rollup_rows(&reference, "interface-traffic")
    );
}

#[test]
fn a_job_config_reads_s3_and_writes_s3() {
    let moto = Moto::start();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let totals = util::generate(&gen_dir, 3000, 4, "2025-12-01T00:00:00Z", 3, 0);
    moto.python(&format!(
        r#"
s3.create_bucket(Bucket='logs')
s3.create_bucket(Bucket='lake')
root = '{}'
for dirpath, _, names in os.walk(root):
    for n in names:
        if n.endswith('.log.gz'):
            s3.put_object(Bucket='logs', Key=os.path.relpath(os.path.join(dirpath, n), root), Body=open(os.path.join(dirpath, n), 'rb').read())
"#,
        gen_dir.display()
    ));
    let config = d.write(
        "job.toml",
        format!(
            r#"out = "s3://lake/vpc-flows"
rollups = ["interface-traffic"]
[[source]]
s3 = "s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/"
[window]
from = "2025-12-01"
to = "2025-12-01"
[aws]
region = "us-east-1"
endpoint_url = "{}"
"#,
            moto.endpoint
        ),
    );
    let o = moto.vpcflow(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(line["status"], "ok");
    assert_eq!(line["dataset"], "s3://lake/vpc-flows");
    assert_eq!(line["records"], totals["records"]);
    let keys = moto.python(
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='lake')['Contents']))",
    );
    assert!(
        keys.contains("vpc-flows/_rollups/interface-traffic/date=2025-12-01/hour=00.parquet"),
        "{keys}"
    );
    assert!(keys.contains("vpc-flows/_manifest/manifest.json"), "{keys}");
    assert!(
        keys.lines()
            .any(|k| k.starts_with("vpc-flows/date=2025-12-01/hour=00/part-"))
    );
    let o = moto.vpcflow(&["run", "--config", config.to_str().unwrap()]);
    let again: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (again["files"].as_i64(), again["skipped"].as_i64()),
        (Some(0), Some(4))
    );
}

/// Keys that differ only by `//` or `/./` are other objects: each is its own input, run
/// after run.
#[test]
fn keys_with_double_slashes_and_dots_are_each_their_own_input() {
    let moto = Moto::start();
    let d = Dir::new();
    moto.python(
        "s3.create_bucket(Bucket='logs')\n\
         for i, k in enumerate(['odd/a.log', 'odd//a.log', 'odd/./a.log']):\n    \
             s3.put_object(Bucket='logs', Key=k, Body=f'2 123456789012 eni-1 10.0.0.1 10.0.0.2 {i} 443 6 1 100 1764547200 1764547260 ACCEPT OK\\n'.encode())\n",
    );
    let out = d.join("ds");
    let (code, s, err) = moto.ingest(&["s3://logs/odd/", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (s["files"].as_i64(), s["records"].as_i64()),
        (Some(3), Some(3)),
        "{s}"
    );
    assert_eq!(
        util::sorted_rows(&out, "SELECT source, srcport FROM flows"),
        [
            "{\"source\":\"s3://logs/odd/./a.log\",\"srcport\":2}",
            "{\"source\":\"s3://logs/odd//a.log\",\"srcport\":1}",
            "{\"source\":\"s3://logs/odd/a.log\",\"srcport\":0}",
        ]
    );
    let (code, s, _) = moto.ingest(&["s3://logs/odd/", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(0), Some(3)),
        "{s}"
    );
}

/// An S3 output inside its S3 source is refused before any work; a dataset found while
/// listing a source is skipped with a warning.
#[test]
fn an_s3_output_inside_its_source_is_refused() {
    let moto = Moto::start();
    let d = Dir::new();
    moto.python(
        "s3.create_bucket(Bucket='flowlogs')\n\
         s3.put_object(Bucket='flowlogs', Key='AWSLogs/a.log', Body=b'2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 6 1 100 1764547200 1764547260 ACCEPT OK\\n')\n",
    );
    let (code, _, err) = moto.ingest(&["s3://flowlogs", "--out", "s3://flowlogs/lake"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("lies inside the source"), "{err}");
    let listed = moto
        .python("print(sum(1 for _ in s3.list_objects_v2(Bucket='flowlogs').get('Contents', [])))");
    assert_eq!(listed.trim(), "1", "nothing was written");
    // A dataset written elsewhere in the bucket, then the whole bucket as the source.
    let (code, _, err) = moto.ingest(&["s3://flowlogs/AWSLogs/", "--out", "s3://flowlogs/lake"]);
    assert_eq!(code, 0, "{err}");
    let out = d.join("local");
    for _ in 0..2 {
        let (code, s, err) = moto.ingest(&["s3://flowlogs", "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("s3://flowlogs/lake/: skipped, it is a vpcflow dataset"),
            "{err}"
        );
        assert!(s["records"].as_i64() <= Some(1), "{s}");
    }
    assert_eq!(query_i64(&out, "SELECT count(*) FROM flows"), 1);
}

/// A lock whose body is cut in the middle of the read counts as held: the second run stops
/// (exit 3) rather than taking over a live lock.
#[test]
fn a_lock_cut_mid_read_counts_as_held() {
    let moto = Moto::start();
    let proxy = util::FaultProxy::start(&moto);
    let d = Dir::new();
    let far = chrono::Utc::now().timestamp() + 3600;
    moto.python(&format!(
        "s3.create_bucket(Bucket='lake')\n\
         s3.put_object(Bucket='lake', Key='cutoff-ds/_manifest/LOCK', Body=b'{{\"holder\": \"run live, pid 1, host h\", \"expires\": {far}}}')\n"
    ));
    let f = d.write(
        "a.log",
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 6 1 100 1764547200 1764547260 ACCEPT OK\n",
    );
    let o = moto.vpcflow(&[
        "ingest",
        f.to_str().unwrap(),
        "--out",
        "s3://lake/cutoff-ds",
        "--endpoint-url",
        &proxy.endpoint,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("unreadable"), "{}", stderr(&o));
    let lock = moto.python("print(s3.get_object(Bucket='lake', Key='cutoff-ds/_manifest/LOCK')['Body'].read().decode())");
    assert!(
        lock.contains("run live"),
        "the live lock is untouched: {lock}"
    );
}

/// A holder paused past its lease, whose lock another run has taken over meanwhile, stops
/// with an error at its next commit and commits nothing; the dataset holds every record once.
/// Paused before it read the manifest, it finds nothing left to do once it resumes, and still
/// fails at its merge rather than ending as a success.
#[test]
fn a_holder_paused_past_its_lease_stops_and_commits_nothing() {
    let moto = Moto::start();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    util::generate(&gen_dir, 120_000, 8, "2025-12-01T00:00:00Z", 5, 0);
    let logs = gen_dir.join("AWSLogs");
    moto.python("s3.create_bucket(Bucket='lake')");
    let run = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args([
            "ingest",
            "--json",
            logs.to_str().unwrap(),
            "--out",
            "s3://lake/paused",
        ]);
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("VPCFLOW_S3_LOCK_LEASE_SECONDS", "3");
        c
    };
    // Stop it as soon as it holds the lock, past its lease. The watcher is ready (boto3
    // imported, which takes a while) before the run starts: started after it, it could miss
    // a run that ends first, and wait forever.
    let ready = d.join("watcher-ready");
    let pid_file = d.join("holder-pid");
    let mut watcher = moto.spawn_python(&format!(
        "import time, signal\n\
         open('{ready}', 'w').close()\n\
         deadline = time.time() + 120\n\
         while not os.path.exists('{pid}') and time.time() < deadline: time.sleep(0.01)\n\
         pid = int(open('{pid}').read())\n\
         while True:\n    \
             try:\n        s3.head_object(Bucket='lake', Key='paused/_manifest/LOCK'); break\n    \
             except Exception:\n        \
                 if time.time() > deadline: raise SystemExit('the run never held the lock')\n        \
                 time.sleep(0.01)\n\
         os.kill(pid, signal.SIGSTOP)\n",
        ready = ready.display(),
        pid = pid_file.display(),
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let a = run()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tmp = d.join("holder-pid.tmp");
    std::fs::write(&tmp, a.id().to_string()).unwrap();
    std::fs::rename(&tmp, &pid_file).unwrap();
    assert!(watcher.wait().unwrap().success(), "the watcher failed");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let b = run().output().unwrap();
    assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &a.id().to_string()])
        .status();
    let a = a.wait_with_output().unwrap();
    assert_eq!(a.status.code(), Some(1), "{}", stderr(&a));
    assert!(
        stderr(&a).contains("lost the dataset's lock"),
        "{}",
        stderr(&a)
    );
    let copy = d.join("copy");
    moto.python(&format!(
        "for page in s3.get_paginator('list_objects_v2').paginate(Bucket='lake', Prefix='paused/'):\n    \
             for o in page.get('Contents', []):\n        \
                 path = os.path.join('{}', o['Key'][len('paused/'):])\n        \
                 os.makedirs(os.path.dirname(path), exist_ok=True)\n        \
                 s3.download_file('lake', o['Key'], path)\n",
        copy.display()
    ));
    assert_eq!(query_i64(&copy, "SELECT count(*) FROM flows"), 120_000);
    assert_eq!(
        query_i64(
            &copy,
            "SELECT count(*) FROM (SELECT DISTINCT source, source_line FROM flows)"
        ),
        120_000
    );
}

/// A run whose lock cannot be renewed (the conditional rewrite of `_manifest/LOCK` denied)
/// warns, then stops with an error at its first commit and commits nothing; the next run lands
/// every record once.
#[test]
fn a_lock_that_cannot_be_renewed_stops_the_run_before_any_commit() {
    let moto = Moto::start();
    let proxy = util::FaultProxy::start(&moto);
    let d = Dir::new();
    let gen_dir = d.join("gen");
    util::generate(&gen_dir, 20_000, 4, "2025-12-01T00:00:00Z", 2, 0);
    let logs = gen_dir.join("AWSLogs");
    moto.python("s3.create_bucket(Bucket='lake')");
    let run = |endpoint: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args([
            "ingest",
            "--json",
            logs.to_str().unwrap(),
            "--out",
            "s3://lake/renewfail-ds",
            "--endpoint-url",
            endpoint,
        ]);
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("VPCFLOW_S3_LOCK_LEASE_SECONDS", "2");
        c.output().unwrap()
    };
    let o = run(&proxy.endpoint);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("_manifest/LOCK") && err.contains("PutObject") && err.contains("AccessDenied"),
        "{err}"
    );
    let keys = moto.python(
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='lake', Prefix='renewfail-ds/').get('Contents', [])))",
    );
    // Parts uploaded for the commit wait under _tmp/, where no reader looks.
    assert!(
        !keys.contains("commit-") && !keys.contains("renewfail-ds/date="),
        "nothing committed: {keys}"
    );
    // Straight to the endpoint, the next run lands everything, once.
    let o = run(&moto.endpoint);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["records"], 20_000);
    let keys = moto.python(
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='lake', Prefix='renewfail-ds/_tmp/').get('Contents', [])))",
    );
    assert_eq!(keys.trim(), "", "the first run's uploads were cleared");
}

/// An endpoint that refuses connections fails at once, in one line that names the operation,
/// the location and the likely fix, never an SDK debug dump.
#[test]
fn a_refused_endpoint_fails_at_once_in_one_line() {
    let moto = Moto::start();
    let d = Dir::new();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let f = d.write(
        "a.log",
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 6 1 100 1764547200 1764547260 ACCEPT OK\n",
    );
    for args in [
        vec![
            "ingest",
            "s3://logs/x/",
            "--out",
            d.join("o1").to_str().unwrap().to_string().leak(),
            "--endpoint-url",
            &endpoint,
        ],
        vec![
            "ingest",
            f.to_str().unwrap(),
            "--out",
            "s3://lake/x",
            "--endpoint-url",
            &endpoint,
        ],
    ] {
        let started = std::time::Instant::now();
        let o = moto.vpcflow(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("could not reach the endpoint") && err.contains("--endpoint-url"),
            "{err}"
        );
        assert!(
            err.contains("ListObjectsV2") || err.contains("PutObject"),
            "{err}"
        );
        assert!(
            !err.contains("DispatchFailure") && !err.contains("ConnectorError"),
            "{err}"
        );
    }
}

/// `query` and `report` over `--data s3://` at an endpoint that refuses connections fail within
/// seconds (object_store's own retries would back off for minutes), in one line naming the
/// dataset.
#[test]
fn reading_from_a_refused_endpoint_fails_within_seconds() {
    let moto = Moto::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    for args in [
        vec![
            "query",
            "--data",
            "s3://lake/x",
            "--endpoint-url",
            &endpoint,
            "SELECT 1",
        ],
        vec![
            "report",
            "top-talkers",
            "--data",
            "s3://lake/x",
            "--endpoint-url",
            &endpoint,
        ],
    ] {
        let started = std::time::Instant::now();
        let o = moto.vpcflow(&args);
        let took = started.elapsed();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            took < std::time::Duration::from_secs(30),
            "{args:?} took {took:?}"
        );
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("s3://lake/x"), "{err}");
    }
}

#[test]
fn an_empty_prefix_is_warned_about() {
    let moto = Moto::start();
    let d = Dir::new();
    moto.python("s3.create_bucket(Bucket='quiet')\ns3.put_object(Bucket='quiet', Key='other/x.log', Body=b'')\n");
    let out = d.join("out");
    let (code, s, err) = moto.ingest(&["s3://quiet/AWSLogs/", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["files"], 0);
    let note = "s3://quiet/AWSLogs/: no objects under this prefix";
    assert!(err.contains("WARN") && err.contains(note), "{err}");
    assert!(s["warnings"].to_string().contains(note), "{s}");
}
