//! A string column built as dictionary keys: each row's value is looked up among the
//! batch's distinct values instead of being copied.
//!
//! Most string fields of a flow log repeat from one record to the next (`action`,
//! `log_status`, the interface, VPC and subnet IDs of an interface's records) or take few
//! values in a batch. A value equal to the previous row's costs one comparison and a key;
//! only a changed value is hashed. The Parquet writer then reads each distinct value once
//! per batch instead of once per row.

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{ArrayRef, DictionaryArray, Int32Array, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Int32Type};
use arrow::error::ArrowError;
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The Arrow type of the columns built here.
pub(crate) fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Up to this many distinct values in a batch, a value is looked for among them one by one.
const FEW_VALUES: i32 = 8;

/// Keys and distinct values of one string column of the batch being built.
pub(crate) struct DictionaryColumn {
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    /// The distinct values, concatenated; value `k` spans `offsets[k]..offsets[k + 1]`.
    bytes: Vec<u8>,
    offsets: Vec<i32>,
    hasher: FixedState,
    table: HashTable<i32>,
    /// The key of the last non-null value appended.
    prev: Option<i32>,
}

impl DictionaryColumn {
    /// A column with room for `capacity` rows.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            keys: Vec::with_capacity(capacity),
            nulls: NullBufferBuilder::new(capacity),
            bytes: Vec::new(),
            offsets: vec![0],
            hasher: FixedState::default(),
            table: HashTable::new(),
            prev: None,
        }
    }

    /// Appends `v`. Inlined into the loops that call it, for its comparison with the row
    /// before; the lookup of a changed value stays a call.
    #[inline(always)]
    pub(crate) fn append_value(&mut self, v: &[u8]) {
        let key = self.key(v);
        self.keys.push(key);
        self.nulls.append_non_null();
    }

    /// Appends `values` (`None` for a null); the validity of each run of valid or null rows
    /// is set at once.
    #[inline(always)]
    pub(crate) fn extend<'a>(&mut self, values: impl Iterator<Item = Option<&'a [u8]>>) {
        let mut run = Run::default();
        for v in values {
            let key = match v {
                Some(v) => self.key(v),
                None => 0,
            };
            self.keys.push(key);
            run.push(&mut self.nulls, v.is_some());
        }
        run.end(&mut self.nulls);
    }

    #[inline]
    pub(crate) fn append_null(&mut self) {
        self.keys.push(0);
        self.nulls.append_null();
    }

    /// The key of `v`: the row before's when it has the same value, else looked up.
    #[inline(always)]
    fn key(&mut self, v: &[u8]) -> i32 {
        let key = match self.prev {
            Some(k) if same_bytes(entry(&self.bytes, &self.offsets, k), v) => k,
            _ => self.intern(v),
        };
        self.prev = Some(key);
        key
    }

    /// The key of `v`, added if new. While the batch has met only a few values (a subnet, AZ,
    /// direction or traffic path of a few), they are compared one by one: cheaper than a
    /// hash of `v`.
    #[inline(never)]
    fn intern(&mut self, v: &[u8]) -> i32 {
        let (bytes, offsets) = (&self.bytes, &self.offsets);
        let distinct = (offsets.len() - 1) as i32;
        let few = distinct <= FEW_VALUES;
        if few && let Some(k) = (0..distinct).find(|&k| same_bytes(entry(bytes, offsets, k), v)) {
            return k;
        }
        let hash = self.hasher.hash_one(v);
        if !few
            && let Some(&k) = self
                .table
                .find(hash, |&k| same_bytes(entry(bytes, offsets, k), v))
        {
            return k;
        }
        let k = distinct;
        self.bytes.extend_from_slice(v);
        self.offsets.push(self.bytes.len() as i32);
        let (bytes, offsets, hasher) = (&self.bytes, &self.offsets, &self.hasher);
        self.table
            .insert_unique(hash, k, |&k| hasher.hash_one(entry(bytes, offsets, k)));
        k
    }

    /// The rows appended since the last call, as a dictionary array; the column starts
    /// again empty, with an empty dictionary.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let rows = self.keys.len();
        let keys = Int32Array::new(
            ScalarBuffer::from(std::mem::replace(&mut self.keys, Vec::with_capacity(rows))),
            self.nulls.finish(),
        );
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let bytes = std::mem::take(&mut self.bytes);
        let values = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(bytes),
            None,
        )?;
        self.table.clear();
        self.prev = None;
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys,
            Arc::new(values),
        )?))
    }
}

/// A run of rows that are all valid or all null, whose validity is appended when it ends:
/// a column's rows come in long runs of either.
#[derive(Default)]
pub(crate) struct Run {
    valid: bool,
    len: usize,
}

impl Run {
    #[inline(always)]
    pub(crate) fn push(&mut self, nulls: &mut NullBufferBuilder, valid: bool) {
        if valid != self.valid {
            self.end(nulls);
            self.valid = valid;
        }
        self.len += 1;
    }

    /// Appends the run's validity; the run starts again empty.
    #[inline]
    pub(crate) fn end(&mut self, nulls: &mut NullBufferBuilder) {
        match (std::mem::take(&mut self.len), self.valid) {
            (0, _) => {}
            (n, true) => nulls.append_n_non_nulls(n),
            (n, false) => nulls.append_n_nulls(n),
        }
    }
}

/// Value `k` of a dictionary whose values are `bytes` split at `offsets`. A free function so
/// that [`DictionaryColumn::intern`] can call it while its table is borrowed.
#[inline]
fn entry<'a>(bytes: &'a [u8], offsets: &[i32], k: i32) -> &'a [u8] {
    let k = k as usize;
    &bytes[offsets[k] as usize..offsets[k + 1] as usize]
}

/// Whether `a` and `b` hold the same bytes.
///
/// Flow-log values are short (an address, an interface ID, `ACCEPT`): for them, comparing
/// two 8-byte words at a time inline costs less than the call to `memcmp` that `==` makes,
/// which was a tenth of the ingest's CPU. Longer values go to `==`.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..4 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two words that overlap where the length is not a multiple of the word.
        4..8 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        17..=32 => {
            word8(a, 0) == word8(b, 0)
                && word8(a, 8) == word8(b, 8)
                && word8(a, n - 16) == word8(b, n - 16)
                && word8(a, n - 8) == word8(b, n - 8)
        }
        _ => a == b,
    }
}

/// The four bytes of `s` from `at` (callers keep `at + 4` within `s`).
#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    s.get(at..)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |w| u32::from_le_bytes(*w))
}

/// The eight bytes of `s` from `at` (callers keep `at + 8` within `s`).
#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    s.get(at..)
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// `value` on each of `rows` rows: a dictionary of one value.
pub(crate) fn repeated(value: &str, rows: usize) -> ArrayRef {
    let keys = Int32Array::new(ScalarBuffer::from(vec![0; rows]), None);
    let values = Arc::new(StringArray::from(vec![value]));
    Arc::new(DictionaryArray::<Int32Type>::new(keys, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    /// The rows of a dictionary column as strings.
    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let cast = arrow::compute::cast(a, &DataType::Utf8).expect("cast");
        cast.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn keys_name_each_distinct_value_once_and_finishing_starts_afresh() {
        let mut c = DictionaryColumn::with_capacity(2);
        let rows = [
            Some("b"),
            Some("b"),
            None,
            Some("a"),
            Some("b"),
            Some(""),
            None,
            Some("a"),
        ];
        for v in rows {
            match v {
                Some(v) => c.append_value(v.as_bytes()),
                None => c.append_null(),
            }
        }
        let a = c.finish().expect("finish");
        let want: Vec<Option<String>> = rows.iter().map(|v| v.map(str::to_string)).collect();
        assert_eq!(strings(&a), want);
        let d = a.as_dictionary::<Int32Type>();
        assert_eq!(
            d.values().as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("b"), Some("a"), Some("")]
        );
        assert_eq!(d.keys().null_count(), 2);
        // The next batch has a dictionary of its own values only.
        c.append_value(b"a");
        c.append_value(b"c");
        let a = c.finish().expect("finish");
        assert_eq!(a.as_dictionary::<Int32Type>().values().len(), 2);
        assert_eq!(strings(&a), [Some("a".to_string()), Some("c".to_string())]);
        assert_eq!(c.finish().expect("finish").len(), 0);
    }

    #[test]
    fn many_distinct_values_survive_the_tables_growth() {
        let mut c = DictionaryColumn::with_capacity(0);
        let values: Vec<String> = (0..5000)
            .map(|i| format!("10.0.{}.{}", i % 97, i))
            .collect();
        for v in values.iter().chain(values.iter().rev()) {
            c.append_value(v.as_bytes());
        }
        let a = c.finish().expect("finish");
        assert_eq!(a.as_dictionary::<Int32Type>().values().len(), 5000);
        let back = strings(&a);
        assert_eq!(back.len(), 10_000);
        assert!(
            back.iter()
                .zip(values.iter().chain(values.iter().rev()))
                .all(|(a, b)| a.as_deref() == Some(b.as_str()))
        );
    }

    #[test]
    fn same_bytes_agrees_with_eq_at_every_length_and_difference() {
        // Every length to 40, each pair differing at one position (or not at all).
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same_bytes(&a, &a.clone()), "equal at length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a, &b), "length {n}, differing at {at}");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_bytes(&a, &longer), "lengths {n} and {}", n + 1);
        }
    }

    #[test]
    fn a_repeated_value_is_one_entry() {
        let a = repeated("s3://b/k.log.gz", 3);
        assert_eq!(a.as_dictionary::<Int32Type>().values().len(), 1);
        assert_eq!(strings(&a), vec![Some("s3://b/k.log.gz".to_string()); 3]);
    }
}
