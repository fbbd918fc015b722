//! The names of everything under a dataset's root.
//!
//! ```text
//! ROOT/date=YYYY-MM-DD/hour=HH/part-<run>-<worker>-<seq>.parquet   the records, by start hour
//! ROOT/date=unknown/hour=unknown/...                               records without a start
//! ROOT/_quarantine/<run>-<worker>.jsonl                           bad lines, one JSON each
//! ROOT/_manifest/LOCK, manifest.json, commit-<seq>.json           what the dataset holds
//! ROOT/_rollups/<report>/date=YYYY-MM-DD/hour=HH.parquet          a report per hour
//! ROOT/_tmp/<run>/...                                             files being written
//! ```
//!
//! Keys are paths relative to the root, `/`-separated, the same for a local directory and an
//! S3 prefix.

pub use vpcflow_arrow::{Hour, HourBucket, UNKNOWN_PARTITION, hour_bucket, partition_dir};

/// Directory of files being written.
pub const TMP_DIR: &str = "_tmp";
/// Directory of quarantined bad lines.
pub const QUARANTINE_DIR: &str = "_quarantine";
/// Directory of the manifest and the lock.
pub const MANIFEST_DIR: &str = "_manifest";
/// The merged state, under [`MANIFEST_DIR`].
pub const MANIFEST_FILE: &str = "manifest.json";
/// Directory of the rollup tables.
pub const ROLLUP_DIR: &str = "_rollups";

/// One shard of a sharded ingest: shard `index` (from 0) of `count`. Each owns a stable slice
/// of the sources and has its own manifest and lock (`_manifest/shard-I-of-N/`) under the
/// dataset's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which one, `0..count`.
    pub index: u32,
    /// How many.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` (`0 <= I < N`).
    pub fn parse(s: &str) -> Option<Self> {
        let (i, n) = s.split_once('/')?;
        let (index, count) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
        (index < count).then_some(Self { index, count })
    }

    /// Its name in the dataset: `shard-I-of-N`.
    pub fn name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// The shard a name (`shard-I-of-N`) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        let (i, n) = name.strip_prefix("shard-")?.split_once("-of-")?;
        let (index, count) = (i.parse().ok()?, n.parse().ok()?);
        (index < count).then_some(Self { index, count })
    }

    /// Whether this shard owns the source whose ownership key is `key`: a stable hash
    /// (FNV-1a, 64 bits) of the key, modulo the shard count.
    pub fn owns(&self, key: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The hour of a key in the dataset (a part in its partition, a rollup file).
pub fn partition_hour(key: &str) -> HourBucket {
    Hour::from_path(key)
}

/// The key of `report`'s rollup file for `hour`.
pub fn rollup_key(report: &str, hour: Hour) -> String {
    // `date=…/hour=HH` plus the file's extension.
    format!("{ROLLUP_DIR}/{report}/{}.parquet", hour.partition())
}

/// The key prefix of `report`'s rollup table.
pub fn rollup_prefix(report: &str) -> String {
    format!("{ROLLUP_DIR}/{report}/")
}

/// Whether `key` names a file of the records (a Parquet part in an hour partition).
pub fn is_part(key: &str) -> bool {
    key.starts_with("date=") && key.ends_with(".parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_name_and_split_keys_stably() {
        let s = Shard::parse("1/4").unwrap();
        assert_eq!((s.index, s.count), (1, 4));
        assert_eq!(s.name(), "shard-1-of-4");
        assert_eq!(Shard::from_name("shard-1-of-4"), Some(s));
        assert_eq!(Shard::parse("4/4"), None);
        assert_eq!(Shard::parse("x/4"), None);
        assert_eq!(Shard::from_name("shard-1-of-x"), None);
        // Every key has exactly one owner, and the split does not depend on the other keys.
        let shards: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        let mut per = [0; 4];
        for k in 0..1000 {
            let key = format!("1234567890{k:02}/us-east-1/fl-{k:08x}");
            let owners: Vec<usize> = (0..4).filter(|&i| shards[i].owns(&key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            per[owners[0]] += 1;
        }
        assert!(per.iter().all(|&n| n > 200), "{per:?}");
        // FNV-1a of "a" is 0xaf63dc4c8601ec8c: the split is the same in every build.
        assert!(
            Shard {
                index: (0xaf63_dc4c_8601_ec8c_u64 % 7) as u32,
                count: 7
            }
            .owns("a")
        );
    }

    #[test]
    fn rollup_keys_name_their_hour() {
        let h = Hour::of(1_616_729_000);
        let key = rollup_key("rejected-flows", h);
        assert_eq!(
            key,
            "_rollups/rejected-flows/date=2021-03-26/hour=03.parquet"
        );
        assert_eq!(partition_hour(&key), Some(h));
        assert!(key.starts_with(&rollup_prefix("rejected-flows")));
        assert!(is_part("date=2021-03-26/hour=03/part-a-0-1.parquet"));
        assert!(!is_part(&key));
    }
}
