//! The storage layer's error type: expected outcomes a client can act on, and fatal ones.

use crate::types::Revision;

/// Everything the storage engine can refuse or fail with.
///
/// The first group are expected outcomes of a request (the client asked for something the
/// store cannot give); they never change state. `Corrupted` and `Rocks` are fatal for the
/// replica: the engine stops serving rather than serve damaged data.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// The revision asked for has been compacted away.
    #[error("mvcc: required revision has been compacted (compact revision {compact_revision})")]
    Compacted { compact_revision: Revision },
    /// The revision asked for has not been written yet.
    #[error("mvcc: required revision is a future revision (current revision {current_revision})")]
    FutureRevision { current_revision: Revision },
    /// `ignore_value` or `ignore_lease` on a key that does not exist.
    #[error("key not found")]
    KeyNotFound,
    /// A lease that was never granted or is already revoked.
    #[error("requested lease not found")]
    LeaseNotFound,
    /// A grant with an id that is already in use.
    #[error("lease already exists")]
    LeaseExists,
    /// A grant whose TTL is above the maximum.
    #[error("too large lease TTL")]
    LeaseTtlTooLarge,
    /// The store is over its quota (or the NOSPACE alarm is raised): only deletes, revokes
    /// and compaction are accepted.
    #[error("mvcc: database space exceeded")]
    NoSpace,
    /// A txn with more operations in one list than the limit.
    #[error("too many operations in txn request (limit {limit})")]
    TooManyOps { limit: usize },
    /// A request larger than the limit.
    #[error("request is too large ({size_bytes} bytes, limit {limit_bytes})")]
    RequestTooLarge {
        size_bytes: usize,
        limit_bytes: usize,
    },
    /// A txn writes the same key twice, or puts a key that it also deletes.
    #[error("duplicate key given in txn request")]
    DuplicateKey,
    /// `range_end` sorts before `key` (and is not the "\0" all-keys marker).
    #[error("invalid range: range_end sorts before key")]
    InvalidRange,
    /// An empty key where one is required.
    #[error("key is not provided")]
    EmptyKey,
    /// `ignore_value` together with a value.
    #[error("value is provided")]
    ValueProvided,
    /// `ignore_lease` together with a lease.
    #[error("lease is provided")]
    LeaseProvided,
    /// Txns nested deeper than the limit.
    #[error("txn nested deeper than {limit} levels")]
    TxnTooDeep { limit: usize },
    /// Data on disk failed a checksum or does not decode. Never served.
    #[error("storage corrupted: {0}")]
    Corrupted(String),
    /// An error from RocksDB other than corruption (IO, shutdown, ...).
    #[error("storage backend error: {0}")]
    Rocks(String),
    /// The engine is shutting down or a watcher was closed.
    #[error("storage engine stopped")]
    Stopped,
    /// Internal to batched apply: a request reads a range that an earlier request of the
    /// same run wrote; the run is written first and the request retried. Never returned.
    #[doc(hidden)]
    #[error("internal: request reads the pending run's writes")]
    GroupConflict,
}

impl Error {
    /// True for errors that mean the replica must not go on serving.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Corrupted(_) | Error::Rocks(_))
    }
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        match e.kind() {
            rocksdb::ErrorKind::Corruption => Error::Corrupted(e.into_string()),
            _ => Error::Rocks(e.into_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
