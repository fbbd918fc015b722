//! SQL over the vpcflow Parquet dataset with DataFusion.
//!
//! - [`open`] makes a session where the dataset is the table `flows` (Hive partitions `date`
//!   and `hour` included), and the inventory tables where one is given.
//! - [`sql`] runs a statement; [`write_output`] prints the result as a table, CSV or JSON lines.
#![deny(missing_docs)]

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use vpcflow_arrow::{PARTITION_COLUMNS, flow_schema};


/// An error from a query or report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The dataset directory cannot be used.
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// DataFusion refused or failed the query.
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Printing the result failed.
    #[error("writing output: {0}")]
    Output(#[from] arrow::error::ArrowError),
    /// A bad argument (report name, time, option).
    #[error("{0}")]
    Invalid(String),
    /// An inventory file is not what `aws ec2 describe-*` prints.
    #[error("inventory {path}: {message}")]
    Inventory {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A prices file is not valid.
    #[error("prices {path}: {message}")]
    Prices {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// How a result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
}

/// A session whose table `flows` is the dataset at `data`.
pub async fn open(data: &Path) -> Result<SessionContext, QueryError> {
    let meta = std::fs::metadata(data).map_err(|e| QueryError::Dataset {
        path: data.display().to_string(),
        message: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(QueryError::Dataset {
            path: data.display().to_string(),
            message: "not a directory".into(),
        });
    }
    let config = SessionConfig::new()
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    register_flows(&ctx, data)?;
    Ok(ctx)
}

/// Registers the dataset at `data` as table `flows` in `ctx`.
pub fn register_flows(ctx: &SessionContext, data: &Path) -> Result<(), QueryError> {
    let abs = std::fs::canonicalize(data).map_err(|e| QueryError::Dataset {
        path: data.display().to_string(),
        message: e.to_string(),
    })?;
    let url = ListingTableUrl::parse(format!("{}/", abs.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(
            PARTITION_COLUMNS
                .iter()
                .map(|c| (c.to_string(), DataType::Utf8))
                .collect(),
        );
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(flow_schema());
    let table = ListingTable::try_new(config)?;
    ctx.register_table("flows", Arc::new(table))?;
    Ok(())
}

/// Runs one SQL statement and collects its result.
pub async fn sql(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let df = ctx.sql(sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok((schema, batches))
}

/// Prints batches in `format`.
pub fn write_output(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> Result<(), QueryError> {
    match format {
        OutputFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches_with_schema(
                schema.clone(),
                batches,
            )?;
            writeln!(out, "{table}").map_err(arrow::error::ArrowError::from)?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}
