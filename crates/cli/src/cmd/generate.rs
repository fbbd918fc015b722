use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use vpcflow_gen::{GenFormat, GenOptions, Shape};

/// Write realistic synthetic flow logs (AWS's S3 layout, gzipped) with known totals.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Records to write.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// 5-minute windows: one object each (realistic: one per flow log and window, four).
    #[arg(long, default_value_t = 12)]
    files: u32,
    /// Record format.
    #[arg(long, value_enum, default_value_t = Fmt::V5)]
    format: Fmt,
    /// Seed of the pseudo-random traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First window, as an RFC 3339 time.
    #[arg(long, default_value = "2025-12-01T00:00:00Z")]
    start: String,
    /// Traffic shape: `realistic` (3 VPCs, 1,008 ENIs, EKS pods, a second flow log over one
    /// subnet, records/27 internet talkers, records/200 scanners) or `small` (one VPC, 12
    /// ENIs, 50 peers, 40 scanners).
    #[arg(long, value_enum, default_value_t = ShapeArg::Realistic)]
    shape: ShapeArg,
    /// Instance ENIs per availability zone and VPC (default: 112 realistic, 4 small).
    #[arg(long)]
    enis_per_az: Option<usize>,
    /// Write a malformed line after every N records (0: never).
    #[arg(long, default_value_t = 0)]
    bad_every: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ShapeArg {
    Realistic,
    Small,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Fmt {
    V2,
    V5,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let start = chrono::DateTime::parse_from_rfc3339(&a.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", a.start))?
        .timestamp();
    let opts = GenOptions {
        out: a.out,
        records: a.records,
        files: a.files,
        start,
        seed: a.seed,
        format: match a.format {
            Fmt::V2 => GenFormat::V2,
            Fmt::V5 => GenFormat::V5,
        },
        shape: match a.shape {
            ShapeArg::Realistic => Shape::Realistic,
            ShapeArg::Small => Shape::Small,
        },
        enis_per_az: a.enis_per_az,
        bad_every: a.bad_every,
    };
    let t = vpcflow_gen::generate(&opts)?;
    println!(
        "wrote {} records ({} duplicates from a second flow log, {} bad lines) in {} objects to {}",
        t.records,
        t.duplicate_records,
        t.bad_lines,
        t.files,
        opts.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
