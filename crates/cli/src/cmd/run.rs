use super::job::{self, JobSpec};
use anyhow::Context;
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CONFIG_KEYS: &str = "\
Config keys (TOML; relative paths are relative to the config file; examples/job.toml shows each):
  out = \"DIR\"                     the dataset: a directory or s3://BUCKET/PREFIX (required)
  [[source]]                      one per source (at least one), each with exactly one of:
    path = \"DIR or FILE\"            local files (directories walked recursively)
    s3 = \"s3://BUCKET/PREFIX\"       objects in AWS's flow-log key layouts
    cloudwatch = \"LOG_GROUP\"        CloudWatch Logs (needs a window)
  log_stream_prefix = \"eni-\"      CloudWatch Logs: only streams whose names start with this
  [window]                        which records to look for (default: everything listed)
    last_hours = 24                 the last N hours before now - delay_minutes
    delay_minutes = 10              leave the most recent minutes for a later run (default 10)
    from = \"2026-11-25T00:00:00Z\"   or a fixed range: RFC 3339 or a date
    to = \"2026-11-26\"
  format = \"${version} ...\"       layout of inputs without a header line (default: AWS's default)
  strict = false                  stop at the first bad line or input, committing nothing
  threads = 2                     worker threads (default: the number of cores)
  max_in_flight = 4               S3 objects or log streams read at once
  commit_every = \"1GiB\"          text read per worker between commits (bytes, or 512MiB, 1GB, ...;
                                  commit_every_mb = 1024 says the same in MiB)
  inventory = \"DIR\"               describe-subnets.json and describe-network-interfaces.json
  prices = \"FILE\"                 TOML price table laid over the built-in one
  rollups = [\"interface-traffic\", \"rejected-flows\", \"cross-az-cost\"]
                                  reports kept as hourly tables under out/_rollups/<report>/
  [aws]
    region = \"us-east-1\"          default: the standard chain (AWS_REGION, profile, ...)
    profile = \"NAME\"
    endpoint_url = \"http://...\"   an AWS-compatible endpoint
  [log]
    level = \"info\"                error, warn, info, debug or trace (default info)
    format = \"json\"               text or json (default text), on stderr

Output: one JSON line on stdout (status ok, partial, error or locked; files, skipped,
replaced, records, bad_lines, input_bytes, text_bytes, seconds, failed_files, ...).
Exit codes: 0 ok, 2 partial (inputs failed or lines quarantined; the rest landed),
3 another run holds the dataset, 1 error (what was committed before it stays).";

/// Run an ingest job described in a TOML file: for schedulers (cron, Kubernetes, AWS Batch).
#[derive(Debug, clap::Args)]
#[command(after_help = CONFIG_KEYS)]
pub struct Args {
    /// The job configuration (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Read sources the dataset already holds again, replacing their records.
    #[arg(long)]
    reprocess: bool,
    /// Check the configuration and print the job it describes as TOML (paths resolved, a
    /// last_hours window as the times it stands for now), without running it.
    #[arg(long)]
    check: bool,
    /// Run as shard I of N (I from 0): only the sources this shard owns (by account, region
    /// and flow log), into its own manifest beside the other shards' under the same dataset.
    /// `auto/N` takes I from AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array jobs) or
    /// JOB_COMPLETION_INDEX (Kubernetes indexed Jobs).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

/// `--shard I/N`, or `auto/N` with I from the scheduler's array index.
fn parse_shard(s: &str) -> anyhow::Result<vpcflow_dataset::layout::Shard> {
    let resolved = match s.strip_prefix("auto/") {
        Some(n) => {
            let (var, i) = ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"]
                .iter()
                .find_map(|v| std::env::var(v).ok().map(|i| (*v, i)))
                .with_context(|| {
                    format!(
                        "--shard {s}: neither AWS_BATCH_JOB_ARRAY_INDEX nor JOB_COMPLETION_INDEX is set"
                    )
                })?;
            anyhow::ensure!(
                i.trim().parse::<u32>().is_ok(),
                "--shard {s}: {var}={i:?} is not a shard index"
            );
            format!("{}/{n}", i.trim())
        }
        None => s.to_string(),
    };
    vpcflow_dataset::layout::Shard::parse(&resolved)
        .with_context(|| format!("--shard {resolved}: expected I/N with 0 <= I < N (or auto/N)"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    out: String,
    #[serde(default, rename = "source")]
    sources: Vec<SourceConfig>,
    log_stream_prefix: Option<String>,
    window: Option<Window>,
    format: Option<String>,
    #[serde(default)]
    strict: bool,
    threads: Option<usize>,
    max_in_flight: Option<usize>,
    commit_every_mb: Option<u64>,
    commit_every: Option<Size>,
    inventory: Option<PathBuf>,
    prices: Option<PathBuf>,
    #[serde(default)]
    rollups: Vec<String>,
    #[serde(default)]
    aws: AwsConfig,
    #[serde(default)]
    log: LogConfig,
}

/// A size in a config: bytes as an integer, or a string with a unit (`"512MiB"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceConfig {
    path: Option<PathBuf>,
    s3: Option<String>,
    cloudwatch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Window {
    last_hours: Option<u32>,
    delay_minutes: Option<u32>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsConfig {
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

/// Where logs go and how much.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// error, warn, info, debug, trace.
    pub level: Option<String>,
    /// text or json.
    pub format: Option<String>,
}

/// `p`, relative to `base` unless absolute, with `.` and `..` folded away.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads the config into a job.
fn load(path: &Path, reprocess: bool) -> anyhow::Result<(JobSpec, LogConfig)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("config {}: cannot read", path.display()))?;
    let config: Config =
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let ctx = |what: String| format!("config {}: {what}", path.display());
    anyhow::ensure!(
        !config.sources.is_empty(),
        ctx("no [[source]]: give at least one (path, s3 or cloudwatch)".into())
    );
    let mut sources = Vec::new();
    for (i, s) in config.sources.iter().enumerate() {
        let n = i + 1;
        let given = [s.path.is_some(), s.s3.is_some(), s.cloudwatch.is_some()];
        anyhow::ensure!(
            given.iter().filter(|g| **g).count() == 1,
            ctx(format!(
                "[[source]] {n}: give exactly one of path, s3, cloudwatch"
            ))
        );
        if let Some(p) = &s.path {
            let p = resolve(base, p);
            anyhow::ensure!(
                p.exists(),
                ctx(format!("[[source]] {n}: {} does not exist", p.display()))
            );
            sources.push(p.display().to_string());
        } else if let Some(u) = &s.s3 {
            anyhow::ensure!(
                u.starts_with("s3://") && u.len() > 5,
                ctx(format!(
                    "[[source]] {n}: s3 = {u:?} is not s3://BUCKET[/PREFIX]"
                ))
            );
            sources.push(u.clone());
        } else if let Some(g) = &s.cloudwatch {
            let g = g.strip_prefix("cloudwatch://").unwrap_or(g);
            anyhow::ensure!(
                !g.is_empty(),
                ctx(format!("[[source]] {n}: empty log group"))
            );
            sources.push(format!("cloudwatch://{g}"));
        }
    }
    let (from, to) = match &config.window {
        None => (None, None),
        Some(w) => window(w).map_err(|e| anyhow::anyhow!(ctx(format!("[window]: {e:#}"))))?,
    };
    if let Some(level) = &config.log.level {
        anyhow::ensure!(
            level.parse::<tracing::Level>().is_ok(),
            ctx(format!(
                "[log] level = {level:?}: expected error, warn, info, debug or trace"
            ))
        );
    }
    if let Some(f) = &config.log.format {
        anyhow::ensure!(
            f == "text" || f == "json",
            ctx(format!("[log] format = {f:?}: expected text or json"))
        );
    }
    if let Some(0) = config.commit_every_mb {
        anyhow::bail!(ctx("commit_every_mb must be at least 1".into()));
    }
    let commit_every = match (&config.commit_every, config.commit_every_mb) {
        (Some(_), Some(_)) => {
            anyhow::bail!(ctx("give commit_every or commit_every_mb, not both".into()))
        }
        (Some(Size::Bytes(b)), None) => Some(*b),
        (Some(Size::Text(t)), None) => Some(
            super::parse_size(t).map_err(|e| anyhow::anyhow!(ctx(format!("commit_every: {e}"))))?,
        ),
        (None, mb) => mb.map(|m| m << 20),
    };
    if commit_every == Some(0) {
        anyhow::bail!(ctx("commit_every must be at least 1 byte".into()));
    }
    let spec = JobSpec {
        sources,
        out: if config.out.starts_with("s3://") {
            config.out
        } else {
            resolve(base, Path::new(&config.out)).display().to_string()
        },
        format: config.format,
        strict: config.strict,
        threads: config.threads,
        from,
        to,
        aws: vpcflow_aws::AwsOptions {
            region: config.aws.region,
            profile: config.aws.profile,
            endpoint_url: config.aws.endpoint_url,
        },
        max_in_flight: config.max_in_flight.unwrap_or(4),
        log_stream_prefix: config.log_stream_prefix,
        reprocess,
        commit_every,
        stage_bytes: None,
        split_bytes: None,
        rollups: config.rollups,
        shard: None,
        inventory: config.inventory.map(|p| resolve(base, &p)),
        prices: config.prices.map(|p| resolve(base, &p)),
    };
    Ok((spec, config.log))
}

/// The job as a config file that says the same, for `--check`.
#[derive(Debug, serde::Serialize)]
struct Resolved {
    out: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    strict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    threads: Option<usize>,
    max_in_flight: usize,
    commit_every: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_stream_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inventory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prices: Option<String>,
    rollups: Vec<String>,
    source: Vec<ResolvedSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<ResolvedWindow>,
    #[serde(skip_serializing_if = "ResolvedAws::is_empty")]
    aws: ResolvedAws,
    log: ResolvedLog,
}

#[derive(Debug, serde::Serialize)]
struct ResolvedSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudwatch: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct ResolvedWindow {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct ResolvedAws {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_url: Option<String>,
}

impl ResolvedAws {
    fn is_empty(&self) -> bool {
        self.region.is_none() && self.profile.is_none() && self.endpoint_url.is_none()
    }
}

#[derive(Debug, serde::Serialize)]
struct ResolvedLog {
    level: String,
    format: String,
}

/// A local path as an absolute one, so that the printed config reads the same from anywhere.
fn absolute(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::path::absolute(p)
        .map(|a| resolve(Path::new("/"), &a))
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// The resolved job as TOML that `vpcflow run --config` reads back.
fn resolved_toml(spec: &JobSpec, log: &LogConfig) -> anyhow::Result<String> {
    let source = spec
        .sources
        .iter()
        .map(|s| {
            let mut r = ResolvedSource {
                path: None,
                s3: None,
                cloudwatch: None,
            };
            if s.starts_with("s3://") {
                r.s3 = Some(s.clone());
            } else if let Some(g) = s.strip_prefix("cloudwatch://") {
                r.cloudwatch = Some(g.to_string());
            } else {
                r.path = Some(absolute(s));
            }
            r
        })
        .collect();
    let window = (spec.from.is_some() || spec.to.is_some()).then(|| ResolvedWindow {
        from: spec.from.map(rfc3339),
        to: spec.to.map(rfc3339),
    });
    let resolved = Resolved {
        out: if spec.out.starts_with("s3://") {
            spec.out.clone()
        } else {
            absolute(&spec.out)
        },
        format: spec.format.clone(),
        strict: spec.strict,
        threads: spec.threads,
        max_in_flight: spec.max_in_flight,
        commit_every: super::format_size(
            spec.commit_every
                .unwrap_or(vpcflow_source::IngestOptions::default().commit_every),
        ),
        log_stream_prefix: spec.log_stream_prefix.clone(),
        inventory: spec.inventory.as_ref().map(absolute),
        prices: spec.prices.as_ref().map(absolute),
        rollups: spec.rollups.clone(),
        source,
        window,
        aws: ResolvedAws {
            region: spec.aws.region.clone(),
            profile: spec.aws.profile.clone(),
            endpoint_url: spec.aws.endpoint_url.clone(),
        },
        log: ResolvedLog {
            level: log.level.clone().unwrap_or_else(|| "info".into()),
            format: log.format.clone().unwrap_or_else(|| "text".into()),
        },
    };
    Ok(toml::to_string_pretty(&resolved)?)
}

fn window(w: &Window) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    use vpcflow_report::reports::parse_time;
    match (w.last_hours, &w.from, &w.to) {
        (Some(h), None, None) => {
            anyhow::ensure!(h > 0, "last_hours must be at least 1");
            let delay = i64::from(w.delay_minutes.unwrap_or(10)) * 60;
            let to = chrono::Utc::now().timestamp() - delay;
            Ok((Some(to - i64::from(h) * 3600), Some(to)))
        }
        (None, from, to) if from.is_some() || to.is_some() => {
            anyhow::ensure!(
                w.delay_minutes.is_none(),
                "delay_minutes goes with last_hours"
            );
            let from = from
                .as_deref()
                .map(|t| parse_time(t, false))
                .transpose()
                .context("from")?;
            let to = to
                .as_deref()
                .map(|t| parse_time(t, true))
                .transpose()
                .context("to")?;
            Ok((from, to))
        }
        (None, None, None) => anyhow::bail!("give last_hours, or from and to"),
        _ => anyhow::bail!("give last_hours or from/to, not both"),
    }
}

pub fn run(args: Args, log: &super::LogArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(&args.config, args.reprocess).and_then(|(mut spec, log)| {
        spec.shard = args.shard.as_deref().map(parse_shard).transpose()?;
        Ok((spec, log))
    });
    // Logging as the config asks, unless the command line says otherwise.
    let log_config = loaded.as_ref().map(|(_, l)| l).ok();
    super::init_logging(
        log.log_level
            .as_deref()
            .or(log_config.and_then(|l| l.level.as_deref()))
            .or(Some("info")),
        log.log_format
            .as_deref()
            .or(log_config.and_then(|l| l.format.as_deref())),
    );
    let mut out = std::io::stdout().lock();
    let loaded = loaded.and_then(|(spec, log)| {
        let checked =
            job::validate(&spec).with_context(|| format!("config {}", args.config.display()))?;
        Ok((spec, checked, log))
    });
    let (spec, checked, log_config) = match loaded {
        Ok(l) => l,
        Err(e) => {
            let e = job::JobError::from(e);
            tracing::error!("{}", super::describe(&e.error));
            let mut line = job::summary_json(None, Some(&e), "");
            if let Some(obj) = line.as_object_mut() {
                obj.remove("dataset");
                obj.insert("config".into(), args.config.display().to_string().into());
            }
            writeln!(out, "{line}")?;
            return Ok(job::exit_code(None, Some(&e)));
        }
    };
    if args.check {
        writeln!(
            out,
            "# {} is valid. The job it describes (paths made absolute; `vpcflow run --config` reads this too):",
            args.config.display()
        )?;
        write!(out, "{}", resolved_toml(&spec, &log_config)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let result = job::execute(&spec, checked, &job::Shown::new(false));
    let (summary, error) = match &result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    if let Some(e) = error {
        tracing::error!("{}", super::describe(&e.error));
    }
    if let Some(s) = summary {
        tracing::info!(
            records = s.records,
            files = s.files,
            skipped = s.skipped,
            seconds = s.seconds,
            "done"
        );
    }
    let mut line = job::summary_json(summary, error, &spec.out);
    if let (Some(shard), Some(obj)) = (spec.shard, line.as_object_mut()) {
        obj.insert("shard".into(), shard.to_string().into());
    }
    writeln!(out, "{line}")?;
    Ok(job::exit_code(summary, error))
}
