//! `control-plane`: one replica of Berth's replicated store, serving the etcd v3 API on its
//! client URLs and the peer protocol on its peer URLs; `control-plane certs` writes a cluster
//! CA and certificates. Flags follow etcd's names so etcd users know them.

mod certs;
mod components;
mod flags;
mod local;
mod metrics;

use anyhow::Context;
use berth_replication::network::pb::peer_server::PeerServer;
use berth_replication::network::MAX_PEER_MESSAGE_BYTES;
use berth_replication::{ClusterState, Replica, ReplicaConfig, Store};
use clap::Parser;
use flags::{Cli, Command, ServerFlags};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

fn main() -> anyhow::Result<()> {
    // One crypto provider for every TLS user in the process (tonic, rustls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Failpoints from the FAILPOINTS variable (`name=action;...`), kept for the process's life.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Certs(c)) => certs::write(&c),
        Some(Command::Kubeconfig(k)) => certs::kubeconfig(&k),
        None => {
            init_logging(&cli.server.log_level);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("berth")
                .build()
                .context("failed to start the async runtime")?;
            runtime.block_on(run(cli.server))
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn read(path: &Option<std::path::PathBuf>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match path {
        Some(p) => Ok(Some(std::fs::read(p).with_context(|| {
            format!("failed to read the {what} {}", p.display())
        })?)),
        None => Ok(None),
    }
}

async fn run(f: ServerFlags) -> anyhow::Result<()> {
    let listen_client = flags::parse_urls(&f.listen_client_urls)
        .map_err(anyhow::Error::msg)
        .context("bad --listen-client-urls")?;
    let listen_peer = flags::parse_urls(&f.listen_peer_urls)
        .map_err(anyhow::Error::msg)
        .context("bad --listen-peer-urls")?;
    let initial_cluster = flags::parse_initial_cluster(&f.initial_cluster)
        .map_err(anyhow::Error::msg)
        .context("bad --initial-cluster")?;
    let advertise_peer: Vec<String> = match &f.initial_advertise_peer_urls {
        Some(u) => flags::split(u),
        None => initial_cluster
            .iter()
            .filter(|(n, _)| *n == f.name)
            .map(|(_, u)| u.clone())
            .collect(),
    };
    anyhow::ensure!(
        !advertise_peer.is_empty(),
        "this member ({}) is not in --initial-cluster and has no --initial-advertise-peer-urls",
        f.name
    );
    let advertise_client = match &f.advertise_client_urls {
        Some(u) => flags::split(u),
        None => f
            .listen_client_urls
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    };

    // Peer TLS: the same CA verifies both directions; a peer presents its certificate as
    // client and as server.
    let peer_cert = read(&f.peer_cert_file, "peer certificate")?;
    let peer_key = read(&f.peer_key_file, "peer key")?;
    let peer_ca = read(&f.peer_trusted_ca_file, "peer CA")?;
    let peer_tls_client = match (&peer_cert, &peer_key, &peer_ca) {
        (Some(c), Some(k), Some(ca)) => Some(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .identity(Identity::from_pem(c, k)),
        ),
        (None, None, _) => None,
        _ => anyhow::bail!(
            "--peer-cert-file, --peer-key-file and --peer-trusted-ca-file go together"
        ),
    };

    let mut engine = storage::EngineConfig {
        quota_bytes: f.quota_backend_bytes,
        max_request_bytes: f.max_request_bytes,
        ..Default::default()
    };
    engine.min_lease_ttl_secs = ((3 * f.election_timeout).div_ceil(2)).div_ceil(1000).max(1) as i64;
    let mut config = ReplicaConfig::new(&f.name, f.data_dir.clone(), initial_cluster);
    config.initial_cluster_state = match f.initial_cluster_state.as_str() {
        "new" => ClusterState::New,
        "existing" => ClusterState::Existing,
        other => anyhow::bail!("--initial-cluster-state must be new or existing, not {other}"),
    };
    config.initial_cluster_token = f.initial_cluster_token.clone();
    config.advertise_peer_urls = advertise_peer;
    config.advertise_client_urls = advertise_client;
    config.heartbeat_interval_ms = f.heartbeat_interval;
    config.election_timeout_ms = f.election_timeout;
    config.snapshot_count = f.snapshot_count;
    config.snapshot_catchup_entries = f.snapshot_catchup_entries;
    config.engine = engine;
    config.peer_tls = peer_tls_client;

    let (replica, peer_service) = Replica::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("failed to start the replica: {e}"))?;
    let replica = Arc::new(replica);
    let peer_service = Arc::new(peer_service);
    let metrics = metrics::Metrics::new(replica.clone()).context("failed to register metrics")?;
    replica.engine().set_observer(metrics.observer());
    metrics.spawn_updater();

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    // Peer listeners.
    for (url, addr, https) in listen_peer {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("failed to listen on {url}"))?;
        let mut builder = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(5)));
        if https {
            let (c, k) = (peer_cert.as_ref(), peer_key.as_ref());
            let (c, k) = c.zip(k).with_context(|| {
                format!("{url} is https but --peer-cert-file/--peer-key-file are missing")
            })?;
            let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(c, k));
            if f.peer_client_cert_auth {
                let ca = peer_ca
                    .as_ref()
                    .context("--peer-client-cert-auth needs --peer-trusted-ca-file")?;
                tls = tls.client_ca_root(Certificate::from_pem(ca));
            }
            builder = builder
                .tls_config(tls)
                .context("bad peer TLS configuration")?;
        }
        let svc = PeerServer::from_arc(peer_service.clone())
            .max_decoding_message_size(MAX_PEER_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_PEER_MESSAGE_BYTES);
        let mut stop = shutdown_rx.clone();
        tasks.spawn(async move {
            // Raft messages are small request/response pairs: without TCP_NODELAY, Nagle's
            // algorithm and delayed ACKs add ~40 ms to many of them.
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                |conn| {
                    if let Ok(c) = &conn {
                        let _ = c.set_nodelay(true);
                    }
                    conn
                },
            );
            builder
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .map_err(|e| anyhow::anyhow!("peer server on {url}: {e}"))
        });
    }

    // Client listeners: the etcd API plus /metrics and health endpoints.
    let client_cert = read(&f.cert_file, "certificate")?;
    let client_key = read(&f.key_file, "key")?;
    let trusted_ca = read(&f.trusted_ca_file, "CA")?;
    let api_config = berth_etcd_api::ApiConfig {
        max_request_bytes: f.max_request_bytes,
        ..Default::default()
    };
    for (url, addr, https) in listen_client {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("failed to listen on {url}"))?;
        let tls = if https {
            let cert = client_cert
                .clone()
                .with_context(|| format!("{url} is https but --cert-file is missing"))?;
            let key = client_key
                .clone()
                .with_context(|| format!("{url} is https but --key-file is missing"))?;
            let client_ca_pem = if f.client_cert_auth {
                Some(
                    trusted_ca
                        .clone()
                        .context("--client-cert-auth needs --trusted-ca-file")?,
                )
            } else {
                None
            };
            Some(berth_etcd_api::TlsConfig {
                cert_chain_pem: cert,
                key_pem: key,
                client_ca_pem,
            })
        } else {
            None
        };
        let mut routes = berth_etcd_api::routes(replica.clone(), &api_config);
        metrics.add_http_routes(routes.axum_router_mut());
        let mut stop = shutdown_rx.clone();
        let config = api_config.clone();
        tasks.spawn(async move {
            berth_etcd_api::serve_routes(routes, listener, tls, config, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|e| anyhow::anyhow!("client server on {url}: {e}"))
        });
    }
    // Plain-HTTP metrics listeners (etcd's --listen-metrics-urls).
    if let Some(urls) = &f.listen_metrics_urls {
        for (url, addr, https) in flags::parse_urls(urls)
            .map_err(anyhow::Error::msg)
            .context("bad --listen-metrics-urls")?
        {
            anyhow::ensure!(
                !https,
                "--listen-metrics-urls serves plain http only ({url})"
            );
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {url}"))?;
            let router = metrics.http_router();
            let mut stop = shutdown_rx.clone();
            tasks.spawn(async move {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                tonic::transport::Server::builder()
                    .accept_http1(true)
                    .add_routes(tonic::service::Routes::from(router))
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("metrics server on {url}: {e}"))
            });
        }
    }
    // The Kubernetes API server, when it has a serving certificate.
    if f.kube.tls_cert_file.is_some() {
        let (server, listener, tls) = start_kube_api(&f.kube, replica.clone()).await?;
        let root_ca = match &f.kube.client_ca_file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("failed to read --client-ca-file {}", p.display()))?,
            None => String::new(),
        };
        components::start(&f.name, &f.components, server.clone(), &root_ca)
            .context("failed to start the scheduler and controllers")?;
        let mut stop = shutdown_rx.clone();
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tasks.spawn(async move {
            server
                .serve(listener, tls, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .map_err(|e| anyhow::anyhow!("Kubernetes API server on {addr}: {e}"))
        });
    }
    if f.auto_compaction_retention > 0 {
        spawn_auto_compaction(
            replica.clone(),
            Duration::from_secs(f.auto_compaction_retention * 3600),
        );
    }
    tracing::info!(name = %f.name, client = %f.listen_client_urls, peer = %f.listen_peer_urls, "serving");

    // Run until a signal or a server fails.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to watch SIGTERM")?;
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = term.recv() => Ok(()),
        Some(r) = tasks.join_next() => r.map_err(anyhow::Error::from).and_then(|r| r),
    };
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    replica.shutdown().await;
    outcome
}

type KubeApi = (
    Arc<berth_apiserver::ApiServer<Replica>>,
    TcpListener,
    berth_apiserver::serve::Tls,
);

/// Builds the Kubernetes API server from its flags and binds its port.
async fn start_kube_api(k: &flags::KubeFlags, replica: Arc<Replica>) -> anyhow::Result<KubeApi> {
    use berth_apiserver::auth;
    let cert = read(&k.tls_cert_file, "--tls-cert-file")?.context("--tls-cert-file is required")?;
    let key = read(&k.tls_private_key_file, "--tls-private-key-file")?
        .context("--tls-private-key-file is required with --tls-cert-file")?;
    let client_ca = read(&k.client_ca_file, "--client-ca-file")?;
    let tls = berth_apiserver::serve::tls_config(&cert, &key, client_ca.as_deref())
        .context("bad Kubernetes API TLS configuration")?;
    let ranges = berth_apiserver::services::ServiceRanges::parse(
        &k.service_cluster_ip_range,
        &k.service_node_port_range,
    )
    .map_err(anyhow::Error::msg)
    .context("bad service ranges")?;
    let mut config = berth_apiserver::Config::new(ranges);
    if let Some(p) = &k.token_auth_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("failed to read --token-auth-file {}", p.display()))?;
        config.token_users = auth::parse_token_file(&p.display().to_string(), &text)?;
    }
    config.api_audiences = match &k.api_audiences {
        Some(a) => flags::split(a),
        None => vec![k.service_account_issuer.clone()],
    };
    if let Some(p) = &k.service_account_signing_key_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("failed to read {}", p.display()))?;
        let signer = auth::TokenSigner::from_pem(
            &p.display().to_string(),
            &text,
            &k.service_account_issuer,
        )?;
        config.token_verifier = Some(auth::TokenVerifier::from_signer(
            &signer,
            config.api_audiences.clone(),
        ));
        config.token_signer = Some(signer);
    }
    if let Some(p) = &k.service_account_key_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("failed to read {}", p.display()))?;
        config.token_verifier = Some(auth::TokenVerifier::from_pem(
            &p.display().to_string(),
            &text,
            &k.service_account_issuer,
            config.api_audiences.clone(),
        )?);
    }
    config.max_mutating_inflight = k.max_mutating_requests_inflight.max(1);
    config.max_readonly_inflight = k.max_requests_inflight.max(1);
    let bind = format!("{}:{}", k.bind_address, k.secure_port);
    config.advertise_address = k
        .advertise_address
        .clone()
        .map(|a| {
            if a.contains(':') {
                a
            } else {
                format!("{a}:{}", k.secure_port)
            }
        })
        .unwrap_or_else(|| bind.clone());
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("failed to listen on {bind} (--bind-address, --secure-port)"))?;
    let server = berth_apiserver::ApiServer::start(replica, config)
        .context("failed to start the Kubernetes API server")?;
    tracing::info!(address = %bind, "serving the Kubernetes API");
    Ok((server, listener, tls))
}

/// etcd's periodic auto-compaction: while leading, every tenth of the retention, compact to
/// the revision that was current one retention ago.
fn spawn_auto_compaction(replica: Arc<Replica>, retention: Duration) {
    tokio::spawn(async move {
        let step = (retention / 10).max(Duration::from_secs(1));
        let mut samples: std::collections::VecDeque<(tokio::time::Instant, i64)> =
            std::collections::VecDeque::new();
        let mut tick = tokio::time::interval(step);
        loop {
            tick.tick().await;
            let now = tokio::time::Instant::now();
            samples.push_back((now, replica.engine().current_revision().0));
            while samples.len() > 11 {
                samples.pop_front();
            }
            let Some(&(at, rev)) = samples.front() else {
                continue;
            };
            if now.duration_since(at) < retention
                || !replica.raft().is_leader()
                || rev <= replica.engine().compact_revision().0
            {
                continue;
            }
            match replica
                .write(storage::WriteRequest::Compact { revision: rev })
                .await
            {
                Ok(_) => tracing::info!(revision = rev, "auto-compacted"),
                Err(e) => tracing::warn!(revision = rev, error = %e, "auto-compaction failed"),
            }
        }
    });
}
