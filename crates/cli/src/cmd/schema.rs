use std::io::Write;
use std::process::ExitCode;
use vpcflow_format::FIELDS;

/// Print the canonical schema.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the schema as JSON (Arrow's schema JSON form) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let schema = vpcflow_arrow::flow_schema();
    let mut out = std::io::stdout().lock();
    if args.json {
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name(),
                    "type": f.data_type().to_string(),
                    "nullable": f.is_nullable(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&fields)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<28} {:<8} {:<8} field", "column", "type", "version")?;
    for f in schema.fields() {
        let def = FIELDS.iter().find(|d| d.column == f.name());
        let (version, name) = match def {
            Some(d) if d.version == 6 => ("tgw".to_string(), d.name),
            Some(d) => (d.version.to_string(), d.name),
            None => ("-".to_string(), "(vpcflow provenance)"),
        };
        let ty = match f.data_type() {
            arrow::datatypes::DataType::Map(..) => "Map<Utf8,Utf8>".to_string(),
            t => t.to_string(),
        };
        writeln!(out, "{:<28} {:<8} {:<8} {name}", f.name(), ty, version)?;
    }
    writeln!(
        out,
        "{:<28} {:<8} {:<8} (Hive partition: date of start, UTC)",
        "date", "Utf8", "-"
    )?;
    writeln!(
        out,
        "{:<28} {:<8} {:<8} (Hive partition: hour of start, UTC)",
        "hour", "Utf8", "-"
    )?;
    Ok(ExitCode::SUCCESS)
}
