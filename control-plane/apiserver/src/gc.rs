//! Deletion that spans objects: namespace content cleanup (a Terminating namespace's objects
//! are deleted, then its `kubernetes` finalizer removed) and owner-reference garbage
//! collection (dependents of a deleted owner are deleted in the background; `foregroundDeletion`
//! and `orphan` finalizers are honoured). It runs on the replica that leads the store, so
//! one replica acts at a time; every step is idempotent and conditional, so an overlap during
//! a leader change costs a 404 or 409, never a wrong deletion.

use crate::cache::CachedObject;
use crate::meta;
use crate::registry::{DeleteOptions, Registry, WriteOptions};
use crate::resources::{by_kind, split_api_version, Resource, Storage};
use berth_replication::Store;
use serde_json::Value;
use std::collections::HashSet;
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

/// Go's `omitempty`: an emptied metadata list is absent, not `[]`.
fn drop_empty(obj: &mut Value, field: &str) {
    let m = meta::metadata_mut(obj);
    if m.get(field)
        .and_then(Value::as_array)
        .is_some_and(|a| a.is_empty())
    {
        m.remove(field);
    }
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
            sweep(&reg).await;
        }
    });
}

/// What a cluster always has: the system namespaces, a `default` ServiceAccount in every
/// active namespace (the ServiceAccount controller's job), and the `kubernetes` Service.
async fn bootstrap<S: Store>(reg: &Registry<S>) {
    let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces are served");
    let sar =
        crate::resources::find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
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
    let Some(sa_cache) = reg.cache(sar) else {
        return;
    };
    for ns in ns_cache.list(None).2 {
        let v = ns.value();
        if meta::deletion_timestamp(&v).is_some() {
            continue;
        }
        let name = meta::name(&v).to_string();
        if sa_cache.get(&format!("{name}/default")).is_none() {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}});
            if let Err(e) = reg.create(sar, &name, obj, &WriteOptions::default()).await {
                if e.code() != 409 && e.code() != 403 {
                    tracing::warn!(namespace = %name, error = %e, "creating the default ServiceAccount failed");
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

async fn delete_quietly<S: Store>(
    reg: &Registry<S>,
    r: &'static Resource,
    v: &Value,
    policy: &str,
) {
    let opts = DeleteOptions {
        propagation_policy: Some(policy.into()),
        precondition_uid: Some(meta::uid(v).to_string()),
        ..Default::default()
    };
    if let Err(e) = reg
        .delete(r, meta::namespace(v), meta::name(v), &opts)
        .await
    {
        if e.code() != 404 && e.code() != 409 {
            tracing::warn!(resource = %r.gvr(), name = meta::name(v), error = %e, "garbage collection delete failed");
        }
    }
}

async fn remove_finalizer<S: Store>(
    reg: &Registry<S>,
    r: &'static Resource,
    v: &Value,
    finalizer: &str,
) {
    let f = finalizer.to_string();
    let res = reg
        .update_with(
            r,
            meta::namespace(v),
            meta::name(v),
            None,
            &WriteOptions::default(),
            None,
            |cur| {
                let mut n = cur.clone();
                let fins: Vec<Value> = meta::finalizers(cur)
                    .into_iter()
                    .filter(|x| *x != f)
                    .map(Value::String)
                    .collect();
                meta::metadata_mut(&mut n).insert("finalizers".into(), Value::Array(fins));
                drop_empty(&mut n, "finalizers");
                Ok(n)
            },
        )
        .await;
    if let Err(e) = res {
        if e.code() != 404 {
            tracing::warn!(resource = %r.gvr(), name = meta::name(v), error = %e, "removing finalizer {finalizer} failed");
        }
    }
}

async fn sweep<S: Store>(reg: &Registry<S>) {
    // Every live uid, to find dependents whose owners are gone.
    let mut all: Vec<(&'static Resource, Arc<CachedObject>)> = Vec::new();
    for c in reg.caches() {
        for o in c.list(None).2 {
            all.push((c.resource, o));
        }
    }
    // Only objects with owners or a deletionTimestamp are parsed: a sweep over a quiet
    // cluster costs a pass over the cached entries, not a JSON decode of each.
    let uids: HashSet<&str> = all.iter().map(|(_, o)| &*o.uid).collect();
    let mut owned: Vec<(&'static Resource, Value)> = Vec::new();
    let mut deleting: Vec<(&'static Resource, Value)> = Vec::new();
    for (r, o) in all.iter().filter(|(_, o)| o.gc_relevant) {
        let v = o.value();
        if v["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            owned.push((r, v.clone()));
        }
        if meta::deletion_timestamp(&v).is_some() {
            deleting.push((r, v));
        }
    }
    let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces are served");
    for (r, v) in deleting {
        if std::ptr::eq(r, nsr) {
            finalize_namespace(reg, &all, &v).await;
            continue;
        }
        let fins = meta::finalizers(&v);
        if fins.iter().any(|f| f == "orphan") {
            for (dr, d) in dependents(reg, meta::uid(&v), meta::namespace(&v)) {
                let owner = meta::uid(&v).to_string();
                let _ = reg
                    .update_with(
                        dr,
                        meta::namespace(&d),
                        meta::name(&d),
                        None,
                        &WriteOptions::default(),
                        None,
                        |cur| {
                            let mut n = cur.clone();
                            if let Some(refs) = n["metadata"]["ownerReferences"].as_array_mut() {
                                refs.retain(|o| o["uid"].as_str() != Some(owner.as_str()));
                            }
                            drop_empty(&mut n, "ownerReferences");
                            Ok(n)
                        },
                    )
                    .await;
            }
            remove_finalizer(reg, r, &v, "orphan").await;
        } else if fins.iter().any(|f| f == "foregroundDeletion") {
            let deps = dependents(reg, meta::uid(&v), meta::namespace(&v));
            if deps.is_empty() {
                remove_finalizer(reg, r, &v, "foregroundDeletion").await;
            } else {
                for (dr, d) in deps {
                    if meta::deletion_timestamp(&d).is_none() {
                        delete_quietly(reg, dr, &d, "Foreground").await;
                    }
                }
            }
        }
    }
    // Background: dependents whose every owner is gone (checked against the store, not
    // just this cache, before deleting).
    let mut checked: HashSet<String> = HashSet::new();
    for (r, v) in owned {
        let refs = v["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs
            .iter()
            .any(|o| o["uid"].as_str().is_some_and(|u| uids.contains(u)))
        {
            continue;
        }
        let mut all_gone = true;
        for o in &refs {
            let (g, _) = split_api_version(o["apiVersion"].as_str().unwrap_or(""));
            let Some(or) = by_kind(g, o["kind"].as_str().unwrap_or("")) else {
                continue;
            };
            if or.storage != Storage::Stored {
                continue;
            }
            let ns = if or.namespaced {
                meta::namespace(&v)
            } else {
                ""
            };
            let name = o["name"].as_str().unwrap_or("");
            let key = format!("{}|{ns}|{name}", or.gvr());
            if !checked.insert(key) {
                continue;
            }
            if let Ok(owner) = reg.get(or, ns, name, None).await {
                if Some(meta::uid(&owner)) == o["uid"].as_str() {
                    all_gone = false;
                }
            } else {
                continue;
            }
        }
        if all_gone && meta::deletion_timestamp(&v).is_none() {
            delete_quietly(reg, r, &v, "Background").await;
        }
    }
}

async fn finalize_namespace<S: Store>(
    reg: &Registry<S>,
    all: &[(&'static Resource, Arc<CachedObject>)],
    ns: &Value,
) {
    let name = meta::name(ns).to_string();
    let mut remaining = 0;
    for (r, o) in all {
        if !r.namespaced || o.namespace() != name {
            continue;
        }
        remaining += 1;
        let v = o.value();
        if meta::deletion_timestamp(&v).is_none() {
            delete_quietly(reg, r, &v, "Background").await;
        }
    }
    if remaining > 0 {
        return;
    }
    let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces are served");
    let res = reg
        .update_with(
            nsr,
            "",
            &name,
            Some(crate::resources::Sub::Finalize),
            &WriteOptions::default(),
            None,
            |cur| {
                let mut n = cur.clone();
                n["spec"]["finalizers"] = Value::Array(vec![]);
                Ok(n)
            },
        )
        .await;
    if let Err(e) = res {
        if e.code() != 404 {
            tracing::warn!(namespace = %name, error = %e, "finalizing namespace failed");
        }
    }
}
