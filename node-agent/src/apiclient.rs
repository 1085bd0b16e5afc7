//! A small Kubernetes API client: a kubeconfig reader, one multiplexed HTTP/2 connection over
//! TLS (client certificate or bearer token), JSON get/list/watch/create/update/patch/delete,
//! and the API's `Status` as typed errors. Requests in flight are bounded by a semaphore.

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};
use tokio_rustls::TlsConnector;

/// The largest response body read whole (a list of thousands of pods fits).
const MAX_BODY_BYTES: usize = 256 << 20;
/// The longest watch event line.
const MAX_WATCH_LINE_BYTES: usize = 16 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("failed to read {path}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to set up TLS: {0}")]
    Tls(String),
    #[error("failed to connect to {server}: {reason}")]
    Connect { server: String, reason: String },
    #[error("the request failed: {0}")]
    Transport(String),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The API server answered with a `Status` (or at least an error code).
    #[error("{code} {reason}: {message}")]
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    #[error("failed to decode the answer: {0}")]
    Decode(String),
}

impl ApiError {
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
    /// A write conflict or a failed precondition (409), but not AlreadyExists.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Status { code: 409, reason, .. } if reason != "AlreadyExists")
    }
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ApiError::Status { code: 409, reason, .. } if reason == "AlreadyExists")
    }
    /// 410 Gone: a watch or list from a compacted resourceVersion; relist.
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }
    /// Worth retrying with back-off: transport trouble, timeouts, overload, server errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Connect { .. } | ApiError::Transport(_) | ApiError::Timeout(_) => true,
            ApiError::Status { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// Where a kubeconfig's credential comes from: inline `*-data` or a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Data(Vec<u8>),
    File(PathBuf),
}

/// What the client needs from a kubeconfig's current context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    pub server: String,
    pub certificate_authority: Option<Source>,
    pub client_certificate: Option<Source>,
    pub client_key: Option<Source>,
    pub token: Option<String>,
    pub insecure_skip_tls_verify: bool,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    clusters: Vec<RawNamedCluster>,
    #[serde(default)]
    users: Vec<RawNamedUser>,
    #[serde(default)]
    contexts: Vec<RawNamedContext>,
}
#[derive(Deserialize)]
struct RawNamedCluster {
    name: String,
    cluster: RawCluster,
}
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawCluster {
    server: String,
    certificate_authority_data: Option<String>,
    certificate_authority: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}
#[derive(Deserialize)]
struct RawNamedUser {
    name: String,
    #[serde(default)]
    user: RawUser,
}
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawUser {
    client_certificate_data: Option<String>,
    client_certificate: Option<String>,
    client_key_data: Option<String>,
    client_key: Option<String>,
    token: Option<String>,
}
#[derive(Deserialize)]
struct RawNamedContext {
    name: String,
    context: RawContext,
}
#[derive(Deserialize)]
struct RawContext {
    cluster: String,
    #[serde(default)]
    user: String,
}

impl Kubeconfig {
    /// Parses a kubeconfig (YAML) and picks its current context; relative file paths are
    /// taken relative to `dir` (the kubeconfig's directory, as kubectl does).
    pub fn parse(yaml: &str, dir: &Path) -> Result<Kubeconfig, ApiError> {
        let bad = |m: String| ApiError::Kubeconfig(m);
        let raw: RawConfig = serde_yaml_ng::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        let ctx = if raw.current_context.is_empty() {
            match raw.contexts.as_slice() {
                [only] => &only.context,
                _ => return Err(bad("no current-context".into())),
            }
        } else {
            &raw.contexts
                .iter()
                .find(|c| c.name == raw.current_context)
                .ok_or_else(|| bad(format!("context {:?} not found", raw.current_context)))?
                .context
        };
        let cluster = &raw
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster)
            .ok_or_else(|| bad(format!("cluster {:?} not found", ctx.cluster)))?
            .cluster;
        let user = match raw.users.iter().find(|u| u.name == ctx.user) {
            Some(u) => &u.user,
            None if ctx.user.is_empty() => &RawUser::default(),
            None => return Err(bad(format!("user {:?} not found", ctx.user))),
        };
        let source = |data: &Option<String>, file: &Option<String>, what: &str| {
            if let Some(d) = data {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(d.trim())
                    .map_err(|e| bad(format!("{what}-data is not base64: {e}")))?;
                return Ok(Some(Source::Data(bytes)));
            }
            Ok(file.as_ref().map(|f| Source::File(dir.join(f))))
        };
        if !cluster.server.starts_with("https://") {
            return Err(bad(format!(
                "server {:?}: only https:// is supported",
                cluster.server
            )));
        }
        Ok(Kubeconfig {
            server: cluster.server.trim_end_matches('/').to_string(),
            certificate_authority: source(
                &cluster.certificate_authority_data,
                &cluster.certificate_authority,
                "certificate-authority",
            )?,
            client_certificate: source(
                &user.client_certificate_data,
                &user.client_certificate,
                "client-certificate",
            )?,
            client_key: source(&user.client_key_data, &user.client_key, "client-key")?,
            token: user.token.clone(),
            insecure_skip_tls_verify: cluster.insecure_skip_tls_verify,
        })
    }

    pub fn load(path: &Path) -> Result<Kubeconfig, ApiError> {
        let text = std::fs::read_to_string(path).map_err(|e| ApiError::ReadFile {
            path: path.display().to_string(),
            source: e,
        })?;
        Kubeconfig::parse(&text, path.parent().unwrap_or(Path::new(".")))
    }
}

fn read_source(s: &Source) -> Result<Vec<u8>, ApiError> {
    match s {
        Source::Data(d) => Ok(d.clone()),
        Source::File(p) => std::fs::read(p).map_err(|e| ApiError::ReadFile {
            path: p.display().to_string(),
            source: e,
        }),
    }
}

/// A rustls client config (ring provider) from a kubeconfig: the cluster CA as the only root
/// (`insecure-skip-tls-verify` is refused), the client certificate if any, ALPN h2.
fn tls_config(kc: &Kubeconfig) -> Result<rustls::ClientConfig, ApiError> {
    let tls = |m: String| ApiError::Tls(m);
    if kc.insecure_skip_tls_verify {
        return Err(tls("insecure-skip-tls-verify is not supported".into()));
    }
    let ca = kc
        .certificate_authority
        .as_ref()
        .ok_or_else(|| tls("the kubeconfig names no certificate authority".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read_source(ca)?) {
        let c = c.map_err(|e| tls(format!("bad CA certificate: {e}")))?;
        roots
            .add(c)
            .map_err(|e| tls(format!("bad CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match (&kc.client_certificate, &kc.client_key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_slice_iter(&read_source(cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| tls(format!("bad client certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(&read_source(key)?)
                .map_err(|e| tls(format!("bad client key: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(tls("client-certificate and client-key come together".into())),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    StrategicMerge,
    Json,
}

impl PatchType {
    fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        }
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&...` with the values encoded.
pub fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    let mut out = path.to_string();
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 && !path.contains('?') {
            '?'
        } else {
            '&'
        });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode_query_value(v));
    }
    out
}

pub struct ClientConfig {
    /// Requests in flight at once (watches excepted); more wait for a slot.
    pub max_inflight: usize,
    /// Time limit of every request but watches.
    pub request_timeout_ms: u64,
}

/// The client; cheap to clone (one shared connection).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    authority: String,
    host: String,
    port: u16,
    token: Option<String>,
    connector: TlsConnector,
    sender: Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    slots: Semaphore,
    request_timeout_ms: u64,
}

/// A watch event: its type and object.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    pub kind: EventKind,
    pub object: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
    Bookmark,
}

/// Parses one watch line. An `ERROR` event becomes the error its `Status` carries.
pub fn parse_watch_line(line: &[u8]) -> Result<WatchEvent, ApiError> {
    let v: Value = serde_json::from_slice(line).map_err(|e| ApiError::Decode(e.to_string()))?;
    let kind = match v["type"].as_str() {
        Some("ADDED") => EventKind::Added,
        Some("MODIFIED") => EventKind::Modified,
        Some("DELETED") => EventKind::Deleted,
        Some("BOOKMARK") => EventKind::Bookmark,
        Some("ERROR") => {
            return Err(status_error(
                v["object"].as_object().map(|_| &v["object"]),
                500,
            ))
        }
        other => {
            return Err(ApiError::Decode(format!(
                "unknown watch event type {other:?}"
            )))
        }
    };
    let mut v = v;
    Ok(WatchEvent {
        kind,
        object: v["object"].take(),
    })
}

/// The error a `Status` body (or its absence) describes.
fn status_error(status: Option<&Value>, http_code: u16) -> ApiError {
    let s = status.cloned().unwrap_or(Value::Null);
    let code = s["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(http_code);
    ApiError::Status {
        code,
        reason: s["reason"].as_str().map(str::to_string).unwrap_or_else(|| {
            StatusCode::from_u16(code)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("Unknown")
                .replace(' ', "")
        }),
        message: s["message"].as_str().unwrap_or_default().to_string(),
    }
}

/// An open watch: events as the server sends them, one JSON object a line.
pub struct Watch {
    body: Incoming,
    buf: BytesMut,
    idle_timeout: Duration,
}

impl Watch {
    /// The next event; `Ok(None)` when the server ends the watch (its timeout), an error for
    /// an `ERROR` event (410 Gone: relist), a broken stream or `idle_timeout` of silence.
    pub async fn next(&mut self) -> Result<Option<WatchEvent>, ApiError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                return parse_watch_line(line).map(Some);
            }
            if self.buf.len() > MAX_WATCH_LINE_BYTES {
                return Err(ApiError::Decode("a watch event is too large".into()));
            }
            let frame = tokio::time::timeout(self.idle_timeout, self.body.frame())
                .await
                .map_err(|_| ApiError::Timeout(self.idle_timeout.as_millis() as u64))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(ApiError::Transport(e.to_string())),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

impl Client {
    pub fn new(kc: &Kubeconfig, config: ClientConfig) -> Result<Client, ApiError> {
        let uri: Uri = kc
            .server
            .parse()
            .map_err(|e| ApiError::Kubeconfig(format!("server {:?}: {e}", kc.server)))?;
        let authority = uri
            .authority()
            .ok_or_else(|| ApiError::Kubeconfig(format!("server {:?} has no host", kc.server)))?;
        let host = authority
            .host()
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let tls = tls_config(kc)?;
        Ok(Client {
            inner: Arc::new(Inner {
                server: kc.server.clone(),
                authority: authority.to_string(),
                port: authority.port_u16().unwrap_or(443),
                host,
                token: kc.token.clone(),
                connector: TlsConnector::from(Arc::new(tls)),
                sender: Mutex::new(None),
                slots: Semaphore::new(config.max_inflight.max(1)),
                request_timeout_ms: config.request_timeout_ms.max(1),
            }),
        })
    }

    /// The shared HTTP/2 connection, dialled again if it is gone.
    async fn sender(&self) -> Result<http2::SendRequest<Full<Bytes>>, ApiError> {
        let mut guard = self.inner.sender.lock().await;
        if let Some(s) = guard.as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let fail = |reason: String| ApiError::Connect {
            server: self.inner.server.clone(),
            reason,
        };
        let name =
            ServerName::try_from(self.inner.host.clone()).map_err(|e| fail(e.to_string()))?;
        let dial = async {
            let tcp = tokio::net::TcpStream::connect((self.inner.host.as_str(), self.inner.port))
                .await
                .map_err(|e| fail(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let tls = self
                .inner
                .connector
                .connect(name, tcp)
                .await
                .map_err(|e| fail(e.to_string()))?;
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(fail("the server does not speak HTTP/2 (ALPN h2)".into()));
            }
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20))
                .handshake(TokioIo::new(tls))
                .await
                .map_err(|e| fail(e.to_string()))?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "API connection ended");
                }
            });
            Ok(sender)
        };
        let sender = tokio::time::timeout(CONNECT_TIMEOUT, dial)
            .await
            .map_err(|_| fail("timed out".into()))??;
        *guard = Some(sender.clone());
        Ok(sender)
    }

    fn request(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, ApiError> {
        let uri = format!("https://{}{}", self.inner.authority, path_and_query);
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "berth-node-agent");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        if let Some(t) = &self.inner.token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Full::new(body))
            .map_err(|e| ApiError::Transport(e.to_string()))
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Result<http::Response<Incoming>, ApiError> {
        let mut sender = self.sender().await?;
        sender
            .ready()
            .await
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| ApiError::Transport(e.to_string()))
    }

    /// One request answered with a JSON body, within the request timeout and a slot.
    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| ApiError::Transport("client closed".into()))?;
        let body = match body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| ApiError::Decode(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let req = self.request(method, path, content_type, body)?;
        let timeout_ms = self.inner.request_timeout_ms;
        let work = async {
            let resp = self.send(req).await?;
            let code = resp.status().as_u16();
            let bytes = Limited::new(resp.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| ApiError::Transport(e.to_string()))?
                .to_bytes();
            let v: Option<Value> = serde_json::from_slice(&bytes).ok();
            if (200..300).contains(&code) {
                v.ok_or_else(|| ApiError::Decode("the answer is not JSON".into()))
            } else {
                Err(status_error(v.as_ref(), code))
            }
        };
        tokio::time::timeout(Duration::from_millis(timeout_ms), work)
            .await
            .map_err(|_| ApiError::Timeout(timeout_ms))?
    }

    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None, None).await
    }

    /// A list (`path` may carry a query: see `with_query`).
    pub async fn list(&self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn create(&self, path: &str, obj: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some("application/json"), Some(obj))
            .await
    }

    pub async fn update(&self, path: &str, obj: &Value) -> Result<Value, ApiError> {
        self.call(Method::PUT, path, Some("application/json"), Some(obj))
            .await
    }

    pub async fn patch(&self, path: &str, ty: PatchType, patch: &Value) -> Result<Value, ApiError> {
        self.call(Method::PATCH, path, Some(ty.content_type()), Some(patch))
            .await
    }

    /// DELETE with a `DeleteOptions` body (grace period, preconditions, propagation).
    pub async fn delete(&self, path: &str, options: &Value) -> Result<Value, ApiError> {
        self.call(
            Method::DELETE,
            path,
            Some("application/json"),
            Some(options),
        )
        .await
    }

    /// Opens a watch (`path` carries `watch=1` and `resourceVersion` in its query). The
    /// stream fails after `idle_timeout_ms` without a byte; ask the server for bookmarks or a
    /// `timeoutSeconds` below it.
    pub async fn watch(&self, path: &str, idle_timeout_ms: u64) -> Result<Watch, ApiError> {
        let req = self.request(Method::GET, path, None, Bytes::new())?;
        let timeout_ms = self.inner.request_timeout_ms;
        let resp = tokio::time::timeout(Duration::from_millis(timeout_ms), self.send(req))
            .await
            .map_err(|_| ApiError::Timeout(timeout_ms))??;
        let code = resp.status().as_u16();
        if !(200..300).contains(&code) {
            let bytes = Limited::new(resp.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let v: Option<Value> = serde_json::from_slice(&bytes).ok();
            return Err(status_error(v.as_ref(), code));
        }
        Ok(Watch {
            body: resp.into_body(),
            buf: BytesMut::new(),
            idle_timeout: Duration::from_millis(idle_timeout_ms.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KC: &str = "apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://10.0.0.1:6443
- name: berth
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: Q0E=
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key: keys/admin.key
contexts:
- name: a
  context:
    cluster: other
    user: admin
- name: b
  context:
    cluster: berth
    user: admin
current-context: b
";

    #[test]
    fn kubeconfig_current_context() {
        let kc = Kubeconfig::parse(KC, Path::new("/etc/k")).unwrap();
        assert_eq!(
            kc,
            Kubeconfig {
                server: "https://127.0.0.1:6443".into(),
                certificate_authority: Some(Source::Data(b"CA".to_vec())),
                client_certificate: Some(Source::Data(b"CERT".to_vec())),
                client_key: Some(Source::File(PathBuf::from("/etc/k/keys/admin.key"))),
                token: None,
                insecure_skip_tls_verify: false,
            }
        );
    }

    #[test]
    fn kubeconfig_errors() {
        let check = |yaml: &str, want: &str| {
            let err = Kubeconfig::parse(yaml, Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        };
        check(
            &KC.replace("current-context: b", "current-context: zz"),
            "context \"zz\" not found",
        );
        check(
            &KC.replace("cluster: berth\n", "cluster: nope\n"),
            "cluster \"nope\" not found",
        );
        check(
            &KC.replace("Q0E=", "not*base64"),
            "certificate-authority-data is not base64",
        );
        check(
            &KC.replace("https://127.0.0.1", "http://127.0.0.1"),
            "only https://",
        );
        check("clusters: [", "invalid kubeconfig");
    }

    #[test]
    fn query_encoding() {
        for (path, q, want) in [
            ("/api/v1/pods", vec![], "/api/v1/pods"),
            (
                "/api/v1/pods",
                vec![("fieldSelector", "spec.nodeName!="), ("limit", "500")],
                "/api/v1/pods?fieldSelector=spec.nodeName%21%3D&limit=500",
            ),
            ("/x?watch=1", vec![("a", "b c/d")], "/x?watch=1&a=b%20c%2Fd"),
        ] {
            assert_eq!(with_query(path, &q), want);
        }
    }

    #[test]
    fn watch_lines() {
        let ev =
            parse_watch_line(br#"{"type":"ADDED","object":{"metadata":{"name":"p"}}}"#).unwrap();
        assert_eq!(ev.kind, EventKind::Added);
        assert_eq!(ev.object, json!({"metadata": {"name": "p"}}));
        let gone = parse_watch_line(
            br#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#,
        )
        .unwrap_err();
        assert!(gone.is_gone() && !gone.is_retryable(), "{gone:?}");
        assert!(parse_watch_line(br#"{"type":"WHAT"}"#).is_err());
    }

    #[test]
    fn error_classes() {
        let e = |code: u16, reason: &str| ApiError::Status {
            code,
            reason: reason.into(),
            message: String::new(),
        };
        // (error, not found, conflict, already exists, retryable)
        for (err, nf, conflict, exists, retry) in [
            (e(404, "NotFound"), true, false, false, false),
            (e(409, "Conflict"), false, true, false, false),
            (e(409, "AlreadyExists"), false, false, true, false),
            (e(429, "TooManyRequests"), false, false, false, true),
            (e(503, "ServiceUnavailable"), false, false, false, true),
            (e(422, "Invalid"), false, false, false, false),
            (ApiError::Timeout(5), false, false, false, true),
        ] {
            assert_eq!(
                (
                    err.is_not_found(),
                    err.is_conflict(),
                    err.is_already_exists(),
                    err.is_retryable()
                ),
                (nf, conflict, exists, retry),
                "{err:?}"
            );
        }
        // A body without a Status: the HTTP code and its canonical reason.
        assert_eq!(
            status_error(None, 503).to_string(),
            "503 ServiceUnavailable: "
        );
    }
}
