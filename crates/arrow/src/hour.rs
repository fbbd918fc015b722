//! The hour a record falls in, by its `start`: the unit of the dataset's partitions.

use chrono::DateTime;

/// An hour: whole hours since the Unix epoch. Records are partitioned by the hour of their
/// `start` (`date=YYYY-MM-DD/hour=HH`), and rollups are kept per hour.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Hour(pub i64);

/// The hour of a record, `None` for records without a `start` (they go to
/// `date=unknown/hour=unknown`).
pub type HourBucket = Option<Hour>;

impl Hour {
    /// The hour holding `seconds` since the Unix epoch.
    pub fn of(seconds: i64) -> Self {
        Self(seconds.div_euclid(3600))
    }

    /// Its first second, since the Unix epoch.
    pub fn start(self) -> i64 {
        self.0 * 3600
    }

    /// The first second after it.
    pub fn end(self) -> i64 {
        (self.0 + 1) * 3600
    }

    /// Its partition directory, `date=YYYY-MM-DD/hour=HH`.
    pub fn partition(self) -> String {
        match DateTime::from_timestamp(self.start(), 0) {
            Some(t) => t.format("date=%Y-%m-%d/hour=%H").to_string(),
            None => UNKNOWN_PARTITION.to_string(),
        }
    }

    /// The hour of a path in a dataset, from its `date=YYYY-MM-DD` and `hour=HH` directories
    /// (a rollup file's `hour=HH.parquet` too): the inverse of [`Hour::partition`]; `None`
    /// outside the hour partitions.
    pub fn from_path(path: &str) -> Option<Self> {
        let mut date = None;
        let mut hour = None;
        for c in path.split('/') {
            if let Some(d) = c.strip_prefix("date=") {
                date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
            } else if let Some(h) = c.strip_prefix("hour=") {
                let h = h.strip_suffix(".parquet").unwrap_or(h);
                hour = h.parse::<i64>().ok().filter(|h| (0..24).contains(h));
            }
        }
        let day = date?.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
        Some(Self(day.div_euclid(3600) + hour?))
    }
}

/// The partition of records without a `start`.
pub const UNKNOWN_PARTITION: &str = "date=unknown/hour=unknown";

/// The hour bucket of a `start` time in Unix seconds.
pub fn hour_bucket(start: Option<i64>) -> HourBucket {
    start.map(Hour::of)
}

/// The partition directory of an hour bucket.
pub fn partition_dir(bucket: HourBucket) -> String {
    bucket.map_or_else(|| UNKNOWN_PARTITION.to_string(), Hour::partition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_round_trip() {
        let h = Hour::of(1_616_729_000); // 2021-03-26T03:23:20Z
        assert_eq!(h.partition(), "date=2021-03-26/hour=03");
        assert_eq!(
            Hour::from_path("date=2021-03-26/hour=03/part-x.parquet"),
            Some(h)
        );
        assert_eq!(
            Hour::from_path("_rollups/r/date=2021-03-26/hour=03.parquet"),
            Some(h)
        );
        assert_eq!(Hour::from_path(UNKNOWN_PARTITION), None);
        assert_eq!(Hour::from_path("date=2021-03-26/hour=24"), None);
        assert_eq!(Hour::of(-1), Hour(-1));
        assert_eq!(partition_dir(None), UNKNOWN_PARTITION);
        assert_eq!((h.start(), h.end()), (1_616_727_600, 1_616_731_200));
    }
}
