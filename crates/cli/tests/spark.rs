//! The lake on a real distributed engine: Apache Spark (local mode, from PyPI, on a Java 17
//! runtime that scripts/spark-env.sh installs from Debian where there is none) creates the
//! tables from `vpcflow ddl --engine spark` over a generated dataset and its rollups, runs
//! queries/spark/interface-traffic.sql and rejected-flows.sql, and must answer as
//! `vpcflow report` does, row by row. Fails, never skips, when Spark cannot be set up.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use util::{Dir, ingest, query_i64, repo_root, stderr, stdout, vpcflow};

/// The venv's Python with PySpark, and Java on PATH (scripts/spark-env.sh).
fn spark_python() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/spark-env.sh"))
        .output()
        .expect("run scripts/spark-env.sh");
    assert!(
        out.status.success(),
        "could not set up Spark (PySpark from PyPI into .venv, OpenJDK 17 from Debian where \
         `java` is missing): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Copies `object` (a generated v5 object) as one of a second flow log, `fl-0aaaabbbbccccdddd`,
/// that logs the same ENIs with the default (v2) fields: its records are the same
/// observations, which the reports count once.
fn copy_as_second_flow_log(object: &Path) {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(object).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let v2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
              bytes start end action log-status";
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let at: Vec<usize> = v2
        .split_whitespace()
        .map(|f| header.iter().position(|h| h == &f).unwrap())
        .collect();
    let mut out = v2.split_whitespace().collect::<Vec<_>>().join(" ") + "\n";
    for line in lines {
        let fields: Vec<&str> = line.split(' ').collect();
        out.push_str(&at.iter().map(|i| fields[*i]).collect::<Vec<_>>().join(" "));
        out.push('\n');
    }
    let name = object.to_str().unwrap();
    assert!(name.contains("fl-0123456789abcdef0"), "{name}");
    let copy = name.replace("fl-0123456789abcdef0", "fl-0aaaabbbbccccdddd");
    std::fs::write(copy, util::gzip(out.as_bytes())).unwrap();
}

#[test]
fn spark_over_the_ddl_answers_as_vpcflow_does() {
    let python = spark_python();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let totals = util::generate(&gen_dir, 20_000, 24, "2025-12-01T00:00:00Z", 7, 0);
    let mut objects: Vec<PathBuf> = util::walk(&gen_dir.join("AWSLogs"));
    objects.sort();
    for o in objects.iter().take(6) {
        copy_as_second_flow_log(o);
    }
    let data = d.join("lake");
    let rollups = ["interface-traffic", "rejected-flows"];
    let mut args = vec![
        gen_dir.join("AWSLogs").to_str().unwrap().to_string(),
        "--out".into(),
        data.to_str().unwrap().into(),
    ];
    for r in rollups {
        args.extend(["--rollup".into(), r.into()]);
    }
    let (code, _, o) = ingest(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{}", stderr(&o));
    // The second flow log's copies are in the dataset; the reports count them once.
    let stored = query_i64(&data, "SELECT COUNT(*) AS n FROM flows");
    let generated = totals["records"].as_i64().unwrap();
    assert!(
        stored > generated,
        "{stored} records stored, {generated} generated"
    );

    let location = format!("file://{}", data.canonicalize().unwrap().display());
    let mut ddl_args = vec!["ddl", "--engine", "spark", "--location", &location];
    for r in rollups {
        ddl_args.extend(["--rollup", r]);
    }
    let o = vpcflow(&ddl_args);
    assert!(o.status.success(), "{}", stderr(&o));
    let ddl = d.write("spark.sql", stdout(&o));

    let queries = repo_root().join("queries/spark");
    // _flows_unique.sql compares every field of the record but its version, with `direction`
    // for `flow_direction` (as vpcflow does): it must name each field the flows table has.
    let unique = std::fs::read_to_string(queries.join("_flows_unique.sql")).unwrap();
    let flows = stdout(&o);
    let columns = flows
        .split("`vpcflow`.`flows` (\n")
        .nth(1)
        .unwrap()
        .lines()
        .map_while(|l| l.trim().strip_prefix('`')?.split('`').next())
        .take_while(|c| *c != "unknown_fields")
        .filter(|c| *c != "version" && *c != "flow_direction")
        .chain(["direction"])
        .collect::<Vec<_>>();
    assert!(columns.len() > 60, "{columns:?}");
    for c in columns {
        let carried = format!("COUNT(`{c}`) > 0 AS c_{c},");
        let masked = format!("IF(k.k_{c}, f.`{c}`, NULL)");
        assert!(
            unique.contains(&carried) || unique.contains(&carried.replace(',', "\n")),
            "_flows_unique.sql does not compare {c}"
        );
        assert!(
            unique.contains(&masked),
            "_flows_unique.sql does not group by {c}"
        );
    }
    let mut checks = Vec::new();
    for report in rollups {
        let o = vpcflow([
            "report",
            report,
            "--data",
            data.to_str().unwrap(),
            "--output",
            "csv",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = d.write(&format!("{report}.csv"), &o.stdout);
        checks.push(serde_json::json!({
            "name": report,
            "sql": queries.join(format!("{report}.sql")),
            "csv": csv,
        }));
    }
    // interface-traffic's answer holds every generated record once.
    let it = std::fs::read_to_string(d.join("interface-traffic.csv")).unwrap();
    let records: i64 = it
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(records, generated);
    // A rollup table read through the DDL: its totals per hour (a timestamp column).
    let rollup = "SELECT hour_start, SUM(records) AS records, SUM(rejected_records) AS rejected, \
                  SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out, COUNT(*) AS enis \
                  FROM rollup_interface_traffic GROUP BY hour_start ORDER BY hour_start";
    let out = util::query_output(&data, "csv", rollup);
    let csv = d.write("rollup.csv", &out);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.lines().count(), 3, "{text}"); // header, two hours
    checks.push(
        serde_json::json!({"name": "rollup_interface_traffic", "inline": rollup, "csv": csv}),
    );
    let rollup = "SELECT SUM(records) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes, \
                  COUNT(*) AS n FROM rollup_rejected_flows";
    let csv = d.write(
        "rollup-rejected.csv",
        util::query_output(&data, "csv", rollup),
    );
    checks.push(serde_json::json!({"name": "rollup_rejected_flows", "inline": rollup, "csv": csv}));

    let config = serde_json::json!({
        "ddl": ddl,
        "database": "vpcflow",
        "warehouse": d.join("spark"),
        "prelude": [queries.join("_flows_unique.sql")],
        "checks": checks,
    });
    let config = d.write("spark.json", config.to_string());
    let o = Command::new(&python)
        .arg(repo_root().join("crates/cli/tests/spark_check.py"))
        .arg(&config)
        .current_dir(d.path())
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let out = stdout(&o);
    println!("{out}");
    assert!(
        o.status.success(),
        "Spark's answers differ from vpcflow's:\n{out}\n{}",
        stderr(&o)
    );
    let enis = totals["enis"].as_object().unwrap().len();
    let rejected = std::fs::read_to_string(d.join("rejected-flows.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(rejected > 100, "{rejected}");
    for want in [
        format!("interface-traffic: {enis} rows equal"),
        format!("rejected-flows: {rejected} rows equal"),
        "rollup_interface_traffic: 2 rows equal".into(),
        "rollup_rejected_flows: 1 rows equal".into(),
    ] {
        assert!(out.contains(&want), "{want}: {out}");
    }
}
