//! The engine: opening the store, applying write requests atomically with their index,
//! and the shared state every other module reads (current and compact revisions).
//!
//! Column families (see ARCHITECTURE.md for the byte layouts in `codec`):
//! - `kv`: every retained version of every key, newest first per key.
//! - `rev`: the history in revision order, (main, sub) -> kind + key; watch catch-up and
//!   compaction walk it.
//! - `lease`: granted leases and the keys attached to each.
//! - `meta`: applied index, current and compact revisions, alarms, the replication layer's
//!   opaque applied state, the snapshot-install marker.
//! - `raft_log`, `raft_state`: the Raft log and vote (see `raftlog`), never compressed.

use crate::codec::{self, Record};
use crate::error::{Error, Result};
use crate::lease::LeaseTable;
use crate::types::*;
use crate::watch::{WatchConfig, WatchHub};
use parking_lot::Mutex;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    SliceTransform, WriteBatch, WriteOptions, DB,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const CF_KV: &str = "kv";
pub(crate) const CF_REV: &str = "rev";
pub(crate) const CF_LEASE: &str = "lease";
pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_RAFT_LOG: &str = "raft_log";
pub(crate) const CF_RAFT_STATE: &str = "raft_state";
/// The column families that make up the replicated state (what a snapshot carries).
pub(crate) const STATE_CFS: [&str; 4] = [CF_KV, CF_REV, CF_LEASE, CF_META];

pub(crate) const META_FORMAT: &[u8] = b"format";
pub(crate) const META_APPLIED: &[u8] = b"applied";
pub(crate) const META_REV: &[u8] = b"rev";
pub(crate) const META_COMPACT: &[u8] = b"compact";
pub(crate) const META_COMPACT_DONE: &[u8] = b"compact_done";
pub(crate) const META_LIVE_KEYS: &[u8] = b"live_keys";
pub(crate) const META_ALARMS: &[u8] = b"alarms";
pub(crate) const META_RAFT: &[u8] = b"raft";
pub(crate) const META_INSTALLING: &[u8] = b"installing";
const FORMAT: &[u8] = b"berth-mvcc-1";

/// etcd's maximum lease TTL (`MaxLeaseTTL`).
pub const MAX_LEASE_TTL_SECS: i64 = 9_000_000_000;

/// Engine settings. Defaults follow etcd's.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Size limit of the store; past it writes that grow it fail with `NoSpace`.
    pub quota_bytes: u64,
    pub max_request_bytes: usize,
    pub max_txn_ops: usize,
    pub max_txn_depth: usize,
    /// fsync every applied write. Off under Raft, where the log is the durable record.
    pub sync_apply: bool,
    pub block_cache_bytes: usize,
    /// Memtable budget shared by all column families.
    pub write_buffer_bytes: usize,
    /// Revision-history entries one physical compaction batch handles at most.
    pub compaction_batch_entries: usize,
    pub min_lease_ttl_secs: i64,
    pub watch: WatchConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            quota_bytes: 8 << 30,
            max_request_bytes: 3 << 19, // 1.5 MiB
            max_txn_ops: 128,
            max_txn_depth: 32,
            sync_apply: false,
            block_cache_bytes: 32 << 20,
            write_buffer_bytes: 64 << 20,
            compaction_batch_entries: 1000,
            min_lease_ttl_secs: 1,
            watch: WatchConfig::default(),
        }
    }
}

/// Receives timings from the engine (the binary turns them into metrics; storage knows
/// nothing of Prometheus). Called on the writing thread: keep it cheap.
pub trait Observer: Send + Sync {
    /// One WAL fsync of the Raft log writer (etcd's `etcd_disk_wal_fsync_duration_seconds`).
    fn wal_fsync(&self, _took: Duration) {}
    /// One apply's RocksDB write (etcd's `etcd_disk_backend_commit_duration_seconds`).
    fn backend_commit(&self, _took: Duration) {}
}

/// A handle to an open store. Cheap to clone; all clones share one RocksDB. When the last
/// handle goes, the background threads stop and the store closes (once watchers and the
/// Raft log, which hold it too, are gone).
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

/// Stops the background threads when the last `Engine` handle is dropped.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.stop_background();
    }
}

/// Wakes the compactor; kept outside `Inner` so the thread can wait without keeping the
/// store open.
#[derive(Default)]
pub(crate) struct Wake {
    pub(crate) pending: Mutex<bool>,
    pub(crate) cv: parking_lot::Condvar,
}

impl Wake {
    pub(crate) fn notify(&self) {
        *self.pending.lock() = true;
        self.cv.notify_all();
    }
}

pub(crate) struct Inner {
    pub(crate) db: DB,
    pub(crate) path: PathBuf,
    pub(crate) config: EngineConfig,
    /// Serializes apply, snapshot install and each physical compaction batch's decisions.
    pub(crate) writer: Mutex<WriterState>,
    /// The newest committed revision; readers load it, then open an iterator.
    pub(crate) current_rev: AtomicI64,
    /// The logical compact revision: reads below it fail; set before physical deletion.
    pub(crate) compact_rev: AtomicI64,
    pub(crate) applied_index: AtomicU64,
    pub(crate) leases: Mutex<LeaseTable>,
    pub(crate) hub: WatchHub,
    pub(crate) size: SizeEstimate,
    pub(crate) shutdown: AtomicBool,
    pub(crate) background: Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(crate) compactor_wake: Arc<Wake>,
    /// Held by each physical compaction batch and by snapshot install.
    pub(crate) compactor_lock: Mutex<()>,
    pub(crate) observer: parking_lot::RwLock<Option<Arc<dyn Observer>>>,
}

#[derive(Debug, Clone)]
pub(crate) struct WriterState {
    pub(crate) applied_index: u64,
    pub(crate) rev: i64,
    pub(crate) compact_rev: i64,
    pub(crate) live_keys: i64,
    pub(crate) alarms: BTreeSet<Alarm>,
}

impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Alarm {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.member_id, self.kind as u8).cmp(&(other.member_id, other.kind as u8))
    }
}

/// The store's size as the quota sees it: RocksDB's figure, refreshed at most every 100 ms,
/// plus the bytes written since.
pub(crate) struct SizeEstimate {
    measured_bytes: AtomicU64,
    written_since_bytes: AtomicU64,
    measured_at: Mutex<Instant>,
}

impl Engine {
    /// Opens (or creates) the store in `path`, finishing any interrupted snapshot install.
    pub fn open(path: impl AsRef<Path>, config: EngineConfig) -> Result<Engine> {
        let path = path.as_ref().to_path_buf();
        let db = open_db(&path, &config, false)?;
        let engine = Engine::with_db(db, path, config, false);
        engine.init_meta()?;
        if let Some(file) = engine.inner.get_meta(META_INSTALLING)? {
            let file = PathBuf::from(String::from_utf8_lossy(&file).into_owned());
            tracing::warn!(file = %file.display(), "finishing an interrupted snapshot install");
            crate::snapshot::install(&engine, &file)?;
        }
        engine.load_state()?;
        engine.start_background();
        Ok(engine)
    }

    /// Opens a stopped replica's store read-only (offline inspection). No background work,
    /// no writes; `apply` and the Raft log writer must not be used.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Engine> {
        let path = path.as_ref().to_path_buf();
        let config = EngineConfig::default();
        let db = open_db(&path, &config, true)?;
        let engine = Engine::with_db(db, path, config, true);
        if engine.inner.get_meta(META_FORMAT)?.is_none() {
            return Err(Error::Corrupted(format!(
                "{} holds no Berth store",
                engine.inner.path.display()
            )));
        }
        engine.load_state()?;
        Ok(engine)
    }

    /// The in-memory state around an open RocksDB (filled by `load_state`). A read-only
    /// engine starts shut down: it never runs background work.
    fn with_db(db: DB, path: PathBuf, config: EngineConfig, read_only: bool) -> Engine {
        let inner = Arc::new(Inner {
            db,
            path,
            hub: WatchHub::new(),
            config,
            writer: Mutex::new(WriterState {
                applied_index: 0,
                rev: 1,
                compact_rev: 0,
                live_keys: 0,
                alarms: BTreeSet::new(),
            }),
            current_rev: AtomicI64::new(1),
            compact_rev: AtomicI64::new(0),
            applied_index: AtomicU64::new(0),
            leases: Mutex::new(LeaseTable::default()),
            size: SizeEstimate {
                measured_bytes: AtomicU64::new(0),
                written_since_bytes: AtomicU64::new(0),
                measured_at: Mutex::new(Instant::now() - Duration::from_secs(1)),
            },
            shutdown: AtomicBool::new(read_only),
            background: Mutex::new(Vec::new()),
            compactor_wake: Arc::new(Wake::default()),
            compactor_lock: Mutex::new(()),
            observer: parking_lot::RwLock::new(None),
        });
        Engine {
            _owner: Arc::new(Owner(inner.clone())),
            inner,
        }
    }

    fn init_meta(&self) -> Result<()> {
        match self.inner.get_meta(META_FORMAT)? {
            Some(f) if f == FORMAT => Ok(()),
            Some(f) => Err(Error::Corrupted(format!(
                "unknown store format {:?}",
                String::from_utf8_lossy(&f)
            ))),
            None => {
                let mut batch = WriteBatch::default();
                let meta = self.inner.cf(CF_META);
                batch.put_cf(meta, META_FORMAT, FORMAT);
                batch.put_cf(meta, META_APPLIED, 0u64.to_be_bytes());
                batch.put_cf(meta, META_REV, 1i64.to_be_bytes());
                batch.put_cf(meta, META_COMPACT, 0i64.to_be_bytes());
                batch.put_cf(meta, META_COMPACT_DONE, 0i64.to_be_bytes());
                batch.put_cf(meta, META_LIVE_KEYS, 0i64.to_be_bytes());
                let mut wo = WriteOptions::default();
                wo.set_sync(true);
                self.inner.db.write_opt(batch, &wo)?;
                Ok(())
            }
        }
    }

    /// Loads the in-memory mirrors (revisions, applied index, leases, alarms) from disk.
    pub(crate) fn load_state(&self) -> Result<()> {
        let mut w = self.inner.writer.lock();
        self.load_state_locked(&mut w)
    }

    pub(crate) fn load_state_locked(&self, w: &mut WriterState) -> Result<()> {
        let inner = &self.inner;
        let applied = inner.meta_u64(META_APPLIED)?;
        let rev = inner.meta_i64(META_REV)?;
        let compact = inner.meta_i64(META_COMPACT)?;
        let live_keys = inner.meta_i64(META_LIVE_KEYS)?;
        if rev < 1 || compact > rev || live_keys < 0 {
            return Err(Error::Corrupted(format!(
                "inconsistent meta: rev {rev}, compact {compact}, live keys {live_keys}"
            )));
        }
        let alarms = match inner.get_meta(META_ALARMS)? {
            Some(b) => decode_alarms(&b)?,
            None => BTreeSet::new(),
        };
        let mut table = LeaseTable::default();
        let cf = inner.cf(CF_LEASE);
        let mut it = inner.db.raw_iterator_cf(cf);
        it.seek(b"L");
        while it.valid() {
            let (k, v) = it.item().expect("valid iterator");
            if k.first() != Some(&b'L') {
                break;
            }
            let id = codec::lease_id_from_key(k)?;
            let mut pos = 0;
            let ttl = codec::get_uvarint(v, &mut pos)? as i64;
            table.insert(id, ttl);
            it.next();
        }
        it.status()?;
        *w = WriterState {
            applied_index: applied,
            rev,
            compact_rev: compact,
            live_keys,
            alarms,
        };
        *inner.leases.lock() = table;
        inner.applied_index.store(applied, Ordering::Release);
        inner.compact_rev.store(compact, Ordering::Release);
        inner.current_rev.store(rev, Ordering::Release);
        inner.hub.reset(rev);
        Ok(())
    }

    fn start_background(&self) {
        let weak = Arc::downgrade(&self.inner);
        let wake = self.inner.compactor_wake.clone();
        let compactor = std::thread::Builder::new()
            .name("berth-compactor".into())
            .spawn(move || crate::compact::run(weak, wake))
            .expect("spawn compactor thread");
        let weak = Arc::downgrade(&self.inner);
        let sync = std::thread::Builder::new()
            .name("berth-watch-sync".into())
            .spawn(move || crate::watch::run_sync(weak))
            .expect("spawn watch sync thread");
        self.inner.background.lock().extend([compactor, sync]);
    }

    /// Stops the background threads. Also done on drop of the last handle.
    pub fn close(&self) {
        self.inner.stop_background();
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Sets the receiver of the engine's timings.
    pub fn set_observer(&self, observer: Arc<dyn Observer>) {
        *self.inner.observer.write() = Some(observer);
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The newest committed revision.
    pub fn current_revision(&self) -> Revision {
        Revision(self.inner.current_rev.load(Ordering::Acquire))
    }

    /// The revision below which history is gone.
    pub fn compact_revision(&self) -> Revision {
        Revision(self.inner.compact_rev.load(Ordering::Acquire))
    }

    /// The index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.inner.applied_index.load(Ordering::Acquire)
    }

    /// The replication layer's state recorded with the last applied entry (see
    /// [`Engine::apply_with_state`]).
    pub fn replication_state(&self) -> Result<Option<Vec<u8>>> {
        self.inner.get_meta(META_RAFT)
    }

    /// The number of keys that currently exist (not deleted).
    pub fn live_keys(&self) -> i64 {
        self.inner.writer.lock().live_keys
    }

    pub fn alarms(&self) -> Vec<Alarm> {
        self.inner.writer.lock().alarms.iter().copied().collect()
    }

    /// The store's size in bytes as the quota counts it (an estimate refreshed every 100 ms).
    pub fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }

    /// Checks a request against the limits that do not depend on replicated state (size,
    /// op count, shape) and against the local quota. The replication layer calls it before
    /// proposing; `apply` repeats the deterministic part.
    pub fn check_request(&self, req: &WriteRequest) -> Result<()> {
        validate(req, &self.inner.config)?;
        if req.may_grow() && self.size_bytes() > self.inner.config.quota_bytes {
            return Err(Error::NoSpace);
        }
        Ok(())
    }

    /// Standalone write (no Raft): checks the request and applies it as the next index.
    pub fn write(&self, req: &WriteRequest) -> Result<WriteResponse> {
        self.check_request(req)?;
        let mut w = self.inner.writer.lock();
        let index = w.applied_index + 1;
        self.inner.apply_locked(&mut w, index, req, None)
    }

    /// Applies the Raft entry `index`: the state change and "applied = index" are one
    /// atomic RocksDB write. An index at or below the applied index is skipped
    /// (`AlreadyApplied`), so re-applying after a crash is idempotent. An expected error
    /// (e.g. `LeaseNotFound`) still consumes the index but changes nothing else.
    pub fn apply(&self, index: u64, req: &WriteRequest) -> Result<WriteResponse> {
        let mut w = self.inner.writer.lock();
        self.inner.apply_locked(&mut w, index, req, None)
    }

    /// Like [`Engine::apply`], also recording `state` (the replication layer's applied log
    /// id and membership, opaque here) in the same atomic write.
    pub fn apply_with_state(
        &self,
        index: u64,
        req: &WriteRequest,
        state: &[u8],
    ) -> Result<WriteResponse> {
        let mut w = self.inner.writer.lock();
        self.inner.apply_locked(&mut w, index, req, Some(state))
    }

    /// Applies consecutive Raft entries, each at its own index and revision exactly as
    /// [`Engine::apply_with_state`] would, but with as few RocksDB writes as their requests
    /// allow: a run of puts, deletes and txns is one atomic write (with the last entry's
    /// index and state), so a crash leaves the state after one of the runs. Lease, compaction
    /// and alarm requests, and a request that reads a range written earlier in the run,
    /// start a new run. Returns one result per entry; `Err` only for a fatal error (the
    /// replica must stop; entries of the unfinished run are not applied).
    pub fn apply_batch(&self, entries: &[ApplyEntry<'_>]) -> Result<Vec<Result<WriteResponse>>> {
        let mut w = self.inner.writer.lock();
        self.inner.apply_group_locked(&mut w, entries)
    }

    /// Evaluates a read-only txn ([`TxnRequest::is_read_only`]) at the current revision
    /// without writing anything: its compares and ranges all read that revision, as one
    /// consistent view, while applies go on. The caller provides the consistency (a
    /// linearizable caller waits for its read index first).
    pub fn read_txn(&self, t: &TxnRequest) -> Result<TxnResponse> {
        assert!(
            t.is_read_only(),
            "read_txn is for txns whose operations are all ranges"
        );
        validate_txn(t, &self.inner.config, 0)?;
        let view = WriterState {
            applied_index: 0,
            rev: self.inner.current_rev.load(Ordering::Acquire),
            compact_rev: self.inner.compact_rev.load(Ordering::Acquire),
            live_keys: 0,
            alarms: BTreeSet::new(),
        };
        let mut exec = Exec::new(&self.inner, &view);
        let mut resp = exec.txn(t)?;
        assert_eq!(exec.changes, 0, "a read-only txn changes nothing");
        fix_txn_revisions(&mut resp, exec.view_rev());
        Ok(resp)
    }

    /// Flushes every memtable to SST files (durable without the WAL).
    pub fn flush(&self) -> Result<()> {
        for name in STATE_CFS.iter().chain(&[CF_RAFT_LOG, CF_RAFT_STATE]) {
            self.inner.db.flush_cf(self.inner.cf(name))?;
        }
        Ok(())
    }

    /// etcd's Defragment: flush, then compact every family so deleted data gives back space.
    pub fn defragment(&self) -> Result<()> {
        self.flush()?;
        for name in STATE_CFS.iter().chain(&[CF_RAFT_LOG]) {
            self.inner
                .db
                .compact_range_cf(self.inner.cf(name), None::<&[u8]>, None::<&[u8]>);
        }
        *self.inner.size.measured_at.lock() = Instant::now() - Duration::from_secs(1);
        Ok(())
    }

    // ---- leases (local deadlines; see `lease`) ----------------------------------------

    pub fn lease_ids(&self) -> Vec<i64> {
        self.inner.leases.lock().ids()
    }

    /// Keep-alive: returns the lease's TTL, or `LeaseNotFound`.
    pub fn lease_renew(&self, id: LeaseId, now_ms: u64) -> Result<i64> {
        self.inner
            .leases
            .lock()
            .renew(id.0, now_ms)
            .ok_or(Error::LeaseNotFound)
    }

    /// Called when this replica becomes leader: every lease gets `now + ttl + extend`.
    pub fn lease_promote(&self, now_ms: u64, extend_ms: u64) {
        self.inner.leases.lock().promote(now_ms, extend_ms);
    }

    /// Leases whose deadline has passed as of `now_ms`: the leader proposes their revokes.
    pub fn expired_leases(&self, now_ms: u64) -> Vec<LeaseId> {
        self.inner
            .leases
            .lock()
            .expired(now_ms)
            .into_iter()
            .map(LeaseId)
            .collect()
    }

    /// TimeToLive: TTLs and, when asked, the attached keys.
    pub fn lease_info(&self, id: LeaseId, now_ms: u64, with_keys: bool) -> Result<LeaseInfo> {
        let (granted, remaining) = {
            let t = self.inner.leases.lock();
            (
                t.ttl_secs(id.0).ok_or(Error::LeaseNotFound)?,
                t.remaining_secs(id.0, now_ms).unwrap_or(0),
            )
        };
        let keys = if with_keys {
            self.inner.lease_keys(id.0)?
        } else {
            Vec::new()
        };
        Ok(LeaseInfo {
            id: id.0,
            granted_ttl_secs: granted,
            ttl_secs: remaining,
            keys,
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Release);
    }
}

impl Inner {
    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    pub(crate) fn stop_background(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.compactor_wake.notify();
        let handles: Vec<_> = self.background.lock().drain(..).collect();
        let me = std::thread::current().id();
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
    }

    pub(crate) fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_META), key)?)
    }

    fn meta_u64(&self, key: &[u8]) -> Result<u64> {
        let v = self.get_meta(key)?.ok_or_else(|| {
            Error::Corrupted(format!("meta {:?} missing", String::from_utf8_lossy(key)))
        })?;
        let arr: [u8; 8] = v
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupted("meta value is not 8 bytes".into()))?;
        Ok(u64::from_be_bytes(arr))
    }

    pub(crate) fn meta_i64(&self, key: &[u8]) -> Result<i64> {
        Ok(self.meta_u64(key)? as i64)
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        let mut at = self.size.measured_at.lock();
        if at.elapsed() >= Duration::from_millis(100) {
            let mut total = 0u64;
            for name in STATE_CFS {
                let cf = self.cf(name);
                for prop in [
                    "rocksdb.total-sst-files-size",
                    "rocksdb.cur-size-all-mem-tables",
                ] {
                    total += self
                        .db
                        .property_int_value_cf(cf, prop)
                        .ok()
                        .flatten()
                        .unwrap_or(0);
                }
            }
            self.size.measured_bytes.store(total, Ordering::Relaxed);
            self.size.written_since_bytes.store(0, Ordering::Relaxed);
            *at = Instant::now();
        }
        self.size.measured_bytes.load(Ordering::Relaxed)
            + self.size.written_since_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn lease_keys(&self, id: i64) -> Result<Vec<Vec<u8>>> {
        let prefix = codec::lease_attach_prefix(id);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_LEASE));
        it.seek(prefix);
        let mut keys = Vec::new();
        while it.valid() {
            let k = it.key().expect("valid iterator");
            if !k.starts_with(&prefix) {
                break;
            }
            keys.push(k[prefix.len()..].to_vec());
            it.next();
        }
        it.status()?;
        Ok(keys)
    }

    pub(crate) fn apply_locked(
        &self,
        w: &mut WriterState,
        index: u64,
        req: &WriteRequest,
        state: Option<&[u8]>,
    ) -> Result<WriteResponse> {
        if index <= w.applied_index {
            return Ok(WriteResponse::AlreadyApplied);
        }
        let mut exec = Exec::new(self, w);
        let outcome = validate(req, &self.config).and_then(|()| exec.run(index, req));
        let (mut batch, result) = match outcome {
            Ok(resp) => (exec.batch, Ok(resp)),
            Err(e) if e.is_fatal() => return Err(e),
            // An expected error: the entry is consumed, nothing else changes.
            Err(e) => (WriteBatch::default(), Err(e)),
        };
        let changed = result.is_ok() && exec.changes > 0;
        let meta = self.cf(CF_META);
        batch.put_cf(meta, META_APPLIED, index.to_be_bytes());
        if let Some(state) = state {
            batch.put_cf(meta, META_RAFT, state);
        }
        let new_rev = if changed { w.rev + 1 } else { w.rev };
        if changed {
            batch.put_cf(meta, META_REV, new_rev.to_be_bytes());
            batch.put_cf(
                meta,
                META_LIVE_KEYS,
                (w.live_keys + exec.live_delta).to_be_bytes(),
            );
        }
        if result.is_ok() {
            if let Some(c) = exec.new_compact_rev {
                batch.put_cf(meta, META_COMPACT, c.to_be_bytes());
            }
            if exec.alarms_changed {
                batch.put_cf(meta, META_ALARMS, encode_alarms(&exec.alarms));
            }
        }
        self.commit_apply_batch(batch)?;

        // Committed: publish to the in-memory mirrors, then to watchers (in revision order,
        // under the writer lock).
        w.applied_index = index;
        self.applied_index.store(index, Ordering::Release);
        if result.is_ok() {
            let mut leases = self.leases.lock();
            for op in &exec.lease_ops {
                match *op {
                    LeaseOp::Grant { id, ttl_secs } => leases.insert(id, ttl_secs),
                    LeaseOp::Revoke { id } => leases.remove(id),
                }
            }
            drop(leases);
            if let Some(c) = exec.new_compact_rev {
                w.compact_rev = c;
                self.compact_rev.store(c, Ordering::Release);
                self.compactor_wake.notify();
            }
            if exec.alarms_changed {
                w.alarms = std::mem::take(&mut exec.alarms);
            }
        }
        if changed {
            assert_eq!(
                new_rev,
                w.rev + 1,
                "revision advances by one per changing request"
            );
            w.rev = new_rev;
            w.live_keys += exec.live_delta;
            debug_assert!(w.live_keys >= 0);
            self.current_rev.store(new_rev, Ordering::Release);
            self.hub.notify(new_rev, exec.events);
        }
        result
    }
}

/// One Raft entry for [`Engine::apply_batch`].
pub struct ApplyEntry<'a> {
    pub index: u64,
    pub request: &'a WriteRequest,
    /// The replication layer's applied state after this entry (opaque here).
    pub state: &'a [u8],
}

/// The size of a RocksDB write batch's header (sequence number, then the record count):
/// the records of several batches concatenated after one header make one batch.
const BATCH_HEADER_BYTES: usize = 12;

/// A run of applied-but-not-yet-written entries: their concatenated write batches and the
/// state they lead to, which the next request of the run reads through `overlay`.
struct Group {
    rep: Vec<u8>,
    n_records: u32,
    rev: i64,
    live_keys: i64,
    applied_index: u64,
    state: Option<Vec<u8>>,
    /// The newest version (mod revision, record or None for deleted) of each key the run
    /// wrote.
    overlay: GroupOverlay,
    /// Events per new revision, published to watchers once the run is written.
    events: Vec<(i64, Vec<Arc<Event>>)>,
}

pub(crate) type GroupOverlay = BTreeMap<Vec<u8>, (i64, Option<Record>)>;

impl Group {
    fn new(w: &WriterState) -> Group {
        let mut rep = Vec::with_capacity(64 << 10);
        rep.resize(BATCH_HEADER_BYTES, 0);
        Group {
            rep,
            n_records: 0,
            rev: w.rev,
            live_keys: w.live_keys,
            applied_index: w.applied_index,
            state: None,
            overlay: BTreeMap::new(),
            events: Vec::new(),
        }
    }
}

/// Requests that change leases, compaction or alarms are applied alone: they read and
/// update state that a run does not carry.
fn groupable(req: &WriteRequest) -> bool {
    matches!(
        req,
        WriteRequest::Put(_)
            | WriteRequest::DeleteRange(_)
            | WriteRequest::Txn(_)
            | WriteRequest::Noop
    )
}

impl Inner {
    pub(crate) fn apply_group_locked(
        &self,
        w: &mut WriterState,
        entries: &[ApplyEntry<'_>],
    ) -> Result<Vec<Result<WriteResponse>>> {
        let mut out = Vec::with_capacity(entries.len());
        let mut group = Group::new(w);
        for e in entries {
            if e.index <= group.applied_index {
                out.push(Ok(WriteResponse::AlreadyApplied));
                continue;
            }
            debug_assert_eq!(
                e.index,
                group.applied_index + 1,
                "openraft applies entries in index order without gaps"
            );
            if !groupable(e.request) {
                self.commit_group(w, &mut group)?;
                let result = self.apply_locked(w, e.index, e.request, Some(e.state));
                if let Err(err) = &result {
                    if err.is_fatal() {
                        return Err(err.clone());
                    }
                }
                out.push(result);
                group = Group::new(w);
                continue;
            }
            let result = loop {
                let mut exec = Exec::new(self, w);
                exec.base_rev = group.rev;
                exec.group = Some(&group.overlay);
                let outcome =
                    validate(e.request, &self.config).and_then(|()| exec.run(e.index, e.request));
                match outcome {
                    Err(Error::GroupConflict) => {
                        debug_assert!(
                            !group.overlay.is_empty(),
                            "only a run's own writes conflict"
                        );
                        drop(exec);
                        self.commit_group(w, &mut group)?;
                        group = Group::new(w);
                    }
                    Err(err) if err.is_fatal() => return Err(err),
                    Err(err) => break Err(err),
                    Ok(resp) => {
                        let Exec {
                            batch,
                            overlay,
                            events,
                            changes,
                            live_delta,
                            ..
                        } = exec;
                        group
                            .rep
                            .extend_from_slice(&batch.data()[BATCH_HEADER_BYTES..]);
                        group.n_records += batch.len() as u32;
                        if changes > 0 {
                            group.rev += 1;
                            group.live_keys += live_delta;
                            for (k, rec) in overlay {
                                group.overlay.insert(k, (group.rev, rec));
                            }
                            group.events.push((group.rev, events));
                        }
                        break Ok(resp);
                    }
                }
            };
            // An expected error consumes the entry and changes nothing else.
            group.applied_index = e.index;
            group.state = Some(e.state.to_vec());
            out.push(result);
        }
        self.commit_group(w, &mut group)?;
        Ok(out)
    }

    /// The one RocksDB write of an apply (single entry or run): timed for the observer and
    /// counted for the quota estimate.
    fn commit_apply_batch(&self, batch: WriteBatch) -> Result<()> {
        let written = batch.size_in_bytes() as u64;
        let mut wo = WriteOptions::default();
        wo.set_sync(self.config.sync_apply);
        let started = Instant::now();
        // Failpoint: a slow (`sleep(ms)`) or failing (`return`) apply write.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("engine-before-apply-write", |_| Err(Error::Rocks(
            "failpoint engine-before-apply-write".into()
        )));
        self.db.write_opt(batch, &wo)?;
        if let Some(o) = self.observer.read().as_ref() {
            o.backend_commit(started.elapsed());
        }
        self.size
            .written_since_bytes
            .fetch_add(written, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a run in one atomic write, then publishes it (mirrors, then watchers in
    /// revision order). Leaves `group` empty.
    fn commit_group(&self, w: &mut WriterState, group: &mut Group) -> Result<()> {
        let Some(state) = group.state.take() else {
            return Ok(());
        };
        group.rep[8..BATCH_HEADER_BYTES].copy_from_slice(&group.n_records.to_le_bytes());
        let mut batch = WriteBatch::from_data(&group.rep);
        let meta = self.cf(CF_META);
        batch.put_cf(meta, META_APPLIED, group.applied_index.to_be_bytes());
        batch.put_cf(meta, META_RAFT, &state);
        let changed = group.rev != w.rev;
        if changed {
            batch.put_cf(meta, META_REV, group.rev.to_be_bytes());
            batch.put_cf(meta, META_LIVE_KEYS, group.live_keys.to_be_bytes());
        }
        self.commit_apply_batch(batch)?;
        assert!(
            group.applied_index > w.applied_index,
            "a run advances the applied index"
        );
        w.applied_index = group.applied_index;
        self.applied_index
            .store(group.applied_index, Ordering::Release);
        if changed {
            assert_eq!(
                group.rev,
                w.rev + group.events.len() as i64,
                "revision advances by one per changing request"
            );
            w.rev = group.rev;
            w.live_keys = group.live_keys;
            debug_assert!(w.live_keys >= 0);
            self.current_rev.store(group.rev, Ordering::Release);
            for (rev, events) in std::mem::take(&mut group.events) {
                self.hub.notify(rev, events);
            }
        }
        group.rep.truncate(BATCH_HEADER_BYTES);
        group.n_records = 0;
        group.overlay.clear();
        Ok(())
    }
}

fn open_db(path: &Path, config: &EngineConfig, read_only: bool) -> Result<DB> {
    let cache = Cache::new_lru_cache(config.block_cache_bytes);
    let mut db_opts = Options::default();
    db_opts.create_if_missing(!read_only);
    db_opts.create_missing_column_families(!read_only);
    db_opts.set_paranoid_checks(true);
    db_opts.set_db_write_buffer_size(config.write_buffer_bytes);
    db_opts.set_max_background_jobs(2);
    db_opts.set_bytes_per_sync(1 << 20);
    db_opts.set_keep_log_file_num(3);
    db_opts.set_max_total_wal_size(256 << 20);
    // Not `manual_wal_flush`: tried (it saves a write(2) per apply), but a kill -9 then
    // loses the WAL buffer while column families flushed to SST keep later applies, so the
    // families disagree after recovery (the chaos harness's slow-disk run diverged).

    let state_cf = |compress: bool, prefix_bloom: bool| {
        let mut o = Options::default();
        let mut bb = BlockBasedOptions::default();
        bb.set_block_cache(&cache);
        bb.set_cache_index_and_filter_blocks(true);
        bb.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if prefix_bloom {
            // Bloom filters on the user key (the `kv` key minus its 8-byte revision), so
            // a seek for one key's versions skips the SSTs that never held it. Readers
            // that scan across keys use total-order seeks (`read::kv_scan_options`).
            bb.set_bloom_filter(10.0, false);
            bb.set_whole_key_filtering(false);
            o.set_prefix_extractor(SliceTransform::create(
                "berth.kv.user_key",
                codec::kv_key_user_part,
                Some(codec::is_kv_key),
            ));
            o.set_memtable_prefix_bloom_ratio(0.05);
        }
        o.set_block_based_table_factory(&bb);
        o.set_compression_type(if compress {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });
        o.set_level_compaction_dynamic_level_bytes(true);
        o
    };
    let cfs = vec![
        ColumnFamilyDescriptor::new(CF_KV, state_cf(true, true)),
        ColumnFamilyDescriptor::new(CF_REV, state_cf(true, false)),
        ColumnFamilyDescriptor::new(CF_LEASE, state_cf(true, false)),
        ColumnFamilyDescriptor::new(CF_META, state_cf(false, false)),
        ColumnFamilyDescriptor::new(CF_RAFT_LOG, state_cf(false, false)),
        ColumnFamilyDescriptor::new(CF_RAFT_STATE, state_cf(false, false)),
    ];
    let db = if read_only {
        DB::open_cf_descriptors_read_only(&db_opts, path, cfs, false)
    } else {
        std::fs::create_dir_all(path).map_err(|e| {
            Error::Rocks(format!("failed to create data dir {}: {e}", path.display()))
        })?;
        DB::open_cf_descriptors(&db_opts, path, cfs)
    };
    db.map_err(|e| {
        let err = Error::from(e);
        tracing::error!(path = %path.display(), error = %err, "failed to open store");
        err
    })
}

pub(crate) fn encode_alarms(alarms: &BTreeSet<Alarm>) -> Vec<u8> {
    let mut out = Vec::new();
    codec::put_uvarint(&mut out, alarms.len() as u64);
    for a in alarms {
        codec::put_uvarint(&mut out, a.member_id);
        out.push(match a.kind {
            AlarmKind::NoSpace => 1,
            AlarmKind::Corrupt => 2,
        });
    }
    out
}

fn decode_alarms(b: &[u8]) -> Result<BTreeSet<Alarm>> {
    let mut pos = 0;
    let n = codec::get_uvarint(b, &mut pos)?;
    let mut out = BTreeSet::new();
    for _ in 0..n {
        let member_id = codec::get_uvarint(b, &mut pos)?;
        let kind = match b.get(pos) {
            Some(1) => AlarmKind::NoSpace,
            Some(2) => AlarmKind::Corrupt,
            _ => return Err(Error::Corrupted("bad alarm encoding".into())),
        };
        pos += 1;
        out.insert(Alarm { member_id, kind });
    }
    Ok(out)
}

// ---- validation (pure, deterministic) ------------------------------------------------

/// Checks the shape and limits of a request; nothing here reads state.
pub fn validate(req: &WriteRequest, config: &EngineConfig) -> Result<()> {
    let size = req.size_bytes();
    if size > config.max_request_bytes {
        return Err(Error::RequestTooLarge {
            size_bytes: size,
            limit_bytes: config.max_request_bytes,
        });
    }
    match req {
        WriteRequest::Put(p) => validate_put(p),
        WriteRequest::DeleteRange(d) => validate_range(&d.key, &d.range_end),
        WriteRequest::Txn(t) => {
            validate_txn(t, config, 0)?;
            check_txn_intervals(&t.success)?;
            check_txn_intervals(&t.failure)?;
            Ok(())
        }
        WriteRequest::LeaseGrant { ttl_secs, .. } if *ttl_secs > MAX_LEASE_TTL_SECS => {
            Err(Error::LeaseTtlTooLarge)
        }
        _ => Ok(()),
    }
}

fn validate_put(p: &PutRequest) -> Result<()> {
    if p.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// A range must name a key; `range_end` must not sort before it (unless it is "\0").
pub fn validate_range(key: &[u8], range_end: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if !range_end.is_empty() && range_end != [0] && range_end < key {
        return Err(Error::InvalidRange);
    }
    Ok(())
}

fn validate_txn(t: &TxnRequest, config: &EngineConfig, depth: usize) -> Result<()> {
    if depth >= config.max_txn_depth {
        return Err(Error::TxnTooDeep {
            limit: config.max_txn_depth,
        });
    }
    let limit = config.max_txn_ops;
    if t.compare.len() > limit || t.success.len() > limit || t.failure.len() > limit {
        return Err(Error::TooManyOps { limit });
    }
    for c in &t.compare {
        validate_range(&c.key, &c.range_end)?;
    }
    for op in t.success.iter().chain(&t.failure) {
        match op {
            RequestOp::Range(r) => validate_range(&r.key, &r.range_end)?,
            RequestOp::Put(p) => validate_put(p)?,
            RequestOp::DeleteRange(d) => validate_range(&d.key, &d.range_end)?,
            RequestOp::Txn(inner) => validate_txn(inner, config, depth + 1)?,
        }
    }
    Ok(())
}

/// The keys a txn branch puts and the ranges it deletes.
type TxnWrites = (BTreeSet<Vec<u8>>, Vec<(Vec<u8>, Vec<u8>)>);

/// etcd's rule, made order-insensitive: within one branch, a key may be put at most once
/// and may not be both put and deleted; the two branches of a nested txn exclude each other,
/// but sibling nested txns and the ops around them do not. (etcd checks a nested txn's puts
/// only against deletes that come before it; a put and a delete of one key in two sibling
/// nested txns would write the key twice in one revision, so Berth refuses that too.)
fn check_txn_intervals(ops: &[RequestOp]) -> Result<TxnWrites> {
    let mut puts: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut dels: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // (puts, dels) of each part that can run together with the others: this level's own ops
    // (part 0), and each nested txn (both of its branches, which exclude each other).
    let mut parts: Vec<TxnWrites> = vec![(BTreeSet::new(), Vec::new())];
    for op in ops {
        match op {
            RequestOp::Put(p) => {
                if !parts[0].0.insert(p.key.clone()) {
                    return Err(Error::DuplicateKey);
                }
            }
            RequestOp::DeleteRange(d) => parts[0].1.push((d.key.clone(), d.range_end.clone())),
            RequestOp::Txn(t) => {
                let (then_puts, then_dels) = check_txn_intervals(&t.success)?;
                let (else_puts, else_dels) = check_txn_intervals(&t.failure)?;
                let child_puts: BTreeSet<Vec<u8>> = then_puts.union(&else_puts).cloned().collect();
                let mut child_dels = then_dels;
                child_dels.extend(else_dels);
                parts.push((child_puts, child_dels));
            }
            RequestOp::Range(_) => {}
        }
    }
    // Within part 0, puts against its own deletes; across parts, puts against the other
    // parts' puts and deletes.
    for (i, (p_i, d_i)) in parts.iter().enumerate() {
        for k in p_i {
            if i == 0 && d_i.iter().any(|(s, e)| in_range(k, s, e)) {
                return Err(Error::DuplicateKey);
            }
            for (j, (p_j, d_j)) in parts.iter().enumerate() {
                if i != j && (p_j.contains(k) || d_j.iter().any(|(s, e)| in_range(k, s, e))) {
                    return Err(Error::DuplicateKey);
                }
            }
        }
    }
    for (p, d) in parts {
        puts.extend(p);
        dels.extend(d);
    }
    Ok((puts, dels))
}

/// Whether `k` falls in etcd's range `[start, end)` (`end` empty: the single key `start`;
/// `end == "\0"`: every key >= `start`).
pub fn in_range(k: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        k == start
    } else if end == [0] {
        k >= start
    } else {
        k >= start && k < end
    }
}

// ---- the executor ----------------------------------------------------------------------

/// Live keys of a range with their mod revision and record, in key order.
type LiveKeys = Vec<(Vec<u8>, i64, Record)>;

enum LeaseOp {
    Grant { id: i64, ttl_secs: i64 },
    Revoke { id: i64 },
}

/// Executes one write request into a WriteBatch, with read-your-writes inside a txn
/// through an overlay of the keys it has written so far. Nothing touches RocksDB until the
/// caller commits the batch.
pub(crate) struct Exec<'a> {
    inner: &'a Inner,
    base_rev: i64,
    compact_rev: i64,
    pub(crate) batch: WriteBatch,
    /// Keys written by this request: the new record (None for a delete).
    overlay: BTreeMap<Vec<u8>, Option<Record>>,
    events: Vec<Arc<Event>>,
    changes: u32,
    live_delta: i64,
    lease_ops: Vec<LeaseOp>,
    new_compact_rev: Option<i64>,
    alarms: BTreeSet<Alarm>,
    alarms_changed: bool,
    /// The entry index being applied (seeds generated lease ids).
    index: u64,
    /// Keys written by earlier requests of the same run (see `apply_group_locked`), not
    /// yet in RocksDB: point reads look here first; a range read that would need them
    /// fails with `GroupConflict` and is retried after the run is written.
    group: Option<&'a GroupOverlay>,
}

impl<'a> Exec<'a> {
    fn new(inner: &'a Inner, w: &WriterState) -> Exec<'a> {
        Exec {
            inner,
            base_rev: w.rev,
            compact_rev: w.compact_rev,
            batch: WriteBatch::default(),
            overlay: BTreeMap::new(),
            events: Vec::new(),
            changes: 0,
            live_delta: 0,
            lease_ops: Vec::new(),
            new_compact_rev: None,
            alarms: w.alarms.clone(),
            alarms_changed: false,
            index: 0,
            group: None,
        }
    }

    fn new_rev(&self) -> i64 {
        self.base_rev + 1
    }

    fn run(&mut self, index: u64, req: &WriteRequest) -> Result<WriteResponse> {
        self.index = index;
        let nospace = self.alarms.iter().any(|a| a.kind == AlarmKind::NoSpace);
        if nospace && req.may_grow() {
            return Err(Error::NoSpace);
        }
        match req {
            WriteRequest::Put(p) => {
                let resp = self.put(p)?;
                Ok(WriteResponse::Put(resp))
            }
            WriteRequest::DeleteRange(d) => {
                let mut resp = self.delete_range(d)?;
                resp.revision = self.view_rev();
                Ok(WriteResponse::DeleteRange(resp))
            }
            WriteRequest::Txn(t) => {
                let mut resp = self.txn(t)?;
                fix_txn_revisions(&mut resp, self.view_rev());
                Ok(WriteResponse::Txn(resp))
            }
            WriteRequest::Compact { revision } => {
                let revision = *revision;
                if revision <= self.compact_rev {
                    return Err(Error::Compacted {
                        compact_revision: Revision(self.compact_rev),
                    });
                }
                if revision > self.base_rev {
                    return Err(Error::FutureRevision {
                        current_revision: Revision(self.base_rev),
                    });
                }
                self.new_compact_rev = Some(revision);
                Ok(WriteResponse::Compact {
                    revision: self.base_rev,
                })
            }
            WriteRequest::LeaseGrant { id, ttl_secs } => self.lease_grant(*id, *ttl_secs),
            WriteRequest::LeaseRevoke { id } => self.lease_revoke(*id),
            WriteRequest::AlarmActivate(a) => {
                self.alarms_changed = self.alarms.insert(*a);
                Ok(WriteResponse::Alarm {
                    alarms: self.alarms.iter().copied().collect(),
                    revision: self.base_rev,
                })
            }
            WriteRequest::AlarmDeactivate(a) => {
                self.alarms_changed = self.alarms.remove(a);
                Ok(WriteResponse::Alarm {
                    alarms: self.alarms.iter().copied().collect(),
                    revision: self.base_rev,
                })
            }
            WriteRequest::Noop => Ok(WriteResponse::Noop {
                revision: self.base_rev,
            }),
        }
    }

    /// The revision reads inside this request see: the new one once something changed.
    fn view_rev(&self) -> i64 {
        if self.changes > 0 {
            self.new_rev()
        } else {
            self.base_rev
        }
    }

    /// The latest version of `key` as this request sees it: (mod revision, record).
    fn latest(&self, key: &[u8]) -> Result<Option<(i64, Record)>> {
        if let Some(entry) = self.overlay.get(key) {
            return Ok(entry.as_ref().map(|r| (self.new_rev(), r.clone())));
        }
        if let Some((mod_rev, entry)) = self.group.and_then(|g| g.get(key)) {
            return Ok(entry.as_ref().map(|r| (*mod_rev, r.clone())));
        }
        let found = crate::read::get_latest(&self.inner.db, self.inner.cf(CF_KV), key)?;
        Ok(found.filter(|(_, r)| !r.tombstone))
    }

    /// Whether an earlier request of the run wrote a key in `[key, end)`.
    fn group_touches(&self, key: &[u8], end: &[u8]) -> bool {
        let Some(g) = self.group.filter(|g| !g.is_empty()) else {
            return false;
        };
        if end.is_empty() {
            return g.contains_key(key);
        }
        g.range(key.to_vec()..)
            .next()
            .is_some_and(|(k, _)| in_range(k, key, end))
    }

    fn lease_exists(&self, id: i64) -> bool {
        self.inner.leases.lock().contains(id)
    }

    fn put(&mut self, p: &PutRequest) -> Result<PutResponse> {
        // One version per key per revision (the static check should have caught this).
        if self.overlay.contains_key(&p.key) {
            return Err(Error::DuplicateKey);
        }
        let prev = self.latest(&p.key)?;
        let value = if p.ignore_value {
            prev.as_ref().ok_or(Error::KeyNotFound)?.1.value.clone()
        } else {
            p.value.clone()
        };
        let lease = if p.ignore_lease {
            prev.as_ref().ok_or(Error::KeyNotFound)?.1.lease
        } else {
            p.lease
        };
        if lease != 0 && !self.lease_exists(lease) {
            return Err(Error::LeaseNotFound);
        }
        let rev = self.new_rev();
        let (create_revision, version) = match &prev {
            Some((_, r)) => (r.create_revision, r.version + 1),
            None => (rev, 1),
        };
        let record = Record {
            tombstone: false,
            create_revision,
            sub_revision: self.changes,
            version,
            lease,
            value,
        };
        self.write_version(
            &p.key,
            &record,
            prev.as_ref().map(|(_, r)| r.lease).unwrap_or(0),
        )?;
        let prev_kv = prev.map(|(m, r)| r.into_kv(p.key.clone(), m));
        if prev_kv.is_none() {
            self.live_delta += 1;
        }
        self.events.push(Arc::new(Event {
            kind: EventKind::Put,
            kv: record.to_kv(&p.key, rev),
            prev_kv: prev_kv.clone(),
        }));
        self.overlay.insert(p.key.clone(), Some(record));
        self.changes += 1;
        Ok(PutResponse {
            revision: rev,
            prev_kv: if p.prev_kv { prev_kv } else { None },
        })
    }

    /// Writes one version of `key` at the new revision (kv, rev history and lease index).
    fn write_version(&mut self, key: &[u8], record: &Record, prev_lease: i64) -> Result<()> {
        let rev = self.new_rev();
        let kv = self.inner.cf(CF_KV);
        let hist = self.inner.cf(CF_REV);
        let leases = self.inner.cf(CF_LEASE);
        self.batch
            .put_cf(kv, codec::kv_key(key, rev), record.encode());
        let mut h = Vec::with_capacity(key.len() + 1);
        h.push(u8::from(record.tombstone));
        h.extend_from_slice(key);
        self.batch
            .put_cf(hist, codec::rev_key(rev, record.sub_revision), h);
        if prev_lease != 0 && prev_lease != record.lease {
            self.batch
                .delete_cf(leases, codec::lease_attach_key(prev_lease, key));
        }
        if record.lease != 0 && record.lease != prev_lease {
            self.batch
                .put_cf(leases, codec::lease_attach_key(record.lease, key), []);
        }
        Ok(())
    }

    fn delete_key(&mut self, key: &[u8], prev: (i64, Record)) -> Result<KeyValue> {
        if self.overlay.contains_key(key) {
            return Err(Error::DuplicateKey);
        }
        let rev = self.new_rev();
        let tomb = Record {
            tombstone: true,
            create_revision: 0,
            sub_revision: self.changes,
            version: 0,
            lease: 0,
            value: Vec::new(),
        };
        self.write_version(key, &tomb, prev.1.lease)?;
        let prev_kv = prev.1.into_kv(key.to_vec(), prev.0);
        let kv = KeyValue {
            key: key.to_vec(),
            mod_revision: rev,
            ..Default::default()
        };
        self.events.push(Arc::new(Event {
            kind: EventKind::Delete,
            kv,
            prev_kv: Some(prev_kv.clone()),
        }));
        self.overlay.insert(key.to_vec(), None);
        self.changes += 1;
        self.live_delta -= 1;
        Ok(prev_kv)
    }

    /// The live keys in `[key, end)` before this request, in key order.
    fn stored_live_in_range(&self, key: &[u8], end: &[u8]) -> Result<LiveKeys> {
        if self.group_touches(key, end) {
            if !end.is_empty() {
                return Err(Error::GroupConflict);
            }
            let (mod_rev, entry) = &self.group.expect("touched")[key];
            return Ok(entry
                .iter()
                .map(|r| (key.to_vec(), *mod_rev, r.clone()))
                .collect());
        }
        let mut stored: LiveKeys = Vec::new();
        crate::read::scan_latest(
            &self.inner.db,
            self.inner.cf(CF_KV),
            key,
            end,
            self.base_rev,
            &mut |k, m, raw| {
                let r = Record::decode(raw)?;
                if !r.tombstone {
                    stored.push((k.to_vec(), m, r));
                }
                Ok(true)
            },
        )?;
        Ok(stored)
    }

    /// The live keys in `[key, end)` as this request sees them (its own writes included).
    fn live_in_range(&self, key: &[u8], end: &[u8]) -> Result<LiveKeys> {
        let stored = self.stored_live_in_range(key, end)?;
        if self.overlay.is_empty() {
            return Ok(stored);
        }
        // Merge with this request's own writes.
        let mut merged: BTreeMap<Vec<u8>, (i64, Record)> =
            stored.into_iter().map(|(k, m, r)| (k, (m, r))).collect();
        for (k, entry) in &self.overlay {
            if !in_range(k, key, end) {
                continue;
            }
            match entry {
                Some(r) => {
                    merged.insert(k.clone(), (self.new_rev(), r.clone()));
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        Ok(merged.into_iter().map(|(k, (m, r))| (k, m, r)).collect())
    }

    fn delete_range(&mut self, d: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        let victims = self.live_in_range(&d.key, &d.range_end)?;
        let mut prev_kvs = Vec::new();
        let deleted = victims.len() as i64;
        for (k, m, r) in victims {
            let prev = self.delete_key(&k, (m, r))?;
            if d.prev_kv {
                prev_kvs.push(prev);
            }
        }
        Ok(DeleteRangeResponse {
            revision: 0,
            deleted,
            prev_kvs,
        })
    }

    fn range(&self, r: &RangeRequest) -> Result<RangeResponse> {
        let view = self.view_rev();
        // An explicit revision must exist before this request (etcd checks txn ranges against
        // the store's revision); revision 0 reads this request's own writes too.
        if r.revision > self.base_rev {
            return Err(Error::FutureRevision {
                current_revision: Revision(self.base_rev),
            });
        }
        let rev = if r.revision <= 0 { view } else { r.revision };
        if rev < self.compact_rev {
            return Err(Error::Compacted {
                compact_revision: Revision(self.compact_rev),
            });
        }
        let touched = self.group_touches(&r.key, &r.range_end);
        if rev == view && (self.changes > 0 || touched) {
            let items = self.live_in_range(&r.key, &r.range_end)?;
            let kvs = items.into_iter().map(|(k, m, rec)| rec.into_kv(k, m));
            return Ok(crate::read::shape_range(r, view, kvs.collect()));
        }
        if touched {
            // An older revision of a key the run wrote: not in RocksDB yet.
            return Err(Error::GroupConflict);
        }
        crate::read::range_at(&self.inner.db, self.inner.cf(CF_KV), r, rev, view)
    }

    /// Compares see the state before this request, nested txns' compares included (etcd
    /// evaluates them all up front).
    fn compare(&self, c: &Compare) -> Result<bool> {
        let items = self.stored_live_in_range(&c.key, &c.range_end)?;
        if items.is_empty() {
            if matches!(c.target, CompareTarget::Value(_)) {
                return Ok(false);
            }
            return Ok(compare_kv(
                c,
                0,
                &Record {
                    tombstone: false,
                    create_revision: 0,
                    sub_revision: 0,
                    version: 0,
                    lease: 0,
                    value: Vec::new(),
                },
            ));
        }
        Ok(items.iter().all(|(_, m, r)| compare_kv(c, *m, r)))
    }

    fn txn(&mut self, t: &TxnRequest) -> Result<TxnResponse> {
        let mut succeeded = true;
        for c in &t.compare {
            if !self.compare(c)? {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded { &t.success } else { &t.failure };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range(r)?),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete_range(d)?),
                RequestOp::Txn(inner) => ResponseOp::Txn(self.txn(inner)?),
            });
        }
        Ok(TxnResponse {
            revision: 0,
            succeeded,
            responses,
        })
    }

    fn lease_grant(&mut self, id: i64, ttl_secs: i64) -> Result<WriteResponse> {
        let id = if id == 0 { self.pick_lease_id() } else { id };
        if id < 0 {
            return Err(Error::LeaseNotFound);
        }
        if self.lease_exists(id) {
            return Err(Error::LeaseExists);
        }
        let ttl = ttl_secs.max(self.inner.config.min_lease_ttl_secs);
        let mut v = Vec::new();
        codec::put_uvarint(&mut v, ttl as u64);
        self.batch
            .put_cf(self.inner.cf(CF_LEASE), codec::lease_key(id), v);
        self.lease_ops.push(LeaseOp::Grant { id, ttl_secs: ttl });
        Ok(WriteResponse::LeaseGrant {
            id,
            ttl_secs: ttl,
            revision: self.base_rev,
        })
    }

    /// A lease id derived from the entry index: the same on every replica.
    fn pick_lease_id(&self) -> i64 {
        let mut x = self.index;
        loop {
            x = splitmix64(x);
            let id = (x >> 1) as i64;
            if id != 0 && !self.lease_exists(id) {
                return id;
            }
        }
    }

    fn lease_revoke(&mut self, id: i64) -> Result<WriteResponse> {
        if !self.lease_exists(id) {
            return Err(Error::LeaseNotFound);
        }
        let mut keys = self.inner.lease_keys(id)?;
        keys.sort();
        for key in keys {
            if let Some(prev) = self.latest(&key)? {
                if prev.1.lease == id {
                    self.delete_key(&key, prev)?;
                }
            }
            self.batch
                .delete_cf(self.inner.cf(CF_LEASE), codec::lease_attach_key(id, &key));
        }
        self.batch
            .delete_cf(self.inner.cf(CF_LEASE), codec::lease_key(id));
        self.lease_ops.push(LeaseOp::Revoke { id });
        Ok(WriteResponse::LeaseRevoke {
            revision: self.view_rev(),
        })
    }
}

/// Every response in a txn carries the txn's revision in its header, as in etcd.
fn fix_txn_revisions(resp: &mut TxnResponse, rev: i64) {
    resp.revision = rev;
    for r in &mut resp.responses {
        match r {
            ResponseOp::Range(_) => {}
            ResponseOp::Put(p) => p.revision = rev,
            ResponseOp::DeleteRange(d) => d.revision = rev,
            ResponseOp::Txn(t) => fix_txn_revisions(t, rev),
        }
    }
}

fn compare_kv(c: &Compare, mod_rev: i64, r: &Record) -> bool {
    use std::cmp::Ordering as O;
    let ord = match &c.target {
        CompareTarget::Value(v) => r.value.as_slice().cmp(v.as_slice()),
        CompareTarget::Version(v) => r.version.cmp(v),
        CompareTarget::Create(v) => r.create_revision.cmp(v),
        CompareTarget::Mod(v) => mod_rev.cmp(v),
        CompareTarget::Lease(v) => r.lease.cmp(v),
    };
    match c.result {
        CompareResult::Equal => ord == O::Equal,
        CompareResult::NotEqual => ord != O::Equal,
        CompareResult::Greater => ord == O::Greater,
        CompareResult::Less => ord == O::Less,
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
