//! CloudWatch Logs sources with the real AWS SDK client against a local moto server.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod util;

use serde_json::Value;
use util::{Dir, Moto, query, query_i64, stderr, stdout};

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339()
}

#[test]
fn events_land_once_with_the_eni_from_the_stream_name() {
    let moto = Moto::start();
    let d = Dir::new();
    let now = chrono::Utc::now().timestamp();
    let t0 = now - 1800;
    // Group 1: default format (interface-id in each event), 2 streams x 120 events, across
    // three pages of 50 (moto's page size is set by `limit`? the SDK pages until done).
    // Group 2: a custom format without interface-id.
    moto.python(&format!(
        r#"
logs = boto3.client('logs', endpoint_url='{ep}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
logs.create_log_group(logGroupName='vpc-flow-logs')
for eni in ['eni-0aaa0000000000001', 'eni-0bbb0000000000002']:
    logs.create_log_stream(logGroupName='vpc-flow-logs', logStreamName=eni + '-all')
    events = []
    for i in range(120):
        t = {t0} + i * 10
        events.append({{'timestamp': t * 1000, 'message': f'2 123456789012 {{eni}} 10.0.0.{{i % 200}} 10.0.1.1 {{40000 + i}} 443 6 3 {{100 + i}} {{t}} {{t + 60}} ACCEPT OK'}})
    logs.put_log_events(logGroupName='vpc-flow-logs', logStreamName=eni + '-all', logEvents=events)
logs.create_log_group(logGroupName='custom')
logs.create_log_stream(logGroupName='custom', logStreamName='eni-0ccc0000000000003-all')
logs.put_log_events(logGroupName='custom', logStreamName='eni-0ccc0000000000003-all', logEvents=[
    {{'timestamp': ({t0} + i) * 1000, 'message': f'10.0.2.{{i}} 10.0.3.1 {{1000 + i}} {{{t0} + i}} ACCEPT'}} for i in range(5)])
"#,
        ep = moto.endpoint,
        t0 = t0
    ));
    let out = d.join("ds");
    let (from, to) = (rfc3339(now - 3600), rfc3339(now + 60));
    let (code, s, err) = moto.ingest(&[
        "cloudwatch://vpc-flow-logs",
        "--out",
        out.to_str().unwrap(),
        "--from",
        &from,
        "--to",
        &to,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["files"], 2);
    assert_eq!(s["records"], 240);
    let expected_bytes: i64 = 2 * (0..120).map(|i| 100 + i).sum::<i64>();
    assert_eq!(
        query_i64(&out, "SELECT sum(bytes) FROM flows"),
        expected_bytes
    );
    assert_eq!(
        query_i64(
            &out,
            "SELECT count(*) FROM (SELECT DISTINCT source, source_line FROM flows)"
        ),
        240
    );
    let rows = query(
        &out,
        "SELECT min(source) AS s FROM flows WHERE interface_id = 'eni-0bbb0000000000002'",
    );
    assert_eq!(
        rows[0]["s"],
        "cloudwatch://vpc-flow-logs/eni-0bbb0000000000002-all"
    );

    // A time range that holds half the events reads only those.
    let out2 = d.join("ds2");
    let (code, s, err) = moto.ingest(&[
        "cloudwatch://vpc-flow-logs",
        "--out",
        out2.to_str().unwrap(),
        "--from",
        &rfc3339(t0),
        "--to",
        &rfc3339(t0 + 600),
        "--log-stream-prefix",
        "eni-0aaa",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["files"], 1);
    assert_eq!(s["records"], 60);

    // The next run's window overlaps: only the part not read yet is read, then nothing.
    let more = |to: i64| {
        moto.ingest(&[
            "cloudwatch://vpc-flow-logs",
            "--out",
            out2.to_str().unwrap(),
            "--from",
            &rfc3339(t0),
            "--to",
            &rfc3339(to),
            "--log-stream-prefix",
            "eni-0aaa",
        ])
    };
    let (code, s, err) = more(t0 + 900);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (s["files"].as_i64(), s["records"].as_i64()),
        (Some(1), Some(30))
    );
    let (code, s, err) = more(t0 + 900);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (s["files"].as_i64(), s["skipped"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        query_i64(&out2, "SELECT count(DISTINCT srcport) FROM flows"),
        query_i64(&out2, "SELECT count(*) FROM flows"),
        "no event twice"
    );
    assert_eq!(query_i64(&out2, "SELECT count(*) FROM flows"), 90);
    let (code, _, err) = moto.ingest(&[
        "cloudwatch://vpc-flow-logs",
        "--out",
        out2.to_str().unwrap(),
        "--from",
        &rfc3339(t0),
        "--to",
        &rfc3339(t0 + 900),
        "--reprocess",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("reprocess does not apply to cloudwatch://"),
        "{err}"
    );

    // A format without interface-id: the ENI comes from the stream's name.
    let out3 = d.join("ds3");
    let (code, s, err) = moto.ingest(&[
        "cloudwatch://custom",
        "--out",
        out3.to_str().unwrap(),
        "--from",
        &from,
        "--to",
        &to,
        "--format",
        "${srcaddr} ${dstaddr} ${bytes} ${start} ${action}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["records"], 5);
    let rows = query(&out3, "SELECT DISTINCT interface_id FROM flows");
    assert_eq!(
        rows,
        [serde_json::json!({"interface_id": "eni-0ccc0000000000003"})]
    );

    // The scheduled job over the same group: a window of the last 2 hours, read once.
    let config = d.write(
        "job.toml",
        format!(
            "out = \"ds4\"\n[[source]]\ncloudwatch = \"vpc-flow-logs\"\n[window]\nlast_hours = 2\ndelay_minutes = 0\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
            moto.endpoint
        ),
    );
    let job = || {
        let o = moto.vpcflow(&["run", "--config", config.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_str::<Value>(stdout(&o).trim()).unwrap()
    };
    let first = job();
    assert_eq!(
        (first["files"].as_i64(), first["records"].as_i64()),
        (Some(2), Some(240))
    );
    let again = job();
    assert_eq!(
        again["records"], 0,
        "only the minutes since the last run: {again}"
    );
    assert_eq!(query_i64(&d.join("ds4"), "SELECT count(*) FROM flows"), 240);
}

#[test]
fn missing_group_and_missing_range_are_clear_errors() {
    let moto = Moto::start();
    let d = Dir::new();
    let out = d.join("ds");
    let (code, _, err) = moto.ingest(&[
        "cloudwatch://no-such-group",
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2025-12-01",
        "--to",
        "2025-12-02",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("cloudwatch://no-such-group"), "{err}");
    assert!(err.contains("ResourceNotFound"), "{err}");
    let (code, _, err) = moto.ingest(&["cloudwatch://g", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cloudwatch:// sources need --from and --to"),
        "{err}"
    );
}

#[test]
fn the_format_comes_from_the_flow_logs_own_log_format() {
    let moto = Moto::start();
    let d = Dir::new();
    let now = chrono::Utc::now().timestamp();
    let t0 = now - 600;
    moto.python(&format!(
        r#"
ec2 = boto3.client('ec2', endpoint_url='{ep}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
logs = boto3.client('logs', endpoint_url='{ep}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
logs.create_log_group(logGroupName='fl-custom')
ec2.create_flow_logs(ResourceIds=[vpc], ResourceType='VPC', TrafficType='ALL', LogGroupName='fl-custom',
    DeliverLogsPermissionArn='arn:aws:iam::123456789012:role/flow-logs',
    LogFormat='${{srcaddr}} ${{dstaddr}} ${{bytes}} ${{start}} ${{action}} ${{log-status}}')
logs.create_log_stream(logGroupName='fl-custom', logStreamName='eni-0ddd0000000000004-all')
logs.put_log_events(logGroupName='fl-custom', logStreamName='eni-0ddd0000000000004-all', logEvents=[
    {{'timestamp': ({t0} + i) * 1000, 'message': f'10.0.0.{{i}} 10.0.9.9 {{500 + i}} {{{t0} + i}} ACCEPT OK'}} for i in range(7)])
"#,
        ep = moto.endpoint,
        t0 = t0
    ));
    let out = d.join("ds");
    let (code, s, err) = moto.ingest(&[
        "cloudwatch://fl-custom",
        "--out",
        out.to_str().unwrap(),
        "--from",
        &rfc3339(now - 3600),
        "--to",
        &rfc3339(now + 60),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (s["records"].as_i64(), s["bad_lines"].as_i64()),
        (Some(7), Some(0))
    );
    assert_eq!(
        query_i64(&out, "SELECT sum(bytes) FROM flows"),
        (500..507).sum::<i64>()
    );
    let rows = query(&out, "SELECT DISTINCT interface_id, log_status FROM flows");
    assert_eq!(
        rows,
        [serde_json::json!({"interface_id": "eni-0ddd0000000000004", "log_status": "OK"})]
    );
}

#[test]
fn throttled_and_failing_reads_are_retried() {
    let moto = Moto::start();
    let proxy = util::FaultProxy::start(&moto);
    let d = Dir::new();
    let now = chrono::Utc::now().timestamp();
    let t0 = now - 600;
    moto.python(&format!(
        r#"
logs = boto3.client('logs', endpoint_url='{ep}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
for g in ['throttled-group', 'broken-group']:
    logs.create_log_group(logGroupName=g)
    for eni in ['eni-0eee0000000000005', 'eni-0fff0000000000006']:
        logs.create_log_stream(logGroupName=g, logStreamName=eni + '-all')
        logs.put_log_events(logGroupName=g, logStreamName=eni + '-all', logEvents=[
            {{'timestamp': ({t0} + i) * 1000, 'message': f'2 123456789012 {{eni}} 10.0.0.1 10.0.0.2 {{i}} 443 6 1 100 {{{t0} + i}} {{{t0} + i + 60}} ACCEPT OK'}} for i in range(10)])
"#,
        ep = moto.endpoint,
        t0 = t0
    ));
    for group in ["throttled-group", "broken-group"] {
        let out = d.join(group);
        let o = moto.vpcflow(&[
            "ingest", "--json", &format!("cloudwatch://{group}"), "--out", out.to_str().unwrap(),
            "--from", &rfc3339(now - 3600), "--to", &rfc3339(now + 60), "--format",
            "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
            "--endpoint-url", &proxy.endpoint,
        ]);
        let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap_or(Value::Null);
        assert_eq!(o.status.code(), Some(0), "{group}: {} {s}", stderr(&o));
        assert_eq!(s["records"], 20, "{group}");
        assert_eq!(
            query_i64(
                &out,
                "SELECT count(*) FROM (SELECT DISTINCT source, source_line FROM flows)"
            ),
            20
        );
    }
}

/// Analytics §7 rule 2: a CloudWatch record's flow log is the one that delivers to its log
/// group (DescribeFlowLogs), else `cloudwatch:<group>`; the region is the client's. The same
/// traffic delivered to S3 by another flow log is then de-duplicated like any two flow logs.
#[test]
fn cloudwatch_records_carry_their_flow_log_and_copies_in_s3_count_once() {
    let moto = Moto::start();
    let d = Dir::new();
    let now = chrono::Utc::now().timestamp();
    let t0 = now - 600;
    let line = |i: i64| {
        format!(
            "2 123456789012 eni-0abc0000000000001 10.0.1.5 10.0.2.{i} 40000 443 6 10 {} {} {} ACCEPT OK",
            1000 + i,
            t0 + i,
            t0 + i + 60
        )
    };
    let events: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "{{'timestamp': {}, 'message': '{}'}}",
                (t0 + i) * 1000,
                line(i)
            )
        })
        .collect();
    let fl = moto.python(&format!(
        r#"
ec2 = boto3.client('ec2', endpoint_url='{ep}', region_name='eu-west-1', aws_access_key_id='testing', aws_secret_access_key='testing')
logs = boto3.client('logs', endpoint_url='{ep}', region_name='eu-west-1', aws_access_key_id='testing', aws_secret_access_key='testing')
vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
for g in ['delivered', 'orphan']:
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName='eni-0abc0000000000001-all')
    logs.put_log_events(logGroupName=g, logStreamName='eni-0abc0000000000001-all', logEvents=[{events}])
fl = ec2.create_flow_logs(ResourceIds=[vpc], ResourceType='VPC', TrafficType='ALL', LogGroupName='delivered',
    DeliverLogsPermissionArn='arn:aws:iam::123456789012:role/flow-logs')['FlowLogIds'][0]
print(fl)
"#,
        ep = moto.endpoint,
        events = events.join(", ")
    ));
    let fl = fl.trim();
    assert!(fl.starts_with("fl-"), "{fl}");
    let from = rfc3339(now - 3600);
    let to = rfc3339(now + 60);
    for group in ["delivered", "orphan"] {
        let out = d.join(group);
        let o = moto.vpcflow(&[
            "ingest",
            "--json",
            &format!("cloudwatch://{group}"),
            "--out",
            out.to_str().unwrap(),
            "--from",
            &from,
            "--to",
            &to,
            "--region",
            "eu-west-1",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let want = if group == "delivered" {
            fl.to_string()
        } else {
            format!("cloudwatch:{group}")
        };
        assert_eq!(
            query(&out, "SELECT DISTINCT flow_log_id, region FROM flows"),
            [serde_json::json!({"flow_log_id": want, "region": "eu-west-1"})]
        );
    }
    // The S3 copy of the same five records, from another flow log, into the same dataset.
    let out = d.join("delivered");
    let text: String = (0..5).map(|i| line(i) + "\n").collect();
    d.write(
        "s3copy/123456789012_vpcflowlogs_eu-west-1_fl-0s3copy000000000_20251201T0000Z_1.log",
        text,
    );
    let (code, s, o) = util::ingest(&[
        d.join("s3copy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{}", stderr(&o));
    assert_eq!(s["records"], 5);
    assert_eq!(query_i64(&out, "SELECT count(*) FROM flows"), 10);
    let rows = util::report(&out, "interface-traffic", &[]);
    assert_eq!(rows.len(), 1);
    // Counted once: 1000 + 1001 + ... + 1004, in records without a direction.
    assert_eq!(rows[0]["bytes_unknown_direction"], 5010);
    assert_eq!(rows[0]["records"], 5);
}
