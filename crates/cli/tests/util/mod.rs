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

/// `vpcflow query --output FORMAT`: its standard output; fails the test if the query fails.
#[allow(dead_code)] // each test binary compiles util; not all of them call this
pub fn query_output(data: &Path, format: &str, sql: &str) -> Vec<u8> {
    let o = vpcflow([
        "query",
        "--data",
        data.to_str().unwrap(),
        "--output",
        format,
        sql,
    ]);
    assert!(o.status.success(), "query failed: {}", stderr(&o));
    o.stdout
}

/// `vpcflow query --output json`: one JSON object per row.
pub fn query(data: &Path, sql: &str) -> Vec<serde_json::Value> {
    String::from_utf8(query_output(data, "json", sql))
        .unwrap()
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

/// A moto server (local AWS endpoint) on a free loopback port, stopped on drop. Fails, never
/// skips, when it cannot start.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let py = python();
        let server = py.with_file_name("moto_server");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (scripts/python-env.sh installs it): {e}",
                    server.display()
                )
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto server did not start on {endpoint}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Self { child, endpoint }
    }

    /// Environment for a process that must talk to this endpoint and nothing else.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Runs Python with boto3 pointed at this endpoint; `s3` is a client in scope.
    pub fn python(&self, code: &str) -> String {
        run_python(&format!("{}{code}", self.prelude()))
    }

    /// As [`Moto::python`], in the background.
    #[allow(dead_code)] // each test binary compiles util; not all of them call this
    pub fn spawn_python(&self, code: &str) -> std::process::Child {
        Command::new(python())
            .args(["-c", &format!("{}{code}", self.prelude())])
            .spawn()
            .unwrap()
    }

    fn prelude(&self) -> String {
        format!(
            "import boto3, gzip, io, os\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n",
            self.endpoint
        )
    }

    /// `vpcflow ingest --json ARGS...` with this endpoint's environment: exit code, summary,
    /// standard error.
    pub fn ingest(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let mut a = vec!["ingest", "--json"];
        a.extend_from_slice(args);
        let o = self.vpcflow(&a);
        let s = serde_json::from_str(stdout(&o).trim()).unwrap_or(serde_json::Value::Null);
        (o.status.code().unwrap_or(-1), s, stderr(&o))
    }

    /// `vpcflow ARGS...` with this endpoint's environment.
    pub fn vpcflow(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args(args);
        for k in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION"] {
            c.env_remove(k);
        }
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fault-injecting proxy (tests/fault_proxy.py) in front of a moto server.
pub struct FaultProxy {
    child: std::process::Child,
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl FaultProxy {
    pub fn start(moto: &Moto) -> Self {
        let upstream = moto.endpoint.rsplit(':').next().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new(python())
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fault_proxy.py"))
            .arg(&upstream)
            .arg(&port_file)
            .arg(dir.path().join("requests.log"))
            .spawn()
            .expect("start the fault proxy");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the fault proxy did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{}", port.trim()),
            dir,
        }
    }

    /// The requests it has forwarded or answered since the last call, each as
    /// `METHOD PATH?QUERY` (the path starts with `/BUCKET/`), and forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        let log = self.dir.path().join("requests.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_string).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vpcflow report NAME --data DATA --output json EXTRA...`: one JSON object per row.
pub fn report(data: &Path, name: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "report",
        name,
        "--data",
        data.to_str().unwrap(),
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = vpcflow(&args);
    assert!(o.status.success(), "report {name}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every file below `dir`, recursively (none when it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every row of the dataset but `unknown_fields`, in a fixed order, as CSV.
pub fn all_rows(data: &Path) -> String {
    let o = vpcflow([
        "query",
        "--data",
        data.to_str().unwrap(),
        "--output",
        "csv",
        "SELECT * EXCLUDE (unknown_fields) FROM flows ORDER BY source, source_line",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// The rows of a query, each as JSON with its fractional numbers rounded, sorted.
pub fn sorted_rows(data: &Path, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = query(data, sql)
        .iter()
        .map(|r| rounded(r).to_string())
        .collect();
    v.sort();
    v
}

/// Rows of a rollup table (all hours), sorted.
pub fn rollup_rows(data: &Path, report: &str) -> Vec<String> {
    sorted_rows(
        data,
        &format!("SELECT * FROM rollup_{}", report.replace('-', "_")),
    )
}

/// `v` with its fractional numbers cut to 12 significant digits: sums of floating-point
/// values differ in their last bits with the order they are added in.
pub fn rounded(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap();
            serde_json::Value::String(format!("{f:.12e}"))
        }
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), rounded(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(rounded).collect()),
        other => other.clone(),
    }
}

/// `vpcflow generate` into `dir`; returns its totals.
pub fn generate(
    dir: &Path,
    records: u32,
    files: u32,
    start: &str,
    seed: u32,
    bad_every: u32,
) -> serde_json::Value {
    let o = vpcflow([
        "generate",
        "--shape",
        "small",
        "--out",
        dir.to_str().unwrap(),
        "--records",
        &records.to_string(),
        "--files",
        &files.to_string(),
        "--start",
        start,
        "--seed",
        &seed.to_string(),
        "--bad-every",
        &bad_every.to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&std::fs::read(dir.join("totals.json")).unwrap()).unwrap()
}
