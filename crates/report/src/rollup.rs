//! Rollups: a report computed per hour and kept as a small Parquet table beside the flows, for
//! dashboards.
//!
//! ```text
//! DIR/_rollups/<report>/date=YYYY-MM-DD/hour=HH.parquet
//! ```
//!
//! Each file is the report's result over the records that started in that hour, with the
//! column `hour_start` (UTC) first. A run recomputes the files of the hours it touched, each
//! from the raw flows of its hour ([`compute_hour`]), and the dataset puts each in place whole
//! through its store (`vpcflow_dataset::Dataset::place_rollup`), so a rollup always equals the
//! report for its hour. Which hours to recompute is the ingest job's decision.
//!
//! Times (`hour_start`, and a report's `first_seen`/`last_seen`) are stored as Parquet
//! `TIMESTAMP(MILLIS, isAdjustedToUTC=true)`, which DuckDB, Athena, Spark and Grafana read as
//! times. (Arrow's second-precision timestamps have no Parquet logical type: written as they
//! are, they would be plain INT64.) Rollups written before that, with INT64 times, or with other
//! columns, are found by [`file_is_stale`] and rewritten for every hour of the dataset.

use crate::reports::Report;
use crate::{QueryError, SessionOptions};
use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vpcflow_dataset::Hour;

/// Computes `report`'s rollup for `hour` over the local dataset (or local mirror of its
/// hour) at `root`, into a file under `tmp`: `Some(file)`, or `None` when the hour has no rows
/// (its rollup file, if any, is then removed).
pub async fn compute_hour(
    root: &Path,
    report: &Report,
    hour: Hour,
    opts: &SessionOptions,
    tmp: &Path,
) -> Result<Option<PathBuf>, QueryError> {
    std::fs::create_dir_all(tmp).map_err(|e| io_err(tmp, e))?;
    let opts = SessionOptions {
        from: Some(hour.start()),
        to: Some(hour.end()),
        ..opts.clone()
    };
    let (ctx, _) = crate::open_with(root, &opts).await?;
    let (_, batches) = crate::sql(&ctx, report.sql).await?;
    if batches.iter().map(RecordBatch::num_rows).sum::<usize>() == 0 {
        return Ok(None);
    }
    let file = tmp.join(format!("{}-{}.parquet.tmp", report.name, hour.0));
    write_hour(&file, hour, &batches)?;
    Ok(Some(file))
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

fn write_hour(path: &Path, hour: Hour, batches: &[RecordBatch]) -> Result<(), QueryError> {
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
        Some(vpcflow_dataset::writer::writer_properties()),
    )
    .map_err(pq)?;
    for b in batches {
        let hours: ArrayRef = Arc::new(
            TimestampMillisecondArray::from(vec![hour.start() * 1000; b.num_rows()])
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
