//! Round trip: generated text -> `vpcflow ingest` -> Parquet -> `vpcflow query` returns the same
//! records and values, and DuckDB reads the dataset as it is.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::collections::BTreeMap;
use std::io::Read;
use util::{Dir, ingest, query, query_i64, run_python, vpcflow};

/// Reads every generated object back as header-named rows, keyed by (object path, line).
fn source_rows(root: &std::path::Path) -> BTreeMap<(String, i64), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.join("AWSLogs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let mut lines = text.lines();
            let header: Vec<String> = lines
                .next()
                .unwrap()
                .split(' ')
                .map(|h| h.replace('-', "_"))
                .collect();
            for (i, l) in lines.enumerate() {
                let vals: Vec<&str> = l.split(' ').collect();
                if vals.len() != header.len() {
                    continue; // an injected bad line
                }
                let row = header
                    .iter()
                    .zip(vals)
                    .filter(|(_, v)| *v != "-")
                    .map(|(h, v)| (h.clone(), v.to_string()))
                    .collect();
                out.insert((p.display().to_string(), i as i64 + 2), row);
            }
        }
    }
    out
}

fn json_to_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn generated_v5_round_trips_exactly_and_duckdb_agrees() {
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let o = vpcflow([
        "generate",
        "--shape",
        "small",
        "--out",
        gen_dir.to_str().unwrap(),
        "--records",
        "6000",
        "--files",
        "15",
        "--bad-every",
        "997",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", util::stderr(&o));
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gen_dir.join("totals.json")).unwrap()).unwrap();
    let out = d.join("flows");
    let (code, s, o) = ingest(&[
        gen_dir.join("AWSLogs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]);
    assert_eq!(code, 2, "bad lines were injected: {}", util::stderr(&o));
    assert_eq!(s["records"], totals["records"]);
    assert_eq!(s["bad_lines"], totals["bad_lines"]);
    assert_eq!(s["files"], 15);
    assert!(s["unknown_fields"].as_array().unwrap().is_empty());

    // Every record comes back with every value it was written with, and nothing else.
    let expected = source_rows(&gen_dir);
    assert_eq!(expected.len() as u64, totals["records"].as_u64().unwrap());
    let rows = query(&out, "SELECT * FROM flows");
    assert_eq!(rows.len(), expected.len());
    let partition_keys = ["date", "hour", "source", "source_line", "flow_log_id"];
    for r in &rows {
        let obj = r.as_object().unwrap();
        let key = (
            obj["source"].as_str().unwrap().to_string(),
            obj["source_line"].as_i64().unwrap(),
        );
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected row {key:?}"));
        let got: BTreeMap<String, String> = obj
            .iter()
            .filter(|(k, v)| !v.is_null() && !partition_keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), json_to_string(v)))
            .collect();
        assert_eq!(&got, want, "row {key:?}");
        assert_eq!(obj["flow_log_id"], "fl-0123456789abcdef0");
        let start: i64 = want["start"].parse().unwrap();
        let t = chrono::DateTime::from_timestamp(start, 0).unwrap();
        assert_eq!(obj["date"], t.format("%Y-%m-%d").to_string());
        assert_eq!(obj["hour"], t.format("%H").to_string());
    }
    assert_eq!(
        query_i64(&out, "SELECT sum(bytes) FROM flows"),
        totals["bytes"].as_i64().unwrap()
    );

    // DuckDB reads the same dataset with Hive partitioning, same rows, same types.
    let py = format!(
        r#"
import duckdb
rel = duckdb.sql("SELECT count(*), sum(bytes), count(DISTINCT hour), typeof(any_value(version)), typeof(any_value(bytes)), typeof(any_value(account_id)) FROM read_parquet('{}/**/*.parquet', hive_partitioning=true)")
print("|".join(str(x) for x in rel.fetchall()[0]))
"#,
        out.display()
    );
    let duck = run_python(&py);
    let hours = query_i64(&out, "SELECT count(DISTINCT hour) FROM flows");
    assert_eq!(
        duck.trim(),
        format!(
            "{}|{}|{}|INTEGER|BIGINT|VARCHAR",
            totals["records"], totals["bytes"], hours
        )
    );
}

#[test]
fn output_formats() {
    let d = Dir::new();
    let out = d.join("flows");
    let (code, _, _) = ingest(&[
        util::repo_root()
            .join("sample-logs/cloudwatch-export")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let sql = "SELECT interface_id, count(*) AS records, sum(bytes) AS bytes FROM flows GROUP BY interface_id ORDER BY interface_id";
    let csv = util::stdout(&vpcflow([
        "query",
        "--data",
        out.to_str().unwrap(),
        "--output",
        "csv",
        sql,
    ]));
    assert_eq!(
        csv,
        "interface_id,records,bytes\neni-0app00000000000b2,1,\neni-0db000000000000c3,3,88000\neni-0web00000000000a1,6,97587\n"
    );
    let table = util::stdout(&vpcflow(["query", "--data", out.to_str().unwrap(), sql]));
    assert!(
        table.contains("| eni-0web00000000000a1 |       6 | 97,587 |"),
        "{table}"
    );
    let json = query(&out, sql);
    assert_eq!(
        json[2],
        serde_json::json!({"interface_id": "eni-0web00000000000a1", "records": 6, "bytes": 97587})
    );
    // SQL errors are clear and exit 1.
    let o = vpcflow([
        "query",
        "--data",
        out.to_str().unwrap(),
        "SELECT nope FROM flows",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(util::stderr(&o).contains("nope"), "{}", util::stderr(&o));
}
