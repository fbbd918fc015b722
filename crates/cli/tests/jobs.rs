//! The scheduled job: incremental ingest, exactly once through kill -9 and write failures,
//! the lock, rollups equal to the reports, `vpcflow run --config`.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::{
    Dir, all_rows, generate, ingest, query_i64, rollup_rows, rounded, sorted_rows, stderr, stdout,
    vpcflow, walk,
};

/// The generated objects under `dir`, by path.
fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".log.gz"))
        .collect();
    v.sort();
    v
}

/// The quarantined lines (source, line, error), sorted.
fn quarantined(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(&data.join("_quarantine"))
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

/// Leftovers of unfinished work: temporary files anywhere in the dataset.
fn leftovers(data: &Path) -> Vec<PathBuf> {
    walk(data)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.ends_with(".tmp") || s.contains("/_tmp/")
        })
        .collect()
}

/// A small pseudo-random sequence (xorshift), seeded from the clock unless
/// VPCFLOW_TEST_SEED is set; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("VPCFLOW_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("VPCFLOW_TEST_SEED={seed}");
        Self(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn killed_and_failed_runs_are_finished_by_the_next_run_exactly_once() {
    let d = Dir::new();
    let input = d.join("in");
    generate(&input, 100_000, 36, "2025-12-01T00:00:00Z", 11, 5000);
    let logs = input.join("AWSLogs");
    let logs = logs.to_str().unwrap();
    // Small commits, so that kills land between, during and after commits; a rollup, so that
    // kills land in its update too.
    let args = |out: &Path| -> Vec<String> {
        [
            "ingest",
            logs,
            "--out",
            out.to_str().unwrap(),
            "--commit-every",
            "300000",
            "--rollup",
            "interface-traffic",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    let reference = d.join("ref");
    let t0 = Instant::now();
    let o = vpcflow(args(&reference));
    let full = t0.elapsed();
    assert_eq!(o.status.code(), Some(2), "bad lines: {}", stderr(&o));
    let expected_rows = all_rows(&reference);
    assert_eq!(expected_rows.lines().count(), 100_000 + 1, "header + rows");

    let ds = d.join("ds");
    let mut rng = Rng::new();
    let mut killed = 0;
    let mut cycles = 0;
    // Runs killed in a row: each widens the window a kill is drawn from, so that a run whose
    // remaining work is longer than the first window (a rollup redone after a kill can take
    // half of a whole run) still finishes in the end.
    let mut streak = 0;
    // Kill runs at random points until one finishes on its own: its dataset must equal the
    // reference. Start again on an empty dataset until at least 8 runs have been killed.
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
            .args(args(&ds))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait = rng.below(full.as_millis() as u64 * (1 + streak) / 3);
        std::thread::sleep(Duration::from_millis(wait));
        let finished = child.try_wait().unwrap().is_some();
        if finished {
            streak = 0;
        } else {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
            streak += 1;
        }
        child.wait().unwrap();
        if finished {
            cycles += 1;
            assert_eq!(all_rows(&ds), expected_rows, "cycle {cycles}: row for row");
            assert_eq!(quarantined(&ds), quarantined(&reference), "cycle {cycles}");
            if killed >= 8 {
                break;
            }
            std::fs::remove_dir_all(&ds).unwrap();
        }
    }
    eprintln!("{killed} runs killed in {cycles} cycles; a whole run takes {full:?}");

    // A write failure (as a full disk gives): files may not grow past 48 KiB, so the run
    // fails at its first Parquet file, naming it, and commits nothing more.
    let before = query_i64(&ds, "SELECT count(*) FROM flows");
    let o = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 48; exec \"$@\"")
        .arg("vpcflow")
        .arg(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args(&ds))
        .arg("--reprocess")
        .output()
        .unwrap();
    if o.status.code() == Some(1) {
        assert!(
            stderr(&o).contains("File too large"),
            "the error names the cause: {}",
            stderr(&o)
        );
        assert_eq!(query_i64(&ds, "SELECT count(*) FROM flows"), before);
    } else {
        // Nothing larger than the limit had to be written.
        assert!(matches!(o.status.code(), Some(0 | 2)), "{}", stderr(&o));
    }

    let o = vpcflow(args(&ds));
    assert!(
        matches!(o.status.code(), Some(0 | 2)),
        "the last run finishes: {}",
        stderr(&o)
    );
    assert_eq!(all_rows(&ds), expected_rows, "row for row");
    assert_eq!(quarantined(&ds), quarantined(&reference));
    assert_eq!(
        rollup_rows(&ds, "interface-traffic"),
        rollup_rows(&reference, "interface-traffic")
    );
    assert_eq!(leftovers(&ds), Vec::<PathBuf>::new());
    // --reprocess, with every object too large to hold in memory (written to files of its
    // own): each record and each bad line is replaced, not added again.
    let o = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args(&ds))
        .args(["--reprocess", "--stage-bytes", "100000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["replaced"], 36);
    assert_eq!(
        all_rows(&ds),
        expected_rows,
        "row for row after --reprocess"
    );
    assert_eq!(quarantined(&ds), quarantined(&reference));
    assert_eq!(
        rollup_rows(&ds, "interface-traffic"),
        rollup_rows(&reference, "interface-traffic")
    );
    // Nothing is left to read.
    let (code, s, _) = ingest(&[logs, "--out", ds.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(s["files"], 0);
    assert_eq!(s["skipped"], 36);
}

/// Asserts that every hour of each rollup equals the report over that hour.
fn assert_rollups_equal_reports(data: &Path, inventory: &Path, hours: &[&str]) {
    for report in ["interface-traffic", "rejected-flows", "cross-az-cost"] {
        let mut total_rows = 0;
        for hour in hours {
            let from = format!("2025-12-01T{hour}:00:00Z");
            let to = format!("2025-12-01T{:02}:00:00Z", hour.parse::<u32>().unwrap() + 1);
            let mut expected: Vec<String> = util::report(
                data,
                report,
                &[
                    "--from",
                    &from,
                    "--to",
                    &to,
                    "--inventory",
                    inventory.to_str().unwrap(),
                ],
            )
            .iter()
            .map(|r| {
                // The rollup keeps times as UTC instants (printed with a Z); the report prints
                // the same instants without a zone.
                let mut r = r.clone();
                for k in ["first_seen", "last_seen"] {
                    if let Some(serde_json::Value::String(t)) = r.get_mut(k) {
                        t.push('Z');
                    }
                }
                rounded(&r).to_string()
            })
            .collect();
            expected.sort();
            let got = sorted_rows(
                data,
                &format!(
                    "SELECT * EXCLUDE (hour_start, date) FROM rollup_{} WHERE hour_start = '{from}'",
                    report.replace('-', "_")
                ),
            );
            assert_eq!(got, expected, "{report} at {from}");
            total_rows += got.len();
        }
        assert!(total_rows > 0, "{report} has rows");
    }
}

/// (inode, modification time) of each rollup file: what changes when one is rewritten.
fn rollup_files(data: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    walk(&data.join("_rollups"))
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap();
            (
                p.strip_prefix(data).unwrap().display().to_string(),
                (m.ino(), m.modified().unwrap()),
            )
        })
        .collect()
}

fn changed_hours(
    before: &BTreeMap<String, (u64, std::time::SystemTime)>,
    after: &BTreeMap<String, (u64, std::time::SystemTime)>,
) -> Vec<String> {
    let mut hours: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k.rsplit('/').next().unwrap().to_string())
        .collect();
    hours.sort();
    hours.dedup();
    hours
}

#[test]
fn incremental_runs_over_a_growing_source() {
    let d = Dir::new();
    let src = d.join("src");
    let ds = d.join("ds");
    // Three batches of objects: hour 00 (00:00-00:25), hour 01, and late objects for hour 00
    // (00:30-00:35) that arrive after hour 01.
    let early = generate(&d.join("g1"), 6000, 6, "2025-12-01T00:00:00Z", 1, 0);
    let next = generate(&d.join("g2"), 6000, 6, "2025-12-01T01:00:00Z", 2, 0);
    let late = generate(&d.join("g3"), 2000, 2, "2025-12-01T00:30:00Z", 3, 0);
    let inventory = d.join("g1/inventory");
    let copy_in = |g: &str| {
        for f in objects(&d.join(g)) {
            let rel = f.strip_prefix(d.join(g)).unwrap();
            let dest = src.join(rel);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&f, &dest).unwrap();
        }
    };
    let run = |extra: &[&str]| {
        let mut args = vec![
            src.to_str().unwrap(),
            "--out",
            ds.to_str().unwrap(),
            "--inventory",
            inventory.to_str().unwrap(),
            "--rollup",
            "interface-traffic",
            "--rollup",
            "rejected-flows",
            "--rollup",
            "cross-az-cost",
        ];
        args.extend_from_slice(extra);
        let (code, s, o) = ingest(&args);
        assert_eq!(code, 0, "{}", stderr(&o));
        s
    };
    let totals = |parts: &[&Value]| {
        (
            parts
                .iter()
                .map(|t| t["records"].as_i64().unwrap())
                .sum::<i64>(),
            parts
                .iter()
                .map(|t| t["bytes"].as_i64().unwrap())
                .sum::<i64>(),
        )
    };
    let held = |ds: &Path| {
        (
            query_i64(ds, "SELECT count(*) FROM flows"),
            query_i64(ds, "SELECT sum(bytes) FROM flows"),
        )
    };

    copy_in("g1");
    let s = run(&[]);
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(6), Some(0))
    );
    assert_eq!(held(&ds), totals(&[&early]));
    assert_rollups_equal_reports(&ds, &inventory, &["00"]);
    let r1 = rollup_files(&ds);

    // New objects for a new hour: only they are read, only their hour's rollups change.
    copy_in("g2");
    let s = run(&[]);
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(6), Some(6))
    );
    assert_eq!(held(&ds), totals(&[&early, &next]));
    let r2 = rollup_files(&ds);
    assert_eq!(changed_hours(&r1, &r2), ["hour=01.parquet"]);
    assert_rollups_equal_reports(&ds, &inventory, &["00", "01"]);

    // Late objects for the past hour.
    copy_in("g3");
    let s = run(&[]);
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(2), Some(12))
    );
    assert_eq!(held(&ds), totals(&[&early, &next, &late]));
    let r3 = rollup_files(&ds);
    assert_eq!(changed_hours(&r2, &r3), ["hour=00.parquet"]);
    assert_rollups_equal_reports(&ds, &inventory, &["00", "01"]);

    // A deleted source object: the dataset keeps its records (it is the archive), nothing is
    // read, nothing changes.
    let gone = objects(&src.join("AWSLogs"))[7].clone();
    std::fs::remove_file(&gone).unwrap();
    let s = run(&[]);
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(0), Some(13))
    );
    assert_eq!(held(&ds), totals(&[&early, &next, &late]));
    assert_eq!(changed_hours(&r3, &rollup_files(&ds)), Vec::<String>::new());

    // A source object rewritten with fewer records: its records are replaced.
    let changed = objects(&src.join("AWSLogs"))[0].clone();
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&changed).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let all: Vec<&str> = text.lines().collect();
    let keep = all.len() / 2; // the header and the first records: lines 1..=keep
    let gone_rows = format!(
        "FROM flows WHERE source = '{}' AND source_line > {keep}",
        changed.display()
    );
    let dropped = query_i64(&ds, &format!("SELECT count(*) {gone_rows}"));
    let dropped_bytes = query_i64(&ds, &format!("SELECT sum(bytes) {gone_rows}"));
    assert_eq!(dropped, (all.len() - keep) as i64);
    std::fs::write(
        &changed,
        util::gzip(format!("{}\n", all[..keep].join("\n")).as_bytes()),
    )
    .unwrap();
    let s = run(&[]);
    assert_eq!(
        (s["files"].as_i64(), s["replaced"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(
        s["warnings"]
            .to_string()
            .contains("changed since it was read"),
        "{s}"
    );
    let (n, b) = totals(&[&early, &next, &late]);
    assert_eq!(held(&ds), (n - dropped, b - dropped_bytes));
    assert_eq!(
        query_i64(
            &ds,
            "SELECT count(*) FROM (SELECT source, source_line FROM flows GROUP BY 1, 2 HAVING count(*) > 1)"
        ),
        0,
        "no record twice"
    );
    assert_rollups_equal_reports(&ds, &inventory, &["00", "01"]);

    // --reprocess reads everything again and replaces it: the same dataset.
    let rows = all_rows(&ds);
    let s = run(&["--reprocess"]);
    assert_eq!(
        (s["files"].as_i64(), s["replaced"].as_i64()),
        (Some(13), Some(13))
    );
    assert_eq!(all_rows(&ds), rows);
    assert_rollups_equal_reports(&ds, &inventory, &["00", "01"]);
    assert_eq!(leftovers(&ds), Vec::<PathBuf>::new());
}

#[test]
fn a_second_run_on_a_held_dataset_exits_with_a_clear_message() {
    let d = Dir::new();
    let ds = d.join("ds");
    let repo = util::repo_root();
    let logs = repo.join("sample-logs/AWSLogs");
    let (code, _, _) = ingest(&[logs.to_str().unwrap(), "--out", ds.to_str().unwrap()]);
    assert_eq!(code, 0);
    // Another process holds the lock (as a run in progress does).
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(ds.join("_manifest/LOCK"))
        .unwrap();
    lock.lock().unwrap();
    let (code, s, o) = ingest(&[logs.to_str().unwrap(), "--out", ds.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(s["status"], "locked");
    assert!(
        stderr(&o).contains("another vpcflow run is working on this dataset"),
        "{}",
        stderr(&o)
    );
    let config = d.write(
        "job.toml",
        format!(
            "out = {:?}\n[[source]]\npath = {:?}\n",
            ds.display().to_string(),
            logs.display().to_string()
        ),
    );
    let o = vpcflow(["run", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let line: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(line["status"], "locked");
    lock.unlock().unwrap();
    let o = vpcflow(["run", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn run_config_runs_a_job_and_prints_one_json_line() {
    let d = Dir::new();
    let repo = util::repo_root();
    let ds = d.join("ds");
    let config = d.write(
        "job.toml",
        format!(
            r#"out = "ds"
inventory = {inv:?}
rollups = ["interface-traffic", "cross-az-cost"]
commit_every_mb = 1
[[source]]
path = {logs:?}
[[source]]
path = {cw:?}
[window]
from = "2025-12-01"
to = "2025-12-01"
[log]
level = "debug"
format = "json"
"#,
            inv = repo.join("sample-logs/inventory").display().to_string(),
            logs = repo.join("sample-logs/AWSLogs").display().to_string(),
            cw = repo
                .join("sample-logs/cloudwatch-export")
                .display()
                .to_string(),
        ),
    );
    let o = vpcflow(["run", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["status"], "ok");
    assert_eq!(
        line["dataset"],
        ds.display().to_string(),
        "relative to the config"
    );
    assert!(line["files"].as_i64().unwrap() >= 4, "{line}");
    assert!(line["rollup_hours"].as_i64().unwrap() >= 1, "{line}");
    for key in [
        "records",
        "bad_lines",
        "input_bytes",
        "text_bytes",
        "seconds",
        "failed_files",
    ] {
        assert!(line.get(key).is_some(), "{key} in {line}");
    }
    assert_eq!(
        query_i64(&ds, "SELECT count(*) FROM flows"),
        line["records"].as_i64().unwrap()
    );
    // The logs are JSON lines on stderr, at the level asked for.
    let logs: Vec<Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(logs.iter().any(|l| l["fields"]["message"] == "planned"));
    assert!(logs.iter().all(|l| l["level"].is_string()));
    assert!(ds.join("_rollups/cross-az-cost").is_dir());

    // (vpcflow query and report read an S3 dataset too: tests/s3_query.rs.)

    // The commented example in the repository is a valid config, and --help names every key.
    let o = vpcflow([
        "run",
        "--config",
        repo.join("examples/job.toml").to_str().unwrap(),
        "--check",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let help = stdout(&vpcflow(["run", "--help"]));
    for key in [
        "out",
        "[[source]]",
        "path",
        "s3",
        "cloudwatch",
        "log_stream_prefix",
        "[window]",
        "last_hours",
        "delay_minutes",
        "from",
        "to",
        "format",
        "strict",
        "threads",
        "max_in_flight",
        "commit_every_mb",
        "inventory",
        "prices",
        "rollups",
        "[aws]",
        "region",
        "profile",
        "endpoint_url",
        "[log]",
        "level",
    ] {
        assert!(
            help.contains(&format!("{key} ")) || help.contains(&format!("{key}\n")),
            "--help names {key}"
        );
    }
}

#[test]
fn bad_job_configs_fail_before_any_work() {
    let d = Dir::new();
    let repo = util::repo_root();
    let logs = repo.join("sample-logs/AWSLogs").display().to_string();
    let file = d.write("not-a-dir", "x");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown key",
            format!("out = \"ds\"\nthreads = 2\nrollup = [\"x\"]\n[[source]]\npath = {logs:?}\n"),
            "unknown field `rollup`",
        ),
        (
            "unknown key in a table",
            format!("out = \"ds\"\n[[source]]\npath = {logs:?}\nbucket = \"b\"\n"),
            "unknown field `bucket`",
        ),
        ("no source", "out = \"ds\"\n".to_string(), "no [[source]]"),
        (
            "missing source",
            "out = \"ds\"\n[[source]]\npath = \"nowhere/logs\"\n".to_string(),
            "nowhere/logs does not exist",
        ),
        (
            "two kinds in one source",
            format!("out = \"ds\"\n[[source]]\npath = {logs:?}\ns3 = \"s3://b/p\"\n"),
            "exactly one of path, s3, cloudwatch",
        ),
        (
            "unreadable output",
            format!(
                "out = {:?}\n[[source]]\npath = {logs:?}\n",
                file.join("ds").display().to_string()
            ),
            "Not a directory",
        ),
        (
            "unknown rollup",
            format!("out = \"ds\"\nrollups = [\"top-secret\"]\n[[source]]\npath = {logs:?}\n"),
            "top-secret",
        ),
        (
            "rollup without the inventory it needs",
            format!("out = \"ds\"\nrollups = [\"idle-interfaces\"]\n[[source]]\npath = {logs:?}\n"),
            "needs an inventory",
        ),
        (
            "bad window",
            format!(
                "out = \"ds\"\n[[source]]\npath = {logs:?}\n[window]\nlast_hours = 2\nfrom = \"2025-12-01\"\n"
            ),
            "not both",
        ),
        (
            "bad log level",
            format!("out = \"ds\"\n[[source]]\npath = {logs:?}\n[log]\nlevel = \"loud\"\n"),
            "expected error, warn, info, debug or trace",
        ),
        (
            "cloudwatch without a window",
            "out = \"ds\"\n[[source]]\ncloudwatch = \"flow-logs\"\n".to_string(),
            "need --from and --to (or a [window]",
        ),
    ];
    for (what, text, expected) in cases {
        let config = d.write("job.toml", text);
        let o = vpcflow(["run", "--config", config.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stdout(&o));
        let line: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(line["status"], "error", "{what}");
        let error = line["error"].as_str().unwrap();
        assert!(error.contains(expected), "{what}: {error}");
        assert!(
            error.contains("job.toml") || what == "unreadable output",
            "{what}: names the config: {error}"
        );
        assert!(
            stderr(&o).contains(expected),
            "{what}: logged: {}",
            stderr(&o)
        );
        assert!(!d.join("ds").exists(), "{what}: no work was done");
    }
}

#[test]
fn each_source_names_only_the_files_of_its_hours() {
    let d = Dir::new();
    let ds = d.join("ds");
    // Twelve five-minute objects from 00:30 to 01:30: one worker writes them all into one
    // commit, with files for hours 00 and 01 (and 02 for records that run past 01:30).
    generate(&d.join("g"), 12_000, 12, "2025-12-01T00:30:00Z", 5, 0);
    let (code, _, o) = ingest(&[
        d.join("g/AWSLogs").to_str().unwrap(),
        "--out",
        ds.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{}", stderr(&o));
    // The hour partitions each source's records are in, from the data.
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in util::query(
        &ds,
        "SELECT DISTINCT source, 'date=' || date || '/hour=' || hour AS p FROM flows \
         ORDER BY source, p",
    ) {
        want.entry(row["source"].as_str().unwrap().to_string())
            .or_default()
            .push(row["p"].as_str().unwrap().to_string());
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(ds.join("_manifest/manifest.json")).unwrap())
            .unwrap();
    let sources = manifest["sources"].as_object().unwrap();
    assert_eq!(sources.len(), 12);
    let mut all_partitions = std::collections::BTreeSet::new();
    for entry in sources.values() {
        let mut named: Vec<String> = entry["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = p.as_str().unwrap();
                p[..p.rfind('/').unwrap()].to_string()
            })
            .collect();
        named.sort();
        named.dedup();
        all_partitions.extend(named.iter().cloned());
        let source = entry["source"].as_str().unwrap();
        assert_eq!(Some(&named), want.get(source), "{source}: {entry}");
    }
    assert!(all_partitions.len() >= 2, "{all_partitions:?}");
}
