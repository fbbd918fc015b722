use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vpcflow_format::Layout;
use vpcflow_source::{IngestOptions, IngestSummary, Progress};

/// Read flow-log files into the dataset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (.log, .log.gz, .gz, plain text) or directories, walked recursively.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
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
    let files = vpcflow_source::local::discover(&args.sources)?;
    let progress = Progress::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let bar = s.spawn(|| show_progress(&progress, &done));
        let r = vpcflow_source::ingest_files(&files, &args.out, &opts, &progress);
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
