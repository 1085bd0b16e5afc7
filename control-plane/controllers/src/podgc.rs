//! The pod garbage collector, as kube-controller-manager's: terminated pods beyond
//! `--terminated-pod-gc-threshold` (oldest first), pods bound to a node that no longer
//! exists (after a quarantine, and confirmed against the API server), and unscheduled pods
//! that are terminating. Orphaned and unscheduled pods are force-deleted (grace 0): no
//! kubelet will ever finish them.

use crate::error::ControllerError;
use crate::informers::Informer;
use crate::util;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Terminated,
    /// Bound to a node that is gone.
    Orphaned,
    UnscheduledTerminating,
}

/// Pods (keys) to delete, and why. `absent_for(node)` says how long a node has been seen
/// missing (None when it exists).
pub fn plan(
    pods: &[Arc<Pod>],
    absent_for: impl Fn(&str) -> Option<Duration>,
    threshold: usize,
    quarantine: Duration,
) -> Vec<(String, Reason)> {
    let mut out = Vec::new();
    let mut terminated: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| matches!(util::phase(p), "Succeeded" | "Failed"))
        .collect();
    if threshold > 0 && terminated.len() > threshold {
        terminated.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
                .then_with(|| util::key(&a.metadata).cmp(&util::key(&b.metadata)))
        });
        let n = terminated.len() - threshold;
        out.extend(
            terminated
                .iter()
                .take(n)
                .map(|p| (util::key(&p.metadata), Reason::Terminated)),
        );
    }
    for p in pods {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("");
        if node.is_empty() {
            if p.metadata.deletion_timestamp.is_some() {
                out.push((util::key(&p.metadata), Reason::UnscheduledTerminating));
            }
        } else if absent_for(node).is_some_and(|d| d >= quarantine) {
            out.push((util::key(&p.metadata), Reason::Orphaned));
        }
    }
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

struct PodGc {
    client: Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    /// Node name -> when it was first seen missing while pods were bound to it.
    missing_since: Mutex<HashMap<String, Instant>>,
    threshold: usize,
    quarantine: Duration,
}

pub fn start(t: &mut Term) {
    let c = Arc::new(PodGc {
        client: t.client.clone(),
        pods: t.informers.get::<Pod>(),
        nodes: t.informers.get::<Node>(),
        missing_since: Mutex::new(HashMap::new()),
        threshold: t.config.terminated_pod_gc_threshold,
        quarantine: t.config.orphaned_pod_grace_period,
    });
    let period = t.config.pod_gc_period;
    t.spawn_periodic("pod-garbage-collector", period, move || {
        let c = c.clone();
        async move { c.pass().await }
    });
}

impl PodGc {
    async fn pass(&self) -> Result<(), ControllerError> {
        let pods = self.pods.list();
        let nodes: HashSet<String> = self
            .nodes
            .list()
            .iter()
            .map(|n| util::name(&n.metadata).to_string())
            .collect();
        let now = Instant::now();
        {
            let mut m = self.missing_since.lock();
            let bound: HashSet<&str> = pods
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
                .filter(|n| !nodes.contains(*n))
                .collect();
            m.retain(|n, _| bound.contains(n.as_str()));
            for n in bound {
                m.entry(n.to_string()).or_insert(now);
            }
        }
        let missing = self.missing_since.lock().clone();
        let doomed = plan(
            &pods,
            |n| missing.get(n).map(|t| now - *t),
            self.threshold,
            self.quarantine,
        );
        let mut confirmed: HashMap<String, bool> = HashMap::new();
        let mut errors = Vec::new();
        for (key, reason) in doomed {
            let Some(p) = self.pods.get(&key) else {
                continue;
            };
            if reason == Reason::Orphaned {
                // The cache may lag: ask the API server whether the node is really gone.
                let node = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default();
                let gone = match confirmed.get(&node) {
                    Some(g) => *g,
                    None => {
                        let g = matches!(self.client.get::<Value>(&Resource::NODES, "", &node).await, Err(e) if e.is_not_found());
                        confirmed.insert(node.clone(), g);
                        g
                    }
                };
                if !gone {
                    continue;
                }
            }
            let mut opts = json!({"preconditions": {"uid": util::uid(&p.metadata)}});
            if reason != Reason::Terminated {
                opts["gracePeriodSeconds"] = 0.into();
            }
            tracing::info!(pod = %key, ?reason, "pod garbage collector: deleting");
            let (ns, name) = util::split_key(&key);
            match self.client.delete(&Resource::PODS, ns, name, &opts).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() || (e.is_conflict() && !e.is_fenced()) => {}
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("delete pod {key}"),
                    source: e,
                }),
            }
        }
        ControllerError::collect(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testutil::{pod, ts};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn plans() {
        let q = Duration::from_secs(40);
        let mut unscheduled_going = pod("u", "Pending", "", None, 0, 0);
        unscheduled_going.metadata.deletion_timestamp = Some(Time(ts(5)));
        let pods: Vec<Arc<Pod>> = vec![
            Arc::new(pod("old-done", "Succeeded", "n1", None, 0, 1)),
            Arc::new(pod("new-done", "Failed", "n1", None, 0, 9)),
            Arc::new(pod("mid-done", "Succeeded", "n1", None, 0, 5)),
            Arc::new(pod("running", "Running", "n1", None, 0, 0)),
            Arc::new(pod("on-gone", "Running", "gone", None, 0, 0)),
            Arc::new(pod("on-new-gone", "Running", "just-gone", None, 0, 0)),
            Arc::new(pod("pending", "Pending", "", None, 0, 0)),
            Arc::new(unscheduled_going),
        ];
        let absent = |n: &str| match n {
            "gone" => Some(Duration::from_secs(41)),
            "just-gone" => Some(Duration::from_secs(3)),
            _ => None,
        };
        let got = plan(&pods, absent, 1, q);
        assert_eq!(
            got,
            vec![
                ("default/old-done".to_string(), Reason::Terminated),
                ("default/mid-done".to_string(), Reason::Terminated),
                ("default/on-gone".to_string(), Reason::Orphaned),
                ("default/u".to_string(), Reason::UnscheduledTerminating),
            ]
        );
        // Threshold 0 turns terminated-pod GC off, as in Kubernetes.
        assert!(plan(&pods, |_| None, 0, q)
            .iter()
            .all(|(_, r)| *r != Reason::Terminated));
    }
}
