//! One replica of the replicated store: openraft over the storage engine, implementing
//! [`Store`]. Writes and leader-only work go to the leader (forwarded over the peer
//! protocol when this replica is not it); linearizable reads use ReadIndex; only the leader
//! expires leases, and a new leader first extends every lease by an election timeout.

use crate::log_store::LogStore;
use crate::network::{peer_url, ForwardHandler, Forwarder, PeerClients, PeerService};
use crate::state_machine::StateMachine;
use crate::store::*;
use crate::types::*;
use openraft::async_runtime::WatchReceiver;
use openraft::{ChangeMembers, Config, ReadPolicy, ServerState, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{
    Engine, EngineConfig, HashKv, LeaseId, LeaseInfo, RaftLog, RangeRequest, RangeResponse,
    TxnRequest, TxnResponse, WatchRequest, Watcher, WriteRequest, WriteResponse,
};
use tonic::transport::ClientTlsConfig;

/// The storage engine's directory inside a replica's data dir.
pub const STORE_DIR: &str = "store";
use crate::state_keys::{CLUSTER_ID as KEY_CLUSTER_ID, MEMBER_ID as KEY_MEMBER_ID};
/// How often a retry of leader-bound work looks for a leader again.
const RETRY_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// Bootstrap a new cluster from `initial_cluster`.
    New,
    /// Join an existing cluster that already lists this member (MemberAdd).
    Existing,
}

#[derive(Clone)]
pub struct ReplicaConfig {
    pub name: String,
    pub data_dir: PathBuf,
    /// (name, peer URL) of every initial member, this one included.
    pub initial_cluster: Vec<(String, String)>,
    pub initial_cluster_state: ClusterState,
    pub initial_cluster_token: String,
    pub advertise_peer_urls: Vec<String>,
    pub advertise_client_urls: Vec<String>,
    pub heartbeat_interval_ms: u64,
    pub election_timeout_ms: u64,
    /// Applied entries between snapshots (after which the log before it is purged).
    pub snapshot_count: u64,
    /// Entries kept behind a snapshot so a slightly lagging follower catches up from the
    /// log rather than a snapshot (etcd's snapshot catch-up entries).
    pub snapshot_catchup_entries: u64,
    pub request_timeout: Duration,
    pub max_snapshot_bytes: u64,
    pub engine: EngineConfig,
    pub peer_tls: Option<ClientTlsConfig>,
}

impl ReplicaConfig {
    pub fn new(
        name: &str,
        data_dir: PathBuf,
        initial_cluster: Vec<(String, String)>,
    ) -> ReplicaConfig {
        let own = initial_cluster
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, u)| u.clone())
            .into_iter()
            .collect();
        ReplicaConfig {
            name: name.to_string(),
            data_dir,
            initial_cluster,
            initial_cluster_state: ClusterState::New,
            initial_cluster_token: "berth-cluster".into(),
            advertise_peer_urls: own,
            advertise_client_urls: Vec::new(),
            heartbeat_interval_ms: 100,
            election_timeout_ms: 1000,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
            request_timeout: Duration::from_secs(7),
            max_snapshot_bytes: 16 << 30,
            engine: EngineConfig::default(),
            peer_tls: None,
        }
    }
}

#[derive(Clone)]
pub struct Replica {
    inner: Arc<ReplicaInner>,
}

struct ReplicaInner {
    id: u64,
    cluster_id: u64,
    raft: Raft,
    engine: Engine,
    _log: Arc<RaftLog>,
    forwarder: Forwarder,
    read_barrier: ReadBarrier,
    /// Held by the leader across one membership change: openraft refuses a change while
    /// another is uncommitted, etcd queues them.
    membership_lock: tokio::sync::Mutex<()>,
    config: ReplicaConfig,
    started: Instant,
    /// Proposals this replica made as leader that failed (refused, or outcome unknown).
    proposals_failed: AtomicU64,
}

fn cluster_id_of(token: &str, initial: &[(String, String)]) -> u64 {
    let mut ids: Vec<u64> = initial
        .iter()
        .map(|(n, u)| member_id(n, std::slice::from_ref(u)))
        .collect();
    ids.sort_unstable();
    let urls: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    member_id(token, &urls)
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

impl Replica {
    /// Opens the data dir, starts Raft, and bootstraps or joins the cluster. Returns the
    /// replica and the peer service to serve on the peer listener.
    pub async fn start(config: ReplicaConfig) -> StoreResult<(Replica, PeerService)> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            internal(format!(
                "failed to create data dir {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let engine = Engine::open(config.data_dir.join(STORE_DIR), config.engine.clone())?;
        let log = Arc::new(engine.raft_log());
        let clients = PeerClients::new(config.peer_tls.clone());

        // Who am I: remembered from the first start, derived for a new cluster, or looked up
        // in the member list of the cluster being joined.
        let (id, cluster_id) = match (log.state(KEY_MEMBER_ID)?, log.state(KEY_CLUSTER_ID)?) {
            (Some(id), Some(cid)) => (decode::<u64>(&id)?, decode::<u64>(&cid)?),
            _ => {
                let (id, cid) = match config.initial_cluster_state {
                    ClusterState::New => (
                        member_id(&config.name, &config.advertise_peer_urls),
                        cluster_id_of(&config.initial_cluster_token, &config.initial_cluster),
                    ),
                    ClusterState::Existing => Self::discover_id(&clients, &config).await?,
                };
                log.save_state(KEY_MEMBER_ID, &encode(&id)?)?;
                log.save_state(KEY_CLUSTER_ID, &encode(&cid)?)?;
                (id, cid)
            }
        };

        let raft_config = Config {
            cluster_name: config.initial_cluster_token.clone(),
            heartbeat_interval: config.heartbeat_interval_ms,
            // etcd's --election-timeout T means a follower stands for election after T to 2T
            // of silence. openraft waits out a leader lease of `election_timeout_max` and
            // then a random timeout in [min, max): max = T, min = T/2 gives 1.5T to 2T.
            election_timeout_min: (config.election_timeout_ms / 2)
                .max(config.heartbeat_interval_ms + 1),
            election_timeout_max: config
                .election_timeout_ms
                .max(config.heartbeat_interval_ms + 2),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_count),
            max_in_snapshot_log_to_keep: config.snapshot_catchup_entries,
            install_snapshot_timeout: 60_000,
            ..Default::default()
        };
        let raft_config = Arc::new(raft_config.validate().map_err(internal)?);
        let snapshot_dir = config.data_dir.join("snapshots");
        let sm = StateMachine::new(engine.clone(), snapshot_dir.clone()).map_err(internal)?;
        let raft = Raft::new(
            id,
            raft_config,
            clients.clone(),
            LogStore::new(log.clone()),
            sm,
        )
        .await
        .map_err(internal)?;

        if config.initial_cluster_state == ClusterState::New
            && !raft.is_initialized().await.map_err(internal)?
        {
            let mut members = BTreeMap::new();
            for (name, url) in &config.initial_cluster {
                let node = PeerNode {
                    name: name.clone(),
                    peer_urls: vec![url.clone()],
                    client_urls: Vec::new(),
                };
                members.insert(member_id(name, std::slice::from_ref(url)), node);
            }
            // Every initial member initializes with byte-identical membership (derived from
            // --initial-cluster only), so the first entry is the same everywhere and this is
            // safe on all of them. Client URLs are published afterwards (spawn_publish).
            match raft.initialize(members).await {
                Ok(()) => {}
                Err(e) if e.api_error().is_some() => {
                    tracing::info!(error = %e, "cluster already initialized")
                }
                Err(e) => return Err(internal(e)),
            }
        }

        let forwarder = Forwarder::new(clients.clone(), config.request_timeout);
        let inner = Arc::new(ReplicaInner {
            id,
            cluster_id,
            raft: raft.clone(),
            engine,
            _log: log,
            forwarder,
            read_barrier: ReadBarrier::default(),
            membership_lock: tokio::sync::Mutex::new(()),
            config: config.clone(),
            started: Instant::now(),
            proposals_failed: AtomicU64::new(0),
        });
        let replica = Replica { inner };
        replica.spawn_leader_duties();
        replica.spawn_publish();
        let service = PeerService {
            raft,
            snapshot_dir,
            max_snapshot_bytes: config.max_snapshot_bytes,
            forward: Arc::new(replica.clone()),
            incoming: AtomicU64::new(0),
        };
        tracing::info!(member = format!("{id:x}"), cluster = format!("{cluster_id:x}"), name = %config.name, "replica started");
        Ok((replica, service))
    }

    /// A joining member finds its id in the existing cluster's member list by its peer URLs.
    async fn discover_id(clients: &PeerClients, config: &ReplicaConfig) -> StoreResult<(u64, u64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (name, url) in &config.initial_cluster {
                if *name == config.name {
                    continue;
                }
                if let Ok(ForwardResponse::Members(members)) = clients
                    .forward(url, &ForwardRequest::MemberList, Duration::from_secs(2))
                    .await
                {
                    if let Some(m) = members.iter().find(|m| {
                        m.peer_urls
                            .iter()
                            .any(|u| config.advertise_peer_urls.contains(u))
                    }) {
                        // The cluster id is whatever the existing members use.
                        let header = clients
                            .forward(url, &ForwardRequest::ClusterId, Duration::from_secs(2))
                            .await;
                        let cid = match header {
                            Ok(ForwardResponse::ClusterId(cid)) => cid,
                            _ => {
                                return Err(StoreError::Internal(
                                    "existing cluster did not tell its cluster id".into(),
                                ))
                            }
                        };
                        return Ok((m.id, cid));
                    }
                    return Err(StoreError::Internal(format!("this member's peer URLs {:?} are not in the cluster; add it with MemberAdd first", config.advertise_peer_urls)));
                }
            }
            if Instant::now() > deadline {
                return Err(StoreError::Internal("no existing member answered".into()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Proposals made here as leader that failed (etcd's proposals_failed_total).
    pub fn proposals_failed(&self) -> u64 {
        self.inner
            .proposals_failed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Stops Raft (the engine closes when the last handle goes).
    pub async fn shutdown(&self) {
        let _ = self.inner.raft.shutdown().await;
    }

    fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// openraft's metrics of this replica (term, leader, log indexes, membership).
    pub fn metrics(&self) -> openraft::RaftMetrics<TypeConfig> {
        self.inner.raft.metrics().borrow_watched().clone()
    }

    /// Leader duties: extend every lease on taking over; expire leases while leading.
    fn spawn_leader_duties(&self) {
        let weak = Arc::downgrade(&self.inner);
        let extend_ms = self.inner.config.election_timeout_ms;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut was_leader = false;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let replica = Replica { inner };
                let m = replica.metrics();
                if m.running_state.is_err() {
                    return;
                }
                let is_leader = m.state == ServerState::Leader;
                if is_leader && !was_leader {
                    replica
                        .inner
                        .engine
                        .lease_promote(replica.now_ms(), extend_ms);
                    tracing::info!(
                        term = m.current_term,
                        "became leader; leases extended by an election timeout"
                    );
                }
                was_leader = is_leader;
                if !is_leader {
                    continue;
                }
                for id in replica.inner.engine.expired_leases(replica.now_ms()) {
                    match replica
                        .propose(WriteRequest::LeaseRevoke { id: id.0 })
                        .await
                    {
                        Ok(_) | Err(StoreError::Storage(storage::Error::LeaseNotFound)) => {
                            tracing::debug!(lease = %id, "expired lease revoked")
                        }
                        Err(e) => {
                            tracing::warn!(lease = %id, error = %e, "failed to revoke an expired lease")
                        }
                    }
                }
            }
        });
    }

    /// Publishes this member's name and client URLs into the membership once it has joined.
    fn spawn_publish(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let Some(inner) = weak.upgrade() else { return };
                let replica = Replica { inner };
                let me = PeerNode {
                    name: replica.inner.config.name.clone(),
                    peer_urls: replica.inner.config.advertise_peer_urls.clone(),
                    client_urls: replica.inner.config.advertise_client_urls.clone(),
                };
                let m = replica.metrics();
                if m.running_state.is_err() {
                    return;
                }
                match m.membership_config.membership().get_node(&replica.inner.id) {
                    Some(node) if *node == me => return,
                    Some(_) => {}
                    None => continue, // not (yet) a member
                }
                match replica
                    .leader_do(ForwardRequest::Publish {
                        id: replica.inner.id,
                        node: me,
                    })
                    .await
                {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "publishing member attributes failed; will retry")
                    }
                }
            }
        });
    }

    /// Proposes a write on this replica, which must be the leader. Validates first; checks
    /// the local quota and raises the NOSPACE alarm when it is exceeded.
    async fn propose(&self, req: WriteRequest) -> StoreResult<WriteResponse> {
        let engine = &self.inner.engine;
        if let Err(e) = engine.check_request(&req) {
            if e == storage::Error::NoSpace {
                let alarm = storage::Alarm {
                    member_id: self.inner.id,
                    kind: storage::AlarmKind::NoSpace,
                };
                if !engine.alarms().contains(&alarm) {
                    let _ = self
                        .inner
                        .raft
                        .client_write(Proposal(WriteRequest::AlarmActivate(alarm)))
                        .await;
                }
            }
            return Err(e.into());
        }
        if !self.inner.raft.is_leader() {
            return Err(StoreError::NoLeader);
        }
        match self.inner.raft.client_write(Proposal(req)).await {
            Ok(resp) => Ok(resp.data.0?),
            Err(e) => {
                self.inner
                    .proposals_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(write_error(e))
            }
        }
    }

    /// Runs leader-only work: here when this replica leads, else on the leader over the peer
    /// protocol. Retries while no leader is known or the request was refused before being
    /// proposed; gives up at the request timeout.
    async fn leader_do(&self, req: ForwardRequest) -> ForwardResult {
        let deadline = Instant::now() + self.inner.config.request_timeout;
        loop {
            let m = self.metrics();
            let attempt = match m.current_leader {
                Some(leader) if leader == self.inner.id => {
                    Some(self.handle_forward(req.clone()).await)
                }
                Some(leader) => match m
                    .membership_config
                    .membership()
                    .get_node(&leader)
                    .map(peer_url)
                {
                    Some(Ok(url)) => {
                        let remaining = deadline
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_millis(100));
                        Some(
                            self.inner
                                .forwarder
                                .forward(url, req.clone(), remaining)
                                .await,
                        )
                    }
                    _ => None,
                },
                None => None,
            };
            match attempt {
                Some(Err(StoreError::NoLeader)) | None => {}
                Some(result) => return result,
            }
            if Instant::now() >= deadline {
                return Err(StoreError::NoLeader);
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    /// The leader's side of forwarded work. Answers `NoLeader` without doing anything when
    /// this replica is not the leader (the caller may retry elsewhere).
    async fn handle_forward(&self, req: ForwardRequest) -> ForwardResult {
        let raft = &self.inner.raft;
        match req {
            ForwardRequest::MemberList => return Ok(ForwardResponse::Members(self.members())),
            ForwardRequest::ClusterId => {
                return Ok(ForwardResponse::ClusterId(self.inner.cluster_id))
            }
            _ => {}
        }
        if !raft.is_leader() {
            return Err(StoreError::NoLeader);
        }
        let _turn = match req {
            ForwardRequest::MemberAdd { .. }
            | ForwardRequest::MemberRemove(_)
            | ForwardRequest::MemberUpdate { .. }
            | ForwardRequest::Publish { .. }
            | ForwardRequest::MemberPromote(_) => Some(self.membership_change_turn().await?),
            _ => None,
        };
        match req {
            ForwardRequest::Write(w) => Ok(ForwardResponse::Write(self.propose(w).await?)),
            ForwardRequest::ReadIndex => Ok(ForwardResponse::ReadIndex(
                self.inner.read_barrier.read_index(raft).await?,
            )),
            ForwardRequest::LeaseKeepAlive(id) => {
                // A deposed leader (paused, partitioned) still believes it leads: renewing on
                // that belief lets the real leader expire a lease the client saw renewed
                // (found by the chaos harness; etcd's ensureLeadership). Confirm leadership
                // first (a coalesced ReadIndex round).
                self.inner.read_barrier.read_index(raft).await?;
                Ok(ForwardResponse::LeaseTtl(
                    self.inner.engine.lease_renew(LeaseId(id), self.now_ms())?,
                ))
            }
            ForwardRequest::LeaseTimeToLive { id, keys } => {
                let engine = self.inner.engine.clone();
                let now = self.now_ms();
                let info =
                    tokio::task::spawn_blocking(move || engine.lease_info(LeaseId(id), now, keys))
                        .await
                        .map_err(internal)??;
                Ok(ForwardResponse::LeaseInfo(info))
            }
            ForwardRequest::MemberAdd {
                peer_urls,
                is_learner,
            } => {
                if self
                    .members()
                    .iter()
                    .any(|m| m.peer_urls.iter().any(|u| peer_urls.contains(u)))
                {
                    return Err(StoreError::PeerUrlExists);
                }
                let id = member_id(&format!("added-{}", self.now_ms()), &peer_urls);
                let node = PeerNode {
                    name: String::new(),
                    peer_urls,
                    client_urls: Vec::new(),
                };
                raft.add_learner(id, node.clone(), false)
                    .await
                    .map_err(|e| self.membership_error(e))?;
                if !is_learner {
                    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                        .await
                        .map_err(|e| self.membership_error(e))?;
                }
                Ok(ForwardResponse::Member(to_member(id, &node, is_learner)))
            }
            ForwardRequest::MemberRemove(id) => {
                let m = self.metrics();
                let membership = m.membership_config.membership();
                if membership.get_node(&id).is_none() {
                    return Err(StoreError::MemberNotFound);
                }
                let change = if membership.voter_ids().any(|v| v == id) {
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                raft.change_membership(change, false)
                    .await
                    .map_err(|e| self.membership_error(e))?;
                Ok(ForwardResponse::Done)
            }
            ForwardRequest::MemberUpdate { id, peer_urls } => {
                let node = self
                    .metrics()
                    .membership_config
                    .membership()
                    .get_node(&id)
                    .cloned()
                    .ok_or(StoreError::MemberNotFound)?;
                let node = PeerNode { peer_urls, ..node };
                raft.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])), true)
                    .await
                    .map_err(|e| self.membership_error(e))?;
                Ok(ForwardResponse::Done)
            }
            ForwardRequest::Publish { id, node } => {
                raft.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])), true)
                    .await
                    .map_err(|e| self.membership_error(e))?;
                Ok(ForwardResponse::Done)
            }
            ForwardRequest::MemberPromote(id) => {
                let m = self.metrics();
                let membership = m.membership_config.membership();
                if membership.get_node(&id).is_none() {
                    return Err(StoreError::MemberNotFound);
                }
                if membership.voter_ids().any(|v| v == id) {
                    return Err(StoreError::MemberNotLearner);
                }
                raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                    .await
                    .map_err(|e| self.membership_error(e))?;
                Ok(ForwardResponse::Done)
            }
            ForwardRequest::MoveLeader(target) => {
                if self
                    .metrics()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .all(|v| v != target)
                {
                    return Err(StoreError::MemberNotFound);
                }
                raft.trigger()
                    .transfer_leader(target)
                    .await
                    .map_err(internal)?;
                Ok(ForwardResponse::Done)
            }
            ForwardRequest::MemberList | ForwardRequest::ClusterId => {
                unreachable!("answered above")
            }
        }
    }

    fn membership_error(
        &self,
        e: openraft::errors::RaftError<TypeConfig, openraft::errors::ClientWriteError<TypeConfig>>,
    ) -> StoreError {
        write_error(e)
    }

    fn members(&self) -> Vec<Member> {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| to_member(*id, node, !voters.contains(id)))
            .collect()
    }

    /// For a linearizable read: gets a read index from the leader (ReadIndex) and waits
    /// until this replica has applied it. Nothing for a serializable read.
    async fn read_barrier(&self, consistency: ReadConsistency) -> StoreResult<()> {
        if consistency == ReadConsistency::Serializable {
            return Ok(());
        }
        match self.leader_do(ForwardRequest::ReadIndex).await? {
            ForwardResponse::ReadIndex(index) => self.wait_applied(index).await,
            other => Err(unexpected(other)),
        }
    }

    /// After a membership change the leader committed: waits until this replica's published
    /// membership includes it, so the member list a change answers with (read locally, as
    /// etcd does) shows the change even when a follower took the request. The wait is on
    /// openraft's metrics, not the engine's applied index, because `members()` reads them.
    async fn sync_membership(&self) -> StoreResult<()> {
        let index = match self.leader_do(ForwardRequest::ReadIndex).await? {
            ForwardResponse::ReadIndex(index) => index,
            other => return Err(unexpected(other)),
        };
        self.wait_published(index, "membership change").await
    }

    /// The leader's turn to change the membership: one change at a time, and only once
    /// this leader has committed an entry of its term (then every earlier membership entry
    /// is committed too). Without it a change right after an election, or beside another,
    /// fails with openraft's "already undergoing a configuration change".
    async fn membership_change_turn(&self) -> StoreResult<tokio::sync::MutexGuard<'_, ()>> {
        let turn = self.inner.membership_lock.lock().await;
        let index = self.inner.read_barrier.read_index(&self.inner.raft).await?;
        self.wait_published(index, "leader's first commit").await?;
        Ok(turn)
    }

    /// Waits until openraft's published metrics show `index` applied.
    async fn wait_published(&self, index: u64, why: &'static str) -> StoreResult<()> {
        self.inner
            .raft
            .wait(Some(self.inner.config.request_timeout))
            .applied_index_at_least(Some(index), why)
            .await
            .map_err(|_| StoreError::Timeout)?;
        Ok(())
    }

    /// Waits until this replica has applied `index` (for ReadIndex reads).
    async fn wait_applied(&self, index: u64) -> StoreResult<()> {
        if self.inner.engine.applied_index() >= index {
            return Ok(());
        }
        self.inner
            .raft
            .wait(Some(self.inner.config.request_timeout))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|_| StoreError::Timeout)?;
        Ok(())
    }
}

/// Coalesces ReadIndex requests on the leader: one leadership confirmation (openraft's
/// ReadIndex) serves every request that arrived before it started; requests arriving
/// while one runs wait for the next. Each answer is therefore a read index obtained after
/// its request arrived, which is what linearizability needs.
#[derive(Default)]
struct ReadBarrier {
    state: Arc<parking_lot::Mutex<BarrierState>>,
}

#[derive(Default)]
struct BarrierState {
    running: bool,
    waiting: Vec<tokio::sync::oneshot::Sender<StoreResult<u64>>>,
}

impl ReadBarrier {
    async fn read_index(&self, raft: &Raft) -> StoreResult<u64> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start = {
            let mut st = self.state.lock();
            st.waiting.push(tx);
            !std::mem::replace(&mut st.running, true)
        };
        if start {
            // A task of its own, not this caller's future: a caller that gives up must not
            // strand the others.
            tokio::spawn(Self::run_rounds(self.state.clone(), raft.clone()));
        }
        rx.await.unwrap_or(Err(StoreError::NoLeader))
    }

    /// Runs rounds until no one waits.
    async fn run_rounds(state: Arc<parking_lot::Mutex<BarrierState>>, raft: Raft) {
        loop {
            let waiting = {
                let mut st = state.lock();
                if st.waiting.is_empty() {
                    st.running = false;
                    return;
                }
                std::mem::take(&mut st.waiting)
            };
            let result = match raft.get_read_linearizer(ReadPolicy::ReadIndex).await {
                Ok(linearizer) => Ok(linearizer.read_log_id().index()),
                Err(e) if e.forward_to_leader().is_some() => Err(StoreError::NoLeader),
                Err(e) => Err(internal(e)),
            };
            for w in waiting {
                let _ = w.send(result.clone());
            }
        }
    }
}

impl ForwardHandler for Replica {
    fn handle(
        &self,
        req: ForwardRequest,
    ) -> Pin<Box<dyn Future<Output = ForwardResult> + Send + '_>> {
        Box::pin(self.handle_forward(req))
    }
}

/// `ForwardToLeader`: refused before it was appended (not the leader, or a new leader whose
/// lease is not valid yet), so retrying is safe (`NoLeader`). `LogEntryDiscarded`: appended,
/// then dropped from this log; whether another node committed it is unknown (`LeaderChanged`).
fn write_error(
    e: openraft::errors::RaftError<TypeConfig, openraft::errors::ClientWriteError<TypeConfig>>,
) -> StoreError {
    use openraft::errors::ClientWriteError;
    match e.api_error() {
        Some(ClientWriteError::ForwardToLeader(_)) => StoreError::NoLeader,
        Some(ClientWriteError::LogEntryDiscarded(_)) => StoreError::LeaderChanged,
        _ => internal(e),
    }
}

fn unexpected(r: ForwardResponse) -> StoreError {
    StoreError::Internal(format!("unexpected forwarded response {r:?}"))
}

impl Store for Replica {
    async fn write(&self, req: WriteRequest) -> StoreResult<WriteResponse> {
        storage::validate(&req, self.inner.engine.config())?;
        match self.leader_do(ForwardRequest::Write(req)).await? {
            ForwardResponse::Write(w) => Ok(w),
            other => Err(unexpected(other)),
        }
    }

    async fn range(
        &self,
        req: RangeRequest,
        consistency: ReadConsistency,
    ) -> StoreResult<RangeResponse> {
        self.read_barrier(consistency).await?;
        if req.range_end.is_empty() {
            // One key: a point lookup costs less than the hand-off to a blocking thread.
            return self.inner.engine.range(&req).map_err(StoreError::from);
        }
        let engine = self.inner.engine.clone();
        tokio::task::spawn_blocking(move || engine.range(&req))
            .await
            .map_err(internal)?
            .map_err(StoreError::from)
    }

    async fn read_txn(
        &self,
        req: TxnRequest,
        consistency: ReadConsistency,
    ) -> StoreResult<TxnResponse> {
        self.read_barrier(consistency).await?;
        let single_keys = req
            .success
            .iter()
            .chain(&req.failure)
            .all(|op| matches!(op, storage::RequestOp::Range(r) if r.range_end.is_empty()));
        if single_keys {
            return self.inner.engine.read_txn(&req).map_err(StoreError::from);
        }
        let engine = self.inner.engine.clone();
        tokio::task::spawn_blocking(move || engine.read_txn(&req))
            .await
            .map_err(internal)?
            .map_err(StoreError::from)
    }

    fn watch(&self, req: WatchRequest) -> StoreResult<Watcher> {
        Ok(self.inner.engine.watch(req)?)
    }

    async fn lease_keep_alive(&self, id: i64) -> StoreResult<i64> {
        match self.leader_do(ForwardRequest::LeaseKeepAlive(id)).await? {
            ForwardResponse::LeaseTtl(ttl) => Ok(ttl),
            other => Err(unexpected(other)),
        }
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> StoreResult<LeaseInfo> {
        match self
            .leader_do(ForwardRequest::LeaseTimeToLive { id, keys })
            .await?
        {
            ForwardResponse::LeaseInfo(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    async fn lease_list(&self) -> StoreResult<Vec<i64>> {
        Ok(self.inner.engine.lease_ids())
    }

    fn header(&self) -> Header {
        let term = self.inner.raft.metrics().borrow_watched().current_term;
        Header {
            cluster_id: self.inner.cluster_id,
            member_id: self.inner.id,
            revision: self.inner.engine.current_revision().0,
            raft_term: term,
        }
    }

    async fn status(&self) -> StoreResult<Status> {
        let m = self.metrics();
        let e = &self.inner.engine;
        let size = e.size_bytes() as i64;
        let is_learner = m
            .membership_config
            .membership()
            .voter_ids()
            .all(|v| v != self.inner.id);
        Ok(Status {
            header: self.header(),
            version: crate::local::ETCD_COMPAT_VERSION.to_string(),
            db_size_bytes: size,
            db_size_in_use_bytes: size,
            leader: m.current_leader.unwrap_or(0),
            raft_index: m.last_log_index.unwrap_or(0),
            raft_term: m.current_term,
            raft_applied_index: e.applied_index(),
            is_learner,
            errors: e
                .alarms()
                .iter()
                .map(|a| format!("alarm {:?} on member {:x}", a.kind, a.member_id))
                .collect(),
        })
    }

    async fn hash_kv(&self, revision: i64) -> StoreResult<HashKv> {
        let engine = self.inner.engine.clone();
        tokio::task::spawn_blocking(move || engine.hash_kv(revision))
            .await
            .map_err(internal)?
            .map_err(StoreError::from)
    }

    async fn snapshot(&self) -> StoreResult<SnapshotFile> {
        let engine = self.inner.engine.clone();
        let dir = tempfile::Builder::new()
            .prefix("berth-snapshot")
            .tempdir_in(&self.inner.config.data_dir)
            .map_err(|e| internal(format!("failed to create snapshot dir: {e}")))?;
        let path = dir.path().join("snapshot.db");
        let p = path.clone();
        let info = tokio::task::spawn_blocking(move || engine.save_snapshot(&p))
            .await
            .map_err(internal)??;
        Ok(SnapshotFile { path, info, dir })
    }

    async fn defragment(&self) -> StoreResult<()> {
        let engine = self.inner.engine.clone();
        tokio::task::spawn_blocking(move || engine.defragment())
            .await
            .map_err(internal)?
            .map_err(StoreError::from)
    }

    async fn member_list(&self) -> StoreResult<Vec<Member>> {
        Ok(self.members())
    }

    async fn member_add(&self, peer_urls: Vec<String>, is_learner: bool) -> StoreResult<Member> {
        let added = match self
            .leader_do(ForwardRequest::MemberAdd {
                peer_urls,
                is_learner,
            })
            .await?
        {
            ForwardResponse::Member(m) => m,
            other => return Err(unexpected(other)),
        };
        self.sync_membership().await?;
        Ok(added)
    }

    async fn member_remove(&self, id: u64) -> StoreResult<()> {
        self.leader_do(ForwardRequest::MemberRemove(id)).await?;
        // A replica that removed itself has no leader to sync with; its answer lists the
        // members it knew.
        if id != self.inner.id {
            self.sync_membership().await?;
        }
        Ok(())
    }

    async fn member_update(&self, id: u64, peer_urls: Vec<String>) -> StoreResult<()> {
        self.leader_do(ForwardRequest::MemberUpdate { id, peer_urls })
            .await?;
        self.sync_membership().await
    }

    async fn member_promote(&self, id: u64) -> StoreResult<()> {
        self.leader_do(ForwardRequest::MemberPromote(id)).await?;
        self.sync_membership().await
    }

    async fn move_leader(&self, target_id: u64) -> StoreResult<()> {
        self.leader_do(ForwardRequest::MoveLeader(target_id))
            .await
            .map(|_| ())
    }

    fn alarms(&self) -> StoreResult<Vec<storage::Alarm>> {
        Ok(self.inner.engine.alarms())
    }
}
