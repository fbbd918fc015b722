# Sourced by scripts/release.sh and scripts/test-glibc.sh: makes sure Zig (the `ziglang`
# package from PyPI, in the project's .venv) and cargo-zigbuild (crates.io, into ~/.cargo/bin)
# are there, installing them when missing, and puts the venv first on PATH, where
# cargo-zigbuild finds Zig through `python3 -m ziglang`. Expects to run in the repository root.
zig_env_venv="$(pwd)/.venv"
bash scripts/python-env.sh >/dev/null
if ! "$zig_env_venv/bin/python" -c "import ziglang" 2>/dev/null; then
  echo "installing ziglang into $zig_env_venv ..." >&2
  "$zig_env_venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==0.13.0"
fi
export PATH="$zig_env_venv/bin:$PATH"
if ! command -v cargo-zigbuild >/dev/null; then
  echo "installing cargo-zigbuild (about 2 minutes) ..." >&2
  cargo install --locked --version 0.24.1 cargo-zigbuild
fi
