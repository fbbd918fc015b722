//! `vpcflow dashboard` and `--output html`, loaded in a real browser (headless Chromium,
//! installed with apt-get when missing): no errors, no requests, every chart drew marks, and the
//! numbers shown are the reports' numbers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use util::{Dir, ingest, repo_root, stderr, stdout, vpcflow};

/// Debian's `chromium`, installed (as root, with apt-get) when missing: never skipped.
fn chromium() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let find = || {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|b| {
                let o = Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {b}"))
                    .output()
                    .ok()?;
                o.status
                    .success()
                    .then(|| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            })
    };
    if let Some(p) = find() {
        return p;
    }
    let started = std::time::Instant::now();
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let updated = Command::new("apt-get")
            .args(["update", "-q"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            updated && install(),
            "chromium is missing and `apt-get install -y chromium` failed (the browser tests need \
             it; run them as root on Debian/Ubuntu, or install chromium first)"
        );
    }
    eprintln!(
        "installed chromium in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    find().expect("chromium installed but not on PATH")
}

/// The DOM of `page` after its scripts ran, in headless Chromium with every request sent to a
/// dead proxy (so any request the page made would fail, and be recorded by the page).
fn load(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--proxy-server=127.0.0.1:9",
            "--window-size=1400,3000",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", stderr(&o));
    stdout(&o)
}

/// The value of attribute `name` in the first tag that `marker` is part of.
fn attr(dom: &str, marker: &str, name: &str) -> Option<String> {
    let at = dom.find(marker)?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    let tag = &dom[start..end];
    let key = format!(" {name}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

/// Panels in the DOM: id -> (rows, drawn marks).
fn panels(dom: &str) -> BTreeMap<String, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    for (i, _) in dom.match_indices("data-panel=\"") {
        let rest = &dom[i + 12..];
        let id = rest[..rest.find('"').unwrap()].to_string();
        let marker = format!("data-panel=\"{id}\"");
        out.insert(
            id,
            (
                attr(dom, &marker, "data-rows").unwrap(),
                attr(dom, &marker, "data-marks"),
            ),
        );
    }
    out
}

/// Checks what every page must show: the page ran, made no request and logged no error.
fn assert_clean(dom: &str) {
    assert_eq!(
        attr(dom, "<body", "data-ready").as_deref(),
        Some("true"),
        "the page's script did not finish"
    );
    let errors = attr(dom, "id=\"page-errors\"", "data-count");
    let text = dom
        .find("id=\"page-errors\"")
        .map(|i| &dom[i..(i + 2000).min(dom.len())])
        .unwrap_or("");
    assert_eq!(errors.as_deref(), Some("0"), "errors on the page: {text}");
    assert_eq!(
        attr(dom, "<body", "data-requests").as_deref(),
        Some("0"),
        "the page made requests: {text}"
    );
}

/// `vpcflow report NAME --output csv` as rows of column name -> value.
fn report_csv(data: &Path, name: &str, inv: &Path) -> Vec<BTreeMap<String, String>> {
    let o = vpcflow([
        "report",
        name,
        "--data",
        data.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--output",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header: Vec<String> = split_csv(lines.next().unwrap());
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn sum(rows: &[BTreeMap<String, String>], col: &str) -> f64 {
    rows.iter()
        .map(|r| r[col].parse::<f64>().unwrap_or(0.0))
        .sum()
}

fn sample_dataset(d: &Dir) -> PathBuf {
    let out = d.join("flows");
    let (code, _, _) = ingest(&[
        repo_root().join("sample-logs").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "sample-logs/malformed holds bad lines on purpose");
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

#[test]
fn dashboard_of_sample_logs_in_chromium() {
    let d = Dir::new();
    let data = sample_dataset(&d);
    let inv = repo_root().join("sample-logs/inventory");
    let page = d.join("dashboard.html");
    let o = vpcflow([
        "dashboard",
        "--data",
        data.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
        "--title",
        "Sample <logs>",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 3 << 20, "{} bytes", html.len());
    assert!(html.contains("<title>Sample &lt;logs&gt;</title>"));
    // Self-contained: nothing loaded from elsewhere.
    for bad in ["<script src", "<link", "@import", "url(http"] {
        assert!(!html.contains(bad), "the page holds {bad:?}");
    }

    let dom = load(&page);
    assert_clean(&dom);
    let panels = panels(&dom);
    let want = [
        "traffic",
        "cross_az_matrix",
        "cross_az_time",
        "nat_clients",
        "internet_egress",
        "rejected_ports",
        "rejected_sources",
        "top_talkers",
        "log_health",
    ];
    assert_eq!(
        panels.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut w = want.to_vec();
            w.sort();
            w
        },
        "{panels:?}"
    );
    for (id, (rows, marks)) in &panels {
        let marks: usize = marks
            .as_deref()
            .unwrap_or_else(|| panic!("{id}: no marks counted"))
            .parse()
            .unwrap();
        assert!(rows != "0", "{id}: no rows on the sample logs");
        assert!(marks > 0, "{id}: {rows} rows but nothing drawn");
    }

    // The numbers shown are the reports' numbers for the same range.
    let csv = |name: &str| report_csv(&data, name, &inv);
    let traffic = csv("interface-traffic");
    let cross = csv("cross-az-cost");
    let rejected = csv("rejected-flows");
    let health = csv("log-health");
    let suspects: std::collections::BTreeSet<&String> = rejected
        .iter()
        .filter(|r| r["scan_suspect"] == "true")
        .map(|r| &r["src_ip"])
        .collect();
    let want: [(&str, f64); 8] = [
        ("bytes_in", sum(&traffic, "bytes_in")),
        ("bytes_out", sum(&traffic, "bytes_out")),
        ("cross_az_cost", sum(&cross, "cost_usd")),
        ("nat_cost", sum(&csv("nat-gateway"), "cost_usd")),
        (
            "internet_cost",
            sum(&csv("internet-egress"), "est_cost_usd"),
        ),
        ("rejected_records", sum(&rejected, "records")),
        ("scan_suspects", suspects.len() as f64),
        (
            "log_coverage",
            sum(&health, "coverage_ratio") / health.len() as f64,
        ),
    ];
    for (id, value) in want {
        let marker = format!("data-headline=\"{id}\"");
        let shown: f64 = attr(&dom, &marker, "data-value")
            .unwrap_or_else(|| panic!("no headline {id}"))
            .parse()
            .unwrap();
        assert!(close(shown, value), "{id}: page {shown}, report {value}");
    }
    assert!(sum(&traffic, "bytes_in") > 0.0 && !rejected.is_empty());
    // Formatted for people: the headline texts.
    let text = |id: &str| {
        let i = dom.find(&format!("data-headline=\"{id}\"")).unwrap();
        let v = i + dom[i..].find("class=\"value\">").unwrap() + 14;
        dom[v..v + dom[v..].find('<').unwrap()].to_string()
    };
    let b = text("bytes_in");
    assert!(
        b.ends_with(" B") || b.ends_with(" KB") || b.ends_with(" MB"),
        "{b}"
    );
    assert!(
        text("cross_az_cost").contains('$'),
        "{}",
        text("cross_az_cost")
    );
    assert!(
        text("log_coverage").ends_with('%'),
        "{}",
        text("log_coverage")
    );
    // Traffic over time sums to the report's bytes.
    let rows_total = sum(&traffic, "bytes_in")
        + sum(&traffic, "bytes_out")
        + sum(&traffic, "bytes_unknown_direction");
    let marker = "id=\"vpcflow-data\" type=\"application/json\">";
    let json_start = html.find(marker).unwrap() + marker.len();
    let json_end = json_start + html[json_start..].find("</script>").unwrap();
    let data_json: serde_json::Value =
        serde_json::from_str(&html[json_start..json_end].replace("<\\/", "</")).unwrap();
    let tp = &data_json["panels"][0];
    assert_eq!(tp["id"], "traffic");
    let cols = tp["table"]["columns"].as_array().unwrap();
    let bi = cols.iter().position(|c| c["name"] == "bytes").unwrap();
    let got: f64 = tp["table"]["data"][bi]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_eq!(got, rows_total);
}

#[test]
fn report_output_html_in_chromium() {
    let d = Dir::new();
    let data = sample_dataset(&d);
    let inv = repo_root().join("sample-logs/inventory");
    for name in ["interface-traffic", "rejected-flows"] {
        let o = vpcflow([
            "report",
            name,
            "--data",
            data.to_str().unwrap(),
            "--inventory",
            inv.to_str().unwrap(),
            "--output",
            "html",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let page = d.join(&format!("{name}.html"));
        std::fs::write(&page, &o.stdout).unwrap();
        let dom = load(&page);
        assert_clean(&dom);
        let panels = panels(&dom);
        let (rows, marks) = &panels[name];
        assert_eq!(
            rows.parse::<usize>().unwrap(),
            report_csv(&data, name, &inv).len()
        );
        assert!(marks.as_deref().unwrap().parse::<usize>().unwrap() > 0);
        // The table holds every row, and the SQL is the report's file.
        assert_eq!(
            dom.matches("<tr").count(),
            rows.parse::<usize>().unwrap() + 1
        );
        let sql = std::fs::read_to_string(repo_root().join(format!("queries/{name}.sql"))).unwrap();
        let first_line = sql.lines().next().unwrap().replace('>', "&gt;");
        assert!(dom.contains(&first_line), "no SQL of {name}");
    }
}

#[test]
fn dashboard_refuses_bad_ranges() {
    let d = Dir::new();
    let out = d.join("x.html");
    let o = vpcflow([
        "dashboard",
        "--data",
        d.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2025-12-02",
        "--to",
        "2025-12-01",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--from must be before --to"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn query_output_html_holds_the_rows() {
    let d = Dir::new();
    let data = sample_dataset(&d);
    let o = vpcflow([
        "query",
        "--data",
        data.to_str().unwrap(),
        "--output",
        "html",
        "SELECT action, COUNT(*) AS records FROM flows GROUP BY action ORDER BY action NULLS LAST",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = stdout(&o);
    let marker = "id=\"vpcflow-data\" type=\"application/json\">";
    let start = html.find(marker).unwrap() + marker.len();
    let end = start + html[start..].find("</script>").unwrap();
    let v: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    let table = &v["panels"][0]["table"];
    assert_eq!(table["columns"][0]["name"], "action");
    assert_eq!(table["columns"][1]["kind"], "int");
    let counts = |sql: &str| util::query_i64(&data, sql);
    assert_eq!(
        table["data"],
        serde_json::json!([
            ["ACCEPT", "REJECT", null],
            [
                counts("SELECT COUNT(*) FROM flows WHERE action = 'ACCEPT'"),
                counts("SELECT COUNT(*) FROM flows WHERE action = 'REJECT'"),
                counts("SELECT COUNT(*) FROM flows WHERE action IS NULL")
            ]
        ])
    );
}
