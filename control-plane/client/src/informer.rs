//! Informers as client-go's reflector does them: list, then watch from the list's
//! resourceVersion with bookmarks, resume from the last seen resourceVersion when a stream
//! ends, relist when the server answers 410 Gone. The informer keeps a read-only cache of
//! the objects and hands each change to its consumer through a bounded channel (a slow
//! consumer slows the watch; the server's watch falls back to catch-up, nothing is lost).

use crate::api::{Client, Resource};
use crate::error::ClientError;
use bytes::BytesMut;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One change seen by an informer.
#[derive(Debug)]
pub enum Event<T> {
    /// Added or modified.
    Applied(Arc<T>),
    Deleted(Arc<T>),
    /// The cache holds a complete list (after the first list and after every relist).
    Synced,
}

/// The objects an informer has seen, by `namespace/name` (or `name`).
pub struct Cache<T> {
    objects: RwLock<HashMap<String, Arc<T>>>,
    synced: std::sync::atomic::AtomicBool,
}

impl<T> Cache<T> {
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        self.objects.read().get(key).cloned()
    }
    pub fn list(&self) -> Vec<Arc<T>> {
        self.objects.read().values().cloned().collect()
    }
    pub fn len(&self) -> usize {
        self.objects.read().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// The cache key of an object: `namespace/name`, or `name` for cluster-scoped kinds.
pub fn key_of(meta: &ObjectMeta) -> String {
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}", meta.name.as_deref().unwrap_or("")),
        _ => meta.name.clone().unwrap_or_default(),
    }
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub resource: Resource,
    /// Empty for all namespaces.
    pub namespace: String,
    /// Extra query, e.g. `fieldSelector=spec.nodeName%3D` (already encoded).
    pub query: String,
}

/// Starts an informer; its events arrive on the returned receiver (capacity `buffer`).
pub fn spawn<T>(
    client: Client,
    spec: WatchSpec,
    buffer: usize,
) -> (Arc<Cache<T>>, mpsc::Receiver<Event<T>>)
where
    T: k8s_openapi::Metadata<Ty = ObjectMeta> + DeserializeOwned + Send + Sync + 'static,
{
    let cache = Arc::new(Cache {
        objects: RwLock::new(HashMap::new()),
        synced: false.into(),
    });
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let c = cache.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            // A quiet watch sends nothing for minutes: notice a departed consumer at once
            // rather than at the next event.
            let res = tokio::select! {
                r = run(&client, &spec, &c, &tx) => r,
                _ = tx.closed() => Ok(()),
            };
            match res {
                Ok(()) => return, // the consumer went away
                Err(e) => {
                    tracing::debug!(resource = spec.resource.plural, error = %e, "informer: relisting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    (cache, rx)
}

/// Lists and watches until the watch can no longer resume (410, or an error). `Ok` only
/// when the consumer has gone.
async fn run<T>(
    client: &Client,
    spec: &WatchSpec,
    cache: &Cache<T>,
    tx: &mpsc::Sender<Event<T>>,
) -> Result<(), ClientError>
where
    T: k8s_openapi::Metadata<Ty = ObjectMeta> + DeserializeOwned + Send + Sync + 'static,
{
    let list = client
        .list(&spec.resource, &spec.namespace, &spec.query)
        .await?;
    let mut rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let mut fresh: HashMap<String, Arc<T>> = HashMap::with_capacity(items.len());
    for item in items {
        let obj: T =
            serde_json::from_value(item).map_err(|e| ClientError::Decode(e.to_string()))?;
        fresh.insert(key_of(obj.metadata()), Arc::new(obj));
    }
    let gone: Vec<Arc<T>> = {
        let mut objects = cache.objects.write();
        let gone = objects
            .iter()
            .filter(|(k, _)| !fresh.contains_key(*k))
            .map(|(_, v)| v.clone())
            .collect();
        *objects = fresh.clone();
        gone
    };
    cache
        .synced
        .store(true, std::sync::atomic::Ordering::Release);
    for o in gone {
        if tx.send(Event::Deleted(o)).await.is_err() {
            return Ok(());
        }
    }
    for o in fresh.into_values() {
        if tx.send(Event::Applied(o)).await.is_err() {
            return Ok(());
        }
    }
    if tx.send(Event::Synced).await.is_err() {
        return Ok(());
    }
    let mut backoff = Duration::from_millis(100);
    loop {
        let q = format!(
            "resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds={}{}{}",
            300 + rand::random::<u64>() % 300,
            if spec.query.is_empty() { "" } else { "&" },
            spec.query
        );
        let mut stream = match client.watch(&spec.resource, &spec.namespace, &q).await {
            Ok(s) => s,
            Err(e) if e.is_gone() => return Err(e),
            Err(e) => {
                // Resume from the same resourceVersion after a pause, as client-go does.
                tracing::debug!(resource = spec.resource.plural, error = %e, "informer: watch failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let mut buf = BytesMut::new();
        'stream: while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break 'stream };
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line = buf.split_to(nl + 1);
                let line = &line[..nl];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let ev: Value = serde_json::from_slice(line)
                    .map_err(|e| ClientError::Decode(format!("watch event: {e}")))?;
                let ty = ev["type"].as_str().unwrap_or("");
                if ty == "ERROR" {
                    let err = ClientError::from_status(
                        ev["object"]["code"].as_u64().unwrap_or(500) as u16,
                        &serde_json::to_vec(&ev["object"]).unwrap_or_default(),
                    );
                    if err.is_gone() {
                        return Err(err);
                    }
                    break 'stream;
                }
                if let Some(v) = ev["object"]["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                if ty == "BOOKMARK" {
                    continue;
                }
                let obj: T = serde_json::from_value(ev["object"].clone())
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                let key = key_of(obj.metadata());
                let obj = Arc::new(obj);
                let event = match ty {
                    "ADDED" | "MODIFIED" => {
                        cache.objects.write().insert(key, obj.clone());
                        Event::Applied(obj)
                    }
                    "DELETED" => {
                        cache.objects.write().remove(&key);
                        Event::Deleted(obj)
                    }
                    other => {
                        return Err(ClientError::Decode(format!(
                            "unknown watch event type {other:?}"
                        )))
                    }
                };
                if tx.send(event).await.is_err() {
                    return Ok(());
                }
            }
        }
        // The stream ended (its timeout, or the connection): resume from the last
        // resourceVersion seen.
    }
}
