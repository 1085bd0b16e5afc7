#!/usr/bin/env bash
# The storage benchmark next to a reference etcd 3.4 started on loopback in the same run.
# `--full` uses 1M keys (the figures in benches/RESULTS.md); default 100k keys.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"
mode=--quick
[[ ${1:-} == --full ]] && mode=
cargo bench --locked -p berth-benches --bench storage -- $mode
