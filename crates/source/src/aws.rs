//! What every AWS source shares: the SDK configuration and a runtime to drive its clients.

use crate::IngestError;
use std::sync::Arc;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Region (else the standard chain: `AWS_REGION`, the profile, ...).
    pub region: Option<String>,
    /// Named profile of the shared config files.
    pub profile: Option<String>,
    /// Endpoint of an AWS-compatible service (else `AWS_ENDPOINT_URL`, else AWS).
    pub endpoint_url: Option<String>,
}

/// The loaded SDK configuration and the runtime its clients run on. The ingest workers are
/// plain threads that block on it one request at a time, so the number of requests in flight
/// is the number of workers.
#[derive(Clone)]
pub struct AwsContext {
    pub(crate) rt: Arc<tokio::runtime::Runtime>,
    pub(crate) sdk: aws_config::SdkConfig,
    /// True when a custom endpoint is in use (S3 then uses path-style addressing).
    pub(crate) custom_endpoint: bool,
}

impl AwsContext {
    /// Loads the standard credential and region chain (environment, profiles, SSO, instance
    /// roles) with the given overrides.
    pub fn load(opts: &AwsOptions) -> Result<Self, IngestError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| IngestError::Source {
                source_name: "aws".into(),
                message: e.to_string(),
            })?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(
            // Throttling and 5xx answers are retried with exponential backoff and jitter.
            aws_config::retry::RetryConfig::standard().with_max_attempts(8),
        );
        if let Some(r) = &opts.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(u) = &opts.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let sdk = rt.block_on(loader.load());
        Ok(Self {
            rt: Arc::new(rt),
            sdk,
            custom_endpoint: opts.endpoint_url.is_some()
                || std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        })
    }
}

impl AwsContext {
    /// The region requests go to, where the chain found one.
    pub fn region(&self) -> Option<String> {
        self.sdk.region().map(|r| r.to_string())
    }
}
