//! One Parquet file of the dataset: parquet's Arrow column writers for every column but the
//! flat string and integer columns, which [`crate::strings`] and [`crate::ints`] encode.

use crate::ints::IntColumn;
use crate::pages::PageCompressor;
use crate::strings::StringColumn;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::Compression;
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::io::Write;
use std::sync::Arc;

/// How a top-level field of the schema is written.
#[derive(Clone, Copy)]
enum Plan {
    /// By the string encoder of this index, into leaf `leaf`.
    Strings { encoder: usize, leaf: usize },
    /// By the integer encoder of this index, into leaf `leaf`.
    Ints { encoder: usize, leaf: usize },
    /// By parquet's writers of leaves `first..first + count`.
    Arrow { first: usize, count: usize },
}

/// Writes record batches of one schema into a Parquet file, like parquet's `ArrowWriter` with
/// the same properties, but for the string and integer columns' encoding.
pub struct FlowFileWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    plan: Vec<Plan>,
    strings: Vec<StringColumn>,
    ints: Vec<IntColumn>,
    /// parquet's writer of every leaf (in schema order) for the open row group; `None` while
    /// no row group is open. The string leaves' writers are created too, and left unused.
    arrow: Option<Vec<ArrowColumnWriter>>,
    zstd: PageCompressor,
    rows: usize,
    max_rows: usize,
}

impl<W: Write + Send> FlowFileWriter<W> {
    /// A writer of batches of `schema` into `sink` with `props`.
    pub fn try_new(sink: W, schema: SchemaRef, mut props: WriterProperties) -> Result<Self> {
        let descr = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let level = match props.compression(&parquet::schema::types::ColumnPath::new(vec![])) {
            Compression::ZSTD(l) => l.compression_level(),
            _ => 1,
        };
        let mut plan = Vec::with_capacity(schema.fields().len());
        let mut strings = Vec::new();
        let mut ints = Vec::new();
        let mut own = Vec::new();
        let mut leaf = 0;
        for (i, field) in schema.fields().iter().enumerate() {
            let count = (leaf..descr.num_columns())
                .take_while(|&l| descr.get_column_root_idx(l) == i)
                .count();
            let column = descr.column(leaf);
            let integer = matches!(field.data_type(), DataType::Int32 | DataType::Int64);
            if count == 1
                && field.data_type() == &DataType::Utf8
                && crate::strings::handles(&column, &props)
            {
                plan.push(Plan::Strings {
                    encoder: strings.len(),
                    leaf,
                });
                own.push(column.path().clone());
                strings.push(StringColumn::new(column, &props));
            } else if count == 1 && integer && crate::ints::handles(&column, &props) {
                plan.push(Plan::Ints {
                    encoder: ints.len(),
                    leaf,
                });
                own.push(column.path().clone());
                ints.push(IntColumn::new(column, &props));
            } else {
                plan.push(Plan::Arrow { first: leaf, count });
            }
            leaf += count;
        }
        // parquet's factory makes a writer for every leaf, the leaves encoded here too, which
        // stay unused; uncompressed, they do not each make a zstd compressor and decompressor.
        let props = own
            .into_iter()
            .fold(props.into_builder(), |b, path| {
                b.set_column_compression(path, Compression::UNCOMPRESSED)
            })
            .build();
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let props = Arc::new(props);
        let writer = SerializedFileWriter::new(sink, descr.root_schema_ptr(), props)?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        Ok(Self {
            writer,
            factory,
            schema,
            plan,
            strings,
            ints,
            arrow: None,
            zstd: PageCompressor::new(level)?,
            rows: 0,
            max_rows,
        })
    }

    /// Rows in the row group not yet written out.
    pub fn in_progress_rows(&self) -> usize {
        self.rows
    }

    /// Appends `batch`, whose schema must be the writer's.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.num_columns() != self.plan.len() {
            return Err(ParquetError::General(format!(
                "a batch of {} columns for a schema of {}",
                batch.num_columns(),
                self.plan.len()
            )));
        }
        let room = self.max_rows - self.rows;
        if batch.num_rows() > room {
            self.write(&batch.slice(0, room))?;
            return self.write(&batch.slice(room, batch.num_rows() - room));
        }
        if self.arrow.is_none() {
            let index = self.writer.flushed_row_groups().len();
            self.arrow = Some(self.factory.create_column_writers(index)?);
        }
        let Some(writers) = self.arrow.as_mut() else {
            return Err(ParquetError::General("no row group open".into()));
        };
        for ((plan, field), column) in self
            .plan
            .iter()
            .zip(self.schema.fields())
            .zip(batch.columns())
        {
            match *plan {
                Plan::Strings { encoder, .. } => {
                    let encoder = &mut self.strings[encoder];
                    if let Some(strings) = column.as_string_opt::<i32>() {
                        encoder.write(strings, &mut self.zstd)?;
                    } else if let Some(dict) = column.as_dictionary_opt::<Int32Type>()
                        && let Some(values) = dict.values().as_string_opt::<i32>()
                        && values.null_count() == 0
                    {
                        encoder.write_dictionary(dict, values, &mut self.zstd)?;
                    } else {
                        // Any other string type (views, large strings, other dictionaries).
                        let cast = arrow::compute::cast(column, &DataType::Utf8).map_err(|e| {
                            ParquetError::General(format!(
                                "column {} is {}, not strings: {e}",
                                field.name(),
                                column.data_type()
                            ))
                        })?;
                        encoder.write(cast.as_string::<i32>(), &mut self.zstd)?;
                    }
                }
                Plan::Ints { encoder, .. } => {
                    let encoder = &mut self.ints[encoder];
                    if let Some(a) = column.as_primitive_opt::<Int32Type>() {
                        encoder.write(a, &mut self.zstd)?;
                    } else if let Some(a) = column.as_primitive_opt::<Int64Type>() {
                        encoder.write(a, &mut self.zstd)?;
                    } else {
                        return Err(ParquetError::General(format!(
                            "column {} is {}, not {}",
                            field.name(),
                            column.data_type(),
                            field.data_type()
                        )));
                    }
                }
                Plan::Arrow { first, count } => {
                    let leaves = compute_leaves(field, column)?;
                    if leaves.len() != count {
                        return Err(ParquetError::General(format!(
                            "column {} has {} leaves, the schema {count}",
                            field.name(),
                            leaves.len()
                        )));
                    }
                    for (writer, leaf) in writers[first..first + count].iter_mut().zip(&leaves) {
                        writer.write(leaf)?;
                    }
                }
            }
        }
        self.rows += batch.num_rows();
        if self.rows >= self.max_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out the open row group, if it has rows.
    pub fn flush(&mut self) -> Result<()> {
        let Some(writers) = self.arrow.take() else {
            return Ok(());
        };
        if self.rows == 0 {
            return Ok(());
        }
        let mut writers: Vec<Option<ArrowColumnWriter>> = writers.into_iter().map(Some).collect();
        let mut group = self.writer.next_row_group()?;
        for plan in &self.plan {
            match *plan {
                Plan::Strings { encoder, leaf } => {
                    writers[leaf] = None;
                    let (bytes, close) = self.strings[encoder].close(&mut self.zstd)?;
                    group.append_column(&bytes, close)?;
                }
                Plan::Ints { encoder, leaf } => {
                    writers[leaf] = None;
                    let (bytes, close) = self.ints[encoder].close(&mut self.zstd)?;
                    group.append_column(&bytes, close)?;
                }
                Plan::Arrow { first, count } => {
                    for w in &mut writers[first..first + count] {
                        if let Some(w) = w.take() {
                            w.close()?.append_to_row_group(&mut group)?;
                        }
                    }
                }
            }
        }
        group.close()?;
        self.rows = 0;
        Ok(())
    }

    /// Writes out the open row group and the footer, and returns the sink.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
    use arrow::compute::concat_batches;
    use arrow::datatypes::{Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::Encoding;
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
    use parquet::file::page_index::column_index::ColumnIndexMetaData;
    use parquet::file::statistics::Statistics;

    const ROWS: usize = 2000;

    /// Interface-like IDs in runs, with nulls; addresses that are all distinct; a constant
    /// required column; a map column of two leaves; an all-null column. Integers: a required
    /// column of distinct values (its dictionary gives way), a port-like column in runs with
    /// nulls and a negative value, a bytes-like one without dictionary encoding (as the
    /// dataset's `bytes`), and an all-null one.
    fn batch() -> RecordBatch {
        let eni: StringArray = (0..ROWS)
            .map(|i| (i % 17 != 0).then(|| format!("eni-{:03}", (i / 5) % 40)))
            .collect();
        let addr: StringArray = (0..ROWS)
            .map(|i| Some(format!("10.{}.{}.{}", i % 7, i % 256, i / 256)))
            .collect();
        let src: StringArray = (0..ROWS).map(|_| Some("s3://b/k-é.log.gz")).collect();
        let empty: StringArray = (0..ROWS).map(|_| None::<&str>).collect();
        let n: Int64Array = (0..ROWS as i64).collect();
        let port: Int32Array = (0..ROWS)
            .map(|i| (i % 13 != 0).then(|| [443, 80, -22, 8080, 0][(i / 7) % 5]))
            .collect();
        let bytes: Int64Array = (0..ROWS as i64)
            .map(|i| (i % 29 != 0).then(|| (i * 7919) % 100_003 - 300))
            .collect();
        let absent: Int32Array = (0..ROWS).map(|_| None::<i32>).collect();
        let falling: StringArray = (0..ROWS)
            .map(|i| (i % 11 != 0).then(|| format!("host-{:05}", ROWS - i)))
            .collect();
        let mut map = arrow::array::MapBuilder::new(
            None,
            arrow::array::StringBuilder::new(),
            arrow::array::StringBuilder::new(),
        );
        for i in 0..ROWS {
            if i % 3 == 0 {
                map.keys().append_value("k");
                map.values().append_value(format!("v{}", i % 5));
            }
            map.append(i % 2 == 0).expect("map entry");
        }
        let map = map.finish();
        let fields = vec![
            Field::new("interface_id", DataType::Utf8, true),
            Field::new("unknown", map.data_type().clone(), true),
            Field::new("n", DataType::Int64, false),
            Field::new("srcaddr", DataType::Utf8, true),
            Field::new("empty", DataType::Utf8, true),
            Field::new("source", DataType::Utf8, false),
            Field::new("port", DataType::Int32, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("absent", DataType::Int32, true),
            Field::new("falling", DataType::Utf8, true),
        ];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(eni),
            Arc::new(map),
            Arc::new(n),
            Arc::new(addr),
            Arc::new(empty),
            Arc::new(src),
            Arc::new(port),
            Arc::new(bytes),
            Arc::new(absent),
            Arc::new(falling),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
    }

    /// Small pages, a small dictionary limit and row groups of 700 rows, so that the data
    /// crosses every boundary; no statistics for the addresses, as in the dataset.
    fn props() -> WriterProperties {
        crate::writer::writer_properties()
            .into_builder()
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_dictionary_page_size_limit(2000)
            .set_max_row_group_row_count(Some(700))
            .build()
    }

    fn write_ours(batch: &RecordBatch) -> Bytes {
        write_as(batch, batch.schema())
    }

    /// `batch` written into a file of `schema`, in slices of 333 rows.
    fn write_as(batch: &RecordBatch, schema: SchemaRef) -> Bytes {
        let mut out = Vec::new();
        let mut w = FlowFileWriter::try_new(&mut out, schema, props()).expect("writer");
        let mut at = 0;
        while at < batch.num_rows() {
            let len = 333.min(batch.num_rows() - at);
            w.write(&batch.slice(at, len)).expect("write");
            at += len;
        }
        w.into_inner().expect("close");
        Bytes::from(out)
    }

    fn write_parquets(batch: &RecordBatch) -> Bytes {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props())).expect("w");
        w.write(batch).expect("write");
        w.close().expect("close");
        Bytes::from(out)
    }

    fn read(file: &Bytes) -> (RecordBatch, Arc<ParquetMetaData>) {
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file.clone(), options)
            .expect("reader");
        let meta = builder.metadata().clone();
        let schema = builder.schema().clone();
        let batches: Vec<RecordBatch> = builder
            .build()
            .expect("reader")
            .collect::<std::result::Result<_, _>>()
            .expect("batches");
        (concat_batches(&schema, &batches).expect("concat"), meta)
    }

    #[test]
    fn reads_back_what_was_written() {
        let batch = batch();
        let (back, meta) = read(&write_ours(&batch));
        for (i, (a, b)) in back.columns().iter().zip(batch.columns()).enumerate() {
            if a != b {
                let first = (0..a.len()).find(|&r| a.slice(r, 1) != b.slice(r, 1));
                panic!("column {i} differs first at row {first:?}");
            }
        }
        assert_eq!(back, batch);
        let sizes: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(sizes, vec![700, 700, 600]);
    }

    /// `batch` with each string column replaced by `f` of it.
    fn retyped(batch: &RecordBatch, f: impl Fn(&StringArray) -> ArrayRef) -> RecordBatch {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| c.as_string_opt::<i32>().map_or_else(|| c.clone(), &f))
            .collect();
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
    }

    /// A dictionary of `strings`' distinct values in descending order (so that its keys are
    /// not the chunk's, which follow first appearance), and an unused entry.
    fn dictionary(strings: &StringArray) -> ArrayRef {
        let mut distinct: Vec<&str> = strings.iter().flatten().collect();
        distinct.push("unused");
        distinct.sort_unstable_by(|a, b| b.cmp(a));
        distinct.dedup();
        let keys: arrow::array::Int32Array = strings
            .iter()
            .map(|v| v.map(|v| distinct.iter().position(|d| *d == v).expect("in") as i32))
            .collect();
        let values = Arc::new(StringArray::from(distinct));
        Arc::new(arrow::array::DictionaryArray::<Int32Type>::new(
            keys, values,
        ))
    }

    #[test]
    fn dictionaries_and_views_of_strings_give_the_same_file() {
        let batch = batch();
        let file = write_ours(&batch);
        let dictionaries = retyped(&batch, dictionary);
        assert!(matches!(
            dictionaries.column(0).data_type(),
            DataType::Dictionary(..)
        ));
        assert!(write_as(&dictionaries, batch.schema()) == file);
        let views = retyped(&batch, |s| {
            Arc::new(arrow::array::StringViewArray::from_iter(s.iter()))
        });
        assert!(write_as(&views, batch.schema()) == file);
    }

    #[test]
    fn chunk_statistics_are_parquets() {
        let batch = batch();
        let (_, ours) = read(&write_ours(&batch));
        let (_, theirs) = read(&write_parquets(&batch));
        for (g, (a, b)) in ours
            .row_groups()
            .iter()
            .zip(theirs.row_groups())
            .enumerate()
        {
            for (x, y) in a.columns().iter().zip(b.columns()) {
                let name = x.column_path().string();
                assert_eq!(x.num_values(), y.num_values(), "{name} in group {g}");
                assert_eq!(x.statistics(), y.statistics(), "{name} in group {g}");
                assert_eq!(
                    x.unencoded_byte_array_data_bytes(),
                    y.unencoded_byte_array_data_bytes(),
                    "{name} in group {g}"
                );
            }
        }
        // The statistics compared are real: the interface IDs' first group.
        let stats = ours.row_groups()[0].column(0).statistics().cloned();
        let Some(Statistics::ByteArray(s)) = stats else {
            panic!("no statistics: {stats:?}");
        };
        assert_eq!(s.min_opt().map(|v| v.data()), Some(&b"eni-000"[..]));
        assert_eq!(s.max_opt().map(|v| v.data()), Some(&b"eni-039"[..]));
        // Rows 0, 17, ..., 697 are null: 42 of the first 700.
        assert_eq!(s.null_count_opt(), Some(42));
        assert!(ours.row_groups()[0].column(4).statistics().is_none());
    }

    #[test]
    fn pages_hold_their_rows_minimum_and_maximum() {
        let batch = batch();
        let (_, meta) = read(&write_ours(&batch));
        let eni = batch.column(0).as_string::<i32>();
        let (Some(columns), Some(offsets)) = (meta.column_index(), meta.offset_index()) else {
            panic!("no page index");
        };
        let mut base = 0usize;
        for (g, group) in meta.row_groups().iter().enumerate() {
            let rows = group.num_rows() as usize;
            let ColumnIndexMetaData::BYTE_ARRAY(index) = &columns[g][0] else {
                panic!("interface_id's index: {:?}", columns[g][0]);
            };
            let pages = &offsets[g][0].page_locations;
            assert_eq!(pages.len(), rows.div_ceil(100));
            let page_bytes = offsets[g][0].unencoded_byte_array_data_bytes.as_ref();
            assert_eq!(
                page_bytes.map(|b| b.iter().sum::<i64>()),
                group.column(0).unencoded_byte_array_data_bytes()
            );
            for (p, page) in pages.iter().enumerate() {
                let first = base + page.first_row_index as usize;
                let end = pages
                    .get(p + 1)
                    .map_or(base + rows, |n| base + n.first_row_index as usize);
                let values: Vec<&str> = (first..end)
                    .filter(|&i| eni.is_valid(i))
                    .map(|i| eni.value(i))
                    .collect();
                let min = values.iter().min().map(|v| v.as_bytes());
                let max = values.iter().max().map(|v| v.as_bytes());
                assert_eq!(index.min_value(p), min, "group {g} page {p}");
                assert_eq!(index.max_value(p), max, "group {g} page {p}");
                assert_eq!(
                    index.null_count(p),
                    Some((end - first - values.len()) as i64)
                );
            }
            base += rows;
        }
    }

    /// What an integer column's index says of its pages (but parquet's optional level
    /// histograms): boundary order, null counts, null pages, minima and maxima.
    #[allow(clippy::type_complexity)]
    fn int_index(
        c: &ColumnIndexMetaData,
    ) -> (
        Option<parquet::basic::BoundaryOrder>,
        Option<Vec<i64>>,
        Vec<bool>,
        Vec<Option<i64>>,
        Vec<Option<i64>>,
    ) {
        let pages = (0..c.num_pages() as usize)
            .map(|p| c.is_null_page(p))
            .collect();
        let (min, max) = match c {
            ColumnIndexMetaData::INT32(i) => (
                i.min_values_iter()
                    .map(|v| v.map(|v| i64::from(*v)))
                    .collect(),
                i.max_values_iter()
                    .map(|v| v.map(|v| i64::from(*v)))
                    .collect(),
            ),
            ColumnIndexMetaData::INT64(i) => (
                i.min_values_iter().map(|v| v.copied()).collect(),
                i.max_values_iter().map(|v| v.copied()).collect(),
            ),
            other => panic!("not an integer column's index: {other:?}"),
        };
        (
            c.get_boundary_order(),
            c.null_counts().cloned(),
            pages,
            min,
            max,
        )
    }

    /// The test batch's file as written here and by parquet's `ArrowWriter`: their
    /// metadata, both with their page index.
    fn both_files() -> (Arc<ParquetMetaData>, Arc<ParquetMetaData>) {
        let batch = batch();
        let (_, ours) = read(&write_ours(&batch));
        let (_, theirs) = read(&write_parquets(&batch));
        assert!(ours.column_index().is_some() && theirs.column_index().is_some());
        (ours, theirs)
    }

    #[test]
    fn string_columns_have_parquets_boundary_order() {
        let (ours, theirs) = both_files();
        let (Some(a), Some(b)) = (ours.column_index(), theirs.column_index()) else {
            panic!("no column index");
        };
        let order = |c: &ColumnIndexMetaData| c.get_boundary_order();
        for g in 0..ours.num_row_groups() {
            // interface_id, empty, source and falling.
            for leaf in [0, 5, 6, 10] {
                assert_eq!(
                    order(&a[g][leaf]),
                    order(&b[g][leaf]),
                    "leaf {leaf} of group {g}"
                );
            }
        }
        // The orders compared are each kind: the interface IDs' pages go up and down, the
        // source is one value, the all-null column has no values, and `falling` falls.
        use parquet::basic::BoundaryOrder::{ASCENDING, DESCENDING, UNORDERED};
        assert_eq!(
            [0, 5, 6, 10].map(|leaf| order(&a[0][leaf])),
            [
                Some(UNORDERED),
                Some(ASCENDING),
                Some(ASCENDING),
                Some(DESCENDING)
            ]
        );
    }

    #[test]
    fn integer_columns_have_parquets_page_index() {
        let (ours, theirs) = both_files();
        let (Some(a), Some(b)) = (ours.column_index(), theirs.column_index()) else {
            panic!("no column index");
        };
        let (Some(ao), Some(bo)) = (ours.offset_index(), theirs.offset_index()) else {
            panic!("no offset index");
        };
        for g in 0..ours.num_row_groups() {
            // n, port, bytes and absent.
            for leaf in [3, 7, 8, 9] {
                assert_eq!(
                    int_index(&a[g][leaf]),
                    int_index(&b[g][leaf]),
                    "leaf {leaf} of group {g}"
                );
                let rows = |o: &parquet::file::page_index::offset_index::OffsetIndexMetaData| {
                    o.page_locations
                        .iter()
                        .map(|p| p.first_row_index)
                        .collect::<Vec<_>>()
                };
                assert_eq!(rows(&ao[g][leaf]), rows(&bo[g][leaf]), "leaf {leaf}");
                let (x, y) = (
                    ours.row_group(g).column(leaf),
                    theirs.row_group(g).column(leaf),
                );
                assert_eq!(x.encodings_mask(), y.encodings_mask(), "leaf {leaf}");
                assert_eq!(x.compression(), y.compression(), "leaf {leaf}");
            }
        }
        // The index compared is real: the ports of the first page (rows 0-99) are 443, 80,
        // -22, 8080 and 0, with rows 0, 13, ..., 91 null.
        let ColumnIndexMetaData::INT32(port) = &a[0][7] else {
            panic!("port's index: {:?}", a[0][7]);
        };
        assert_eq!(port.min_value(0), Some(&-22));
        assert_eq!(port.max_value(0), Some(&8080));
        assert_eq!(port.null_count(0), Some(8));
    }

    #[test]
    fn a_dictionary_past_its_limit_gives_way_to_plain_pages() {
        let batch = batch();
        let (_, meta) = read(&write_ours(&batch));
        // The reader reduces each chunk's page encoding statistics to the set of its data
        // pages' encodings.
        let data_pages = |c: usize| {
            *meta.row_groups()[0]
                .column(c)
                .page_encoding_stats_mask()
                .expect("page encoding statistics")
        };
        let addr = data_pages(4);
        assert!(addr.is_set(Encoding::RLE_DICTIONARY) && addr.is_set(Encoding::PLAIN));
        // So does the integer column of distinct values; the five ports fit.
        let n = data_pages(3);
        assert!(n.is_set(Encoding::RLE_DICTIONARY) && n.is_set(Encoding::PLAIN));
        assert!(data_pages(7).is_only(Encoding::RLE_DICTIONARY));
        // Without dictionary encoding, no dictionary page.
        assert!(data_pages(8).is_only(Encoding::PLAIN));
        assert!(
            meta.row_groups()[0]
                .column(8)
                .dictionary_page_offset()
                .is_none()
        );
        // 40 interface IDs fit the dictionary: every data page indexes it.
        assert!(data_pages(0).is_only(Encoding::RLE_DICTIONARY));
        assert!(
            meta.row_groups()[0]
                .column(0)
                .dictionary_page_offset()
                .is_some()
        );
    }
}
