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
