//! The garbage collector: ownerReferences across the kinds that own or are owned (pods,
//! ReplicaSets, Deployments, DaemonSets, StatefulSets, Jobs, CronJobs, Services,
//! EndpointSlices, Endpoints, ConfigMaps, Secrets, ServiceAccounts, Leases, Nodes).
//! - background: a dependent whose every owner is gone (checked against the API server,
//!   not only the cache) is deleted; owners that are gone are dropped from a dependent that
//!   still has a live one. Level-triggered: dependents orphaned while no controller ran are
//!   found from the first list.
//! - foreground: an owner with deletionTimestamp and the `foregroundDeletion` finalizer has
//!   its dependents deleted (foreground themselves); the finalizer goes once no dependent
//!   with blockOwnerDeletion remains.
//! - orphan: an owner with the `orphan` finalizer has its reference removed from every
//!   dependent, then the finalizer removed.
//!
//! Decisions (`decide_dependent`, `decide_owner`) are pure; the shell reads caches, checks
//! absent owners live, and patches or deletes.

use crate::error::{Context, ControllerError};
use crate::informers::{Informer, Kind};
use crate::replicaset::delete_with_uid;
use crate::util;
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::api::PatchType;
use berth_client::{Client, Resource};
use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coord, core::v1 as core,
    discovery::v1 as disc,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// What is known of one owner reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists with the referenced uid.
    Present,
    /// Gone (or replaced by an object with another uid).
    Absent,
    /// Of a kind the collector does not watch: never treated as gone.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependentAction {
    None,
    /// Every owner is gone.
    Delete,
    /// Drop the references to these (absent) owner uids; live owners remain.
    RemoveRefs(Vec<String>),
}

/// Kubernetes' `attemptToDeleteItem`, for a dependent.
pub fn decide_dependent(
    meta: &ObjectMeta,
    state: impl Fn(&OwnerReference) -> OwnerState,
) -> DependentAction {
    let refs = meta.owner_references.as_deref().unwrap_or(&[]);
    if refs.is_empty() || meta.deletion_timestamp.is_some() {
        return DependentAction::None;
    }
    let states: Vec<(&OwnerReference, OwnerState)> = refs.iter().map(|r| (r, state(r))).collect();
    let absent: Vec<String> = states
        .iter()
        .filter(|(_, s)| *s == OwnerState::Absent)
        .map(|(r, _)| r.uid.clone())
        .collect();
    if absent.is_empty() {
        DependentAction::None
    } else if absent.len() == refs.len() {
        DependentAction::Delete
    } else {
        DependentAction::RemoveRefs(absent)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerStep {
    /// Remove the owner's reference from a dependent (by its queue key).
    Unlink(String),
    /// Delete a dependent with foreground propagation.
    DeleteDependent(String),
    RemoveFinalizer(&'static str),
}

/// Kubernetes' `processDeletingDependentsItem` and `orphanDependents`, for an owner being
/// deleted. `dependents`: (key, meta) of objects whose ownerReferences name the owner.
pub fn decide_owner(owner: &ObjectMeta, dependents: &[(String, ObjectMeta)]) -> Vec<OwnerStep> {
    if owner.deletion_timestamp.is_none() {
        return Vec::new();
    }
    let fins = owner.finalizers.as_deref().unwrap_or(&[]);
    let uid = util::uid(owner);
    let mut steps = Vec::new();
    if fins.iter().any(|f| f == ORPHAN) {
        steps.extend(dependents.iter().map(|(k, _)| OwnerStep::Unlink(k.clone())));
        steps.push(OwnerStep::RemoveFinalizer(ORPHAN));
        return steps;
    }
    if fins.iter().any(|f| f == FOREGROUND) {
        let mut blocking = false;
        for (k, d) in dependents {
            let r = d.owner_references.iter().flatten().find(|r| r.uid == uid);
            if r.is_some_and(|r| r.block_owner_deletion == Some(true)) {
                blocking = true;
            }
            if d.deletion_timestamp.is_none() {
                steps.push(OwnerStep::DeleteDependent(k.clone()));
            }
        }
        if !blocking {
            steps.push(OwnerStep::RemoveFinalizer(FOREGROUND));
        }
    }
    steps
}

/// A type-erased informer: metadata only.
type MetaHandler = Box<dyn Fn(Option<&ObjectMeta>, Option<&ObjectMeta>) + Send + Sync>;

trait View: Send + Sync {
    fn resource(&self) -> Resource;
    fn group_kind(&self) -> (&'static str, &'static str);
    fn get(&self, key: &str) -> Option<ObjectMeta>;
    fn keys(&self) -> Vec<String>;
    fn on_change(&self, h: MetaHandler);
}

struct ViewOf<T: Kind>(Arc<Informer<T>>);

impl<T: Kind> View for ViewOf<T> {
    fn resource(&self) -> Resource {
        T::RESOURCE
    }
    fn group_kind(&self) -> (&'static str, &'static str) {
        let av = <T as k8s_openapi::Resource>::API_VERSION;
        (
            av.rsplit_once('/').map(|(g, _)| g).unwrap_or(""),
            <T as k8s_openapi::Resource>::KIND,
        )
    }
    fn get(&self, key: &str) -> Option<ObjectMeta> {
        self.0.get(key).map(|o| o.metadata().clone())
    }
    fn keys(&self) -> Vec<String> {
        self.0
            .list()
            .iter()
            .map(|o| util::key(o.metadata()))
            .collect()
    }
    fn on_change(&self, h: MetaHandler) {
        self.0
            .on_change(move |old, new| h(old.map(|o| o.metadata()), new.map(|o| o.metadata())));
    }
}

struct Collector {
    client: Client,
    views: Vec<Arc<dyn View>>,
    /// (group, kind) -> view index.
    kinds: HashMap<(&'static str, &'static str), usize>,
    /// owner uid -> dependents' queue keys.
    dependents: Mutex<HashMap<String, HashSet<String>>>,
    queue: Arc<WorkQueue>,
}

fn qkey(view: usize, key: &str) -> String {
    format!("{view}|{key}")
}

fn split_qkey(k: &str) -> Option<(usize, &str)> {
    let (v, key) = k.split_once('|')?;
    Some((v.parse().ok()?, key))
}

fn ref_group(r: &OwnerReference) -> &str {
    r.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

pub fn start(t: &mut Term) {
    let queue = t.queue("garbage_collector_attempt_to_delete");
    let i = &t.informers;
    let views: Vec<Arc<dyn View>> = vec![
        Arc::new(ViewOf(i.get::<core::Pod>())),
        Arc::new(ViewOf(i.get::<apps::ReplicaSet>())),
        Arc::new(ViewOf(i.get::<apps::Deployment>())),
        Arc::new(ViewOf(i.get::<apps::DaemonSet>())),
        Arc::new(ViewOf(i.get::<apps::StatefulSet>())),
        Arc::new(ViewOf(i.get::<batch::Job>())),
        Arc::new(ViewOf(i.get::<batch::CronJob>())),
        Arc::new(ViewOf(i.get::<core::Service>())),
        Arc::new(ViewOf(i.get::<disc::EndpointSlice>())),
        Arc::new(ViewOf(i.get::<core::Endpoints>())),
        Arc::new(ViewOf(i.get::<core::ConfigMap>())),
        Arc::new(ViewOf(i.get::<core::Secret>())),
        Arc::new(ViewOf(i.get::<core::ServiceAccount>())),
        Arc::new(ViewOf(i.get::<coord::Lease>())),
        Arc::new(ViewOf(i.get::<core::Node>())),
    ];
    let kinds = views
        .iter()
        .enumerate()
        .map(|(n, v)| (v.group_kind(), n))
        .collect();
    let c = Arc::new(Collector {
        client: t.client.clone(),
        views,
        kinds,
        dependents: Mutex::new(HashMap::new()),
        queue: queue.clone(),
    });
    for (n, v) in c.views.iter().enumerate() {
        let w = Arc::downgrade(&c);
        v.on_change(Box::new(move |old, new| {
            if let Some(c) = w.upgrade() {
                c.changed(n, old, new);
            }
        }));
    }
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.views
            .iter()
            .enumerate()
            .flat_map(|(n, v)| v.keys().into_iter().map(move |k| qkey(n, &k)))
            .collect()
    });
    let workers = t.config.concurrent_gc_syncs;
    t.spawn_workers(&queue, workers, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

impl Collector {
    /// The owner's queue key, when its kind is watched.
    fn owner_key(&self, dependent_ns: &str, r: &OwnerReference) -> Option<(usize, String)> {
        let view = *self.kinds.get(&(ref_group(r), r.kind.as_str()))?;
        let key = if self.views[view].resource().namespaced {
            format!("{dependent_ns}/{}", r.name)
        } else {
            r.name.clone()
        };
        Some((view, key))
    }

    fn changed(&self, view: usize, old: Option<&ObjectMeta>, new: Option<&ObjectMeta>) {
        let Some(any) = new.or(old) else { return };
        let me = qkey(view, &util::key(any));
        {
            let mut idx = self.dependents.lock();
            for r in old
                .and_then(|m| m.owner_references.as_ref())
                .into_iter()
                .flatten()
            {
                if let Some(set) = idx.get_mut(&r.uid) {
                    set.remove(&me);
                    if set.is_empty() {
                        idx.remove(&r.uid);
                    }
                }
            }
            for r in new
                .and_then(|m| m.owner_references.as_ref())
                .into_iter()
                .flatten()
            {
                idx.entry(r.uid.clone()).or_default().insert(me.clone());
            }
        }
        match new {
            Some(m) => {
                let has_owners = m.owner_references.as_ref().is_some_and(|r| !r.is_empty());
                let finalizing = m.deletion_timestamp.is_some()
                    && m.finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == ORPHAN || f == FOREGROUND);
                if has_owners || finalizing {
                    self.queue.add(&me);
                }
            }
            None => {
                // Its dependents may now be garbage.
                let deps: Vec<String> = self
                    .dependents
                    .lock()
                    .get(util::uid(any))
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                for d in deps {
                    self.queue.add(&d);
                }
            }
        }
        // An owner waiting for its dependents to go looks again.
        let ns = util::namespace(any);
        for r in any.owner_references.iter().flatten() {
            if let Some((v, k)) = self.owner_key(ns, r) {
                if self.views[v]
                    .get(&k)
                    .is_some_and(|o| o.deletion_timestamp.is_some())
                {
                    self.queue.add(&qkey(v, &k));
                }
            }
        }
    }

    /// The owner's state from the cache, confirmed live when the cache says it is gone.
    async fn owner_state(
        &self,
        dependent_ns: &str,
        r: &OwnerReference,
    ) -> Result<OwnerState, ControllerError> {
        let Some((view, key)) = self.owner_key(dependent_ns, r) else {
            return Ok(OwnerState::Unknown);
        };
        if self.views[view]
            .get(&key)
            .is_some_and(|o| util::uid(&o) == r.uid)
        {
            return Ok(OwnerState::Present);
        }
        let res = self.views[view].resource();
        let (ns, name) = util::split_key(&key);
        match self.client.get::<Value>(&res, ns, name).await {
            Ok(v) if v["metadata"]["uid"].as_str() == Some(r.uid.as_str()) => {
                Ok(OwnerState::Present)
            }
            Ok(_) => Ok(OwnerState::Absent),
            Err(e) if e.is_not_found() => Ok(OwnerState::Absent),
            Err(e) => Err(e).ctx(|| format!("get owner {} {key}", r.kind)),
        }
    }

    async fn sync(&self, qk: &str) -> Result<(), ControllerError> {
        let Some((view, key)) = split_qkey(qk) else {
            return Ok(());
        };
        let Some(v) = self.views.get(view) else {
            return Ok(());
        };
        let Some(meta) = v.get(key) else {
            return Ok(());
        };
        let res = v.resource();
        // As an owner being deleted.
        if meta.deletion_timestamp.is_some() {
            let deps: Vec<(String, ObjectMeta)> = self
                .dependents
                .lock()
                .get(util::uid(&meta))
                .map(|s| s.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|dk| {
                    let (dv, dkey) = split_qkey(&dk)?;
                    let m = self.views.get(dv)?.get(dkey)?;
                    Some((dk.clone(), m))
                })
                .collect();
            let steps = decide_owner(&meta, &deps);
            let mut waiting = false;
            for s in steps {
                match s {
                    OwnerStep::Unlink(dk) => self.unlink(&dk, util::uid(&meta)).await?,
                    OwnerStep::DeleteDependent(dk) => {
                        waiting = true;
                        if let Some((dv, dkey)) = split_qkey(&dk) {
                            if let Some(dm) = self.views[dv].get(dkey) {
                                delete_with_uid(
                                    &self.client,
                                    &self.views[dv].resource(),
                                    &dm,
                                    Some("Foreground"),
                                )
                                .await?;
                            }
                        }
                    }
                    OwnerStep::RemoveFinalizer(f) => {
                        waiting = false;
                        self.remove_finalizer(&res, &meta, f).await?;
                    }
                }
            }
            if waiting {
                // Dependents' deletions wake us; this is the safety net.
                self.queue.add_after(qk, Duration::from_secs(5));
            }
            return Ok(());
        }
        // As a dependent.
        let ns = util::namespace(&meta).to_string();
        let mut states = HashMap::new();
        for r in meta.owner_references.iter().flatten() {
            states.insert(r.uid.clone(), self.owner_state(&ns, r).await?);
        }
        match decide_dependent(&meta, |r| {
            states.get(&r.uid).copied().unwrap_or(OwnerState::Unknown)
        }) {
            DependentAction::None => Ok(()),
            DependentAction::Delete => {
                tracing::debug!(
                    object = qk,
                    "garbage collector: every owner is gone; deleting"
                );
                delete_with_uid(&self.client, &res, &meta, Some("Background")).await
            }
            DependentAction::RemoveRefs(uids) => {
                let refs: Vec<OwnerReference> = meta
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|r| !uids.contains(&r.uid))
                    .cloned()
                    .collect();
                self.patch_meta(&res, &meta, json!({"ownerReferences": refs}))
                    .await
            }
        }
    }

    async fn unlink(&self, dk: &str, owner_uid: &str) -> Result<(), ControllerError> {
        let Some((dv, dkey)) = split_qkey(dk) else {
            return Ok(());
        };
        let Some(dm) = self.views[dv].get(dkey) else {
            return Ok(());
        };
        let refs: Vec<OwnerReference> = dm
            .owner_references
            .iter()
            .flatten()
            .filter(|r| r.uid != owner_uid)
            .cloned()
            .collect();
        let value = if refs.is_empty() {
            Value::Null
        } else {
            json!(refs)
        };
        self.patch_meta(
            &self.views[dv].resource(),
            &dm,
            json!({"ownerReferences": value}),
        )
        .await
    }

    async fn remove_finalizer(
        &self,
        res: &Resource,
        meta: &ObjectMeta,
        f: &str,
    ) -> Result<(), ControllerError> {
        let fins: Vec<&String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|x| *x != f)
            .collect();
        let value = if fins.is_empty() {
            Value::Null
        } else {
            json!(fins)
        };
        self.patch_meta(res, meta, json!({"finalizers": value}))
            .await
    }

    /// A merge patch of metadata, conditional on the resourceVersion read.
    async fn patch_meta(
        &self,
        res: &Resource,
        meta: &ObjectMeta,
        mut fields: Value,
    ) -> Result<(), ControllerError> {
        fields["resourceVersion"] = json!(meta.resource_version);
        let (ns, name) = (util::namespace(meta), util::name(meta));
        match self
            .client
            .patch::<Value>(
                res,
                ns,
                name,
                None,
                PatchType::Merge,
                &json!({"metadata": fields}),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e).ctx(|| format!("update metadata of {} {ns}/{name}", res.plural)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn oref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn meta(refs: &[OwnerReference], deleting: bool, fins: &[&str]) -> ObjectMeta {
        ObjectMeta {
            name: Some("x".into()),
            uid: Some("me".into()),
            owner_references: (!refs.is_empty()).then(|| refs.to_vec()),
            deletion_timestamp: deleting.then(|| Time(crate::util::testutil::ts(0))),
            finalizers: (!fins.is_empty()).then(|| fins.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn dependents() {
        use OwnerState::*;
        let check = |refs: &[(&str, OwnerState)], deleting: bool, want: DependentAction| {
            let rs: Vec<OwnerReference> = refs.iter().map(|(u, _)| oref(u, true)).collect();
            let m = meta(&rs, deleting, &[]);
            let got = decide_dependent(&m, |r| refs.iter().find(|(u, _)| *u == r.uid).unwrap().1);
            assert_eq!(got, want, "{refs:?} deleting={deleting}");
        };
        check(&[], false, DependentAction::None);
        check(&[("a", Present)], false, DependentAction::None);
        check(&[("a", Absent)], false, DependentAction::Delete);
        check(&[("a", Absent)], true, DependentAction::None);
        check(
            &[("a", Absent), ("b", Absent)],
            false,
            DependentAction::Delete,
        );
        check(
            &[("a", Absent), ("b", Present)],
            false,
            DependentAction::RemoveRefs(vec!["a".into()]),
        );
        check(
            &[("a", Absent), ("b", Unknown)],
            false,
            DependentAction::RemoveRefs(vec!["a".into()]),
        );
        check(&[("a", Unknown)], false, DependentAction::None);
    }

    #[test]
    fn owners() {
        let dep = |k: &str, block: bool, deleting: bool| {
            (k.to_string(), meta(&[oref("me", block)], deleting, &[]))
        };
        let check = |fins: &[&str], deps: Vec<(String, ObjectMeta)>, want: Vec<OwnerStep>| {
            let mut owner = meta(&[], true, fins);
            owner.uid = Some("me".into());
            assert_eq!(decide_owner(&owner, &deps), want, "{fins:?}");
        };
        use OwnerStep::*;
        check(
            &[ORPHAN],
            vec![dep("0|ns/a", true, false)],
            vec![Unlink("0|ns/a".into()), RemoveFinalizer(ORPHAN)],
        );
        check(&[ORPHAN], vec![], vec![RemoveFinalizer(ORPHAN)]);
        check(&[FOREGROUND], vec![], vec![RemoveFinalizer(FOREGROUND)]);
        check(
            &[FOREGROUND],
            vec![dep("0|ns/a", true, false)],
            vec![DeleteDependent("0|ns/a".into())],
        );
        check(&[FOREGROUND], vec![dep("0|ns/a", true, true)], vec![]);
        // Only blocking dependents hold the owner; the rest are deleted all the same.
        check(
            &[FOREGROUND],
            vec![dep("0|ns/a", false, false)],
            vec![
                DeleteDependent("0|ns/a".into()),
                RemoveFinalizer(FOREGROUND),
            ],
        );
        check(
            &["example.com/other"],
            vec![dep("0|ns/a", true, false)],
            vec![],
        );
        // Not being deleted: nothing.
        let mut owner = meta(&[], false, &[FOREGROUND]);
        owner.uid = Some("me".into());
        assert_eq!(decide_owner(&owner, &[dep("0|ns/a", true, false)]), vec![]);
    }

    #[test]
    fn queue_keys() {
        assert_eq!(split_qkey(&qkey(3, "ns/a|b")), Some((3, "ns/a|b")));
        assert_eq!(split_qkey("x"), None);
    }
}
