//! The read side of a dataset: the Parquet files its manifest names ([`manifest_parts`]),
//! narrowed to a time range ([`parts_in_range`]), and, for a dataset in S3, an `object_store`
//! (for DataFusion) with the credentials, region and endpoint of the SDK configuration that
//! ingest uses ([`object_store`]).

use crate::store::StoreError;
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::{ClientOptions, CredentialProvider, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use vpcflow_aws::AwsContext;

/// How long before their expiry cached credentials are fetched again.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// `object_store`'s credential provider over the SDK's chain (environment, profiles, SSO, web
/// identity, IMDS). The chain itself does not cache (the SDK clients keep their own identity
/// cache), so the credentials are kept here until shortly before they expire: a query's many
/// requests fetch them once.
#[derive(Debug)]
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    /// The runtime of the SDK configuration (kept alive by its [`AwsContext`]), where the
    /// chain's own requests (IMDS, SSO, STS) run.
    rt: tokio::runtime::Handle,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl SdkCredentials {
    fn fresh(expiry: Option<SystemTime>) -> bool {
        expiry.is_none_or(|e| SystemTime::now() + REFRESH_BEFORE_EXPIRY < e)
    }
}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((c, expiry)) = cached.as_ref()
            && Self::fresh(*expiry)
        {
            return Ok(c.clone());
        }
        let provider = self.provider.clone();
        let fetched = self
            .rt
            .spawn(async move { provider.provide_credentials().await })
            .await;
        let generic = |message: String| object_store::Error::Generic {
            store: "S3",
            source: message.into(),
        };
        let creds = fetched
            .map_err(|e| generic(format!("loading AWS credentials: {e}")))?
            .map_err(|e| generic(format!("loading AWS credentials: {}", causes(&e))))?;
        let credential = Arc::new(AwsCredential {
            key_id: creds.access_key_id().to_string(),
            secret_key: creds.secret_access_key().to_string(),
            token: creds.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), creds.expiry()));
        Ok(credential)
    }
}

/// An error and its causes on one line, each once (the SDK's errors name their cause in their
/// debug form only).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let msg = c.to_string();
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        cause = c.source();
    }
    text
}

/// An `object_store` for `bucket`, reached as `aws` says: its region, its endpoint (a custom
/// one with path-style requests, and plain HTTP where the URL says so) and its credentials.
/// Keep `aws` alive while the store is in use: the credential chain runs on its runtime.
///
/// A refused connection or an unreachable endpoint fails within seconds: connections time out
/// after 5 s and failed requests are retried for at most 10 s (throttling and 5xx answers
/// included), where `object_store`'s defaults would back off for minutes.
pub fn object_store(aws: &AwsContext, bucket: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let err = |message: String| StoreError::failed("open", format!("s3://{bucket}"), message);
    let region = aws
        .region()
        .ok_or_else(|| err("no AWS region: give --region or set AWS_REGION".into()))?;
    let provider = aws
        .sdk()
        .credentials_provider()
        .ok_or_else(|| err("no AWS credentials provider".into()))?;
    let mut builder = AmazonS3Builder::new()
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(60)),
        )
        .with_retry(RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        })
        .with_bucket_name(bucket)
        .with_region(region)
        .with_credentials(Arc::new(SdkCredentials {
            provider,
            rt: aws.runtime().handle().clone(),
            cached: tokio::sync::Mutex::new(None),
        }));
    let endpoint = aws
        .sdk()
        .endpoint_url()
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|u| !u.is_empty());
    if let Some(url) = endpoint {
        builder = builder
            .with_allow_http(url.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .with_endpoint(url);
    }
    let store = builder.build().map_err(|e| err(e.to_string()))?;
    Ok(Arc::new(store))
}

/// What went wrong reading a dataset's manifest: the key (relative to the dataset) and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ReadError {
    /// The manifest file.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// The Parquet files (keys relative to the dataset's root, sorted, each once) that the
/// dataset's manifests name: for each manifest directory in `dirs` (`_manifest`, and each
/// shard's `_manifest/shard-I-of-N`), its `manifest.json`, then the commits made since its
/// last merge (a run in progress, or one that stopped before its merge), asked for by number
/// until one is absent: a reader makes a GET or two per manifest and never lists the
/// partitions. `get` fetches a key (`None` when it does not exist). `Ok(None)` when no
/// manifest exists at all.
pub async fn manifest_parts<F, Fut>(
    dirs: &[String],
    get: F,
) -> Result<Option<Vec<String>>, ReadError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<u8>>, String>>,
{
    use crate::layout::{MANIFEST_FILE, is_part};
    use crate::manifest::{Commit, FORMAT_VERSION, State, commit_key_in};
    let fetch = |key: String| {
        let got = get(key.clone());
        async move {
            got.await.map_err(|message| ReadError {
                key: key.clone(),
                message,
            })
        }
    };
    let corrupt = |key: &str, e: serde_json::Error| ReadError {
        key: key.to_string(),
        message: format!("not a vpcflow manifest ({e})"),
    };
    let mut found = false;
    let mut parts: Vec<String> = Vec::new();
    for dir in dirs {
        let state_key = format!("{dir}/{MANIFEST_FILE}");
        let mut state: State = match fetch(state_key.clone()).await? {
            Some(bytes) => {
                found = true;
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&state_key, e))?
            }
            None => State::default(),
        };
        if state.version > FORMAT_VERSION {
            return Err(ReadError {
                key: state_key,
                message: format!(
                    "format version {} is newer than this vpcflow's {FORMAT_VERSION}",
                    state.version
                ),
            });
        }
        // Each commit replaces parts of the ones before it: applied in order.
        let mut seq = state.last_seq + 1;
        loop {
            let key = commit_key_in(dir, seq);
            let Some(bytes) = fetch(key.clone()).await? else {
                break;
            };
            let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, e))?;
            state.apply(&commit);
            found = true;
            seq += 1;
        }
        parts.extend(
            state
                .sources
                .values()
                .flat_map(|s| s.parts.iter())
                .filter(|p| is_part(p))
                .cloned(),
        );
    }
    if !found {
        return Ok(None);
    }
    parts.sort();
    parts.dedup();
    Ok(Some(parts))
}

/// The parts (as [`manifest_parts`] gives them) of the hours that overlap `[from, to)`: a
/// record lies in the hour of its `start`. Without a range, all of them.
pub fn parts_in_range(parts: &[String], from: Option<i64>, to: Option<i64>) -> Vec<&String> {
    let ranged = from.is_some() || to.is_some();
    parts
        .iter()
        .filter(|p| {
            !ranged
                || crate::layout::partition_hour(p).is_some_and(|h| {
                    from.is_none_or(|f| h.end() > f) && to.is_none_or(|t| h.start() < t)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_range_are_those_of_its_hours() {
        let parts: Vec<String> = [
            "date=2021-03-26/hour=02/a.parquet",
            "date=2021-03-26/hour=03/b.parquet",
            "date=unknown/hour=unknown/c.parquet",
        ]
        .map(String::from)
        .to_vec();
        // 03:00 to 03:30 on 2021-03-26 (1616727600 is 03:00).
        let got = parts_in_range(&parts, Some(1_616_727_600), Some(1_616_729_400));
        assert_eq!(got, vec![&parts[1]]);
        // A range ending on the hour excludes that hour; no range keeps everything.
        assert_eq!(
            parts_in_range(&parts, None, Some(1_616_727_600)),
            vec![&parts[0]]
        );
        assert_eq!(parts_in_range(&parts, None, None).len(), 3);
    }
    use aws_sdk_s3::config::Credentials;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A chain that counts how often it is asked.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("key{n}"),
                "secret",
                Some("token".into()),
                self.expiry,
                "test",
            )))
        }
    }

    fn provider(
        expiry: Option<SystemTime>,
    ) -> (SdkCredentials, Arc<AtomicUsize>, tokio::runtime::Runtime) {
        let calls = Arc::new(AtomicUsize::new(0));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let p = SdkCredentials {
            provider: SharedCredentialsProvider::new(Counting {
                calls: calls.clone(),
                expiry,
            }),
            rt: rt.handle().clone(),
            cached: tokio::sync::Mutex::new(None),
        };
        (p, calls, rt)
    }

    #[test]
    fn credentials_are_fetched_once_until_they_near_their_expiry() {
        let caller = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (p, calls, _rt) = provider(Some(SystemTime::now() + Duration::from_secs(3600)));
        for _ in 0..5 {
            let c = caller.block_on(p.get_credential()).unwrap();
            assert_eq!(c.key_id, "key0");
            assert_eq!(c.token.as_deref(), Some("token"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Credentials about to expire are fetched again on every use.
        let (p, calls, _rt) = provider(Some(SystemTime::now() + Duration::from_secs(30)));
        let keys: Vec<String> = (0..3)
            .map(|_| caller.block_on(p.get_credential()).unwrap().key_id.clone())
            .collect();
        assert_eq!(keys, ["key0", "key1", "key2"]);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // Credentials without an expiry (static keys) are kept.
        let (p, calls, _rt) = provider(None);
        for _ in 0..3 {
            caller.block_on(p.get_credential()).unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
