//! One module per subcommand; clap structs mirror the flags, each `run` validates them first.

mod generate;
mod ingest;
mod inventory;
mod job;
mod query;
mod report;
mod run;
mod schema;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// AWS VPC Flow Logs to a partitioned Parquet dataset, and SQL over it.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

/// Logging: on stderr, through `tracing`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// Log level: error, warn, info, debug or trace (default: warn, and info for `run`;
    /// VPCFLOW_LOG takes tracing's filter syntax).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
}

/// Sends `tracing` events to stderr, as text or JSON lines.
pub fn init_logging(level: Option<&str>, format: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("VPCFLOW_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::new(f),
        _ => EnvFilter::new(level.unwrap_or("warn")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = if format == Some("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read flow-log files (plain or gzip; directories walked recursively) into the dataset.
    Ingest(ingest::Args),
    /// Run an ingest job described in a TOML file (for schedulers: incremental, one JSON
    /// summary line, rollups).
    Run(run::Args),
    /// Fetch the subnet and ENI inventory through the EC2 API.
    Inventory(inventory::Args),
    /// Run SQL over the dataset (the table `flows`).
    Query(query::Args),
    /// Run a named report (per-interface traffic, rejected flows, cross-AZ cost, ...).
    Report(report::Args),
    /// Print the canonical schema of the dataset.
    Schema(schema::Args),
    /// Write synthetic flow logs with known totals (for tests, benchmarks and demos).
    Generate(generate::Args),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Output {
    /// Aligned text table.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
}

impl From<Output> for vpcflow_report::OutputFormat {
    fn from(o: Output) -> Self {
        match o {
            Output::Table => Self::Table,
            Output::Csv => Self::Csv,
            Output::Json => Self::Json,
        }
    }
}

/// Where and as whom to reach AWS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region (default: the standard chain, e.g. AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named AWS profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Endpoint of an AWS-compatible service (default: AWS_ENDPOINT_URL, else AWS); S3 then
    /// uses path-style addressing.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// Loads the SDK configuration these flags describe.
    pub fn load(&self) -> anyhow::Result<vpcflow_source::aws::AwsContext> {
        Ok(vpcflow_source::aws::AwsContext::load(
            &vpcflow_source::aws::AwsOptions {
                region: self.region.clone(),
                profile: self.profile.clone(),
                endpoint_url: self.endpoint_url.clone(),
            },
        )?)
    }
}

/// Where `--data` of `query` and `report` is read from.
pub struct DataStore {
    /// The bucket's store, for `s3://BUCKET/PREFIX`.
    pub s3: Option<std::sync::Arc<dyn vpcflow_report::ObjectStore>>,
    /// The SDK configuration the store's credentials come from: kept for as long as the store.
    _aws: Option<vpcflow_source::aws::AwsContext>,
}

impl DataStore {
    /// A local directory needs nothing; `s3://BUCKET/PREFIX` gets its bucket's store, reached
    /// as `aws` says.
    pub fn new(data: &std::path::Path, aws: &AwsArgs) -> anyhow::Result<Self> {
        let Some(uri) = data.to_str().filter(|d| d.starts_with("s3://")) else {
            return Ok(Self {
                s3: None,
                _aws: None,
            });
        };
        let (bucket, _) = vpcflow_report::remote::parse_uri(uri)
            .ok_or_else(|| anyhow::anyhow!("--data {uri}: expected s3://BUCKET[/PREFIX]"))?;
        let ctx = aws.load()?;
        let store = vpcflow_source::s3_read::object_store(&ctx, &bucket)?;
        Ok(Self {
            s3: Some(store),
            _aws: Some(ctx),
        })
    }
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(f) = cli.log.log_format.as_deref() {
        anyhow::ensure!(
            f == "text" || f == "json",
            "--log-format {f:?}: expected text or json"
        );
    }
    if !matches!(cli.command, Command::Run(_)) {
        init_logging(cli.log.log_level.as_deref(), cli.log.log_format.as_deref());
    }
    match cli.command {
        Command::Run(a) => run::run(a, &cli.log),
        Command::Ingest(a) => ingest::run(a),
        Command::Inventory(a) => inventory::run(a),
        Command::Query(a) => query::run(a),
        Command::Report(a) => report::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

/// An error and its causes, each cause once: error types that already name their cause in
/// their message are not followed by it again.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if text.is_empty() {
            text = msg;
        } else if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
    }
    text
}

/// A tokio runtime for the commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The blocking pool does short file reads (DataFusion's local object store, uploads):
        // one thread per core keeps up, where the default of up to 512 threads gave each its
        // own malloc arena (an ingest followed by 72 rollup hours peaked at 328 MB, now 257).
        .max_blocking_threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
        )
        .build()?)
}
