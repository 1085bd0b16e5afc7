//! The agent's inner types: desired pods (validated manifests), observed sandboxes and
//! containers (what the runtime reports), and the labels that tie the two together.

use std::collections::BTreeMap;

/// Label on every sandbox and container the agent creates; adoption and orphan clean-up only
/// ever touch objects that carry it.
pub const LABEL_MANAGED_BY: &str = "berth.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "berth-node-agent";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// `init` or `app`.
pub const LABEL_CONTAINER_KIND: &str = "berth.io/container-kind";
/// The pod's grace period, so that an orphan (its manifest gone while the agent was down) is
/// still stopped with the grace it was created with.
pub const LABEL_GRACE_PERIOD_S: &str = "berth.io/termination-grace-period-seconds";

/// A pod's UID. Static pods get one derived from the manifest's content, so a changed
/// manifest is a new pod (the old one is torn down, the new one created).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodUid(pub String);

impl std::fmt::Display for PodUid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "Always",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Never => "Never",
        }
    }
}

/// A validated pod, ready to run.
#[derive(Clone, Debug)]
pub struct DesiredPod {
    pub uid: PodUid,
    pub namespace: String,
    pub name: String,
    pub restart_policy: RestartPolicy,
    pub grace_period_s: i64,
    pub init_containers: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
    /// The manifest as read (metadata and spec are served back on `/pods`).
    pub manifest: k8s_openapi::api::core::v1::Pod,
    /// Where the manifest came from (for log lines).
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub ports: Vec<ContainerPort>,
    pub resources: Resources,
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
    pub startup: Option<Probe>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: u16,
    pub protocol: String,
}

/// Requests and limits in the units the runtime wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_request_milli: Option<u64>,
    pub cpu_limit_milli: Option<u64>,
    pub memory_request_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub action: ProbeAction,
    pub initial_delay_s: u32,
    pub period_s: u32,
    pub timeout_s: u32,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ProbeAction {
    Exec { command: Vec<String> },
    Http { port: u16, path: String },
    Tcp { port: u16 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    Init,
    App,
}

impl ContainerKind {
    pub fn as_label(self) -> &'static str {
        match self {
            ContainerKind::Init => "init",
            ContainerKind::App => "app",
        }
    }
}

/// A sandbox as the runtime reports it (only those labelled as ours).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedSandbox {
    pub id: String,
    pub uid: PodUid,
    pub namespace: String,
    pub name: String,
    pub attempt: u32,
    pub ready: bool,
    pub created_at_ns: i64,
    pub ip: Option<String>,
    pub grace_period_s: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
    Unknown,
}

/// A container as the runtime reports it (only those labelled as ours).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    pub sandbox_id: String,
    pub uid: PodUid,
    pub name: String,
    pub kind: ContainerKind,
    pub attempt: u32,
    pub state: ContainerState,
    pub image: String,
    pub created_at_ns: i64,
    pub started_at_ns: i64,
    pub finished_at_ns: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
}

/// Everything the runtime holds for one pod UID.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedPod {
    pub sandboxes: Vec<ObservedSandbox>,
    pub containers: Vec<ObservedContainer>,
}

impl ObservedPod {
    /// The sandbox with the highest attempt.
    pub fn latest_sandbox(&self) -> Option<&ObservedSandbox> {
        self.sandboxes
            .iter()
            .max_by_key(|s| (s.attempt, s.created_at_ns))
    }

    /// Instances of one container in one sandbox, newest (highest attempt) first.
    pub fn instances<'a>(&'a self, sandbox_id: &str, name: &str) -> Vec<&'a ObservedContainer> {
        let mut v: Vec<&ObservedContainer> = self
            .containers
            .iter()
            .filter(|c| c.sandbox_id == sandbox_id && c.name == name)
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse((c.attempt, c.created_at_ns)));
        v
    }
}

/// Groups observations by pod UID.
pub fn group_by_pod(
    sandboxes: Vec<ObservedSandbox>,
    containers: Vec<ObservedContainer>,
) -> BTreeMap<PodUid, ObservedPod> {
    let mut pods: BTreeMap<PodUid, ObservedPod> = BTreeMap::new();
    for s in sandboxes {
        pods.entry(s.uid.clone()).or_default().sandboxes.push(s);
    }
    for c in containers {
        pods.entry(c.uid.clone()).or_default().containers.push(c);
    }
    pods
}

/// A pod for the pure cores' tests: uid `u`, `default/p`, grace period 7 s, image `img`.
#[cfg(test)]
pub(crate) fn test_pod(policy: RestartPolicy, init: &[&str], apps: &[&str]) -> DesiredPod {
    let c = |n: &&str| ContainerSpec {
        name: n.to_string(),
        image: "img".into(),
        ..Default::default()
    };
    DesiredPod {
        uid: PodUid("u".into()),
        namespace: "default".into(),
        name: "p".into(),
        restart_policy: policy,
        grace_period_s: 7,
        init_containers: init.iter().map(c).collect(),
        containers: apps.iter().map(c).collect(),
        manifest: Default::default(),
        source: "test".into(),
    }
}
