//! The shell around the cores: watches the manifest directory, relists the runtime, runs the
//! plan for each pod (one in-flight sync per pod, a bounded number at once), runs probes,
//! and keeps the statuses that `/pods` serves. All decisions are `plan`'s and `status`'s.
//!
//! Guarantees: level-triggered (every relist recomputes everything from the runtime's view,
//! so a lost event or an agent restart only delays convergence); the agent only touches
//! sandboxes and containers labelled as its own; an agent restart adopts running pods (the
//! labels carry the pod UID; static UIDs are content hashes, so the same manifest maps to
//! the same pod); a runtime outage is logged once and retried every relist.

use crate::manifest::{self, ScanCache};
use crate::metrics::Metrics;
use crate::model::{
    ContainerKind, ContainerSpec, ContainerState, DesiredPod, ObservedContainer, ObservedPod,
    ObservedSandbox, PodUid, Probe, ProbeAction,
};
use crate::plan::{self, Action, BackoffBook, BackoffConfig, Waiting};
use crate::probe::{self, ProbeKind, ProbeState};
use crate::runtime::{ContainerRequest, Runtime, RuntimeError, SandboxRequest};
use crate::status::{self, StatusInputs, Verdicts};
use k8s_openapi::api::core::v1 as core;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: String,
    pub manifest_dir: PathBuf,
    pub root_dir: PathBuf,
    /// cgroupfs path under which each pod gets `pod<uid>`.
    pub cgroup_root: String,
    /// Where the cgroup v1 controllers (or the v2 tree) are mounted; pod cgroups left behind
    /// by the runtime are removed from there.
    pub cgroup_mount: PathBuf,
    pub relist_period: Duration,
    pub manifest_poll: Duration,
    pub backoff: BackoffConfig,
    pub max_parallel_syncs: usize,
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Probe bookkeeping for one running container.
struct ContainerProbes {
    verdicts: Verdicts,
    /// Liveness or startup crossed its failure threshold: the plan kills the container.
    kill: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ContainerProbes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Default)]
struct PodBook {
    seen_at: Option<Instant>,
    first_seen_ns: i64,
    /// The agent created this pod's sandbox (so its start latency is measured).
    created_here: bool,
    start_recorded: bool,
    waiting: Vec<Waiting>,
    start_errors: BTreeMap<String, (String, String)>,
    sandbox_error: Option<String>,
    status: Option<core::PodStatus>,
    /// After a failed sync step the pod is not synced again before this (back-off).
    retry_at: Option<Instant>,
    failed_syncs: u32,
}

/// Back-off between failed syncs of one pod: 250 ms doubling, at most 10 s.
pub fn sync_retry_delay(failed_syncs: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << failed_syncs.min(6)))
        .min(Duration::from_secs(10))
}

#[derive(Default)]
struct State {
    desired: BTreeMap<PodUid, DesiredPod>,
    /// Manifests that name a pod but cannot run, with their error.
    invalid: Vec<(core::Pod, String)>,
    pods: BTreeMap<PodUid, PodBook>,
    observed: BTreeMap<PodUid, ObservedPod>,
    busy: BTreeSet<PodUid>,
    book: BackoffBook,
    probes: HashMap<String, ContainerProbes>,
    runtime_error: Option<String>,
    /// Manifest errors already logged (each is logged once).
    logged_errors: BTreeSet<String>,
}

/// The state the agent server reads.
pub struct Shared {
    state: Mutex<State>,
    pub metrics: Metrics,
    pub config: Config,
    wake: Notify,
}

pub struct Agent<R: Runtime> {
    shared: Arc<Shared>,
    runtime: Arc<R>,
    syncs: Arc<Semaphore>,
}

impl<R: Runtime> Agent<R> {
    pub fn new(config: Config, runtime: R) -> Self {
        let syncs = Arc::new(Semaphore::new(config.max_parallel_syncs.max(1)));
        Agent {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                metrics: Metrics::new(),
                config,
                wake: Notify::new(),
            }),
            runtime: Arc::new(runtime),
            syncs,
        }
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs the manifest watcher and the sync loop until the task is dropped.
    pub async fn run(self) {
        let shared = self.shared.clone();
        let watcher = tokio::spawn(async move { watch_manifests(shared).await });
        let this = Arc::new(self);
        loop {
            this.relist().await;
            let sleep = tokio::time::sleep(this.shared.config.relist_period);
            tokio::select! {
                _ = this.shared.wake.notified() => {}
                _ = sleep => {}
            }
            if watcher.is_finished() {
                tracing::error!("the manifest watcher stopped");
            }
        }
    }

    async fn relist(self: &Arc<Self>) {
        let listed = async {
            Ok::<_, RuntimeError>((
                self.runtime.list_sandboxes().await?,
                self.runtime.list_containers().await?,
            ))
        }
        .await;
        let (sandboxes, containers) = match listed {
            Ok(v) => v,
            Err(e) => {
                let msg = e.to_string();
                let mut st = self.shared.state.lock();
                if st.runtime_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(error = %msg, "failed to list pods from the container runtime; retrying every relist");
                    st.runtime_error = Some(msg);
                }
                return;
            }
        };
        let observed = crate::model::group_by_pod(sandboxes, containers);
        let now = now_ns();
        let mut to_run: Vec<(PodUid, Vec<Action>)> = vec![];
        {
            let mut st = self.shared.state.lock();
            let st = &mut *st;
            if st.runtime_error.take().is_some() {
                tracing::info!("the container runtime answers again");
            }
            self.sync_probes(st, &observed);
            let kills: BTreeSet<String> = st
                .probes
                .iter()
                .filter(|(_, p)| p.kill)
                .map(|(id, _)| id.clone())
                .collect();
            let uids: BTreeSet<PodUid> =
                st.desired.keys().chain(observed.keys()).cloned().collect();
            let empty = ObservedPod::default();
            let (mut running_pods, mut running_containers) = (0, 0);
            for uid in uids {
                let obs = observed.get(&uid).unwrap_or(&empty);
                running_pods += obs.sandboxes.iter().any(|s| s.ready) as i64;
                running_containers += obs
                    .containers
                    .iter()
                    .filter(|c| c.state == ContainerState::Running)
                    .count() as i64;
                let backing_off = st
                    .pods
                    .get(&uid)
                    .and_then(|b| b.retry_at)
                    .is_some_and(|t| Instant::now() < t);
                let busy = st.busy.contains(&uid) || backing_off;
                match st.desired.get(&uid) {
                    Some(pod) => {
                        let plan = plan::plan_pod(
                            pod,
                            obs,
                            &plan::Inputs {
                                now_ns: now,
                                backoff: &self.shared.config.backoff,
                                book: &st.book,
                                probe_kills: &kills,
                            },
                        );
                        let verdicts: BTreeMap<String, Verdicts> = st
                            .probes
                            .iter()
                            .map(|(id, p)| (id.clone(), p.verdicts))
                            .collect();
                        let book = st.pods.entry(uid.clone()).or_default();
                        if !busy {
                            book.waiting = plan.waiting.clone();
                        }
                        let status = status::pod_status(
                            pod,
                            obs,
                            &StatusInputs {
                                now_ns: now,
                                start_time_ns: book.first_seen_ns,
                                verdicts: &verdicts,
                                waiting: &book.waiting,
                                start_errors: &book.start_errors,
                                sandbox_error: book.sandbox_error.as_deref(),
                                previous: book.status.as_ref(),
                            },
                        );
                        let all_running = status
                            .container_statuses
                            .iter()
                            .flatten()
                            .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
                        if all_running && !book.start_recorded {
                            book.start_recorded = true;
                            if let (true, Some(seen)) = (book.created_here, book.seen_at) {
                                self.shared
                                    .metrics
                                    .pod_start_duration
                                    .observe(seen.elapsed().as_secs_f64());
                            }
                        }
                        book.status = Some(status);
                        if !busy && !plan.actions.is_empty() {
                            st.busy.insert(uid.clone());
                            to_run.push((uid, plan.actions));
                        }
                    }
                    None => {
                        let plan = plan::plan_orphan(obs);
                        if !busy && !plan.actions.is_empty() {
                            st.busy.insert(uid.clone());
                            to_run.push((uid, plan.actions));
                        }
                    }
                }
            }
            // Forget pods that are neither desired nor on the runtime any more.
            let keep: BTreeSet<&PodUid> = st.desired.keys().chain(observed.keys()).collect();
            st.pods.retain(|uid, _| keep.contains(uid));
            st.book.retain(|(uid, _), _| keep.contains(uid));
            st.observed = observed;
            self.shared.metrics.running_pods.set(running_pods);
            self.shared
                .metrics
                .running_containers
                .set(running_containers);
        }
        for (uid, actions) in to_run {
            let this = self.clone();
            tokio::spawn(async move {
                let permit = this.syncs.clone().acquire_owned().await;
                let ok = this.execute(&uid, actions).await;
                drop(permit);
                let mut st = this.shared.state.lock();
                st.busy.remove(&uid);
                if let Some(book) = st.pods.get_mut(&uid) {
                    if ok {
                        book.failed_syncs = 0;
                        book.retry_at = None;
                    } else {
                        book.retry_at = Some(Instant::now() + sync_retry_delay(book.failed_syncs));
                        book.failed_syncs = book.failed_syncs.saturating_add(1);
                    }
                }
                drop(st);
                this.shared.wake.notify_one();
            });
        }
    }

    /// Starts probe workers for running containers that have probes; stops those of
    /// containers that are no longer running.
    fn sync_probes(self: &Arc<Self>, st: &mut State, observed: &BTreeMap<PodUid, ObservedPod>) {
        let mut live: BTreeSet<String> = BTreeSet::new();
        for (uid, obs) in observed {
            let Some(pod) = st.desired.get(uid) else {
                continue;
            };
            let Some(sandbox) = obs.latest_sandbox() else {
                continue;
            };
            for c in obs.containers.iter().filter(|c| {
                c.state == ContainerState::Running
                    && c.sandbox_id == sandbox.id
                    && c.kind == ContainerKind::App
            }) {
                let Some(spec) = pod.containers.iter().find(|s| s.name == c.name) else {
                    continue;
                };
                if spec.liveness.is_none() && spec.readiness.is_none() && spec.startup.is_none() {
                    continue;
                }
                live.insert(c.id.clone());
                if st.probes.contains_key(&c.id) {
                    continue;
                }
                let mut entry = ContainerProbes {
                    verdicts: Verdicts {
                        started: spec.startup.is_none(),
                        ready: false,
                    },
                    kill: false,
                    tasks: vec![],
                };
                for (kind, p) in [
                    (ProbeKind::Startup, &spec.startup),
                    (ProbeKind::Liveness, &spec.liveness),
                    (ProbeKind::Readiness, &spec.readiness),
                ] {
                    if let Some(p) = p {
                        let this = self.clone();
                        let (id, ip, p, has_startup) = (
                            c.id.clone(),
                            sandbox.ip.clone(),
                            p.clone(),
                            spec.startup.is_some(),
                        );
                        let started_at_ns = c.started_at_ns;
                        entry.tasks.push(tokio::spawn(async move {
                            this.probe_worker(id, ip, kind, p, has_startup, started_at_ns)
                                .await
                        }));
                    }
                }
                st.probes.insert(c.id.clone(), entry);
            }
        }
        st.probes.retain(|id, _| live.contains(id));
    }

    async fn probe_worker(
        self: Arc<Self>,
        id: String,
        ip: Option<String>,
        kind: ProbeKind,
        p: Probe,
        has_startup: bool,
        started_at_ns: i64,
    ) {
        let ran_ns = (now_ns() - started_at_ns).max(0) as u64;
        let delay = Duration::from_secs(p.initial_delay_s as u64)
            .saturating_sub(Duration::from_nanos(ran_ns));
        tokio::time::sleep(delay).await;
        let mut state = ProbeState::new(
            if kind == ProbeKind::Readiness {
                p.success_threshold
            } else {
                1
            },
            p.failure_threshold,
        );
        let period = Duration::from_secs(p.period_s as u64);
        let timeout = Duration::from_secs(p.timeout_s as u64);
        loop {
            let gated = kind != ProbeKind::Startup
                && has_startup
                && !self
                    .shared
                    .state
                    .lock()
                    .probes
                    .get(&id)
                    .is_some_and(|e| e.verdicts.started);
            if !gated {
                let ok = match &p.action {
                    ProbeAction::Exec { command } => match tokio::time::timeout(
                        timeout + Duration::from_secs(2),
                        self.runtime.exec_sync(&id, command, p.timeout_s),
                    )
                    .await
                    {
                        Ok(Ok(out)) => out.exit_code == 0,
                        _ => false,
                    },
                    action => probe::run_network(action, ip.as_deref(), timeout).await,
                };
                if let Some(result) = state.record(ok) {
                    let mut st = self.shared.state.lock();
                    let Some(entry) = st.probes.get_mut(&id) else {
                        return;
                    };
                    match (kind, result) {
                        (ProbeKind::Readiness, r) => entry.verdicts.ready = r,
                        (ProbeKind::Startup, true) => entry.verdicts.started = true,
                        (ProbeKind::Startup | ProbeKind::Liveness, false) => {
                            tracing::info!(container = %id, ?kind, "probe failed {} times in a row; the container will be restarted", p.failure_threshold);
                            entry.kill = true;
                        }
                        (ProbeKind::Liveness, true) => {}
                    }
                    drop(st);
                    self.shared.wake.notify_one();
                    if kind == ProbeKind::Startup && result {
                        return;
                    }
                    if kind != ProbeKind::Readiness && !result {
                        return;
                    }
                }
            }
            tokio::time::sleep(period).await;
        }
    }

    fn sandbox_request(
        &self,
        pod_uid: &PodUid,
        namespace: &str,
        name: &str,
        attempt: u32,
        grace_period_s: i64,
    ) -> SandboxRequest {
        SandboxRequest {
            uid: pod_uid.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            attempt,
            hostname: name.chars().take(63).collect(),
            log_directory: pod_log_dir(&self.shared.config.root_dir, namespace, name, pod_uid),
            cgroup_parent: pod_cgroup(&self.shared.config.cgroup_root, pod_uid),
            grace_period_s,
        }
    }

    /// Runs a pod's actions in order; stops at the first failure (returns false).
    async fn execute(&self, uid: &PodUid, actions: Vec<Action>) -> bool {
        let desired = self.shared.state.lock().desired.get(uid).cloned();
        for action in actions {
            let result = match &action {
                Action::CreateSandbox { attempt } => {
                    let Some(pod) = &desired else { return true };
                    match self.create_sandbox(pod, *attempt).await {
                        // Go straight on to the first containers rather than wait for a relist:
                        // the new sandbox holds nothing yet, so the plan is known.
                        Ok(sandbox) => {
                            let observed = ObservedPod {
                                sandboxes: vec![sandbox],
                                containers: vec![],
                            };
                            let next = {
                                let st = self.shared.state.lock();
                                plan::plan_pod(
                                    pod,
                                    &observed,
                                    &plan::Inputs {
                                        now_ns: now_ns(),
                                        backoff: &self.shared.config.backoff,
                                        book: &st.book,
                                        probe_kills: &BTreeSet::new(),
                                    },
                                )
                            };
                            return Box::pin(self.execute(uid, next.actions)).await;
                        }
                        Err(e) => Err(e),
                    }
                }
                Action::TeardownSandboxes {
                    sandbox_ids,
                    running_container_ids,
                    grace_period_s,
                } => {
                    self.teardown(
                        uid,
                        desired.is_none(),
                        sandbox_ids,
                        running_container_ids,
                        *grace_period_s,
                    )
                    .await
                }
                Action::StartContainer {
                    sandbox_id,
                    name,
                    kind,
                    attempt,
                    remove_ids,
                    backoff_ms,
                } => {
                    let Some(pod) = &desired else { return true };
                    let spec = pod
                        .init_containers
                        .iter()
                        .chain(&pod.containers)
                        .find(|c| &c.name == name)
                        .cloned();
                    let Some(spec) = spec else { return true };
                    self.start_container(
                        pod,
                        sandbox_id,
                        spec,
                        *kind,
                        *attempt,
                        remove_ids,
                        *backoff_ms,
                    )
                    .await
                }
                Action::StartExisting { id } => self.runtime.start_container(id).await,
                Action::KillContainer {
                    id,
                    grace_period_s,
                    reason,
                } => {
                    tracing::info!(%uid, container = %id, %reason, "killing container");
                    self.runtime.stop_container(id, *grace_period_s).await
                }
            };
            if let Err(e) = result {
                self.shared.metrics.sync_errors.inc();
                tracing::warn!(%uid, ?action, error = %e, "pod sync step failed; retrying after a back-off");
                return false;
            }
        }
        true
    }

    async fn create_sandbox(
        &self,
        pod: &DesiredPod,
        attempt: u32,
    ) -> Result<ObservedSandbox, RuntimeError> {
        let uid = &pod.uid;
        let req = self.sandbox_request(uid, &pod.namespace, &pod.name, attempt, pod.grace_period_s);
        if let Err(e) = std::fs::create_dir_all(&req.log_directory) {
            tracing::warn!(dir = %req.log_directory.display(), error = %e, "failed to create the pod log directory");
        }
        self.shared
            .state
            .lock()
            .pods
            .entry(uid.clone())
            .or_default()
            .created_here = true;
        let r = self.runtime.run_sandbox(&req).await;
        self.shared
            .state
            .lock()
            .pods
            .entry(uid.clone())
            .or_default()
            .sandbox_error = r.as_ref().err().map(|e| e.to_string());
        let id = r?;
        tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), %uid, sandbox = %id, "sandbox running");
        Ok(ObservedSandbox {
            id,
            uid: uid.clone(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            attempt,
            ready: true,
            created_at_ns: now_ns(),
            ip: None,
            grace_period_s: pod.grace_period_s,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_container(
        &self,
        pod: &DesiredPod,
        sandbox_id: &str,
        spec: ContainerSpec,
        kind: ContainerKind,
        attempt: u32,
        remove_ids: &[String],
        backoff_ms: u64,
    ) -> Result<(), RuntimeError> {
        for id in remove_ids {
            if let Err(e) = self.runtime.remove_container(id).await {
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
        let name = spec.name.clone();
        let record = |reason: &str, e: &RuntimeError| {
            let mut st = self.shared.state.lock();
            st.pods
                .entry(pod.uid.clone())
                .or_default()
                .start_errors
                .insert(name.clone(), (reason.to_string(), e.to_string()));
        };
        if let Err(e) = self.runtime.ensure_image(&spec.image).await {
            record("ErrImagePull", &e);
            return Err(e);
        }
        let req = ContainerRequest {
            sandbox_id: sandbox_id.to_string(),
            sandbox: self.sandbox_request(
                &pod.uid,
                &pod.namespace,
                &pod.name,
                0,
                pod.grace_period_s,
            ),
            spec,
            kind,
            attempt,
        };
        let id = match self.runtime.create_container(&req).await {
            Ok(id) => id,
            Err(e) => {
                record("CreateContainerError", &e);
                return Err(e);
            }
        };
        if let Err(e) = self.runtime.start_container(&id).await {
            record("RunContainerError", &e);
            return Err(e);
        }
        tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), container = %name, attempt, id = %id, "container started");
        let mut st = self.shared.state.lock();
        st.book.insert((pod.uid.clone(), name.clone()), backoff_ms);
        st.pods
            .entry(pod.uid.clone())
            .or_default()
            .start_errors
            .remove(&name);
        if attempt > 0 {
            self.shared.metrics.container_restarts.inc();
        }
        Ok(())
    }

    async fn teardown(
        &self,
        uid: &PodUid,
        orphan: bool,
        sandbox_ids: &[String],
        running: &[String],
        grace_period_s: i64,
    ) -> Result<(), RuntimeError> {
        tracing::info!(%uid, sandboxes = ?sandbox_ids, grace_period_s, "stopping pod sandbox");
        let stops = running
            .iter()
            .map(|id| self.runtime.stop_container(id, grace_period_s));
        for r in futures::future::join_all(stops).await {
            if let Err(e) = r {
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
        for id in sandbox_ids {
            for r in [
                self.runtime.stop_sandbox(id).await,
                self.runtime.remove_sandbox(id).await,
            ] {
                if let Err(e) = r {
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
        }
        if orphan {
            remove_pod_cgroups(
                &self.shared.config.cgroup_mount,
                &pod_cgroup(&self.shared.config.cgroup_root, uid),
            );
            let mut st = self.shared.state.lock();
            st.book.retain(|(u, _), _| u != uid);
            st.pods.remove(uid);
        }
        Ok(())
    }
}

/// `<root>/pod-logs/<namespace>_<name>_<uid>` (kubelet's `/var/log/pods` layout).
pub fn pod_log_dir(root: &Path, namespace: &str, name: &str, uid: &PodUid) -> PathBuf {
    root.join("pod-logs")
        .join(format!("{namespace}_{name}_{uid}"))
}

/// The pod's cgroupfs parent: `/<cgroup root>/pod<uid>`.
pub fn pod_cgroup(cgroup_root: &str, uid: &PodUid) -> String {
    format!("/{}/pod{}", cgroup_root.trim_matches('/'), uid)
}

/// Removes a pod's (empty) cgroup from every mounted hierarchy; the runtime leaves the
/// parents it created. Best effort: a busy or missing cgroup is left alone.
pub fn remove_pod_cgroups(mount: &Path, cgroup: &str) {
    let rel = cgroup.trim_start_matches('/');
    let Ok(entries) = std::fs::read_dir(mount) else {
        return;
    };
    let mut dirs = vec![mount.join(rel)];
    dirs.extend(entries.filter_map(|e| e.ok()).map(|e| e.path().join(rel)));
    for d in dirs {
        if d.is_dir() {
            let _ = std::fs::remove_dir(&d);
        }
    }
}

async fn watch_manifests(shared: Arc<Shared>) {
    let mut cache = ScanCache::default();
    let cfg = &shared.config;
    let mut dir_error: Option<String> = None;
    loop {
        match manifest::scan_dir(&cfg.manifest_dir, &cfg.node_name, &mut cache) {
            Ok(loaded) => {
                dir_error = None;
                let mut desired = BTreeMap::new();
                let mut invalid = vec![];
                let mut errors = BTreeSet::new();
                for l in loaded {
                    match l.result {
                        Ok(pod) => {
                            desired.insert(pod.uid.clone(), pod);
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            if let (Some(mut pod), Some((ns, _))) = (l.pod, e.pod_key()) {
                                pod.metadata.namespace = Some(ns);
                                invalid.push((pod, msg.clone()));
                            }
                            errors.insert(msg);
                        }
                    }
                }
                let mut st = shared.state.lock();
                for e in errors.difference(&st.logged_errors) {
                    tracing::error!(error = %e, "bad pod manifest; other pods are unaffected");
                }
                st.logged_errors = errors;
                st.invalid = invalid;
                let changed = st.desired.keys().ne(desired.keys());
                let now = now_ns();
                for (uid, pod) in &desired {
                    if !st.desired.contains_key(uid) {
                        tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), %uid, source = %pod.source, "pod added");
                    }
                    let book = st.pods.entry(uid.clone()).or_default();
                    if book.seen_at.is_none() {
                        book.seen_at = Some(Instant::now());
                        book.first_seen_ns = now;
                    }
                }
                for (uid, pod) in &st.desired {
                    if !desired.contains_key(uid) {
                        tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), %uid, "pod removed; stopping it");
                    }
                }
                st.desired = desired;
                drop(st);
                if changed {
                    shared.wake.notify_one();
                }
            }
            Err(e) => {
                let msg = format!(
                    "failed to read the manifest directory {}: {e}",
                    cfg.manifest_dir.display()
                );
                if dir_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!("{msg}");
                    dir_error = Some(msg);
                }
            }
        }
        tokio::time::sleep(cfg.manifest_poll).await;
    }
}

impl Shared {
    /// The pods on this node as a PodList (what `/pods` serves).
    pub fn pod_list(&self) -> Vec<core::Pod> {
        let st = self.state.lock();
        let mut items = vec![];
        for (uid, pod) in &st.desired {
            let mut p = pod.manifest.clone();
            p.metadata.namespace = Some(pod.namespace.clone());
            p.metadata.uid = Some(uid.0.clone());
            let book = st.pods.get(uid);
            p.metadata.creation_timestamp = book.and_then(|b| status::time(b.first_seen_ns));
            let mut spec = p.spec.take().unwrap_or_default();
            spec.node_name = Some(self.config.node_name.clone());
            p.spec = Some(spec);
            p.status =
                Some(
                    book.and_then(|b| b.status.clone())
                        .unwrap_or_else(|| core::PodStatus {
                            phase: Some("Pending".into()),
                            ..Default::default()
                        }),
                );
            items.push(p);
        }
        for (pod, msg) in &st.invalid {
            let mut p = pod.clone();
            p.status = Some(status::invalid_status(msg, now_ns()));
            items.push(p);
        }
        items
    }

    /// The log file of a container's newest instance, and whether that instance still runs.
    pub fn log_file(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Option<(PathBuf, bool)> {
        let st = self.state.lock();
        let (uid, _) = st
            .desired
            .iter()
            .find(|(_, p)| p.namespace == namespace && p.name == pod)?;
        let obs = st.observed.get(uid)?;
        let sandbox = obs.latest_sandbox()?;
        let instances: Vec<&ObservedContainer> = obs.instances(&sandbox.id, container);
        let c = if previous {
            instances.get(1)?
        } else {
            instances.first()?
        };
        let path = pod_log_dir(&self.config.root_dir, namespace, pod, uid)
            .join(container)
            .join(format!("{}.log", c.attempt));
        Some((path, c.state == ContainerState::Running))
    }

    /// Whether a given log file still belongs to a running container.
    pub fn still_running(&self, namespace: &str, pod: &str, container: &str, path: &Path) -> bool {
        matches!(self.log_file(namespace, pod, container, false), Some((p, true)) if p == path)
    }

    pub fn runtime_error(&self) -> Option<String> {
        self.state.lock().runtime_error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::FakeRuntime;

    fn config(dir: &Path) -> Config {
        Config {
            node_name: "n".into(),
            manifest_dir: dir.join("manifests"),
            root_dir: dir.join("root"),
            cgroup_root: "berth-unit".into(),
            cgroup_mount: dir.join("no-cgroups"),
            relist_period: Duration::from_millis(20),
            manifest_poll: Duration::from_millis(20),
            backoff: BackoffConfig {
                initial_ms: 300,
                max_ms: 600,
                reset_after_ms: 60_000,
            },
            max_parallel_syncs: 4,
        }
    }

    async fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn manifest(name: &str, image: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  - {{name: main, image: {image}}}\n")
    }

    fn status_of(shared: &Shared, name: &str) -> Option<core::PodStatus> {
        shared
            .pod_list()
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .and_then(|p| p.status)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_shell_runs_restarts_and_removes_pods_on_a_fake_runtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(dir.path());
        std::fs::create_dir_all(&cfg.manifest_dir).expect("dir");
        std::fs::write(cfg.manifest_dir.join("a.yaml"), manifest("a", "img")).expect("write");
        // A pod whose image cannot be had: reported, and it does not hold the other back.
        std::fs::write(cfg.manifest_dir.join("b.yaml"), manifest("b", "missing")).expect("write");
        let fake = Arc::new(FakeRuntime::with_images(&["img"]));
        let agent = Agent {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                metrics: Metrics::new(),
                config: cfg.clone(),
                wake: Notify::new(),
            }),
            runtime: fake.clone(),
            syncs: Arc::new(Semaphore::new(4)),
        };
        let shared = agent.shared();
        let task = tokio::spawn(agent.run());

        let running = |s: &core::PodStatus| {
            s.container_statuses
                .iter()
                .flatten()
                .all(|c| c.state.as_ref().is_some_and(|st| st.running.is_some()))
        };
        wait("a Running", || {
            status_of(&shared, "a").filter(|s| s.phase.as_deref() == Some("Running") && running(s))
        })
        .await;
        let b = wait("b ErrImagePull", || {
            status_of(&shared, "b").filter(|s| {
                s.container_statuses.iter().flatten().any(|c| {
                    c.state
                        .as_ref()
                        .and_then(|st| st.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("ErrImagePull")
                })
            })
        })
        .await;
        assert_eq!(b.phase.as_deref(), Some("Pending"));
        assert!(shared.metrics.sync_errors.get() > 0);

        // A crash restarts at once, the next one after the back-off (300 ms).
        assert!(fake.exit("a", "main", 1));
        wait("restart 1", || {
            fake.containers_of("a")
                .iter()
                .any(|c| c.attempt == 1 && c.state == ContainerState::Running)
                .then_some(())
        })
        .await;
        let t = Instant::now();
        assert!(fake.exit("a", "main", 1));
        wait("CrashLoopBackOff", || {
            status_of(&shared, "a").filter(|s| {
                s.container_statuses.iter().flatten().any(|c| {
                    c.state
                        .as_ref()
                        .and_then(|st| st.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CrashLoopBackOff")
                })
            })
        })
        .await;
        wait("restart 2", || {
            fake.containers_of("a")
                .iter()
                .any(|c| c.attempt == 2 && c.state == ContainerState::Running)
                .then_some(())
        })
        .await;
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "the second restart waited for the back-off ({:?})",
            t.elapsed()
        );
        // Only the newest exited instance is kept (it is lastState).
        assert_eq!(fake.containers_of("a").len(), 2);
        let st = status_of(&shared, "a").expect("status");
        let c = &st.container_statuses.as_ref().expect("statuses")[0];
        assert_eq!(c.restart_count, 2);
        assert_eq!(
            c.last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .map(|t| t.exit_code),
            Some(1)
        );
        assert_eq!(shared.metrics.container_restarts.get(), 2);

        // Removing the manifests tears the pods down.
        std::fs::remove_file(cfg.manifest_dir.join("a.yaml")).expect("rm");
        std::fs::remove_file(cfg.manifest_dir.join("b.yaml")).expect("rm");
        wait("no sandboxes", || (fake.sandbox_count() == 0).then_some(())).await;
        wait("no pods listed", || {
            shared.pod_list().is_empty().then_some(())
        })
        .await;
        task.abort();
    }
}
