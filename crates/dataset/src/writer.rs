//! The on-disk dataset: Hive-partitioned Parquet files that appear only when complete, and the
//! quarantine of bad lines beside them.
//!
//! ```text
//! DIR/date=2021-03-26/hour=03/part-<run>-<worker>-<seq>.parquet
//! DIR/_quarantine/<run>-<worker>.jsonl
//! DIR/_tmp/<run>/...            (files being written; renamed into place when committed)
//! ```
//!
//! Which files are committed, and when, is decided by the manifest ([`crate::manifest`]);
//! this module writes the files.

use crate::layout::{HourBucket, QUARANTINE_DIR, TMP_DIR, partition_dir};
use crate::parquet_file::FlowFileWriter;
use arrow::record_batch::RecordBatch;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use vpcflow_arrow::flow_schema;

/// An error while writing the dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Parquet settings of the dataset: zstd, dictionary encoding, page statistics (but for the
/// four address columns).
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("1 is a valid zstd level"),
        ))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1 << 19))
        // A column holds its open page (for a dictionary column, a u64 index per row) until
        // the page is full: with pages of 16k rows instead of 32k, the 2-thread ingest of
        // 4.5M records peaked at 184-194 MB instead of 216-226 MB, for 0.4% larger files and
        // no measurable CPU.
        .set_data_page_row_count_limit(1 << 14)
        .set_write_batch_size(8192)
        // Nearly unique per row: a dictionary would be abandoned or no smaller, and interning
        // every value costs the writer more than any other column.
        .set_column_dictionary_enabled("bytes".into(), false)
        .set_column_dictionary_enabled("packets".into(), false)
        .set_column_dictionary_enabled("srcport".into(), false)
        .set_column_dictionary_enabled("source_line".into(), false)
        .set_column_encoding("source_line".into(), Encoding::DELTA_BINARY_PACKED)
        // A new address on nearly every row: their min/max prune no file or page (and an
        // address's text order is not its numeric order, so they serve no range either),
        // while computing them compared every value, 6% of the ingest's CPU.
        .set_column_statistics_enabled("srcaddr".into(), EnabledStatistics::None)
        .set_column_statistics_enabled("dstaddr".into(), EnabledStatistics::None)
        .set_column_statistics_enabled("pkt_srcaddr".into(), EnabledStatistics::None)
        .set_column_statistics_enabled("pkt_dstaddr".into(), EnabledStatistics::None)
        .set_created_by(format!("vpcflow {}", env!("CARGO_PKG_VERSION")))
        .build()
}

struct OpenFile {
    bucket: HourBucket,
    tmp: PathBuf,
    dest: PathBuf,
    writer: FlowFileWriter<File>,
    rows: usize,
    last_used: u64,
}

/// A file written completely, waiting in the temporary directory to be put in place.
#[derive(Debug, Clone)]
pub struct PendingFile {
    /// Where it was written.
    pub tmp: PathBuf,
    /// Where it goes, relative to the dataset root.
    pub dest: PathBuf,
    /// Rows it holds.
    pub rows: usize,
    /// The hour partition it goes to (`None` for quarantine files and unknown hours).
    pub bucket: HourBucket,
}

/// Writes batches into per-hour Parquet files under the temporary directory.
///
/// At most `max_open` files are open at once (the least recently used is closed first) and a
/// file holds at most `rows_per_file` rows, so memory stays bounded however many hours the
/// input spans. Nothing is visible in the dataset until [`commit`] moves the files in.
pub struct DatasetWriter {
    tmp_dir: PathBuf,
    prefix: String,
    seq: u64,
    clock: u64,
    open: Vec<OpenFile>,
    pending: Vec<PendingFile>,
    max_open: usize,
    rows_per_file: usize,
    props: WriterProperties,
}

impl DatasetWriter {
    /// A writer for dataset `root` whose files are named `part-<prefix>-<seq>.parquet`.
    pub fn new(root: &Path, run_id: &str, prefix: String) -> Result<Self, DatasetError> {
        let tmp_dir = root.join(TMP_DIR).join(run_id);
        std::fs::create_dir_all(&tmp_dir).map_err(io_err(&tmp_dir))?;
        Ok(Self {
            tmp_dir,
            prefix,
            seq: 0,
            clock: 0,
            open: Vec::new(),
            pending: Vec::new(),
            max_open: 4,
            rows_per_file: 8 << 20,
            props: writer_properties(),
        })
    }

    /// Sets how many files may be open at once (default 4).
    pub fn with_max_open(mut self, n: usize) -> Self {
        self.max_open = n.max(1);
        self
    }

    /// Sets the most rows a file holds (default 8,388,608).
    pub fn with_rows_per_file(mut self, n: usize) -> Self {
        self.rows_per_file = n.max(1);
        self
    }

    /// Appends `batch` (canonical schema) to the file of hour `bucket`.
    pub fn write(&mut self, bucket: HourBucket, batch: &RecordBatch) -> Result<(), DatasetError> {
        self.clock += 1;
        let idx = match self.open.iter().position(|f| f.bucket == bucket) {
            Some(i) => i,
            None => self.open_file(bucket)?,
        };
        // Only the file being written holds encoders: another file's row group is written
        // out when the writer turns away from it. An open row group holds every column's
        // dictionary, zstd contexts and compressed pages (about 22 MB a file on the realistic
        // bench data, by heaptrack), so a worker turning from one hour to the next would
        // otherwise hold two.
        for (i, other) in self.open.iter_mut().enumerate() {
            if i != idx && other.writer.in_progress_rows() > 0 {
                other
                    .writer
                    .flush()
                    .map_err(|source| DatasetError::Parquet {
                        path: other.tmp.clone(),
                        source,
                    })?;
            }
        }
        let file = &mut self.open[idx];
        file.last_used = self.clock;
        file.writer
            .write(batch)
            .map_err(|source| DatasetError::Parquet {
                path: file.tmp.clone(),
                source,
            })?;
        file.rows += batch.num_rows();
        if file.rows >= self.rows_per_file {
            let f = self.open.swap_remove(idx);
            self.close(f)?;
        }
        Ok(())
    }

    fn open_file(&mut self, bucket: HourBucket) -> Result<usize, DatasetError> {
        if self.open.len() >= self.max_open
            && let Some((lru, _)) = self
                .open
                .iter()
                .enumerate()
                .min_by_key(|(_, f)| f.last_used)
        {
            let f = self.open.swap_remove(lru);
            self.close(f)?;
        }
        self.seq += 1;
        let name = format!("part-{}-{:05}.parquet", self.prefix, self.seq);
        let tmp = self.tmp_dir.join(format!("{name}.tmp"));
        let dest = Path::new(&partition_dir(bucket)).join(name);
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        let writer =
            FlowFileWriter::try_new(file, flow_schema(), self.props.clone()).map_err(|source| {
                DatasetError::Parquet {
                    path: tmp.clone(),
                    source,
                }
            })?;
        self.open.push(OpenFile {
            bucket,
            tmp,
            dest,
            writer,
            rows: 0,
            last_used: self.clock,
        });
        Ok(self.open.len() - 1)
    }

    fn close(&mut self, f: OpenFile) -> Result<(), DatasetError> {
        let file = f
            .writer
            .into_inner()
            .map_err(|source| DatasetError::Parquet {
                path: f.tmp.clone(),
                source,
            })?;
        file.sync_all().map_err(io_err(&f.tmp))?;
        self.pending.push(PendingFile {
            tmp: f.tmp,
            dest: f.dest,
            rows: f.rows,
            bucket: f.bucket,
        });
        Ok(())
    }

    /// Closes every open file and returns all files written, ready for [`commit`].
    pub fn finish(mut self) -> Result<Vec<PendingFile>, DatasetError> {
        while let Some(f) = self.open.pop() {
            self.close(f)?;
        }
        Ok(self.pending)
    }

    /// Closes every open file and deletes everything this writer wrote.
    pub fn abort(mut self) {
        for f in self.open.drain(..) {
            let _ = std::fs::remove_file(&f.tmp);
        }
        for f in self.pending.drain(..) {
            let _ = std::fs::remove_file(&f.tmp);
        }
    }
}

/// Removes the temporary directory of a run.
pub fn remove_run_tmp(root: &Path, run_id: &str) {
    let _ = std::fs::remove_dir_all(root.join(TMP_DIR).join(run_id));
    let _ = std::fs::remove_dir(root.join(TMP_DIR));
}

/// One quarantined line.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct QuarantinedLine {
    /// File path or object URI.
    pub source: String,
    /// 1-based line number.
    pub line: u64,
    /// Why the line was rejected.
    pub error: String,
    /// The line as read (invalid UTF-8 replaced, cut at 4 KiB).
    pub text: String,
}

/// Appends bad lines, as JSON lines, to a quarantine file that is committed with the data.
pub struct QuarantineWriter {
    path: PathBuf,
    dest: PathBuf,
    out: Option<BufWriter<File>>,
    count: u64,
}

impl QuarantineWriter {
    /// A quarantine file for `DIR/_quarantine/<name>.jsonl`, written under the run's temporary
    /// directory from the first bad line on.
    pub fn new(root: &Path, run_id: &str, name: &str) -> Self {
        let file = format!("{name}.jsonl");
        Self {
            path: root.join(TMP_DIR).join(run_id).join(&file),
            dest: Path::new(QUARANTINE_DIR).join(file),
            out: None,
            count: 0,
        }
    }

    /// Records one bad line.
    pub fn push(
        &mut self,
        source: &str,
        line: u64,
        error: &str,
        text: &[u8],
    ) -> Result<(), DatasetError> {
        if self.out.is_none() {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            let f = File::options()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io_err(&self.path))?;
            self.out = Some(BufWriter::new(f));
        }
        let cut = &text[..text.len().min(4096)];
        let rec = QuarantinedLine {
            source: source.to_string(),
            line,
            error: error.to_string(),
            text: String::from_utf8_lossy(cut).into_owned(),
        };
        if let Some(out) = self.out.as_mut() {
            serde_json::to_writer(&mut *out, &rec)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
                .map_err(io_err(&self.path))?;
        }
        self.count += 1;
        Ok(())
    }

    /// Lines quarantined so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes the file; returns it, ready to commit, when any line was written.
    pub fn finish(mut self) -> Result<Option<PendingFile>, DatasetError> {
        match self.out.take() {
            Some(out) => {
                let file = out
                    .into_inner()
                    .map_err(|e| io_err(&self.path)(e.into_error()))?;
                file.sync_all().map_err(io_err(&self.path))?;
                Ok(Some(PendingFile {
                    tmp: self.path,
                    dest: self.dest,
                    rows: self.count as usize,
                    bucket: None,
                }))
            }
            None => Ok(None),
        }
    }

    /// Deletes what was written.
    pub fn abort(mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Copies the quarantine file `src` to `dest` without the lines of the sources in `drop`.
/// Returns the lines kept; when none are, `dest` is not created.
pub fn rewrite_quarantine_without_sources(
    src: &Path,
    dest: &Path,
    drop: &std::collections::HashSet<String>,
) -> Result<usize, DatasetError> {
    use std::io::BufRead;
    let input = std::io::BufReader::new(File::open(src).map_err(io_err(src))?);
    let mut kept = Vec::new();
    for line in input.lines() {
        let line = line.map_err(io_err(src))?;
        let source = serde_json::from_str::<QuarantinedLine>(&line)
            .map(|q| q.source)
            .unwrap_or_default();
        if !drop.contains(&source) {
            kept.push(line);
        }
    }
    if !kept.is_empty() {
        let mut out = File::create(dest).map_err(io_err(dest))?;
        for line in &kept {
            writeln!(out, "{line}").map_err(io_err(dest))?;
        }
        out.sync_all().map_err(io_err(dest))?;
    }
    Ok(kept.len())
}

/// Copies the Parquet file `src` to `dest` without the rows whose `source` column is in
/// `drop`. Returns the rows kept; when none are, `dest` is not created.
pub fn rewrite_without_sources(
    src: &Path,
    dest: &Path,
    drop: &std::collections::HashSet<String>,
) -> Result<usize, DatasetError> {
    use arrow::array::{Array, BooleanArray, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let parquet_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DatasetError::Parquet { path, source }
    };
    let file = File::open(src).map_err(io_err(src))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(65536).build())
        .map_err(parquet_err(src))?;
    let source_idx = flow_schema()
        .index_of(vpcflow_arrow::SOURCE)
        .map_err(|e| parquet_err(src)(e.into()))?;
    let mut writer: Option<FlowFileWriter<File>> = None;
    let mut kept = 0;
    for batch in reader {
        let batch = batch.map_err(|e| parquet_err(src)(e.into()))?;
        let col = batch.column(source_idx);
        let keep: BooleanArray = match col.as_any().downcast_ref::<StringArray>() {
            Some(s) => (0..s.len())
                .map(|i| Some(s.is_null(i) || !drop.contains(s.value(i))))
                .collect(),
            None => (0..col.len()).map(|_| Some(true)).collect(),
        };
        let batch = arrow::compute::filter_record_batch(&batch, &keep)
            .map_err(|e| parquet_err(src)(e.into()))?;
        if batch.num_rows() == 0 {
            continue;
        }
        if writer.is_none() {
            let f = File::create(dest).map_err(io_err(dest))?;
            writer = Some(
                FlowFileWriter::try_new(f, flow_schema(), writer_properties())
                    .map_err(parquet_err(dest))?,
            );
        }
        if let Some(w) = writer.as_mut() {
            w.write(&batch).map_err(parquet_err(dest))?;
        }
        kept += batch.num_rows();
    }
    if let Some(w) = writer {
        let f = w.into_inner().map_err(parquet_err(dest))?;
        f.sync_all().map_err(io_err(dest))?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{hour_bucket, partition_hour};

    #[test]
    fn partition_names() {
        assert_eq!(
            partition_dir(hour_bucket(Some(1616729292))),
            "date=2021-03-26/hour=03"
        );
        assert_eq!(
            partition_dir(hour_bucket(None)),
            "date=unknown/hour=unknown"
        );
        let bucket = hour_bucket(Some(1616729292));
        assert_eq!(
            partition_hour(&format!("{}/part-x.parquet", partition_dir(bucket))),
            bucket
        );
        assert_eq!(partition_hour("date=unknown/hour=unknown/p.parquet"), None);
        assert_eq!(partition_hour("_quarantine/x.jsonl"), None);
    }

    /// The batches, with their hours, that the decoder makes of v2 `text`.
    fn decode(text: &str) -> Vec<(HourBucket, RecordBatch)> {
        let mut batches = Vec::new();
        let mut decoder =
            vpcflow_arrow::FlowDecoderBuilder::new(vpcflow_format::Layout::default_v2())
                .build_decoder("t.log".into(), None);
        let mut emit = |e: vpcflow_arrow::DecodeEvent<'_>| {
            if let vpcflow_arrow::DecodeEvent::Batch(bucket, b) = e {
                batches.push((bucket, b));
            }
        };
        decoder.decode(text.as_bytes(), true, &mut emit).unwrap();
        decoder.finish(&mut emit).unwrap();
        batches
    }

    #[test]
    fn statistics_on_every_column_but_the_addresses_and_zstd_for_every_column() {
        let text = "2 123456789012 eni-1 10.0.0.9 10.0.0.10 443 50000 6 3 120 1700000000 1700000060 ACCEPT OK\n\
                    2 123456789012 eni-2 10.0.0.10 10.0.0.9 50000 443 6 5 900 1700000030 1700000090 REJECT OK\n";
        let batches: Vec<_> = decode(text).into_iter().map(|(_, b)| b).collect();
        let mut out = Vec::new();
        let mut w = FlowFileWriter::try_new(&mut out, flow_schema(), writer_properties()).unwrap();
        w.write(&batches[0]).unwrap();
        w.into_inner().unwrap();
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes::Bytes::from(out))
            .unwrap();
        let columns = meta.row_groups()[0].columns();
        let chunk = |name: &str| {
            columns
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap()
        };
        let codec = |name: &str| chunk(name).compression();
        // Every column is zstd, those the default format leaves empty too: the string and
        // integer columns' pages share one zstd context per file, so an empty column costs
        // no compressor of its own.
        for name in [
            "srcaddr",
            "start",
            "source",
            "vpc_id",
            "tcp_flags",
            "traffic_path",
        ] {
            assert!(matches!(codec(name), Compression::ZSTD(_)), "{name}");
        }
        assert!(
            columns
                .iter()
                .all(|c| matches!(c.compression(), Compression::ZSTD(_)))
        );
        let stats = |name: &str| chunk(name).statistics().cloned();
        assert!(stats("srcaddr").is_none());
        assert!(stats("pkt_dstaddr").is_none());
        match stats("start").unwrap() {
            parquet::file::statistics::Statistics::Int64(s) => {
                assert_eq!(
                    (s.min_opt(), s.max_opt()),
                    (Some(&1700000000), Some(&1700000030))
                );
            }
            other => panic!("start: {other:?}"),
        }
        match stats("action").unwrap() {
            parquet::file::statistics::Statistics::ByteArray(s) => {
                assert_eq!(s.min_opt().unwrap().data(), b"ACCEPT");
                assert_eq!(s.max_opt().unwrap().data(), b"REJECT");
            }
            other => panic!("action: {other:?}"),
        }
    }

    #[test]
    fn turning_to_another_hour_writes_out_the_other_files_row_group() {
        // Three records of 13:00, one of 14:00, two more of 13:00 (late ones), in three batches.
        let line = |start: i64| {
            format!(
                "2 123456789012 eni-1 10.0.0.9 10.0.0.10 443 50000 6 3 120 {start} {} ACCEPT OK\n",
                start + 60
            )
        };
        let h13 = 1_699_966_800; // 2023-11-14 13:00:00 UTC
        let batch = |starts: &[i64]| {
            let text: String = starts.iter().map(|&s| line(s)).collect();
            let mut out = decode(&text);
            assert_eq!(out.len(), 1);
            out.remove(0)
        };
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::new(dir.path(), "run", "w0".into()).unwrap();
        for starts in [
            &[h13, h13 + 5, h13 + 10][..],
            &[h13 + 3600],
            &[h13 + 20, h13 + 30],
        ] {
            let (bucket, b) = batch(starts);
            w.write(bucket, &b).unwrap();
        }
        // The 13:00 file's first row group was written out when the writer turned to 14:00, the
        // 14:00 file's when it turned back: only the file being written holds rows in memory.
        let mut held: Vec<_> = w
            .open
            .iter()
            .map(|f| (f.bucket, f.writer.in_progress_rows()))
            .collect();
        held.sort();
        assert_eq!(
            held,
            vec![
                (hour_bucket(Some(h13)), 2),
                (hour_bucket(Some(h13 + 3600)), 0)
            ]
        );
        let mut files = w.finish().unwrap();
        files.sort_by_key(|f| f.bucket);
        let groups = |f: &PendingFile| {
            let file = File::open(&f.tmp).unwrap();
            let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
            let meta = parquet::file::reader::FileReader::metadata(&reader).clone();
            meta.row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect::<Vec<_>>()
        };
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].rows, 5);
        assert_eq!(groups(&files[0]), vec![3, 2]);
        assert_eq!(groups(&files[1]), vec![1]);
    }
}
