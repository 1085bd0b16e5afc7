#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"
# One profile (--release) for tests, benches and binaries: RocksDB compiles once per machine.
cargo build --release --workspace --all-targets --locked
cargo nextest run --release --workspace --locked --no-fail-fast "$@"
