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

/// What the manifest needs of a dataset's storage.
pub trait Store: Send + Sync {
    /// The dataset's location, for messages (a path or `s3://BUCKET/PREFIX`).
    fn location(&self) -> String;
    /// A local directory for files being written; for a local store, the root itself, so
    /// that putting a file in place is a rename.
    fn staging(&self) -> &Path;
    /// Takes the dataset's lock for `holder`, or fails with [`ManifestError::Locked`] at once.
    /// The lock is released when the guard is dropped (or the process dies).
    fn lock(&self, holder: &str) -> Result<Box<dyn std::any::Any + Send + Sync>, ManifestError>;
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

    fn lock(&self, holder: &str) -> Result<Box<dyn std::any::Any + Send + Sync>, ManifestError> {
        let dir = self.root.join(crate::manifest::MANIFEST_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("LOCK");
        let mut lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
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
        Ok(Box::new(lock))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ManifestError> {
        let path = self.root.join(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ManifestError> {
        let dest = self.root.join(key);
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
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
        Ok(self.root.join(key).exists())
    }

    fn delete(&self, key: &str) -> Result<(), ManifestError> {
        let path = self.root.join(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), ManifestError> {
        let path = self.root.join(prefix);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn upload(&self, file: &Path, key: &str) -> Result<(), ManifestError> {
        let dest = self.root.join(key);
        if dest == file {
            return Ok(());
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::rename(file, &dest).map_err(io(&dest))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), ManifestError> {
        self.upload(&self.root.join(from), to)
    }

    fn local_copy(&self, key: &str, _scratch: &Path) -> Result<PathBuf, ManifestError> {
        Ok(self.root.join(key))
    }
}
