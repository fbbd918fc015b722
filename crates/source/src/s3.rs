//! Amazon S3: flow-log objects found through AWS's key layouts and streamed as they are read.
//!
//! A time range lists only the day prefixes it needs when the prefix names a flow log's region
//! folder (`.../AWSLogs/{account}/vpcflowlogs/{region}/` or the Hive-style
//! `.../aws-region={region}/`), or its service folder (the regions are listed first); the
//! timestamp in AWS's object names narrows the objects further.

use crate::IngestError;
use crate::local::InputFile;
use aws_sdk_s3::primitives::ByteStream;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use vpcflow_aws::AwsContext;
use vpcflow_aws::one_line;

/// Slack around `--from`/`--to` when matching object-name timestamps: an object's name time is
/// not its records' time (AWS's documents disagree on which window a name covers).
const NAME_SLACK_SECONDS: i64 = 3600;

pub use vpcflow_aws::S3Location;

/// A connection to S3.
pub struct S3Source {
    rt: Arc<tokio::runtime::Runtime>,
    client: aws_sdk_s3::Client,
}

fn err(source_name: String, e: impl std::fmt::Display) -> IngestError {
    IngestError::Source {
        source_name,
        message: e.to_string(),
    }
}

impl S3Source {
    /// An S3 client; a custom endpoint uses path-style addressing.
    pub fn new(aws: &AwsContext) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(aws.sdk())
            .force_path_style(aws.custom_endpoint())
            .retry_classifier(vpcflow_aws::RefusedIsFinal)
            .build();
        Self {
            rt: aws.runtime().clone(),
            client: aws_sdk_s3::Client::from_conf(conf),
        }
    }

    /// Lists the flow-log objects under `loc` (text `.log`/`.log.gz`/`.gz` objects), narrowed
    /// to the time range `[from, to)` in Unix seconds where given. Sorted by key.
    pub fn list(
        &self,
        loc: &S3Location,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<InputFile>, IngestError> {
        let uri = format!("s3://{}/{}", loc.bucket, loc.prefix);
        let prefixes = match (from, to) {
            (Some(f), Some(t)) => self.day_prefixes(loc, f, t)?,
            _ => vec![loc.prefix.clone()],
        };
        let mut out = Vec::new();
        // Prefixes that hold a vpcflow dataset (`.../_manifest/...`): never read as flow logs.
        let mut datasets: Vec<String> = Vec::new();
        for prefix in prefixes {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&loc.bucket)
                .prefix(&prefix)
                .into_paginator()
                .send();
            while let Some(page) = self.rt.block_on(pages.next()) {
                let page = page.map_err(|e| err(uri.clone(), one_line("ListObjectsV2", &e)))?;
                for obj in page.contents() {
                    let Some(key) = obj.key() else { continue };
                    if let Some(root) = dataset_root(key) {
                        if !datasets.iter().any(|d| d == root) {
                            datasets.push(root.to_string());
                        }
                        continue;
                    }
                    if !is_flow_log_text(key) || !name_in_range(key, from, to) {
                        continue;
                    }
                    let uri = format!("s3://{}/{key}", loc.bucket);
                    out.push(InputFile {
                        path: PathBuf::from(&uri),
                        size: obj.size().unwrap_or(0).max(0) as u64,
                        id: uri,
                        version: obj.e_tag().map(str::to_string),
                        range: None,
                    });
                }
            }
        }
        for root in &datasets {
            tracing::warn!(
                "s3://{}/{root}: skipped, it is a vpcflow dataset (it holds _manifest/), not flow logs",
                loc.bucket
            );
        }
        out.retain(|f| {
            let key =
                f.id.strip_prefix(&format!("s3://{}/", loc.bucket))
                    .unwrap_or(&f.id);
            !datasets.iter().any(|d| key.starts_with(d.as_str()))
        });
        // By key as written: `a//b` and `a/./b` are other objects than `a/b` (a path would
        // compare them equal).
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// The day prefixes under `loc` that can hold objects of `[from, to)`, or the prefix itself
    /// when it is not a region or service folder of AWS's layout.
    fn day_prefixes(
        &self,
        loc: &S3Location,
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, IngestError> {
        let p = &loc.prefix;
        let regions: Vec<String> = if is_region_folder(p) {
            vec![p.clone()]
        } else if p.ends_with("vpcflowlogs/") {
            // A service folder: its children are region folders.
            let uri = format!("s3://{}/{p}", loc.bucket);
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&loc.bucket)
                .prefix(p)
                .delimiter("/")
                .into_paginator()
                .send();
            let mut regions = Vec::new();
            while let Some(page) = self.rt.block_on(pages.next()) {
                let page = page.map_err(|e| err(uri.clone(), one_line("ListObjectsV2", &e)))?;
                regions.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|c| c.prefix().map(str::to_string)),
                );
            }
            regions
        } else {
            return Ok(vec![p.clone()]);
        };
        let mut day = chrono::DateTime::from_timestamp(from - NAME_SLACK_SECONDS, 0)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        let last = chrono::DateTime::from_timestamp(to + NAME_SLACK_SECONDS, 0)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        let mut out = Vec::new();
        while day <= last {
            for r in &regions {
                let hive = r.contains("aws-region=");
                out.push(if hive {
                    format!("{r}{}", day.format("year=%Y/month=%m/day=%d/"))
                } else {
                    format!("{r}{}", day.format("%Y/%m/%d/"))
                });
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        Ok(out)
    }

    /// Opens an object for streaming: its body is read chunk by chunk as the caller reads,
    /// so memory does not depend on the object's size.
    pub fn open(&self, uri: &str) -> std::io::Result<Box<dyn Read + Send>> {
        let loc = S3Location::parse(uri)
            .ok_or_else(|| std::io::Error::other(format!("not an S3 URI: {uri}")))?;
        let resp = self
            .rt
            .block_on(
                self.client
                    .get_object()
                    .bucket(&loc.bucket)
                    .key(&loc.prefix)
                    .send(),
            )
            .map_err(|e| {
                let gone = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                std::io::Error::other(if gone {
                    "object not found (deleted after it was listed?)".to_string()
                } else {
                    one_line("GetObject", &e)
                })
            })?;
        Ok(Box::new(BodyReader {
            rt: self.rt.handle().clone(),
            body: resp.body,
            chunk: bytes::Bytes::new(),
        }))
    }
}

/// A blocking reader over an object's body.
struct BodyReader {
    rt: tokio::runtime::Handle,
    body: ByteStream,
    chunk: bytes::Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rt.block_on(self.body.try_next()) {
                Ok(Some(c)) => self.chunk = c,
                Ok(None) => return Ok(0),
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// True for the object names of flow-log delivery: text (`.log.gz`) or Parquet.
fn is_flow_log_text(key: &str) -> bool {
    [".log.gz", ".log", ".gz", ".parquet"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

/// The root of the vpcflow dataset `key` belongs to (the prefix before its `_manifest/`
/// segment), if it is one of a dataset's manifest keys.
fn dataset_root(key: &str) -> Option<&str> {
    if key.starts_with("_manifest/") {
        return Some("");
    }
    key.find("/_manifest/").map(|i| &key[..=i])
}

/// `.../vpcflowlogs/{region}/` or `.../aws-region={region}/`.
fn is_region_folder(prefix: &str) -> bool {
    let segs: Vec<&str> = prefix.trim_end_matches('/').rsplit('/').collect();
    prefix.ends_with('/')
        && (segs.first().is_some_and(|s| s.starts_with("aws-region="))
            || segs.get(1).is_some_and(|s| *s == "vpcflowlogs"))
}

/// The time in AWS's object name (`..._20180620T1620Z_hash.log.gz`), in Unix seconds.
fn name_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|part| {
        chrono::NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%MZ")
            .ok()
            .map(|t| t.and_utc().timestamp())
    })
}

fn name_in_range(key: &str, from: Option<i64>, to: Option<i64>) -> bool {
    let Some(t) = name_time(key) else {
        return true;
    };
    from.is_none_or(|f| t >= f - NAME_SLACK_SECONDS)
        && to.is_none_or(|e| t < e + NAME_SLACK_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_names() {
        assert_eq!(
            S3Location::parse("s3://b/AWSLogs/1/"),
            Some(S3Location {
                bucket: "b".into(),
                prefix: "AWSLogs/1/".into()
            })
        );
        assert_eq!(
            S3Location::parse("s3://b"),
            Some(S3Location {
                bucket: "b".into(),
                prefix: String::new()
            })
        );
        assert_eq!(S3Location::parse("/tmp/x"), None);
        assert!(is_region_folder("AWSLogs/1/vpcflowlogs/us-east-1/"));
        assert!(is_region_folder(
            "p/AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/"
        ));
        assert!(!is_region_folder("AWSLogs/1/vpcflowlogs/"));
        assert_eq!(
            name_time(
                "AWSLogs/1/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
            ),
            Some(1529511600)
        );
        assert!(name_in_range(
            "x_20180620T1620Z_y.log.gz",
            Some(1529511600),
            Some(1529511900)
        ));
        assert!(!name_in_range(
            "x_20180620T1620Z_y.log.gz",
            Some(1529611600),
            None
        ));
        assert!(name_in_range("no-time.log.gz", Some(1), Some(2)));
    }
}
