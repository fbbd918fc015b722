#!/usr/bin/env bash
# Runs every check and test of the project: format, lints, unit, conformance, CLI and
# end-to-end tests (the Python venv with DuckDB is set up on first use), and the glibc check of
# the release build (scripts/test-glibc.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/python-env.sh >/dev/null
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
# The release build's glibc symbol-version check, through cargo-zigbuild (installs Zig and
# cargo-zigbuild when missing).
bash scripts/test-glibc.sh
