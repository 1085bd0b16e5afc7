//! openraft's state machine over the storage engine. Each entry is applied with
//! `Engine::apply_with_state`, which records openraft's applied log id and membership in the
//! same atomic write as the state change; snapshots are the engine's snapshot files.

use crate::types::*;
use futures::{Stream, TryStreamExt};
use openraft::alias::SnapshotOf;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use storage::{Engine, WriteRequest};

/// Batches of at most this many entries are applied on the state machine's own task.
const INLINE_APPLY_ENTRIES: usize = 32;

/// A snapshot as it travels: a file the engine wrote (or the peer server received).
#[derive(Debug, Clone)]
pub struct SnapshotData {
    pub path: PathBuf,
}

/// What the engine keeps for openraft with every applied entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppliedState {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

#[derive(Clone)]
pub struct StateMachine {
    engine: Engine,
    snapshot_dir: Arc<PathBuf>,
    membership: StoredMembership,
}

impl StateMachine {
    pub fn new(engine: Engine, snapshot_dir: PathBuf) -> io::Result<StateMachine> {
        std::fs::create_dir_all(&snapshot_dir)?;
        let applied = read_applied(&engine)?;
        Ok(StateMachine {
            engine,
            snapshot_dir: Arc::new(snapshot_dir),
            membership: applied.membership,
        })
    }

    /// The newest snapshot on disk: (meta, data file).
    fn latest_snapshot(&self) -> io::Result<Option<(SnapshotMeta, PathBuf)>> {
        let mut best: Option<(u64, PathBuf)> = None;
        for entry in std::fs::read_dir(self.snapshot_dir.as_path())? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(index) = name
                .strip_prefix("snap-")
                .and_then(|r| r.strip_suffix(".meta"))
                .and_then(|i| i.parse::<u64>().ok())
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| index > *b) {
                best = Some((index, path));
            }
        }
        let Some((_, meta_path)) = best else {
            return Ok(None);
        };
        let meta: SnapshotMeta = decode(&std::fs::read(&meta_path)?).map_err(io_err)?;
        Ok(Some((meta, meta_path.with_extension("db"))))
    }

    /// Keeps `data` as the current snapshot (with its meta), dropping all but the newest two.
    fn keep_snapshot(&self, meta: &SnapshotMeta, data: &Path) -> io::Result<PathBuf> {
        let index = meta.last_log_id.as_ref().map(|l| l.index()).unwrap_or(0);
        let base = self.snapshot_dir.join(format!("snap-{index:020}"));
        let db = base.with_extension("db");
        if data != db {
            std::fs::rename(data, &db)?;
        }
        let meta_tmp = base.with_extension("meta.tmp");
        std::fs::write(&meta_tmp, encode(meta).map_err(io_err)?)?;
        std::fs::File::open(&meta_tmp)?.sync_all()?;
        std::fs::rename(&meta_tmp, base.with_extension("meta"))?;
        let mut metas: Vec<PathBuf> = std::fs::read_dir(self.snapshot_dir.as_path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "meta"))
            .collect();
        metas.sort();
        while metas.len() > 2 {
            let old = metas.remove(0);
            let _ = std::fs::remove_file(old.with_extension("db"));
            let _ = std::fs::remove_file(&old);
        }
        Ok(db)
    }
}

fn read_applied(engine: &Engine) -> io::Result<AppliedState> {
    match engine.replication_state().map_err(io_err)? {
        Some(bytes) => decode(&bytes).map_err(io_err),
        None => Ok(AppliedState::default()),
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<SnapshotOf<TypeConfig, SnapshotData>> {
        let engine = self.engine.clone();
        let tmp = self
            .snapshot_dir
            .join(format!("building-{}.db", std::process::id()));
        let t = tmp.clone();
        let info = tokio::task::spawn_blocking(move || engine.save_snapshot(&t))
            .await
            .map_err(io_err)?
            .map_err(io_err)?;
        // The meta comes from inside the snapshot, so it always matches its contents.
        let applied: AppliedState = match &info.replication_state {
            Some(bytes) => decode(bytes).map_err(io_err)?,
            None => AppliedState::default(),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership,
        };
        let path = self.keep_snapshot(&meta, &tmp)?;
        tracing::info!(index = ?meta.last_log_id, size = info.size_bytes, "built snapshot");
        Ok(SnapshotOf::<TypeConfig, SnapshotData> {
            meta,
            snapshot: SnapshotData { path },
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let applied = read_applied(&self.engine)?;
        self.membership = applied.membership.clone();
        Ok((applied.last_applied, applied.membership))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        // The batch openraft hands over is applied with `Engine::apply_batch`: runs of
        // entries share one RocksDB write. Small batches of point requests run on this task
        // (a hand-off to a blocking thread costs more than they do); big ones, and any
        // request that may touch many keys, on a blocking thread: `etcdctl check perf`'s
        // final delete of 170k keys may take seconds to apply, and on this task it would hold
        // an async worker (heartbeats, client connections) all that time.
        let mut requests = Vec::new();
        let mut responders = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id();
            let request = match entry.payload {
                EntryPayload::Blank => WriteRequest::Noop,
                EntryPayload::Normal(Proposal(req)) => req,
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(log_id), m);
                    WriteRequest::Noop
                }
            };
            let state = encode(&AppliedState {
                last_applied: Some(log_id),
                membership: self.membership.clone(),
            })
            .map_err(io_err)?;
            requests.push((log_id.index(), request, state));
            responders.push(responder);
        }
        if requests.is_empty() {
            return Ok(());
        }
        let apply = move |engine: &Engine, requests: &[(u64, WriteRequest, Vec<u8>)]| {
            let batch: Vec<storage::ApplyEntry<'_>> = requests
                .iter()
                .map(|(index, request, state)| storage::ApplyEntry {
                    index: *index,
                    request,
                    state,
                })
                .collect();
            engine.apply_batch(&batch).map_err(|e| {
                io_err(format!(
                    "failed to apply entries {}..={}: {e}",
                    requests[0].0,
                    requests[requests.len() - 1].0
                ))
            })
        };
        let results = if requests.len() <= INLINE_APPLY_ENTRIES
            && requests.iter().all(|(_, r, _)| r.is_point())
        {
            apply(&self.engine, &requests)?
        } else {
            let engine = self.engine.clone();
            tokio::task::spawn_blocking(move || apply(&engine, &requests))
                .await
                .map_err(io_err)??
        };
        for (result, responder) in results.into_iter().zip(responders) {
            if let Some(responder) = responder {
                responder.send(ApplyResult(result));
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> io::Result<()> {
        let engine = self.engine.clone();
        let path = snapshot.path.clone();
        let info = tokio::task::spawn_blocking(move || engine.install_snapshot(&path))
            .await
            .map_err(io_err)?
            .map_err(io_err)?;
        let applied = read_applied(&self.engine)?;
        if applied.last_applied != meta.last_log_id {
            return Err(io_err(format!(
                "snapshot contents are at {:?} but its meta says {:?}",
                applied.last_applied, meta.last_log_id
            )));
        }
        self.membership = applied.membership;
        self.keep_snapshot(meta, &snapshot.path)?;
        tracing::info!(index = ?meta.last_log_id, revision = info.revision, "installed snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> io::Result<Option<SnapshotOf<TypeConfig, SnapshotData>>> {
        Ok(self
            .latest_snapshot()?
            .map(|(meta, path)| SnapshotOf::<TypeConfig, SnapshotData> {
                meta,
                snapshot: SnapshotData { path },
            }))
    }
}
