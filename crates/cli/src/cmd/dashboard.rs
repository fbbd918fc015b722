use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write one self-contained HTML page of charts over the dataset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset: a directory or s3://BUCKET/PREFIX (the `--out` of `vpcflow ingest`).
    #[arg(long, value_name = "DIR|s3://...")]
    data: PathBuf,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    out: PathBuf,
    /// Only records starting at or after TIME (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only records starting before TIME (RFC 3339, or a date: the whole day is included).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Directory with describe-subnets.json and describe-network-interfaces.json.
    #[arg(long, value_name = "DIR")]
    inventory: Option<PathBuf>,
    /// TOML price table laid over the built-in one (see queries/prices.toml for the keys).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// The page's title.
    #[arg(long, value_name = "T", default_value = "VPC flow logs")]
    title: String,
    #[command(flatten)]
    aws: super::AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (from, to) = super::time_range(args.from.as_deref(), args.to.as_deref())?;
    let store = super::DataStore::new(&args.data, &args.aws)?;
    let opts = vpcflow_report::SessionOptions {
        inventory: args.inventory,
        prices: args.prices,
        from,
        to,
        s3: store.s3.clone(),
    };
    let dash = vpcflow_report::html::DashboardOptions { title: args.title };
    let rt = super::runtime()?;
    let page = rt
        .block_on(vpcflow_report::html::dashboard(&args.data, &opts, &dash))
        .context("dashboard")?;
    let tmp = args.out.with_extension("html.tmp");
    std::fs::write(&tmp, page.as_bytes()).with_context(|| format!("{}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out).with_context(|| format!("{}", args.out.display()))?;
    Ok(ExitCode::SUCCESS)
}
