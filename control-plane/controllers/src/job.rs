//! The Job controller (NonIndexed completion mode): runs pods from the template until
//! `completions` have succeeded, at most `parallelism` at once; fails the Job when more
//! than `backoffLimit` pods failed (BackoffLimitExceeded) or it ran past
//! `activeDeadlineSeconds` (DeadlineExceeded); deletes active pods while `suspend` is set
//! and when the Job has finished; and, as the TTL-after-finished controller, deletes a
//! finished Job `ttlSecondsAfterFinished` later (propagation Background). `plan` is the
//! pure core.
//!
//! Differences from Kubernetes, on purpose or not yet done: pods are counted directly (no
//! `batch.kubernetes.io/job-tracking` finalizer, no `uncountedTerminatedPods`); so a
//! finished pod deleted before the next sync may go uncounted, which `status.succeeded` and
//! `status.failed` soften by never decreasing. Indexed completion mode, podFailurePolicy,
//! successPolicy, the pod-creation backoff after failures, and the FailureTarget condition
//! (the Job fails at once) are not implemented; an Indexed Job is left alone with a warning.

use crate::error::{Context, ControllerError};
use crate::events::{EventType, ObjectRef, Recorder};
use crate::expectations::Expectations;
use crate::informers::{Informer, Kind};
use crate::replicaset::{claim_pods, delete_with_uid, pod_from_template, slow_start};
use crate::util;
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "job-controller";
/// kube's `MaxPodCreateDeletePerSync`.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
pub const JOB_RESOURCE: Resource = <Job as Kind>::RESOURCE;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub adopt: Vec<String>,
    pub release: Vec<String>,
    pub create: usize,
    /// Active pods to delete (names).
    pub delete: Vec<String>,
    pub status: JobStatus,
    pub events: Vec<(EventType, &'static str, String)>,
    pub requeue_after_secs: Option<u64>,
}

pub struct Input<'a> {
    pub job: &'a Job,
    /// Every pod of the Job's namespace.
    pub pods: &'a [Arc<Pod>],
    pub now: Timestamp,
    pub expectations_satisfied: bool,
}

fn condition_true(st: &JobStatus, type_: &str) -> bool {
    st.conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// Whether the Job has finished (Complete or Failed).
pub fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| condition_true(s, "Complete") || condition_true(s, "Failed"))
}

/// Sets a condition, keeping its transition time when the status does not change.
fn set_condition(
    st: &mut JobStatus,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conds = st.conditions.get_or_insert_with(Vec::new);
    let t = Some(util::time(now));
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status && c.reason.as_deref() == Some(reason) => {}
        Some(c) => {
            if c.status != status {
                c.last_transition_time = t.clone();
            }
            c.status = status.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = t;
        }
        None => conds.push(JobCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: t.clone(),
            last_transition_time: t,
        }),
    }
}

/// kube's `pastBackoffLimitOnFailure`: with restartPolicy OnFailure, failures are
/// container restarts in active pods.
fn past_backoff_limit_on_failure(job: &Job, active: &[&Arc<Pod>], backoff_limit: i32) -> bool {
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = active
        .iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    if backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= backoff_limit
    }
}

pub fn plan(input: &Input) -> Plan {
    let job = input.job;
    let now = input.now;
    let spec = job.spec.clone().unwrap_or_default();
    let uid = util::uid(&job.metadata);
    let deleting = job.metadata.deletion_timestamp.is_some();
    let mut plan = Plan::default();

    let mut owned: Vec<&Arc<Pod>> = Vec::new();
    for p in input.pods {
        let matches = util::selector_matches(spec.selector.as_ref(), p.metadata.labels.as_ref());
        match util::controller_ref(&p.metadata) {
            Some(r) if r.uid == uid => {
                if matches {
                    owned.push(p);
                } else if !deleting && util::is_pod_active(p) {
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
    let active: Vec<&Arc<Pod>> = owned
        .iter()
        .copied()
        .filter(|p| util::is_pod_active(p))
        .collect();
    let count = |phase: &str| owned.iter().filter(|p| util::phase(p) == phase).count() as i32;
    let old = job.status.clone().unwrap_or_default();
    let succeeded = count("Succeeded").max(old.succeeded.unwrap_or(0));
    let failed = count("Failed").max(old.failed.unwrap_or(0));
    let ready = active.iter().filter(|p| util::is_pod_ready(p)).count() as i32;
    let mut st = JobStatus {
        active: Some(active.len() as i32),
        ready: Some(ready),
        succeeded: Some(succeeded),
        failed: Some(failed),
        ..old.clone()
    };
    let all_active = |plan: &mut Plan| {
        plan.delete = active
            .iter()
            .map(|p| util::name(&p.metadata).to_string())
            .collect()
    };

    if finished(job) {
        // Leftovers (a pod created as the Job finished) go.
        all_active(&mut plan);
        plan.status = st;
        return plan;
    }
    let suspended = spec.suspend.unwrap_or(false);
    if st.start_time.is_none() && !suspended {
        st.start_time = Some(util::time(now));
    }

    // Failure.
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let deadline = match (spec.active_deadline_seconds, &st.start_time) {
        (Some(s), Some(t)) if !suspended => Some(t.0 + SignedDuration::from_secs(s)),
        _ => None,
    };
    let failure =
        if failed > backoff_limit || past_backoff_limit_on_failure(job, &active, backoff_limit) {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if deadline.is_some_and(|d| d <= now) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
    if let Some((reason, message)) = failure {
        all_active(&mut plan);
        set_condition(&mut st, "Failed", "True", reason, message, now);
        plan.events
            .push((EventType::Warning, reason, message.into()));
        st.active = Some(0);
        st.ready = Some(0);
        plan.status = st;
        return plan;
    }

    // Completion.
    let complete = match spec.completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };
    if complete {
        all_active(&mut plan);
        set_condition(
            &mut st,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        );
        set_condition(
            &mut st,
            "Complete",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        );
        st.completion_time = Some(util::time(now));
        st.active = Some(0);
        st.ready = Some(0);
        plan.events
            .push((EventType::Normal, "Completed", "Job completed".into()));
        plan.status = st;
        return plan;
    }

    // Suspension.
    if suspended {
        all_active(&mut plan);
        if !condition_true(&st, "Suspended") {
            set_condition(
                &mut st,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
                now,
            );
            plan.events
                .push((EventType::Normal, "Suspended", "Job suspended".into()));
        }
        plan.status = st;
        return plan;
    }
    if condition_true(&st, "Suspended") {
        set_condition(
            &mut st,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            now,
        );
        plan.events
            .push((EventType::Normal, "Resumed", "Job resumed".into()));
        // As kube: the deadline counts from the resumption.
        st.start_time = Some(util::time(now));
    }

    // Pods (kube's manageJob, NonIndexed).
    if input.expectations_satisfied && !deleting {
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let n_active = active.len() as i32;
        let want = match spec.completions {
            Some(c) => (c - succeeded).clamp(0, parallelism),
            None if succeeded > 0 => n_active,
            None => parallelism,
        };
        if n_active > want {
            let mut victims = active.clone();
            victims.sort_by(|a, b| util::scale_down_order((a, 0), (b, 0), now));
            plan.delete = victims
                .iter()
                .take(((n_active - want) as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC))
                .map(|p| util::name(&p.metadata).to_string())
                .collect();
        } else {
            plan.create = ((want - n_active) as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC);
        }
    }
    if let (Some(ads), Some(t)) = (spec.active_deadline_seconds, &st.start_time) {
        let at = t.0 + SignedDuration::from_secs(ads);
        plan.requeue_after_secs = Some(at.duration_since(now).as_secs().max(0) as u64 + 1);
    }
    plan.status = st;
    plan
}

/// When a finished Job with `ttlSecondsAfterFinished` is due for deletion (kube's
/// ttlafterfinished `timeLeft`: from completionTime, or the Failed condition's transition).
pub fn ttl_expiry(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let st = job.status.as_ref()?;
    if !finished(job) {
        return None;
    }
    let finish = st.completion_time.as_ref().map(|t| t.0).or_else(|| {
        st.conditions
            .iter()
            .flatten()
            .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0)
    })?;
    Some(finish + SignedDuration::from_secs(ttl as i64))
}

struct Controller {
    client: Client,
    pods: Arc<Informer<Pod>>,
    jobs: Arc<Informer<Job>>,
    expectations: Expectations,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
    ttl: bool,
}

pub fn start(t: &mut Term) {
    let queue = t.queue("job");
    let c = Arc::new(Controller {
        client: t.client.clone(),
        pods: t.informers.get::<Pod>(),
        jobs: t.informers.get::<Job>(),
        expectations: Expectations::default(),
        queue: queue.clone(),
        recorder: t.recorder.with_component(COMPONENT),
        ttl: t.config.enabled("ttl-after-finished"),
    });
    let c2 = Arc::downgrade(&c);
    c.jobs.on_change(move |old, new| {
        let Some(c) = c2.upgrade() else { return };
        if let Some(j) = new.or(old) {
            let key = util::key(&j.metadata);
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
    let c4 = c.clone();
    t.resync(&queue, move || {
        c4.jobs
            .list()
            .iter()
            .map(|j| util::key(&j.metadata))
            .collect()
    });
    let c5 = c.clone();
    t.spawn_workers(&queue, t.config.concurrent_job_syncs, move |key| {
        let c = c5.clone();
        async move { c.sync(&key).await }
    });
}

impl Controller {
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<Job>> {
        (r.kind == "Job")
            .then(|| self.jobs.get_in(ns, &r.name))
            .flatten()
            .filter(|j| util::uid(&j.metadata) == r.uid)
    }

    fn pod_changed(&self, old: Option<&Pod>, new: Option<&Pod>) {
        let Some(p) = new.or(old) else { return };
        let ns = util::namespace(&p.metadata);
        match util::controller_ref(&p.metadata).and_then(|r| self.resolve(ns, r)) {
            Some(job) => {
                let key = util::key(&job.metadata);
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
            }
            None if new.is_some() && util::controller_ref(&p.metadata).is_none() => {
                for j in self.jobs.list_in(ns) {
                    let sel = j.spec.as_ref().and_then(|s| s.selector.as_ref());
                    if util::selector_matches(sel, p.metadata.labels.as_ref()) {
                        self.queue.add(&util::key(&j.metadata));
                    }
                }
            }
            None => {}
        }
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some(job) = self.jobs.get(key) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let (ns, name) = util::split_key(key);
        let me = ObjectRef::of(&*job);
        if self.ttl && job.metadata.deletion_timestamp.is_none() {
            if let Some(at) = ttl_expiry(&job) {
                let now = util::now();
                if at <= now {
                    tracing::info!(job = key, "ttl-after-finished: deleting the finished job");
                    return delete_with_uid(
                        &self.client,
                        &JOB_RESOURCE,
                        &job.metadata,
                        Some("Background"),
                    )
                    .await;
                }
                let secs = at.duration_since(now).as_secs().max(0) as u64 + 1;
                self.queue.add_after(key, Duration::from_secs(secs));
            }
        }
        let spec = job.spec.as_ref();
        if spec.and_then(|s| s.completion_mode.as_deref()) == Some("Indexed") {
            self.recorder.warning(
                me,
                "UnsupportedCompletionMode",
                "Indexed Jobs are not supported by Berth's job controller".into(),
            );
            return Ok(());
        }
        if spec
            .and_then(|s| s.selector.as_ref())
            .is_none_or(util::selector_is_empty)
        {
            tracing::warn!(job = key, "the Job has no selector; ignoring it");
            return Ok(());
        }
        let pods = self.pods.list_in(ns);
        let plan = plan(&Input {
            job: &job,
            pods: &pods,
            now: util::now(),
            expectations_satisfied: self.expectations.satisfied(key),
        });
        let by_name: HashMap<&str, &Arc<Pod>> =
            pods.iter().map(|p| (util::name(&p.metadata), p)).collect();
        let owner = util::controller_ref_to("batch/v1", "Job", &job.metadata);
        let mut errors =
            claim_pods(&self.client, &by_name, &owner, &plan.adopt, &plan.release).await;
        if !errors.is_empty() {
            return ControllerError::collect(errors);
        }
        let victims: Vec<&Arc<Pod>> = plan
            .delete
            .iter()
            .filter_map(|n| by_name.get(n.as_str()).copied())
            .collect();
        if plan.create > 0 || !victims.is_empty() {
            self.expectations.expect(
                key,
                plan.create,
                victims.iter().map(|p| util::key(&p.metadata)),
            );
        }
        if plan.create > 0 {
            let template = job
                .spec
                .as_ref()
                .map(|s| s.template.clone())
                .unwrap_or_default();
            let pod = pod_from_template(&template, ns, &format!("{name}-"), owner.clone());
            let (skipped, errs) = slow_start(plan.create, || async {
                match self.client.create::<Pod>(&Resource::PODS, ns, &pod).await {
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
                        Err(e).ctx(|| format!("create pod for job {key}"))
                    }
                }
            })
            .await;
            self.expectations.lower_adds(key, skipped);
            errors.extend(errs);
        }
        let results = futures::future::join_all(victims.iter().map(|p| async {
            let r = delete_with_uid(
                &self.client,
                &Resource::PODS,
                &p.metadata,
                Some("Background"),
            )
            .await;
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
        if job.status.as_ref() != Some(&plan.status) {
            let mut updated = (*job).clone();
            updated.status = Some(plan.status.clone());
            match self
                .client
                .replace::<Value>(&JOB_RESOURCE, ns, name, Some("status"), &updated)
                .await
            {
                Ok(_) => {
                    // Events of a transition only once its status is written.
                    for (ty, reason, message) in &plan.events {
                        self.recorder
                            .event(me.clone(), *ty, reason, message.clone());
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("update status of job {key}"),
                    source: e,
                }),
            }
        }
        if errors.is_empty() {
            if let Some(s) = plan.requeue_after_secs {
                self.queue.add_after(key, Duration::from_secs(s));
            }
        }
        ControllerError::collect(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testutil::{labels, pod, ts};
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

    #[derive(Default, Clone)]
    struct J {
        completions: Option<i32>,
        parallelism: i32,
        backoff: i32,
        deadline: Option<i64>,
        suspend: bool,
        started: Option<i64>,
        ttl: Option<i32>,
        restart_policy: &'static str,
    }

    fn job(j: J) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("default".into()),
                uid: Some("job-uid".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                completions: j.completions,
                parallelism: Some(j.parallelism),
                backoff_limit: Some(j.backoff),
                active_deadline_seconds: j.deadline,
                suspend: Some(j.suspend),
                ttl_seconds_after_finished: j.ttl,
                selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                }),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web")])),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        restart_policy: Some(j.restart_policy.into()),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: j.started.map(|s| JobStatus {
                start_time: Some(Time(ts(s))),
                ..Default::default()
            }),
        }
    }

    /// Owned pods in phases: R(unning, ready), P(ending), S(ucceeded), F(ailed).
    fn pods(phases: &str) -> Vec<Arc<Pod>> {
        phases
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let (phase, ready) = match c {
                    'R' => ("Running", Some(0)),
                    'P' => ("Pending", None),
                    'S' => ("Succeeded", None),
                    'F' => ("Failed", None),
                    _ => unreachable!("phase letter"),
                };
                let mut p = pod(&format!("p{i}{c}"), phase, "n1", ready, 0, i as i64);
                p.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: "pi".into(),
                    uid: "job-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]);
                Arc::new(p)
            })
            .collect()
    }

    struct Want {
        create: usize,
        n_delete: usize,
        active: i32,
        succeeded: i32,
        failed: i32,
        /// "" while running, else the condition type set True.
        finished: &'static str,
        event: &'static str,
    }

    fn check(what: &str, j: J, phases: &str, want: Want) {
        let job = job(j);
        let pods = pods(phases);
        let p = plan(&Input {
            job: &job,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
        });
        assert_eq!(p.create, want.create, "{what}: create");
        assert_eq!(p.delete.len(), want.n_delete, "{what}: delete");
        assert_eq!(p.status.active, Some(want.active), "{what}: active");
        assert_eq!(
            p.status.succeeded,
            Some(want.succeeded),
            "{what}: succeeded"
        );
        assert_eq!(p.status.failed, Some(want.failed), "{what}: failed");
        let st = &p.status;
        let fin = ["Complete", "Failed", "Suspended"]
            .into_iter()
            .find(|t| condition_true(st, t))
            .unwrap_or("");
        assert_eq!(fin, want.finished, "{what}: condition");
        assert_eq!(
            p.events.first().map(|e| e.1).unwrap_or(""),
            want.event,
            "{what}: event"
        );
    }

    #[test]
    fn plans() {
        let base = J {
            completions: Some(3),
            parallelism: 2,
            backoff: 6,
            restart_policy: "Never",
            ..Default::default()
        };
        let w = |create, n_delete, active, succeeded, failed, finished, event| Want {
            create,
            n_delete,
            active,
            succeeded,
            failed,
            finished,
            event,
        };
        check("start", base.clone(), "", w(2, 0, 0, 0, 0, "", ""));
        check(
            "parallelism caps",
            base.clone(),
            "RP",
            w(0, 0, 2, 0, 0, "", ""),
        );
        check(
            "remaining completions cap",
            base.clone(),
            "SSR",
            w(0, 0, 1, 2, 0, "", ""),
        );
        check(
            "too many active for what remains",
            base.clone(),
            "SSRR",
            w(0, 1, 2, 2, 0, "", ""),
        );
        check(
            "failed pods are replaced",
            base.clone(),
            "FFR",
            w(1, 0, 1, 0, 2, "", ""),
        );
        check(
            "complete",
            base.clone(),
            "SSS",
            w(0, 0, 0, 3, 0, "Complete", "Completed"),
        );
        check(
            "complete with a leftover",
            base.clone(),
            "SSSR",
            w(0, 1, 0, 3, 0, "Complete", "Completed"),
        );
        check(
            "backoff limit not yet",
            J {
                backoff: 2,
                ..base.clone()
            },
            "FFR",
            w(1, 0, 1, 0, 2, "", ""),
        );
        check(
            "backoff limit exceeded",
            J {
                backoff: 2,
                ..base.clone()
            },
            "FFFR",
            w(0, 1, 0, 0, 3, "Failed", "BackoffLimitExceeded"),
        );
        check(
            "backoff limit 0",
            J {
                backoff: 0,
                ..base.clone()
            },
            "F",
            w(0, 0, 0, 0, 1, "Failed", "BackoffLimitExceeded"),
        );
        check(
            "deadline not reached",
            J {
                deadline: Some(100),
                started: Some(950),
                ..base.clone()
            },
            "R",
            w(1, 0, 1, 0, 0, "", ""),
        );
        check(
            "deadline exceeded",
            J {
                deadline: Some(100),
                started: Some(900),
                ..base.clone()
            },
            "RR",
            w(0, 2, 0, 0, 0, "Failed", "DeadlineExceeded"),
        );
        check(
            "suspended",
            J {
                suspend: true,
                ..base.clone()
            },
            "RS",
            w(0, 1, 1, 1, 0, "Suspended", "Suspended"),
        );
        let queue = J {
            completions: None,
            parallelism: 3,
            ..base.clone()
        };
        check(
            "work queue: start",
            queue.clone(),
            "",
            w(3, 0, 0, 0, 0, "", ""),
        );
        check(
            "work queue: one done, others keep running",
            queue.clone(),
            "SRR",
            w(0, 0, 2, 1, 0, "", ""),
        );
        check(
            "work queue: all done",
            queue.clone(),
            "SS",
            w(0, 0, 0, 2, 0, "Complete", "Completed"),
        );
    }

    #[test]
    fn status_fields() {
        let j = job(J {
            completions: Some(2),
            parallelism: 2,
            backoff: 6,
            deadline: Some(60),
            restart_policy: "Never",
            ..Default::default()
        });
        let pods = pods("RP");
        let p = plan(&Input {
            job: &j,
            pods: &pods,
            now: ts(1000),
            expectations_satisfied: true,
        });
        assert_eq!(
            p.status.start_time,
            Some(Time(ts(1000))),
            "set on the first sync"
        );
        assert_eq!(p.status.ready, Some(1));
        assert_eq!(p.requeue_after_secs, Some(61), "woken at the deadline");
        let mut done = j.clone();
        done.status = Some(p.status.clone());
        let pods = pods_done();
        let p = plan(&Input {
            job: &done,
            pods: &pods,
            now: ts(1010),
            expectations_satisfied: true,
        });
        assert_eq!(p.status.completion_time, Some(Time(ts(1010))));
        let types: Vec<&str> = p
            .status
            .conditions
            .iter()
            .flatten()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, vec!["SuccessCriteriaMet", "Complete"]);
        assert_eq!(p.status.start_time, Some(Time(ts(1000))), "kept");
        // Counts never go down when finished pods disappear.
        let mut gone = done.clone();
        gone.status = Some(JobStatus {
            succeeded: Some(1),
            failed: Some(2),
            ..Default::default()
        });
        let p = plan(&Input {
            job: &gone,
            pods: &[],
            now: ts(1020),
            expectations_satisfied: true,
        });
        assert_eq!(
            (p.status.succeeded, p.status.failed, p.create),
            (Some(1), Some(2), 1)
        );
    }

    fn pods_done() -> Vec<Arc<Pod>> {
        pods("SS")
    }

    #[test]
    fn unsatisfied_expectations_hold_creations() {
        let j = job(J {
            completions: Some(3),
            parallelism: 3,
            backoff: 6,
            restart_policy: "Never",
            ..Default::default()
        });
        let p = plan(&Input {
            job: &j,
            pods: &[],
            now: ts(0),
            expectations_satisfied: false,
        });
        assert_eq!(p.create, 0);
    }

    #[test]
    fn on_failure_counts_restarts() {
        let j = job(J {
            completions: Some(1),
            parallelism: 1,
            backoff: 2,
            restart_policy: "OnFailure",
            ..Default::default()
        });
        let mut p = (*pods("R")[0]).clone();
        p.status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()[0]
            .restart_count = 2;
        let pods = vec![Arc::new(p)];
        let plan = plan(&Input {
            job: &j,
            pods: &pods,
            now: ts(0),
            expectations_satisfied: true,
        });
        assert!(condition_true(&plan.status, "Failed"));
        assert_eq!(plan.delete.len(), 1);
    }

    #[test]
    fn resume_restarts_the_clock() {
        let mut j = job(J {
            completions: Some(1),
            parallelism: 1,
            backoff: 6,
            started: Some(0),
            restart_policy: "Never",
            ..Default::default()
        });
        let mut st = j.status.clone().unwrap();
        set_condition(
            &mut st,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            ts(0),
        );
        j.status = Some(st);
        let p = plan(&Input {
            job: &j,
            pods: &[],
            now: ts(500),
            expectations_satisfied: true,
        });
        assert_eq!(p.create, 1);
        assert_eq!(p.status.start_time, Some(Time(ts(500))));
        assert_eq!(p.events[0].1, "Resumed");
        let c = p
            .status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Suspended")
            .unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some("JobResumed"))
        );
    }

    #[test]
    fn ttl_after_finished() {
        let check = |ttl: Option<i32>, finish: Option<(&str, i64)>, want: Option<i64>| {
            let mut j = job(J {
                ttl,
                ..Default::default()
            });
            if let Some((type_, at)) = finish {
                let mut st = JobStatus::default();
                set_condition(&mut st, type_, "True", "x", "x", ts(at));
                if type_ == "Complete" {
                    st.completion_time = Some(Time(ts(at)));
                }
                j.status = Some(st);
            }
            assert_eq!(ttl_expiry(&j), want.map(ts), "{ttl:?} {finish:?}");
        };
        check(None, Some(("Complete", 10)), None);
        check(Some(100), None, None);
        check(Some(100), Some(("Complete", 10)), Some(110));
        check(Some(0), Some(("Failed", 20)), Some(20));
        check(Some(100), Some(("Suspended", 10)), None);
    }
}
