//! One chaos run, the thin shell around the pure parts: start the cluster, run the
//! workloads, execute the nemesis schedule, heal, let the cluster recover in a quiet phase,
//! take final reads and HashKV, check the history and write the results.

use crate::check::{check_all, CheckConfig, Verdicts};
use crate::cluster::{Cluster, ClusterConfig, ClusterError};
use crate::history::{operations, Record, Recorder};
use crate::nemesis::{self, Action, Class, Fault, Step, Target};
use crate::netns;
use crate::workload::{self, Shared, Tls, WorkloadConfig};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub n_nodes: usize,
    pub classes: Vec<Class>,
    /// Length of the faulty phase.
    pub time_s: u64,
    /// Length of the quiet phase after the faults heal (the workload goes on).
    pub quiet_s: u64,
    pub seed: u64,
    /// The `control-plane` binary (a `failpoints` build for the disk class).
    pub binary: PathBuf,
    pub results_dir: PathBuf,
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    pub n_keys: usize,
    pub register_workers_per_node: usize,
    pub lease_workers: usize,
    pub lease_ttl_s: i64,
    pub op_timeout_ms: u64,
    pub snapshot_count: Option<u64>,
    /// Keep the replicas' data dirs after the run.
    pub keep_data: bool,
}

impl RunConfig {
    /// Defaults for `n_nodes` replicas running `time_s` seconds of faults.
    pub fn new(
        n_nodes: usize,
        classes: Vec<Class>,
        time_s: u64,
        seed: u64,
        binary: PathBuf,
        results_dir: PathBuf,
    ) -> RunConfig {
        RunConfig {
            n_nodes,
            classes,
            time_s,
            quiet_s: 10,
            seed,
            binary,
            results_dir,
            heartbeat_ms: 100,
            election_ms: 1_000,
            n_keys: 6,
            register_workers_per_node: 2,
            lease_workers: 2,
            lease_ttl_s: 3,
            op_timeout_ms: 1_500,
            snapshot_count: Some(2_000),
            keep_data: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the cluster did not become healthy: {0}")]
    NotHealthy(String),
}

/// A fault as executed: what it hit, when.
#[derive(Clone, Debug)]
pub struct FaultLog {
    pub class: Class,
    pub description: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
}

pub struct RunOutcome {
    pub config: RunConfig,
    pub verdicts: Verdicts,
    pub records: Vec<Record>,
    pub faults: Vec<FaultLog>,
    pub schedule: Vec<Step>,
    pub summary: String,
    /// The run's bridge; its namespaces are `<bridge>-n<i>` (all removed by now).
    pub network: String,
}

impl RunOutcome {
    pub fn ok(&self) -> bool {
        self.verdicts.ok()
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a heal must undo.
enum Active {
    Partition,
    Killed(Vec<usize>),
    Paused(Vec<usize>),
    Removed(usize),
    Disk(usize),
}

struct Executor<'a> {
    cluster: &'a mut Cluster,
    rt: &'a tokio::runtime::Runtime,
    shared: Arc<Shared>,
    recorder: Arc<Recorder>,
    active: Vec<Active>,
    faults: Vec<FaultLog>,
    /// Replicas expected to possibly crash (failing disk).
    may_crash: Vec<usize>,
    crashes: Vec<String>,
    seed: u64,
    step_idx: u64,
}

impl Executor<'_> {
    fn note(&mut self, class: Class, start: bool, description: String) {
        let t = self.recorder.now_ns();
        self.recorder.push(Record::Fault {
            t_ns: t,
            start,
            class: class.name().into(),
            description: description.clone(),
        });
        if start {
            self.faults.push(FaultLog {
                class,
                description,
                start_ns: t,
                end_ns: None,
            });
        } else if let Some(f) = self.faults.last_mut().filter(|f| f.end_ns.is_none()) {
            f.end_ns = Some(t);
            f.description = format!("{}; {}", f.description, description);
        }
    }

    fn leader_or_random(&self) -> usize {
        let leader = *self.shared.leader.lock().unwrap_or_else(|e| e.into_inner());
        leader.unwrap_or(((self.seed ^ self.step_idx) % self.cluster.len() as u64) as usize)
    }

    fn resolve(&self, t: &Target) -> Vec<usize> {
        match t {
            Target::Leader => vec![self.leader_or_random()],
            Target::Nodes(v) => v.clone(),
        }
    }

    fn names(&self, v: &[usize]) -> String {
        v.iter()
            .map(|&i| self.cluster.name(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn start(&mut self, fault: &Fault) {
        let class = fault.class();
        let desc = match self.try_start(fault) {
            Ok(d) => d,
            Err(e) => format!("{fault:?} failed: {e}"),
        };
        self.note(class, true, desc);
    }

    fn try_start(&mut self, fault: &Fault) -> Result<String, String> {
        let n = self.cluster.len();
        match fault {
            Fault::Partition { name, groups } => {
                self.cluster
                    .net
                    .partition(&netns::blocked_by_groups(n, groups))
                    .map_err(|e| e.to_string())?;
                self.active.push(Active::Partition);
                let g: Vec<String> = groups
                    .iter()
                    .map(|g| format!("[{}]", self.names(g)))
                    .collect();
                Ok(format!("partition ({name}) {}", g.join(" ")))
            }
            Fault::IsolateLeader => {
                let l = self.leader_or_random();
                let rest: Vec<usize> = (0..n).filter(|&i| i != l).collect();
                self.cluster
                    .net
                    .partition(&netns::blocked_by_groups(n, &[rest]))
                    .map_err(|e| e.to_string())?;
                self.active.push(Active::Partition);
                Ok(format!(
                    "partition isolating the leader {}",
                    self.cluster.name(l)
                ))
            }
            Fault::Kill { target } => {
                let nodes = self.resolve(target);
                for &i in &nodes {
                    self.cluster.kill(i);
                }
                self.active.push(Active::Killed(nodes.clone()));
                Ok(format!(
                    "kill -9 {}{}",
                    self.names(&nodes),
                    if *target == Target::Leader {
                        " (leader)"
                    } else {
                        ""
                    }
                ))
            }
            Fault::Pause { target } => {
                let nodes = self.resolve(target);
                for &i in &nodes {
                    self.cluster.pause(i);
                }
                self.active.push(Active::Paused(nodes.clone()));
                Ok(format!(
                    "SIGSTOP {}{}",
                    self.names(&nodes),
                    if *target == Target::Leader {
                        " (leader)"
                    } else {
                        ""
                    }
                ))
            }
            Fault::Membership { node } => {
                let node = *node;
                let peer = self.cluster.peer_url(node);
                let others: Vec<String> = (0..n)
                    .filter(|&i| i != node)
                    .map(|i| self.cluster.client_url(i))
                    .collect();
                let tls = self.shared.tls.clone();
                self.rt.block_on(async move {
                    let mut c = etcd_client::Client::connect(
                        others,
                        Some(tls.options(Duration::from_secs(3))),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    let deadline = Instant::now() + Duration::from_secs(10);
                    loop {
                        let list = c.member_list().await.map_err(|e| e.to_string());
                        let res = match list {
                            Ok(l) => {
                                match l.members().iter().find(|m| m.peer_urls().contains(&peer)) {
                                    None => return Ok::<(), String>(()),
                                    Some(m) => c
                                        .member_remove(m.id())
                                        .await
                                        .map(|_| ())
                                        .map_err(|e| e.to_string()),
                                }
                            }
                            Err(e) => Err(e),
                        };
                        match res {
                            Ok(()) => return Ok(()),
                            Err(e) if Instant::now() > deadline => {
                                return Err(format!("member remove: {e}"))
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                        }
                    }
                })?;
                self.cluster.kill(node);
                self.cluster.wipe(node).map_err(|e| e.to_string())?;
                self.active.push(Active::Removed(node));
                Ok(format!(
                    "member remove {} and wipe its data",
                    self.cluster.name(node)
                ))
            }
            Fault::Compaction { defrag } => {
                let rev = self.shared.min_watcher_covered();
                let endpoints = self.cluster.client_urls();
                let tls = self.shared.tls.clone();
                let defrag_eps: Vec<String> =
                    defrag.iter().map(|&i| self.cluster.client_url(i)).collect();
                let res = self.rt.block_on(async move {
                    let mut out = Vec::new();
                    if rev > 1 {
                        let mut c = etcd_client::Client::connect(
                            endpoints,
                            Some(tls.options(Duration::from_secs(3))),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                        match c.compact(rev, None).await {
                            Ok(_) => out.push(format!("compact at revision {rev}")),
                            Err(e) => out.push(format!("compact at revision {rev} failed: {e}")),
                        }
                    }
                    for ep in defrag_eps {
                        if let Ok(mut c) = etcd_client::Client::connect(
                            [ep.clone()],
                            Some(tls.options(Duration::from_secs(5))),
                        )
                        .await
                        {
                            match c.defragment().await {
                                Ok(_) => out.push(format!("defragment {ep}")),
                                Err(e) => out.push(format!("defragment {ep} failed: {e}")),
                            }
                        }
                    }
                    Ok::<_, String>(out.join(", "))
                })?;
                Ok(res)
            }
            Fault::Disk { node, failing } => {
                let node = *node;
                self.cluster.kill(node);
                self.cluster
                    .spawn(node, Some(nemesis::failpoints(*failing)))
                    .map_err(|e| e.to_string())?;
                if *failing {
                    self.may_crash.push(node);
                }
                self.active.push(Active::Disk(node));
                Ok(format!(
                    "{} disk on {} ({})",
                    if *failing { "failing" } else { "slow" },
                    self.cluster.name(node),
                    nemesis::failpoints(*failing)
                ))
            }
        }
    }

    fn heal(&mut self) {
        let mut done = Vec::new();
        while let Some(a) = self.active.pop() {
            let r = match a {
                Active::Partition => self
                    .cluster
                    .net
                    .heal()
                    .map(|_| "network healed".to_string())
                    .map_err(|e| e.to_string()),
                Active::Killed(nodes) => nodes
                    .iter()
                    .try_for_each(|&i| self.cluster.spawn(i, None))
                    .map(|_| format!("restarted {}", self.names(&nodes)))
                    .map_err(|e| e.to_string()),
                Active::Paused(nodes) => {
                    nodes.iter().for_each(|&i| self.cluster.resume(i));
                    Ok(format!("SIGCONT {}", self.names(&nodes)))
                }
                Active::Removed(node) => self.readd(node),
                Active::Disk(node) => {
                    self.cluster.kill(node);
                    self.may_crash.retain(|&n| n != node);
                    self.cluster
                        .spawn(node, None)
                        .map(|_| {
                            format!("restarted {} without failpoints", self.cluster.name(node))
                        })
                        .map_err(|e| e.to_string())
                }
            };
            done.push(r.unwrap_or_else(|e| format!("heal failed: {e}")));
        }
        if !done.is_empty() {
            let class = self
                .faults
                .last()
                .map(|f| f.class)
                .unwrap_or(Class::Partition);
            self.note(class, false, done.join(", "));
        }
    }

    /// Re-adds a removed member with an empty data dir and starts it as `existing`.
    fn readd(&mut self, node: usize) -> Result<String, String> {
        let n = self.cluster.len();
        let peer = self.cluster.peer_url(node);
        let name = self.cluster.name(node).to_string();
        let others: Vec<String> = (0..n)
            .filter(|&i| i != node)
            .map(|i| self.cluster.client_url(i))
            .collect();
        let tls = self.shared.tls.clone();
        let names: Vec<(String, String)> = (0..n)
            .map(|i| (self.cluster.peer_url(i), self.cluster.name(i).to_string()))
            .collect();
        let initial = self.rt.block_on(async move {
            let mut c =
                etcd_client::Client::connect(others, Some(tls.options(Duration::from_secs(3))))
                    .await
                    .map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                // Add unless a previous, unanswered attempt already did.
                let listed = c
                    .member_list()
                    .await
                    .map(|l| l.members().iter().any(|m| m.peer_urls().contains(&peer)))
                    .unwrap_or(false);
                let res = if listed {
                    Ok(())
                } else {
                    c.member_add([peer.clone()], None)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                if res.is_ok() {
                    if let Ok(l) = c.member_list().await {
                        let parts: Vec<String> = l
                            .members()
                            .iter()
                            .flat_map(|m| {
                                let mname = if m.name().is_empty() {
                                    names
                                        .iter()
                                        .find(|(p, _)| m.peer_urls().contains(p))
                                        .map(|(_, nm)| nm.clone())
                                        .unwrap_or_default()
                                } else {
                                    m.name().to_string()
                                };
                                m.peer_urls()
                                    .iter()
                                    .map(move |u| format!("{mname}={u}"))
                                    .collect::<Vec<_>>()
                            })
                            .collect();
                        return Ok::<String, String>(parts.join(","));
                    }
                }
                if Instant::now() > deadline {
                    return Err(format!("member add: {res:?}"));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })?;
        self.cluster.set_joining(node, initial.clone());
        self.cluster.spawn(node, None).map_err(|e| e.to_string())?;
        Ok(format!("member add {name} (initial cluster {initial})"))
    }

    /// Notices replicas that exited on their own, records them and restarts them.
    fn reap_crashes(&mut self) {
        for i in 0..self.cluster.len() {
            if let Some(status) = self.cluster.exited(i) {
                let expected = self.may_crash.contains(&i);
                let msg = format!(
                    "{} exited on its own ({status}){}",
                    self.cluster.name(i),
                    if expected {
                        " under a failing disk"
                    } else {
                        ""
                    }
                );
                let t = self.recorder.now_ns();
                self.recorder.push(Record::Fault {
                    t_ns: t,
                    start: false,
                    class: "crash".into(),
                    description: msg.clone(),
                });
                if !expected {
                    self.crashes.push(format!(
                        "{msg}; last log lines:\n{}",
                        self.cluster.log_tail(i, 8)
                    ));
                }
                // Under a failing disk it comes back at the heal; otherwise now.
                if !expected {
                    let _ = self.cluster.spawn(i, None);
                }
            }
        }
    }

    /// Sleeps until `until`, watching for crashes.
    fn sleep_until(&mut self, until: Instant) {
        while Instant::now() < until {
            self.reap_crashes();
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}

/// Waits until every replica serves a linearizable read.
pub async fn wait_healthy(shared: &Shared, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    for i in 0..shared.endpoints.len() {
        loop {
            let ok = match shared.client(i).await {
                Some(mut c) => matches!(
                    tokio::time::timeout(Duration::from_secs(2), c.get("health-probe", None)).await,
                    Ok(Ok(_))
                ),
                None => false,
            };
            if ok {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "replica {i} did not serve a linearizable read within {timeout:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Runs one chaos run and checks it. Call from a thread that lives for the whole run (the
/// replicas die with the thread that started them).
pub fn run(cfg: RunConfig) -> Result<RunOutcome, RunError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&cfg.results_dir)
        .map_err(io(format!("create {}", cfg.results_dir.display())))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("chaos")
        .build()
        .map_err(io("start the async runtime"))?;
    netns::install_cleanup_handlers(&rt);
    let schedule = nemesis::schedule(cfg.seed, &cfg.classes, cfg.n_nodes, cfg.time_s * 1_000);
    std::fs::write(
        cfg.results_dir.join("schedule.json"),
        serde_json::to_string_pretty(&schedule).unwrap_or_default(),
    )
    .map_err(io("write schedule.json"))?;

    let cluster_dir = cfg.results_dir.join("cluster");
    let _ = std::fs::remove_dir_all(&cluster_dir);
    std::fs::create_dir_all(&cluster_dir)
        .map_err(io(format!("create {}", cluster_dir.display())))?;
    let mut cluster = Cluster::start(ClusterConfig {
        n_nodes: cfg.n_nodes,
        binary: cfg.binary.clone(),
        dir: cluster_dir.clone(),
        heartbeat_ms: cfg.heartbeat_ms,
        election_ms: cfg.election_ms,
        snapshot_count: cfg.snapshot_count,
    })?;
    let recorder = Arc::new(
        Recorder::new(Some(&cfg.results_dir.join("history.jsonl"))).map_err(|e| RunError::Io {
            what: e.to_string(),
            source: std::io::Error::other("history"),
        })?,
    );
    let tls = Tls::load(cluster.certs_dir()).map_err(io("read the client certificates"))?;
    let wcfg = WorkloadConfig {
        seed: cfg.seed,
        n_nodes: cfg.n_nodes,
        n_keys: cfg.n_keys,
        register_workers_per_node: cfg.register_workers_per_node,
        lease_workers: cfg.lease_workers,
        lease_ttl_s: cfg.lease_ttl_s,
        op_timeout_ms: cfg.op_timeout_ms,
        think_ms: 5,
    };
    let shared = Arc::new(Shared::new(
        wcfg,
        recorder.clone(),
        cluster.client_urls(),
        tls,
    ));
    if let Err(e) = rt.block_on(wait_healthy(&shared, Duration::from_secs(40))) {
        let logs: Vec<String> = (0..cluster.len())
            .map(|i| format!("--- {}:\n{}", cluster.name(i), cluster.log_tail(i, 10)))
            .collect();
        return Err(RunError::NotHealthy(format!("{e}\n{}", logs.join("\n"))));
    }

    // Watchers first (from revision 1), then the leader poller and the clients.
    let mut watchers = Vec::new();
    for w in 0..cfg.n_nodes {
        watchers.push(rt.spawn(workload::watcher(shared.clone(), w, w)));
    }
    watchers.push(rt.spawn(workload::leader_poller(shared.clone())));
    let mut clients = Vec::new();
    for w in 0..cfg.n_nodes * cfg.register_workers_per_node {
        clients.push(rt.spawn(workload::register_worker(
            shared.clone(),
            w,
            w % cfg.n_nodes,
        )));
    }
    for w in 0..cfg.lease_workers {
        clients.push(rt.spawn(workload::lease_worker(
            shared.clone(),
            w,
            (w + 1) % cfg.n_nodes,
        )));
    }

    let mut ex = Executor {
        cluster: &mut cluster,
        rt: &rt,
        shared: shared.clone(),
        recorder: recorder.clone(),
        active: Vec::new(),
        faults: Vec::new(),
        may_crash: Vec::new(),
        crashes: Vec::new(),
        seed: cfg.seed,
        step_idx: 0,
    };
    let t0 = Instant::now();
    for step in &schedule {
        ex.sleep_until(t0 + Duration::from_millis(step.at_ms));
        ex.step_idx += 1;
        match &step.action {
            Action::Start(f) => ex.start(f),
            Action::Heal => ex.heal(),
        }
    }
    ex.sleep_until(t0 + Duration::from_secs(cfg.time_s));
    ex.heal();
    recorder.push(Record::QuietStart {
        t_ns: recorder.now_ns(),
    });
    ex.sleep_until(Instant::now() + Duration::from_secs(cfg.quiet_s));

    // Stop the clients, then final reads, then let the watchers catch up.
    shared.stop_clients.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for c in clients {
            let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
        }
    });
    recorder.push(Record::WorkloadEnd {
        t_ns: recorder.now_ns(),
    });
    rt.block_on(workload::final_reads(&shared, Duration::from_secs(20)));
    let final_rev = operations(&recorder.records())
        .iter()
        .filter(|o| o.is_ok())
        .filter_map(|o| {
            o.result
                .as_ref()
                .and_then(crate::check::watch::result_revision)
        })
        .max()
        .unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while shared.min_watcher_covered() < final_rev && Instant::now() < deadline {
        ex.reap_crashes();
        std::thread::sleep(Duration::from_millis(100));
    }
    shared.stop_watchers.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for w in watchers {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
        }
    });
    // HashKV of every replica at the final revision.
    let endpoints = ex.cluster.client_urls();
    let tls = shared.tls.clone();
    let rec2 = recorder.clone();
    rt.block_on(async move {
        for (i, ep) in endpoints.into_iter().enumerate() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while tokio::time::Instant::now() < deadline {
                if let Ok(mut c) = etcd_client::Client::connect(
                    [ep.clone()],
                    Some(tls.options(Duration::from_secs(3))),
                )
                .await
                {
                    if let Ok(h) = c.hash_kv(final_rev).await {
                        rec2.push(Record::HashKv {
                            t_ns: rec2.now_ns(),
                            node: i,
                            revision: final_rev,
                            compact_revision: h.compact_version(),
                            hash: h.hash(),
                        });
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    ex.reap_crashes();
    let network = ex.cluster.net.bridge().to_string();
    let faults = ex.faults.clone();
    let crashes = ex.crashes.clone();
    drop(ex);
    let _ = recorder.flush();
    drop(cluster);
    rt.shutdown_timeout(Duration::from_secs(2));
    if !cfg.keep_data {
        for i in 0..cfg.n_nodes {
            let _ = std::fs::remove_dir_all(cluster_dir.join(format!("n{}", i + 1)));
        }
    }

    let records = recorder.records();
    let ccfg = CheckConfig {
        step_budget: 20_000_000,
        lease_grace_ns: (4 * cfg.election_ms + 2_000) * 1_000_000,
        recovery_grace_ns: (cfg.quiet_s * 1_000 / 2) * 1_000_000,
        n_nodes: cfg.n_nodes,
    };
    let mut verdicts = check_all(&records, &ccfg);
    verdicts.verdicts.push(crate::check::Verdict {
        name: "no-crashes",
        ok: crashes.is_empty(),
        summary: format!(
            "{} replica(s) exited on their own outside failing-disk faults",
            crashes.len()
        ),
        violations: crashes,
    });
    let mut outcome = RunOutcome {
        config: cfg,
        verdicts,
        records,
        faults,
        schedule,
        summary: String::new(),
        network,
    };
    outcome.summary = crate::report::summary(&outcome);
    crate::report::write(&outcome).map_err(io("write the report"))?;
    Ok(outcome)
}
