//! The watch cache: one per resource type per replica. It lists the type's prefix once,
//! then follows one store watch, keeping the current objects (serialized once, shared by
//! every reader) and a bounded window of recent events that all API watchers read from.
//!
//! Freshness argument (KEP-2340's consistent reads from cache): the cache's revision `rev`
//! means "every store event of this prefix up to `rev` is applied". A consistent read first
//! learns the store's current revision R with a linearizable read, then waits until
//! `rev >= R` (asking the store watch for a progress notification, which carries the
//! replica's applied revision once every event before it was delivered). Whatever the cache
//! holds then includes every write acknowledged before the read started.

use crate::resources::Resource;
use berth_replication::{ReadConsistency, Store};
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use storage::{EventKind, KeyValue, RangeRequest, WatchRequest};
use tokio::sync::{mpsc, watch};

/// Bounds of the event window: whichever is hit first evicts the oldest events.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    pub max_events: usize,
    pub max_event_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_events: 20_000,
            max_event_bytes: 64 << 20,
        }
    }
}

/// One object as the cache holds it: its JSON (with `metadata.resourceVersion` set) and what
/// selectors look at.
#[derive(Debug)]
pub struct CachedObject {
    /// The key below the resource prefix: `namespace/name` or `name`.
    pub key: Box<str>,
    pub rv: i64,
    pub json: Bytes,
    pub labels: Option<Map<String, Value>>,
    /// Values of the selectable fields (`metadata.name`, `spec.nodeName`, ...).
    pub fields: Vec<(&'static str, Box<str>)>,
    pub uid: Box<str>,
    /// It has ownerReferences or a deletionTimestamp: what garbage collection looks at.
    pub gc_relevant: bool,
}

impl CachedObject {
    pub fn namespace(&self) -> &str {
        self.key.split_once('/').map(|(ns, _)| ns).unwrap_or("")
    }
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| &**v)
    }
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct CacheEvent {
    pub rev: i64,
    pub kind: EventType,
    /// The object after the event (for a delete: the last state, at the delete's revision).
    pub obj: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
}

/// Why a watcher cannot continue from where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    /// The events after this revision were evicted (or were never in the cache): 410.
    TooOld { requested: i64, oldest: i64 },
    /// The cache restarted (its store watch failed); the watcher must be re-established.
    Restarted,
}

struct State {
    rev: i64,
    epoch: u64,
    synced: bool,
    objects: BTreeMap<Box<str>, Arc<CachedObject>>,
    events: VecDeque<Arc<CacheEvent>>,
    event_bytes: usize,
    /// Every event with a revision above this one is in `events`.
    window_start: i64,
    object_bytes: usize,
}

/// Turns a stored value into a cached object; the strategy supplies the selectable fields.
pub type Decode = fn(&Resource, &str, &[u8], i64) -> Option<CachedObject>;

pub struct Cache {
    pub resource: &'static Resource,
    config: CacheConfig,
    state: RwLock<State>,
    /// (epoch, rev) after every change, for waiting watchers and readers.
    tick: watch::Sender<(u64, i64)>,
    progress: mpsc::Sender<()>,
    progress_rx: parking_lot::Mutex<Option<mpsc::Receiver<()>>>,
    decode: Decode,
    pub events_received: prometheus::IntCounter,
}

impl Cache {
    pub fn new(
        resource: &'static Resource,
        config: CacheConfig,
        decode: Decode,
        events_received: prometheus::IntCounter,
    ) -> Arc<Cache> {
        let (tick, _) = watch::channel((0, 0));
        let (progress, progress_rx) = mpsc::channel(1);
        Arc::new(Cache {
            resource,
            config,
            state: RwLock::new(State {
                rev: 0,
                epoch: 0,
                synced: false,
                objects: BTreeMap::new(),
                events: VecDeque::new(),
                event_bytes: 0,
                window_start: 0,
                object_bytes: 0,
            }),
            tick,
            progress,
            progress_rx: parking_lot::Mutex::new(Some(progress_rx)),
            decode,
            events_received,
        })
    }

    /// Runs the list-then-watch loop forever (restarting after a failed store watch).
    pub fn spawn<S: Store>(self: &Arc<Self>, store: Arc<S>) {
        let me = self.clone();
        let Some(mut progress_rx) = self.progress_rx.lock().take() else {
            return;
        };
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match me.run_once(&*store, &mut progress_rx).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(resource = %me.resource.gvr(), error = %e, "watch cache restarting");
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                me.state.write().synced = false;
                tokio::time::sleep(backoff).await;
            }
        });
    }

    async fn run_once<S: Store>(
        &self,
        store: &S,
        progress_rx: &mut mpsc::Receiver<()>,
    ) -> Result<(), String> {
        let prefix = self.resource.key_prefix();
        // List in pages at one revision.
        let mut objects = BTreeMap::new();
        let mut object_bytes = 0;
        let mut start = prefix.clone().into_bytes();
        let end = storage::prefix_end(prefix.as_bytes());
        let mut rev = 0;
        loop {
            let mut req = RangeRequest::range(start.clone(), end.clone());
            req.limit = 5_000;
            let consistency = if rev == 0 {
                ReadConsistency::Linearizable
            } else {
                ReadConsistency::Serializable
            };
            if rev != 0 {
                req = req.at(rev);
            }
            let resp = store
                .range(req, consistency)
                .await
                .map_err(|e| format!("list failed: {e}"))?;
            if rev == 0 {
                rev = resp.revision;
            }
            for kv in &resp.kvs {
                if let Some(o) = self.decode_kv(kv, &prefix, kv.mod_revision) {
                    object_bytes += o.json.len();
                    objects.insert(o.key.clone(), Arc::new(o));
                }
            }
            match (resp.more, resp.kvs.last()) {
                (true, Some(last)) => {
                    start = last.key.clone();
                    start.push(0);
                }
                _ => break,
            }
        }
        let mut watcher = store
            .watch(WatchRequest {
                key: prefix.clone().into_bytes(),
                range_end: end,
                start_revision: rev + 1,
                prev_kv: true,
                no_put: false,
                no_delete: false,
                progress_notify: true,
            })
            .map_err(|e| format!("watch failed: {e}"))?;
        let epoch = {
            let mut s = self.state.write();
            s.epoch += 1;
            s.rev = rev;
            s.synced = true;
            s.objects = objects;
            s.object_bytes = object_bytes;
            s.events.clear();
            s.event_bytes = 0;
            s.window_start = rev;
            s.epoch
        };
        self.tick.send_replace((epoch, rev));
        tracing::debug!(resource = %self.resource.gvr(), revision = rev, "watch cache synced");
        loop {
            tokio::select! {
                resp = watcher.recv() => {
                    let Some(resp) = resp else { return Err("store watch ended".into()) };
                    if resp.canceled {
                        return Err(format!("store watch canceled (compacted at {})", resp.compact_revision));
                    }
                    self.apply(&prefix, &resp);
                }
                Some(()) = progress_rx.recv() => watcher.request_progress(),
            }
        }
    }

    fn decode_kv(&self, kv: &KeyValue, prefix: &str, rv: i64) -> Option<CachedObject> {
        let key = std::str::from_utf8(&kv.key).ok()?.strip_prefix(prefix)?;
        let obj = (self.decode)(self.resource, key, &kv.value, rv);
        if obj.is_none() {
            tracing::warn!(key = %String::from_utf8_lossy(&kv.key), "stored object does not decode; left out of the cache");
        }
        obj
    }

    fn apply(&self, prefix: &str, resp: &storage::WatchResponse) {
        let mut s = self.state.write();
        for ev in &resp.events {
            let (kind, obj) = match ev.kind {
                EventKind::Put => {
                    let Some(o) = self.decode_kv(&ev.kv, prefix, ev.kv.mod_revision) else {
                        continue;
                    };
                    (
                        if ev.kv.create_revision == ev.kv.mod_revision {
                            EventType::Added
                        } else {
                            EventType::Modified
                        },
                        o,
                    )
                }
                EventKind::Delete => {
                    // The object's last state, stamped with the deletion's revision.
                    let Some(prev) = &ev.prev_kv else { continue };
                    let Some(o) = self.decode_kv(prev, prefix, ev.kv.mod_revision) else {
                        continue;
                    };
                    (EventType::Deleted, o)
                }
            };
            self.events_received.inc();
            let obj = Arc::new(obj);
            let prev = match kind {
                EventType::Deleted => s.objects.remove(&obj.key),
                _ => s.objects.insert(obj.key.clone(), obj.clone()),
            };
            if let Some(p) = &prev {
                s.object_bytes -= p.json.len();
            }
            if kind != EventType::Deleted {
                s.object_bytes += obj.json.len();
            }
            let rev = ev.kv.mod_revision;
            debug_assert!(rev >= s.rev, "events arrive in revision order");
            s.event_bytes += obj.json.len();
            s.events.push_back(Arc::new(CacheEvent {
                rev,
                kind,
                obj,
                prev,
            }));
        }
        s.rev = s.rev.max(resp.revision);
        // Evict whole revisions from the front until within bounds.
        while s.events.len() > self.config.max_events || s.event_bytes > self.config.max_event_bytes
        {
            let Some(front) = s.events.pop_front() else {
                break;
            };
            s.event_bytes -= front.obj.json.len();
            s.window_start = s.window_start.max(front.rev);
        }
        let (epoch, rev) = (s.epoch, s.rev);
        drop(s);
        self.tick.send_replace((epoch, rev));
    }

    pub fn synced(&self) -> bool {
        self.state.read().synced
    }
    pub fn revision(&self) -> i64 {
        self.state.read().rev
    }
    pub fn len(&self) -> usize {
        self.state.read().objects.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes of serialized objects held (for the memory figures).
    pub fn object_bytes(&self) -> usize {
        self.state.read().object_bytes
    }

    pub fn subscribe(&self) -> watch::Receiver<(u64, i64)> {
        self.tick.subscribe()
    }

    /// Waits until the cache has applied every event up to `rev`. False on timeout.
    pub async fn wait_for(&self, rev: i64, timeout: Duration) -> bool {
        let mut rx = self.tick.subscribe();
        if self.state.read().synced && self.revision() >= rev {
            return true;
        }
        let _ = self.progress.try_send(());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let s = self.state.read();
                if s.synced && s.rev >= rev {
                    return true;
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
            // Nudge again: a progress notification only answers once the watch is caught up.
            let _ = self.progress.try_send(());
        }
    }

    /// The objects (optionally of one namespace) and the revision they are at.
    pub fn list(&self, namespace: Option<&str>) -> (i64, u64, Vec<Arc<CachedObject>>) {
        let s = self.state.read();
        let items = match namespace {
            Some(ns) => {
                let lo = format!("{ns}/");
                let hi = format!("{ns}0"); // '0' follows '/'
                s.objects
                    .range::<str, _>((
                        std::ops::Bound::Included(lo.as_str()),
                        std::ops::Bound::Excluded(hi.as_str()),
                    ))
                    .map(|(_, o)| o.clone())
                    .collect()
            }
            None => s.objects.values().cloned().collect(),
        };
        (s.rev, s.epoch, items)
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.state.read().objects.get(key).cloned()
    }

    /// Up to `max` events after revision `after` of cache epoch `epoch`.
    pub fn events_after(
        &self,
        epoch: u64,
        after: i64,
        max: usize,
    ) -> Result<(Vec<Arc<CacheEvent>>, i64), WindowError> {
        let s = self.state.read();
        if s.epoch != epoch || !s.synced {
            return Err(WindowError::Restarted);
        }
        if after < s.window_start {
            return Err(WindowError::TooOld {
                requested: after,
                oldest: s.window_start + 1,
            });
        }
        let start = s.events.partition_point(|e| e.rev <= after);
        let out: Vec<_> = s.events.iter().skip(start).take(max).cloned().collect();
        Ok((out, s.rev))
    }

    /// The epoch and whether a watch may start after `rev` (its events are all still here).
    pub fn window(&self) -> (u64, i64, i64) {
        let s = self.state.read();
        (s.epoch, s.window_start, s.rev)
    }
}
