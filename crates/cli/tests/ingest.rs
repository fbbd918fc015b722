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

#[test]
fn a_byte_order_mark_before_the_header_is_ignored() {
    let d = Dir::new();
    // A layout other than the default: read with the default one, every line would be bad.
    let text = "\u{feff}interface-id srcaddr dstaddr bytes start version\n\
                eni-1 10.0.0.1 10.0.0.2 100 1764547200 5\n\
                eni-2 10.0.0.3 10.0.0.4 250 1764547260 5\n";
    let f = d.write("in/bom.log", text);
    let out = d.join("out");
    let (code, s, o) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{}", stderr(&o));
    assert_eq!(s["records"], 2);
    assert_eq!(s["bad_lines"], 0);
    let rows = query(
        &out,
        "SELECT interface_id, bytes, version, source_line FROM flows ORDER BY source_line",
    );
    assert_eq!(
        rows,
        [
            serde_json::json!({"interface_id": "eni-1", "bytes": 100, "version": 5, "source_line": 2}),
            serde_json::json!({"interface_id": "eni-2", "bytes": 250, "version": 5, "source_line": 3}),
        ]
    );
    // The same in a gzip file.
    let f = d.write("in2/bom.log.gz", gzip(text.as_bytes()));
    let (code, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        d.join("out2").to_str().unwrap(),
    ]);
    assert_eq!((code, &s["records"]), (0, &serde_json::json!(2)));
}

#[test]
fn out_of_range_ports_protocols_and_nul_bytes_are_bad_lines() {
    let d = Dir::new();
    let mut data = Vec::new();
    data.extend_from_slice(HEADER.as_bytes()); // 1
    data.extend_from_slice(line(1).as_bytes()); // 2
    data.extend_from_slice(
        b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 70000 443 6 2 1 1764547200 1764547260 ACCEPT OK\n",
    ); // 3
    data.extend_from_slice(
        b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 443 300 2 1 1764547200 1764547260 ACCEPT OK\n",
    ); // 4
    data.extend_from_slice(
        b"2 123456789012 eni-\x001 10.0.0.1 10.0.0.2 1 443 6 2 1 1764547200 1764547260 ACCEPT OK\n",
    ); // 5
    data.extend_from_slice(
        b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 65535 65535 255 2 1 1764547200 1764547260 ACCEPT OK\n",
    ); // 6: the largest valid values
    let f = d.write("in/ranges.log", &data);
    let out = d.join("out");
    let (code, s, _) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(s["records"], 2);
    assert_eq!(s["bad_lines"], 3);
    let got: Vec<(i64, String)> = quarantined(&out)
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
            (3, "field `srcport`: 70000 is above 65535".to_string()),
            (4, "field `protocol`: 300 is above 255".to_string()),
            (5, "field 3 holds a NUL byte".to_string()),
        ]
    );
    let rows = query(&out, "SELECT srcport, protocol FROM flows ORDER BY srcport");
    assert_eq!(
        rows,
        [
            serde_json::json!({"srcport": 1, "protocol": 6}),
            serde_json::json!({"srcport": 65535, "protocol": 255})
        ]
    );
}

/// Flips bytes in the middle of the compressed data of the gzip member `gz`.
fn corrupt(gz: &mut [u8]) {
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 8] {
        *b ^= 0x5a;
    }
}

#[test]
fn records_of_a_corrupt_gzip_member_never_land() {
    let d = Dir::new();
    // Three members: the second is corrupt mid-stream.
    let mut bad = gzip(lines(1000..2000).as_bytes());
    corrupt(&mut bad);
    let mut data = gzip(format!("{HEADER}{}", lines(0..1000)).as_bytes());
    data.extend_from_slice(&bad);
    data.extend_from_slice(&gzip(lines(2000..3000).as_bytes()));
    let f = d.write("in/members.log.gz", &data);
    let out = d.join("out");
    let (code, s, _) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{s}");
    let err = s["failed_files"][0]["error"].as_str().unwrap();
    assert!(err.starts_with("corrupt gzip data"), "{err}");
    // The first member's records, all of them, each once; nothing of the corrupt member.
    assert_eq!(s["records"], 1000);
    let rows = query(
        &out,
        "SELECT count(*) AS n, count(DISTINCT srcport) AS ports, min(srcport) AS lo, max(srcport) AS hi, \
         sum(CASE WHEN interface_id = concat('eni-0a', lpad(CAST(srcport AS VARCHAR), 5, '0')) THEN 1 ELSE 0 END) AS sound \
         FROM flows",
    );
    assert_eq!(
        rows[0],
        serde_json::json!({"n": 1000, "ports": 1000, "lo": 0, "hi": 999, "sound": 1000})
    );

    // A member larger than what is held until its checksum (here 64 KiB, through the test
    // flag): nothing of the input lands, and the message says so.
    let mut big = gzip(lines(0..5000).as_bytes());
    corrupt(&mut big);
    let f = d.write("in2/big.log.gz", &big);
    let (code, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        d.join("out2").to_str().unwrap(),
        "--stage-bytes",
        "64KiB",
    ]);
    assert_eq!(code, 2, "{s}");
    assert_eq!(s["records"], 0, "{s}");
    let err = s["failed_files"][0]["error"].as_str().unwrap();
    assert!(err.contains("nothing of this input landed"), "{err}");
    assert_eq!(parquet_files(&d.join("out2")), 0);
}

#[test]
fn symlinks_in_a_walked_directory_are_followed_once() {
    let d = Dir::new();
    let outside = d.write("elsewhere/linked.log", lines(0..3));
    d.write("in/own.log", lines(10..12));
    std::os::unix::fs::symlink(&outside, d.join("in/link.log")).unwrap();
    // A second link to the same file, and a link back up the tree: read once, no loop.
    std::os::unix::fs::symlink(&outside, d.join("in/again.log")).unwrap();
    std::os::unix::fs::symlink(d.join("in"), d.join("in/loop")).unwrap();
    let out = d.join("out");
    let (code, s, o) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{s} {}", stderr(&o));
    assert_eq!(s["files"], 2, "{s}");
    assert_eq!(s["records"], 5);
    let ports = query(&out, "SELECT srcport FROM flows ORDER BY srcport");
    let ports: Vec<i64> = ports
        .iter()
        .map(|r| r["srcport"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [0, 1, 2, 10, 11]);
    let warnings = s["warnings"].to_string();
    assert!(
        warnings.contains("loop: a symbolic link back into a directory"),
        "{warnings}"
    );
}

#[test]
fn a_fifo_or_an_empty_directory_is_not_silently_nothing() {
    let d = Dir::new();
    let fifo = d.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, _, o) = ingest(&[
        fifo.to_str().unwrap(),
        "--out",
        d.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr(&o).contains(&format!(
            "{}: not a regular file or a directory",
            fifo.display()
        )),
        "{}",
        stderr(&o)
    );

    std::fs::create_dir_all(d.join("empty")).unwrap();
    let o = util::vpcflow([
        "ingest",
        d.join("empty").to_str().unwrap(),
        "--out",
        d.join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("WARN")
            && err.contains(&format!("{}: no files to read", d.join("empty").display())),
        "{err}"
    );
    assert!(
        util::stdout(&o).contains("files:          0"),
        "{}",
        util::stdout(&o)
    );
}

#[test]
fn from_and_to_select_the_records_of_local_files() {
    let d = Dir::new();
    // Three hours, 4 records each: start = 1764547200 (2025-12-01T00:00Z) + hour * 3600 + i.
    let mut text = String::from(HEADER);
    for h in 0..3u32 {
        for i in 0..4u32 {
            let start = 1_764_547_200 + h * 3600 + i;
            text.push_str(&format!(
                "2 123456789012 eni-{h} 10.0.0.1 10.0.0.2 {} 443 6 1 10 {start} {start} ACCEPT OK\n",
                h * 10 + i
            ));
        }
    }
    let f = d.write("in/hours.log", &text);
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2025-12-01T01:00:00Z",
        "--to",
        "2025-12-01T02:00:00Z",
    ]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["records"], 4);
    assert_eq!(s["out_of_range"], 8);
    let ports: Vec<i64> = query(&out, "SELECT srcport FROM flows ORDER BY srcport")
        .iter()
        .map(|r| r["srcport"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [10, 11, 12, 13]);
    // The same range again: nothing new. Another range, then none: the rest, each once.
    let (_, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2025-12-01T01:00:00Z",
        "--to",
        "2025-12-01T02:00:00Z",
    ]);
    assert_eq!(
        (&s["records"], &s["skipped"]),
        (&serde_json::json!(0), &serde_json::json!(1))
    );
    let (_, s, _) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--to",
        "2025-12-01T01:00:00Z",
    ]);
    assert_eq!(s["records"], 4);
    let (_, s, _) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(s["records"], 4);
    let (_, s, _) = ingest(&[f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(
        (&s["records"], &s["skipped"]),
        (&serde_json::json!(0), &serde_json::json!(1))
    );
    let rows = query(
        &out,
        "SELECT count(*) AS n, count(DISTINCT srcport) AS ports FROM flows",
    );
    assert_eq!(rows[0], serde_json::json!({"n": 12, "ports": 12}));
    // --help says what --from does for local files.
    let help = util::stdout(&util::vpcflow(["ingest", "--help"]));
    assert!(
        help.contains("Local files: records whose `start` is before it"),
        "{help}"
    );
}

#[test]
fn sizes_take_units() {
    let d = Dir::new();
    let f = d.write("in/x.log", lines(0..3));
    for size in ["1GB", "512MiB", "1 gib", "1048576"] {
        let (code, s, o) = ingest(&[
            f.to_str().unwrap(),
            "--out",
            d.join(&format!("out-{}", size.replace(' ', "")))
                .to_str()
                .unwrap(),
            "--commit-every",
            size,
        ]);
        assert_eq!(code, 0, "{size}: {}", stderr(&o));
        assert_eq!(s["records"], 3);
    }
    let (code, _, o) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        d.join("out").to_str().unwrap(),
        "--commit-every",
        "1XB",
    ]);
    assert_eq!(code, 2, "a usage error");
    assert!(stderr(&o).contains("unknown unit \"xb\""), "{}", stderr(&o));
}

/// The text reaches the parser in blocks (one per gzip member below 16 MiB, the file
/// buffer's 256 KiB for plain text): lines cut by a block's end are whole once parsed.
#[test]
fn lines_cut_at_block_ends_land_whole_and_in_order() {
    let d = Dir::new();
    // Plain text over many 256 KiB blocks, with a byte order mark before the header.
    let plain = format!("\u{feff}{HEADER}{}", lines(0..20_000));
    assert!(plain.len() > 5 * 256 * 1024);
    d.write("in/plain.log", plain.as_bytes());
    // Three gzip members cut in the middle of lines 2 and 7,000.
    let text = format!("{HEADER}{}", lines(20_000..30_000));
    let cuts = [
        HEADER.len() + 40,
        HEADER.len() + 6_999 * line(20_000).len() + 17,
    ];
    let mut gz = gzip(&text.as_bytes()[..cuts[0]]);
    gz.extend(gzip(&text.as_bytes()[cuts[0]..cuts[1]]));
    gz.extend(gzip(&text.as_bytes()[cuts[1]..]));
    d.write("in/members.log.gz", &gz);
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["records"], 30_000);
    assert_eq!(s["bad_lines"], 0);
    // Each record's line number is its own: srcport n sits on line n + 2 of its file
    // (n - 20,000 + 2 in the gzipped one).
    let wrong = query_i64(
        &out,
        "SELECT count(*) FROM flows WHERE source_line <> \
         CASE WHEN srcport < 20000 THEN srcport + 2 ELSE srcport - 20000 + 2 END",
    );
    assert_eq!(wrong, 0);
    assert_eq!(
        query_i64(&out, "SELECT count(DISTINCT srcport) FROM flows"),
        30_000
    );
    assert_eq!(
        query_i64(&out, "SELECT sum(bytes) FROM flows"),
        (0..30_000i64).map(|n| n * 100).sum::<i64>()
    );
}

#[test]
fn a_line_longer_than_1_mib_is_quarantined_and_the_lines_around_it_land() {
    let d = Dir::new();
    let long = "x".repeat(3 << 20);
    let text = format!("{HEADER}{}{long}\n{}", lines(0..100), lines(100..200));
    d.write("in/long.log.gz", gzip(text.as_bytes()));
    d.write("in/long.log", text.as_bytes());
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{s}");
    assert_eq!(s["records"], 400);
    assert_eq!(s["bad_lines"], 2);
    let mut q = quarantined(&out);
    q.sort_by_key(|q| q["source"].as_str().unwrap().to_string());
    assert_eq!(q.len(), 2);
    // Plain text comes in 256 KiB blocks and a gzip member's text in 1 MiB chunks: the line
    // would have to be held, and is cut.
    assert!(q[0]["source"].as_str().unwrap().ends_with("long.log"));
    assert!(q[1]["source"].as_str().unwrap().ends_with("long.log.gz"));
    for q in &q {
        assert_eq!(q["error"], "line longer than 1 MiB");
        assert_eq!(q["line"], 102);
        assert_eq!(q["text"].as_str().unwrap().len(), 4096);
    }
    assert_eq!(
        query_i64(
            &out,
            "SELECT count(*) FROM flows WHERE source_line = 103 AND srcport = 100"
        ),
        2
    );
}

#[test]
fn an_input_that_interleaves_two_hours_lands_in_one_row_group_per_hour() {
    let d = Dir::new();
    // 140,000 lines alternating between 00:00 and 01:00: the decoder hands each hour on in
    // several batches of 65,536 rows, interleaved.
    let text: String = (0..140_000u32)
        .map(|n| {
            let start = 1_764_547_200 + (n % 2) * 3600;
            format!(
                "2 123456789012 eni-0a{:05} 10.0.0.1 10.0.0.2 {} 443 6 2 {n}00 {start} {} ACCEPT OK\n",
                n % 1000,
                n % 60_000,
                start + 60
            )
        })
        .collect();
    d.write("in/mixed.log", format!("{HEADER}{text}").as_bytes());
    let out = d.join("out");
    let (code, s, _) = ingest(&[
        d.join("in").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["records"], 140_000);
    let groups = util::run_python(&format!(
        "import duckdb\n\
         print(duckdb.sql(\"SELECT regexp_extract(file_name, 'hour=\\\\d+'), \
         count(DISTINCT row_group_id), max(row_group_num_rows) FROM parquet_metadata('{}/**/*.parquet') GROUP BY ALL ORDER BY 1\").fetchall())",
        out.display()
    ));
    assert_eq!(
        groups.trim(),
        "[('hour=00', 1, 70000), ('hour=01', 1, 70000)]"
    );
}

#[test]
fn a_large_input_is_decoded_by_every_thread_and_lands_as_one_thread_lands_it() {
    let d = Dir::new();
    // Over 5 MiB of text in one gzip member: the reader hands out 1 MiB blocks of whole
    // lines. Every 997th record is a bad line; the lines cut at the blocks' ends go back to
    // the reader.
    let bad = |n: u32| n % 997 == 500;
    let text: String = (0..60_000u32)
        .map(|n| {
            if bad(n) {
                format!("bad line {n}\n")
            } else {
                line(n)
            }
        })
        .collect();
    assert!(text.len() > 5 << 20);
    let f = d.write("in/big.log.gz", gzip(format!("{HEADER}{text}").as_bytes()));
    let bad_lines: Vec<u64> = (0..60_000u32)
        .filter(|&n| bad(n))
        .map(|n| u64::from(n) + 2)
        .collect();
    let ingest_with = |out: &str, extra: &[&str]| {
        let out = d.join(out);
        let mut args = vec![f.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (code, s, _) = ingest(&args);
        assert_eq!(code, 2, "{s}");
        assert_eq!(s["records"], 60_000 - bad_lines.len() as u64, "{s}");
        assert_eq!(s["bad_lines"], bad_lines.len() as u64, "{s}");
        let mut q: Vec<u64> = quarantined(&out)
            .iter()
            .map(|q| q["line"].as_u64().unwrap())
            .collect();
        q.sort();
        assert_eq!(q, bad_lines);
        // Each record on its own line: srcport n sits on line n + 2.
        assert_eq!(
            query_i64(
                &out,
                "SELECT count(*) FROM flows WHERE source_line <> srcport + 2"
            ),
            0
        );
        (out, s)
    };
    let (one, _) = ingest_with("one", &["--threads", "1"]);
    let split_args = ["--threads", "2", "--split-bytes", "1"];
    let (split, _) = ingest_with("split", &split_args);
    assert_eq!(util::all_rows(&one), util::all_rows(&split));
    // The helper's share is in files of its own (named after it), which the input's
    // manifest entry names with the reader's.
    let helper_files = |out: &std::path::Path| {
        util::walk(out)
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .filter(|n| n.contains("-h0") || n.contains("-h1"))
            .count()
    };
    assert_eq!(helper_files(&one), 0);
    assert!(helper_files(&split) >= 1, "{:?}", util::walk(&split));
    // Read again, the input's records and bad lines are replaced, helpers' included: none
    // twice (the closure checks the quarantine's lines).
    let (_, s) = ingest_with("split", &[&split_args[..], &["--reprocess"]].concat());
    assert_eq!(s["replaced"], 1, "{s}");
    assert_eq!(util::all_rows(&one), util::all_rows(&split));

    // With --strict, the first bad line (whichever thread meets it) stops the run and
    // nothing lands.
    let strict = d.join("strict");
    let (code, s, o) = ingest(&[
        f.to_str().unwrap(),
        "--out",
        strict.to_str().unwrap(),
        "--threads",
        "2",
        "--split-bytes",
        "1",
        "--strict",
    ]);
    assert_eq!(code, 1, "{s}");
    let err = stderr(&o);
    let named = bad_lines
        .iter()
        .any(|l| err.contains(&format!("{}:{l}: expected 14 fields, found 3", f.display())));
    assert!(named, "{err}");
    assert_eq!(parquet_files(&strict), 0);
}
