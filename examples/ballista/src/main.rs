//! vpcflow's reports on Ballista in standalone mode: an in-process scheduler and executor,
//! started from the session `vpcflow report` uses, with the dataset's tables, the views the
//! reports read and vpcflow's UDFs (`ipv4_to_int`, `addr_class`, ...) registered in it. Each report runs on Ballista and on plain DataFusion,
//! and the answers are compared.
//!
//! Usage: `vpcflow-ballista-example DATASET [REPORT...]` (all reports when none is named).

use ballista::prelude::*;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::*;
use std::path::Path;
use std::time::Instant;

fn ext(e: vpcflow_report::QueryError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn text(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .expect("usage: vpcflow-ballista-example DATASET [REPORT...]");
    let names: Vec<String> = args.collect();
    // vpcflow's own session: `flows`, the rollups, the views and the UDFs.
    let local = vpcflow_report::open(Path::new(&data)).await.map_err(ext)?;
    let state = local.state();
    let mut config = state.config().clone().upgrade_for_ballista();
    // The new state shares vpcflow's catalogs: building it must not put a fresh, empty default
    // catalog in their place (which would empty `local` too).
    config
        .options_mut()
        .catalog
        .create_default_catalog_and_schema = false;
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    let t = Instant::now();
    // The in-process scheduler and executor are started from this state. In Ballista 55.0 its
    // UDFs still do not reach the scheduler's planning (README, "Ballista").
    let ballista = SessionContext::standalone_with_state(state).await?;
    println!(
        "standalone scheduler and executor up in {:.2?}",
        t.elapsed()
    );

    let mut queries: Vec<(String, String)> = vpcflow_report::reports::REPORTS
        .iter()
        .filter(|r| names.is_empty() || names.iter().any(|n| n == r.name))
        .map(|r| (r.name.to_string(), r.sql.to_string()))
        .collect();
    queries.push((
        "udfs".into(),
        "SELECT addr_class(vpc_id, srcaddr) AS class, COUNT(*) AS records, \
         SUM(ipv4_to_int(srcaddr)) AS sum_src FROM flows GROUP BY 1 ORDER BY 1"
            .into(),
    ));
    let mut failed = 0;
    for (name, sql) in queries {
        let t = Instant::now();
        let (_, want) = vpcflow_report::sql(&local, &sql).await.map_err(ext)?;
        let datafusion_time = t.elapsed();
        let t = Instant::now();
        match vpcflow_report::sql(&ballista, &sql).await {
            Ok((_, got)) => {
                let rows: usize = got.iter().map(|b| b.num_rows()).sum();
                let same = text(&got) == text(&want);
                failed += usize::from(!same);
                println!(
                    "{name}: {rows} rows, {} ({:.2?} on Ballista, {datafusion_time:.2?} on DataFusion)",
                    if same { "equal" } else { "DIFFERENT" },
                    t.elapsed()
                );
            }
            Err(e) => {
                failed += 1;
                println!("{name}: failed on Ballista after {:.2?}: {e}", t.elapsed());
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
