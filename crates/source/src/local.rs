//! Local files and directories.

use crate::IngestError;
use std::path::{Path, PathBuf};

/// One input: a local file, an S3 object or a CloudWatch Logs stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputFile {
    /// Its path or URI, as shown and stored in the `source` column.
    pub path: PathBuf,
    /// Its size as stored (0 where unknown).
    pub size: u64,
    /// What identifies it in the manifest: the absolute path of a local file, the URI of an
    /// object or stream.
    pub id: String,
    /// What changes when its content does: an S3 object's ETag, a local file's modification
    /// time (nanoseconds since the epoch).
    pub version: Option<String>,
    /// CloudWatch Logs: the event time range `[from, to)` to read, in Unix seconds.
    pub range: Option<(i64, i64)>,
}

impl InputFile {
    /// A local file, with `meta` its metadata.
    pub fn local(path: PathBuf, meta: &std::fs::Metadata) -> Self {
        let id = std::path::absolute(&path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string();
        let version = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos().to_string());
        Self {
            size: meta.len(),
            id,
            version,
            path,
            range: None,
        }
    }
}

/// Files whose name marks them as not flow-log text.
fn is_skipped(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with('.')
        || [".parquet", ".md", ".json", ".toml"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Lists the files of `sources`: a file is taken as it is, a directory is walked recursively
/// (hidden files and Parquet, JSON, TOML and Markdown files skipped). Files come sorted by path, each once.
pub fn discover(sources: &[PathBuf]) -> Result<Vec<InputFile>, IngestError> {
    Ok(discover_with_notes(sources)?.0)
}

/// [`discover`], and notes for the user: a directory with no files, a symbolic link that
/// leads back into a directory being walked or nowhere.
///
/// Symbolic links inside a walked directory are followed (a file reached twice, through a
/// link and by its own path, is read once); a loop is skipped with a note. A source that is
/// neither a regular file nor a directory (a FIFO, a socket, a device) is an error.
pub fn discover_with_notes(
    sources: &[PathBuf],
) -> Result<(Vec<InputFile>, Vec<String>), IngestError> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |path: PathBuf, meta: &std::fs::Metadata, out: &mut Vec<InputFile>| {
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.insert(real) {
            out.push(InputFile::local(path, meta));
        }
    };
    let mut roots: Vec<&PathBuf> = sources.iter().collect();
    roots.sort();
    for src in roots {
        let meta = std::fs::metadata(src).map_err(|e| IngestError::Source {
            source_name: src.display().to_string(),
            message: e.to_string(),
        })?;
        if meta.is_file() {
            push(src.clone(), &meta, &mut out);
            continue;
        }
        if !meta.is_dir() {
            return Err(IngestError::Source {
                source_name: src.display().to_string(),
                message: "not a regular file or a directory (a FIFO, socket or device cannot \
                          be read as a source; give a file, a directory, s3://BUCKET/PREFIX \
                          or cloudwatch://LOG_GROUP)"
                    .into(),
            });
        }
        let mut found = 0usize;
        for entry in walkdir::WalkDir::new(src)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if e.loop_ancestor().is_some() => {
                    notes.push(format!(
                        "{}: a symbolic link back into a directory being walked; skipped",
                        e.path()
                            .map_or_else(|| src.display().to_string(), |p| p.display().to_string())
                    ));
                    continue;
                }
                Err(e)
                    if e.path().is_some_and(|p| {
                        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                    }) =>
                {
                    notes.push(format!(
                        "{}: a symbolic link that leads nowhere; skipped",
                        e.path()
                            .map_or_else(|| src.display().to_string(), |p| p.display().to_string())
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(IngestError::Source {
                        source_name: e
                            .path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| src.display().to_string()),
                        message: e.to_string(),
                    });
                }
            };
            if entry.file_type().is_file() && !is_skipped(entry.path()) {
                let meta = entry.metadata().map_err(|e| IngestError::Source {
                    source_name: entry.path().display().to_string(),
                    message: e.to_string(),
                })?;
                found += 1;
                push(entry.into_path(), &meta, &mut out);
            }
        }
        if found == 0 {
            notes.push(format!(
                "{}: no files to read in this directory (hidden files and .json, .toml, .md, \
                 .parquet files are skipped)",
                src.display()
            ));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok((out, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x.log.gz"), b"x").unwrap();
        std::fs::write(dir.path().join("a/y.log"), b"yy").unwrap();
        std::fs::write(dir.path().join("a/.hidden"), b"").unwrap();
        let files = discover(&[dir.path().to_path_buf(), dir.path().join("a/y.log")]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a/b/x.log.gz", "a/y.log"]);
        assert_eq!(files[1].size, 2);
        let err = discover(&[dir.path().join("nope")]).unwrap_err();
        assert!(
            err.to_string().contains("nope: No such file or directory"),
            "{err}"
        );
    }
}
