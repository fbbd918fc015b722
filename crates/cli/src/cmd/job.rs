//! How the CLI runs an ingest job: progress on a terminal or in the log, and the exit status.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
pub use vpcflow_job::{JobError, JobSpec, execute, summary_json, validate};
use vpcflow_source::{IngestSummary, Progress};

/// Shows a job's progress: a bar and a spinner on a terminal when `interactive`, otherwise
/// (a scheduler's log, and always for `run`) a progress line every 30 seconds.
pub struct Shown {
    interactive: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

impl Shown {
    /// Bars where `interactive` and stderr is a terminal.
    pub fn new(interactive: bool) -> Self {
        Self {
            interactive: interactive && std::io::stderr().is_terminal(),
            spinner: Mutex::new(None),
        }
    }
}

impl vpcflow_job::Watcher for Shown {
    fn reading(&self, progress: &Progress, done: &AtomicBool) {
        if self.interactive {
            show_progress(progress, done)
        } else {
            log_progress(progress, done)
        }
    }

    fn rollups_started(&self, hours: usize, reports: &[&str]) {
        if !self.interactive {
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(format!(
            "updating rollups: {hours} hours of {}",
            reports.join(", ")
        ));
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut s) = self.spinner.lock() {
            *s = Some(bar);
        }
    }

    fn rollups_finished(&self) {
        if let Some(bar) = self.spinner.lock().ok().and_then(|mut s| s.take()) {
            bar.finish_and_clear();
        }
    }
}

/// Where there is no terminal (a scheduler's log): a progress line every 30 seconds.
fn log_progress(progress: &Progress, done: &AtomicBool) {
    let started = Instant::now();
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= Duration::from_secs(30) {
            last = Instant::now();
            tracing::info!(
                seconds = started.elapsed().as_secs(),
                bytes_read = progress.bytes_read.load(Ordering::Relaxed),
                bytes_total = progress.total_bytes.load(Ordering::Relaxed),
                records = progress.records.load(Ordering::Relaxed),
                files_done = progress.files_done.load(Ordering::Relaxed),
                "progress"
            );
        }
    }
}

fn show_progress(progress: &Progress, done: &AtomicBool) {
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

/// 0: everything read; 2: some inputs failed or lines were quarantined (the rest landed);
/// 3: another run holds the dataset; 1: the run stopped on an error.
pub fn exit_code(
    summary: Option<&IngestSummary>,
    error: Option<&JobError>,
) -> std::process::ExitCode {
    match (summary, error) {
        (_, Some(e)) if e.locked => std::process::ExitCode::from(3),
        (_, Some(_)) => std::process::ExitCode::from(1),
        (Some(s), None) if s.is_clean() => std::process::ExitCode::SUCCESS,
        _ => std::process::ExitCode::from(2),
    }
}
