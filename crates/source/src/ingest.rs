//! The ingest pipeline: files in, committed Parquet dataset and a summary out.

use crate::IngestError;
use crate::local::InputFile;
use flate2::read::MultiGzDecoder;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use vpcflow_arrow::dataset::{self, DatasetWriter, PendingFile, QuarantineWriter};
use vpcflow_arrow::{DecodeEvent, FlowDecoderBuilder};
use vpcflow_format::{Layout, flow_log_id_from_name};

/// Bytes read from an input at a time.
const CHUNK: usize = 1 << 20;
/// Bad lines named in the summary.
const MAX_SAMPLES: usize = 10;
/// A line longer than this is quarantined (cut) rather than buffered.
const MAX_LINE: usize = 1 << 20;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Layout of records in files without a header line.
    pub layout: Layout,
    /// Stop at the first bad line.
    pub strict: bool,
    /// Worker threads (files are read in parallel).
    pub threads: usize,
    /// Rows per record batch.
    pub batch_size: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            layout: Layout::default_v2(),
            strict: false,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 65536,
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

/// A file that could not be read to its end.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileFailure {
    /// Path or URI.
    pub source: String,
    /// What went wrong (the records before the fault still landed).
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    /// Input files read.
    pub files: u64,
    /// Files that could not be read to their end.
    pub failed_files: Vec<FileFailure>,
    /// Records written.
    pub records: u64,
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
    /// Quarantine files written.
    pub quarantine_files: Vec<PathBuf>,
    /// The first bad lines, as `source:line: error` (at most 10).
    pub bad_line_samples: Vec<String>,
    /// Notes about inputs that are not errors (empty files, header-only files).
    pub warnings: Vec<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl IngestSummary {
    /// True when every line of every file was read.
    pub fn is_clean(&self) -> bool {
        self.failed_files.is_empty() && self.bad_lines == 0
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
    abort: AtomicBool,
    progress: &'a Progress,
    opts: &'a IngestOptions,
    decoder: FlowDecoderBuilder,
    root: &'a Path,
    run_id: &'a str,
}

#[derive(Default)]
struct WorkerResult {
    pending: Vec<PendingFile>,
    summary: IngestSummary,
    unknown: BTreeSet<String>,
}

/// A unique name for one run: UTC time and process ID.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    )
}

/// Ingests `files` into the dataset at `root`. Files are read in parallel; every Parquet file
/// is written under `root/_tmp` and moved into its partition only when the whole run has
/// succeeded, so a failed or interrupted run leaves no partial file in the dataset.
///
/// A file that cannot be read to its end (not gzip, truncated, unreadable) is reported in the
/// summary and the records before the fault still land; a bad line is quarantined. With
/// `strict`, the first bad line or file fails the whole run and nothing is committed.
pub fn ingest_files(
    files: &[InputFile],
    root: &Path,
    opts: &IngestOptions,
    progress: &Progress,
) -> Result<IngestSummary, IngestError> {
    ingest_inputs(files, root, opts, progress, &open_local)
}

/// [`ingest_files`] with inputs opened by `open` (local files, S3 objects, ...).
pub fn ingest_inputs(
    files: &[InputFile],
    root: &Path,
    opts: &IngestOptions,
    progress: &Progress,
    open: &Opener<'_>,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    std::fs::create_dir_all(root).map_err(|e| IngestError::Output {
        path: root.to_path_buf(),
        message: e.to_string(),
    })?;
    let run_id = new_run_id();
    progress
        .total_bytes
        .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    // In path order, which in AWS's key layout is time order: each worker then moves through
    // the hours one after another and writes few, large files per hour.
    let mut order: Vec<InputFile> = files.to_vec();
    order.sort_by(|a, b| a.path.cmp(&b.path));
    let shared = Shared {
        open,
        files: &order,
        next: AtomicU64::new(0),
        abort: AtomicBool::new(false),
        progress,
        opts,
        decoder: FlowDecoderBuilder::new(opts.layout.clone()).with_batch_size(opts.batch_size),
        root,
        run_id: &run_id,
    };
    let threads = opts.threads.clamp(1, files.len().max(1));
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
    let fatal = fatal.into_inner().ok().flatten();
    if let Some(e) = fatal {
        for r in &results {
            for p in &r.pending {
                let _ = std::fs::remove_file(&p.tmp);
            }
        }
        dataset::remove_run_tmp(root, &run_id);
        return Err(e);
    }
    let mut summary = IngestSummary::default();
    let mut unknown = BTreeSet::new();
    let mut pending = Vec::new();
    for r in results {
        let s = r.summary;
        summary.files += s.files;
        summary.failed_files.extend(s.failed_files);
        summary.records += s.records;
        summary.bad_lines += s.bad_lines;
        summary.input_bytes += s.input_bytes;
        summary.text_bytes += s.text_bytes;
        summary.quarantine_files.extend(s.quarantine_files);
        summary.warnings.extend(s.warnings);
        summary.bad_line_samples.extend(s.bad_line_samples);
        unknown.extend(r.unknown);
        pending.extend(r.pending);
    }
    let committed = dataset::commit(root, &pending).map_err(IngestError::Dataset);
    dataset::remove_run_tmp(root, &run_id);
    summary.output_files = committed?.len() as u64;
    summary.unknown_fields = unknown.into_iter().collect();
    summary.failed_files.sort_by(|a, b| a.source.cmp(&b.source));
    summary.warnings.sort();
    summary.bad_line_samples.sort();
    summary.bad_line_samples.truncate(MAX_SAMPLES);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn worker(shared: &Shared<'_>, w: usize) -> Result<WorkerResult, IngestError> {
    let name = format!("{}-w{w}", shared.run_id);
    let mut writer = DatasetWriter::new(shared.root, shared.run_id, name.clone())
        .map_err(IngestError::Dataset)?
        .with_max_open(2);
    let mut quarantine = QuarantineWriter::new(shared.root, &name);
    let mut result = WorkerResult::default();
    let outcome = (|| {
        loop {
            if shared.abort.load(Ordering::Relaxed) {
                return Ok(());
            }
            let i = shared.next.fetch_add(1, Ordering::Relaxed) as usize;
            let Some(file) = shared.files.get(i) else {
                return Ok(());
            };
            read_file(shared, file, &mut writer, &mut quarantine, &mut result)?;
            shared.progress.files_done.fetch_add(1, Ordering::Relaxed);
        }
    })();
    match outcome {
        Ok(()) if !shared.abort.load(Ordering::Relaxed) => {
            result.pending = writer.finish().map_err(IngestError::Dataset)?;
            if let Some(q) = quarantine.finish().map_err(IngestError::Dataset)? {
                result.summary.quarantine_files.push(q);
            }
            Ok(result)
        }
        Ok(()) => {
            writer.abort();
            Ok(WorkerResult::default())
        }
        Err(e) => {
            writer.abort();
            Err(e)
        }
    }
}

/// Counts the bytes read from the file as stored, for progress and the summary.
struct Counting<'a, R> {
    inner: R,
    progress: &'a Progress,
    count: u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
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
    writer: &mut DatasetWriter,
    quarantine: &mut QuarantineWriter,
    result: &mut WorkerResult,
) -> Result<(), IngestError> {
    let source: Arc<str> = file.path.display().to_string().into();
    let flow_log_id = file
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(flow_log_id_from_name)
        .map(Arc::from);
    result.summary.files += 1;
    let fail = |result: &mut WorkerResult, error: String| {
        result.summary.failed_files.push(FileFailure {
            source: source.to_string(),
            error,
        });
    };
    let f = match (shared.open)(file) {
        Ok(f) => f,
        Err(e) => {
            if shared.opts.strict {
                return Err(IngestError::Strict(format!("{source}: {e}")));
            }
            fail(result, e.to_string());
            return Ok(());
        }
    };
    let mut counting = Counting {
        inner: f,
        progress: shared.progress,
        count: 0,
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, &mut counting);
    let head = buffered.fill_buf().map(|b| b.to_vec()).unwrap_or_default();
    if head.starts_with(b"PAR1") {
        // Parquet needs the file's footer first, so the object is held in memory.
        let mut data = Vec::with_capacity(file.size as usize);
        let read = buffered.read_to_end(&mut data).map(|_| data);
        drop(buffered);
        result.summary.input_bytes += counting.count;
        return read_parquet(shared, &source, flow_log_id, read, writer, result);
    }
    let is_gzip = head.starts_with(&[0x1f, 0x8b]);
    let named_gz = source.ends_with(".gz");
    if named_gz && !is_gzip && !head.is_empty() {
        let msg = "not gzip data, though the name ends in .gz".to_string();
        if shared.opts.strict {
            return Err(IngestError::Strict(format!("{source}: {msg}")));
        }
        fail(result, msg);
        return Ok(());
    }
    let mut reader: Box<dyn Read + '_> = if is_gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut decoder = shared.decoder.build_decoder(source.clone(), flow_log_id);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut text_bytes = 0u64;
    let sink_error: RefCell<Option<IngestError>> = RefCell::new(None);
    let strict = shared.opts.strict;
    let samples = &mut result.summary.bad_line_samples;
    let mut emit = |e: DecodeEvent<'_>| {
        if sink_error.borrow().is_some() {
            return;
        }
        let r = match e {
            DecodeEvent::Batch(bucket, batch) => {
                writer.write(bucket, &batch).map_err(IngestError::Dataset)
            }
            DecodeEvent::BadLine { line, error, text } => {
                if strict {
                    Err(IngestError::Strict(format!("{source}:{line}: {error}")))
                } else {
                    let error = error.to_string();
                    if samples.len() < MAX_SAMPLES {
                        samples.push(format!("{source}:{line}: {error}"));
                    }
                    quarantine
                        .push(&source, line, &error, text)
                        .map_err(IngestError::Dataset)
                }
            }
        };
        if let Err(e) = r {
            *sink_error.borrow_mut() = Some(e);
        }
    };
    let mut read_error: Option<String> = None;
    let mut skipping_long_line = false;
    loop {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = match reader.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                buf.truncate(start);
                continue;
            }
            Err(e) => {
                buf.truncate(start);
                read_error = Some(describe_read_error(&e, is_gzip));
                break;
            }
        };
        buf.truncate(start + n);
        text_bytes += n as u64;
        if n == 0 {
            break;
        }
        if skipping_long_line {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => {
                    buf.drain(..=i);
                    skipping_long_line = false;
                }
                None => {
                    buf.clear();
                    continue;
                }
            }
        }
        let used = decoder
            .decode(&buf, false, &mut emit)
            .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))?;
        buf.drain(..used);
        if buf.len() > MAX_LINE {
            decoder.reject_line(&buf[..4096], "line longer than 1 MiB", &mut emit);
            buf.clear();
            skipping_long_line = true;
        }
        if sink_error.borrow().is_some() || shared.abort.load(Ordering::Relaxed) {
            break;
        }
    }
    if read_error.is_none() {
        decoder
            .decode(&buf, true, &mut emit)
            .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))?;
    } else if !buf.is_empty() {
        decoder.reject_line(
            &buf,
            "incomplete line at the point the input was cut",
            &mut emit,
        );
    }
    decoder
        .finish(&mut emit)
        .map_err(|e| IngestError::Arrow(format!("{source}: {e}")))?;
    if let Some(e) = sink_error.into_inner() {
        return Err(e);
    }
    drop(reader);
    result.summary.input_bytes += counting.count;
    result.summary.text_bytes += text_bytes;
    result.summary.records += decoder.records();
    result.summary.bad_lines += decoder.bad_lines();
    shared
        .progress
        .records
        .fetch_add(decoder.records(), Ordering::Relaxed);
    result
        .unknown
        .extend(decoder.unknown_fields().iter().cloned());
    if let Some(e) = read_error {
        let msg = format!("{e} after line {}", decoder.lines());
        if strict {
            return Err(IngestError::Strict(format!("{source}: {msg}")));
        }
        fail(result, msg);
    } else if decoder.lines() == 0 {
        result
            .summary
            .warnings
            .push(format!("{source}: empty file"));
    } else if decoder.records() == 0 && decoder.bad_lines() == 0 {
        result
            .summary
            .warnings
            .push(format!("{source}: no records (header only)"));
    }
    Ok(())
}

/// Writes a Parquet flow-log file (AWS's Parquet delivery), read whole, in the canonical
/// schema.
fn read_parquet(
    shared: &Shared<'_>,
    source: &Arc<str>,
    flow_log_id: Option<Arc<str>>,
    data: std::io::Result<Vec<u8>>,
    writer: &mut DatasetWriter,
    result: &mut WorkerResult,
) -> Result<(), IngestError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let batches = data.map_err(|e| e.to_string()).and_then(|data| {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
            .and_then(|b| b.with_batch_size(65536).build())
            .map_err(|e| format!("not a readable Parquet file ({e})"))
    });
    let reader = match batches {
        Ok(r) => r,
        Err(e) => {
            if shared.opts.strict {
                return Err(IngestError::Strict(format!("{source}: {e}")));
            }
            result.summary.failed_files.push(FileFailure {
                source: source.to_string(),
                error: e,
            });
            return Ok(());
        }
    };
    let mut line = 1u64;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                result.summary.failed_files.push(FileFailure {
                    source: source.to_string(),
                    error: format!("Parquet data unreadable after row {} ({e})", line - 1),
                });
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
            writer.write(bucket, &b).map_err(IngestError::Dataset)?;
        }
        line += batch.num_rows() as u64;
        result.summary.records += batch.num_rows() as u64;
        shared
            .progress
            .records
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    }
    Ok(())
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
