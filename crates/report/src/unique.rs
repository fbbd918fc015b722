//! The view `flows_unique`: `flows_enriched` with each observation once where an ENI is
//! logged by several flow logs (overlapping VPC-, subnet- and ENI-level subscriptions, S3
//! and CloudWatch Logs copies of one flow log); analytics §7 rule 1.
//!
//! Two records of one ENI from different flow logs are one observation when every field
//! that both flow logs carry is equal. So the records of each such ENI are grouped by the
//! fields that all of its flow logs carry (its *key*); within a group each flow log holds the
//! same observations, and the group keeps the records of the flow log that holds the most of
//! them, then the one that carries the most fields, then the lowest ID (no ID last). A v2
//! and a v5 record of one flow are one observation (the v5 record is kept); two NAT-gateway
//! records that differ only in `pkt-dstaddr`, from flow logs that both carry it, are two.
//!
//! The view is built the first time a statement names it ([`Unique::ensure`], called by
//! [`crate::sql`]), so that a session that never reads it pays nothing:
//!
//! 1. the Parquet statistics say whether the dataset holds more than one flow log, and which
//!    fields are null in every record (no key can hold them); one aggregation finds the ENIs
//!    logged by several flow logs;
//! 2. one aggregation over those ENIs' records, per ENI and flow log, finds the fields each
//!    flow log carries and whether a field holds one value in all of the ENI's records: an
//!    ENI's key is the fields all its flow logs carry, but those (its own ID, VPC, subnet,
//!    account...) that cannot tell its records apart;
//! 3. one scan of those records, split by ENI across the cores, counts in a hash table per
//!    ENI the records each flow log holds per group. The table is keyed by the record's key
//!    fields, encoded so that two keys are equal exactly when the values are (NULL equal to
//!    NULL, as in GROUP BY). The scan also notes where each record is (its source and line)
//!    and, once every group's winner is known, lists the places of the records that lose;
//! 4. the view is `flows_enriched` filtered by `__vpcflow_unique(...)`, which keeps a record
//!    unless it is one of those: it reads the ENI, source and line of each record. Where one
//!    (source, line) named two different records in step 3 (two datasets' files put
//!    together, each with its own version of one object), it reads the key fields instead
//!    and looks each record of a twice-logged ENI up in the tables.
//!
//! Steps 3 and 4 replace a SQL formulation (the narrow rows grouped by key and flow log, each
//! group's flow log picked, the records joined back to it on the key) whose multi-column
//! aggregations and null-safe join took 2.3 s and 1.1 GB on 4.5M records with a million
//! logged twice.

use crate::QueryError;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Int32Array, Int64Array,
    RecordBatch, StringViewArray,
};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::stats::Precision;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vpcflow_arrow::flow_schema;

/// The name of the filter function the view calls.
const KEEP_FN: &str = "__vpcflow_unique";

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A session extension that builds `flows_unique` on first use.
#[derive(Debug)]
pub(crate) struct Unique {
    /// The table with the whole dataset (`flows`, or `flows_all` when the session has a time
    /// range): its statistics answer step 1.
    all: String,
    /// Whether the view is registered.
    ready: tokio::sync::Mutex<bool>,
}

impl Unique {
    pub(crate) fn new(all: &str) -> Self {
        Self {
            all: all.to_string(),
            ready: tokio::sync::Mutex::new(false),
        }
    }

    /// Registers `flows_unique` in `ctx`, unless it is there.
    pub(crate) async fn ensure(&self, ctx: &SessionContext) -> Result<(), QueryError> {
        let mut ready = self.ready.lock().await;
        if *ready {
            return Ok(());
        }
        let view = match plan(ctx, &self.all).await? {
            None => "SELECT * FROM flows_enriched".to_string(),
            Some(keep) => {
                let args = std::iter::once("interface_id".to_string())
                    .chain(keep.arguments())
                    .collect::<Vec<_>>()
                    .join(", ");
                ctx.register_udf(ScalarUDF::new_from_impl(KeepFn::new(Arc::new(keep))));
                format!("SELECT * FROM flows_enriched WHERE {KEEP_FN}({args})")
            }
        };
        ctx.sql(&format!("CREATE VIEW flows_unique AS {view}"))
            .await?;
        *ready = true;
        Ok(())
    }
}

fn quoted(field: &str) -> String {
    format!("\"{field}\"")
}

/// SQL string literals of `values`, comma-separated.
fn sql_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The flow fields two records of one ENI are compared on (analytics §7 rule 1): every field
/// of the record but its `version`, with the direction as derived (`direction`, which is
/// `flow_direction` where the record has it) in place of `flow_direction`. Provenance
/// (`flow_log_id`, `source`, the line) never takes part.
fn compared_fields() -> Vec<String> {
    let schema = flow_schema();
    let mut out: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .take_while(|n| n != vpcflow_arrow::UNKNOWN_FIELDS)
        .filter(|n| n != "version" && n != "flow_direction")
        .collect();
    out.push("direction".into());
    out
}

/// Column `i` of `b` as UTF-8 strings.
fn text_column(b: &RecordBatch, i: usize) -> Result<ArrayRef, QueryError> {
    Ok(arrow::compute::cast(b.column(i), &DataType::Utf8)?)
}

/// Steps 1 to 3: the winners of every group, or `None` when no ENI is logged twice.
async fn plan(ctx: &SessionContext, all: &str) -> Result<Option<Keep>, QueryError> {
    let t = Instant::now();
    let fields = compared_fields();
    let Some(candidates) = fields_ever_set(ctx, all, &fields).await? else {
        return Ok(None);
    };
    let multi = multi_logged_enis(ctx).await?;
    tracing::debug!(
        elapsed = ?t.elapsed(),
        enis = multi.len(),
        "flows_unique: ENIs logged by several flow logs"
    );
    if multi.is_empty() {
        return Ok(None);
    }
    let t = Instant::now();
    let keys = Keys::find(ctx, &candidates, &multi).await?;
    tracing::debug!(elapsed = ?t.elapsed(), "flows_unique: keys");
    let t = Instant::now();
    let keep = Keep::count(ctx, &candidates, keys).await?;
    tracing::debug!(
        elapsed = ?t.elapsed(),
        by_place = matches!(keep.by, By::Place { .. }),
        "flows_unique: observations counted"
    );
    Ok(Some(keep))
}

/// Step 1: `None` when the dataset holds at most one flow log (no record can have a twin);
/// else the compared fields that may be set in some record: all but those whose Parquet
/// statistics say they are null in every row (`direction`, derived, is always kept).
async fn fields_ever_set(
    ctx: &SessionContext,
    all: &str,
    fields: &[String],
) -> Result<Option<Vec<String>>, QueryError> {
    let (_, batches) = crate::run(
        ctx,
        &format!("SELECT MIN(flow_log_id) <> MAX(flow_log_id) FROM {all}"),
    )
    .await?;
    let several = batches.iter().find(|b| b.num_rows() == 1).and_then(|b| {
        let c = b.column(0).as_boolean_opt()?;
        c.is_valid(0).then(|| c.value(0))
    });
    if several != Some(true) {
        return Ok(None);
    }
    let stored: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "direction")
        .collect();
    let plan = ctx
        .table(all)
        .await?
        .select_columns(&stored)?
        .create_physical_plan()
        .await?;
    let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
    let never_set = |i: usize| match (&stats.num_rows, stats.column_statistics.get(i)) {
        (Precision::Exact(rows), Some(c)) => c.null_count == Precision::Exact(*rows),
        _ => false,
    };
    Ok(Some(
        stored
            .iter()
            .enumerate()
            .filter(|(i, _)| !never_set(*i))
            .map(|(_, f)| f.to_string())
            .chain(std::iter::once("direction".to_string()))
            .collect(),
    ))
}

/// ENIs logged by more than one flow log in the session's records (`flows`, cut to its time
/// range): only their records can be duplicates.
async fn multi_logged_enis(ctx: &SessionContext) -> Result<Vec<String>, QueryError> {
    let (_, batches) = crate::run(
        ctx,
        "SELECT interface_id FROM flows \
         WHERE flow_log_id IS NOT NULL AND interface_id IS NOT NULL \
         GROUP BY interface_id HAVING COUNT(DISTINCT flow_log_id) > 1 ORDER BY interface_id",
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        let ids = text_column(b, 0)?;
        out.extend(ids.as_string::<i32>().iter().flatten().map(str::to_string));
    }
    Ok(out)
}

/// What step 2 finds, over the ENIs logged several times.
#[derive(Debug, Default)]
struct Keys {
    /// Per ENI, per candidate field: whether it is in the ENI's key (every flow log of the
    /// ENI carries it, and it is not one value in all of the ENI's records).
    keys: BTreeMap<String, Vec<bool>>,
    /// Per flow log (`None`: records without one), the most fields it carries for any ENI.
    richness: BTreeMap<Option<String>, usize>,
}

impl Keys {
    /// Step 2: one aggregation per ENI and flow log.
    async fn find(
        ctx: &SessionContext,
        fields: &[String],
        multi: &[String],
    ) -> Result<Self, QueryError> {
        let aggregates = fields
            .iter()
            .map(|f| {
                let f = quoted(f);
                format!("COUNT({f}), MIN({f}), MAX({f})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (_, batches) = crate::run(
            ctx,
            &format!(
                "SELECT interface_id, flow_log_id, COUNT(*), {aggregates} FROM flows_enriched \
                 WHERE interface_id IN ({}) GROUP BY interface_id, flow_log_id",
                sql_list(multi)
            ),
        )
        .await?;
        /// Per ENI and field, over its flow logs.
        #[derive(Default, Clone)]
        struct Field {
            /// Carried (set in some record) by every flow log so far.
            carried: bool,
            /// One value, set in every record so far.
            constant: bool,
            value: Option<String>,
        }
        let mut per_eni: BTreeMap<String, Vec<Field>> = BTreeMap::new();
        let mut out = Keys::default();
        for b in &batches {
            let (enis, logs) = (text_column(b, 0)?, text_column(b, 1)?);
            let (enis, logs) = (enis.as_string::<i32>(), logs.as_string::<i32>());
            let records = b.column(2).as_primitive_opt::<Int64Type>();
            let columns = (0..fields.len())
                .map(|i| {
                    let count = b.column(3 + 3 * i).as_primitive_opt::<Int64Type>();
                    let min = text_column(b, 4 + 3 * i)?;
                    let max = text_column(b, 5 + 3 * i)?;
                    Ok((count, min, max))
                })
                .collect::<Result<Vec<_>, QueryError>>()?;
            for row in 0..b.num_rows() {
                if enis.is_null(row) {
                    continue;
                }
                let state = per_eni
                    .entry(enis.value(row).to_string())
                    .or_insert_with(|| {
                        vec![
                            Field {
                                carried: true,
                                constant: true,
                                value: None
                            };
                            fields.len()
                        ]
                    });
                let records = records.map_or(0, |r| r.value(row));
                let mut carried = 0;
                for (f, (count, min, max)) in state.iter_mut().zip(&columns) {
                    let count = count.map_or(0, |c| c.value(row));
                    let (min, max) = (min.as_string::<i32>(), max.as_string::<i32>());
                    if count > 0 {
                        carried += 1;
                    }
                    f.carried &= count > 0;
                    if count < records || min.is_null(row) || min.value(row) != max.value(row) {
                        f.constant = false;
                    } else if f.constant {
                        match &f.value {
                            None => f.value = Some(min.value(row).to_string()),
                            Some(v) => f.constant = v == min.value(row),
                        }
                    }
                }
                let log = logs.is_valid(row).then(|| logs.value(row).to_string());
                let rich = out.richness.entry(log).or_default();
                *rich = (*rich).max(carried);
            }
        }
        out.keys = per_eni
            .into_iter()
            .map(|(eni, state)| {
                let key = state.iter().map(|f| f.carried && !f.constant).collect();
                (eni, key)
            })
            .collect();
        Ok(out)
    }
}

/// The records each flow log holds in one group: most groups hold one or two.
#[derive(Debug, Default)]
struct Tally {
    inline: [(u32, u32); 2],
    len: u8,
    more: Vec<(u32, u32)>,
}

impl Tally {
    fn add(&mut self, log: u32, n: u32) {
        let len = usize::from(self.len);
        if let Some(e) = self.inline[..len].iter_mut().find(|e| e.0 == log) {
            e.1 += n;
        } else if let Some(e) = self.more.iter_mut().find(|e| e.0 == log) {
            e.1 += n;
        } else if len < self.inline.len() {
            self.inline[len] = (log, n);
            self.len += 1;
        } else {
            self.more.push((log, n));
        }
    }

    fn entries(&self) -> impl Iterator<Item = &(u32, u32)> {
        self.inline[..usize::from(self.len)]
            .iter()
            .chain(self.more.iter())
    }
}

/// One ENI's groups: its key fields, encoded, to the group's index in `tallies`, which
/// holds the records each flow log holds.
#[derive(Debug, Default)]
struct Groups {
    index: FastMap<Box<[u8]>, u32>,
    tallies: Vec<Tally>,
}

impl Groups {
    fn get(&self, key: &[u8]) -> Option<&Tally> {
        self.index
            .get(key)
            .and_then(|i| self.tallies.get(*i as usize))
    }

    /// Counts a record of flow log `log` in the group `key`; returns the group's index.
    fn add(&mut self, key: &[u8], log: u32) -> u32 {
        let i = match self.index.get(key) {
            Some(i) => *i,
            None => {
                let i = self.tallies.len() as u32;
                self.index.insert(Box::from(key), i);
                self.tallies.push(Tally::default());
                i
            }
        };
        if let Some(t) = self.tallies.get_mut(i as usize) {
            t.add(log, 1);
        }
        i
    }
}

/// A record of a twice-logged ENI, as step 3 saw it: where it is (its source and line), its
/// ENI, group and flow log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    source: u32,
    line: i64,
    eni: u32,
    group: u32,
    log: u32,
}

/// Source names to small numbers, shared by step 3's tasks.
#[derive(Debug, Default)]
struct Sources {
    ids: Mutex<FastMap<Box<str>, u32>>,
}

impl Sources {
    fn intern(&self, name: &str) -> Result<u32, QueryError> {
        let mut ids = self
            .ids
            .lock()
            .map_err(|_| QueryError::Invalid("flows_unique: a task failed".into()))?;
        let next = ids.len() as u32;
        Ok(*ids.entry(Box::from(name)).or_insert(next))
    }
}

/// The string of row `i` of `array` (any string type; `None` for NULL or another type).
fn string_at(array: &ArrayRef, i: usize) -> Option<&str> {
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8View => Some(array.as_string_view().value(i)),
        DataType::Utf8 => Some(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(i)),
        _ => None,
    }
}

/// The line numbers of `array` (Int64, else cast to it).
fn lines_of(array: &ArrayRef) -> Result<ArrayRef, QueryError> {
    Ok(match array.data_type() {
        DataType::Int64 => array.clone(),
        _ => arrow::compute::cast(array, &DataType::Int64)?,
    })
}

/// A batch's key columns, each as its one array type.
enum Cells<'a> {
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    Str(&'a StringViewArray),
}

impl Cells<'_> {
    /// Appends row `row`: a byte for NULL or not, then the value (integers little-endian,
    /// strings as their length in LEB128 and their bytes), so that keys are equal exactly
    /// when their values are.
    fn encode(&self, row: usize, buf: &mut Vec<u8>) {
        let valid = match self {
            Cells::I32(a) => a.is_valid(row),
            Cells::I64(a) => a.is_valid(row),
            Cells::Str(a) => a.is_valid(row),
        };
        buf.push(u8::from(valid));
        if !valid {
            return;
        }
        match self {
            Cells::I32(a) => buf.extend_from_slice(&a.value(row).to_le_bytes()),
            Cells::I64(a) => buf.extend_from_slice(&a.value(row).to_le_bytes()),
            Cells::Str(a) => {
                let v = a.value(row).as_bytes();
                let mut n = v.len();
                loop {
                    let low = (n & 0x7f) as u8;
                    n >>= 7;
                    if n == 0 {
                        buf.push(low);
                        break;
                    }
                    buf.push(low | 0x80);
                }
                buf.extend_from_slice(v);
            }
        }
    }
}

/// `columns` as Int32, Int64 or Utf8View arrays (anything else cast to Utf8View).
fn normalized(columns: &[ArrayRef]) -> Result<Vec<ArrayRef>, QueryError> {
    columns
        .iter()
        .map(|c| match c.data_type() {
            DataType::Int32 | DataType::Int64 | DataType::Utf8View => Ok(c.clone()),
            _ => Ok(arrow::compute::cast(c, &DataType::Utf8View)?),
        })
        .collect()
}

fn cells(columns: &[ArrayRef]) -> Vec<Cells<'_>> {
    columns
        .iter()
        .map(|c| match c.data_type() {
            DataType::Int32 => Cells::I32(c.as_primitive::<Int32Type>()),
            DataType::Int64 => Cells::I64(c.as_primitive::<Int64Type>()),
            _ => Cells::Str(c.as_string_view()),
        })
        .collect()
}

/// What every reader of the key table needs: the ENIs, their keys, the flow logs.
#[derive(Debug)]
struct Layout {
    /// The compared fields some key uses: the filter's arguments after the ENI and flow log.
    columns: Vec<String>,
    /// ENI → its index.
    enis: FastMap<Box<str>, u32>,
    /// Per ENI index: the positions in `columns` of its key fields.
    keys: Vec<Vec<usize>>,
    /// Flow log ID → its index; records without one have index `logs.len()`.
    logs: FastMap<Box<str>, u32>,
}

impl Layout {
    /// The ENI index of each row of `enis` (`None`: an ENI logged once, or no ENI).
    fn eni_rows(&self, enis: &ArrayRef) -> Result<Vec<Option<u32>>, QueryError> {
        let find = |e: Option<&str>| e.and_then(|e| self.enis.get(e).copied());
        Ok(match enis.data_type() {
            DataType::Utf8View => enis.as_string_view().iter().map(find).collect(),
            DataType::Utf8 => enis.as_string::<i32>().iter().map(find).collect(),
            DataType::LargeUtf8 => enis.as_string::<i64>().iter().map(find).collect(),
            DataType::Null => vec![None; enis.len()],
            other => {
                return Err(QueryError::Invalid(format!(
                    "flows_unique: interface_id is {other}, not a string"
                )));
            }
        })
    }

    /// The flow-log index of row `i` of `logs`; `u32::MAX` for an ID step 2 did not see
    /// (files committed since).
    fn log_index(&self, logs: &ArrayRef, i: usize) -> u32 {
        if logs.is_null(i) {
            return self.logs.len() as u32;
        }
        let id = match logs.data_type() {
            DataType::Utf8View => logs.as_string_view().value(i),
            DataType::Utf8 => logs.as_string::<i32>().value(i),
            DataType::LargeUtf8 => logs.as_string::<i64>().value(i),
            _ => return u32::MAX,
        };
        self.logs.get(id).copied().unwrap_or(u32::MAX)
    }

    /// The key of row `row` of ENI `eni` into `buf`.
    fn encode(&self, eni: u32, cells: &[Cells<'_>], row: usize, buf: &mut Vec<u8>) {
        buf.clear();
        for p in self.keys.get(eni as usize).into_iter().flatten() {
            if let Some(c) = cells.get(*p) {
                c.encode(row, buf);
            }
        }
    }

    /// Step 3 for one partition of the records: counts them into `groups` (per ENI index),
    /// locking each ENI's table once per batch, and returns where each record is. `task`
    /// staggers the order in which the partitions visit the ENIs, so that two seldom wait
    /// for one table.
    async fn tally(
        self: Arc<Self>,
        mut stream: SendableRecordBatchStream,
        groups: Arc<Vec<Mutex<Groups>>>,
        sources: Arc<Sources>,
        task: usize,
    ) -> Result<Vec<Seen>, QueryError> {
        let mut seen = Vec::new();
        let mut buf = Vec::new();
        let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); self.keys.len()];
        let start = task * 7919 % self.keys.len().max(1);
        let mut last: Option<(String, u32)> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let [enis, logs, names, lines, columns @ ..] = batch.columns() else {
                continue;
            };
            let columns = normalized(columns)?;
            let cells = cells(&columns);
            let lines = lines_of(lines)?;
            let lines = lines.as_primitive::<Int64Type>();
            // The source of each row: a file's rows come together, so one lookup per run.
            let mut source_of = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                let name = string_at(names, row).unwrap_or_default();
                let id = match &last {
                    Some((n, id)) if n == name => *id,
                    _ => {
                        let id = sources.intern(name)?;
                        last = Some((name.to_string(), id));
                        id
                    }
                };
                source_of.push(id);
            }
            for (row, eni) in self.eni_rows(enis)?.into_iter().enumerate() {
                if let Some(rows) = eni.and_then(|e| rows_of.get_mut(e as usize)) {
                    rows.push(row as u32);
                }
            }
            let n = rows_of.len();
            for eni in (0..n).map(|i| (i + start) % n) {
                let rows = &mut rows_of[eni];
                if rows.is_empty() {
                    continue;
                }
                let Some(map) = groups.get(eni) else { continue };
                let mut map = map
                    .lock()
                    .map_err(|_| QueryError::Invalid("flows_unique: a task failed".into()))?;
                for row in rows.drain(..) {
                    let row = row as usize;
                    let log = self.log_index(logs, row);
                    self.encode(eni as u32, &cells, row, &mut buf);
                    let group = map.add(&buf, log);
                    seen.push(Seen {
                        source: source_of[row],
                        line: lines.value(row),
                        eni: eni as u32,
                        group,
                        log,
                    });
                }
            }
        }
        Ok(seen)
    }
}

/// Everything the filter needs: the layout, the flow logs' ranks, and how it tells the
/// records that lose.
#[derive(Debug)]
struct Keep {
    layout: Arc<Layout>,
    /// Per log index (the last is "no ID"): its richness, and its place in ID order.
    rank: Vec<(usize, usize)>,
    by: By,
}

/// A source's losing lines (with their ENIs), where it has any.
type Lost<'a> = Option<&'a [(i64, u32)]>;

/// How the filter finds a record's fate.
#[derive(Debug)]
enum By {
    /// By where the record is: per source (its number in `sources`), the lines that lose,
    /// sorted, each with its ENI. Used when every (source, line) of the twice-logged ENIs
    /// named one record in step 3, so the filter reads two narrow columns, not the key.
    Place {
        sources: FastMap<Box<str>, u32>,
        dropped: Vec<Vec<(i64, u32)>>,
    },
    /// By the record's key (per ENI index, its groups): the filter encodes each record of a
    /// twice-logged ENI again.
    Key(Vec<Groups>),
}

impl Keep {
    /// Step 3: one scan of the records of the ENIs logged several times, split by ENI
    /// across the session's partitions, each counting its ENIs' groups.
    async fn count(
        ctx: &SessionContext,
        candidates: &[String],
        found: Keys,
    ) -> Result<Self, QueryError> {
        // The columns some key compares, in schema order.
        let used: Vec<usize> = (0..candidates.len())
            .filter(|i| found.keys.values().any(|k| k[*i]))
            .collect();
        let columns: Vec<String> = used.iter().map(|i| candidates[*i].clone()).collect();
        let multi: Vec<String> = found.keys.keys().cloned().collect();
        let mut enis = FastMap::default();
        let mut keys = Vec::new();
        for (eni, key) in &found.keys {
            enis.insert(Box::from(eni.as_str()), keys.len() as u32);
            keys.push(
                used.iter()
                    .enumerate()
                    .filter(|(_, c)| key[**c])
                    .map(|(p, _)| p)
                    .collect(),
            );
        }
        // Flow logs in ID order; "no ID" last.
        let ids: Vec<&String> = found.richness.keys().flatten().collect();
        let logs: FastMap<Box<str>, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (Box::from(id.as_str()), i as u32))
            .collect();
        let rank = ids
            .iter()
            .map(|id| Some((*id).clone()))
            .chain(std::iter::once(None))
            .enumerate()
            .map(|(order, id)| (found.richness.get(&id).copied().unwrap_or(0), order))
            .collect();
        tracing::debug!(?columns, "flows_unique: fields some key compares");
        let layout = Arc::new(Layout {
            columns,
            enis,
            keys,
            logs,
        });
        let select = ["interface_id", "flow_log_id", "source", "source_line"]
            .into_iter()
            .map(str::to_string)
            .chain(layout.columns.iter().map(|c| quoted(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let streams = ctx
            .sql(&format!(
                "SELECT {select} FROM flows_enriched WHERE interface_id IN ({})",
                sql_list(&multi)
            ))
            .await?
            .execute_stream_partitioned()
            .await?;
        let shared: Arc<Vec<Mutex<Groups>>> = Arc::new(
            (0..layout.keys.len())
                .map(|_| Mutex::new(Groups::default()))
                .collect(),
        );
        let sources = Arc::new(Sources::default());
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| tokio::spawn(layout.clone().tally(s, shared.clone(), sources.clone(), i)))
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.extend(
                task.await
                    .map_err(|e| QueryError::Invalid(format!("flows_unique: {e}")))??,
            );
        }
        let failed = || QueryError::Invalid("flows_unique: a task failed".into());
        let groups = Arc::try_unwrap(shared)
            .map_err(|_| failed())?
            .into_iter()
            .map(|m| m.into_inner())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| failed())?;
        let sources = Arc::try_unwrap(sources)
            .map_err(|_| failed())?
            .ids
            .into_inner()
            .map_err(|_| failed())?;
        let mut keep = Keep {
            layout,
            rank,
            by: By::Key(Vec::new()),
        };
        keep.by = keep.decide(groups, sources, seen);
        Ok(keep)
    }

    /// [`By::Place`] where each (source, line) step 3 saw names one record; else
    /// [`By::Key`] (a source read twice into the dataset under one name, with other
    /// content).
    fn decide(
        &self,
        groups: Vec<Groups>,
        sources: FastMap<Box<str>, u32>,
        mut seen: Vec<Seen>,
    ) -> By {
        seen.sort_unstable();
        let ambiguous = seen
            .windows(2)
            .any(|w| w[0].source == w[1].source && w[0].line == w[1].line && w[0] != w[1]);
        if ambiguous {
            tracing::debug!("flows_unique: a source line names two records; filtering by key");
            return By::Key(groups);
        }
        let mut dropped = vec![Vec::new(); sources.len()];
        for s in &seen {
            let tally = groups
                .get(s.eni as usize)
                .and_then(|g| g.tallies.get(s.group as usize));
            if let Some(tally) = tally
                && self.winner(tally) != Some(s.log)
                && let Some(lines) = dropped.get_mut(s.source as usize)
            {
                lines.push((s.line, s.eni));
            }
        }
        // `seen` is sorted by source and line, so each list is too; equal lines (the same
        // record twice) are one entry.
        for lines in &mut dropped {
            lines.dedup();
        }
        By::Place { sources, dropped }
    }

    /// The flow log a group keeps: the most records, then the richest, then the lowest ID.
    fn winner(&self, tally: &Tally) -> Option<u32> {
        tally
            .entries()
            .max_by_key(|(log, n)| {
                let (rich, order) = self
                    .rank
                    .get(*log as usize)
                    .copied()
                    .unwrap_or((0, usize::MAX));
                (*n, rich, std::cmp::Reverse(order))
            })
            .map(|(log, _)| *log)
    }

    /// The filter's arguments after the ENI.
    fn arguments(&self) -> Vec<String> {
        match &self.by {
            By::Place { .. } => vec!["source".into(), "source_line".into()],
            By::Key(_) => std::iter::once("flow_log_id".to_string())
                .chain(self.layout.columns.iter().map(|c| quoted(c)))
                .collect(),
        }
    }

    /// Which rows to keep: all but those of ENIs logged several times whose flow log is not
    /// their group's winner. A record step 3 did not see (files committed since) has no
    /// twin to lose to.
    fn keep(&self, enis: &ArrayRef, rest: &[ArrayRef]) -> Result<BooleanArray, QueryError> {
        match (&self.by, rest) {
            (By::Place { sources, dropped }, [names, lines]) => {
                Self::keep_by_place(sources, dropped, &self.layout, enis, names, lines)
            }
            (By::Key(groups), [logs, columns @ ..]) => {
                self.keep_by_key(groups, enis, logs, columns)
            }
            _ => Err(QueryError::Invalid(format!(
                "{KEEP_FN}: {} arguments after the ENI, expected {}",
                rest.len(),
                self.arguments().len()
            ))),
        }
    }

    fn keep_by_place(
        sources: &FastMap<Box<str>, u32>,
        dropped: &[Vec<(i64, u32)>],
        layout: &Layout,
        enis: &ArrayRef,
        names: &ArrayRef,
        lines: &ArrayRef,
    ) -> Result<BooleanArray, QueryError> {
        let mut keep = BooleanBufferBuilder::new(enis.len());
        keep.append_n(enis.len(), true);
        let lines = lines_of(lines)?;
        let lines = lines.as_primitive::<Int64Type>();
        // The last source seen, and its losing lines.
        let mut last: Option<(&str, Lost<'_>)> = None;
        for row in 0..enis.len() {
            let name = string_at(names, row).unwrap_or_default();
            let lost = match last {
                Some((n, lost)) if n == name => lost,
                _ => {
                    let lost = sources
                        .get(name)
                        .and_then(|id| dropped.get(*id as usize))
                        .map(Vec::as_slice)
                        .filter(|l| !l.is_empty());
                    last = Some((name, lost));
                    lost
                }
            };
            let Some(lost) = lost else { continue };
            let line = lines.value(row);
            if let Ok(i) = lost.binary_search_by_key(&line, |(l, _)| *l)
                && string_at(enis, row).and_then(|e| layout.enis.get(e)) == Some(&lost[i].1)
            {
                keep.set_bit(row, false);
            }
        }
        Ok(BooleanArray::new(keep.finish(), None))
    }

    fn keep_by_key(
        &self,
        groups: &[Groups],
        enis: &ArrayRef,
        logs: &ArrayRef,
        columns: &[ArrayRef],
    ) -> Result<BooleanArray, QueryError> {
        let mut keep = BooleanBufferBuilder::new(enis.len());
        keep.append_n(enis.len(), true);
        let rows = self.layout.eni_rows(enis)?;
        if rows.iter().any(Option::is_some) {
            let columns = normalized(columns)?;
            let cells = cells(&columns);
            let mut buf = Vec::new();
            for (row, eni) in rows.into_iter().enumerate() {
                let Some(eni) = eni else { continue };
                self.layout.encode(eni, &cells, row, &mut buf);
                let tally = groups.get(eni as usize).and_then(|g| g.get(buf.as_slice()));
                if let Some(tally) = tally
                    && self.winner(tally) != Some(self.layout.log_index(logs, row))
                {
                    keep.set_bit(row, false);
                }
            }
        }
        Ok(BooleanArray::new(keep.finish(), None))
    }
}

/// `__vpcflow_unique(interface_id, source, source_line)` or `__vpcflow_unique(interface_id,
/// flow_log_id, compared fields...)` (see [`By`]): whether the record stays in
/// `flows_unique`.
#[derive(Debug)]
struct KeepFn {
    keep: Arc<Keep>,
    signature: Signature,
}

impl KeepFn {
    fn new(keep: Arc<Keep>) -> Self {
        Self {
            keep,
            signature: Signature::variadic_any(Volatility::Volatile),
        }
    }
}

impl PartialEq for KeepFn {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.keep, &other.keep)
    }
}

impl Eq for KeepFn {}

impl std::hash::Hash for KeepFn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.keep).hash(state);
    }
}

impl ScalarUDFImpl for KeepFn {
    fn name(&self) -> &str {
        KEEP_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [enis, rest @ ..] = arrays.as_slice() else {
            return datafusion::common::plan_err!("{KEEP_FN} takes (interface_id, ...)");
        };
        let keep = self
            .keep
            .keep(enis, rest)
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Array(Arc::new(keep)))
    }
}
