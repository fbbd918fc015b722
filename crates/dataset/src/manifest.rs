//! The manifest: what the dataset holds, committed atomically with the files that hold it.
//!
//! ```text
//! DIR/_manifest/LOCK                   held (flock) by the run working on the dataset
//! DIR/_manifest/manifest.json          the merged state: every source read, and the parts
//!                                      that hold its records
//! DIR/_manifest/commit-<seq>.json      commits since the last merge
//! ```
//!
//! A commit is one JSON file, written whole and then renamed into place: that rename is the
//! moment its files become part of the dataset and its sources count as read. Only then are
//! its Parquet files moved from `_tmp/` into their partitions (and the parts it replaces
//! deleted). A run that dies after the rename is finished by the next one ("rolled forward"),
//! which moves whatever the commit names and is still in `_tmp/`; a run that dies before it
//! leaves nothing but `_tmp/`, which the next run clears. So every record of a source lands
//! once: with the commit that names the source, or not at all.
//!
//! At the end of a run the commits are merged into `manifest.json` (written whole, renamed
//! into place) and deleted; a merge cut short leaves commits that the next merge takes again.

use crate::layout::{Hour, MANIFEST_DIR, MANIFEST_FILE, TMP_DIR, partition_hour};
use crate::store::{LocalStore, LockGuard, Store, StoreError, io, is_safe_key};
use crate::writer::{self, PendingFile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The manifest format this vpcflow writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// An error of the manifest or the lock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The store failed, or the lock is held or lost.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A manifest file cannot be read.
    #[error("{path}: not a vpcflow manifest ({message})")]
    Corrupt {
        /// The file (relative to the dataset).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing or rewriting a Parquet file failed.
    #[error("{0}")]
    Dataset(#[from] writer::DatasetError),
}

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

/// One source the dataset holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceEntry {
    /// Absolute path of a local file, URI of an object or stream.
    pub id: String,
    /// The value of the `source` column of its records.
    pub source: String,
    /// Size as stored when it was read.
    pub size: u64,
    /// ETag (S3) or modification time (local file) when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CloudWatch Logs: the event time ranges read, `[from, to)` in Unix seconds, merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<(i64, i64)>,
    /// Records it gave.
    pub records: u64,
    /// Lines of it quarantined.
    pub bad_lines: u64,
    /// Where its content stops being readable (truncated or corrupt data): the records before
    /// the fault are in the dataset, and the source is not read again unless it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Files (relative to the root) that may hold its records: Parquet parts, and the
    /// quarantine files that hold its bad lines.
    pub parts: Vec<String>,
}

/// A file moved into the dataset by a commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Move {
    /// Where it was written, relative to the root.
    pub tmp: String,
    /// Where it goes, relative to the root.
    pub dest: String,
}

/// One atomic change to the dataset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Commit {
    /// Its number; commits apply in this order.
    pub seq: u64,
    /// The run that made it.
    pub run: String,
    /// Sources read; one the dataset held already replaces its earlier entry.
    pub sources: Vec<SourceEntry>,
    /// Files added.
    pub added: Vec<Move>,
    /// Parts rewritten: the old part and its replacement (none when no row was left).
    #[serde(default)]
    pub replaced: Vec<(String, Option<String>)>,
    /// Hours (since the Unix epoch) whose partitions changed.
    pub hours: Vec<Hour>,
}

/// The merged state, `manifest.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Format version of this file.
    pub version: u32,
    /// The last commit merged.
    pub last_seq: u64,
    /// Every source held, by id.
    pub sources: BTreeMap<String, SourceEntry>,
    /// Hours whose rollups are not yet up to date.
    #[serde(default)]
    pub rollup_pending: BTreeSet<Hour>,
}

impl State {
    /// Applies a commit: its sources (replacing earlier entries of the same id), and the
    /// parts it rewrote in place of the old ones.
    pub fn apply(&mut self, c: &Commit) {
        if !c.replaced.is_empty() {
            let map: HashMap<&str, Option<&str>> = c
                .replaced
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_deref()))
                .collect();
            for s in self.sources.values_mut() {
                let parts = std::mem::take(&mut s.parts);
                s.parts = parts
                    .into_iter()
                    .filter_map(|p| match map.get(p.as_str()) {
                        Some(new) => new.map(str::to_string),
                        None => Some(p),
                    })
                    .collect();
            }
        }
        for s in &c.sources {
            match self.sources.get_mut(&s.id) {
                // A further range of a CloudWatch stream.
                Some(old) if !s.ranges.is_empty() && old.version == s.version => {
                    old.ranges = merge_ranges(old.ranges.iter().chain(&s.ranges).copied());
                    old.records += s.records;
                    old.bad_lines += s.bad_lines;
                    old.parts.extend(s.parts.iter().cloned());
                    old.parts.sort();
                    old.parts.dedup();
                }
                _ => {
                    self.sources.insert(s.id.clone(), s.clone());
                }
            }
        }
    }
}

/// Sorted, non-overlapping ranges covering the same times as `ranges`.
pub fn merge_ranges(ranges: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = ranges.into_iter().filter(|(a, b)| a < b).collect();
    v.sort();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The parts of `[from, to)` that `covered` (sorted, merged) does not cover.
pub fn subtract_ranges(from: i64, to: i64, covered: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = from;
    for &(a, b) in covered {
        if b <= at || a >= to {
            continue;
        }
        if a > at {
            out.push((at, a));
        }
        at = at.max(b);
    }
    if at < to {
        out.push((at, to));
    }
    out
}

/// What to do with the inputs a run lists, given what the dataset holds.
#[derive(Debug, Default)]
pub struct Plan {
    /// Inputs to read (CloudWatch streams cut to the ranges not yet read).
    pub read: Vec<InputFile>,
    /// Inputs already held, unchanged.
    pub skipped: u64,
    /// Ids of held sources read again (changed, or `--reprocess`): the commit that lands
    /// each one's records again removes its earlier ones.
    pub replace: Vec<String>,
    /// Notes for the summary (changed sources).
    pub notes: Vec<String>,
}

/// A dataset opened for writing: locked, rolled forward, its manifest loaded.
pub struct Dataset {
    store: Box<dyn Store>,
    lock: Box<dyn LockGuard>,
    /// The manifest's directory: `_manifest`, or a shard's `_manifest/shard-I-of-N`.
    dir: String,
    /// The rollups' lock while this run updates them.
    rollup_lock: Mutex<Option<Box<dyn LockGuard>>>,
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    /// Commits not yet merged (from earlier, interrupted runs and this one): seq, key, hours.
    unmerged: Vec<(u64, String, Vec<Hour>)>,
    next_seq: u64,
    /// Parts rewritten by this run so far (for their names).
    rewrites: u64,
    warnings: Vec<String>,
}

/// The key (relative to the dataset) of a file of the (unsharded) manifest.
pub fn manifest_key(name: &str) -> String {
    format!("{MANIFEST_DIR}/{name}")
}

/// Who owns the run directory `run` under `_tmp/`: a shard (`shard-I-of-N`), or `None` for an
/// unsharded run.
fn tmp_owner(run: &str) -> Option<&str> {
    let rest = run.strip_prefix("shard-")?;
    let mut parts = rest.splitn(4, '-');
    let (i, of, n) = (parts.next()?, parts.next()?, parts.next()?);
    (of == "of" && i.parse::<u32>().is_ok() && n.parse::<u32>().is_ok())
        .then(|| &run[..6 + i.len() + 4 + n.len()])
}

/// Reads the state a manifest directory holds: `manifest.json` and its unmerged commits
/// applied in order. `None` when the directory holds neither.
pub fn read_state(store: &dyn Store, dir: &str) -> Result<Option<State>, ManifestError> {
    let key = format!("{dir}/{MANIFEST_FILE}");
    let mut found = false;
    let mut state: State = match store.get(&key)? {
        Some(bytes) => {
            found = true;
            serde_json::from_slice(&bytes).map_err(|e| ManifestError::Corrupt {
                path: key.clone(),
                message: e.to_string(),
            })?
        }
        None => State::default(),
    };
    let mut seq = state.last_seq + 1;
    loop {
        let key = commit_key_in(dir, seq);
        let Some(bytes) = store.get(&key)? else {
            break;
        };
        let commit: Commit =
            serde_json::from_slice(&bytes).map_err(|e| ManifestError::Corrupt {
                path: key.clone(),
                message: e.to_string(),
            })?;
        check_paths(&key, commit.paths())?;
        state.apply(&commit);
        found = true;
        seq += 1;
    }
    Ok(found.then_some(state))
}

/// The manifest directories of the dataset in `store`: `_manifest` and each shard's.
pub fn manifest_dirs(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut dirs = vec![MANIFEST_DIR.to_string()];
    for key in store.list(&format!("{MANIFEST_DIR}/"))? {
        let rest = &key[MANIFEST_DIR.len() + 1..];
        if let Some((sub, _)) = rest.split_once('/')
            && crate::layout::Shard::from_name(sub).is_some()
        {
            let dir = format!("{MANIFEST_DIR}/{sub}");
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    Ok(dirs)
}

impl Dataset {
    /// Opens the local dataset at `root` (creating it); see [`Dataset::open_store`].
    pub fn open(root: &Path, run_id: &str) -> Result<Self, ManifestError> {
        Self::open_store(Box::new(LocalStore::new(root)?), run_id)
    }

    /// Opens the dataset in `store`, taking its lock: a second run gets
    /// [`StoreError::Locked`] at once. Finishes the commits of an interrupted run and
    /// clears what it left half-written.
    pub fn open_store(store: Box<dyn Store>, run_id: &str) -> Result<Self, ManifestError> {
        Self::open_shard(store, run_id, None)
    }

    /// Opens the dataset in `store` as `shard` of a sharded ingest (or unsharded with `None`):
    /// the shard has its own manifest, lock and temporary files under
    /// `_manifest/shard-I-of-N/` and `_tmp/shard-I-of-N-*`, beside the other shards' under the
    /// same root. `run_id` must start with the shard's name (`shard-I-of-N-`).
    pub fn open_shard(
        store: Box<dyn Store>,
        run_id: &str,
        shard: Option<crate::layout::Shard>,
    ) -> Result<Self, ManifestError> {
        let dir = match shard {
            Some(s) => format!("{MANIFEST_DIR}/{}", s.name()),
            None => MANIFEST_DIR.to_string(),
        };
        let owner = shard.map(|s| s.name());
        let holder = format!(
            "run {run_id}, pid {}, host {}",
            std::process::id(),
            std::env::var("HOSTNAME").unwrap_or_else(|_| "?".into())
        );
        let lock = store.lock(&format!("{dir}/LOCK"), &holder)?;
        let manifest = format!("{dir}/{MANIFEST_FILE}");
        let mut state: State = match store.get(&manifest)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| ManifestError::Corrupt {
                path: manifest.clone(),
                message: e.to_string(),
            })?,
            None => State {
                version: FORMAT_VERSION,
                ..State::default()
            },
        };
        check_paths(
            &manifest,
            state.sources.values().flat_map(|s| s.parts.iter()),
        )?;
        if state.version > FORMAT_VERSION {
            return Err(ManifestError::Corrupt {
                path: manifest,
                message: format!(
                    "format version {} is newer than this vpcflow's {FORMAT_VERSION}",
                    state.version
                ),
            });
        }
        let mut commits = Vec::new();
        for key in store.list(&format!("{dir}/"))? {
            // This manifest's own files: a shard's directory below `_manifest/` is not ours.
            let Some(name) = key
                .strip_prefix(&format!("{dir}/"))
                .filter(|n| !n.contains('/'))
            else {
                continue;
            };
            if name.starts_with('.') && name.ends_with(".tmp") {
                // A commit or merge that never got renamed into place: it never happened.
                store.delete(&key)?;
            } else if let Some(seq) = name
                .strip_prefix("commit-")
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                commits.push((seq, key));
            }
        }
        commits.sort();
        let mut warnings = Vec::new();
        let mut unmerged = Vec::new();
        let mut next_seq = state.last_seq + 1;
        for (seq, key) in commits {
            if seq <= state.last_seq {
                // Merged already; the merge was cut short before deleting it.
                store.delete(&key)?;
                continue;
            }
            let bytes = store.get(&key)?.unwrap_or_default();
            let commit: Commit =
                serde_json::from_slice(&bytes).map_err(|e| ManifestError::Corrupt {
                    path: key.clone(),
                    message: e.to_string(),
                })?;
            check_paths(&key, commit.paths())?;
            roll_forward(store.as_ref(), &commit, &mut warnings)?;
            state.apply(&commit);
            next_seq = next_seq.max(seq + 1);
            unmerged.push((seq, key, commit.hours));
        }
        // Whatever this manifest's runs left in _tmp belongs to no commit (the other shards'
        // runs' files are theirs).
        let mut runs = BTreeSet::new();
        for key in store.list(&format!("{TMP_DIR}/"))? {
            if let Some(run) = key.split('/').nth(1)
                && tmp_owner(run) == owner.as_deref()
            {
                runs.insert(run.to_string());
            }
        }
        for run in runs {
            store.delete_prefix(&format!("{TMP_DIR}/{run}/"))?;
        }
        let staged = store.staging().join(TMP_DIR);
        if let Ok(entries) = std::fs::read_dir(&staged) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if tmp_owner(&name) == owner.as_deref() {
                    std::fs::remove_dir_all(e.path()).map_err(io("delete", &e.path()))?;
                }
            }
        }
        Ok(Self {
            store,
            lock,
            dir,
            rollup_lock: Mutex::new(None),
            inner: Mutex::new(Inner {
                state,
                unmerged,
                next_seq,
                rewrites: 0,
                warnings,
            }),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The local directory files are written under before they are committed (the dataset
    /// itself when it is local).
    pub fn staging(&self) -> &Path {
        self.store.staging()
    }

    /// Where the dataset is.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Notes from opening (files a commit named that were missing).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.inner().warnings)
    }

    /// Decides which of `inputs` to read: new ones, changed ones (to replace) and, with
    /// `reprocess`, all of them; CloudWatch streams only for the ranges not yet read.
    ///
    /// Inputs that another manifest of the dataset holds (another shard's, or one written
    /// under another shard count) are not read again here: each source lands once, in the
    /// manifest of the run that read it first.
    pub fn plan(&self, inputs: Vec<InputFile>, reprocess: bool) -> Result<Plan, ManifestError> {
        let others = self.other_states()?;
        let elsewhere: HashMap<&str, &SourceEntry> = others
            .iter()
            .flat_map(|s| s.sources.iter())
            .map(|(id, e)| (id.as_str(), e))
            .collect();
        let inner = self.inner();
        let mut plan = Plan::default();
        for input in inputs {
            let Some(held) = inner.state.sources.get(&input.id) else {
                if let Some(e) = elsewhere.get(input.id.as_str()) {
                    plan.skipped += 1;
                    if e.size != input.size || e.version != input.version {
                        plan.notes.push(format!(
                            "{}: changed since another shard read it; that shard's run replaces its records",
                            input.path.display()
                        ));
                    }
                    continue;
                }
                plan.read.push(input);
                continue;
            };
            // A local file read before for a time range (`--from`/`--to`): read without one,
            // it is read for the times not held yet.
            let range = match input.range {
                None if !held.ranges.is_empty() => Some((i64::MIN, i64::MAX)),
                r => r,
            };
            if let Some((from, to)) = range {
                // Held whole (read before without a range): nothing left to read.
                if held.ranges.is_empty() {
                    plan.skipped += 1;
                    continue;
                }
                let gaps = subtract_ranges(from, to, &held.ranges);
                if gaps.is_empty() {
                    plan.skipped += 1;
                }
                for (a, b) in gaps {
                    plan.read.push(InputFile {
                        range: Some((a, b)),
                        ..input.clone()
                    });
                }
                continue;
            }
            let changed = held.size != input.size || held.version != input.version;
            if changed || reprocess {
                if changed {
                    plan.notes.push(format!(
                        "{}: changed since it was read (size {} -> {}); its records are replaced",
                        input.path.display(),
                        held.size,
                        input.size
                    ));
                }
                plan.replace.push(input.id.clone());
                plan.read.push(input);
            } else {
                plan.skipped += 1;
            }
        }
        Ok(plan)
    }

    /// Commits `files` (written under the staging directory's `_tmp/`) with `sources`: after
    /// this returns, they are part of the dataset, whatever happens next. A source the
    /// dataset already holds (read again: changed, or `--reprocess`) is replaced in the same
    /// commit: the parts that hold its earlier records are rewritten without them, so a run
    /// that stops half-way leaves each source either as it was or as it is now, never both
    /// or neither.
    pub fn commit_files(
        &self,
        run_id: &str,
        files: &[PendingFile],
        sources: Vec<SourceEntry>,
    ) -> Result<(), ManifestError> {
        let staging = self.store.staging().to_path_buf();
        let mut hours = BTreeSet::new();
        let mut added: Vec<Move> = files
            .iter()
            .map(|f| {
                if let Some(h) = f.bucket {
                    hours.insert(h);
                }
                Move {
                    tmp: rel(&staging, &f.tmp),
                    dest: key_of(&f.dest),
                }
            })
            .collect();
        // New files go up first, outside the lock (a no-op for a local dataset).
        for m in &added {
            self.store.upload(&staging.join(&m.tmp), &m.tmp)?;
        }
        let new_files = added.len();
        // Held while the parts are rewritten, so that no other commit rewrites them too.
        let mut inner = self.inner();
        let held: Vec<SourceEntry> = sources
            .iter()
            .filter(|s| s.ranges.is_empty())
            .filter_map(|s| inner.state.sources.get(&s.id).cloned())
            .collect();
        let mut replaced = Vec::new();
        if !held.is_empty() {
            let drop: HashSet<String> = held.iter().map(|s| s.source.clone()).collect();
            let parts: BTreeSet<&String> = held.iter().flat_map(|s| &s.parts).collect();
            let tmp_dir = staging.join(TMP_DIR).join(run_id);
            std::fs::create_dir_all(&tmp_dir).map_err(io("create directory", &tmp_dir))?;
            for part in parts {
                if !self.store.exists(part)? {
                    continue;
                }
                let src = self.store.local_copy(part, &tmp_dir.join("fetched"))?;
                let seq = inner.rewrites;
                inner.rewrites += 1;
                let quarantine = part.ends_with(".jsonl");
                let name = if quarantine {
                    format!("{run_id}-r{seq:05}.jsonl")
                } else {
                    format!("part-{run_id}-r{seq:05}.parquet")
                };
                let tmp = tmp_dir.join(format!("{name}.tmp"));
                let kept = if quarantine {
                    writer::rewrite_quarantine_without_sources(&src, &tmp, &drop)?
                } else {
                    writer::rewrite_without_sources(&src, &tmp, &drop)?
                };
                if src.starts_with(&tmp_dir) {
                    // A copy fetched from a remote store.
                    let _ = std::fs::remove_file(&src);
                }
                let dir = part.rsplit_once('/').map_or("", |(d, _)| d);
                let dest = (kept > 0).then(|| format!("{dir}/{name}"));
                if let Some(dest) = &dest {
                    added.push(Move {
                        tmp: rel(&staging, &tmp),
                        dest: dest.clone(),
                    });
                }
                if let Some(h) = partition_hour(part) {
                    hours.insert(h);
                }
                replaced.push((part.clone(), dest));
            }
        }
        for m in &added[new_files..] {
            self.store.upload(&staging.join(&m.tmp), &m.tmp)?;
        }
        self.commit_locked(
            &mut inner,
            Commit {
                run: run_id.to_string(),
                sources,
                added,
                replaced,
                hours: hours.into_iter().collect(),
                ..Commit::default()
            },
        )
    }

    fn commit_locked(&self, inner: &mut Inner, mut commit: Commit) -> Result<(), ManifestError> {
        // The lock is still this run's, or nothing is committed.
        self.lock.confirm()?;
        commit.seq = inner.next_seq;
        let key = commit_key_in(&self.dir, commit.seq);
        let bytes = serde_json::to_vec(&commit).map_err(|e| ManifestError::Corrupt {
            path: key.clone(),
            message: e.to_string(),
        })?;
        self.store.put(&key, &bytes)?;
        inner.next_seq += 1;
        // Committed: from here on, a failure is finished by the next run's roll-forward.
        let mut warnings = Vec::new();
        roll_forward(self.store.as_ref(), &commit, &mut warnings)?;
        inner.warnings.extend(warnings);
        inner.state.apply(&commit);
        inner.unmerged.push((commit.seq, key, commit.hours));
        Ok(())
    }

    /// The states of the dataset's other manifests: the other shards', and the unsharded one
    /// for a shard (read now, from the store).
    fn other_states(&self) -> Result<Vec<State>, ManifestError> {
        let mut out = Vec::new();
        for dir in manifest_dirs(self.store.as_ref())? {
            if dir != self.dir
                && let Some(state) = read_state(self.store.as_ref(), &dir)?
            {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Every part every manifest of the dataset names (this one's and the other shards').
    fn all_parts(&self) -> Result<Vec<String>, ManifestError> {
        let others = self.other_states()?;
        let inner = self.inner();
        let mut parts: Vec<String> = std::iter::once(&inner.state)
            .chain(others.iter())
            .flat_map(|s| s.sources.values())
            .flat_map(|s| s.parts.iter())
            .filter(|p| crate::layout::is_part(p))
            .cloned()
            .collect();
        parts.sort();
        parts.dedup();
        Ok(parts)
    }

    /// Every hour the dataset holds records for, by the parts its manifests name (all
    /// shards').
    pub fn hours(&self) -> Result<BTreeSet<Hour>, ManifestError> {
        Ok(self
            .all_parts()?
            .iter()
            .filter_map(|p| partition_hour(p))
            .collect())
    }

    /// The Parquet parts of `hours`, by the manifests (all shards'; keys relative to the
    /// root).
    pub fn parts_of(&self, hours: &BTreeSet<Hour>) -> Result<Vec<String>, ManifestError> {
        Ok(self
            .all_parts()?
            .into_iter()
            .filter(|p| partition_hour(p).is_some_and(|h| hours.contains(&h)))
            .collect())
    }

    /// Takes the rollups' lock (`_manifest/ROLLUPS.LOCK`), waiting up to `wait` while another
    /// run (another shard) holds it. Rollups are computed by one run at a time, each hour from
    /// every record committed before, and each run recomputes the hours it committed to after
    /// its commits: so the last computation of an hour sees all of its records, and the
    /// rollups are exact across shards.
    pub fn lock_rollups(
        &self,
        run_id: &str,
        wait: std::time::Duration,
    ) -> Result<(), ManifestError> {
        let key = format!("{MANIFEST_DIR}/ROLLUPS.LOCK");
        let holder = format!("run {run_id}, pid {}", std::process::id());
        let deadline = std::time::Instant::now() + wait;
        loop {
            match self.store.lock(&key, &holder) {
                Ok(guard) => {
                    *self
                        .rollup_lock
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(guard);
                    return Ok(());
                }
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Releases the rollups' lock.
    pub fn unlock_rollups(&self) {
        self.rollup_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// Puts `report`'s rollup file for `hour` in place, whole (`file`, written under the
    /// staging directory), or removes it (`None`: the hour has no rows). Like a commit, it
    /// first proves that the run still holds the lock. Returns whether anything changed.
    pub fn place_rollup(
        &self,
        report: &str,
        hour: Hour,
        file: Option<&Path>,
    ) -> Result<bool, ManifestError> {
        self.lock.confirm()?;
        if let Some(l) = self
            .rollup_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            l.confirm()?;
        }
        let key = crate::layout::rollup_key(report, hour);
        match file {
            Some(f) => {
                self.store.upload(f, &key)?;
                Ok(true)
            }
            None if self.store.exists(&key)? => {
                self.store.delete(&key)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Hours whose rollups are out of date: those of unmerged commits and those left pending
    /// by earlier merges.
    pub fn stale_hours(&self) -> BTreeSet<Hour> {
        let inner = self.inner();
        let mut hours = inner.state.rollup_pending.clone();
        for (_, _, h) in &inner.unmerged {
            hours.extend(h);
        }
        hours
    }

    /// Merges the commits into `manifest.json` and deletes them. With `rollups_done`, the
    /// rollups are up to date for every hour; otherwise the hours are kept as pending.
    ///
    /// The lock is proven first, even with nothing to merge: a run that lost it (paused past
    /// its lease while another run took over) never rewrites `manifest.json`, and never ends
    /// as a success, even when it read the other run's state after the takeover and found
    /// nothing left to do.
    pub fn merge(&self, rollups_done: bool) -> Result<(), ManifestError> {
        self.lock.confirm()?;
        let mut inner = self.inner();
        let pending_to_clear = rollups_done && !inner.state.rollup_pending.is_empty();
        if inner.unmerged.is_empty() && !pending_to_clear {
            return Ok(());
        }
        let mut state = inner.state.clone();
        if rollups_done {
            state.rollup_pending.clear();
        } else {
            for (_, _, h) in &inner.unmerged {
                state.rollup_pending.extend(h);
            }
        }
        state.version = FORMAT_VERSION;
        state.last_seq = inner
            .unmerged
            .iter()
            .map(|(s, _, _)| *s)
            .max()
            .unwrap_or(state.last_seq)
            .max(state.last_seq);
        let key = format!("{}/{MANIFEST_FILE}", self.dir);
        let bytes = serde_json::to_vec(&state).map_err(|e| ManifestError::Corrupt {
            path: key.clone(),
            message: e.to_string(),
        })?;
        self.store.put(&key, &bytes)?;
        for (_, key, _) in inner.unmerged.drain(..) {
            self.store.delete(&key)?;
        }
        inner.state = state;
        Ok(())
    }
}

/// Refuses a manifest file (`file`) that names a path outside the dataset: the manifest is
/// data, and a crafted one must not make a run move or delete files elsewhere.
fn check_paths<'a>(
    file: &str,
    paths: impl IntoIterator<Item = &'a String>,
) -> Result<(), ManifestError> {
    for p in paths {
        if !is_safe_key(p) {
            return Err(ManifestError::Corrupt {
                path: file.to_string(),
                message: format!("it names {p:?}, which is not a relative path inside the dataset"),
            });
        }
    }
    Ok(())
}

impl Commit {
    /// Every path the commit names.
    fn paths(&self) -> impl Iterator<Item = &String> {
        self.added
            .iter()
            .flat_map(|m| [&m.tmp, &m.dest])
            .chain(
                self.replaced
                    .iter()
                    .flat_map(|(old, new)| std::iter::once(old).chain(new.iter())),
            )
            .chain(self.sources.iter().flat_map(|s| s.parts.iter()))
    }
}

/// The key (relative to the dataset) of commit `seq` of the (unsharded) manifest.
pub fn commit_key(seq: u64) -> String {
    commit_key_in(MANIFEST_DIR, seq)
}

/// The key of commit `seq` in the manifest directory `dir`.
pub fn commit_key_in(dir: &str, seq: u64) -> String {
    format!("{dir}/commit-{seq:012}.json")
}

fn rel(root: &Path, path: &Path) -> String {
    key_of(path.strip_prefix(root).unwrap_or(path))
}

/// A relative path as a key (`/`-separated).
fn key_of(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Puts the files of `commit` in place and deletes the parts it replaced. Safe to repeat.
fn roll_forward(
    store: &dyn Store,
    commit: &Commit,
    warnings: &mut Vec<String>,
) -> Result<(), ManifestError> {
    for m in &commit.added {
        if store.exists(&m.tmp)? {
            store.rename(&m.tmp, &m.dest)?;
        } else if !store.exists(&m.dest)? {
            warnings.push(format!(
                "{}/{}: committed by run {} but missing (deleted by hand?)",
                store.location(),
                m.dest,
                commit.run
            ));
        }
    }
    for (old, _) in &commit.replaced {
        store.delete(old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            merge_ranges([(5, 10), (0, 3), (3, 4), (9, 12), (20, 20)]),
            [(0, 4), (5, 12)]
        );
        assert_eq!(
            subtract_ranges(0, 20, &[(0, 4), (5, 12)]),
            [(4, 5), (12, 20)]
        );
        assert_eq!(subtract_ranges(5, 12, &[(0, 4), (5, 12)]), []);
        assert_eq!(subtract_ranges(0, 3, &[]), [(0, 3)]);
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = Dataset::open(dir.path(), "run-a").unwrap();
        let err = Dataset::open(dir.path(), "run-b").err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("another vpcflow run"), "{msg}");
        assert!(msg.contains("run run-a"), "{msg}");
        drop(first);
        Dataset::open(dir.path(), "run-c").unwrap();
    }

    /// A local store whose lock can be lost on demand, as an S3 lock is when another run
    /// takes it over.
    struct Fenced {
        inner: LocalStore,
        lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    struct FencedLock {
        _inner: Box<dyn LockGuard>,
        lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl LockGuard for FencedLock {
        fn confirm(&self) -> Result<(), StoreError> {
            if self.lost.load(std::sync::atomic::Ordering::Relaxed) {
                Err(StoreError::LockLost {
                    location: "fenced".into(),
                    message: "another run took it over".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    impl Store for Fenced {
        fn location(&self) -> String {
            self.inner.location()
        }
        fn staging(&self) -> &Path {
            self.inner.staging()
        }
        fn lock(&self, key: &str, holder: &str) -> Result<Box<dyn LockGuard>, StoreError> {
            Ok(Box::new(FencedLock {
                _inner: self.inner.lock(key, holder)?,
                lost: self.lost.clone(),
            }))
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
        fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
            self.inner.put(key, bytes)
        }
        fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.inner.list(prefix)
        }
        fn exists(&self, key: &str) -> Result<bool, StoreError> {
            self.inner.exists(key)
        }
        fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.inner.delete(key)
        }
        fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
            self.inner.delete_prefix(prefix)
        }
        fn upload(&self, file: &Path, key: &str) -> Result<(), StoreError> {
            self.inner.upload(file, key)
        }
        fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
            self.inner.rename(from, to)
        }
        fn local_copy(&self, key: &str, scratch: &Path) -> Result<PathBuf, StoreError> {
            self.inner.local_copy(key, scratch)
        }
    }

    fn source(id: &str) -> SourceEntry {
        SourceEntry {
            id: id.into(),
            source: id.into(),
            size: 1,
            version: None,
            ranges: Vec::new(),
            records: 1,
            bad_lines: 0,
            error: None,
            parts: Vec::new(),
        }
    }

    #[test]
    fn a_run_that_lost_its_lock_commits_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let store = Fenced {
            inner: LocalStore::new(dir.path()).unwrap(),
            lost: lost.clone(),
        };
        let ds = Dataset::open_store(Box::new(store), "run-a").unwrap();
        ds.commit_files("run-a", &[], vec![source("/logs/a.log")])
            .unwrap();
        lost.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = ds
            .commit_files("run-a", &[], vec![source("/logs/b.log")])
            .unwrap_err();
        assert!(
            matches!(err, ManifestError::Store(StoreError::LockLost { .. })),
            "{err}"
        );
        drop(ds);
        let commits: Vec<String> = LocalStore::new(dir.path())
            .unwrap()
            .list("_manifest/")
            .unwrap()
            .into_iter()
            .filter(|k| k.contains("commit-"))
            .collect();
        assert_eq!(commits.len(), 1, "{commits:?}");
        let ds = Dataset::open(dir.path(), "run-b").unwrap();
        let held: Vec<String> = ds.inner().state.sources.keys().cloned().collect();
        assert_eq!(held, ["/logs/a.log"]);
    }

    #[test]
    fn a_run_that_lost_its_lock_neither_merges_nor_ends_well_with_nothing_to_merge() {
        let dir = tempfile::tempdir().unwrap();
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = |run: &str| {
            let store = Fenced {
                inner: LocalStore::new(dir.path()).unwrap(),
                lost: lost.clone(),
            };
            Dataset::open_store(Box::new(store), run).unwrap()
        };
        let ds = open("run-a");
        ds.commit_files("run-a", &[], vec![source("/logs/a.log")])
            .unwrap();
        lost.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = ds.merge(false).unwrap_err();
        assert!(
            matches!(err, ManifestError::Store(StoreError::LockLost { .. })),
            "{err}"
        );
        drop(ds);
        assert!(
            !dir.path().join("_manifest").join(MANIFEST_FILE).exists(),
            "the commit stays unmerged"
        );
        // Nothing to merge: the run still learns that it lost the lock.
        lost.store(false, std::sync::atomic::Ordering::Relaxed);
        let ds = open("run-b");
        ds.merge(false).unwrap();
        assert!(dir.path().join("_manifest").join(MANIFEST_FILE).exists());
        lost.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = ds.merge(false).unwrap_err();
        assert!(
            matches!(err, ManifestError::Store(StoreError::LockLost { .. })),
            "{err}"
        );
    }

    #[test]
    fn rollups_are_placed_through_the_store_and_only_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let store = Fenced {
            inner: LocalStore::new(dir.path()).unwrap(),
            lost: lost.clone(),
        };
        let ds = Dataset::open_store(Box::new(store), "run-a").unwrap();
        let hour = Hour::of(1_616_729_000);
        let key = "_rollups/top-talkers/date=2021-03-26/hour=03.parquet";
        let staged = dir.path().join("_tmp/run-a/r.parquet.tmp");
        std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
        std::fs::write(&staged, b"rollup").unwrap();
        assert!(ds.place_rollup("top-talkers", hour, Some(&staged)).unwrap());
        assert_eq!(std::fs::read(dir.path().join(key)).unwrap(), b"rollup");
        assert!(!staged.exists(), "a local store moves the file into place");
        // An hour without rows loses its file; removing a missing one changes nothing.
        assert!(ds.place_rollup("top-talkers", hour, None).unwrap());
        assert!(!dir.path().join(key).exists());
        assert!(!ds.place_rollup("top-talkers", hour, None).unwrap());
        // A run that lost its lock places nothing.
        std::fs::write(&staged, b"late").unwrap();
        lost.store(true, std::sync::atomic::Ordering::Relaxed);
        let err = ds
            .place_rollup("top-talkers", hour, Some(&staged))
            .unwrap_err();
        assert!(
            matches!(err, ManifestError::Store(StoreError::LockLost { .. })),
            "{err}"
        );
        assert!(!dir.path().join(key).exists());
    }

    #[test]
    fn hours_and_their_parts_come_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let ds = Dataset::open(dir.path(), "run-a").unwrap();
        let mut a = source("/logs/a.log");
        a.parts = vec![
            "date=2021-03-26/hour=03/part-1.parquet".into(),
            "date=2021-03-26/hour=04/part-2.parquet".into(),
            "_quarantine/run-a-0.jsonl".into(),
        ];
        ds.inner().state.sources.insert(a.id.clone(), a);
        let hours = ds.hours().unwrap();
        assert_eq!(
            hours.iter().copied().collect::<Vec<_>>(),
            [Hour::of(1_616_727_600), Hour::of(1_616_731_200)]
        );
        let first: BTreeSet<Hour> = [Hour::of(1_616_727_600)].into();
        assert_eq!(
            ds.parts_of(&first).unwrap(),
            ["date=2021-03-26/hour=03/part-1.parquet"]
        );
    }

    #[test]
    fn a_commit_naming_a_path_outside_the_dataset_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        for bad in [
            "/etc/passwd",
            "../x",
            "date=2025-12-01/../../x",
            "a//b",
            "./a",
        ] {
            let commit = Commit {
                seq: 1,
                run: "crafted".into(),
                added: vec![Move {
                    tmp: "_tmp/x.parquet".into(),
                    dest: bad.into(),
                }],
                ..Commit::default()
            };
            store
                .put(
                    "_manifest/commit-000000000001.json",
                    &serde_json::to_vec(&commit).unwrap(),
                )
                .unwrap();
            let err = Dataset::open(dir.path(), "run").err().unwrap().to_string();
            assert!(
                err.contains("_manifest/commit-000000000001.json")
                    && err.contains("not a relative path inside the dataset"),
                "{bad}: {err}"
            );
        }
    }
}
