//! Berth's storage engine: an MVCC keyspace with etcd v3 semantics, a watch hub, snapshots
//! and the Raft log, on RocksDB. The only crate that knows RocksDB.
//!
//! - [`Engine`]: open a store, `apply(index, request)` (the state change and the applied
//!   index in one atomic write), ranges at any retained revision, compaction, leases,
//!   HashKV, snapshots.
//! - [`Watcher`]: ordered, whole-revision, gap-free event streams that fall back to
//!   catch-up from storage instead of blocking writers or dropping events.
//! - [`RaftLog`]: the Raft log with group commit (many appends, one fsync).

mod codec;
mod compact;
mod engine;
mod error;
mod lease;
mod raftlog;
mod read;
mod snapshot;
mod types;
mod watch;

pub use engine::{
    in_range, validate, validate_range, ApplyEntry, Engine, EngineConfig, Observer,
    MAX_LEASE_TTL_SECS,
};
pub use error::{Error, Result};
pub use raftlog::{FlushCallback, LogStats, RaftLog, RaftLogReader, STATE_PURGED};
pub use read::{HashKv, RevisionEvents};
pub use snapshot::{verify_snapshot, SnapshotInfo};
pub use types::*;
pub use watch::{WatchConfig, WatchRequest, WatchResponse, Watcher};
