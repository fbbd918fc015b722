//! The AWS VPC Flow Log record model and its nom parser. No I/O happens here.
//!
//! - [`fields::FIELDS`] lists every field of flow-log versions 2 to 11 and of Transit Gateway
//!   flow logs, with the column name and type of AWS's Parquet delivery.
//! - [`Layout`] says which field stands at which position: from a format string
//!   ([`Layout::parse_format`]), an S3 header line ([`Layout::from_header_line`]) or AWS's
//!   default ([`Layout::default_v2`]).
//! - [`RecordParser`] turns one line into [`Value`]s borrowed from the line.
//!
//! ```
//! use vpcflow_format::{Layout, RecordParser, Value};
//!
//! let parser = RecordParser::new(Layout::default_v2());
//! let mut values = Vec::new();
//! parser.parse(b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA", &mut values)?;
//! assert_eq!(values[2], Value::Str("eni-1235b8ca123456789"));
//! assert_eq!(values[3], Value::Null);
//! assert_eq!(values[10], Value::Int(1431280876));
//! # Ok::<(), vpcflow_format::LineError>(())
//! ```
#![deny(missing_docs)]

pub mod fields;
mod layout;
mod record;

pub use fields::{FIELDS, FieldDef, FieldKind, field_index};
pub use layout::{FormatError, Layout, Slot};
pub use record::{LineError, RecordParser, Value};

/// The flow-log ID (`fl-...`) in an S3 object name such as
/// `123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz`.
pub fn flow_log_id_from_name(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next()?;
    let mut parts = base.split('_');
    let (_, service, _, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (service == "vpcflowlogs" && id.starts_with("fl-")).then_some(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn flow_log_id() {
        assert_eq!(
            super::flow_log_id_from_name(
                "AWSLogs/1/vpcflowlogs/us-east-1/2019/06/05/034496339141_vpcflowlogs_us-east-1_fl-093a2bd1f31cac72f_20190605T0835Z_8246457e.log.gz"
            ),
            Some("fl-093a2bd1f31cac72f")
        );
        assert_eq!(super::flow_log_id_from_name("flows.log.gz"), None);
    }
}
