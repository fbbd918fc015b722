//! One module per subcommand; clap structs mirror the flags, each `run` validates them first.

mod generate;
mod ingest;
mod inventory;
mod query;
mod report;
mod schema;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// AWS VPC Flow Logs to a partitioned Parquet dataset, and SQL over it.
#[derive(Debug, Parser)]
#[command(name = "vpcflow", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read flow-log files (plain or gzip; directories walked recursively) into the dataset.
    Ingest(ingest::Args),
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
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// AWS region (default: the standard chain, e.g. AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Named AWS profile.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Endpoint of an AWS-compatible service (default: AWS_ENDPOINT_URL, else AWS); S3 then
    /// uses path-style addressing.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
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

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(a) => ingest::run(a),
        Command::Inventory(a) => inventory::run(a),
        Command::Query(a) => query::run(a),
        Command::Report(a) => report::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

/// A tokio runtime for the commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
