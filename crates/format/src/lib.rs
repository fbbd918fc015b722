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

mod block;
pub mod fields;
mod layout;
mod record;
mod scan;

pub use block::{Block, plain_text, record_str, record_text};
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

/// The region of an S3 flow-log object, from its name
/// (`ACCOUNT_vpcflowlogs_REGION_FLOWLOGID_...`) or its key (`.../vpcflowlogs/REGION/...` or
/// `.../aws-region=REGION/...`). Records of formats without the `region` field are priced by it.
pub fn region_from_name(name: &str) -> Option<&str> {
    let looks_like_region = |r: &str| {
        r.len() >= 9
            && r.split('-').count() >= 3
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let base = name.rsplit('/').next()?;
    let mut parts = base.split('_');
    if let (Some(_), Some("vpcflowlogs"), Some(region)) = (parts.next(), parts.next(), parts.next())
        && looks_like_region(region)
    {
        return Some(region);
    }
    let mut segments = name.split('/');
    while let Some(seg) = segments.next() {
        let found = match seg.strip_prefix("aws-region=") {
            Some(r) => Some(r),
            None if seg == "vpcflowlogs" => segments.next(),
            None => None,
        };
        if let Some(r) = found.filter(|r| looks_like_region(r)) {
            return Some(r);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn region() {
        use super::region_from_name;
        assert_eq!(
            region_from_name(
                "b/AWSLogs/1/vpcflowlogs/eu-west-2/2025/12/01/1_vpcflowlogs_eu-west-2_fl-1_20251201T0000Z_a.log.gz"
            ),
            Some("eu-west-2")
        );
        assert_eq!(
            region_from_name(
                "p/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=ap-southeast-1/year=2025/x.log.gz"
            ),
            Some("ap-southeast-1")
        );
        assert_eq!(
            region_from_name("AWSLogs/1/vpcflowlogs/us-east-1/2025/x.log"),
            Some("us-east-1")
        );
        assert_eq!(region_from_name("flows.log.gz"), None);
        assert_eq!(region_from_name("vpcflowlogs/2025/x.log"), None);
    }

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
