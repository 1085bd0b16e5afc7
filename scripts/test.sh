#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"
# One profile (--release) for tests, benches and binaries: RocksDB compiles once per machine.
# The chaos tests also need two control-plane variants: a feature build overwrites
# release/control-plane, so each is copied to its own name before the normal build.
release="$CARGO_TARGET_DIR/release"
cargo build --release -p berth-control-plane --features failpoints --locked
cp "$release/control-plane" "$release/control-plane-failpoints"
cargo build --release -p berth-control-plane --features chaos-bug-stale-reads --locked
cp "$release/control-plane" "$release/control-plane-stale-reads"
cargo build --release --workspace --all-targets --locked
cargo nextest run --release --workspace --locked --no-fail-fast "$@"
