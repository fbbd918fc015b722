//! A dataset under an S3 prefix (`--out s3://BUCKET/PREFIX`).
//!
//! Files are written on local disk under a staging directory, uploaded whole (one PUT: an
//! object is never visible half-written) to `PREFIX/_tmp/...`, and copied to their partition
//! once their commit (itself one PUT) exists; an interrupted run's copies are finished by the
//! next run, as with a local dataset.
//!
//! The lock is the object `PREFIX/_manifest/LOCK`, created only if absent (`If-None-Match`),
//! holding its holder and an expiry. The holder renews it (`If-Match` on its own ETag) every
//! quarter of the lease, and deletes it when done. A run killed without deleting it blocks the
//! dataset until the lease ends (`VPCFLOW_S3_LOCK_LEASE_SECONDS`, default 600); the next run
//! then takes the expired lock over with `If-Match`, so two runs cannot both take it.

use crate::store::{LockGuard, Store, StoreError};
use aws_sdk_s3::primitives::ByteStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vpcflow_aws::{AwsContext, S3Location, describe};

/// A dataset under an S3 prefix.
#[derive(Clone)]
pub struct S3Store {
    rt: Arc<tokio::runtime::Runtime>,
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Ends with `/` unless empty.
    prefix: String,
    staging: Arc<tempfile::TempDir>,
}

fn s3_err(op: &'static str, location: String, e: impl std::fmt::Display) -> StoreError {
    StoreError::failed(op, location, e)
}

/// Seconds a lock lasts without renewal.
fn lease_seconds() -> i64 {
    std::env::var("VPCFLOW_S3_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(600)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LockBody {
    holder: String,
    expires: i64,
}

impl S3Store {
    /// The dataset at `uri` (`s3://BUCKET[/PREFIX]`).
    pub fn new(aws: &AwsContext, uri: &str) -> Result<Self, StoreError> {
        let loc = S3Location::parse(uri)
            .ok_or_else(|| StoreError::failed("open", uri, "expected s3://BUCKET[/PREFIX]"))?;
        let conf = aws_sdk_s3::config::Builder::from(aws.sdk())
            .force_path_style(aws.custom_endpoint())
            .retry_classifier(vpcflow_aws::RefusedIsFinal)
            .build();
        let mut prefix = loc.prefix;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let staging = tempfile::Builder::new()
            .prefix("vpcflow-staging-")
            .tempdir()
            .map_err(|e| s3_err("create directory", "staging directory".into(), e))?;
        Ok(Self {
            rt: aws.runtime().clone(),
            client: aws_sdk_s3::Client::from_conf(conf),
            bucket: loc.bucket,
            prefix,
            staging: Arc::new(staging),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(key))
    }

    /// Writes the lock object: only if absent (`etag` None) or only over `etag`.
    fn put_lock(
        &self,
        lock_key: &str,
        holder: &str,
        etag: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let body = LockBody {
            holder: holder.to_string(),
            expires: chrono::Utc::now().timestamp() + lease_seconds(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(lock_key))
            .body(ByteStream::from(bytes));
        let req = match etag {
            Some(e) => req.if_match(e),
            None => req.if_none_match("*"),
        };
        match self.rt.block_on(req.send()) {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) if is_precondition_failed(&e) => Ok(None),
            // Renewing a lock that is gone (deleted by a run that took it over and finished):
            // not ours any more.
            Err(e)
                if etag.is_some()
                    && e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(None)
            }
            Err(e) => Err(s3_err("PutObject", self.uri(lock_key), describe(&e))),
        }
    }
}

fn is_precondition_failed<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    let code = e.as_service_error().and_then(|s| s.code());
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

/// What the holder of the S3 lock knows of it.
struct LockState {
    store: S3Store,
    /// The lock object's key.
    key: String,
    holder: String,
    /// The lock object's ETag as this run last wrote it.
    etag: std::sync::Mutex<String>,
    /// Set once another run is found to hold the lock.
    lost: AtomicBool,
    stop: AtomicBool,
}

impl LockState {
    fn lost(&self, message: &str) -> StoreError {
        self.lost.store(true, Ordering::Relaxed);
        StoreError::LockLost {
            location: self.store.location(),
            message: message.to_string(),
        }
    }

    /// Rewrites the lock over the ETag this run last wrote (`If-Match`): it succeeds only if
    /// no other run has written it since, and extends the lease.
    fn renew(&self) -> Result<(), StoreError> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(self.lost("another run took it over"));
        }
        let mut etag = self
            .etag
            .lock()
            .map_err(|_| self.lost("the lock's state was poisoned"))?;
        match self.store.put_lock(&self.key, &self.holder, Some(&etag))? {
            Some(e) => {
                *etag = e;
                Ok(())
            }
            None => Err(self.lost("another run took it over")),
        }
    }
}

/// The held S3 lock: renewed in the background, proven before each commit, deleted on drop.
struct S3Lock {
    state: Arc<LockState>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl LockGuard for S3Lock {
    fn confirm(&self) -> Result<(), StoreError> {
        self.state.renew()
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        if self.state.lost.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(etag) = self.state.etag.lock() {
            let store = &self.state.store;
            let _ = store.rt.block_on(
                store
                    .client
                    .delete_object()
                    .bucket(&store.bucket)
                    .key(store.key(&self.state.key))
                    .if_match(etag.as_str())
                    .send(),
            );
        }
    }
}

impl S3Store {
    /// Reads the lock object: its holder and lease end, and its ETag; `None` when there is
    /// none (its holder released it since). A lock that cannot be read whole is an error, never
    /// an empty lock; one that cannot be parsed counts as held until its last modification plus
    /// the lease.
    #[allow(clippy::type_complexity)]
    fn read_lock(
        &self,
        lock_key: &str,
    ) -> Result<Option<(Option<LockBody>, i64, String)>, StoreError> {
        let out = match self.rt.block_on(
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(self.key(lock_key))
                .send(),
        ) {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(s3_err("GetObject", self.uri(lock_key), describe(&e))),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let modified = out.last_modified().map(|t| t.secs());
        // A body cut in the middle (a network fault) is unreadable, not empty: it counts as held.
        let body = match self.rt.block_on(out.body.collect()) {
            Ok(bytes) => serde_json::from_slice::<LockBody>(&bytes.into_bytes()).ok(),
            Err(e) => {
                tracing::warn!("{}: the lock could not be read ({e})", self.uri(lock_key));
                None
            }
        };
        let expires = match &body {
            Some(b) => b.expires,
            None => modified.unwrap_or_else(|| chrono::Utc::now().timestamp()) + lease_seconds(),
        };
        Ok(Some((body, expires, etag)))
    }
}

impl Store for S3Store {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn staging(&self) -> &Path {
        self.staging.path()
    }

    fn lock(&self, key: &str, holder: &str) -> Result<Box<dyn LockGuard>, StoreError> {
        let mut attempts = 0;
        let etag = loop {
            if let Some(etag) = self.put_lock(key, holder, None)? {
                break etag;
            }
            // Held, or left behind by a run that died: take it over once it has expired. A
            // lock released between the create and this read is free: create it again.
            let Some((body, expires, etag)) = self.read_lock(key)? else {
                attempts += 1;
                if attempts < 5 {
                    continue;
                }
                return Err(StoreError::Locked {
                    location: self.uri(key),
                    holder: "other runs, taking and releasing it as this one tried".into(),
                });
            };
            let now = chrono::Utc::now().timestamp();
            let taken = if expires > now {
                None
            } else {
                self.put_lock(key, holder, Some(&etag))?
            };
            match taken {
                Some(etag) => break etag,
                None => {
                    let until = chrono::DateTime::from_timestamp(expires, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default();
                    return Err(StoreError::Locked {
                        location: self.uri(key),
                        holder: match body {
                            Some(b) => format!("{}; its lease ends at {until}", b.holder),
                            None => format!(
                                "the lock object is unreadable; it counts as held until {until}"
                            ),
                        },
                    });
                }
            }
        };
        let state = Arc::new(LockState {
            store: self.clone(),
            key: key.to_string(),
            holder: holder.to_string(),
            etag: std::sync::Mutex::new(etag),
            lost: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let renewer = {
            let state = state.clone();
            std::thread::spawn(move || {
                // At most a third of the lease apart, so that one failed renewal leaves time
                // for the next.
                let period = Duration::from_secs((lease_seconds() / 4).max(1) as u64);
                let mut last = std::time::Instant::now();
                while !state.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() < period {
                        continue;
                    }
                    last = std::time::Instant::now();
                    match state.renew() {
                        Ok(()) => {}
                        Err(e @ StoreError::LockLost { .. }) => {
                            tracing::error!("{e}");
                            return;
                        }
                        Err(e) => tracing::warn!("renewing the lock: {e}"),
                    }
                }
            })
        };
        Ok(Box::new(S3Lock {
            state,
            renewer: Some(renewer),
        }))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let resp = self.rt.block_on(
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(self.key(key))
                .send(),
        );
        match resp {
            Ok(out) => {
                let bytes = self
                    .rt
                    .block_on(out.body.collect())
                    .map_err(|e| s3_err("GetObject", self.uri(key), e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_err("GetObject", self.uri(key), describe(&e))),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.rt
            .block_on(
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(self.key(key))
                    .body(ByteStream::from(bytes.to_vec()))
                    .send(),
            )
            .map_err(|e| s3_err("PutObject", self.uri(key), describe(&e)))?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.key(prefix))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page = page.map_err(|e| s3_err("ListObjectsV2", self.uri(prefix), describe(&e)))?;
            for obj in page.contents() {
                if let Some(k) = obj.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    out.push(k.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let resp = self.rt.block_on(
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(self.key(key))
                .send(),
        );
        match resp {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(s3_err("HeadObject", self.uri(key), describe(&e))),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.rt
            .block_on(
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(self.key(key))
                    .send(),
            )
            .map_err(|e| s3_err("DeleteObject", self.uri(key), describe(&e)))?;
        Ok(())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        for key in self.list(prefix)? {
            self.delete(&key)?;
        }
        Ok(())
    }

    fn upload(&self, file: &Path, key: &str) -> Result<(), StoreError> {
        let body = self
            .rt
            .block_on(ByteStream::from_path(file))
            .map_err(|e| s3_err("read", file.display().to_string(), e))?;
        self.rt
            .block_on(
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(self.key(key))
                    .body(body)
                    .send(),
            )
            .map_err(|e| s3_err("PutObject", self.uri(key), describe(&e)))?;
        let _ = std::fs::remove_file(file);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.rt
            .block_on(
                self.client
                    .copy_object()
                    .bucket(&self.bucket)
                    .copy_source(format!("{}/{}", self.bucket, self.key(from)))
                    .key(self.key(to))
                    .send(),
            )
            .map_err(|e| s3_err("CopyObject", self.uri(to), describe(&e)))?;
        self.delete(from)
    }

    fn local_copy(&self, key: &str, scratch: &Path) -> Result<PathBuf, StoreError> {
        let bytes = self
            .get(key)?
            .ok_or_else(|| StoreError::failed("GetObject", self.uri(key), "not found"))?;
        std::fs::create_dir_all(scratch).map_err(crate::store::io("create directory", scratch))?;
        let path = scratch.join(key.replace('/', "_"));
        std::fs::write(&path, bytes).map_err(crate::store::io("write", &path))?;
        Ok(path)
    }
}
