use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vpcflow_format::Layout;
use vpcflow_source::cloudwatch::{self, CloudWatchSource};
use vpcflow_source::ec2::Ec2;
use vpcflow_source::s3::{S3Location, S3Source};
use vpcflow_source::{IngestOptions, IngestSummary, Progress};

/// Read flow-log files into the dataset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (.log, .log.gz, .gz, plain text), directories (walked recursively),
    /// s3://BUCKET[/PREFIX] (objects in AWS's flow-log key layouts) or cloudwatch://LOG_GROUP
    /// (needs --from and --to).
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// The dataset directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
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
    /// S3: only objects for records from TIME on (RFC 3339, or a date); with --to, only the
    /// day prefixes of the range are listed.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// S3: only objects for records before TIME (RFC 3339, or a date: the whole day).
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let layout = match &args.format {
        Some(f) => Layout::parse_format(f).context("--format")?,
        None => Layout::default_v2(),
    };
    let mut opts = IngestOptions {
        layout,
        strict: args.strict,
        ..IngestOptions::default()
    };
    if let Some(n) = args.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        opts.threads = n;
    }
    let parse = |t: &Option<String>, end: bool, flag: &str| {
        t.as_deref()
            .map(|t| vpcflow_report::reports::parse_time(t, end))
            .transpose()
            .with_context(|| flag.to_string())
    };
    let (from, to) = (
        parse(&args.from, false, "--from")?,
        parse(&args.to, true, "--to")?,
    );
    let is_s3 = |s: &&String| s.starts_with("s3://");
    let is_cw = |s: &&String| s.starts_with("cloudwatch://");
    let s3_uris: Vec<&String> = args.sources.iter().filter(is_s3).collect();
    let cw_uris: Vec<&String> = args.sources.iter().filter(is_cw).collect();
    let local: Vec<PathBuf> = args
        .sources
        .iter()
        .filter(|s| !is_s3(s) && !is_cw(s))
        .map(PathBuf::from)
        .collect();
    let mut files = vpcflow_source::local::discover(&local)?;
    let aws = if s3_uris.is_empty() && cw_uris.is_empty() {
        None
    } else {
        anyhow::ensure!(args.max_in_flight > 0, "--max-in-flight must be at least 1");
        opts.threads = opts.threads.max(args.max_in_flight);
        Some(args.aws.load()?)
    };
    let s3 = match &aws {
        Some(aws) if !s3_uris.is_empty() => {
            let s3 = S3Source::new(aws);
            for uri in s3_uris {
                let loc = S3Location::parse(uri)
                    .with_context(|| format!("{uri}: expected s3://BUCKET[/PREFIX]"))?;
                files.extend(s3.list(&loc, from, to)?);
            }
            Some(s3)
        }
        _ => None,
    };
    let cw = match &aws {
        Some(aws) if !cw_uris.is_empty() => {
            let (Some(from), Some(to)) = (from, to) else {
                anyhow::bail!("cloudwatch:// sources need --from and --to");
            };
            anyhow::ensure!(from < to, "--from must be before --to");
            if args.format.is_none() {
                // The flow log's own LogFormat, else AWS's default format.
                let ec2 = Ec2::new(aws);
                let mut found: Option<String> = None;
                for uri in &cw_uris {
                    let Some(group) = cloudwatch::parse_uri(uri) else {
                        continue;
                    };
                    match ec2.flow_log_format(group) {
                        Ok(Some(f)) => {
                            if found.as_ref().is_some_and(|x| *x != f) {
                                anyhow::bail!(
                                    "the log groups' flow logs have different formats; give one with --format"
                                );
                            }
                            found = Some(f);
                        }
                        Ok(None) => {}
                        Err(e) => eprintln!(
                            "warning: {e}; reading with AWS's default format (give --format to choose)"
                        ),
                    }
                }
                if let Some(f) = found {
                    opts.layout = Layout::parse_format(&f)
                        .with_context(|| format!("the flow log's LogFormat {f:?}"))?;
                }
            }
            // Events carry no interface-id unless the format has it: the ENI then comes from
            // the log stream's name, appended to each event as a last field.
            let has_eni = vpcflow_format::field_index("interface-id")
                .and_then(|i| opts.layout.position(i))
                .is_some();
            if !has_eni {
                opts.layout = Layout::parse_format(&format!(
                    "{} ${{interface-id}}",
                    opts.layout.to_format_string()
                ))?;
            }
            let cw = CloudWatchSource::new(aws, from, to, !has_eni);
            for uri in cw_uris {
                let group = cloudwatch::parse_uri(uri)
                    .with_context(|| format!("{uri}: expected cloudwatch://LOG_GROUP"))?;
                files.extend(cw.list(group, args.log_stream_prefix.as_deref())?);
            }
            Some(cw)
        }
        _ => None,
    };
    let open =
        |f: &vpcflow_source::local::InputFile| -> std::io::Result<Box<dyn std::io::Read + Send>> {
            match f.path.to_str() {
                Some(uri) if uri.starts_with("s3://") => match &s3 {
                    Some(s3) => s3.open(uri),
                    None => Err(std::io::Error::other("no S3 client")),
                },
                Some(uri) if uri.starts_with("cloudwatch://") => match &cw {
                    Some(cw) => cw.open(uri),
                    None => Err(std::io::Error::other("no CloudWatch Logs client")),
                },
                _ => vpcflow_source::ingest::open_local(f),
            }
        };
    let progress = Progress::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let bar = s.spawn(|| show_progress(&progress, &done));
        let r = vpcflow_source::ingest::ingest_inputs(&files, &args.out, &opts, &progress, &open);
        done.store(true, Ordering::Relaxed);
        let _ = bar.join();
        r
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    } else {
        print_summary(&mut out, &summary, &args.out)?;
    }
    Ok(if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn show_progress(progress: &Progress, done: &std::sync::atomic::AtomicBool) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    while !done.load(Ordering::Relaxed) {
        bar.set_length(progress.total_bytes.load(Ordering::Relaxed));
        bar.set_position(progress.bytes_read.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{} records, {} files",
            progress.records.load(Ordering::Relaxed),
            progress.files_done.load(Ordering::Relaxed)
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn print_summary(
    out: &mut dyn Write,
    s: &IngestSummary,
    dir: &std::path::Path,
) -> std::io::Result<()> {
    let rate = if s.seconds > 0.0 {
        s.records as f64 / s.seconds
    } else {
        0.0
    };
    writeln!(out, "ingested into {}", dir.display())?;
    writeln!(
        out,
        "  files:          {} ({} failed)",
        s.files,
        s.failed_files.len()
    )?;
    writeln!(out, "  records:        {}", s.records)?;
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
    writeln!(out, "  parquet files:  {}", s.output_files)?;
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
        writeln!(out, "bad lines quarantined in {}", q.display())?;
    }
    for w in &s.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
