//! CloudWatch Logs: one flow-log record per event, one log stream per ENI.
//!
//! Each log stream of the group (optionally only those with a name prefix) is one input,
//! `cloudwatch://GROUP/STREAM`; its events in the time range are read page by page with
//! FilterLogEvents as the decoder asks for more, one event per line. Throttling and 5xx
//! answers are retried with backoff by the SDK's retry policy.

use crate::IngestError;
use crate::local::InputFile;
use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use vpcflow_aws::AwsContext;
use vpcflow_aws::one_line;

/// `cloudwatch://LOG_GROUP`.
pub fn parse_uri(uri: &str) -> Option<&str> {
    uri.strip_prefix("cloudwatch://").filter(|g| !g.is_empty())
}

/// The ENI a flow-log stream is named after (`eni-0123...-all` or `eni-0123...`).
pub fn eni_from_stream(stream: &str) -> Option<&str> {
    if !stream.starts_with("eni-") {
        return None;
    }
    Some(stream.strip_suffix("-all").unwrap_or(stream))
}

/// A connection to CloudWatch Logs for one time range.
pub struct CloudWatchSource {
    rt: Arc<tokio::runtime::Runtime>,
    client: aws_sdk_cloudwatchlogs::Client,
    start_ms: i64,
    end_ms: i64,
    append_eni: bool,
}

fn err(source_name: String, e: impl std::fmt::Display) -> IngestError {
    IngestError::Source {
        source_name,
        message: e.to_string(),
    }
}

impl CloudWatchSource {
    /// A source for events with timestamps in `[from, to)` (Unix seconds). With `append_eni`,
    /// each line gets the ENI of its stream's name appended (for formats without
    /// `interface-id`).
    pub fn new(aws: &AwsContext, from: i64, to: i64, append_eni: bool) -> Self {
        Self {
            rt: aws.runtime().clone(),
            client: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(aws.sdk())
                    .retry_classifier(vpcflow_aws::RefusedIsFinal)
                    .build(),
            ),
            start_ms: from * 1000,
            end_ms: to * 1000,
            append_eni,
        }
    }

    /// The log streams of `group` whose names start with `prefix`, as inputs.
    pub fn list(&self, group: &str, prefix: Option<&str>) -> Result<Vec<InputFile>, IngestError> {
        let uri = format!("cloudwatch://{group}");
        let mut pages = self
            .client
            .describe_log_streams()
            .log_group_name(group)
            .set_log_stream_name_prefix(prefix.map(str::to_string))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| err(uri.clone(), one_line("DescribeLogStreams", &e)))?;
            for s in page.log_streams() {
                let Some(name) = s.log_stream_name() else {
                    continue;
                };
                // Streams whose events all fall outside the range are not read.
                let outside = s.last_event_timestamp().is_some_and(|t| t < self.start_ms)
                    || s.first_event_timestamp().is_some_and(|t| t >= self.end_ms);
                if !outside {
                    let stream = format!("{uri}/{name}");
                    out.push(InputFile {
                        path: PathBuf::from(&stream),
                        size: 0, // CloudWatch no longer reports a stream's size
                        id: stream,
                        version: None,
                        range: Some((self.start_ms / 1000, self.end_ms / 1000)),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Opens one stream (`cloudwatch://GROUP/STREAM`) as text, one event per line: the
    /// events of the input's range, else of the source's.
    pub fn open(&self, input: &InputFile) -> std::io::Result<Box<dyn Read + Send>> {
        let uri = input.path.to_str().unwrap_or_default();
        let (start_ms, end_ms) = match input.range {
            Some((from, to)) => (from * 1000, to * 1000),
            None => (self.start_ms, self.end_ms),
        };
        let rest = parse_uri(uri)
            .ok_or_else(|| std::io::Error::other(format!("not a CloudWatch URI: {uri}")))?;
        let (group, stream) = rest
            .rsplit_once('/')
            .ok_or_else(|| std::io::Error::other(format!("no log stream in {uri}")))?;
        let suffix = if self.append_eni {
            let eni = eni_from_stream(stream).ok_or_else(|| {
                std::io::Error::other(format!(
                    "the format has no interface-id and the stream name {stream:?} names no ENI"
                ))
            })?;
            Some(format!(" {eni}"))
        } else {
            None
        };
        Ok(Box::new(EventReader {
            rt: self.rt.handle().clone(),
            client: self.client.clone(),
            group: group.to_string(),
            stream: stream.to_string(),
            start_ms,
            end_ms,
            token: None,
            done: false,
            pending: VecDeque::new(),
            suffix,
        }))
    }
}

/// Pages through one stream's events as the reader asks for bytes.
struct EventReader {
    rt: tokio::runtime::Handle,
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    start_ms: i64,
    end_ms: i64,
    token: Option<String>,
    done: bool,
    pending: VecDeque<u8>,
    suffix: Option<String>,
}

impl EventReader {
    fn fetch(&mut self) -> std::io::Result<()> {
        let resp = self
            .rt
            .block_on(
                self.client
                    .filter_log_events()
                    .log_group_name(&self.group)
                    .log_stream_names(&self.stream)
                    .start_time(self.start_ms)
                    .end_time(self.end_ms - 1)
                    .set_next_token(self.token.take())
                    .send(),
            )
            .map_err(|e| std::io::Error::other(one_line("FilterLogEvents", &e)))?;
        for ev in resp.events() {
            if let Some(m) = ev.message() {
                self.pending
                    .extend(m.trim_end_matches(['\n', '\r']).as_bytes());
                if let Some(s) = &self.suffix {
                    self.pending.extend(s.as_bytes());
                }
                self.pending.push_back(b'\n');
            }
        }
        self.token = resp.next_token().map(str::to_string);
        self.done = self.token.is_none();
        Ok(())
    }
}

impl Read for EventReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            if self.done {
                return Ok(0);
            }
            self.fetch()?;
        }
        let n = buf.len().min(self.pending.len());
        for (dst, src) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_uri("cloudwatch://flow-logs"), Some("flow-logs"));
        assert_eq!(parse_uri("cloudwatch://"), None);
        assert_eq!(eni_from_stream("eni-1d47d21d-all"), Some("eni-1d47d21d"));
        assert_eq!(eni_from_stream("eni-12345678"), Some("eni-12345678"));
        assert_eq!(eni_from_stream("other"), None);
    }
}
