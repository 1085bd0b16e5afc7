//! core/v1 Events as client-go's recorder writes them, for the scheduler and the controllers
//! (`source.component`, reason, message), best effort: recording never blocks or fails a sync (a full channel drops the
//! event). Like client-go's EventCorrelator, a repeat of the same event on the same object
//! bumps `count` on the existing Event instead of creating another, and a per-object token
//! bucket (burst 25, one token per 5 min) stops a hot loop from flooding the store.

use crate::api::{Client, PatchType, Resource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Events waiting to be written, at most.
pub const QUEUE_LEN: usize = 1000;
/// Distinct events remembered for aggregation (client-go's LRU: 4096).
pub const CACHE_LEN: usize = 4096;
/// client-go's spam filter: burst 25 per object, refilled at 1 per 300 s.
pub const SPAM_BURST: f64 = 25.0;
pub const SPAM_REFILL: Duration = Duration::from_secs(300);

/// A `Time` as the API writes it: whole seconds.
fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, meta: &ObjectMeta) -> ObjectRef {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
        }
    }
    pub fn of<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(obj: &T) -> ObjectRef {
        ObjectRef::new(
            <T as k8s_openapi::Resource>::API_VERSION,
            <T as k8s_openapi::Resource>::KIND,
            obj.metadata(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub object: ObjectRef,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
    pub component: &'static str,
}

/// Hands events to the writer; cheap to clone, never blocks.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    component: &'static str,
}

impl Recorder {
    pub fn with_component(&self, component: &'static str) -> Recorder {
        Recorder {
            tx: self.tx.clone(),
            component,
        }
    }

    pub fn event(&self, object: ObjectRef, type_: EventType, reason: &str, message: String) {
        let rec = Record {
            object,
            type_,
            reason: reason.into(),
            message,
            component: self.component,
        };
        if self.tx.try_send(rec).is_err() {
            tracing::debug!(reason, "event dropped: the event queue is full");
        }
    }

    pub fn normal(&self, object: ObjectRef, reason: &str, message: String) {
        self.event(object, EventType::Normal, reason, message)
    }

    pub fn warning(&self, object: ObjectRef, reason: &str, message: String) {
        self.event(object, EventType::Warning, reason, message)
    }

    /// A recorder whose events go nowhere (tests).
    pub fn discard() -> (Recorder, mpsc::Receiver<Record>) {
        let (tx, rx) = mpsc::channel(QUEUE_LEN);
        (Recorder { tx, component: "" }, rx)
    }
}

/// What to do with one recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Create {
        name: String,
    },
    /// Bump the existing Event `name` to `count`.
    Update {
        name: String,
        count: i32,
    },
    Drop,
}

/// Aggregation and spam filtering, without IO.
#[derive(Default)]
pub struct Correlator {
    seen: HashMap<String, (String, i32)>,
    order: VecDeque<String>,
    buckets: HashMap<String, (f64, Instant)>,
    /// The last name suffix handed out: names stay unique within a nanosecond.
    last_nanos: i128,
}

impl Correlator {
    pub fn decide(&mut self, r: &Record, now: Instant, wall: Timestamp) -> Decision {
        let obj_key = format!(
            "{}|{}|{}/{}|{}",
            r.component, r.object.kind, r.object.namespace, r.object.name, r.object.uid
        );
        let b = self
            .buckets
            .entry(obj_key.clone())
            .or_insert((SPAM_BURST, now));
        let refill = now.saturating_duration_since(b.1).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        b.0 = (b.0 + refill).min(SPAM_BURST);
        b.1 = now;
        if b.0 < 1.0 {
            return Decision::Drop;
        }
        b.0 -= 1.0;
        if self.buckets.len() > CACHE_LEN {
            // Bounded: forget full buckets (they hold no information).
            self.buckets.retain(|_, (t, _)| *t < SPAM_BURST);
        }
        let key = format!("{obj_key}|{}|{}|{}", r.type_.as_str(), r.reason, r.message);
        if let Some((name, count)) = self.seen.get_mut(&key) {
            *count += 1;
            return Decision::Update {
                name: name.clone(),
                count: *count,
            };
        }
        self.last_nanos = wall.as_nanosecond().max(self.last_nanos + 1);
        let name = format!("{}.{:x}", r.object.name, self.last_nanos);
        self.seen.insert(key.clone(), (name.clone(), 1));
        self.order.push_back(key);
        while self.order.len() > CACHE_LEN {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Decision::Create { name }
    }

    /// The Event `name` could not be updated (deleted by its TTL): create afresh next time.
    pub fn forget(&mut self, r: &Record) {
        let key = format!(
            "{}|{}|{}/{}|{}|{}|{}|{}",
            r.component,
            r.object.kind,
            r.object.namespace,
            r.object.name,
            r.object.uid,
            r.type_.as_str(),
            r.reason,
            r.message
        );
        self.seen.remove(&key);
    }
}

/// The Event object for a first occurrence.
pub fn event_body(r: &Record, name: &str, wall: Timestamp) -> Value {
    let ns = if r.object.namespace.is_empty() {
        "default"
    } else {
        &r.object.namespace
    };
    let t = time(wall);
    let mut involved = json!({
        "kind": r.object.kind,
        "name": r.object.name,
        "uid": r.object.uid,
        "apiVersion": r.object.api_version,
        "resourceVersion": r.object.resource_version,
    });
    if !r.object.namespace.is_empty() {
        involved["namespace"] = r.object.namespace.clone().into();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": involved,
        "reason": r.reason,
        "message": r.message,
        "source": {"component": r.component},
        "firstTimestamp": t,
        "lastTimestamp": t,
        "count": 1,
        "type": r.type_.as_str(),
        "reportingComponent": r.component,
        "reportingInstance": "",
    })
}

/// Starts the writer for one term; returns the recorder to hand to controllers.
pub fn start(client: Client, tasks: &mut tokio::task::JoinSet<()>) -> Recorder {
    let (tx, mut rx) = mpsc::channel::<Record>(QUEUE_LEN);
    tasks.spawn(async move {
        let mut corr = Correlator::default();
        while let Some(r) = rx.recv().await {
            let wall = Timestamp::now();
            let ns = if r.object.namespace.is_empty() {
                "default".to_string()
            } else {
                r.object.namespace.clone()
            };
            match corr.decide(&r, Instant::now(), wall) {
                Decision::Drop => {}
                Decision::Create { name } => {
                    let body = event_body(&r, &name, wall);
                    if let Err(e) = client.create::<Value>(&Resource::EVENTS, &ns, &body).await {
                        tracing::debug!(reason = %r.reason, error = %e, "writing an event failed");
                    }
                }
                Decision::Update { name, count } => {
                    let patch = json!({"count": count, "lastTimestamp": time(wall)});
                    let res = client
                        .patch::<Value>(
                            &Resource::EVENTS,
                            &ns,
                            &name,
                            None,
                            PatchType::Merge,
                            &patch,
                        )
                        .await;
                    if let Err(e) = res {
                        corr.forget(&r);
                        if e.is_not_found() {
                            // Expired: write it again as a first occurrence.
                            if let Decision::Create { name } = corr.decide(&r, Instant::now(), wall)
                            {
                                let _ = client
                                    .create::<Value>(
                                        &Resource::EVENTS,
                                        &ns,
                                        &event_body(&r, &name, wall),
                                    )
                                    .await;
                            }
                        }
                    }
                }
            }
        }
    });
    Recorder { tx, component: "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, reason: &str, msg: &str) -> Record {
        Record {
            object: ObjectRef {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                namespace: "default".into(),
                name: name.into(),
                uid: format!("u-{name}"),
                resource_version: "1".into(),
            },
            type_: EventType::Normal,
            reason: reason.into(),
            message: msg.into(),
            component: "replicaset-controller",
        }
    }

    #[test]
    fn aggregates_repeats_and_limits_spam() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let wall = Timestamp::now();
        let first = c.decide(&rec("web", "FailedCreate", "Error creating: x"), now, wall);
        let Decision::Create { name } = first else {
            panic!("{first:?}")
        };
        assert!(name.starts_with("web."));
        assert_eq!(
            c.decide(&rec("web", "FailedCreate", "Error creating: x"), now, wall),
            Decision::Update {
                name: name.clone(),
                count: 2
            }
        );
        // Another message is another Event.
        assert!(matches!(
            c.decide(&rec("web", "FailedCreate", "Error creating: y"), now, wall),
            Decision::Create { .. }
        ));
        // 25 per object, then dropped until tokens come back.
        for _ in 3..25 {
            assert_ne!(
                c.decide(&rec("web", "SuccessfulCreate", "z"), now, wall),
                Decision::Drop
            );
        }
        assert_eq!(
            c.decide(&rec("web", "SuccessfulCreate", "z"), now, wall),
            Decision::Drop
        );
        assert_ne!(
            c.decide(&rec("other", "SuccessfulCreate", "z"), now, wall),
            Decision::Drop
        );
        let later = now + SPAM_REFILL;
        assert_ne!(
            c.decide(&rec("web", "SuccessfulCreate", "z"), later, wall),
            Decision::Drop
        );
    }

    #[test]
    fn body_has_kubernetes_fields() {
        let r = rec(
            "web-5d8f7c9b4",
            "SuccessfulCreate",
            "Created pod: web-5d8f7c9b4-x2x7q",
        );
        let b = event_body(
            &r,
            "web-5d8f7c9b4.17",
            Timestamp::from_second(1_700_000_000).unwrap(),
        );
        assert_eq!(b["source"]["component"], "replicaset-controller");
        assert_eq!(b["involvedObject"]["kind"], "ReplicaSet");
        assert_eq!(b["involvedObject"]["namespace"], "default");
        assert_eq!(b["metadata"]["namespace"], "default");
        assert_eq!(b["firstTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(b["count"], 1);
        let mut node = r.clone();
        node.object.namespace = String::new();
        node.object.kind = "Node".into();
        let b = event_body(&node, "n1.1", Timestamp::from_second(0).unwrap());
        assert_eq!(b["metadata"]["namespace"], "default");
        assert!(b["involvedObject"].get("namespace").is_none());
    }
}
