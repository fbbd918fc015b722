#!/usr/bin/env bash
# Sets up (once) what the Spark test drives: PySpark in the project's venv (.venv, made by
# scripts/python-env.sh) and, where no `java` is on PATH, OpenJDK 17 from Debian. Safe to run
# concurrently: a lock serialises installers. Prints the venv's python path. Fails, with the
# reason on stderr, when something cannot be installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$(bash "$root/scripts/python-env.sh")"
# Spark 3.5 runs on Java 8, 11 and 17.
want="pyspark==3.5.8"
# python-env.sh has let go of the lock: take it for the installs below.
exec 9>"$root/.venv.lock"
flock 9
if ! command -v java >/dev/null 2>&1; then
  echo "no java on PATH: installing openjdk-17-jre-headless ..." >&2
  if [ "$(id -u)" != 0 ]; then
    echo "cannot install OpenJDK: not root (install a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
fi
if ! "$python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '${want#pyspark==}')" 2>/dev/null; then
  echo "installing $want into $(dirname "$(dirname "$python")") ..." >&2
  "$python" -m pip install --quiet --disable-pip-version-check "$want" >&2
fi
echo "$python"
