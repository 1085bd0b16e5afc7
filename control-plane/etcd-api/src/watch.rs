//! The Watch service: one bidirectional stream carries any number of watches (up to
//! `max_watches_per_stream`), created, canceled and asked for progress by the client.
//!
//! Shape: one task per stream owns the stream's state and is the only writer of the
//! response stream; one small "pump" task per watch moves the engine watcher's messages to
//! it over a bounded channel. Every channel is bounded, so a client that does not read
//! stops its pumps, whose engine watchers then fall back to catch-up from storage (the
//! engine never blocks a writer and never drops an event). Messages carry the watch's
//! stream-unique key, so those of a canceled watch are dropped even if its id is reused.
//!
//! etcd's rules kept here: ids are per stream, server-assigned from 0 upwards unless the
//! client picks one (a duplicate is refused); the created response comes before the watch's
//! events and its header holds the revision the watch starts after; a start revision below
//! the compact revision gets one canceled response carrying the compact revision; `prev_kv`
//! only when asked; large responses split into fragments when the client asked for it.
//!
//! A progress request is answered with watch id -1 at a revision R such that every watch
//! of the stream has delivered every event up to R (a true bookmark, also for watches still
//! catching up), and R is at least every revision already sent on the stream (clients
//! broadcast the answer to all their watches, which must not see their revision go back).
//! Each watch's known progress is the highest of: its start revision - 1, the revision of
//! the last events it sent (events come in revision order without gaps), and the engine's
//! progress confirmations; R is their minimum. When that minimum is below what the stream
//! already sent, the watches behind are asked again (their new confirmation is at least
//! the revision committed when asked). etcd 3.4 answers at once with the store's
//! revision, which is not a bookmark for a watch still catching up.

use crate::convert;
use crate::server::ApiConfig;
use crate::status::to_status;
use berth_replication::{Header, Store};
use etcd_client::proto::{
    PbEvent, PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService,
};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use storage::Watcher;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// etcd's watch id for "no watch" (refused creates, stream-wide progress).
const INVALID_WATCH_ID: i64 = -1;
pub const DUPLICATE_WATCH_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";
pub const TOO_MANY_WATCHES: &str = "etcdserver: too many watches on one stream";
pub const WATCH_CLOSED: &str = "etcdserver: watch closed by the server";

pub struct WatchService<S> {
    store: Arc<S>,
    config: Arc<ApiConfig>,
}

impl<S> WatchService<S> {
    pub fn new(store: Arc<S>, config: Arc<ApiConfig>) -> Self {
        WatchService { store, config }
    }
}

#[tonic::async_trait]
impl<S: Store> PbWatchService for WatchService<S> {
    type WatchStream = ReceiverStream<Result<PbWatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<PbWatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let buffer = self.config.watch_stream_buffer.max(1);
        let (out, out_rx) = mpsc::channel(buffer);
        let (pumped_tx, pumped_rx) = mpsc::channel(buffer);
        let stream = WatchStream {
            store: self.store.clone(),
            out,
            max_watches: self.config.max_watches_per_stream,
            fragment_bytes: self.config.max_request_bytes,
            watches: HashMap::new(),
            ids_by_key: HashMap::new(),
            next_watch_id: 0,
            next_key: 0,
            max_sent_rev: 0,
            progress_owed: None,
            pumped_tx,
        };
        tokio::spawn(stream.run(request.into_inner(), pumped_rx));
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }
}

/// What a pump passes on from its engine watcher.
enum Pumped {
    Msg(storage::WatchResponse),
    /// The engine closed the watcher without a canceled message (it is shutting down).
    Closed,
}

/// Moves one watcher's messages to the stream task, and progress requests to the watcher.
async fn pump(
    mut watcher: Watcher,
    key: u64,
    mut progress_rx: mpsc::Receiver<()>,
    tx: mpsc::Sender<(u64, Pumped)>,
) {
    loop {
        tokio::select! {
            m = watcher.recv() => {
                let Some(m) = m else {
                    let _ = tx.send((key, Pumped::Closed)).await;
                    return;
                };
                let last = m.canceled;
                if tx.send((key, Pumped::Msg(m))).await.is_err() || last {
                    return;
                }
            }
            p = progress_rx.recv() => match p {
                Some(()) => watcher.request_progress(),
                None => return,
            },
        }
    }
}

struct Entry {
    key: u64,
    prev_kv: bool,
    fragment: bool,
    /// Every event of this watch up to this revision has been sent to the client.
    progress_rev: i64,
    progress_tx: mpsc::Sender<()>,
    pump: JoinHandle<()>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The pump owns the engine watcher: stopping it cancels the watch in the engine.
        self.pump.abort();
    }
}

/// The response stream is gone: stop.
struct Gone;

struct WatchStream<S> {
    store: Arc<S>,
    out: mpsc::Sender<Result<PbWatchResponse, Status>>,
    max_watches: usize,
    fragment_bytes: usize,
    watches: HashMap<i64, Entry>,
    ids_by_key: HashMap<u64, i64>,
    next_watch_id: i64,
    next_key: u64,
    /// The highest header revision sent on the stream.
    max_sent_rev: i64,
    /// While a stream-wide progress request is being answered: the watches (by key) whose
    /// confirmation is awaited.
    progress_owed: Option<HashSet<u64>>,
    pumped_tx: mpsc::Sender<(u64, Pumped)>,
}

impl<S: Store> WatchStream<S> {
    async fn run(
        mut self,
        mut inbound: Streaming<PbWatchRequest>,
        mut pumped_rx: mpsc::Receiver<(u64, Pumped)>,
    ) {
        let mut inbound_open = true;
        loop {
            let result = tokio::select! {
                _ = self.out.closed() => return,
                m = inbound.message(), if inbound_open => match m {
                    Ok(Some(req)) => self.handle_request(req).await,
                    // The client closed its side: as etcd, keep delivering events.
                    Ok(None) => {
                        inbound_open = false;
                        Ok(())
                    }
                    Err(status) => {
                        tracing::debug!(error = %status, "watch stream ended");
                        let _ = self.out.send(Err(status)).await;
                        return;
                    }
                },
                Some((key, p)) = pumped_rx.recv() => self.handle_pumped(key, p).await,
            };
            if result.is_err() {
                return;
            }
        }
    }

    fn header(&self, revision: i64) -> Header {
        let mut h = self.store.header();
        if revision > 0 {
            h.revision = revision;
        }
        h
    }

    async fn send(&mut self, resp: PbWatchResponse) -> Result<(), Gone> {
        if let Some(h) = &resp.header {
            self.max_sent_rev = self.max_sent_rev.max(h.revision);
        }
        self.out.send(Ok(resp)).await.map_err(|_| Gone)
    }

    fn response(&self, revision: i64, watch_id: i64) -> PbWatchResponse {
        PbWatchResponse {
            header: Some(convert::header(self.header(revision), 0)),
            watch_id,
            ..Default::default()
        }
    }

    async fn handle_request(&mut self, req: PbWatchRequest) -> Result<(), Gone> {
        match req.request_union {
            Some(PbWatchRequestUnion::CreateRequest(c)) => {
                let created = convert::watch_request(
                    c.key,
                    c.range_end,
                    c.start_revision,
                    &c.filters,
                    c.prev_kv,
                    c.progress_notify,
                );
                self.create(created, c.watch_id, c.fragment).await
            }
            Some(PbWatchRequestUnion::CancelRequest(c)) => self.cancel(c.watch_id).await,
            Some(PbWatchRequestUnion::ProgressRequest(_)) => self.request_progress().await,
            // As etcd: an empty request is ignored.
            None => Ok(()),
        }
    }

    async fn refuse(&mut self, reason: String) -> Result<(), Gone> {
        let mut resp = self.response(0, INVALID_WATCH_ID);
        resp.created = true;
        resp.canceled = true;
        resp.cancel_reason = reason;
        self.send(resp).await
    }

    async fn create(
        &mut self,
        req: Result<storage::WatchRequest, &'static str>,
        watch_id: i64,
        fragment: bool,
    ) -> Result<(), Gone> {
        let mut req = match req {
            Ok(req) => req,
            Err(reason) => return self.refuse(reason.to_string()).await,
        };
        if self.watches.len() >= self.max_watches {
            return self.refuse(TOO_MANY_WATCHES.to_string()).await;
        }
        let id = if watch_id != 0 {
            if self.watches.contains_key(&watch_id) {
                return self.refuse(DUPLICATE_WATCH_ID.to_string()).await;
            }
            watch_id
        } else {
            while self.watches.contains_key(&self.next_watch_id) {
                self.next_watch_id += 1;
            }
            self.next_watch_id
        };
        // As etcd: a watch "from now" starts right after the revision its created
        // response reports, so no event falls between the two.
        let now = self.store.header();
        if req.start_revision <= 0 {
            req.start_revision = now.revision + 1;
        }
        let progress_rev = req.start_revision - 1;
        let prev_kv = req.prev_kv;
        let watcher = match self.store.watch(req) {
            Ok(w) => w,
            Err(e) => return self.refuse(to_status(e).message().to_string()).await,
        };
        if watch_id == 0 {
            self.next_watch_id += 1;
        }
        let mut resp = self.response(now.revision, id);
        resp.created = true;
        self.send(resp).await?;
        let key = self.next_key;
        self.next_key += 1;
        let (progress_tx, progress_rx) = mpsc::channel(1);
        let pump = tokio::spawn(pump(watcher, key, progress_rx, self.pumped_tx.clone()));
        self.watches.insert(
            id,
            Entry {
                key,
                prev_kv,
                fragment,
                progress_rev,
                progress_tx,
                pump,
            },
        );
        self.ids_by_key.insert(key, id);
        Ok(())
    }

    /// Forgets a watch (its pump stops, which cancels it in the engine).
    fn remove(&mut self, id: i64) -> Option<Entry> {
        let entry = self.watches.remove(&id)?;
        self.ids_by_key.remove(&entry.key);
        if let Some(owed) = &mut self.progress_owed {
            owed.remove(&entry.key);
        }
        Some(entry)
    }

    async fn cancel(&mut self, id: i64) -> Result<(), Gone> {
        // As etcd: canceling an unknown watch is not answered.
        if self.remove(id).is_none() {
            return Ok(());
        }
        let mut resp = self.response(0, id);
        resp.canceled = true;
        self.send(resp).await?;
        self.finish_progress().await
    }

    async fn request_progress(&mut self) -> Result<(), Gone> {
        if self.watches.is_empty() {
            let now = self.store.header().revision.max(self.max_sent_rev);
            return self.send(self.response(now, INVALID_WATCH_ID)).await;
        }
        let mut owed = HashSet::new();
        for entry in self.watches.values() {
            // Full: a request is already queued for this watcher, which is as good.
            let _ = entry.progress_tx.try_send(());
            owed.insert(entry.key);
        }
        self.progress_owed = Some(owed);
        Ok(())
    }

    /// Once every watch asked has confirmed: answers the stream-wide progress request, or
    /// asks again the watches still behind what the stream has sent.
    async fn finish_progress(&mut self) -> Result<(), Gone> {
        match &self.progress_owed {
            Some(owed) if owed.is_empty() => {}
            _ => return Ok(()),
        }
        let Some(revision) = self.watches.values().map(|e| e.progress_rev).min() else {
            // Every watch went away meanwhile.
            self.progress_owed = None;
            return self.request_progress().await;
        };
        if revision >= self.max_sent_rev {
            self.progress_owed = None;
            return self.send(self.response(revision, INVALID_WATCH_ID)).await;
        }
        let mut owed = HashSet::new();
        for entry in self
            .watches
            .values()
            .filter(|e| e.progress_rev < self.max_sent_rev)
        {
            let _ = entry.progress_tx.try_send(());
            owed.insert(entry.key);
        }
        self.progress_owed = Some(owed);
        Ok(())
    }

    async fn handle_pumped(&mut self, key: u64, p: Pumped) -> Result<(), Gone> {
        let Some(&id) = self.ids_by_key.get(&key) else {
            return Ok(()); // from a watch already canceled
        };
        let m = match p {
            Pumped::Msg(m) => m,
            Pumped::Closed => {
                self.remove(id);
                let mut resp = self.response(0, id);
                resp.canceled = true;
                resp.cancel_reason = WATCH_CLOSED.to_string();
                self.send(resp).await?;
                return self.finish_progress().await;
            }
        };
        if m.canceled {
            self.remove(id);
            let mut resp = self.response(m.revision, id);
            resp.canceled = true;
            resp.compact_revision = m.compact_revision;
            self.send(resp).await?;
            return self.finish_progress().await;
        }
        let Some(entry) = self.watches.get_mut(&id) else {
            return Ok(());
        };
        // Events come in revision order without gaps, and a confirmation comes after every
        // event up to its revision: either way the watch has delivered up to here.
        entry.progress_rev = entry.progress_rev.max(m.revision);
        if m.is_progress() {
            if let Some(owed) = &mut self.progress_owed {
                if owed.remove(&key) {
                    return self.finish_progress().await;
                }
            }
            // A watch's own periodic notification (it asked for progress_notify).
            return self.send(self.response(m.revision, id)).await;
        }
        let (prev_kv, fragment) = (entry.prev_kv, entry.fragment);
        let mut resp = self.response(m.revision, id);
        resp.events = m
            .events
            .iter()
            .map(|ev| convert::event(ev, prev_kv))
            .collect();
        if fragment {
            for part in fragments(resp, self.fragment_bytes) {
                self.send(part).await?;
            }
            Ok(())
        } else {
            self.send(resp).await
        }
    }
}

/// Bytes an event adds to an encoded WatchResponse (field 11, length-delimited).
fn event_bytes(ev: &PbEvent) -> usize {
    let len = ev.encoded_len();
    1 + prost::length_delimiter_len(len) + len
}

/// Splits a response whose encoding reaches `limit_bytes` into parts below it (a part
/// holds at least one event), all but the last marked `fragment`, as etcd does.
fn fragments(mut resp: PbWatchResponse, limit_bytes: usize) -> Vec<PbWatchResponse> {
    if resp.events.len() < 2 || resp.encoded_len() < limit_bytes {
        return vec![resp];
    }
    let events = std::mem::take(&mut resp.events);
    resp.fragment = true;
    let base_bytes = resp.encoded_len();
    let mut parts = Vec::new();
    let mut current = resp.clone();
    let mut current_bytes = base_bytes;
    for ev in events {
        let bytes = event_bytes(&ev);
        if !current.events.is_empty() && current_bytes + bytes >= limit_bytes {
            parts.push(std::mem::replace(&mut current, resp.clone()));
            current_bytes = base_bytes;
        }
        current_bytes += bytes;
        current.events.push(ev);
    }
    current.fragment = false;
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_client::proto::PbKeyValue;

    fn ev(value_bytes: usize) -> PbEvent {
        PbEvent {
            r#type: 0,
            kv: Some(PbKeyValue {
                key: b"k".to_vec(),
                value: vec![7; value_bytes],
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    fn resp(events: Vec<PbEvent>) -> PbWatchResponse {
        PbWatchResponse {
            watch_id: 3,
            events,
            ..Default::default()
        }
    }

    #[test]
    fn small_or_single_event_responses_are_not_fragmented() {
        assert_eq!(fragments(resp(vec![ev(10), ev(10)]), 1000).len(), 1);
        let one = fragments(resp(vec![ev(5000)]), 1000);
        assert_eq!(one.len(), 1);
        assert!(!one[0].fragment);
    }

    #[test]
    fn large_responses_split_in_order_with_fragment_flags() {
        let events: Vec<PbEvent> = (0..10).map(|i| ev(300 + i)).collect();
        let parts = fragments(resp(events.clone()), 1000);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.fragment, i + 1 < parts.len());
            assert_eq!(p.watch_id, 3);
            assert!(p.encoded_len() < 1000 || p.events.len() == 1);
        }
        let joined: Vec<PbEvent> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(joined, events);
    }
}
