//! AWS-written Parquet flow logs into the canonical schema.
//!
//! AWS's Parquet delivery names columns as the canonical schema does (hyphens become
//! underscores); types may differ (a file written by another tool may hold numbers as strings
//! or 64-bit integers), so each column is cast to the canonical type. Text `-` is null, as in
//! text delivery; a value that does not cast (such as `None`) is null too.

use crate::hour::{HourBucket, hour_bucket};
use crate::schema::{UNKNOWN_FIELDS, data_type, flow_schema};
use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringArray, UInt32Array, new_null_array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Int64Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;
use vpcflow_format::{FIELDS, FieldKind};

/// `start`/`end` above this are taken as milliseconds, as in text.
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Column names of `batch` that are neither flow-log fields nor vpcflow's own columns.
pub fn unknown_columns(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| {
            !FIELDS.iter().any(|d| d.column == n) && flow_schema().field_with_name(n).is_err()
        })
        .collect()
}

fn null_dashes(a: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let s = cast(a, &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let out: StringArray = s.iter().map(|v| v.filter(|v| *v != "-")).collect();
    Ok(Arc::new(out))
}

fn normalise_time(a: &ArrayRef) -> ArrayRef {
    let t = a.as_primitive::<Int64Type>();
    let out: Int64Array = t
        .iter()
        .map(|v| v.map(|v| if v >= MILLIS_THRESHOLD { v / 1000 } else { v }))
        .collect();
    Arc::new(out)
}

/// Converts one batch read from a flow-log Parquet file into canonical batches, one per hour
/// of `start`. `first_line` is the 1-based row number of the batch's first row in its file.
pub fn to_canonical(
    batch: &RecordBatch,
    source: &str,
    flow_log_id: Option<&str>,
    first_line: u64,
) -> Result<Vec<(HourBucket, RecordBatch)>, ArrowError> {
    let rows = batch.num_rows();
    let schema = flow_schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for def in FIELDS {
        let target = data_type(def.kind);
        let col = match batch.column_by_name(def.column) {
            None => new_null_array(&target, rows),
            Some(c) => {
                let text = if matches!(
                    c.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) {
                    null_dashes(c)?
                } else {
                    c.clone()
                };
                let mut v = if def.kind == FieldKind::Utf8 {
                    cast(&text, &target)?
                } else {
                    // Safe cast: a value that is not a number becomes null.
                    arrow::compute::cast_with_options(
                        &text,
                        &target,
                        &arrow::compute::CastOptions {
                            safe: true,
                            ..Default::default()
                        },
                    )?
                };
                if def.column == "start" || def.column == "end" {
                    v = normalise_time(&v);
                }
                v
            }
        };
        columns.push(col);
    }
    let unknown = unknown_columns(batch);
    columns.push(if unknown.is_empty() {
        new_null_array(schema.field_with_name(UNKNOWN_FIELDS)?.data_type(), rows)
    } else {
        let values: Vec<ArrayRef> = unknown
            .iter()
            .map(|n| {
                batch
                    .column_by_name(n)
                    .map(|c| cast(c, &DataType::Utf8))
                    .transpose()
                    .map(|c| c.unwrap_or_else(|| new_null_array(&DataType::Utf8, rows)))
            })
            .collect::<Result<_, _>>()?;
        let mut m = crate::schema::unknown_fields_builder();
        for r in 0..rows {
            for (name, v) in unknown.iter().zip(&values) {
                m.keys().append_value(name);
                let s = v.as_string::<i32>();
                if s.is_null(r) {
                    m.values().append_null();
                } else {
                    m.values().append_value(s.value(r));
                }
            }
            m.append(true)?;
        }
        Arc::new(m.finish())
    });
    columns.push(match flow_log_id {
        Some(id) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(id, rows))),
        None => new_null_array(&DataType::Utf8, rows),
    });
    columns.push(Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(source, rows),
    )));
    columns.push(Arc::new(Int64Array::from_iter_values(
        (0..rows as i64).map(|i| first_line as i64 + i),
    )));
    let all = RecordBatch::try_new(schema, columns)?;
    // Split by hour of `start`.
    let start = all
        .column_by_name("start")
        .map(|c| c.as_primitive::<Int64Type>().clone());
    let mut groups: BTreeMap<HourBucket, Vec<u32>> = BTreeMap::new();
    for r in 0..rows {
        let s = start
            .as_ref()
            .and_then(|s| (!s.is_null(r)).then(|| s.value(r)));
        groups.entry(hour_bucket(s)).or_default().push(r as u32);
    }
    if groups.len() == 1 {
        let (bucket, _) = groups.into_iter().next().expect("one group");
        return Ok(vec![(bucket, all)]);
    }
    groups
        .into_iter()
        .map(|(bucket, idx)| {
            let idx = UInt32Array::from(idx);
            let cols = all
                .columns()
                .iter()
                .map(|c| take(c, &idx, None))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(all.schema(), cols).map(|b| (bucket, b))
        })
        .collect()
}
