//! A Rust etcd v3 client (`etcd-client` over tonic, mutual TLS) for tests that need more
//! requests per second than spawning etcdctl allows: continuous writers, bulk loads.

use crate::cluster::Certs;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use std::time::Duration;

/// A multi-thread tokio runtime (two workers) for a test's async client code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("failed to build a tokio runtime")
}

/// Connection options with the cluster's CA and client certificate, and a per-request
/// timeout of `request_timeout`.
pub fn options(certs: &Certs, request_timeout: Duration) -> ConnectOptions {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |p: std::path::PathBuf| {
        std::fs::read(&p).unwrap_or_else(|e| panic!("failed to read {}: {e}", p.display()))
    };
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(read(certs.ca())))
        .identity(Identity::from_pem(
            read(certs.client_cert()),
            read(certs.client_key()),
        ));
    ConnectOptions::new()
        .with_tls(tls)
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(request_timeout)
}

/// Connects to `endpoints` (the client balances over them).
pub async fn connect(certs: &Certs, endpoints: &[String], request_timeout: Duration) -> Client {
    Client::connect(endpoints, Some(options(certs, request_timeout)))
        .await
        .unwrap_or_else(|e| panic!("failed to connect to {endpoints:?}: {e}"))
}

/// Puts `n` keys `{prefix}{i:06}` = `v{i}` through replica endpoints `endpoints`, one request
/// per key (so one Raft entry per key), `concurrency` at a time.
pub fn put_many(certs: &Certs, endpoints: &[String], prefix: &str, n: usize, concurrency: usize) {
    let rt = runtime();
    rt.block_on(async {
        let client = connect(certs, endpoints, Duration::from_secs(5)).await;
        let mut set = tokio::task::JoinSet::new();
        for worker in 0..concurrency {
            let mut kv = client.kv_client();
            let prefix = prefix.to_string();
            set.spawn(async move {
                for i in (worker..n).step_by(concurrency) {
                    let key = format!("{prefix}{i:06}");
                    kv.put(key.clone(), format!("v{i}"), None)
                        .await
                        .unwrap_or_else(|e| panic!("failed to put {key}: {e}"));
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("writer task panicked");
        }
    });
}

/// One change of a key in the store's history.
#[derive(Debug, Clone)]
pub struct Change {
    pub key: String,
    /// The value after the change; `None` for a deletion.
    pub value: Option<Vec<u8>>,
    pub revision: i64,
    /// The key's create revision (equal to `revision` when this change created it).
    pub create_revision: i64,
}

/// Every change under `prefix` from revision `from_rev` up to the store's current revision,
/// in order, read with a watch from `from_rev` (the history must not be compacted).
pub fn history(certs: &Certs, endpoints: &[String], prefix: &str, from_rev: i64) -> Vec<Change> {
    use etcd_client::{EventType, GetOptions, WatchOptions};
    let rt = runtime();
    rt.block_on(async {
        let mut client = connect(certs, endpoints, Duration::from_secs(10)).await;
        let now = client
            .get(
                prefix,
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .expect("failed to read the current revision")
            .header()
            .map(|h| h.revision())
            .expect("a response header");
        let mut stream = client
            .watch(
                prefix,
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(from_rev)
                        .with_progress_notify(),
                ),
            )
            .await
            .expect("failed to open the history watch");
        stream
            .request_progress()
            .await
            .expect("failed to request watch progress");
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let msg = tokio::time::timeout_at(deadline, stream.message())
                .await
                .expect("timed out reading the history")
                .expect("the history watch failed")
                .expect("the history watch ended");
            if msg.created() {
                // The creation notice carries the current revision, not progress.
                continue;
            }
            let rev = msg.header().map(|h| h.revision()).unwrap_or(0);
            for e in msg.events() {
                let Some(kv) = e.kv() else { continue };
                out.push(Change {
                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                    value: (e.event_type() == EventType::Put).then(|| kv.value().to_vec()),
                    revision: kv.mod_revision(),
                    create_revision: kv.create_revision(),
                });
            }
            if msg.events().is_empty() && rev >= now {
                break;
            }
            if out.last().is_some_and(|c| c.revision >= now) {
                break;
            }
            if msg.events().is_empty() {
                stream
                    .request_progress()
                    .await
                    .expect("failed to request watch progress");
            }
        }
        drop(stream);
        out
    })
}
