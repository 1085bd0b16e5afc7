//! Prometheus metrics under etcd's names, and the HTTP endpoints served next to the etcd
//! API: /metrics, /health (etcd's JSON), /livez, /readyz.

use axum::routing::get;
use berth_replication::Replica;
use prometheus::IntCounterVec;
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Registry, TextEncoder};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub struct Metrics {
    registry: Registry,
    replica: Arc<Replica>,
    has_leader: IntGauge,
    is_leader: IntGauge,
    leader_changes: IntCounter,
    committed: IntCounter,
    applied: IntCounter,
    pending: IntGauge,
    failed: IntCounter,
    db_size: IntGauge,
    keys: IntGauge,
    revision: IntGauge,
    compact_revision: IntGauge,
    watchers: IntGauge,
    wal_fsync: Histogram,
    backend_commit: Histogram,
    grpc_handled: IntCounterVec,
}

/// etcd's buckets for disk latencies: 1 ms doubling to ~8 s.
fn disk_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.001, 2.0, 14).expect("valid buckets")
}

impl Metrics {
    pub fn new(replica: Arc<Replica>) -> prometheus::Result<Arc<Metrics>> {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram = |name: &str, help: &str| -> prometheus::Result<Histogram> {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(disk_buckets()))?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let m = Metrics {
            has_leader: gauge(
                "etcd_server_has_leader",
                "Whether or not a leader exists. 1 is existence, 0 is not.",
            )?,
            is_leader: gauge(
                "etcd_server_is_leader",
                "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            )?,
            leader_changes: counter(
                "etcd_server_leader_changes_seen_total",
                "The number of leader changes seen.",
            )?,
            // Gauges in etcd; counters here, since they only rise (and promtool's lint
            // refuses a `_total` gauge).
            committed: counter(
                "etcd_server_proposals_committed_total",
                "The total number of consensus proposals committed.",
            )?,
            applied: counter(
                "etcd_server_proposals_applied_total",
                "The total number of consensus proposals applied.",
            )?,
            pending: gauge(
                "etcd_server_proposals_pending",
                "The current number of pending proposals to commit.",
            )?,
            failed: counter(
                "etcd_server_proposals_failed_total",
                "The total number of failed proposals seen.",
            )?,
            db_size: gauge(
                "etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            )?,
            keys: gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.")?,
            revision: gauge(
                "etcd_debugging_mvcc_current_revision",
                "The current revision of store.",
            )?,
            compact_revision: gauge(
                "etcd_debugging_mvcc_compact_revision",
                "The revision of the last compaction in store.",
            )?,
            watchers: gauge(
                "etcd_debugging_mvcc_watcher_total",
                "Total number of watchers.",
            )?,
            wal_fsync: histogram(
                "etcd_disk_wal_fsync_duration_seconds",
                "The latency distributions of fsync called by WAL.",
            )?,
            backend_commit: histogram(
                "etcd_disk_backend_commit_duration_seconds",
                "The latency distributions of commit called by backend.",
            )?,
            grpc_handled: {
                let opts = prometheus::Opts::new("grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.");
                let c = IntCounterVec::new(
                    opts,
                    &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            registry,
            replica,
        };
        m.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Arc::new(m))
    }

    /// The storage engine's timings go to the two disk histograms.
    pub fn observer(self: &Arc<Self>) -> Arc<dyn storage::Observer> {
        Arc::new(DiskObserver {
            wal_fsync: self.wal_fsync.clone(),
            backend_commit: self.backend_commit.clone(),
        })
    }

    /// Refreshes the gauges from the replica once a second.
    pub fn spawn_updater(self: &Arc<Self>) {
        let m = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut last_leader: Option<u64> = None;
            loop {
                tick.tick().await;
                let Some(m) = m.upgrade() else { return };
                let r = m.replica.metrics();
                let leader = r.current_leader;
                // Each leader seen that differs from the last one known (the first one too).
                if leader.is_some() && leader != last_leader {
                    m.leader_changes.inc();
                }
                last_leader = leader.or(last_leader);
                m.has_leader.set(i64::from(leader.is_some()));
                m.is_leader.set(i64::from(leader == Some(m.replica.id())));
                let committed = r
                    .cluster_committed
                    .as_ref()
                    .or(r.local_committed.as_ref())
                    .map(|l| l.index)
                    .unwrap_or(0) as i64;
                m.committed
                    .inc_by((committed as u64).saturating_sub(m.committed.get()));
                let engine = m.replica.engine();
                m.applied
                    .inc_by(engine.applied_index().saturating_sub(m.applied.get()));
                m.pending
                    .set((r.last_log_index.unwrap_or(0) as i64 - committed).max(0));
                let failed = m.replica.proposals_failed();
                m.failed.inc_by(failed.saturating_sub(m.failed.get()));
                m.db_size.set(engine.size_bytes() as i64);
                m.keys.set(engine.live_keys());
                m.revision.set(engine.current_revision().0);
                m.compact_revision.set(engine.compact_revision().0);
                let (synced, unsynced) = engine.watcher_counts();
                m.watchers.set((synced + unsynced) as i64);
            }
        });
    }

    fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "failed to encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    /// (status, etcd's /health JSON): healthy when a leader is known and no alarm is raised.
    fn health(&self) -> (axum::http::StatusCode, String) {
        let r = self.replica.metrics();
        let alarms = self.replica.engine().alarms();
        let (ok, reason) = match (r.current_leader, alarms.is_empty()) {
            (None, _) => (false, "RAFT NO LEADER".to_string()),
            (Some(_), false) => (false, format!("ALARM {:?}", alarms[0].kind).to_uppercase()),
            (Some(_), true) => (true, String::new()),
        };
        let status = if ok {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        };
        (
            status,
            format!("{{\"health\":\"{ok}\",\"reason\":\"{reason}\"}}"),
        )
    }

    /// Adds /metrics, /health, /livez and /readyz to a router, and counts every gRPC call
    /// it serves by method and status code (`grpc_server_handled_total`).
    pub fn add_http_routes(self: &Arc<Self>, router: &mut axum::Router) {
        let r = std::mem::take(router);
        let counter = self.grpc_handled.clone();
        let counted = r.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let counter = counter.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let is_grpc = req
                        .headers()
                        .get(axum::http::header::CONTENT_TYPE)
                        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
                    let resp = next.run(req).await;
                    if !is_grpc {
                        return resp;
                    }
                    let (service, method) = path
                        .trim_start_matches('/')
                        .split_once('/')
                        .map(|(s, m)| (s.to_string(), m.to_string()))
                        .unwrap_or_default();
                    let call = GrpcCall {
                        counter,
                        service,
                        method,
                    };
                    // A trailers-only response carries the status in its headers.
                    if let Some(code) = resp.headers().get("grpc-status") {
                        call.done(code.as_bytes());
                        return resp;
                    }
                    let (parts, body) = resp.into_parts();
                    axum::response::Response::from_parts(
                        parts,
                        axum::body::Body::new(CountingBody {
                            inner: body,
                            call: Some(call),
                        }),
                    )
                }
            },
        ));
        *router = counted.merge(self.http_router());
    }

    pub fn http_router(self: &Arc<Self>) -> axum::Router {
        let (m1, m2, m3) = (self.clone(), self.clone(), self.clone());
        axum::Router::new()
            .route(
                "/metrics",
                get(move || async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        m1.render(),
                    )
                }),
            )
            .route("/health", get(move || async move { m2.health() }))
            .route(
                "/readyz",
                get(move || async move {
                    let (status, _) = m3.health();
                    (
                        status,
                        if status.is_success() {
                            "ok"
                        } else {
                            "not ready"
                        },
                    )
                }),
            )
            .route("/livez", get(|| async { "ok" }))
    }
}

struct DiskObserver {
    wal_fsync: Histogram,
    backend_commit: Histogram,
}

impl storage::Observer for DiskObserver {
    fn wal_fsync(&self, took: Duration) {
        self.wal_fsync.observe(took.as_secs_f64());
    }
    fn backend_commit(&self, took: Duration) {
        self.backend_commit.observe(took.as_secs_f64());
    }
}

/// One gRPC call to count once its status is known.
struct GrpcCall {
    counter: IntCounterVec,
    service: String,
    method: String,
}

const GRPC_CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

impl GrpcCall {
    fn done(self, status: &[u8]) {
        let code = std::str::from_utf8(status)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .and_then(|i| GRPC_CODES.get(i))
            .copied()
            .unwrap_or("Unknown");
        // The stream kind is not known from the wire; etcd's KV calls are unary, Watch and
        // LeaseKeepAlive bidirectional, Snapshot server-streaming.
        let kind = match self.method.as_str() {
            "Watch" | "LeaseKeepAlive" => "bidi_stream",
            "Snapshot" => "server_stream",
            _ => "unary",
        };
        self.counter
            .with_label_values(&[kind, &self.service, &self.method, code])
            .inc();
    }
}

/// A response body that counts the call when the gRPC status arrives in the trailers.
struct CountingBody {
    inner: axum::body::Body,
    call: Option<GrpcCall>,
}

impl http_body::Body for CountingBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(|t| t.get("grpc-status")) {
                    if let Some(call) = self.call.take() {
                        call.done(status.as_bytes());
                    }
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = self.call.take() {
                    call.done(b"2");
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
