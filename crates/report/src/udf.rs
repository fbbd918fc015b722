//! SQL functions for addresses: `ipv4_to_int(text)` and `is_private_ip(text)`.

use crate::inventory;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

fn strings(args: &[ColumnarValue]) -> Result<ArrayRef> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    Ok(arrow::compute::cast(&arrays[0], &DataType::Utf8)?)
}

fn ipv4_to_int(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let a = strings(args)?;
    let s = a.as_string::<i32>();
    let out: Int64Array = s
        .iter()
        .map(|v| v.and_then(inventory::ipv4_to_int))
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn is_private_ip(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let a = strings(args)?;
    let s = a.as_string::<i32>();
    let out: BooleanArray = s
        .iter()
        .map(|v| v.and_then(inventory::is_private_ip))
        .collect();
    debug_assert_eq!(out.len(), s.len());
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// Registers the address functions in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "ipv4_to_int",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(ipv4_to_int),
    ));
    ctx.register_udf(create_udf(
        "is_private_ip",
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(is_private_ip),
    ));
}
