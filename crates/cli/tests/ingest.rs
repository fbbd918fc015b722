//! `vpcflow ingest` on bad inputs: each gives a clear message naming the file (and line), and
//! nothing good is lost.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use util::{Dir, gzip, ingest, query, query_i64, stderr};

const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n";

fn line(n: u32) -> String {
    format!(
        "2 123456789012 eni-0a{n:05} 10.0.0.1 10.0.0.2 {n} 443 6 2 {n}00 1764547200 1764547260 ACCEPT OK\n"
    )
}

fn lines(range: std::ops::Range<u32>) -> String {
    range.map(line).collect()
}

fn parquet_files(dir: &std::path::Path) -> usize {
    util::walk(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count()
}

fn quarantined(out: &std::path::Path) -> Vec<serde_json::Value> {
    util::walk(&out.join("_quarantine"))
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn missing_file_is_fatal_and_named() {
    let d = Dir::new();
    let missing = d.join("no-such.log.gz");
    let (code, _, o) = ingest(&[
        missing.to_str().unwrap(),
        "--out",
        d.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let err = stderr(&o);
    assert!(
        err.contains("no-such.log.gz: No such file or directory"),
        "{err}"
    );
    assert_eq!(parquet_files(&d.join("out")), 0);
}

#[test]
fn empty_and_header_only_files_are_warned_about() {
    let d = Dir::new();
    let empty = d.write("in/empty.log", "");
    let header = d.write("in/header.log", HEADER);
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(s["records"], 0);
    assert_eq!(s["files"], 2);
    let warnings = s["warnings"].to_string();
    assert!(
        warnings.contains(&format!("{}: empty file", empty.display())),
        "{warnings}"
    );
    assert!(
        warnings.contains(&format!("{}: no records (header only)", header.display())),
        "{warnings}"
    );
}

#[test]
fn not_gzip_file_is_reported_and_others_land() {
    let d = Dir::new();
    let bad = d.write("in/a.log.gz", lines(0..10));
    d.write("in/b.log.gz", gzip(lines(10..20).as_bytes()));
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert_eq!(s["records"], 10);
    assert_eq!(s["failed_files"][0]["source"], bad.display().to_string());
    assert_eq!(
        s["failed_files"][0]["error"],
        "not gzip data, though the name ends in .gz"
    );
    assert_eq!(query_i64(&out, "SELECT count(*) FROM flows"), 10);
}

#[test]
fn truncated_gzip_keeps_the_lines_before_the_cut() {
    let d = Dir::new();
    let text = format!("{HEADER}{}", lines(0..5000));
    let gz = gzip(text.as_bytes());
    let cut = d.write("in/cut.log.gz", &gz[..gz.len() / 2]);
    let out = d.join("out");
    let (code, s, _) = ingest(&[cut.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    let records = s["records"].as_i64().unwrap();
    assert!(records > 1000 && records < 5000, "{records}");
    let err = s["failed_files"][0]["error"].as_str().unwrap();
    assert!(err.starts_with("truncated gzip data"), "{err}");
    assert_eq!(s["failed_files"][0]["source"], cut.display().to_string());
    // Every record that landed is one of the first lines, each once, in order of lines.
    let rows = query(
        &out,
        "SELECT count(*) AS n, min(source_line) AS lo, max(source_line) AS hi, count(DISTINCT srcport) AS ports FROM flows",
    );
    assert_eq!(rows[0]["n"], records);
    assert_eq!(rows[0]["lo"], 2);
    assert_eq!(rows[0]["ports"], records);
    // The partial last line, if any, is quarantined, never landed.
    let hi = rows[0]["hi"].as_i64().unwrap();
    assert_eq!(hi, records + 1);
    for q in quarantined(&out) {
        assert_eq!(q["line"], hi + 1);
        assert_eq!(q["error"], "incomplete line at the point the input was cut");
    }
}

#[test]
fn corrupt_gzip_is_reported() {
    let d = Dir::new();
    let mut gz = gzip(lines(0..2000).as_bytes());
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b = 0x55;
    }
    let f = d.write("in/corrupt.log.gz", &gz);
    let (code, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        d.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    let err = s["failed_files"][0]["error"].as_str().unwrap();
    assert!(err.contains("gzip"), "{err}");
}

#[test]
fn binary_garbage_and_wrong_field_counts_are_quarantined_with_line_numbers() {
    let d = Dir::new();
    let mut data = Vec::new();
    data.extend_from_slice(HEADER.as_bytes()); // line 1
    data.extend_from_slice(line(1).as_bytes()); // 2
    data.extend_from_slice(b"\x00\x01\xff\xfe\x80 binary \x9f\n"); // 3
    data.extend_from_slice(b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 6 2\n"); // 4: too few
    data.extend_from_slice(line(5).trim_end().as_bytes()); // 5: too many
    data.extend_from_slice(b" extra field\n");
    data.extend_from_slice(
        b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 x 443 6 2 1 1764547200 1764547260 ACCEPT OK\n",
    ); // 6
    data.extend_from_slice(line(7).as_bytes()); // 7
    let f = d.write("in/mixed.log", &data);
    let out = d.join("out");
    let (code, s, o) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{}", stderr(&o));
    assert_eq!(s["records"], 2);
    assert_eq!(s["bad_lines"], 4);
    let q = quarantined(&out);
    let got: Vec<(i64, String)> = q
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "expected 14 fields, found 3".to_string()),
            (4, "expected 14 fields, found 9".to_string()),
            (5, "expected 14 fields, found 16".to_string()),
            (6, "field `srcport`: \"x\" is not an integer".to_string()),
        ]
    );
    assert!(q.iter().all(|r| r["source"] == f.display().to_string()));
    let ports = query(&out, "SELECT srcport FROM flows ORDER BY srcport");
    assert_eq!(
        ports,
        [
            serde_json::json!({"srcport": 1}),
            serde_json::json!({"srcport": 7})
        ]
    );
    // The human summary names where the bad lines went.
    let o = util::vpcflow([
        "ingest",
        f.to_str().unwrap(),
        "--out",
        d.join("out2").to_str().unwrap(),
    ]);
    let text = util::stdout(&o);
    assert!(text.contains("bad lines:      4"), "{text}");
    assert!(
        text.contains(&format!(
            "bad line: {}:3: expected 14 fields, found 3",
            f.display()
        )),
        "{text}"
    );
}

#[test]
fn unknown_field_is_kept_and_named() {
    let d = Dir::new();
    let f = d.write(
        "in/future.log",
        "version interface-id bytes start shiny-new-field\n5 eni-1 100 1764547200 sparkle\n5 eni-2 50 1764547200 -\n",
    );
    let out = d.join("out");
    let (code, s, _) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(s["unknown_fields"], serde_json::json!(["shiny-new-field"]));
    let rows = query(
        &out,
        "SELECT interface_id, unknown_fields['shiny-new-field'] AS v FROM flows ORDER BY interface_id",
    );
    assert_eq!(rows[0]["v"], "sparkle");
    assert!(rows[1].get("v").is_none_or(|v| v.is_null()));
}

#[test]
fn strict_fails_on_the_first_bad_line_and_writes_nothing() {
    let d = Dir::new();
    let f = d.write(
        "in/x.log",
        format!("{}garbage line\n{}", lines(0..3), lines(3..5)),
    );
    let out = d.join("out");
    let (code, _, o) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(code, 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:4: expected 14 fields, found 2", f.display())),
        "{err}"
    );
    assert_eq!(parquet_files(&out), 0);
}

#[test]
fn format_flag_reads_headerless_custom_layouts() {
    let d = Dir::new();
    let f = d.write(
        "in/nat.log",
        "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5\n",
    );
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}",
    ]);
    assert_eq!(code, 0);
    assert_eq!(s["records"], 1);
    let rows = query(&out, "SELECT pkt_dstaddr, date, hour FROM flows");
    assert_eq!(rows[0]["pkt_dstaddr"], "203.0.113.5");
    assert_eq!(rows[0]["date"], "unknown");
    // A bad --format is a clear error before any work.
    let (code, _, o) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "${version",
    ]);
    assert_eq!(code, 1);
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
}
