//! Many records parsed at once, a column at a time.
//!
//! [`RecordParser::parse`] reads a line field by field, and its caller then takes each value
//! to its column: two choices per field, by the field's type, on every line. Here a block
//! of lines is first cut into tokens, line by line, and then each integer column is read in
//! one loop of its own; the caller takes the block to its columns the same way. Only lines
//! whose every field is plainly valid are read so: the first line that is not makes the
//! whole block go back to [`RecordParser::parse`], line by line, which says what is wrong.

use crate::fields::FieldKind;
use crate::record::{RecordParser, next_token, plain_decimal};
use crate::scan::Separators;

/// The tokens and integer values of a block of records, column by column.
///
/// Token `(slot, row)` is the text of the layout's field `slot` on line `row` of the
/// lines the block was parsed from; the block holds its place, not its text.
#[derive(Debug, Default)]
pub struct Block {
    /// Lines in the block, and the distance between two columns in the vectors below.
    rows: usize,
    /// Where each token starts and ends on its line, column by column.
    starts: Vec<u32>,
    ends: Vec<u32>,
    /// The integer fields' values, column by column ([`Block::NULL`] for `-`); nothing
    /// meaningful in the string fields' columns.
    ints: Vec<i64>,
}

impl Block {
    /// An integer field's `-` in [`Block::int_column`]. No value is negative.
    pub const NULL: i64 = i64::MIN;

    /// Records in the block.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The values of the integer field in `slot`, one per row: [`Block::NULL`] where the
    /// record has `-`.
    #[inline]
    pub fn int_column(&self, slot: usize) -> &[i64] {
        self.ints
            .get(slot * self.rows..(slot + 1) * self.rows)
            .unwrap_or_default()
    }

    /// The text of field `slot` of record `row`, where `lines` are the lines the block was
    /// parsed from; `None` for `-`. It is valid UTF-8 (a line's text cut at ASCII
    /// separators), given as bytes: a `str` would check both ends once more.
    #[inline]
    pub fn bytes<'a>(&self, lines: &[&'a str], slot: usize, row: usize) -> Option<&'a [u8]> {
        let i = slot * self.rows + row;
        let (start, end) = (*self.starts.get(i)? as usize, *self.ends.get(i)? as usize);
        let line = lines.get(row)?.as_bytes();
        line.get(start..end).filter(|t| *t != b"-")
    }

    fn reset(&mut self, slots: usize, rows: usize) {
        self.rows = rows;
        for v in [&mut self.starts, &mut self.ends] {
            v.clear();
            v.resize(slots * rows, 0);
        }
        self.ints.clear();
        self.ints.resize(slots * rows, Self::NULL);
    }
}

/// The text of a line that may be read in a [`Block`]: without a trailing `\r`, valid UTF-8,
/// free of NUL bytes, and starting with neither a separator nor a lower-case letter (a
/// header line's start). `None` for any other line, and for a blank one.
#[inline]
pub fn record_text(line: &[u8]) -> Option<&str> {
    record_str(plain_text(line)?)
}

/// `bytes` as text, where they are valid UTF-8 and free of NUL bytes: checked for many
/// lines at once, their text is then cut into lines for [`record_str`].
#[inline]
pub fn plain_text(bytes: &[u8]) -> Option<&str> {
    match memchr::memchr(0, bytes) {
        None => simdutf8::basic::from_utf8(bytes).ok(),
        Some(_) => None,
    }
}

/// [`record_text`] for a line of [`plain_text`].
#[inline]
pub fn record_str(line: &str) -> Option<&str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let first = *line.as_bytes().first()?;
    (!first.is_ascii_whitespace() && !first.is_ascii_lowercase()).then_some(line)
}

impl RecordParser {
    /// Reads `lines`, each as [`record_text`] gives it, into `block`. Returns `false`, with
    /// nothing meaningful in `block`, when any of them is not a record of the layout whose
    /// integers are all 1 to 19 digits within their field's range: such lines are for
    /// [`parse`](Self::parse), which gives their values or says what is wrong. Where it
    /// returns `true`, the block holds for every line what [`parse`](Self::parse) gives.
    pub fn parse_block(&self, lines: &[&str], block: &mut Block) -> bool {
        let (slots, rows) = (self.plan.len(), lines.len());
        block.reset(slots, rows);
        // Slices, not the vectors: a store through one of them cannot move the other.
        let (starts, ends) = (&mut block.starts[..], &mut block.ends[..]);
        for (row, line) in lines.iter().enumerate() {
            let line = line.as_bytes();
            if u32::try_from(line.len()).is_err() {
                return false;
            }
            let mut separators = Separators::new(line);
            let mut from = 0;
            // Field `slot`'s column starts at `slot * rows`.
            let mut i = row;
            for _ in 0..slots {
                let Some(start) = next_token(&mut separators, &mut from, line.len()) else {
                    return false;
                };
                starts[i] = start as u32;
                ends[i] = from as u32;
                from += 1;
                i += rows;
            }
            // Nothing but separators after the last field.
            let rest = line.get(from..).unwrap_or_default();
            if rest.iter().any(|&b| b != b' ' && b != b'\t') {
                return false;
            }
        }
        for (slot, plan) in self.plan.iter().enumerate() {
            if plan.kind == FieldKind::Utf8 {
                continue;
            }
            let limit = plan
                .max
                .map_or(plan.type_max(), |max| max.min(plan.type_max()));
            let column = slot * rows..(slot + 1) * rows;
            let (starts, ends) = (&block.starts[column.clone()], &block.ends[column.clone()]);
            for (((out, line), &start), &end) in block.ints[column]
                .iter_mut()
                .zip(lines)
                .zip(starts)
                .zip(ends)
            {
                let tok = line
                    .as_bytes()
                    .get(start as usize..end as usize)
                    .unwrap_or_default();
                if tok == b"-" {
                    continue;
                }
                let Some(n) = plain_decimal(tok).filter(|n| *n <= limit) else {
                    return false;
                };
                *out = plan.int_value(n);
            }
        }
        true
    }

    /// The slot of `start` in the layout, if it has the field.
    pub fn start_slot(&self) -> Option<usize> {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Layout, Value};

    /// Lines of every kind the parser meets: plain records, `-`s, milliseconds, tabs and runs
    /// of separators, and lines that are not records for every reason `parse` knows.
    const LINES: &[&str] = &[
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1  - - - - - - -   1431280876 1431280934 - NODATA",
        "2\t123456789010 eni-1\t\t10.0.0.1 10.0.0.2 1 2 6 3 4 1431280876 1431280934 ACCEPT OK \t",
        "2 123456789010 eni-4b118871 - - - - - - - 1512564058000 1512564059000 - SKIPDATA",
        "2 1 eni-1 a b 65535 0 255 1 2 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT",
        "2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT OK extra",
        "2 1 eni-1 a b 1 2 6 x1 2 3 4 ACCEPT OK",
        "2 1 eni-1 a b 70000 2 6 1 2 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 300 1 2 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 99999999999999999999 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 9223372036854775808 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 0009223372036854775807 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 9223372036854775807 3 4 ACCEPT OK",
        "2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT OK\r",
        "2 1 eni-é a b 1 2 6 1 2 3 4 ACCÉPT OK",
    ];

    /// What `parse_block` gives for each field of each line of a block it read.
    fn block_values<'a>(
        parser: &RecordParser,
        lines: &[&'a str],
        block: &Block,
    ) -> Vec<Vec<Value<'a>>> {
        (0..lines.len())
            .map(|row| {
                (0..parser.layout().len())
                    .map(|slot| match parser.plan[slot].kind {
                        FieldKind::Utf8 => block
                            .bytes(lines, slot, row)
                            .map_or(Value::Null, |b| Value::Str(std::str::from_utf8(b).unwrap())),
                        _ => match block.int_column(slot)[row] {
                            Block::NULL => Value::Null,
                            v => Value::Int(v),
                        },
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_block_reads_what_parse_reads_or_leaves_it_to_parse() {
        let parser = RecordParser::new(Layout::default_v2());
        let mut block = Block::default();
        // Every line alone, and beside a good line on either side.
        let good = LINES[0];
        for line in LINES {
            let Some(text) = record_text(line.as_bytes()) else {
                continue;
            };
            let mut want = Vec::new();
            let parsed = parser.parse(text.as_bytes(), &mut want);
            for lines in [vec![text], vec![good, text], vec![text, good, good]] {
                let read = parser.parse_block(&lines, &mut block);
                match &parsed {
                    Err(_) => assert!(!read, "{text:?} read in a block"),
                    Ok(()) => {
                        // Integers of more than 19 digits (leading zeros) are left to parse.
                        if text.contains("0009") {
                            assert!(!read);
                            continue;
                        }
                        assert!(read, "{text:?} not read in a block");
                        assert_eq!(block.rows(), lines.len());
                        let got = block_values(&parser, &lines, &block);
                        for (row, line) in lines.iter().enumerate() {
                            let mut want = Vec::new();
                            parser.parse(line.as_bytes(), &mut want).unwrap();
                            assert_eq!(got[row], want, "{line:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_plain_record_lines_are_block_text() {
        assert_eq!(record_text(b"2 1 eni-1\r"), Some("2 1 eni-1"));
        assert_eq!(record_text(b"2 1 \xff"), None);
        assert_eq!(record_text(b"2 1 \x00"), None);
        for line in [
            &b""[..],
            b"\r",
            b" 2 1",
            b"\t2",
            b"version account-id",
            b"garbage",
        ] {
            assert_eq!(record_text(line), None, "{line:?}");
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(plain_decimal(b"0"), Some(0));
        assert_eq!(plain_decimal(b"0042"), Some(42));
        assert_eq!(
            plain_decimal(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for tok in [
            &b""[..],
            b"12a",
            b"-1",
            b"+1",
            b"1 ",
            b"99999999999999999999",
        ] {
            assert_eq!(plain_decimal(tok), None, "{tok:?}");
        }
    }
}
