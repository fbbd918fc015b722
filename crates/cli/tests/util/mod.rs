//! Helpers for driving the `vpcflow` binary: a temp dir, commands, and the Python venv.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory removed on drop.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `vpcflow ARGS...`.
pub fn vpcflow<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .output()
        .expect("run vpcflow")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `vpcflow ingest ... --json`: exit code and the summary.
pub fn ingest(args: &[&str]) -> (i32, serde_json::Value, Output) {
    let mut a = vec!["ingest", "--json"];
    a.extend_from_slice(args);
    let o = vpcflow(&a);
    let code = o.status.code().unwrap_or(-1);
    let summary = serde_json::from_str(stdout(&o).trim()).unwrap_or(serde_json::Value::Null);
    (code, summary, o)
}

/// `vpcflow query --output json`: one JSON object per row.
pub fn query(data: &Path, sql: &str) -> Vec<serde_json::Value> {
    let o = vpcflow([
        "query",
        "--data",
        data.to_str().unwrap(),
        "--output",
        "json",
        sql,
    ]);
    assert!(o.status.success(), "query failed: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A single integer from a query like `SELECT count(*) AS n FROM flows`.
pub fn query_i64(data: &Path, sql: &str) -> i64 {
    let rows = query(data, sql);
    assert_eq!(rows.len(), 1, "{sql}");
    let obj = rows[0].as_object().unwrap();
    obj.values().next().and_then(|v| v.as_i64()).unwrap_or(0)
}

/// The Python of the project's venv (DuckDB, moto), created by scripts/python-env.sh if needed.
/// Fails (never skips) when it cannot be set up.
pub fn python() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/python-env.sh"))
        .output()
        .expect("run scripts/python-env.sh");
    assert!(
        out.status.success(),
        "could not set up the Python venv (python3 -m venv + pip install duckdb moto[server]): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Runs a Python snippet in the venv; returns stdout.
pub fn run_python(code: &str) -> String {
    let o = Command::new(python()).arg("-c").arg(code).output().unwrap();
    assert!(
        o.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
