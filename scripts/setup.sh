#!/usr/bin/env bash
# Installs the Debian 12 packages Berth needs, only when some are missing (fast when present),
# and exports the shared cargo settings. Sourced or run by scripts/test.sh and scripts/run.sh.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config    # C toolchain for the bundled RocksDB
  libclang-dev                  # bindgen for librocksdb-sys
  protobuf-compiler libprotobuf-dev  # gRPC code generation and the well-known .proto types
  etcd-server etcd-client       # the reference etcd 3.4 for side-by-side benches; etcdctl
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
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian's etcd-server package starts a system etcd on :2379; Berth's benches start their own.
  if systemctl is-active --quiet etcd 2>/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
fi

if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi
