#!/usr/bin/env bash
# Starts a local 3-replica Berth cluster on loopback with generated certificates (mTLS on the
# client and peer ports, and on the Kubernetes API), waits until it is healthy, runs a short
# real workload with the real etcdctl and kubectl (a Deployment scheduled and rolled out on
# three simulated nodes, exposed as a Service), prints how to use the cluster, and serves
# until Ctrl-C (stopping it then).
# Usage: scripts/cluster.sh [--once] [DIR]
#   --once   stop after the workload instead of serving
#   DIR      where certificates, data and logs go (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/berth-target}"

once=0
if [[ ${1:-} == --once ]]; then once=1; shift; fi
dir="${1:-$(mktemp -d -t berth-cluster.XXXXXX)}"
mkdir -p "$dir"

cargo build --release --locked -p berth-control-plane -p berth-kvctl -p berth-node-agent
bin="$CARGO_TARGET_DIR/release"

[[ -f "$dir/certs/ca.crt" ]] || "$bin/control-plane" certs --dir "$dir/certs" >/dev/null

# Client ports 2379/22379/32379, peer ports 2380/22380/32380, metrics 2381/22381/32381 (as etcd's docs).
names=(n1 n2 n3)
client_ports=(2379 22379 32379)
peer_ports=(2380 22380 32380)
metrics_ports=(2381 22381 32381)
kube_ports=(6443 26443 36443)   # the Kubernetes API of each replica
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}${names[$i]}=https://127.0.0.1:${peer_ports[$i]}"; done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for i in 0 1 2; do
  n=${names[$i]}
  "$bin/control-plane" --name "$n" --data-dir "$dir/$n" \
    --listen-client-urls "https://127.0.0.1:${client_ports[$i]}" --advertise-client-urls "https://127.0.0.1:${client_ports[$i]}" \
    --listen-peer-urls "https://127.0.0.1:${peer_ports[$i]}" --initial-advertise-peer-urls "https://127.0.0.1:${peer_ports[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token berth-local \
    --cert-file "$dir/certs/server.crt" --key-file "$dir/certs/server.key" --trusted-ca-file "$dir/certs/ca.crt" --client-cert-auth \
    --peer-cert-file "$dir/certs/server.crt" --peer-key-file "$dir/certs/server.key" --peer-trusted-ca-file "$dir/certs/ca.crt" --peer-client-cert-auth \
    --listen-metrics-urls "http://127.0.0.1:${metrics_ports[$i]}" \
    --secure-port "${kube_ports[$i]}" --bind-address 127.0.0.1 \
    --tls-cert-file "$dir/certs/server.crt" --tls-private-key-file "$dir/certs/server.key" --client-ca-file "$dir/certs/ca.crt" \
    --service-account-signing-key-file "$dir/certs/sa.key" \
    >"$dir/$n.log" 2>&1 &
  pids+=($!)
done

endpoints="https://127.0.0.1:2379,https://127.0.0.1:22379,https://127.0.0.1:32379"
tls="--cacert $dir/certs/ca.crt --cert $dir/certs/client.crt --key $dir/certs/client.key"
export ETCDCTL_API=3
for _ in $(seq 1 100); do
  if etcdctl --endpoints "$endpoints" $tls endpoint health >/dev/null 2>&1; then break; fi
  sleep 0.2
done
etcdctl --endpoints "$endpoints" $tls endpoint health

echo
echo "== a short workload through different replicas (real etcdctl 3.4) =="
ctl() { echo "+ etcdctl $*" | sed "s|$dir|\$DIR|g"; etcdctl $tls "$@"; }
ctl --endpoints https://127.0.0.1:2379 put /demo/greeting "hello from berth"
ctl --endpoints https://127.0.0.1:32379 get /demo/greeting
printf 'value("/demo/greeting") = "hello from berth"\n\nput /demo/txn ok\n\n\n' | ctl --endpoints https://127.0.0.1:22379 txn
lease=$(etcdctl $tls --endpoints "$endpoints" lease grant 30 | awk '{print $2}')
ctl --endpoints "$endpoints" put /demo/leased "gone when lease $lease ends" --lease "$lease"
timeout 2 etcdctl $tls --endpoints https://127.0.0.1:22379 watch /demo --prefix --rev 1 || true
ctl --endpoints "$endpoints" endpoint status -w table
ctl --endpoints "$endpoints" endpoint hashkv -w table

[[ -f "$dir/kubeconfig" ]] || "$bin/control-plane" kubeconfig --certs-dir "$dir/certs" --server https://127.0.0.1:6443 \
  --user admin --group system:masters --out "$dir/kubeconfig" >/dev/null
if command -v kubectl >/dev/null 2>&1; then
  export KUBECONFIG="$dir/kubeconfig"
  for _ in $(seq 1 100); do
    if kubectl get --raw /readyz >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  echo
  echo "== the Kubernetes API (real kubectl) =="
  k() { echo "+ kubectl $*" >&2; kubectl "$@"; }
  k get namespaces
  # Three simulated nodes (node-agent --simulate: Nodes and Leases kept alive, bound pods
  # marked Running) so the scheduler and controllers have somewhere to put pods.
  "$bin/node-agent" --simulate 3 --name-prefix sim- --kubeconfig "$dir/kubeconfig" >"$dir/sim.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    [[ $(kubectl get nodes -o name 2>/dev/null | wc -l) -ge 3 ]] && break
    sleep 0.2
  done
  k get nodes
  k get lease -n kube-system
  k create namespace demo --dry-run=client -o yaml | kubectl apply -f -
  k -n demo create deployment web --image=busybox:1.35 --replicas=3 --dry-run=client -o yaml | kubectl apply -f -
  k -n demo expose deployment web --port 80 --type NodePort --dry-run=client -o yaml | kubectl apply -f -
  k -n demo rollout status deployment/web --timeout=60s
  k -n demo get deployments,pods,services,endpointslices -o wide
  k auth whoami
  k get --server https://127.0.0.1:36443 -n demo deployment web -o jsonpath='{.metadata.uid} {.spec.strategy.type}{"\n"}'
  echo "+ etcdctl get /registry/deployments/demo/web --print-value-only | head -c 200"
  etcdctl $tls --endpoints "$endpoints" get /registry/deployments/demo/web --print-value-only | head -c 200; echo
else
  echo "kubectl is missing: install kubectl 1.32 to use the Kubernetes API (kubeconfig: $dir/kubeconfig)" >&2
fi

cat <<MSG

Berth cluster: 3 replicas; certificates, data and logs in $dir
  kubectl:  export KUBECONFIG=$dir/kubeconfig   (Kubernetes API on https://127.0.0.1:6443, :26443, :36443)
  etcdctl:  ETCDCTL_API=3 etcdctl --endpoints $endpoints $tls endpoint status -w table
  kvctl:    $bin/kvctl --endpoints $endpoints $tls status
  metrics:  curl http://127.0.0.1:2381/metrics   (also :22381, :32381; /health too)
MSG
if ((once)); then exit 0; fi
echo "Serving; Ctrl-C stops the cluster."
wait
