//! The Deployment controller: rolls a Deployment's pod template out through ReplicaSets
//! named `<deployment>-<pod-template-hash>`, as kube-controller-manager does: RollingUpdate
//! (maxSurge rounds up, maxUnavailable down, both zero means one unavailable) and Recreate,
//! proportional scaling of every active ReplicaSet during a rollout, pause and resume,
//! revisions (`deployment.kubernetes.io/revision`, reused on rollback: an existing ReplicaSet
//! whose template equals the Deployment's, ignoring the hash label, is the new one),
//! revisionHistoryLimit cleanup, and the Progressing/Available conditions with
//! progressDeadlineSeconds.
//!
//! `plan` is the whole decision for one sync, without IO: the shell creates, updates and
//! deletes ReplicaSets in the plan's order and writes the status.

use crate::error::{Context, ControllerError};
use crate::events::{EventType, ObjectRef, Recorder};
use crate::informers::{Informer, Kind};
use crate::replicaset::{delete_with_uid, RS_RESOURCE};
use crate::util::{self, Labels};
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::api::PatchType;
use berth_client::{Client, Resource};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "deployment-controller";
pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// kube-controller-manager's `maxRevHistoryLengthInChars`.
const MAX_REV_HISTORY_CHARS: usize = 2000;
const DEPLOYMENT_RESOURCE: Resource = <Deployment as Kind>::RESOURCE;

// Condition reasons, as deployment/util names them.
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// (maxSurge, maxUnavailable) resolved against `replicas` (deployment/util's
/// `ResolveFenceposts`): surge rounds up, unavailable down; both zero means one unavailable.
pub fn resolve_fenceposts(d: &Deployment, replicas: i32) -> (i32, i32) {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge_v = ru
        .and_then(|r| r.max_surge.clone())
        .unwrap_or(quarter.clone());
    let unav_v = ru
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(quarter);
    let surge = util::scaled_value(&surge_v, replicas, true)
        .unwrap_or(0)
        .max(0);
    let mut unavailable = util::scaled_value(&unav_v, replicas, false)
        .unwrap_or(0)
        .max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

pub fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t != "Recreate")
}

fn replicas_of(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    resolve_fenceposts(d, replicas_of(d)).0
}

pub fn max_unavailable(d: &Deployment) -> i32 {
    let r = replicas_of(d);
    if !is_rolling(d) || r == 0 {
        return 0;
    }
    resolve_fenceposts(d, r).1.min(r)
}

fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .map(|s| s.progress_deadline_seconds.unwrap_or(600))
        .filter(|s| *s != i32::MAX)
}

/// The template with the hash label removed and empty maps dropped: what "equal ignoring
/// the hash" compares.
fn template_without_hash(t: &PodTemplateSpec) -> Value {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(HASH_LABEL);
            if l.is_empty() {
                m.labels = None;
            }
        }
    }
    serde_json::to_value(&t).unwrap_or(Value::Null)
}

/// deployment/util's `EqualIgnoreHash`.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    util::canonical_json(&template_without_hash(a))
        == util::canonical_json(&template_without_hash(b))
}

/// The pod-template-hash: FNV-1a over the template's canonical JSON (and the collision
/// count), rendered with apimachinery's `SafeEncodeString`, as Kubernetes' `ComputeHash`
/// does over its own object dump.
pub fn template_hash(t: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = util::canonical_json(&template_without_hash(t)).into_bytes();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
    }
    util::safe_encode(&util::fnv32a(&bytes).to_string())
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}
fn set_rs_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}
fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}
fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}
fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}
fn annotation<'a>(meta: &'a ObjectMeta, k: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(k).map(String::as_str)
}
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
fn created(rs: &ReplicaSet) -> Option<Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// ReplicaSetsByCreationTimestamp: older first, then by name.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    created(a)
        .cmp(&created(b))
        .then_with(|| util::name(&a.metadata).cmp(util::name(&b.metadata)))
}

/// What the shell does, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateRs(Box<ReplicaSet>),
    UpdateRs(Box<ReplicaSet>),
    DeleteRs(Box<ObjectMeta>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// (type, reason, message) on the Deployment.
    pub events: Vec<(EventType, &'static str, String)>,
    /// The new status, when it differs from the current one.
    pub status: Option<DeploymentStatus>,
    /// The Deployment's `deployment.kubernetes.io/revision`, when it must change.
    pub revision: Option<String>,
    pub requeue_after: Option<Duration>,
    /// Sync again soon (rate limited): a deadline is about to pass.
    pub requeue_soon: bool,
}

pub struct Input<'a> {
    pub d: &'a Deployment,
    /// The ReplicaSets the Deployment controls (after claiming).
    pub rss: Vec<ReplicaSet>,
    /// Pods of the namespace (for Recreate's "old pods still running").
    pub pods: &'a [Arc<Pod>],
    pub now: Timestamp,
}

/// The working state of one sync.
struct Work<'a> {
    d: &'a Deployment,
    replicas: i32,
    surge: i32,
    now: Timestamp,
    rss: Vec<ReplicaSet>,
    new_idx: Option<usize>,
    created_new: bool,
    dirty: Vec<usize>,
    plan: Plan,
    status: DeploymentStatus,
    revision_annotation: Option<String>,
}

fn condition<'s>(s: &'s DeploymentStatus, type_: &str) -> Option<&'s DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(util::time(now)),
        last_transition_time: Some(util::time(now)),
    }
}

/// deployment/util's `SetDeploymentCondition`.
fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(s, &c.type_.clone());
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = s.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
    }
}

impl<'a> Work<'a> {
    fn active(&self, i: usize) -> bool {
        rs_replicas(&self.rss[i]) > 0
    }

    fn old_indexes(&self) -> Vec<usize> {
        (0..self.rss.len())
            .filter(|i| Some(*i) != self.new_idx)
            .collect()
    }

    fn touch(&mut self, i: usize) {
        if !self.dirty.contains(&i) {
            self.dirty.push(i);
        }
    }

    /// Sets desired/max replicas annotations; true when they changed.
    fn set_replicas_annotations(&mut self, i: usize) -> bool {
        let desired = self.replicas.to_string();
        let max = (self.replicas + self.surge).to_string();
        let a = self.rss[i]
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        let mut changed = false;
        for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
            if a.get(k) != Some(&v) {
                a.insert(k.into(), v);
                changed = true;
            }
        }
        changed
    }

    /// `scaleReplicaSet`: size and replica annotations, with the ScalingReplicaSet event.
    fn scale(&mut self, i: usize, new_scale: i32, op: &str) {
        let old = rs_replicas(&self.rss[i]);
        let size_changed = old != new_scale;
        let ann_changed = self.set_replicas_annotations(i);
        if size_changed || ann_changed {
            set_rs_replicas(&mut self.rss[i], new_scale);
            self.touch(i);
        }
        if size_changed {
            let name = util::name(&self.rss[i].metadata).to_string();
            self.plan.events.push((
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled {op} replica set {name} from {old} to {new_scale}"),
            ));
        }
    }

    /// `scaleReplicaSetAndRecordEvent`: true when the size changed.
    fn scale_and_record(&mut self, i: usize, new_scale: i32) -> bool {
        let old = rs_replicas(&self.rss[i]);
        if old == new_scale {
            return false;
        }
        let op = if old < new_scale { "up" } else { "down" };
        self.scale(i, new_scale, op);
        true
    }

    fn max_old_revision(&self) -> i64 {
        self.old_indexes()
            .into_iter()
            .map(|i| revision(&self.rss[i]))
            .max()
            .unwrap_or(0)
    }

    /// `SetNewReplicaSetAnnotations`: true when an annotation changed.
    fn set_new_rs_annotations(&mut self, i: usize, new_revision: i64, exists: bool) -> bool {
        let mut changed = false;
        let d_ann = self.d.metadata.annotations.clone().unwrap_or_default();
        let a = self.rss[i]
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        for (k, v) in d_ann {
            if [
                LAST_APPLIED,
                REVISION,
                REVISION_HISTORY,
                DESIRED_REPLICAS,
                MAX_REPLICAS,
                ROLLBACK_TO,
            ]
            .contains(&k.as_str())
                || a.get(&k) == Some(&v)
            {
                continue;
            }
            a.insert(k, v);
            changed = true;
        }
        let old_revision = a.get(REVISION).cloned();
        let old_int: i64 = match old_revision.as_deref() {
            None | Some("") => 0,
            Some(s) => match s.parse() {
                Ok(n) => n,
                Err(_) => return changed,
            },
        };
        if old_int < new_revision {
            a.insert(REVISION.into(), new_revision.to_string());
            changed = true;
            if let Some(old) = old_revision.filter(|s| !s.is_empty()) {
                let hist = a.get(REVISION_HISTORY).cloned().unwrap_or_default();
                if hist.is_empty() {
                    a.insert(REVISION_HISTORY.into(), old);
                } else {
                    let mut parts: Vec<&str> = hist.split(',').collect();
                    let mut total = hist.len() + old.len() + 1;
                    let mut start = 0;
                    while total > MAX_REV_HISTORY_CHARS && start < parts.len() {
                        total -= parts[start].len() + 1;
                        start += 1;
                    }
                    if total <= MAX_REV_HISTORY_CHARS {
                        parts = parts.split_off(start);
                        parts.push(&old);
                        let joined = parts.join(",");
                        a.insert(REVISION_HISTORY.into(), joined);
                    }
                }
            }
        }
        if !exists && self.set_replicas_annotations(i) {
            changed = true;
        }
        changed
    }

    /// `getNewReplicaSet`: finds (and updates) or, when `create`, creates the new RS.
    fn new_rs(&mut self, create: bool) {
        let new_revision = self.max_old_revision() + 1;
        if let Some(i) = self.new_idx {
            if self.created_new {
                return;
            }
            let mut updated = self.set_new_rs_annotations(i, new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let rs_spec = self.rss[i].spec.get_or_insert_with(Default::default);
            if rs_spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0) {
                rs_spec.min_ready_seconds = min_ready;
                updated = true;
            }
            if updated {
                self.touch(i);
            }
            let rev = annotation(&self.rss[i].metadata, REVISION)
                .unwrap_or("")
                .to_string();
            self.set_deployment_revision(rev);
            if progress_deadline(self.d).is_some()
                && condition(&self.status, "Progressing").is_none()
            {
                let msg = format!(
                    "Found new replica set {:?}",
                    util::name(&self.rss[i].metadata)
                );
                set_condition(
                    &mut self.status,
                    new_condition("Progressing", "True", FOUND_NEW_RS, msg, self.now),
                );
            }
            return;
        }
        if !create {
            return;
        }
        let d = self.d;
        let spec = d.spec.clone().unwrap_or_default();
        let hash = template_hash(
            &spec.template,
            d.status.as_ref().and_then(|s| s.collision_count),
        );
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", util::name(&d.metadata));
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.metadata.namespace.clone(),
                owner_references: Some(vec![util::controller_ref_to(
                    "apps/v1",
                    "Deployment",
                    &d.metadata,
                )]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        self.rss.push(rs);
        let i = self.rss.len() - 1;
        self.new_idx = Some(i);
        self.created_new = true;
        let n = self.new_rs_new_replicas(i);
        set_rs_replicas(&mut self.rss[i], n);
        self.set_new_rs_annotations(i, new_revision, false);
        if n > 0 {
            self.plan.events.push((
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {n}"),
            ));
        }
        self.set_deployment_revision(new_revision.to_string());
        if progress_deadline(d).is_some() {
            let msg = format!("Created new replica set {name:?}");
            set_condition(
                &mut self.status,
                new_condition("Progressing", "True", NEW_RS_CREATED, msg, self.now),
            );
        }
    }

    fn set_deployment_revision(&mut self, rev: String) {
        if annotation(&self.d.metadata, REVISION) != Some(rev.as_str()) && !rev.is_empty() {
            self.revision_annotation = Some(rev);
        }
    }

    /// `NewRSNewReplicas`.
    fn new_rs_new_replicas(&self, new_i: usize) -> i32 {
        let new_replicas = rs_replicas(&self.rss[new_i]);
        if !is_rolling(self.d) {
            return self.replicas;
        }
        let current: i32 = self.rss.iter().map(rs_replicas).sum();
        let max_total = self.replicas + self.surge;
        if current >= max_total {
            return new_replicas;
        }
        let up = (max_total - current)
            .min(self.replicas - new_replicas)
            .max(0);
        new_replicas + up
    }

    /// `FindActiveOrLatest`.
    fn active_or_latest(&self) -> Option<usize> {
        let mut olds = self.old_indexes();
        olds.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let mut all: Vec<usize> = olds.clone();
        if let Some(n) = self.new_idx {
            all.push(n);
        }
        let active: Vec<usize> = all.into_iter().filter(|i| self.active(*i)).collect();
        match active.len() {
            0 => self.new_idx.or(olds.last().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    fn is_saturated(&self, i: usize) -> bool {
        let rs = &self.rss[i];
        let desired =
            annotation(&rs.metadata, DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
        rs_replicas(rs) == self.replicas
            && desired == Some(self.replicas)
            && rs_available(rs) == self.replicas
    }

    /// `scale`: the Deployment's size changed (or it is paused).
    fn scale_all(&mut self) {
        if let Some(i) = self.active_or_latest() {
            if rs_replicas(&self.rss[i]) != self.replicas {
                self.scale_and_record(i, self.replicas);
            }
            return;
        }
        if self.new_idx.is_some_and(|n| self.is_saturated(n)) {
            for i in self.old_indexes() {
                if self.active(i) {
                    self.scale_and_record(i, 0);
                }
            }
            return;
        }
        if !is_rolling(self.d) {
            return;
        }
        let mut all: Vec<usize> = (0..self.rss.len()).filter(|i| self.active(*i)).collect();
        let total: i32 = all.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        let allowed = if self.replicas > 0 {
            self.replicas + self.surge
        } else {
            0
        };
        let to_add = allowed - total;
        let (op, newer_first) = if to_add > 0 {
            ("up", true)
        } else {
            ("down", false)
        };
        all.sort_by(|a, b| {
            let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
            rs_replicas(rb).cmp(&rs_replicas(ra)).then_with(|| {
                if newer_first {
                    by_creation(rb, ra)
                } else {
                    by_creation(ra, rb)
                }
            })
        });
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for &i in &all {
            let cur = rs_replicas(&self.rss[i]);
            if to_add != 0 {
                let p = self.proportion(i, to_add, added);
                sizes.push(cur + p);
                added += p;
            } else {
                sizes.push(cur);
            }
        }
        for (k, &i) in all.iter().enumerate() {
            if k == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale(i, sizes[k], op);
        }
    }

    /// `GetProportion`.
    fn proportion(&self, i: usize, to_add: i32, added: i32) -> i32 {
        let rs = &self.rss[i];
        if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// `getReplicaSetFraction`.
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        if self.replicas == 0 {
            return -rs_replicas(rs);
        }
        let deployment_replicas = self.replicas + self.surge;
        let annotated = annotation(&rs.metadata, MAX_REPLICAS)
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or_else(|| self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
        if annotated == 0 {
            return 0;
        }
        let size = rs_replicas(rs) as f64 * deployment_replicas as f64 / annotated as f64;
        size.round() as i32 - rs_replicas(rs)
    }

    fn is_scaling_event(&self) -> bool {
        (0..self.rss.len()).filter(|i| self.active(*i)).any(|i| {
            annotation(&self.rss[i].metadata, DESIRED_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .is_some_and(|desired| desired != self.replicas)
        })
    }

    /// `reconcileNewReplicaSet`: true when the new RS was scaled.
    fn reconcile_new(&mut self) -> bool {
        let Some(n) = self.new_idx else { return false };
        let cur = rs_replicas(&self.rss[n]);
        if cur == self.replicas {
            return false;
        }
        if cur > self.replicas {
            return self.scale_and_record(n, self.replicas);
        }
        let target = self.new_rs_new_replicas(n);
        self.scale_and_record(n, target)
    }

    /// `reconcileOldReplicaSets`: true when an old RS was scaled down.
    fn reconcile_old(&mut self) -> bool {
        let Some(n) = self.new_idx else { return false };
        let mut olds: Vec<usize> = self
            .old_indexes()
            .into_iter()
            .filter(|i| self.active(*i))
            .collect();
        let old_count: i32 = olds.iter().map(|i| rs_replicas(&self.rss[*i])).sum();
        if old_count == 0 {
            return false;
        }
        let all_count: i32 = self.rss.iter().map(rs_replicas).sum();
        let min_available = self.replicas - max_unavailable(self.d);
        let new_unavailable = rs_replicas(&self.rss[n]) - rs_available(&self.rss[n]);
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        olds.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        // Unhealthy replicas first, or they block the rollout until it times out.
        let mut cleaned = 0;
        for &i in &olds {
            if cleaned >= max_scaled_down {
                break;
            }
            let (r, a) = (rs_replicas(&self.rss[i]), rs_available(&self.rss[i]));
            if r == 0 || r == a {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(r - a);
            self.scale_and_record(i, r - down);
            cleaned += down;
        }
        // Then healthy ones, keeping minAvailable.
        let available: i32 = self.rss.iter().map(rs_available).sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for &i in &olds {
                if scaled >= total {
                    break;
                }
                let r = rs_replicas(&self.rss[i]);
                if r == 0 {
                    continue;
                }
                let down = r.min(total - scaled);
                self.scale_and_record(i, r - down);
                scaled += down;
            }
        }
        cleaned + scaled > 0
    }

    /// `calculateStatus` (with the Available condition).
    fn calculate_status(&self) -> DeploymentStatus {
        let available: i32 = self.rss.iter().map(rs_available).sum();
        let total: i32 = self.rss.iter().map(rs_replicas).sum();
        let mut s = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(self.rss.iter().map(rs_status_replicas).sum()),
            updated_replicas: Some(
                self.new_idx
                    .map(|n| rs_status_replicas(&self.rss[n]))
                    .unwrap_or(0),
            ),
            ready_replicas: Some(self.rss.iter().map(rs_ready).sum()),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            collision_count: self.status.collision_count,
            conditions: self.status.conditions.clone(),
            terminating_replicas: None,
        };
        let c = if available >= self.replicas - max_unavailable(self.d) {
            new_condition(
                "Available",
                "True",
                MIN_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            new_condition(
                "Available",
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut s, c);
        s
    }

    /// `syncRolloutStatus`: status with the Progressing condition; requeue for the deadline.
    fn rollout_status(&mut self) {
        let mut s = self.calculate_status();
        let deadline = progress_deadline(self.d);
        if deadline.is_none() {
            remove_condition(&mut s, "Progressing");
        }
        let cur = condition(&s, "Progressing").cloned();
        let complete_already = s.replicas == s.updated_replicas
            && cur
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        let new_name = self
            .new_idx
            .map(|n| util::name(&self.rss[n].metadata).to_string());
        if let (Some(deadline), false) = (deadline, complete_already) {
            if self.complete(&s) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} has successfully progressed."),
                    None => "Deployment has successfully progressed.".into(),
                };
                set_condition(
                    &mut s,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, self.now),
                );
            } else if self.progressing(&s) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} is progressing."),
                    None => "Deployment is progressing.".into(),
                };
                let mut c = new_condition("Progressing", "True", RS_UPDATED, msg, self.now);
                if let Some(cur) = &cur {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut s, "Progressing");
                }
                set_condition(&mut s, c);
            } else if timed_out(cur.as_ref(), deadline, self.now) {
                let msg = match &new_name {
                    Some(n) => format!("ReplicaSet {n:?} has timed out progressing."),
                    None => "Deployment has timed out progressing.".into(),
                };
                set_condition(
                    &mut s,
                    new_condition("Progressing", "False", TIMED_OUT, msg, self.now),
                );
            }
        }
        // requeueStuckDeployment, when nothing else changes.
        if let (Some(deadline), Some(c)) = (deadline, condition(&s, "Progressing")) {
            if !self.complete(&s) && c.reason.as_deref() != Some(TIMED_OUT) {
                let from = c.last_update_time.as_ref().map(|t| t.0).unwrap_or(self.now);
                let after =
                    (from + SignedDuration::from_secs(deadline as i64)).duration_since(self.now);
                if after < SignedDuration::from_secs(1) {
                    self.plan.requeue_soon = true;
                } else {
                    self.plan.requeue_after = Some(Duration::from_secs(after.as_secs() as u64));
                }
            }
        }
        self.status = s;
    }

    /// `DeploymentComplete`.
    fn complete(&self, s: &DeploymentStatus) -> bool {
        let r = Some(self.replicas);
        s.updated_replicas == r
            && s.replicas == r
            && s.available_replicas == r
            && s.observed_generation >= self.d.metadata.generation
    }

    /// `DeploymentProgressing`: against the status as it stands in this sync.
    fn progressing(&self, s: &DeploymentStatus) -> bool {
        let old = &self.status;
        let g = |v: Option<i32>| v.unwrap_or(0);
        let old_old = g(old.replicas) - g(old.updated_replicas);
        let new_old = g(s.replicas) - g(s.updated_replicas);
        g(s.updated_replicas) > g(old.updated_replicas)
            || new_old < old_old
            || g(s.ready_replicas) > g(old.ready_replicas)
            || g(s.available_replicas) > g(old.available_replicas)
    }

    /// `cleanupDeployment`: old RSs beyond revisionHistoryLimit, oldest revision first.
    fn cleanup(&mut self) {
        let limit = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10)
            .max(0) as usize;
        let mut cleanable: Vec<usize> = self
            .old_indexes()
            .into_iter()
            .filter(|i| self.rss[*i].metadata.deletion_timestamp.is_none())
            .collect();
        if cleanable.len() <= limit {
            return;
        }
        let diff = cleanable.len() - limit;
        cleanable.sort_by(|a, b| {
            let (ra, rb) = (&self.rss[*a], &self.rss[*b]);
            revision(ra)
                .cmp(&revision(rb))
                .then_with(|| by_creation(ra, rb))
        });
        for &i in cleanable.iter().take(diff) {
            let rs = &self.rss[i];
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
                || self.dirty.contains(&i)
            {
                continue;
            }
            self.plan
                .actions
                .push(Action::DeleteRs(Box::new(rs.metadata.clone())));
        }
    }

    fn check_paused_conditions(&mut self) {
        if progress_deadline(self.d).is_none() {
            return;
        }
        let cur = condition(&self.status, "Progressing");
        if cur.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return;
        }
        let paused_exists = cur.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused && !paused_exists {
            set_condition(
                &mut self.status,
                new_condition(
                    "Progressing",
                    "Unknown",
                    PAUSED,
                    "Deployment is paused".into(),
                    self.now,
                ),
            );
        } else if !paused && paused_exists {
            set_condition(
                &mut self.status,
                new_condition(
                    "Progressing",
                    "Unknown",
                    RESUMED,
                    "Deployment is resumed".into(),
                    self.now,
                ),
            );
        }
    }

    /// `oldPodsRunning` for Recreate.
    fn old_pods_running(&self, pods: &[Arc<Pod>]) -> bool {
        let olds = self.old_indexes();
        if olds.iter().any(|i| rs_status_replicas(&self.rss[*i]) > 0) {
            return true;
        }
        let old_uids: Vec<&str> = olds
            .iter()
            .map(|i| util::uid(&self.rss[*i].metadata))
            .collect();
        pods.iter().any(|p| {
            util::controller_ref(&p.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
                && !matches!(util::phase(p), "Succeeded" | "Failed")
        })
    }

    fn finish(mut self) -> Plan {
        let original = self.d.status.clone().unwrap_or_default();
        if self.created_new {
            if let Some(n) = self.new_idx {
                self.plan
                    .actions
                    .insert(0, Action::CreateRs(Box::new(self.rss[n].clone())));
            }
        }
        let deletes = std::mem::take(&mut self.plan.actions);
        let mut actions: Vec<Action> = Vec::new();
        actions.extend(
            deletes
                .iter()
                .filter(|a| matches!(a, Action::CreateRs(_)))
                .cloned(),
        );
        for &i in &self.dirty {
            if self.created_new && Some(i) == self.new_idx {
                continue;
            }
            actions.push(Action::UpdateRs(Box::new(self.rss[i].clone())));
        }
        actions.extend(
            deletes
                .into_iter()
                .filter(|a| matches!(a, Action::DeleteRs(_))),
        );
        self.plan.actions = actions;
        if !status_equal(&original, &self.status) {
            self.plan.status = Some(self.status.clone());
        }
        self.plan.revision = self.revision_annotation;
        self.plan
    }
}

fn timed_out(cur: Option<&DeploymentCondition>, deadline: i32, now: Timestamp) -> bool {
    let Some(c) = cur else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => {
            let from = c.last_update_time.as_ref().map(|t| t.0).unwrap_or(now);
            from + SignedDuration::from_secs(deadline as i64) < now
        }
    }
}

/// Statuses compared as written (zero counts and absent counts are the same).
fn status_equal(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    let norm = |s: &DeploymentStatus| {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        if let Some(m) = v.as_object_mut() {
            m.retain(|_, x| *x != json!(0) && !x.is_null() && *x != json!([]));
        }
        v
    };
    norm(a) == norm(b)
}

/// The whole decision of one sync (`syncDeployment`).
pub fn plan(input: Input) -> Plan {
    let d = input.d;
    let replicas = replicas_of(d);
    let mut rss = input.rss;
    rss.sort_by(by_creation);
    let template = d
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let new_idx = rss.iter().position(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, &template))
    });
    let mut w = Work {
        d,
        replicas,
        surge: max_surge(d),
        now: input.now,
        rss,
        new_idx,
        created_new: false,
        dirty: Vec::new(),
        plan: Plan::default(),
        status: d.status.clone().unwrap_or_default(),
        revision_annotation: None,
    };
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if d.metadata.deletion_timestamp.is_some() {
        // syncStatusOnly
        w.new_rs(false);
        w.status = w.calculate_status();
        return w.finish();
    }
    w.check_paused_conditions();
    if paused || w.is_scaling_event() {
        // sync: scale only, never create
        w.new_rs(false);
        w.scale_all();
        if paused {
            w.cleanup();
        }
        w.status = w.calculate_status();
        return w.finish();
    }
    if is_rolling(d) {
        w.new_rs(true);
        if w.reconcile_new() || w.reconcile_old() {
            w.rollout_status();
            return w.finish();
        }
        if w.complete(&d.status.clone().unwrap_or_default()) {
            w.cleanup();
        }
        w.rollout_status();
        return w.finish();
    }
    // Recreate.
    w.new_rs(false);
    let mut scaled_down = false;
    for i in w.old_indexes() {
        if w.active(i) {
            scaled_down |= w.scale_and_record(i, 0);
        }
    }
    if scaled_down || w.old_pods_running(input.pods) {
        w.rollout_status();
        return w.finish();
    }
    if w.new_idx.is_none() {
        w.new_rs(true);
    }
    if let Some(n) = w.new_idx {
        if !w.created_new {
            w.scale_and_record(n, replicas);
        }
    }
    if w.complete(&d.status.clone().unwrap_or_default()) {
        w.cleanup();
    }
    w.rollout_status();
    w.finish()
}

pub struct Controller {
    client: Client,
    deployments: Arc<Informer<Deployment>>,
    rss: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("deployment");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        deployments: t.informers.get::<Deployment>(),
        rss: t.informers.get::<ReplicaSet>(),
        pods: t.informers.get::<Pod>(),
        queue: queue.clone(),
        recorder: t.recorder.with_component(COMPONENT),
    });
    let q = queue.clone();
    c.deployments.on_change(move |old, new| {
        if let Some(d) = new.or(old) {
            q.add(&util::key(&d.metadata));
        }
    });
    let w = Arc::downgrade(&c);
    c.rss.on_change(move |old, new| {
        let Some(c) = w.upgrade() else { return };
        for rs in [old, new].into_iter().flatten() {
            c.enqueue_owner_of_rs(rs);
        }
    });
    let w = Arc::downgrade(&c);
    c.pods.on_change(move |old, new| {
        // Recreate waits for old pods to go: a deleted pod wakes its Deployment.
        let (Some(p), None) = (old, new) else { return };
        let Some(c) = w.upgrade() else { return };
        let ns = util::namespace(&p.metadata);
        if let Some(r) = util::controller_ref(&p.metadata).filter(|r| r.kind == "ReplicaSet") {
            if let Some(rs) = c.rss.get_in(ns, &r.name) {
                c.enqueue_owner_of_rs(&rs);
            }
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.deployments
            .list()
            .iter()
            .map(|d| util::key(&d.metadata))
            .collect()
    });
    let workers = t.config.concurrent_deployment_syncs;
    t.spawn_workers(&queue, workers, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

impl Controller {
    fn enqueue_owner_of_rs(&self, rs: &ReplicaSet) {
        let ns = util::namespace(&rs.metadata);
        match util::controller_ref(&rs.metadata) {
            Some(r) if r.kind == "Deployment" => {
                if let Some(d) = self
                    .deployments
                    .get_in(ns, &r.name)
                    .filter(|d| util::uid(&d.metadata) == r.uid)
                {
                    self.queue.add(&util::key(&d.metadata));
                }
            }
            Some(_) => {}
            None => {
                // An orphan: every Deployment that would adopt it.
                for d in self.deployments.list_in(ns) {
                    let sel = d.spec.as_ref().map(|s| &s.selector);
                    if util::selector_matches(sel, rs.metadata.labels.as_ref()) {
                        self.queue.add(&util::key(&d.metadata));
                    }
                }
            }
        }
    }

    /// Claims ReplicaSets (adopt matching orphans, release non-matching), as
    /// `getReplicaSetsForDeployment`.
    async fn claim(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, ControllerError> {
        let ns = util::namespace(&d.metadata);
        let d_uid = util::uid(&d.metadata);
        let deleting = d.metadata.deletion_timestamp.is_some();
        let sel = d.spec.as_ref().map(|s| &s.selector);
        let owner = util::controller_ref_to("apps/v1", "Deployment", &d.metadata);
        let mut out = Vec::new();
        for rs in self.rss.list_in(ns) {
            let matches = util::selector_matches(sel, rs.metadata.labels.as_ref());
            match util::controller_ref(&rs.metadata) {
                Some(r) if r.uid == d_uid => {
                    if matches || deleting {
                        if matches {
                            out.push((*rs).clone());
                        }
                        continue;
                    }
                    let refs: Vec<OwnerReference> = rs
                        .metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .filter(|r| r.uid != d_uid)
                        .cloned()
                        .collect();
                    self.patch_rs_owners(&rs, refs).await?;
                }
                Some(_) => {}
                None if matches && !deleting && rs.metadata.deletion_timestamp.is_none() => {
                    let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
                    refs.push(owner.clone());
                    self.patch_rs_owners(&rs, refs).await?;
                    let mut adopted = (*rs).clone();
                    adopted.metadata.owner_references = Some(vec![owner.clone()]);
                    out.push(adopted);
                }
                None => {}
            }
        }
        Ok(out)
    }

    async fn patch_rs_owners(
        &self,
        rs: &ReplicaSet,
        refs: Vec<OwnerReference>,
    ) -> Result<(), ControllerError> {
        let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": rs.metadata.resource_version}});
        let (ns, name) = (util::namespace(&rs.metadata), util::name(&rs.metadata));
        self.client
            .patch::<Value>(&RS_RESOURCE, ns, name, None, PatchType::Merge, &patch)
            .await
            .ctx(|| format!("update ownerReferences of replica set {ns}/{name}"))?;
        Ok(())
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some(d) = self.deployments.get(key) else {
            return Ok(());
        };
        let (ns, name) = util::split_key(key);
        let me = ObjectRef::of(&*d);
        let selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        if util::selector_is_empty(&selector) {
            self.recorder.warning(
                me,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            return Ok(());
        }
        let rss = self.claim(&d).await?;
        let pods = self.pods.list_in(ns);
        let plan = plan(Input {
            d: &d,
            rss,
            pods: &pods,
            now: util::now(),
        });
        let result = self.apply(&d, &plan).await;
        for (t, reason, msg) in &plan.events {
            self.recorder.event(me.clone(), *t, reason, msg.clone());
        }
        result?;
        if let Some(rev) = &plan.revision {
            let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
            self.client
                .patch::<Value>(
                    &DEPLOYMENT_RESOURCE,
                    ns,
                    name,
                    None,
                    PatchType::Merge,
                    &patch,
                )
                .await
                .ctx(|| format!("set the revision of deployment {key}"))?;
        }
        if let Some(s) = &plan.status {
            // The revision patch changed the resourceVersion: write the status on the latest.
            let mut cur: Deployment = self
                .client
                .get(&DEPLOYMENT_RESOURCE, ns, name)
                .await
                .ctx(|| format!("get deployment {key}"))?;
            if util::uid(&cur.metadata) != util::uid(&d.metadata) {
                return Ok(());
            }
            cur.status = Some(s.clone());
            self.client
                .replace::<Value>(&DEPLOYMENT_RESOURCE, ns, name, Some("status"), &cur)
                .await
                .ctx(|| format!("update status of deployment {key}"))?;
        }
        if plan.requeue_soon {
            self.queue.add_rate_limited(key);
        } else if let Some(after) = plan.requeue_after {
            self.queue.add_after(key, after);
        }
        Ok(())
    }

    async fn apply(&self, d: &Deployment, plan: &Plan) -> Result<(), ControllerError> {
        let ns = util::namespace(&d.metadata);
        for a in &plan.actions {
            match a {
                Action::CreateRs(rs) => {
                    let name = util::name(&rs.metadata);
                    match self
                        .client
                        .create::<ReplicaSet>(&RS_RESOURCE, ns, &**rs)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if e.is_already_exists() => {
                            // Ours with the same template (a stale cache): fine. Anything
                            // else is a hash collision: bump collisionCount and retry.
                            let existing: ReplicaSet = self
                                .client
                                .get(&RS_RESOURCE, ns, name)
                                .await
                                .ctx(|| format!("get replica set {ns}/{name}"))?;
                            let ours = util::controller_ref(&existing.metadata)
                                .is_some_and(|r| r.uid == util::uid(&d.metadata));
                            let same = match (
                                existing.spec.as_ref().and_then(|s| s.template.as_ref()),
                                d.spec.as_ref(),
                            ) {
                                (Some(a), Some(b)) => equal_ignore_hash(a, &b.template),
                                _ => false,
                            };
                            if ours && same {
                                return Ok(());
                            }
                            let mut cur = d.clone();
                            let st = cur.status.get_or_insert_with(Default::default);
                            st.collision_count =
                                Some(st.collision_count.unwrap_or(0).saturating_add(1));
                            self.client
                                .replace::<Value>(
                                    &DEPLOYMENT_RESOURCE,
                                    ns,
                                    util::name(&d.metadata),
                                    Some("status"),
                                    &cur,
                                )
                                .await
                                .ctx(|| {
                                    format!(
                                        "update collisionCount of deployment {ns}/{}",
                                        util::name(&d.metadata)
                                    )
                                })?;
                            return Err(ControllerError::Invalid(format!(
                                "replica set {ns}/{name} exists with another template (hash collision); retrying with a new collisionCount"
                            )));
                        }
                        Err(e) => return Err(e).ctx(|| format!("create replica set {ns}/{name}")),
                    }
                }
                Action::UpdateRs(rs) => {
                    let name = util::name(&rs.metadata);
                    self.client
                        .replace::<Value>(&RS_RESOURCE, ns, name, None, &**rs)
                        .await
                        .ctx(|| format!("update replica set {ns}/{name}"))?;
                }
                Action::DeleteRs(meta) => {
                    delete_with_uid(&self.client, &RS_RESOURCE, meta, None).await?;
                }
            }
        }
        Ok(())
    }
}

/// The labels a Deployment's ReplicaSet selects on (tests).
pub fn rs_labels(rs: &ReplicaSet) -> Labels {
    rs.metadata.labels.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests;
