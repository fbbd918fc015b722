//! One ingest job, as `vpcflow ingest` flags or a `vpcflow run` config describe it
//! ([`JobSpec`]): check everything ([`validate`]), then ([`execute`]) take the dataset's lock,
//! list the sources, read what is new, bring the rollups up to date, merge the manifest.
//!
//! The binary turns flags into a spec, calls these and prints; how progress is shown is its
//! choice ([`Watcher`]).
#![deny(missing_docs)]

use anyhow::Context;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use vpcflow_aws::{AwsContext, AwsOptions, S3Location};
use vpcflow_dataset::InputFile;
use vpcflow_dataset::layout::{Hour, Shard, TMP_DIR, rollup_prefix};
use vpcflow_dataset::manifest::{Dataset, ManifestError};
use vpcflow_dataset::s3_store::S3Store;
use vpcflow_dataset::store::{LocalStore, Store, StoreError};
use vpcflow_format::Layout;
use vpcflow_report::reports::Report;
use vpcflow_source::cloudwatch::{self, CloudWatchSource};
use vpcflow_source::ec2::Ec2;
use vpcflow_source::s3::S3Source;
use vpcflow_source::{IngestOptions, IngestSummary, Progress};

/// How a job's progress is shown: the CLI draws a bar on a terminal and logs otherwise.
pub trait Watcher: Sync {
    /// Runs on a thread of its own while the inputs are read, and returns once `done` is set.
    fn reading(&self, progress: &Progress, done: &AtomicBool);
    /// The rollups of `reports` are being brought up to date for `hours` hours.
    fn rollups_started(&self, hours: usize, reports: &[&str]);
    /// The rollups are done (or failed).
    fn rollups_finished(&self);
}

/// Everything one run needs.
#[derive(Debug, Clone, Default)]
pub struct JobSpec {
    /// Local paths, `s3://BUCKET/PREFIX`, `cloudwatch://GROUP`.
    pub sources: Vec<String>,
    /// The dataset: a directory or `s3://BUCKET/PREFIX`.
    pub out: String,
    /// Record layout of inputs without a header line.
    pub format: Option<String>,
    /// All or nothing: a bad line or input fails the run and nothing is committed.
    pub strict: bool,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Time range `[from, to)`, Unix seconds: start.
    pub from: Option<i64>,
    /// Time range `[from, to)`, Unix seconds: end.
    pub to: Option<i64>,
    /// Region, profile, endpoint.
    pub aws: AwsOptions,
    /// Requests to S3 or CloudWatch Logs in flight at once.
    pub max_in_flight: usize,
    /// CloudWatch Logs: only the streams whose names start with this.
    pub log_stream_prefix: Option<String>,
    /// Read held sources again, replacing their records.
    pub reprocess: bool,
    /// Text bytes a worker reads between commits.
    pub commit_every: Option<u64>,
    /// Arrow bytes of one input held in memory before it goes to files of its own.
    pub stage_bytes: Option<usize>,
    /// Inputs of at least this many bytes are decoded by every idle worker.
    pub split_bytes: Option<u64>,
    /// Reports kept as hourly rollups.
    pub rollups: Vec<String>,
    /// Ingest as one shard of several: only the sources this shard owns, into its own
    /// manifest beside the others' under the same dataset.
    pub shard: Option<Shard>,
    /// The inventory directory the rollups' reports read.
    pub inventory: Option<PathBuf>,
    /// A price table for cross-az-cost.
    pub prices: Option<PathBuf>,
}

/// An error that stopped a job, and whether it was the lock.
#[derive(Debug)]
pub struct JobError {
    /// What stopped it.
    pub error: anyhow::Error,
    /// Another run holds the dataset.
    pub locked: bool,
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        let error: anyhow::Error = e.into();
        // IngestError::Manifest names its ManifestError as its source: the chain reaches it.
        // The lock's StoreError is in the chain, or inside a ManifestError (as its transparent
        // cause it is not a link of its own).
        let locked = error.chain().any(|c| {
            matches!(
                c.downcast_ref::<StoreError>(),
                Some(StoreError::Locked { .. })
            ) || matches!(
                c.downcast_ref::<ManifestError>(),
                Some(ManifestError::Store(StoreError::Locked { .. }))
            )
        });
        Self { error, locked }
    }
}

/// A job checked before any work: the options the ingest runs with and the rollups it keeps.
pub struct Checked {
    opts: IngestOptions,
    rollups: Vec<&'static Report>,
}

/// Checks what can be checked before any work: layout, rollup names, inventory, prices,
/// local sources, threads.
pub fn validate(spec: &JobSpec) -> anyhow::Result<Checked> {
    let layout = match &spec.format {
        Some(f) => Layout::parse_format(f)
            .context("the record format (--format, or format in a job config)")?,
        None => Layout::default_v2(),
    };
    let mut opts = IngestOptions {
        layout,
        strict: spec.strict,
        ..IngestOptions::default()
    };
    if let Some(n) = spec.threads {
        anyhow::ensure!(n > 0, "threads must be at least 1");
        opts.threads = n;
    }
    if let Some(n) = spec.stage_bytes {
        opts.stage_bytes = n;
        opts.gzip_hold_bytes = opts.gzip_hold_bytes.min(n);
    }
    if let Some(n) = spec.split_bytes {
        opts.split_bytes = n;
    }
    if let Some(n) = spec.commit_every {
        anyhow::ensure!(n > 0, "commit-every must be at least 1 byte");
        opts.commit_every = n;
    }
    anyhow::ensure!(!spec.sources.is_empty(), "no sources to read");
    if spec.out.starts_with("s3://") {
        S3Location::parse(&spec.out)
            .with_context(|| format!("{}: expected s3://BUCKET[/PREFIX]", spec.out))?;
    }
    for source in &spec.sources {
        anyhow::ensure!(
            !vpcflow_source::local::output_inside_source(&spec.out, source),
            "the output {} lies inside the source {source}: its own Parquet files and rollups \
             would be read as flow logs; give an output outside every source",
            spec.out
        );
    }
    if let (Some(f), Some(t)) = (spec.from, spec.to) {
        anyhow::ensure!(f < t, "the time range is empty: from must be before to");
    }
    let mut rollups = Vec::new();
    for name in &spec.rollups {
        let r = vpcflow_report::reports::find(name).with_context(|| format!("rollup {name:?}"))?;
        anyhow::ensure!(
            !r.needs_inventory || spec.inventory.is_some(),
            "rollup {name} needs an inventory (describe-network-interfaces.json lists the ENIs it checks)"
        );
        if !rollups.iter().any(|x: &&Report| x.name == r.name) {
            rollups.push(r);
        }
    }
    if let Some(dir) = &spec.inventory {
        vpcflow_report::Inventory::load(dir)?;
    }
    vpcflow_report::PriceTable::load(spec.prices.as_deref())?;
    let is_cw = spec.sources.iter().any(|s| s.starts_with("cloudwatch://"));
    if is_cw {
        anyhow::ensure!(
            spec.from.is_some() && spec.to.is_some(),
            "cloudwatch:// sources need --from and --to (or a [window] in a job config)"
        );
        anyhow::ensure!(
            !spec.reprocess,
            "reprocess does not apply to cloudwatch:// sources: the time ranges already read are kept"
        );
    }
    if is_cw || spec.sources.iter().any(|s| s.starts_with("s3://")) {
        anyhow::ensure!(spec.max_in_flight > 0, "max-in-flight must be at least 1");
        opts.threads = opts.threads.max(spec.max_in_flight);
    }
    Ok(Checked { opts, rollups })
}

/// Runs the job `validate` checked; the summary says what it did.
pub fn execute(
    spec: &JobSpec,
    checked: Checked,
    watcher: &dyn Watcher,
) -> Result<IngestSummary, JobError> {
    let started = Instant::now();
    let Checked { mut opts, rollups } = checked;
    let is_s3 = |s: &&String| s.starts_with("s3://");
    let is_cw = |s: &&String| s.starts_with("cloudwatch://");
    let local: Vec<PathBuf> = spec
        .sources
        .iter()
        .filter(|s| !is_s3(s) && !is_cw(s))
        .map(PathBuf::from)
        .collect();
    let (mut files, mut notes) = vpcflow_source::local::discover_with_notes(&local)?;
    // --from/--to select a local file's records by `start`; the manifest then remembers the
    // range read, so a later run with another range reads the file again for that range.
    if spec.from.is_some() || spec.to.is_some() {
        let range = (spec.from.unwrap_or(i64::MIN), spec.to.unwrap_or(i64::MAX));
        for f in &mut files {
            f.range = Some(range);
        }
    }
    let s3_uris: Vec<&String> = spec.sources.iter().filter(is_s3).collect();
    let cw_uris: Vec<&String> = spec.sources.iter().filter(is_cw).collect();
    for uri in &s3_uris {
        S3Location::parse(uri).with_context(|| format!("{uri}: expected s3://BUCKET[/PREFIX]"))?;
    }
    for uri in &cw_uris {
        cloudwatch::parse_uri(uri)
            .with_context(|| format!("{uri}: expected cloudwatch://LOG_GROUP"))?;
    }

    // The output next: a dataset that cannot be written, or that another run holds, stops
    // the job before any source is listed.
    let run_id = match spec.shard {
        Some(shard) => format!("{}-{}", shard.name(), vpcflow_source::ingest::new_run_id()),
        None => vpcflow_source::ingest::new_run_id(),
    };
    let remote_out = spec.out.starts_with("s3://");
    let aws = if s3_uris.is_empty() && cw_uris.is_empty() && !remote_out {
        None
    } else {
        Some(AwsContext::load(&spec.aws)?)
    };
    let store: Box<dyn Store> = match &aws {
        Some(aws) if remote_out => Box::new(S3Store::new(aws, &spec.out)?),
        _ => Box::new(
            LocalStore::new(Path::new(&spec.out))
                .with_context(|| format!("output {}", spec.out))?,
        ),
    };
    let dataset = Dataset::open_shard(store, &run_id, spec.shard)
        .with_context(|| format!("output {}", spec.out))?;
    tracing::info!(run = %run_id, dataset = %spec.out, "dataset opened");

    let s3 = match &aws {
        Some(aws) if !s3_uris.is_empty() => {
            let s3 = S3Source::new(aws);
            for uri in &s3_uris {
                let loc = S3Location::parse(uri).context("s3 URI")?;
                let listed = s3.list(&loc, spec.from, spec.to)?;
                tracing::info!(source = %uri, objects = listed.len(), "listed");
                if listed.is_empty() {
                    let when = if spec.from.is_some() || spec.to.is_some() {
                        " for the time range"
                    } else {
                        ""
                    };
                    notes.push(format!(
                        "{uri}: no objects under this prefix{when} (check the bucket, prefix and region)"
                    ));
                }
                files.extend(listed);
            }
            Some(s3)
        }
        _ => None,
    };
    let cw = match (&aws, spec.from, spec.to) {
        (Some(aws), Some(from), Some(to)) if !cw_uris.is_empty() => {
            if spec.format.is_none() {
                opts.layout = cloudwatch_layout(aws, &cw_uris)?;
            }
            // Events carry no interface-id unless the format has it: the ENI then comes from
            // the log stream's name, appended to each event as a last field.
            let has_eni = vpcflow_format::field_index("interface-id")
                .and_then(|i| opts.layout.position(i))
                .is_some();
            if !has_eni {
                opts.layout = Layout::parse_format(&format!(
                    "{} ${{interface-id}}",
                    opts.layout.to_format_string()
                ))?;
            }
            let cw = CloudWatchSource::new(aws, from, to, !has_eni);
            let ec2 = Ec2::new(aws);
            for uri in &cw_uris {
                let group = cloudwatch::parse_uri(uri).context("cloudwatch URI")?;
                // The group's records belong to the flow log that delivers to it (one ID
                // for its copies in S3 and CloudWatch Logs alike), else `cloudwatch:GROUP`.
                let ids: std::collections::BTreeSet<String> = match ec2.group_flow_logs(group) {
                    Ok(logs) => logs.into_iter().filter_map(|l| l.id).collect(),
                    Err(e) => {
                        tracing::warn!("{e}; its records get flow_log_id cloudwatch:{group}");
                        Default::default()
                    }
                };
                if ids.len() > 1 {
                    tracing::warn!(
                        "{} flow logs deliver to {group}; its records get flow_log_id cloudwatch:{group}",
                        ids.len()
                    );
                }
                opts.log_groups.insert(
                    group.to_string(),
                    vpcflow_source::ingest::LogGroupOrigin {
                        flow_log_id: (ids.len() == 1).then(|| ids.into_iter().next()).flatten(),
                        region: aws.region(),
                    },
                );
                let listed = cw.list(group, spec.log_stream_prefix.as_deref())?;
                tracing::info!(source = %uri, streams = listed.len(), "listed");
                files.extend(listed);
            }
            Some(cw)
        }
        _ => None,
    };

    for note in &notes {
        tracing::warn!("{note}");
    }
    if let Some(shard) = spec.shard {
        let listed = files.len();
        files.retain(|f| shard.owns(&shard_key(f)));
        tracing::info!(shard = %shard, listed, owned = files.len(), "sharded");
    }
    let plan = dataset.plan(files, spec.reprocess)?;
    tracing::info!(
        to_read = plan.read.len(),
        skipped = plan.skipped,
        to_replace = plan.replace.len(),
        "planned"
    );
    for note in &plan.notes {
        tracing::warn!("{note}");
    }
    let open = |f: &InputFile| -> std::io::Result<Box<dyn std::io::Read + Send>> {
        match f.path.to_str() {
            Some(uri) if uri.starts_with("s3://") => match &s3 {
                Some(s3) => s3.open(uri),
                None => Err(std::io::Error::other("no S3 client")),
            },
            Some(uri) if uri.starts_with("cloudwatch://") => match &cw {
                Some(cw) => cw.open(f),
                None => Err(std::io::Error::other("no CloudWatch Logs client")),
            },
            _ => vpcflow_source::ingest::open_local(f),
        }
    };
    let progress = Progress::default();
    let done = AtomicBool::new(false);
    let mut summary = std::thread::scope(|s| {
        let bar = s.spawn(|| watcher.reading(&progress, &done));
        let r = vpcflow_source::ingest::ingest_inputs(
            &plan.read, &dataset, &run_id, &opts, &progress, &open,
        );
        done.store(true, Ordering::Relaxed);
        let _ = bar.join();
        r
    })?;
    summary.skipped = plan.skipped;
    summary.replaced = plan.replace.len() as u64;
    summary.warnings.extend(plan.notes);
    summary.warnings.extend(notes);
    tracing::info!(
        records = summary.records,
        files = summary.files,
        commits = summary.commits,
        "read"
    );

    let rollups_done = if rollups.is_empty() {
        false
    } else {
        let session = vpcflow_report::SessionOptions {
            inventory: spec.inventory.clone(),
            prices: spec.prices.clone(),
            ..Default::default()
        };
        let tmp = dataset.staging().join(TMP_DIR).join(&run_id);
        let hours = dataset.stale_hours();
        let names: Vec<&str> = rollups.iter().map(|r| r.name).collect();
        tracing::info!(
            hours = hours.len(),
            reports = rollups.len(),
            "updating the rollups"
        );
        watcher.rollups_started(hours.len(), &names);
        // One run's rollups at a time (the shards', or a run beside them): each hour is then
        // computed from every record committed before, and the last computation is exact.
        let written = dataset
            .lock_rollups(&run_id, ROLLUP_LOCK_WAIT)
            .map_err(anyhow::Error::from)
            .and_then(|()| update_rollups(&dataset, &rollups, &hours, &session, &tmp, remote_out));
        dataset.unlock_rollups();
        watcher.rollups_finished();
        let written = written.context("updating the rollups")?;
        tracing::info!(hours = hours.len(), files = written, "rollups updated");
        summary.rollup_hours = hours.len() as u64;
        true
    };
    dataset.merge(rollups_done)?;
    vpcflow_dataset::writer::remove_run_tmp(dataset.staging(), &run_id);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Brings the rollups of `reports` up to date: the hours `stale` for each, or every hour of
/// the dataset for a report without a rollup table yet or whose table is stale (written with
/// untyped times or other columns; the hours are written in order, so a rewrite cut short
/// leaves its first or last file old). Each hour is computed from the hour's parts (the
/// dataset itself when local; for a dataset in S3, a local mirror of the parts it needs) and
/// put in place through the dataset's store. Returns the number of files written or removed.
fn update_rollups(
    dataset: &Dataset,
    reports: &[&'static Report],
    stale: &BTreeSet<Hour>,
    session: &vpcflow_report::SessionOptions,
    tmp: &Path,
    remote: bool,
) -> anyhow::Result<u64> {
    let store = dataset.store();
    let rt = vpcflow_report::runtime()?;
    let mut all: Option<BTreeSet<Hour>> = None;
    let mut plan = Vec::new();
    for r in reports {
        let keys = store.list(&rollup_prefix(r.name))?;
        let expected = rt.block_on(vpcflow_report::rollup::columns(r))?;
        let mut rewrite = keys.is_empty();
        for key in [keys.first(), keys.last()].into_iter().flatten() {
            if rewrite {
                break;
            }
            let local = store.local_copy(key, tmp)?;
            rewrite |= vpcflow_report::rollup::file_is_stale(&local, &expected)
                .with_context(|| format!("{}/{key}", store.location()))?;
            if remote {
                std::fs::remove_file(&local)?;
            }
        }
        let hours = if rewrite {
            match &all {
                Some(a) => a.clone(),
                None => all.insert(dataset.hours()?).clone(),
            }
        } else {
            stale.clone()
        };
        plan.push((r, hours));
    }
    let root = if remote {
        let needed: BTreeSet<Hour> = plan.iter().flat_map(|(_, h)| h.iter().copied()).collect();
        let mirror = dataset.staging().join("mirror");
        std::fs::create_dir_all(&mirror)?;
        for key in dataset.parts_of(&needed)? {
            let local = mirror.join(&key);
            if let Some(dir) = local.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Another shard's part named by a commit whose files it has not moved yet: that
            // shard recomputes the hour itself once they are in place.
            let Some(bytes) = store.get(&key)? else {
                tracing::warn!("{}/{key}: not in place yet; skipped", store.location());
                continue;
            };
            std::fs::write(&local, bytes)?;
        }
        mirror
    } else {
        dataset.staging().to_path_buf()
    };
    let mut changed = 0;
    for (r, hours) in plan {
        for &hour in &hours {
            let file = rt.block_on(vpcflow_report::rollup::compute_hour(
                &root, r, hour, session, tmp,
            ))?;
            changed += u64::from(dataset.place_rollup(r.name, hour, file.as_deref())?);
        }
    }
    if remote {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(changed)
}

/// How long a run waits for another run's (another shard's) rollups to finish.
const ROLLUP_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What decides which shard owns an input: its account, region and flow log where its name
/// says them (AWS's `ACCOUNT_vpcflowlogs_REGION_FLOWLOGID_...` objects, in S3 or copied
/// locally), the log group of a CloudWatch Logs stream, else the input itself. Stable as
/// sources are added: one flow log's objects stay with one shard.
pub fn shard_key(f: &InputFile) -> String {
    let name = f.id.rsplit('/').next().unwrap_or(&f.id);
    let mut parts = name.split('_');
    if let (Some(account), Some("vpcflowlogs"), Some(region), Some(flow_log)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
        && flow_log.starts_with("fl-")
    {
        return format!("{account}/{region}/{flow_log}");
    }
    if let Some(rest) = f.id.strip_prefix("cloudwatch://") {
        // cloudwatch://GROUP/STREAM: the group (whose name may hold `/`) without its stream.
        if let Some((group, _)) = rest.rsplit_once('/') {
            return format!("cloudwatch://{group}");
        }
    }
    f.id.clone()
}

/// The flow logs' own LogFormat for the log groups, else AWS's default format.
fn cloudwatch_layout(aws: &AwsContext, uris: &[&String]) -> anyhow::Result<Layout> {
    let ec2 = Ec2::new(aws);
    let mut found: Option<String> = None;
    for uri in uris {
        let Some(group) = cloudwatch::parse_uri(uri) else {
            continue;
        };
        match ec2.flow_log_format(group) {
            Ok(Some(f)) => {
                if found.as_ref().is_some_and(|x| *x != f) {
                    anyhow::bail!(
                        "the log groups' flow logs have different formats; give one with --format"
                    );
                }
                found = Some(f);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("{e}; reading with AWS's default format (give --format to choose)")
            }
        }
    }
    match found {
        Some(f) => {
            Layout::parse_format(&f).with_context(|| format!("the flow log's LogFormat {f:?}"))
        }
        None => Ok(Layout::default_v2()),
    }
}

/// The summary as one JSON object: what a scheduler reads.
pub fn summary_json(
    summary: Option<&IngestSummary>,
    error: Option<&JobError>,
    out: &str,
) -> serde_json::Value {
    let mut v = match summary {
        Some(s) => serde_json::to_value(s).unwrap_or_default(),
        None => serde_json::json!({}),
    };
    if let Some(obj) = v.as_object_mut() {
        let status = match (summary, error) {
            (_, Some(e)) if e.locked => "locked",
            (_, Some(_)) => "error",
            (Some(s), None) if s.is_clean() => "ok",
            _ => "partial",
        };
        obj.insert("status".into(), status.into());
        obj.insert("dataset".into(), out.into());
        if let Some(e) = error {
            obj.insert("error".into(), describe(&e.error).into());
        }
    }
    v
}

/// An error and its causes on one line, each said once.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if text.is_empty() {
            text = msg;
        } else if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str) -> InputFile {
        InputFile {
            id: id.to_string(),
            ..InputFile::default()
        }
    }

    #[test]
    fn a_flow_logs_objects_share_one_owner() {
        let a = "s3://b/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2025/12/01/111122223333_vpcflowlogs_eu-west-1_fl-0abc_20251201T0005Z_1a2b3c4d.log.gz";
        let b = "/data/111122223333_vpcflowlogs_eu-west-1_fl-0abc_20251202T0105Z_99999999.log.gz";
        assert_eq!(shard_key(&input(a)), "111122223333/eu-west-1/fl-0abc");
        assert_eq!(shard_key(&input(a)), shard_key(&input(b)));
        assert_eq!(
            shard_key(&input("cloudwatch:///vpc/flow-logs/eni-1-all")),
            "cloudwatch:///vpc/flow-logs"
        );
        assert_eq!(shard_key(&input("/data/other.log")), "/data/other.log");
    }
}
