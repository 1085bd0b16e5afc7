#!/usr/bin/env bash
# The main job: a local 3-replica Berth cluster on loopback (mTLS everywhere) doing real
# work with the real etcdctl, then serving until Ctrl-C. See scripts/cluster.sh.
set -euo pipefail
exec "$(dirname "$0")/cluster.sh" "$@"
