//! Where a dataset lives: a local directory ([`LocalStore`]) or an S3 prefix
//! ([`crate::s3_store::S3Store`]). Keys are paths relative to the dataset's root, with `/`.
//!
//! Files are always written on local disk first (under a staging directory), then put in the
//! store whole: a local rename, or one S3 PUT. The manifest is built on these operations
//! only, so its guarantees hold for both.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A failure of the store: the lock, or an operation on a file or object, named with its path
/// or `s3://BUCKET/KEY`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another run holds the dataset.
    #[error(
        "{location}: another vpcflow run is working on this dataset ({holder}); try again when it has finished"
    )]
    Locked {
        /// The dataset.
        location: String,
        /// What the lock file says of its holder.
        holder: String,
    },
    /// The run lost the dataset's lock (paused past its lease, or taken over by another run)
    /// and stopped: it committed nothing after that.
    #[error(
        "{location}: this run lost the dataset's lock ({message}); it stopped and committed nothing more"
    )]
    LockLost {
        /// The dataset.
        location: String,
        /// How it was found out.
        message: String,
    },
    /// An operation on a file or object failed.
    #[error("{location}: {op}: {cause}")]
    Failed {
        /// What was done: `rename`, `PutObject`, ...
        op: &'static str,
        /// The file, or `s3://BUCKET/KEY`.
        location: String,
        /// What went wrong.
        cause: String,
    },
}

impl StoreError {
    /// A failure of `op` on `location`.
    pub fn failed(
        op: &'static str,
        location: impl std::fmt::Display,
        cause: impl std::fmt::Display,
    ) -> Self {
        Self::Failed {
            op,
            location: location.to_string(),
            cause: cause.to_string(),
        }
    }
}

/// A held lock on a dataset.
pub trait LockGuard: Send + Sync {
    /// Proves, right before a commit, that the lock is still this run's: an error
    /// ([`StoreError::LockLost`]) once another run has taken it over, so that a run that
    /// lost its lock commits nothing more.
    fn confirm(&self) -> Result<(), StoreError>;
}

/// A local lock: an `flock` on `_manifest/LOCK`, which no other process can take while this
/// one lives.
struct LocalLock {
    _file: File,
}

impl LockGuard for LocalLock {
    fn confirm(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Opens `path` for writing without following a symbolic link at its end: a link planted in
/// a dataset is an error, never a way to write elsewhere.
fn open_nofollow(path: &Path, create_new: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = File::options();
    o.read(true).write(true).custom_flags(libc::O_NOFOLLOW);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).truncate(false);
    }
    o.open(path)
}

/// `key` as a path under `root`, refused unless it is relative and stays under it.
pub(crate) fn under_root(root: &Path, key: &str) -> Result<PathBuf, StoreError> {
    if !is_safe_key(key) {
        return Err(StoreError::failed(
            "resolve",
            root.display(),
            format!("{key:?} is not a path inside the dataset"),
        ));
    }
    Ok(root.join(key))
}

/// Whether `key` is a relative, `/`-separated path that stays under the dataset's root: not
/// empty, not absolute, no `.` or `..` or empty segment, no backslash or NUL.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains(['\\', '\0'])
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// What the manifest needs of a dataset's storage.
pub trait Store: Send + Sync {
    /// The dataset's location, for messages (a path or `s3://BUCKET/PREFIX`).
    fn location(&self) -> String;
    /// A local directory for files being written; for a local store, the root itself, so
    /// that putting a file in place is a rename.
    fn staging(&self) -> &Path;
    /// Takes the lock at `key` (the dataset's `_manifest/LOCK`, a shard's, or the rollups')
    /// for `holder`, or fails with [`StoreError::Locked`] at once. The lock is released when
    /// the guard is dropped (or the process dies).
    fn lock(&self, key: &str, holder: &str) -> Result<Box<dyn LockGuard>, StoreError>;
    /// The object at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `key` whole: a reader sees the old content or the new, never part.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Keys under `prefix`, recursively, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Whether `key` exists.
    fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Deletes `key`; a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes every key under `prefix`.
    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError>;
    /// Puts the local file `file` at `key` whole (the file may be moved).
    fn upload(&self, file: &Path, key: &str) -> Result<(), StoreError>;
    /// Moves `from` to `to` (both keys); `to` appears whole.
    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError>;
    /// A local file with the content of `key`: the file itself for a local store, else a
    /// copy under `scratch`.
    fn local_copy(&self, key: &str, scratch: &Path) -> Result<PathBuf, StoreError>;
}

pub(crate) fn io<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |e| StoreError::failed(op, path.display(), e)
}

/// A dataset in a local directory.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The dataset at `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root).map_err(io("create directory", root))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }
}

impl Store for LocalStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn staging(&self) -> &Path {
        &self.root
    }

    fn lock(&self, key: &str, holder: &str) -> Result<Box<dyn LockGuard>, StoreError> {
        let path = under_root(&self.root, key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(StoreError::failed(
                "lock",
                dir.display(),
                "is a symbolic link: a dataset's manifest is never written through one",
            ));
        }
        let mut lock = open_nofollow(&path, false).map_err(io("open", &path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut held_by = String::new();
                let _ = lock.read_to_string(&mut held_by);
                return Err(StoreError::Locked {
                    location: self.location(),
                    holder: match held_by.trim() {
                        "" => "holder unknown".to_string(),
                        h => h.to_string(),
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        lock.set_len(0)
            .and_then(|_| lock.rewind())
            .and_then(|_| lock.write_all(holder.as_bytes()))
            .map_err(io("write", &path))?;
        Ok(Box::new(LocalLock { _file: lock }))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = under_root(&self.root, key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let dest = under_root(&self.root, key)?;
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        // A fresh file: whatever is at the temporary name (a link planted there too) is
        // removed, not written through.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("delete", &tmp)(e));
            }
            _ => {}
        }
        let mut f = open_nofollow(&tmp, true).map_err(io("open", &tmp))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &dest).map_err(io("rename", &dest))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let start = self.root.join(prefix);
        if !start.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&start) {
            let entry = entry.map_err(|e| StoreError::failed("list", start.display(), e))?;
            if entry.file_type().is_file()
                && let Ok(rel) = entry.path().strip_prefix(&self.root)
            {
                out.push(rel.display().to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(under_root(&self.root, key)?.exists())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = under_root(&self.root, key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", &path)(e)),
        }
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let path = under_root(&self.root, prefix.trim_end_matches('/'))?;
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", &path)(e)),
        }
    }

    fn upload(&self, file: &Path, key: &str) -> Result<(), StoreError> {
        let dest = under_root(&self.root, key)?;
        if dest == file {
            return Ok(());
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        }
        std::fs::rename(file, &dest).map_err(io("rename", &dest))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.upload(&under_root(&self.root, from)?, to)
    }

    fn local_copy(&self, key: &str, _scratch: &Path) -> Result<PathBuf, StoreError> {
        under_root(&self.root, key)
    }
}
