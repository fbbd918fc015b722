//! Rollups store times as Parquet timestamps (UTC): DuckDB reads `hour_start` (and the
//! reports' `first_seen`/`last_seen`) of every rollup as TIMESTAMP WITH TIME ZONE, and rollups
//! written before with INT64 times are rewritten by the next run.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use util::{Dir, ingest, repo_root, run_python, stderr, walk};
use vpcflow_report::reports::REPORTS;

/// Ingests sample-logs into `out` keeping every report as a rollup.
fn ingest_with_rollups(out: &std::path::Path, want_code: i32) {
    let inv = repo_root().join("sample-logs/inventory");
    let mut args = vec![
        repo_root()
            .join("sample-logs")
            .to_str()
            .unwrap()
            .to_string(),
        "--out".into(),
        out.to_str().unwrap().into(),
        "--inventory".into(),
        inv.to_str().unwrap().into(),
    ];
    for r in REPORTS {
        args.push("--rollup".into());
        args.push(r.name.into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, o) = ingest(&args);
    assert_eq!(code, want_code, "{}", stderr(&o));
}

/// For each rollup table: the DuckDB types of its time columns and its first hour (epoch).
fn duckdb_times(out: &std::path::Path) -> String {
    run_python(&format!(
        r#"
import duckdb, os
root = {root:?}
for name in sorted(os.listdir(root)):
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{{root}}/{{name}}/*/*.parquet')")
    types = dict(zip(rel.columns, [str(t) for t in rel.types]))
    first = duckdb.sql(f"SELECT min(hour_start), max(hour_start) FROM read_parquet('{{root}}/{{name}}/*/*.parquet')").fetchall()[0]
    first = [int(v.timestamp()) if hasattr(v, "timestamp") else v for v in first]
    times = ",".join(f"{{c}}={{types[c]}}" for c in ("hour_start", "first_seen", "last_seen") if c in types)
    print(name, times, first[0], first[1])
"#,
        root = out.join("_rollups").display().to_string()
    ))
}

#[test]
fn duckdb_reads_rollup_times_as_timestamps() {
    let d = Dir::new();
    let out = d.join("flows");
    ingest_with_rollups(&out, 2); // sample-logs/malformed holds bad lines
    let got = duckdb_times(&out);
    let tz = "TIMESTAMP WITH TIME ZONE";
    // The sample logs hold one hour, 2025-12-01T00 (1764547200).
    let h = 1764547200;
    let want = format!(
        "cross-az-cost hour_start={tz} {h} {h}\n\
         idle-interfaces hour_start={tz},last_seen={tz} {h} {h}\n\
         interface-traffic hour_start={tz},first_seen={tz},last_seen={tz} {h} {h}\n\
         internet-egress hour_start={tz} {h} {h}\n\
         log-health hour_start={tz},first_seen={tz},last_seen={tz} {h} {h}\n\
         nat-gateway hour_start={tz} {h} {h}\n\
         rejected-flows hour_start={tz},first_seen={tz},last_seen={tz} {h} {h}\n\
         top-talkers hour_start={tz} {h} {h}\n"
    );
    assert_eq!(got, want);
    // The values are the same instants the report prints.
    let first = run_python(&format!(
        "import duckdb\nprint(duckdb.sql(\"SELECT CAST(epoch(min(first_seen)) AS BIGINT) FROM read_parquet('{}/*/*.parquet')\").fetchall()[0][0])",
        out.join("_rollups/interface-traffic").display()
    ));
    let report = util::report(&out, "interface-traffic", &[]);
    let min_first = report
        .iter()
        .map(|r| r["first_seen"].as_str().unwrap().to_string())
        .min()
        .unwrap();
    let want = chrono::NaiveDateTime::parse_from_str(&min_first, "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(first.trim(), want.to_string());
}

#[test]
fn rollups_with_integer_times_are_rewritten() {
    let d = Dir::new();
    let out = d.join("flows");
    ingest_with_rollups(&out, 2);
    // Make the interface-traffic rollup what older versions wrote: INT64 seconds.
    let file = walk(&out.join("_rollups/interface-traffic"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    run_python(&format!(
        r#"
import duckdb
f = {f:?}
duckdb.sql(f"COPY (SELECT CAST(epoch(hour_start) AS BIGINT) AS hour_start, * EXCLUDE (hour_start, first_seen, last_seen), CAST(epoch(first_seen) AS BIGINT) AS first_seen, CAST(epoch(last_seen) AS BIGINT) AS last_seen FROM read_parquet('{{f}}', hive_partitioning=false)) TO '{{f}}.old' (FORMAT parquet)")
"#,
        f = file.display().to_string()
    ));
    std::fs::rename(file.with_extension("parquet.old"), &file).unwrap();
    assert!(duckdb_times(&out).contains("interface-traffic hour_start=BIGINT,first_seen=BIGINT"));
    // The next run reads nothing new, and still rewrites the old rollup.
    ingest_with_rollups(&out, 0);
    assert!(
        duckdb_times(&out).contains(
            "interface-traffic hour_start=TIMESTAMP WITH TIME ZONE,first_seen=TIMESTAMP WITH TIME ZONE,last_seen=TIMESTAMP WITH TIME ZONE 1764547200 1764547200"
        ),
        "{}",
        duckdb_times(&out)
    );
}

/// dashboards/grafana/vpcflow.json: every panel's Athena SQL, with Grafana's macros and
/// variables filled in as Grafana would for the sample hour, runs in DuckDB over the rollups the
/// sample logs give and returns rows (so its tables, columns and time filter are right).
#[test]
fn grafana_dashboard_queries_run_over_the_rollups() {
    let d = Dir::new();
    let out = d.join("flows");
    ingest_with_rollups(&out, 2);
    let dash = repo_root().join("dashboards/grafana/vpcflow.json");
    let got = run_python(&format!(
        r#"
import duckdb, json, re
dash = json.load(open({dash:?}))
root = {root:?}
vars = {{v["name"]: v for v in dash["templating"]["list"]}}
assert vars["datasource"]["query"] == "grafana-athena-datasource", vars["datasource"]
tables = {{"traffic_table": "interface-traffic", "cross_az_table": "cross-az-cost", "rejected_table": "rejected-flows"}}
for name in ["database", *tables]:
    assert vars[name]["type"] == "textbox", name
for p in dash["panels"]:
    for t in p["targets"]:
        assert t["datasource"]["type"] == "grafana-athena-datasource"
        assert t["connectionArgs"]["database"] == "${{database}}"
        sql = t["rawSQL"]
        sql = sql.replace("$__timeFilter(hour_start)", "hour_start >= TIMESTAMPTZ '2025-12-01 00:00:00+00' AND hour_start < TIMESTAMPTZ '2025-12-02 00:00:00+00'")
        sql = sql.replace("${{__from:date:YYYY-MM-DD}}", "2025-12-01").replace("${{__to:date:YYYY-MM-DD}}", "2025-12-02")
        for var, rollup in tables.items():
            sql = sql.replace('"${{database}}"."${{' + var + '}}"', f"read_parquet('{{root}}/{{rollup}}/*/*.parquet', hive_partitioning = true)")
        assert "$" not in sql, sql
        rows = duckdb.sql(sql).fetchall()
        print(p["id"], p["type"], len(rows) > 0)
"#,
        dash = dash.display().to_string(),
        root = out.join("_rollups").display().to_string()
    ));
    assert_eq!(
        got,
        "1 timeseries True\n2 timeseries True\n3 table True\n4 timeseries True\n5 table True\n6 table False\n"
    );
}
