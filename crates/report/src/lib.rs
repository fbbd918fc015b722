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

pub mod html;
pub mod inventory;
pub mod prices;
pub mod reports;
pub mod rollup;
mod udf;

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
    let ctx = session(data)?;
    let ranged = opts.from.is_some() || opts.to.is_some();
    let all = if ranged { "flows_all" } else { "flows" };
    register_flows(&ctx, data, all)?;
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
    register_rollups(&ctx, data).await?;
    inventory::register(&ctx, inventory.as_ref())?;
    prices.register(&ctx)?;
    udf::register(&ctx);
    let enriched = if inventory.is_some() {
        reports::FLOWS_ENRICHED
    } else {
        reports::FLOWS_ENRICHED_BARE
    };
    ctx.sql(&format!("CREATE VIEW flows_enriched AS {enriched}"))
        .await?;
    let unique = match multi_logged_enis(&ctx, all).await? {
        multi if multi.is_empty() => "SELECT * FROM flows_enriched".to_string(),
        multi => {
            let list = multi
                .iter()
                .map(|id| format!("'{}'", id.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ");
            reports::FLOWS_UNIQUE.replace("{multi}", &list)
        }
    };
    ctx.sql(&format!("CREATE VIEW flows_unique AS {unique}"))
        .await?;
    Ok((ctx, prices))
}

/// ENIs logged by more than one flow log: only their records can be duplicates. `all` is the
/// table with the whole dataset: when it holds one flow log (its Parquet statistics answer
/// that without reading a row), there are none.
async fn multi_logged_enis(ctx: &SessionContext, all: &str) -> Result<Vec<String>, QueryError> {
    let (_, bounds) = sql(
        ctx,
        &format!("SELECT MIN(flow_log_id) <> MAX(flow_log_id) AS several FROM {all}"),
    )
    .await?;
    let several = bounds.first().and_then(|b| {
        b.column(0)
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .filter(|c| c.len() == 1 && arrow::array::Array::is_valid(*c, 0))
            .map(|c| c.value(0))
    });
    if several != Some(true) {
        return Ok(Vec::new());
    }
    let (_, batches) = sql(
        ctx,
        "SELECT interface_id FROM flows WHERE flow_log_id IS NOT NULL AND interface_id IS NOT NULL \
         GROUP BY interface_id HAVING COUNT(DISTINCT flow_log_id) > 1 ORDER BY interface_id",
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        let col = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        if let Some(ids) = col.as_any().downcast_ref::<arrow::array::StringArray>() {
            out.extend(ids.iter().flatten().map(str::to_string));
        }
    }
    Ok(out)
}

fn session(data: &Path) -> Result<SessionContext, QueryError> {
    if data.to_str().is_some_and(|d| d.starts_with("s3://")) {
        return Err(QueryError::Dataset {
            path: data.display().to_string(),
            message: "vpcflow query and report read a local dataset; query one in S3 with \
                      Athena or DuckDB, or copy it (aws s3 sync) and point --data at the copy"
                .into(),
        });
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
    let config = SessionConfig::new()
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .with_information_schema(true);
    Ok(SessionContext::new_with_config(config))
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
    let Ok(dirs) = std::fs::read_dir(data.join(rollup::ROLLUP_DIR)) else {
        return Ok(());
    };
    let mut names: Vec<String> = dirs
        .filter_map(|d| d.ok())
        .filter(|d| d.path().is_dir())
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let url = directory_url(&data.join(rollup::ROLLUP_DIR).join(&name))?;
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
    let mut statements = datafusion::sql::parser::DFParser::parse_sql(sql)?;
    let Some(last) = statements.pop_back() else {
        return Err(QueryError::Invalid("no SQL statement given".into()));
    };
    for statement in statements {
        let plan = ctx.state().statement_to_plan(statement).await?;
        ctx.execute_logical_plan(plan).await?.collect().await?;
    }
    let plan = ctx.state().statement_to_plan(last).await?;
    let df = ctx.execute_logical_plan(plan).await?;
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
            let table =
                arrow::util::pretty::pretty_format_batches_with_schema(schema.clone(), batches)?;
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
        OutputFormat::Html => {
            let page = html::table_page(schema, batches, "vpcflow", None)?;
            out.write_all(page.as_bytes())
                .map_err(arrow::error::ArrowError::from)?;
        }
    }
    Ok(())
}
