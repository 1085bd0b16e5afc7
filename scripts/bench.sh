#!/usr/bin/env bash
# Benchmarks next to a reference etcd 3.4 started on loopback in the same run:
#   scripts/bench.sh [--full]            the storage engine (`--full`: 1M keys)
#   scripts/bench.sh cluster [--secs N]  3-replica Berth vs 3-member etcd, same etcd client
#   scripts/bench.sh apiserver [--quick]  the Kubernetes API on 3 replicas, next to the store's
#                                         own etcd API
#   scripts/bench.sh scheduler [--nodes N] [--pods N]  the scheduler on 3 replicas with N
#                                         simulated nodes (default 5000 nodes, 10000 pods)
#   scripts/bench.sh controllers [--nodes N] [--replicas N] [--services N]  a Deployment
#                                         from zero, its rolling update, and EndpointSlice
#                                         latency under pod churn (1000 nodes, 10000, 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"
if [[ ${1:-} == cluster ]]; then
  shift
  cargo build --release --locked -p berth-control-plane
  exec cargo bench --locked -p berth-benches --bench cluster -- "$@"
fi
if [[ ${1:-} == apiserver ]]; then
  shift
  cargo build --release --locked -p berth-control-plane
  exec cargo bench --locked -p berth-benches --bench apiserver -- "$@"
fi
if [[ ${1:-} == scheduler ]]; then
  shift
  cargo build --release --locked -p berth-control-plane -p berth-node-agent
  exec cargo bench --locked -p berth-benches --bench scheduler -- "$@"
fi
if [[ ${1:-} == controllers ]]; then
  shift
  cargo build --release --locked -p berth-control-plane -p berth-node-agent
  exec cargo bench --locked -p berth-benches --bench controllers -- "$@"
fi
mode=--quick
[[ ${1:-} == --full ]] && mode=
cargo bench --locked -p berth-benches --bench storage -- $mode
