//! The one canonical Arrow schema for every flow-log version.

use arrow::array::{Array, ArrayRef, MapBuilder, MapFieldNames, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::{Arc, LazyLock};
use vpcflow_format::{FIELDS, FieldKind};

/// Column holding the fields of the input this version of vpcflow does not know, by name.
pub const UNKNOWN_FIELDS: &str = "unknown_fields";
/// Column holding the flow-log ID parsed from AWS's object name (`fl-...`), where present.
pub const FLOW_LOG_ID: &str = "flow_log_id";
/// Column holding the file path or object URI the record came from.
pub const SOURCE: &str = "source";
/// Column holding the 1-based line of the record in its source.
pub const SOURCE_LINE: &str = "source_line";

/// The Hive partition columns of the dataset, outermost first. They live in directory names,
/// not in the Parquet files.
pub const PARTITION_COLUMNS: [&str; 2] = ["date", "hour"];

/// The Arrow type of a flow-log field kind.
pub fn data_type(kind: FieldKind) -> DataType {
    match kind {
        FieldKind::Int32 => DataType::Int32,
        FieldKind::Int64 => DataType::Int64,
        FieldKind::Utf8 => DataType::Utf8,
    }
}

/// A builder of `unknown_fields` values, with the entry names of [`unknown_fields_entry`].
pub fn unknown_fields_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(
        Some(MapFieldNames {
            entry: "entries".into(),
            key: "keys".into(),
            value: "values".into(),
        }),
        StringBuilder::new(),
        StringBuilder::new(),
    )
}

/// The entry type of the `unknown_fields` map column.
pub fn unknown_fields_entry() -> Arc<Field> {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("keys", DataType::Utf8, false),
            Field::new("values", DataType::Utf8, true),
        ])),
        false,
    ))
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = FIELDS
        .iter()
        .map(|d| Field::new(d.column, data_type(d.kind), true))
        .collect();
    fields.push(Field::new(
        UNKNOWN_FIELDS,
        DataType::Map(unknown_fields_entry(), false),
        true,
    ));
    fields.push(Field::new(FLOW_LOG_ID, DataType::Utf8, true));
    fields.push(Field::new(SOURCE, DataType::Utf8, false));
    fields.push(Field::new(SOURCE_LINE, DataType::Int64, false));
    Arc::new(Schema::new(fields))
});

/// The canonical schema of the Parquet files: every known field as AWS's Parquet delivery
/// names and types it, then `unknown_fields`, `flow_log_id`, `source` and `source_line`.
pub fn flow_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// `batch` (of the canonical schema, or a decoder's with dictionaries) with `region` filled in where its records carry none (the
/// default v2 and v3 formats have no `region` field): the region of the S3 key or the
/// CloudWatch client the records came from, so that they are priced by their own region.
pub fn fill_region(batch: RecordBatch, region: &str) -> Result<RecordBatch, ArrowError> {
    let Some(idx) = batch.schema().index_of("region").ok() else {
        return Ok(batch);
    };
    let col = batch.column(idx);
    if col.null_count() == 0 {
        return Ok(batch);
    }
    let filled: ArrayRef = if col.null_count() == col.len() {
        crate::dictionary::repeated(region, batch.num_rows())
    } else {
        let given = arrow::compute::cast(col, &DataType::Utf8)?;
        let given = given
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| ArrowError::CastError("region is not a string column".into()))?;
        Arc::new(
            given
                .iter()
                .map(|v| Some(v.unwrap_or(region)))
                .collect::<StringArray>(),
        )
    };
    let schema = batch.schema();
    let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
    fields[idx] = Arc::new(
        fields[idx]
            .as_ref()
            .clone()
            .with_data_type(filled.data_type().clone()),
    );
    let mut columns = batch.columns().to_vec();
    columns[idx] = filled;
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region column of `format`'s records `lines` once filled with `eu-west-1`.
    fn filled_regions(format: &str, lines: &[&str]) -> Vec<Option<String>> {
        let layout = vpcflow_format::Layout::parse_format(format).unwrap();
        let parser = vpcflow_format::RecordParser::new(layout.clone());
        let mut b = crate::builder::FlowBatchBuilder::new(&layout, "k".into(), None, 4);
        let mut values = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            parser.parse(line.as_bytes(), &mut values).unwrap();
            b.append(&values, n as u64 + 1);
        }
        let batch = fill_region(b.finish().unwrap().unwrap(), "eu-west-1").unwrap();
        let region = batch.column_by_name("region").unwrap();
        let schema = batch.schema();
        assert_eq!(
            schema.field_with_name("region").unwrap().data_type(),
            region.data_type()
        );
        let region = arrow::compute::cast(region, &DataType::Utf8).unwrap();
        let region = region.as_any().downcast_ref::<StringArray>().unwrap();
        region.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn the_region_is_filled_where_records_lack_one() {
        let eu = Some("eu-west-1".to_string());
        assert_eq!(
            filled_regions("${srcport}", &["1", "2"]),
            [eu.clone(), eu.clone()]
        );
        assert_eq!(
            filled_regions("${srcport} ${region}", &["1 us-west-2", "2 -"]),
            [Some("us-west-2".to_string()), eu]
        );
    }

    #[test]
    fn contract_types() {
        let s = flow_schema();
        for c in [
            "version",
            "srcport",
            "dstport",
            "protocol",
            "tcp_flags",
            "traffic_path",
        ] {
            assert_eq!(s.field_with_name(c).unwrap().data_type(), &DataType::Int32);
        }
        for c in ["packets", "bytes", "start", "end"] {
            assert_eq!(s.field_with_name(c).unwrap().data_type(), &DataType::Int64);
        }
        for c in [
            "account_id",
            "interface_id",
            "log_status",
            "flow_direction",
            "az_id",
            "next_hop_az_id",
        ] {
            assert_eq!(s.field_with_name(c).unwrap().data_type(), &DataType::Utf8);
        }
        assert_eq!(s.fields().len(), FIELDS.len() + 4);
    }
}
