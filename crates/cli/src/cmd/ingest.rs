use super::job::{self, JobSpec};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vpcflow_source::IngestSummary;

/// Read flow-log files into the dataset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (.log, .log.gz, .gz, plain text), directories (walked recursively),
    /// s3://BUCKET[/PREFIX] (objects in AWS's flow-log key layouts) or cloudwatch://LOG_GROUP
    /// (needs --from and --to).
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// The dataset: a directory (created if missing) or s3://BUCKET/PREFIX.
    #[arg(long, value_name = "DIR|S3_URI")]
    out: String,
    /// Record layout of files without a header line: AWS's format string
    /// (`${version} ${account-id} ...`) or field names separated by spaces. Default: AWS's
    /// default format (the 14 version-2 fields).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Fail at the first bad line or file, writing nothing.
    #[arg(long)]
    strict: bool,
    /// Files read in parallel (default: the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print the summary as one JSON line.
    #[arg(long)]
    json: bool,
    /// Only records from TIME on (RFC 3339, or a date for its midnight UTC). Local files:
    /// records whose `start` is before it are left out (and counted as out_of_range); the
    /// manifest remembers the range read, so a later run reads the rest. S3: selects the
    /// objects (by the day prefixes and the time in their names), whose records all land.
    /// CloudWatch: the events of [--from, --to).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only records before TIME (RFC 3339, or a date: the whole day is included); as --from.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    #[command(flatten)]
    aws: super::AwsArgs,
    /// S3 objects or CloudWatch log streams read at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_in_flight: usize,
    /// CloudWatch Logs: only log streams whose names start with P.
    #[arg(long, value_name = "P")]
    log_stream_prefix: Option<String>,
    /// Read sources the dataset already holds again, replacing their records (S3 objects
    /// and local files; new and changed sources are always read).
    #[arg(long)]
    reprocess: bool,
    /// Commit every SIZE of text read per worker (default 1GiB; bytes, or with a unit:
    /// 512MiB, 1GB, 2GiB): an interrupted run loses at most this much work.
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    commit_every: Option<u64>,
    /// Keep REPORT as an hourly rollup table under DIR/_rollups/REPORT (repeatable), updated
    /// for the hours this run touches.
    #[arg(long, value_name = "REPORT")]
    rollup: Vec<String>,
    /// Inventory directory for rollups that need one (see `vpcflow report --help`).
    #[arg(long, value_name = "DIR")]
    inventory: Option<PathBuf>,
    /// TOML price table for the cross-az-cost rollup.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Arrow bytes of one input held in memory before it is written to files of its own
    /// (default 64 MiB; for tests).
    #[arg(long, value_name = "SIZE", hide = true, value_parser = parse_usize_size)]
    stage_bytes: Option<usize>,
    /// Inputs of at least SIZE as stored (default 32MiB) are decoded by every worker that has
    /// no input of its own left, beside the one reading them: a single large object or
    /// export uses all the threads.
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    split_bytes: Option<u64>,
}

fn parse_usize_size(s: &str) -> Result<usize, String> {
    usize::try_from(super::parse_size(s)?).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let parse = |t: &Option<String>, end: bool, flag: &str| {
        t.as_deref()
            .map(|t| vpcflow_report::reports::parse_time(t, end))
            .transpose()
            .with_context(|| flag.to_string())
    };
    let spec = JobSpec {
        from: parse(&args.from, false, "--from")?,
        to: parse(&args.to, true, "--to")?,
        sources: args.sources,
        out: args.out.clone(),
        format: args.format,
        strict: args.strict,
        threads: args.threads,
        aws: args.aws.options(),
        max_in_flight: args.max_in_flight,
        log_stream_prefix: args.log_stream_prefix,
        reprocess: args.reprocess,
        commit_every: args.commit_every,
        stage_bytes: args.stage_bytes,
        split_bytes: args.split_bytes,
        rollups: args.rollup,
        shard: None,
        inventory: args.inventory,
        prices: args.prices,
    };
    let result = job::validate(&spec)
        .map_err(job::JobError::from)
        .and_then(|checked| job::execute(&spec, checked, &job::Shown::new(true)));
    let mut out = std::io::stdout().lock();
    match result {
        Ok(summary) => {
            if args.json {
                let line = job::summary_json(Some(&summary), None, &args.out);
                writeln!(out, "{line}")?;
            } else {
                print_summary(&mut out, &summary, &args.out)?;
            }
            Ok(job::exit_code(Some(&summary), None))
        }
        Err(e) => {
            if args.json {
                let line = job::summary_json(None, Some(&e), &args.out);
                writeln!(out, "{line}")?;
            }
            eprintln!("vpcflow: {}", super::describe(&e.error));
            Ok(job::exit_code(None, Some(&e)))
        }
    }
}

fn print_summary(out: &mut dyn Write, s: &IngestSummary, dir: &str) -> std::io::Result<()> {
    let rate = if s.seconds > 0.0 {
        s.records as f64 / s.seconds
    } else {
        0.0
    };
    writeln!(out, "ingested into {dir}")?;
    writeln!(
        out,
        "  files:          {} ({} failed, {} already held and skipped, {} replaced)",
        s.files,
        s.failed_files.len(),
        s.skipped,
        s.replaced
    )?;
    writeln!(out, "  records:        {}", s.records)?;
    if s.out_of_range > 0 {
        writeln!(
            out,
            "  out of range:   {} (records outside --from/--to, not landed)",
            s.out_of_range
        )?;
    }
    writeln!(out, "  bad lines:      {}", s.bad_lines)?;
    writeln!(
        out,
        "  unknown fields: {}",
        if s.unknown_fields.is_empty() {
            "none".to_string()
        } else {
            s.unknown_fields.join(", ")
        }
    )?;
    writeln!(
        out,
        "  input bytes:    {} ({} as text)",
        s.input_bytes, s.text_bytes
    )?;
    writeln!(
        out,
        "  parquet files:  {} in {} commits",
        s.output_files, s.commits
    )?;
    if s.rollup_hours > 0 {
        writeln!(out, "  rollups:        {} hours updated", s.rollup_hours)?;
    }
    writeln!(
        out,
        "  seconds:        {:.3} ({:.0} records/s)",
        s.seconds, rate
    )?;
    for f in &s.failed_files {
        writeln!(out, "error: {}: {}", f.source, f.error)?;
    }
    for b in &s.bad_line_samples {
        writeln!(out, "bad line: {b}")?;
    }
    if s.bad_lines > s.bad_line_samples.len() as u64 {
        writeln!(
            out,
            "  ... and {} more bad lines",
            s.bad_lines - s.bad_line_samples.len() as u64
        )?;
    }
    for q in &s.quarantine_files {
        writeln!(
            out,
            "bad lines quarantined in {}/{q}",
            dir.trim_end_matches('/')
        )?;
    }
    for w in &s.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
