//! One module per subcommand; clap structs mirror the flags, each `run` validates them first.

mod dashboard;
mod ddl;
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
#[command(
    name = "vpcflow",
    version = env!("VPCFLOW_VERSION"),
    about,
    propagate_version = true
)]
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
    /// Run SQL over the dataset (`flows`, `flows_enriched`, the inventory, prices and rollup
    /// tables; `vpcflow query --help` lists them).
    Query(query::Args),
    /// Run a named report (per-interface traffic, rejected flows, cross-AZ cost, ...).
    Report(report::Args),
    /// Write one self-contained HTML page of charts (traffic, costs, rejected flows, log
    /// health) over the dataset.
    Dashboard(dashboard::Args),
    /// Print the canonical schema of the dataset.
    Schema(schema::Args),
    /// Print CREATE TABLE statements for the dataset and its rollups (Athena, Spark, Trino).
    Ddl(ddl::Args),
    /// Write synthetic flow logs with known totals (for tests, benchmarks and demos).
    Generate(generate::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a directory.
    Man(ManArgs),
}

/// Print a shell completion script.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install, for example:
  bash: vpcflow completions bash > ~/.local/share/bash-completion/completions/vpcflow
  zsh:  vpcflow completions zsh > ~/.zfunc/_vpcflow   (with fpath+=(~/.zfunc) before compinit)
  fish: vpcflow completions fish > ~/.config/fish/completions/vpcflow.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print the man page (roff), or write one page per command into a directory.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Read it with `vpcflow man | man -l -`; install the pages with
  vpcflow man --out ~/.local/share/man/man1")]
pub struct ManArgs {
    /// Write vpcflow.1 and vpcflow-COMMAND.1 for each command into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut cmd,
        "vpcflow",
        &mut std::io::stdout().lock(),
    );
    Ok(ExitCode::SUCCESS)
}

fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let Some(dir) = args.out else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("--out {}", dir.display()))?;
    let mut written = Vec::new();
    let write = |name: String, cmd: clap::Command, written: &mut Vec<String>| {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).title(&name).render(&mut page)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| path.display().to_string())?;
        written.push(path.display().to_string());
        anyhow::Ok(())
    };
    // Building names each subcommand `vpcflow-NAME` (its display name), as its page is.
    cmd.build();
    for sub in cmd.get_subcommands() {
        let name = sub
            .get_display_name()
            .map_or_else(|| format!("vpcflow-{}", sub.get_name()), str::to_string);
        write(name, sub.clone(), &mut written)?;
    }
    write("vpcflow".into(), cmd, &mut written)?;
    for w in written {
        println!("{w}");
    }
    Ok(ExitCode::SUCCESS)
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
    /// A self-contained HTML page: a chart (for reports), a sortable table, CSV and SQL.
    Html,
}

impl From<Output> for vpcflow_report::OutputFormat {
    fn from(o: Output) -> Self {
        match o {
            Output::Table => Self::Table,
            Output::Csv => Self::Csv,
            Output::Json => Self::Json,
            Output::Html => Self::Html,
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
    pub fn load(&self) -> anyhow::Result<vpcflow_aws::AwsContext> {
        Ok(vpcflow_aws::AwsContext::load(&self.options())?)
    }

    /// The flags as the library takes them.
    pub fn options(&self) -> vpcflow_aws::AwsOptions {
        vpcflow_aws::AwsOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// Where `--data` of `query` and `report` is read from.
pub struct DataStore {
    /// The bucket's store, for `s3://BUCKET/PREFIX`.
    pub s3: Option<std::sync::Arc<dyn vpcflow_report::ObjectStore>>,
    /// The SDK configuration the store's credentials come from: kept for as long as the store.
    _aws: Option<vpcflow_aws::AwsContext>,
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
        let store = vpcflow_dataset::read::object_store(&ctx, &bucket)?;
        Ok(Self {
            s3: Some(store),
            _aws: Some(ctx),
        })
    }
}

/// `--from` and `--to` as Unix seconds: RFC 3339 times or dates (`--to` a date includes that
/// whole day); `--from` must come first.
pub fn time_range(
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    use anyhow::Context;
    use vpcflow_report::reports::parse_time;
    let from = from
        .map(|t| parse_time(t, false))
        .transpose()
        .context("--from")?;
    let to = to
        .map(|t| parse_time(t, true))
        .transpose()
        .context("--to")?;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f < t, "--from must be before --to");
    }
    Ok((from, to))
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
        Command::Dashboard(a) => dashboard::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Ddl(a) => ddl::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(a),
    }
}

pub use vpcflow_job::describe;

/// The width of the terminal the output goes to: `COLUMNS` when set, else the width of
/// standard output when it is a terminal; `None` (no limit) for a pipe or a file.
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
}

/// A size: bytes (`1048576`), or a number with a unit: `kB`, `MB`, `GB`, `TB` (powers of
/// 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); `K`, `M`, `G`, `T` alone are powers
/// of 1024. Case and a space before the unit do not matter; decimals are allowed (`1.5GiB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (give bytes, or kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let bad = || format!("{text:?} is not a size (e.g. 1GB, 512MiB or 1048576)");
    if num.is_empty() {
        return Err(bad());
    }
    let bytes = if num.contains('.') {
        let v: f64 = num.parse().map_err(|_| bad())?;
        let b = v * factor as f64;
        if !b.is_finite() || b >= u64::MAX as f64 {
            return Err(bad());
        }
        b.round() as u64
    } else {
        let v: u64 = num.parse().map_err(|_| bad())?;
        v.checked_mul(factor).ok_or_else(bad)?
    };
    Ok(bytes)
}

/// A size for people: `1 GiB`, `512 MiB`, `1500 B`; exact, so that it reads back the same.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// How `--output table` fits a result to the terminal: `columns` first (a report's default
/// set), every column with `wide`, at most `limit` rows (default
/// [`vpcflow_report::table::DEFAULT_TABLE_ROWS`]), with a note on how to see more.
pub fn terminal_table(
    columns: Option<Vec<String>>,
    wide: bool,
    limit: Option<usize>,
) -> vpcflow_report::table::TableOptions {
    vpcflow_report::table::TableOptions {
        columns,
        wide,
        width: terminal_width(),
        limit: Some(limit.unwrap_or(vpcflow_report::table::DEFAULT_TABLE_ROWS)),
        more_rows_hint: Some("--limit N shows more, --output csv every row".into()),
    }
}

pub use vpcflow_report::reports::did_you_mean;

/// A report by name; a misspelled name gets a suggestion.
pub fn find_report(name: &str) -> anyhow::Result<&'static vpcflow_report::reports::Report> {
    Ok(vpcflow_report::reports::find(name)?)
}

pub use vpcflow_report::runtime;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1 gib"), Ok(1 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("GB").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999TB").is_err());
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1_000_000_000), "1000000000");
        assert_eq!(parse_size(&format_size(3 << 20)), Ok(3 << 20));
    }
}
