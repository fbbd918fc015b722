//! Where a dataset lives: a local directory ([`LocalStore`]) or an S3 prefix
//! ([`crate::s3_store::S3Store`]). Keys are paths relative to the dataset's root, with `/`.
//!
//! Files are always written on local disk first (under a staging directory), then put in the
//! store whole: a local rename, or one S3 PUT. The manifest is built on these operations
//! only, so its guarantees hold for both.

use crate::manifest::ManifestError;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held lock on a dataset.
pub trait LockGuard: Send + Sync {
    /// Proves, right before a commit, that the lock is still this run's: an error
    /// ([`ManifestError::LockLost`]) once another run has taken it over, so that a run that
    /// lost its lock commits nothing more.
    fn confirm(&self) -> Result<(), ManifestError>;
}

/// A local lock: an `flock` on `_manifest/LOCK`, which no other process can take while this
/// one lives.
struct LocalLock {
    _file: File,
}

impl LockGuard for LocalLock {
    fn confirm(&self) -> Result<(), ManifestError> {
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
pub(crate) fn under_root(root: &Path, key: &str) -> Result<PathBuf, ManifestError> {
    if !is_safe_key(key) {
        return Err(ManifestError::Io {
            path: root.join(key),
            message: format!("{key:?} is not a path inside the dataset"),
        });
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
    /// Takes the dataset's lock for `holder`, or fails with [`ManifestError::Locked`] at once.
    /// The lock is released when the guard is dropped (or the process dies).
    fn lock(&self, holder: &str) -> Result<Box<dyn LockGuard>, ManifestError>;
    /// The object at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ManifestError>;
    /// Writes `key` whole: a reader sees the old content or the new, never part.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ManifestError>;
    /// Keys under `prefix`, recursively, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, ManifestError>;
    /// Whether `key` exists.
    fn exists(&self, key: &str) -> Result<bool, ManifestError>;
    /// Deletes `key`; a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), ManifestError>;
    /// Deletes every key under `prefix`.
    fn delete_prefix(&self, prefix: &str) -> Result<(), ManifestError>;
    /// Puts the local file `file` at `key` whole (the file may be moved).
    fn upload(&self, file: &Path, key: &str) -> Result<(), ManifestError>;
    /// Moves `from` to `to` (both keys); `to` appears whole.
    fn rename(&self, from: &str, to: &str) -> Result<(), ManifestError>;
    /// A local file with the content of `key`: the file itself for a local store, else a
    /// copy under `scratch`.
    fn local_copy(&self, key: &str, scratch: &Path) -> Result<PathBuf, ManifestError>;
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ManifestError + '_ {
    move |e| ManifestError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A dataset in a local directory.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The dataset at `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self, ManifestError> {
        std::fs::create_dir_all(root).map_err(io(root))?;
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

    fn lock(&self, holder: &str) -> Result<Box<dyn LockGuard>, ManifestError> {
        let dir = self.root.join(crate::manifest::MANIFEST_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ManifestError::Io {
                path: dir,
                message: "is a symbolic link: a dataset's manifest is never written through one"
                    .into(),
            });
        }
        let path = dir.join("LOCK");
        let mut lock = open_nofollow(&path, false).map_err(io(&path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut held_by = String::new();
                let _ = lock.read_to_string(&mut held_by);
                return Err(ManifestError::Locked {
                    location: self.location(),
                    holder: match held_by.trim() {
                        "" => "holder unknown".to_string(),
                        h => h.to_string(),
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        lock.set_len(0)
            .and_then(|_| lock.rewind())
            .and_then(|_| lock.write_all(holder.as_bytes()))
            .map_err(io(&path))?;
        Ok(Box::new(LocalLock { _file: lock }))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ManifestError> {
        let path = under_root(&self.root, key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ManifestError> {
        let dest = under_root(&self.root, key)?;
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        // A fresh file: whatever is at the temporary name (a link planted there too) is
        // removed, not written through.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&tmp)(e)),
            _ => {}
        }
        let mut f = open_nofollow(&tmp, true).map_err(io(&tmp))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, ManifestError> {
        let mut out = Vec::new();
        let start = self.root.join(prefix);
        if !start.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&start) {
            let entry = entry.map_err(|e| ManifestError::Io {
                path: start.clone(),
                message: e.to_string(),
            })?;
            if entry.file_type().is_file()
                && let Ok(rel) = entry.path().strip_prefix(&self.root)
            {
                out.push(rel.display().to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    fn exists(&self, key: &str) -> Result<bool, ManifestError> {
        Ok(under_root(&self.root, key)?.exists())
    }

    fn delete(&self, key: &str) -> Result<(), ManifestError> {
        let path = under_root(&self.root, key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), ManifestError> {
        let path = under_root(&self.root, prefix.trim_end_matches('/'))?;
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn upload(&self, file: &Path, key: &str) -> Result<(), ManifestError> {
        let dest = under_root(&self.root, key)?;
        if dest == file {
            return Ok(());
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::rename(file, &dest).map_err(io(&dest))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), ManifestError> {
        self.upload(&under_root(&self.root, from)?, to)
    }

    fn local_copy(&self, key: &str, _scratch: &Path) -> Result<PathBuf, ManifestError> {
        under_root(&self.root, key)
    }
}
