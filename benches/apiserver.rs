//! Kubernetes API server benchmark: a 3-replica Berth cluster with the Kubernetes API on,
//! driven over HTTP/2 + mTLS (the admin certificate) with JSON bodies, next to the store's
//! own etcd API as the reference for what the API server adds. In one run: Pod create,
//! update (PUT with resourceVersion) and get at 1, 16 and 100 clients; LIST of the pods (one
//! namespace, all namespaces; whole and in pages of 500); watchers on the pods while a writer
//! updates them at a fixed rate (update acknowledged -> event received); RSS per replica
//! idle and with the pods in the watch caches.
//!
//! `cargo build --release -p berth-control-plane && cargo bench -p berth-benches --bench
//! apiserver [-- --quick] [--secs N] [--pods N] [--watchers N] [--rate N] [--watch-secs N]`

use berth_benches::*;
use etcd_client::Client as EtcdClient;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::{Rng, SeedableRng};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// etcd client ports base..base+2, peer ports base+100.., Kubernetes API ports base+200..:
/// apart from the cluster bench's (15000) and the system tests' (20000-32000) ports.
const BASE_PORT: u16 = 17000;
const NAMESPACE: &str = "bench";
const CLIENT_COUNTS: [usize; 3] = [1, 16, 100];
/// HTTP/2 connections per replica for the request loads (and again for the watchers).
const CONNS_PER_REPLICA: usize = 4;
/// Every request's bound; a watch is bounded by the phase's deadline instead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries of an update answered 409 Conflict (each after a fresh GET).
const MAX_CONFLICT_RETRIES: usize = 10;
const SEQ_ANNOTATION: &str = "bench.berth.dev/seq";

struct Options {
    /// Seconds per update and get load.
    secs: u64,
    n_pods: usize,
    n_watchers: usize,
    updates_per_sec: u64,
    watch_secs: u64,
    /// Repetitions of each whole LIST (paginated: half as many).
    list_reps: usize,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let num = |name: &str, default: u64| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(default)
        };
        Options {
            secs: num("--secs", if quick { 1 } else { 5 }),
            n_pods: num("--pods", if quick { 2_000 } else { 10_000 }) as usize,
            n_watchers: num("--watchers", if quick { 100 } else { 1_000 }) as usize,
            updates_per_sec: num("--rate", 500),
            watch_secs: num("--watch-secs", if quick { 3 } else { 10 }),
            list_reps: num("--list-reps", if quick { 4 } else { 20 }) as usize,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A small HTTP/2 client with the admin certificate.

type Sender = http2::SendRequest<Full<Bytes>>;

/// HTTP/2 connections to the replicas' Kubernetes API; request `i` goes to connection
/// `i % len`, and connection `k` is to replica `k % n_replicas`.
#[derive(Clone)]
struct Api {
    conns: Arc<Vec<(u16, Sender)>>,
}

fn tls_connector(certs: &Path) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(certs.join("ca.crt")).map_err(|e| e.to_string())? {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain = CertificateDer::pem_file_iter(certs.join("admin.crt"))
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_file(certs.join("admin.key")).map_err(|e| e.to_string())?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

async fn connect_one(tls: &tokio_rustls::TlsConnector, port: u16) -> Result<Sender, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("failed to connect to port {port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, tls.connect(name, tcp))
        .await
        .map_err(|_| format!("TLS handshake with port {port} timed out"))?
        .map_err(|e| format!("TLS handshake with port {port} failed: {e}"))?;
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP/2 handshake with port {port} failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl Api {
    async fn connect(
        tls: &tokio_rustls::TlsConnector,
        ports: &[u16],
        per_replica: usize,
    ) -> Result<Api, String> {
        let mut conns = Vec::new();
        for _ in 0..per_replica {
            for &port in ports {
                conns.push((port, connect_one(tls, port).await?));
            }
        }
        Ok(Api {
            conns: Arc::new(conns),
        })
    }

    /// Sends a request on connection `i % len` and returns the response head and body.
    async fn open(
        &self,
        i: usize,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<http::Response<Incoming>, String> {
        let (port, sender) = &self.conns[i % self.conns.len()];
        let mut sender = sender.clone();
        let mut req = Request::builder()
            .method(method)
            .uri(format!("https://127.0.0.1:{port}{path}"))
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        sender.send_request(req).await.map_err(|e| e.to_string())
    }

    /// A whole request: status and body, within REQUEST_TIMEOUT.
    async fn call(
        &self,
        i: usize,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), String> {
        let work = async {
            let resp = self.open(i, method, path, body).await?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| format!("{path}: no answer within {REQUEST_TIMEOUT:?}"))?
    }

    async fn call_json(
        &self,
        i: usize,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Value), String> {
        let (status, body) = self.call(i, method, path, body).await?;
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, v))
    }
}

fn pods_path() -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/pods")
}

fn pod_name(idx: usize) -> String {
    format!("pod-{idx:05}")
}

/// A ~2 KB pod as the API returns it: a few labels, one container with env vars, ports and
/// resources (the server adds defaults, uid, timestamps and managedFields).
fn pod(idx: usize) -> Value {
    let env: Vec<Value> = (0..12)
        .map(|e| {
            json!({
                "name": format!("BENCH_SETTING_{e:02}"),
                "value": format!("value-{idx:05}-{e:02}-abcdefghijklmnop"),
            })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(idx),
            "namespace": NAMESPACE,
            "labels": {
                "app": "bench",
                "tier": "backend",
                "shard": format!("s{}", idx % 16),
                "release": "stable",
            },
            "annotations": { SEQ_ANNOTATION: "0" },
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.example.com/bench/app:1.2.3",
                "command": ["/app", "--serve", "--port=8080"],
                "env": env,
                "ports": [{ "name": "http", "containerPort": 8080 }],
                "resources": {
                    "requests": { "cpu": "100m", "memory": "128Mi" },
                    "limits": { "cpu": "500m", "memory": "256Mi" },
                },
            }],
        },
    })
}

fn resource_version(obj: &Value) -> Option<i64> {
    obj["metadata"]["resourceVersion"].as_str()?.parse().ok()
}

/// Percent-encodes a query parameter value (continue tokens are base64).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Loads.

#[derive(Default)]
struct Outcome {
    ops: u64,
    errors: u64,
    conflicts: u64,
    secs: f64,
    lat: Latencies,
    first_error: Option<String>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }
    fn p99_us(&self) -> u64 {
        self.lat.quantile_us(0.99)
    }
    fn cell(&self) -> String {
        let mut extra = String::new();
        if self.conflicts > 0 {
            extra += &format!(", {} conflicts retried", self.conflicts);
        }
        if self.errors > 0 {
            extra += &format!(", {} errors", self.errors);
        }
        format!(
            "{:.0}/s, p50 {} p99 {} p99.9 {}{extra}",
            self.rate(),
            fmt_us(self.lat.quantile_us(0.5)),
            fmt_us(self.lat.quantile_us(0.99)),
            fmt_us(self.lat.quantile_us(0.999)),
        )
    }
    fn merge(&mut self, o: Outcome) {
        self.ops += o.ops;
        self.errors += o.errors;
        self.conflicts += o.conflicts;
        self.lat.0.extend(o.lat.0);
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
    fn report(&self, what: &str) {
        eprintln!("{what}: {}", self.cell());
        if let Some(e) = &self.first_error {
            eprintln!("  first error: {e}");
        }
    }
}

/// Joins load tasks into one outcome over `secs` of wall time.
async fn join(tasks: Vec<tokio::task::JoinHandle<Outcome>>, started: Instant) -> Outcome {
    let mut out = Outcome::default();
    for t in tasks {
        match t.await {
            Ok(o) => out.merge(o),
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert(format!("load task failed: {e}"));
            }
        }
    }
    out.secs = started.elapsed().as_secs_f64();
    out
}

/// Creates pods `range` with `n_clients` concurrent clients.
async fn create(api: &Api, n_clients: usize, range: std::ops::Range<usize>) -> Outcome {
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n_clients {
        let api = api.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                if idx >= end {
                    return out;
                }
                let body = serde_json::to_vec(&pod(idx)).unwrap_or_default();
                let t = Instant::now();
                match api.call(c, Method::POST, &pods_path(), Some(body)).await {
                    Ok((StatusCode::CREATED, _)) => {
                        out.lat.record(t);
                        out.ops += 1;
                    }
                    Ok((s, b)) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(format!(
                            "create {}: {s} {}",
                            pod_name(idx),
                            String::from_utf8_lossy(&b)
                        ));
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                    }
                }
            }
        }));
    }
    join(tasks, started).await
}

/// PUT `obj` with an incremented sequence annotation; on 409 Conflict reads the pod again
/// and retries. Returns the stored object and the number of conflicts.
async fn update_pod(api: &Api, i: usize, mut obj: Value, seq: u64) -> Result<(Value, u64), String> {
    let name = obj["metadata"]["name"]
        .as_str()
        .ok_or("an object without a name")?
        .to_string();
    let path = format!("{}/{name}", pods_path());
    let mut conflicts = 0;
    loop {
        obj["metadata"]["annotations"][SEQ_ANNOTATION] = Value::String(seq.to_string());
        let body = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
        let (status, resp) = api.call_json(i, Method::PUT, &path, Some(body)).await?;
        match status {
            StatusCode::OK => return Ok((resp, conflicts)),
            StatusCode::CONFLICT if (conflicts as usize) < MAX_CONFLICT_RETRIES => {
                conflicts += 1;
                let (s, fresh) = api.call_json(i, Method::GET, &path, None).await?;
                if s != StatusCode::OK {
                    return Err(format!("get {name} after a conflict: {s} {fresh}"));
                }
                obj = fresh;
            }
            s => return Err(format!("update {name}: {s} {resp}")),
        }
    }
}

/// Each client updates its own pods (pod idx % n_clients == client) round-robin for `secs`.
async fn update(api: &Api, n_clients: usize, n_pods: usize, secs: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n_clients {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut objs: HashMap<usize, Value> = HashMap::new();
            let mut idx = c;
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let obj = match objs.remove(&idx) {
                    Some(o) => o,
                    // The first touch of a pod reads it (not timed).
                    None => match api
                        .call_json(
                            c,
                            Method::GET,
                            &format!("{}/{}", pods_path(), pod_name(idx)),
                            None,
                        )
                        .await
                    {
                        Ok((StatusCode::OK, o)) => o,
                        other => {
                            out.errors += 1;
                            out.first_error
                                .get_or_insert(format!("get before update: {other:?}"));
                            continue;
                        }
                    },
                };
                seq += 1;
                let t = Instant::now();
                match update_pod(&api, c, obj, seq).await {
                    Ok((o, conflicts)) => {
                        out.lat.record(t);
                        out.ops += 1;
                        out.conflicts += conflicts;
                        objs.insert(idx, o);
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                    }
                }
                idx += n_clients;
                if idx >= n_pods {
                    idx = c;
                }
            }
            out
        }));
    }
    join(tasks, started).await
}

/// GETs of random pods for `secs`.
async fn get(api: &Api, n_clients: usize, n_pods: usize, secs: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n_clients {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            while Instant::now() < deadline {
                let path = format!("{}/{}", pods_path(), pod_name(rng.random_range(0..n_pods)));
                let t = Instant::now();
                match api.call(c, Method::GET, &path, None).await {
                    Ok((StatusCode::OK, _)) => {
                        out.lat.record(t);
                        out.ops += 1;
                    }
                    Ok((s, b)) => {
                        out.errors += 1;
                        out.first_error
                            .get_or_insert(format!("get: {s} {}", String::from_utf8_lossy(&b)));
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                    }
                }
            }
            out
        }));
    }
    join(tasks, started).await
}

/// The store's own etcd API: `n_ops` puts of `value` from `n_clients` clients.
async fn store_put(
    endpoints: &[String],
    n_clients: usize,
    n_ops: usize,
    value: Vec<u8>,
) -> Outcome {
    let mut clients = Vec::new();
    for _ in 0..n_clients.clamp(1, 8) {
        match EtcdClient::connect(endpoints, None).await {
            Ok(c) => clients.push(c),
            Err(e) => {
                return Outcome {
                    errors: 1,
                    first_error: Some(format!("etcd connect: {e}")),
                    ..Default::default()
                }
            }
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let value = Arc::new(value);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n_clients {
        let mut client = clients[c % clients.len()].clone();
        let next = next.clone();
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                if idx >= n_ops {
                    return out;
                }
                let t = Instant::now();
                let put = client.put(
                    format!("/bench-reference/{n_clients}/{idx:06}"),
                    value.to_vec(),
                    None,
                );
                match tokio::time::timeout(REQUEST_TIMEOUT, put).await {
                    Ok(Ok(_)) => {
                        out.lat.record(t);
                        out.ops += 1;
                    }
                    Ok(Err(e)) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e.to_string());
                    }
                    Err(_) => {
                        out.errors += 1;
                        out.first_error.get_or_insert("etcd put timed out".into());
                    }
                }
            }
        }));
    }
    join(tasks, started).await
}

/// What a list response is read into: the item count and the paging fields, without
/// building the items.
#[derive(Deserialize)]
struct ListHead {
    metadata: ListMeta,
    items: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

struct ListFigures {
    lat: Latencies,
    pages: usize,
    bytes: usize,
}

/// Reads `path` whole (`limit` None) or page by page, `reps` times; checks the item count.
async fn list(
    api: &Api,
    path: &str,
    limit: Option<usize>,
    reps: usize,
    n_expected: usize,
) -> Result<ListFigures, String> {
    let mut out = ListFigures {
        lat: Latencies::default(),
        pages: 0,
        bytes: 0,
    };
    for rep in 0..reps {
        let t = Instant::now();
        let mut items = 0;
        let mut token: Option<String> = None;
        loop {
            let mut p = path.to_string();
            if let Some(l) = limit {
                p += &format!("?limit={l}");
                if let Some(c) = &token {
                    p += &format!("&continue={}", query_escape(c));
                }
            }
            let (status, body) = api.call(rep, Method::GET, &p, None).await?;
            if status != StatusCode::OK {
                return Err(format!(
                    "list {p}: {status} {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            let head: ListHead =
                serde_json::from_slice(&body).map_err(|e| format!("list {p}: {e}"))?;
            items += head.items.len();
            out.pages += 1;
            out.bytes += body.len();
            token = head.metadata.continue_token.filter(|c| !c.is_empty());
            if limit.is_none() || token.is_none() {
                break;
            }
        }
        out.lat.record(t);
        if items != n_expected {
            return Err(format!("list {path}: {items} items, expected {n_expected}"));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Watch latency.

struct WatchFigures {
    /// Update acknowledged -> event received, per (watcher, update); missing events count
    /// as (end of the drain - acknowledgement), a lower bound.
    lat: Latencies,
    n_watchers: usize,
    n_updates: u64,
    update_rate: f64,
    delivered: u64,
    missing: u64,
    watch_errors: u64,
    writer: Outcome,
}

/// `n_watchers` watches of the namespace's pods from `rv` (spread over the replicas and
/// `CONNS_PER_REPLICA` connections each), a writer doing `rate` updates/s for `secs`.
async fn watch(
    tls: &tokio_rustls::TlsConnector,
    ports: &[u16],
    api: &Api,
    n_watchers: usize,
    rate: u64,
    secs: u64,
) -> Result<WatchFigures, String> {
    // The list the informers would start from: its objects feed the writer.
    let (status, listed) = api.call_json(0, Method::GET, &pods_path(), None).await?;
    if status != StatusCode::OK {
        return Err(format!("list before watch: {status}"));
    }
    let list_rv: i64 = listed["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("a list without a resourceVersion")?;
    let objs: Vec<Mutex<Option<Value>>> = match listed {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items.into_iter().map(|o| Mutex::new(Some(o))).collect(),
            _ => return Err("a list without items".into()),
        },
        _ => return Err("a list that is not an object".into()),
    };
    let objs = Arc::new(objs);

    let watch_api = Api::connect(tls, ports, CONNS_PER_REPLICA).await?;
    let phase_start = Instant::now();
    let micros = move || phase_start.elapsed().as_micros() as u32;
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watch_errors = Arc::new(AtomicU64::new(0));
    let mut watchers = Vec::new();
    let path = format!("{}?watch=1&resourceVersion={list_rv}", pods_path());
    for w in 0..n_watchers {
        let resp = watch_api.open(w, Method::GET, &path, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(format!("watch {w}: {}", resp.status()));
        }
        let mut body = resp.into_body();
        let target = target.clone();
        let mut stop = stop_rx.clone();
        let watch_errors = watch_errors.clone();
        watchers.push(tokio::spawn(async move {
            // (resourceVersion - list rv, micros since the phase started) per event.
            let mut seen: Vec<(u32, u32)> = Vec::new();
            let mut buf: Vec<u8> = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = stop.changed() => break,
                    _ = tick.tick() => {
                        if seen.len() as u64 >= target.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    }
                };
                let data = match frame {
                    Some(Ok(f)) => match f.into_data() {
                        Ok(d) => d,
                        Err(_) => continue,
                    },
                    _ => {
                        watch_errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                };
                let now = micros();
                buf.extend_from_slice(&data);
                let mut start = 0;
                while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                    let line = &buf[start..start + nl];
                    start += nl + 1;
                    match event_rv(line) {
                        Some(rv) if rv > list_rv => seen.push(((rv - list_rv) as u32, now)),
                        _ => {
                            watch_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                buf.drain(..start);
                if seen.len() as u64 >= target.load(Ordering::Relaxed) {
                    break;
                }
            }
            seen
        }));
    }
    eprintln!("watch: {n_watchers} watchers open from resourceVersion {list_rv}");

    // The writer: `rate` updates/s of distinct pods, up to 128 in flight, for `secs` (when
    // the server falls behind, fewer updates are sent).
    let n_asked = rate * secs;
    let write_deadline = Instant::now() + Duration::from_secs(secs);
    let mut n_updates = 0;
    let interval = Duration::from_micros(1_000_000 / rate.max(1));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(128));
    let acks: Arc<Mutex<Vec<(i64, u32)>>> = Arc::default();
    let writer_out: Arc<Mutex<Outcome>> = Arc::default();
    let started = Instant::now();
    let mut writes = Vec::new();
    for k in 0..n_asked {
        tokio::time::sleep_until((started + interval * k as u32).into()).await;
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        if Instant::now() >= write_deadline {
            break;
        }
        n_updates += 1;
        let (api, objs, acks, writer_out) =
            (api.clone(), objs.clone(), acks.clone(), writer_out.clone());
        writes.push(tokio::spawn(async move {
            let _permit = permit;
            let idx = k as usize % objs.len();
            let Some(obj) = objs[idx]
                .lock()
                .map_err(|e| e.to_string())
                .ok()
                .and_then(|mut o| o.take())
            else {
                return;
            };
            let t = Instant::now();
            let result = update_pod(&api, k as usize, obj, 1_000_000 + k).await;
            let mut out = writer_out.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok((o, conflicts)) => {
                    out.lat.record(t);
                    out.ops += 1;
                    out.conflicts += conflicts;
                    if let Some(rv) = resource_version(&o) {
                        acks.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((rv, micros()));
                    }
                    *objs[idx].lock().unwrap_or_else(|e| e.into_inner()) = Some(o);
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                }
            }
        }));
    }
    for w in writes {
        let _ = w.await;
    }
    let write_secs = started.elapsed().as_secs_f64();
    let acks: Vec<(i64, u32)> =
        std::mem::take(&mut *acks.lock().unwrap_or_else(|e| e.into_inner()));
    target.store(acks.len() as u64, Ordering::Relaxed);
    // Time for the watchers to catch up; then whatever has not arrived is missing.
    let drain = Duration::from_secs(30);
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(drain).await;
        let _ = stop_tx.send(true);
        // Keeps the sender until the watchers are gone.
        std::future::pending::<()>().await
    });
    let mut all_seen = Vec::new();
    for w in watchers {
        if let Ok(seen) = w.await {
            all_seen.push(seen);
        }
    }
    stopper.abort();
    let drain_end = micros();
    let ack_at: HashMap<u32, u32> = acks
        .iter()
        .map(|&(rv, at)| ((rv - list_rv) as u32, at))
        .collect();
    let mut lat = Latencies::default();
    let mut delivered = 0;
    for seen in &all_seen {
        let mut matched = 0;
        for (rv, at) in seen {
            if let Some(ack) = ack_at.get(rv) {
                lat.0.push(at.saturating_sub(*ack) as u64);
                matched += 1;
            }
        }
        delivered += matched;
    }
    let expected = (n_watchers * acks.len()) as u64;
    let missing = expected.saturating_sub(delivered);
    // A missing event is later than the end of the drain: count it as that, a lower bound.
    // Watchers that ended early miss all their events.
    let mut missing_left = missing;
    'outer: for _ in 0..n_watchers {
        for &(_, ack) in &acks {
            if missing_left == 0 {
                break 'outer;
            }
            lat.0.push(drain_end.saturating_sub(ack) as u64);
            missing_left -= 1;
        }
    }
    let writer = {
        let mut w = std::mem::take(&mut *writer_out.lock().unwrap_or_else(|e| e.into_inner()));
        w.secs = write_secs;
        w
    };
    Ok(WatchFigures {
        lat,
        n_watchers,
        n_updates,
        update_rate: acks.len() as f64 / write_secs,
        delivered,
        missing,
        watch_errors: watch_errors.load(Ordering::Relaxed),
        writer,
    })
}

/// The object's resourceVersion in one watch event line, without parsing the object: the
/// first `"resourceVersion":"` of a Pod event is its metadata's (the server writes
/// `{"object":{"apiVersion":..,"kind":..,"metadata":{..}..},"type":..}`, and a string value
/// cannot hold an unescaped quote). None for an ERROR event.
fn event_rv(line: &[u8]) -> Option<i64> {
    const NEEDLE: &str = "\"resourceVersion\":\"";
    let text = std::str::from_utf8(line).ok()?;
    if text.ends_with("\"type\":\"ERROR\"}") {
        return None;
    }
    let at = text.find(NEEDLE)? + NEEDLE.len();
    let end = text[at..].find('"')?;
    text[at..at + end].parse().ok()
}

// ---------------------------------------------------------------------------------------
// The run.

/// The cluster under test (started by `berth_benches::KubeCluster::start`).
type Cluster = KubeCluster;

fn start_cluster() -> Result<Cluster, String> {
    KubeCluster::start(BASE_PORT)
}

/// Waits until every replica's `/readyz` is 200 and a namespace can be created.
async fn wait_ready(tls: &tokio_rustls::TlsConnector, ports: &[u16]) -> Result<Api, String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    for &port in ports {
        loop {
            let ready = match connect_one(tls, port).await {
                Ok(s) => {
                    let api = Api {
                        conns: Arc::new(vec![(port, s)]),
                    };
                    matches!(
                        api.call(0, Method::GET, "/readyz", None).await,
                        Ok((StatusCode::OK, _))
                    )
                }
                Err(_) => false,
            };
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the API on port {port} was not ready within 90 s"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let api = Api::connect(tls, ports, CONNS_PER_REPLICA).await?;
    let ns = serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": NAMESPACE }
    }))
    .map_err(|e| e.to_string())?;
    loop {
        match api
            .call(0, Method::POST, "/api/v1/namespaces", Some(ns.clone()))
            .await
        {
            Ok((StatusCode::CREATED, _)) => return Ok(api),
            other => {
                if Instant::now() > deadline {
                    return Err(format!("failed to create namespace {NAMESPACE}: {other:?}"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rss_all(pids: &[u32]) -> Vec<f64> {
    pids.iter().map(|&p| rss_mib(p)).collect()
}

fn fmt_mib(v: &[f64]) -> String {
    v.iter()
        .map(|m| format!("{m:.0}"))
        .collect::<Vec<_>>()
        .join(" / ")
        + " MiB"
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

async fn measure(cluster: &Cluster, o: &Options) -> Result<(), String> {
    let tls = tls_connector(cluster.certs.path())?;
    let ports = &cluster.api_ports;
    let pids = cluster.processes.pids();
    let api = wait_ready(&tls, ports).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_all(&pids);
    eprintln!("ready; RSS idle {}", fmt_mib(&rss_idle));

    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    // How many pods each client count creates; the store's etcd API (the reference) takes as
    // many puts of 2 KiB values at the same concurrency, first, so that its own RSS growth is
    // measured apart from the pods'.
    let shares = [1, 3, 6];
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for (k, &n) in CLIENT_COUNTS.iter().enumerate() {
        let count = if k == CLIENT_COUNTS.len() - 1 {
            o.n_pods - counts.iter().map(|(_, c)| c).sum::<usize>()
        } else {
            o.n_pods * shares[k] / 10
        };
        counts.push((n, count));
    }
    let mut store_puts = Vec::new();
    for &(n, count) in &counts {
        let r = store_put(&cluster.processes.endpoints, n, count, vec![b'x'; 2048]).await;
        r.report(&format!("store put, {n} clients"));
        if r.errors > 0 {
            return Err(format!(
                "{} store puts failed: {}",
                r.errors,
                r.first_error.unwrap_or_default()
            ));
        }
        store_puts.push(r);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_store = rss_all(&pids);
    eprintln!("store puts done; RSS {}", fmt_mib(&rss_store));

    let mut range_start = 0;
    let mut creates = Vec::new();
    for &(n, count) in &counts {
        let out = create(&api, n, range_start..range_start + count).await;
        out.report(&format!("create, {n} clients"));
        if out.errors > 0 {
            return Err(format!(
                "{} creates failed: {}",
                out.errors,
                out.first_error.unwrap_or_default()
            ));
        }
        creates.push((n, count, out));
        range_start += count;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_loaded = rss_all(&pids);
    // The pods as the API returns them: their serialized bytes.
    let (status, listed) = api.call_json(0, Method::GET, &pods_path(), None).await?;
    if status != StatusCode::OK {
        return Err(format!("list: {status}"));
    }
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    if items.len() != o.n_pods {
        return Err(format!("list: {} pods, expected {}", items.len(), o.n_pods));
    }
    let serialized_bytes: usize = items
        .iter()
        .map(|i| serde_json::to_vec(i).map(|v| v.len()).unwrap_or(0))
        .sum();
    drop(items);
    drop(listed);
    let serialized_mib = serialized_bytes as f64 / (1 << 20) as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let growth: Vec<f64> = rss_loaded
        .iter()
        .zip(&rss_store)
        .map(|(l, s)| l - s)
        .collect();
    let store_growth: Vec<f64> = rss_store
        .iter()
        .zip(&rss_idle)
        .map(|(s, i)| s - i)
        .collect();
    let ratio = mean(&growth) / serialized_mib;
    let ratio_from_idle = (mean(&growth) + mean(&store_growth)) / serialized_mib;
    eprintln!(
        "loaded {} pods ({} B each on average, {serialized_mib:.1} MiB); RSS {}; growth/serialized {ratio:.2}x",
        o.n_pods,
        serialized_bytes / o.n_pods,
        fmt_mib(&rss_loaded)
    );

    let mut store_p99 = Vec::new();
    for ((n, count, out), r) in creates.iter().zip(&store_puts) {
        rows.push((
            format!("Pod create, {n} clients ({count} pods)"),
            out.cell(),
            r.cell(),
            format!(
                "p99 {:.1}x the store's",
                out.p99_us() as f64 / r.p99_us().max(1) as f64
            ),
        ));
        store_p99.push(r.p99_us());
    }

    for (k, &n) in CLIENT_COUNTS.iter().enumerate() {
        let out = update(&api, n, o.n_pods, o.secs).await;
        out.report(&format!("update, {n} clients"));
        rows.push((
            format!("Pod update (PUT with resourceVersion), {n} clients"),
            out.cell(),
            format!("put p99 {}", fmt_us(store_p99[k])),
            format!(
                "p99 {:.1}x the store's put",
                out.p99_us() as f64 / store_p99[k].max(1) as f64
            ),
        ));
    }
    for &n in &CLIENT_COUNTS {
        let out = get(&api, n, o.n_pods, o.secs).await;
        out.report(&format!("get, {n} clients"));
        rows.push((
            format!("Pod get, {n} clients"),
            out.cell(),
            "–".into(),
            String::new(),
        ));
    }

    let all_path = "/api/v1/pods".to_string();
    let mut list_p50_us = 0;
    for (what, path, limit, reps) in [
        ("LIST one namespace, whole", pods_path(), None, o.list_reps),
        (
            "LIST all namespaces, whole",
            all_path.clone(),
            None,
            o.list_reps,
        ),
        (
            "LIST one namespace, pages of 500",
            pods_path(),
            Some(500),
            o.list_reps.div_ceil(2),
        ),
        (
            "LIST all namespaces, pages of 500",
            all_path.clone(),
            Some(500),
            o.list_reps.div_ceil(2),
        ),
    ] {
        let f = list(&api, &path, limit, reps, o.n_pods).await?;
        let cell = format!(
            "p50 {} p99 {} ({} reads, {:.1} MiB each{})",
            fmt_us(f.lat.quantile_us(0.5)),
            fmt_us(f.lat.quantile_us(0.99)),
            reps,
            f.bytes as f64 / reps as f64 / (1 << 20) as f64,
            if limit.is_some() {
                format!(", {} pages each", f.pages / reps)
            } else {
                String::new()
            },
        );
        eprintln!("{what}: {cell}");
        if list_p50_us == 0 {
            list_p50_us = f.lat.quantile_us(0.5);
        }
        rows.push((
            format!("{what} ({} pods)", o.n_pods),
            cell,
            "–".into(),
            "goal p50 <= 100 ms".into(),
        ));
    }

    let w = watch(
        &tls,
        ports,
        &api,
        o.n_watchers,
        o.updates_per_sec,
        o.watch_secs,
    )
    .await?;
    let watch_p99 = w.lat.quantile_us(0.99);
    let cell = format!(
        "p50 {} p99 {} p99.9 {} ({} of {} events delivered{}{})",
        fmt_us(w.lat.quantile_us(0.5)),
        fmt_us(watch_p99),
        fmt_us(w.lat.quantile_us(0.999)),
        w.delivered,
        w.delivered + w.missing,
        if w.missing > 0 {
            ", missing ones counted at the end of a 30 s drain"
        } else {
            ""
        },
        if w.watch_errors > 0 {
            format!(", {} watch errors", w.watch_errors)
        } else {
            String::new()
        },
    );
    w.writer.report(&format!("watch: {cell}; writer"));
    rows.push((
        format!(
            "watch: {} watchers, writer at {:.0} updates/s of {} asked ({} updates)",
            w.n_watchers, w.update_rate, o.updates_per_sec, w.n_updates
        ),
        cell,
        "–".into(),
        format!("writer's updates: {}", w.writer.cell()),
    ));
    let rss_end = rss_all(&pids);
    rows.push((
        "RSS per replica: idle / after the store puts / pods loaded / at the end".into(),
        format!(
            "{} / {} / {} / {}",
            fmt_mib(&rss_idle),
            fmt_mib(&rss_store),
            fmt_mib(&rss_loaded),
            fmt_mib(&rss_end)
        ),
        format!(
            "growth from {:.1} MiB of 2 KiB values put through the etcd API: {}",
            (o.n_pods * 2048) as f64 / (1 << 20) as f64,
            fmt_mib(&store_growth)
        ),
        String::new(),
    ));
    rows.push((
        format!(
            "cache overhead: RSS growth from the pods / their serialized bytes ({serialized_mib:.1} MiB, {} B per pod)",
            serialized_bytes / o.n_pods
        ),
        format!(
            "{ratio:.2}x (growth {}); from idle, store puts included: {ratio_from_idle:.2}x",
            fmt_mib(&growth)
        ),
        "–".into(),
        "goal <= 2x".into(),
    ));
    let usage = cluster.processes.usage();
    rows.push((
        "CPU seconds / peak RSS per replica (whole run)".into(),
        usage
            .iter()
            .map(|(cpu, rss)| format!("{cpu:.1} s / {rss:.0} MiB"))
            .collect::<Vec<_>>()
            .join(", "),
        String::new(),
        String::new(),
    ));

    println!("\n### Kubernetes API server: 3 replicas, HTTP/2 + mTLS, JSON\n");
    println!("| measure | API server | store's etcd API (reference) | note |");
    println!("|---|---|---|---|");
    for (a, b, c, d) in &rows {
        println!("| {a} | {b} | {c} | {d} |");
    }
    let create_100 = creates.last().map(|(_, _, out)| out.p99_us()).unwrap_or(0);
    println!(
        "\napiserver: create p99 {} ms at 100 clients (store put p99 {} ms); list {} pods p50 {} ms; watch p99 {} ms; cache {ratio:.2}x serialized",
        ms(create_100),
        ms(*store_p99.last().unwrap_or(&0)),
        o.n_pods,
        ms(list_p50_us),
        ms(watch_p99),
    );
    Ok(())
}

fn run(o: &Options) -> Result<(), String> {
    println!(
        "apiserver bench: 3 replicas on loopback, {} pods, {} s per update/get load, {} watchers at {} updates/s for {} s",
        o.n_pods, o.secs, o.n_watchers, o.updates_per_sec, o.watch_secs
    );
    let cluster = start_cluster()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(measure(&cluster, o));
    // Stop the client's tasks before the cluster goes away.
    rt.shutdown_timeout(Duration::from_secs(5));
    result
}

fn main() {
    let o = Options::parse();
    // The cluster and its directories are removed when `run` returns, also on error.
    if let Err(e) = run(&o) {
        eprintln!("apiserver bench failed: {e}");
        std::process::exit(1);
    }
}
