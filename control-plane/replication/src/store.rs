//! The interface between the replicated store and the API layers above it (etcd gRPC API,
//! Kubernetes API server): writes, reads with a chosen consistency, watches, leases,
//! membership and maintenance, in the storage engine's own types.

use std::future::Future;
use storage::{
    HashKv, LeaseInfo, RangeRequest, RangeResponse, TxnRequest, TxnResponse, WatchRequest, Watcher,
    WriteRequest, WriteResponse,
};

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Sees every write acknowledged before the read started (ReadIndex through the leader).
    Linearizable,
    /// This replica's applied state, possibly behind the leader.
    Serializable,
}

/// The fields of an etcd response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub cluster_id: u64,
    pub member_id: u64,
    pub revision: i64,
    pub raft_term: u64,
}

/// A cluster member, as etcd's MemberList shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// This replica's view of itself and the cluster (etcd's Maintenance.Status).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub header: Header,
    pub version: String,
    pub db_size_bytes: i64,
    pub db_size_in_use_bytes: i64,
    /// 0 when no leader is known.
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    pub is_learner: bool,
    pub errors: Vec<String>,
}

/// Errors of the replicated store: the storage engine's (an expected outcome of the request
/// or a fatal one) and the replication layer's own.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// No leader is known right now (election in progress, or this replica is cut off).
    #[error("no leader")]
    NoLeader,
    /// The leader changed while the request was in flight; its outcome is unknown.
    #[error("leader changed")]
    LeaderChanged,
    /// The request timed out; its outcome is unknown.
    #[error("request timed out")]
    Timeout,
    #[error("member not found")]
    MemberNotFound,
    #[error("peer URL exists")]
    PeerUrlExists,
    #[error("member is not a learner")]
    MemberNotLearner,
    #[error("learner is not ready to be promoted")]
    LearnerNotReady,
    #[error("{0}")]
    Unsupported(String),
    #[error("replica stopped")]
    Stopped,
    #[error("internal error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A snapshot of the whole store, saved in a temporary directory that is removed when this
/// is dropped.
#[derive(Debug)]
pub struct SnapshotFile {
    pub path: std::path::PathBuf,
    pub info: storage::SnapshotInfo,
    pub dir: tempfile::TempDir,
}

/// What the API layers need from the store. Implemented by [`crate::LocalStore`] (one
/// engine) and by the replicated store.
pub trait Store: Send + Sync + 'static {
    /// Proposes a write (forwarded to the leader when this replica is not) and returns the
    /// response once it is committed and applied here.
    fn write(&self, req: WriteRequest) -> impl Future<Output = StoreResult<WriteResponse>> + Send;
    fn range(
        &self,
        req: RangeRequest,
        consistency: ReadConsistency,
    ) -> impl Future<Output = StoreResult<RangeResponse>> + Send;
    /// A txn whose operations are all ranges ([`TxnRequest::is_read_only`]), on the read
    /// path like `range`: no log entry.
    fn read_txn(
        &self,
        req: TxnRequest,
        consistency: ReadConsistency,
    ) -> impl Future<Output = StoreResult<TxnResponse>> + Send;
    /// Starts a watch on this replica's applied state.
    fn watch(&self, req: WatchRequest) -> StoreResult<Watcher>;
    /// Keep-alive: returns the lease's TTL.
    fn lease_keep_alive(&self, id: i64) -> impl Future<Output = StoreResult<i64>> + Send;
    fn lease_time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> impl Future<Output = StoreResult<LeaseInfo>> + Send;
    fn lease_list(&self) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;
    /// The header for a response: this member, the current revision and term.
    fn header(&self) -> Header;
    fn status(&self) -> impl Future<Output = StoreResult<Status>> + Send;
    fn hash_kv(&self, revision: i64) -> impl Future<Output = StoreResult<HashKv>> + Send;
    /// Saves a consistent snapshot of this replica's state to a temporary file.
    fn snapshot(&self) -> impl Future<Output = StoreResult<SnapshotFile>> + Send;
    fn defragment(&self) -> impl Future<Output = StoreResult<()>> + Send;
    fn member_list(&self) -> impl Future<Output = StoreResult<Vec<Member>>> + Send;
    fn member_add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> impl Future<Output = StoreResult<Member>> + Send;
    fn member_remove(&self, id: u64) -> impl Future<Output = StoreResult<()>> + Send;
    fn member_update(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn member_promote(&self, id: u64) -> impl Future<Output = StoreResult<()>> + Send;
    fn move_leader(&self, target_id: u64) -> impl Future<Output = StoreResult<()>> + Send;
    /// Active alarms (member id, kind).
    fn alarms(&self) -> StoreResult<Vec<storage::Alarm>>;
}
