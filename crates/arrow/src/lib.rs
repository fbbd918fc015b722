//! The canonical Arrow schema of vpcflow, and the batch decoder that builds it from flow-log
//! text. The dataset these batches are written to is `vpcflow-dataset`'s.
//!
//! - [`flow_schema`]: one schema for every flow-log version, named and typed as AWS's own
//!   Parquet delivery, plus provenance columns.
//! - [`FlowDecoderBuilder`] / [`FlowDecoder`]: a push decoder, bytes in, hour-partitioned
//!   [`arrow::record_batch::RecordBatch`]es and bad lines out. Its batches have the canonical
//!   columns, with the string columns (but the addresses) as dictionaries of strings
//!   ([`FlowBatchBuilder::schema`]); cast them, or write them with the dataset's writer,
//!   which stores them as the canonical strings.
//! - [`Hour`]: the hour a record falls in, the unit of the dataset's partitions.
//!
//! ```
//! use vpcflow_arrow::{DecodeEvent, FlowDecoderBuilder};
//! use vpcflow_format::Layout;
//!
//! let mut decoder = FlowDecoderBuilder::new(Layout::default_v2()).build_decoder("example.log".into(), None);
//! let mut rows = 0;
//! let mut emit = |e: DecodeEvent<'_>| if let DecodeEvent::Batch(_, b) = e { rows += b.num_rows() };
//! decoder.decode(b"2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK\n", true, &mut emit)?;
//! decoder.finish(&mut emit)?;
//! assert_eq!(rows, 1);
//! # Ok::<(), arrow::error::ArrowError>(())
//! ```
#![deny(missing_docs)]

mod builder;
mod decoder;
mod dictionary;
mod hour;
pub mod parquet_input;
mod schema;

pub use builder::FlowBatchBuilder;
pub use decoder::{DecodeEvent, FlowDecoder, FlowDecoderBuilder, skim};
pub use dictionary::same_bytes;
pub use hour::{Hour, HourBucket, UNKNOWN_PARTITION, hour_bucket, partition_dir};
pub use schema::{
    FLOW_LOG_ID, PARTITION_COLUMNS, SOURCE, SOURCE_LINE, UNKNOWN_FIELDS, data_type, fill_region,
    flow_schema,
};
