//! The decision core: from one pod's desired spec, what the runtime holds for it, the probe
//! verdicts and the back-off book, to the actions that move it one step closer. Pure: no IO,
//! no clock reads (the caller passes `now_ns`), so every rule is tested with plain values.
//!
//! Rules (kubelet's): one sandbox per pod (a dead sandbox is replaced, and its containers
//! with it); init containers run one at a time, in order, each to success; then every app
//! container runs; an exited container restarts per `restartPolicy`, after a back-off that
//! starts at `initial`, doubles per restart up to `max`, and resets once the container ran
//! for `reset_after`; a container whose liveness or startup probe failed is killed (and then
//! restarts per policy). A pod that is no longer desired is stopped within its grace period.

use crate::model::{
    ContainerKind, ContainerSpec, ContainerState, DesiredPod, ObservedContainer, ObservedPod,
    PodUid, RestartPolicy,
};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial_ms: u64,
    pub max_ms: u64,
    /// A container that ran at least this long before exiting restarts without back-off.
    pub reset_after_ms: u64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial_ms: 10_000,
            max_ms: 300_000,
            reset_after_ms: 600_000,
        }
    }
}

impl BackoffConfig {
    /// The back-off that follows `current` (0 means none yet).
    pub fn next(&self, current_ms: u64) -> u64 {
        if current_ms == 0 {
            self.initial_ms.min(self.max_ms)
        } else {
            current_ms.saturating_mul(2).min(self.max_ms)
        }
    }
}

/// Back-off per (pod, container name): the delay that must pass after the container's last
/// exit before the next restart.
pub type BackoffBook = BTreeMap<(PodUid, String), u64>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run a new sandbox for the pod.
    CreateSandbox { attempt: u32 },
    /// Stop (grace, then kill) the listed containers, then stop and remove the sandboxes.
    TeardownSandboxes {
        sandbox_ids: Vec<String>,
        running_container_ids: Vec<String>,
        grace_period_s: i64,
    },
    /// Create and start a container in the pod's current sandbox; remove `remove_ids`
    /// (instances older than the previous one) first, and record `backoff_ms` for it.
    StartContainer {
        sandbox_id: String,
        name: String,
        kind: ContainerKind,
        attempt: u32,
        remove_ids: Vec<String>,
        backoff_ms: u64,
    },
    /// Start a container that was created but never started (the agent stopped in between).
    StartExisting { id: String },
    /// Stop a running container (grace, then kill).
    KillContainer {
        id: String,
        grace_period_s: i64,
        reason: String,
    },
}

/// A container the plan leaves waiting, and why (it shows in the pod's status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub name: String,
    pub reason: String,
    pub message: String,
    /// When the wait ends (unix ns), if it is a back-off.
    pub until_ns: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub waiting: Vec<Waiting>,
}

/// Inputs for one pod besides its spec and observation.
pub struct Inputs<'a> {
    pub now_ns: i64,
    pub backoff: &'a BackoffConfig,
    pub book: &'a BackoffBook,
    /// Containers (by id) whose liveness or startup probe crossed its failure threshold.
    pub probe_kills: &'a BTreeSet<String>,
}

/// What to do for a pod that is no longer desired: stop everything it has.
pub fn plan_orphan(observed: &ObservedPod) -> Plan {
    if observed.sandboxes.is_empty() && observed.containers.is_empty() {
        return Plan::default();
    }
    let grace_period_s = observed
        .sandboxes
        .iter()
        .map(|s| s.grace_period_s)
        .max()
        .unwrap_or(30);
    let mut sandbox_ids: Vec<String> = observed.sandboxes.iter().map(|s| s.id.clone()).collect();
    // Containers whose sandbox is gone (should not happen) are torn down with the pod too.
    for c in &observed.containers {
        if !sandbox_ids.contains(&c.sandbox_id) {
            sandbox_ids.push(c.sandbox_id.clone());
        }
    }
    Plan {
        actions: vec![Action::TeardownSandboxes {
            sandbox_ids,
            running_container_ids: running(observed.containers.iter()),
            grace_period_s,
        }],
        waiting: vec![],
    }
}

fn running<'a>(cs: impl Iterator<Item = &'a ObservedContainer>) -> Vec<String> {
    cs.filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Unknown))
        .map(|c| c.id.clone())
        .collect()
}

/// Whether a restart policy restarts a container that exited with `exit_code`.
pub fn restarts(policy: RestartPolicy, exit_code: i32) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Never => false,
    }
}

/// Whether the pod reached a terminal phase (nothing left to run under its policy).
pub fn pod_finished(pod: &DesiredPod, observed: &ObservedPod) -> bool {
    let Some(sandbox) = observed.latest_sandbox() else {
        return false;
    };
    if pod.restart_policy == RestartPolicy::Never {
        let init_failed = pod.init_containers.iter().any(|c| {
            observed
                .instances(&sandbox.id, &c.name)
                .first()
                .is_some_and(|i| i.state == ContainerState::Exited && i.exit_code != 0)
        });
        if init_failed {
            return true;
        }
    }
    if pod.restart_policy == RestartPolicy::Always {
        return false;
    }
    pod.containers.iter().all(|c| {
        observed
            .instances(&sandbox.id, &c.name)
            .first()
            .is_some_and(|i| {
                i.state == ContainerState::Exited && !restarts(pod.restart_policy, i.exit_code)
            })
    })
}

/// What to do next for a desired pod.
pub fn plan_pod(pod: &DesiredPod, observed: &ObservedPod, inputs: &Inputs<'_>) -> Plan {
    let mut plan = Plan::default();
    let Some(latest) = observed.latest_sandbox() else {
        plan.actions.push(Action::CreateSandbox { attempt: 0 });
        return plan;
    };
    // Older sandboxes (a replaced one whose teardown did not finish) go away.
    let old: Vec<&str> = observed
        .sandboxes
        .iter()
        .filter(|s| s.id != latest.id)
        .map(|s| s.id.as_str())
        .collect();
    if !old.is_empty() {
        plan.actions.push(Action::TeardownSandboxes {
            sandbox_ids: old.iter().map(|s| s.to_string()).collect(),
            running_container_ids: running(
                observed
                    .containers
                    .iter()
                    .filter(|c| old.contains(&c.sandbox_id.as_str())),
            ),
            grace_period_s: pod.grace_period_s,
        });
    }
    if !latest.ready {
        if pod_finished(pod, observed) {
            return plan;
        }
        // The sandbox died (its pause process exited, or the node rebooted): replace it.
        plan.actions.push(Action::TeardownSandboxes {
            sandbox_ids: vec![latest.id.clone()],
            running_container_ids: running(
                observed
                    .containers
                    .iter()
                    .filter(|c| c.sandbox_id == latest.id),
            ),
            grace_period_s: pod.grace_period_s,
        });
        plan.actions.push(Action::CreateSandbox {
            attempt: latest.attempt + 1,
        });
        return plan;
    }
    // Init containers: one at a time, in order, each to success.
    for spec in &pod.init_containers {
        let instances = observed.instances(&latest.id, &spec.name);
        match instances.first() {
            None => {
                plan.actions.push(start(
                    latest.id.clone(),
                    spec,
                    ContainerKind::Init,
                    &instances,
                    inputs
                        .book
                        .get(&(pod.uid.clone(), spec.name.clone()))
                        .copied()
                        .unwrap_or(0),
                ));
                return plan;
            }
            Some(c) if c.state == ContainerState::Exited && c.exit_code == 0 => continue,
            Some(c) => {
                step_container(
                    pod,
                    spec,
                    ContainerKind::Init,
                    &latest.id,
                    c,
                    &instances,
                    inputs,
                    &mut plan,
                );
                return plan;
            }
        }
    }
    for spec in &pod.containers {
        let instances = observed.instances(&latest.id, &spec.name);
        match instances.first() {
            None => plan.actions.push(start(
                latest.id.clone(),
                spec,
                ContainerKind::App,
                &instances,
                inputs
                    .book
                    .get(&(pod.uid.clone(), spec.name.clone()))
                    .copied()
                    .unwrap_or(0),
            )),
            Some(c) => step_container(
                pod,
                spec,
                ContainerKind::App,
                &latest.id,
                c,
                &instances,
                inputs,
                &mut plan,
            ),
        }
    }
    plan
}

fn start(
    sandbox_id: String,
    spec: &ContainerSpec,
    kind: ContainerKind,
    instances: &[&ObservedContainer],
    backoff_ms: u64,
) -> Action {
    let attempt = instances.first().map(|c| c.attempt + 1).unwrap_or(0);
    // Keep the newest exited instance (it is the container's lastState); remove the rest.
    let remove_ids = instances
        .iter()
        .skip(1)
        .filter(|c| c.state != ContainerState::Running)
        .map(|c| c.id.clone())
        .collect();
    Action::StartContainer {
        sandbox_id,
        name: spec.name.clone(),
        kind,
        attempt,
        remove_ids,
        backoff_ms,
    }
}

#[allow(clippy::too_many_arguments)]
fn step_container(
    pod: &DesiredPod,
    spec: &ContainerSpec,
    kind: ContainerKind,
    sandbox_id: &str,
    c: &ObservedContainer,
    instances: &[&ObservedContainer],
    inputs: &Inputs<'_>,
    plan: &mut Plan,
) {
    match c.state {
        ContainerState::Created => plan
            .actions
            .push(Action::StartExisting { id: c.id.clone() }),
        ContainerState::Running | ContainerState::Unknown => {
            if inputs.probe_kills.contains(&c.id) {
                plan.actions.push(Action::KillContainer {
                    id: c.id.clone(),
                    grace_period_s: pod.grace_period_s,
                    reason: "probe failed".into(),
                });
            }
        }
        ContainerState::Exited => {
            // An init container restarts on failure under Always too (kubelet: OnFailure rules).
            let policy =
                if kind == ContainerKind::Init && pod.restart_policy == RestartPolicy::Always {
                    RestartPolicy::OnFailure
                } else {
                    pod.restart_policy
                };
            if !restarts(policy, c.exit_code) {
                return;
            }
            let key = (pod.uid.clone(), spec.name.clone());
            let mut current_ms = inputs.book.get(&key).copied().unwrap_or(0);
            let ran_ms = (c.finished_at_ns - c.started_at_ns).max(0) as u64 / 1_000_000;
            if c.started_at_ns > 0 && ran_ms >= inputs.backoff.reset_after_ms {
                current_ms = 0;
            }
            let until_ns = c
                .finished_at_ns
                .saturating_add((current_ms as i64).saturating_mul(1_000_000));
            if current_ms > 0 && inputs.now_ns < until_ns {
                plan.waiting.push(Waiting {
                    name: spec.name.clone(),
                    reason: "CrashLoopBackOff".into(),
                    message: format!(
                        "back-off {} restarting failed container={} pod={}_{}({})",
                        human_ms(current_ms),
                        spec.name,
                        pod.name,
                        pod.namespace,
                        pod.uid
                    ),
                    until_ns: Some(until_ns),
                });
                return;
            }
            let next = inputs.backoff.next(current_ms);
            match start(sandbox_id.to_string(), spec, kind, instances, next) {
                Action::StartContainer {
                    sandbox_id,
                    name,
                    kind,
                    attempt,
                    remove_ids,
                    backoff_ms,
                } => plan.actions.push(Action::StartContainer {
                    sandbox_id,
                    name,
                    kind,
                    attempt,
                    remove_ids,
                    backoff_ms,
                }),
                other => plan.actions.push(other),
            }
        }
    }
}

/// "10s", "2m40s", "500ms" (kubelet prints Go durations).
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m0s"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedSandbox, PodUid};

    const SEC: i64 = 1_000_000_000;

    use crate::model::test_pod as pod;

    fn sandbox(id: &str, attempt: u32, ready: bool) -> ObservedSandbox {
        ObservedSandbox {
            id: id.into(),
            uid: PodUid("u".into()),
            namespace: "default".into(),
            name: "p".into(),
            attempt,
            ready,
            created_at_ns: attempt as i64,
            ip: None,
            grace_period_s: 7,
        }
    }

    /// `state` is "running", "created", or "exited:<code>:<started s>:<finished s>".
    fn container(
        id: &str,
        sandbox_id: &str,
        name: &str,
        attempt: u32,
        state: &str,
    ) -> ObservedContainer {
        let mut c = ObservedContainer {
            id: id.into(),
            sandbox_id: sandbox_id.into(),
            uid: PodUid("u".into()),
            name: name.into(),
            kind: ContainerKind::App,
            attempt,
            state: ContainerState::Running,
            image: "img".into(),
            created_at_ns: attempt as i64,
            started_at_ns: SEC,
            finished_at_ns: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
        };
        let parts: Vec<&str> = state.split(':').collect();
        match parts[0] {
            "running" => {}
            "created" => c.state = ContainerState::Created,
            "exited" => {
                c.state = ContainerState::Exited;
                c.exit_code = parts[1].parse().expect("code");
                c.started_at_ns = parts[2].parse::<i64>().expect("started") * SEC;
                c.finished_at_ns = parts[3].parse::<i64>().expect("finished") * SEC;
            }
            other => panic!("bad state {other}"),
        }
        c
    }

    struct Case {
        pod: DesiredPod,
        observed: ObservedPod,
        now_s: i64,
        book: Vec<(&'static str, u64)>,
        kills: Vec<&'static str>,
    }

    fn check(case: Case, expected: &[&str]) {
        let cfg = BackoffConfig {
            initial_ms: 10_000,
            max_ms: 40_000,
            reset_after_ms: 100_000,
        };
        let book: BackoffBook = case
            .book
            .iter()
            .map(|(n, ms)| ((PodUid("u".into()), n.to_string()), *ms))
            .collect();
        let kills: BTreeSet<String> = case.kills.iter().map(|s| s.to_string()).collect();
        let plan = plan_pod(
            &case.pod,
            &case.observed,
            &Inputs {
                now_ns: case.now_s * SEC,
                backoff: &cfg,
                book: &book,
                probe_kills: &kills,
            },
        );
        let mut got: Vec<String> = plan
            .actions
            .iter()
            .map(|a| match a {
                Action::CreateSandbox { attempt } => format!("sandbox#{attempt}"),
                Action::TeardownSandboxes { sandbox_ids, running_container_ids, grace_period_s } => format!("teardown {sandbox_ids:?} {running_container_ids:?} {grace_period_s}s"),
                Action::StartContainer { sandbox_id, name, kind, attempt, remove_ids, backoff_ms } => format!("start {name}#{attempt} in {sandbox_id} {kind:?} rm{remove_ids:?} backoff={backoff_ms}"),
                Action::StartExisting { id } => format!("start-existing {id}"),
                Action::KillContainer { id, grace_period_s, .. } => format!("kill {id} {grace_period_s}s"),
            })
            .collect();
        got.extend(plan.waiting.iter().map(|w| {
            format!(
                "wait {} {} until={}",
                w.name,
                w.reason,
                w.until_ns.map(|n| n / SEC).unwrap_or(-1)
            )
        }));
        assert_eq!(got, expected);
    }

    fn obs(sandboxes: Vec<ObservedSandbox>, containers: Vec<ObservedContainer>) -> ObservedPod {
        ObservedPod {
            sandboxes,
            containers,
        }
    }

    #[test]
    fn new_pod_gets_a_sandbox_then_its_containers() {
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a", "b"]),
                observed: obs(vec![], vec![]),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["sandbox#0"],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a", "b"]),
                observed: obs(vec![sandbox("s", 0, true)], vec![]),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &[
                "start a#0 in s App rm[] backoff=0",
                "start b#0 in s App rm[] backoff=0",
            ],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![container("c", "s", "a", 0, "running")],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &[],
        );
    }

    #[test]
    fn init_containers_run_in_order() {
        let p = || pod(RestartPolicy::Always, &["i1", "i2"], &["a"]);
        check(
            Case {
                pod: p(),
                observed: obs(vec![sandbox("s", 0, true)], vec![]),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["start i1#0 in s Init rm[] backoff=0"],
        );
        check(
            Case {
                pod: p(),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![container("c1", "s", "i1", 0, "running")],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &[],
        );
        check(
            Case {
                pod: p(),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![container("c1", "s", "i1", 0, "exited:0:1:2")],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["start i2#0 in s Init rm[] backoff=0"],
        );
        check(
            Case {
                pod: p(),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![
                        container("c1", "s", "i1", 0, "exited:0:1:2"),
                        container("c2", "s", "i2", 0, "exited:0:2:3"),
                    ],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["start a#0 in s App rm[] backoff=0"],
        );
        // A failed init container restarts (even under Always) and blocks the next ones.
        check(
            Case {
                pod: p(),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![container("c1", "s", "i1", 0, "exited:1:1:2")],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["start i1#1 in s Init rm[] backoff=10000"],
        );
        // Under Never, a failed init container fails the pod: nothing more runs.
        check(
            Case {
                pod: pod(RestartPolicy::Never, &["i1"], &["a"]),
                observed: obs(
                    vec![sandbox("s", 0, true)],
                    vec![container("c1", "s", "i1", 0, "exited:1:1:2")],
                ),
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &[],
        );
    }

    #[test]
    fn restart_policies() {
        let exited = |code: i32| {
            obs(
                vec![sandbox("s", 0, true)],
                vec![container("c", "s", "a", 0, &format!("exited:{code}:1:2"))],
            )
        };
        let case = |policy, code| Case {
            pod: pod(policy, &[], &["a"]),
            observed: exited(code),
            now_s: 10,
            book: vec![],
            kills: vec![],
        };
        check(
            case(RestartPolicy::Always, 0),
            &["start a#1 in s App rm[] backoff=10000"],
        );
        check(
            case(RestartPolicy::Always, 1),
            &["start a#1 in s App rm[] backoff=10000"],
        );
        check(case(RestartPolicy::OnFailure, 0), &[]);
        check(
            case(RestartPolicy::OnFailure, 137),
            &["start a#1 in s App rm[] backoff=10000"],
        );
        check(case(RestartPolicy::Never, 1), &[]);
        check(case(RestartPolicy::Never, 0), &[]);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let p = || pod(RestartPolicy::Always, &[], &["a"]);
        // Attempt 3 exited at t=100; previous instances are removed except the newest.
        let o = |started: i64, finished: i64| {
            obs(
                vec![sandbox("s", 0, true)],
                vec![
                    container("old", "s", "a", 2, "exited:1:50:60"),
                    container(
                        "new",
                        "s",
                        "a",
                        3,
                        &format!("exited:1:{started}:{finished}"),
                    ),
                ],
            )
        };
        // Within the back-off: wait, with kubelet's reason.
        check(
            Case {
                pod: p(),
                observed: o(99, 100),
                now_s: 105,
                book: vec![("a", 10_000)],
                kills: vec![],
            },
            &["wait a CrashLoopBackOff until=110"],
        );
        // After it: restart, and the next back-off doubles.
        check(
            Case {
                pod: p(),
                observed: o(99, 100),
                now_s: 110,
                book: vec![("a", 10_000)],
                kills: vec![],
            },
            &["start a#4 in s App rm[\"old\"] backoff=20000"],
        );
        // Capped at max.
        check(
            Case {
                pod: p(),
                observed: o(99, 100),
                now_s: 140,
                book: vec![("a", 40_000)],
                kills: vec![],
            },
            &["start a#4 in s App rm[\"old\"] backoff=40000"],
        );
        check(
            Case {
                pod: p(),
                observed: o(99, 100),
                now_s: 139,
                book: vec![("a", 40_000)],
                kills: vec![],
            },
            &["wait a CrashLoopBackOff until=140"],
        );
        // A container that ran for reset_after restarts at once and its back-off starts over.
        check(
            Case {
                pod: p(),
                observed: o(1, 101),
                now_s: 101,
                book: vec![("a", 40_000)],
                kills: vec![],
            },
            &["start a#4 in s App rm[\"old\"] backoff=10000"],
        );
    }

    #[test]
    fn probe_failures_kill_running_containers() {
        let o = obs(
            vec![sandbox("s", 0, true)],
            vec![container("c", "s", "a", 0, "running")],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: o.clone(),
                now_s: 10,
                book: vec![],
                kills: vec!["c"],
            },
            &["kill c 7s"],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: o,
                now_s: 10,
                book: vec![],
                kills: vec!["other"],
            },
            &[],
        );
    }

    #[test]
    fn created_but_not_started_is_started() {
        let o = obs(
            vec![sandbox("s", 0, true)],
            vec![container("c", "s", "a", 0, "created")],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: o,
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["start-existing c"],
        );
    }

    #[test]
    fn dead_sandbox_is_replaced_unless_the_pod_finished() {
        let o = obs(
            vec![sandbox("s", 2, false)],
            vec![container("c", "s", "a", 0, "running")],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: o,
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["teardown [\"s\"] [\"c\"] 7s", "sandbox#3"],
        );
        let done = obs(
            vec![sandbox("s", 0, false)],
            vec![container("c", "s", "a", 0, "exited:0:1:2")],
        );
        check(
            Case {
                pod: pod(RestartPolicy::OnFailure, &[], &["a"]),
                observed: done,
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &[],
        );
        // An older sandbox next to the current one is torn down.
        let two = obs(
            vec![sandbox("old", 0, false), sandbox("s", 1, true)],
            vec![container("c", "s", "a", 0, "running")],
        );
        check(
            Case {
                pod: pod(RestartPolicy::Always, &[], &["a"]),
                observed: two,
                now_s: 10,
                book: vec![],
                kills: vec![],
            },
            &["teardown [\"old\"] [] 7s"],
        );
    }

    #[test]
    fn orphans_are_torn_down_with_their_grace() {
        let o = obs(
            vec![sandbox("s", 0, true)],
            vec![
                container("c", "s", "a", 0, "running"),
                container("d", "s", "b", 0, "exited:0:1:2"),
            ],
        );
        assert_eq!(
            plan_orphan(&o).actions,
            vec![Action::TeardownSandboxes {
                sandbox_ids: vec!["s".into()],
                running_container_ids: vec!["c".into()],
                grace_period_s: 7
            }]
        );
        assert_eq!(plan_orphan(&ObservedPod::default()), Plan::default());
    }

    #[test]
    fn durations_print_like_kubelet() {
        assert_eq!(human_ms(10_000), "10s");
        assert_eq!(human_ms(160_000), "2m40s");
        assert_eq!(human_ms(300_000), "5m0s");
        assert_eq!(human_ms(500), "500ms");
    }
}
