//! How vpcflow reaches AWS, shared by the sources (S3, CloudWatch Logs, EC2) and the dataset's
//! S3 store: the SDK configuration and a runtime to drive its clients ([`AwsContext`]),
//! `s3://` locations ([`S3Location`]), AWS failures as one line ([`one_line`]) and a retry
//! classifier that gives up on refused connections at once ([`RefusedIsFinal`]).
#![deny(missing_docs)]

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
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
    rt: Arc<tokio::runtime::Runtime>,
    sdk: aws_config::SdkConfig,
    custom_endpoint: bool,
}

/// The runtime for AWS's clients could not be started.
#[derive(Debug, thiserror::Error)]
#[error("aws: cannot start the runtime for AWS's clients: {0}")]
pub struct AwsError(#[from] std::io::Error);

/// `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket.
    pub bucket: String,
    /// Key prefix, possibly empty.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://BUCKET[/PREFIX]`; `None` when `uri` is not an S3 URI.
    pub fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl AwsContext {
    /// Loads the standard credential and region chain (environment, profiles, SSO, instance
    /// roles) with the given overrides.
    pub fn load(opts: &AwsOptions) -> Result<Self, AwsError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
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

    /// The runtime the clients' requests run on.
    pub fn runtime(&self) -> &Arc<tokio::runtime::Runtime> {
        &self.rt
    }

    /// The loaded SDK configuration.
    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    /// Whether a custom endpoint is in use (S3 then uses path-style addressing).
    pub fn custom_endpoint(&self) -> bool {
        self.custom_endpoint
    }
}

/// An AWS error as one line: the operation, what failed and the likely fix (credentials,
/// region, endpoint), never the SDK's debug dump. The service's error code stays in it
/// (`NoSuchBucket`, `AccessDenied`, `ResourceNotFoundException`). The caller names the bucket
/// and key or the log group.
pub fn one_line<E, R>(operation: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    format!("{operation}: {}", describe(e))
}

/// What [`one_line`] says after the operation: the error code or failure and its likely fix.
pub fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let code = err.code().unwrap_or("error");
            let message = err.message().unwrap_or_default();
            let hint = match code {
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"
                | "InvalidClientTokenId" | "UnrecognizedClientException" | "AuthFailure" => {
                    "; check the credentials (AWS_PROFILE / --profile, the environment, SSO login)"
                }
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    "; the credentials lack a permission for this"
                }
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
                    "; check the region (--region, AWS_REGION)"
                }
                _ => "",
            };
            if message.is_empty() {
                format!("{code}{hint}")
            } else {
                format!("{code}: {message}{hint}")
            }
        }
        SdkError::DispatchFailure(_) => match io_cause(e) {
            Some(io) => format!(
                "could not reach the endpoint ({io}); check --endpoint-url / AWS_ENDPOINT_URL, the region and the network"
            ),
            None => "could not send the request; check --endpoint-url / AWS_ENDPOINT_URL, the region and the network".to_string(),
        },
        SdkError::TimeoutError(_) => {
            "timed out; check the network, the region and --endpoint-url".to_string()
        }
        SdkError::ResponseError(_) => match io_cause(e) {
            Some(io) => format!("the response could not be read ({io})"),
            None => "the response could not be read".to_string(),
        },
        SdkError::ConstructionFailure(_) => format!(
            "the request could not be made ({}); check the credentials and the region",
            innermost(e)
        ),
        _ => innermost(e),
    }
}

/// The first I/O error among `e`'s causes.
fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = c.source();
    }
    None
}

/// The message of `e`'s deepest cause.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A retry classifier: a refused connection is not retried (the endpoint is not there, and
/// backing off eight times would only make the user wait); throttling, 5xx answers and
/// dropped connections still are.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = ctx
            .output_or_error()
            .and_then(|r| r.err())
            .and_then(|e| e.as_connector_error())
            .and_then(|c| io_cause(c))
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "refused connections are final"
    }
}
