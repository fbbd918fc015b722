//! What the crate's column encoders ([`crate::strings`], [`crate::ints`]) share: one zstd
//! context per file, a page's definition levels, the RLE / bit-packing hybrid encoding, and
//! the assembly of a column chunk from its pages (dictionary page first, then the data pages,
//! with the offset index).

use bytes::Bytes;
use parquet::basic::{Compression, Encoding, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnChunkMetaDataBuilder, ColumnIndexBuilder, OffsetIndexBuilder,
    PageEncodingStats,
};
use parquet::file::page_index::offset_index::OffsetIndexMetaData;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// The zstd context the columns of one file that this crate encodes share, and its scratch
/// buffer. Those columns are always zstd, at the writer's default level: a per-column codec in
/// the writer's properties applies to the other columns only.
pub(crate) struct PageCompressor {
    zstd: zstd::bulk::Compressor<'static>,
    level: i32,
    /// A buffer for a page before it is compressed.
    pub(crate) scratch: Vec<u8>,
    /// Where a page is compressed to, before it is copied out at its size.
    out: Vec<u8>,
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
            out: Vec::new(),
        })
    }

    /// `data` compressed, in a buffer of its size. A chunk's pages are held until its row
    /// group is written out: in buffers of zstd's worst-case size, as `compress` returns
    /// them, they took three times the memory.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.out.clear();
        self.out
            .reserve(zstd::zstd_safe::compress_bound(data.len()));
        self.zstd
            .compress_to_buffer(data, &mut self.out)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(self.out.clone())
    }

    pub(crate) fn codec(&self) -> Result<Compression> {
        Ok(Compression::ZSTD(parquet::basic::ZstdLevel::try_new(
            self.level,
        )?))
    }
}

/// The definition levels of the page being filled (0 for a null row, 1 for a value), with
/// its row and null counts. While a page is all nulls or all values, its levels are not
/// recorded one by one.
#[derive(Default)]
pub(crate) struct Levels {
    rows: usize,
    nulls: usize,
    /// One byte per level: a page's levels are held until it is full.
    defs: Vec<u8>,
    recorded: bool,
}

impl Levels {
    /// Rows in the page.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Null rows in the page.
    pub(crate) fn nulls(&self) -> usize {
        self.nulls
    }

    fn push(&mut self, level: u8, n: usize) {
        if n == 0 {
            return;
        }
        if !self.recorded && self.rows > 0 && (self.nulls == self.rows) != (level == 0) {
            self.recorded = true;
            self.defs.clear();
            self.defs.resize(self.rows, u8::from(self.nulls == 0));
        }
        if self.recorded {
            self.defs.resize(self.defs.len() + n, level);
        }
        self.rows += n;
        if level == 0 {
            self.nulls += n;
        }
    }

    /// `n` rows with values.
    pub(crate) fn push_values(&mut self, n: usize) {
        self.push(1, n);
    }

    /// `n` null rows.
    pub(crate) fn push_nulls(&mut self, n: usize) {
        self.push(0, n);
    }

    /// Appends the page's levels as a version 1 data page holds them: their length in four
    /// bytes, then the levels in the hybrid encoding.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        if self.recorded {
            rle_hybrid(&self.defs, 1, out);
        } else {
            rle_run(u32::from(self.nulls == 0), self.rows, 1, out);
        }
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Starts the next page.
    pub(crate) fn clear(&mut self) {
        self.rows = 0;
        self.nulls = 0;
        self.defs.clear();
        self.recorded = false;
    }
}

/// A column chunk's data pages, compressed, as its encoder flushes them.
#[derive(Default)]
pub(crate) struct ChunkPages {
    /// Each page, with its rows and, for byte arrays, its values' bytes.
    pages: Vec<(CompressedPage, usize, Option<i64>)>,
    dict_pages: i32,
    plain_pages: i32,
}

/// The values of a data page.
pub(crate) enum PageBody<'a> {
    /// PLAIN-encoded values.
    Plain(&'a [u8]),
    /// Keys into a dictionary of `dictionary` values.
    Keys { keys: &'a [u32], dictionary: usize },
}

/// A column chunk written out, for its encoder to add statistics to.
pub(crate) struct WrittenChunk {
    /// The chunk's bytes.
    pub(crate) bytes: Bytes,
    /// Rows in the chunk.
    pub(crate) rows: u64,
    /// For a byte array column, the bytes of its values.
    value_bytes: Option<i64>,
    /// The chunk's metadata, but for its statistics.
    metadata: ColumnChunkMetaDataBuilder,
    /// The chunk's offset index.
    offset_index: OffsetIndexMetaData,
}

impl WrittenChunk {
    /// The chunk's bytes and what its row group needs to append them, with its `statistics`
    /// and column index (`index`), if the column has statistics.
    pub(crate) fn finish(
        self,
        statistics: Option<(Statistics, ColumnIndexBuilder)>,
    ) -> Result<(Bytes, ColumnCloseResult)> {
        let mut metadata = self.metadata;
        let mut column_index = None;
        if let Some((statistics, index)) = statistics {
            metadata = metadata.set_statistics(statistics);
            if self.value_bytes.is_some() {
                metadata = metadata.set_unencoded_byte_array_data_bytes(self.value_bytes);
            }
            column_index = Some(index.build()?);
        }
        let close = ColumnCloseResult {
            bytes_written: self.bytes.len() as u64,
            rows_written: self.rows,
            metadata: metadata.build()?,
            bloom_filter: None,
            column_index,
            offset_index: Some(self.offset_index),
        };
        Ok((self.bytes, close))
    }
}

impl ChunkPages {
    /// Encodes, compresses and adds the page being filled: its `levels` (for a `nullable`
    /// column), then its `body`. For a byte array column, `value_bytes` are its values'.
    pub(crate) fn add(
        &mut self,
        levels: &Levels,
        nullable: bool,
        body: PageBody<'_>,
        value_bytes: Option<i64>,
        zstd: &mut PageCompressor,
    ) -> Result<()> {
        let mut buf = std::mem::take(&mut zstd.scratch);
        buf.clear();
        if nullable {
            levels.encode(&mut buf);
        }
        let encoding = match body {
            PageBody::Plain(values) => {
                buf.extend_from_slice(values);
                self.plain_pages += 1;
                Encoding::PLAIN
            }
            PageBody::Keys { keys, dictionary } => {
                let width = bit_width(dictionary);
                buf.push(width);
                rle_hybrid(keys, width, &mut buf);
                self.dict_pages += 1;
                Encoding::RLE_DICTIONARY
            }
        };
        let compressed = zstd.compress(&buf);
        let uncompressed = buf.len();
        zstd.scratch = buf;
        let page = Page::DataPage {
            buf: Bytes::from(compressed?),
            num_values: levels.rows() as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        self.pages.push((
            CompressedPage::new(page, uncompressed),
            levels.rows(),
            value_bytes,
        ));
        Ok(())
    }

    /// Whether a page of the chunk refers to its dictionary.
    pub(crate) fn uses_dictionary(&self) -> bool {
        self.dict_pages > 0
    }

    /// Writes the chunk of column `descr`: the PLAIN `dictionary` page (its bytes and its
    /// number of values) if given, then the data pages, which it empties.
    pub(crate) fn write(
        &mut self,
        descr: &ColumnDescPtr,
        dictionary: Option<(&[u8], u32)>,
        zstd: &mut PageCompressor,
    ) -> Result<WrittenChunk> {
        let mut sink = TrackedWrite::new(Vec::new());
        let mut offsets = OffsetIndexBuilder::new();
        let mut uncompressed_total = 0u64;
        let mut compressed_total = 0u64;
        let mut num_values = 0u64;
        let mut rows = 0u64;
        let mut value_bytes_total = None;
        let mut dictionary_offset = None;
        let mut data_offset = None;
        let mut encodings = vec![Encoding::RLE];
        let mut encoding_stats = Vec::new();
        {
            let mut writer = SerializedPageWriter::new(&mut sink);
            if let Some((plain, values)) = dictionary {
                let page = Page::DictionaryPage {
                    buf: Bytes::from(zstd.compress(plain)?),
                    num_values: values,
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
            for (page, page_rows, value_bytes) in self.pages.drain(..) {
                let spec = writer.write_page(page)?;
                data_offset.get_or_insert(spec.offset as i64);
                offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
                offsets.append_row_count(page_rows as i64);
                if let Some(b) = value_bytes {
                    offsets.append_unencoded_byte_array_data_bytes(Some(b));
                    *value_bytes_total.get_or_insert(0) += b;
                }
                uncompressed_total += spec.uncompressed_size as u64;
                compressed_total += spec.compressed_size as u64;
                num_values += u64::from(spec.num_values);
                rows += page_rows as u64;
            }
            writer.close()?;
        }
        self.dict_pages = 0;
        self.plain_pages = 0;
        let metadata = ColumnChunkMetaData::builder(descr.clone())
            .set_compression(zstd.codec()?)
            .set_encodings(encodings)
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(compressed_total as i64)
            .set_total_uncompressed_size(uncompressed_total as i64)
            .set_num_values(num_values as i64)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset);
        Ok(WrittenChunk {
            bytes: Bytes::from(sink.into_inner()?),
            rows,
            value_bytes: value_bytes_total,
            metadata,
            offset_index: offsets.build(),
        })
    }
}

/// Feeds rows `start..end` of a batch to `sink` as runs: `values(sink, a, b)` for rows
/// `a..b` with values, `nulls(sink, n)` for `n` null rows, in row order.
pub(crate) fn for_runs<S>(
    sink: &mut S,
    nulls: Option<&arrow::buffer::NullBuffer>,
    start: usize,
    end: usize,
    mut values: impl FnMut(&mut S, usize, usize) -> Result<()>,
    mut on_nulls: impl FnMut(&mut S, usize),
) -> Result<()> {
    match nulls {
        None => values(sink, start, end),
        Some(nulls) => {
            // Runs of values between runs of nulls (a column the log format lacks is one
            // run of nulls).
            let mut at = start;
            for (a, b) in nulls.inner().slice(start, end - start).set_slices() {
                on_nulls(sink, start + a - at);
                values(sink, start + a, start + b)?;
                at = start + b;
            }
            on_nulls(sink, end - at);
            Ok(())
        }
    }
}

/// Bits that keys below `n` need (0 for a dictionary of one value).
pub(crate) fn bit_width(n: usize) -> u8 {
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
pub(crate) fn rle_run(value: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    put_uleb128((count as u64) << 1, out);
    let bytes = usize::from(width).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

/// The most groups of eight in one bit-packed run (a one-byte header, as parquet-mr writes).
const MAX_GROUPS: usize = 63;

/// Bit-packed runs of `values`, padded with zeros to whole groups of eight.
fn bit_packed<T: Copy + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    let w = u32::from(width);
    for run in values.chunks(MAX_GROUPS * 8) {
        let groups = run.len().div_ceil(8);
        put_uleb128(((groups as u64) << 1) | 1, out);
        let mut group = [0u32; 8];
        for chunk in run.chunks(8) {
            for (g, &v) in group.iter_mut().zip(chunk) {
                *g = v.into();
            }
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
/// starts or extends an RLE run, the others are bit-packed. Definition levels come as bytes,
/// dictionary keys as `u32`s.
pub(crate) fn rle_hybrid<T: Copy + PartialEq + Into<u32>>(
    values: &[T],
    width: u8,
    out: &mut Vec<u8>,
) {
    let mut run: Option<(T, usize)> = None;
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
                rle_run(v.into(), n, width, out);
            }
            run = Some((first, 8));
        } else {
            if let Some((v, n)) = run.take() {
                rle_run(v.into(), n, width, out);
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
        rle_run((*v).into(), *n, width, out);
        return;
    }
    if let Some((v, n)) = run.take() {
        rle_run(v.into(), n, width, out);
    }
    if groups == 0 {
        packed = values.len() - tail.len();
    }
    if packed < values.len() {
        bit_packed(&values[packed..], width, out);
    }
}

/// The column index's boundary order of a chunk, worked out as parquet's writer does, from
/// each page's minimum and maximum in turn: ascending while they never fall, descending
/// while they never rise. Pages all of one value (or all null) are ascending, as parquet has
/// it.
#[derive(Debug)]
pub(crate) struct PageOrder<T> {
    last: Option<(T, T)>,
    ascending: bool,
    descending: bool,
}

impl<T> Default for PageOrder<T> {
    fn default() -> Self {
        Self {
            last: None,
            ascending: true,
            descending: true,
        }
    }
}

impl<T: PartialOrd> PageOrder<T> {
    /// Takes the next page with values.
    pub(crate) fn page(&mut self, min: T, max: T) {
        if let Some((last_min, last_max)) = &self.last {
            self.ascending &= *last_min <= min && *last_max <= max;
            self.descending &= *last_min >= min && *last_max >= max;
        }
        self.last = Some((min, max));
    }

    /// The chunk's order; the next chunk starts afresh.
    pub(crate) fn take(&mut self) -> parquet::basic::BoundaryOrder {
        use parquet::basic::BoundaryOrder;
        let order = match (self.ascending, self.descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        };
        *self = Self::default();
        order
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
            // Values that fit a byte (definition levels) encode the same as bytes.
            if let Ok(bytes) = values
                .iter()
                .map(|&v| u8::try_from(v))
                .collect::<Result<Vec<u8>, _>>()
            {
                let mut narrow = Vec::new();
                rle_hybrid(&bytes, width, &mut narrow);
                assert_eq!(narrow, out, "width {width}, as bytes");
            }
        }
    }

    #[test]
    fn long_runs_become_rle_runs() {
        let mut out = Vec::new();
        rle_hybrid(&[1u32; 16384], 1, &mut out);
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
