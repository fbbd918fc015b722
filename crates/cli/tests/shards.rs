//! Sharded ingest: several `vpcflow run --shard I/N` processes on one dataset in S3 (a moto
//! server on 127.0.0.1), each with its own manifest and lock, one of them killed and rerun.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use std::process::{Command, Stdio};
use util::{Dir, Moto, stderr, stdout};
use vpcflow_dataset::InputFile;
use vpcflow_dataset::layout::Shard;

const SHARDS: u32 = 4;
/// Flow logs per shard, each with two objects.
const PER_SHARD: usize = 2;

/// Flow-log IDs chosen so that each of the shards owns `PER_SHARD` of them (by the same
/// ownership rule the runs use).
fn flow_logs() -> Vec<(String, u32)> {
    let mut per = vec![0; SHARDS as usize];
    let mut out = Vec::new();
    for k in 0u32.. {
        let id = format!("fl-{k:017x}");
        let key = vpcflow_job::shard_key(&InputFile {
            id: format!(
                "s3://logs/x/111122223333_vpcflowlogs_us-east-1_{id}_20251201T0000Z_0.log.gz"
            ),
            ..InputFile::default()
        });
        let owner = (0..SHARDS)
            .find(|&i| {
                Shard {
                    index: i,
                    count: SHARDS,
                }
                .owns(&key)
            })
            .unwrap();
        if per[owner as usize] < PER_SHARD {
            per[owner as usize] += 1;
            out.push((id, owner));
        }
        if out.len() == PER_SHARD * SHARDS as usize {
            break;
        }
    }
    out
}

fn csv(moto: &Moto, data: &str, sql: &str) -> String {
    let o = moto.vpcflow(&["query", "--data", data, "--output", "csv", sql]);
    assert!(o.status.success(), "{sql}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn four_shards_land_every_record_once_and_their_rollups_equal_one_run() {
    let moto = Moto::start();
    let d = Dir::new();
    let gen_dir = d.join("gen");
    let logs = flow_logs();
    let totals = util::generate(
        &gen_dir,
        40_000,
        logs.len() as u32 * 2,
        "2025-12-01T00:00:00Z",
        11,
        0,
    );
    // The generated objects, renamed as the objects of 8 flow logs (two each).
    let ids: Vec<String> = logs.iter().map(|(id, _)| format!("'{id}'")).collect();
    moto.python(&format!(
        "s3.create_bucket(Bucket='logs')\n\
         s3.create_bucket(Bucket='lake')\n\
         ids = [{}]\n\
         files = sorted(os.path.join(r, f) for r, _, fs in os.walk('{}') for f in fs if f.endswith('.log.gz'))\n\
         assert len(files) == 2 * len(ids), files\n\
         for i, path in enumerate(files):\n    \
             name = os.path.basename(path).replace('fl-0123456789abcdef0', ids[i // 2])\n    \
             acct = name.split('_')[0]\n    \
             s3.upload_file(path, 'logs', f'AWSLogs/{{acct}}/vpcflowlogs/us-east-1/2025/12/01/{{name}}')\n",
        ids.join(", "),
        gen_dir.join("AWSLogs").display()
    ));
    // The objects are 5-minute windows from 00:00, two per flow log in order: the first
    // hour's records come from the first six flow logs, which several shards own. Its rollups
    // are exact only if the shards' rollup updates see each other's records.
    let first_hour: std::collections::BTreeSet<u32> = logs[..6].iter().map(|(_, o)| *o).collect();
    assert!(first_hour.len() >= 2, "{logs:?}");
    let config = |out: &str| {
        d.write(
            &format!("{}.toml", out.replace('/', "-")),
            format!(
                "out = \"s3://lake/{out}\"\n\
                 commit_every = \"256KiB\"\n\
                 rollups = [\"interface-traffic\", \"rejected-flows\"]\n\
                 [[source]]\n\
                 s3 = \"s3://logs/AWSLogs/\"\n"
            ),
        )
    };
    let sharded = config("sharded");
    let run = |cfg: &std::path::Path, shard: Option<u32>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args(["run", "--config", cfg.to_str().unwrap()]);
        if let Some(i) = shard {
            // The scheduler's array index, as AWS Batch gives it.
            c.args(["--shard", &format!("auto/{SHARDS}")]);
            c.env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string());
        }
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("VPCFLOW_S3_LOCK_LEASE_SECONDS", "3");
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };

    // Shard 3 is killed once it has committed part of its sources.
    let victim = run(&sharded, Some(3)).spawn().unwrap();
    moto.python(&format!(
        "import time, signal\n\
         while not s3.list_objects_v2(Bucket='lake', Prefix='sharded/_manifest/shard-3-of-{SHARDS}/commit-').get('Contents'):\n    \
             time.sleep(0.02)\n\
         os.kill({}, signal.SIGKILL)\n",
        victim.id()
    ));
    let victim = victim.wait_with_output().unwrap();
    assert_eq!(victim.status.code(), None, "killed: {}", stderr(&victim));
    // The four shards at once (shard 3 again, once its lock has expired).
    std::thread::sleep(std::time::Duration::from_secs(4));
    let children: Vec<_> = (0..SHARDS)
        .map(|i| run(&sharded, Some(i)).spawn().unwrap())
        .collect();
    let mut read = 0;
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "shard {i}: {}", stderr(&o));
        let s: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(s["status"], "ok", "{s}");
        read += s["files"].as_i64().unwrap();
    }
    // Every object was read by its owner, the killed shard's committed ones only once.
    assert!(read <= logs.len() as i64 * 2, "{read}");
    let manifests = moto.python(
        "print('\\n'.join(sorted({o['Key'].split('/')[2] for o in s3.list_objects_v2(Bucket='lake', Prefix='sharded/_manifest/shard-')['Contents']})))",
    );
    assert_eq!(
        manifests.lines().collect::<Vec<_>>(),
        (0..SHARDS)
            .map(|i| format!("shard-{i}-of-{SHARDS}"))
            .collect::<Vec<_>>()
    );

    // Every record once.
    let records = totals["records"].as_i64().unwrap();
    let counts = csv(
        &moto,
        "s3://lake/sharded",
        "SELECT count(*) AS n, count(DISTINCT source || ':' || CAST(source_line AS VARCHAR)) AS d FROM flows",
    );
    assert_eq!(counts.trim(), format!("n,d\n{records},{records}"));

    // The same as one process over the same objects, records and rollups alike.
    let single = config("single");
    let o = run(&single, None).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = "SELECT * EXCLUDE (unknown_fields) FROM flows ORDER BY source, source_line";
    assert_eq!(
        csv(&moto, "s3://lake/sharded", all),
        csv(&moto, "s3://lake/single", all)
    );
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[1..].sort();
        lines
    };
    for report in ["interface_traffic", "rejected_flows"] {
        let sql = format!("SELECT * FROM rollup_{report}");
        let one = sorted(csv(&moto, "s3://lake/single", &sql));
        assert!(one.len() > 1, "{report}: {one:?}");
        assert_eq!(
            sorted(csv(&moto, "s3://lake/sharded", &sql)),
            one,
            "{report}"
        );
    }
}

#[test]
fn a_bad_shard_is_refused_before_any_work() {
    let d = Dir::new();
    let cfg = d.write(
        "job.toml",
        format!(
            "out = {:?}\n[[source]]\npath = {:?}\n",
            d.join("ds").display().to_string(),
            d.path().display().to_string()
        ),
    );
    for (shard, env, says) in [
        ("4/4", None, "expected I/N with 0 <= I < N"),
        (
            "auto/4",
            None,
            "neither AWS_BATCH_JOB_ARRAY_INDEX nor JOB_COMPLETION_INDEX",
        ),
        (
            "auto/4",
            Some("x"),
            "JOB_COMPLETION_INDEX=\"x\" is not a shard index",
        ),
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
        c.args(["run", "--config", cfg.to_str().unwrap(), "--shard", shard]);
        c.env_remove("AWS_BATCH_JOB_ARRAY_INDEX");
        c.env_remove("JOB_COMPLETION_INDEX");
        if let Some(v) = env {
            c.env("JOB_COMPLETION_INDEX", v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{shard}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{shard}: {}", stderr(&o));
        assert!(!d.join("ds").exists(), "nothing written");
    }
}
