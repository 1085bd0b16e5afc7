//! openraft's log storage over the storage engine's Raft log: entries are bincode, appends
//! go to the group-commit writer and report durability through openraft's callback.

use crate::types::*;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use storage::RaftLog;

use crate::state_keys::{
    COMMITTED as KEY_COMMITTED, LAST_PURGED_LOG_ID as KEY_LAST_PURGED, VOTE as KEY_VOTE,
};

/// Log reads of at most this many entries run on the calling task.
const INLINE_READ_ENTRIES: u64 = 256;

#[derive(Clone)]
pub struct LogStore {
    log: Arc<RaftLog>,
}

impl LogStore {
    pub fn new(log: Arc<RaftLog>) -> LogStore {
        LogStore { log }
    }

    fn read_state<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        match self.log.state(key).map_err(io_err)? {
            Some(bytes) => Ok(Some(decode(&bytes).map_err(io_err)?)),
            None => Ok(None),
        }
    }

    /// Runs a callback-style log operation and waits for it without blocking the runtime.
    async fn wait(&self, submit: impl FnOnce(storage::FlushCallback)) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        submit(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx.await
            .map_err(|_| io_err("raft log writer stopped"))?
            .map_err(io_err)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => x.saturating_add(1),
            Bound::Excluded(x) => *x,
            Bound::Unbounded => u64::MAX,
        };
        // Replication reads a few recent entries (in the memtable) at a time: read those on
        // this task, since a hand-off to a blocking thread costs more than the read itself.
        let raw = if end.saturating_sub(start) <= INLINE_READ_ENTRIES {
            self.log.entries(start, end).map_err(io_err)?
        } else {
            let log = self.log.clone();
            tokio::task::spawn_blocking(move || log.entries(start, end))
                .await
                .map_err(io_err)?
                .map_err(io_err)?
        };
        raw.iter()
            .map(|(index, bytes)| {
                let entry: Entry = decode(bytes).map_err(io_err)?;
                if entry.index() != *index {
                    return Err(io_err(format!(
                        "log entry at {index} claims index {}",
                        entry.index()
                    )));
                }
                Ok(entry)
            })
            .collect()
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        self.read_state(KEY_VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let last_purged: Option<LogId> = self.read_state(KEY_LAST_PURGED)?;
        let last = match self.log.last_index().map_err(io_err)? {
            Some(index) => {
                let mut entries = self.try_get_log_entries(index..=index).await?;
                entries.pop().map(|e| e.log_id())
            }
            None => None,
        };
        Ok(LogState {
            last_log_id: last.or(last_purged),
            last_purged_log_id: last_purged,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let bytes = encode(vote).map_err(io_err)?;
        self.wait(|done| self.log.save_state_then(KEY_VOTE, &bytes, done))
            .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        let bytes = encode(&committed).map_err(io_err)?;
        // Not waited for: the committed index is a hint that speeds up restart.
        self.log
            .save_state_then(KEY_COMMITTED, &bytes, Box::new(|_| {}));
        Ok(())
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        Ok(self.read_state::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Vec::new();
        for entry in entries {
            batch.push((entry.index(), encode(&entry).map_err(io_err)?));
        }
        self.log.append(
            batch,
            Box::new(move |r| callback.io_completed(r.map_err(io_err))),
        );
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        let from = last_log_id.map(|id| id.index() + 1).unwrap_or(0);
        self.wait(|done| self.log.truncate_from_then(from, done))
            .await
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        let bytes = encode(&log_id).map_err(io_err)?;
        self.wait(|done| {
            self.log
                .purge_upto_then(log_id.index(), KEY_LAST_PURGED, &bytes, done)
        })
        .await
    }
}
