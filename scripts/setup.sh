#!/usr/bin/env bash
# Installs the Debian 12 packages Berth needs, only when some are missing (fast when present),
# and exports the shared cargo settings. Sourced or run by scripts/test.sh and scripts/run.sh.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config    # C toolchain for the bundled RocksDB
  libclang-dev                  # bindgen for librocksdb-sys
  protobuf-compiler libprotobuf-dev  # gRPC code generation and the well-known .proto types
  etcd-server etcd-client       # the reference etcd 3.4 for side-by-side benches; etcdctl
  prometheus                    # promtool, to check /metrics in the system tests
  containerd runc containernetworking-plugins  # the node agent's runtime (CRI) and pod network
  nftables iproute2             # Service rules; network namespaces for chaos and multi-node tests
  busybox-static                # test images are built locally from it (nothing can be pulled)
  curl                          # raw HTTPS checks in the system tests
  python3-kubernetes            # the official Python client, run against the API server in the tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Packages like etcd-server and prometheus would start system services (etcd on :2379,
  # Prometheus on :9090, containerd on its system socket); Berth's tests and benches start
  # their own with their own state dirs, so forbid that.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [[ -e $policy ]] && had_policy=1
  if ((!had_policy)); then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if ((!had_policy)); then rm -f "$policy"; fi
  for svc in etcd prometheus containerd; do
    if systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  done
fi

if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

# kubectl 1.32 comes with the machine image (Debian's kubernetes-client is 1.20, too old for
# the API the tests exercise); say so clearly when it is missing.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: kubectl is missing: install kubectl 1.32 (the Kubernetes API tests and the kubectl part of scripts/run.sh need it)" >&2
fi
