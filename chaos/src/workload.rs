//! The client workloads, each recording every operation's invocation and completion:
//! registers (get, put, compare-and-set by txn) over a few keys, watchers that re-watch
//! from their last revision + 1, leases kept alive and then abandoned, and a leader poller.
//! Each worker talks to one replica, so a replica serving stale data shows in the history.

use crate::history::{
    EventKind, KvVersion, Op, OpResult, Outcome, ProcessId, Record, Recorder, WatchEvent,
};
use crate::rng::Rng;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    PutOptions, TlsOptions, Txn, TxnOp, WatchOptions,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every key the run writes is under this prefix (the watchers watch it).
pub const PREFIX: &str = "c/";

#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    pub seed: u64,
    pub n_nodes: usize,
    /// Register keys (fewer keys: more contention per key).
    pub n_keys: usize,
    pub register_workers_per_node: usize,
    pub lease_workers: usize,
    pub lease_ttl_s: i64,
    pub op_timeout_ms: u64,
    /// Pause between a worker's operations.
    pub think_ms: u64,
}

/// TLS material for clients.
#[derive(Clone)]
pub struct Tls {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Tls {
    pub fn load(certs_dir: &Path) -> std::io::Result<Tls> {
        Ok(Tls {
            ca: std::fs::read(certs_dir.join("ca.crt"))?,
            cert: std::fs::read(certs_dir.join("client.crt"))?,
            key: std::fs::read(certs_dir.join("client.key"))?,
        })
    }

    pub fn options(&self, timeout: Duration) -> ConnectOptions {
        let tls = TlsOptions::new()
            .ca_certificate(Certificate::from_pem(self.ca.clone()))
            .identity(Identity::from_pem(self.cert.clone(), self.key.clone()));
        ConnectOptions::new()
            .with_tls(tls)
            .with_connect_timeout(Duration::from_secs(1))
            .with_timeout(timeout)
            .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
    }
}

/// State shared by the workload tasks and the harness.
pub struct Shared {
    pub cfg: WorkloadConfig,
    pub recorder: Arc<Recorder>,
    pub endpoints: Vec<String>,
    pub tls: Tls,
    /// Register and lease workers stop when set.
    pub stop_clients: AtomicBool,
    /// Watchers stop when set.
    pub stop_watchers: AtomicBool,
    /// Per watcher, the revision up to which it has delivered everything.
    pub watcher_covered: Vec<AtomicI64>,
    /// The leader as the poller last saw it.
    pub leader: Mutex<Option<usize>>,
}

impl Shared {
    pub fn new(
        cfg: WorkloadConfig,
        recorder: Arc<Recorder>,
        endpoints: Vec<String>,
        tls: Tls,
    ) -> Shared {
        let n = endpoints.len();
        Shared {
            cfg,
            recorder,
            endpoints,
            tls,
            stop_clients: AtomicBool::new(false),
            stop_watchers: AtomicBool::new(false),
            watcher_covered: (0..n).map(|_| AtomicI64::new(0)).collect(),
            leader: Mutex::new(None),
        }
    }

    /// A client of replica `node` alone (no failover: the history shows what it served).
    pub async fn client(&self, node: usize) -> Option<Client> {
        let timeout = Duration::from_millis(self.cfg.op_timeout_ms);
        tokio::time::timeout(
            timeout,
            Client::connect(
                [self.endpoints[node].as_str()],
                Some(self.tls.options(timeout)),
            ),
        )
        .await
        .ok()?
        .ok()
    }

    /// The lowest revision every watcher has delivered (a safe compaction point).
    pub fn min_watcher_covered(&self) -> i64 {
        self.watcher_covered
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    fn stopping(&self) -> bool {
        self.stop_clients.load(Ordering::Relaxed)
    }
}

/// Whether a failed write certainly did not happen: the connection was refused, so the
/// request was never sent. Anything else (timeouts, leader changes) is unknown.
fn definitely_not_sent(e: &str) -> bool {
    // tonic's client-side connect error; a replica's own errors read "etcdserver: ...".
    e.contains("tcp connect error")
        && (e.contains("ConnectionRefused") || e.contains("Connection refused"))
}

fn write_outcome(e: &str) -> Outcome {
    if definitely_not_sent(e) {
        Outcome::Fail
    } else {
        Outcome::Unknown
    }
}

async fn timed<T, E: std::fmt::Display>(
    ms: u64,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_millis(ms), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {ms} ms")),
    }
}

/// One register worker: random get/put/cas on random keys through replica `node`.
pub async fn register_worker(sh: Arc<Shared>, worker: usize, node: usize) {
    let rec = &sh.recorder;
    let mut rng = Rng::new(sh.cfg.seed ^ (0x1000 + worker as u64).wrapping_mul(0x9e37_79b9));
    let mut process: ProcessId = rec.new_process();
    let mut last_seen: HashMap<String, String> = HashMap::new();
    let mut counter = 0u64;
    let mut client = None;
    let t = sh.cfg.op_timeout_ms;
    while !sh.stopping() {
        if client.is_none() {
            client = sh.client(node).await;
            if client.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let key = format!("{PREFIX}r/{}", rng.below(sh.cfg.n_keys as u64));
        let dice = rng.below(10);
        counter += 1;
        let value = format!("w{worker}.{counter}");
        let op = match (dice, last_seen.get(&key)) {
            (0..=3, _) => Op::Get { key: key.clone() },
            (7..=9, Some(exp)) => Op::Cas {
                key: key.clone(),
                expected: exp.clone(),
                value,
            },
            _ => Op::Put {
                key: key.clone(),
                value,
            },
        };
        let id = rec.invoke(process, node, op.clone());
        let (outcome, result, error) = match &op {
            Op::Get { key } => match timed(t, c.get(key.as_str(), None)).await {
                Ok(r) => {
                    let value = r
                        .kvs()
                        .first()
                        .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
                    if let Some(v) = &value {
                        last_seen.insert(key.clone(), v.clone());
                    }
                    (
                        Outcome::Ok,
                        Some(OpResult::Get {
                            value,
                            revision: r.header().map(|h| h.revision()).unwrap_or(0),
                        }),
                        None,
                    )
                }
                Err(e) => (Outcome::Fail, None, Some(e)),
            },
            Op::Put { key, value } => {
                match timed(t, c.put(key.as_str(), value.as_str(), None)).await {
                    Ok(r) => {
                        last_seen.insert(key.clone(), value.clone());
                        (
                            Outcome::Ok,
                            Some(OpResult::Put {
                                revision: r.header().map(|h| h.revision()).unwrap_or(0),
                            }),
                            None,
                        )
                    }
                    Err(e) => (write_outcome(&e), None, Some(e)),
                }
            }
            Op::Cas {
                key,
                expected,
                value,
            } => {
                let txn = Txn::new()
                    .when([Compare::value(
                        key.as_str(),
                        CompareOp::Equal,
                        expected.as_str(),
                    )])
                    .and_then([TxnOp::put(key.as_str(), value.as_str(), None)])
                    .or_else([TxnOp::get(key.as_str(), None)]);
                match timed(t, c.txn(txn)).await {
                    Ok(r) => {
                        if r.succeeded() {
                            last_seen.insert(key.clone(), value.clone());
                        } else {
                            last_seen.remove(key);
                        }
                        (
                            Outcome::Ok,
                            Some(OpResult::Cas {
                                succeeded: r.succeeded(),
                                revision: r.header().map(|h| h.revision()).unwrap_or(0),
                            }),
                            None,
                        )
                    }
                    Err(e) => (write_outcome(&e), None, Some(e)),
                }
            }
            _ => unreachable!("register workers issue get, put and cas only"),
        };
        rec.complete(process, id, outcome, result, error);
        if outcome == Outcome::Unknown {
            // The op may still be in flight: continue as a new process (Jepsen's rule).
            process = rec.new_process();
        }
        if outcome != Outcome::Ok {
            tokio::time::sleep(Duration::from_millis(50 + rng.below(100))).await;
        } else if sh.cfg.think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(rng.below(sh.cfg.think_ms * 2 + 1))).await;
        }
    }
}

fn version(kv: &etcd_client::KeyValue) -> KvVersion {
    KvVersion {
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        mod_revision: kv.mod_revision(),
        create_revision: kv.create_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

/// A watcher on replica `node`: watches the prefix from revision 1, asks for progress every
/// second, and after any failure re-watches from the last delivered revision + 1.
pub async fn watcher(sh: Arc<Shared>, w: usize, node: usize) {
    let rec = &sh.recorder;
    let wid = w as u32;
    let mut next_rev: i64 = 1;
    let idle_limit = Duration::from_millis(sh.cfg.op_timeout_ms * 2);
    while !sh.stop_watchers.load(Ordering::Relaxed) {
        let Some(mut client) = sh.client(node).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(next_rev)
            .with_prev_key()
            .with_progress_notify();
        rec.push(Record::WatchStart {
            t_ns: rec.now_ns(),
            watcher: wid,
            node,
            start_revision: next_rev,
        });
        let mut stream = match timed(sh.cfg.op_timeout_ms, client.watch(PREFIX, Some(opts))).await {
            Ok(s) => s,
            Err(e) => {
                rec.push(Record::WatchEnd {
                    t_ns: rec.now_ns(),
                    watcher: wid,
                    reason: e,
                    compact_revision: 0,
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut ticker = tokio::time::interval(Duration::from_millis(500));
        let mut last_msg = tokio::time::Instant::now();
        let reason: String;
        let mut compact_revision = 0;
        loop {
            if sh.stop_watchers.load(Ordering::Relaxed) {
                reason = "stopped".into();
                break;
            }
            tokio::select! {
                _ = ticker.tick() => {
                    if last_msg.elapsed() > idle_limit {
                        reason = "idle (no response to progress requests)".into();
                        break;
                    }
                    if let Err(e) = stream.request_progress().await {
                        reason = format!("progress request failed: {e}");
                        break;
                    }
                }
                msg = stream.message() => {
                    last_msg = tokio::time::Instant::now();
                    match msg {
                        Ok(Some(resp)) => {
                            if resp.canceled() {
                                compact_revision = resp.compact_revision();
                                reason = format!("canceled: {}", resp.cancel_reason());
                                if compact_revision > 0 {
                                    next_rev = next_rev.max(compact_revision);
                                }
                                break;
                            }
                            let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
                            if !resp.events().is_empty() {
                                let events: Vec<WatchEvent> = resp.events().iter().filter_map(|e| {
                                    let kv = e.kv()?;
                                    let kind = match e.event_type() { EventType::Put => EventKind::Put, EventType::Delete => EventKind::Delete };
                                    Some(WatchEvent {
                                        kind: kind.clone(),
                                        key: String::from_utf8_lossy(kv.key()).into_owned(),
                                        revision: kv.mod_revision(),
                                        kv: (kind == EventKind::Put).then(|| version(kv)),
                                        prev: e.prev_kv().map(version),
                                    })
                                }).collect();
                                let last = events.iter().map(|e| e.revision).max().unwrap_or(0);
                                rec.push(Record::WatchEvents { t_ns: rec.now_ns(), watcher: wid, events });
                                next_rev = next_rev.max(last + 1);
                            } else if !resp.created() && revision > 0 {
                                rec.push(Record::WatchProgress { t_ns: rec.now_ns(), watcher: wid, revision });
                                next_rev = next_rev.max(revision + 1);
                            }
                            sh.watcher_covered[w].store(next_rev - 1, Ordering::Relaxed);
                        }
                        Ok(None) => { reason = "stream closed".into(); break; }
                        Err(e) => { reason = format!("stream error: {e}"); break; }
                    }
                }
            }
        }
        rec.push(Record::WatchEnd {
            t_ns: rec.now_ns(),
            watcher: wid,
            reason,
            compact_revision,
        });
        if !sh.stop_watchers.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A lease worker on replica `node`: grant, attach a key, keep alive for a while (reading
/// the key after each keep-alive), abandon, and watch the key vanish.
pub async fn lease_worker(sh: Arc<Shared>, worker: usize, node: usize) {
    let rec = &sh.recorder;
    let mut rng = Rng::new(sh.cfg.seed ^ (0x2000 + worker as u64).wrapping_mul(0x9e37_79b9));
    let t = sh.cfg.op_timeout_ms;
    let ttl = sh.cfg.lease_ttl_s;
    let mut counter = 0u64;
    'outer: while !sh.stopping() {
        let Some(mut c) = sh.client(node).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let process = rec.new_process();
        let id = rec.invoke(process, node, Op::LeaseGrant { ttl_s: ttl });
        let lease = match timed(t, c.lease_grant(ttl, None)).await {
            Ok(r) => {
                rec.complete(
                    process,
                    id,
                    Outcome::Ok,
                    Some(OpResult::LeaseGrant {
                        lease: r.id(),
                        ttl_s: r.ttl(),
                    }),
                    None,
                );
                r.id()
            }
            Err(e) => {
                rec.complete(process, id, write_outcome(&e), None, Some(e));
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        counter += 1;
        let key = format!("{PREFIX}l/{lease:x}");
        let value = format!("l{worker}.{counter}");
        let id = rec.invoke(
            process,
            node,
            Op::LeasePut {
                key: key.clone(),
                lease,
                value: value.clone(),
            },
        );
        match timed(
            t,
            c.put(
                key.as_str(),
                value.as_str(),
                Some(PutOptions::new().with_lease(lease)),
            ),
        )
        .await
        {
            Ok(r) => rec.complete(
                process,
                id,
                Outcome::Ok,
                Some(OpResult::Put {
                    revision: r.header().map(|h| h.revision()).unwrap_or(0),
                }),
                None,
            ),
            Err(e) => rec.complete(process, id, write_outcome(&e), None, Some(e)),
        }
        let mut process = process;
        let keep_for = Duration::from_millis(rng.range(2_000, 4 * ttl as u64 * 1_000));
        let started = tokio::time::Instant::now();
        let mut keeper = None;
        while started.elapsed() < keep_for && !sh.stopping() {
            if keeper.is_none() {
                keeper = timed(t, c.lease_keep_alive(lease)).await.ok();
            }
            let id = rec.invoke(process, node, Op::LeaseKeepAlive { lease });
            let res = match keeper.as_mut() {
                Some((k, s)) => match timed(t, k.keep_alive()).await {
                    Ok(()) => timed(t, s.message()).await,
                    Err(e) => Err(e),
                },
                None => Err("could not open a keep-alive stream".into()),
            };
            let gone = match res {
                Ok(Some(r)) => {
                    rec.complete(
                        process,
                        id,
                        Outcome::Ok,
                        Some(OpResult::LeaseKeepAlive { ttl_s: r.ttl() }),
                        None,
                    );
                    r.ttl() <= 0
                }
                Ok(None) => {
                    keeper = None;
                    rec.complete(
                        process,
                        id,
                        Outcome::Unknown,
                        None,
                        Some("keep-alive stream closed".into()),
                    );
                    process = rec.new_process();
                    false
                }
                Err(e) => {
                    keeper = None;
                    rec.complete(process, id, Outcome::Unknown, None, Some(e));
                    process = rec.new_process();
                    false
                }
            };
            if gone {
                continue 'outer;
            }
            if lease_get(&sh, &mut c, process, node, &key, lease).await == Some(false) {
                continue 'outer;
            }
            tokio::time::sleep(Duration::from_millis((ttl as u64 * 1_000 / 4).max(250))).await;
        }
        drop(keeper);
        let id = rec.invoke(process, node, Op::LeaseAbandon { lease });
        rec.complete(process, id, Outcome::Ok, Some(OpResult::Done), None);
        // Watch the key vanish (bounded: a few TTLs).
        let until = tokio::time::Instant::now() + Duration::from_secs(3 * ttl as u64 + 2);
        while tokio::time::Instant::now() < until && !sh.stopping() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if lease_get(&sh, &mut c, process, node, &key, lease).await == Some(false) {
                break;
            }
        }
    }
}

async fn lease_get(
    sh: &Shared,
    c: &mut Client,
    process: ProcessId,
    node: usize,
    key: &str,
    lease: i64,
) -> Option<bool> {
    let rec = &sh.recorder;
    let id = rec.invoke(
        process,
        node,
        Op::LeaseGet {
            key: key.into(),
            lease,
        },
    );
    match timed(sh.cfg.op_timeout_ms, c.get(key, None)).await {
        Ok(r) => {
            let found = !r.kvs().is_empty();
            rec.complete(
                process,
                id,
                Outcome::Ok,
                Some(OpResult::LeaseGet {
                    found,
                    revision: r.header().map(|h| h.revision()).unwrap_or(0),
                }),
                None,
            );
            Some(found)
        }
        Err(e) => {
            rec.complete(process, id, Outcome::Fail, None, Some(e));
            None
        }
    }
}

/// Polls every replica's status and records the leader the responders agree on.
pub async fn leader_poller(sh: Arc<Shared>) {
    let mut clients: Vec<Option<Client>> = (0..sh.endpoints.len()).map(|_| None).collect();
    let mut last: Option<Option<usize>> = None;
    while !sh.stop_watchers.load(Ordering::Relaxed) {
        let mut member_of: HashMap<u64, usize> = HashMap::new();
        let mut votes: HashMap<u64, usize> = HashMap::new();
        for (i, slot) in clients.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = sh.client(i).await;
            }
            let Some(c) = slot.as_mut() else { continue };
            match timed(400, c.status()).await {
                Ok(s) => {
                    if let Some(h) = s.header() {
                        member_of.insert(h.member_id(), i);
                    }
                    if s.leader() != 0 {
                        *votes.entry(s.leader()).or_default() += 1;
                    }
                }
                Err(_) => *slot = None,
            }
        }
        let majority = sh.endpoints.len() / 2 + 1;
        let leader = votes
            .iter()
            .find(|(_, &n)| n >= majority)
            .and_then(|(id, _)| member_of.get(id).copied());
        if last != Some(leader) {
            sh.recorder.push(Record::Leader {
                t_ns: sh.recorder.now_ns(),
                node: leader,
            });
            last = Some(leader);
        }
        *sh.leader.lock().unwrap_or_else(|e| e.into_inner()) = leader;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Final linearizable reads of every register key (retried through any replica).
pub async fn final_reads(sh: &Shared, deadline: Duration) {
    let rec = &sh.recorder;
    let until = tokio::time::Instant::now() + deadline;
    for k in 0..sh.cfg.n_keys {
        let key = format!("{PREFIX}r/{k}");
        let mut node = k % sh.endpoints.len();
        while tokio::time::Instant::now() < until {
            let process = rec.new_process();
            let Some(mut c) = sh.client(node).await else {
                node = (node + 1) % sh.endpoints.len();
                continue;
            };
            let id = rec.invoke(process, node, Op::Get { key: key.clone() });
            match timed(
                sh.cfg.op_timeout_ms,
                c.get(key.as_str(), Some(GetOptions::new())),
            )
            .await
            {
                Ok(r) => {
                    let value = r
                        .kvs()
                        .first()
                        .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
                    rec.complete(
                        process,
                        id,
                        Outcome::Ok,
                        Some(OpResult::Get {
                            value,
                            revision: r.header().map(|h| h.revision()).unwrap_or(0),
                        }),
                        None,
                    );
                    break;
                }
                Err(e) => {
                    rec.complete(process, id, Outcome::Fail, None, Some(e));
                    node = (node + 1) % sh.endpoints.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
