//! The container runtime as the agent sees it: a trait over the CRI calls it makes, with
//! the agent's own request and observation types (no protobuf here). `cri` implements it
//! over containerd's CRI v1 socket.

pub mod cri;
pub mod fake;

use crate::model::{ContainerKind, ContainerSpec, ObservedContainer, ObservedSandbox, PodUid};
use std::future::Future;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, Clone)]
pub enum RuntimeError {
    /// The runtime cannot be reached (socket missing, containerd restarting).
    #[error("container runtime unavailable: {0}")]
    Unavailable(String),
    /// A call was refused or failed.
    #[error("{op} failed: {message}")]
    Call {
        op: &'static str,
        not_found: bool,
        message: String,
    },
}

impl RuntimeError {
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RuntimeError::Call {
                not_found: true,
                ..
            }
        )
    }
}

/// What a new sandbox is made from.
#[derive(Clone, Debug)]
pub struct SandboxRequest {
    pub uid: PodUid,
    pub namespace: String,
    pub name: String,
    pub attempt: u32,
    pub hostname: String,
    /// The pod's log directory; container log paths are relative to it.
    pub log_directory: PathBuf,
    /// The pod's cgroup (cgroupfs path), parent of its containers' cgroups.
    pub cgroup_parent: String,
    pub grace_period_s: i64,
}

/// What a new container is made from.
#[derive(Clone, Debug)]
pub struct ContainerRequest {
    pub sandbox_id: String,
    pub sandbox: SandboxRequest,
    pub spec: ContainerSpec,
    pub kind: ContainerKind,
    pub attempt: u32,
}

impl ContainerRequest {
    /// kubelet's layout: `<container>/<attempt>.log` under the pod's log directory.
    pub fn log_path(&self) -> String {
        format!("{}/{}.log", self.spec.name, self.attempt)
    }
}

/// The outcome of a command run in a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub trait Runtime: Send + Sync + 'static {
    /// Every sandbox the agent created (labelled as ours), with its IP.
    fn list_sandboxes(
        &self,
    ) -> impl Future<Output = Result<Vec<ObservedSandbox>, RuntimeError>> + Send;
    /// Every container the agent created (labelled as ours), with exit details.
    fn list_containers(
        &self,
    ) -> impl Future<Output = Result<Vec<ObservedContainer>, RuntimeError>> + Send;
    fn run_sandbox(
        &self,
        req: &SandboxRequest,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    fn stop_sandbox(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn remove_sandbox(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Makes sure the image is present (pulls it if not).
    fn ensure_image(&self, image: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn create_container(
        &self,
        req: &ContainerRequest,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    fn start_container(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// SIGTERM (or the image's stop signal), then SIGKILL after `grace_period_s`.
    fn stop_container(
        &self,
        id: &str,
        grace_period_s: i64,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn remove_container(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout_s: u32,
    ) -> impl Future<Output = Result<ExecOutput, RuntimeError>> + Send;
}
