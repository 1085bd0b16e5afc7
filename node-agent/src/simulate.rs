//! The node simulator's shell (kwok's idea, through the Kubernetes API only): registers the
//! simulated Nodes, keeps their Leases and Ready heartbeats, and makes pods bound to them
//! Running (or finishes their deletion). Decisions come from `sim_model`; this module does
//! the IO, the queue, the retries and the once-every-10-s summary.

use crate::apiclient::{with_query, ApiError, Client, EventKind, PatchType};
use crate::sim_model::{self, NodeTemplate, PodAction, PodView, LEASE_NAMESPACE};
use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, Semaphore};

/// How often the lease and heartbeat schedulers wake.
const TICK_MS: u64 = 10;
/// A pod write is tried at most this often before the pod waits for its next watch event.
const MAX_POD_ATTEMPTS: u32 = 8;
const BACKOFF_INITIAL_MS: u64 = 200;
const BACKOFF_MAX_MS: u64 = 30_000;
/// Tries of one lease renewal or heartbeat (the next interval tries again).
const MAX_PERIODIC_ATTEMPTS: u32 = 3;
/// Registration tries per node before the heartbeat loop takes over.
const MAX_REGISTER_ATTEMPTS: u32 = 6;
/// Pods per list page.
const LIST_PAGE: &str = "500";
/// The server ends a watch after this long; the client gives up after a little more silence.
const WATCH_TIMEOUT_S: u64 = 300;
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

pub struct SimConfig {
    pub template: NodeTemplate,
    pub lease_renew_interval_ms: u64,
    pub status_report_ms: u64,
    /// Pod writes in flight (status patches and deletes).
    pub max_inflight: usize,
}

#[derive(Default)]
struct Stats {
    nodes_registered: AtomicU64,
    leases_renewed: AtomicU64,
    /// Nodes due again while their previous renewal still waited for a slot.
    lease_intervals_missed: AtomicU64,
    /// Nodes waiting for a renewal slot (a gauge).
    lease_backlog: AtomicU64,
    lease_errors: AtomicU64,
    heartbeats: AtomicU64,
    pods_started: AtomicU64,
    pods_deleted: AtomicU64,
    pod_write_errors: AtomicU64,
}

type PodKey = (String, String);

/// The pods bound to simulated nodes as the watch last showed them, the work queue over
/// their keys (each key queued at most once) and the address book.
#[derive(Default)]
struct PodBook {
    pods: HashMap<PodKey, PodView>,
    /// The resourceVersion our last status write returned, by uid.
    written_rv: HashMap<String, u64>,
    ips: sim_model::IpAllocator,
    queue: VecDeque<PodKey>,
    queued: HashSet<PodKey>,
    attempts: HashMap<PodKey, u32>,
}

impl PodBook {
    fn enqueue(&mut self, key: PodKey) -> bool {
        if self.queued.insert(key.clone()) {
            self.queue.push_back(key);
            true
        } else {
            false
        }
    }

    /// Records a pod from a list or watch event; true when it needs work.
    fn upsert(&mut self, t: &NodeTemplate, view: PodView) -> bool {
        if let Some(ip) = view.pod_ip {
            if !self.ips.adopt(t, &view.uid, view.node_idx, ip) && view.phase == "Running" {
                tracing::warn!(pod = %view.name, namespace = %view.namespace, %ip, "a pod's address is outside its node's range or taken");
            }
        }
        let key = view.key();
        if let Some(old) = self.pods.get(&key) {
            if old.uid != view.uid {
                let old_uid = old.uid.clone();
                self.forget_uid(&old_uid);
            }
        }
        let needs =
            sim_model::decide(&view, self.written_rv.get(&view.uid).copied()) != PodAction::Nothing;
        self.pods.insert(key.clone(), view);
        if needs {
            self.enqueue(key);
        }
        needs
    }

    fn remove(&mut self, key: &PodKey) {
        if let Some(old) = self.pods.remove(key) {
            self.forget_uid(&old.uid);
        }
        self.attempts.remove(key);
    }

    fn forget_uid(&mut self, uid: &str) {
        self.ips.release(uid);
        self.written_rv.remove(uid);
    }
}

struct Sim {
    client: Client,
    config: SimConfig,
    stats: Stats,
    book: Mutex<PodBook>,
    work: Notify,
    /// When the simulator started: the conditions' lastTransitionTime.
    since: SystemTime,
}

/// Runs the simulator until the process ends (nodes are left in place, as kwok does).
pub async fn run(client: Client, config: SimConfig) -> Result<(), ApiError> {
    let sim = Arc::new(Sim {
        client,
        config,
        stats: Stats::default(),
        book: Mutex::new(PodBook::default()),
        work: Notify::new(),
        since: SystemTime::now(),
    });
    tokio::spawn(summary_loop(sim.clone()));
    let t0 = Instant::now();
    sim.register_all().await;
    tracing::info!(
        nodes = sim.stats.nodes_registered.load(Ordering::Relaxed),
        of = sim.config.template.n_nodes,
        elapsed_ms = t0.elapsed().as_millis() as u64,
        "simulated nodes registered"
    );
    for _ in 0..sim.config.max_inflight.max(1) {
        tokio::spawn(pod_worker(sim.clone()));
    }
    tokio::spawn(periodic_loop(sim.clone(), Periodic::Lease));
    tokio::spawn(periodic_loop(sim.clone(), Periodic::Status));
    sim.watch_pods().await
}

fn backoff_ms(attempt: u32) -> u64 {
    let base = BACKOFF_INITIAL_MS
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_MAX_MS);
    // Up to +25% jitter from the clock's low bits: enough to keep retries apart.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    base + u64::from(nanos) % (base / 4 + 1)
}

fn node_path(name: &str) -> String {
    format!("/api/v1/nodes/{name}")
}
fn lease_path(name: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{name}")
}
fn pod_path(ns: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods/{name}")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Periodic {
    Lease,
    Status,
}

impl Sim {
    async fn register_all(self: &Arc<Self>) {
        let n = self.config.template.n_nodes;
        futures::stream::iter(0..n)
            .map(|idx| {
                let sim = self.clone();
                async move {
                    let mut attempt = 0;
                    loop {
                        match sim.register(idx).await {
                            Ok(()) => {
                                sim.stats.nodes_registered.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            Err(e) if e.is_retryable() && attempt + 1 < MAX_REGISTER_ATTEMPTS => {
                                tokio::time::sleep(Duration::from_millis(backoff_ms(attempt))).await;
                                attempt += 1;
                            }
                            Err(e) => {
                                tracing::warn!(node = %sim.config.template.name(idx), error = %e, "failed to register a node; the heartbeat retries");
                                return;
                            }
                        }
                    }
                }
            })
            .buffer_unordered(self.config.max_inflight.max(1))
            .collect::<()>()
            .await;
    }

    /// Creates the Node (or takes over an existing one: labels and the marker), writes its
    /// status, and creates or renews its Lease.
    async fn register(&self, idx: u32) -> Result<(), ApiError> {
        let t = &self.config.template;
        let node = t.node(idx);
        let name = t.name(idx);
        match self.client.create("/api/v1/nodes", &node).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {
                let takeover = json!({"metadata": {
                    "labels": node["metadata"]["labels"],
                    "annotations": node["metadata"]["annotations"],
                }});
                self.client
                    .patch(&node_path(&name), PatchType::Merge, &takeover)
                    .await?;
            }
            Err(e) => return Err(e),
        }
        self.post_status(idx).await?;
        self.renew_lease(idx).await
    }

    async fn post_status(&self, idx: u32) -> Result<(), ApiError> {
        let t = &self.config.template;
        let status = t.node_status(idx, SystemTime::now(), self.since);
        self.client
            .patch(
                &format!("{}/status", node_path(&t.name(idx))),
                PatchType::Merge,
                &status,
            )
            .await?;
        Ok(())
    }

    /// An unconditional update of the Lease (the simulator is its only writer), created when
    /// missing.
    async fn renew_lease(&self, idx: u32) -> Result<(), ApiError> {
        let name = self.config.template.name(idx);
        let lease = sim_model::lease(&name, SystemTime::now());
        match self.client.update(&lease_path(&name), &lease).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => {
                let path =
                    format!("/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases");
                match self.client.create(&path, &lease).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_already_exists() => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// One periodic write for a node: a lease renewal or a status heartbeat (re-registering
    /// a node someone deleted), tried up to `MAX_PERIODIC_ATTEMPTS` times on retryable
    /// errors (an overloaded server's 429s), then left to the next interval.
    async fn periodic(&self, what: Periodic, idx: u32) {
        let mut attempt = 0;
        let r = loop {
            let r = match what {
                Periodic::Lease => self.renew_lease(idx).await,
                Periodic::Status => match self.post_status(idx).await {
                    Err(e) if e.is_not_found() => self.register(idx).await,
                    r => r,
                },
            };
            match r {
                Err(e) if e.is_retryable() && attempt + 1 < MAX_PERIODIC_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(backoff_ms(attempt))).await;
                    attempt += 1;
                }
                r => break r,
            }
        };
        let node = self.config.template.name(idx);
        match (what, r) {
            (Periodic::Lease, Ok(())) => {
                self.stats.leases_renewed.fetch_add(1, Ordering::Relaxed);
            }
            (Periodic::Lease, Err(e)) => {
                self.stats.lease_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%node, error = %e, "lease renewal failed; retried next interval");
            }
            (Periodic::Status, Ok(())) => {
                self.stats.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
            (Periodic::Status, Err(e)) => {
                tracing::warn!(%node, error = %e, "node status heartbeat failed; retried next interval")
            }
        }
    }

    /// Lists then watches pods on any node, from the list's resourceVersion; relists on 410
    /// or a failed watch.
    async fn watch_pods(self: &Arc<Self>) -> Result<(), ApiError> {
        let mut use_selector = true;
        let mut failures: u32 = 0;
        loop {
            let rv = match self.list_pods(use_selector).await {
                Ok(rv) => rv,
                Err(e) if use_selector && e.code() == Some(400) => {
                    tracing::info!(error = %e, "the API server refuses spec.nodeName!=; filtering pods here");
                    use_selector = false;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "failed to list pods; retrying");
                    tokio::time::sleep(Duration::from_millis(backoff_ms(failures))).await;
                    failures = failures.saturating_add(1);
                    continue;
                }
            };
            failures = 0;
            let mut rv = rv;
            // Watch (and re-watch from the last resourceVersion) until it fails.
            loop {
                match self.watch_from(&mut rv, use_selector).await {
                    Ok(()) => continue,
                    Err(e) if e.is_gone() => {
                        tracing::info!(error = %e, "pod watch expired; relisting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "pod watch failed; relisting");
                        tokio::time::sleep(Duration::from_millis(backoff_ms(failures))).await;
                        failures = failures.saturating_add(1);
                        break;
                    }
                }
            }
        }
    }

    fn pods_query<'a>(use_selector: bool, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut q = vec![];
        if use_selector {
            q.push(("fieldSelector", "spec.nodeName!="));
        }
        q.extend_from_slice(extra);
        q
    }

    /// A paged list that replaces the book's pods; returns the list's resourceVersion.
    async fn list_pods(&self, use_selector: bool) -> Result<String, ApiError> {
        let t = &self.config.template;
        let mut seen: Vec<PodView> = vec![];
        let mut cont = String::new();
        let rv = loop {
            let mut extra = vec![("limit", LIST_PAGE)];
            if !cont.is_empty() {
                extra.push(("continue", cont.as_str()));
            }
            let path = with_query("/api/v1/pods", &Self::pods_query(use_selector, &extra));
            let page = self.client.list(&path).await?;
            if let Some(items) = page["items"].as_array() {
                seen.extend(items.iter().filter_map(|p| PodView::from_pod(t, p)));
            }
            let next = page["metadata"]["continue"].as_str().unwrap_or_default();
            if next.is_empty() {
                break page["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            cont = next.to_string();
        };
        let mut n_work = 0;
        {
            let mut book = self.book.lock();
            let keep: HashSet<PodKey> = seen.iter().map(PodView::key).collect();
            let gone: Vec<PodKey> = book
                .pods
                .keys()
                .filter(|k| !keep.contains(*k))
                .cloned()
                .collect();
            for k in &gone {
                book.remove(k);
            }
            for v in seen {
                n_work += usize::from(book.upsert(t, v));
            }
        }
        if n_work > 0 {
            self.work.notify_waiters();
        }
        tracing::info!(
            pods = self.book.lock().pods.len(),
            to_do = n_work,
            "listed pods on simulated nodes"
        );
        Ok(rv)
    }

    async fn watch_from(&self, rv: &mut String, use_selector: bool) -> Result<(), ApiError> {
        let t = &self.config.template;
        let timeout = WATCH_TIMEOUT_S.to_string();
        let path = with_query(
            "/api/v1/pods",
            &Self::pods_query(
                use_selector,
                &[
                    ("watch", "1"),
                    ("allowWatchBookmarks", "true"),
                    ("resourceVersion", rv.as_str()),
                    ("timeoutSeconds", timeout.as_str()),
                ],
            ),
        );
        let mut watch = self
            .client
            .watch(&path, (WATCH_TIMEOUT_S + 60) * 1000)
            .await?;
        while let Some(ev) = watch.next().await? {
            if let Some(r) = ev.object["metadata"]["resourceVersion"].as_str() {
                *rv = r.to_string();
            }
            let Some(view) = PodView::from_pod(t, &ev.object) else {
                continue;
            };
            match ev.kind {
                EventKind::Bookmark => {}
                EventKind::Added | EventKind::Modified => {
                    if self.book.lock().upsert(t, view) {
                        self.work.notify_one();
                    }
                }
                EventKind::Deleted => {
                    let mut book = self.book.lock();
                    if book
                        .pods
                        .get(&view.key())
                        .is_some_and(|p| p.uid == view.uid)
                    {
                        book.remove(&view.key());
                    }
                }
            }
        }
        Ok(())
    }

    /// Does what one pod needs now; the error (if any) says whether to retry.
    async fn work_on(&self, key: &PodKey) -> Result<(), ApiError> {
        let t = &self.config.template;
        let (view, action) = {
            let book = self.book.lock();
            let Some(view) = book.pods.get(key) else {
                return Ok(());
            };
            let action = sim_model::decide(view, book.written_rv.get(&view.uid).copied());
            (view.clone(), action)
        };
        match action {
            PodAction::Nothing => Ok(()),
            PodAction::Delete => {
                let options = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                                     "gracePeriodSeconds": 0, "preconditions": {"uid": view.uid}});
                match self
                    .client
                    .delete(&pod_path(&view.namespace, &view.name), &options)
                    .await
                {
                    Ok(_) => {
                        self.stats.pods_deleted.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    // Gone already, or a new pod under the name: nothing of ours to finish.
                    Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
                    Err(e) => Err(e),
                }
            }
            PodAction::Start => {
                let ip = self.book.lock().ips.allocate(t, &view.uid, view.node_idx);
                let Some(pod_ip) = ip else {
                    tracing::warn!(pod = %view.name, namespace = %view.namespace, node = %t.name(view.node_idx), "no free pod address on the node; the pod stays Pending");
                    return Ok(());
                };
                let patch = sim_model::running_status(
                    &view,
                    t.node_ip(view.node_idx),
                    pod_ip,
                    SystemTime::now(),
                );
                let path = format!("{}/status", pod_path(&view.namespace, &view.name));
                match self.client.patch(&path, PatchType::Merge, &patch).await {
                    Ok(pod) => {
                        let rv = pod["metadata"]["resourceVersion"]
                            .as_str()
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(view.resource_version);
                        self.book.lock().written_rv.insert(view.uid.clone(), rv);
                        self.stats.pods_started.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    // Deleted meanwhile: the watch's DELETED event releases the address.
                    Err(e) if e.is_not_found() => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// One of `max_inflight` workers: takes a key, does its work, re-queues it with back-off
/// on a retryable error (a conflict at once: the next view decides again).
async fn pod_worker(sim: Arc<Sim>) {
    loop {
        let key = loop {
            let notified = sim.work.notified();
            if let Some(k) = {
                let mut book = sim.book.lock();
                let k = book.queue.pop_front();
                if let Some(k) = &k {
                    book.queued.remove(k);
                }
                k
            } {
                break k;
            }
            notified.await;
        };
        let Err(e) = sim.work_on(&key).await else {
            sim.book.lock().attempts.remove(&key);
            continue;
        };
        sim.stats.pod_write_errors.fetch_add(1, Ordering::Relaxed);
        let attempt = {
            let mut book = sim.book.lock();
            let a = book.attempts.entry(key.clone()).or_insert(0);
            *a += 1;
            *a
        };
        if !(e.is_retryable() || e.is_conflict()) || attempt >= MAX_POD_ATTEMPTS {
            tracing::warn!(namespace = %key.0, pod = %key.1, attempts = attempt, error = %e, "giving up on a pod until its next change");
            sim.book.lock().attempts.remove(&key);
            continue;
        }
        let delay_ms = if e.is_conflict() {
            0
        } else {
            backoff_ms(attempt - 1)
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let queued = {
                let mut book = sim.book.lock();
                book.pods.contains_key(&key) && book.enqueue(key)
            };
            if queued {
                sim.work.notify_one();
            }
        });
    }
}

/// Wakes every tick, queues the nodes whose write fell due (spread evenly over the
/// interval) and starts as many as its `max_inflight` slots allow, oldest first. A slow server
/// makes writes late, fairly (round-robin), never piled up: a node is queued at most once,
/// and one that falls due again while still queued counts as an interval missed.
async fn periodic_loop(sim: Arc<Sim>, what: Periodic) {
    let (interval_ms, n) = match what {
        Periodic::Lease => (
            sim.config.lease_renew_interval_ms,
            sim.config.template.n_nodes,
        ),
        Periodic::Status => (sim.config.status_report_ms, sim.config.template.n_nodes),
    };
    let slots = Arc::new(Semaphore::new(sim.config.max_inflight.max(1)));
    let mut due = sim_model::DueQueue::new(n);
    let start = Instant::now();
    let mut prev_ms = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now_ms = start.elapsed().as_millis() as u64;
        for idx in sim_model::due_nodes(prev_ms, now_ms, n, interval_ms)
            .into_iter()
            .flatten()
        {
            if !due.push(idx) && what == Periodic::Lease {
                sim.stats
                    .lease_intervals_missed
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        prev_ms = now_ms;
        while !due.is_empty() {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let Some(idx) = due.pop() else {
                break;
            };
            let sim = sim.clone();
            tokio::spawn(async move {
                let _permit = permit;
                sim.periodic(what, idx).await;
            });
        }
        if what == Periodic::Lease {
            sim.stats
                .lease_backlog
                .store(due.len() as u64, Ordering::Relaxed);
        }
    }
}

async fn summary_loop(sim: Arc<Sim>) {
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(SUMMARY_EVERY).await;
        let s = &sim.stats;
        let renewed = s.leases_renewed.load(Ordering::Relaxed);
        let elapsed_s = last.0.elapsed().as_secs_f64().max(0.001);
        let (pods_tracked, ips) = {
            let book = sim.book.lock();
            (book.pods.len(), book.ips.n_allocated())
        };
        tracing::info!(
            nodes_registered = s.nodes_registered.load(Ordering::Relaxed),
            leases_renewed_per_s = format!("{:.1}", (renewed - last.1) as f64 / elapsed_s),
            lease_errors = s.lease_errors.load(Ordering::Relaxed),
            lease_backlog = s.lease_backlog.load(Ordering::Relaxed),
            lease_intervals_missed = s.lease_intervals_missed.load(Ordering::Relaxed),
            heartbeats = s.heartbeats.load(Ordering::Relaxed),
            pods_tracked,
            pod_ips = ips,
            pods_started = s.pods_started.load(Ordering::Relaxed),
            pods_deleted = s.pods_deleted.load(Ordering::Relaxed),
            pod_write_errors = s.pod_write_errors.load(Ordering::Relaxed),
            "simulator"
        );
        last = (Instant::now(), renewed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim_model::Cidr;

    fn template() -> NodeTemplate {
        NodeTemplate {
            name_prefix: "sim-".into(),
            n_nodes: 4,
            zones: vec!["z".into()],
            extra_labels: vec![],
            cpu: "32".into(),
            memory: "256Gi".into(),
            max_pods: 110,
            ephemeral_storage: "100Gi".into(),
            cluster_cidr: Cidr::parse("100.64.0.0/10").unwrap(),
        }
    }

    fn view(name: &str, uid: &str, rv: u64, phase: &str, ip: Option<&str>) -> PodView {
        let t = template();
        let mut p = json!({
            "metadata": {"namespace": "ns", "name": name, "uid": uid, "resourceVersion": rv.to_string()},
            "spec": {"nodeName": "sim-1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase},
        });
        if let Some(ip) = ip {
            p["status"]["podIP"] = ip.into();
        }
        PodView::from_pod(&t, &p).unwrap()
    }

    #[test]
    fn the_book_queues_each_key_once_and_frees_addresses() {
        let t = template();
        let mut b = PodBook::default();
        assert!(b.upsert(&t, view("a", "u1", 1, "Pending", None)));
        assert!(b.upsert(&t, view("a", "u1", 2, "Pending", None)));
        assert_eq!(b.queue.len(), 1, "one entry per key");
        // Our write returned rv 3; a stale Pending view (rv 2) needs nothing, nor Running.
        b.written_rv.insert("u1".into(), 3);
        assert!(!b.upsert(&t, view("a", "u1", 2, "Pending", None)));
        assert!(!b.upsert(&t, view("a", "u1", 3, "Running", Some("100.64.1.1"))));
        assert_eq!(b.ips.n_allocated(), 1, "adopted from the status");
        // The same name with a new uid: the old address and write are forgotten.
        assert!(b.upsert(&t, view("a", "u2", 9, "Pending", None)));
        assert_eq!(b.ips.n_allocated(), 0);
        assert!(!b.written_rv.contains_key("u1"));
        b.remove(&("ns".into(), "a".into()));
        assert!(b.pods.is_empty());
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        for (attempt, lo, hi) in [
            (0, 200, 250),
            (1, 400, 500),
            (5, 6_400, 8_000),
            (30, 30_000, 37_500),
        ] {
            let d = backoff_ms(attempt);
            assert!((lo..=hi).contains(&d), "attempt {attempt}: {d}");
        }
    }
}
