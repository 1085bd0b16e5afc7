//! Berth's node agent (the kubelet of Berth): converges pods from manifests onto containerd
//! through CRI, with restarts, probes, limits, logs, status and an HTTPS agent server.
//!
//! Pure cores (`plan`, `status`, `probe::ProbeState`, `quantity`, `manifest::to_desired`) take
//! values and return decisions; the shell (`agent`, `server`, `runtime::cri`) does the IO.
//! `simulate` (shell) and `sim_model` (core) are the kwok-like node simulator, which talks
//! to the API server through `apiclient`.

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
pub mod sim_model;
pub mod simulate;
pub mod status;
