use anyhow::Context;
use clap::ValueEnum;
use std::io::Write;
use std::process::ExitCode;
use vpcflow_report::ddl::{self, Engine};

/// Print CREATE TABLE statements for the dataset and its rollups on another engine.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Athena tables use partition projection: no crawler, no MSCK REPAIR. \
Spark and Trino statements are followed by the call that finds the partitions."
)]
pub struct Args {
    /// The engine: athena, spark or trino.
    #[arg(long, value_enum)]
    engine: EngineArg,
    /// The dataset's root as the engine reads it (s3://BUCKET/PREFIX; Spark also takes s3a://
    /// or a path).
    #[arg(long, value_name = "URI")]
    location: String,
    /// The database (Athena, Spark) or schema (Trino) to create the tables in.
    #[arg(long, value_name = "NAME", default_value = "vpcflow")]
    database: String,
    /// Make the rollup table of REPORT only (repeatable): the rollups the dataset keeps (those
    /// its ingest or job was given). Without it, a table for every report's rollup; Spark's
    /// and Trino's partition discovery fails on one whose folder does not exist.
    #[arg(long, value_name = "REPORT")]
    rollup: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EngineArg {
    Athena,
    Spark,
    Trino,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engine = match args.engine {
        EngineArg::Athena => Engine::Athena,
        EngineArg::Spark => Engine::Spark,
        EngineArg::Trino => Engine::Trino,
    };
    anyhow::ensure!(
        !args.database.is_empty()
            && args
                .database
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "--database {:?}: letters, digits and _ only",
        args.database
    );
    let rt = super::runtime()?;
    let text = rt
        .block_on(ddl::ddl(
            engine,
            &args.location,
            &args.database,
            &args.rollup,
        ))
        .context("ddl")?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
