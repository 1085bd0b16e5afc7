//! Berth's Kubernetes API server: kube-apiserver's REST API (discovery, OpenAPI, the served
//! kinds' CRUD, watch, patch, server-side apply, tables) over the replicated store, with a
//! watch cache per resource type, client-certificate and token authentication, and
//! kube-apiserver's metrics. It knows the store only through the `Store` trait.

pub mod auth;
mod bootstrap;
pub mod cache;
mod continuation;
pub mod discovery;
pub mod fence;
pub mod filter;
mod handler;
mod managed;
pub mod meta;
pub mod metrics;
mod names;
pub mod registry;
pub mod request;
pub mod resources;
pub mod serve;
pub mod services;
pub mod status;
pub mod strategy;
pub mod table;

pub use handler::parse_go_duration;

use auth::{TokenSigner, TokenVerifier, UserInfo};
use berth_replication::Store;
use cache::CacheConfig;
use registry::Registry;
use services::ServiceRanges;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// kube-apiserver's default request body limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub struct Config {
    pub service_ranges: ServiceRanges,
    /// Static bearer tokens (`--token-auth-file`).
    pub token_users: HashMap<String, UserInfo>,
    pub token_signer: Option<TokenSigner>,
    pub token_verifier: Option<TokenVerifier>,
    /// Audiences tokens are issued for by default and accepted with (`--api-audiences`,
    /// default: the issuer).
    pub api_audiences: Vec<String>,
    pub max_mutating_inflight: usize,
    pub max_readonly_inflight: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// The address clients are told to use (discovery's serverAddressByClientCIDRs).
    pub advertise_address: String,
    pub cache: CacheConfig,
}

impl Config {
    pub fn new(service_ranges: ServiceRanges) -> Config {
        Config {
            service_ranges,
            token_users: HashMap::new(),
            token_signer: None,
            token_verifier: None,
            api_audiences: vec!["https://kubernetes.default.svc.cluster.local".into()],
            max_mutating_inflight: 200,
            max_readonly_inflight: 400,
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(60),
            advertise_address: "127.0.0.1:6443".into(),
            cache: CacheConfig::default(),
        }
    }
}

/// One replica's API server.
pub struct ApiServer<S: Store> {
    pub registry: Arc<Registry<S>>,
    pub config: Config,
    pub metrics: Arc<metrics::Metrics>,
    mutating: tokio::sync::Semaphore,
    readonly: tokio::sync::Semaphore,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the OpenAPI documents do not build: {0}")]
    OpenApi(String),
}

impl<S: Store> ApiServer<S> {
    /// Builds the server and starts its background work: the watch caches and the bootstrap
    /// objects (store leader only).
    pub fn start(store: Arc<S>, config: Config) -> Result<Arc<ApiServer<S>>, StartError> {
        if let Some(e) = berth_openapi::build_error() {
            return Err(StartError::OpenApi(e.to_string()));
        }
        let metrics = Arc::new(metrics::Metrics::new()?);
        let m = metrics.clone();
        let observe: registry::StoreObserver = Arc::new(move |op, key, took| {
            let ty = key
                .trim_start_matches("/registry/")
                .split('/')
                .next()
                .unwrap_or("");
            m.etcd_duration
                .with_label_values(&[op, ty])
                .observe(took.as_secs_f64());
        });
        let registry = Registry::new(
            store,
            config.service_ranges.clone(),
            config.cache,
            &metrics.cache_events,
            observe,
        );
        registry.start();
        bootstrap::spawn(registry.clone());
        let server = Arc::new(ApiServer {
            mutating: tokio::sync::Semaphore::new(config.max_mutating_inflight),
            readonly: tokio::sync::Semaphore::new(config.max_readonly_inflight),
            registry,
            config,
            metrics,
        });
        server.spawn_storage_gauges();
        Ok(server)
    }

    fn spawn_storage_gauges(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(s) = me.upgrade() else { return };
                for c in s.registry.caches() {
                    if c.synced() {
                        s.metrics
                            .storage_objects
                            .with_label_values(&[&c.resource.group_resource()])
                            .set(c.len() as i64);
                    }
                }
            }
        });
    }

    /// Ready once every watch cache has synced and the bootstrap objects exist (the
    /// `default` namespace), as kube-apiserver's /readyz waits for its post-start hooks.
    pub fn ready(&self) -> bool {
        let ns = resources::find("", "v1", "namespaces").expect("namespaces are served");
        self.registry.all_synced()
            && self
                .registry
                .cache(ns)
                .is_some_and(|c| c.get("default").is_some())
    }
}
