//! Local files and directories.

use crate::IngestError;
use std::path::{Path, PathBuf};

pub use vpcflow_dataset::InputFile;

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
        let walk = walkdir::WalkDir::new(src)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !is_dataset_dir(e.path(), e.file_type().is_dir()));
        for entry in walk {
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

/// Whether `dir` is a vpcflow dataset (it holds `_manifest/`): a walk never reads one as flow
/// logs, and says so.
fn is_dataset_dir(dir: &Path, is_dir: bool) -> bool {
    let dataset = is_dir && dir.join(vpcflow_dataset::layout::MANIFEST_DIR).is_dir();
    if dataset {
        tracing::warn!(
            "{}: skipped, it is a vpcflow dataset (it holds {}/), not flow logs",
            dir.display(),
            vpcflow_dataset::layout::MANIFEST_DIR
        );
    }
    dataset
}

/// The part of `path` that exists, resolved (symbolic links, `..`), with the rest appended:
/// where a path that may not exist yet points.
fn resolved(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// Whether the dataset `out` (a directory or `s3://BUCKET/PREFIX`) lies inside `source` (a
/// path, `s3://BUCKET/PREFIX` or `cloudwatch://GROUP`): reading the source would then read the
/// dataset's own files. S3 prefixes are compared as text, as listing them does.
pub fn output_inside_source(out: &str, source: &str) -> bool {
    match (
        crate::s3::S3Location::parse(out),
        crate::s3::S3Location::parse(source),
    ) {
        (Some(o), Some(s)) => o.bucket == s.bucket && o.prefix.starts_with(&s.prefix),
        (None, None) if !source.starts_with("cloudwatch://") => {
            resolved(Path::new(out)).starts_with(resolved(Path::new(source)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_inside_a_source_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        assert!(output_inside_source(
            &format!("{root}/logs/lake"),
            &format!("{root}/logs")
        ));
        assert!(output_inside_source(
            &format!("{root}/logs/../logs/x"),
            &format!("{root}/logs/")
        ));
        assert!(!output_inside_source(
            &format!("{root}/lake"),
            &format!("{root}/logs")
        ));
        assert!(!output_inside_source(
            &format!("{root}/logs-lake"),
            &format!("{root}/logs")
        ));
        assert!(output_inside_source("s3://flowlogs/lake", "s3://flowlogs"));
        assert!(output_inside_source("s3://b/logs-lake/", "s3://b/logs"));
        assert!(!output_inside_source("s3://b/lake/", "s3://b/logs/"));
        assert!(!output_inside_source(
            "s3://other/logs/lake",
            "s3://b/logs/"
        ));
        assert!(!output_inside_source("s3://b/x", "cloudwatch://b"));
    }

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
        assert!(err.to_string().contains("nope"));
        // A dataset inside a walked folder is not read.
        std::fs::create_dir_all(dir.path().join("a/lake/_manifest")).unwrap();
        std::fs::write(dir.path().join("a/lake/_manifest/LOCK"), b"").unwrap();
        std::fs::create_dir_all(dir.path().join("a/lake/_quarantine")).unwrap();
        std::fs::write(dir.path().join("a/lake/_quarantine/x.jsonl"), b"{}").unwrap();
        let files = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 2);
        assert!(
            err.to_string().contains("nope: No such file or directory"),
            "{err}"
        );
    }
}
