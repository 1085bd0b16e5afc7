//! Berth's controllers: kube-controller-manager's jobs (ReplicaSet, Deployment,
//! EndpointSlice and Endpoints, Namespace, ServiceAccount, root CA publisher, garbage
//! collector, node IPAM, pod GC, node lifecycle, taint eviction, DaemonSet, Job and
//! TTL-after-finished) over `berth-client`. `run` acts only while
//! this process holds the controller-manager Lease: each term of leadership starts fresh
//! informers, queues and workers, writes through a client fenced to that term, and stops
//! everything the moment the term ends; the next term resyncs from scratch
//! (level-triggered).
//!
//! Each controller is a pure planning core (inputs -> plan, tested with tables) and a thin
//! shell that reads informer caches, applies the plan through the API and records events.

pub mod config;
pub mod daemonset;
pub mod deployment;
pub mod endpointslice;
pub mod error;
pub mod events;
pub mod expectations;
pub mod gc;
pub mod informers;
pub mod job;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod podgc;
pub mod replicaset;
pub mod serviceaccount;
pub mod tainteviction;
pub mod taints;
pub mod util;
pub mod workqueue;

pub use config::Config;
pub use error::ControllerError;

use berth_client::{Client, Fence, Leadership};
use events::Recorder;
use informers::SharedInformers;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use workqueue::{QueueMetrics, WorkQueue};

/// Starts the controllers; they act during every term of `leadership` until the runtime
/// stops. Errors only when the metrics cannot be registered (called twice on one registry).
pub fn run(
    client: Client,
    leadership: Leadership,
    config: Config,
    metrics: &prometheus::Registry,
) -> Result<tokio::task::JoinHandle<()>, ControllerError> {
    let queue_metrics = QueueMetrics::new(metrics)?;
    let config = Arc::new(config);
    Ok(tokio::spawn(async move {
        let mut leadership = leadership;
        loop {
            let fence = leadership.acquired().await;
            tracing::info!(
                transitions = fence.transitions,
                "controllers: leading; starting a term"
            );
            let term = start_term(&client, &leadership, &fence, &config, &queue_metrics);
            leadership.lost(&fence).await;
            tracing::info!("controllers: the term ended; stopping workers");
            term.stop();
        }
    }))
}

/// Starts every enabled controller for one term.
fn start_term(
    client: &Client,
    leadership: &Leadership,
    fence: &Fence,
    config: &Arc<Config>,
    queue_metrics: &QueueMetrics,
) -> Term {
    let mut t = Term::new(
        client,
        leadership,
        fence,
        config,
        Some(queue_metrics.clone()),
    );
    if config.enabled("replicaset") {
        replicaset::start(&mut t);
    }
    if config.enabled("deployment") {
        deployment::start(&mut t);
    }
    if config.enabled("endpointslice") {
        endpointslice::start_slices(&mut t);
    }
    if config.enabled("endpoint") {
        endpointslice::start_endpoints(&mut t);
    }
    if config.enabled("namespace") {
        namespace::start(&mut t);
    }
    if config.enabled("serviceaccount") {
        serviceaccount::start_service_accounts(&mut t);
    }
    if config.enabled("root-ca-certificate-publisher") && !config.root_ca_pem.is_empty() {
        serviceaccount::start_root_ca(&mut t);
    }
    if config.enabled("garbage-collector") {
        gc::start(&mut t);
    }
    if config.enabled("node-ipam") && config.allocate_node_cidrs {
        nodeipam::start(&mut t);
    }
    if config.enabled("pod-garbage-collector") {
        podgc::start(&mut t);
    }
    if config.enabled("nodelifecycle") {
        nodelifecycle::start(&mut t);
    }
    if config.enabled("taint-eviction-controller") {
        tainteviction::start(&mut t);
    }
    if config.enabled("daemonset") {
        daemonset::start(&mut t);
    }
    if config.enabled("job") {
        job::start(&mut t);
    }
    t.start_housekeeping();
    t
}

/// One term of leadership: what every controller needs, and every task it started
/// (dropping the term aborts them all).
pub struct Term {
    /// Writes: fenced to this term.
    pub client: Client,
    pub informers: Arc<SharedInformers>,
    pub config: Arc<Config>,
    pub recorder: Recorder,
    fence: Fence,
    leadership: Leadership,
    queue_metrics: Option<QueueMetrics>,
    queues: Vec<Arc<WorkQueue>>,
    tasks: JoinSet<()>,
}

impl Term {
    pub fn new(
        client: &Client,
        leadership: &Leadership,
        fence: &Fence,
        config: &Arc<Config>,
        queue_metrics: Option<QueueMetrics>,
    ) -> Term {
        let mut tasks = JoinSet::new();
        let fenced = client.fenced(fence);
        let recorder = events::start(fenced.clone(), &mut tasks);
        Term {
            client: fenced,
            informers: Arc::new(SharedInformers::new(client.clone(), config.informer_buffer)),
            config: config.clone(),
            recorder,
            fence: fence.clone(),
            leadership: leadership.clone(),
            queue_metrics,
            queues: Vec::new(),
            tasks,
        }
    }

    /// A new queue named as client-go names the controller's queue.
    pub fn queue(&mut self, name: &str) -> Arc<WorkQueue> {
        let q = Arc::new(WorkQueue::new(name, self.queue_metrics.clone()));
        self.queues.push(q.clone());
        q
    }

    /// `n` workers taking keys from `queue`, once every informer has synced. A failed sync
    /// is retried with the queue's backoff; a fenced write ends the worker (the term is
    /// over).
    pub fn spawn_workers<F, Fut>(&mut self, queue: &Arc<WorkQueue>, n: usize, sync: F)
    where
        F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ControllerError>> + Send + 'static,
    {
        for _ in 0..n.max(1) {
            let q = queue.clone();
            let sync = sync.clone();
            let informers = self.informers.clone();
            let leadership = self.leadership.clone();
            let fence = self.fence.clone();
            self.tasks.spawn(async move {
                informers.wait_synced().await;
                while let Some(key) = q.get().await {
                    if leadership.current().as_ref() != Some(&fence) {
                        q.done(&key);
                        return;
                    }
                    match sync(key.clone()).await {
                        Ok(()) => q.forget(&key),
                        Err(e) if e.is_fenced() => {
                            tracing::warn!(queue = q.name(), key, "write refused: the controller manager's lease has moved on; this term's workers stop");
                            q.done(&key);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(queue = q.name(), key, error = %e, "sync failed; will retry");
                            q.add_rate_limited(&key);
                        }
                    }
                    q.done(&key);
                }
            });
        }
    }

    /// Re-queues every key `keys` names each `min_resync_period`.
    pub fn resync(
        &mut self,
        queue: &Arc<WorkQueue>,
        keys: impl Fn() -> Vec<String> + Send + Sync + 'static,
    ) {
        let q = queue.clone();
        let period = self.config.min_resync_period;
        self.tasks.spawn(async move {
            loop {
                // Jitter as client-go's resync: [period, 2 * period).
                let jitter = period.mul_f64(rand::random::<f64>());
                tokio::time::sleep(period + jitter).await;
                for k in keys() {
                    q.add(&k);
                }
            }
        });
    }

    /// Runs a periodic loop (node monitor, pod GC) once the informers have synced.
    pub fn spawn_periodic<F, Fut>(&mut self, name: &'static str, period: Duration, f: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ControllerError>> + Send + 'static,
    {
        let informers = self.informers.clone();
        let leadership = self.leadership.clone();
        let fence = self.fence.clone();
        self.tasks.spawn(async move {
            informers.wait_synced().await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if leadership.current().as_ref() != Some(&fence) {
                    return;
                }
                if let Err(e) = f().await {
                    if e.is_fenced() {
                        return;
                    }
                    tracing::warn!(controller = name, error = %e, "periodic pass failed");
                }
            }
        });
    }

    /// Any other task of the term.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&mut self, f: F) {
        self.tasks.spawn(f);
    }

    fn start_housekeeping(&mut self) {
        let queues = self.queues.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                for q in &queues {
                    q.update_unfinished_work();
                }
            }
        });
    }

    /// Ends the term: queues stop handing out keys and every task is aborted.
    pub fn stop(mut self) {
        for q in &self.queues {
            q.shutdown();
        }
        self.tasks.abort_all();
    }
}
