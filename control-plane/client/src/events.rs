//! Events as client-go's recorder writes them (core/v1 Events, which `kubectl describe` and
//! `kubectl get events` read), best effort: a bounded queue drained by a few writer tasks;
//! when the queue is full the event is dropped and counted, never blocking the caller (as
//! client-go's broadcaster drops when its channel is full).

use crate::api::{Client, Resource};
use crate::leader::micro_time;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Events waiting to be written, at most.
const QUEUE: usize = 1000;
const WRITERS: usize = 4;

/// What an event is about.
#[derive(Debug, Clone)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

struct Pending {
    client: Client,
    event: Value,
}

/// A component's recorder (`source.component` and `reportingComponent` = `component`).
#[derive(Clone)]
pub struct Recorder {
    component: String,
    instance: String,
    tx: mpsc::Sender<Pending>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer tasks. `instance` is `reportingInstance` (the holder identity).
    pub fn new(component: &str, instance: &str) -> Recorder {
        let (tx, rx) = mpsc::channel::<Pending>(QUEUE);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..WRITERS {
            let rx = rx.clone();
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(p) = next else { return };
                    let ns = p.event["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
                    if let Err(e) = p.client.create::<Value>(&Resource::EVENTS, &ns, &p.event).await {
                        tracing::debug!(error = %e, "failed to write an event");
                    }
                }
            });
        }
        Recorder {
            component: component.into(),
            instance: instance.into(),
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records one event, written through `client` (a fenced client for a leader).
    pub fn record(
        &self,
        client: &Client,
        object: &ObjectRef,
        ty: EventType,
        reason: &str,
        action: &str,
        message: &str,
    ) {
        let now = SystemTime::now();
        let nanos = now.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let seconds = micro_time(now);
        // Time (not MicroTime): seconds only, as the API server writes it.
        let time = format!("{}Z", &seconds[..19]);
        let ns = if object.namespace.is_empty() {
            "default".to_string()
        } else {
            object.namespace.clone()
        };
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{}.{:x}", object.name, nanos), "namespace": ns},
            "involvedObject": {
                "apiVersion": object.api_version,
                "kind": object.kind,
                "namespace": object.namespace,
                "name": object.name,
                "uid": object.uid,
                "resourceVersion": object.resource_version,
            },
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "firstTimestamp": time,
            "lastTimestamp": time,
            "count": 1,
            "type": match ty { EventType::Normal => "Normal", EventType::Warning => "Warning" },
            "eventTime": null,
            "action": action,
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        });
        if self
            .tx
            .try_send(Pending {
                client: client.clone(),
                event,
            })
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
