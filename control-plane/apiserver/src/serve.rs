//! The HTTPS listener: rustls (ring) with ALPN h2 and http/1.1, client certificates
//! verified against the cluster CA but optional (token and anonymous requests reach the
//! authenticator), hyper's automatic HTTP/1.1-or-h2 connections, one task per connection.

use crate::auth::{self, UserInfo};
use crate::handler::{error_response, Req};
use crate::request::Query;
use crate::status::ApiError;
use crate::ApiServer;
use berth_replication::Store;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("failed to accept: {0}")]
    Accept(#[from] std::io::Error),
}

/// The serving TLS configuration and the verifier client chains are checked with after the
/// handshake.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    client_roots: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// The TLS configuration of `--tls-cert-file`, `--tls-private-key-file` and
/// `--client-ca-file`.
pub fn tls_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> Result<Tls, ServeError> {
    let err = |what: &str, e: &dyn std::fmt::Display| ServeError::Tls(format!("{what}: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| err("failed to read the serving certificate", &e))?;
    if certs.is_empty() {
        return Err(ServeError::Tls("no certificate in --tls-cert-file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| err("failed to read the serving key", &e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err("failed to choose TLS versions", &e))?;
    let mut client_roots = None;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                roots
                    .add(c.map_err(|e| err("failed to read --client-ca-file", &e))?)
                    .map_err(|e| err("failed to add the client CA", &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| err("failed to build the client certificate verifier", &e))?;
            client_roots = Some(verifier.clone());
            builder.with_client_cert_verifier(Arc::new(CheckLater { inner: verifier }))
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| err("failed to use the serving certificate", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        client_roots,
    })
}

/// Accepts any client certificate whose holder proves its key in the handshake, so that a
/// certificate the cluster CA did not sign reaches the authenticator and gets a 401 (as
/// kube-apiserver answers) instead of a failed handshake. The chain is checked against the
/// CA after the handshake ([`verify_client`]); only then is its CN a user.
#[derive(Debug)]
struct CheckLater {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
}

impl rustls::server::danger::ClientCertVerifier for CheckLater {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// What a connection's client certificate says: nothing, a user, or a certificate that does
/// not verify against the cluster CA (every request on it is 401).
#[derive(Debug, Clone)]
pub enum Peer {
    Anonymous,
    User(UserInfo),
    Invalid,
}

/// What the chain a client presented says, checked against the CA roots.
fn peer_of(
    roots: Option<&Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    chain: Option<&[CertificateDer<'_>]>,
) -> Peer {
    let Some((end, rest)) = chain.and_then(|c| c.split_first()) else {
        return Peer::Anonymous;
    };
    let Some(roots) = roots else {
        return Peer::Anonymous;
    };
    if roots
        .verify_client_cert(end, rest, rustls::pki_types::UnixTime::now())
        .is_err()
    {
        return Peer::Invalid;
    }
    match auth::user_from_cert(end.as_ref()) {
        Some(u) => Peer::User(u),
        None => Peer::Invalid,
    }
}

impl<S: Store> ApiServer<S> {
    /// Serves HTTPS on `listener` until `shutdown` completes.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Tls,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let roots = tls.client_roots.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(10_000));
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => return Ok(()),
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let roots = roots.clone();
            let me = self.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
                let peer_cert = peer_of(roots.as_ref(), tls.get_ref().1.peer_certificates());
                let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let me = me.clone();
                    let peer_cert = peer_cert.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(me.accept_request(req, peer_cert).await)
                    }
                });
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30));
                builder
                    .http2()
                    .timer(TokioTimer::new())
                    .max_concurrent_streams(1000)
                    .keep_alive_interval(Some(Duration::from_secs(30)));
                if let Err(e) = builder
                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    }

    /// Reads the body (bounded) and hands the request to the handler.
    async fn accept_request(
        self: Arc<Self>,
        req: http::Request<Incoming>,
        peer_cert: Peer,
    ) -> http::Response<crate::handler::Body> {
        let user = match peer_cert {
            Peer::Invalid => return error_response(&ApiError::Unauthorized),
            Peer::User(u) => Some(u),
            Peer::Anonymous => None,
        };
        let (parts, body) = req.into_parts();
        let limit = self.config.max_body_bytes;
        let body = match Limited::new(body, limit).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return error_response(&ApiError::TooLarge { limit_bytes: limit });
                }
                return error_response(&ApiError::BadRequest(format!(
                    "failed to read the request body: {e}"
                )));
            }
        };
        let req = Req {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: Query::parse(parts.uri.query()),
            headers: parts.headers,
            body,
            user,
            exempt: false,
        };
        self.handle(req).await
    }
}
