#!/usr/bin/env bash
# Builds the release binaries for Linux, x86_64 and aarch64, linked against glibc 2.26 so that
# they run on Amazon Linux 2 (glibc 2.26) and 2023 (2.34) and any newer distribution, then
# checks their symbol versions (scripts/check-glibc.sh) and packs each with LICENSE and
# README.md into dist/vpcflow-VERSION-TARGET.tar.gz.
#
# Needs rustup, and installs what else it needs: cargo-zigbuild (crates.io, into
# ~/.cargo/bin) and Zig (the `ziglang` package from PyPI, into the project's .venv), which
# cargo-zigbuild uses as the C compiler and linker for the chosen glibc.
#
# Usage: bash scripts/release.sh [TARGET...]     (CARGO_TARGET_DIR is honoured)
#   default targets: x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
# Not part of scripts/test.sh or CI: a cross build of both targets takes a long time.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
glibc="${VPCFLOW_GLIBC:-2.26}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

source scripts/zig-env.sh
venv="$root/.venv"

version="$(cargo metadata --no-deps --format-version 1 \
  | "$venv/bin/python" -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="vpcflow-cli"))')"
mkdir -p dist
for target in "${targets[@]}"; do
  rustup target add "$target" >/dev/null
  echo "building $target (glibc $glibc) ..." >&2
  cargo zigbuild --profile dist --locked -p vpcflow-cli --bin vpcflow --target "$target.$glibc"
  bin="${CARGO_TARGET_DIR:-target}/$target/dist/vpcflow"
  bash scripts/check-glibc.sh "$glibc" "$bin"
  echo "$target: $(stat -c %s "$bin") bytes (profile dist: fat LTO, stripped)" >&2
  name="vpcflow-$version-$target"
  rm -rf "dist/$name"
  mkdir -p "dist/$name"
  cp "$bin" LICENSE README.md "dist/$name/"
  tar -C dist -czf "dist/$name.tar.gz" "$name"
  rm -rf "dist/$name"
  echo "dist/$name.tar.gz" 
done
