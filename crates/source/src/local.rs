//! Local files and directories.

use crate::IngestError;
use std::path::{Path, PathBuf};

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size on disk.
    pub size: u64,
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
    let mut out = Vec::new();
    for src in sources {
        let meta = std::fs::metadata(src).map_err(|e| IngestError::Source {
            source_name: src.display().to_string(),
            message: e.to_string(),
        })?;
        if meta.is_file() {
            out.push(InputFile {
                path: src.clone(),
                size: meta.len(),
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
            let entry = entry.map_err(|e| IngestError::Source {
                source_name: e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| src.display().to_string()),
                message: e.to_string(),
            })?;
            if entry.file_type().is_file() && !is_skipped(entry.path()) {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(InputFile {
                    path: entry.into_path(),
                    size,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
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
