//! The watch hub: streams of events over a key range, with etcd's watch guarantees.
//!
//! A watcher is either *synced* (it has every event up to the last committed revision and
//! gets new ones live, from `notify`, which runs under the writer lock in revision order)
//! or *unsynced* (it is behind: the `berth-watch-sync` thread reads its events from the
//! `rev` history in storage and sends them, then marks it synced under the hub lock).
//!
//! Every send is `try_send` on a bounded channel: a watcher whose channel is full is moved
//! to unsynced at the revision it missed, so a slow watcher never blocks a writer or
//! another watcher and never loses an event. Each message holds whole revisions only.

use crate::engine::{in_range, validate_range, Engine, Inner};
use crate::error::{Error, Result};
use crate::types::{Event, EventKind};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TrySendError};

#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Messages buffered per watcher before it falls back to catch-up.
    pub channel_capacity: usize,
    /// How often the sync thread serves unsynced watchers.
    pub sync_interval: Duration,
    /// Idle time after which a watcher that asked for progress notifications gets one
    /// (etcd's default is 10 minutes).
    pub progress_interval: Duration,
    /// Events read from storage per catch-up step (whole revisions; may exceed it by one
    /// revision's worth).
    pub max_catchup_events: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            channel_capacity: 128,
            sync_interval: Duration::from_millis(10),
            progress_interval: Duration::from_secs(600),
            max_catchup_events: 1000,
        }
    }
}

/// What to watch. `start_revision` 0 means "from the next revision".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub start_revision: i64,
    /// The edge uses this to decide whether to send `prev_kv` (events always carry it
    /// when it is known).
    pub prev_kv: bool,
    pub no_put: bool,
    pub no_delete: bool,
    pub progress_notify: bool,
}

/// One message to a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    pub watch_id: i64,
    /// For events: the last revision in this message. For a progress notification: every
    /// event up to this revision has been delivered.
    pub revision: i64,
    pub events: Vec<Arc<Event>>,
    /// Set (with `canceled`) when the watcher's start revision was compacted away.
    pub compact_revision: i64,
    pub canceled: bool,
}

impl WatchResponse {
    pub fn is_progress(&self) -> bool {
        self.events.is_empty() && !self.canceled
    }
}

/// A live watch. Dropping it cancels the watch.
pub struct Watcher {
    id: i64,
    rx: mpsc::Receiver<WatchResponse>,
    engine: Weak<Inner>,
    pub request: WatchRequest,
}

impl Watcher {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The next message; None once the watch is canceled or the engine is gone.
    pub async fn recv(&mut self) -> Option<WatchResponse> {
        self.rx.recv().await
    }

    /// Blocking form of `recv`, for threads outside an async runtime.
    pub fn blocking_recv(&mut self) -> Option<WatchResponse> {
        self.rx.blocking_recv()
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<WatchResponse> {
        self.rx.try_recv().ok()
    }

    /// Asks for a progress notification; it comes once every event up to its revision has
    /// been delivered (at once for a synced watcher).
    pub fn request_progress(&self) {
        if let Some(inner) = self.engine.upgrade() {
            inner.hub.request_progress(self.id);
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(inner) = self.engine.upgrade() {
            inner.hub.remove(self.id);
        }
    }
}

struct WatcherState {
    key: Vec<u8>,
    range_end: Vec<u8>,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    tx: mpsc::Sender<WatchResponse>,
    /// Synced: events below this revision are not for this watcher (a future start).
    /// Unsynced: the first revision not yet delivered.
    rev: i64,
    synced: bool,
    progress_pending: bool,
    last_sent: Instant,
}

impl WatcherState {
    fn single_key(&self) -> bool {
        self.range_end.is_empty()
    }

    fn wants(&self, ev: &Event) -> bool {
        passes_filters(ev, self.no_put, self.no_delete)
    }
}

#[derive(Default)]
struct HubState {
    last_rev: i64,
    next_id: i64,
    watchers: HashMap<i64, WatcherState>,
    /// Synced single-key watchers by key.
    by_key: HashMap<Vec<u8>, Vec<i64>>,
    /// Synced range watchers.
    ranged: BTreeSet<i64>,
    unsynced: BTreeSet<i64>,
}

impl HubState {
    fn unlink_synced(&mut self, id: i64) {
        let Some(w) = self.watchers.get(&id) else {
            return;
        };
        if !w.synced {
            return;
        }
        if w.single_key() {
            if let Some(ids) = self.by_key.get_mut(&w.key) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    self.by_key.remove(&w.key);
                }
            }
        } else {
            self.ranged.remove(&id);
        }
    }

    fn link_synced(&mut self, id: i64) {
        let Some(w) = self.watchers.get(&id) else {
            return;
        };
        if w.single_key() {
            self.by_key.entry(w.key.clone()).or_default().push(id);
        } else {
            self.ranged.insert(id);
        }
    }

    fn remove(&mut self, id: i64) {
        self.unlink_synced(id);
        self.unsynced.remove(&id);
        self.watchers.remove(&id);
    }

    /// Moves a synced watcher to catch-up from `from_rev`.
    fn desync(&mut self, id: i64, from_rev: i64) {
        self.unlink_synced(id);
        if let Some(w) = self.watchers.get_mut(&id) {
            w.synced = false;
            w.rev = from_rev;
            self.unsynced.insert(id);
        }
    }

    fn mark_synced(&mut self, id: i64) {
        let last_rev = self.last_rev;
        let Some(w) = self.watchers.get_mut(&id) else {
            return;
        };
        w.synced = true;
        w.rev = w.rev.max(last_rev + 1);
        self.unsynced.remove(&id);
        self.link_synced(id);
        self.send_pending_progress(id);
    }

    fn send_pending_progress(&mut self, id: i64) {
        let last_rev = self.last_rev;
        let Some(w) = self.watchers.get_mut(&id) else {
            return;
        };
        if !(w.synced && w.progress_pending) {
            return;
        }
        let msg = WatchResponse {
            watch_id: id,
            revision: last_rev,
            events: Vec::new(),
            compact_revision: 0,
            canceled: false,
        };
        match w.tx.try_send(msg) {
            Ok(()) => {
                w.progress_pending = false;
                w.last_sent = Instant::now();
            }
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Closed(_)) => self.remove(id),
        }
    }
}

pub(crate) struct WatchHub {
    state: Mutex<HubState>,
}

impl WatchHub {
    pub(crate) fn new() -> WatchHub {
        WatchHub {
            state: Mutex::new(HubState {
                next_id: 1,
                ..Default::default()
            }),
        }
    }

    /// The store's state was replaced (open, snapshot install): synced watchers catch up
    /// from where they were.
    pub(crate) fn reset(&self, rev: i64) {
        let mut st = self.state.lock();
        let old_last = st.last_rev;
        let ids: Vec<i64> = st
            .watchers
            .iter()
            .filter(|(_, w)| w.synced)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let from = st.watchers[&id].rev.max(old_last + 1);
            st.desync(id, from);
        }
        st.last_rev = rev;
    }

    /// Delivers the events of the newly committed revision `rev` to synced watchers.
    /// Called under the writer lock, once per revision, in order.
    pub(crate) fn notify(&self, rev: i64, events: Vec<Arc<Event>>) {
        let mut st = self.state.lock();
        debug_assert!(rev > st.last_rev, "revisions are notified in order");
        st.last_rev = rev;
        let mut per_watcher: HashMap<i64, Vec<Arc<Event>>> = HashMap::new();
        for ev in &events {
            if let Some(ids) = st.by_key.get(&ev.kv.key) {
                for &id in ids {
                    per_watcher.entry(id).or_default().push(ev.clone());
                }
            }
            for &id in &st.ranged {
                let w = &st.watchers[&id];
                if in_range(&ev.kv.key, &w.key, &w.range_end) {
                    per_watcher.entry(id).or_default().push(ev.clone());
                }
            }
        }
        for (id, evs) in per_watcher {
            let Some(w) = st.watchers.get_mut(&id) else {
                continue;
            };
            if rev < w.rev {
                continue;
            }
            let evs: Vec<Arc<Event>> = evs.into_iter().filter(|e| w.wants(e)).collect();
            if evs.is_empty() {
                continue;
            }
            let msg = WatchResponse {
                watch_id: id,
                revision: rev,
                events: evs,
                compact_revision: 0,
                canceled: false,
            };
            match w.tx.try_send(msg) {
                Ok(()) => w.last_sent = Instant::now(),
                Err(TrySendError::Full(_)) => st.desync(id, rev),
                Err(TrySendError::Closed(_)) => st.remove(id),
            }
        }
    }

    fn add(&self, req: WatchRequest, tx: mpsc::Sender<WatchResponse>) -> i64 {
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        let last = st.last_rev;
        let start = req.start_revision;
        let synced = start <= 0 || start > last;
        let w = WatcherState {
            key: req.key,
            range_end: req.range_end,
            no_put: req.no_put,
            no_delete: req.no_delete,
            progress_notify: req.progress_notify,
            tx,
            rev: if start <= 0 { last + 1 } else { start },
            synced,
            progress_pending: false,
            last_sent: Instant::now(),
        };
        st.watchers.insert(id, w);
        if synced {
            st.link_synced(id);
        } else {
            st.unsynced.insert(id);
        }
        id
    }

    pub(crate) fn remove(&self, id: i64) {
        self.state.lock().remove(id);
    }

    fn request_progress(&self, id: i64) {
        let mut st = self.state.lock();
        if let Some(w) = st.watchers.get_mut(&id) {
            w.progress_pending = true;
            st.send_pending_progress(id);
        }
    }

    /// Number of watchers (synced, unsynced).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.watchers.len() - st.unsynced.len(), st.unsynced.len())
    }
}

impl Engine {
    /// Starts a watch. Events come in revision order, each revision whole, from
    /// `start_revision` (or the next revision) on; a start below the compact revision
    /// yields one canceled response carrying the compact revision.
    pub fn watch(&self, req: WatchRequest) -> Result<Watcher> {
        validate_range(&req.key, &req.range_end)?;
        let (tx, rx) = mpsc::channel(self.inner.config.watch.channel_capacity.max(1));
        let id = self.inner.hub.add(req.clone(), tx);
        Ok(Watcher {
            id,
            rx,
            engine: Arc::downgrade(&self.inner),
            request: req,
        })
    }

    /// (synced, unsynced) watcher counts.
    pub fn watcher_counts(&self) -> (usize, usize) {
        self.inner.hub.counts()
    }
}

/// The `berth-watch-sync` thread: serves unsynced watchers and periodic progress.
pub(crate) fn run_sync(inner: Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else { return };
        if inner.shutdown.load(Ordering::Acquire) {
            return;
        }
        let interval = inner.config.watch.sync_interval;
        if let Err(e) = sync_once(&inner) {
            tracing::error!(error = %e, "watch catch-up failed");
        }
        drop(inner);
        std::thread::sleep(interval);
    }
}

/// etcd's NOPUT / NODELETE watch filters.
fn passes_filters(ev: &Event, no_put: bool, no_delete: bool) -> bool {
    match ev.kind {
        EventKind::Put => !no_put,
        EventKind::Delete => !no_delete,
    }
}

struct CatchUp {
    id: i64,
    key: Vec<u8>,
    range_end: Vec<u8>,
    no_put: bool,
    no_delete: bool,
    tx: mpsc::Sender<WatchResponse>,
    next_rev: i64,
}

fn sync_once(inner: &Inner) -> Result<()> {
    let hub = &inner.hub;
    let config = &inner.config.watch;
    let work: Vec<CatchUp> = {
        let mut st = hub.state.lock();
        // Periodic progress for idle synced watchers that asked for it.
        let idle: Vec<i64> = st
            .watchers
            .iter()
            .filter(|(_, w)| {
                w.synced && w.progress_notify && w.last_sent.elapsed() >= config.progress_interval
            })
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            if let Some(w) = st.watchers.get_mut(&id) {
                w.progress_pending = true;
            }
            st.send_pending_progress(id);
        }
        let pending: Vec<i64> = st
            .watchers
            .iter()
            .filter(|(_, w)| w.synced && w.progress_pending)
            .map(|(&id, _)| id)
            .collect();
        for id in pending {
            st.send_pending_progress(id);
        }
        st.unsynced
            .iter()
            .map(|id| {
                let w = &st.watchers[id];
                CatchUp {
                    id: *id,
                    key: w.key.clone(),
                    range_end: w.range_end.clone(),
                    no_put: w.no_put,
                    no_delete: w.no_delete,
                    tx: w.tx.clone(),
                    next_rev: w.rev,
                }
            })
            .collect()
    };
    for mut c in work {
        let outcome = catch_up(inner, &mut c, config);
        let mut st = hub.state.lock();
        let Some(w) = st.watchers.get_mut(&c.id) else {
            continue;
        };
        if w.synced {
            continue;
        }
        w.rev = c.next_rev;
        match outcome {
            Ok(true) => {
                if st.last_rev < c.next_rev {
                    st.mark_synced(c.id);
                }
            }
            Ok(false) => {}
            Err(Error::Compacted { compact_revision }) => {
                let msg = WatchResponse {
                    watch_id: c.id,
                    revision: st.last_rev,
                    events: Vec::new(),
                    compact_revision: compact_revision.0,
                    canceled: true,
                };
                match c.tx.try_send(msg) {
                    Err(TrySendError::Full(_)) => {}
                    _ => st.remove(c.id),
                }
            }
            Err(Error::Stopped) => st.remove(c.id),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `c` its events from `c.next_rev` up to the last committed revision. Returns
/// true when it reached the end (the caller then marks it synced under the hub lock),
/// false when its channel filled up.
fn catch_up(inner: &Inner, c: &mut CatchUp, config: &WatchConfig) -> Result<bool> {
    loop {
        let last = inner.hub.state.lock().last_rev;
        if c.next_rev > last {
            return Ok(true);
        }
        let batch = inner.history(c.next_rev, last, config.max_catchup_events)?;
        if batch.is_empty() {
            c.next_rev = last + 1;
            continue;
        }
        // Group whole revisions into messages of up to max_catchup_events events.
        let mut msg_events: Vec<Arc<Event>> = Vec::new();
        let mut msg_rev = 0;
        let mut msg_first_rev = c.next_rev;
        for (rev, events) in batch {
            let mine: Vec<Arc<Event>> = events
                .into_iter()
                .filter(|e| {
                    in_range(&e.kv.key, &c.key, &c.range_end)
                        && passes_filters(e, c.no_put, c.no_delete)
                })
                .collect();
            if !mine.is_empty() {
                if msg_events.len() + mine.len() > config.max_catchup_events
                    && !msg_events.is_empty()
                {
                    if !send(c, std::mem::take(&mut msg_events), msg_rev)? {
                        c.next_rev = msg_first_rev;
                        return Ok(false);
                    }
                    msg_first_rev = rev;
                }
                msg_events.extend(mine);
                msg_rev = rev;
            }
            if msg_events.is_empty() {
                msg_first_rev = rev + 1;
            }
            c.next_rev = rev + 1;
        }
        if !msg_events.is_empty() && !send(c, msg_events, msg_rev)? {
            c.next_rev = msg_first_rev;
            return Ok(false);
        }
    }
}

fn send(c: &CatchUp, events: Vec<Arc<Event>>, rev: i64) -> Result<bool> {
    let msg = WatchResponse {
        watch_id: c.id,
        revision: rev,
        events,
        compact_revision: 0,
        canceled: false,
    };
    match c.tx.try_send(msg) {
        Ok(()) => Ok(true),
        Err(TrySendError::Full(_)) => Ok(false),
        Err(TrySendError::Closed(_)) => Err(Error::Stopped),
    }
}
