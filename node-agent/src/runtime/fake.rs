//! An in-memory [`Runtime`] for tests of the agent's shell: sandboxes and containers are
//! records, a started container runs until the test makes it exit (or it is stopped), and
//! images are present only if the test said so.

use super::{ContainerRequest, ExecOutput, Runtime, RuntimeError, SandboxRequest};
use crate::model::{ContainerState, ObservedContainer, ObservedSandbox};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
struct FakeState {
    next_id: u64,
    sandboxes: BTreeMap<String, ObservedSandbox>,
    containers: BTreeMap<String, ObservedContainer>,
    images: BTreeSet<String>,
    /// Exit codes of stopped containers (SIGTERM honoured: 0; default 137).
    stop_exit_code: i32,
}

#[derive(Default)]
pub struct FakeRuntime {
    state: Mutex<FakeState>,
}

fn now_ns() -> i64 {
    crate::agent::now_ns()
}

fn not_found(op: &'static str, id: &str) -> RuntimeError {
    RuntimeError::Call {
        op,
        not_found: true,
        message: format!("{id} not found"),
    }
}

impl FakeRuntime {
    pub fn with_images(images: &[&str]) -> Self {
        let f = FakeRuntime::default();
        {
            let mut st = f.state.lock();
            st.images = images.iter().map(|s| s.to_string()).collect();
            st.stop_exit_code = 137;
        }
        f
    }

    /// Makes the running instance of container `name` of pod `pod_name` exit with `code`.
    pub fn exit(&self, pod_name: &str, name: &str, code: i32) -> bool {
        let mut st = self.state.lock();
        let sandbox_ids: BTreeSet<String> = st
            .sandboxes
            .values()
            .filter(|s| s.name == pod_name)
            .map(|s| s.id.clone())
            .collect();
        let Some(c) = st.containers.values_mut().find(|c| {
            c.name == name
                && sandbox_ids.contains(&c.sandbox_id)
                && c.state == ContainerState::Running
        }) else {
            return false;
        };
        c.state = ContainerState::Exited;
        c.exit_code = code;
        c.finished_at_ns = now_ns();
        true
    }

    /// Containers (any state) of pod `pod_name`.
    pub fn containers_of(&self, pod_name: &str) -> Vec<ObservedContainer> {
        let st = self.state.lock();
        st.containers
            .values()
            .filter(|c| {
                st.sandboxes
                    .get(&c.sandbox_id)
                    .is_some_and(|s| s.name == pod_name)
            })
            .cloned()
            .collect()
    }

    pub fn sandbox_count(&self) -> usize {
        self.state.lock().sandboxes.len()
    }
}

impl Runtime for FakeRuntime {
    async fn list_sandboxes(&self) -> Result<Vec<ObservedSandbox>, RuntimeError> {
        Ok(self.state.lock().sandboxes.values().cloned().collect())
    }

    async fn list_containers(&self) -> Result<Vec<ObservedContainer>, RuntimeError> {
        Ok(self.state.lock().containers.values().cloned().collect())
    }

    async fn run_sandbox(&self, req: &SandboxRequest) -> Result<String, RuntimeError> {
        let mut st = self.state.lock();
        st.next_id += 1;
        let id = format!("sandbox-{}", st.next_id);
        let ip = format!("198.19.0.{}", st.next_id % 250 + 2);
        st.sandboxes.insert(
            id.clone(),
            ObservedSandbox {
                id: id.clone(),
                uid: req.uid.clone(),
                namespace: req.namespace.clone(),
                name: req.name.clone(),
                attempt: req.attempt,
                ready: true,
                created_at_ns: now_ns(),
                ip: Some(ip),
                grace_period_s: req.grace_period_s,
            },
        );
        Ok(id)
    }

    async fn stop_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state.lock();
        let code = st.stop_exit_code;
        let s = st
            .sandboxes
            .get_mut(id)
            .ok_or_else(|| not_found("StopPodSandbox", id))?;
        s.ready = false;
        for c in st
            .containers
            .values_mut()
            .filter(|c| c.sandbox_id == id && c.state == ContainerState::Running)
        {
            c.state = ContainerState::Exited;
            c.exit_code = code;
            c.finished_at_ns = now_ns();
        }
        Ok(())
    }

    async fn remove_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state.lock();
        st.sandboxes
            .remove(id)
            .ok_or_else(|| not_found("RemovePodSandbox", id))?;
        st.containers.retain(|_, c| c.sandbox_id != id);
        Ok(())
    }

    async fn ensure_image(&self, image: &str) -> Result<(), RuntimeError> {
        if self.state.lock().images.contains(image) {
            Ok(())
        } else {
            Err(RuntimeError::Call {
                op: "PullImage",
                not_found: false,
                message: format!("failed to pull {image}: no registry"),
            })
        }
    }

    async fn create_container(&self, req: &ContainerRequest) -> Result<String, RuntimeError> {
        let mut st = self.state.lock();
        if !st.sandboxes.contains_key(&req.sandbox_id) {
            return Err(not_found("CreateContainer", &req.sandbox_id));
        }
        st.next_id += 1;
        let id = format!("container-{}", st.next_id);
        st.containers.insert(
            id.clone(),
            ObservedContainer {
                id: id.clone(),
                sandbox_id: req.sandbox_id.clone(),
                uid: req.sandbox.uid.clone(),
                name: req.spec.name.clone(),
                kind: req.kind,
                attempt: req.attempt,
                state: ContainerState::Created,
                image: req.spec.image.clone(),
                created_at_ns: now_ns(),
                started_at_ns: 0,
                finished_at_ns: 0,
                exit_code: 0,
                reason: String::new(),
                message: String::new(),
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state.lock();
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StartContainer", id))?;
        c.state = ContainerState::Running;
        c.started_at_ns = now_ns();
        Ok(())
    }

    async fn stop_container(&self, id: &str, _grace_period_s: i64) -> Result<(), RuntimeError> {
        let mut st = self.state.lock();
        let code = st.stop_exit_code;
        let c = st
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StopContainer", id))?;
        if c.state == ContainerState::Running {
            c.state = ContainerState::Exited;
            c.exit_code = code;
            c.finished_at_ns = now_ns();
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.state
            .lock()
            .containers
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("RemoveContainer", id))
    }

    async fn exec_sync(
        &self,
        id: &str,
        _cmd: &[String],
        _timeout_s: u32,
    ) -> Result<ExecOutput, RuntimeError> {
        let st = self.state.lock();
        let c = st
            .containers
            .get(id)
            .ok_or_else(|| not_found("ExecSync", id))?;
        Ok(ExecOutput {
            exit_code: if c.state == ContainerState::Running {
                0
            } else {
                1
            },
            stdout: vec![],
            stderr: vec![],
        })
    }
}
