//! Where flow-log records come from, and the ingest pipeline that takes them into the dataset.
//!
//! - [`local::discover`] lists the files of local paths (directories walked recursively);
//!   [`s3::S3Source`] lists and streams S3 objects; [`cloudwatch::CloudWatchSource`] reads
//!   CloudWatch Logs streams, one event per record.
//! - [`ingest::ingest_inputs`] reads inputs in parallel (plain or multi-member gzip text, or
//!   AWS's Parquet), decodes them with [`vpcflow_arrow::FlowDecoder`] and commits
//!   hour-partitioned Parquet files; [`manifest::Dataset`] records what the dataset holds, so
//!   that each run reads only what is new and every record lands exactly once.
#![deny(missing_docs)]

pub mod aws;
pub mod cloudwatch;
pub mod ec2;
pub mod ingest;
pub mod local;
pub mod manifest;
pub mod s3;
pub mod s3_read;
pub mod s3_store;
pub mod store;

pub use ingest::{IngestOptions, IngestSummary, Progress};

/// An error that stops a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A source named on the command line cannot be read.
    #[error("{source_name}: {message}")]
    Source {
        /// Path or URI.
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// The output directory cannot be used.
    #[error("output {path}: {message}")]
    Output {
        /// The directory.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The dataset's manifest or lock.
    #[error("{0}")]
    Manifest(#[from] manifest::ManifestError),
    /// Writing the dataset failed.
    #[error("writing the dataset: {0}")]
    Dataset(#[from] vpcflow_arrow::dataset::DatasetError),
    /// Building Arrow data failed.
    #[error("{0}")]
    Arrow(String),
    /// `--strict` and a bad line or file: nothing was committed.
    #[error("{0} (--strict: nothing was written)")]
    Strict(String),
}
