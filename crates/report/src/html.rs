//! Self-contained HTML pages: `vpcflow dashboard` (every report as charts, over a time range)
//! and `--output html` (one result as a chart and a table).
//!
//! A page is one file: the styles, the script, the chart library ([Apache ECharts], vendored in
//! `assets/echarts/` with its licence) and the data (JSON) are all inline, and a Content
//! Security Policy forbids every request, so it opens from `file://` or static hosting alike.
//! Each panel carries its rows (columnar JSON), the chart to draw from them, and the SQL that
//! produced them; the script draws the chart, the sortable table under it, and the CSV link.
//!
//! [Apache ECharts]: https://echarts.apache.org/

use crate::reports::{self, Report};
use crate::{QueryError, SessionOptions};
use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const ECHARTS: &str = include_str!("../assets/echarts/echarts.min.js");
const PAGE_JS: &str = include_str!("html/page.js");
const PAGE_CSS: &str = include_str!("html/page.css");
const TRAFFIC_SQL: &str = include_str!("html/traffic.sql");

/// Most rows a dashboard panel's table carries (the CSV link gives those rows; `vpcflow report
/// NAME --output csv` gives all of them).
pub const PANEL_ROWS: usize = 1000;
/// ENIs drawn apart in the traffic chart; the rest are summed as `other`.
pub const TOP_ENIS: usize = 8;

/// What a dashboard shows.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// The page's title.
    pub title: String,
}

/// A result as columns of JSON values, ready for the page.
struct Frame {
    columns: Vec<(String, &'static str, Vec<Value>)>,
    total_rows: usize,
}

impl Frame {
    fn new(schema: &SchemaRef, batches: &[RecordBatch], cap: usize) -> Result<Self, QueryError> {
        let total_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut columns: Vec<(String, &'static str, Vec<Value>)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), kind(f.data_type()), Vec::new()))
            .collect();
        let mut left = cap;
        for b in batches {
            if left == 0 {
                break;
            }
            let b = b.slice(0, b.num_rows().min(left));
            left -= b.num_rows();
            for (i, col) in b.columns().iter().enumerate() {
                if let Some(c) = columns.get_mut(i) {
                    c.2.extend(values(col)?);
                }
            }
        }
        Ok(Self {
            columns,
            total_rows,
        })
    }

    fn to_json(&self) -> Value {
        let data: Vec<Value> = self
            .columns
            .iter()
            .map(|(_, kind, vals)| encode(kind, vals))
            .collect();
        json!({
            "columns": self.columns.iter().map(|(n, k, _)| json!({"name": n, "kind": k})).collect::<Vec<_>>(),
            "data": data,
            "rows": self.columns.first().map_or(0, |c| c.2.len()),
            "total_rows": self.total_rows,
        })
    }

    /// The values of column `name`, as numbers.
    fn numbers(&self, name: &str) -> Vec<f64> {
        self.columns
            .iter()
            .find(|c| c.0 == name)
            .map(|c| c.2.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }
}

/// A string column with few distinct values is sent as a dictionary and codes.
fn encode(kind: &str, vals: &[Value]) -> Value {
    if kind != "str" || vals.len() < 16 {
        return Value::Array(vals.to_vec());
    }
    let mut dict: Vec<Value> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut codes = Vec::with_capacity(vals.len());
    for v in vals {
        if v.is_null() {
            codes.push(Value::Null);
            continue;
        }
        let key = v.to_string();
        let code = *index.entry(key).or_insert_with(|| {
            dict.push(v.clone());
            dict.len() - 1
        });
        codes.push(json!(code));
    }
    if dict.len() * 2 > vals.len() {
        return Value::Array(vals.to_vec());
    }
    json!({"dict": dict, "codes": codes})
}

fn kind(t: &DataType) -> &'static str {
    match t {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => "time",
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => "int",
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "float",
        DataType::Boolean => "bool",
        _ => "str",
    }
}

/// A column's values as JSON: times as Unix seconds, numbers as numbers, the rest as text.
fn values(col: &ArrayRef) -> Result<Vec<Value>, QueryError> {
    let n = col.len();
    let out = match kind(col.data_type()) {
        "time" => {
            let secs = arrow::compute::cast(col, &DataType::Timestamp(TimeUnit::Second, None))?;
            let ints = arrow::compute::cast(&secs, &DataType::Int64)?;
            ints_json(&ints)
        }
        "int" => ints_json(&arrow::compute::cast(col, &DataType::Int64)?),
        "float" => {
            let f = arrow::compute::cast(col, &DataType::Float64)?;
            match f.as_any().downcast_ref::<Float64Array>() {
                Some(a) => (0..n)
                    .map(|i| {
                        if a.is_valid(i) && a.value(i).is_finite() {
                            json!(a.value(i))
                        } else {
                            Value::Null
                        }
                    })
                    .collect(),
                None => vec![Value::Null; n],
            }
        }
        "bool" => match col.as_any().downcast_ref::<BooleanArray>() {
            Some(a) => (0..n)
                .map(|i| {
                    if a.is_valid(i) {
                        json!(a.value(i))
                    } else {
                        Value::Null
                    }
                })
                .collect(),
            None => vec![Value::Null; n],
        },
        _ => {
            let fmt = arrow::util::display::ArrayFormatter::try_new(
                col.as_ref(),
                &arrow::util::display::FormatOptions::default(),
            )?;
            (0..n)
                .map(|i| {
                    if col.is_valid(i) {
                        json!(fmt.value(i).to_string())
                    } else {
                        Value::Null
                    }
                })
                .collect()
        }
    };
    Ok(out)
}

fn ints_json(col: &ArrayRef) -> Vec<Value> {
    match col.as_any().downcast_ref::<Int64Array>() {
        Some(a) => (0..a.len())
            .map(|i| {
                if a.is_valid(i) {
                    json!(a.value(i))
                } else {
                    Value::Null
                }
            })
            .collect(),
        None => vec![Value::Null; col.len()],
    }
}

/// One panel: a title, its rows, the chart drawn from them, and the SQL behind them.
fn panel(id: &str, title: &str, about: &str, frame: &Frame, chart: Value, sql: String) -> Value {
    json!({
        "id": id,
        "title": title,
        "about": about,
        "table": frame.to_json(),
        "chart": chart,
        "sql": sql,
    })
}

/// The table name a report's result is registered as in the dashboard's session.
fn result_table(report: &Report) -> String {
    format!("report_{}", report.name.replace('-', "_"))
}

/// Runs `report` and registers its result as `report_<name>`, for the panels' SQL to read.
async fn run_registered(
    ctx: &SessionContext,
    report: &Report,
) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let (schema, batches) = crate::run_report(ctx, report, None)
        .await
        .map_err(|e| QueryError::Invalid(format!("report {}: {e}", report.name)))?;
    let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
    ctx.register_table(result_table(report), Arc::new(table))?;
    Ok((schema, batches))
}

/// A panel over SQL that reads a report's result: the SQL shown is the report's, then this.
async fn derived(
    ctx: &SessionContext,
    report: &Report,
    sql: &str,
) -> Result<(Frame, String), QueryError> {
    derived_capped(ctx, report, sql, PANEL_ROWS).await
}

/// [`derived`], keeping up to `cap` rows.
async fn derived_capped(
    ctx: &SessionContext,
    report: &Report,
    sql: &str,
    cap: usize,
) -> Result<(Frame, String), QueryError> {
    let (schema, batches) = crate::sql(ctx, sql).await?;
    let frame = Frame::new(&schema, &batches, cap)?;
    let shown = format!(
        "-- queries/{name}.sql, its result registered as {table}:\n{sql_text}\n\n-- then, over {table}:\n{sql}",
        name = report.name,
        table = result_table(report),
        sql_text = report.sql.trim_end(),
    );
    Ok((frame, shown))
}

/// A single number from SQL (NULL as 0).
async fn scalar(ctx: &SessionContext, sql: &str) -> Result<f64, QueryError> {
    let (schema, batches) = crate::sql(ctx, sql).await?;
    let f = Frame::new(&schema, &batches, 1)?;
    Ok(f.columns
        .first()
        .and_then(|c| c.2.first())
        .and_then(Value::as_f64)
        .unwrap_or(0.0))
}

/// The page for one report's result (`vpcflow report NAME --output html`); `note` is shown under
/// the title (the prices a cost report used).
pub fn report_page(
    report: &Report,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    title: &str,
    note: Option<&str>,
) -> Result<String, QueryError> {
    let frame = Frame::new(schema, batches, usize::MAX)?;
    let p = panel(
        report.name,
        report.name,
        report.about,
        &frame,
        report_chart(report.name),
        format!("-- queries/{}.sql\n{}", report.name, report.sql),
    );
    Ok(page(
        &json!({"title": title, "headline": [], "panels": [p], "prices": note}),
    ))
}

/// The page for any result (`vpcflow query --output html`): the table, no chart.
pub fn table_page(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    title: &str,
    sql: Option<&str>,
) -> Result<String, QueryError> {
    let frame = Frame::new(schema, batches, usize::MAX)?;
    let p = panel(
        "result",
        title,
        "",
        &frame,
        Value::Null,
        sql.unwrap_or_default().to_string(),
    );
    Ok(page(
        &json!({"title": title, "headline": [], "panels": [p]}),
    ))
}

/// The chart `--output html` draws for a report (the page draws at most 30 bars).
fn report_chart(name: &str) -> Value {
    match name {
        "interface-traffic" => {
            json!({"type": "bar", "x": ["interface_id"], "y": ["bytes_in", "bytes_out"], "stack": true})
        }
        "rejected-flows" => {
            json!({"type": "bar", "x": ["src_ip", "dst_port"], "y": ["records"], "flag": "scan_suspect"})
        }
        "cross-az-cost" => {
            json!({"type": "heatmap", "x": "dst_az_id", "y": "src_az_id", "v": "bytes"})
        }
        "top-talkers" => json!({"type": "bar", "x": ["src_ip", "dst_ip"], "y": ["bytes"]}),
        "nat-gateway" => json!({"type": "bar", "x": ["client_ip"], "y": ["cost_usd"]}),
        "internet-egress" => {
            json!({"type": "bar", "x": ["interface_id"], "y": ["bytes", "aws_service_bytes"]})
        }
        "log-health" => {
            json!({"type": "heatmap", "x": ["date", "hour"], "y": "interface_id", "v": "coverage_ratio"})
        }
        _ => Value::Null,
    }
}

/// Bucket size (seconds) of the cross-AZ cost over time for a range of `span` seconds.
fn bucket_for(span: i64) -> i64 {
    if span <= 3 * 86400 {
        3600
    } else if span <= 62 * 86400 {
        86400
    } else {
        7 * 86400
    }
}

/// Builds the dashboard of the dataset at `data` over `opts`' range (the whole dataset when
/// none is given).
pub async fn dashboard(
    data: &Path,
    opts: &SessionOptions,
    dash: &DashboardOptions,
) -> Result<String, QueryError> {
    let (ctx, prices) = crate::open_with(data, opts).await?;
    let (schema, batches) = crate::sql(
        &ctx,
        "SELECT MIN(start) AS first_start, MAX(start) AS last_start FROM flows",
    )
    .await?;
    let bounds = Frame::new(&schema, &batches, 1)?;
    let first = bounds.numbers("first_start").first().map(|v| *v as i64);
    let last = bounds.numbers("last_start").first().map(|v| *v as i64);
    let from = opts.from.or(first.map(|f| f - f.rem_euclid(3600)));
    let to = opts
        .to
        .or(last.map(|l| l - l.rem_euclid(3600) + 3600))
        .or(from.map(|f| f + 3600));

    let r = |name: &str| reports::find(name);
    let traffic = r("interface-traffic")?;
    let rejected = r("rejected-flows")?;
    let cross = r("cross-az-cost")?;
    let talkers = r("top-talkers")?;
    let nat = r("nat-gateway")?;
    let egress = r("internet-egress")?;
    let health = r("log-health")?;
    for rep in [traffic, rejected, cross, talkers, nat, egress, health] {
        run_registered(&ctx, rep).await?;
    }

    let headline = vec![
        headline(
            &ctx,
            "bytes_in",
            "Bytes in",
            "bytes",
            "SUM(bytes_in) FROM interface-traffic",
        )
        .await?,
        headline(
            &ctx,
            "bytes_out",
            "Bytes out",
            "bytes",
            "SUM(bytes_out) FROM interface-traffic",
        )
        .await?,
        headline(
            &ctx,
            "cross_az_cost",
            "Cross-AZ cost",
            "usd",
            "SUM(cost_usd) FROM cross-az-cost",
        )
        .await?,
        headline(
            &ctx,
            "nat_cost",
            "NAT processing cost",
            "usd",
            "SUM(cost_usd) FROM nat-gateway",
        )
        .await?,
        headline(
            &ctx,
            "internet_cost",
            "Internet egress cost",
            "usd",
            "SUM(est_cost_usd) FROM internet-egress",
        )
        .await?,
        headline(
            &ctx,
            "rejected_records",
            "Rejected records",
            "int",
            "SUM(records) FROM rejected-flows",
        )
        .await?,
        headline(
            &ctx,
            "scan_suspects",
            "Scan suspects",
            "int",
            "COUNT(DISTINCT src_ip) FILTER (WHERE scan_suspect) FROM rejected-flows",
        )
        .await?,
        headline(
            &ctx,
            "log_coverage",
            "Log coverage",
            "ratio",
            "AVG(coverage_ratio) FROM log-health",
        )
        .await?,
    ];

    let mut panels = Vec::new();

    // Traffic over time.
    let sql = TRAFFIC_SQL.replace("{top}", &TOP_ENIS.to_string());
    let (schema, batches) = crate::sql(&ctx, &sql).await?;
    let frame = Frame::new(&schema, &batches, usize::MAX)?;
    panels.push(panel(
        "traffic",
        "Traffic over time",
        &format!(
            "Bytes per hour (in, out and of unknown direction), the top {TOP_ENIS} ENIs stacked and the rest as \"other\"."
        ),
        &frame,
        json!({"type": "time_stack", "x": "hour_start", "series": "interface_id", "v": "bytes"}),
        sql,
    ));

    // Cross-AZ: the matrix, then over time.
    let (schema, batches) =
        crate::sql(&ctx, &format!("SELECT * FROM {}", result_table(cross))).await?;
    let frame = Frame::new(&schema, &batches, PANEL_ROWS)?;
    panels.push(panel(
        "cross_az_matrix",
        "Cross-AZ cost by AZ pair",
        "Bytes that crossed availability zones, from the sender's AZ (rows) to the receiver's (columns); the tooltip and the table give the cost.",
        &frame,
        json!({"type": "heatmap", "x": "dst_az_id", "y": "src_az_id", "v": "bytes"}),
        format!("-- queries/cross-az-cost.sql\n{}", cross.sql),
    ));
    if let (Some(from), Some(to)) = (from, to) {
        panels.push(cross_az_over_time(data, opts, cross, from, to).await?);
    }

    // NAT gateways by client.
    let (frame, sql) = derived(
        &ctx,
        nat,
        "SELECT client_ip, MAX(client_interface_id) AS client_interface_id,\n       \
         SUM(bytes_processed) AS bytes_processed, SUM(cost_usd) AS cost_usd,\n       \
         string_agg(DISTINCT nat_interface_id, ',') AS nat_interface_ids\n\
         FROM report_nat_gateway\nGROUP BY client_ip\nORDER BY cost_usd DESC, client_ip",
    )
    .await?;
    panels.push(panel(
        "nat_clients",
        "NAT gateway cost by client",
        "Processing cost of the bytes each private client sent or received through NAT gateways.",
        &frame,
        json!({"type": "bar", "x": ["client_ip"], "y": ["cost_usd"]}),
        sql,
    ));

    // Internet egress by ENI.
    let (frame, sql) = derived(
        &ctx,
        egress,
        "SELECT interface_id, interface_type, bytes - aws_service_bytes AS internet_bytes,\n       \
         aws_service_bytes, est_cost_usd, aws_services\n\
         FROM report_internet_egress\nORDER BY bytes DESC, interface_id",
    )
    .await?;
    panels.push(panel(
        "internet_egress",
        "Internet egress by ENI",
        "Bytes each ENI sent to public addresses: to the internet (estimated cost) and to AWS services apart.",
        &frame,
        json!({"type": "bar", "x": ["interface_id"], "y": ["internet_bytes", "aws_service_bytes"], "stack": true}),
        sql,
    ));

    // Rejected flows.
    let (frame, sql) = derived(
        &ctx,
        rejected,
        "SELECT dst_port,\n       \
         CASE protocol WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' ELSE CAST(protocol AS VARCHAR) END AS protocol,\n       \
         SUM(records) AS records, SUM(packets) AS packets, SUM(bytes) AS bytes,\n       \
         COUNT(DISTINCT src_ip) AS sources\n\
         FROM report_rejected_flows\nGROUP BY dst_port, protocol\nORDER BY records DESC, dst_port, protocol",
    )
    .await?;
    panels.push(panel(
        "rejected_ports",
        "Rejected flows by destination port",
        "Rejected records per destination port and protocol.",
        &frame,
        json!({"type": "bar", "x": ["dst_port", "protocol"], "y": ["records"], "sep": "/"}),
        sql,
    ));
    let (frame, sql) = derived(
        &ctx,
        rejected,
        "SELECT src_ip, SUM(records) AS records, SUM(bytes) AS bytes,\n       \
         MAX(src_ports_tried) AS ports_tried, MAX(src_hosts_tried) AS hosts_tried,\n       \
         BOOL_OR(scan_suspect) AS scan_suspect\n\
         FROM report_rejected_flows\nGROUP BY src_ip\nORDER BY scan_suspect DESC, records DESC, src_ip",
    )
    .await?;
    panels.push(panel(
        "rejected_sources",
        "Rejected flows by source",
        "Rejected records per source; scan suspects (20 or more ports tried) first, in red.",
        &frame,
        json!({"type": "bar", "x": ["src_ip"], "y": ["records"], "flag": "scan_suspect"}),
        sql,
    ));

    // Top talkers.
    let (frame, sql) = derived(
        &ctx,
        talkers,
        "SELECT src_ip, dst_ip, bytes, packets, records, dst_ports\n\
         FROM report_top_talkers\nORDER BY bytes DESC, src_ip, dst_ip",
    )
    .await?;
    panels.push(panel(
        "top_talkers",
        "Top talkers",
        "End-to-end conversations by bytes, each counted once.",
        &frame,
        json!({"type": "bar", "x": ["src_ip", "dst_ip"], "y": ["bytes"], "horizontal": true}),
        sql,
    ));

    // Log health.
    // Every hour of the 20 ENIs (at most 20 x 744 rows for a month): no cap.
    let (frame, sql) = derived_capped(
        &ctx,
        health,
        "WITH worst AS (\n  SELECT interface_id FROM report_log_health GROUP BY interface_id\n  \
         ORDER BY AVG(coverage_ratio), interface_id LIMIT 20\n)\n\
         SELECT h.interface_id,\n       \
         to_timestamp_seconds(CAST(date_part('epoch', to_timestamp(concat(h.date, 'T', h.hour, ':00:00Z'))) AS BIGINT)) AS hour_start,\n       \
         round(h.coverage_ratio, 4) AS coverage_ratio, h.records, h.records_nodata, h.records_skipdata\n\
         FROM report_log_health h JOIN worst w ON w.interface_id = h.interface_id\n\
         ORDER BY h.interface_id, hour_start",
        usize::MAX,
    )
    .await?;
    panels.push(panel(
        "log_health",
        "Log health",
        "Share of each hour's minutes in which an ENI has a record (1 = every minute logged), for the 20 ENIs with the lowest coverage.",
        &frame,
        json!({"type": "heatmap", "x": "hour_start", "y": "interface_id", "v": "coverage_ratio"}),
        sql,
    ));

    let data_json = json!({
        "title": dash.title,
        "range": {"from": from, "to": to},
        "prices": prices.describe(),
        "headline": headline,
        "panels": panels,
    });
    Ok(page(&data_json))
}

async fn headline(
    ctx: &SessionContext,
    id: &str,
    label: &str,
    unit: &str,
    source: &str,
) -> Result<Value, QueryError> {
    // "EXPR FROM report-name" as SQL over the report's registered result.
    let (expr, report) = source.rsplit_once(" FROM ").unwrap_or((source, ""));
    let table = format!("report_{}", report.replace('-', "_"));
    let value = scalar(ctx, &format!("SELECT {expr} FROM {table}")).await?;
    Ok(json!({"id": id, "label": label, "unit": unit, "value": value, "source": source}))
}

/// The cross-AZ cost report run once per bucket (hour or day) of the range.
async fn cross_az_over_time(
    data: &Path,
    opts: &SessionOptions,
    cross: &Report,
    from: i64,
    to: i64,
) -> Result<Value, QueryError> {
    let bucket = bucket_for(to - from);
    let mut starts: Vec<Value> = Vec::new();
    let mut pairs: Vec<Value> = Vec::new();
    let mut bytes: Vec<Value> = Vec::new();
    let mut costs: Vec<Value> = Vec::new();
    let mut t = from - from.rem_euclid(bucket);
    while t < to {
        let o = SessionOptions {
            from: Some(t.max(from)),
            to: Some((t + bucket).min(to)),
            ..opts.clone()
        };
        let (ctx, _) = crate::open_with(data, &o).await?;
        let (schema, batches) = crate::run_report(&ctx, cross, None).await?;
        let f = Frame::new(&schema, &batches, usize::MAX)?;
        let col = |n: &str| {
            f.columns
                .iter()
                .find(|c| c.0 == n)
                .map(|c| c.2.clone())
                .unwrap_or_default()
        };
        let (src, dst, b, c) = (
            col("src_az_id"),
            col("dst_az_id"),
            col("bytes"),
            col("cost_usd"),
        );
        for i in 0..src.len() {
            let name = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("?").to_string();
            starts.push(json!(t));
            pairs.push(json!(format!(
                "{} → {}",
                name(src.get(i)),
                name(dst.get(i))
            )));
            bytes.push(b.get(i).cloned().unwrap_or(Value::Null));
            costs.push(c.get(i).cloned().unwrap_or(Value::Null));
        }
        t += bucket;
    }
    let frame = Frame {
        total_rows: starts.len(),
        columns: vec![
            ("bucket_start".into(), "time", starts),
            ("az_pair".into(), "str", pairs),
            ("bytes".into(), "int", bytes),
            ("cost_usd".into(), "float", costs),
        ],
    };
    let unit = if bucket == 3600 {
        "hour"
    } else if bucket == 86400 {
        "day"
    } else {
        "week"
    };
    Ok(panel(
        "cross_az_time",
        "Cross-AZ cost over time",
        &format!("The cross-AZ cost report run for each {unit} of the range, per AZ pair."),
        &frame,
        json!({"type": "time_stack", "x": "bucket_start", "series": "az_pair", "v": "cost_usd", "bars": true}),
        format!(
            "-- queries/cross-az-cost.sql, run once per {unit} (--from/--to of each {unit}):\n{}",
            cross.sql
        ),
    ))
}

/// The HTML page around `data`.
fn page(data: &Value) -> String {
    let title = data
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("vpcflow");
    // In a <script> element, only "</" could end it early.
    let json = data.to_string().replace("</", "<\\/");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vpcflow {version}">
<title>{title}</title>
<style>{css}</style>
<script>{collector}</script>
</head>
<body>
<header><h1>{title}</h1><p id="range"></p></header>
<section id="headline"></section>
<main id="panels"></main>
<footer>Made by vpcflow {version}; charts by Apache ECharts (Apache License 2.0, included in vpcflow).</footer>
<pre id="page-errors" data-count="0" hidden></pre>
<script>{echarts}</script>
<script id="vpcflow-data" type="application/json">{json}</script>
<script>{js}</script>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        title = escape(title),
        css = PAGE_CSS,
        collector = COLLECTOR,
        echarts = ECHARTS,
        json = json,
        js = PAGE_JS,
    )
}

/// Records errors, console errors and blocked requests into `#page-errors` (for people and for
/// the browser test), before any other script runs.
const COLLECTOR: &str = r#"(function(){var log=[];function put(m){log.push(String(m));var e=document.getElementById('page-errors');if(e){e.textContent=log.join('\n');e.dataset.count=log.length;e.hidden=false;}}window.__vpcflowErrors=log;window.__vpcflowPut=put;window.addEventListener('error',function(e){put('error: '+(e.message||(e.target&&(e.target.src||e.target.href))||e));},true);window.addEventListener('unhandledrejection',function(e){put('unhandled rejection: '+e.reason);});document.addEventListener('securitypolicyviolation',function(e){put('blocked request: '+e.blockedURI+' ('+e.violatedDirective+')');});var ce=console.error;console.error=function(){put('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();"#;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_only_when_it_saves() {
        let few: Vec<Value> = (0..20).map(|i| json!(format!("eni-{}", i % 2))).collect();
        let e = encode("str", &few);
        assert_eq!(e["dict"], json!(["eni-0", "eni-1"]));
        assert_eq!(e["codes"][3], json!(1));
        let many: Vec<Value> = (0..20).map(|i| json!(format!("eni-{i}"))).collect();
        assert_eq!(encode("str", &many), Value::Array(many.clone()));
        assert_eq!(encode("int", &[json!(1)]), json!([1]));
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket_for(3600), 3600);
        assert_eq!(bucket_for(3 * 86400), 3600);
        assert_eq!(bucket_for(30 * 86400), 86400);
        assert_eq!(bucket_for(90 * 86400), 7 * 86400);
    }

    #[test]
    fn page_is_closed_and_inline() {
        let p = page(&json!({"title": "a </script> <b>", "panels": []}));
        assert!(p.contains("<title>a &lt;/script&gt; &lt;b&gt;</title>"));
        assert!(p.contains(r#""title":"a <\/script> <b>""#));
        assert!(!p.contains("<script src"));
        assert!(!p.contains("<link"));
    }
}
