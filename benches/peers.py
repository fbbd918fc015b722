"""The peers of benches/e2e.sh: the same ingest as `vpcflow ingest`, done by other engines.

    peers.py duckdb|polars|chdb INPUT_DIR OUT_DIR THREADS
        Reads every gzipped object under INPUT_DIR (v5 flow logs with a header line, as
        `vpcflow generate` writes them: space-separated, '-' for null) with the 29 v5 columns
        typed alike for every engine (SCHEMA below), and writes Parquet, zstd, partitioned by
        the UTC date and hour of `start` (OUT_DIR/date=YYYY-MM-DD/hour=HH/...).
    peers.py count OUT_DIR
        Prints the number of rows in OUT_DIR's Parquet files (read back with DuckDB).

Run with the project's venv (`scripts/python-env.sh bench` installs Polars and chDB). Thread
limits: DuckDB `SET threads`, Polars POLARS_MAX_THREADS (set here before Polars is imported;
e2e.sh sets it as well), ClickHouse `max_threads`.
"""
import os
import sys

# The 29 fields of the v5 format in file order, and their types (those e2e.sh always gave DuckDB).
SCHEMA = [
    ("version", "int32"), ("srcaddr", "str"), ("dstaddr", "str"), ("srcport", "int32"),
    ("dstport", "int32"), ("protocol", "int32"), ("start", "int64"), ("end", "int64"),
    ("type", "str"), ("packets", "int64"), ("bytes", "int64"), ("account-id", "str"),
    ("vpc-id", "str"), ("subnet-id", "str"), ("instance-id", "str"), ("interface-id", "str"),
    ("region", "str"), ("az-id", "str"), ("sublocation-type", "str"), ("sublocation-id", "str"),
    ("action", "str"), ("tcp-flags", "int32"), ("pkt-srcaddr", "str"), ("pkt-dstaddr", "str"),
    ("pkt-src-aws-service", "str"), ("pkt-dst-aws-service", "str"), ("traffic-path", "int32"),
    ("flow-direction", "str"), ("log-status", "str"),
]
GLOB = "AWSLogs/**/*.log.gz"


def sql_str(s, backslash=False):
    """s as an SQL string literal (ClickHouse also needs its backslashes escaped)."""
    if backslash:
        s = s.replace("\\", "\\\\")
    return "'" + s.replace("'", "''") + "'"


def duckdb_ingest(src, out, threads):
    import duckdb

    types = {"int32": "INTEGER", "int64": "BIGINT", "str": "VARCHAR"}
    columns = ", ".join(f"'{name}': '{types[t]}'" for name, t in SCHEMA)
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute("SET TimeZone='UTC'")
    con.execute(f"""
COPY (
  SELECT *, strftime(to_timestamp(start), '%Y-%m-%d') AS date, strftime(to_timestamp(start), '%H') AS hour
  FROM read_csv({sql_str(os.path.join(src, GLOB))}, delim=' ', header=true, nullstr='-',
    auto_detect=false, columns={{{columns}}})
) TO {sql_str(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour))""")


def polars_ingest(src, out, threads):
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    import polars as pl

    assert pl.thread_pool_size() == threads, pl.thread_pool_size()
    types = {"int32": pl.Int32, "int64": pl.Int64, "str": pl.String}
    lf = pl.scan_csv(os.path.join(src, GLOB), separator=" ", has_header=True, null_values="-",
                     schema={name: types[t] for name, t in SCHEMA})
    ts = pl.from_epoch("start", time_unit="s")
    lf = lf.with_columns(date=ts.dt.strftime("%Y-%m-%d"), hour=ts.dt.strftime("%H"))
    lf.sink_parquet(pl.PartitionBy(out, key=["date", "hour"], include_key=False),
                    compression="zstd", maintain_order=False, mkdir=True)


def chdb_ingest(src, out, threads):
    from chdb import session

    types = {"int32": "Int32", "int64": "Int64", "str": "String"}
    structure = ", ".join(f"`{name}` Nullable({types[t]})" for name, t in SCHEMA)
    # ClickHouse's CSV format refuses ' ' as its delimiter; CustomSeparated with CSV field
    # rules reads the same text. The header line is skipped, the columns taken in order.
    settings = ", ".join([
        f"max_threads={threads}",
        "format_custom_field_delimiter=' '",
        "format_custom_escaping_rule='CSV'",
        "format_csv_null_representation='-'",
        "input_format_with_names_use_header=0",
        "output_format_parquet_compression_method='zstd'",
    ])
    # One file per partition; the partition id holds a '/', which gives the hive layout.
    target = os.path.join(out, "{_partition_id}", "data.parquet")
    session.Session().query(f"""
INSERT INTO FUNCTION file({sql_str(target, True)}, 'Parquet')
PARTITION BY formatDateTime(toDateTime(start, 'UTC'), 'date=%Y-%m-%d/hour=%H')
SELECT * FROM file({sql_str(os.path.join(src, GLOB), True)}, 'CustomSeparatedWithNames', {sql_str(structure, True)})
SETTINGS {settings}""")


def count(out):
    import duckdb

    glob = os.path.join(out, "**", "*.parquet")
    print(duckdb.connect().execute(f"SELECT COUNT(*) FROM read_parquet({sql_str(glob)})").fetchone()[0])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "count":
        count(*args)
    else:
        src, out, threads = args
        ingest = {"duckdb": duckdb_ingest, "polars": polars_ingest, "chdb": chdb_ingest}[cmd]
        ingest(os.path.abspath(src), os.path.abspath(out), int(threads))
