#!/usr/bin/env bash
# The main job, as far as it exists today: loads the storage engine with real work (100k keys,
# puts with and without fsync, watch fan-out to 1,000 watchers) and prints the figures next
# to a reference etcd 3.4 started on loopback in the same run. `--full` uses 1M keys.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"
mode=--quick
[[ ${1:-} == --full ]] && mode=
cargo bench --locked -p berth-benches --bench storage -- $mode
