//! A dataset under an S3 prefix, read without listing its partitions.
//!
//! The manifest names every Parquet file of the dataset: opening reads `_manifest/manifest.json`
//! and the commits made since its last merge (`commit-<seq>.json`, asked for by number until
//! one is absent: a GET each, no LIST), and the table `flows` is those files. `--from`/`--to`
//! keep only the hours' files before any other request; a scan keeps the files whose
//! partitions (`date`, `hour`) pass the query's filters, and asks for the size of each (one
//! HEAD per file, once per session) only then. The rollup tables are found with one LIST of
//! `_rollups/` (the manifest does not record them), which also gives their sizes.

use crate::QueryError;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::{expr_applicable_for_cols, filter_partitioned_file};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchemaBuilder;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::path::Path;
use datafusion::object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// How many HEAD requests are in flight at once.
const HEAD_CONCURRENCY: usize = 32;

/// A dataset at `s3://BUCKET/PREFIX`, its manifest read.
#[derive(Debug)]
pub struct S3Dataset {
    /// `s3://BUCKET/PREFIX/` as given, for messages.
    location: String,
    url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    /// The prefix, without a trailing `/` (empty for the bucket's root).
    prefix: String,
    /// The Parquet files of the dataset (keys relative to the prefix).
    parts: Vec<String>,
}

fn dataset_err(location: &str, message: impl std::fmt::Display) -> QueryError {
    QueryError::Dataset {
        path: location.to_string(),
        message: message.to_string(),
    }
}

/// `s3://BUCKET[/PREFIX]` split, the prefix without surrounding `/`.
pub fn parse_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl S3Dataset {
    /// Reads the manifest of the dataset at `uri` from `store` (the bucket's store).
    pub async fn open(uri: &str, store: Arc<dyn ObjectStore>) -> Result<Self, QueryError> {
        let (bucket, prefix) =
            parse_uri(uri).ok_or_else(|| dataset_err(uri, "expected s3://BUCKET[/PREFIX]"))?;
        let location = if prefix.is_empty() {
            format!("s3://{bucket}/")
        } else {
            format!("s3://{bucket}/{prefix}/")
        };
        let url = ObjectStoreUrl::parse(format!("s3://{bucket}"))?;
        let mut ds = Self {
            location,
            url,
            store,
            prefix,
            parts: Vec::new(),
        };
        let store = ds.store.clone();
        let get = |key: String| {
            let store = store.clone();
            let path = ds.path(&key);
            async move {
                match store.get(&path).await {
                    Ok(r) => r
                        .bytes()
                        .await
                        .map(|b| Some(b.to_vec()))
                        .map_err(|e| e.to_string()),
                    Err(datafusion::object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        // The shards' manifests, if any: one LIST of `_manifest/`, never of the partitions.
        let manifest_dir = vpcflow_dataset::layout::MANIFEST_DIR;
        let listed = ds
            .store
            .list_with_delimiter(Some(&ds.path(&format!("{manifest_dir}/"))))
            .await;
        let mut dirs = vec![manifest_dir.to_string()];
        if let Ok(listed) = &listed {
            for p in &listed.common_prefixes {
                if let Some(name) = p.filename()
                    && vpcflow_dataset::layout::Shard::from_name(name).is_some()
                {
                    dirs.push(format!("{manifest_dir}/{name}"));
                }
            }
        }
        let parts = vpcflow_dataset::read::manifest_parts(&dirs, get)
            .await
            .map_err(|e| dataset_err(&ds.location, e))?
            .ok_or_else(|| {
                dataset_err(
                    &ds.location,
                    format!(
                        "not a vpcflow dataset: {}{} does not exist (wrong bucket or prefix? \
                         give the --out of `vpcflow ingest` or of a job)",
                        ds.location,
                        vpcflow_dataset::manifest::manifest_key(
                            vpcflow_dataset::layout::MANIFEST_FILE
                        )
                    ),
                )
            })?;
        if let Err(e) = listed {
            // A dataset whose manifest is there but whose shards cannot be listed.
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default().to_string();
            return Err(dataset_err(
                &ds.location,
                format!("{manifest_dir}/: {first}"),
            ));
        }
        ds.parts = parts;
        Ok(ds)
    }

    /// The store's path of `key` (relative to the dataset).
    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The Parquet files the manifest names.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Registers the dataset as table `name`: the files of the hours that overlap
    /// `[from, to)` (all without a range), with their partitions `date` and `hour`.
    pub fn register_flows(
        &self,
        ctx: &SessionContext,
        name: &str,
        file_schema: SchemaRef,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<(), QueryError> {
        let files: Vec<(Path, Vec<String>)> =
            vpcflow_dataset::read::parts_in_range(&self.parts, from, to)
                .into_iter()
                .filter_map(|p| {
                    let values = partition_values(p, &vpcflow_arrow::PARTITION_COLUMNS)?;
                    Some((self.path(p), values))
                })
                .collect();
        let table = FileTable::new(
            self,
            file_schema,
            &vpcflow_arrow::PARTITION_COLUMNS,
            files,
            HashMap::new(),
        );
        ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Registers each rollup table under `_rollups/` as `rollup_<report>` (`-` as `_`), with
    /// its `date` partition: one LIST of `_rollups/`, then the footer of one file of each
    /// table for its schema.
    pub async fn register_rollups(&self, ctx: &SessionContext) -> Result<(), QueryError> {
        let root = self.path(&format!("{}/", vpcflow_dataset::layout::ROLLUP_DIR));
        let objects: Vec<ObjectMeta> =
            self.store
                .list(Some(&root))
                .try_collect()
                .await
                .map_err(|e| {
                    dataset_err(
                        &self.location,
                        format!("{}/: {e}", vpcflow_dataset::layout::ROLLUP_DIR),
                    )
                })?;
        let mut tables: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
        for meta in objects {
            let Some(rest) = meta
                .location
                .as_ref()
                .strip_prefix(root.as_ref())
                .map(|r| r.trim_start_matches('/').to_string())
            else {
                continue;
            };
            let Some((report, file)) = rest.split_once('/') else {
                continue;
            };
            if file.ends_with(".parquet") && partition_values(file, &["date"]).is_some() {
                tables.entry(report.to_string()).or_default().push(meta);
            }
        }
        let state = ctx.state();
        for (report, mut metas) in tables {
            metas.sort_by(|a, b| a.location.cmp(&b.location));
            let Some(first) = metas.first() else {
                continue;
            };
            let schema = ParquetFormat::default()
                .infer_schema(&state, &self.store, std::slice::from_ref(first))
                .await?;
            let mut files = Vec::new();
            let mut known = HashMap::new();
            for meta in metas {
                if let Some(values) = partition_values(meta.location.as_ref(), &["date"]) {
                    files.push((meta.location.clone(), values));
                    known.insert(meta.location.clone(), meta);
                }
            }
            let table = FileTable::new(self, schema, &["date"], files, known);
            ctx.register_table(
                format!("rollup_{}", report.replace('-', "_")),
                Arc::new(table),
            )?;
        }
        Ok(())
    }
}

/// The values of the Hive partitions `cols` (`col=value` directories) in `path`, in order;
/// `None` unless it has each of them.
fn partition_values(path: &str, cols: &[&str]) -> Option<Vec<String>> {
    let dirs: Vec<&str> = path.split('/').collect();
    let dirs = &dirs[..dirs.len().saturating_sub(1)];
    cols.iter()
        .map(|c| {
            dirs.iter()
                .find_map(|d| d.strip_prefix(c).and_then(|r| r.strip_prefix('=')))
                .map(str::to_string)
        })
        .collect()
}

/// A table of Parquet files named up front (no listing), with string-valued Hive partitions.
#[derive(Debug)]
struct FileTable {
    location: String,
    url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    schema: SchemaRef,
    /// Each file and its partition values.
    files: Vec<(Path, Vec<String>)>,
    /// What is known of the files (size, modification time): from the LIST that found them,
    /// or from a HEAD the first time a scan needed them.
    known: Mutex<HashMap<Path, ObjectMeta>>,
}

impl FileTable {
    fn new(
        ds: &S3Dataset,
        file_schema: SchemaRef,
        partitions: &[&str],
        files: Vec<(Path, Vec<String>)>,
        known: HashMap<Path, ObjectMeta>,
    ) -> Self {
        let partition_fields: Vec<FieldRef> = partitions
            .iter()
            .map(|c| Arc::new(Field::new(*c, DataType::Utf8, false)))
            .collect();
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(partition_fields.iter().cloned());
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            file_schema.metadata().clone(),
        ));
        Self {
            location: ds.location.clone(),
            url: ds.url.clone(),
            store: ds.store.clone(),
            file_schema,
            partition_fields,
            schema,
            files,
            known: Mutex::new(known),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<Path, ObjectMeta>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The metadata of `paths`, asking the store (HEAD) for those not yet known.
    async fn metas(&self, paths: &[&Path]) -> datafusion::error::Result<Vec<ObjectMeta>> {
        let missing: Vec<Path> = {
            let known = self.known();
            paths
                .iter()
                .filter(|p| !known.contains_key(**p))
                .map(|p| (*p).clone())
                .collect()
        };
        let fetched: Vec<ObjectMeta> = futures::stream::iter(missing)
            .map(|p| async move {
                self.store.head(&p).await.map_err(|e| match e {
                    datafusion::object_store::Error::NotFound { .. } => {
                        DataFusionError::Execution(format!(
                            "dataset s3://{}/{p}: named by the manifest but missing (deleted \
                             by hand, or a run is moving it into place)",
                            self.url
                                .as_str()
                                .trim_start_matches("s3://")
                                .trim_end_matches('/')
                        ))
                    }
                    e => DataFusionError::Execution(format!("dataset {}: {e}", self.location)),
                })
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        let mut known = self.known();
        for m in fetched {
            known.insert(m.location.clone(), m);
        }
        paths
            .iter()
            .map(|p| {
                known.get(*p).cloned().ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "dataset {}: no size for {p}",
                        self.location
                    ))
                })
            })
            .collect()
    }
}

#[async_trait]
impl TableProvider for FileTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // The partition filters prune files; every filter is also applied to the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let names: Vec<&str> = self
            .partition_fields
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let partition_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| expr_applicable_for_cols(&names, f))
            .cloned()
            .collect();
        let df_schema = DFSchema::from_unqualified_fields(
            self.partition_fields.clone().into(),
            Default::default(),
        )?;
        let mut chosen = Vec::new();
        for (path, values) in &self.files {
            let values: Vec<ScalarValue> = values
                .iter()
                .map(|v| ScalarValue::Utf8(Some(v.clone())))
                .collect();
            let pf = PartitionedFile::new(path.to_string(), 0).with_partition_values(values);
            if let Some(pf) = filter_partitioned_file(pf, &partition_filters, &df_schema)? {
                chosen.push((path, pf.partition_values));
            }
        }
        let paths: Vec<&Path> = chosen.iter().map(|(p, _)| *p).collect();
        let metas = self.metas(&paths).await?;
        let files: Vec<PartitionedFile> = metas
            .into_iter()
            .zip(chosen)
            .filter(|(m, _)| m.size > 0)
            .map(|(m, (_, values))| PartitionedFile::from(m).with_partition_values(values))
            .collect();
        if files.is_empty() {
            let schema = datafusion::common::project_schema(&self.schema, projection)?;
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let format = ParquetFormat::default();
        let source = format.file_source(
            TableSchemaBuilder::from(&self.file_schema)
                .with_table_partition_cols(self.partition_fields.clone())
                .build(),
        );
        let config = FileScanConfigBuilder::new(self.url.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::object_store::PutPayload;
    use datafusion::object_store::memory::InMemory;
    use vpcflow_dataset::manifest::{Commit, SourceEntry, State};

    fn source(id: &str, parts: &[&str]) -> SourceEntry {
        SourceEntry {
            id: id.into(),
            source: id.into(),
            size: 1,
            version: None,
            ranges: Vec::new(),
            records: 1,
            bad_lines: 0,
            error: None,
            parts: parts.iter().map(|p| p.to_string()).collect(),
        }
    }

    async fn put(store: &InMemory, key: &str, value: &impl serde::Serialize) {
        let bytes = serde_json::to_vec(value).unwrap();
        store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_files_are_the_manifest_and_its_unmerged_commits() {
        let store = Arc::new(InMemory::new());
        let a = "date=2025-12-01/hour=00/part-a.parquet";
        let b = "date=2025-12-01/hour=00/part-b.parquet";
        let c = "date=2025-12-01/hour=01/part-c.parquet";
        let mut state = State {
            version: 1,
            last_seq: 4,
            ..State::default()
        };
        state
            .sources
            .insert("s1".into(), source("s1", &[a, "_quarantine/run-1.jsonl"]));
        put(&store, "lake/_manifest/manifest.json", &state).await;
        // Merged already (seq <= last_seq): not read again.
        put(
            &store,
            "lake/_manifest/commit-000000000004.json",
            &Commit::default(),
        )
        .await;
        // A run since: part a rewritten as b, and a new source in c.
        let commit = Commit {
            seq: 5,
            sources: vec![source("s2", &[c])],
            replaced: vec![(a.to_string(), Some(b.to_string()))],
            ..Commit::default()
        };
        put(&store, "lake/_manifest/commit-000000000005.json", &commit).await;
        let ds = S3Dataset::open("s3://bucket/lake", store.clone())
            .await
            .unwrap();
        assert_eq!(ds.parts(), [b, c]);

        // No manifest and no commit: not a dataset.
        let err = S3Dataset::open("s3://bucket/other/", store)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dataset s3://bucket/other/: not a vpcflow dataset: \
             s3://bucket/other/_manifest/manifest.json does not exist (wrong bucket or prefix? \
             give the --out of `vpcflow ingest` or of a job)"
        );
    }

    #[test]
    fn uris_and_partitions() {
        assert_eq!(
            parse_uri("s3://b/lake/"),
            Some(("b".to_string(), "lake".to_string()))
        );
        assert_eq!(parse_uri("s3://b"), Some(("b".to_string(), String::new())));
        assert_eq!(parse_uri("s3:///x"), None);
        assert_eq!(
            partition_values(
                "lake/date=2024-05-01/hour=07/part-1.parquet",
                &["date", "hour"]
            ),
            Some(vec!["2024-05-01".to_string(), "07".to_string()])
        );
        assert_eq!(
            partition_values("date=2024-05-01/hour=07.parquet", &["date"]),
            Some(vec!["2024-05-01".to_string()])
        );
        assert_eq!(
            partition_values("date=2024-05-01/x.parquet", &["date", "hour"]),
            None
        );
    }
}
