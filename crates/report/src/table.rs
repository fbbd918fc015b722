//! Output for people: the `--output table` rendering, and nested values as JSON text.
//!
//! CSV and JSON keep every column at full precision; the table is for reading on a terminal:
//! counts with thousands separators, money in dollars and cents, no scientific notation,
//! numbers right-aligned, the columns that fit the terminal's width (the reports name the
//! ones they show first) and a note of what was left out.

use crate::QueryError;
use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::io::Write;
use std::sync::Arc;

/// Rows a table shows when no `--limit` is given.
pub const DEFAULT_TABLE_ROWS: usize = 50;

/// Terminal width assumed when it is not known (output into a pipe or a file).
pub const DEFAULT_WIDTH: usize = 160;

/// Longest text a cell shows; longer values end in `…`.
const MAX_CELL: usize = 48;

/// How a table is cut to fit.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// The columns to show first, in this order (a report's default set); `None` shows the
    /// result's columns in their order.
    pub columns: Option<Vec<String>>,
    /// Every column, whatever the width (`--wide`).
    pub wide: bool,
    /// Characters per line; columns past it are left out (with a note). `None`: no limit.
    pub width: Option<usize>,
    /// Rows to print; the rest are counted in a note. `None`: every row.
    pub limit: Option<usize>,
    /// What the notes suggest for more rows (e.g. `--limit N`).
    pub more_rows_hint: Option<String>,
}

/// The columns a report's table shows by default (CSV and JSON show every column). Reports
/// not named here show their columns in order, as many as fit.
pub fn report_columns(report: &str) -> Option<&'static [&'static str]> {
    Some(match report {
        "interface-traffic" => &[
            "interface_id",
            "bytes_in",
            "bytes_out",
            "packets_in",
            "packets_out",
            "rejected_bytes",
            "distinct_peers",
            "az_id",
            "subnet_id",
            "interface_type",
        ],
        "rejected-flows" => &[
            "src_ip",
            "dst_port",
            "protocol",
            "interface_id",
            "records",
            "packets",
            "bytes",
            "src_hosts_tried",
            "scan_suspect",
            "last_seen",
        ],
        "cross-az-cost" => &[
            "src_az_id",
            "dst_az_id",
            "hop_type",
            "bytes",
            "gb",
            "cost_usd",
            "records",
            "confidence",
        ],
        "top-talkers" => &[
            "src_ip",
            "dst_ip",
            "bytes",
            "packets",
            "records",
            "dst_ports",
            "lowest_dst_port",
        ],
        "nat-gateway" => &[
            "nat_interface_id",
            "nat_az_id",
            "client_ip",
            "client_az_id",
            "bytes_processed",
            "gb",
            "cost_usd",
        ],
        "internet-egress" => &[
            "interface_id",
            "az_id",
            "bytes",
            "gb",
            "destinations",
            "aws_service_bytes",
            "est_cost_usd",
        ],
        "log-health" => &[
            "interface_id",
            "date",
            "hour",
            "records",
            "records_nodata",
            "records_skipdata",
            "coverage_ratio",
        ],
        "idle-interfaces" => &[
            "interface_id",
            "interface_type",
            "status",
            "subnet_id",
            "az_id",
            "instance_id",
            "records",
            "last_seen",
            "logged",
        ],
        _ => return None,
    })
}

/// How the values of one column are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Integers that count something: thousands separators.
    Count,
    /// Other integers (ports, protocols, times): as they are.
    Plain,
    /// Dollars: two decimals, separators.
    Money,
    /// Per-unit prices: up to four decimals.
    Price,
    /// Other decimals: up to four decimals, separators, never an exponent.
    Decimal,
    /// Text and everything else, left-aligned.
    Text,
}

fn style(field: &Field) -> Style {
    let name = field.name().to_ascii_lowercase();
    let t = field.data_type();
    if t.is_integer() {
        let counts = [
            "bytes",
            "packets",
            "records",
            "peers",
            "destinations",
            "tried",
            "count",
            "flows",
            "minutes",
            "ports",
        ];
        return if !name.ends_with("port") && counts.iter().any(|c| name.contains(c)) {
            Style::Count
        } else {
            Style::Plain
        };
    }
    if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        return if name.contains("per_gb") || name.contains("price") || name.contains("rate") {
            Style::Price
        } else if name.ends_with("usd") || name.contains("cost") {
            Style::Money
        } else {
            Style::Decimal
        };
    }
    Style::Text
}

/// `digits` (an unsigned integer's decimal digits) with a comma every three.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number's text (`-1234.5`) with separators in its integer part.
fn grouped(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_string();
    }
    match frac {
        Some(f) => format!("{sign}{}.{f}", group(int)),
        None => format!("{sign}{}", group(int)),
    }
}

/// A decimal with at most `places` decimals, trailing zeros dropped, never an exponent;
/// a value too small to show is `<0.0001`-like rather than 0.
fn decimal(v: f64, places: usize, keep_zeros: bool) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let step = 10f64.powi(-(places as i32));
    if v != 0.0 && v.abs() < step / 2.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        return format!("<{sign}{step:.places$}");
    }
    let mut s = format!("{v:.places$}");
    if !keep_zeros && s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s.remove(0);
    }
    grouped(&s)
}

fn float_value(array: &dyn Array, row: usize) -> Option<f64> {
    match array.data_type() {
        DataType::Float64 => Some(
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row),
        ),
        DataType::Float32 => Some(f64::from(
            array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row),
        )),
        _ => None,
    }
}

/// The text of one cell.
fn cell(
    array: &dyn Array,
    fmt: &ArrayFormatter<'_>,
    style: Style,
    row: usize,
) -> Result<String, QueryError> {
    if array.is_null(row) {
        return Ok(String::new());
    }
    let text = || -> Result<String, QueryError> {
        let mut s = String::new();
        fmt.value(row)
            .write(&mut s)
            .map_err(|e| QueryError::Invalid(format!("formatting a value: {e}")))?;
        Ok(s)
    };
    Ok(match style {
        Style::Count => grouped(&text()?),
        Style::Plain => text()?,
        Style::Money | Style::Price | Style::Decimal => {
            let v = match float_value(array, row) {
                Some(v) => v,
                None => text()?.parse::<f64>().unwrap_or(f64::NAN),
            };
            match style {
                Style::Money => decimal(v, 2, true),
                Style::Price => decimal(v, 4, false),
                _ => decimal(v, 4, false),
            }
        }
        Style::Text => {
            let s = text()?;
            let s = s.replace(['\n', '\r', '\t'], " ");
            if s.chars().count() > MAX_CELL {
                let mut cut: String = s.chars().take(MAX_CELL - 1).collect();
                cut.push('…');
                cut
            } else {
                s
            }
        }
    })
}

/// Prints `batches` as an aligned table for people, cut as `opts` says, followed by a line
/// for what was left out (rows past the limit, columns past the width).
pub fn write_table(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: &TableOptions,
) -> Result<(), QueryError> {
    let io = |e: std::io::Error| QueryError::Output(e.into());
    // The column order: the preferred ones first (those the result has), then the rest.
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut order: Vec<usize> = Vec::new();
    if let Some(cols) = &opts.columns {
        for c in cols {
            if let Some(i) = names.iter().position(|n| n == c)
                && !order.contains(&i)
            {
                order.push(i);
            }
        }
    }
    let preferred = order.len();
    let mut rest: Vec<usize> = (0..names.len()).filter(|i| !order.contains(i)).collect();
    // The rest with --wide, or when no preferred column is in the result at all.
    if opts.wide || order.is_empty() {
        order.append(&mut rest);
    }
    // Cells of the rows shown.
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let shown = opts.limit.map_or(total, |l| l.min(total));
    let options = FormatOptions::default()
        .with_null("")
        .with_display_error(true)
        .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%SZ"));
    let styles: Vec<Style> = schema.fields().iter().map(|f| style(f)).collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::with_capacity(shown); names.len()];
    let mut left = shown;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        left -= take;
        for &c in &order {
            let array = b.column(c);
            let fmt = ArrayFormatter::try_new(array.as_ref(), &options)?;
            for row in 0..take {
                cells[c].push(cell(array.as_ref(), &fmt, styles[c], row)?);
            }
        }
    }
    let widths: Vec<usize> = (0..names.len())
        .map(|c| {
            cells[c]
                .iter()
                .map(|s| s.chars().count())
                .chain([names[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Columns that fit: each takes its width and 3 characters of border.
    let mut visible: Vec<usize> = Vec::new();
    let mut used = 1;
    for &c in &order {
        let need = widths[c] + 3;
        let fits = opts.wide || opts.width.is_none_or(|w| used + need <= w);
        if fits || visible.len() < 2 {
            visible.push(c);
            used += need;
        } else if !opts.wide {
            break;
        }
    }
    let hidden: Vec<&str> = (0..names.len())
        .filter(|c| !visible.contains(c))
        .map(|c| names[c])
        .collect();
    let rule: String = visible.iter().fold(String::from("+"), |mut s, &c| {
        s.push_str(&"-".repeat(widths[c] + 2));
        s.push('+');
        s
    });
    let line = |row: &dyn Fn(usize) -> (String, bool)| -> String {
        let mut s = String::from("|");
        for &c in &visible {
            let (text, right) = row(c);
            let pad = widths[c].saturating_sub(text.chars().count());
            s.push(' ');
            if right {
                s.push_str(&" ".repeat(pad));
                s.push_str(&text);
            } else {
                s.push_str(&text);
                s.push_str(&" ".repeat(pad));
            }
            s.push_str(" |");
        }
        s
    };
    writeln!(out, "{rule}").map_err(io)?;
    writeln!(out, "{}", line(&|c| (names[c].to_string(), false))).map_err(io)?;
    writeln!(out, "{rule}").map_err(io)?;
    // Row r of every visible column: cells are stored column by column.
    #[allow(clippy::needless_range_loop)]
    for r in 0..shown {
        let l = line(&|c| (cells[c][r].clone(), styles[c] != Style::Text));
        writeln!(out, "{l}").map_err(io)?;
    }
    writeln!(out, "{rule}").map_err(io)?;
    if shown < total {
        let hint = opts
            .more_rows_hint
            .as_deref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} of {} rows shown; {} more not shown{hint}",
            grouped(&shown.to_string()),
            grouped(&total.to_string()),
            grouped(&(total - shown).to_string()),
        )
        .map_err(io)?;
    }
    if !hidden.is_empty() {
        let why = if preferred > 0 && visible.len() <= preferred {
            "not in the default set or too wide for the terminal"
        } else {
            "too wide for the terminal"
        };
        // A long list (`SELECT *`) names the first ones.
        const NAMED: usize = 16;
        let mut names = hidden
            .iter()
            .take(NAMED)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if hidden.len() > NAMED {
            names.push_str(&format!(", ... ({} more)", hidden.len() - NAMED));
        }
        writeln!(
            out,
            "{} more columns not shown ({why}; --wide or --output csv shows them): {names}",
            hidden.len(),
        )
        .map_err(io)?;
    }
    Ok(())
}

/// Whether values of this type have no flat text form for CSV (maps, lists, structs).
fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Map(..)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Struct(_)
    )
}

/// The schema with map, list and struct columns as text.
pub fn flat_schema(schema: &SchemaRef) -> SchemaRef {
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_nested(f.data_type()) {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its map, list and struct columns as JSON text (`{"k":"v"}`, `[1,2]`), for CSV.
pub fn flatten_nested(batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let options = arrow::json::EncoderOptions::default();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        if !is_nested(field.data_type()) {
            columns.push(array.clone());
            continue;
        }
        let mut encoder = arrow::json::writer::make_encoder(field, array.as_ref(), &options)?;
        let mut text = StringBuilder::new();
        let mut buf = Vec::new();
        for row in 0..array.len() {
            if array.is_null(row) {
                text.append_null();
                continue;
            }
            buf.clear();
            encoder.encode(row, &mut buf);
            text.append_value(String::from_utf8_lossy(&buf));
        }
        columns.push(Arc::new(text.finish()));
    }
    Ok(RecordBatch::try_new(flat_schema(&schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(grouped("1637000"), "1,637,000");
        assert_eq!(grouped("-1234.5"), "-1,234.5");
        assert_eq!(grouped("999"), "999");
        assert_eq!(decimal(0.0015245750546455383, 4, false), "0.0015");
        assert_eq!(decimal(9.5367431640625e-6, 2, true), "<0.01");
        assert_eq!(decimal(9.5367431640625e-6, 4, false), "<0.0001");
        assert_eq!(decimal(1234567.891, 2, true), "1,234,567.89");
        assert_eq!(decimal(0.0, 2, true), "0.00");
        assert_eq!(decimal(0.5, 4, false), "0.5");
        assert_eq!(decimal(2.0, 4, false), "2");
        assert_eq!(decimal(-0.00001, 2, true), "<-0.01");
    }

    #[test]
    fn preferred_columns_first_and_the_rest_named() {
        use arrow::array::{Float64Array, Int64Array, StringArray};
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("cost_usd", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Int64Array::from(vec![1234567, 5])),
                Arc::new(Float64Array::from(vec![1.005, 1e-7])),
            ],
        )
        .unwrap();
        let render = |opts: &TableOptions| {
            let mut out = Vec::new();
            write_table(&mut out, &schema, std::slice::from_ref(&batch), opts).unwrap();
            String::from_utf8(out).unwrap()
        };
        let cols = |c: &[&str]| Some(c.iter().map(|s| s.to_string()).collect());
        let t = render(&TableOptions {
            columns: cols(&["cost_usd", "name"]),
            ..Default::default()
        });
        assert_eq!(
            t,
            "+----------+------+\n\
             | cost_usd | name |\n\
             +----------+------+\n\
             |     1.00 | a    |\n\
             |    <0.01 |      |\n\
             +----------+------+\n\
             1 more columns not shown (not in the default set or too wide for the terminal; \
             --wide or --output csv shows them): bytes\n"
        );
        // None of the preferred columns in the result: all of them, in order; a limit.
        let t = render(&TableOptions {
            columns: cols(&["renamed"]),
            limit: Some(1),
            ..Default::default()
        });
        assert_eq!(
            t,
            "+------+-----------+----------+\n\
             | name | bytes     | cost_usd |\n\
             +------+-----------+----------+\n\
             | a    | 1,234,567 |     1.00 |\n\
             +------+-----------+----------+\n\
             1 of 2 rows shown; 1 more not shown\n"
        );
    }

    #[test]
    fn styles_by_name_and_type() {
        let f = |n: &str, t: DataType| style(&Field::new(n, t, true));
        assert_eq!(f("bytes_in", DataType::Int64), Style::Count);
        assert_eq!(f("dst_port", DataType::Int32), Style::Plain);
        assert_eq!(f("lowest_dst_port", DataType::Int32), Style::Plain);
        assert_eq!(f("dst_ports", DataType::Int64), Style::Count);
        assert_eq!(f("protocol", DataType::Int32), Style::Plain);
        assert_eq!(f("cost_usd", DataType::Float64), Style::Money);
        assert_eq!(f("nat_gateway_per_gb", DataType::Float64), Style::Price);
        assert_eq!(f("gb", DataType::Float64), Style::Decimal);
        assert_eq!(f("az_id", DataType::Utf8), Style::Text);
    }
}
