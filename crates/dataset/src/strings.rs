//! Dictionary encoding of the dataset's string columns, done here rather than by parquet.
//!
//! parquet's Arrow writer interns every row's string in a hash table and compares it with the
//! page's minimum and maximum, for every string column, even where the value repeats the row
//! before (`action`, `log_status`, `type`, the `-` of unused fields) or is one of a thousand
//! interface IDs. On the realistic bench data that was about a third of the ingest's CPU. This
//! encoder keeps the previous row's dictionary key and compares with it first, hashes only a
//! value that changed, finds a page's minimum and maximum among its distinct keys, and
//! compresses all string columns of a file with one zstd context.
//!
//! The column chunk it produces is what parquet's writer produces for the same settings: a
//! PLAIN dictionary page, then version 1 data pages of RLE / bit-packed dictionary keys, the
//! chunk's statistics, and its column and offset index. When the dictionary passes the
//! writer's dictionary page limit, the chunk's remaining pages are PLAIN, as parquet does.

use crate::pages::{ChunkPages, Levels, PageBody, PageCompressor, PageOrder, for_runs};
use arrow::array::{Array, DictionaryArray, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::Int32Type;
use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnIndexBuilder;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;
use std::hash::BuildHasher;
use vpcflow_arrow::same_bytes;

/// One string column's chunk in the row group being written.
pub(crate) struct StringColumn {
    descr: ColumnDescPtr,
    nullable: bool,
    statistics: bool,
    dict_limit: usize,
    page_rows: usize,
    page_bytes: usize,

    dict: Dictionary,
    /// For the batch being written, when it is a dictionary: the chunk's key of each of its
    /// entries (`u32::MAX` where not met yet).
    remap: Vec<u32>,
    /// Dictionary encoding is on for the column.
    dictionary: bool,
    /// The dictionary passed `dict_limit`: the chunk's later pages are PLAIN.
    plain: bool,

    // The page being filled.
    levels: Levels,
    keys: Vec<u32>,
    values: Vec<u8>,
    seen: Vec<u64>,
    value_bytes: i64,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,

    // The chunk.
    pages: ChunkPages,
    column_index: ColumnIndexBuilder,
    chunk_min: Option<Vec<u8>>,
    chunk_max: Option<Vec<u8>>,
    chunk_nulls: u64,
    /// The column index's boundary order.
    order: PageOrder<Vec<u8>>,
}

/// Whether the encoder of this module writes column `descr` under `props`: a flat, optional or
/// required byte-array column, dictionary-encoded or PLAIN (parquet's default for it).
pub(crate) fn handles(descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
    descr.physical_type() == PhysicalType::BYTE_ARRAY
        && descr.max_rep_level() == 0
        && descr.path().parts().len() == 1
        && props
            .encoding(descr.path())
            .is_none_or(|e| e == Encoding::PLAIN)
}

impl StringColumn {
    /// An encoder for column `descr` with the page and dictionary limits of `props`.
    pub(crate) fn new(descr: ColumnDescPtr, props: &WriterProperties) -> Self {
        let statistics = props.statistics_enabled(descr.path()) != EnabledStatistics::None;
        Self {
            nullable: descr.max_def_level() > 0,
            statistics,
            dict_limit: props.dictionary_page_size_limit(),
            page_rows: props.data_page_row_count_limit().max(1),
            page_bytes: props.data_page_size_limit().max(1),
            dict: Dictionary::default(),
            remap: Vec::new(),
            dictionary: props.dictionary_enabled(descr.path()),
            plain: !props.dictionary_enabled(descr.path()),
            levels: Levels::default(),
            keys: Vec::new(),
            values: Vec::new(),
            seen: Vec::new(),
            value_bytes: 0,
            min: None,
            max: None,
            pages: ChunkPages::default(),
            column_index: ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
            chunk_min: None,
            chunk_max: None,
            chunk_nulls: 0,
            order: PageOrder::default(),
            descr,
        }
    }

    /// Appends `array`'s rows.
    pub(crate) fn write(&mut self, array: &StringArray, zstd: &mut PageCompressor) -> Result<()> {
        let rows = Rows::Strings {
            offsets: array.value_offsets(),
            data: array.value_data(),
        };
        self.write_rows(rows, array.nulls(), array.len(), zstd)
    }

    /// Appends the rows of `array`, a dictionary of strings (what the text decoder builds).
    /// Each of the batch's keys is looked up in the chunk's dictionary once, where it first
    /// appears; a row whose key is the row's before costs one comparison of integers.
    pub(crate) fn write_dictionary(
        &mut self,
        array: &DictionaryArray<Int32Type>,
        values: &StringArray,
        zstd: &mut PageCompressor,
    ) -> Result<()> {
        let mut remap = std::mem::take(&mut self.remap);
        remap.clear();
        remap.resize(values.len(), u32::MAX);
        let rows = Rows::Dictionary {
            keys: array.keys().values(),
            offsets: values.value_offsets(),
            data: values.value_data(),
            remap: &mut remap,
        };
        let r = self.write_rows(rows, array.keys().nulls(), array.len(), zstd);
        self.remap = remap;
        r
    }

    fn write_rows(
        &mut self,
        mut rows: Rows<'_>,
        nulls: Option<&NullBuffer>,
        len: usize,
        zstd: &mut PageCompressor,
    ) -> Result<()> {
        let nulls = nulls.filter(|n| n.null_count() > 0);
        if nulls.is_some() && !self.nullable {
            return Err(ParquetError::General(format!(
                "column {} is required but the batch has nulls",
                self.descr.path()
            )));
        }
        let mut i = 0;
        while i < len {
            if self.levels.rows() == self.page_rows || self.values.len() >= self.page_bytes {
                self.flush_page(zstd)?;
            }
            if !self.plain && self.levels.rows() == 0 && self.dict.page_len > self.dict_limit {
                self.plain = true;
            }
            let end = len.min(i + (self.page_rows - self.levels.rows()));
            for_runs(
                self,
                nulls,
                i,
                end,
                |c, a, b| c.push_values(&mut rows, a, b),
                |c, n| c.levels.push_nulls(n),
            )?;
            i = end;
        }
        Ok(())
    }

    /// Appends rows `start..end`, none of them null, to the page.
    fn push_values(&mut self, rows: &mut Rows<'_>, start: usize, end: usize) -> Result<()> {
        if start == end {
            return Ok(());
        }
        let bytes = if self.plain {
            let mut bytes = 0;
            for row in start..end {
                let v = rows.value(row)?;
                bytes += v.len();
                self.values
                    .extend_from_slice(&(v.len() as u32).to_le_bytes());
                self.values.extend_from_slice(v);
                if self.statistics {
                    update_min_max(&mut self.min, &mut self.max, v);
                }
            }
            bytes
        } else {
            match rows {
                Rows::Strings { offsets, data } => self.push_keys(offsets, data, start, end),
                Rows::Dictionary {
                    keys,
                    offsets,
                    data,
                    remap,
                } => self.push_dictionary_keys(&keys[start..end], offsets, data, remap)?,
            }
        };
        self.levels.push_values(end - start);
        self.value_bytes += bytes as i64;
        Ok(())
    }

    /// Appends the keys of rows `start..end` to the page, and returns their values' bytes.
    /// A value equal to the row's before it (in an interface's records, most values are)
    /// costs one comparison; only a changed value is looked up. Each run's first value is
    /// looked up, so that every key of the page is marked for its minimum and maximum.
    fn push_keys(&mut self, offsets: &[i32], data: &[u8], start: usize, end: usize) -> usize {
        self.keys.reserve(end - start);
        let mut prev: &[u8] = &[];
        let mut key = None;
        for row in start..end {
            let v = &data[offsets[row] as usize..offsets[row + 1] as usize];
            let k = match key {
                Some(k) if same_bytes(v, prev) => k,
                _ => {
                    let k = self.dict.intern(v);
                    if self.statistics {
                        mark(&mut self.seen, k);
                    }
                    prev = v;
                    key = Some(k);
                    k
                }
            };
            self.keys.push(k);
        }
        (offsets[end] - offsets[start]) as usize
    }

    /// [`push_keys`](Self::push_keys) for rows given as keys into a batch's dictionary
    /// (`offsets` and `data`): `remap` holds the chunk's key of each batch key met so far.
    fn push_dictionary_keys(
        &mut self,
        batch_keys: &[i32],
        offsets: &[i32],
        data: &[u8],
        remap: &mut [u32],
    ) -> Result<usize> {
        self.keys.reserve(batch_keys.len());
        let mut bytes = 0;
        let mut prev = -1;
        let mut key = 0;
        for &bk in batch_keys {
            if bk != prev {
                let slot = usize::try_from(bk)
                    .ok()
                    .and_then(|i| remap.get_mut(i))
                    .ok_or_else(|| bad_key(bk))?;
                if *slot == u32::MAX {
                    *slot = self.dict.intern(dictionary_value(offsets, data, bk)?);
                }
                key = *slot;
                if self.statistics {
                    mark(&mut self.seen, key);
                }
                prev = bk;
            }
            // In bounds: the key was checked when it first appeared in the run.
            let i = bk as usize;
            bytes += (offsets[i + 1] - offsets[i]) as usize;
            self.keys.push(key);
        }
        Ok(bytes)
    }

    fn flush_page(&mut self, zstd: &mut PageCompressor) -> Result<()> {
        let (rows, nulls) = (self.levels.rows(), self.levels.nulls());
        if rows == 0 {
            return Ok(());
        }
        let body = if self.plain {
            PageBody::Plain(&self.values)
        } else {
            if self.statistics {
                for (w, word) in self.seen.iter_mut().enumerate() {
                    let mut bits = *word;
                    while bits != 0 {
                        let k = (w as u32) * 64 + bits.trailing_zeros();
                        bits &= bits - 1;
                        update_min_max(&mut self.min, &mut self.max, self.dict.value(k));
                    }
                    *word = 0;
                }
            }
            PageBody::Keys {
                keys: &self.keys,
                dictionary: self.dict.len(),
            }
        };
        let value_bytes = Some(self.value_bytes);
        self.pages
            .add(&self.levels, self.nullable, body, value_bytes, zstd)?;

        if self.statistics {
            let null_page = nulls == rows;
            let (min, max) = match (self.min.take(), self.max.take()) {
                (Some(min), Some(max)) => {
                    if self.chunk_min.as_ref().is_none_or(|m| min < *m) {
                        self.chunk_min = Some(min.clone());
                    }
                    if self.chunk_max.as_ref().is_none_or(|m| max > *m) {
                        self.chunk_max = Some(max.clone());
                    }
                    self.order.page(min.clone(), max.clone());
                    (min, max)
                }
                _ => (Vec::new(), Vec::new()),
            };
            self.column_index.append(null_page, min, max, nulls as i64);
        }
        self.chunk_nulls += nulls as u64;
        self.levels.clear();
        self.keys.clear();
        self.values.clear();
        self.value_bytes = 0;
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
            let mut plain = Vec::with_capacity(self.dict.page_len);
            for k in 0..self.dict.len() as u32 {
                let v = self.dict.value(k);
                plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
                plain.extend_from_slice(v);
            }
            plain
        });
        let dictionary = plain.as_deref().map(|p| (p, self.dict.len() as u32));
        let written = self.pages.write(&self.descr, dictionary, zstd)?;
        let mut column_index = std::mem::replace(
            &mut self.column_index,
            ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
        );
        column_index.set_boundary_order(self.order.take());
        let statistics = ValueStatistics::<ByteArray>::new(
            self.chunk_min.take().map(ByteArray::from),
            self.chunk_max.take().map(ByteArray::from),
            None,
            Some(self.chunk_nulls),
            false,
        )
        .with_backwards_compatible_min_max(false);
        self.dict.clear();
        self.plain = !self.dictionary;
        self.seen.clear();
        self.chunk_nulls = 0;
        written.finish(
            self.statistics
                .then_some((Statistics::ByteArray(statistics), column_index)),
        )
    }
}

/// The rows of one batch's string column.
enum Rows<'a> {
    /// A string array's values.
    Strings { offsets: &'a [i32], data: &'a [u8] },
    /// Keys into a dictionary of strings (`offsets` and `data`), and for each dictionary
    /// entry met so far the chunk's key of its value (`u32::MAX` before).
    Dictionary {
        keys: &'a [i32],
        offsets: &'a [i32],
        data: &'a [u8],
        remap: &'a mut [u32],
    },
}

impl<'a> Rows<'a> {
    /// The value of non-null row `row`.
    fn value(&self, row: usize) -> Result<&'a [u8]> {
        match *self {
            Rows::Strings { offsets, data } => {
                Ok(&data[offsets[row] as usize..offsets[row + 1] as usize])
            }
            Rows::Dictionary {
                keys,
                offsets,
                data,
                ..
            } => dictionary_value(offsets, data, keys[row]),
        }
    }
}

/// Entry `key` of a dictionary of strings.
fn dictionary_value<'a>(offsets: &[i32], data: &'a [u8], key: i32) -> Result<&'a [u8]> {
    usize::try_from(key)
        .ok()
        .filter(|&k| k + 1 < offsets.len())
        .map(|k| &data[offsets[k] as usize..offsets[k + 1] as usize])
        .ok_or_else(|| bad_key(key))
}

fn bad_key(key: i32) -> ParquetError {
    ParquetError::General(format!("dictionary key {key} out of range"))
}

/// A column chunk's distinct values, each with its key: its place in the dictionary page.
#[derive(Default)]
struct Dictionary {
    hasher: FixedState,
    table: HashTable<u32>,
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// The size of the PLAIN dictionary page.
    page_len: usize,
}

impl Dictionary {
    fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    fn value(&self, k: u32) -> &[u8] {
        entry(&self.bytes, &self.ends, k)
    }

    /// The key of `v`, added if new.
    fn intern(&mut self, v: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(v);
        let (bytes, ends) = (&self.bytes, &self.ends);
        if let Some(&k) = self
            .table
            .find(hash, |&k| same_bytes(entry(bytes, ends, k), v))
        {
            return k;
        }
        let k = self.ends.len() as u32;
        self.bytes.extend_from_slice(v);
        self.ends.push(self.bytes.len() as u32);
        self.page_len += 4 + v.len();
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, k, |&k| hasher.hash_one(entry(bytes, ends, k)));
        k
    }

    fn clear(&mut self) {
        self.table.clear();
        self.bytes.clear();
        self.ends.clear();
        self.page_len = 0;
    }
}

/// Entry `k` of a dictionary whose values are `bytes`, value `i` ending at `ends[i]`. A free
/// function so that [`Dictionary::intern`] can call it while its table is borrowed.
#[inline]
fn entry<'a>(bytes: &'a [u8], ends: &[u32], k: u32) -> &'a [u8] {
    let k = k as usize;
    let start = if k == 0 { 0 } else { ends[k - 1] as usize };
    &bytes[start..ends[k] as usize]
}

/// Marks key `k` in the page's bitmap of keys.
#[inline]
fn mark(seen: &mut Vec<u64>, k: u32) {
    let word = (k >> 6) as usize;
    if word >= seen.len() {
        seen.resize(word + 1, 0);
    }
    seen[word] |= 1 << (k & 63);
}

fn update_min_max(min: &mut Option<Vec<u8>>, max: &mut Option<Vec<u8>>, v: &[u8]) {
    match min {
        Some(m) if v >= m.as_slice() => {}
        _ => *min = Some(v.to_vec()),
    }
    match max {
        Some(m) if v <= m.as_slice() => {}
        _ => *max = Some(v.to_vec()),
    }
}
