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

pub mod addresses;
pub mod csv_out;
pub mod ddl;
pub mod html;
pub mod inventory;
pub mod prices;
pub mod remote;
pub mod reports;
pub mod rollup;
pub mod table;
mod udf;
mod unique;

pub use datafusion::object_store::ObjectStore;
pub use inventory::Inventory;
pub use prices::PriceTable;

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
    /// A self-contained HTML page (see [`html`]).
    Html,
}

/// What a session sees beyond the dataset.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Directory with `describe-subnets.json` and `describe-network-interfaces.json`.
    pub inventory: Option<std::path::PathBuf>,
    /// A TOML file laid over the built-in price table.
    pub prices: Option<std::path::PathBuf>,
    /// Only records whose `start` is at or after this (Unix seconds).
    pub from: Option<i64>,
    /// Only records whose `start` is before this (Unix seconds).
    pub to: Option<i64>,
    /// The bucket's store, for a dataset at `s3://BUCKET/PREFIX` (see [`remote`]).
    pub s3: Option<Arc<dyn ObjectStore>>,
}

/// A session whose table `flows` is the dataset at `data`, with no inventory.
pub async fn open(data: &Path) -> Result<SessionContext, QueryError> {
    open_with(data, &SessionOptions::default())
        .await
        .map(|(ctx, _)| ctx)
}

/// A session with the tables `flows` (the dataset, cut to the time range, with its partitions
/// pruned), `flows_enriched`, `subnets`, `enis`, `eni_ips` (empty without an inventory) and
/// `prices`. Returns the price table it registered.
pub async fn open_with(
    data: &Path,
    opts: &SessionOptions,
) -> Result<(SessionContext, PriceTable), QueryError> {
    let inventory = opts.inventory.as_deref().map(Inventory::load).transpose()?;
    let prices = PriceTable::load(opts.prices.as_deref())?;
    let ctx = session(data, opts)?;
    let remote = match (s3_uri(data), &opts.s3) {
        (Some(uri), Some(store)) => Some(remote::S3Dataset::open(uri, store.clone()).await?),
        _ => None,
    };
    let ranged = opts.from.is_some() || opts.to.is_some();
    let all = if ranged { "flows_all" } else { "flows" };
    match &remote {
        // Only the files of the range's hours: `flows_all` is the range's part of the dataset.
        Some(r) => r.register_flows(&ctx, all, view_schema(&flow_schema()), opts.from, opts.to)?,
        None => register_flows(&ctx, data, all)?,
    }
    if ranged {
        let mut conds = Vec::new();
        let day = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        if let Some(f) = opts.from {
            conds.push(format!("date >= '{}' AND start >= {f}", day(f)));
        }
        if let Some(t) = opts.to {
            conds.push(format!("date <= '{}' AND start < {t}", day(t)));
        }
        // One whole hour (a rollup): name its partition, so only its files are listed.
        if let (Some(f), Some(t)) = (opts.from, opts.to)
            && f % 3600 == 0
            && t == f + 3600
        {
            let hour = chrono::DateTime::from_timestamp(f, 0)
                .map(|d| d.format("%H").to_string())
                .unwrap_or_default();
            conds.push(format!("date = '{}' AND hour = '{hour}'", day(f)));
        }
        ctx.sql(&format!(
            "CREATE VIEW flows AS SELECT * FROM flows_all WHERE {}",
            conds.join(" AND ")
        ))
        .await?;
    }
    match &remote {
        Some(r) => r.register_rollups(&ctx).await?,
        None => register_rollups(&ctx, data).await?,
    }
    inventory::register(&ctx, inventory.as_ref())?;
    prices.register(&ctx)?;
    let book = inventory
        .as_ref()
        .map(addresses::AddressBook::new)
        .unwrap_or_default();
    udf::register(&ctx, Arc::new(book));
    let enriched = if inventory.is_some() {
        reports::FLOWS_ENRICHED
    } else {
        reports::FLOWS_ENRICHED_BARE
    };
    ctx.sql(&format!("CREATE VIEW flows_enriched AS {enriched}"))
        .await?;
    // flows_unique does its work when a query first scans it (unique.rs).
    unique::register(&ctx, all).await?;
    Ok((ctx, prices))
}

/// `data` when it names a dataset in S3 (`s3://BUCKET/PREFIX`).
fn s3_uri(data: &Path) -> Option<&str> {
    data.to_str().filter(|d| d.starts_with("s3://"))
}

fn session(data: &Path, opts: &SessionOptions) -> Result<SessionContext, QueryError> {
    if s3_uri(data).is_some() {
        let Some(store) = &opts.s3 else {
            return Err(QueryError::Dataset {
                path: data.display().to_string(),
                message: "a dataset in S3 needs its bucket's object store (SessionOptions::s3)"
                    .into(),
            });
        };
        let (bucket, _) =
            remote::parse_uri(&data.to_string_lossy()).ok_or_else(|| QueryError::Dataset {
                path: data.display().to_string(),
                message: "expected s3://BUCKET[/PREFIX]".into(),
            })?;
        let ctx = new_context();
        let url =
            datafusion::execution::object_store::ObjectStoreUrl::parse(format!("s3://{bucket}"))?;
        ctx.register_object_store(url.as_ref(), store.clone());
        return Ok(ctx);
    }
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
    // A dataset has its manifest (`_manifest/`) or, written by an older vpcflow, its
    // partitions (`date=YYYY-MM-DD/`): anything else would read as an empty answer.
    let is_dataset = std::fs::read_dir(data)
        .map_err(|e| QueryError::Dataset {
            path: data.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(Result::ok)
        .any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name == "_manifest" || name.starts_with("date=")
        });
    if !is_dataset {
        return Err(QueryError::Dataset {
            path: data.display().to_string(),
            message: "not a vpcflow dataset (no _manifest/ and no date=... partitions): give \
                      the --out directory of `vpcflow ingest` or of a job"
                .into(),
        });
    }
    Ok(new_context())
}

fn new_context() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .with_information_schema(true)
        // Batches of 32k rows, and filters evaluated inside the Parquet scan (rows a filter
        // drops are never decoded in the other columns): on 4.5M realistic records the
        // reports took 17-37% less time than with DataFusion's defaults (8,192 rows, filters
        // after the scan); see benches/BENCHMARKS.md, session 7.
        .with_batch_size(32768);
    config.options_mut().execution.parquet.pushdown_filters = true;
    SessionContext::new_with_config(config)
}

/// The URL of a local directory, for a listing table.
fn directory_url(dir: &Path) -> Result<ListingTableUrl, QueryError> {
    let abs = std::fs::canonicalize(dir).map_err(|e| QueryError::Dataset {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(ListingTableUrl::parse(format!("{}/", abs.display()))?)
}

/// Parquet files under Hive partition directories `partitions` (string-valued).
fn parquet_listing(partitions: &[&str]) -> ListingOptions {
    ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(
            partitions
                .iter()
                .map(|c| (c.to_string(), DataType::Utf8))
                .collect(),
        )
}

/// `schema` with its top-level strings as `Utf8View`: the Parquet reader then points into the
/// decoded dictionary pages instead of copying every value (most flow-log columns are
/// low-cardinality strings), as DataFusion does for the schemas it infers.
fn view_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => {
                Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
            }
            _ => f.clone(),
        })
        .collect();
    Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

/// Registers the dataset at `data` as table `name` in `ctx`.
pub fn register_flows(ctx: &SessionContext, data: &Path, name: &str) -> Result<(), QueryError> {
    let url = directory_url(data)?;
    let options = parquet_listing(&PARTITION_COLUMNS);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(view_schema(&flow_schema()));
    let table = ListingTable::try_new(config)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// Registers each rollup table under `data/_rollups/` as `rollup_<report>` (`-` as `_`), with
/// its `date` partition.
async fn register_rollups(ctx: &SessionContext, data: &Path) -> Result<(), QueryError> {
    let Ok(dirs) = std::fs::read_dir(data.join(vpcflow_dataset::layout::ROLLUP_DIR)) else {
        return Ok(());
    };
    let mut names: Vec<String> = dirs
        .filter_map(|d| d.ok())
        .filter(|d| d.path().is_dir())
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let url = directory_url(&data.join(vpcflow_dataset::layout::ROLLUP_DIR).join(&name))?;
        let options = parquet_listing(&["date"]);
        let state = ctx.state();
        let config = ListingTableConfig::new(url).with_listing_options(options);
        let config = match config.infer_schema(&state).await {
            Ok(c) => c,
            // An empty table (no hour with rows yet) has no schema to read.
            Err(_) => continue,
        };
        let table = ListingTable::try_new(config)?;
        ctx.register_table(
            format!("rollup_{}", name.replace('-', "_")),
            Arc::new(table),
        )?;
    }
    Ok(())
}

/// What `report` cannot answer in full without an inventory (analytics §7 rule 10): the
/// columns it leaves incomplete, and how many records carry no direction of their own.
pub async fn missing_inventory_notes(
    ctx: &SessionContext,
    report: &reports::Report,
) -> Result<Vec<String>, QueryError> {
    let mut notes = Vec::new();
    if !report.without_inventory.is_empty() {
        notes.push(report.without_inventory.to_string());
    }
    if report.name != "log-health" {
        let (_, batches) = sql(
            ctx,
            "SELECT COUNT(*) FROM flows WHERE flow_direction IS NULL AND log_status = 'OK'",
        )
        .await?;
        let undirected = batches
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .map(|c| c.value(0))
            })
            .unwrap_or(0);
        if undirected > 0 {
            notes.push(format!(
                "{undirected} records carry no flow-direction (formats before v5): their \
                 direction is unknown, so their bytes are neither in nor out and they count as \
                 no sender's egress record"
            ));
        }
    }
    Ok(notes)
}

/// Runs a report; `limit` keeps the first rows.
pub async fn run_report(
    ctx: &SessionContext,
    report: &reports::Report,
    limit: Option<usize>,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let (schema, batches) = sql(ctx, report.sql).await?;
    let Some(mut left) = limit else {
        return Ok((schema, batches));
    };
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        out.push(b.slice(0, take));
        left -= take;
    }
    Ok((schema, out))
}

/// Runs SQL and collects the result of its last statement. Statements are separated by `;`;
/// the ones before the last prepare it, e.g. `CREATE OR REPLACE TABLE t AS SELECT ...` to
/// compute once what the last one reads several times (DataFusion inlines a `WITH` query
/// wherever it is named).
pub async fn sql(
    ctx: &SessionContext,
    sql: &str,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let df = last_statement(ctx, sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok((schema, batches))
}

/// Runs SQL like [`sql`], and returns the last statement's result as a stream, for output
/// written as it arrives ([`write_stream`]) rather than held whole.
pub async fn sql_stream(
    ctx: &SessionContext,
    sql: &str,
) -> Result<datafusion::execution::SendableRecordBatchStream, QueryError> {
    Ok(last_statement(ctx, sql).await?.execute_stream().await?)
}

/// Runs the statements before the last, and plans the last.
async fn last_statement(
    ctx: &SessionContext,
    sql: &str,
) -> Result<datafusion::dataframe::DataFrame, QueryError> {
    let mut statements = datafusion::sql::parser::DFParser::parse_sql(sql)?;
    let Some(last) = statements.pop_back() else {
        return Err(QueryError::Invalid("no SQL statement given".into()));
    };
    for statement in statements {
        let plan = ctx.state().statement_to_plan(statement).await?;
        ctx.execute_logical_plan(plan).await?.collect().await?;
    }
    let plan = ctx.state().statement_to_plan(last).await?;
    Ok(ctx.execute_logical_plan(plan).await?)
}

/// Prints a result stream in `format`, at most `limit` rows. CSV and JSON lines are written
/// as the batches arrive, so a large result is never held whole; a table and HTML need every
/// row first ([`write_output`]).
pub async fn write_stream(
    out: &mut dyn Write,
    mut stream: datafusion::execution::SendableRecordBatchStream,
    format: OutputFormat,
    limit: Option<usize>,
) -> Result<(), QueryError> {
    let schema = stream.schema();
    let mut left = limit.unwrap_or(usize::MAX);
    match format {
        OutputFormat::Csv => {
            let mut w = csv_out::CsvWriter::new(out, &schema)?;
            while let Some(batch) = next_rows(&mut stream, &mut left).await? {
                w.write(&batch)?;
            }
            w.finish()
        }
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            while let Some(batch) = next_rows(&mut stream, &mut left).await? {
                w.write(&batch)?;
            }
            w.finish()?;
            Ok(())
        }
        OutputFormat::Table | OutputFormat::Html => {
            let mut batches = Vec::new();
            while let Some(batch) = next_rows(&mut stream, &mut left).await? {
                batches.push(batch);
            }
            write_output(out, &schema, &batches, format)
        }
    }
}

/// The next batch of `stream`, cut to the `left` rows still wanted (`None` at the end).
async fn next_rows(
    stream: &mut datafusion::execution::SendableRecordBatchStream,
    left: &mut usize,
) -> Result<Option<RecordBatch>, QueryError> {
    use futures::StreamExt;
    if *left == 0 {
        return Ok(None);
    }
    let Some(batch) = stream.next().await.transpose()? else {
        return Ok(None);
    };
    let take = batch.num_rows().min(*left);
    *left -= take;
    Ok(Some(batch.slice(0, take)))
}

/// Prints batches in `format`: a table for people ([`table::write_table`], every row and
/// column), CSV (map, list and struct columns as JSON text) or JSON lines.
pub fn write_output(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> Result<(), QueryError> {
    match format {
        OutputFormat::Table => {
            table::write_table(out, schema, batches, &table::TableOptions::default())?;
        }
        OutputFormat::Csv => csv_out::write_csv(out, schema, batches)?,
        OutputFormat::Json => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        OutputFormat::Html => {
            let page = html::table_page(schema, batches, "vpcflow", None)?;
            out.write_all(page.as_bytes())
                .map_err(arrow::error::ArrowError::from)?;
        }
    }
    Ok(())
}

/// A tokio runtime for DataFusion's queries.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The blocking pool does short file reads (DataFusion's local object store, uploads):
        // one thread per core keeps up, where the default of up to 512 threads gave each its
        // own malloc arena (an ingest followed by 72 rollup hours peaked at 328 MB, now 257).
        .max_blocking_threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
        )
        .build()
}
