use super::Output;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

const TABLES: &str = "\
Tables:
  flows             the dataset: one row per record (`vpcflow schema` lists the columns), with
                    the partitions `date` and `hour`
  flows_enriched    flows plus `direction` and the logging ENI's local_az_id,
                    local_subnet_id, local_vpc_id, local_interface_type, local_instance_id
  flows_unique      flows_enriched with records logged by several flow logs counted once
  subnets           the inventory's subnets (empty without --inventory)
  enis              the inventory's network interfaces (empty without --inventory)
  eni_ips           every address of each ENI, with its kind: private, ipv6, public (empty
                    without --inventory)
  eni_prefixes      the prefix-delegated ranges of each ENI (empty without --inventory)
  vpc_cidrs         the VPCs' IPv4 and IPv6 CIDRs (describe-vpcs.json; empty without it)
  prices            the price table the cost reports use
  rollup_<report>   the hourly rollups the dataset keeps (rollup_interface_traffic,
                    rollup_rejected_flows, rollup_cross_az_cost, ...): hour_start, then the
                    report's columns; kept by `vpcflow ingest --rollup REPORT` or `rollups = [...]`
                    in a job config
Functions: is_private_ip(text), ipv4_to_int(text), and the inventory lookups scoped by the
  record's VPC: eni_of(vpc, ip), eni_type_of(vpc, ip), az_of(vpc, ip), az_source_of(vpc, ip),
  addr_class(vpc, ip) (own_vpc, other_vpc, org_public, private, internet), is_reserved_ip(vpc, ip).

Examples:
  vpcflow query --data out/sample-flows \"SELECT action, count(*) FROM flows GROUP BY 1\"
  vpcflow query --data out/sample-flows --file report.sql --output csv";

/// Run SQL over the dataset.
#[derive(Debug, clap::Args)]
#[command(after_help = TABLES)]
pub struct Args {
    /// The dataset: a directory or s3://BUCKET/PREFIX (the `--out` of `vpcflow ingest`).
    #[arg(long, value_name = "DIR|S3_URI")]
    data: PathBuf,
    /// Directory with describe-subnets.json and describe-network-interfaces.json (and
    /// describe-vpcs.json, describe-addresses.json where there): fills the inventory tables.
    #[arg(long, value_name = "DIR")]
    inventory: Option<PathBuf>,
    /// How to print the result (csv and json: every row and column; map and list columns
    /// as JSON text in csv).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Read the SQL from FILE (`-` for standard input) instead of the command line.
    #[arg(long, value_name = "FILE", conflicts_with = "sql")]
    file: Option<PathBuf>,
    /// Print at most N rows (default for --output table: 50, and a line says how many were
    /// left out).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// --output table: show every column, however wide (by default, the columns that fit the
    /// terminal, and a line naming the others).
    #[arg(long)]
    wide: bool,
    /// The SQL (quote it). Several statements separated by `;` run in order and the last
    /// one's result is printed (e.g. `CREATE TABLE t AS SELECT ...; SELECT ... FROM t`).
    #[arg(required_unless_present = "file")]
    sql: Option<String>,
    #[command(flatten)]
    aws: super::AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sql = match (&args.file, &args.sql) {
        (Some(f), _) if f.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading SQL from standard input")?;
            s
        }
        (Some(f), _) => std::fs::read_to_string(f)
            .with_context(|| format!("--file {}: cannot read", f.display()))?,
        (None, Some(s)) => s.clone(),
        (None, None) => anyhow::bail!("give the SQL, or --file FILE"),
    };
    let store = super::DataStore::new(&args.data, &args.aws)?;
    let opts = vpcflow_report::SessionOptions {
        inventory: args.inventory.clone(),
        s3: store.s3.clone(),
        ..Default::default()
    };
    let rt = super::runtime()?;
    let mut out = std::io::stdout().lock();
    let result = rt.block_on(async {
        let (ctx, _) = vpcflow_report::open_with(&args.data, &opts).await?;
        let tables = || {
            ctx.catalog("datafusion")
                .and_then(|c| c.schema("public"))
                .map(|s| s.table_names())
                .unwrap_or_default()
        };
        match args.output {
            // A table counts the rows it leaves out: it gets them all and cuts them itself.
            Output::Table => {
                let (schema, batches) = match vpcflow_report::sql(&ctx, &sql).await {
                    Ok(r) => r,
                    Err(e) => return Ok(Err((e, tables()))),
                };
                let opts = super::terminal_table(None, args.wide, args.limit);
                vpcflow_report::table::write_table(&mut out, &schema, &batches, &opts)?;
            }
            // CSV and JSON lines are written as the result streams in.
            other => {
                let stream = match vpcflow_report::sql_stream(&ctx, &sql).await {
                    Ok(s) => s,
                    Err(e) => return Ok(Err((e, tables()))),
                };
                vpcflow_report::write_stream(&mut out, stream, other.into(), args.limit).await?;
            }
        }
        Ok::<_, vpcflow_report::QueryError>(Ok(()))
    });
    match result {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err((e, tables))) => Err(match missing_table_hint(&e.to_string(), &tables) {
            Some(h) => anyhow::anyhow!("query failed: {e}\nhint: {h}"),
            None => anyhow::Error::from(e).context("query failed"),
        }),
        Err(e) => Err(anyhow::Error::from(e).context("query failed")),
    }
}

/// For a table that is not there: how a rollup table comes to be, or the name meant.
fn missing_table_hint(error: &str, tables: &[String]) -> Option<String> {
    // DataFusion: "table 'datafusion.public.rollup_x' not found".
    let rest = error.split("table '").nth(1)?;
    let (name, _) = rest.split_once("' not found")?;
    let name = name.rsplit('.').next().unwrap_or(name);
    let mut rollups: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with("rollup_"))
        .collect();
    rollups.sort();
    if let Some(report) = name.strip_prefix("rollup_") {
        let report = report.replace('_', "-");
        let known = vpcflow_report::reports::find(&report).is_ok();
        let has = if rollups.is_empty() {
            "this dataset keeps no rollups yet".to_string()
        } else {
            format!("this dataset has {}", rollups.join(", "))
        };
        return Some(if known {
            format!(
                "table {name} does not exist: {has}; keep it with `vpcflow ingest ... --rollup {report}` \
                 (or rollups = [\"{report}\"] in a job config): the next run builds it for every hour"
            )
        } else {
            format!(
                "table {name} does not exist: {has}; a rollup is a report kept per hour \
                 (`vpcflow report --list`), kept with `--rollup REPORT`"
            )
        });
    }
    let tables: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "flows_all")
        .collect();
    super::did_you_mean(name, tables.iter().copied())
        .map(|s| format!("table {name} does not exist; did you mean {s}?"))
}
