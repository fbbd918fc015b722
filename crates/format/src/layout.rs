//! Field layouts: which field stands at which position of a record.

use crate::fields::{DEFAULT_FORMAT, FIELDS, field_index};
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::{char, multispace0},
    combinator::{all_consuming, map},
    multi::many1,
    sequence::{delimited, preceded},
};

/// What one position of a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A field of [`FIELDS`], by index.
    Known(usize),
    /// A field name this version of vpcflow does not know; its values are kept verbatim.
    Unknown(Box<str>),
}

/// The ordered fields of a flow log's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    slots: Vec<Slot>,
}

/// A format string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The format string has no field in it, or is not `${a} ${b}` nor `a b`.
    #[error(
        "not a flow-log format (expected `${{version}} ${{account-id}} ...` or `version account-id ...`): {0:?}"
    )]
    Syntax(String),
    /// A field appears twice.
    #[error("field `{0}` appears twice in the format")]
    Duplicate(String),
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn names(input: &str) -> IResult<&str, Vec<&str>> {
    let braced = delimited(tag("${"), take_while1(is_name_char), char('}'));
    let bare = take_while1(is_name_char);
    all_consuming(many1(preceded(
        multispace0,
        alt((braced, map(bare, |s: &str| s))),
    )))
    .parse(input.trim_end())
}

impl Layout {
    /// AWS's default format: the 14 version-2 fields.
    pub fn default_v2() -> Self {
        Self::parse_format(DEFAULT_FORMAT).expect("the default format is valid")
    }

    /// Reads a format given as AWS's format string (`${version} ${account-id} ...`) or as
    /// space-separated field names (hyphenated or with underscores).
    pub fn parse_format(format: &str) -> Result<Self, FormatError> {
        let (_, list) = names(format).map_err(|_| FormatError::Syntax(format.to_string()))?;
        Self::from_names(list.into_iter())
    }

    fn from_names<'a>(list: impl Iterator<Item = &'a str>) -> Result<Self, FormatError> {
        let mut slots: Vec<Slot> = Vec::new();
        for name in list {
            let slot = match field_index(name) {
                Some(i) => Slot::Known(i),
                None => Slot::Unknown(name.replace('_', "-").into()),
            };
            if slots.contains(&slot) {
                return Err(FormatError::Duplicate(name.to_string()));
            }
            slots.push(slot);
        }
        Ok(Self { slots })
    }

    /// Reads an S3 text-delivery header line (`version account-id ...`), if `line` is one.
    ///
    /// A line is a header when its first token is a known field name and every token has the
    /// shape of a field name. Data values never pass that test: no flow-log value is spelt as
    /// a field name.
    pub fn from_header_line(line: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(line)
            .ok()?
            .trim_end_matches(['\r', '\n']);
        let mut tokens = text.split_ascii_whitespace().peekable();
        let first = *tokens.peek()?;
        field_index(first)?;
        let all_names = text.split_ascii_whitespace().all(|t| {
            t.starts_with(|c: char| c.is_ascii_lowercase())
                && t.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        });
        if !all_names {
            return None;
        }
        Self::from_names(tokens).ok()
    }

    /// The positions of the record, in order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Number of fields per record.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the layout has no field (never for a parsed layout).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Position of a known field in the record.
    pub fn position(&self, field: usize) -> Option<usize> {
        self.slots.iter().position(|s| *s == Slot::Known(field))
    }

    /// The names of the fields this layout holds that vpcflow does not know.
    pub fn unknown_names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Unknown(n) => Some(&**n),
            Slot::Known(_) => None,
        })
    }

    /// The layout rendered as AWS's format string.
    pub fn to_format_string(&self) -> String {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Known(i) => format!("${{{}}}", FIELDS[*i].name),
                Slot::Unknown(n) => format!("${{{n}}}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::field_index;

    fn idx(n: &str) -> Slot {
        Slot::Known(field_index(n).unwrap())
    }

    #[test]
    fn both_format_spellings() {
        let a = Layout::parse_format("${version} ${vpc-id} ${az-id}").unwrap();
        let b = Layout::parse_format("version vpc_id az-id").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.slots(), &[idx("version"), idx("vpc-id"), idx("az-id")]);
        assert_eq!(a.to_format_string(), "${version} ${vpc-id} ${az-id}");
    }

    #[test]
    fn default_is_fourteen_fields() {
        let l = Layout::default_v2();
        assert_eq!(l.len(), 14);
        assert_eq!(l.position(field_index("log-status").unwrap()), Some(13));
    }

    #[test]
    fn unknown_and_bad_formats() {
        let l = Layout::parse_format("${version} ${future-field}").unwrap();
        assert_eq!(l.unknown_names().collect::<Vec<_>>(), ["future-field"]);
        assert!(matches!(
            Layout::parse_format(""),
            Err(FormatError::Syntax(_))
        ));
        assert!(matches!(
            Layout::parse_format("${version"),
            Err(FormatError::Syntax(_))
        ));
        assert_eq!(
            Layout::parse_format("version version"),
            Err(FormatError::Duplicate("version".into()))
        );
    }

    #[test]
    fn header_detection() {
        let h = Layout::from_header_line(b"version account-id interface-id\n").unwrap();
        assert_eq!(h.len(), 3);
        assert!(Layout::from_header_line(b"ingress - 10.0.133.8 10.0.128.55 43236 80 1").is_none());
        assert!(
            Layout::from_header_line(b"2 123456789010 eni-1 - - - - - - - 1 2 - NODATA").is_none()
        );
        assert!(Layout::from_header_line(b"- eni-1235b8ca123456789 10.0.1.5").is_none());
        assert!(Layout::from_header_line(b"bogus line").is_none());
        let t = Layout::from_header_line(b"resource-type tgw-id packets-lost-ttl-expired").unwrap();
        assert_eq!(t.len(), 3);
    }
}
