//! A vpcflow dataset, wherever it lives: everything under its root.
//!
//! - [`layout`]: the names of partitions, parts, quarantine, manifest, rollups and temporary
//!   files, and the [`Hour`] they are organised by.
//! - [`writer`]: Hive-partitioned Parquet parts and quarantine files, written aside and put in
//!   place only when complete.
//! - [`store`]: where the dataset lives ([`store::Store`]): a local directory
//!   ([`store::LocalStore`]) or an S3 prefix ([`s3_store::S3Store`]), with a lock each, and
//!   typed errors ([`StoreError`]) that name the operation and the path or object.
//! - [`manifest`]: what the dataset holds and the commit protocol that makes every record land
//!   exactly once ([`manifest::Dataset`]), rollup placement included.
//! - [`read`]: the read side: the files a query needs, from the manifest, and an
//!   `object_store` for a dataset in S3 with the SDK's credentials.
#![deny(missing_docs)]

mod ints;
pub mod layout;
pub mod manifest;
mod pages;
pub mod parquet_file;
pub mod read;
pub mod s3_store;
pub mod store;
mod strings;
pub mod writer;

pub use layout::Hour;
pub use manifest::{Dataset, InputFile, ManifestError};
pub use store::{LocalStore, Store, StoreError};
