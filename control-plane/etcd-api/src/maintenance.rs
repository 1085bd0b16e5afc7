//! The Maintenance service: Status, Alarm, Defragment, Hash, HashKV, Snapshot, MoveLeader.
//!
//! Snapshot streams `Store::snapshot()`'s file as etcd streams its database: in chunks,
//! padded with zero bytes to a multiple of 512 bytes (etcd's bbolt file always is one, and
//! `etcdctl snapshot save` 3.4 refuses a stream whose length is not 512·n + 32), followed by
//! one last message holding the SHA-256 of everything before it, which `etcdctl snapshot
//! restore` checks. The padding follows the Berth snapshot's own checksum trailer, so the
//! saved file minus its last 32 bytes is a valid Berth snapshot (`storage::verify_snapshot`
//! stops at its trailer).
//!
//! Differences from etcd: Hash returns HashKV's hash at the current revision (a hash of the
//! keyspace, not of the database file); Downgrade is UNIMPLEMENTED.

use crate::call::write;
use crate::convert::{self, ALARM_NONE};
use crate::server::ApiConfig;
use crate::status::to_status;
use berth_replication::{SnapshotFile, Store};
use etcd_client::proto::{
    PbAlarmRequest, PbAlarmResponse, PbDefragmentRequest, PbDefragmentResponse, PbDowngradeRequest,
    PbDowngradeResponse, PbHashKvRequest, PbHashKvResponse, PbHashRequest, PbHashResponse,
    PbMaintenanceService, PbMoveLeaderRequest, PbMoveLeaderResponse, PbResponseHeader,
    PbSnapshotRequest, PbSnapshotResponse, PbStatusRequest, PbStatusResponse,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use storage::{Alarm, WriteRequest};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

const ACTION_GET: i32 = 0;
const ACTION_ACTIVATE: i32 = 1;
const ACTION_DEACTIVATE: i32 = 2;
/// The stream length etcd clients expect is a multiple of this, plus the SHA-256.
const SNAPSHOT_ALIGN_BYTES: u64 = 512;

pub struct MaintenanceService<S> {
    store: Arc<S>,
    config: Arc<ApiConfig>,
}

impl<S> MaintenanceService<S> {
    pub fn new(store: Arc<S>, config: Arc<ApiConfig>) -> Self {
        MaintenanceService { store, config }
    }
}

/// Zero bytes to append to `len` bytes to reach a multiple of 512.
pub(crate) fn snapshot_padding(len: u64) -> u64 {
    (SNAPSHOT_ALIGN_BYTES - len % SNAPSHOT_ALIGN_BYTES) % SNAPSHOT_ALIGN_BYTES
}

/// Sends the snapshot file (then removed with `file`), its padding, and the SHA-256.
async fn stream_snapshot(
    file: SnapshotFile,
    tx: mpsc::Sender<Result<PbSnapshotResponse, Status>>,
    chunk_bytes: usize,
    header: PbResponseHeader,
) {
    let result = send_snapshot(&file, &tx, chunk_bytes.max(1), header).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "failed to stream a snapshot");
        let _ = tx
            .send(Err(Status::internal(format!(
                "etcdserver: failed to stream the snapshot: {e}"
            ))))
            .await;
    }
}

async fn send_snapshot(
    file: &SnapshotFile,
    tx: &mpsc::Sender<Result<PbSnapshotResponse, Status>>,
    chunk_bytes: usize,
    header: PbResponseHeader,
) -> std::io::Result<()> {
    let mut f = tokio::fs::File::open(&file.path).await?;
    let len = f.metadata().await?.len();
    let total = len + snapshot_padding(len);
    let mut hasher = Sha256::new();
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(chunk_bytes as u64) as usize;
        let mut blob = vec![0u8; n];
        let from_file = len.saturating_sub(sent).min(n as u64) as usize;
        f.read_exact(&mut blob[..from_file]).await?;
        hasher.update(&blob);
        sent += n as u64;
        let msg = PbSnapshotResponse {
            header: Some(header),
            remaining_bytes: total - sent,
            blob,
            version: String::new(),
        };
        if tx.send(Ok(msg)).await.is_err() {
            return Ok(()); // the client went away
        }
    }
    let sha = hasher.finalize().to_vec();
    let _ = tx
        .send(Ok(PbSnapshotResponse {
            header: Some(header),
            remaining_bytes: 0,
            blob: sha,
            version: String::new(),
        }))
        .await;
    Ok(())
}

#[tonic::async_trait]
impl<S: Store> PbMaintenanceService for MaintenanceService<S> {
    async fn alarm(
        &self,
        request: Request<PbAlarmRequest>,
    ) -> Result<Response<PbAlarmResponse>, Status> {
        let r = request.into_inner();
        let kind = convert::alarm_kind(r.alarm);
        let alarms: Vec<Alarm> = match r.action {
            ACTION_GET => {
                let all = self.store.alarms().map_err(to_status)?;
                all.into_iter()
                    .filter(|a| r.alarm == ALARM_NONE || Some(a.kind) == kind)
                    .collect()
            }
            ACTION_ACTIVATE | ACTION_DEACTIVATE => match kind {
                None => Vec::new(),
                Some(kind) => {
                    let alarm = Alarm {
                        member_id: r.member_id,
                        kind,
                    };
                    let was_active = self.store.alarms().map_err(to_status)?.contains(&alarm);
                    let req = if r.action == ACTION_ACTIVATE {
                        WriteRequest::AlarmActivate(alarm)
                    } else {
                        WriteRequest::AlarmDeactivate(alarm)
                    };
                    write(&self.store, req).await?;
                    // As etcd: the alarm that was raised or cleared.
                    if r.action == ACTION_ACTIVATE || was_active {
                        vec![alarm]
                    } else {
                        Vec::new()
                    }
                }
            },
            other => {
                return Err(Status::invalid_argument(format!(
                    "etcdserver: unknown alarm action {other}"
                )))
            }
        };
        Ok(Response::new(PbAlarmResponse {
            header: Some(convert::header(self.store.header(), 0)),
            alarms: alarms.into_iter().map(convert::alarm).collect(),
        }))
    }

    async fn status(
        &self,
        _request: Request<PbStatusRequest>,
    ) -> Result<Response<PbStatusResponse>, Status> {
        let s = self.store.status().await.map_err(to_status)?;
        Ok(Response::new(PbStatusResponse {
            header: Some(convert::header(s.header, 0)),
            version: s.version,
            db_size: s.db_size_bytes,
            leader: s.leader,
            raft_index: s.raft_index,
            raft_term: s.raft_term,
            raft_applied_index: s.raft_applied_index,
            errors: s.errors,
            db_size_in_use: s.db_size_in_use_bytes,
            is_learner: s.is_learner,
            ..Default::default()
        }))
    }

    async fn defragment(
        &self,
        _request: Request<PbDefragmentRequest>,
    ) -> Result<Response<PbDefragmentResponse>, Status> {
        self.store.defragment().await.map_err(to_status)?;
        Ok(Response::new(PbDefragmentResponse {
            header: Some(convert::header(self.store.header(), 0)),
        }))
    }

    async fn hash(
        &self,
        _request: Request<PbHashRequest>,
    ) -> Result<Response<PbHashResponse>, Status> {
        let h = self.store.hash_kv(0).await.map_err(to_status)?;
        Ok(Response::new(PbHashResponse {
            header: Some(convert::header(self.store.header(), h.revision)),
            hash: h.hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<PbHashKvRequest>,
    ) -> Result<Response<PbHashKvResponse>, Status> {
        let h = self
            .store
            .hash_kv(request.into_inner().revision)
            .await
            .map_err(to_status)?;
        Ok(Response::new(PbHashKvResponse {
            header: Some(convert::header(self.store.header(), 0)),
            hash: h.hash,
            compact_revision: h.compact_revision,
            hash_revision: h.revision,
        }))
    }

    type SnapshotStream = ReceiverStream<Result<PbSnapshotResponse, Status>>;

    async fn snapshot(
        &self,
        _request: Request<PbSnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let file = self.store.snapshot().await.map_err(to_status)?;
        let header = convert::header(self.store.header(), file.info.revision);
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(stream_snapshot(
            file,
            tx,
            self.config.snapshot_chunk_bytes,
            header,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn move_leader(
        &self,
        request: Request<PbMoveLeaderRequest>,
    ) -> Result<Response<PbMoveLeaderResponse>, Status> {
        self.store
            .move_leader(request.into_inner().target_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(PbMoveLeaderResponse {
            header: Some(convert::header(self.store.header(), 0)),
        }))
    }

    async fn downgrade(
        &self,
        _request: Request<PbDowngradeRequest>,
    ) -> Result<Response<PbDowngradeResponse>, Status> {
        Err(Status::unimplemented(
            "etcdserver: downgrade is not supported",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::snapshot_padding;

    #[test]
    fn padding_reaches_a_multiple_of_512() {
        for (len, pad) in [(0, 0), (1, 511), (511, 1), (512, 0), (513, 511), (4096, 0)] {
            assert_eq!(snapshot_padding(len), pad, "len {len}");
        }
    }
}
