//! The dataset as data: an output inside its source, a crafted manifest, symbolic links in
//! the manifest folder, and `--strict` across workers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use util::{Dir, ingest, query_i64, stderr};

fn line(i: u64) -> String {
    format!(
        "2 123456789012 eni-0aaa0000000000001 10.0.0.1 10.0.0.2 {i} 443 6 1 100 1764547200 1764547260 ACCEPT OK\n"
    )
}

/// `n` files of `per` records each under `dir`.
fn logs(d: &Dir, dir: &str, n: u64, per: u64) {
    for f in 0..n {
        let text: String = (0..per).map(|i| line(f * per + i)).collect();
        d.write(&format!("{dir}/f{f:03}.log"), text);
    }
}

#[test]
fn an_output_inside_its_source_is_refused_and_a_walk_skips_datasets() {
    let d = Dir::new();
    logs(&d, "logs", 3, 10);
    let src = d.join("logs");
    let inside = d.join("logs/lake");
    let (code, _, o) = ingest(&[src.to_str().unwrap(), "--out", inside.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr(&o).contains("lies inside the source"),
        "{}",
        stderr(&o)
    );
    assert!(!inside.exists(), "nothing was written");
    // A dataset that sits inside a walked folder (with a LOCK and a quarantine file) is not
    // read as flow logs, run after run.
    let lake = d.join("logs/old-lake");
    let (code, s, o) = ingest(&[
        d.join("logs/f000.log").to_str().unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{}", stderr(&o));
    assert_eq!(s["records"], 10);
    d.write("logs/old-lake/_quarantine/x.jsonl", "{\"line\": 1}\n");
    let out = d.join("lake");
    for _ in 0..2 {
        let (code, _, o) = ingest(&[src.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("it is a vpcflow dataset"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(query_i64(&out, "SELECT count(*) FROM flows"), 30);
}

#[test]
fn a_crafted_commit_file_is_an_error_naming_it() {
    let d = Dir::new();
    logs(&d, "logs", 1, 5);
    let out = d.join("lake");
    let (code, _, _) = ingest(&[
        d.join("logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let victim = d.write("victim.txt", "keep me");
    for bad in [
        victim.to_str().unwrap().to_string(),
        "../victim.txt".to_string(),
        "date=2025-12-01/../../victim.txt".to_string(),
    ] {
        let commit = serde_json::json!({
            "seq": 99, "run": "crafted", "sources": [],
            "added": [], "replaced": [[bad, null]], "hours": []
        });
        let name = "_manifest/commit-000000000099.json";
        std::fs::write(out.join(name), commit.to_string()).unwrap();
        let (code, _, o) = ingest(&[
            d.join("logs").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{bad}");
        let err = stderr(&o);
        assert!(
            err.contains("commit-000000000099.json")
                && err.contains("not a relative path inside the dataset"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        std::fs::remove_file(out.join(name)).unwrap();
    }
}

#[test]
fn a_symlinked_lock_is_not_written_through() {
    let d = Dir::new();
    logs(&d, "logs", 1, 5);
    let out = d.join("lake");
    std::fs::create_dir_all(out.join("_manifest")).unwrap();
    let victim = d.write("victim.txt", "keep me");
    std::os::unix::fs::symlink(&victim, out.join("_manifest/LOCK")).unwrap();
    let (code, _, o) = ingest(&[
        d.join("logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr(&o).contains("LOCK"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn strict_is_all_or_nothing_across_workers() {
    let d = Dir::new();
    // Two workers: the small clean files finish first; the last file has a bad line at its end.
    logs(&d, "logs", 4, 10);
    let mut text: String = (0..20_000).map(line).collect();
    text.push_str("2 123456789012 eni-0aaa0000000000001 not-an-address\n");
    d.write("logs/z-bad.log", text);
    let out = d.join("lake");
    let (code, _, o) = ingest(&[
        d.join("logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--strict",
        "--threads",
        "2",
    ]);
    assert_eq!(code, 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("z-bad.log"), "{}", stderr(&o));
    let parquet = util::walk(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert_eq!(parquet, 0, "nothing is committed when one worker fails");
}
