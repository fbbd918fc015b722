//! SQL functions for addresses: `ipv4_to_int(text)` and `is_private_ip(text)`.
//!
//! They take every string type as it is (the dataset's strings are read as `Utf8View`), so
//! DataFusion does not copy a column into another string type before calling them.

use crate::inventory;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
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

/// Registers the address functions in `ctx`.
pub fn register(ctx: &SessionContext) {
    for kind in [Kind::Ipv4ToInt, Kind::IsPrivateIp] {
        ctx.register_udf(ScalarUDF::new_from_impl(AddressFn::new(kind)));
    }
}
