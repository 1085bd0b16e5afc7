//! Taint-based eviction (kube's `taint-eviction-controller`): a pod bound to a node with a
//! `NoExecute` taint it does not tolerate is deleted at once; one that tolerates every such
//! taint but with `tolerationSeconds` is deleted that long after the taint's `timeAdded`
//! (the API server's admission gives every pod 300 s for `not-ready` and `unreachable`).
//! The rate of evictions is the rate at which the node lifecycle controller adds NoExecute
//! taints. `verdict` is the pure core; the shell works from a queue of node names and
//! re-queues a node for its next deadline.

use crate::error::ControllerError;
use crate::events::{ObjectRef, Recorder};
use crate::informers::Informer;
use crate::replicaset::delete_with_uid;
use crate::taints::{self, NO_EXECUTE};
use crate::util;
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "taint-eviction-controller";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    DeleteNow,
    DeleteAt(Timestamp),
}

/// What to do with a pod on a node with `taints` (each with the time it was added), as
/// kube's `processPodOnNode`: every NoExecute taint must be tolerated (by the first
/// toleration that matches it, `GetMatchingTolerations`), and the earliest deadline among
/// those with `tolerationSeconds` wins.
pub fn verdict(
    tolerations: &[Toleration],
    taints: &[(Taint, Timestamp)],
    now: Timestamp,
) -> Verdict {
    let mut deadline: Option<Timestamp> = None;
    for (taint, since) in taints.iter().filter(|(t, _)| t.effect == NO_EXECUTE) {
        let Some(tol) = tolerations.iter().find(|t| taints::tolerates(t, taint)) else {
            return Verdict::DeleteNow;
        };
        if let Some(secs) = tol.toleration_seconds {
            let at = *since + SignedDuration::from_secs(secs.max(0));
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
    }
    match deadline {
        None => Verdict::Keep,
        Some(at) if at <= now => Verdict::DeleteNow,
        Some(at) => Verdict::DeleteAt(at),
    }
}

fn no_execute_taints(node: &Node) -> impl Iterator<Item = &Taint> {
    taints::node_taints(node)
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
}

fn node_of(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

struct Controller {
    client: Client,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
    /// (node, key, value) of a taint without `timeAdded` -> when this controller first saw it.
    first_seen: Mutex<HashMap<(String, String, String), Timestamp>>,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("taint-eviction-controller");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        nodes: t.informers.get::<Node>(),
        pods: t.informers.get::<Pod>(),
        queue: queue.clone(),
        recorder: t.recorder.with_component(COMPONENT),
        first_seen: Mutex::new(HashMap::new()),
    });
    let q = queue.clone();
    c.nodes.on_change(move |old, new| {
        let had = old.is_some_and(|n| no_execute_taints(n).next().is_some());
        let has = new.is_some_and(|n| no_execute_taints(n).next().is_some());
        if let Some(n) = new.or(old) {
            if had || has {
                q.add(util::name(&n.metadata));
            }
        }
    });
    let c2 = Arc::downgrade(&c);
    c.pods.on_change(move |_old, new| {
        let (Some(c), Some(p)) = (c2.upgrade(), new) else {
            return;
        };
        let node = node_of(p);
        if !node.is_empty()
            && c.nodes
                .get(node)
                .is_some_and(|n| no_execute_taints(&n).next().is_some())
        {
            c.queue.add(node);
        }
    });
    let c3 = c.clone();
    t.resync(&queue, move || {
        c3.nodes
            .list()
            .iter()
            .filter(|n| no_execute_taints(n).next().is_some())
            .map(|n| util::name(&n.metadata).to_string())
            .collect()
    });
    let c4 = c.clone();
    t.spawn_workers(&queue, 1, move |key| {
        let c = c4.clone();
        async move { c.sync(&key).await }
    });
}

impl Controller {
    async fn sync(&self, node_name: &str) -> Result<(), ControllerError> {
        let now = util::now();
        let Some(node) = self.nodes.get(node_name) else {
            self.first_seen.lock().retain(|(n, _, _), _| n != node_name);
            return Ok(());
        };
        let taints: Vec<(Taint, Timestamp)> = {
            let mut seen = self.first_seen.lock();
            seen.retain(|(n, k, v), _| {
                n != node_name
                    || no_execute_taints(&node)
                        .any(|t| t.key == *k && t.value.as_deref().unwrap_or("") == v)
            });
            no_execute_taints(&node)
                .map(|t| {
                    let since = match &t.time_added {
                        Some(at) => at.0,
                        None => *seen
                            .entry((
                                node_name.into(),
                                t.key.clone(),
                                t.value.clone().unwrap_or_default(),
                            ))
                            .or_insert(now),
                    };
                    (t.clone(), since)
                })
                .collect()
        };
        if taints.is_empty() {
            return Ok(());
        }
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list()
            .into_iter()
            .filter(|p| node_of(p) == node_name && util::is_pod_active(p))
            .collect();
        let mut next: Option<Timestamp> = None;
        let mut errors = Vec::new();
        for p in &pods {
            let tolerations = p
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            match verdict(tolerations, &taints, now) {
                Verdict::Keep => {}
                Verdict::DeleteAt(at) => next = Some(next.map_or(at, |n| n.min(at))),
                Verdict::DeleteNow => {
                    let key = util::key(&p.metadata);
                    tracing::info!(pod = %key, node = node_name, "taint-eviction-controller: deleting the pod");
                    self.recorder.normal(
                        ObjectRef::of(&**p),
                        "TaintManagerEviction",
                        format!("Marking for deletion Pod {key}"),
                    );
                    if let Err(e) =
                        delete_with_uid(&self.client, &Resource::PODS, &p.metadata, None).await
                    {
                        errors.push(e);
                    }
                }
            }
        }
        if let Some(at) = next {
            let wait = at.duration_since(now).as_secs_f64().max(0.0);
            // One more second: the deadline is in whole seconds and must have passed.
            self.queue.add_after(
                node_name,
                Duration::from_secs_f64(wait) + Duration::from_secs(1),
            );
        }
        ControllerError::collect(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taints::testutil::tol;
    use crate::taints::{taint, NOT_READY, NO_SCHEDULE, UNREACHABLE};
    use crate::util::testutil::ts;

    #[test]
    fn verdicts() {
        let ne = |k: &str, at: i64| (taint(k, NO_EXECUTE), ts(at));
        let default_tols = vec![
            tol(NOT_READY, "Exists", NO_EXECUTE, Some(300)),
            tol(UNREACHABLE, "Exists", NO_EXECUTE, Some(300)),
        ];
        type Case = (
            &'static str,
            Vec<Toleration>,
            Vec<(Taint, Timestamp)>,
            i64,
            Verdict,
        );
        let cases: Vec<Case> = vec![
            ("no taints", vec![], vec![], 0, Verdict::Keep),
            (
                "NoSchedule only",
                vec![],
                vec![(taint("x", NO_SCHEDULE), ts(0))],
                0,
                Verdict::Keep,
            ),
            (
                "untolerated",
                vec![],
                vec![ne(UNREACHABLE, 0)],
                0,
                Verdict::DeleteNow,
            ),
            (
                "default 300 s, early",
                default_tols.clone(),
                vec![ne(UNREACHABLE, 100)],
                200,
                Verdict::DeleteAt(ts(400)),
            ),
            (
                "default 300 s, due",
                default_tols.clone(),
                vec![ne(UNREACHABLE, 100)],
                400,
                Verdict::DeleteNow,
            ),
            (
                "one taint untolerated",
                default_tols.clone(),
                vec![ne(UNREACHABLE, 0), ne("custom", 0)],
                0,
                Verdict::DeleteNow,
            ),
            (
                "forever (DaemonSet)",
                vec![tol(UNREACHABLE, "Exists", NO_EXECUTE, None)],
                vec![ne(UNREACHABLE, 0)],
                10_000,
                Verdict::Keep,
            ),
            (
                "tolerate everything",
                vec![tol("", "Exists", "", None)],
                vec![ne(UNREACHABLE, 0), ne("x", 0)],
                10_000,
                Verdict::Keep,
            ),
            (
                "earliest deadline wins",
                vec![
                    tol(UNREACHABLE, "Exists", NO_EXECUTE, Some(300)),
                    tol("x", "Exists", NO_EXECUTE, Some(30)),
                ],
                vec![ne(UNREACHABLE, 0), ne("x", 100)],
                0,
                Verdict::DeleteAt(ts(130)),
            ),
            (
                "first matching toleration decides",
                vec![
                    tol(UNREACHABLE, "Exists", NO_EXECUTE, Some(60)),
                    tol("", "Exists", "", None),
                ],
                vec![ne(UNREACHABLE, 0)],
                0,
                Verdict::DeleteAt(ts(60)),
            ),
            (
                "zero seconds",
                vec![tol(UNREACHABLE, "Exists", NO_EXECUTE, Some(0))],
                vec![ne(UNREACHABLE, 50)],
                50,
                Verdict::DeleteNow,
            ),
        ];
        for (what, tols, taints, now, want) in cases {
            assert_eq!(verdict(&tols, &taints, ts(now)), want, "{what}");
        }
    }
}
