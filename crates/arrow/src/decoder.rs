//! A push decoder: bytes of one flow-log text stream in, hour-partitioned record batches out.

use crate::builder::FlowBatchBuilder;
use crate::hour::{HourBucket, hour_bucket};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::BTreeSet;
use std::sync::Arc;
use vpcflow_format::{Block, Layout, LineError, RecordParser, Value};

/// What the decoder hands back while it reads.
#[derive(Debug)]
pub enum DecodeEvent<'a> {
    /// A full (or final) batch of records whose `start` falls in one hour, of the schema
    /// [`crate::FlowBatchBuilder::schema`] describes.
    Batch(HourBucket, RecordBatch),
    /// A line that is not a record of the layout.
    BadLine {
        /// 1-based line number in the stream.
        line: u64,
        /// Why.
        error: LineError,
        /// The line as read.
        text: &'a [u8],
    },
}

/// Hours a decoder builds batches for at once. An object AWS delivers holds records of one
/// or two hours; an input that holds many (a long export, objects concatenated) is read in
/// time order, so an hour that makes way is usually done.
const MAX_OPEN_HOURS: usize = 3;

/// Record lines read together, a column at a time ([`vpcflow_format::Block`]).
const BLOCK_LINES: usize = 128;

/// The rows of a block, in order.
const EVERY_ROW: [u32; BLOCK_LINES] = {
    let mut rows = [0; BLOCK_LINES];
    let mut i = 0;
    while i < BLOCK_LINES {
        rows[i] = i as u32;
        i += 1;
    }
    rows
};

/// The lines of a block being gathered: as read, and as [`vpcflow_format::record_text`]
/// gives them; the first is line `first_line`.
#[derive(Default)]
struct Lines<'a> {
    raw: Vec<&'a [u8]>,
    text: Vec<&'a str>,
    first_line: u64,
}

impl Lines<'_> {
    fn clear(&mut self) {
        self.raw.clear();
        self.text.clear();
    }
}

/// Builds a [`FlowDecoder`].
#[derive(Debug, Clone)]
pub struct FlowDecoderBuilder {
    layout: vpcflow_format::Layout,
    batch_size: usize,
}

impl FlowDecoderBuilder {
    /// Records whose stream has no header line are read with `layout` (pass
    /// [`vpcflow_format::Layout::default_v2`] for AWS's default format).
    pub fn new(layout: vpcflow_format::Layout) -> Self {
        Self {
            layout,
            batch_size: 65536,
        }
    }

    /// Sets the most rows per batch (default 65,536).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// A decoder for one stream, read from `source` (a path or URI, kept in the `source`
    /// column), with the flow-log ID of its object name if any.
    pub fn build_decoder(&self, source: Arc<str>, flow_log_id: Option<Arc<str>>) -> FlowDecoder {
        FlowDecoder {
            parser: RecordParser::new(self.layout.clone()),
            block: Block::default(),
            batch_size: self.batch_size,
            source,
            flow_log_id,
            builders: Vec::new(),
            line: 0,
            records: 0,
            bad_lines: 0,
            unknown_fields: self.layout.unknown_names().map(str::to_string).collect(),
        }
    }
}

/// Decodes one text stream: finds lines, takes the field layout from header lines, parses
/// records and builds hour-partitioned batches. Feed it with [`decode`](Self::decode), then
/// call [`finish`](Self::finish).
pub struct FlowDecoder {
    parser: RecordParser,
    /// The block of records being read ([`Self::decode_block`]).
    block: Block,
    batch_size: usize,
    source: Arc<str>,
    flow_log_id: Option<Arc<str>>,
    /// A batch being built per hour, with the record count at its last row.
    builders: Vec<(HourBucket, FlowBatchBuilder, u64)>,
    line: u64,
    records: u64,
    bad_lines: u64,
    unknown_fields: BTreeSet<String>,
}

impl FlowDecoder {
    /// Decodes every complete line of `data` and returns how many bytes it consumed; the rest
    /// (an incomplete last line) must be passed again with more data. With `eof`, the last
    /// line needs no terminator and everything is consumed.
    pub fn decode(
        &mut self,
        data: &[u8],
        eof: bool,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<usize, ArrowError> {
        let mut values: Vec<Value<'_>> = Vec::with_capacity(self.parser.layout().len());
        // Record lines are gathered into blocks, read a column at a time; any other line
        // (a header, a blank or odd one) ends the block and is read on its own.
        let mut block = Lines::default();
        let mut ends: Vec<usize> = Vec::with_capacity(BLOCK_LINES);
        let mut pos = 0;
        loop {
            // A region of whole lines, checked at once: free of NUL bytes and valid UTF-8
            // (else each of its lines is checked on its own).
            ends.clear();
            ends.extend(
                memchr::memchr_iter(b'\n', &data[pos..])
                    .take(BLOCK_LINES)
                    .map(|i| pos + i),
            );
            let Some(&region_end) = ends.last() else {
                break;
            };
            let (region_start, region) = (pos, &data[pos..region_end]);
            let text = vpcflow_format::plain_text(region);
            for &end in &ends {
                let line = &data[pos..end];
                let record = match text {
                    Some(t) => t
                        .get(pos - region_start..end - region_start)
                        .and_then(vpcflow_format::record_str),
                    None => vpcflow_format::record_text(line),
                };
                pos = end + 1;
                self.take_line(line, record, &mut block, &mut values, emit)?;
            }
        }
        if eof && pos < data.len() {
            let line = &data[pos..];
            pos = data.len();
            self.take_line(
                line,
                vpcflow_format::record_text(line),
                &mut block,
                &mut values,
                emit,
            )?;
        }
        self.decode_block(&mut block, &mut values, emit)?;
        Ok(pos)
    }

    /// Takes the next line: into `block` where it is a record line (`record`, its text as
    /// [`vpcflow_format::record_text`] gives it), else on its own, after the block.
    fn take_line<'a>(
        &mut self,
        line: &'a [u8],
        record: Option<&'a str>,
        block: &mut Lines<'a>,
        values: &mut Vec<Value<'a>>,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        match record {
            Some(text) => {
                if block.raw.is_empty() {
                    block.first_line = self.line + 1;
                }
                block.raw.push(line);
                block.text.push(text);
                self.line += 1;
                if block.raw.len() == BLOCK_LINES {
                    self.decode_block(block, values, emit)?;
                }
            }
            None => {
                self.decode_block(block, values, emit)?;
                self.line += 1;
                self.decode_line(line, values, emit)?;
            }
        }
        Ok(())
    }

    /// Decodes the lines of `block` and empties it: at once where they are all plain
    /// records, else one by one.
    fn decode_block<'a>(
        &mut self,
        block: &mut Lines<'a>,
        values: &mut Vec<Value<'a>>,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        let rows = block.raw.len();
        if rows == 0 {
            return Ok(());
        }
        if !self.parser.parse_block(&block.text, &mut self.block) {
            for (i, line) in block.raw.iter().enumerate() {
                self.line = block.first_line + i as u64;
                self.decode_line(line, values, emit)?;
            }
            block.clear();
            return Ok(());
        }
        let starts = self
            .parser
            .start_slot()
            .map(|slot| self.block.int_column(slot));
        let bucket = |row: usize| {
            hour_bucket(
                starts
                    .and_then(|s| s.get(row))
                    .filter(|v| **v != Block::NULL)
                    .copied(),
            )
        };
        let first = bucket(0);
        let records = self.records;
        if (1..rows).all(|row| bucket(row) == first) {
            self.append_rows(first, &EVERY_ROW[..rows], block, records, emit)?;
        } else {
            let mut groups: Vec<(HourBucket, Vec<u32>)> = Vec::new();
            for row in 0..rows {
                let b = bucket(row);
                match groups.iter_mut().find(|(g, _)| *g == b) {
                    Some((_, rows)) => rows.push(row as u32),
                    None => groups.push((b, vec![row as u32])),
                }
            }
            for (bucket, rows) in groups {
                self.append_rows(bucket, &rows, block, records, emit)?;
            }
        }
        self.records += rows as u64;
        block.clear();
        Ok(())
    }

    /// Appends `rows` of the block just parsed, whose records are in hour `bucket`, to
    /// that hour's batches; `records` were decoded before the block.
    fn append_rows(
        &mut self,
        bucket: HourBucket,
        mut rows: &[u32],
        block: &Lines<'_>,
        records: u64,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        while !rows.is_empty() {
            let idx = self.builder_for(bucket, emit)?;
            let (_, builder, last) = &mut self.builders[idx];
            let (now, rest) = rows.split_at(rows.len().min(self.batch_size - builder.len()));
            builder.append_block(&block.text, &self.block, now, block.first_line);
            *last = records + now.last().map_or(0, |&r| u64::from(r) + 1);
            if builder.len() >= self.batch_size
                && let Some(batch) = builder.finish()?
            {
                emit(DecodeEvent::Batch(bucket, batch));
            }
            rows = rest;
        }
        Ok(())
    }

    /// The index of the batch being built for `bucket`, started if there is none (which
    /// may finish the least recently used one).
    fn builder_for(
        &mut self,
        bucket: HourBucket,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<usize, ArrowError> {
        if let Some(i) = self.builders.iter().position(|(b, ..)| *b == bucket) {
            return Ok(i);
        }
        if self.builders.len() >= MAX_OPEN_HOURS {
            self.emit_least_recent(emit)?;
        }
        let b = FlowBatchBuilder::new(
            self.parser.layout(),
            self.source.clone(),
            self.flow_log_id.clone(),
            self.batch_size.min(8192),
        );
        self.builders.push((bucket, b, 0));
        Ok(self.builders.len() - 1)
    }

    fn decode_line<'a>(
        &mut self,
        line: &'a [u8],
        values: &mut Vec<Value<'a>>,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(());
        }
        if let Some(layout) = header_layout(line) {
            self.set_layout(&layout, emit)?;
            return Ok(());
        }
        match self.parser.parse(line, values) {
            Ok(()) => {
                let bucket = hour_bucket(self.parser.start(values));
                let idx = self.builder_for(bucket, emit)?;
                self.records += 1;
                let (_, builder, last) = &mut self.builders[idx];
                *last = self.records;
                builder.append(values, self.line);
                if builder.len() >= self.batch_size
                    && let Some(batch) = builder.finish()?
                {
                    emit(DecodeEvent::Batch(bucket, batch));
                }
            }
            Err(error) => {
                self.bad_lines += 1;
                emit(DecodeEvent::BadLine {
                    line: self.line,
                    error,
                    text: line,
                });
            }
        }
        Ok(())
    }

    /// Reads the lines that follow with `layout`.
    fn set_layout(
        &mut self,
        layout: &Layout,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        if layout != self.parser.layout() {
            self.flush(emit)?;
            self.unknown_fields
                .extend(layout.unknown_names().map(str::to_string));
            self.parser = RecordParser::new(layout.clone());
        }
        Ok(())
    }

    /// Goes on with the stream at a point whose lines were read elsewhere: the next line is
    /// line `lines + 1`, and it is read with `layout` (the one the header lines before it
    /// set; see [`skim`]). So one stream's blocks of whole lines can be decoded by several
    /// decoders, each giving its records and bad lines their own line numbers.
    pub fn resume(
        &mut self,
        lines: u64,
        layout: &Layout,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        self.line = lines;
        self.set_layout(layout, emit)
    }

    /// The layout the next line is read with.
    pub fn layout(&self) -> &Layout {
        self.parser.layout()
    }

    /// Emits the batch of the hour that had a record last longest ago: a long input that
    /// moves through the hours holds a few hours' rows, not a partial batch of every hour.
    fn emit_least_recent(
        &mut self,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), ArrowError> {
        let oldest = self
            .builders
            .iter()
            .enumerate()
            .min_by_key(|(_, (.., last))| *last)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            let (bucket, mut b, _) = self.builders.swap_remove(i);
            if let Some(batch) = b.finish()? {
                emit(DecodeEvent::Batch(bucket, batch));
            }
        }
        Ok(())
    }

    fn flush(&mut self, emit: &mut dyn FnMut(DecodeEvent<'_>)) -> Result<(), ArrowError> {
        for (bucket, mut b, _) in self.builders.drain(..) {
            if let Some(batch) = b.finish()? {
                emit(DecodeEvent::Batch(bucket, batch));
            }
        }
        Ok(())
    }

    /// Counts `text` as one bad line for `reason` (a line too long to buffer, or one cut off
    /// where the input broke) and emits it.
    pub fn reject_line(
        &mut self,
        text: &[u8],
        reason: &'static str,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) {
        self.line += 1;
        self.bad_lines += 1;
        emit(DecodeEvent::BadLine {
            line: self.line,
            error: LineError::Unreadable(reason),
            text,
        });
    }

    /// Emits the pending rows of every hour.
    pub fn finish(&mut self, emit: &mut dyn FnMut(DecodeEvent<'_>)) -> Result<(), ArrowError> {
        self.flush(emit)
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Records decoded so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bad lines seen so far.
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    /// Field names met in the stream's layouts that vpcflow does not know.
    pub fn unknown_fields(&self) -> &BTreeSet<String> {
        &self.unknown_fields
    }
}

/// The layout a header line gives, if `line` is one.
fn header_layout(line: &[u8]) -> Option<Layout> {
    if line.first().is_some_and(u8::is_ascii_lowercase) {
        Layout::from_header_line(line)
    } else {
        None
    }
}

/// Without parsing records: the lines that `data` (whole lines, each ending in a newline)
/// holds, and the layout of its last header line, if it has one. A stream's reader hands the
/// decoder that goes on after `data` these (see [`FlowDecoder::resume`]).
pub fn skim(data: &[u8]) -> (u64, Option<Layout>) {
    let mut lines = 0;
    let mut layout = None;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        lines += 1;
        // Records begin with a digit or an upper-case letter far more often than not: only
        // a line that begins in lower case can be a header.
        if data[start].is_ascii_lowercase()
            && let Some(l) = header_layout(&data[start..end])
        {
            layout = Some(l);
        }
        start = end + 1;
    }
    (lines, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    type Decoded = (Vec<(HourBucket, RecordBatch)>, Vec<(u64, String)>);

    fn run(input: &[u8], chunk: usize, batch_size: usize) -> Decoded {
        let mut d = FlowDecoderBuilder::new(Layout::default_v2())
            .with_batch_size(batch_size)
            .build_decoder("mem".into(), None);
        let mut batches = Vec::new();
        let mut bad = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut emit = |e: DecodeEvent<'_>| match e {
            DecodeEvent::Batch(b, batch) => batches.push((b, batch)),
            DecodeEvent::BadLine { line, error, .. } => bad.push((line, error.to_string())),
        };
        for c in input.chunks(chunk) {
            pending.extend_from_slice(c);
            let n = d.decode(&pending, false, &mut emit).unwrap();
            pending.drain(..n);
        }
        let n = d.decode(&pending, true, &mut emit).unwrap();
        assert_eq!(n, pending.len());
        d.finish(&mut emit).unwrap();
        (batches, bad)
    }

    const INPUT: &[u8] = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 3 100 3600 3660 ACCEPT OK
garbage here
2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 3 200 7200 7260 ACCEPT OK

2 1 eni-a 10.0.0.1 10.0.0.2 1 2 6 3 300 3700 3760 REJECT OK";

    #[test]
    fn any_chunking_and_batch_size_gives_the_same_records() {
        for chunk in [1, 7, 1 << 20] {
            for batch_size in [1, 1000] {
                let (batches, bad) = run(INPUT, chunk, batch_size);
                assert_eq!(bad, [(3, "expected 14 fields, found 2".to_string())]);
                let mut got: Vec<(i64, i64, i64)> = Vec::new();
                for (bucket, b) in &batches {
                    let bytes = b
                        .column_by_name("bytes")
                        .unwrap()
                        .as_primitive::<Int64Type>();
                    let line = b
                        .column_by_name("source_line")
                        .unwrap()
                        .as_primitive::<Int64Type>();
                    for i in 0..b.num_rows() {
                        got.push((bucket.unwrap().0, bytes.value(i), line.value(i)));
                    }
                }
                got.sort();
                assert_eq!(got, [(1, 100, 2), (1, 300, 6), (2, 200, 4)]);
            }
        }
    }

    /// Line `n` holds the record of srcport `n` and 100·n bytes, a bad or blank line, or a
    /// header: the fields turn to another order at line 150 and back at 300.
    fn split_input() -> String {
        let v2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        // The same fields in another order: a record of it is bad under the first layout.
        let turned = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets start end bytes action log-status";
        let mut s = format!("{v2}\n");
        for n in 2..=400u32 {
            match n {
                150 => s.push_str(&format!("{turned}\n")),
                300 => s.push_str(&format!("{v2}\n")),
                90 | 260 => s.push_str("not a record\n"),
                120 => s.push('\n'),
                _ if (150..300).contains(&n) => s.push_str(&format!(
                    "2 1 eni-a 10.0.0.1 10.0.0.2 {n} 2 6 3 3600 3660 {n}00 ACCEPT OK\n"
                )),
                _ => s.push_str(&format!(
                    "2 1 eni-a 10.0.0.1 10.0.0.2 {n} 2 6 3 {n}00 3600 3660 ACCEPT OK\n"
                )),
            }
        }
        s
    }

    /// (line, srcport, bytes) of every record, and the bad lines' numbers.
    fn rows_and_bad(
        batches: &[(HourBucket, RecordBatch)],
        bad: &[(u64, String)],
    ) -> (Vec<(i64, i64, i64)>, Vec<u64>) {
        let mut rows = Vec::new();
        for (_, b) in batches {
            let col = |name| {
                b.column_by_name(name)
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .clone()
            };
            let (line, bytes) = (col("source_line"), col("bytes"));
            let port = arrow::compute::cast(
                b.column_by_name("srcport").unwrap(),
                &arrow::datatypes::DataType::Int64,
            )
            .unwrap();
            let port = port.as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                rows.push((line.value(i), port.value(i), bytes.value(i)));
            }
        }
        rows.sort();
        let mut bad: Vec<u64> = bad.iter().map(|(l, _)| *l).collect();
        bad.sort();
        (rows, bad)
    }

    #[test]
    fn a_stream_split_between_decoders_gives_each_line_its_number_and_layout() {
        let input = split_input();
        let (whole, whole_bad) = run(input.as_bytes(), 1 << 20, 1000);
        let expected = rows_and_bad(&whole, &whole_bad);
        // Every record lands with its own bytes, on its own line; the two bad lines, the
        // blank line and the three header lines are no records.
        assert_eq!(expected.0.len(), 399 - 5);
        assert!(
            expected
                .0
                .iter()
                .all(|&(line, port, bytes)| line == port && bytes == port * 100)
        );
        assert_eq!(expected.1, [90, 260]);

        // Cut at every 37th line end: blocks go in turn to decoders `a` and `b`, and each
        // decoder goes on from what `skim` says about the blocks the other one read.
        let ends: Vec<usize> = memchr::memchr_iter(b'\n', input.as_bytes())
            .map(|i| i + 1)
            .collect();
        for step in [1, 37, 150] {
            let builder = FlowDecoderBuilder::new(Layout::default_v2()).with_batch_size(64);
            let mut decoders = [
                builder.build_decoder("mem".into(), None),
                builder.build_decoder("mem".into(), None),
            ];
            let (mut batches, mut bad) = (Vec::new(), Vec::new());
            let mut emit = |e: DecodeEvent<'_>| match e {
                DecodeEvent::Batch(b, batch) => batches.push((b, batch)),
                DecodeEvent::BadLine { line, error, .. } => bad.push((line, error.to_string())),
            };
            let (mut lines, mut layout, mut from) = (0, Layout::default_v2(), 0);
            for (k, block_end) in ends
                .iter()
                .copied()
                .skip(step - 1)
                .step_by(step)
                .chain([input.len()])
                .enumerate()
            {
                let block = &input.as_bytes()[from..block_end];
                from = block_end;
                let d = &mut decoders[k % 2];
                d.resume(lines, &layout, &mut emit).unwrap();
                assert_eq!(d.decode(block, false, &mut emit).unwrap(), block.len());
                let (n, header) = skim(block);
                lines += n;
                assert_eq!(d.lines(), lines);
                if let Some(h) = header {
                    layout = h;
                }
                assert_eq!(&layout, d.layout());
            }
            for d in &mut decoders {
                d.finish(&mut emit).unwrap();
            }
            assert_eq!(
                rows_and_bad(&batches, &bad),
                expected,
                "blocks of {step} lines"
            );
        }
    }

    /// Lines of every kind, in the layout of `header`: records of three hours in turn, with
    /// `-`s, milliseconds, tabs and CRLF, an unknown field, and now and then a bad, blank
    /// or header line.
    fn mixed_input() -> String {
        let header = "version srcaddr dstaddr srcport dstport protocol bytes start end action az-id future-thing";
        let mut s = format!("{header}\n");
        for n in 0..1500u64 {
            let start = 1_700_000_000 + (n % 3) * 3600 + n;
            let line = match n % 97 {
                5 => "2 10.0.0.1 - 1 2 6 x 1 2 ACCEPT use1-az1 a\n".to_string(),
                11 => "2 10.0.0.1 10.0.0.2 70000 2 6 1 1 2 ACCEPT use1-az1 a\n".to_string(),
                17 => "2 10.0.0.1 10.0.0.2 1 2 6 1 1 2 ACCEPT\n".to_string(),
                23 => "\n".to_string(),
                29 => format!("{header}\n"),
                31 => format!(
                    "2 10.0.0.{} - - - - - {}000 {}000 - - -\n",
                    n % 7,
                    start,
                    start + 60
                ),
                37 => format!(
                    "2\t10.0.1.{}  10.0.0.2\t443 {} 6 {} {start} {} REJECT use1-az2 b \r\n",
                    n % 5,
                    n,
                    n * 3,
                    start + 60
                ),
                41 => format!(
                    "2 10.0.0.1 10.0.0.2 1 2 6 1 {start} {} ACCEPT use1-az1 \0\n",
                    start + 60
                ),
                _ => format!(
                    "2 10.{}.0.{} 10.0.0.{} {} 443 6 {} {start} {} ACCEPT use1-az{} t{}\n",
                    n % 3,
                    n % 251,
                    n % 13,
                    1024 + n,
                    n * 40,
                    start + 60,
                    n % 2,
                    n % 4
                ),
            };
            s.push_str(&line);
        }
        s
    }

    #[test]
    fn records_read_in_blocks_are_what_each_line_parses_to() {
        let input = mixed_input();
        let lines: Vec<&[u8]> = input.as_bytes().split(|b| *b == b'\n').collect();
        let layout = Layout::from_header_line(lines[0]).unwrap();
        let parser = RecordParser::new(layout.clone());
        // What each line parses to on its own (header lines parse to nothing).
        let mut want_rows = Vec::new();
        let mut want_bad = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let mut values = Vec::new();
            if line.iter().all(u8::is_ascii_whitespace) || header_layout(line).is_some() {
                continue;
            }
            match parser.parse(line, &mut values) {
                Ok(()) => want_rows.push((
                    i as u64 + 1,
                    values
                        .iter()
                        .map(|v| match v {
                            Value::Null => None,
                            Value::Int(n) => Some(n.to_string()),
                            Value::Str(s) => Some(s.to_string()),
                        })
                        .collect::<Vec<_>>(),
                )),
                Err(_) => want_bad.push(i as u64 + 1),
            }
        }
        assert!(want_rows.len() > 1400 && want_bad.len() >= 45);
        for (chunk, batch_size) in [(1 << 20, 65536), (4096, 100), (333, 7)] {
            let mut d = FlowDecoderBuilder::new(Layout::default_v2())
                .with_batch_size(batch_size)
                .build_decoder("mem".into(), None);
            let (mut batches, mut bad) = (Vec::new(), Vec::new());
            let mut emit = |e: DecodeEvent<'_>| match e {
                DecodeEvent::Batch(b, batch) => batches.push((b, batch)),
                DecodeEvent::BadLine { line, .. } => bad.push(line),
            };
            let mut pending = Vec::new();
            for c in input.as_bytes().chunks(chunk) {
                pending.extend_from_slice(c);
                let n = d.decode(&pending, false, &mut emit).unwrap();
                pending.drain(..n);
            }
            d.decode(&pending, true, &mut emit).unwrap();
            d.finish(&mut emit).unwrap();
            let mut got = Vec::new();
            for (bucket, b) in &batches {
                assert!(b.num_rows() <= batch_size);
                let text = |name: &str| {
                    let c = arrow::compute::cast(
                        b.column_by_name(name).unwrap(),
                        &arrow::datatypes::DataType::Utf8,
                    )
                    .unwrap();
                    c.as_string::<i32>()
                        .iter()
                        .map(|v| v.map(str::to_string))
                        .collect::<Vec<_>>()
                };
                let columns: Vec<Vec<Option<String>>> = layout
                    .slots()
                    .iter()
                    .map(|slot| match slot {
                        vpcflow_format::Slot::Known(i) => {
                            text(&vpcflow_format::FIELDS[*i].name.replace('-', "_"))
                        }
                        vpcflow_format::Slot::Unknown(_) => {
                            let m = b.column_by_name("unknown_fields").unwrap().as_map();
                            (0..b.num_rows())
                                .map(|r| {
                                    let entry = m.value(r);
                                    let values = entry.column(1).as_string::<i32>();
                                    assert_eq!(entry.len(), 1);
                                    values.is_valid(0).then(|| values.value(0).to_string())
                                })
                                .collect()
                        }
                    })
                    .collect();
                let line = b
                    .column_by_name("source_line")
                    .unwrap()
                    .as_primitive::<Int64Type>();
                let start = text("start");
                for r in 0..b.num_rows() {
                    let hour = start[r].as_ref().map(|s| s.parse::<i64>().unwrap() / 3600);
                    assert_eq!(bucket.map(|h| h.0), hour);
                    got.push((
                        line.value(r) as u64,
                        columns.iter().map(|c| c[r].clone()).collect::<Vec<_>>(),
                    ));
                }
            }
            got.sort();
            assert_eq!(got, want_rows, "chunks of {chunk}, batches of {batch_size}");
            bad.sort();
            assert_eq!(bad, want_bad);
        }
    }

    #[test]
    fn an_input_that_moves_through_the_hours_holds_a_few_of_them() {
        let row = |hour: i64, n: i64| {
            format!(
                "2 1 eni-a 10.0.0.1 10.0.0.2 {n} 2 6 3 100 {} 60 ACCEPT OK\n",
                hour * 3600 + n
            )
        };
        let mut d = FlowDecoderBuilder::new(Layout::default_v2()).build_decoder("mem".into(), None);
        let emitted: std::cell::RefCell<Vec<(i64, usize)>> = Default::default();
        let mut emit = |e: DecodeEvent<'_>| {
            if let DecodeEvent::Batch(b, batch) = e {
                emitted.borrow_mut().push((b.unwrap().0, batch.num_rows()));
            }
        };
        // Hours 1 to 6, ten records each, then a late record of hour 2.
        for hour in 1..=6 {
            let text: String = (0..10).map(|n| row(hour, n)).collect();
            d.decode(text.as_bytes(), false, &mut emit).unwrap();
        }
        d.decode(row(2, 10).as_bytes(), false, &mut emit).unwrap();
        let before_finish = emitted.borrow().len();
        d.finish(&mut emit).unwrap();
        let emitted = emitted.into_inner();
        // Each new hour past the third sent the oldest one's batch on; hour 2's late record
        // made a batch of its own.
        assert_eq!(before_finish, 4);
        assert_eq!(emitted[..4], [(1, 10), (2, 10), (3, 10), (4, 10)]);
        let mut rest = emitted[4..].to_vec();
        rest.sort();
        assert_eq!(rest, [(2, 1), (5, 10), (6, 10)]);
    }
}
