use super::Output;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vpcflow_report::reports::REPORTS;

/// Run a named report over the dataset.
#[derive(Debug, clap::Args)]
#[command(after_help = report_list())]
pub struct Args {
    /// The report (see --list).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the reports and what each answers.
    #[arg(long)]
    list: bool,
    /// The dataset: a directory or s3://BUCKET/PREFIX (the `--out` of `vpcflow ingest`).
    #[arg(long, value_name = "DIR|S3_URI", required_unless_present = "list")]
    data: Option<PathBuf>,
    /// Only records starting at or after TIME (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only records starting before TIME (RFC 3339, or a date: the whole day is included).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Directory with describe-subnets.json and describe-network-interfaces.json (as
    /// `aws ec2 describe-subnets` / `describe-network-interfaces` print them).
    #[arg(long, value_name = "DIR")]
    inventory: Option<PathBuf>,
    /// TOML price table laid over the built-in one (see queries/prices.toml for the keys).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Print at most N rows (default for --output table: 50, and a line says how many were
    /// left out; csv and json print every row).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// --output table: show every column (by default a report shows its main columns, as
    /// many as fit the terminal's width, and names the others).
    #[arg(long)]
    wide: bool,
    #[command(flatten)]
    aws: super::AwsArgs,
}

fn report_list() -> String {
    let mut s = String::from("Reports:\n");
    for r in REPORTS {
        s.push_str(&format!("  {:<18} {}\n", r.name, r.about));
    }
    s
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.list {
        for r in REPORTS {
            writeln!(out, "{:<18} {}", r.name, r.about)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.name.as_deref().unwrap_or_default();
    let report = super::find_report(name)?;
    let data = args.data.context("--data is required")?;
    let (from, to) = super::time_range(args.from.as_deref(), args.to.as_deref())?;
    anyhow::ensure!(
        !report.needs_inventory || args.inventory.is_some(),
        "report {name} needs --inventory DIR (describe-network-interfaces.json lists the ENIs it checks)"
    );
    let store = super::DataStore::new(&data, &args.aws)?;
    let opts = vpcflow_report::SessionOptions {
        inventory: args.inventory,
        prices: args.prices,
        from,
        to,
        s3: store.s3.clone(),
    };
    let table = matches!(args.output, Output::Table);
    // A table counts the rows it leaves out: it gets them all and cuts them itself.
    let limit = if table { None } else { args.limit };
    let rt = super::runtime()?;
    let without_inventory = opts.inventory.is_none();
    let (schema, batches, prices, notes) = rt
        .block_on(async {
            let (ctx, prices) = vpcflow_report::open_with(&data, &opts).await?;
            let (schema, batches) = vpcflow_report::run_report(&ctx, report, limit).await?;
            let notes = if without_inventory {
                vpcflow_report::missing_inventory_notes(&ctx, report).await?
            } else {
                Vec::new()
            };
            Ok::<_, vpcflow_report::QueryError>((schema, batches, prices, notes))
        })
        .with_context(|| format!("report {name}"))?;
    for note in &notes {
        eprintln!("note: without --inventory, {note}");
    }
    if !notes.is_empty() {
        eprintln!(
            "note: give --inventory DIR for a complete answer (`vpcflow inventory fetch --out DIR` writes one)"
        );
    }
    if let Output::Html = args.output {
        let page = vpcflow_report::html::report_page(
            report,
            &schema,
            &batches,
            name,
            report.shows_cost.then(|| prices.describe()).as_deref(),
        )?;
        out.write_all(page.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if table {
        let columns = vpcflow_report::table::report_columns(report.name)
            .map(|c| c.iter().map(|s| s.to_string()).collect());
        let opts = super::terminal_table(columns, args.wide, args.limit);
        vpcflow_report::table::write_table(&mut out, &schema, &batches, &opts)?;
    } else {
        vpcflow_report::write_output(&mut out, &schema, &batches, args.output.into())?;
    }
    if report.shows_cost {
        match args.output {
            Output::Table => writeln!(out, "{}", prices.describe())?,
            _ => eprintln!("{}", prices.describe()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
