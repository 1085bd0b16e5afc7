//! Serving: the services as composable `tonic::service::Routes`, the listener's accept loop
//! (bounded connections, TLS handshakes off the accept path with a timeout, optional client
//! certificates checked against a CA), and the server's limits.
//!
//! TLS uses rustls with the ring provider, passed explicitly (no process-wide default is
//! needed or installed).

use crate::{ClusterService, KvService, LeaseService, MaintenanceService, WatchService};
use berth_replication::Store;
use etcd_client::proto::{
    PbClusterServer, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbWatchServer,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::transport::Server;

/// What gRPC adds to a request beyond the store's limit (etcd's `grpcOverheadBytes`).
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Limits and settings of the API server. Defaults follow etcd's where etcd has one.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The store's request size limit (the engine's `max_request_bytes`). gRPC messages
    /// may be this plus [`GRPC_OVERHEAD_BYTES`], as in etcd; bigger ones are refused before
    /// they are decoded. Also the size at which watch responses are fragmented.
    pub max_request_bytes: usize,
    /// Watches one Watch stream may hold at once; more are refused (canceled at creation).
    pub max_watches_per_stream: usize,
    /// Messages buffered per watch stream, both towards the client and from its watches.
    pub watch_stream_buffer: usize,
    /// Keep-alives one LeaseKeepAlive stream may send per second (and in a burst).
    pub keepalives_per_sec: u32,
    /// Snapshot bytes per message (etcd: 32 KiB).
    pub snapshot_chunk_bytes: usize,
    /// Concurrent HTTP/2 streams (RPCs) per connection.
    pub max_concurrent_streams: u32,
    /// Open connections (including those in their TLS handshake); the accept loop waits
    /// for one to close beyond this.
    pub max_connections: usize,
    /// HTTP/2 pings to a client idle this long, dropped if unanswered within the timeout.
    pub http2_keepalive_interval: Duration,
    pub http2_keepalive_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    /// After the shutdown signal, how long open connections (watch and keep-alive streams
    /// never end by themselves) may take before `serve` returns anyway.
    pub shutdown_grace: Duration,
    /// Also serve HTTP/1.1 on the port (for routes the binary adds, e.g. /metrics).
    pub accept_http1: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_request_bytes: 3 << 19, // 1.5 MiB, the engine's default
            max_watches_per_stream: 10_000,
            watch_stream_buffer: 64,
            keepalives_per_sec: 1_000,
            snapshot_chunk_bytes: 32 * 1024,
            max_concurrent_streams: 1_000,
            max_connections: 4_096,
            http2_keepalive_interval: Duration::from_secs(2 * 3600), // etcd: 2h
            http2_keepalive_timeout: Duration::from_secs(20),        // etcd: 20s
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            accept_http1: true,
        }
    }
}

/// The server's certificate and key (PEM), and the CA (PEM) that client certificates must
/// chain to; without one, clients are not asked for a certificate.
#[derive(Clone)]
pub struct TlsConfig {
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("client_auth", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    #[error("failed to serve: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl TlsConfig {
    /// The rustls server configuration (ring provider; ALPN h2, and http/1.1 if asked).
    pub fn server_config(&self, accept_http1: bool) -> Result<rustls::ServerConfig, ServeError> {
        let tls_err =
            |what: &str, e: &dyn std::fmt::Display| ServeError::Tls(format!("{what}: {e}"));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&self.cert_chain_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| tls_err("failed to read the server certificate", &e))?;
        if certs.is_empty() {
            return Err(ServeError::Tls(
                "no certificate in the server certificate PEM".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| tls_err("failed to read the server key", &e))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("failed to choose TLS versions", &e))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca_pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in CertificateDer::pem_slice_iter(ca_pem) {
                    let ca = ca.map_err(|e| tls_err("failed to read the client CA", &e))?;
                    roots
                        .add(ca)
                        .map_err(|e| tls_err("failed to add the client CA", &e))?;
                }
                if roots.is_empty() {
                    return Err(ServeError::Tls(
                        "no certificate in the client CA PEM".into(),
                    ));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| tls_err("failed to build the client certificate verifier", &e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| tls_err("failed to use the server certificate", &e))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        if accept_http1 {
            config.alpn_protocols.push(b"http/1.1".to_vec());
        }
        Ok(config)
    }
}

/// The etcd services (KV, Watch, Lease, Cluster, Maintenance) over `store`, as routes the
/// caller may extend (e.g. `routes.axum_router_mut()`) before serving them.
pub fn routes<S: Store>(store: Arc<S>, config: &ApiConfig) -> Routes {
    let config = Arc::new(config.clone());
    let max_message_bytes = config.max_request_bytes + GRPC_OVERHEAD_BYTES;
    Routes::new(
        PbKvServer::new(KvService::new(store.clone())).max_decoding_message_size(max_message_bytes),
    )
    .add_service(
        PbWatchServer::new(WatchService::new(store.clone(), config.clone()))
            .max_decoding_message_size(max_message_bytes),
    )
    .add_service(
        PbLeaseServer::new(LeaseService::new(store.clone(), config.clone()))
            .max_decoding_message_size(max_message_bytes),
    )
    .add_service(
        PbClusterServer::new(ClusterService::new(store.clone()))
            .max_decoding_message_size(max_message_bytes),
    )
    .add_service(
        PbMaintenanceServer::new(MaintenanceService::new(store, config))
            .max_decoding_message_size(max_message_bytes),
    )
}

/// Serves the etcd API over `store` on `listener` until `shutdown` completes, then waits
/// for open connections to finish, at most `config.shutdown_grace`.
pub async fn serve<S: Store>(
    store: Arc<S>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    config: ApiConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let routes = routes(store, &config);
    serve_routes(routes, listener, tls, config, shutdown).await
}

/// Serves `routes` (from [`routes`], possibly extended) on `listener` until `shutdown`
/// completes, then waits for open connections to finish, at most `config.shutdown_grace`
/// (connections still open then are left to the runtime's shutdown).
pub async fn serve_routes(
    routes: Routes,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    config: ApiConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let acceptor = match &tls {
        Some(t) => Some(TlsAcceptor::from(Arc::new(
            t.server_config(config.accept_http1)?,
        ))),
        None => None,
    };
    let (conn_tx, conn_rx) = mpsc::channel::<io::Result<Conn>>(16);
    let accept = tokio::spawn(accept_loop(listener, acceptor, conn_tx, config.clone()));
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let server = Server::builder()
        .accept_http1(config.accept_http1)
        .max_concurrent_streams(config.max_concurrent_streams)
        .http2_keepalive_interval(Some(config.http2_keepalive_interval))
        .http2_keepalive_timeout(Some(config.http2_keepalive_timeout))
        .add_routes(routes)
        .serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), signal);
    let grace_over = async {
        match stopping_rx.await {
            Ok(()) => tokio::time::sleep(config.shutdown_grace).await,
            Err(_) => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        r = server => r.map_err(ServeError::from),
        _ = grace_over => {
            tracing::info!("connections still open after the shutdown grace period; not waiting for them");
            Ok(())
        }
    };
    accept.abort();
    result
}

/// Accepts connections while the server takes them: at most `max_connections` open, each
/// TLS handshake in its own task under a timeout.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    conns: mpsc::Sender<io::Result<Conn>>,
    config: ApiConfig,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = conns.closed() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = conns.closed() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "failed to accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        match &acceptor {
            None => {
                if conns
                    .send(Ok(Conn {
                        io: Io::Plain(tcp),
                        _permit: permit,
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let conns = conns.clone();
                let timeout = config.tls_handshake_timeout;
                tokio::spawn(async move {
                    let peer = tcp.peer_addr().ok();
                    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = conns
                                .send(Ok(Conn {
                                    io: Io::Tls(Box::new(tls)),
                                    _permit: permit,
                                }))
                                .await;
                        }
                        Ok(Err(e)) => tracing::debug!(?peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// An accepted connection, holding its slot until it closes.
struct Conn {
    io: Io,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match &self.io {
            Io::Plain(tcp) => tcp.connect_info(),
            Io::Tls(tls) => tls.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
