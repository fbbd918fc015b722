//! `CREATE TABLE` statements for the dataset and its rollups on other engines: Athena (with
//! partition projection, so no crawler or `MSCK REPAIR` is needed), Spark and Trino. The
//! column types are those of the Parquet files: the flows' canonical schema, and each rollup's
//! `hour_start` followed by its report's columns.

use crate::QueryError;
use crate::reports::REPORTS;
use arrow::datatypes::{DataType, Field, SchemaRef};
use std::fmt::Write;

/// An engine to write DDL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Amazon Athena (Hive DDL, partition projection).
    Athena,
    /// Apache Spark SQL (data source tables).
    Spark,
    /// Trino with the Hive connector.
    Trino,
}

impl Engine {
    fn ty(self, t: &DataType) -> Result<String, QueryError> {
        let hive = self != Engine::Trino;
        Ok(match t {
            DataType::Boolean => "boolean".into(),
            DataType::Int8 | DataType::Int16 | DataType::Int32 => {
                if hive { "int" } else { "integer" }.into()
            }
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
            DataType::Float32 | DataType::Float64 => "double".into(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                if hive { "string" } else { "varchar" }.into()
            }
            DataType::Timestamp(..) => if hive { "timestamp" } else { "timestamp(3)" }.into(),
            DataType::Map(entries, _) => {
                let (k, v) = match entries.data_type() {
                    DataType::Struct(f) if f.len() == 2 => (f[0].data_type(), f[1].data_type()),
                    other => return Err(unsupported(other)),
                };
                if hive {
                    format!("map<{},{}>", self.ty(k)?, self.ty(v)?)
                } else {
                    format!("map({}, {})", self.ty(k)?, self.ty(v)?)
                }
            }
            DataType::List(f) | DataType::LargeList(f) => {
                if hive {
                    format!("array<{}>", self.ty(f.data_type())?)
                } else {
                    format!("array({})", self.ty(f.data_type())?)
                }
            }
            other => return Err(unsupported(other)),
        })
    }

    fn quote(self, name: &str) -> String {
        match self {
            Engine::Trino => format!("\"{name}\""),
            _ => format!("`{name}`"),
        }
    }
}

fn unsupported(t: &DataType) -> QueryError {
    QueryError::Invalid(format!("no DDL type for the Arrow type {t}"))
}

/// One table: its name under the dataset's root, its columns and its partition columns.
struct Table<'a> {
    name: String,
    dir: String,
    columns: Vec<&'a Field>,
    partitions: &'a [&'a str],
}

/// The statements that make `database` with the flows table and one table per rollup, over
/// the dataset at `location` (its root: `s3://BUCKET/PREFIX`). `rollups` names the reports
/// whose rollup tables to make (those the dataset keeps); empty, every report's. Spark's and
/// Trino's partition discovery fails on a table whose folder does not exist.
pub async fn ddl(
    engine: Engine,
    location: &str,
    database: &str,
    rollups: &[String],
) -> Result<String, QueryError> {
    for r in rollups {
        if !REPORTS.iter().any(|k| k.name == r) {
            return Err(QueryError::Invalid(format!(
                "unknown report {r:?} for --rollup; the reports are: {}",
                REPORTS
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if engine == Engine::Athena && !location.starts_with("s3://") {
        return Err(QueryError::Invalid(format!(
            "{location}: Athena reads tables in S3; give --location s3://BUCKET/PREFIX"
        )));
    }
    let root = location.trim_end_matches('/');
    let flows = vpcflow_arrow::flow_schema();
    let rollups = rollup_schemas(rollups).await?;
    let mut tables = vec![Table {
        name: "flows".into(),
        dir: String::new(),
        columns: flows.fields().iter().map(|f| f.as_ref()).collect(),
        partitions: &["date", "hour"],
    }];
    for (report, schema) in &rollups {
        tables.push(Table {
            name: format!("rollup_{}", report.replace('-', "_")),
            dir: format!("{}/{report}/", vpcflow_dataset::layout::ROLLUP_DIR),
            columns: schema.fields().iter().map(|f| f.as_ref()).collect(),
            partitions: &["date"],
        });
    }
    let mut out = String::new();
    let db = engine.quote(database);
    match engine {
        Engine::Trino => {
            let _ = writeln!(
                out,
                "CREATE SCHEMA IF NOT EXISTS hive.{db} WITH (location = '{root}/');\n"
            );
        }
        _ => {
            let _ = writeln!(out, "CREATE DATABASE IF NOT EXISTS {db};\n");
        }
    }
    for t in &tables {
        table_ddl(&mut out, engine, root, database, t)?;
    }
    Ok(out)
}

fn table_ddl(
    out: &mut String,
    engine: Engine,
    root: &str,
    database: &str,
    t: &Table<'_>,
) -> Result<(), QueryError> {
    let db = engine.quote(database);
    let name = format!("{db}.{}", engine.quote(&t.name));
    let location = format!("{root}/{}", t.dir);
    let mut cols = Vec::new();
    for f in &t.columns {
        cols.push(format!(
            "  {} {}",
            engine.quote(f.name()),
            engine.ty(f.data_type())?
        ));
    }
    let partition_type = match engine {
        Engine::Trino => "varchar",
        _ => "string",
    };
    match engine {
        Engine::Athena => {
            let parts: Vec<String> = t
                .partitions
                .iter()
                .map(|p| format!("{} {partition_type}", engine.quote(p)))
                .collect();
            let mut props = vec![
                "'projection.enabled' = 'true'".to_string(),
                "'projection.date.type' = 'date'".into(),
                "'projection.date.format' = 'yyyy-MM-dd'".into(),
                "'projection.date.range' = '2020-01-01,NOW'".into(),
                "'projection.date.interval' = '1'".into(),
                "'projection.date.interval.unit' = 'DAYS'".into(),
            ];
            let template = if t.partitions.contains(&"hour") {
                props.extend([
                    "'projection.hour.type' = 'integer'".to_string(),
                    "'projection.hour.range' = '0,23'".into(),
                    "'projection.hour.digits' = '2'".into(),
                ]);
                format!("{location}date=${{date}}/hour=${{hour}}/")
            } else {
                format!("{location}date=${{date}}/")
            };
            props.push(format!("'storage.location.template' = '{template}'"));
            let _ = writeln!(
                out,
                "CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{}\n)\nPARTITIONED BY ({})\nSTORED AS PARQUET\nLOCATION '{location}'\nTBLPROPERTIES (\n  {}\n);\n",
                cols.join(",\n"),
                parts.join(", "),
                props.join(",\n  ")
            );
        }
        Engine::Spark => {
            for p in t.partitions {
                cols.push(format!("  {} {partition_type}", engine.quote(p)));
            }
            let parts: Vec<String> = t.partitions.iter().map(|p| engine.quote(p)).collect();
            let _ = writeln!(
                out,
                "CREATE TABLE IF NOT EXISTS {name} (\n{}\n)\nUSING PARQUET\nPARTITIONED BY ({})\nLOCATION '{location}';\nMSCK REPAIR TABLE {name};\n",
                cols.join(",\n"),
                parts.join(", ")
            );
        }
        Engine::Trino => {
            for p in t.partitions {
                cols.push(format!("  {} {partition_type}", engine.quote(p)));
            }
            let parts: Vec<String> = t.partitions.iter().map(|p| format!("'{p}'")).collect();
            let _ = writeln!(
                out,
                "CREATE TABLE IF NOT EXISTS hive.{name} (\n{}\n)\nWITH (\n  format = 'PARQUET',\n  external_location = '{location}',\n  partitioned_by = ARRAY[{}]\n);\nCALL hive.system.sync_partition_metadata('{database}', '{}', 'FULL');\n",
                cols.join(",\n"),
                parts.join(", "),
                t.name
            );
        }
    }
    Ok(())
}

/// The rollup schema (`hour_start`, then the report's columns) of each report in `only`, or of
/// every report when `only` is empty.
async fn rollup_schemas(only: &[String]) -> Result<Vec<(&'static str, SchemaRef)>, QueryError> {
    let mut out = Vec::new();
    for r in REPORTS {
        if !only.is_empty() && !only.iter().any(|o| o == r.name) {
            continue;
        }
        out.push((r.name, crate::rollup::columns(r).await?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn athena_ddl_projects_partitions_and_types_every_column() {
        let text = ddl(Engine::Athena, "s3://lake/flows/", "vpcflow", &[])
            .await
            .unwrap();
        assert!(
            text.starts_with("CREATE DATABASE IF NOT EXISTS `vpcflow`;"),
            "{text}"
        );
        assert!(
            text.contains(
                "CREATE EXTERNAL TABLE IF NOT EXISTS `vpcflow`.`flows` (\n  `version` int,"
            ),
            "{text}"
        );
        for col in [
            "`bytes` bigint",
            "`start` bigint",
            "`unknown_fields` map<string,string>",
            "`flow_log_id` string",
            "`source_line` bigint",
        ] {
            assert!(text.contains(col), "{col}: {text}");
        }
        assert!(
            text.contains("PARTITIONED BY (`date` string, `hour` string)"),
            "{text}"
        );
        assert!(
            text.contains(
                "'storage.location.template' = 's3://lake/flows/date=${date}/hour=${hour}/'"
            ),
            "{text}"
        );
        // One table per report's rollup, each with its hour as a timestamp.
        for r in REPORTS {
            let table = format!(
                "`vpcflow`.`rollup_{}` (\n  `hour_start` timestamp,",
                r.name.replace('-', "_")
            );
            assert!(text.contains(&table), "{table}: {text}");
        }
        assert!(
            text.contains("LOCATION 's3://lake/flows/_rollups/cross-az-cost/'"),
            "{text}"
        );
        assert!(text.contains("`hop_type` string"), "{text}");
        let e = ddl(Engine::Athena, "/data/lake", "vpcflow", &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Athena reads tables in S3"), "{e}");
    }

    #[tokio::test]
    async fn rollup_tables_can_be_limited_to_those_the_dataset_keeps() {
        let only = vec!["rejected-flows".to_string()];
        let spark = ddl(Engine::Spark, "file:///data/lake", "vpcflow", &only)
            .await
            .unwrap();
        assert_eq!(spark.matches("CREATE TABLE").count(), 2, "{spark}");
        assert!(
            spark.contains("LOCATION 'file:///data/lake/_rollups/rejected-flows/';"),
            "{spark}"
        );
        assert!(!spark.contains("rollup_interface_traffic"), "{spark}");
        let e = ddl(Engine::Spark, "/data", "vpcflow", &["nope".to_string()])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("unknown report \"nope\""), "{e}");
    }

    #[tokio::test]
    async fn spark_and_trino_ddl_list_the_partition_columns() {
        let spark = ddl(Engine::Spark, "s3a://lake/flows", "vpcflow", &[])
            .await
            .unwrap();
        assert!(spark.contains("  `date` string,\n  `hour` string\n)\nUSING PARQUET\nPARTITIONED BY (`date`, `hour`)\nLOCATION 's3a://lake/flows/';\nMSCK REPAIR TABLE `vpcflow`.`flows`;"), "{spark}");
        let trino = ddl(Engine::Trino, "s3://lake/flows", "vpcflow", &[])
            .await
            .unwrap();
        assert!(
            trino.contains("\"unknown_fields\" map(varchar, varchar)"),
            "{trino}"
        );
        assert!(
            trino.contains("partitioned_by = ARRAY['date', 'hour']"),
            "{trino}"
        );
        assert!(trino.contains("CALL hive.system.sync_partition_metadata('vpcflow', 'rollup_cross_az_cost', 'FULL');"), "{trino}");
    }
}
