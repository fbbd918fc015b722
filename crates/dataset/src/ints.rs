//! Encoding of the dataset's integer columns (`Int32` and `Int64`), done here rather than by
//! parquet, as [`crate::strings`] does for the string columns.
//!
//! parquet's writer gives every column chunk a zstd compressor and decompressor of its own
//! (a dozen per file here, each held while the file is open) and, for a dictionary column,
//! interns every row's value and buffers a 64-bit index per row until its page is full. This
//! encoder compresses with the file's one zstd context, compares a value with the row's
//! before it before it hashes, keeps 32-bit keys, and takes a page's minimum and maximum
//! as it goes.
//!
//! The column chunk is what parquet's writer produces for the same settings: a PLAIN
//! dictionary page, then version 1 data pages of RLE / bit-packed keys (or PLAIN pages, for
//! a column without dictionary encoding or once the dictionary passes the writer's
//! dictionary page limit), the chunk's statistics, and its column and offset index.

use crate::pages::{ChunkPages, Levels, PageBody, PageCompressor, PageOrder, bit_width, for_runs};
use arrow::array::{Array, PrimitiveArray};
use arrow::datatypes::ArrowPrimitiveType;
use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnIndexBuilder;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;
use std::hash::BuildHasher;

/// Whether the encoder of this module writes column `descr` under `props`: a flat, optional or
/// required INT32 or INT64 column without a logical type, dictionary-encoded or PLAIN.
pub(crate) fn handles(descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
    matches!(
        descr.physical_type(),
        PhysicalType::INT32 | PhysicalType::INT64
    ) && descr.logical_type_ref().is_none()
        && descr.converted_type() == parquet::basic::ConvertedType::NONE
        && descr.max_rep_level() == 0
        && descr.path().parts().len() == 1
        && props
            .encoding(descr.path())
            .is_none_or(|e| e == Encoding::PLAIN)
}

/// One integer column's chunk in the row group being written. Values are held as `i64`
/// whatever the column's width; an INT32 column's are written as four bytes.
pub(crate) struct IntColumn {
    descr: ColumnDescPtr,
    /// Bytes per value: 4 (INT32) or 8 (INT64).
    width: usize,
    nullable: bool,
    statistics: bool,
    dict_limit: usize,
    page_rows: usize,
    page_bytes: usize,

    dict: IntDictionary,
    /// Dictionary encoding is on for the column.
    dictionary: bool,
    /// The dictionary passed `dict_limit` (or encoding is off): the chunk's later pages are
    /// PLAIN.
    plain: bool,

    // The page being filled.
    levels: Levels,
    keys: Vec<u32>,
    values: Vec<u8>,
    min: Option<i64>,
    max: Option<i64>,

    // The chunk.
    pages: ChunkPages,
    column_index: ColumnIndexBuilder,
    chunk_min: Option<i64>,
    chunk_max: Option<i64>,
    chunk_nulls: u64,
    /// The column index's boundary order.
    order: PageOrder<i64>,
}

impl IntColumn {
    /// An encoder for column `descr` with the page and dictionary limits of `props`.
    pub(crate) fn new(descr: ColumnDescPtr, props: &WriterProperties) -> Self {
        let physical = descr.physical_type();
        let dictionary = props.dictionary_enabled(descr.path());
        Self {
            width: if physical == PhysicalType::INT32 {
                4
            } else {
                8
            },
            nullable: descr.max_def_level() > 0,
            statistics: props.statistics_enabled(descr.path()) != EnabledStatistics::None,
            dict_limit: props.dictionary_page_size_limit(),
            page_rows: props.data_page_row_count_limit().max(1),
            page_bytes: props.data_page_size_limit().max(1),
            dict: IntDictionary::default(),
            dictionary,
            plain: !dictionary,
            levels: Levels::default(),
            keys: Vec::new(),
            values: Vec::new(),
            min: None,
            max: None,
            pages: ChunkPages::default(),
            column_index: ColumnIndexBuilder::new(physical),
            chunk_min: None,
            chunk_max: None,
            chunk_nulls: 0,
            order: PageOrder::default(),
            descr,
        }
    }

    /// Appends `array`'s rows.
    pub(crate) fn write<T>(
        &mut self,
        array: &PrimitiveArray<T>,
        zstd: &mut PageCompressor,
    ) -> Result<()>
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64>,
    {
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        if nulls.is_some() && !self.nullable {
            return Err(ParquetError::General(format!(
                "column {} is required but the batch has nulls",
                self.descr.path()
            )));
        }
        let values = array.values();
        let mut i = 0;
        while i < array.len() {
            if self.levels.rows() == self.page_rows || self.page_size() >= self.page_bytes {
                self.flush_page(zstd)?;
            }
            if !self.plain
                && self.levels.rows() == 0
                && self.dict.len() * self.width > self.dict_limit
            {
                self.plain = true;
            }
            let end = array.len().min(i + (self.page_rows - self.levels.rows()));
            for_runs(
                self,
                nulls,
                i,
                end,
                |c, a, b| {
                    c.push_values(&values[a..b]);
                    Ok(())
                },
                |c, n| c.levels.push_nulls(n),
            )?;
            i = end;
        }
        Ok(())
    }

    /// The size of the page being filled, as parquet's writer estimates it.
    fn page_size(&self) -> usize {
        if self.plain {
            self.values.len()
        } else {
            // Its keys, at the width the dictionary needs now.
            self.keys.len() * usize::from(bit_width(self.dict.len())) / 8
        }
    }

    /// Appends values, none of them null, to the page.
    fn push_values<N: Copy + Into<i64>>(&mut self, values: &[N]) {
        if values.is_empty() {
            return;
        }
        self.levels.push_values(values.len());
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        if self.plain {
            self.values.reserve(values.len() * self.width);
            for &v in values {
                let v: i64 = v.into();
                min = min.min(v);
                max = max.max(v);
                // An INT32 column's values came from `i32`s: their low four bytes are them.
                self.values
                    .extend_from_slice(&v.to_le_bytes()[..self.width]);
            }
        } else {
            self.keys.reserve(values.len());
            // A value equal to the row's before it (an interface's ports, a window's start and
            // end) costs one comparison; only a changed value is looked up.
            let mut prev = None;
            let mut key = 0;
            for &v in values {
                let v: i64 = v.into();
                if prev != Some(v) {
                    key = self.dict.intern(v);
                    prev = Some(v);
                    min = min.min(v);
                    max = max.max(v);
                }
                self.keys.push(key);
            }
        }
        if self.statistics {
            self.min = Some(self.min.map_or(min, |m| m.min(min)));
            self.max = Some(self.max.map_or(max, |m| m.max(max)));
        }
    }

    /// The bytes of `v` as the column stores it (for the column index).
    fn bytes(&self, v: i64) -> Vec<u8> {
        v.to_le_bytes()[..self.width].to_vec()
    }

    fn flush_page(&mut self, zstd: &mut PageCompressor) -> Result<()> {
        let (rows, nulls) = (self.levels.rows(), self.levels.nulls());
        if rows == 0 {
            return Ok(());
        }
        let body = if self.plain {
            PageBody::Plain(&self.values)
        } else {
            PageBody::Keys {
                keys: &self.keys,
                dictionary: self.dict.len(),
            }
        };
        self.pages
            .add(&self.levels, self.nullable, body, None, zstd)?;

        if self.statistics {
            let (min, max) = match (self.min.take(), self.max.take()) {
                (Some(min), Some(max)) => {
                    self.chunk_min = Some(self.chunk_min.map_or(min, |m| m.min(min)));
                    self.chunk_max = Some(self.chunk_max.map_or(max, |m| m.max(max)));
                    self.order.page(min, max);
                    (self.bytes(min), self.bytes(max))
                }
                _ => (Vec::new(), Vec::new()),
            };
            self.column_index
                .append(nulls == rows, min, max, nulls as i64);
        }
        self.chunk_nulls += nulls as u64;
        self.levels.clear();
        self.keys.clear();
        self.values.clear();
        Ok(())
    }

    /// Ends the chunk: its bytes (dictionary page first) and what the row group needs to
    /// append them. The encoder starts a new chunk, with an empty dictionary.
    pub(crate) fn close(
        &mut self,
        zstd: &mut PageCompressor,
    ) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page(zstd)?;
        let plain = self.pages.uses_dictionary().then(|| {
            let mut plain = Vec::with_capacity(self.dict.len() * self.width);
            for &v in &self.dict.values {
                plain.extend_from_slice(&v.to_le_bytes()[..self.width]);
            }
            plain
        });
        let dictionary = plain.as_deref().map(|p| (p, self.dict.len() as u32));
        let written = self.pages.write(&self.descr, dictionary, zstd)?;
        let mut column_index = std::mem::replace(
            &mut self.column_index,
            ColumnIndexBuilder::new(self.descr.physical_type()),
        );
        column_index.set_boundary_order(self.order.take());
        let (min, max, nulls) = (
            self.chunk_min.take(),
            self.chunk_max.take(),
            Some(self.chunk_nulls),
        );
        // As parquet's writer: the deprecated min and max fields too, since a signed
        // integer's order is the one they were defined with.
        let statistics = if self.width == 4 {
            let narrow = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
            Statistics::Int32(
                ValueStatistics::new(narrow(min), narrow(max), None, nulls, false)
                    .with_backwards_compatible_min_max(true),
            )
        } else {
            Statistics::Int64(
                ValueStatistics::new(min, max, None, nulls, false)
                    .with_backwards_compatible_min_max(true),
            )
        };
        self.dict.clear();
        self.plain = !self.dictionary;
        self.chunk_nulls = 0;
        written.finish(self.statistics.then_some((statistics, column_index)))
    }
}

/// A column chunk's distinct values, each with its key: its place in the dictionary page.
#[derive(Default)]
struct IntDictionary {
    hasher: FixedState,
    table: HashTable<u32>,
    values: Vec<i64>,
}

impl IntDictionary {
    fn len(&self) -> usize {
        self.values.len()
    }

    /// The key of `v`, added if new.
    fn intern(&mut self, v: i64) -> u32 {
        let hash = self.hasher.hash_one(v);
        let values = &self.values;
        if let Some(&k) = self.table.find(hash, |&k| values[k as usize] == v) {
            return k;
        }
        let k = self.values.len() as u32;
        self.values.push(v);
        let (values, hasher) = (&self.values, &self.hasher);
        self.table
            .insert_unique(hash, k, |&k| hasher.hash_one(values[k as usize]));
        k
    }

    fn clear(&mut self) {
        self.table.clear();
        self.values.clear();
    }
}
