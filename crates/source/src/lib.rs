//! Where flow-log records come from, and the ingest pipeline that takes them into the dataset.
//!
//! - [`local::discover`] lists the files of local paths (directories walked recursively);
//!   [`s3::S3Source`] lists and streams S3 objects; [`cloudwatch::CloudWatchSource`] reads
//!   CloudWatch Logs streams, one event per record.
//! - [`ingest::ingest_inputs`] reads inputs in parallel (plain or multi-member gzip text, or
//!   AWS's Parquet), decodes them with [`vpcflow_arrow::FlowDecoder`] and commits
//!   hour-partitioned Parquet files into a [`vpcflow_dataset::Dataset`], which records what
//!   the dataset holds, so that each run reads only what is new and every record lands
//!   exactly once.
#![deny(missing_docs)]

pub mod cloudwatch;
pub mod ec2;
pub mod ingest;
pub mod local;
pub mod s3;
mod text;

pub use vpcflow_aws as aws;

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
    Manifest(#[from] vpcflow_dataset::ManifestError),
    /// Writing the dataset failed.
    #[error("writing the dataset: {0}")]
    Dataset(#[from] vpcflow_dataset::writer::DatasetError),
    /// AWS's clients could not be set up.
    #[error("{0}")]
    Aws(#[from] vpcflow_aws::AwsError),
    /// Building Arrow data failed.
    #[error("{0}")]
    Arrow(String),
    /// `--strict` and a bad line or file: nothing was committed.
    #[error("{0} (--strict: nothing was written)")]
    Strict(String),
}
