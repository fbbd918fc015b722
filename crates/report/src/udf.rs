//! SQL functions for addresses: `ipv4_to_int(text)` and `is_private_ip(text)`, and the
//! inventory lookups, each scoped by the VPC of the record that names the address (see
//! [`crate::addresses`]):
//!
//! - `eni_of(vpc, ip)`: the ENI that owns the address;
//! - `eni_type_of(vpc, ip)`: that ENI's interface type;
//! - `az_of(vpc, ip)` and `az_source_of(vpc, ip)`: its AZ ID, from the ENI inventory or the
//!   subnet CIDRs, and which of the two;
//! - `addr_class(vpc, ip)`: `own_vpc`, `other_vpc`, `org_public`, `private` or `internet`;
//! - `is_reserved_ip(vpc, ip)`: one of the five addresses AWS reserves in its subnet.
//!
//! They take every string type as it is (the dataset's strings are read as `Utf8View`), so
//! DataFusion does not copy a column into another string type before calling them.

use crate::addresses::AddressBook;
use crate::inventory;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Which address function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Ipv4ToInt,
    IsPrivateIp,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AddressFn {
    kind: Kind,
    signature: Signature,
}

impl AddressFn {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            signature: Signature::uniform(
                1,
                vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8],
                Volatility::Immutable,
            ),
        }
    }

    /// Applies `f` to each string of `array` (any string type).
    fn map<T, B: FromIterator<Option<T>>>(
        array: &ArrayRef,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<B> {
        Ok(match array.data_type() {
            DataType::Utf8View => array
                .as_string_view()
                .iter()
                .map(|v| v.and_then(&f))
                .collect(),
            DataType::LargeUtf8 => array
                .as_string::<i64>()
                .iter()
                .map(|v| v.and_then(&f))
                .collect(),
            _ => {
                let utf8 = arrow::compute::cast(array, &DataType::Utf8)?;
                utf8.as_string::<i32>()
                    .iter()
                    .map(|v| v.and_then(&f))
                    .collect()
            }
        })
    }
}

impl ScalarUDFImpl for AddressFn {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Ipv4ToInt => "ipv4_to_int",
            Kind::IsPrivateIp => "is_private_ip",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Ipv4ToInt => DataType::Int64,
            Kind::IsPrivateIp => DataType::Boolean,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(input) = arrays.first() else {
            return datafusion::common::plan_err!("{} takes one argument", self.name());
        };
        let out: ArrayRef = match self.kind {
            Kind::Ipv4ToInt => {
                Arc::new(Self::map::<i64, Int64Array>(input, inventory::ipv4_to_int)?)
            }
            Kind::IsPrivateIp => Arc::new(Self::map::<bool, BooleanArray>(
                input,
                inventory::is_private_ip,
            )?),
        };
        debug_assert_eq!(out.len(), input.len());
        Ok(ColumnarValue::Array(out))
    }
}

/// The strings of `array` (any string type), without copying them.
fn strings(array: &ArrayRef) -> Result<Vec<Option<&str>>> {
    Ok(match array.data_type() {
        DataType::Utf8View => array.as_string_view().iter().collect(),
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Null => vec![None; array.len()],
        other => {
            return datafusion::common::exec_err!("expected a string, got {other}");
        }
    })
}

/// Which inventory lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lookup {
    EniOf,
    EniTypeOf,
    AzOf,
    AzSourceOf,
    AddrClass,
    IsReservedIp,
}

#[derive(Debug)]
struct LookupFn {
    lookup: Lookup,
    book: Arc<AddressBook>,
    signature: Signature,
}

impl PartialEq for LookupFn {
    fn eq(&self, other: &Self) -> bool {
        self.lookup == other.lookup && Arc::ptr_eq(&self.book, &other.book)
    }
}

impl Eq for LookupFn {}

impl std::hash::Hash for LookupFn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.lookup.hash(state);
        Arc::as_ptr(&self.book).hash(state);
    }
}

impl ScalarUDFImpl for LookupFn {
    fn name(&self) -> &str {
        match self.lookup {
            Lookup::EniOf => "eni_of",
            Lookup::EniTypeOf => "eni_type_of",
            Lookup::AzOf => "az_of",
            Lookup::AzSourceOf => "az_source_of",
            Lookup::AddrClass => "addr_class",
            Lookup::IsReservedIp => "is_reserved_ip",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.lookup {
            Lookup::IsReservedIp => DataType::Boolean,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [vpcs, ips] = arrays.as_slice() else {
            return datafusion::common::plan_err!("{} takes (vpc_id, address)", self.name());
        };
        let (vpcs, ips) = (strings(vpcs)?, strings(ips)?);
        let book = &self.book;
        let each = vpcs.iter().zip(&ips).map(|(vpc, ip)| {
            let ip = ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok())?;
            Some((*vpc, ip))
        });
        let out: ArrayRef = match self.lookup {
            Lookup::IsReservedIp => Arc::new(
                each.map(|a| a.map(|(vpc, ip)| book.is_reserved(vpc, ip)))
                    .collect::<BooleanArray>(),
            ),
            Lookup::EniOf => Arc::new(
                each.map(|a| {
                    a.and_then(|(v, ip)| book.owner(v, ip))
                        .map(|e| e.interface_id.as_str())
                })
                .collect::<StringArray>(),
            ),
            Lookup::EniTypeOf => Arc::new(
                each.map(|a| {
                    a.and_then(|(v, ip)| book.owner(v, ip))
                        .and_then(|e| e.interface_type.as_deref())
                })
                .collect::<StringArray>(),
            ),
            Lookup::AzOf => Arc::new(
                each.map(|a| a.and_then(|(v, ip)| book.az(v, ip)).map(|(az, _)| az))
                    .collect::<StringArray>(),
            ),
            Lookup::AzSourceOf => Arc::new(
                each.map(|a| a.and_then(|(v, ip)| book.az(v, ip)).map(|(_, src)| src))
                    .collect::<StringArray>(),
            ),
            Lookup::AddrClass => Arc::new(
                each.map(|a| a.map(|(v, ip)| book.class(v, ip).as_str()))
                    .collect::<StringArray>(),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Registers the address functions in `ctx`, the lookups over `book`.
pub fn register(ctx: &SessionContext, book: Arc<AddressBook>) {
    for kind in [Kind::Ipv4ToInt, Kind::IsPrivateIp] {
        ctx.register_udf(ScalarUDF::new_from_impl(AddressFn::new(kind)));
    }
    for lookup in [
        Lookup::EniOf,
        Lookup::EniTypeOf,
        Lookup::AzOf,
        Lookup::AzSourceOf,
        Lookup::AddrClass,
        Lookup::IsReservedIp,
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(LookupFn {
            lookup,
            book: book.clone(),
            signature: Signature::uniform(
                2,
                vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8],
                Volatility::Immutable,
            ),
        }));
    }
}
