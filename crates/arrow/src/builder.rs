//! Column builders that take parsed records straight into Arrow arrays.

use crate::dictionary::{DictionaryColumn, Run, dictionary_type, repeated};
use crate::schema::flow_schema;
use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    ArrayRef, ArrowPrimitiveType, Int64Builder, MapBuilder, PrimitiveArray, StringArray,
    StringBuilder, new_null_array,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Int32Type, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;
use vpcflow_format::{Block, FIELDS, FieldKind, Layout, Slot, Value};

/// The address fields, built as plain strings: nearly every row has a new address, and a
/// dictionary per batch would only add a lookup to the copy (measured: no gain).
const ADDRESSES: [&str; 4] = ["srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"];

enum Column {
    Int32(Ints<Int32Type>),
    Int64(Ints<Int64Type>),
    Utf8(Strings),
    Dictionary(DictionaryColumn),
    Unknown(usize),
}

/// Builds record batches of the canonical schema from records of one layout and one source.
///
/// Columns the layout lacks are filled with nulls when the batch is finished, at no cost per
/// row. Values are appended with no allocation per field. The string columns the layout has,
/// and the source and flow log ID, are dictionaries of strings
/// (`Dictionary(Int32, Utf8)`): the batches' schema is the canonical one with those types,
/// which the dataset's writer stores as the canonical strings.
pub struct FlowBatchBuilder {
    schema: SchemaRef,
    /// One column builder per slot of the layout, in slot order.
    slots: Vec<Column>,
    /// For each known field, the slot that carries it.
    field_slot: Vec<Option<usize>>,
    unknown_names: Vec<Box<str>>,
    unknown: Option<MapBuilder<StringBuilder, StringBuilder>>,
    lines: Int64Builder,
    source: Arc<str>,
    flow_log_id: Option<Arc<str>>,
    rows: usize,
}

impl FlowBatchBuilder {
    /// A builder for records of `layout` read from `source`, with capacity for `capacity` rows.
    pub fn new(
        layout: &Layout,
        source: Arc<str>,
        flow_log_id: Option<Arc<str>>,
        capacity: usize,
    ) -> Self {
        let mut field_slot = vec![None; FIELDS.len()];
        let mut unknown_names = Vec::new();
        let slots: Vec<Column> = layout
            .slots()
            .iter()
            .enumerate()
            .map(|(pos, slot)| match slot {
                Slot::Known(i) => {
                    field_slot[*i] = Some(pos);
                    match FIELDS[*i].kind {
                        FieldKind::Int32 => Column::Int32(Ints::with_capacity(capacity)),
                        FieldKind::Int64 => Column::Int64(Ints::with_capacity(capacity)),
                        FieldKind::Utf8 if ADDRESSES.contains(&FIELDS[*i].name) => {
                            Column::Utf8(Strings::with_capacity(capacity, capacity * 12))
                        }
                        FieldKind::Utf8 => {
                            Column::Dictionary(DictionaryColumn::with_capacity(capacity))
                        }
                    }
                }
                Slot::Unknown(name) => {
                    unknown_names.push(name.clone());
                    Column::Unknown(unknown_names.len() - 1)
                }
            })
            .collect();
        let unknown = (!unknown_names.is_empty()).then(crate::schema::unknown_fields_builder);
        let canonical = flow_schema();
        let fields: Vec<_> = canonical
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let dictionary = match f.name().as_str() {
                    crate::schema::SOURCE => true,
                    crate::schema::FLOW_LOG_ID => flow_log_id.is_some(),
                    _ => matches!(
                        field_slot.get(i).and_then(|s| s.map(|s| &slots[s])),
                        Some(Column::Dictionary(_))
                    ),
                };
                match dictionary {
                    true => Arc::new(f.as_ref().clone().with_data_type(dictionary_type())),
                    false => f.clone(),
                }
            })
            .collect();
        Self {
            schema: Arc::new(Schema::new_with_metadata(
                fields,
                canonical.metadata().clone(),
            )),
            slots,
            field_slot,
            unknown_names,
            unknown,
            lines: Int64Builder::with_capacity(capacity),
            source,
            flow_log_id,
            rows: 0,
        }
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one record: `values` holds one value per slot of the layout, as
    /// [`vpcflow_format::RecordParser::parse`] returns them; `line` is its 1-based line.
    pub fn append(&mut self, values: &[Value<'_>], line: u64) {
        debug_assert_eq!(values.len(), self.slots.len());
        for (col, value) in self.slots.iter_mut().zip(values) {
            match (col, value) {
                (Column::Int32(b), Value::Int(v)) => b.append_value(*v as i32),
                (Column::Int64(b), Value::Int(v)) => b.append_value(*v),
                (Column::Utf8(b), Value::Str(s)) => b.append_value(s.as_bytes()),
                (Column::Dictionary(b), Value::Str(s)) => b.append_value(s.as_bytes()),
                (Column::Int32(b), _) => b.append_null(),
                (Column::Int64(b), _) => b.append_null(),
                (Column::Utf8(b), _) => b.append_null(),
                (Column::Dictionary(b), _) => b.append_null(),
                (Column::Unknown(i), v) => {
                    if let Some(m) = self.unknown.as_mut() {
                        m.keys().append_value(&self.unknown_names[*i]);
                        match v {
                            Value::Str(s) => m.values().append_value(s),
                            Value::Int(n) => m.values().append_value(n.to_string()),
                            Value::Null => m.values().append_null(),
                        }
                    }
                }
            }
        }
        if let Some(m) = self.unknown.as_mut() {
            // Every key/value pair of this row was appended above; close the row's map.
            let _ = m.append(true);
        }
        self.lines.append_value(line as i64);
        self.rows += 1;
    }

    /// Appends records `rows` of `block`, a block parsed from `lines` whose first line is
    /// line `first_line` of the stream: each column is taken in a loop of its own.
    pub fn append_block(&mut self, lines: &[&str], block: &Block, rows: &[u32], first_line: u64) {
        for (slot, col) in self.slots.iter_mut().enumerate() {
            match col {
                Column::Int32(b) => b.extend(block.int_column(slot), rows, |v| v as i32),
                Column::Int64(b) => b.extend(block.int_column(slot), rows, |v| v),
                Column::Utf8(b) => b.extend(
                    rows.iter()
                        .map(|&row| block.bytes(lines, slot, row as usize)),
                ),
                Column::Dictionary(b) => b.extend(
                    rows.iter()
                        .map(|&row| block.bytes(lines, slot, row as usize)),
                ),
                // Each row's map takes its keys and values in turn, below.
                Column::Unknown(_) => {}
            }
        }
        if let Some(m) = self.unknown.as_mut() {
            for &row in rows {
                for (slot, col) in self.slots.iter().enumerate() {
                    if let Column::Unknown(i) = col {
                        m.keys().append_value(&self.unknown_names[*i]);
                        match block.bytes(lines, slot, row as usize) {
                            Some(s) => m.values().append_value(String::from_utf8_lossy(s)),
                            None => m.values().append_null(),
                        }
                    }
                }
                let _ = m.append(true);
            }
        }
        self.lines.extend(
            rows.iter()
                .map(|&row| Some((first_line + u64::from(row)) as i64)),
        );
        self.rows += rows.len();
    }

    /// The schema of the batches built: the canonical one, with dictionaries of strings for
    /// the string columns the layout has, the source and the flow log ID.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Finishes the pending rows into a batch of [`schema`](Self::schema), or `None` when
    /// there are none.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let schema = self.schema.clone();
        let rows = std::mem::take(&mut self.rows);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, def) in FIELDS.iter().enumerate() {
            let array: ArrayRef = match self.field_slot[i].map(|s| &mut self.slots[s]) {
                Some(Column::Int32(b)) => Arc::new(b.finish()),
                Some(Column::Int64(b)) => Arc::new(b.finish()),
                Some(Column::Utf8(b)) => Arc::new(b.finish()?),
                Some(Column::Dictionary(b)) => b.finish()?,
                _ => nulls(&crate::schema::data_type(def.kind), rows),
            };
            columns.push(array);
        }
        let unknown_type = schema.field(FIELDS.len()).data_type().clone();
        columns.push(match self.unknown.as_mut() {
            Some(m) => Arc::new(m.finish()),
            None => nulls(&unknown_type, rows),
        });
        columns.push(match &self.flow_log_id {
            Some(id) => repeated(id, rows),
            None => nulls(&arrow::datatypes::DataType::Utf8, rows),
        });
        columns.push(repeated(&self.source, rows));
        columns.push(Arc::new(self.lines.finish()));
        RecordBatch::try_new(schema, columns).map(Some)
    }
}

/// An integer column being built: arrow's `PrimitiveBuilder` without the call per value
/// (its `append_value` was not inlined into [`FlowBatchBuilder::append`]).
struct Ints<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
}

impl<T: ArrowPrimitiveType> Ints<T> {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            values: Vec::with_capacity(capacity),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    #[inline]
    fn append_value(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    #[inline]
    fn append_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.append_null();
    }

    /// Appends `column[row]` for each of `rows`, as `T::Native` by `cast`; [`Block::NULL`]
    /// is null.
    #[inline]
    fn extend(&mut self, column: &[i64], rows: &[u32], cast: impl Fn(i64) -> T::Native) {
        let value = |row: u32| column.get(row as usize).copied().unwrap_or(Block::NULL);
        self.values.extend(rows.iter().map(|&row| match value(row) {
            Block::NULL => T::Native::default(),
            v => cast(v),
        }));
        let mut run = Run::default();
        for &row in rows {
            run.push(&mut self.nulls, value(row) != Block::NULL);
        }
        run.end(&mut self.nulls);
    }

    /// The rows appended since the last call; the column starts again empty.
    fn finish(&mut self) -> PrimitiveArray<T> {
        let rows = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(rows));
        PrimitiveArray::new(ScalarBuffer::from(values), self.nulls.finish())
    }
}

/// A string column being built from bytes that are UTF-8: tokens of lines that were checked
/// whole. The values are checked once more, all at once, when the batch is finished.
struct Strings {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    nulls: NullBufferBuilder,
    /// The values passed what 32-bit offsets reach (2 GiB).
    overflow: bool,
}

impl Strings {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            bytes: Vec::with_capacity(bytes),
            nulls: NullBufferBuilder::new(rows),
            overflow: false,
        }
    }

    #[inline]
    fn push_offset(&mut self) {
        match i32::try_from(self.bytes.len()) {
            Ok(end) => self.offsets.push(end),
            Err(_) => {
                self.overflow = true;
                self.offsets.push(i32::MAX);
            }
        }
    }

    #[inline]
    fn append_value(&mut self, v: &[u8]) {
        self.bytes.extend_from_slice(v);
        self.push_offset();
        self.nulls.append_non_null();
    }

    #[inline]
    fn append_null(&mut self) {
        self.push_offset();
        self.nulls.append_null();
    }

    /// Appends `values` (`None` for a null); the validity of each run of valid or null rows
    /// is set at once.
    #[inline(always)]
    fn extend<'a>(&mut self, values: impl Iterator<Item = Option<&'a [u8]>>) {
        let mut run = Run::default();
        for v in values {
            if let Some(v) = v {
                self.bytes.extend_from_slice(v);
            }
            self.push_offset();
            run.push(&mut self.nulls, v.is_some());
        }
        run.end(&mut self.nulls);
    }

    /// The rows appended since the last call; the column starts again empty.
    fn finish(&mut self) -> Result<StringArray, ArrowError> {
        let rows = self.offsets.len() - 1;
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let offsets = std::mem::replace(&mut self.offsets, offsets);
        let capacity = self.bytes.len();
        let bytes = std::mem::replace(&mut self.bytes, Vec::with_capacity(capacity));
        if std::mem::take(&mut self.overflow) {
            return Err(ArrowError::ComputeError(
                "a batch's values of one string column pass 2 GiB".into(),
            ));
        }
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(bytes),
            self.nulls.finish(),
        )
    }
}

/// An all-null array of `data_type` and `rows` rows: a slice of one shared array per type, so
/// the columns a layout lacks (most of the ~70) cost no allocation and no zeroing per batch.
fn nulls(data_type: &arrow::datatypes::DataType, rows: usize) -> ArrayRef {
    static SHARED: std::sync::Mutex<Vec<ArrayRef>> = std::sync::Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let i = match shared.iter().position(|a| a.data_type() == data_type) {
        Some(i) => i,
        None => {
            shared.push(new_null_array(data_type, 0));
            shared.len() - 1
        }
    };
    if shared[i].len() < rows {
        shared[i] = new_null_array(data_type, rows.max(65536));
    }
    shared[i].slice(0, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, Int64Type};
    use vpcflow_format::RecordParser;

    #[test]
    fn builds_canonical_batches() {
        let layout =
            Layout::parse_format("${srcport} ${bytes} ${az-id} ${srcaddr} ${future-thing}")
                .unwrap();
        let parser = RecordParser::new(layout.clone());
        let mut b = FlowBatchBuilder::new(&layout, "f.log".into(), Some("fl-1".into()), 4);
        let mut vals = Vec::new();
        for (n, line) in ["443 100 use1-az1 10.0.0.1 x", "- 5 - 10.0.0.2 -"]
            .iter()
            .enumerate()
        {
            parser.parse(line.as_bytes(), &mut vals).unwrap();
            b.append(&vals, n as u64 + 1);
        }
        let batch = b.finish().unwrap().unwrap();
        assert!(b.finish().unwrap().is_none());
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), b.schema());
        // The canonical schema, with dictionaries of strings for the string columns the
        // layout has, the flow log ID and the source.
        let canonical = flow_schema();
        let schema = batch.schema();
        let dictionaries: Vec<&str> = schema
            .fields()
            .iter()
            .zip(canonical.fields())
            .filter(|(ours, theirs)| {
                assert_eq!(ours.name(), theirs.name());
                assert_eq!(ours.is_nullable(), theirs.is_nullable());
                ours.data_type() != theirs.data_type()
            })
            .map(|(ours, _)| {
                assert_eq!(ours.data_type(), &dictionary_type());
                ours.name().as_str()
            })
            .collect();
        // The addresses stay plain strings.
        assert_eq!(dictionaries, ["az_id", "flow_log_id", "source"]);
        let addresses = batch.column_by_name("srcaddr").unwrap().as_string::<i32>();
        assert_eq!(addresses.value(1), "10.0.0.2");
        let strings = |name: &str| {
            let c = batch.column_by_name(name).unwrap();
            let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>()
        };
        let port = batch
            .column_by_name("srcport")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert_eq!(port.value(0), 443);
        assert!(port.is_null(1));
        let bytes = batch
            .column_by_name("bytes")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(bytes.values(), &[100, 5]);
        assert_eq!(batch.column_by_name("version").unwrap().null_count(), 2);
        assert_eq!(strings("az_id"), [Some("use1-az1".to_string()), None]);
        assert_eq!(
            strings("source"),
            [Some("f.log".to_string()), Some("f.log".to_string())]
        );
        let unknown = batch.column_by_name("unknown_fields").unwrap().as_map();
        let keys = unknown.keys().as_string::<i32>();
        assert_eq!(keys.value(0), "future-thing");
        assert_eq!(unknown.values().as_string::<i32>().value(0), "x");
        assert!(unknown.values().is_null(1));
        let lines = batch
            .column_by_name("source_line")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(lines.values(), &[1, 2]);
        assert_eq!(strings("flow_log_id")[1].as_deref(), Some("fl-1"));
    }

    #[test]
    fn shared_null_columns_have_each_batchs_length() {
        for rows in [3, 70_000, 5] {
            let a = nulls(&arrow::datatypes::DataType::Utf8, rows);
            assert_eq!((a.len(), a.null_count()), (rows, rows));
            let m = nulls(flow_schema().field(FIELDS.len()).data_type(), rows);
            assert_eq!((m.len(), m.null_count()), (rows, rows));
            assert_eq!(m.data_type(), flow_schema().field(FIELDS.len()).data_type());
        }
    }
}
