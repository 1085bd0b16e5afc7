//! The scheduler's shell: informers on pods and nodes feed the core's `Cache` and
//! `SchedulingQueue` on every replica (warm for a fast failover); while this replica holds
//! the `kube-system/kube-scheduler` Lease, one loop pops a pod, runs `schedule_one`, assumes
//! the result and hands the bind to a task (binds run in parallel, as kube-scheduler's
//! binding cycles do). Every write (binding, preemption, status, events) goes through the
//! client fenced with the current term, so a deposed scheduler's writes are refused by the
//! store. Metrics under kube-scheduler's names.

use crate::{
    pod_key, preempt, schedule_one, Cache, Error, QueueConfig, QueuedPod, SchedulerConfig,
    SchedulerState, SchedulingQueue, Snapshot,
};
use berth_client::events::{self, ObjectRef, Recorder};
use berth_client::informer::{self, Event, WatchSpec};
use berth_client::leader::micro_time;
use berth_client::{Client, ClientError, Leadership, Resource};
use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, Semaphore};

/// The shell's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Pods whose spec.schedulerName is this are ours (`default-scheduler`).
    pub scheduler_name: String,
    /// Binds in flight at once.
    pub parallel_binds: usize,
    pub algorithm: SchedulerConfig,
    pub queue: QueueConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            scheduler_name: "default-scheduler".into(),
            parallel_binds: 128,
            algorithm: SchedulerConfig::default(),
            queue: QueueConfig::default(),
        }
    }
}

/// kube-scheduler's metrics.
#[derive(Clone)]
pub struct Metrics {
    attempts: IntCounterVec,
    attempt_duration: HistogramVec,
    pending: IntGaugeVec,
    sli: HistogramVec,
}

impl Metrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Metrics> {
        let attempts = IntCounterVec::new(
            Opts::new("scheduler_schedule_attempts_total", "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem."),
            &["result", "profile"],
        )?;
        let attempt_duration = HistogramVec::new(
            HistogramOpts::new(
                "scheduler_scheduling_attempt_duration_seconds",
                "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            )
            .buckets(prometheus::exponential_buckets(0.001, 2.0, 15)?),
            &["result", "profile"],
        )?;
        let pending = IntGaugeVec::new(
            Opts::new("scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated."),
            &["queue"],
        )?;
        let sli = HistogramVec::new(
            HistogramOpts::new("scheduler_pod_scheduling_sli_duration_seconds", "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.")
                .buckets(prometheus::exponential_buckets(0.01, 2.0, 20)?),
            &["attempts"],
        )?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(attempt_duration.clone()))?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(sli.clone()))?;
        Ok(Metrics {
            attempts,
            attempt_duration,
            pending,
            sli,
        })
    }
}

/// What the informers feed and the scheduling loop reads.
struct Inner {
    cache: Cache,
    queue: SchedulingQueue,
    /// When each pending pod first entered the queue (for the SLI).
    first_queued: HashMap<String, Instant>,
    pods_synced: bool,
    nodes_synced: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    config: Config,
    metrics: Metrics,
}

impl Shared {
    fn publish_lengths(&self, inner: &Inner) {
        let l = inner.queue.lengths();
        for (q, n) in [
            ("active", l.active),
            ("backoff", l.backoff),
            ("unschedulable", l.unschedulable),
            ("gated", l.gated),
        ] {
            self.metrics.pending.with_label_values(&[q]).set(n as i64);
        }
    }
}

fn is_ours(pod: &Pod, name: &str) -> bool {
    let spec = pod.spec.as_ref();
    let scheduler = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or("default-scheduler");
    scheduler == name
}

fn unassigned(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_none_or(str::is_empty)
}

fn pending_for_us(pod: &Pod, name: &str) -> bool {
    unassigned(pod)
        && is_ours(pod, name)
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

/// `source.component` of the scheduler's events (the default profile's name).
const COMPONENT: &str = "default-scheduler";

fn pod_ref(pod: &Pod) -> ObjectRef {
    ObjectRef::of(pod)
}

/// Runs the scheduler until the runtime stops: informers always, scheduling while leading.
pub async fn run(
    client: Client,
    mut leadership: Leadership,
    identity: String,
    config: Config,
    metrics: Metrics,
) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            cache: Cache::new(),
            queue: SchedulingQueue::new(config.queue.clone()),
            first_queued: HashMap::new(),
            pods_synced: false,
            nodes_synced: false,
        }),
        wake: Notify::new(),
        config,
        metrics,
    });
    let (_, pods) = informer::spawn::<Pod>(
        client.clone(),
        WatchSpec {
            resource: Resource::PODS,
            namespace: String::new(),
            // kube-scheduler's informer skips terminal pods.
            query: "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed".into(),
        },
        4096,
    );
    let (_, nodes) = informer::spawn::<Node>(
        client.clone(),
        WatchSpec {
            resource: Resource::NODES,
            namespace: String::new(),
            query: String::new(),
        },
        4096,
    );
    tokio::spawn(feed(shared.clone(), pods, nodes));
    let mut state = SchedulerState::new(rand::random());
    let mut snapshot = Snapshot::new();
    loop {
        let fence = leadership.acquired().await;
        tracing::info!(identity = %identity, "scheduler: leading; scheduling");
        let fenced = client.fenced(&fence);
        // Events go through this term's fenced client; the writer ends with the term.
        let mut event_tasks = tokio::task::JoinSet::new();
        let recorder = events::start(fenced.clone(), &mut event_tasks).with_component(COMPONENT);
        let binds = Arc::new(Semaphore::new(shared.config.parallel_binds.max(1)));
        let mut lost = leadership.clone();
        let lost_fut = lost.lost(&fence);
        tokio::pin!(lost_fut);
        loop {
            if leadership.current().as_ref() != Some(&fence) {
                break;
            }
            let (popped, wakeup) = {
                let mut g = shared.inner.lock();
                let now = Instant::now();
                let ready = g.pods_synced && g.nodes_synced;
                g.queue.flush(now);
                let p = if ready { g.queue.pop(now) } else { None };
                let w = g.queue.next_wakeup(now);
                shared.publish_lengths(&g);
                (p, w)
            };
            match popped {
                Some(qp) => {
                    cycle(
                        &shared,
                        &fenced,
                        &recorder,
                        &binds,
                        &mut state,
                        &mut snapshot,
                        qp,
                    )
                    .await;
                }
                None => {
                    let sleep = wakeup
                        .map(|w| w.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::from_secs(1))
                        .max(Duration::from_millis(1));
                    tokio::select! {
                        _ = shared.wake.notified() => {}
                        _ = tokio::time::sleep(sleep) => {}
                        _ = &mut lost_fut => break,
                    }
                }
            }
        }
        tracing::warn!(identity = %identity, "scheduler: no longer leading; stopped scheduling");
    }
}

/// Applies informer events to the cache and the queue.
async fn feed(
    shared: Arc<Shared>,
    mut pods: tokio::sync::mpsc::Receiver<Event<Pod>>,
    mut nodes: tokio::sync::mpsc::Receiver<Event<Node>>,
) {
    let name = shared.config.scheduler_name.clone();
    loop {
        tokio::select! {
            ev = pods.recv() => {
                let Some(ev) = ev else { return };
                let mut g = shared.inner.lock();
                let now = Instant::now();
                match ev {
                    Event::Applied(pod) => {
                        let key = pod_key(&pod);
                        if !unassigned(&pod) {
                            g.cache.add_pod(pod.clone());
                            g.queue.update(pod, now);
                            g.first_queued.remove(&key);
                        } else if pending_for_us(&pod, &name) {
                            // An assumed pod's bind is in flight: its unbound versions are old.
                            if !g.cache.is_assumed(&key) {
                                g.first_queued.entry(key).or_insert(now);
                                g.queue.update(pod, now);
                            }
                        } else {
                            g.queue.delete(&key);
                            g.first_queued.remove(&key);
                        }
                    }
                    Event::Deleted(pod) => {
                        let key = pod_key(&pod);
                        g.cache.remove_pod(&pod);
                        g.queue.delete(&key);
                        g.first_queued.remove(&key);
                        if !unassigned(&pod) {
                            g.queue.move_all_on_event(now);
                        }
                    }
                    Event::Synced => g.pods_synced = true,
                }
                shared.publish_lengths(&g);
            }
            ev = nodes.recv() => {
                let Some(ev) = ev else { return };
                let mut g = shared.inner.lock();
                let now = Instant::now();
                match ev {
                    Event::Applied(node) => {
                        g.cache.add_node(node);
                        g.queue.move_all_on_event(now);
                    }
                    Event::Deleted(node) => {
                        g.cache.remove_node(node.metadata.name.as_deref().unwrap_or(""));
                    }
                    Event::Synced => g.nodes_synced = true,
                }
            }
        }
        shared.wake.notify_one();
    }
}

/// One scheduling cycle for one pod.
#[allow(clippy::too_many_arguments)]
async fn cycle(
    shared: &Arc<Shared>,
    fenced: &Client,
    recorder: &Recorder,
    binds: &Arc<Semaphore>,
    state: &mut SchedulerState,
    snapshot: &mut Snapshot,
    qp: QueuedPod,
) {
    let started = Instant::now();
    let profile = shared.config.scheduler_name.clone();
    let pod = qp.pod.clone();
    let key = pod_key(&pod);
    let outcome = {
        let mut g = shared.inner.lock();
        g.cache.update_snapshot(snapshot);
        let r = schedule_one(&pod, snapshot, state, &shared.config.algorithm);
        match r {
            Ok(res) => match g.cache.assume(pod.clone(), &res.node_name) {
                Ok(()) => {
                    g.queue.done(&key);
                    Ok(res.node_name)
                }
                Err(e) => {
                    g.queue.add_backoff(qp.clone(), Instant::now());
                    Err((Error::clone(&e), None))
                }
            },
            Err(Error::Unschedulable(fit)) => {
                let preemptable = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.preemption_policy.as_deref())
                    != Some("Never");
                let p = if preemptable {
                    Some(preempt(&pod, snapshot, state))
                } else {
                    None
                };
                g.queue.add_unschedulable(qp.clone(), Instant::now());
                Err((Error::Unschedulable(fit), p))
            }
            Err(other) => {
                g.queue.add_backoff(qp.clone(), Instant::now());
                Err((other, None))
            }
        }
    };
    let m = &shared.metrics;
    match outcome {
        Ok(node) => {
            // Wait for a bind slot here, so the loop never runs ahead of the binds.
            let Ok(permit) = binds.clone().acquire_owned().await else {
                return;
            };
            let shared = shared.clone();
            let fenced = fenced.clone();
            let recorder = recorder.clone();
            let attempts = qp.attempts;
            tokio::spawn(async move {
                let result = bind(&fenced, &pod, &node).await;
                drop(permit);
                let m = &shared.metrics;
                let mut g = shared.inner.lock();
                match result {
                    Ok(()) => {
                        let _ = g.cache.confirm(&key);
                        if let Some(t) = g.first_queued.remove(&key) {
                            m.sli
                                .with_label_values(&[&attempts.to_string()])
                                .observe(t.elapsed().as_secs_f64());
                        }
                        drop(g);
                        m.attempts.with_label_values(&["scheduled", &profile]).inc();
                        m.attempt_duration
                            .with_label_values(&["scheduled", &profile])
                            .observe(started.elapsed().as_secs_f64());
                        let r = pod_ref(&pod);
                        let message =
                            format!("Successfully assigned {}/{} to {node}", r.namespace, r.name);
                        recorder.normal(r, "Scheduled", message);
                    }
                    Err(e) => {
                        let _ = g.cache.forget(&key);
                        m.attempts.with_label_values(&["error", &profile]).inc();
                        m.attempt_duration
                            .with_label_values(&["error", &profile])
                            .observe(started.elapsed().as_secs_f64());
                        if e.is_not_found() || e.is_fenced() {
                            // The pod is gone, or this term is over: nothing to retry here.
                            if e.is_fenced() {
                                tracing::warn!(pod = %key, error = %e, "bind refused: the scheduler's lease has moved on");
                            }
                        } else if e.is_conflict() {
                            // Already bound (by an earlier term, or another scheduler): the
                            // watch brings the bound pod.
                            tracing::debug!(pod = %key, error = %e, "bind conflict");
                        } else {
                            tracing::warn!(pod = %key, node = %node, error = %e, "bind failed; retrying after backoff");
                            g.queue.add_backoff(
                                QueuedPod {
                                    pod: pod.clone(),
                                    attempts,
                                    cycle: 0,
                                },
                                Instant::now(),
                            );
                        }
                        drop(g);
                        shared.wake.notify_one();
                    }
                }
            });
        }
        Err((Error::Unschedulable(fit), preemption)) => {
            m.attempts
                .with_label_values(&["unschedulable", &profile])
                .inc();
            m.attempt_duration
                .with_label_values(&["unschedulable", &profile])
                .observe(started.elapsed().as_secs_f64());
            let message = match &preemption {
                Some(Err(failure)) => fit.message_with_preemption(failure),
                _ => fit.to_string(),
            };
            if let Some(Ok(candidate)) = preemption {
                let fenced = fenced.clone();
                let pod = pod.clone();
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    preempt_victims(&fenced, &recorder, &pod, candidate).await;
                });
            }
            let r = pod_ref(&pod);
            recorder.warning(r.clone(), "FailedScheduling", message.clone());
            let fenced = fenced.clone();
            tokio::spawn(async move {
                let patch = json!({"status": {"conditions": [{
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": null,
                    "lastTransitionTime": format!("{}Z", &micro_time(SystemTime::now())[..19]),
                }]}});
                let res: Result<Value, ClientError> = fenced
                    .patch(
                        &Resource::PODS,
                        &r.namespace,
                        &r.name,
                        Some("status"),
                        berth_client::api::PatchType::Strategic,
                        &patch,
                    )
                    .await;
                if let Err(e) = res {
                    tracing::debug!(pod = %format!("{}/{}", r.namespace, r.name), error = %e, "failed to set PodScheduled=False");
                }
            });
        }
        Err((e, _)) => {
            m.attempts.with_label_values(&["error", &profile]).inc();
            m.attempt_duration
                .with_label_values(&["error", &profile])
                .observe(started.elapsed().as_secs_f64());
            tracing::debug!(pod = %key, error = %e, "scheduling attempt failed");
            recorder.warning(pod_ref(&pod), "FailedScheduling", e.to_string());
        }
    }
}

/// POST pods/{name}/binding, through the fenced client.
async fn bind(client: &Client, pod: &Pod, node: &str) -> Result<(), ClientError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    #[allow(unused_mut)]
    let mut client = client.clone();
    #[cfg(feature = "failpoints")]
    {
        if let Some(Some(ms)) = fail::eval("scheduler::before-bind", |arg| {
            arg.and_then(|a| a.parse::<u64>().ok())
        }) {
            tracing::warn!(pod = %format!("{ns}/{name}"), ms, "failpoint scheduler::before-bind: stalling");
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if fail::eval("scheduler::unfenced-bind", |_| ()).is_some() {
            client = Client::new(client.transport().clone());
        }
    }
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let _: Value = client
        .create_sub(&Resource::PODS, ns, name, "binding", &binding)
        .await?;
    Ok(())
}

/// Preemption's writes: each victim deleted (uid precondition) with a `Preempted` event,
/// then the preemptor's status.nominatedNodeName.
async fn preempt_victims(
    client: &Client,
    recorder: &Recorder,
    pod: &Pod,
    candidate: crate::Candidate,
) {
    let preemptor_uid = pod.metadata.uid.clone().unwrap_or_default();
    for v in &candidate.victims {
        let opts = json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": v.uid},
        });
        match client
            .delete(&Resource::PODS, &v.namespace, &v.name, &opts)
            .await
        {
            Ok(_) => recorder.normal(
                ObjectRef {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    namespace: v.namespace.clone(),
                    name: v.name.clone(),
                    uid: v.uid.clone(),
                    resource_version: String::new(),
                },
                "Preempted",
                format!(
                    "Preempted by pod {preemptor_uid} on node {}",
                    candidate.node_name
                ),
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                tracing::warn!(victim = %format!("{}/{}", v.namespace, v.name), error = %e, "preemption: failed to delete a victim");
                return;
            }
        }
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let patch = json!({"status": {"nominatedNodeName": candidate.node_name}});
    let r: Result<Value, ClientError> = client
        .patch(
            &Resource::PODS,
            ns,
            name,
            Some("status"),
            berth_client::api::PatchType::Merge,
            &patch,
        )
        .await;
    if let Err(e) = r {
        tracing::debug!(pod = %format!("{ns}/{name}"), error = %e, "preemption: failed to set nominatedNodeName");
    }
}
