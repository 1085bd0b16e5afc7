//! The DaemonSet controller: one pod per eligible node. A node is eligible when it matches
//! the template's nodeSelector and required node affinity and every NoSchedule/NoExecute
//! taint is tolerated (by the template's tolerations plus those every daemon pod gets);
//! a pod already there stays while its NoExecute taints are tolerated. Pods are created
//! with a required node affinity on `metadata.name` (the scheduler binds them, as in
//! Kubernetes), labelled `controller-revision-hash` and `pod-template-generation`. The
//! plan (`plan`) also deletes pods on nodes no longer eligible, duplicates and failed pods,
//! replaces old-hash pods within `maxUnavailable` (RollingUpdate), and computes the
//! status `kubectl rollout status` reads.
//!
//! Not done: ControllerRevision objects (history, `kubectl rollout undo`): the hash is
//! computed from the template alone; `maxSurge`; the failed-pod creation backoff.

use crate::error::{Context, ControllerError};
use crate::events::{ObjectRef, Recorder};
use crate::expectations::Expectations;
use crate::informers::{Informer, Kind};
use crate::replicaset::{claim_pods, delete_with_uid, pod_from_template, slow_start};
use crate::taints::{self, NO_EXECUTE, NO_SCHEDULE};
use crate::util;
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "daemonset-controller";
/// kube's daemonset `BurstReplicas`.
pub const BURST_REPLICAS: usize = 250;
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
pub const DS_RESOURCE: Resource = <DaemonSet as Kind>::RESOURCE;

/// What one sync of a DaemonSet should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub adopt: Vec<String>,
    pub release: Vec<String>,
    /// Nodes to create a daemon pod on.
    pub create_on: Vec<String>,
    /// Pods to delete (names).
    pub delete: Vec<String>,
    /// Warning events (reason, message).
    pub warnings: Vec<(&'static str, String)>,
    pub status: DaemonSetStatus,
    pub requeue_after_secs: Option<u32>,
}

pub struct Input<'a> {
    pub ds: &'a DaemonSet,
    pub nodes: &'a [Arc<Node>],
    /// Every pod of the DaemonSet's namespace.
    pub pods: &'a [Arc<Pod>],
    pub now: Timestamp,
    pub expectations_satisfied: bool,
}

/// The tolerations every daemon pod gets (kube's `AddOrUpdateDaemonPodTolerations`).
pub fn daemon_tolerations() -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        value: None,
        toleration_seconds: None,
    };
    vec![
        t(taints::NOT_READY, NO_EXECUTE),
        t(taints::UNREACHABLE, NO_EXECUTE),
        t(taints::DISK_PRESSURE, NO_SCHEDULE),
        t(taints::MEMORY_PRESSURE, NO_SCHEDULE),
        t(taints::PID_PRESSURE, NO_SCHEDULE),
        t(taints::UNSCHEDULABLE, NO_SCHEDULE),
    ]
}

/// The template's tolerations plus the daemon ones not already there.
fn with_daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut tols = spec.tolerations.clone().unwrap_or_default();
    for d in daemon_tolerations() {
        if !tols.iter().any(|t| t.key == d.key && t.effect == d.effect) {
            tols.push(d);
        }
    }
    tols
}

/// kube's `NodeShouldRunDaemonPod`: (should run, should continue running).
pub fn should_run(spec: &PodSpec, node: &Node) -> (bool, bool) {
    if !taints::node_matches(spec, node) {
        return (false, false);
    }
    let tols = with_daemon_tolerations(spec);
    let ok = |effect: &str| {
        taints::node_taints(node)
            .iter()
            .filter(|t| t.effect == effect)
            .all(|t| taints::tolerated(&tols, t))
    };
    let no_execute = ok(NO_EXECUTE);
    (no_execute && ok(NO_SCHEDULE), no_execute)
}

/// The node a daemon pod is for: its nodeName, or the node its `metadata.name` affinity
/// names (kube's `GetTargetNodeName`).
pub fn target_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find_map(|r| {
            (r.key == "metadata.name" && r.operator == "In")
                .then(|| r.values.as_ref()?.first().map(String::as_str))
                .flatten()
        })
}

/// The template hash, as the `controller-revision-hash` label carries it.
pub fn revision_hash(ds: &DaemonSet) -> String {
    let t = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    crate::deployment::template_hash(&t, ds.status.as_ref().and_then(|s| s.collision_count))
}

fn label<'a>(p: &'a Pod, k: &str) -> Option<&'a str> {
    p.metadata.labels.as_ref()?.get(k).map(String::as_str)
}

fn is_updated(p: &Pod, hash: &str, generation: Option<i64>) -> bool {
    label(p, REVISION_HASH_LABEL) == Some(hash)
        || (generation.is_some()
            && label(p, TEMPLATE_GENERATION_LABEL) == generation.map(|g| g.to_string()).as_deref())
}

fn max_unavailable(ds: &DaemonSet, desired: i32) -> i32 {
    let v = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(IntOrString::Int(1));
    util::scaled_value(&v, desired, true).unwrap_or(1).max(1)
}

fn is_rolling(ds: &DaemonSet) -> bool {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

fn by_age(a: &&Arc<Pod>, b: &&Arc<Pod>) -> std::cmp::Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| util::name(&a.metadata).cmp(util::name(&b.metadata)))
}

pub fn plan(input: &Input) -> Plan {
    let ds = input.ds;
    let spec = ds.spec.clone().unwrap_or_default();
    let template_spec = spec.template.spec.clone().unwrap_or_default();
    let deleting = ds.metadata.deletion_timestamp.is_some();
    let uid = util::uid(&ds.metadata);
    let hash = revision_hash(ds);
    let generation = ds.metadata.generation;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut plan = Plan::default();

    // Claim: owned pods (terminating and failed ones too: they still occupy their node).
    let mut owned: Vec<&Arc<Pod>> = Vec::new();
    for p in input.pods {
        let matches = util::selector_matches(Some(&spec.selector), p.metadata.labels.as_ref());
        match util::controller_ref(&p.metadata) {
            Some(r) if r.uid == uid => {
                if matches {
                    owned.push(p);
                } else if !deleting && p.metadata.deletion_timestamp.is_none() {
                    plan.release.push(util::name(&p.metadata).into());
                }
            }
            Some(_) => {}
            None if matches && !deleting && util::is_pod_active(p) => {
                plan.adopt.push(util::name(&p.metadata).into());
                owned.push(p);
            }
            None => {}
        }
    }
    let mut on_node: BTreeMap<&str, Vec<&Arc<Pod>>> = BTreeMap::new();
    for p in &owned {
        if let Some(n) = target_node(p) {
            on_node.entry(n).or_default().push(p);
        }
    }
    for pods in on_node.values_mut() {
        pods.sort_by(by_age);
    }
    let mut nodes: Vec<&Arc<Node>> = input.nodes.iter().collect();
    nodes.sort_by(|a, b| util::name(&a.metadata).cmp(util::name(&b.metadata)));
    let eligibility: HashMap<&str, (bool, bool)> = nodes
        .iter()
        .map(|n| (util::name(&n.metadata), should_run(&template_spec, n)))
        .collect();
    // Pods bound to nodes that no longer exist: the pod GC's to remove.

    // Manage: create, delete misplaced, duplicates and failed.
    let act = input.expectations_satisfied && !deleting;
    if act {
        for n in &nodes {
            let name = util::name(&n.metadata);
            let (run, keep) = eligibility[name];
            let pods = on_node.get(name).cloned().unwrap_or_default();
            if run && pods.is_empty() {
                plan.create_on.push(name.into());
            }
            let live: Vec<&&Arc<Pod>> = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            if !keep {
                plan.delete
                    .extend(live.iter().map(|p| util::name(&p.metadata).to_string()));
                continue;
            }
            let mut running = Vec::new();
            for p in live {
                if util::phase(p) == "Failed" {
                    plan.warnings.push((
                        "FailedDaemonPod",
                        format!(
                            "Found failed daemon pod {} on node {name}, will try to kill it",
                            util::key(&p.metadata)
                        ),
                    ));
                    plan.delete.push(util::name(&p.metadata).into());
                } else {
                    running.push(p);
                }
            }
            // Oldest first: keep it, delete the rest.
            plan.delete.extend(
                running
                    .iter()
                    .skip(1)
                    .map(|p| util::name(&p.metadata).to_string()),
            );
        }
    }

    // Rolling update (kube's `rollingUpdate` with maxSurge 0).
    let desired = nodes
        .iter()
        .filter(|n| eligibility[util::name(&n.metadata)].0)
        .count() as i32;
    if act && is_rolling(ds) {
        let max_unavailable = max_unavailable(ds, desired);
        let mut n_unavailable = 0;
        let mut replace_unavailable = Vec::new();
        let mut candidates = Vec::new();
        for n in &nodes {
            let name = util::name(&n.metadata);
            if !eligibility[name].0 {
                continue;
            }
            let live: Vec<&&Arc<Pod>> = on_node
                .get(name)
                .map(|v| {
                    v.iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                        .collect()
                })
                .unwrap_or_default();
            let (new, old): (Vec<&&Arc<Pod>>, Vec<&&Arc<Pod>>) =
                live.iter().partition(|p| is_updated(p, &hash, generation));
            match (new.as_slice(), old.as_slice()) {
                ([], [old]) => {
                    if !util::is_pod_available(old, min_ready, input.now) {
                        replace_unavailable.push(util::name(&old.metadata).to_string());
                    } else {
                        candidates.push(util::name(&old.metadata).to_string());
                    }
                }
                ([new], []) => {
                    if !util::is_pod_available(new, min_ready, input.now) {
                        n_unavailable += 1;
                    }
                }
                // None yet, both, or several: manage handles it; count it unavailable.
                _ => n_unavailable += 1,
            }
        }
        let budget = (max_unavailable - n_unavailable).max(0) as usize;
        plan.delete.extend(replace_unavailable);
        plan.delete.extend(candidates.into_iter().take(budget));
    }
    let mut seen = std::collections::HashSet::new();
    plan.delete.retain(|n| seen.insert(n.clone()));

    // Status (kube's updateDaemonSetStatus; terminating and terminal pods do not count).
    let mut st = DaemonSetStatus {
        desired_number_scheduled: desired,
        observed_generation: generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for n in &nodes {
        let name = util::name(&n.metadata);
        let pod = on_node
            .get(name)
            .and_then(|v| v.iter().find(|p| util::is_pod_active(p)));
        match (eligibility[name].0, pod) {
            (true, Some(p)) => {
                st.current_number_scheduled += 1;
                ready += i32::from(util::is_pod_ready(p));
                available += i32::from(util::is_pod_available(p, min_ready, input.now));
                updated += i32::from(is_updated(p, &hash, generation));
            }
            (false, Some(_)) => st.number_misscheduled += 1,
            _ => {}
        }
    }
    st.number_ready = ready;
    st.number_available = Some(available);
    st.number_unavailable = Some(desired - available);
    st.updated_number_scheduled = Some(updated);
    plan.status = st;
    if min_ready > 0 && ready > available {
        plan.requeue_after_secs = Some(min_ready as u32);
    }
    plan
}

/// The daemon pod for `node` (kube's `ReplaceDaemonSetPodNodeNameNodeAffinity`: the
/// `metadata.name` matchFields replaces any in each required term, or is the only term).
pub fn daemon_pod(ds: &DaemonSet, node: &str, hash: &str, owner: OwnerReference) -> Pod {
    let template: PodTemplateSpec = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut pod = pod_from_template(
        &template,
        util::namespace(&ds.metadata),
        &format!("{}-", util::name(&ds.metadata)),
        owner,
    );
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(REVISION_HASH_LABEL.into(), hash.into());
    if let Some(g) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.tolerations = Some(with_daemon_tolerations(spec));
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.into()]),
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let sel = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(|| NodeSelector {
            node_selector_terms: vec![],
        });
    if sel.node_selector_terms.is_empty() {
        sel.node_selector_terms.push(NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![field]),
        });
    } else {
        for t in &mut sel.node_selector_terms {
            t.match_fields = Some(vec![field.clone()]);
        }
    }
    pod
}

fn status_changed(old: Option<&DaemonSetStatus>, new: &DaemonSetStatus) -> bool {
    let norm = |s: &DaemonSetStatus| {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        for f in [
            "numberAvailable",
            "numberUnavailable",
            "updatedNumberScheduled",
        ] {
            if v[f] == json!(0) {
                v.as_object_mut().map(|m| m.remove(f));
            }
        }
        v
    };
    old.map(norm) != Some(norm(new))
}

struct Controller {
    client: Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    dss: Arc<Informer<DaemonSet>>,
    expectations: Expectations,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("daemonset");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        pods: t.informers.get::<Pod>(),
        nodes: t.informers.get::<Node>(),
        dss: t.informers.get::<DaemonSet>(),
        expectations: Expectations::default(),
        queue: queue.clone(),
        recorder: t.recorder.with_component(COMPONENT),
    });
    let c2 = Arc::downgrade(&c);
    c.dss.on_change(move |old, new| {
        let Some(c) = c2.upgrade() else { return };
        if let Some(ds) = new.or(old) {
            let key = util::key(&ds.metadata);
            if new.is_none() {
                c.expectations.delete(&key);
            }
            c.queue.add(&key);
        }
    });
    let c3 = Arc::downgrade(&c);
    c.pods.on_change(move |old, new| {
        if let Some(c) = c3.upgrade() {
            c.pod_changed(old.map(|p| &**p), new.map(|p| &**p));
        }
    });
    let c4 = Arc::downgrade(&c);
    c.nodes.on_change(move |old, new| {
        let Some(c) = c4.upgrade() else { return };
        // Heartbeats change only the status: only what eligibility reads matters.
        let relevant = match (old, new) {
            (Some(o), Some(n)) => o.metadata.labels != n.metadata.labels || o.spec != n.spec,
            _ => true,
        };
        if relevant {
            for ds in c.dss.list() {
                c.queue.add(&util::key(&ds.metadata));
            }
        }
    });
    let c5 = c.clone();
    t.resync(&queue, move || {
        c5.dss
            .list()
            .iter()
            .map(|d| util::key(&d.metadata))
            .collect()
    });
    let c6 = c.clone();
    t.spawn_workers(&queue, t.config.concurrent_daemonset_syncs, move |key| {
        let c = c6.clone();
        async move { c.sync(&key).await }
    });
}

impl Controller {
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<DaemonSet>> {
        (r.kind == "DaemonSet")
            .then(|| self.dss.get_in(ns, &r.name))
            .flatten()
            .filter(|d| util::uid(&d.metadata) == r.uid)
    }

    fn pod_changed(&self, old: Option<&Pod>, new: Option<&Pod>) {
        let Some(p) = new.or(old) else { return };
        let ns = util::namespace(&p.metadata);
        let owner = util::controller_ref(&p.metadata).and_then(|r| self.resolve(ns, r));
        if let Some(o) = old
            .and_then(|o| util::controller_ref(&o.metadata))
            .and_then(|r| self.resolve(ns, r))
        {
            if owner.as_ref().map(|d| util::uid(&d.metadata)) != Some(util::uid(&o.metadata)) {
                self.queue.add(&util::key(&o.metadata));
            }
        }
        match owner {
            Some(ds) => {
                let key = util::key(&ds.metadata);
                match (old, new) {
                    (None, Some(_)) => self.expectations.creation_observed(&key),
                    (_, None) => self
                        .expectations
                        .deletion_observed(&key, &util::key(&p.metadata)),
                    (_, Some(n)) if n.metadata.deletion_timestamp.is_some() => self
                        .expectations
                        .deletion_observed(&key, &util::key(&p.metadata)),
                    _ => {}
                }
                self.queue.add(&key);
                let min_ready = ds
                    .spec
                    .as_ref()
                    .and_then(|s| s.min_ready_seconds)
                    .unwrap_or(0);
                if min_ready > 0
                    && new.is_some_and(util::is_pod_ready)
                    && !old.is_some_and(util::is_pod_ready)
                {
                    self.queue
                        .add_after(&key, Duration::from_secs(min_ready as u64));
                }
            }
            None if new.is_some() => {
                for ds in self.dss.list_in(ns) {
                    if util::selector_matches(
                        ds.spec.as_ref().map(|s| &s.selector),
                        p.metadata.labels.as_ref(),
                    ) {
                        self.queue.add(&util::key(&ds.metadata));
                    }
                }
            }
            None => {}
        }
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some(ds) = self.dss.get(key) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let (ns, name) = util::split_key(key);
        if ds
            .spec
            .as_ref()
            .is_none_or(|s| util::selector_is_empty(&s.selector))
        {
            tracing::warn!(
                daemonset = key,
                "the DaemonSet has an empty selector; ignoring it"
            );
            return Ok(());
        }
        let pods = self.pods.list_in(ns);
        let nodes = self.nodes.list();
        let plan = plan(&Input {
            ds: &ds,
            nodes: &nodes,
            pods: &pods,
            now: util::now(),
            expectations_satisfied: self.expectations.satisfied(key),
        });
        let by_name: HashMap<&str, &Arc<Pod>> =
            pods.iter().map(|p| (util::name(&p.metadata), p)).collect();
        let owner = util::controller_ref_to("apps/v1", "DaemonSet", &ds.metadata);
        let me = ObjectRef::of(&*ds);
        let mut errors =
            claim_pods(&self.client, &by_name, &owner, &plan.adopt, &plan.release).await;
        if !errors.is_empty() {
            return ControllerError::collect(errors);
        }
        for (reason, message) in &plan.warnings {
            self.recorder.warning(me.clone(), reason, message.clone());
        }
        let create_on: Vec<&String> = plan.create_on.iter().take(BURST_REPLICAS).collect();
        let delete: Vec<&Arc<Pod>> = plan
            .delete
            .iter()
            .take(BURST_REPLICAS)
            .filter_map(|n| by_name.get(n.as_str()).copied())
            .collect();
        self.expectations.expect(
            key,
            create_on.len(),
            delete.iter().map(|p| util::key(&p.metadata)),
        );
        if !create_on.is_empty() {
            let hash = revision_hash(&ds);
            let next = std::sync::atomic::AtomicUsize::new(0);
            let (skipped, errs) = slow_start(create_on.len(), || {
                let node = create_on[next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
                let pod = daemon_pod(&ds, node, &hash, owner.clone());
                let me = me.clone();
                async move {
                    match self.client.create::<Pod>(&Resource::PODS, ns, &pod).await {
                        Ok(created) => {
                            self.recorder.normal(
                                me,
                                "SuccessfulCreate",
                                format!("Created pod: {}", util::name(&created.metadata)),
                            );
                            Ok(())
                        }
                        Err(e) => {
                            self.expectations.creation_observed(key);
                            self.recorder.warning(
                                me,
                                "FailedCreate",
                                format!("Error creating: {e}"),
                            );
                            Err(e).ctx(|| format!("create pod for daemon set {key} on node {node}"))
                        }
                    }
                }
            })
            .await;
            self.expectations.lower_adds(key, skipped);
            errors.extend(errs);
        }
        let results = futures::future::join_all(delete.iter().map(|p| async {
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
        if status_changed(ds.status.as_ref(), &plan.status) {
            let mut updated = (*ds).clone();
            updated.status = Some(plan.status.clone());
            match self
                .client
                .replace::<Value>(&DS_RESOURCE, ns, name, Some("status"), &updated)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("update status of daemon set {key}"),
                    source: e,
                }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taints::testutil::{node, tol};
    use crate::util::testutil::{labels, pod, ts};
    use k8s_openapi::api::apps::v1::{
        DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

    fn ds(
        max_unavailable: IntOrString,
        tolerations: Vec<Toleration>,
        selector: &[(&str, &str)],
    ) -> DaemonSet {
        DaemonSet {
            metadata: ObjectMeta {
                name: Some("agent".into()),
                namespace: Some("default".into()),
                uid: Some("ds-uid".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web")])),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        tolerations: Some(tolerations),
                        node_selector: (!selector.is_empty()).then(|| labels(selector)),
                        ..Default::default()
                    }),
                },
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_unavailable: Some(max_unavailable),
                        max_surge: None,
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A daemon pod: name, node, phase, ready, current hash or not, created.
    fn dpod(
        d: &DaemonSet,
        name: &str,
        node: &str,
        phase: &str,
        ready: bool,
        current: bool,
        created: i64,
    ) -> Arc<Pod> {
        let mut p = pod(name, phase, node, ready.then_some(0), 0, created);
        p.metadata.owner_references = Some(vec![util::controller_ref_to(
            "apps/v1",
            "DaemonSet",
            &d.metadata,
        )]);
        let hash = if current {
            revision_hash(d)
        } else {
            "old".into()
        };
        p.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(REVISION_HASH_LABEL.into(), hash);
        Arc::new(p)
    }

    /// (name, labels, taints as (key, effect)).
    type NodeSpec<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

    fn nodes(specs: &[NodeSpec]) -> Vec<Arc<Node>> {
        specs
            .iter()
            .map(|(n, l, t)| Arc::new(node(n, l, t, "True")))
            .collect()
    }

    fn run(d: &DaemonSet, nodes: &[Arc<Node>], pods: Vec<Arc<Pod>>) -> Plan {
        plan(&Input {
            ds: d,
            nodes,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
        })
    }

    #[test]
    fn eligibility() {
        let d = ds(
            IntOrString::Int(1),
            vec![tol("gpu", "Exists", NO_SCHEDULE, None)],
            &[("os", "linux")],
        );
        let spec = d.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let check = |labels: &[(&str, &str)], taints: &[(&str, &str)], want: (bool, bool)| {
            assert_eq!(
                should_run(&spec, &node("n", labels, taints, "True")),
                want,
                "{labels:?} {taints:?}"
            );
        };
        let linux: &[(&str, &str)] = &[("os", "linux")];
        check(linux, &[], (true, true));
        check(&[("os", "windows")], &[], (false, false));
        check(linux, &[("gpu", NO_SCHEDULE)], (true, true));
        check(linux, &[("dedicated", NO_SCHEDULE)], (false, true));
        check(linux, &[("dedicated", NO_EXECUTE)], (false, false));
        // The daemon tolerations.
        check(
            linux,
            &[
                (taints::UNREACHABLE, NO_EXECUTE),
                (taints::NOT_READY, NO_EXECUTE),
            ],
            (true, true),
        );
        check(
            linux,
            &[
                (taints::UNSCHEDULABLE, NO_SCHEDULE),
                (taints::DISK_PRESSURE, NO_SCHEDULE),
            ],
            (true, true),
        );
        check(
            linux,
            &[(taints::NETWORK_UNAVAILABLE, NO_SCHEDULE)],
            (false, true),
        );
    }

    #[test]
    fn manages_pods_per_node() {
        let d = ds(IntOrString::Int(1), vec![], &[]);
        let ns = nodes(&[
            ("n1", &[], &[]),
            ("n2", &[], &[]),
            ("n3", &[], &[("dedicated", NO_SCHEDULE)]),
            ("n4", &[], &[("dedicated", NO_EXECUTE)]),
            ("n5", &[], &[]),
        ]);
        let mut going = (*dpod(&d, "going", "n5", "Running", true, true, 0)).clone();
        going.metadata.deletion_timestamp = Some(Time(ts(999)));
        let pods = vec![
            dpod(&d, "n1-a", "n1", "Running", true, true, 1),
            dpod(&d, "n1-b", "n1", "Running", true, true, 5),
            dpod(&d, "n3-a", "n3", "Running", true, true, 0),
            dpod(&d, "n4-a", "n4", "Running", true, true, 0),
            Arc::new(going),
        ];
        let p = run(&d, &ns, pods);
        assert_eq!(
            p.create_on,
            vec!["n2"],
            "n5 waits for its terminating pod; n3 keeps its pod but gets none new"
        );
        assert_eq!(
            p.delete,
            vec!["n1-b", "n4-a"],
            "the younger duplicate and the pod on an untolerated NoExecute node"
        );
        let s = &p.status;
        assert_eq!(
            (
                s.desired_number_scheduled,
                s.current_number_scheduled,
                s.number_misscheduled,
                s.number_ready
            ),
            (3, 1, 2, 1)
        );
        assert_eq!(
            (
                s.number_available,
                s.updated_number_scheduled,
                s.observed_generation
            ),
            (Some(1), Some(1), Some(2))
        );
    }

    #[test]
    fn failed_pods_are_deleted_with_a_warning() {
        let d = ds(IntOrString::Int(1), vec![], &[]);
        let ns = nodes(&[("n1", &[], &[])]);
        let p = run(
            &d,
            &ns,
            vec![dpod(&d, "dead", "n1", "Failed", false, true, 0)],
        );
        assert_eq!(p.delete, vec!["dead"]);
        assert!(
            p.create_on.is_empty(),
            "the failed pod still occupies the node until it is gone"
        );
        assert_eq!(
            p.warnings[0].1,
            "Found failed daemon pod default/dead on node n1, will try to kill it"
        );
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let names = ["n1", "n2", "n3", "n4"];
        let ns: Vec<Arc<Node>> = names
            .iter()
            .map(|n| Arc::new(node(n, &[], &[], "True")))
            .collect();
        // (what, maxUnavailable, pods as (node, ready, current), want deleted)
        type Case = (
            &'static str,
            IntOrString,
            Vec<(&'static str, bool, bool)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "one at a time",
                IntOrString::Int(1),
                vec![
                    ("n1", true, false),
                    ("n2", true, false),
                    ("n3", true, false),
                    ("n4", true, false),
                ],
                vec!["p-n1"],
            ),
            (
                "50%",
                IntOrString::String("50%".into()),
                vec![
                    ("n1", true, false),
                    ("n2", true, false),
                    ("n3", true, false),
                    ("n4", true, false),
                ],
                vec!["p-n1", "p-n2"],
            ),
            (
                "a new pod not ready uses the budget",
                IntOrString::Int(1),
                vec![
                    ("n1", false, true),
                    ("n2", true, false),
                    ("n3", true, false),
                    ("n4", true, false),
                ],
                vec![],
            ),
            (
                "an unavailable old pod is replaced anyway",
                IntOrString::Int(1),
                vec![
                    ("n1", false, true),
                    ("n2", false, false),
                    ("n3", true, false),
                    ("n4", true, false),
                ],
                vec!["p-n2"],
            ),
            (
                "a missing pod uses the budget",
                IntOrString::Int(2),
                vec![
                    ("n2", true, false),
                    ("n3", true, false),
                    ("n4", true, false),
                ],
                vec!["p-n2"],
            ),
            (
                "done",
                IntOrString::Int(1),
                vec![
                    ("n1", true, true),
                    ("n2", true, true),
                    ("n3", true, true),
                    ("n4", true, true),
                ],
                vec![],
            ),
        ];
        for (what, mu, pods, want) in cases {
            let d = ds(mu, vec![], &[]);
            let pods: Vec<Arc<Pod>> = pods
                .iter()
                .map(|(n, r, c)| dpod(&d, &format!("p-{n}"), n, "Running", *r, *c, 0))
                .collect();
            let p = run(&d, &ns, pods);
            assert_eq!(p.delete, want, "{what}");
        }
        let d = ds(IntOrString::Int(1), vec![], &[]);
        let pods: Vec<Arc<Pod>> = names
            .iter()
            .map(|n| dpod(&d, &format!("p-{n}"), n, "Running", true, *n != "n4", 0))
            .collect();
        let s = run(&d, &ns, pods).status;
        assert_eq!(
            (
                s.updated_number_scheduled,
                s.number_available,
                s.desired_number_scheduled
            ),
            (Some(3), Some(4), 4)
        );
    }

    #[test]
    fn adopts_unscheduled_pods_by_their_affinity_and_waits_on_expectations() {
        let d = ds(IntOrString::Int(1), vec![], &[]);
        let ns = nodes(&[("n1", &[], &[]), ("n2", &[], &[])]);
        let mut pending = daemon_pod(
            &d,
            "n1",
            &revision_hash(&d),
            util::controller_ref_to("apps/v1", "DaemonSet", &d.metadata),
        );
        pending.metadata.name = Some("pending".into());
        let mut orphan = pod("orphan", "Running", "n2", Some(0), 0, 0);
        orphan
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert(REVISION_HASH_LABEL.into(), revision_hash(&d));
        let pods = vec![Arc::new(pending), Arc::new(orphan)];
        let p = run(&d, &ns, pods.clone());
        assert!(p.create_on.is_empty(), "{:?}", p.create_on);
        assert_eq!(p.adopt, vec!["orphan"]);
        assert_eq!(p.status.current_number_scheduled, 2);
        let p = plan(&Input {
            ds: &d,
            nodes: &ns[..1],
            pods: &[],
            now: ts(1000),
            expectations_satisfied: false,
        });
        assert!(p.create_on.is_empty());
        assert_eq!(p.status.desired_number_scheduled, 1);
    }

    #[test]
    fn daemon_pod_shape() {
        let mut d = ds(
            IntOrString::Int(1),
            vec![tol("gpu", "Exists", NO_SCHEDULE, None)],
            &[],
        );
        let terms = vec![NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: "os".into(),
                operator: "In".into(),
                values: Some(vec!["linux".into()]),
            }]),
            match_fields: None,
        }];
        d.spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = daemon_pod(
            &d,
            "n7",
            "h4sh",
            util::controller_ref_to("apps/v1", "DaemonSet", &d.metadata),
        );
        assert_eq!(target_node(&p), Some("n7"));
        let spec = p.spec.as_ref().unwrap();
        assert!(spec.node_name.is_none());
        let term = &spec
            .affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].key,
            "os",
            "the template's expressions are kept"
        );
        assert_eq!(spec.tolerations.as_ref().unwrap().len(), 7);
        let l = p.metadata.labels.as_ref().unwrap();
        assert_eq!(
            (
                l[REVISION_HASH_LABEL].as_str(),
                l[TEMPLATE_GENERATION_LABEL].as_str()
            ),
            ("h4sh", "2")
        );
        assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
        assert!(taints::node_matches(
            spec,
            &node("n7", &[("os", "linux")], &[], "True")
        ));
        assert!(!taints::node_matches(
            spec,
            &node("n8", &[("os", "linux")], &[], "True")
        ));
    }
}
