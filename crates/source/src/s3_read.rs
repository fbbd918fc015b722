//! Reading a dataset in S3 through `object_store` (for DataFusion), with the credentials,
//! region and endpoint of the SDK configuration that ingest uses.

use crate::IngestError;
use crate::aws::AwsContext;
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::{CredentialProvider, ObjectStore};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
pub fn object_store(aws: &AwsContext, bucket: &str) -> Result<Arc<dyn ObjectStore>, IngestError> {
    let err = |message: String| IngestError::Source {
        source_name: format!("s3://{bucket}"),
        message,
    };
    let region = aws
        .region()
        .ok_or_else(|| err("no AWS region: give --region or set AWS_REGION".into()))?;
    let provider = aws
        .sdk
        .credentials_provider()
        .ok_or_else(|| err("no AWS credentials provider".into()))?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_credentials(Arc::new(SdkCredentials {
            provider,
            rt: aws.rt.handle().clone(),
            cached: tokio::sync::Mutex::new(None),
        }));
    let endpoint = aws
        .sdk
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

#[cfg(test)]
mod tests {
    use super::*;
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
