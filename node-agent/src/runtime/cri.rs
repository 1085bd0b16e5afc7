//! The CRI v1 implementation of [`Runtime`] over containerd's unix socket (tonic). Every
//! call has a deadline; the channel reconnects by itself after a containerd restart.

use super::{ContainerRequest, ExecOutput, Runtime, RuntimeError, SandboxRequest};
use crate::model::*;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// Deadline of an ordinary CRI call. Stopping a container waits for its grace period on
/// top of this.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounded caches of immutable facts (exited container details, sandbox IPs).
const MAX_CACHE_ENTRIES: usize = 10_000;

pub struct CriRuntime {
    channel: Channel,
    /// Container details by id: fetched again (ContainerStatus) only when the listed state
    /// changes, so a relist costs two calls plus one per container that changed.
    details: parking_lot::Mutex<HashMap<String, ObservedContainer>>,
    /// A sandbox's IP does not change.
    ips: parking_lot::Mutex<HashMap<String, Option<String>>>,
}

fn status_err(op: &'static str, s: tonic::Status) -> RuntimeError {
    match s.code() {
        // No connection (socket missing, containerd restarting): tonic reports Unavailable,
        // or Unknown with a transport error.
        tonic::Code::Unavailable => RuntimeError::Unavailable(format!("{op}: {}", s.message())),
        tonic::Code::Unknown if s.message().contains("transport error") => {
            RuntimeError::Unavailable(format!("{op}: {}", s.message()))
        }
        code => RuntimeError::Call {
            op,
            not_found: code == tonic::Code::NotFound || s.message().contains("not found"),
            message: s.message().to_string(),
        },
    }
}

impl CriRuntime {
    /// `endpoint` is `unix:///path/to/containerd.sock` (or a bare path). Connects lazily.
    pub fn new(endpoint: &str) -> Result<Self, RuntimeError> {
        let path = PathBuf::from(endpoint.strip_prefix("unix://").unwrap_or(endpoint));
        if !path.is_absolute() {
            return Err(RuntimeError::Unavailable(format!(
                "endpoint {endpoint:?} is not unix:///absolute/path"
            )));
        }
        let path = Arc::new(path);
        let channel = Endpoint::from_static("http://[::]:50051")
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(
                        tokio::net::UnixStream::connect(&*path).await?,
                    ))
                }
            }));
        Ok(CriRuntime {
            channel,
            details: Default::default(),
            ips: Default::default(),
        })
    }

    fn rt(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }

    fn img(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    /// The runtime's name and version (a cheap readiness check).
    pub async fn version(&self) -> Result<String, RuntimeError> {
        let v = self
            .rt()
            .version(cri::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(|e| status_err("Version", e))?
            .into_inner();
        Ok(format!(
            "{} {} (CRI {})",
            v.runtime_name, v.runtime_version, v.runtime_api_version
        ))
    }

    async fn sandbox_ip(&self, id: &str) -> Option<String> {
        if let Some(ip) = self.ips.lock().get(id) {
            return ip.clone();
        }
        let resp = self
            .rt()
            .pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: id.into(),
                verbose: false,
            })
            .await
            .ok()?
            .into_inner();
        let ip = resp
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty());
        let mut ips = self.ips.lock();
        if ips.len() >= MAX_CACHE_ENTRIES {
            ips.clear();
        }
        ips.insert(id.to_string(), ip.clone());
        ip
    }
}

fn managed_filter() -> HashMap<String, String> {
    HashMap::from([(LABEL_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string())])
}

fn sandbox_config(req: &SandboxRequest) -> cri::PodSandboxConfig {
    let labels = HashMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (LABEL_POD_UID.to_string(), req.uid.0.clone()),
        (LABEL_POD_NAME.to_string(), req.name.clone()),
        (LABEL_POD_NAMESPACE.to_string(), req.namespace.clone()),
        (
            LABEL_GRACE_PERIOD_S.to_string(),
            req.grace_period_s.to_string(),
        ),
    ]);
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: req.name.clone(),
            uid: req.uid.0.clone(),
            namespace: req.namespace.clone(),
            attempt: req.attempt,
        }),
        hostname: req.hostname.clone(),
        log_directory: req.log_directory.display().to_string(),
        labels,
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: req.cgroup_parent.clone(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Pod as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// CPU and memory as cgroup settings (kubelet's conversions: shares = milli * 1024 / 1000,
/// at least 2; quota = milli * period / 1000 with a 100 ms period).
pub fn linux_resources(r: &Resources) -> cri::LinuxContainerResources {
    const PERIOD_US: i64 = 100_000;
    let mut out = cri::LinuxContainerResources::default();
    let shares_from = r.cpu_request_milli.or(r.cpu_limit_milli);
    out.cpu_shares = shares_from
        .map(|m| ((m as i64 * 1024) / 1000).max(2))
        .unwrap_or(2);
    if let Some(limit) = r.cpu_limit_milli {
        out.cpu_period = PERIOD_US;
        out.cpu_quota = ((limit as i64) * PERIOD_US / 1000).max(1000);
    }
    if let Some(bytes) = r.memory_limit_bytes {
        out.memory_limit_in_bytes = bytes.min(i64::MAX as u64) as i64;
    }
    out
}

fn container_config(req: &ContainerRequest) -> cri::ContainerConfig {
    let s = &req.spec;
    let labels = HashMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (LABEL_POD_UID.to_string(), req.sandbox.uid.0.clone()),
        (LABEL_POD_NAME.to_string(), req.sandbox.name.clone()),
        (
            LABEL_POD_NAMESPACE.to_string(),
            req.sandbox.namespace.clone(),
        ),
        (LABEL_CONTAINER_NAME.to_string(), s.name.clone()),
        (
            LABEL_CONTAINER_KIND.to_string(),
            req.kind.as_label().to_string(),
        ),
    ]);
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: s.name.clone(),
            attempt: req.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: s.image.clone(),
            ..Default::default()
        }),
        command: s.command.clone(),
        args: s.args.clone(),
        working_dir: s.working_dir.clone().unwrap_or_default(),
        envs: s
            .env
            .iter()
            .map(|(k, v)| cri::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        labels,
        log_path: req.log_path(),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(linux_resources(&s.resources)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn state(s: i32) -> ContainerState {
    match cri::ContainerState::try_from(s) {
        Ok(cri::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(cri::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(cri::ContainerState::ContainerExited) => ContainerState::Exited,
        _ => ContainerState::Unknown,
    }
}

impl Runtime for CriRuntime {
    async fn list_sandboxes(&self) -> Result<Vec<ObservedSandbox>, RuntimeError> {
        let filter = cri::PodSandboxFilter {
            label_selector: managed_filter(),
            ..Default::default()
        };
        let items = self
            .rt()
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await
            .map_err(|e| status_err("ListPodSandbox", e))?
            .into_inner()
            .items;
        let mut out = Vec::with_capacity(items.len());
        for s in items {
            let Some(uid) = s.labels.get(LABEL_POD_UID).cloned() else {
                continue;
            };
            let meta = s.metadata.clone().unwrap_or_default();
            let ready = s.state == cri::PodSandboxState::SandboxReady as i32;
            let ip = if ready {
                self.sandbox_ip(&s.id).await
            } else {
                None
            };
            out.push(ObservedSandbox {
                id: s.id.clone(),
                uid: PodUid(uid),
                namespace: s
                    .labels
                    .get(LABEL_POD_NAMESPACE)
                    .cloned()
                    .unwrap_or(meta.namespace),
                name: s.labels.get(LABEL_POD_NAME).cloned().unwrap_or(meta.name),
                attempt: meta.attempt,
                ready,
                created_at_ns: s.created_at,
                ip,
                grace_period_s: s
                    .labels
                    .get(LABEL_GRACE_PERIOD_S)
                    .and_then(|g| g.parse().ok())
                    .unwrap_or(30),
            });
        }
        Ok(out)
    }

    async fn list_containers(&self) -> Result<Vec<ObservedContainer>, RuntimeError> {
        let filter = cri::ContainerFilter {
            label_selector: managed_filter(),
            ..Default::default()
        };
        let items = self
            .rt()
            .list_containers(cri::ListContainersRequest {
                filter: Some(filter),
            })
            .await
            .map_err(|e| status_err("ListContainers", e))?
            .into_inner()
            .containers;
        let mut out = Vec::with_capacity(items.len());
        let live: std::collections::HashSet<&str> = items.iter().map(|c| c.id.as_str()).collect();
        self.details
            .lock()
            .retain(|id, _| live.contains(id.as_str()));
        for c in &items {
            if let Some(cached) = self
                .details
                .lock()
                .get(&c.id)
                .filter(|d| d.state == state(c.state))
            {
                out.push(cached.clone());
                continue;
            }
            let Some(uid) = c.labels.get(LABEL_POD_UID).cloned() else {
                continue;
            };
            let meta = c.metadata.clone().unwrap_or_default();
            let mut obs = ObservedContainer {
                id: c.id.clone(),
                sandbox_id: c.pod_sandbox_id.clone(),
                uid: PodUid(uid),
                name: c
                    .labels
                    .get(LABEL_CONTAINER_NAME)
                    .cloned()
                    .unwrap_or(meta.name),
                kind: if c.labels.get(LABEL_CONTAINER_KIND).map(String::as_str) == Some("init") {
                    ContainerKind::Init
                } else {
                    ContainerKind::App
                },
                attempt: meta.attempt,
                state: state(c.state),
                image: c
                    .image
                    .as_ref()
                    .map(|i| i.image.clone())
                    .unwrap_or_default(),
                created_at_ns: c.created_at,
                started_at_ns: 0,
                finished_at_ns: 0,
                exit_code: 0,
                reason: String::new(),
                message: String::new(),
            };
            match self
                .rt()
                .container_status(cri::ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await
            {
                Ok(resp) => {
                    if let Some(st) = resp.into_inner().status {
                        obs.state = state(st.state);
                        obs.started_at_ns = st.started_at;
                        obs.finished_at_ns = st.finished_at;
                        obs.exit_code = st.exit_code;
                        obs.reason = st.reason;
                        obs.message = st.message;
                    }
                }
                // Removed between the list and the status call: skip it.
                Err(e) if e.code() == tonic::Code::NotFound => continue,
                Err(e) => return Err(status_err("ContainerStatus", e)),
            }
            // Cache only what the list call also reports, so a change is seen (the state
            // from ContainerStatus may be newer than the listed one).
            if obs.state == state(c.state) {
                let mut cache = self.details.lock();
                if cache.len() < MAX_CACHE_ENTRIES {
                    cache.insert(obs.id.clone(), obs.clone());
                }
            }
            out.push(obs);
        }
        Ok(out)
    }

    async fn run_sandbox(&self, req: &SandboxRequest) -> Result<String, RuntimeError> {
        let resp = self
            .rt()
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(sandbox_config(req)),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|e| status_err("RunPodSandbox", e))?;
        Ok(resp.into_inner().pod_sandbox_id)
    }

    async fn stop_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        self.rt()
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .map_err(|e| status_err("StopPodSandbox", e))?;
        Ok(())
    }

    async fn remove_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        self.rt()
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .map_err(|e| status_err("RemovePodSandbox", e))?;
        self.ips.lock().remove(id);
        Ok(())
    }

    async fn ensure_image(&self, image: &str) -> Result<(), RuntimeError> {
        let spec = cri::ImageSpec {
            image: image.into(),
            ..Default::default()
        };
        let present = self
            .img()
            .image_status(cri::ImageStatusRequest {
                image: Some(spec.clone()),
                verbose: false,
            })
            .await
            .map_err(|e| status_err("ImageStatus", e))?
            .into_inner()
            .image
            .is_some();
        if !present {
            self.img()
                .pull_image(cri::PullImageRequest {
                    image: Some(spec),
                    auth: None,
                    sandbox_config: None,
                })
                .await
                .map_err(|e| status_err("PullImage", e))?;
        }
        Ok(())
    }

    async fn create_container(&self, req: &ContainerRequest) -> Result<String, RuntimeError> {
        let r = cri::CreateContainerRequest {
            pod_sandbox_id: req.sandbox_id.clone(),
            config: Some(container_config(req)),
            sandbox_config: Some(sandbox_config(&req.sandbox)),
        };
        Ok(self
            .rt()
            .create_container(r)
            .await
            .map_err(|e| status_err("CreateContainer", e))?
            .into_inner()
            .container_id)
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.rt()
            .start_container(cri::StartContainerRequest {
                container_id: id.into(),
            })
            .await
            .map_err(|e| status_err("StartContainer", e))?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, grace_period_s: i64) -> Result<(), RuntimeError> {
        let mut req = tonic::Request::new(cri::StopContainerRequest {
            container_id: id.into(),
            timeout: grace_period_s,
        });
        req.set_timeout(CALL_TIMEOUT + Duration::from_secs(grace_period_s.max(0) as u64));
        self.rt()
            .stop_container(req)
            .await
            .map_err(|e| status_err("StopContainer", e))?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.rt()
            .remove_container(cri::RemoveContainerRequest {
                container_id: id.into(),
            })
            .await
            .map_err(|e| status_err("RemoveContainer", e))?;
        self.details.lock().remove(id);
        Ok(())
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: &[String],
        timeout_s: u32,
    ) -> Result<ExecOutput, RuntimeError> {
        let mut req = tonic::Request::new(cri::ExecSyncRequest {
            container_id: id.into(),
            cmd: cmd.to_vec(),
            timeout: timeout_s as i64,
        });
        req.set_timeout(Duration::from_secs(timeout_s as u64 + 5));
        let r = self
            .rt()
            .exec_sync(req)
            .await
            .map_err(|e| status_err("ExecSync", e))?
            .into_inner();
        Ok(ExecOutput {
            exit_code: r.exit_code,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(r: Resources, expected: (i64, i64, i64, i64)) {
        let out = linux_resources(&r);
        assert_eq!(
            (
                out.cpu_shares,
                out.cpu_period,
                out.cpu_quota,
                out.memory_limit_in_bytes
            ),
            expected,
            "{r:?}"
        );
    }

    #[test]
    fn resources_become_cgroup_settings() {
        check(Resources::default(), (2, 0, 0, 0));
        check(
            Resources {
                cpu_request_milli: Some(100),
                ..Default::default()
            },
            (102, 0, 0, 0),
        );
        check(
            Resources {
                cpu_limit_milli: Some(500),
                ..Default::default()
            },
            (512, 100_000, 50_000, 0),
        );
        check(
            Resources {
                cpu_request_milli: Some(250),
                cpu_limit_milli: Some(2000),
                memory_limit_bytes: Some(64 << 20),
                ..Default::default()
            },
            (256, 100_000, 200_000, 64 << 20),
        );
        check(
            Resources {
                cpu_limit_milli: Some(1),
                ..Default::default()
            },
            (2, 100_000, 1000, 0),
        );
    }
}
