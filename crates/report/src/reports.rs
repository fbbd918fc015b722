//! The reports: named SQL files in `queries/`, run on DataFusion over the dataset.

use crate::QueryError;

/// One report.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Its name on the command line (`queries/NAME.sql`).
    pub name: &'static str,
    /// What it answers, in one line.
    pub about: &'static str,
    /// Its SQL.
    pub sql: &'static str,
    /// Whether it cannot run without `--inventory`.
    pub needs_inventory: bool,
    /// Whether it shows money (and so names the prices it used).
    pub shows_cost: bool,
    /// What is incomplete in its answer without an inventory (analytics §7 rule 10).
    pub without_inventory: &'static str,
}

macro_rules! report {
    ($name:literal, $about:literal, $inv:literal, $cost:literal, $without:literal) => {
        Report {
            name: $name,
            about: $about,
            sql: include_str!(concat!("../../../queries/", $name, ".sql")),
            needs_inventory: $inv,
            shows_cost: $cost,
            without_inventory: $without,
        }
    };
}

/// Every report, in the order `--list` shows them.
pub const REPORTS: &[Report] = &[
    report!(
        "interface-traffic",
        "bytes and packets in and out of each ENI, rejected traffic apart",
        false,
        false,
        "az_id, subnet_id, vpc_id, instance_id and interface_type come only from the records' own fields, and description is empty"
    ),
    report!(
        "rejected-flows",
        "rejected traffic by source, destination port, protocol and ENI; scan suspects",
        false,
        false,
        ""
    ),
    report!(
        "cross-az-cost",
        "bytes that crossed availability zones, per AZ pair, and what they cost",
        false,
        true,
        "peers' AZs come only from next-hop-az-id and from addresses logged ENIs send from (the rest is 'unknown'); NAT gateways, load balancers and endpoints are known only by interface-type (v11); the VPC's IPv6 space and Elastic IPs are taken for the internet"
    ),
    report!(
        "top-talkers",
        "end-to-end conversations by bytes, each counted once",
        false,
        false,
        "a sender counts as logged only by the addresses its own egress records show; intermediate ENIs are known only by interface-type (v11)"
    ),
    report!(
        "nat-gateway",
        "bytes each NAT gateway processed, who sent them, and the processing cost",
        false,
        true,
        "NAT gateway ENIs are found only by interface-type (v11), and client_interface_id and client_az_id are empty"
    ),
    report!(
        "internet-egress",
        "bytes each ENI sent to the internet, AWS services apart, and an estimated cost",
        false,
        true,
        "the VPC's own IPv6 space and the organisation's public and Elastic IPs cannot be told from the internet"
    ),
    report!(
        "log-health",
        "NODATA/SKIPDATA records and log coverage per ENI and hour",
        false,
        false,
        ""
    ),
    report!(
        "idle-interfaces",
        "ENIs in the inventory with no accepted traffic in the range (clean-up candidates)",
        true,
        false,
        ""
    ),
];

/// The view every report reads (`flows` plus what the inventory adds).
pub const FLOWS_ENRICHED: &str = include_str!("../../../queries/_flows_enriched.sql");

/// `FLOWS_ENRICHED` without an inventory (no joins).
pub const FLOWS_ENRICHED_BARE: &str = include_str!("../../../queries/_flows_enriched_bare.sql");

/// Finds a report by name.
pub fn find(name: &str) -> Result<&'static Report, QueryError> {
    REPORTS.iter().find(|r| r.name == name).ok_or_else(|| {
        let all = REPORTS
            .iter()
            .map(|r| r.name)
            .collect::<Vec<_>>()
            .join(", ");
        QueryError::Invalid(match did_you_mean(name, REPORTS.iter().map(|r| r.name)) {
            Some(s) => {
                format!("unknown report {name:?}; did you mean {s:?}? The reports are: {all}")
            }
            None => format!("unknown report {name:?}; the reports are: {all}"),
        })
    })
}

/// Edit distance between two names (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `name`, when it is close enough to be a misspelling.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    candidates
        .into_iter()
        .map(|c| (distance(&name, &c.replace('_', "-")), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2) || c.starts_with(&name) && name.len() >= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Parses `--from`/`--to`: an RFC 3339 time or a date (`2025-12-01`). A date means its
/// midnight UTC, or with `end_of_day` the midnight after it (so `--to 2025-12-01` includes
/// that whole day). Returns Unix seconds.
pub fn parse_time(s: &str, end_of_day: bool) -> Result<i64, QueryError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    }
    Err(QueryError::Invalid(format!(
        "{s:?} is not a time: give an RFC 3339 time (2025-12-01T06:00:00Z) or a date (2025-12-01)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = ["interface-traffic", "rejected-flows", "cross-az-cost"];
        assert_eq!(
            did_you_mean("interface-trafic", names),
            Some("interface-traffic")
        );
        assert_eq!(
            did_you_mean("rejected_flows", names),
            Some("rejected-flows")
        );
        assert_eq!(did_you_mean("cross", names), Some("cross-az-cost"));
        assert_eq!(did_you_mean("bogus", names), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("2025-12-01", false).unwrap(), 1764547200);
        assert_eq!(parse_time("2025-12-01", true).unwrap(), 1764547200 + 86400);
        assert_eq!(
            parse_time("2025-12-01T01:00:00+01:00", false).unwrap(),
            1764547200
        );
        let e = parse_time("yesterday", false).unwrap_err().to_string();
        assert!(e.contains("\"yesterday\" is not a time"), "{e}");
    }

    #[test]
    fn names() {
        assert!(find("cross-az-cost").is_ok());
        let e = find("nope").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown report \"nope\"; the reports are: interface-traffic"),
            "{e}"
        );
    }
}
