//! The ReplicaSet controller: keeps `spec.replicas` active pods per ReplicaSet. The plan
//! (`plan`) claims pods (adopts matching orphans, releases owned pods that stopped
//! matching), decides how many pods to create or which to delete (least valuable first, as
//! Kubernetes' `ActivePodsWithRanks`), and computes the status; the shell creates pods in
//! slow-start batches (1, 2, 4, ...), at most `BURST_REPLICAS` per sync, guarded by
//! expectations so a stale cache never causes a second round of creations.

use crate::error::{Context, ControllerError};
use crate::events::{ObjectRef, Recorder};
use crate::expectations::Expectations;
use crate::informers::{Informer, Kind};
use crate::util::{self, Labels};
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::api::PatchType;
use berth_client::{Client, Resource};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// kube-controller-manager's `BurstReplicas`: creations or deletions per sync, at most.
pub const BURST_REPLICAS: usize = 500;
pub const COMPONENT: &str = "replicaset-controller";

pub const RS_RESOURCE: Resource = <ReplicaSet as Kind>::RESOURCE;

/// What one sync of a ReplicaSet should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Orphan pods to adopt (names).
    pub adopt: Vec<String>,
    /// Owned pods to release (names).
    pub release: Vec<String>,
    /// Pods to create.
    pub create: usize,
    /// Pods to delete (names), least valuable first.
    pub delete: Vec<String>,
    /// The status the ReplicaSet should report.
    pub status: ReplicaSetStatus,
    /// Sync again after this long (waiting for minReadySeconds).
    pub requeue_after_secs: Option<u32>,
}

/// The inputs of a sync.
pub struct Input<'a> {
    pub rs: &'a ReplicaSet,
    /// Every pod of the ReplicaSet's namespace.
    pub pods: &'a [Arc<Pod>],
    pub now: Timestamp,
    /// False while creations or deletions of the previous sync are still unseen.
    pub expectations_satisfied: bool,
    pub burst: usize,
}

/// Claims pods as Kubernetes' `ClaimPods` does: returns (owned after the claim, adopt,
/// release). Only active pods take part. `owner_deleting` stops adoption.
pub fn claim<'p>(
    owner_uid: &str,
    owner_deleting: bool,
    selector: Option<&LabelSelector>,
    pods: &'p [Arc<Pod>],
) -> (Vec<&'p Arc<Pod>>, Vec<String>, Vec<String>) {
    let mut owned = Vec::new();
    let mut adopt = Vec::new();
    let mut release = Vec::new();
    for p in pods.iter().filter(|p| util::is_pod_active(p)) {
        let matches = util::selector_matches(selector, p.metadata.labels.as_ref());
        match util::controller_ref(&p.metadata) {
            Some(r) if r.uid == owner_uid => {
                if matches {
                    owned.push(p);
                } else if !owner_deleting {
                    release.push(util::name(&p.metadata).to_string());
                }
            }
            Some(_) => {}
            None => {
                if matches && !owner_deleting {
                    adopt.push(util::name(&p.metadata).to_string());
                    owned.push(p);
                }
            }
        }
    }
    (owned, adopt, release)
}

pub fn plan(input: &Input) -> Plan {
    let rs = input.rs;
    let spec = rs.spec.as_ref();
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let selector = spec.map(|s| &s.selector);
    let (owned, adopt, release) = claim(util::uid(&rs.metadata), deleting, selector, input.pods);
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let mut plan = Plan {
        adopt,
        release,
        ..Default::default()
    };
    if input.expectations_satisfied && !deleting {
        if owned.len() < replicas {
            plan.create = (replicas - owned.len()).min(input.burst);
        } else if owned.len() > replicas {
            let n = (owned.len() - replicas).min(input.burst);
            let mut per_node: HashMap<&str, usize> = HashMap::new();
            for p in &owned {
                let node = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or("");
                if !node.is_empty() {
                    *per_node.entry(node).or_default() += 1;
                }
            }
            let rank = |p: &Pod| {
                let node = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or("");
                per_node.get(node).copied().unwrap_or(0)
            };
            let mut victims: Vec<&Arc<Pod>> = owned.clone();
            victims.sort_by(|a, b| util::scale_down_order((a, rank(a)), (b, rank(b)), input.now));
            plan.delete = victims
                .into_iter()
                .take(n)
                .map(|p| util::name(&p.metadata).to_string())
                .collect();
        }
    }
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully = owned
        .iter()
        .filter(|p| util::map_selector_matches(&template_labels, p.metadata.labels.as_ref()))
        .count();
    let ready = owned.iter().filter(|p| util::is_pod_ready(p)).count();
    let available = owned
        .iter()
        .filter(|p| util::is_pod_available(p, min_ready, input.now))
        .count();
    let old = rs.status.clone().unwrap_or_default();
    plan.status = ReplicaSetStatus {
        replicas: owned.len() as i32,
        fully_labeled_replicas: Some(fully as i32),
        ready_replicas: Some(ready as i32),
        available_replicas: Some(available as i32),
        observed_generation: rs.metadata.generation,
        conditions: old.conditions,
        terminating_replicas: old.terminating_replicas,
    };
    if min_ready > 0 && ready == replicas && available != replicas {
        plan.requeue_after_secs = Some(min_ready as u32);
    }
    plan
}

/// Kubernetes' `GetPodFromTemplate`: the pod a controller creates.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    generate_name: &str,
    owner: OwnerReference,
) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name.into()),
            namespace: Some(namespace.into()),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Whether two statuses differ in what the controller writes.
fn status_changed(old: Option<&ReplicaSetStatus>, new: &ReplicaSetStatus) -> bool {
    let norm = |s: &ReplicaSetStatus| {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        for f in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
            if v[f] == json!(0) {
                v.as_object_mut().map(|m| m.remove(f));
            }
        }
        v
    };
    old.map(norm) != Some(norm(new))
}

/// Creates `count` pods in batches of 1, 2, 4, ...: a failing batch stops the rest.
/// Returns how many were not attempted and the errors.
pub async fn slow_start<F, Fut>(count: usize, mut create: F) -> (usize, Vec<ControllerError>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ControllerError>>,
{
    let mut remaining = count;
    let mut batch = remaining.min(1);
    while batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| create())).await;
        remaining -= batch;
        let errors: Vec<ControllerError> = results.into_iter().filter_map(Result::err).collect();
        if !errors.is_empty() {
            return (remaining, errors);
        }
        batch = (2 * batch).min(remaining);
    }
    (0, Vec::new())
}

/// Merge patch (with resourceVersion as precondition) setting a pod's ownerReferences.
pub async fn set_owner_refs(
    client: &Client,
    pod: &Pod,
    refs: Vec<OwnerReference>,
) -> Result<(), ControllerError> {
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": pod.metadata.resource_version,
    }});
    let ns = util::namespace(&pod.metadata);
    let name = util::name(&pod.metadata);
    client
        .patch::<Value>(&Resource::PODS, ns, name, None, PatchType::Merge, &patch)
        .await
        .ctx(|| format!("update ownerReferences of pod {ns}/{name}"))?;
    Ok(())
}

/// Claims (`adopt`) and releases (`release`) pods by name for `owner`, as client-go's
/// ControllerRefManager does; releasing a pod that is gone is fine. The errors are returned
/// (a sync ends on any before creating or deleting).
pub async fn claim_pods(
    client: &Client,
    by_name: &HashMap<&str, &Arc<Pod>>,
    owner: &OwnerReference,
    adopt: &[String],
    release: &[String],
) -> Vec<ControllerError> {
    let mut errors = Vec::new();
    for n in adopt {
        if let Some(p) = by_name.get(n.as_str()) {
            let mut refs = p.metadata.owner_references.clone().unwrap_or_default();
            refs.push(owner.clone());
            if let Err(e) = set_owner_refs(client, p, refs).await {
                errors.push(e);
            }
        }
    }
    for n in release {
        if let Some(p) = by_name.get(n.as_str()) {
            let refs: Vec<OwnerReference> = p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .filter(|r| r.uid != owner.uid)
                .cloned()
                .collect();
            if let Err(e) = set_owner_refs(client, p, refs).await {
                if !e.is_not_found() {
                    errors.push(e);
                }
            }
        }
    }
    errors
}

/// Deletes an object, conditional on its uid; NotFound is success.
pub async fn delete_with_uid(
    client: &Client,
    r: &Resource,
    meta: &ObjectMeta,
    propagation: Option<&str>,
) -> Result<(), ControllerError> {
    let mut opts = json!({"preconditions": {"uid": util::uid(meta)}});
    if let Some(p) = propagation {
        opts["propagationPolicy"] = p.into();
    }
    match client
        .delete(r, util::namespace(meta), util::name(meta), &opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(ControllerError::Api {
            action: format!(
                "delete {} {}/{}",
                r.plural,
                util::namespace(meta),
                util::name(meta)
            ),
            source: e,
        }),
    }
}

pub struct Controller {
    client: Client,
    pods: Arc<Informer<Pod>>,
    rss: Arc<Informer<ReplicaSet>>,
    expectations: Expectations,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("replicaset");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        pods: t.informers.get::<Pod>(),
        rss: t.informers.get::<ReplicaSet>(),
        expectations: Expectations::default(),
        queue: queue.clone(),
        recorder: t.recorder.with_component(COMPONENT),
    });
    let c2 = c.clone();
    c.rss.on_change(move |_old, new| {
        if let Some(rs) = new {
            c2.queue.add(&util::key(&rs.metadata));
        }
    });
    let c3 = c.clone();
    c.rss.on_change(move |old, new| {
        if let (Some(rs), None) = (old, new) {
            let key = util::key(&rs.metadata);
            c3.expectations.delete(&key);
            c3.queue.add(&key);
        }
    });
    let c4 = Arc::downgrade(&c);
    c.pods.on_change(move |old, new| {
        if let Some(c) = c4.upgrade() {
            c.pod_changed(old.map(|p| &**p), new.map(|p| &**p));
        }
    });
    let c5 = c.clone();
    t.resync(&queue, move || {
        c5.rss
            .list()
            .iter()
            .map(|r| util::key(&r.metadata))
            .collect()
    });
    let workers = t.config.concurrent_replicaset_syncs;
    let c6 = c.clone();
    t.spawn_workers(&queue, workers, move |key| {
        let c = c6.clone();
        async move { c.sync(&key).await }
    });
}

impl Controller {
    /// The ReplicaSet a controllerRef names, if it exists with that uid.
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<ReplicaSet>> {
        if r.kind != "ReplicaSet" {
            return None;
        }
        self.rss
            .get_in(ns, &r.name)
            .filter(|rs| util::uid(&rs.metadata) == r.uid)
    }

    fn matching_rss(&self, pod: &Pod) -> Vec<String> {
        self.rss
            .list_in(util::namespace(&pod.metadata))
            .iter()
            .filter(|rs| {
                util::selector_matches(
                    rs.spec.as_ref().map(|s| &s.selector),
                    pod.metadata.labels.as_ref(),
                )
            })
            .map(|rs| util::key(&rs.metadata))
            .collect()
    }

    fn pod_changed(&self, old: Option<&Pod>, new: Option<&Pod>) {
        let ns = old
            .or(new)
            .map(|p| util::namespace(&p.metadata))
            .unwrap_or("");
        match (old, new) {
            (_, Some(p)) if p.metadata.deletion_timestamp.is_some() => {
                // A pod being deleted counts as deleted (Kubernetes' updatePod).
                if let Some(rs) =
                    util::controller_ref(&p.metadata).and_then(|r| self.resolve(ns, r))
                {
                    let key = util::key(&rs.metadata);
                    self.expectations
                        .deletion_observed(&key, &util::key(&p.metadata));
                    self.queue.add(&key);
                }
            }
            (None, Some(p)) => match util::controller_ref(&p.metadata) {
                Some(r) => {
                    if let Some(rs) = self.resolve(ns, r) {
                        let key = util::key(&rs.metadata);
                        self.expectations.creation_observed(&key);
                        self.queue.add(&key);
                    }
                }
                None => {
                    for k in self.matching_rss(p) {
                        self.queue.add(&k);
                    }
                }
            },
            (Some(o), Some(p)) => {
                let old_ref = util::controller_ref(&o.metadata);
                let new_ref = util::controller_ref(&p.metadata);
                if old_ref != new_ref {
                    if let Some(rs) = old_ref.and_then(|r| self.resolve(ns, r)) {
                        self.queue.add(&util::key(&rs.metadata));
                    }
                }
                match new_ref {
                    Some(r) => {
                        if let Some(rs) = self.resolve(ns, r) {
                            let key = util::key(&rs.metadata);
                            self.queue.add(&key);
                            let min_ready = rs
                                .spec
                                .as_ref()
                                .and_then(|s| s.min_ready_seconds)
                                .unwrap_or(0);
                            if min_ready > 0 && !util::is_pod_ready(o) && util::is_pod_ready(p) {
                                self.queue
                                    .add_after(&key, Duration::from_secs(min_ready as u64));
                            }
                        }
                    }
                    None => {
                        if o.metadata.labels != p.metadata.labels || old_ref.is_some() {
                            for k in self.matching_rss(p) {
                                self.queue.add(&k);
                            }
                        }
                    }
                }
            }
            (Some(p), None) => {
                if let Some(rs) =
                    util::controller_ref(&p.metadata).and_then(|r| self.resolve(ns, r))
                {
                    let key = util::key(&rs.metadata);
                    self.expectations
                        .deletion_observed(&key, &util::key(&p.metadata));
                    self.queue.add(&key);
                }
            }
            (None, None) => {}
        }
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some(rs) = self.rss.get(key) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let (ns, name) = util::split_key(key);
        if rs
            .spec
            .as_ref()
            .is_none_or(|s| util::selector_is_empty(&s.selector))
        {
            // Kubernetes refuses to manage every pod of a namespace.
            tracing::warn!(
                replicaset = key,
                "the ReplicaSet has an empty selector; ignoring it"
            );
            return Ok(());
        }
        let pods = self.pods.list_in(ns);
        let plan = plan(&Input {
            rs: &rs,
            pods: &pods,
            now: util::now(),
            expectations_satisfied: self.expectations.satisfied(key),
            burst: BURST_REPLICAS,
        });
        let by_name: HashMap<&str, &Arc<Pod>> =
            pods.iter().map(|p| (util::name(&p.metadata), p)).collect();
        let owner = util::controller_ref_to("apps/v1", "ReplicaSet", &rs.metadata);
        // Claim first; a failed claim ends the sync before any creation or deletion.
        let mut errors =
            claim_pods(&self.client, &by_name, &owner, &plan.adopt, &plan.release).await;
        if !errors.is_empty() {
            return ControllerError::collect(errors);
        }
        let me = ObjectRef::of(&*rs);
        if plan.create > 0 {
            self.expectations.expect(key, plan.create, []);
            let template = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.clone())
                .unwrap_or_default();
            let pod = pod_from_template(&template, ns, &format!("{name}-"), owner.clone());
            let (skipped, errs) = slow_start(plan.create, || async {
                #[allow(unused_mut)]
                let mut created = None;
                #[cfg(feature = "failpoints")]
                {
                    if let Some(Some(ms)) = fail::eval("replicaset::before-create", |arg| {
                        arg.and_then(|a| a.parse::<u64>().ok())
                    }) {
                        tracing::warn!(replicaset = %key, ms, "failpoint replicaset::before-create: stalling");
                        // The stalled create runs detached from the term, as a request already
                        // on the wire would: losing the Lease does not cancel it, so only the
                        // fence can refuse it.
                        let mut client = self.client.clone();
                        if fail::eval("replicaset::unfenced-create", |_| ()).is_some() {
                            client = berth_client::Client::new(client.transport().clone());
                        }
                        let (pod, ns) = (pod.clone(), ns.to_string());
                        let stalled = tokio::spawn(async move {
                            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                            let r = client.create::<Pod>(&Resource::PODS, &ns, &pod).await;
                            if let Err(e) = &r {
                                if e.is_fenced() {
                                    tracing::warn!("write refused: the controller manager's lease has moved on");
                                }
                            }
                            r
                        });
                        created = Some(stalled.await.expect("the stalled create panicked"));
                    }
                }
                let created = match created {
                    Some(r) => r,
                    None => self.client.create::<Pod>(&Resource::PODS, ns, &pod).await,
                };
                match created {
                    Ok(created) => {
                        self.recorder.normal(
                            me.clone(),
                            "SuccessfulCreate",
                            format!("Created pod: {}", util::name(&created.metadata)),
                        );
                        Ok(())
                    }
                    Err(e) => {
                        self.expectations.creation_observed(key);
                        self.recorder.warning(
                            me.clone(),
                            "FailedCreate",
                            format!("Error creating: {e}"),
                        );
                        Err(e).ctx(|| format!("create pod for replica set {key}"))
                    }
                }
            })
            .await;
            self.expectations.lower_adds(key, skipped);
            errors.extend(errs);
        }
        if !plan.delete.is_empty() {
            let victims: Vec<&Arc<Pod>> = plan
                .delete
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect();
            self.expectations
                .expect(key, 0, victims.iter().map(|p| util::key(&p.metadata)));
            let results = futures::future::join_all(victims.iter().map(|p| async {
                let r = delete_with_uid(&self.client, &Resource::PODS, &p.metadata, None).await;
                match &r {
                    Ok(()) => self.recorder.normal(
                        me.clone(),
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", util::name(&p.metadata)),
                    ),
                    Err(e) => {
                        self.expectations
                            .deletion_observed(key, &util::key(&p.metadata));
                        self.recorder.warning(
                            me.clone(),
                            "FailedDelete",
                            format!("Error deleting: {e}"),
                        );
                    }
                }
                r
            }))
            .await;
            errors.extend(results.into_iter().filter_map(Result::err));
        }
        if status_changed(rs.status.as_ref(), &plan.status) {
            let mut updated = (*rs).clone();
            updated.status = Some(plan.status.clone());
            if let Err(e) = self
                .client
                .replace::<Value>(&RS_RESOURCE, ns, name, Some("status"), &updated)
                .await
            {
                if !e.is_not_found() {
                    errors.push(ControllerError::Api {
                        action: format!("update status of replica set {key}"),
                        source: e,
                    });
                }
            }
        }
        if errors.is_empty() {
            if let Some(s) = plan.requeue_after_secs {
                self.queue.add_after(key, Duration::from_secs(s as u64));
            }
        }
        ControllerError::collect(errors)
    }
}

/// Template labels as a selector map (tests and the Deployment controller).
pub fn template_labels(t: &PodTemplateSpec) -> Labels {
    t.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testutil::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(4),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                selector: LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web"), ("tier", "fe")])),
                        ..Default::default()
                    }),
                    spec: None,
                }),
            }),
            status: None,
        }
    }

    /// An owned pod: (name, phase, node, ready since, restarts, created).
    fn owned(
        name: &str,
        phase: &str,
        node: &str,
        ready: Option<i64>,
        restarts: i32,
        created: i64,
    ) -> Arc<Pod> {
        let mut p = pod(name, phase, node, ready, restarts, created);
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: "rs-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        Arc::new(p)
    }

    struct Want {
        create: usize,
        delete: &'static [&'static str],
        adopt: &'static [&'static str],
        release: &'static [&'static str],
        replicas: i32,
        ready: i32,
        available: i32,
    }

    fn check(
        what: &str,
        rs: ReplicaSet,
        pods: Vec<Arc<Pod>>,
        satisfied: bool,
        burst: usize,
        want: Want,
    ) {
        let p = plan(&Input {
            rs: &rs,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: satisfied,
            burst,
        });
        assert_eq!(p.create, want.create, "{what}: create");
        assert_eq!(p.delete, want.delete, "{what}: delete");
        assert_eq!(p.adopt, want.adopt, "{what}: adopt");
        assert_eq!(p.release, want.release, "{what}: release");
        assert_eq!(p.status.replicas, want.replicas, "{what}: replicas");
        assert_eq!(p.status.ready_replicas, Some(want.ready), "{what}: ready");
        assert_eq!(
            p.status.available_replicas,
            Some(want.available),
            "{what}: available"
        );
        assert_eq!(
            p.status.observed_generation,
            Some(4),
            "{what}: observedGeneration"
        );
    }

    #[test]
    fn plans() {
        let w = |create, delete, adopt, release, replicas, ready, available| Want {
            create,
            delete,
            adopt,
            release,
            replicas,
            ready,
            available,
        };
        check(
            "scale up from nothing",
            rs(3, 0),
            vec![],
            true,
            500,
            w(3, &[], &[], &[], 0, 0, 0),
        );
        check(
            "burst caps creations",
            rs(800, 0),
            vec![],
            true,
            500,
            w(500, &[], &[], &[], 0, 0, 0),
        );
        check(
            "unsatisfied expectations: no action",
            rs(3, 0),
            vec![],
            false,
            500,
            w(0, &[], &[], &[], 0, 0, 0),
        );
        check(
            "steady",
            rs(2, 0),
            vec![
                owned("a", "Running", "n1", Some(1), 0, 0),
                owned("b", "Running", "n2", Some(1), 0, 0),
            ],
            true,
            500,
            w(0, &[], &[], &[], 2, 2, 2),
        );
        check(
            "scale down: pending and unready first",
            rs(1, 0),
            vec![
                owned("run", "Running", "n1", Some(1), 0, 0),
                owned("pend", "Pending", "n1", None, 0, 0),
                owned("unassigned", "Pending", "", None, 0, 0),
            ],
            true,
            500,
            w(0, &["unassigned", "pend"], &[], &[], 3, 1, 1),
        );
        check(
            "scale down: doubled-up node first",
            rs(2, 0),
            vec![
                owned("a", "Running", "n1", Some(1), 0, 0),
                owned("b", "Running", "n1", Some(1), 0, 1),
                owned("c", "Running", "n2", Some(1), 0, 0),
            ],
            true,
            500,
            w(0, &["a"], &[], &[], 3, 3, 3),
        );
        let mut orphan = pod("orphan", "Running", "n1", Some(1), 0, 0);
        orphan.metadata.owner_references = None;
        let mut other = pod("other", "Running", "n1", Some(1), 0, 0);
        other.metadata.labels = Some(labels(&[("app", "db")]));
        let mut strayed = (*owned("strayed", "Running", "n1", Some(1), 0, 0)).clone();
        strayed.metadata.labels = Some(labels(&[("app", "old")]));
        let mut done = (*owned("done", "Succeeded", "n1", None, 0, 0)).clone();
        done.metadata.name = Some("done".into());
        let mut going = (*owned("going", "Running", "n1", Some(1), 0, 0)).clone();
        going.metadata.deletion_timestamp = Some(Time(ts(999)));
        check(
            "adopt orphans, release strays, ignore inactive and foreign",
            rs(2, 0),
            vec![
                Arc::new(orphan),
                Arc::new(other),
                Arc::new(strayed),
                Arc::new(done),
                Arc::new(going),
            ],
            true,
            500,
            w(1, &[], &["orphan"], &["strayed"], 1, 1, 1),
        );
        check(
            "minReadySeconds: ready is not yet available",
            rs(2, 30),
            vec![
                owned("a", "Running", "n1", Some(990), 0, 0),
                owned("b", "Running", "n2", Some(100), 0, 0),
            ],
            true,
            500,
            w(0, &[], &[], &[], 2, 2, 1),
        );
    }

    #[test]
    fn requeue_for_min_ready_seconds() {
        let pods = vec![owned("a", "Running", "n1", Some(990), 0, 0)];
        let r = rs(1, 30);
        let p = plan(&Input {
            rs: &r,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
            burst: 500,
        });
        assert_eq!(p.requeue_after_secs, Some(30));
        let r = rs(1, 0);
        let p = plan(&Input {
            rs: &r,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
            burst: 500,
        });
        assert_eq!(p.requeue_after_secs, None);
    }

    #[test]
    fn fully_labeled_counts_template_labels() {
        let mut full = (*owned("full", "Running", "n1", Some(1), 0, 0)).clone();
        full.metadata.labels = Some(labels(&[("app", "web"), ("tier", "fe")]));
        let pods = vec![
            Arc::new(full),
            owned("partial", "Running", "n1", Some(1), 0, 0),
        ];
        let r = rs(2, 0);
        let p = plan(&Input {
            rs: &r,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
            burst: 500,
        });
        assert_eq!(p.status.fully_labeled_replicas, Some(1));
    }

    #[tokio::test]
    async fn slow_start_batches() {
        let check = |count: usize,
                     fail_at: Option<usize>,
                     want_calls: usize,
                     want_skipped: usize| async move {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let (skipped, errs) = slow_start(count, || {
                let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if Some(n) == fail_at {
                        Err(ControllerError::Invalid("boom".into()))
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
            assert_eq!(
                calls.load(std::sync::atomic::Ordering::SeqCst),
                want_calls,
                "{count} {fail_at:?}"
            );
            assert_eq!(skipped, want_skipped, "{count} {fail_at:?}");
            assert_eq!(errs.len(), usize::from(fail_at.is_some_and(|f| f < count)));
        };
        check(0, None, 0, 0).await;
        check(7, None, 7, 0).await;
        // Batches 1, 2, 4: a failure in the second batch (call 1) stops after it.
        check(10, Some(1), 3, 7).await;
        check(10, Some(0), 1, 9).await;
    }

    #[test]
    fn pod_template_becomes_pod() {
        let r = rs(1, 0);
        let owner = util::controller_ref_to("apps/v1", "ReplicaSet", &r.metadata);
        let p = pod_from_template(
            r.spec.as_ref().unwrap().template.as_ref().unwrap(),
            "default",
            "web-",
            owner,
        );
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(
            p.metadata
                .labels
                .as_ref()
                .unwrap()
                .get("tier")
                .map(String::as_str),
            Some("fe")
        );
        let r = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (r.controller, r.block_owner_deletion, r.uid.as_str()),
            (Some(true), Some(true), "rs-uid")
        );
    }
}
