//! The API server's own bootstrap (as kube-apiserver's bootstrap controller): the system
//! namespaces (default, kube-system, kube-public, kube-node-lease) and the `kubernetes`
//! Service, created by the replica that leads the store (every create is conditional, so an
//! overlap during a leader change costs a 409). Also the dependents lookup deletes use to
//! decide whether an `orphan` or `foregroundDeletion` finalizer is needed. Namespace
//! cleanup, garbage collection and default ServiceAccounts are the controllers' work
//! (`control-plane/controllers`).

use crate::meta;
use crate::registry::{Registry, WriteOptions};
use crate::resources::Resource;
use berth_replication::Store;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const PERIOD: Duration = Duration::from_secs(1);

fn owner_uids(v: &Value) -> Vec<String> {
    v["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["uid"].as_str().map(str::to_string))
        .collect()
}

/// Objects (resource, value) whose ownerReferences name `uid`.
fn dependents<S: Store>(
    reg: &Registry<S>,
    uid: &str,
    namespace: &str,
) -> Vec<(&'static Resource, Value)> {
    let mut out = Vec::new();
    for c in reg.caches() {
        let ns = (c.resource.namespaced && !namespace.is_empty()).then_some(namespace);
        for o in c.list(ns).2 {
            if o.gc_relevant && memchr(&o.json, uid.as_bytes()) {
                let v = o.value();
                if owner_uids(&v).iter().any(|u| u == uid) {
                    out.push((c.resource, v));
                }
            }
        }
    }
    out
}

fn memchr(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

pub fn has_dependents<S: Store>(reg: &Registry<S>, owner: &Value) -> bool {
    let uid = meta::uid(owner);
    !uid.is_empty() && !dependents(reg, uid, meta::namespace(owner)).is_empty()
}

async fn is_leader<S: Store>(reg: &Registry<S>) -> bool {
    match reg.store.status().await {
        Ok(s) => s.leader != 0 && s.leader == reg.store.header().member_id,
        Err(_) => false,
    }
}

pub fn spawn<S: Store>(reg: Arc<Registry<S>>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !reg.all_synced() || !is_leader(&reg).await {
                continue;
            }
            bootstrap(&reg).await;
        }
    });
}

/// What a cluster always has (kube-apiserver's own bootstrap controller): the system
/// namespaces and the `kubernetes` Service.
async fn bootstrap<S: Store>(reg: &Registry<S>) {
    let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces are served");
    let svcr = crate::resources::find("", "v1", "services").expect("services are served");
    let Some(ns_cache) = reg.cache(nsr) else {
        return;
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if ns_cache.get(name).is_none() {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if let Err(e) = reg.create(nsr, "", obj, &WriteOptions::default()).await {
                if e.code() != 409 {
                    tracing::warn!(namespace = name, error = %e, "creating a system namespace failed");
                }
            }
        }
    }
    if reg
        .cache(svcr)
        .is_some_and(|c| c.get("default/kubernetes").is_none())
    {
        let ip = reg.ranges.first().to_string();
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], "sessionAffinity": "None", "type": "ClusterIP"}});
        if let Err(e) = reg
            .create(svcr, "default", obj, &WriteOptions::default())
            .await
        {
            if e.code() != 409 {
                tracing::warn!(error = %e, "creating the kubernetes Service failed");
            }
        }
    }
}
