//! Berth's node agent (the kubelet of Berth): converges pods from manifests onto containerd
//! through CRI, with restarts, probes, limits, logs, status and an HTTPS agent server.
//!
//! Pure cores (`plan`, `status`, `probe::ProbeState`, `quantity`, `manifest::to_desired`) take
//! values and return decisions; the shell (`agent`, `server`, `runtime::cri`) does the IO.
//! `apiclient` is a small Kubernetes API client (kubeconfig, HTTP/2 over mTLS).

pub mod agent;
pub mod apiclient;
pub mod cni;
pub mod logs;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod probe;
pub mod quantity;
pub mod runtime;
pub mod server;
pub mod status;
