#!/usr/bin/env bash
# Checks that ELF binaries need at most a given glibc: the highest GLIBC_x.y symbol version
# they import (objdump -T, else readelf --dyn-syms) must not be above it.
#
# Usage: bash scripts/check-glibc.sh MAX_VERSION BINARY...
#   e.g. bash scripts/check-glibc.sh 2.26 target/x86_64-unknown-linux-gnu/release/vpcflow
# Exit status 0 when every binary passes, 1 when one needs a newer glibc, 2 on bad usage.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MAX_VERSION BINARY..." >&2; exit 2; }
max="$1"
shift
symbols() {
  if command -v objdump >/dev/null && objdump -T "$1" >/dev/null 2>&1; then
    objdump -T "$1"
  else
    readelf --dyn-syms --wide "$1"
  fi
}
status=0
for bin in "$@"; do
  [ -f "$bin" ] || { echo "$bin: no such file" >&2; exit 2; }
  versions="$(symbols "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -u -V || true)"
  if [ -z "$versions" ]; then
    echo "$bin: imports no versioned glibc symbols (static, or not a glibc binary)"
    continue
  fi
  highest="$(printf '%s\n' "$versions" | tail -n 1)"
  if [ "$(printf '%s\n%s\n' "$highest" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "$bin: needs glibc $highest, above $max; symbols:" >&2
    symbols "$bin" | grep -E "GLIBC_($(printf '%s\n' "$versions" \
      | awk -v m="$max" 'BEGIN{split(m,a,".")} {split($0,b,"."); if (b[1]>a[1] || (b[1]==a[1] && b[2]>a[2])) print}' \
      | sed 's/\./\\./g' | paste -sd'|'))( |\))" | awk '{print "  " $NF, $(NF-1)}' >&2 || true
    status=1
  else
    echo "$bin: needs glibc $highest at most (<= $max): ok"
  fi
done
exit $status
