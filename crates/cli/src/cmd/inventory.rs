use std::path::PathBuf;
use std::process::ExitCode;
use vpcflow_source::ec2::Ec2;

/// The subnet and ENI inventory of an account and region.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write describe-subnets.json and describe-network-interfaces.json (as `aws ec2
    /// describe-subnets` / `describe-network-interfaces` print them) through the EC2 API; the
    /// directory is what `--inventory` reads.
    Fetch(FetchArgs),
}

#[derive(Debug, clap::Args)]
struct FetchArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    aws: super::AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Fetch(a) = args.command;
    let aws = a.aws.load()?;
    let (subnets, enis) = Ec2::new(&aws).fetch_inventory(&a.out)?;
    println!(
        "wrote {subnets} subnets and {enis} network interfaces to {}",
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
