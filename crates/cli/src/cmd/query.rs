use super::Output;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run SQL over the dataset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset: a directory or s3://BUCKET/PREFIX (the `--out` of `vpcflow ingest`).
    #[arg(long, value_name = "DIR|S3_URI")]
    data: PathBuf,
    /// Directory with describe-subnets.json and describe-network-interfaces.json: adds the
    /// tables `subnets`, `enis` and `eni_ips`.
    #[arg(long, value_name = "DIR")]
    inventory: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// The SQL; the dataset is the table `flows`. Several statements separated by `;` run in
    /// order and the last one's result is printed (e.g. `CREATE TABLE t AS SELECT ...;
    /// SELECT ... FROM t`).
    sql: String,
    #[command(flatten)]
    aws: super::AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = super::DataStore::new(&args.data, &args.aws)?;
    let opts = vpcflow_report::SessionOptions {
        inventory: args.inventory.clone(),
        s3: store.s3.clone(),
        ..Default::default()
    };
    let rt = super::runtime()?;
    let (schema, batches) = rt
        .block_on(async {
            let (ctx, _) = vpcflow_report::open_with(&args.data, &opts).await?;
            vpcflow_report::sql(&ctx, &args.sql).await
        })
        .context("query failed")?;
    let mut out = std::io::stdout().lock();
    vpcflow_report::write_output(&mut out, &schema, &batches, args.output.into())?;
    Ok(ExitCode::SUCCESS)
}
