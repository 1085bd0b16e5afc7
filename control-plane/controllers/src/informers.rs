//! Shared informers: one informer per resource type for all controllers of a term (pods
//! are listed and watched once, however many controllers look at them). Each informer's
//! events fan out to the handlers the controllers registered, with the previous version of
//! the object (client-go's `OnUpdate(old, new)`), so a handler can enqueue both the old and
//! the new owner.

use berth_client::informer::{self, Cache, Event, WatchSpec};
use berth_client::{Client, Resource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// A kind the controllers watch, with the resource it is served as.
pub trait Kind:
    k8s_openapi::Metadata<Ty = ObjectMeta> + DeserializeOwned + Send + Sync + 'static
{
    const RESOURCE: Resource;
}

macro_rules! kind {
    ($t:ty, $prefix:expr, $plural:expr, $ns:expr) => {
        impl Kind for $t {
            const RESOURCE: Resource = Resource {
                prefix: $prefix,
                plural: $plural,
                namespaced: $ns,
            };
        }
    };
}

use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coord, core::v1 as core,
    discovery::v1 as disc,
};
kind!(core::Pod, "/api/v1", "pods", true);
kind!(core::Node, "/api/v1", "nodes", false);
kind!(core::Namespace, "/api/v1", "namespaces", false);
kind!(core::Service, "/api/v1", "services", true);
kind!(core::Endpoints, "/api/v1", "endpoints", true);
kind!(core::ConfigMap, "/api/v1", "configmaps", true);
kind!(core::Secret, "/api/v1", "secrets", true);
kind!(core::ServiceAccount, "/api/v1", "serviceaccounts", true);
kind!(apps::ReplicaSet, "/apis/apps/v1", "replicasets", true);
kind!(apps::Deployment, "/apis/apps/v1", "deployments", true);
kind!(apps::DaemonSet, "/apis/apps/v1", "daemonsets", true);
kind!(apps::StatefulSet, "/apis/apps/v1", "statefulsets", true);
kind!(batch::Job, "/apis/batch/v1", "jobs", true);
kind!(batch::CronJob, "/apis/batch/v1", "cronjobs", true);
kind!(coord::Lease, "/apis/coordination.k8s.io/v1", "leases", true);
kind!(
    disc::EndpointSlice,
    "/apis/discovery.k8s.io/v1",
    "endpointslices",
    true
);

/// A change: `old` is None for an add, `new` is None for a delete.
type Handler<T> = Box<dyn Fn(Option<&Arc<T>>, Option<&Arc<T>>) + Send + Sync>;

/// One shared informer: its cache and its handlers.
pub struct Informer<T> {
    cache: Arc<Cache<T>>,
    handlers: RwLock<Vec<Handler<T>>>,
    synced: AtomicBool,
}

impl<T: Kind> Informer<T> {
    /// Registers a handler; it sees every change from now on (and the initial list when
    /// registered before the first sync, which is how controllers are wired).
    pub fn on_change(&self, h: impl Fn(Option<&Arc<T>>, Option<&Arc<T>>) + Send + Sync + 'static) {
        self.handlers.write().push(Box::new(h));
    }
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        self.cache.get(key)
    }
    pub fn get_in(&self, ns: &str, name: &str) -> Option<Arc<T>> {
        if ns.is_empty() {
            self.cache.get(name)
        } else {
            self.cache.get(&format!("{ns}/{name}"))
        }
    }
    pub fn list(&self) -> Vec<Arc<T>> {
        self.cache.list()
    }
    /// The objects of one namespace.
    pub fn list_in(&self, ns: &str) -> Vec<Arc<T>> {
        self.cache
            .list()
            .into_iter()
            .filter(|o| o.metadata().namespace.as_deref() == Some(ns))
            .collect()
    }
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}

type AnyInformer = Arc<dyn Any + Send + Sync>;

/// The informers of one term.
pub struct SharedInformers {
    client: Client,
    buffer: usize,
    /// (prefix, plural) -> `Arc<Informer<T>>`.
    informers: Mutex<HashMap<(&'static str, &'static str), AnyInformer>>,
    synced: Mutex<Vec<Arc<dyn Fn() -> bool + Send + Sync>>>,
    tasks: Mutex<JoinSet<()>>,
}

impl SharedInformers {
    /// `client` should be unfenced: informers only read.
    pub fn new(client: Client, buffer: usize) -> SharedInformers {
        SharedInformers {
            client,
            buffer,
            informers: Mutex::new(HashMap::new()),
            synced: Mutex::new(Vec::new()),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// The informer for `T`, started on first use.
    pub fn get<T: Kind>(&self) -> Arc<Informer<T>> {
        let id = (T::RESOURCE.prefix, T::RESOURCE.plural);
        let mut map = self.informers.lock();
        if let Some(i) = map.get(&id) {
            return i
                .clone()
                .downcast::<Informer<T>>()
                .expect("one informer type per resource");
        }
        let spec = WatchSpec {
            resource: T::RESOURCE,
            namespace: String::new(),
            query: String::new(),
        };
        let (cache, mut rx) = informer::spawn::<T>(self.client.clone(), spec, self.buffer);
        let inf = Arc::new(Informer {
            cache,
            handlers: RwLock::new(Vec::new()),
            synced: AtomicBool::new(false),
        });
        let i2 = inf.clone();
        self.tasks.lock().spawn(async move {
            let mut last: HashMap<String, Arc<T>> = HashMap::new();
            while let Some(ev) = rx.recv().await {
                match ev {
                    Event::Applied(o) => {
                        let key = informer::key_of(o.metadata());
                        let old = last.insert(key, o.clone());
                        for h in i2.handlers.read().iter() {
                            h(old.as_ref(), Some(&o));
                        }
                    }
                    Event::Deleted(o) => {
                        let key = informer::key_of(o.metadata());
                        let old = last.remove(&key).unwrap_or(o);
                        for h in i2.handlers.read().iter() {
                            h(Some(&old), None);
                        }
                    }
                    Event::Synced => i2.synced.store(true, Ordering::Release),
                }
            }
        });
        let i3 = inf.clone();
        self.synced.lock().push(Arc::new(move || i3.synced()));
        map.insert(id, inf.clone());
        inf
    }

    pub fn all_synced(&self) -> bool {
        self.synced.lock().iter().all(|f| f())
    }

    /// Waits until every informer started so far has delivered its first list.
    pub async fn wait_synced(&self) {
        while !self.all_synced() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
