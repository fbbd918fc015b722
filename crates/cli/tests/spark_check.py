"""Creates vpcflow's tables in a local Spark session from the DDL `vpcflow ddl --engine spark`
printed, runs Spark SQL queries and compares their answers with vpcflow's CSV, row by row:
integers and strings exactly, floats to 1e-9 relative, times as instants (UTC).

Usage: spark_check.py CONFIG.json, where CONFIG is
  {"ddl": FILE, "database": NAME, "warehouse": DIR,
   "prelude": [SQL FILE, ...],                 # run first, in the database (helper views)
   "checks": [{"name": NAME, "sql": FILE or "inline": SQL, "csv": FILE}, ...]}
Prints one line per check ("NAME: N rows equal") and exits 1 on the first difference.
"""

import csv
import datetime
import json
import math
import os
import re
import sys
import time


def statements(text):
    """The statements of a SQL script: split at a `;` that ends a line."""
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|$)", text) if s.strip()]


def same(spark, text):
    """Whether Spark's value equals vpcflow's CSV text of it."""
    if spark is None:
        return text == ""
    if isinstance(spark, bool):
        return text == ("true" if spark else "false")
    if isinstance(spark, int):
        try:
            return int(text) == spark
        except ValueError:
            return False
    if isinstance(spark, float):
        try:
            want = float(text)
        except ValueError:
            return False
        if math.isnan(spark) or math.isnan(want):
            return math.isnan(spark) and math.isnan(want)
        return abs(spark - want) <= 1e-9 * max(abs(spark), abs(want))
    if isinstance(spark, datetime.datetime):
        t = text.rstrip("Z").replace(" ", "T")
        t = re.sub(r"[+-]00:?00$", "", t)
        try:
            want = datetime.datetime.fromisoformat(t)
        except ValueError:
            return False
        return spark.replace(tzinfo=None) == want
    return str(spark) == text


def main():
    config = json.load(open(sys.argv[1]))
    os.environ["TZ"] = "UTC"
    time.tzset()
    from pyspark.sql import SparkSession

    started = time.time()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("vpcflow-spark-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", config["warehouse"])
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", config["warehouse"])
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={config['warehouse']}")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark {spark.version} up in {time.time() - started:.1f}s", flush=True)
    for s in statements(open(config["ddl"]).read()):
        spark.sql(s)
    spark.sql(f"USE {config['database']}")
    for path in config.get("prelude", []):
        for s in statements(open(path).read()):
            spark.sql(s)
    failed = False
    for check in config["checks"]:
        name = check["name"]
        sql = check["inline"] if "inline" in check else open(check["sql"]).read()
        parts = statements(sql)
        for s in parts[:-1]:
            spark.sql(s)
        t = time.time()
        df = spark.sql(parts[-1])
        got = df.collect()
        with open(check["csv"], newline="") as f:
            rows = list(csv.reader(f))
        header, want = rows[0], rows[1:]
        if df.columns != header:
            print(f"{name}: columns differ\n  spark:   {df.columns}\n  vpcflow: {header}")
            failed = True
            continue
        if len(got) != len(want):
            print(f"{name}: spark has {len(got)} rows, vpcflow {len(want)}")
            failed = True
        for i, (g, w) in enumerate(zip(got, want)):
            bad = [
                f"{c}: spark {g[j]!r}, vpcflow {w[j]!r}"
                for j, c in enumerate(header)
                if not same(g[j], w[j])
            ]
            if bad:
                print(f"{name}: row {i + 1} differs: " + "; ".join(bad))
                failed = True
                break
        if not failed:
            print(f"{name}: {len(got)} rows equal ({time.time() - t:.1f}s)", flush=True)
    spark.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
