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
    // CSV and JSON lines are written as the result streams in: a report of a million rows is
    // never held whole.
    let streamed = matches!(args.output, Output::Csv | Output::Json);
    let (result, prices) = rt
        .block_on(async {
            let (ctx, prices) = vpcflow_report::open_with(&data, &opts).await?;
            let notes = if without_inventory {
                vpcflow_report::missing_inventory_notes(&ctx, report).await?
            } else {
                Vec::new()
            };
            print_notes(&notes);
            if streamed {
                let stream = vpcflow_report::sql_stream(&ctx, report.sql).await?;
                vpcflow_report::write_stream(&mut out, stream, args.output.into(), limit).await?;
                return Ok((None, prices));
            }
            let result = vpcflow_report::run_report(&ctx, report, limit).await?;
            Ok::<_, vpcflow_report::QueryError>((Some(result), prices))
        })
        .with_context(|| format!("report {name}"))?;
    let Some((schema, batches)) = result else {
        if report.shows_cost {
            eprintln!("{}", prices.describe());
        }
        return Ok(ExitCode::SUCCESS);
    };
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
    let columns = vpcflow_report::table::report_columns(report.name)
        .map(|c| c.iter().map(|s| s.to_string()).collect());
    let opts = super::terminal_table(columns, args.wide, args.limit);
    vpcflow_report::table::write_table(&mut out, &schema, &batches, &opts)?;
    if report.shows_cost {
        writeln!(out, "{}", prices.describe())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a report leaves out without an inventory, on standard error.
fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("note: without --inventory, {note}");
    }
    if !notes.is_empty() {
        eprintln!(
            "note: give --inventory DIR for a complete answer (`vpcflow inventory fetch --out DIR` writes one)"
        );
    }
}
