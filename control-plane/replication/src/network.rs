//! The peer transport: gRPC (tonic) between replicas, optionally over mTLS. The client side
//! implements openraft's network traits; the server side feeds incoming RPCs to the local
//! Raft and serves `Forward` (work only the leader does) through a handler.

use crate::state_machine::SnapshotData;
use crate::types::*;
use futures::StreamExt;
use openraft::base::{BoxFuture, BoxStream};
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::v2::RaftNetworkV2;
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::OptionalSend;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

pub mod pb {
    tonic::include_proto!("berth.peer.v1");
}
use pb::peer_client::PeerClient;
use pb::{Blob, SnapshotChunk};

/// Snapshot chunk size on the wire.
const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// The largest message a peer accepts (entries are bounded by the request limit; a batch
/// of appends by openraft's max payload entries).
pub const MAX_PEER_MESSAGE_BYTES: usize = 64 << 20;

/// Connections to peers, one channel per URL, shared by every Raft client and forwarder.
#[derive(Clone)]
pub struct PeerClients {
    tls: Option<ClientTlsConfig>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl PeerClients {
    pub fn new(tls: Option<ClientTlsConfig>) -> PeerClients {
        PeerClients {
            tls,
            channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn client(&self, url: &str) -> Result<PeerClient<Channel>, String> {
        let mut channels = self.channels.lock();
        let channel = match channels.get(url) {
            Some(c) => c.clone(),
            None => {
                let mut ep = Endpoint::from_shared(url.to_string())
                    .map_err(|e| format!("bad peer URL {url}: {e}"))?;
                ep = ep
                    .connect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5));
                if url.starts_with("https://") {
                    let tls = self.tls.clone().ok_or_else(|| {
                        format!("peer URL {url} is https but no peer certificates are configured")
                    })?;
                    ep = ep
                        .tls_config(tls)
                        .map_err(|e| format!("bad peer TLS config: {e}"))?;
                }
                let c = ep.connect_lazy();
                channels.insert(url.to_string(), c.clone());
                c
            }
        };
        Ok(PeerClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_PEER_MESSAGE_BYTES))
    }

    /// Sends a forwarded request to the member at `url`.
    pub async fn forward(
        &self,
        url: &str,
        req: &ForwardRequest,
        timeout: Duration,
    ) -> ForwardResult {
        let mut client = self
            .client(url)
            .map_err(crate::store::StoreError::Internal)?;
        let mut request = tonic::Request::new(Blob { data: encode(req)? });
        request.set_timeout(timeout);
        match client.forward(request).await {
            Ok(resp) => decode::<ForwardResult>(&resp.into_inner().data)?,
            Err(status) if status.code() == tonic::Code::DeadlineExceeded => {
                Err(crate::store::StoreError::Timeout)
            }
            // A write the leader may have received (the connection broke after sending,
            // e.g. it was killed) has an unknown outcome: retrying it elsewhere could apply
            // it twice (found by the chaos harness). Only a failed connect is safe to retry.
            Err(status)
                if matches!(req, ForwardRequest::Write(_))
                    && !(status.code() == tonic::Code::Unavailable
                        && status.message().contains("connect")) =>
            {
                Err(crate::store::StoreError::LeaderChanged).inspect_err(
                    |_| tracing::debug!(%url, %status, "forwarded write failed after sending"),
                )
            }
            Err(status) => Err(crate::store::StoreError::NoLeader)
                .inspect_err(|_| tracing::debug!(%url, %status, "forward failed")),
        }
    }
}

/// Forwarded requests in one `ForwardBatch` at most.
const MAX_FORWARD_BATCH: usize = 256;
/// `ForwardBatch` RPCs in flight per peer; requests arriving meanwhile wait for the next.
const FORWARD_BATCHES_IN_FLIGHT: usize = 2;
/// Forwarded requests queued per peer before senders wait.
const FORWARD_QUEUE_LEN: usize = 4096;

struct PendingForward {
    req: ForwardRequest,
    done: tokio::sync::oneshot::Sender<ForwardResult>,
}

/// Sends forwarded requests to peers in batches: every request that arrives while a
/// peer's batches are in flight goes in its next `ForwardBatch`, so under load a
/// follower pays one round trip, one encode and one wake-up per batch instead of per
/// request. Requests keep their own answers and errors.
#[derive(Clone)]
pub struct Forwarder {
    clients: PeerClients,
    /// The deadline of one batch RPC.
    rpc_timeout: Duration,
    queues: Arc<Mutex<HashMap<String, tokio::sync::mpsc::Sender<PendingForward>>>>,
}

impl Forwarder {
    pub fn new(clients: PeerClients, rpc_timeout: Duration) -> Forwarder {
        Forwarder {
            clients,
            rpc_timeout,
            queues: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Sends `req` to the member at `url` in the next batch and waits for its answer, at
    /// most `timeout`. `NoLeader` means it was not done (retry); `Timeout` that its fate is
    /// unknown.
    pub async fn forward(
        &self,
        url: &str,
        req: ForwardRequest,
        timeout: Duration,
    ) -> ForwardResult {
        let queue = {
            let mut queues = self.queues.lock();
            queues
                .entry(url.to_string())
                .or_insert_with(|| {
                    let (tx, rx) = tokio::sync::mpsc::channel(FORWARD_QUEUE_LEN);
                    tokio::spawn(send_batches(
                        self.clients.clone(),
                        url.to_string(),
                        self.rpc_timeout,
                        rx,
                    ));
                    tx
                })
                .clone()
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        if queue.send(PendingForward { req, done }).await.is_err() {
            return Err(crate::store::StoreError::NoLeader);
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(crate::store::StoreError::Internal(
                "forwarder stopped".into(),
            )),
            Err(_) => Err(crate::store::StoreError::Timeout),
        }
    }
}

/// One peer's batching loop: takes whatever is queued (up to the batch limit) as soon as
/// a batch slot is free.
async fn send_batches(
    clients: PeerClients,
    url: String,
    rpc_timeout: Duration,
    mut queue: tokio::sync::mpsc::Receiver<PendingForward>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(FORWARD_BATCHES_IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_FORWARD_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (clients, url) = (clients.clone(), url.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let (reqs, dones): (Vec<ForwardRequest>, Vec<_>) =
                batch.into_iter().map(|p| (p.req, p.done)).unzip();
            let results = clients.forward_batch(&url, &reqs, rpc_timeout).await;
            for ((req, done), result) in reqs.iter().zip(dones).zip(results) {
                let result = match result {
                    // The batch may have reached the leader: a request that must not run
                    // twice gets "unknown", the others may be retried.
                    Err(ForwardFailure::MaybeSent) if !req.is_idempotent() => {
                        Err(crate::store::StoreError::Timeout)
                    }
                    Err(ForwardFailure::MaybeSent | ForwardFailure::NotSent) => {
                        Err(crate::store::StoreError::NoLeader)
                    }
                    Ok(r) => r,
                };
                let _ = done.send(result);
            }
        });
    }
}

/// Why a forwarded request has no answer from the peer.
#[derive(Debug, Clone, Copy)]
enum ForwardFailure {
    /// The connection could not be made: nothing was sent.
    NotSent,
    /// The RPC failed after it may have been sent.
    MaybeSent,
}

/// Whether a failed RPC certainly never reached the peer (the connection was refused).
fn never_sent(status: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = e.source();
    }
    false
}

impl PeerClients {
    /// Sends forwarded requests to the member at `url` in one RPC; one result per request.
    async fn forward_batch(
        &self,
        url: &str,
        reqs: &[ForwardRequest],
        timeout: Duration,
    ) -> Vec<Result<ForwardResult, ForwardFailure>> {
        let failed = |f: ForwardFailure| vec![Err(f); reqs.len()];
        let mut client = match self.client(url) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%url, error = %e, "cannot forward");
                return failed(ForwardFailure::NotSent);
            }
        };
        let data = match encode(&reqs) {
            Ok(d) => d,
            Err(e) => return vec![Ok(Err(e)); reqs.len()],
        };
        let mut request = tonic::Request::new(Blob { data });
        request.set_timeout(timeout);
        match client.forward_batch(request).await {
            Ok(resp) => match decode::<Vec<ForwardResult>>(&resp.into_inner().data) {
                Ok(results) if results.len() == reqs.len() => results.into_iter().map(Ok).collect(),
                Ok(results) => {
                    tracing::error!(%url, sent = reqs.len(), answered = results.len(), "forward batch answered with the wrong count");
                    failed(ForwardFailure::MaybeSent)
                }
                Err(e) => {
                    tracing::error!(%url, error = %e, "undecodable forward batch answer");
                    failed(ForwardFailure::MaybeSent)
                }
            },
            Err(status) if never_sent(&status) => failed(ForwardFailure::NotSent),
            Err(status) => {
                tracing::debug!(%url, %status, "forward batch failed");
                failed(ForwardFailure::MaybeSent)
            }
        }
    }
}

pub fn peer_url(node: &PeerNode) -> Result<&str, String> {
    node.peer_urls
        .first()
        .map(String::as_str)
        .ok_or_else(|| "member has no peer URL".to_string())
}

impl RaftNetworkFactory<TypeConfig> for PeerClients {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: u64, node: &PeerNode) -> PeerNetwork {
        PeerNetwork {
            target,
            client: peer_url(node).and_then(|url| self.client(url)),
        }
    }
}

pub struct PeerNetwork {
    target: u64,
    client: Result<PeerClient<Channel>, String>,
}

fn unreachable(e: impl std::fmt::Display) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(&std::io::Error::other(e.to_string())))
}

fn network_error(e: impl std::fmt::Display) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(e.to_string())))
}

impl PeerNetwork {
    fn client(&self) -> Result<PeerClient<Channel>, RPCError<TypeConfig>> {
        self.client.clone().map_err(unreachable)
    }

    /// Unary call carrying bincode both ways; the server answers `Result<T, String>`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: Vec<u8>,
        option: &RPCOption,
        f: impl FnOnce(
            PeerClient<Channel>,
            tonic::Request<Blob>,
        ) -> Pin<
            Box<dyn Future<Output = Result<tonic::Response<Blob>, tonic::Status>> + Send>,
        >,
    ) -> Result<T, RPCError<TypeConfig>> {
        let mut request = tonic::Request::new(Blob { data: req });
        request.set_timeout(option.hard_ttl());
        let resp = f(self.client()?, request)
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unavailable => {
                    unreachable(format!("peer {}: {}", self.target, s.message()))
                }
                _ => network_error(format!("peer {}: {}", self.target, s)),
            })?;
        let result: Result<T, String> = decode(&resp.into_inner().data).map_err(network_error)?;
        result.map_err(network_error)
    }
}

impl RaftNetworkV2<TypeConfig> for PeerNetwork {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let req = encode(&rpc).map_err(network_error)?;
        self.call(req, &option, |mut c, r| {
            Box::pin(async move { c.append_entries(r).await })
        })
        .await
    }

    /// Pipelined appends over one bidirectional gRPC stream: requests are sent as openraft
    /// produces them, without waiting for each answer.
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        _option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<
            BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>,
            RPCError<TypeConfig>,
        >,
    >
    where
        S: futures::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + OptionalSend
            + Unpin
            + 'static,
    {
        Box::pin(async move {
            let mut client = self.client()?;
            // A request that cannot be encoded ends the stream; openraft then retries.
            let requests = input
                .map(|r| encode(&r).ok().map(|data| Blob { data }))
                .take_while(|b| std::future::ready(b.is_some()))
                .filter_map(std::future::ready);
            let target = self.target;
            let responses = client
                .stream_append(requests)
                .await
                .map_err(|s| match s.code() {
                    tonic::Code::Unavailable => {
                        unreachable(format!("peer {target}: {}", s.message()))
                    }
                    _ => network_error(format!("peer {target}: {s}")),
                })?;
            let out = responses.into_inner().map(move |item| {
                let blob = item.map_err(|s| network_error(format!("peer {target}: {s}")))?;
                let result: Result<StreamAppendResult<TypeConfig>, String> =
                    decode(&blob.data).map_err(network_error)?;
                result.map_err(network_error)
            });
            Ok(Box::pin(out) as BoxStream<'s, _>)
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let req = encode(&rpc).map_err(network_error)?;
        self.call(req, &option, |mut c, r| {
            Box::pin(async move { c.vote(r).await })
        })
        .await
    }

    async fn transfer_leader(
        &mut self,
        rpc: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let req = encode(&rpc).map_err(network_error)?;
        self.call(req, &option, |mut c, r| {
            Box::pin(async move { c.transfer_leader(r).await })
        })
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: openraft::alias::SnapshotOf<TypeConfig, SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let header = encode(&(vote, snapshot.meta.clone()))
            .map_err(|e| StreamingError::from(network_error(e)))?;
        let path = snapshot.snapshot.path.clone();
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            StreamingError::from(network_error(format!(
                "failed to open snapshot {}: {e}",
                path.display()
            )))
        })?;
        let chunks = futures::stream::unfold(
            (Some(header), file, false),
            |(header, mut file, done)| async move {
                if done {
                    return None;
                }
                let mut buf = vec![0u8; SNAPSHOT_CHUNK_BYTES];
                let n = match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "failed to read snapshot while sending it");
                        return None;
                    }
                };
                buf.truncate(n);
                if n == 0 && header.is_none() {
                    return None;
                }
                let chunk = SnapshotChunk {
                    header: header.unwrap_or_default(),
                    data: buf,
                };
                Some((chunk, (None, file, n == 0)))
            },
        );
        let mut client = self.client().map_err(StreamingError::from)?;
        let mut request = tonic::Request::new(chunks);
        request.set_timeout(option.hard_ttl().max(Duration::from_secs(60)));
        tokio::pin!(cancel);
        let resp = tokio::select! {
            closed = &mut cancel => return Err(StreamingError::Closed(closed)),
            r = client.install_snapshot(request) => r.map_err(|s| StreamingError::from(network_error(s)))?,
        };
        let result: Result<SnapshotResponse<TypeConfig>, String> =
            decode(&resp.into_inner().data).map_err(|e| StreamingError::from(network_error(e)))?;
        result.map_err(|e| StreamingError::from(network_error(e)))
    }
}

/// What the peer server needs from the replica for `Forward`.
pub trait ForwardHandler: Send + Sync + 'static {
    fn handle(
        &self,
        req: ForwardRequest,
    ) -> Pin<Box<dyn Future<Output = ForwardResult> + Send + '_>>;
}

/// The server side of the peer protocol.
pub struct PeerService {
    pub raft: Raft,
    pub snapshot_dir: PathBuf,
    pub max_snapshot_bytes: u64,
    pub forward: Arc<dyn ForwardHandler>,
    pub incoming: AtomicU64,
}

fn reply<T: serde::Serialize, E: std::fmt::Display>(
    r: Result<T, E>,
) -> Result<tonic::Response<Blob>, tonic::Status> {
    let r: Result<T, String> = r.map_err(|e| e.to_string());
    let data = encode(&r).map_err(|e| tonic::Status::internal(e.to_string()))?;
    Ok(tonic::Response::new(Blob { data }))
}

fn bad_request(e: impl std::fmt::Display) -> tonic::Status {
    tonic::Status::invalid_argument(format!("undecodable peer message: {e}"))
}

#[tonic::async_trait]
impl pb::peer_server::Peer for PeerService {
    type StreamAppendStream =
        Pin<Box<dyn futures::Stream<Item = Result<Blob, tonic::Status>> + Send>>;

    async fn stream_append(
        &self,
        request: tonic::Request<tonic::Streaming<Blob>>,
    ) -> Result<tonic::Response<Self::StreamAppendStream>, tonic::Status> {
        // Undecodable input ends the request stream (and so the answers) instead of being
        // skipped, so no answer is ever matched with the wrong request.
        let requests = request
            .into_inner()
            .map(|item| {
                item.ok()
                    .and_then(|b| decode::<AppendEntriesRequest<TypeConfig>>(&b.data).ok())
            })
            .take_while(|r| std::future::ready(r.is_some()))
            .filter_map(std::future::ready);
        let answers = self.raft.stream_append(requests).map(|r| {
            let r: Result<StreamAppendResult<TypeConfig>, String> = r.map_err(|e| e.to_string());
            encode(&r)
                .map(|data| Blob { data })
                .map_err(|e| tonic::Status::internal(e.to_string()))
        });
        Ok(tonic::Response::new(Box::pin(answers)))
    }

    async fn append_entries(
        &self,
        request: tonic::Request<Blob>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let rpc: AppendEntriesRequest<TypeConfig> =
            decode(&request.into_inner().data).map_err(bad_request)?;
        reply(self.raft.append_entries(rpc).await)
    }

    async fn vote(
        &self,
        request: tonic::Request<Blob>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let rpc: VoteRequest<TypeConfig> =
            decode(&request.into_inner().data).map_err(bad_request)?;
        reply(self.raft.vote(rpc).await)
    }

    async fn transfer_leader(
        &self,
        request: tonic::Request<Blob>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let rpc: TransferLeaderRequest<TypeConfig> =
            decode(&request.into_inner().data).map_err(bad_request)?;
        reply(self.raft.handle_transfer_leader(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: tonic::Request<tonic::Streaming<SnapshotChunk>>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let mut stream = request.into_inner();
        let n = self.incoming.fetch_add(1, Ordering::Relaxed);
        let path = self.snapshot_dir.join(format!("incoming-{n}.db"));
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| {
            tonic::Status::internal(format!("failed to create {}: {e}", path.display()))
        })?;
        let mut header = None;
        let mut total = 0u64;
        let received = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if header.is_none() {
                    let h: (Vote, SnapshotMeta) = decode(&chunk.header).map_err(bad_request)?;
                    header = Some(h);
                }
                total += chunk.data.len() as u64;
                if total > self.max_snapshot_bytes {
                    return Err(tonic::Status::resource_exhausted(format!(
                        "snapshot larger than {} bytes",
                        self.max_snapshot_bytes
                    )));
                }
                file.write_all(&chunk.data)
                    .await
                    .map_err(|e| tonic::Status::internal(e.to_string()))?;
            }
            file.sync_all()
                .await
                .map_err(|e| tonic::Status::internal(e.to_string()))?;
            Ok(())
        }
        .await;
        if let Err(e) = received {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
        let Some((vote, meta)) = header else {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(tonic::Status::invalid_argument("empty snapshot stream"));
        };
        let snapshot = openraft::alias::SnapshotOf::<TypeConfig, SnapshotData> {
            meta,
            snapshot: SnapshotData { path: path.clone() },
        };
        let result = self.raft.install_full_snapshot(vote, snapshot).await;
        if path.exists() {
            // Not taken over as the current snapshot (stale, or the install failed).
            let _ = tokio::fs::remove_file(&path).await;
        }
        reply(result)
    }

    async fn forward_batch(
        &self,
        request: tonic::Request<Blob>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let reqs: Vec<ForwardRequest> = decode(&request.into_inner().data).map_err(bad_request)?;
        if reqs.len() > MAX_FORWARD_BATCH {
            return Err(tonic::Status::invalid_argument(format!(
                "forward batch of {} requests (limit {MAX_FORWARD_BATCH})",
                reqs.len()
            )));
        }
        // Concurrently, so the writes of one batch share Raft entries and fsyncs.
        let results: Vec<ForwardResult> =
            futures::future::join_all(reqs.into_iter().map(|r| self.forward.handle(r))).await;
        let data = encode(&results).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(Blob { data }))
    }

    async fn forward(
        &self,
        request: tonic::Request<Blob>,
    ) -> Result<tonic::Response<Blob>, tonic::Status> {
        let req: ForwardRequest = decode(&request.into_inner().data).map_err(bad_request)?;
        let result = self.forward.handle(req).await;
        let data = encode(&result).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(Blob { data }))
    }
}
