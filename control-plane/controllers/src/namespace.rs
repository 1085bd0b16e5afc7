//! The Namespace controller: a Terminating namespace (deletionTimestamp set, `kubernetes`
//! in spec.finalizers) has every namespaced object deleted through the API, its status
//! conditions say what remains (as kube-controller-manager's namespaced resources deleter
//! writes them), and once nothing remains the `kubernetes` finalizer is removed through the
//! `finalize` subresource (the API server then deletes the namespace).

use crate::error::{Context, ControllerError};
use crate::informers::Informer;
use crate::util;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const FINALIZER: &str = "kubernetes";

/// Every namespaced, stored resource the API server serves (from its resource table),
/// deleted in this order; events last so the deletions' own events go too.
pub const NAMESPACED: &[Resource] = &[
    Resource {
        prefix: "/apis/apps/v1",
        plural: "deployments",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/apps/v1",
        plural: "daemonsets",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/apps/v1",
        plural: "statefulsets",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/apps/v1",
        plural: "replicasets",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/apps/v1",
        plural: "controllerrevisions",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/batch/v1",
        plural: "cronjobs",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/batch/v1",
        plural: "jobs",
        namespaced: true,
    },
    Resource::core("pods", true),
    Resource::core("services", true),
    Resource::core("endpoints", true),
    Resource {
        prefix: "/apis/discovery.k8s.io/v1",
        plural: "endpointslices",
        namespaced: true,
    },
    Resource::core("configmaps", true),
    Resource::core("secrets", true),
    Resource::core("serviceaccounts", true),
    Resource::core("limitranges", true),
    Resource::core("resourcequotas", true),
    Resource::core("podtemplates", true),
    Resource {
        prefix: "/apis/coordination.k8s.io/v1",
        plural: "leases",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/policy/v1",
        plural: "poddisruptionbudgets",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/networking.k8s.io/v1",
        plural: "ingresses",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/networking.k8s.io/v1",
        plural: "networkpolicies",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/rbac.authorization.k8s.io/v1",
        plural: "roles",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/rbac.authorization.k8s.io/v1",
        plural: "rolebindings",
        namespaced: true,
    },
    Resource {
        prefix: "/apis/events.k8s.io/v1",
        plural: "events",
        namespaced: true,
    },
    Resource::core("events", true),
];

/// The group-qualified name Kubernetes uses in messages: `pods.`, `deployments.apps`.
pub fn group_resource(r: &Resource) -> String {
    let group = r
        .prefix
        .strip_prefix("/apis/")
        .and_then(|g| g.split('/').next())
        .unwrap_or("");
    format!("{}.{group}", r.plural)
}

/// What one deletion pass found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Content {
    /// group-resource -> objects still present.
    pub remaining: BTreeMap<String, usize>,
    /// finalizer -> objects carrying it.
    pub finalizers: BTreeMap<String, usize>,
    /// Errors of the pass (delete or list failures).
    pub errors: Vec<String>,
}

fn cond(type_: &str, status: &str, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: None,
    }
}

/// The deletion conditions as the namespace deleter sets them.
pub fn conditions(c: &Content) -> Vec<NamespaceCondition> {
    let mut out = vec![
        cond(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".into(),
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
    ];
    out.push(if c.errors.is_empty() {
        cond(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".into(),
        )
    } else {
        cond(
            "NamespaceDeletionContentFailure",
            "True",
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                c.errors.len(),
                c.errors.join(", ")
            ),
        )
    });
    out.push(if c.remaining.is_empty() {
        cond(
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All content successfully removed".into(),
        )
    } else {
        let parts: Vec<String> = c
            .remaining
            .iter()
            .map(|(r, n)| format!("{r} has {n} resource instances"))
            .collect();
        cond(
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", parts.join(", ")),
        )
    });
    out.push(if c.finalizers.is_empty() {
        cond(
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".into(),
        )
    } else {
        let parts: Vec<String> = c
            .finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        cond(
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                parts.join(", ")
            ),
        )
    });
    out
}

/// Merges new conditions into the current ones, keeping lastTransitionTime when the status
/// did not change; None when nothing changed.
pub fn merge_conditions(
    current: &[NamespaceCondition],
    new: Vec<NamespaceCondition>,
    now: k8s_openapi::jiff::Timestamp,
) -> Option<Vec<NamespaceCondition>> {
    let mut changed = false;
    let mut out: Vec<NamespaceCondition> = Vec::new();
    for mut n in new {
        match current.iter().find(|c| c.type_ == n.type_) {
            Some(c) if c.status == n.status && c.reason == n.reason && c.message == n.message => {
                out.push(c.clone())
            }
            Some(c) if c.status == n.status => {
                n.last_transition_time = c.last_transition_time.clone();
                changed = true;
                out.push(n);
            }
            _ => {
                n.last_transition_time = Some(util::time(now));
                changed = true;
                out.push(n);
            }
        }
    }
    for c in current {
        if !out.iter().any(|o| o.type_ == c.type_) {
            out.push(c.clone());
        }
    }
    changed.then_some(out)
}

struct Controller {
    client: Client,
    namespaces: Arc<Informer<Namespace>>,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("namespace");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        namespaces: t.informers.get::<Namespace>(),
    });
    let q = queue.clone();
    c.namespaces.on_change(move |_old, new| {
        if let Some(ns) = new {
            if ns.metadata.deletion_timestamp.is_some() {
                q.add(&util::key(&ns.metadata));
            }
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.namespaces
            .list()
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .map(|n| util::key(&n.metadata))
            .collect()
    });
    let workers = t.config.concurrent_namespace_syncs;
    let q2 = queue.clone();
    t.spawn_workers(&queue, workers, move |key| {
        let c = c.clone();
        let q = q2.clone();
        async move {
            let requeue = c.sync(&key).await?;
            if let Some(after) = requeue {
                q.add_after(&key, after);
            }
            Ok(())
        }
    });
}

impl Controller {
    /// One pass; Some(delay) when content remains.
    async fn sync(&self, name: &str) -> Result<Option<Duration>, ControllerError> {
        let Some(ns) = self.namespaces.get(name) else {
            return Ok(None);
        };
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(None);
        }
        let finalizers = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(None);
        }
        let mut content = Content::default();
        for r in NAMESPACED {
            let list = match self.client.list(r, name, "").await {
                Ok(l) => l,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    content.errors.push(format!("{}: {e}", group_resource(r)));
                    continue;
                }
            };
            let items = list["items"].as_array().cloned().unwrap_or_default();
            for item in &items {
                let m = &item["metadata"];
                for f in m["finalizers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    *content.finalizers.entry(f.to_string()).or_default() += 1;
                }
                if !m["deletionTimestamp"].is_null() {
                    continue;
                }
                let obj_name = m["name"].as_str().unwrap_or("");
                let opts =
                    json!({"preconditions": {"uid": m["uid"]}, "propagationPolicy": "Background"});
                match self.client.delete(r, name, obj_name, &opts).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() || e.is_conflict() && !e.is_fenced() => {}
                    Err(e) if e.is_fenced() => {
                        return Err(e).ctx(|| format!("delete {} {name}/{obj_name}", r.plural));
                    }
                    Err(e) => content.errors.push(format!("{}: {e}", group_resource(r))),
                }
            }
            if !items.is_empty() {
                content.remaining.insert(group_resource(r), items.len());
            }
        }
        let current = ns
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        if content.remaining.is_empty() && content.errors.is_empty() {
            // Finalize: the API server deletes the namespace once spec.finalizers is empty.
            let mut body = (*ns).clone();
            body.spec.get_or_insert_with(Default::default).finalizers =
                Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
            match self
                .client
                .replace::<Value>(&Resource::NAMESPACES, "", name, Some("finalize"), &body)
                .await
            {
                Ok(_) => return Ok(None),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e).ctx(|| format!("finalize namespace {name}")),
            }
        }
        if let Some(conds) = merge_conditions(&current, conditions(&content), util::now()) {
            let mut body = (*ns).clone();
            body.status.get_or_insert_with(Default::default).conditions = Some(conds);
            if let Err(e) = self
                .client
                .replace::<Value>(&Resource::NAMESPACES, "", name, Some("status"), &body)
                .await
            {
                if e.is_fenced() {
                    return Err(e).ctx(|| format!("update status of namespace {name}"));
                }
                tracing::debug!(namespace = name, error = %e, "updating namespace conditions failed");
            }
        }
        // kube-controller-manager waits an estimate (the pods' grace period); a short fixed
        // delay keeps deletion snappy, and informer events cannot tell us when lists shrink.
        Ok(Some(Duration::from_secs(if content.errors.is_empty() {
            2
        } else {
            5
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_messages() {
        let check = |c: Content, want: &[(&str, &str, &str, &str)]| {
            let got = conditions(&c);
            for (t, status, reason, msg) in want {
                let x = got.iter().find(|g| g.type_ == *t).unwrap();
                assert_eq!(
                    (x.status.as_str(), x.reason.as_deref(), x.message.as_deref()),
                    (*status, Some(*reason), Some(*msg)),
                    "{t}"
                );
            }
        };
        check(
            Content::default(),
            &[
                (
                    "NamespaceContentRemaining",
                    "False",
                    "ContentRemoved",
                    "All content successfully removed",
                ),
                (
                    "NamespaceDeletionContentFailure",
                    "False",
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization",
                ),
                (
                    "NamespaceFinalizersRemaining",
                    "False",
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished",
                ),
            ],
        );
        check(
            Content {
                remaining: [("pods.".to_string(), 2), ("deployments.apps".to_string(), 1)].into(),
                finalizers: [("example.com/keep".to_string(), 1)].into(),
                errors: vec![],
            },
            &[
                ("NamespaceContentRemaining", "True", "SomeResourcesRemain", "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances"),
                ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"),
            ],
        );
    }

    #[test]
    fn group_resources() {
        assert_eq!(group_resource(&Resource::PODS), "pods.");
        assert_eq!(group_resource(&NAMESPACED[0]), "deployments.apps");
    }

    #[test]
    fn merging_keeps_transition_times() {
        let now = crate::util::testutil::ts(10);
        let first = merge_conditions(&[], conditions(&Content::default()), now).expect("new");
        assert!(first.iter().all(|c| c.last_transition_time.is_some()));
        assert_eq!(
            merge_conditions(
                &first,
                conditions(&Content::default()),
                crate::util::testutil::ts(20)
            ),
            None
        );
    }
}
