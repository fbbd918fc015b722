//! CSV output of a query result, formatted on every core.
//!
//! The text is byte for byte what `arrow::csv::Writer` writes with its defaults (header,
//! `,`, quotes only where needed, nulls empty, Arrow's display of each type), so a script
//! that reads one reads the other. Arrow's writer formats every cell through `fmt::Write`
//! into a scratch string, then copies it into its record, one row at a time on one thread:
//! a 638k-row report spent most of a second there, after the query itself had finished.
//! Here strings and integers are copied or printed straight into the output, other types go
//! through Arrow's own formatter, and chunks of rows are formatted on all cores at once and
//! written in order.

use std::io::Write;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericStringArray, Int64Array, OffsetSizeTrait,
    RecordBatch, StringViewArray, TimestampSecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimeUnit, TimestampSecondType, UInt64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::QueryError;
use crate::table;

/// Rows formatted per task: large enough that a task's overhead is nothing, small enough
/// that the text held at once stays a few MB per core.
const CHUNK_ROWS: usize = 32 * 1024;

/// Writes `batches` as CSV with a header line, in order.
pub fn write_csv(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), QueryError> {
    let mut w = CsvWriter::new(out, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// CSV written batch by batch as a result streams in: rows are held until there is a chunk
/// for every core (or the end), then formatted at once and written in order.
pub struct CsvWriter<'w> {
    out: &'w mut dyn Write,
    /// Batches not written yet, nested columns already JSON text.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    threads: usize,
}

impl<'w> CsvWriter<'w> {
    /// Writes the header line of `schema`.
    pub fn new(out: &'w mut dyn Write, schema: &SchemaRef) -> Result<Self, QueryError> {
        let flat = table::flat_schema(schema);
        let mut text = Vec::new();
        for (i, field) in flat.fields().iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            field_bytes(&mut text, field.name().as_bytes());
        }
        if flat.fields().len() == 1 && flat.field(0).name().is_empty() {
            text.extend_from_slice(b"\"\"");
        }
        text.push(b'\n');
        out.write_all(&text).map_err(io)?;
        Ok(Self {
            out,
            pending: Vec::new(),
            pending_rows: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Takes the next batch of the result.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.pending.push(table::flatten_nested(batch)?);
        self.pending_rows += batch.num_rows();
        if self.pending_rows >= self.threads * CHUNK_ROWS {
            self.drain()?;
        }
        Ok(())
    }

    /// Writes what is held and flushes.
    pub fn finish(mut self) -> Result<(), QueryError> {
        self.drain()?;
        self.out.flush().map_err(io)
    }

    /// Formats the held rows, a chunk per core at a time, and writes them in order.
    fn drain(&mut self) -> Result<(), QueryError> {
        let mut chunks = Vec::new();
        for batch in &self.pending {
            for start in (0..batch.num_rows()).step_by(CHUNK_ROWS) {
                chunks.push(batch.slice(start, CHUNK_ROWS.min(batch.num_rows() - start)));
            }
        }
        for wave in chunks.chunks(self.threads) {
            let texts: Vec<Result<Vec<u8>, QueryError>> = if wave.len() == 1 {
                wave.iter().map(format_rows).collect()
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = wave
                        .iter()
                        .map(|chunk| s.spawn(move || format_rows(chunk)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(QueryError::Invalid("formatting CSV failed".into()))
                            })
                        })
                        .collect()
                })
            };
            for text in texts {
                self.out.write_all(&text?).map_err(io)?;
            }
        }
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }
}

fn io(e: std::io::Error) -> QueryError {
    QueryError::Output(e.into())
}

/// How one column's cells become text.
enum Column<'a> {
    Utf8(&'a GenericStringArray<i32>),
    LargeUtf8(&'a GenericStringArray<i64>),
    View(&'a StringViewArray),
    /// Signed integers of any width, widened.
    Int(Int64Array),
    /// Unsigned integers of any width, widened.
    UInt(UInt64Array),
    Bool(&'a BooleanArray),
    /// `Timestamp(Second)` without a time zone, printed as chrono prints it
    /// (`2023-11-14T22:13:20`) for years 0 to 9999, by Arrow otherwise.
    Seconds(&'a TimestampSecondArray, ArrayFormatter<'a>),
    /// Everything else, through Arrow's formatter and a scratch string.
    Other(ArrayFormatter<'a>, &'a ArrayRef),
}

fn column<'a>(a: &'a ArrayRef, options: &FormatOptions<'a>) -> Result<Column<'a>, QueryError> {
    Ok(match a.data_type() {
        DataType::Utf8 => Column::Utf8(a.as_string::<i32>()),
        DataType::LargeUtf8 => Column::LargeUtf8(a.as_string::<i64>()),
        DataType::Utf8View => Column::View(a.as_string_view()),
        DataType::Boolean => Column::Bool(a.as_boolean()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Column::Int(
            arrow::compute::cast(a, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .clone(),
        ),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Column::UInt(
            arrow::compute::cast(a, &DataType::UInt64)?
                .as_primitive::<UInt64Type>()
                .clone(),
        ),
        DataType::Timestamp(TimeUnit::Second, None) => Column::Seconds(
            a.as_primitive::<TimestampSecondType>(),
            ArrayFormatter::try_new(a.as_ref(), options)?,
        ),
        _ => Column::Other(ArrayFormatter::try_new(a.as_ref(), options)?, a),
    })
}

fn string<O: OffsetSizeTrait>(out: &mut Vec<u8>, a: &GenericStringArray<O>, row: usize) {
    if !a.is_null(row) {
        field_bytes(out, a.value(row).as_bytes());
    }
}

/// The CSV text of every row of `batch` (no header).
fn format_rows(batch: &RecordBatch) -> Result<Vec<u8>, QueryError> {
    let options = FormatOptions::default().with_null("");
    let columns = batch
        .columns()
        .iter()
        .map(|a| column(a, &options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(batch.num_rows() * 16 * columns.len().max(1));
    let mut scratch = String::new();
    let mut number = itoa::Buffer::new();
    let lone = columns.len() == 1;
    for row in 0..batch.num_rows() {
        let line_start = out.len();
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match c {
                Column::Utf8(a) => string(&mut out, a, row),
                Column::LargeUtf8(a) => string(&mut out, a, row),
                Column::View(a) => {
                    if !a.is_null(row) {
                        field_bytes(&mut out, a.value(row).as_bytes());
                    }
                }
                Column::Int(a) => {
                    if !a.is_null(row) {
                        out.extend_from_slice(number.format(a.value(row)).as_bytes());
                    }
                }
                Column::UInt(a) => {
                    if !a.is_null(row) {
                        out.extend_from_slice(number.format(a.value(row)).as_bytes());
                    }
                }
                Column::Bool(a) => {
                    if !a.is_null(row) {
                        out.extend_from_slice(if a.value(row) { b"true" } else { b"false" });
                    }
                }
                Column::Seconds(a, f) => {
                    if !a.is_null(row) && !seconds(&mut out, a.value(row)) {
                        write_formatted(&mut out, &mut scratch, f, row, i)?;
                    }
                }
                Column::Other(f, a) => {
                    if !a.is_null(row) {
                        write_formatted(&mut out, &mut scratch, f, row, i)?;
                    }
                }
            }
        }
        // A record of one empty field is written `""`, as the csv crate does, so that it is
        // not read back as a blank line.
        if lone && out.len() == line_start {
            out.extend_from_slice(b"\"\"");
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Appends cell `row` of column `column` as Arrow formats it.
fn write_formatted(
    out: &mut Vec<u8>,
    scratch: &mut String,
    f: &ArrayFormatter<'_>,
    row: usize,
    column: usize,
) -> Result<(), QueryError> {
    scratch.clear();
    f.value(row).write(scratch).map_err(|e| {
        QueryError::Invalid(format!("CSV: row {}, column {}: {e}", row + 1, column + 1))
    })?;
    field_bytes(out, scratch.as_bytes());
    Ok(())
}

/// Appends `secs` since the epoch as `YYYY-MM-DDTHH:MM:SS`, or returns false (and appends
/// nothing) for a year outside 0 to 9999, which chrono prints with a sign.
fn seconds(out: &mut Vec<u8>, secs: i64) -> bool {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return false;
    }
    let two = |out: &mut Vec<u8>, v: i64| {
        out.push(b'0' + (v / 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    };
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, rem / 3_600);
    out.push(b':');
    two(out, rem / 60 % 60);
    out.push(b':');
    two(out, rem % 60);
    true
}

/// Appends one field, in quotes (and its quotes doubled) where it holds a comma, a quote or
/// a line break: the csv crate's `QuoteStyle::Necessary`, which Arrow's writer uses.
fn field_bytes(out: &mut Vec<u8>, value: &[u8]) {
    if !value
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Date32Array, Float64Array, Int8Array, Int32Array, LargeStringArray,
        ListArray, StringArray, TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::{Field, Int32Type, Schema};

    /// What the writer this module replaces prints: Arrow's, after the nested columns
    /// became JSON text.
    fn arrow_csv(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        if batches.is_empty() {
            w.write(&RecordBatch::new_empty(table::flat_schema(schema)))
                .expect("arrow writes");
        }
        for b in batches {
            w.write(&table::flatten_nested(b).expect("flattens"))
                .expect("arrow writes");
        }
        drop(w);
        out
    }

    fn ours(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(&mut out, schema, batches).expect("writes");
        out
    }

    /// `n` rows of every kind of cell: text that needs quotes and text that does not, nulls,
    /// extreme integers, floats, timestamps, dates, lists.
    fn mixed(n: usize, offset: usize) -> RecordBatch {
        let texts = [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\rhere",
            "",
            "eni-0a1b2c3d4e5f",
            "ünïcödé, too",
        ];
        let text = |i: usize| ((i + offset) % 9 != 8).then(|| texts[(i + offset) % 9 % 8]);
        let view: StringViewArray = (0..n).map(text).collect();
        let utf8: StringArray = (0..n).map(|i| text(i + 3)).collect();
        let large: LargeStringArray = (0..n).map(|i| text(i + 5)).collect();
        let i8s: Int8Array = (0..n)
            .map(|i| (i % 5 != 0).then_some((i as i64 * 37 % 256 - 128) as i8))
            .collect();
        let i32s: Int32Array = (0..n)
            .map(|i| (i % 7 != 0).then_some((i as i32).wrapping_mul(-104_729)))
            .collect();
        let i64s: Int64Array = (0..n)
            .map(|i| match i % 4 {
                0 => Some(i64::MIN),
                1 => Some(i64::MAX),
                2 => None,
                _ => Some(i as i64 * 1_000_003 - 5_000_000),
            })
            .collect();
        let u64s: UInt64Array = (0..n)
            .map(|i| (i % 3 != 0).then_some(u64::MAX - i as u64))
            .collect();
        let bools: BooleanArray = (0..n).map(|i| (i % 3 != 2).then_some(i % 2 == 0)).collect();
        let floats: Float64Array = (0..n)
            .map(|i| match i % 6 {
                0 => Some(0.1 * i as f64),
                1 => Some(1e20),
                2 => Some(f64::NAN),
                3 => Some(-0.0),
                4 => None,
                _ => Some(1.0 / 3.0),
            })
            .collect();
        // Every day for centuries either side of 1970, leap days, and the edges of the years
        // chrono prints without a sign (0000-01-01T00:00:00 to 9999-12-31T23:59:59).
        let stamps: TimestampSecondArray = (0..n)
            .map(|i| {
                let i = i as i64;
                match i % 8 {
                    0 => Some(1_700_000_000 + i * 86_461),
                    1 => Some(-1 - i * 86_399),
                    2 => Some(253_402_300_799),
                    3 => Some(253_402_300_800),
                    4 => Some(-62_167_219_200),
                    5 => Some(-62_167_219_201),
                    6 => Some(951_782_400 + i),
                    _ => None,
                }
            })
            .collect();
        let dates: Date32Array = (0..n).map(|i| Some(19_000 + i as i32)).collect();
        let lists =
            ListArray::from_iter_primitive::<Int32Type, _, _>((0..n).map(|i| {
                (i % 5 != 4).then(|| (0..i % 3).map(|v| Some(v as i32)).collect::<Vec<_>>())
            }));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(view),
            Arc::new(utf8),
            Arc::new(large),
            Arc::new(i8s),
            Arc::new(i32s),
            Arc::new(i64s),
            Arc::new(u64s),
            Arc::new(bools),
            Arc::new(floats),
            Arc::new(stamps),
            Arc::new(dates),
            Arc::new(lists),
        ];
        let fields: Vec<Field> = [
            "view",
            "utf8",
            "large,name",
            "i8",
            "i32",
            "i64",
            "u64",
            "bool",
            "f64",
            "ts",
            "date",
            "list",
        ]
        .iter()
        .zip(&columns)
        .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
        .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
    }

    #[test]
    fn same_text_as_arrows_writer() {
        // Three batches, the middle one larger than a chunk, so that the chunks of several
        // batches are formatted in one wave and must come out in order.
        let batches = vec![
            mixed(1_000, 0),
            mixed(CHUNK_ROWS * 2 + 17, 1),
            mixed(0, 2),
            mixed(5, 3),
        ];
        let schema = batches[0].schema();
        let expected = arrow_csv(&schema, &batches);
        let got = ours(&schema, &batches);
        assert_eq!(
            got.len(),
            expected.len(),
            "lengths differ; first lines:\n{}",
            String::from_utf8_lossy(&got[..got.len().min(600)])
        );
        assert!(got == expected, "the CSV text differs from Arrow's");
        // And it is the text a reader expects: quotes where needed, nulls empty.
        let text = String::from_utf8(got).expect("utf-8");
        assert!(
            text.starts_with("view,utf8,\"large,name\",i8,i32,i64,u64,bool,f64,ts,date,list\n")
        );
        assert!(text.contains("\"a,b\""));
        assert!(text.contains(",9999-12-31T23:59:59,"));
        assert!(text.contains(",0000-01-01T00:00:00,"));
        assert!(text.contains(",2000-02-29T00:00:06,"));
        assert!(text.contains("\"say \"\"hi\"\"\""));
        assert!(text.contains("\"two\nlines\""));
        assert!(text.contains("-9223372036854775808"));
        assert!(text.contains("18446744073709551614")); // u64::MAX - 1
    }

    #[test]
    fn empty_results_and_lone_empty_fields() {
        let batch = mixed(0, 0);
        let schema = batch.schema();
        assert_eq!(ours(&schema, &[]), arrow_csv(&schema, &[]));
        assert_eq!(
            ours(&schema, std::slice::from_ref(&batch)),
            arrow_csv(&schema, &[batch])
        );

        // One column whose cells are empty or null: each such row is `""`, not a blank line.
        let lone: StringArray = vec![Some(""), None, Some("x"), Some("")]
            .into_iter()
            .collect();
        let schema = Arc::new(Schema::new(vec![Field::new("", DataType::Utf8, true)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(lone) as ArrayRef]).expect("batch");
        let got = ours(&schema, std::slice::from_ref(&batch));
        assert_eq!(got, arrow_csv(&schema, &[batch]));
        assert_eq!(
            String::from_utf8(got).expect("utf-8"),
            "\"\"\n\"\"\n\"\"\nx\n\"\"\n"
        );
    }
}
