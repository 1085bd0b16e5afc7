//! The agent server (kubelet's port 10250): HTTPS with mTLS against the cluster CA, serving
//! `/pods`, `/containerLogs/{namespace}/{pod}/{container}` (`tailLines`, `follow`,
//! `timestamps`, `previous`), `/healthz` and `/metrics`. Connections and requests are bounded.

use crate::agent::Shared;
use crate::logs;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub const MAX_CONNECTIONS: usize = 1024;
/// A log response reads at most this much of the file (the tail of it).
pub const MAX_LOG_READ_BYTES: u64 = 16 << 20;
/// A followed log stream ends after this long (the client reconnects).
pub const MAX_FOLLOW: Duration = Duration::from_secs(4 * 3600);
/// While following, an unfinished line held back longer than this is flushed.
const MAX_PENDING_LINE_BYTES: usize = 1 << 20;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("no usable {what} in {path}")]
    Pem { what: &'static str, path: String },
    #[error("bad TLS configuration: {0}")]
    Tls(String),
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A rustls server config (ring provider) that requires a client certificate signed by the CA.
pub fn tls_config(files: &TlsFiles) -> Result<rustls::ServerConfig, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pem = |what, p: &Path| ServeError::Pem {
        what,
        path: p.display().to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<Result<_, _>>()
        .map_err(|_| pem("certificate", &files.cert))?;
    if certs.is_empty() {
        return Err(pem("certificate", &files.cert));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|_| pem("private key", &files.key))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&read(&files.client_ca)?) {
        roots
            .add(ca.map_err(|_| pem("CA certificate", &files.client_ca))?)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(pem("CA certificate", &files.client_ca));
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| ServeError::Tls(e.to_string()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Binds and serves until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    tls: rustls::ServerConfig,
    shared: Arc<Shared>,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "agent server listening (mTLS)");
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let conns = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(req, shared).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
            drop(permit);
        });
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .expect("static response parts are valid")
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", format!("{msg}\n"))
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .unwrap_or((kv.to_string(), String::new()))
        })
        .collect()
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
    }
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => match shared.runtime_error() {
            None => text(StatusCode::OK, "ok"),
            Some(e) => text(StatusCode::SERVICE_UNAVAILABLE, &e),
        },
        ["pods"] | ["pods", ""] => {
            let items: Vec<serde_json::Value> = shared
                .pod_list()
                .into_iter()
                .map(|p| {
                    let mut v = serde_json::to_value(&p).unwrap_or_default();
                    v["kind"] = "Pod".into();
                    v["apiVersion"] = "v1".into();
                    v
                })
                .collect();
            let v = serde_json::json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items });
            full(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&v).unwrap_or_default(),
            )
        }
        ["metrics"] => full(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            shared.metrics.render(),
        ),
        ["containerLogs", ns, pod, container] => {
            container_logs(&shared, ns, pod, container, &query(&req)).await
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn container_logs(
    shared: &Arc<Shared>,
    ns: &str,
    pod: &str,
    container: &str,
    q: &[(String, String)],
) -> Response<Body> {
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let flag = |k: &str| matches!(get(k), Some("true" | "1" | ""));
    let tail_lines = match get("tailLines").map(str::parse::<usize>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "tailLines must be a non-negative integer",
            )
        }
    };
    let (follow, timestamps, previous) = (flag("follow"), flag("timestamps"), flag("previous"));
    let Some((path, running)) = shared.log_file(ns, pod, container, previous) else {
        return text(
            StatusCode::NOT_FOUND,
            &format!("container {container} of pod {ns}/{pod} has no logs here"),
        );
    };
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            return text(
                StatusCode::NOT_FOUND,
                &format!("failed to open the log of {ns}/{pod}/{container}: {e}"),
            )
        }
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(MAX_LOG_READ_BYTES);
    let mut buf = Vec::new();
    if file.seek(std::io::SeekFrom::Start(start)).await.is_err()
        || file.read_to_end(&mut buf).await.is_err()
    {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "failed to read the log");
    }
    let content = String::from_utf8_lossy(&buf).into_owned();
    // Skip a line cut by the size bound.
    let content = if start > 0 {
        content
            .split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default()
    } else {
        content
    };
    let (lines, consumed) = logs::decode(&content, !follow || !running);
    let first = logs::render(&logs::tail(lines, tail_lines), timestamps);
    if !follow || !running {
        return full(StatusCode::OK, "text/plain; charset=utf-8", first);
    }
    // Follow: poll the file for growth until the container stops, the client goes away, or
    // MAX_FOLLOW passes.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let _ = tx.send(Bytes::from(first)).await;
    let (shared, ns, pod, container) = (
        shared.clone(),
        ns.to_string(),
        pod.to_string(),
        container.to_string(),
    );
    let mut offset = start + consumed as u64;
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + MAX_FOLLOW;
        let mut pending = String::new();
        while tokio::time::Instant::now() < deadline && !tx.is_closed() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut chunk = Vec::new();
            if let Ok(mut f) = tokio::fs::File::open(&path).await {
                if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
                    let _ = (&mut f).take(1 << 20).read_to_end(&mut chunk).await;
                }
            }
            offset += chunk.len() as u64;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            let (lines, consumed) = logs::decode(&pending, false);
            let text = logs::render(&lines, timestamps);
            pending.drain(..consumed);
            if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
            // A line that never ends is given out in pieces rather than held without bound.
            if pending.len() > MAX_PENDING_LINE_BYTES {
                let (lines, _) = logs::decode(&pending, true);
                pending.clear();
                if tx
                    .send(Bytes::from(logs::render(&lines, timestamps)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if chunk.is_empty() && !shared.still_running(&ns, &pod, &container, &path) {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain; charset=utf-8")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("static response parts are valid")
}
