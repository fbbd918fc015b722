#!/usr/bin/env bash
# Creates (once) the project's Python venv in .venv with the tools the tests and benchmarks
# drive: DuckDB (peer reader and benchmark baseline) and moto server (local AWS endpoint).
# `python-env.sh bench` also installs the benchmark-only peers that benches/e2e.sh runs
# (Polars, and ClickHouse through chDB) on top of that set. Versions are pinned.
# Safe to run concurrently: a lock serialises installers. Prints the venv's python path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
want="duckdb==2.0.1 moto[server]==5.2.5"
bench_want="polars==2.1.0 chdb==4.4.0"
exec 9>"$root/.venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb, moto, boto3, flask" 2>/dev/null; then
  echo "setting up $venv (DuckDB, moto server) ..." >&2
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086 # $want is a list of requirements
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
fi
if [ "${1:-}" = bench ] && ! "$venv/bin/python" -c "import polars, chdb" 2>/dev/null; then
  echo "adding the benchmark peers to $venv (Polars, chDB) ..." >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $bench_want >&2
fi
echo "$venv/bin/python"
