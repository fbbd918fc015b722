//! The tool as a new user meets it: output for people, `query` conveniences, a first run's
//! messages, `--version`, completions and the man page.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use util::{Dir, ingest, repo_root, stderr, stdout, vpcflow};

/// `vpcflow ARGS...` with `COLUMNS` set (or unset), so table widths do not depend on the
/// terminal the tests run in.
fn vpcflow_cols(columns: Option<usize>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    c.args(args);
    match columns {
        Some(n) => c.env("COLUMNS", n.to_string()),
        None => c.env_remove("COLUMNS"),
    };
    c.output().unwrap()
}

/// sample-logs/ ingested into `d/flows`.
fn samples(d: &Dir) -> PathBuf {
    let out = d.join("flows");
    let (code, _, o) = ingest(&[
        repo_root().join("sample-logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{}", stderr(&o)); // sample-logs/malformed holds bad lines on purpose
    out
}

fn inventory() -> String {
    repo_root()
        .join("sample-logs/inventory")
        .display()
        .to_string()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn table_output_is_for_people() {
    let d = Dir::new();
    let data = samples(&d);
    let inv = inventory();

    // cross-az-cost: bytes with separators, gb without an exponent, money in cents.
    let o = vpcflow_cols(
        None,
        &[
            "report",
            "cross-az-cost",
            "--data",
            p(&data),
            "--inventory",
            &inv,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let row = text
        .lines()
        .find(|l| l.contains("use1-az1") && l.contains("use1-az2"))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(
        cells[1..9],
        [
            "use1-az1",
            "use1-az2",
            "from_nat",
            "1,200,000",
            "0.0011",
            "<0.01",
            "1",
            "sender_egress"
        ],
        "{text}"
    );
    assert!(!text.contains("e-"), "no scientific notation: {text}");
    // Numbers are right-aligned: the bytes cell of the shorter value is padded on the left.
    assert!(text.contains("|   576,000 |"), "{text}");
    // peer_az_source is not in the report's default table; the note names it.
    assert!(!text.lines().next().unwrap().contains("peer_az_source"));
    assert!(
        text.contains("2 more columns not shown") && text.contains("peer_az_source, prices_as_of"),
        "{text}"
    );
    // The CSV keeps every column at full precision.
    let o = vpcflow_cols(
        None,
        &[
            "report",
            "cross-az-cost",
            "--data",
            p(&data),
            "--inventory",
            &inv,
            "--output",
            "csv",
        ],
    );
    let csv = stdout(&o);
    assert!(
        csv.contains("use1-az1,use1-az2,1200000,0.0011175870895385742,0.000022351741790771484,1,"),
        "{csv}"
    );

    // interface-traffic fits 100 columns: its widest columns are left out and named.
    let o = vpcflow_cols(
        Some(100),
        &[
            "report",
            "interface-traffic",
            "--data",
            p(&data),
            "--inventory",
            &inv,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    let table_width = text
        .lines()
        .filter(|l| l.starts_with('+') || l.starts_with('|'))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(table_width <= 100, "{table_width}: {text}");
    assert!(widest > 0);
    assert!(text.starts_with("+"), "{text}");
    let header = text.lines().nth(1).unwrap();
    assert!(header.starts_with("| interface_id "), "{header}");
    assert!(text.contains("more columns not shown"), "{text}");
    assert!(
        text.contains("description"),
        "the note names the columns left out: {text}"
    );
    // --wide shows them all: as many cells as the CSV has columns.
    let o = vpcflow_cols(
        Some(100),
        &[
            "report",
            "interface-traffic",
            "--data",
            p(&data),
            "--inventory",
            &inv,
            "--wide",
        ],
    );
    let header = stdout(&o).lines().nth(1).unwrap().to_string();
    assert_eq!(header.matches('|').count() - 1, 20, "{header}");
}

#[test]
fn table_output_has_a_default_limit_and_says_what_it_left_out() {
    let d = Dir::new();
    let gen_dir = d.join("gen");
    util::generate(&gen_dir, 6000, 6, "2025-12-01T00:00:00Z", 7, 0);
    let data = d.join("flows");
    let (code, _, o) = ingest(&[p(&gen_dir.join("AWSLogs")), "--out", p(&data)]);
    assert_eq!(code, 0, "{}", stderr(&o));
    let all = util::report(&data, "top-talkers", &[]);
    assert!(all.len() > 50, "{}", all.len());
    let o = vpcflow_cols(None, &["report", "top-talkers", "--data", p(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let rows = text.lines().filter(|l| l.starts_with("| ")).count() - 1;
    assert_eq!(rows, 50, "{text}");
    assert!(all.len() > 1000 && all.len() - 50 < 1000, "{}", all.len());
    let note = format!(
        "50 of 1,{:03} rows shown; {} more not shown (--limit N shows more, --output csv every row)",
        all.len() - 1000,
        all.len() - 50
    );
    assert!(text.contains(&note), "{note} in {text}");
    // --limit sets it; the first rows are the report's first rows.
    let o = vpcflow_cols(
        None,
        &["report", "top-talkers", "--data", p(&data), "--limit", "3"],
    );
    let text = stdout(&o);
    let first: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| "))
        .skip(1)
        .map(|l| l.split('|').nth(1).unwrap().trim())
        .collect();
    let want: Vec<&str> = all[..3]
        .iter()
        .map(|r| r["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(first, want);
    // csv prints every row.
    let o = vpcflow_cols(
        None,
        &[
            "report",
            "top-talkers",
            "--data",
            p(&data),
            "--output",
            "csv",
        ],
    );
    assert_eq!(stdout(&o).lines().count(), all.len() + 1);
}

#[test]
fn query_reads_files_flattens_maps_lists_tables_and_suggests() {
    let d = Dir::new();
    let data = samples(&d);

    // Map columns (unknown_fields) and lists come out as JSON text in CSV.
    let o = vpcflow([
        "query",
        "--data",
        p(&data),
        "--output",
        "csv",
        "SELECT * FROM flows",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    assert_eq!(csv.lines().count(), 45, "44 records and a header: {csv}");
    assert!(csv.contains(r#""{""future-field"":""#), "{csv}");
    let o = vpcflow([
        "query",
        "--data",
        p(&data),
        "--output",
        "csv",
        "SELECT make_array(1, 2) AS l, unknown_fields['future-field'] AS f FROM flows \
         WHERE unknown_fields['future-field'] IS NOT NULL ORDER BY source_line LIMIT 1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines[0], "l,f");
    assert!(lines[1].starts_with("\"[1,2]\","), "{lines:?}");

    // The table of SELECT * keeps to the terminal's width and names what it leaves out.
    let columns = csv.lines().next().unwrap().split(',').count();
    let o = vpcflow_cols(
        Some(80),
        &["query", "--data", p(&data), "SELECT * FROM flows LIMIT 3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let table: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('+') || l.starts_with('|'))
        .collect();
    assert_eq!(table.len(), 7, "{text}");
    assert!(table.iter().all(|l| l.chars().count() <= 80), "{text}");
    let shown = table[1].matches('|').count() - 1;
    assert!(shown >= 2 && shown < columns, "{text}");
    let note = format!(
        "{} more columns not shown (too wide for the terminal; --wide or --output csv shows them): ",
        columns - shown
    );
    assert!(text.contains(&note), "{note} in {text}");
    assert!(
        text.contains(&format!(", ... ({} more)", columns - shown - 16)),
        "{text}"
    );

    // --file runs a .sql file, with several statements.
    let sql = d.write(
        "q.sql",
        "CREATE TABLE t AS SELECT action, count(*) AS n FROM flows WHERE action IS NOT NULL GROUP BY 1;\n\
         SELECT * FROM t ORDER BY action;\n",
    );
    let o = vpcflow([
        "query",
        "--data",
        p(&data),
        "--output",
        "csv",
        "--file",
        p(&sql),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "action,n\nACCEPT,30\nREJECT,8\n");
    let o = vpcflow([
        "query",
        "--data",
        p(&data),
        "--file",
        p(&d.join("nope.sql")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nope.sql: cannot read"),
        "{}",
        stderr(&o)
    );

    // --help lists every table.
    let help = stdout(&vpcflow(["query", "--help"]));
    for t in [
        "flows ",
        "flows_enriched",
        "flows_unique",
        "subnets",
        "enis",
        "eni_ips",
        "prices",
        "rollup_<report>",
        "rollup_interface_traffic",
    ] {
        assert!(help.contains(t), "query --help names {t}: {help}");
    }

    // A missing rollup table names --rollup; a misspelled table gets a suggestion.
    let o = vpcflow([
        "query",
        "--data",
        p(&data),
        "SELECT * FROM rollup_interface_traffic",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--rollup interface-traffic") && err.contains("keeps no rollups yet"),
        "{err}"
    );
    let o = vpcflow(["query", "--data", p(&data), "SELECT * FROM flow"]);
    assert!(stderr(&o).contains("did you mean flows?"), "{}", stderr(&o));

    // A misspelled report gets "did you mean", in report and in --rollup.
    let o = vpcflow(["report", "interface-trafic", "--data", p(&data)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("unknown report \"interface-trafic\"; did you mean \"interface-traffic\"?"),
        "{}",
        stderr(&o)
    );
    let (code, s, _) = ingest(&[
        p(&repo_root().join("sample-logs/AWSLogs")),
        "--out",
        p(&d.join("other")),
        "--rollup",
        "rejected_flows",
    ]);
    assert_eq!(code, 1);
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("did you mean \"rejected-flows\"?"),
        "{s}"
    );
}

#[test]
fn version_completions_and_man_page() {
    let o = vpcflow(["--version"]);
    assert!(o.status.success());
    let v = stdout(&o);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(!head.is_empty(), "the tests run in a git checkout");
    assert!(
        v.starts_with(&format!(
            "vpcflow {} (commit {head}",
            env!("CARGO_PKG_VERSION")
        )),
        "{v}"
    );

    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef vpcflow"),
        ("fish", "complete -c vpcflow"),
    ] {
        let o = vpcflow(["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains(marker), "{shell}: {script}");
        for sub in ["ingest", "query", "report", "completions"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
    let o = vpcflow(["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));

    let o = vpcflow(["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
    assert!(page.contains(".TH vpcflow 1"), "{page}");
    assert!(page.contains("vpcflow\\-ingest(1)"), "{page}");
    let d = Dir::new();
    let o = vpcflow(["man", "--out", p(&d.join("man1"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ingest_page = std::fs::read_to_string(d.join("man1/vpcflow-ingest.1")).unwrap();
    assert!(
        ingest_page.contains("\\-\\-commit\\-every"),
        "{ingest_page}"
    );
    assert!(d.join("man1/vpcflow.1").is_file());
    assert!(d.join("man1/vpcflow-report.1").is_file());
}

#[test]
fn run_check_prints_the_job_as_toml_that_reads_back() {
    let d = Dir::new();
    let repo = repo_root();
    let config = d.write(
        "job.toml",
        format!(
            "out = \"flows\"\ncommit_every = \"512MiB\"\nrollups = [\"interface-traffic\"]\n\
             [[source]]\npath = \"{}\"\n[window]\nfrom = \"2025-12-01\"\nto = \"2025-12-01\"\n",
            repo.join("sample-logs/AWSLogs").display()
        ),
    );
    let o = vpcflow(["run", "--config", p(&config), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with('#'), "{text}");
    let v: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["out"].as_str(), Some(p(&d.join("flows"))));
    assert_eq!(v["commit_every"].as_str(), Some("512MiB"));
    assert_eq!(
        v["source"][0]["path"].as_str().map(PathBuf::from),
        Some(repo.join("sample-logs/AWSLogs"))
    );
    assert_eq!(v["window"]["from"].as_str(), Some("2025-12-01T00:00:00Z"));
    assert_eq!(v["window"]["to"].as_str(), Some("2025-12-02T00:00:00Z"));
    assert_eq!(v["rollups"][0].as_str(), Some("interface-traffic"));
    assert!(!text.contains("JobSpec"), "{text}");
    // The printed job is a config that says the same.
    let again = d.write("again.toml", &text);
    let o = vpcflow(["run", "--config", p(&again), "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().skip(1).collect::<Vec<_>>(),
        text.lines().skip(1).collect::<Vec<_>>()
    );
    // And it runs: without a terminal, the rollups are logged as they start and end.
    let o = vpcflow(["run", "--config", p(&again)]);
    assert!(o.status.code() == Some(0), "{}", stderr(&o));
    let logs = stderr(&o);
    let start = logs
        .find("updating the rollups")
        .unwrap_or_else(|| panic!("{logs}"));
    let end = logs
        .find("rollups updated")
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(start < end, "{logs}");
    // A size without a valid unit in a config is named with its key.
    let bad = d.write(
        "bad.toml",
        "out = \"flows\"\ncommit_every = \"1 lightyear\"\n[[source]]\npath = \".\"\n",
    );
    let o = vpcflow(["run", "--config", p(&bad), "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("commit_every: \\\"1 lightyear\\\": unknown unit"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn glibc_check_script_reads_symbol_versions() {
    let bin = env!("CARGO_BIN_EXE_vpcflow");
    let script = repo_root().join("scripts/check-glibc.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args(["99.0", bin])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(": ok"), "{}", stdout(&o));
    let o = Command::new("bash")
        .arg(&script)
        .args(["2.0", bin])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("above 2.0"), "{}", stderr(&o));
}

#[test]
fn the_project_ships_its_license_and_the_demo_writes_under_out() {
    let repo = repo_root();
    let license = std::fs::read_to_string(repo.join("LICENSE")).unwrap();
    assert!(
        license.contains("Apache License\n                           Version 2.0, January 2004")
    );
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo.join("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(
        manifest["workspace"]["package"]["repository"].as_str(),
        Some("https://github.com/vpcflow/vpcflow")
    );
    assert_eq!(
        manifest["workspace"]["package"]["license"].as_str(),
        Some("Apache-2.0")
    );
    // The example job and the demo write under out/, which `cargo clean` leaves alone.
    let o = vpcflow([
        "run",
        "--config",
        p(&repo.join("examples/job.toml")),
        "--check",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: toml::Value = toml::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["out"].as_str().map(PathBuf::from),
        Some(repo.join("out/job-demo"))
    );
    let demo = std::fs::read_to_string(repo.join("scripts/demo.sh")).unwrap();
    assert!(!demo.contains("target/job-demo") && demo.contains("out/job-demo"));
    // README's transcript quotes its SQL, so that it pastes as it is.
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    for line in readme
        .lines()
        .filter(|l| l.starts_with("$ ") && l.contains(" query "))
    {
        assert!(
            line.contains(" \"SELECT "),
            "unquoted SQL in README: {line}"
        );
    }
    assert!(readme.contains("cargo install --locked --path crates/cli"));
}
