//! The ingest pipeline: inputs in, committed Parquet files and a summary out.
//!
//! Workers take inputs one at a time; a worker with none left helps decode a large input
//! another is reading (module `split`). An input's records are held (in memory, or past
//! [`IngestOptions::stage_bytes`] in Parquet files of its own under `_tmp/`) until it has been
//! read to its end; only then do they join the worker's open files. Every
//! [`IngestOptions::commit_every`] bytes of text, and at the end, a worker closes its files
//! and commits them with the inputs they hold ([`Dataset::commit_files`]). So an input whose
//! reading is cut by the network lands nothing and is read again by the next run, and a run
//! killed at any point leaves only whole commits behind.

mod split;

use crate::IngestError;
use crate::local::InputFile;
use crate::text::{MemberGz, Text};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use split::{Lines, SplitInput};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use vpcflow_arrow::{DecodeEvent, FlowDecoderBuilder};
use vpcflow_dataset::layout::HourBucket;
use vpcflow_dataset::manifest::{Dataset, SourceEntry};
use vpcflow_dataset::writer::{DatasetWriter, PendingFile, QuarantineWriter};
use vpcflow_format::{Layout, flow_log_id_from_name};

/// Bad lines named in the summary.
const MAX_SAMPLES: usize = 10;
/// A line longer than this is quarantined (cut) rather than buffered.
const MAX_LINE: usize = 1 << 20;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Layout of records in files without a header line.
    pub layout: Layout,
    /// Stop at the first bad line or unreadable input, committing nothing.
    pub strict: bool,
    /// Worker threads (inputs are read in parallel).
    pub threads: usize,
    /// Rows per record batch.
    pub batch_size: usize,
    /// Text bytes a worker reads between commits.
    pub commit_every: u64,
    /// Arrow bytes of one input held in memory before they go to files of their own.
    pub stage_bytes: usize,
    /// Inputs of at least this many bytes (as stored) are decoded by every worker that has
    /// no input left of its own, beside the one that reads them.
    pub split_bytes: u64,
    /// Text of one gzip member held until its checksum verifies. A corrupt member's records
    /// never land; when a member is larger than this, its text is parsed before its end,
    /// and a checksum failure then lands nothing of the input.
    pub gzip_hold_bytes: usize,
    /// CloudWatch Logs groups (by name) and the flow log that delivers to each.
    pub log_groups: std::collections::BTreeMap<String, LogGroupOrigin>,
}

/// The flow log behind a CloudWatch Logs group, and the region it was read in.
#[derive(Debug, Clone, Default)]
pub struct LogGroupOrigin {
    /// The flow log that delivers to the group (EC2 DescribeFlowLogs), if one was found.
    pub flow_log_id: Option<String>,
    /// The region of the CloudWatch Logs client.
    pub region: Option<String>,
}

/// The flow log and region of an input's records, from where they came from: an S3 object's
/// name (or a local copy of it), or a CloudWatch log group's flow log, else
/// `cloudwatch:<group>`, so that copies of one flow log in S3 and CloudWatch Logs are told
/// apart from two flow logs only by their ID.
fn origin(opts: &IngestOptions, source: &str) -> (Option<Arc<str>>, Option<Arc<str>>) {
    if let Some(rest) = crate::cloudwatch::parse_uri(source) {
        let group = rest.rsplit_once('/').map_or(rest, |(g, _)| g);
        let known = opts.log_groups.get(group);
        let id = known
            .and_then(|o| o.flow_log_id.clone())
            .unwrap_or_else(|| format!("cloudwatch:{group}"));
        let region = known.and_then(|o| o.region.as_deref()).map(Arc::from);
        return (Some(Arc::from(id)), region);
    }
    let name = source.rsplit('/').next().unwrap_or(source);
    (
        flow_log_id_from_name(name).map(Arc::from),
        vpcflow_format::region_from_name(source).map(Arc::from),
    )
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            layout: Layout::default_v2(),
            strict: false,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 65536,
            commit_every: 1 << 30,
            stage_bytes: 64 << 20,
            split_bytes: 32 << 20,
            log_groups: Default::default(),
            gzip_hold_bytes: 16 << 20,
        }
    }
}

/// Live counters of a run, for progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Input bytes (as stored, before decompression) of all files.
    pub total_bytes: AtomicU64,
    /// Input bytes read so far.
    pub bytes_read: AtomicU64,
    /// Records decoded so far.
    pub records: AtomicU64,
    /// Files finished so far.
    pub files_done: AtomicU64,
}

/// An input that could not be read to its end.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileFailure {
    /// Path or URI.
    pub source: String,
    /// What went wrong, and whether the records before the fault landed.
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    /// Inputs read.
    pub files: u64,
    /// Inputs skipped: already in the dataset, unchanged.
    pub skipped: u64,
    /// Inputs read again whose earlier records were replaced (changed, or `--reprocess`).
    pub replaced: u64,
    /// Inputs that could not be read to their end.
    pub failed_files: Vec<FileFailure>,
    /// Records committed.
    pub records: u64,
    /// Records of local files left out because their `start` is outside `--from`/`--to`.
    pub out_of_range: u64,
    /// Lines quarantined.
    pub bad_lines: u64,
    /// Field names in the input that vpcflow does not know (kept in `unknown_fields`).
    pub unknown_fields: Vec<String>,
    /// Input bytes as stored.
    pub input_bytes: u64,
    /// Text bytes after decompression.
    pub text_bytes: u64,
    /// Parquet files added to the dataset.
    pub output_files: u64,
    /// Commits made.
    pub commits: u64,
    /// Quarantine files written (relative to the dataset).
    pub quarantine_files: Vec<String>,
    /// The first bad lines, as `source:line: error` (at most 10).
    pub bad_line_samples: Vec<String>,
    /// Notes about inputs that are not errors (empty files, header-only files, changes).
    pub warnings: Vec<String>,
    /// Hours whose rollups were brought up to date.
    pub rollup_hours: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl IngestSummary {
    /// True when every line of every input was read.
    pub fn is_clean(&self) -> bool {
        self.failed_files.is_empty() && self.bad_lines == 0
    }

    fn add(&mut self, s: IngestSummary) {
        self.files += s.files;
        self.failed_files.extend(s.failed_files);
        self.records += s.records;
        self.out_of_range += s.out_of_range;
        self.bad_lines += s.bad_lines;
        self.input_bytes += s.input_bytes;
        self.text_bytes += s.text_bytes;
        self.output_files += s.output_files;
        self.commits += s.commits;
        self.quarantine_files.extend(s.quarantine_files);
        self.warnings.extend(s.warnings);
        self.bad_line_samples.extend(s.bad_line_samples);
    }
}

/// Opens an input for reading: a local file, an S3 object, ...
pub type Opener<'a> = dyn Fn(&InputFile) -> std::io::Result<Box<dyn Read + Send>> + Sync + 'a;

/// Opens local files.
pub fn open_local(file: &InputFile) -> std::io::Result<Box<dyn Read + Send>> {
    Ok(Box::new(std::fs::File::open(&file.path)?))
}

struct Shared<'a> {
    open: &'a Opener<'a>,
    files: &'a [InputFile],
    next: AtomicU64,
    /// Large inputs being read, which idle workers help decode; claiming an input and
    /// opening it for helpers happen under this lock.
    split: Mutex<Vec<Arc<SplitInput>>>,
    abort: AtomicBool,
    progress: &'a Progress,
    opts: &'a IngestOptions,
    decoder: FlowDecoderBuilder,
    dataset: &'a Dataset,
    run_id: &'a str,
}

#[derive(Default)]
struct WorkerResult {
    summary: IngestSummary,
    unknown: BTreeSet<String>,
    /// With `--strict`: the worker's closed files and their inputs, committed together with
    /// every other worker's only once all have finished clean.
    held: Option<(Vec<PendingFile>, Vec<SourceEntry>)>,
}

/// A unique name for one run: UTC time and process ID.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    )
}

/// Reads `files` (opened by `open`: local files, S3 objects, ...) into `dataset`, in
/// parallel, committing as it goes.
///
/// An input that cannot be opened, or whose reading the source cuts (a network fault), lands
/// nothing and is named in the summary; the next run reads it again. An input whose content
/// stops being readable (not gzip, truncated or corrupt data) lands the records before the
/// fault, is named, and is not read again unless it changes. A bad line is quarantined. With
/// `strict`, the first bad line or input fails the run and nothing is committed. Any other
/// error (a full disk, say) stops the run; what was committed before stays, whole.
pub fn ingest_inputs(
    files: &[InputFile],
    dataset: &Dataset,
    run_id: &str,
    opts: &IngestOptions,
    progress: &Progress,
    open: &Opener<'_>,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let mut opts = opts.clone();
    if opts.strict {
        opts.commit_every = u64::MAX;
    }
    progress
        .total_bytes
        .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    // In path order, which in AWS's key layout is time order: each worker then moves through
    // the hours one after another and writes few, large files per hour.
    let mut order: Vec<InputFile> = files.to_vec();
    order.sort_by(|a, b| a.id.cmp(&b.id).then(a.range.cmp(&b.range)));
    let shared = Shared {
        open,
        files: &order,
        next: AtomicU64::new(0),
        split: Mutex::new(Vec::new()),
        abort: AtomicBool::new(false),
        progress,
        opts: &opts,
        decoder: FlowDecoderBuilder::new(opts.layout.clone()).with_batch_size(opts.batch_size),
        dataset,
        run_id,
    };
    // A thread per input at most, unless an input is large enough to be split.
    let threads = if files.iter().any(|f| f.size >= opts.split_bytes) {
        opts.threads.max(1)
    } else {
        opts.threads.clamp(1, files.len().max(1))
    };
    let fatal: Mutex<Option<IngestError>> = Mutex::new(None);
    let results: Vec<WorkerResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let shared = &shared;
                let fatal = &fatal;
                s.spawn(move || match worker(shared, w) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        shared.abort.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = fatal.lock() {
                            f.get_or_insert(e);
                        }
                        None
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut results = results;
    let held: Vec<(Vec<PendingFile>, Vec<SourceEntry>)> =
        results.iter_mut().filter_map(|r| r.held.take()).collect();
    if let Some(e) = fatal.into_inner().ok().flatten() {
        // `--strict` is all or nothing: what the workers that finished clean hold goes too.
        for (files, _) in held {
            for f in files {
                let _ = std::fs::remove_file(f.tmp);
            }
        }
        return Err(e);
    }
    let mut summary = IngestSummary::default();
    if !held.is_empty() {
        let (files, sources): (Vec<_>, Vec<_>) = held.into_iter().unzip();
        let files: Vec<PendingFile> = files.into_iter().flatten().collect();
        dataset.commit_files(run_id, &files, sources.into_iter().flatten().collect())?;
        summary.commits += 1;
    }
    let mut unknown = BTreeSet::new();
    for r in results {
        summary.add(r.summary);
        unknown.extend(r.unknown);
    }
    summary.warnings.extend(dataset.take_warnings());
    summary.unknown_fields = unknown.into_iter().collect();
    summary.failed_files.sort_by(|a, b| a.source.cmp(&b.source));
    summary.quarantine_files.sort();
    summary.warnings.sort();
    summary.bad_line_samples.sort();
    summary.bad_line_samples.truncate(MAX_SAMPLES);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The files a worker writes between two commits, and the inputs they hold.
struct Segment {
    writer: DatasetWriter,
    quarantine: QuarantineWriter,
    /// Files of inputs too large to hold in memory, written apart.
    extra: Vec<PendingFile>,
    /// Inputs read, with the hours their records went to in `writer` and whether its bad
    /// lines went to `quarantine`; files of its own (written apart, or by helpers) it
    /// already names in `parts`.
    sources: Vec<(SourceEntry, Staged)>,
    text_bytes: u64,
}

impl Segment {
    fn new(shared: &Shared<'_>, name: &str) -> Result<Self, IngestError> {
        Ok(Self {
            writer: DatasetWriter::new(shared.dataset.staging(), shared.run_id, name.to_string())?
                .with_max_open(2),
            quarantine: QuarantineWriter::new(shared.dataset.staging(), shared.run_id, name),
            extra: Vec::new(),
            sources: Vec::new(),
            text_bytes: 0,
        })
    }

    fn abort(self) {
        self.writer.abort();
        self.quarantine.abort();
        for f in self.extra {
            let _ = std::fs::remove_file(f.tmp);
        }
    }

    /// Closes the files and commits them with their inputs.
    fn commit(self, shared: &Shared<'_>, summary: &mut IngestSummary) -> Result<(), IngestError> {
        let (files, sources) = self.close(summary)?;
        shared
            .dataset
            .commit_files(shared.run_id, &files, sources)?;
        summary.commits += 1;
        Ok(())
    }

    /// Closes the files: returns them with the inputs they hold, ready to commit.
    fn close(
        self,
        summary: &mut IngestSummary,
    ) -> Result<(Vec<PendingFile>, Vec<SourceEntry>), IngestError> {
        let mut files = self.writer.finish()?;
        let quarantine = self.quarantine.finish()?;
        let quarantine_dest = quarantine.as_ref().map(|q| q.dest.display().to_string());
        // Each input names the files of the hours it wrote to, not every file of the segment,
        // so the manifest grows with the inputs, not with inputs times files (an input's
        // records of one hour can only be in that hour's files).
        let sources = self
            .sources
            .into_iter()
            .map(|(mut s, staged)| {
                s.parts.extend(
                    files
                        .iter()
                        .filter(|f| staged.buckets.contains(&f.bucket))
                        .map(|f| f.dest.display().to_string()),
                );
                if staged.bad_lines {
                    s.parts.extend(quarantine_dest.clone());
                }
                s
            })
            .collect();
        files.extend(self.extra);
        if let Some(q) = quarantine {
            summary.quarantine_files.push(q.dest.display().to_string());
            files.push(q);
        }
        summary.output_files += files
            .iter()
            .filter(|f| f.dest.extension().is_some_and(|e| e == "parquet"))
            .count() as u64;
        Ok((files, sources))
    }
}

fn worker(shared: &Shared<'_>, w: usize) -> Result<WorkerResult, IngestError> {
    let mut result = WorkerResult::default();
    let mut seq = 0u64;
    let mut segment_name = || {
        seq += 1;
        format!("{}-w{w}-{seq:04}", shared.run_id)
    };
    let mut segment = Segment::new(shared, &segment_name())?;
    let mut apart = 0u64;
    loop {
        if shared.abort.load(Ordering::Relaxed) {
            segment.abort();
            return Ok(WorkerResult::default());
        }
        apart += 1;
        let name = format!("{}-w{w}-f{apart:05}", shared.run_id);
        let Some((file, split)) = claim(shared, &name) else {
            break;
        };
        let split = OpenSplit { shared, split };
        let mut stage = Stage::new(shared, name);
        // A split input's range was worked out when it was claimed.
        stage.range = split
            .split
            .as_ref()
            .map_or_else(|| time_range(file), |s| s.range());
        // An input large enough to split is larger than what is held: its records go to
        // files of its own from the start.
        if split.split.is_some()
            && let Err(e) = stage.write_apart()
        {
            segment.abort();
            return Err(e);
        }
        let read = read_file(
            shared,
            file,
            split.split.as_deref(),
            &mut stage,
            &mut result,
        );
        drop(split);
        let outcome = match read {
            Ok(o) => o,
            Err(e) => {
                stage.abort();
                segment.abort();
                return Err(e);
            }
        };
        shared.progress.files_done.fetch_add(1, Ordering::Relaxed);
        let source = file.path.display().to_string();
        if let Some(error) = outcome.transient {
            stage.abort();
            result.summary.failed_files.push(FileFailure {
                source,
                error: format!("{error}; nothing of it was committed, the next run reads it again"),
            });
            continue;
        }
        if let Some(error) = &outcome.content_error {
            result.summary.failed_files.push(FileFailure {
                source: source.clone(),
                error: error.clone(),
            });
        }
        let (written_apart, staged) = match stage.finish_into(&mut segment) {
            Ok(apart) => apart,
            Err(e) => {
                segment.abort();
                return Err(e);
            }
        };
        result.summary.records += outcome.records;
        result.summary.bad_lines += outcome.bad_lines;
        result.summary.text_bytes += outcome.text_bytes;
        result.summary.input_bytes += outcome.input_bytes;
        segment.text_bytes += outcome.text_bytes.max(outcome.input_bytes);
        let entry = SourceEntry {
            id: file.id.clone(),
            source,
            size: file.size,
            version: file.version.clone(),
            ranges: file.range.into_iter().collect(),
            records: outcome.records,
            bad_lines: outcome.bad_lines,
            error: outcome.content_error,
            parts: written_apart
                .iter()
                .map(|f| f.dest.display().to_string())
                .collect(),
        };
        result.summary.quarantine_files.extend(
            written_apart
                .iter()
                .filter(|f| f.dest.extension().is_some_and(|e| e == "jsonl"))
                .map(|f| f.dest.display().to_string()),
        );
        segment.sources.push((entry, staged));
        segment.extra.extend(written_apart);
        if segment.text_bytes >= shared.opts.commit_every {
            let next = Segment::new(shared, &segment_name())?;
            std::mem::replace(&mut segment, next).commit(shared, &mut result.summary)?;
        }
    }
    if shared.abort.load(Ordering::Relaxed) {
        segment.abort();
        return Ok(WorkerResult::default());
    }
    if segment.sources.is_empty() {
        segment.abort();
    } else if shared.opts.strict {
        result.held = Some(segment.close(&mut result.summary)?);
    } else {
        segment.commit(shared, &mut result.summary)?;
    }
    // No input is left to claim: help decode the large ones other workers are still reading.
    while !shared.abort.load(Ordering::Relaxed) {
        let next = {
            let open = shared.lock_split();
            open.iter()
                .filter_map(|s| Some((s.helpers()?, s)))
                .min_by_key(|(helpers, _)| *helpers)
                .map(|(_, s)| s.clone())
        };
        match next {
            Some(s) if s.attach() => s.help(shared, w),
            Some(_) => {}
            None => break,
        }
    }
    Ok(result)
}

/// A large input open for helpers while its worker reads it; closed for them and forgotten
/// however the reading ends, so that no helper waits on it forever.
struct OpenSplit<'s, 'a> {
    shared: &'s Shared<'a>,
    split: Option<Arc<SplitInput>>,
}

impl Drop for OpenSplit<'_, '_> {
    fn drop(&mut self) {
        if let Some(split) = self.split.take() {
            split.close_unused();
            self.shared.lock_split().retain(|s| !Arc::ptr_eq(s, &split));
        }
    }
}

impl Shared<'_> {
    fn lock_split(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SplitInput>>> {
        self.split.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Claims the next input; one of [`IngestOptions::split_bytes`] or more is opened for
/// helpers at once, so that a worker that finds nothing left to claim finds it.
fn claim<'a>(
    shared: &'a Shared<'_>,
    name: &str,
) -> Option<(&'a InputFile, Option<Arc<SplitInput>>)> {
    let mut open = shared.lock_split();
    let i = shared.next.fetch_add(1, Ordering::Relaxed) as usize;
    let file = shared.files.get(i)?;
    let split = (file.size >= shared.opts.split_bytes).then(|| {
        let source = file.path.display().to_string();
        let split = Arc::new(SplitInput::new(
            name.to_string(),
            source.as_str().into(),
            origin(shared.opts, &source),
            time_range(file),
        ));
        open.push(split.clone());
        split
    });
    Some((file, split))
}

/// The time range a local file's records are kept in (CloudWatch inputs' ranges are read
/// from the service, not filtered here).
fn time_range(file: &InputFile) -> Option<(i64, i64)> {
    let cloudwatch = file
        .path
        .to_str()
        .is_some_and(|p| p.starts_with("cloudwatch://"));
    if cloudwatch { None } else { file.range }
}

/// One input's records and bad lines, held until it has been read to its end.
struct Stage<'a> {
    shared: &'a Shared<'a>,
    name: String,
    /// Only records whose `start` is in `[from, to)` are kept (local files with a range).
    range: Option<(i64, i64)>,
    /// Records left out by `range`.
    out_of_range: u64,
    batches: Vec<(HourBucket, RecordBatch)>,
    bad: Vec<(Arc<str>, u64, String, Vec<u8>)>,
    bytes: usize,
    apart: Option<(DatasetWriter, QuarantineWriter)>,
    /// Files the input's helpers wrote.
    helped: Vec<PendingFile>,
}

/// Where an input's records went in its worker's segment.
struct Staged {
    /// The hours of the segment's files that hold its records.
    buckets: Vec<HourBucket>,
    /// Whether its bad lines are in the segment's quarantine file.
    bad_lines: bool,
}

impl<'a> Stage<'a> {
    fn new(shared: &'a Shared<'a>, name: String) -> Self {
        Self {
            shared,
            name,
            range: None,
            out_of_range: 0,
            batches: Vec::new(),
            bad: Vec::new(),
            bytes: 0,
            apart: None,
            helped: Vec::new(),
        }
    }

    fn batch(&mut self, bucket: HourBucket, batch: RecordBatch) -> Result<(), IngestError> {
        let Some(batch) = kept_in_range(batch, self.range, &mut self.out_of_range)? else {
            return Ok(());
        };
        if let Some((w, _)) = self.apart.as_mut() {
            return Ok(w.write(bucket, &batch)?);
        }
        // All-null columns are slices of arrays shared by every batch: they hold nothing.
        self.bytes += batch
            .columns()
            .iter()
            .filter(|c| c.null_count() < c.len())
            .map(|c| c.get_array_memory_size())
            .sum::<usize>();
        self.batches.push((bucket, batch));
        self.spill_if_large()
    }

    fn bad_line(
        &mut self,
        source: &Arc<str>,
        line: u64,
        error: String,
        text: &[u8],
    ) -> Result<(), IngestError> {
        if let Some((_, q)) = self.apart.as_mut() {
            return Ok(q.push(source, line, &error, text)?);
        }
        let text = text[..text.len().min(4096)].to_vec();
        self.bytes += text.len() + error.len() + 64;
        self.bad.push((source.clone(), line, error, text));
        self.spill_if_large()
    }

    /// Past the limit, the input's records go to files of its own.
    fn spill_if_large(&mut self) -> Result<(), IngestError> {
        if self.bytes < self.shared.opts.stage_bytes {
            return Ok(());
        }
        self.write_apart()
    }

    /// From now on, the input's records go to files of its own.
    fn write_apart(&mut self) -> Result<(), IngestError> {
        let root = self.shared.dataset.staging();
        let mut w = DatasetWriter::new(root, self.shared.run_id, self.name.clone())?;
        let mut q = QuarantineWriter::new(root, self.shared.run_id, &self.name);
        for (bucket, b) in self.batches.drain(..) {
            w.write(bucket, &b)?;
        }
        for (source, line, error, text) in self.bad.drain(..) {
            q.push(&source, line, &error, &text)?;
        }
        self.apart = Some((w, q));
        self.bytes = 0;
        Ok(())
    }

    /// Hands the records to the segment. Returns the input's own files (those of an input
    /// too large to hold, and its helpers'), and where in the segment the rest went.
    fn finish_into(
        mut self,
        segment: &mut Segment,
    ) -> Result<(Vec<PendingFile>, Staged), IngestError> {
        let own = std::mem::take(&mut self.helped);
        match self.hand_to(segment) {
            Ok((files, staged)) => Ok((own.into_iter().chain(files).collect(), staged)),
            Err(e) => {
                for f in own {
                    let _ = std::fs::remove_file(f.tmp);
                }
                Err(e)
            }
        }
    }

    /// The records to the segment, or the files written apart closed.
    fn hand_to(self, segment: &mut Segment) -> Result<(Vec<PendingFile>, Staged), IngestError> {
        if let Some((w, q)) = self.apart {
            let mut own = w.finish()?;
            own.extend(q.finish()?);
            let staged = Staged {
                buckets: Vec::new(),
                bad_lines: false,
            };
            return Ok((own, staged));
        }
        // One hour after another: the segment's writer writes out a file's row group when it
        // turns to another file, so interleaved hours would make many small row groups.
        let mut batches = self.batches;
        batches.sort_by_key(|(bucket, _)| *bucket);
        let mut buckets = Vec::new();
        for (bucket, b) in batches {
            segment.writer.write(bucket, &b)?;
            if !buckets.contains(&bucket) {
                buckets.push(bucket);
            }
        }
        let bad_lines = !self.bad.is_empty();
        for (source, line, error, text) in self.bad {
            segment.quarantine.push(&source, line, &error, &text)?;
        }
        Ok((Vec::new(), Staged { buckets, bad_lines }))
    }

    fn abort(mut self) {
        self.discard();
    }

    /// Drops everything held so far: nothing of the input lands.
    fn discard(&mut self) {
        if let Some((w, q)) = self.apart.take() {
            w.abort();
            q.abort();
        }
        for f in self.helped.drain(..) {
            let _ = std::fs::remove_file(f.tmp);
        }
        self.batches.clear();
        self.bad.clear();
        self.bytes = 0;
    }
}

/// With a time range, the rows of `batch` in it, the others counted in `out_of_range`;
/// `None` when no row is left.
fn kept_in_range(
    batch: RecordBatch,
    range: Option<(i64, i64)>,
    out_of_range: &mut u64,
) -> Result<Option<RecordBatch>, IngestError> {
    let Some((from, to)) = range else {
        return Ok(Some(batch));
    };
    let kept = in_range(&batch, from, to)?;
    *out_of_range += (batch.num_rows() - kept.num_rows()) as u64;
    Ok((kept.num_rows() > 0).then_some(kept))
}

/// The rows of `batch` whose `start` is in `[from, to)` (rows without `start` are left out).
fn in_range(batch: &RecordBatch, from: i64, to: i64) -> Result<RecordBatch, IngestError> {
    use arrow::array::{Array, Int64Array};
    let arrow_err = |e: arrow::error::ArrowError| IngestError::Arrow(e.to_string());
    let Some(col) = batch.column_by_name("start") else {
        return Ok(batch.clone());
    };
    let col = arrow::compute::cast(col, &arrow::datatypes::DataType::Int64).map_err(arrow_err)?;
    let Some(start) = col.as_any().downcast_ref::<Int64Array>() else {
        return Ok(batch.clone());
    };
    let mask: arrow::array::BooleanArray = (0..start.len())
        .map(|i| Some(start.is_valid(i) && start.value(i) >= from && start.value(i) < to))
        .collect();
    arrow::compute::filter_record_batch(batch, &mask).map_err(arrow_err)
}

/// What reading one input gave.
#[derive(Default)]
struct Outcome {
    records: u64,
    bad_lines: u64,
    text_bytes: u64,
    input_bytes: u64,
    /// The source failed (could not be opened, or the connection broke): nothing lands.
    transient: Option<String>,
    /// The content stops being readable: the records before the fault land.
    content_error: Option<String>,
}

/// Counts the bytes read from the input as stored, and tells the source's own failures (a
/// broken connection) from faults in the data.
struct Counting<'a, R> {
    inner: R,
    progress: &'a Progress,
    count: u64,
    failed: Option<String>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.failed = Some(e.to_string());
                }
                return Err(e);
            }
        };
        self.count += n as u64;
        self.progress
            .bytes_read
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn read_file(
    shared: &Shared<'_>,
    file: &InputFile,
    split: Option<&SplitInput>,
    stage: &mut Stage<'_>,
    result: &mut WorkerResult,
) -> Result<Outcome, IngestError> {
    let source: Arc<str> = file.path.display().to_string().into();
    let (flow_log_id, region) = split.map_or_else(|| origin(shared.opts, &source), |s| s.origin());
    result.summary.files += 1;
    let strict = shared.opts.strict;
    let strict_err = |msg: &str| IngestError::Strict(format!("{source}: {msg}"));
    let mut outcome = Outcome::default();
    let f = match (shared.open)(file) {
        Ok(f) => f,
        Err(e) if strict => return Err(strict_err(&e.to_string())),
        Err(e) => {
            outcome.transient = Some(e.to_string());
            return Ok(outcome);
        }
    };
    let mut counting = Counting {
        inner: f,
        progress: shared.progress,
        count: 0,
        failed: None,
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, &mut counting);
    let head = buffered.fill_buf().map(|b| b.to_vec()).unwrap_or_default();
    if head.starts_with(b"PAR1") {
        // Decoded whole, here: helpers waiting for its text move on.
        if let Some(split) = split {
            split.close_unused();
        }
        // Parquet needs the file's footer first, so the object is held in memory.
        let mut data = Vec::with_capacity(file.size as usize);
        let read = buffered.read_to_end(&mut data).map(|_| data);
        drop(buffered);
        outcome.input_bytes = counting.count;
        if let Some(e) = counting.failed {
            if strict {
                return Err(strict_err(&e));
            }
            outcome.transient = Some(e);
            return Ok(outcome);
        }
        read_parquet(
            shared,
            &source,
            (flow_log_id, region),
            read,
            stage,
            result,
            &mut outcome,
        )?;
        return Ok(outcome);
    }
    let is_gzip = head.starts_with(&[0x1f, 0x8b]);
    let named_gz = source.ends_with(".gz");
    if named_gz && !is_gzip && !head.is_empty() {
        let msg = "not gzip data, though the name ends in .gz";
        if strict {
            return Err(strict_err(msg));
        }
        outcome.content_error = Some(msg.to_string());
        return Ok(outcome);
    }
    let unverified = Rc::new(Cell::new(false));
    let mut text = if is_gzip {
        Text::Gzip(MemberGz::new(
            buffered,
            shared.opts.gzip_hold_bytes,
            unverified.clone(),
        ))
    } else {
        Text::Plain {
            inner: buffered,
            last: 0,
        }
    };
    let mut lines = Lines::new(
        shared.decoder.build_decoder(source.clone(), flow_log_id),
        split,
    );
    let sink_error: RefCell<Option<IngestError>> = RefCell::new(None);
    let samples = &mut result.summary.bad_line_samples;
    let mut emit = |e: DecodeEvent<'_>| {
        if sink_error.borrow().is_some() {
            return;
        }
        let r = match e {
            DecodeEvent::Batch(bucket, batch) => match &region {
                Some(r) => vpcflow_arrow::fill_region(batch, r)
                    .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))
                    .and_then(|b| stage.batch(bucket, b)),
                None => stage.batch(bucket, batch),
            },
            DecodeEvent::BadLine { line, error, text } => {
                if strict {
                    Err(IngestError::Strict(format!("{source}:{line}: {error}")))
                } else {
                    let error = error.to_string();
                    if samples.len() < MAX_SAMPLES {
                        samples.push(format!("{source}:{line}: {error}"));
                    }
                    stage.bad_line(&source, line, error, text)
                }
            }
        };
        if let Err(e) = r {
            *sink_error.borrow_mut() = Some(e);
        }
    };
    let decode_err = |e: arrow::error::ArrowError| IngestError::Arrow(format!("{source}: {e}"));
    // Blocks are parsed where they lie. Only a line cut by a block's end is copied, into
    // `carry`, and parsed once the next block completes it; a line that would have to be
    // held past 1 MiB is quarantined there.
    let mut carry: Vec<u8> = Vec::new();
    let mut read_error: Option<std::io::Error> = None;
    let mut skipping_long_line = false;
    let mut at_start = true;
    loop {
        let mut block = match text.next_block() {
            Ok(b) => b,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        outcome.text_bytes += block.len() as u64;
        if block.is_empty() {
            break;
        }
        // A UTF-8 byte order mark before the first line (editors on Windows write one).
        if at_start {
            if carry.is_empty() && block.len() >= 3 {
                at_start = false;
                block = block.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(block);
            } else {
                carry.extend_from_slice(block);
                if carry.len() >= 3 {
                    at_start = false;
                    if carry.starts_with(b"\xEF\xBB\xBF") {
                        carry.drain(..3);
                    }
                }
                continue;
            }
        }
        if skipping_long_line {
            match memchr::memchr(b'\n', block) {
                Some(i) => {
                    block = &block[i + 1..];
                    skipping_long_line = false;
                }
                None => continue,
            }
        }
        if !carry.is_empty() {
            match memchr::memchr(b'\n', block) {
                Some(i) => {
                    carry.extend_from_slice(&block[..=i]);
                    block = &block[i + 1..];
                    let used = lines.decode(&carry, false, &mut emit).map_err(decode_err)?;
                    carry.drain(..used);
                    if !carry.is_empty() {
                        // Not all parsed (cannot happen with whole lines): keep the order.
                        carry.extend_from_slice(block);
                        block = &[];
                    }
                }
                None => {
                    carry.extend_from_slice(block);
                    block = &[];
                }
            }
        }
        if !block.is_empty() {
            let used = lines.decode(block, false, &mut emit).map_err(decode_err)?;
            carry.extend_from_slice(&block[used..]);
        }
        if carry.len() > MAX_LINE {
            lines
                .reject_line(&carry[..4096], "line longer than 1 MiB", &mut emit)
                .map_err(decode_err)?;
            carry.clear();
            skipping_long_line = true;
        }
        if sink_error.borrow().is_some() || shared.abort.load(Ordering::Relaxed) || lines.failed() {
            break;
        }
    }
    // The text's buffers go before the records are written (the writer's peak).
    drop(text);
    // A helper's error (a strict bad line, a full disk) is the input's, after the reader's
    // own; the files of helpers go unless the input lands (dropping `helped` deletes what
    // was not taken).
    let helped = lines.close_helpers();
    if let Some(e) = sink_error.borrow_mut().take() {
        return Err(e);
    }
    let mut helped = helped?;
    if let Some(e) = counting.failed.take() {
        // The source broke off (network fault): nothing of this input lands.
        if strict {
            return Err(strict_err(&e));
        }
        outcome.transient = Some(format!("reading stopped: {e}"));
        outcome.input_bytes = counting.count;
        return Ok(outcome);
    }
    if read_error.is_none() {
        lines.decode(&carry, true, &mut emit).map_err(decode_err)?;
    } else if !carry.is_empty() {
        lines
            .reject_line(
                &carry,
                "incomplete line at the point the input was cut",
                &mut emit,
            )
            .map_err(decode_err)?;
    }
    lines.decoder().finish(&mut emit).map_err(decode_err)?;
    if let Some(e) = sink_error.into_inner() {
        return Err(e);
    }
    stage.helped = std::mem::take(&mut helped.files);
    let decoder = lines.decoder();
    let records = decoder.records() + helped.records;
    let bad_lines = decoder.bad_lines() + helped.bad_lines;
    let line_count = lines.lines();
    outcome.input_bytes = counting.count;
    if let Some(e) = read_error
        .as_ref()
        .filter(|e| is_gzip && unverified.get() && !is_truncation(Some(e)))
    {
        // A corrupt member whose text was parsed before its checksum failed: which of the
        // input's records are sound cannot be told, so none lands.
        stage.discard();
        let msg = describe_read_error(e, true);
        let msg = format!(
            "{msg} after line {line_count}, in a gzip member too large to hold until its \
             checksum: nothing of this input landed"
        );
        if strict {
            return Err(strict_err(&msg));
        }
        outcome.content_error = Some(msg);
        return Ok(outcome);
    }
    let out_of_range = stage.out_of_range + helped.out_of_range;
    outcome.records = records - out_of_range;
    outcome.bad_lines = bad_lines;
    result.summary.out_of_range += out_of_range;
    result.summary.bad_line_samples.append(&mut helped.samples);
    shared
        .progress
        .records
        .fetch_add(outcome.records, Ordering::Relaxed);
    result
        .unknown
        .extend(lines.decoder().unknown_fields().iter().cloned());
    result.unknown.append(&mut helped.unknown);
    if let Some(e) = read_error {
        let msg = describe_read_error(&e, is_gzip);
        if strict {
            return Err(strict_err(&format!("{msg} after line {line_count}")));
        }
        outcome.content_error = Some(format!("{msg} after line {line_count}"));
    } else if line_count == 0 {
        result
            .summary
            .warnings
            .push(format!("{source}: empty file"));
    } else if records == 0 && bad_lines == 0 {
        result
            .summary
            .warnings
            .push(format!("{source}: no records (header only)"));
    }
    Ok(outcome)
}

/// Reads a Parquet flow-log file (AWS's Parquet delivery), read whole, in the canonical
/// schema.
fn read_parquet(
    shared: &Shared<'_>,
    source: &Arc<str>,
    (flow_log_id, region): (Option<Arc<str>>, Option<Arc<str>>),
    data: std::io::Result<Vec<u8>>,
    stage: &mut Stage<'_>,
    result: &mut WorkerResult,
    outcome: &mut Outcome,
) -> Result<(), IngestError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let batches = data.map_err(|e| e.to_string()).and_then(|data| {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
            .and_then(|b| b.with_batch_size(65536).build())
            .map_err(|e| format!("not a readable Parquet file ({e})"))
    });
    let reader = match batches {
        Ok(r) => r,
        Err(e) if shared.opts.strict => {
            return Err(IngestError::Strict(format!("{source}: {e}")));
        }
        Err(e) => {
            outcome.content_error = Some(e);
            return Ok(());
        }
    };
    let mut line = 1u64;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                outcome.content_error = Some(format!(
                    "Parquet data unreadable after row {} ({e})",
                    line - 1
                ));
                break;
            }
        };
        result
            .unknown
            .extend(vpcflow_arrow::parquet_input::unknown_columns(&batch));
        let parts = vpcflow_arrow::parquet_input::to_canonical(
            &batch,
            source,
            flow_log_id.as_deref(),
            line,
        )
        .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))?;
        for (bucket, b) in parts {
            let b = match &region {
                Some(r) => vpcflow_arrow::fill_region(b, r)
                    .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))?,
                None => b,
            };
            stage.batch(bucket, b)?;
        }
        line += batch.num_rows() as u64;
        outcome.records += batch.num_rows() as u64;
        shared
            .progress
            .records
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    }
    Ok(())
}

fn is_truncation(e: Option<&std::io::Error>) -> bool {
    e.is_some_and(|e| e.kind() == std::io::ErrorKind::UnexpectedEof)
}

fn describe_read_error(e: &std::io::Error, gzip: bool) -> String {
    if gzip && e.kind() == std::io::ErrorKind::UnexpectedEof {
        "truncated gzip data (the file ends in the middle of a compressed stream)".to_string()
    } else if gzip {
        format!("corrupt gzip data ({e})")
    } else {
        format!("read error ({e})")
    }
}
