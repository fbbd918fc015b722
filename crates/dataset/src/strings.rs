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

use arrow::array::{Array, DictionaryArray, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::Int32Type;
use bytes::Bytes;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parquet::basic::{Compression, Encoding, PageType, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::hash::BuildHasher;

/// The zstd context the string columns of one file share, and its scratch buffer. String
/// columns are always zstd, at the writer's default level: a per-column codec in the writer's
/// properties (such as `empty_columns_in_snappy`'s) applies to the other columns only.
pub(crate) struct PageCompressor {
    zstd: zstd::bulk::Compressor<'static>,
    level: i32,
    scratch: Vec<u8>,
}

impl PageCompressor {
    /// A compressor at zstd `level`.
    pub(crate) fn new(level: i32) -> Result<Self> {
        let zstd =
            zstd::bulk::Compressor::new(level).map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Self {
            zstd,
            level,
            scratch: Vec::new(),
        })
    }

    fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.zstd
            .compress(data)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }

    fn codec(&self) -> Result<Compression> {
        Ok(Compression::ZSTD(parquet::basic::ZstdLevel::try_new(
            self.level,
        )?))
    }
}

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
    rows: usize,
    nulls: usize,
    keys: Vec<u32>,
    /// The page's definition levels, once it holds both nulls and values.
    defs: Vec<u32>,
    levels: bool,
    values: Vec<u8>,
    seen: Vec<u64>,
    value_bytes: i64,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,

    // The chunk.
    /// The chunk's data pages, each with its rows and its values' bytes.
    pages: Vec<(CompressedPage, usize, i64)>,
    column_index: ColumnIndexBuilder,
    chunk_min: Option<Vec<u8>>,
    chunk_max: Option<Vec<u8>>,
    chunk_nulls: u64,
    dict_pages: i32,
    plain_pages: i32,
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
            rows: 0,
            nulls: 0,
            keys: Vec::new(),
            defs: Vec::new(),
            levels: false,
            values: Vec::new(),
            seen: Vec::new(),
            value_bytes: 0,
            min: None,
            max: None,
            pages: Vec::new(),
            column_index: ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
            chunk_min: None,
            chunk_max: None,
            chunk_nulls: 0,
            dict_pages: 0,
            plain_pages: 0,
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
            if self.rows == self.page_rows || self.values.len() >= self.page_bytes {
                self.flush_page(zstd)?;
            }
            if !self.plain && self.rows == 0 && self.dict.page_len > self.dict_limit {
                self.plain = true;
            }
            let end = len.min(i + (self.page_rows - self.rows));
            match nulls {
                None => self.push_values(&mut rows, i, end)?,
                Some(nulls) => {
                    // Runs of values between runs of nulls (a column the log format lacks
                    // is one run of nulls).
                    let mut at = i;
                    for (a, b) in nulls.inner().slice(i, end - i).set_slices() {
                        self.push_nulls(i + a - at);
                        self.push_values(&mut rows, i + a, i + b)?;
                        at = i + b;
                    }
                    self.push_nulls(end - at);
                }
            }
            i = end;
        }
        Ok(())
    }

    /// Records `n` definition levels of `level` for the page. While a page is all nulls or
    /// all values, its levels are not recorded one by one.
    fn push_levels(&mut self, level: u32, n: usize) {
        if !self.levels && self.rows > 0 && (self.nulls == self.rows) != (level == 0) {
            self.levels = true;
            self.defs.clear();
            self.defs.resize(self.rows, u32::from(self.nulls == 0));
        }
        if self.levels {
            self.defs.resize(self.defs.len() + n, level);
        }
    }

    fn push_nulls(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.push_levels(0, n);
        self.nulls += n;
        self.rows += n;
    }

    /// Appends rows `start..end`, none of them null, to the page.
    fn push_values(&mut self, rows: &mut Rows<'_>, start: usize, end: usize) -> Result<()> {
        if start == end {
            return Ok(());
        }
        self.push_levels(1, end - start);
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
        self.rows += end - start;
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
                Some(k) if v == prev => k,
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
        if self.rows == 0 {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut zstd.scratch);
        let buf = &mut scratch;
        buf.clear();
        if self.nullable {
            let at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            if self.levels {
                rle_hybrid(&self.defs, 1, buf);
            } else {
                rle_run(u32::from(self.nulls == 0), self.rows, 1, buf);
            }
            let len = (buf.len() - at - 4) as u32;
            buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
        let encoding = if self.plain {
            buf.extend_from_slice(&self.values);
            self.plain_pages += 1;
            Encoding::PLAIN
        } else {
            let width = bit_width(self.dict.len());
            buf.push(width);
            rle_hybrid(&self.keys, width, buf);
            self.dict_pages += 1;
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
            Encoding::RLE_DICTIONARY
        };
        let uncompressed = buf.len();
        let compressed = zstd.compress(buf);
        zstd.scratch = scratch;
        let compressed = compressed?;
        let page = Page::DataPage {
            buf: Bytes::from(compressed),
            num_values: self.rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        self.pages.push((
            CompressedPage::new(page, uncompressed),
            self.rows,
            self.value_bytes,
        ));

        if self.statistics {
            let null_page = self.nulls == self.rows;
            let (min, max) = match (self.min.take(), self.max.take()) {
                (Some(min), Some(max)) => {
                    if self.chunk_min.as_ref().is_none_or(|m| min < *m) {
                        self.chunk_min = Some(min.clone());
                    }
                    if self.chunk_max.as_ref().is_none_or(|m| max > *m) {
                        self.chunk_max = Some(max.clone());
                    }
                    (min, max)
                }
                _ => (Vec::new(), Vec::new()),
            };
            self.column_index
                .append(null_page, min, max, self.nulls as i64);
        }
        self.chunk_nulls += self.nulls as u64;
        self.rows = 0;
        self.nulls = 0;
        self.keys.clear();
        self.defs.clear();
        self.levels = false;
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
        let rows: usize = self.pages.iter().map(|p| p.1).sum();
        let value_bytes: i64 = self.pages.iter().map(|p| p.2).sum();
        let codec = zstd.codec()?;
        let mut sink = TrackedWrite::new(Vec::new());
        let mut offsets = OffsetIndexBuilder::new();
        let mut uncompressed_total = 0u64;
        let mut compressed_total = 0u64;
        let mut num_values = 0u64;
        let mut dictionary_offset = None;
        let mut data_offset = None;
        let mut encodings = vec![Encoding::RLE];
        let mut encoding_stats = Vec::new();
        {
            let mut writer = SerializedPageWriter::new(&mut sink);
            if self.dict_pages > 0 {
                let mut plain = Vec::with_capacity(self.dict.page_len);
                for k in 0..self.dict.len() as u32 {
                    let v = self.dict.value(k);
                    plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    plain.extend_from_slice(v);
                }
                let page = Page::DictionaryPage {
                    buf: Bytes::from(zstd.compress(&plain)?),
                    num_values: self.dict.len() as u32,
                    encoding: Encoding::PLAIN,
                    is_sorted: false,
                };
                let spec = writer.write_page(CompressedPage::new(page, plain.len()))?;
                dictionary_offset = Some(spec.offset as i64);
                uncompressed_total += spec.uncompressed_size as u64;
                compressed_total += spec.compressed_size as u64;
                encodings.push(Encoding::PLAIN);
                encodings.push(Encoding::RLE_DICTIONARY);
                encoding_stats.push(PageEncodingStats {
                    page_type: PageType::DICTIONARY_PAGE,
                    encoding: Encoding::PLAIN,
                    count: 1,
                });
                encoding_stats.push(PageEncodingStats {
                    page_type: PageType::DATA_PAGE,
                    encoding: Encoding::RLE_DICTIONARY,
                    count: self.dict_pages,
                });
            }
            if self.plain_pages > 0 {
                if !encodings.contains(&Encoding::PLAIN) {
                    encodings.push(Encoding::PLAIN);
                }
                encoding_stats.push(PageEncodingStats {
                    page_type: PageType::DATA_PAGE,
                    encoding: Encoding::PLAIN,
                    count: self.plain_pages,
                });
            }
            for (page, rows, value_bytes) in self.pages.drain(..) {
                let spec = writer.write_page(page)?;
                data_offset.get_or_insert(spec.offset as i64);
                offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
                offsets.append_row_count(rows as i64);
                offsets.append_unencoded_byte_array_data_bytes(Some(value_bytes));
                uncompressed_total += spec.uncompressed_size as u64;
                compressed_total += spec.compressed_size as u64;
                num_values += u64::from(spec.num_values);
            }
            writer.close()?;
        }
        let bytes_written = sink.bytes_written() as u64;
        let bytes = Bytes::from(sink.into_inner()?);

        let mut builder = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(codec)
            .set_encodings(encodings)
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(compressed_total as i64)
            .set_total_uncompressed_size(uncompressed_total as i64)
            .set_num_values(num_values as i64)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset);
        let column_index = std::mem::replace(
            &mut self.column_index,
            ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
        );
        let column_index = if self.statistics {
            let stats = ValueStatistics::<ByteArray>::new(
                self.chunk_min.take().map(ByteArray::from),
                self.chunk_max.take().map(ByteArray::from),
                None,
                Some(self.chunk_nulls),
                false,
            )
            .with_backwards_compatible_min_max(false);
            builder = builder
                .set_statistics(Statistics::ByteArray(stats))
                .set_unencoded_byte_array_data_bytes(Some(value_bytes));
            Some(column_index.build()?)
        } else {
            None
        };
        let metadata = builder.build()?;
        let close = ColumnCloseResult {
            bytes_written,
            rows_written: rows as u64,
            metadata,
            bloom_filter: None,
            column_index,
            offset_index: Some(offsets.build()),
        };

        self.dict.clear();
        self.plain = !self.dictionary;
        self.seen.clear();
        self.chunk_nulls = 0;
        self.dict_pages = 0;
        self.plain_pages = 0;
        Ok((bytes, close))
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
        if let Some(&k) = self.table.find(hash, |&k| entry(bytes, ends, k) == v) {
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

/// Bits that keys below `n` need (0 for a dictionary of one value).
fn bit_width(n: usize) -> u8 {
    let max = n.saturating_sub(1) as u64;
    (64 - max.leading_zeros()) as u8
}

fn put_uleb128(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An RLE run: `count` repeats of `value`.
fn rle_run(value: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    put_uleb128((count as u64) << 1, out);
    let bytes = usize::from(width).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

/// The most groups of eight in one bit-packed run (a one-byte header, as parquet-mr writes).
const MAX_GROUPS: usize = 63;

/// Bit-packed runs of `values`, padded with zeros to whole groups of eight.
fn bit_packed(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let w = u32::from(width);
    for run in values.chunks(MAX_GROUPS * 8) {
        let groups = run.len().div_ceil(8);
        put_uleb128(((groups as u64) << 1) | 1, out);
        let mut group = [0u32; 8];
        for chunk in run.chunks(8) {
            group[..chunk.len()].copy_from_slice(chunk);
            group[chunk.len()..].fill(0);
            if w <= 16 {
                // Eight values of at most 16 bits: 128 bits at most, one register.
                let mut acc: u128 = 0;
                for (i, &v) in group.iter().enumerate() {
                    acc |= u128::from(v) << (i as u32 * w);
                }
                out.extend_from_slice(&acc.to_le_bytes()[..width as usize]);
            } else {
                let mut acc: u64 = 0;
                let mut bits = 0u32;
                for &v in &group {
                    acc |= u64::from(v) << bits;
                    bits += w;
                    while bits >= 8 {
                        out.push(acc as u8);
                        acc >>= 8;
                        bits -= 8;
                    }
                }
            }
        }
    }
}

/// `values` (each below 2^`width`) in Parquet's RLE / bit-packing hybrid encoding, without a
/// length prefix. The values are taken in groups of eight: a group of one value repeated
/// starts or extends an RLE run, the others are bit-packed.
pub(crate) fn rle_hybrid(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut run: Option<(u32, usize)> = None;
    // Groups waiting to be bit-packed: values[packed..packed + 8 * groups].
    let mut packed = 0;
    let mut groups = 0;
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for (g, group) in chunks.enumerate() {
        let first = group[0];
        if group.iter().all(|&v| v == first) {
            if let Some((v, n)) = &mut run
                && *v == first
            {
                *n += 8;
                continue;
            }
            if groups > 0 {
                bit_packed(&values[packed..packed + 8 * groups], width, out);
                groups = 0;
            }
            if let Some((v, n)) = run.take() {
                rle_run(v, n, width, out);
            }
            run = Some((first, 8));
        } else {
            if let Some((v, n)) = run.take() {
                rle_run(v, n, width, out);
            }
            if groups == 0 {
                packed = g * 8;
            }
            groups += 1;
        }
    }
    if let Some((v, n)) = &mut run
        && tail.iter().all(|t| t == v)
    {
        *n += tail.len();
        rle_run(*v, *n, width, out);
        return;
    }
    if let Some((v, n)) = run.take() {
        rle_run(v, n, width, out);
    }
    if groups == 0 {
        packed = values.len() - tail.len();
    }
    if packed < values.len() {
        bit_packed(&values[packed..], width, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the hybrid encoding of `n` values, by the format's definition.
    fn decode(mut data: &[u8], width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let uleb = |d: &mut &[u8]| {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let b = d[0];
                *d = &d[1..];
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    return v;
                }
            }
        };
        while out.len() < n {
            let h = uleb(&mut data);
            if h & 1 == 0 {
                let count = (h >> 1) as usize;
                let bytes = usize::from(width).div_ceil(8);
                let mut buf = [0u8; 4];
                buf[..bytes].copy_from_slice(&data[..bytes]);
                data = &data[bytes..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(buf), count));
            } else {
                let values = (h >> 1) as usize * 8;
                let mut bitpos = 0usize;
                for _ in 0..values {
                    let mut v = 0u32;
                    for b in 0..usize::from(width) {
                        let p = bitpos + b;
                        if data[p / 8] >> (p % 8) & 1 == 1 {
                            v |= 1 << b;
                        }
                    }
                    bitpos += usize::from(width);
                    out.push(v);
                }
                data = &data[values * usize::from(width) / 8..];
            }
        }
        assert!(data.is_empty(), "{} bytes left over", data.len());
        out.truncate(n);
        out
    }

    #[test]
    fn hybrid_round_trips_runs_and_scatter() {
        let mut cases: Vec<(Vec<u32>, u8)> = vec![
            (vec![], 1),
            (vec![0; 5], 0),
            (vec![0; 100], 0),
            (vec![1; 16384], 1),
            (vec![3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 2], 2),
            ((0..1000).map(|i| i % 7).collect(), 3),
            ((0..1000).map(|i| (i / 13) % 1000).collect(), 10),
            (
                (0..5000)
                    .map(|i| (i * 2_654_435_761u64 % 100_000) as u32)
                    .collect(),
                17,
            ),
            (
                (0..300).map(|i| if i % 50 < 30 { 5 } else { i }).collect(),
                9,
            ),
        ];
        // Runs of every length from 1 to 20 after every offset from 0 to 9.
        for lead in 0..10u32 {
            for run in 1..20usize {
                let mut v: Vec<u32> = (0..lead).collect();
                v.extend(std::iter::repeat_n(7, run));
                v.push(2);
                cases.push((v, 4));
            }
        }
        cases.push(((0..70).map(|i| u32::MAX >> (i % 3)).collect(), 32));
        for (values, width) in cases {
            let mut out = Vec::new();
            rle_hybrid(&values, width, &mut out);
            assert_eq!(decode(&out, width, values.len()), values, "width {width}");
        }
    }

    #[test]
    fn long_runs_become_rle_runs() {
        let mut out = Vec::new();
        rle_hybrid(&[1; 16384], 1, &mut out);
        // One header (16384 << 1, three ULEB128 bytes) and the value in one byte.
        assert_eq!(out, vec![0x80, 0x80, 0x02, 1]);
        out.clear();
        // Three groups: 0-7 bit-packed, then sixteen 5s and a tail of three: one RLE run.
        let v: Vec<u32> = (0..8).chain(std::iter::repeat_n(5, 19)).collect();
        rle_hybrid(&v, 3, &mut out);
        assert_eq!(out, vec![0x03, 0x88, 0xc6, 0xfa, 19 << 1, 5]);
    }

    #[test]
    fn widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 0);
        assert_eq!(bit_width(2), 1);
        assert_eq!(bit_width(3), 2);
        assert_eq!(bit_width(256), 8);
        assert_eq!(bit_width(257), 9);
    }
}
