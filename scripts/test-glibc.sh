#!/usr/bin/env bash
# Tests the symbol-version check of the release build (scripts/check-glibc.sh) and the
# cargo-zigbuild path scripts/release.sh links through. scripts/test.sh runs it.
#
# Building the real vpcflow binary for x86_64-unknown-linux-gnu.2.26 would add a cold
# build of DataFusion and the AWS SDKs (see benches/BENCHMARKS.md, "glibc check"), so this
# builds scripts/glibc-probe, a small program making the calls whose glibc symbol version
# depends on the glibc linked against (__libc_start_main, pthread, pow/exp/log, stat, dlsym,
# getrandom), through the same `cargo zigbuild --target TRIPLE.GLIBC` path, and checks:
#   1. linked for glibc 2.26 it runs, imports versioned glibc symbols (the check is not
#      vacuous), and check-glibc.sh 2.26 passes on it;
#   2. linked for glibc 2.34 check-glibc.sh 2.26 fails with status 1 and names the symbols
#      above 2.26 (__libc_start_main GLIBC_2.34, pow GLIBC_2.29, statx GLIBC_2.28);
#   3. the host-linked debug vpcflow (target/debug/vpcflow, built by `cargo test`) fails it
#      too when the host's glibc is 2.34 or newer, as it is wherever Rust links against a
#      current distribution (Debian 12: glibc 2.36).
# Installs Zig into .venv and cargo-zigbuild when missing (scripts/zig-env.sh); never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/zig-env.sh
cargo fmt --manifest-path scripts/glibc-probe/Cargo.toml --check
rustup target add x86_64-unknown-linux-gnu >/dev/null 2>&1 || true

fail() { echo "test-glibc: FAIL: $*" >&2; exit 1; }
probe() { # GLIBC -> path of the probe linked for it
  local dir="target/glibc-probe-$1"
  cargo zigbuild --quiet --locked --manifest-path scripts/glibc-probe/Cargo.toml \
    --target "x86_64-unknown-linux-gnu.$1" --target-dir "$dir" >&2
  echo "$dir/x86_64-unknown-linux-gnu/debug/glibc-probe"
}
check() { # MAX BINARY -> sets out, err, rc
  set +e
  out="$(bash scripts/check-glibc.sh "$1" "$2" 2>/tmp/test-glibc.$$.err)"
  rc=$?
  set -e
  err="$(cat /tmp/test-glibc.$$.err)"
  rm -f /tmp/test-glibc.$$.err
}
expect_named() { # SYMBOL VERSION: the failing check's stderr lists it
  grep -qE "^  $1 \(GLIBC_$2\)\$" <<<"$err" || fail "check-glibc.sh did not name $1 (GLIBC_$2):
$err"
}

# 1. Linked for 2.26: runs, imports versioned symbols, passes.
bin="$(probe 2.26)"
ran="$("$bin")" || fail "$bin did not run"
grep -q '^glibc-probe ok:' <<<"$ran" || fail "$bin printed: $ran"
# Read the whole table first: `objdump | grep -q` would fail under pipefail (SIGPIPE).
syms="$(objdump -T "$bin")"
grep -qE 'GLIBC_2\.2\.5\)? +pow$' <<<"$syms" \
  || fail "$bin does not import pow@GLIBC_2.2.5: not linked against glibc 2.26's versions"
check 2.26 "$bin"
[ "$rc" = 0 ] || fail "check-glibc.sh 2.26 rejected $bin (status $rc): $err"
grep -q 'needs glibc 2\.2[0-9.]* at most (<= 2\.26): ok' <<<"$out" || fail "unexpected output: $out"
echo "ok: probe linked for glibc 2.26 passes: $out"

# 2. Linked for 2.34: fails with status 1, naming the newer symbols.
bin="$(probe 2.34)"
ran="$("$bin")" || fail "$bin did not run"
grep -q '^glibc-probe ok:' <<<"$ran" || fail "$bin printed: $ran"
check 2.26 "$bin"
[ "$rc" = 1 ] || fail "check-glibc.sh 2.26 passed $bin (status $rc), which needs glibc 2.34"
grep -q "needs glibc 2.34, above 2.26; symbols:" <<<"$err" || fail "unexpected message: $err"
expect_named __libc_start_main 2.34
expect_named pow 2.29
expect_named statx 2.28
if grep -qE 'GLIBC_2\.(2[0-6]|[0-9]|1[0-9])(\.[0-9]+)?\)' <<<"$err"; then
  fail "check-glibc.sh named symbols at or below 2.26: $err"
fi
echo "ok: probe linked for glibc 2.34 fails with status 1 and names the symbols above 2.26"

# 3. The host-linked debug binary.
host="$(ldd --version 2>&1 | sed -n '1s/.* \([0-9][0-9]*\.[0-9][0-9]*\)$/\1/p')"
bin=target/debug/vpcflow
[ -f "$bin" ] || cargo build --quiet -p vpcflow-cli --bin vpcflow
check 2.26 "$bin"
if [ "$(printf '%s\n2.34\n' "$host" | sort -V | head -n 1)" = 2.34 ]; then
  [ "$rc" = 1 ] || fail "check-glibc.sh 2.26 passed $bin, linked on glibc $host"
  expect_named __libc_start_main 2.34
  echo "ok: host-linked $bin (glibc $host) fails: $(head -n 1 <<<"$err")"
else
  echo "note: host glibc $host is older than 2.34; $bin: status $rc: ${out}${err}"
fi
