//! The Raft log: entries, vote and other small Raft state, in their own column families
//! of the same RocksDB, with group commit.
//!
//! Each operation (append, truncate, purge, state save) is written to RocksDB at once by
//! the caller, unsynced, so it is visible to readers as soon as the call returns (openraft
//! reads entries back before they are durable). Its completion callback then goes through
//! one bounded queue to the `berth-raft-log` thread, which takes everything waiting and
//! issues one WAL fsync for all of it before running the callbacks: many appends share one
//! fsync, and a callback runs only once its operation is durable. Entry payloads are opaque
//! bytes here; the replication layer encodes them. Keys are big-endian indexes, and the
//! families are not compressed (entries are written once and dropped soon).
//!
//! [`RaftLogReader`] reads the same families without a writer thread, for offline
//! inspection of a stopped replica's store opened read-only.

use crate::codec;
use crate::engine::{Engine, Inner, CF_RAFT_LOG, CF_RAFT_STATE};
use crate::error::{Error, Result};
use rocksdb::WriteBatch;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Runs once the operation is durable (or failed).
pub type FlushCallback = Box<dyn FnOnce(Result<()>) + Send>;

const QUEUE_LEN: usize = 4096;
const MAX_GROUP_OPS: usize = 1024;
/// The raft_state key holding the highest purged index.
pub const STATE_PURGED: &[u8] = b"purged";

enum Op {
    Append(Vec<(u64, Vec<u8>)>),
    /// Delete entries >= index.
    Truncate(u64),
    /// Delete entries <= index and record it as purged, with a piece of state.
    Purge(u64, Option<(Vec<u8>, Vec<u8>)>),
    SaveState(Vec<u8>, Vec<u8>),
}

/// Counters of the group-commit writer.
#[derive(Debug, Default)]
pub struct LogStats {
    pub fsyncs: AtomicU64,
    pub ops: AtomicU64,
    pub entries: AtomicU64,
    pub fsync_micros_total: AtomicU64,
}

pub struct RaftLog {
    inner: Arc<Inner>,
    tx: SyncSender<(u64, FlushCallback)>,
    stats: Arc<LogStats>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    /// Opens the Raft log on this store and starts its writer thread. Create one per store.
    pub fn raft_log(&self) -> RaftLog {
        let (tx, rx) = sync_channel(QUEUE_LEN);
        let stats = Arc::new(LogStats::default());
        let inner = self.inner.clone();
        let st = stats.clone();
        let writer = std::thread::Builder::new()
            .name("berth-raft-log".into())
            .spawn(move || write_loop(inner, rx, st))
            .expect("spawn raft log writer");
        RaftLog {
            inner: self.inner.clone(),
            tx,
            stats,
            writer: Some(writer),
        }
    }
}

impl Drop for RaftLog {
    fn drop(&mut self) {
        // Closing the queue ends the writer after it has flushed what is queued.
        let (dead_tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut self.tx, dead_tx));
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

impl RaftLog {
    /// Writes `op` now (unsynced) and queues `done` for the next group fsync.
    fn submit(&self, op: Op, done: FlushCallback) {
        let n_entries = match &op {
            Op::Append(es) => es.len() as u64,
            _ => 0,
        };
        if let Err(e) = self.write(op) {
            done(Err(e));
            return;
        }
        // A full queue applies back-pressure: the caller waits for room.
        if let Err(e) = self.tx.send((n_entries, done)) {
            let (_, done) = e.0;
            done(Err(Error::Stopped));
        }
    }

    fn write(&self, op: Op) -> Result<()> {
        let log = self.inner.cf(CF_RAFT_LOG);
        let state = self.inner.cf(CF_RAFT_STATE);
        let mut batch = WriteBatch::default();
        match op {
            Op::Append(entries) => {
                for (index, payload) in &entries {
                    batch.put_cf(log, codec::log_key(*index), payload);
                }
            }
            Op::Truncate(from) => {
                batch.delete_range_cf(log, codec::log_key(from), codec::log_key(u64::MAX))
            }
            Op::Purge(upto, extra) => {
                batch.delete_range_cf(
                    log,
                    codec::log_key(0),
                    codec::log_key(upto.saturating_add(1)),
                );
                batch.put_cf(state, STATE_PURGED, upto.to_be_bytes());
                if let Some((k, v)) = extra {
                    batch.put_cf(state, k, v);
                }
            }
            Op::SaveState(k, v) => batch.put_cf(state, k, v),
        }
        self.inner.db.write(batch)?;
        Ok(())
    }

    fn submit_wait(&self, op: Op) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        self.submit(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap_or(Err(Error::Stopped))
    }

    /// Appends entries; `done` runs when they are durable. Indexes must follow the last one.
    pub fn append(&self, entries: Vec<(u64, Vec<u8>)>, done: FlushCallback) {
        self.submit(Op::Append(entries), done);
    }

    /// Appends and waits until durable.
    pub fn append_wait(&self, entries: Vec<(u64, Vec<u8>)>) -> Result<()> {
        self.submit_wait(Op::Append(entries))
    }

    /// Deletes every entry at or after `index`; `done` runs when durable.
    pub fn truncate_from_then(&self, index: u64, done: FlushCallback) {
        self.submit(Op::Truncate(index), done);
    }

    /// Purges up to `index`, saving `key = value` in the same write; `done` runs when durable.
    pub fn purge_upto_then(&self, index: u64, key: &[u8], value: &[u8], done: FlushCallback) {
        self.submit(Op::Purge(index, Some((key.to_vec(), value.to_vec()))), done);
    }

    /// Saves `key = value` in the Raft state family; `done` runs when durable.
    pub fn save_state_then(&self, key: &[u8], value: &[u8], done: FlushCallback) {
        self.submit(Op::SaveState(key.to_vec(), value.to_vec()), done);
    }

    /// Deletes every entry at or after `index` (a conflicting suffix) and waits.
    pub fn truncate_from(&self, index: u64) -> Result<()> {
        self.submit_wait(Op::Truncate(index))
    }

    /// Deletes every entry at or before `index`, records it as purged, and waits.
    pub fn purge_upto(&self, index: u64) -> Result<()> {
        self.submit_wait(Op::Purge(index, None))
    }

    /// Like `purge_upto`, also saving `key = value` in the same atomic write (the
    /// replication layer records the purged entry's full id this way).
    pub fn purge_upto_with_state(&self, index: u64, key: &[u8], value: &[u8]) -> Result<()> {
        self.submit_wait(Op::Purge(index, Some((key.to_vec(), value.to_vec()))))
    }

    /// Saves a small piece of Raft state (vote, committed, membership) durably.
    pub fn save_state(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.submit_wait(Op::SaveState(key.to_vec(), value.to_vec()))
    }

    /// The read side (also available without a writer: [`Engine::raft_log_reader`]).
    pub fn reader(&self) -> RaftLogReader {
        RaftLogReader {
            inner: self.inner.clone(),
        }
    }

    pub fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.reader().state(key)
    }

    /// The highest purged index (0 if none).
    pub fn purged(&self) -> Result<u64> {
        self.reader().purged()
    }

    /// Entries with `start <= index < end`, in order.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.reader().entries(start, end, usize::MAX)
    }

    pub fn first_index(&self) -> Result<Option<u64>> {
        self.reader().first_index()
    }

    pub fn last_index(&self) -> Result<Option<u64>> {
        self.reader().last_index()
    }

    pub fn stats(&self) -> &LogStats {
        &self.stats
    }
}

fn write_loop(inner: Arc<Inner>, rx: Receiver<(u64, FlushCallback)>, stats: Arc<LogStats>) {
    while let Ok(first) = rx.recv() {
        // Everything queued now was written before it was queued: one fsync covers it all.
        let mut group = vec![first];
        while group.len() < MAX_GROUP_OPS {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        // Failpoint: a slow (`sleep(ms)`) or failing (`return`) fsync of the Raft log.
        #[cfg(feature = "failpoints")]
        let injected = fail::eval("raftlog-before-fsync", |_| {
            Error::Rocks("failpoint raftlog-before-fsync".into())
        });
        #[cfg(not(feature = "failpoints"))]
        let injected: Option<Error> = None;
        let result = match injected {
            Some(e) => Err(e),
            None => inner.db.flush_wal(true).map_err(Error::from),
        };
        let took = started.elapsed();
        if let Some(o) = inner.observer.read().as_ref() {
            o.wal_fsync(took);
        }
        stats
            .fsync_micros_total
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        stats.ops.fetch_add(group.len() as u64, Ordering::Relaxed);
        stats
            .entries
            .fetch_add(group.iter().map(|(n, _)| n).sum::<u64>(), Ordering::Relaxed);
        if let Err(e) = &result {
            tracing::error!(error = %e, "raft log fsync failed");
        }
        for (_, done) in group {
            done(result.clone());
        }
    }
}

/// A read-only view of a store's Raft log and Raft state, for offline inspection of a
/// stopped replica (`kvctl offline raft`): no writer thread, no writes. Works on an engine
/// opened with [`Engine::open_read_only`].
pub struct RaftLogReader {
    inner: Arc<Inner>,
}

impl Engine {
    /// A read-only handle on the Raft log (see [`RaftLogReader`]); unlike
    /// [`Engine::raft_log`], it starts no thread and never writes.
    pub fn raft_log_reader(&self) -> RaftLogReader {
        RaftLogReader {
            inner: self.inner.clone(),
        }
    }
}

impl RaftLogReader {
    /// A value of the Raft state family (`vote`, `committed`, ... as the replication layer
    /// names them), opaque bytes.
    pub fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.db.get_cf(self.inner.cf(CF_RAFT_STATE), key)?)
    }

    /// Every key and value of the Raft state family, in key order.
    pub fn state_entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut it = self.inner.db.raw_iterator_cf(self.inner.cf(CF_RAFT_STATE));
        it.seek_to_first();
        let mut out = Vec::new();
        while it.valid() {
            let (k, v) = it.item().expect("valid iterator");
            out.push((k.to_vec(), v.to_vec()));
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The highest purged index (0 if none).
    pub fn purged(&self) -> Result<u64> {
        match self.state(STATE_PURGED)? {
            Some(v) => {
                Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(
                    |_| Error::Corrupted("bad purged index".into()),
                )?))
            }
            None => Ok(0),
        }
    }

    /// Entries with `start <= index < end`, in order, at most `max_entries` of them.
    pub fn entries(&self, start: u64, end: u64, max_entries: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(codec::log_key(end).to_vec());
        let mut it = self
            .inner
            .db
            .raw_iterator_cf_opt(self.inner.cf(CF_RAFT_LOG), ro);
        it.seek(codec::log_key(start));
        let mut out = Vec::new();
        while it.valid() && out.len() < max_entries {
            let (k, v) = it.item().expect("valid iterator");
            out.push((codec::log_index(k)?, v.to_vec()));
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The first entry's index, `None` when the log is empty.
    pub fn first_index(&self) -> Result<Option<u64>> {
        let mut it = self.inner.db.raw_iterator_cf(self.inner.cf(CF_RAFT_LOG));
        it.seek_to_first();
        let first = if it.valid() {
            Some(codec::log_index(it.key().expect("valid"))?)
        } else {
            None
        };
        it.status()?;
        Ok(first)
    }

    /// The last entry's index, `None` when the log is empty.
    pub fn last_index(&self) -> Result<Option<u64>> {
        let mut it = self.inner.db.raw_iterator_cf(self.inner.cf(CF_RAFT_LOG));
        it.seek_to_last();
        let last = if it.valid() {
            Some(codec::log_index(it.key().expect("valid"))?)
        } else {
            None
        };
        it.status()?;
        Ok(last)
    }
}
