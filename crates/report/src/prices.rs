//! Data-transfer prices: a built-in table of AWS list prices, overridable per region from a
//! TOML file, registered as the table `prices` (one row per region, `default` included).

use crate::QueryError;
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The built-in price table (us-east-1 list prices; every region inherits `default`).
pub const BUILTIN: &str = include_str!("../../../queries/prices.toml");

/// Prices of one region, USD per GB unless the name says otherwise. A key left out falls back
/// to the `default` region.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// Cross-AZ transfer, charged to the sender.
    pub cross_az_out_per_gb: Option<f64>,
    /// Cross-AZ transfer, charged to the receiver.
    pub cross_az_in_per_gb: Option<f64>,
    /// NAT gateway data processing (both directions).
    pub nat_gateway_per_gb: Option<f64>,
    /// NAT gateway hourly charge.
    pub nat_gateway_per_hour: Option<f64>,
    /// Internet egress, first tier.
    pub internet_out_per_gb: Option<f64>,
    /// Transit Gateway data processing.
    pub tgw_per_gb: Option<f64>,
}

/// Facts about the table itself.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// When the prices were read from AWS's price list.
    pub as_of: String,
    /// Currency.
    pub currency: String,
    /// Bytes in a billed GB.
    pub bytes_per_gb: f64,
    /// Where the prices come from.
    pub source: String,
}

/// A price table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// Facts about the table.
    pub meta: Meta,
    /// Prices by region; `default` applies where a region or key is missing.
    pub regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    meta: Option<PartialMeta>,
    #[serde(default)]
    regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialMeta {
    as_of: Option<String>,
    currency: Option<String>,
    bytes_per_gb: Option<f64>,
    source: Option<String>,
}

/// The largest price file read (a price table is a few hundred bytes).
const MAX_PRICES_FILE: u64 = 1 << 20;

/// A TOML error as its line and message, without the file's text: the message's quoted
/// values are left out, and the key is named only where it is one of the table's keys.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let mut message = String::new();
    let mut quoted = false;
    for c in e.message().chars() {
        if c == '"' {
            if !quoted {
                message.push_str("a value");
            }
            quoted = !quoted;
        } else if !quoted {
            message.push(c);
        }
    }
    let Some(span) = e.span() else {
        return message;
    };
    let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    let key = line.split('=').next().unwrap_or_default().trim();
    let known = RegionPrices::default()
        .entries()
        .iter()
        .map(|(k, _)| *k)
        .chain(["as_of", "currency", "bytes_per_gb", "source"])
        .any(|k| k == key);
    if known {
        format!("line {line_no}, key {key}: {message}")
    } else {
        format!("line {line_no}: {message}")
    }
}

impl RegionPrices {
    /// Each key and its value.
    fn entries(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("cross_az_out_per_gb", self.cross_az_out_per_gb),
            ("cross_az_in_per_gb", self.cross_az_in_per_gb),
            ("nat_gateway_per_gb", self.nat_gateway_per_gb),
            ("nat_gateway_per_hour", self.nat_gateway_per_hour),
            ("internet_out_per_gb", self.internet_out_per_gb),
            ("tgw_per_gb", self.tgw_per_gb),
        ]
    }
}

fn merge(base: &mut RegionPrices, over: &RegionPrices) {
    macro_rules! take {
        ($($f:ident),*) => { $( if over.$f.is_some() { base.$f = over.$f; } )* };
    }
    take!(
        cross_az_out_per_gb,
        cross_az_in_per_gb,
        nat_gateway_per_gb,
        nat_gateway_per_hour,
        internet_out_per_gb,
        tgw_per_gb
    );
}

impl PriceTable {
    /// The built-in table.
    pub fn builtin() -> Self {
        toml::from_str(BUILTIN).expect("the built-in price table is valid")
    }

    /// The built-in table with `path` (same keys, any subset) laid over it.
    pub fn load(path: Option<&Path>) -> Result<Self, QueryError> {
        let mut table = Self::builtin();
        let Some(path) = path else {
            return Ok(table);
        };
        let err = |message: String| QueryError::Prices {
            path: path.display().to_string(),
            message,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .len();
        if size > MAX_PRICES_FILE {
            return Err(err(format!(
                "{size} bytes: a price table is at most {MAX_PRICES_FILE} bytes"
            )));
        }
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let text = String::from_utf8(text).map_err(|_| err("not UTF-8 text".into()))?;
        let over: Override =
            toml::from_str(&text).map_err(|e| err(describe_toml_error(&text, &e)))?;
        if let Some(m) = over.meta.clone() {
            if let Some(v) = m.as_of {
                table.meta.as_of = v;
            }
            if let Some(v) = m.currency {
                table.meta.currency = v;
            }
            if let Some(v) = m.bytes_per_gb {
                table.meta.bytes_per_gb = v;
            }
        }
        // The file's own source names the prices where it gives one.
        match over.meta.as_ref().and_then(|m| m.source.clone()) {
            Some(v) => table.meta.source = v,
            None => table.meta.source = format!("{} (with {})", table.meta.source, path.display()),
        }
        for (region, p) in &over.regions {
            merge(table.regions.entry(region.clone()).or_default(), p);
        }
        table.validate().map_err(err)?;
        Ok(table)
    }

    /// Every price a finite, non-negative number, and a GB a positive number of bytes.
    fn validate(&self) -> Result<(), String> {
        let gb = self.meta.bytes_per_gb;
        if !(gb.is_finite() && gb > 0.0) {
            return Err(format!(
                "meta.bytes_per_gb must be a positive number of bytes, not {gb}"
            ));
        }
        for (region, p) in &self.regions {
            for (key, value) in p.entries() {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    return Err(format!(
                        "regions.{region}.{key} must be a finite, non-negative price, not {v}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// One line saying which prices a report used.
    pub fn describe(&self) -> String {
        format!(
            "prices: {}, as of {}, {} per GB of {} bytes; list prices, not negotiated rates",
            self.meta.source, self.meta.as_of, self.meta.currency, self.meta.bytes_per_gb
        )
    }

    /// Registers the table `prices`: one row per region, every key filled from `default`.
    pub fn register(&self, ctx: &SessionContext) -> Result<(), QueryError> {
        let default = self.regions.get("default").cloned().unwrap_or_default();
        let rows: Vec<(String, RegionPrices)> = self
            .regions
            .iter()
            .map(|(r, p)| {
                let mut full = default.clone();
                merge(&mut full, p);
                (r.clone(), full)
            })
            .collect();
        let col = |f: fn(&RegionPrices) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(
                rows.iter().map(|(_, p)| f(p)).collect::<Vec<_>>(),
            ))
        };
        let n = rows.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, false),
            Field::new("cross_az_out_per_gb", DataType::Float64, true),
            Field::new("cross_az_in_per_gb", DataType::Float64, true),
            Field::new("nat_gateway_per_gb", DataType::Float64, true),
            Field::new("nat_gateway_per_hour", DataType::Float64, true),
            Field::new("internet_out_per_gb", DataType::Float64, true),
            Field::new("tgw_per_gb", DataType::Float64, true),
            Field::new("bytes_per_gb", DataType::Float64, false),
            Field::new("as_of", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|(r, _)| r))),
                col(|p| p.cross_az_out_per_gb),
                col(|p| p.cross_az_in_per_gb),
                col(|p| p.nat_gateway_per_gb),
                col(|p| p.nat_gateway_per_hour),
                col(|p| p.internet_out_per_gb),
                col(|p| p.tgw_per_gb),
                Arc::new(Float64Array::from(vec![self.meta.bytes_per_gb; n])),
                Arc::new(StringArray::from(vec![self.meta.as_of.clone(); n])),
            ],
        )?;
        ctx.register_table(
            "prices",
            Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_overrides() {
        let t = PriceTable::builtin();
        assert_eq!(t.regions["default"].cross_az_out_per_gb, Some(0.01));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.toml");
        std::fs::write(&p, "[regions.eu-west-1]\nnat_gateway_per_gb = 0.048\n").unwrap();
        let t = PriceTable::load(Some(&p)).unwrap();
        assert_eq!(t.regions["eu-west-1"].nat_gateway_per_gb, Some(0.048));
        std::fs::write(&p, "[regions.eu-west-1]\nnat_per_gb = 0.048\n").unwrap();
        let e = PriceTable::load(Some(&p)).unwrap_err().to_string();
        assert!(
            e.contains("p.toml") && e.contains("unknown field `nat_per_gb`"),
            "{e}"
        );
    }

    #[test]
    fn bad_prices_are_refused_without_echoing_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.toml");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            PriceTable::load(Some(&p)).unwrap_err().to_string()
        };
        let e = load("[regions.eu-west-1]\nnat_gateway_per_gb = -0.5\n");
        assert!(
            e.contains("regions.eu-west-1.nat_gateway_per_gb must be a finite, non-negative price"),
            "{e}"
        );
        let e = load("[regions.default]\ncross_az_in_per_gb = nan\n");
        assert!(e.contains("regions.default.cross_az_in_per_gb"), "{e}");
        let e = load("[meta]\nbytes_per_gb = 0\n");
        assert!(
            e.contains("meta.bytes_per_gb must be a positive number"),
            "{e}"
        );
        let e = load("[regions.default]\ntgw_per_gb = \"s3cr3t-value\"\n");
        assert!(e.contains("line 2, key tgw_per_gb"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let e = load("root:x:0:0:hunter2:/root:/bin/bash\n");
        assert!(e.contains("line 1:"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("root"), "{e}");
        std::fs::write(&p, vec![b'#'; 2 << 20]).unwrap();
        let e = PriceTable::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("a price table is at most"), "{e}");
    }

    #[test]
    fn a_custom_source_replaces_the_builtin_footer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.toml");
        std::fs::write(&p, "[meta]\nsource = \"our EDP rates, 2026-10\"\n").unwrap();
        let t = PriceTable::load(Some(&p)).unwrap();
        assert!(
            t.describe()
                .starts_with("prices: our EDP rates, 2026-10, as of"),
            "{}",
            t.describe()
        );
        assert!(!t.describe().contains("built-in"), "{}", t.describe());
    }
}
