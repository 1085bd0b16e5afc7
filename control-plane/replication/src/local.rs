//! A [`Store`] over one storage engine, without replication: the single-member cluster.
//! It is its own leader: it checks quotas, applies writes as the next index, and expires
//! leases from its own clock.

use crate::store::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{
    Engine, EngineConfig, HashKv, LeaseId, LeaseInfo, RangeRequest, RangeResponse, TxnRequest,
    TxnResponse, WatchRequest, Watcher, WriteRequest, WriteResponse,
};

/// The version string Status reports (etcdctl prints it; clients gate features on it).
pub const ETCD_COMPAT_VERSION: &str = "3.4.23";

#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    member: Member,
    cluster_id: u64,
    started: Instant,
}

impl LocalStore {
    /// Opens the engine in `data_dir` and starts the lease expiry loop (on the current
    /// tokio runtime).
    pub fn open(
        data_dir: &std::path::Path,
        config: EngineConfig,
        member: Member,
        cluster_id: u64,
    ) -> StoreResult<LocalStore> {
        let engine = Engine::open(data_dir, config)?;
        let store = LocalStore {
            inner: Arc::new(Inner {
                engine,
                member,
                cluster_id,
                started: Instant::now(),
            }),
        };
        let weak = Arc::downgrade(&store.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let now = inner.now_ms();
                for id in inner.engine.expired_leases(now) {
                    let engine = inner.engine.clone();
                    let revoked = tokio::task::spawn_blocking(move || {
                        engine.write(&WriteRequest::LeaseRevoke { id: id.0 })
                    })
                    .await;
                    match revoked {
                        Ok(Ok(_)) | Ok(Err(storage::Error::LeaseNotFound)) => {
                            tracing::debug!(lease = %id, "lease expired and revoked")
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(lease = %id, error = %e, "failed to revoke an expired lease")
                        }
                        Err(e) => {
                            tracing::warn!(lease = %id, error = %e, "lease revoke task failed")
                        }
                    }
                }
            }
        });
        Ok(store)
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// Runs blocking engine work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, storage::Error> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("engine task failed: {e}")))?
        .map_err(StoreError::from)
}

impl Store for LocalStore {
    async fn write(&self, req: WriteRequest) -> StoreResult<WriteResponse> {
        let engine = self.inner.engine.clone();
        blocking(move || engine.write(&req)).await
    }

    async fn range(
        &self,
        req: RangeRequest,
        _consistency: ReadConsistency,
    ) -> StoreResult<RangeResponse> {
        let engine = self.inner.engine.clone();
        blocking(move || engine.range(&req)).await
    }

    async fn read_txn(
        &self,
        req: TxnRequest,
        _consistency: ReadConsistency,
    ) -> StoreResult<TxnResponse> {
        let engine = self.inner.engine.clone();
        blocking(move || engine.read_txn(&req)).await
    }

    fn watch(&self, req: WatchRequest) -> StoreResult<Watcher> {
        Ok(self.inner.engine.watch(req)?)
    }

    async fn lease_keep_alive(&self, id: i64) -> StoreResult<i64> {
        Ok(self
            .inner
            .engine
            .lease_renew(LeaseId(id), self.inner.now_ms())?)
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> StoreResult<LeaseInfo> {
        let inner = self.inner.clone();
        blocking(move || inner.engine.lease_info(LeaseId(id), inner.now_ms(), keys)).await
    }

    async fn lease_list(&self) -> StoreResult<Vec<i64>> {
        Ok(self.inner.engine.lease_ids())
    }

    fn header(&self) -> Header {
        Header {
            cluster_id: self.inner.cluster_id,
            member_id: self.inner.member.id,
            revision: self.inner.engine.current_revision().0,
            raft_term: 1,
        }
    }

    async fn status(&self) -> StoreResult<Status> {
        let e = &self.inner.engine;
        let size = e.size_bytes() as i64;
        Ok(Status {
            header: self.header(),
            version: ETCD_COMPAT_VERSION.to_string(),
            db_size_bytes: size,
            db_size_in_use_bytes: size,
            leader: self.inner.member.id,
            raft_index: e.applied_index(),
            raft_term: 1,
            raft_applied_index: e.applied_index(),
            is_learner: false,
            errors: Vec::new(),
        })
    }

    async fn hash_kv(&self, revision: i64) -> StoreResult<HashKv> {
        let engine = self.inner.engine.clone();
        blocking(move || engine.hash_kv(revision)).await
    }

    async fn snapshot(&self) -> StoreResult<SnapshotFile> {
        let engine = self.inner.engine.clone();
        let dir = tempfile::Builder::new()
            .prefix("berth-snapshot")
            .tempdir()
            .map_err(|e| StoreError::Internal(format!("failed to create snapshot dir: {e}")))?;
        let path = dir.path().join("snapshot.db");
        let p = path.clone();
        let info = blocking(move || engine.save_snapshot(&p)).await?;
        Ok(SnapshotFile { path, info, dir })
    }

    async fn defragment(&self) -> StoreResult<()> {
        let engine = self.inner.engine.clone();
        blocking(move || engine.defragment()).await
    }

    async fn member_list(&self) -> StoreResult<Vec<Member>> {
        Ok(vec![self.inner.member.clone()])
    }

    async fn member_add(&self, _peer_urls: Vec<String>, _is_learner: bool) -> StoreResult<Member> {
        Err(StoreError::Unsupported(
            "a local store has exactly one member".into(),
        ))
    }

    async fn member_remove(&self, id: u64) -> StoreResult<()> {
        if id == self.inner.member.id {
            return Err(StoreError::Unsupported(
                "cannot remove the only member".into(),
            ));
        }
        Err(StoreError::MemberNotFound)
    }

    async fn member_update(&self, id: u64, _peer_urls: Vec<String>) -> StoreResult<()> {
        if id == self.inner.member.id {
            return Err(StoreError::Unsupported("a local store has no peers".into()));
        }
        Err(StoreError::MemberNotFound)
    }

    async fn member_promote(&self, id: u64) -> StoreResult<()> {
        if id == self.inner.member.id {
            return Err(StoreError::MemberNotLearner);
        }
        Err(StoreError::MemberNotFound)
    }

    async fn move_leader(&self, target_id: u64) -> StoreResult<()> {
        if target_id == self.inner.member.id {
            return Ok(());
        }
        Err(StoreError::MemberNotFound)
    }

    fn alarms(&self) -> StoreResult<Vec<storage::Alarm>> {
        Ok(self.inner.engine.alarms())
    }
}
