//! Rollups: a report computed per hour and kept as a small Parquet table beside the flows, for
//! dashboards.
//!
//! ```text
//! DIR/_rollups/<report>/date=YYYY-MM-DD/hour=HH.parquet
//! ```
//!
//! Each file is the report's result over the records that started in that hour, with the
//! column `hour_start` (UTC) first. A run recomputes the files of the hours it touched, each
//! from the raw flows of its hour, and puts each in place whole (written aside, then renamed
//! over the old one), so a rollup always equals the report for its hour.
//!
//! Times (`hour_start`, and a report's `first_seen`/`last_seen`) are stored as Parquet
//! `TIMESTAMP(MILLIS, isAdjustedToUTC=true)`, which DuckDB, Athena, Spark and Grafana read as
//! times. (Arrow's second-precision timestamps have no Parquet logical type: written as they
//! are, they would be plain INT64.) Rollups written before that, with INT64 times, are found by
//! [`update`] and rewritten for every hour of the dataset.

use crate::reports::Report;
use crate::{QueryError, SessionOptions};
use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vpcflow_arrow::dataset::partition_hour;

/// Directory (under the dataset root) of the rollup tables.
pub const ROLLUP_DIR: &str = "_rollups";

/// The file holding `report`'s rollup for `hour` (hours since the Unix epoch).
pub fn rollup_file(root: &Path, report: &str, hour: i64) -> PathBuf {
    let t = chrono::DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default();
    root.join(ROLLUP_DIR)
        .join(report)
        .join(t.format("date=%Y-%m-%d").to_string())
        .join(t.format("hour=%H.parquet").to_string())
}

/// Hours (since the Unix epoch) the dataset at `root` has records for.
pub fn dataset_hours(root: &Path) -> Result<BTreeSet<i64>, QueryError> {
    let mut out = BTreeSet::new();
    let io = |e: std::io::Error| QueryError::Dataset {
        path: root.display().to_string(),
        message: e.to_string(),
    };
    for day in std::fs::read_dir(root).map_err(io)? {
        let day = day.map_err(io)?;
        let day_name = day.file_name().to_string_lossy().into_owned();
        if !day_name.starts_with("date=") || !day.path().is_dir() {
            continue;
        }
        for hour in std::fs::read_dir(day.path()).map_err(io)? {
            let hour = hour.map_err(io)?;
            let has_files = std::fs::read_dir(hour.path())
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            let name = format!("{day_name}/{}", hour.file_name().to_string_lossy());
            if let Some(h) = partition_hour(&name)
                && has_files
            {
                out.insert(h);
            }
        }
    }
    Ok(out)
}

/// Brings the rollups of `reports` up to date for `hours`; a report without a rollup table
/// yet gets one for every hour of the dataset. `tmp` is a directory on the dataset's file
/// system for files being written. Returns the number of files written or removed.
pub async fn update(
    root: &Path,
    reports: &[&Report],
    hours: &BTreeSet<i64>,
    opts: &SessionOptions,
    tmp: &Path,
) -> Result<u64, QueryError> {
    let mut all: Option<BTreeSet<i64>> = None;
    let mut changed = 0;
    std::fs::create_dir_all(tmp).map_err(|e| QueryError::Dataset {
        path: tmp.display().to_string(),
        message: e.to_string(),
    })?;
    for report in reports {
        let table = root.join(ROLLUP_DIR).join(report.name);
        let hours = if table.exists() && !is_stale(&table, &columns(report).await?)? {
            hours.clone()
        } else {
            match &all {
                Some(a) => a.clone(),
                None => all.insert(dataset_hours(root)?).clone(),
            }
        };
        for &hour in &hours {
            let opts = SessionOptions {
                from: Some(hour * 3600),
                to: Some((hour + 1) * 3600),
                ..opts.clone()
            };
            let (ctx, _) = crate::open_with(root, &opts).await?;
            let (_, batches) = crate::sql(&ctx, report.sql).await?;
            let dest = rollup_file(root, report.name, hour);
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows == 0 {
                match std::fs::remove_file(&dest) {
                    Ok(()) => changed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&dest, e)),
                }
                continue;
            }
            let tmp_file = tmp.join(format!("{}-{hour}.parquet.tmp", report.name));
            write_hour(&tmp_file, hour, &batches)?;
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            }
            std::fs::rename(&tmp_file, &dest).map_err(|e| io_err(&dest, e))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The columns of `report`'s rollup as this vpcflow writes it: `hour_start`, then the
/// report's columns (planned over an empty dataset, so nothing is read).
pub async fn columns(report: &Report) -> Result<SchemaRef, QueryError> {
    let dir = tempfile::tempdir().map_err(|e| QueryError::Invalid(e.to_string()))?;
    std::fs::create_dir_all(dir.path().join("_manifest")).map_err(|e| io_err(dir.path(), e))?;
    let (ctx, _) = crate::open_with(dir.path(), &SessionOptions::default()).await?;
    let (schema, _) = crate::sql(&ctx, report.sql).await?;
    Ok(rollup_schema(&schema))
}

/// Whether any file of the rollup table at `dir` is stale: written before times became
/// Parquet timestamps, or with other columns than `expected` (a report that gained columns).
/// Then the whole table is recomputed. Reads only the files' footers.
pub fn is_stale(dir: &Path, expected: &SchemaRef) -> Result<bool, QueryError> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io_err(&d, e))? {
            let path = entry.map_err(|e| io_err(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet")
                && file_is_stale(&path, expected)?
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether the rollup file at `path` has a time column without a timestamp logical type, or
/// columns other than `expected`'s.
pub fn file_is_stale(path: &Path, expected: &SchemaRef) -> Result<bool, QueryError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| QueryError::Dataset {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let untyped = schema.columns().iter().any(|c| {
        matches!(c.name(), "hour_start" | "first_seen" | "last_seen")
            && !matches!(
                c.logical_type_ref(),
                Some(parquet::basic::LogicalType::Timestamp(_))
            )
    });
    let names = schema.root_schema().get_fields().iter().map(|f| f.name());
    let other_columns = !names.eq(expected.fields().iter().map(|f| f.name().as_str()));
    Ok(untyped || other_columns)
}

fn io_err(path: &Path, e: std::io::Error) -> QueryError {
    QueryError::Dataset {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// How a rollup stores times: a unit Parquet has a logical type for, in UTC.
fn stored_time() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The rollup schema: `hour_start` then the report's columns, their times as [`stored_time`].
pub fn rollup_schema(schema: &arrow::datatypes::SchemaRef) -> Arc<Schema> {
    let mut fields = vec![Arc::new(Field::new("hour_start", stored_time(), false))];
    fields.extend(schema.fields().iter().map(|f| match f.data_type() {
        DataType::Timestamp(..) => Arc::new(f.as_ref().clone().with_data_type(stored_time())),
        _ => f.clone(),
    }));
    Arc::new(Schema::new(fields))
}

fn write_hour(path: &Path, hour: i64, batches: &[RecordBatch]) -> Result<(), QueryError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let out_schema = rollup_schema(&first.schema());
    let pq = |e: parquet::errors::ParquetError| QueryError::Dataset {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    let mut w = ArrowWriter::try_new(
        file,
        out_schema.clone(),
        Some(vpcflow_arrow::dataset::writer_properties()),
    )
    .map_err(pq)?;
    for b in batches {
        let hours: ArrayRef = Arc::new(
            TimestampMillisecondArray::from(vec![hour * 3_600_000; b.num_rows()])
                .with_timezone("UTC"),
        );
        let mut cols = vec![hours];
        for (col, field) in b.columns().iter().zip(out_schema.fields().iter().skip(1)) {
            cols.push(if col.data_type() == field.data_type() {
                col.clone()
            } else {
                arrow::compute::cast(col, field.data_type())?
            });
        }
        let batch = RecordBatch::try_new(out_schema.clone(), cols)?;
        w.write(&batch).map_err(pq)?;
    }
    let f = w.into_inner().map_err(pq)?;
    f.sync_all().map_err(|e| io_err(path, e))?;
    Ok(())
}
