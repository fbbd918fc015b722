//! The parser for one flow-log record: separators found eight bytes at a time ([`crate::scan`]),
//! values parsed with nom.

use crate::fields::{END, FIELDS, FieldKind, START};
use crate::layout::{Layout, Slot};
use nom::{
    IResult, Parser,
    bytes::complete::take_till1,
    character::complete::{space0, u64 as dec_u64},
    combinator::all_consuming,
    sequence::preceded,
};

/// One parsed field value, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// `-`: not applicable or not computed.
    Null,
    /// An integer field.
    Int(i64),
    /// A string field.
    Str(&'a str),
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line has more or fewer fields than the layout.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields in the layout.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// An integer field holds something else.
    #[error("field `{field}`: {value:?} is not an integer")]
    NotInteger {
        /// The field's AWS name.
        field: &'static str,
        /// The offending text (shortened).
        value: String,
    },
    /// An integer field is out of its type's range.
    #[error("field `{field}`: {value} is out of range")]
    OutOfRange {
        /// The field's AWS name.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// An integer field is above what the field can hold (a port above 65535, a protocol
    /// number above 255).
    #[error("field `{field}`: {value} is above {max}")]
    AboveMax {
        /// The field's AWS name.
        field: &'static str,
        /// The value.
        value: u64,
        /// The largest valid value.
        max: u64,
    },
    /// A field holds a NUL byte (binary data, not flow-log text).
    #[error("field {position} holds a NUL byte")]
    Nul {
        /// 1-based position of the field on the line.
        position: usize,
    },
    /// A field holds bytes that are not UTF-8.
    #[error("field {position} is not valid UTF-8 text")]
    NotUtf8 {
        /// 1-based position of the field on the line.
        position: usize,
    },
    /// The line could not be read whole (too long, or cut off by the end of the input).
    #[error("{0}")]
    Unreadable(&'static str),
}

/// `start`/`end` above this are taken as milliseconds (1e11 s is the year 5138).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotPlan {
    pub(crate) kind: FieldKind,
    name: &'static str,
    is_time: bool,
    /// The field's own limit, below its type's (ports, protocol numbers).
    pub(crate) max: Option<u64>,
}

impl SlotPlan {
    /// The largest value the field's integer type holds.
    pub(crate) fn type_max(&self) -> u64 {
        match self.kind {
            FieldKind::Int32 => i32::MAX as u64,
            _ => i64::MAX as u64,
        }
    }

    /// The value of an integer field that read `n` (at most [`type_max`](Self::type_max)):
    /// `start` and `end` in milliseconds become seconds.
    #[inline]
    pub(crate) fn int_value(&self, n: u64) -> i64 {
        let v = n as i64;
        if self.is_time && v >= MILLIS_THRESHOLD {
            v / 1000
        } else {
            v
        }
    }
}

/// The largest valid value of a field, where it is below its type's.
fn field_max(name: &str) -> Option<u64> {
    match name {
        "srcport" | "dstport" => Some(65_535),
        "protocol" => Some(255),
        _ => None,
    }
}

/// Parses lines of one layout into [`Value`]s, without allocating per field.
#[derive(Debug, Clone)]
pub struct RecordParser {
    layout: Layout,
    pub(crate) plan: Vec<SlotPlan>,
    /// The slot of `start`, if the layout has it.
    pub(crate) start: Option<usize>,
}

fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    preceded(space0, take_till1(|c| c == b' ' || c == b'\t')).parse(input)
}

/// An unsigned decimal number, as nom's `u64` reads it. nom checks every digit's multiply
/// and add for overflow, a chain of dependent checks that was a tenth of the parse; no
/// number of 19 digits or fewer can overflow a `u64`, so those are read without the checks,
/// and only longer ones go to nom.
fn decimal(input: &[u8]) -> IResult<&[u8], u64> {
    let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return dec_u64(input);
    }
    let (number, rest) = input.split_at(digits);
    match plain_decimal(number) {
        Some(n) => Ok((rest, n)),
        None => dec_u64(input),
    }
}

/// A token of 1 to 19 decimal digits and nothing else: none of those overflow a `u64`.
#[inline]
pub(crate) fn plain_decimal(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 19 {
        return None;
    }
    tok.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then(|| n * 10 + u64::from(d))
    })
}

fn shorten(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

impl RecordParser {
    /// A parser for records of `layout`.
    pub fn new(layout: Layout) -> Self {
        let plan = layout
            .slots()
            .iter()
            .map(|s| match s {
                Slot::Known(i) => SlotPlan {
                    kind: FIELDS[*i].kind,
                    name: FIELDS[*i].name,
                    is_time: *i == START || *i == END,
                    max: field_max(FIELDS[*i].name),
                },
                Slot::Unknown(_) => SlotPlan {
                    kind: FieldKind::Utf8,
                    name: "",
                    is_time: false,
                    max: None,
                },
            })
            .collect();
        let start = layout.position(START);
        Self {
            layout,
            plan,
            start,
        }
    }

    /// The layout this parser reads.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The `start` of a record as [`parse`](Self::parse) left it in `values` (in seconds),
    /// if the layout has the field and the record a value.
    #[inline]
    pub fn start(&self, values: &[Value<'_>]) -> Option<i64> {
        match values.get(self.start?)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// Parses one line (without its line terminator; a trailing `\r` is ignored) into `out`,
    /// one value per slot of the layout. On error `out` holds no meaningful values.
    pub fn parse<'a>(&self, line: &'a [u8], out: &mut Vec<Value<'a>>) -> Result<(), LineError> {
        out.clear();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // One UTF-8 check for the whole line; tokens are then cut from the checked text.
        let text = simdutf8::basic::from_utf8(line).ok();
        let has_nul = memchr::memchr(0, line).is_some();
        // The separators, found a word at a time rather than byte by byte: tokens are short
        // (seven bytes on average) and scanning for their ends was a quarter of the parse.
        let mut separators = crate::scan::Separators::new(line);
        let mut from = 0;
        for (position, plan) in self.plan.iter().enumerate() {
            let Some(start) = next_token(&mut separators, &mut from, line.len()) else {
                return Err(LineError::FieldCount {
                    expected: self.plan.len(),
                    found: position,
                });
            };
            let tok = &line[start..from];
            from += 1;
            let tok_text = match text {
                Some(t) => t.get(start..start + tok.len()),
                None => std::str::from_utf8(tok).ok(),
            };
            let value = if has_nul && tok.contains(&0) {
                Err(LineError::Nul {
                    position: position + 1,
                })
            } else {
                self.value(plan, position, tok, tok_text)
            };
            match value {
                Ok(v) => out.push(v),
                // A wrong field count explains a bad value better than the value does.
                Err(e) => {
                    let found = count_tokens(line);
                    return Err(if found == self.plan.len() {
                        e
                    } else {
                        LineError::FieldCount {
                            expected: self.plan.len(),
                            found,
                        }
                    });
                }
            }
        }
        let extra = count_tokens(line.get(from..).unwrap_or_default());
        if extra > 0 {
            return Err(LineError::FieldCount {
                expected: self.plan.len(),
                found: self.plan.len() + extra,
            });
        }
        Ok(())
    }

    fn value<'a>(
        &self,
        plan: &SlotPlan,
        position: usize,
        tok: &'a [u8],
        tok_text: Option<&'a str>,
    ) -> Result<Value<'a>, LineError> {
        if tok == b"-" {
            return Ok(Value::Null);
        }
        match plan.kind {
            FieldKind::Utf8 => tok_text.map(Value::Str).ok_or(LineError::NotUtf8 {
                position: position + 1,
            }),
            FieldKind::Int32 | FieldKind::Int64 => {
                let parsed: IResult<&[u8], u64> = all_consuming(decimal).parse(tok);
                let Ok((_, n)) = parsed else {
                    return Err(LineError::NotInteger {
                        field: plan.name,
                        value: shorten(tok),
                    });
                };
                if n > plan.type_max() {
                    return Err(LineError::OutOfRange {
                        field: plan.name,
                        value: n,
                    });
                }
                if let Some(max) = plan.max
                    && n > max
                {
                    return Err(LineError::AboveMax {
                        field: plan.name,
                        value: n,
                        max,
                    });
                }
                Ok(Value::Int(plan.int_value(n)))
            }
        }
    }
}

/// The next non-empty token: returns its start and leaves `from` at its end (the separator
/// after it, or `len`), given `separators`, the positions of the separators from `from` on.
/// Called for every field, from two loops: a call each time would cost more than its body.
#[inline(always)]
pub(crate) fn next_token(
    separators: &mut impl Iterator<Item = usize>,
    from: &mut usize,
    len: usize,
) -> Option<usize> {
    loop {
        let start = *from;
        match separators.next() {
            // Separators in a row: an empty token, skipped.
            Some(end) if end == start => *from = end + 1,
            Some(end) => {
                *from = end;
                return Some(start);
            }
            None if start < len => {
                *from = len;
                return Some(start);
            }
            None => return None,
        }
    }
}

fn count_tokens(mut rest: &[u8]) -> usize {
    let mut n = 0;
    while let Ok((next, _)) = token(rest) {
        n += 1;
        rest = next;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_default(line: &str) -> Result<Vec<Value<'_>>, LineError> {
        let p = RecordParser::new(Layout::default_v2());
        let mut out = Vec::new();
        p.parse(line.as_bytes(), &mut out)?;
        Ok(out)
    }

    #[test]
    fn aws_accept_record() {
        let v = parse_default("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK").unwrap();
        use Value::*;
        assert_eq!(
            v,
            [
                Int(2),
                Str("123456789010"),
                Str("eni-1235b8ca123456789"),
                Str("172.31.16.139"),
                Str("172.31.16.21"),
                Int(20641),
                Int(22),
                Int(6),
                Int(20),
                Int(4249),
                Int(1418530010),
                Int(1418530070),
                Str("ACCEPT"),
                Str("OK")
            ]
        );
    }

    #[test]
    fn dashes_are_null_and_runs_of_spaces_separate() {
        let v =
            parse_default("2 123456789010 eni-1  - - - - - - -   1431280876 1431280934 - NODATA\r")
                .unwrap();
        assert_eq!(v[3], Value::Null);
        assert_eq!(v[9], Value::Null);
        assert_eq!(v[10], Value::Int(1431280876));
        assert_eq!(v[13], Value::Str("NODATA"));
    }

    #[test]
    fn tabs_and_separators_at_either_end_separate_too() {
        let v = parse_default(
            " \t2\t123456789010 eni-1\t\t10.0.0.1 10.0.0.2 1 2 6 3 4 1431280876 1431280934 ACCEPT OK \t",
        )
        .unwrap();
        assert_eq!(v.len(), 14);
        assert_eq!(v[0], Value::Int(2));
        assert_eq!(v[2], Value::Str("eni-1"));
        assert_eq!(v[3], Value::Str("10.0.0.1"));
        assert_eq!(v[13], Value::Str("OK"));
        // A missing last field, and one field too many after a tab.
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT  "),
            Err(LineError::FieldCount {
                expected: 14,
                found: 13
            })
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT OK\tx"),
            Err(LineError::FieldCount {
                expected: 14,
                found: 15
            })
        );
    }

    #[test]
    fn decimals_read_as_nom_reads_them() {
        for text in [
            "0",
            "7",
            "0042",
            "65535",
            "1418530010",
            "9223372036854775807",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901",
            "12a",
            "a12",
            "",
            "-1",
        ] {
            let ours = decimal(text.as_bytes()).ok();
            let noms = dec_u64::<_, nom::error::Error<&[u8]>>(text.as_bytes()).ok();
            assert_eq!(ours, noms, "{text:?}");
        }
        assert_eq!(decimal(b"1418530010 rest"), Ok((&b" rest"[..], 1418530010)));
    }

    #[test]
    fn milliseconds_become_seconds() {
        let v = parse_default(
            "2 123456789010 eni-4b118871 - - - - - - - 1512564058000 1512564059000 - SKIPDATA",
        )
        .unwrap();
        assert_eq!(v[10], Value::Int(1512564058));
        assert_eq!(v[11], Value::Int(1512564059));
        assert_eq!(
            RecordParser::new(Layout::default_v2()).start(&v),
            Some(1512564058)
        );
    }

    #[test]
    fn bad_lines() {
        assert_eq!(
            parse_default("bogus line"),
            Err(LineError::FieldCount {
                expected: 14,
                found: 2
            })
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 6 1 2 3 4 ACCEPT OK extra more"),
            Err(LineError::FieldCount {
                expected: 14,
                found: 16
            })
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 6 x1 2 3 4 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "field `packets`: \"x1\" is not an integer"
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 99999999999 2 6 1 2 3 4 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "field `srcport`: 99999999999 is out of range"
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 70000 2 6 1 2 3 4 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "field `srcport`: 70000 is above 65535"
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 65536 6 1 2 3 4 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "field `dstport`: 65536 is above 65535"
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 300 1 2 3 4 ACCEPT OK")
                .unwrap_err()
                .to_string(),
            "field `protocol`: 300 is above 255"
        );
        assert!(parse_default("2 1 eni-1 a b 65535 0 255 1 2 3 4 ACCEPT OK").is_ok());
        assert_eq!(
            parse_default("2 1 eni-\x001 a b 1 2 6 1 2 3 4 ACCEPT OK"),
            Err(LineError::Nul { position: 3 })
        );
        assert_eq!(
            parse_default("2 1 eni-1 a b 1 2 6 1 2 3 4 ACC\x00EPT OK"),
            Err(LineError::Nul { position: 13 })
        );
        let garbage = b"2 1 eni-\xff\xfe a b 1 2 6 1 2 3 4 ACCEPT OK";
        let p = RecordParser::new(Layout::default_v2());
        assert_eq!(
            p.parse(garbage, &mut Vec::new()),
            Err(LineError::NotUtf8 { position: 3 })
        );
    }
}
