//! PodStatus computed like kubelet's: phase, conditions, container statuses with state,
//! lastState, restartCount and reasons, podIP, startTime. Pure: the caller passes every
//! observation, probe verdict and clock reading. The output is the Kubernetes API type,
//! because this status is exactly what `/pods` serves (and what the API server will store).

use crate::model::{
    ContainerKind, ContainerSpec, ContainerState, DesiredPod, ObservedContainer, ObservedPod,
    RestartPolicy,
};
use crate::plan::Waiting;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// Probe verdicts for one running container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// The startup probe succeeded (or there is none).
    pub started: bool,
    /// The readiness probe's settled result is success (or there is none).
    pub ready: bool,
}

/// Everything besides the spec and the runtime's view.
pub struct StatusInputs<'a> {
    pub now_ns: i64,
    /// When the agent first saw the pod.
    pub start_time_ns: i64,
    /// Verdicts by container id (absent: nothing settled yet).
    pub verdicts: &'a BTreeMap<String, Verdicts>,
    /// Containers the last plan left waiting (back-off).
    pub waiting: &'a [Waiting],
    /// The last error starting a container, by name: (reason, message).
    pub start_errors: &'a BTreeMap<String, (String, String)>,
    /// The last error creating the sandbox.
    pub sandbox_error: Option<&'a str>,
    /// The previous status (conditions keep their lastTransitionTime while unchanged).
    pub previous: Option<&'a core::PodStatus>,
}

pub fn time(ns: i64) -> Option<Time> {
    if ns <= 0 {
        return None;
    }
    Timestamp::from_nanosecond(ns as i128).ok().map(Time)
}

fn terminated(c: &ObservedContainer) -> core::ContainerStateTerminated {
    let reason = if c.reason == "OOMKilled" {
        "OOMKilled".to_string()
    } else if c.exit_code == 0 {
        "Completed".to_string()
    } else {
        "Error".to_string()
    };
    core::ContainerStateTerminated {
        exit_code: c.exit_code,
        reason: Some(reason),
        message: (!c.message.is_empty()).then(|| c.message.clone()),
        started_at: time(c.started_at_ns),
        finished_at: time(c.finished_at_ns),
        container_id: Some(format!("containerd://{}", c.id)),
        signal: None,
    }
}

fn waiting_state(reason: &str, message: Option<String>) -> core::ContainerState {
    core::ContainerState {
        waiting: Some(core::ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..Default::default()
    }
}

fn container_status(
    spec: &ContainerSpec,
    kind: ContainerKind,
    instances: &[&ObservedContainer],
    inputs: &StatusInputs<'_>,
    initializing: bool,
) -> core::ContainerStatus {
    let cur = instances.first().copied();
    let prev = instances
        .get(1)
        .copied()
        .filter(|p| p.state == ContainerState::Exited);
    let mut st = core::ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone(),
        ..Default::default()
    };
    let verdicts = cur
        .and_then(|c| inputs.verdicts.get(&c.id))
        .copied()
        .unwrap_or_default();
    match cur {
        None => {
            let (reason, message) = match inputs.start_errors.get(&spec.name) {
                Some((r, m)) => (r.as_str(), Some(m.clone())),
                None if initializing && kind == ContainerKind::App => ("PodInitializing", None),
                None => ("ContainerCreating", None),
            };
            st.state = Some(waiting_state(reason, message));
        }
        Some(c) => {
            st.container_id = Some(format!("containerd://{}", c.id));
            st.image_id = String::new();
            st.restart_count = c.attempt as i32;
            match c.state {
                ContainerState::Created | ContainerState::Unknown => {
                    st.state = Some(waiting_state("ContainerCreating", None));
                    st.last_state = prev.map(|p| core::ContainerState {
                        terminated: Some(terminated(p)),
                        ..Default::default()
                    });
                }
                ContainerState::Running => {
                    let started = spec.startup.is_none() || verdicts.started;
                    st.started = Some(started);
                    st.ready = started && (spec.readiness.is_none() || verdicts.ready);
                    st.state = Some(core::ContainerState {
                        running: Some(core::ContainerStateRunning {
                            started_at: time(c.started_at_ns),
                        }),
                        ..Default::default()
                    });
                    st.last_state = prev.map(|p| core::ContainerState {
                        terminated: Some(terminated(p)),
                        ..Default::default()
                    });
                }
                ContainerState::Exited => {
                    st.started = Some(false);
                    match inputs.waiting.iter().find(|w| w.name == spec.name) {
                        Some(w) => {
                            st.state = Some(waiting_state(&w.reason, Some(w.message.clone())));
                            st.last_state = Some(core::ContainerState {
                                terminated: Some(terminated(c)),
                                ..Default::default()
                            });
                        }
                        None => {
                            st.state = Some(core::ContainerState {
                                terminated: Some(terminated(c)),
                                ..Default::default()
                            });
                            st.last_state = prev.map(|p| core::ContainerState {
                                terminated: Some(terminated(p)),
                                ..Default::default()
                            });
                        }
                    }
                }
            }
        }
    }
    if kind == ContainerKind::Init {
        st.ready = cur.is_some_and(|c| c.state == ContainerState::Exited && c.exit_code == 0);
    }
    st.last_state.get_or_insert_with(Default::default);
    st
}

fn condition(
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    inputs: &StatusInputs<'_>,
) -> core::PodCondition {
    let status = if ok { "True" } else { "False" };
    let since = inputs
        .previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == status))
        .and_then(|c| c.last_transition_time.clone())
        .or_else(|| time(inputs.now_ns));
    core::PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: if ok { None } else { reason.map(str::to_string) },
        message: if ok { None } else { message },
        last_transition_time: since,
        ..Default::default()
    }
}

/// The pod's QoS class from its containers' requests and limits.
pub fn qos_class(pod: &DesiredPod) -> &'static str {
    let all: Vec<&ContainerSpec> = pod.init_containers.iter().chain(&pod.containers).collect();
    let r = |c: &ContainerSpec| c.resources.clone();
    if all.iter().all(|c| {
        let r = r(c);
        r.cpu_request_milli.is_none()
            && r.cpu_limit_milli.is_none()
            && r.memory_request_bytes.is_none()
            && r.memory_limit_bytes.is_none()
    }) {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        let r = r(c);
        r.cpu_limit_milli.is_some()
            && r.memory_limit_bytes.is_some()
            && r.cpu_request_milli
                .is_none_or(|q| Some(q) == r.cpu_limit_milli)
            && r.memory_request_bytes
                .is_none_or(|q| Some(q) == r.memory_limit_bytes)
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Computes the status of a desired pod.
pub fn pod_status(
    pod: &DesiredPod,
    observed: &ObservedPod,
    inputs: &StatusInputs<'_>,
) -> core::PodStatus {
    let sandbox = observed.latest_sandbox();
    let sid = sandbox.map(|s| s.id.as_str()).unwrap_or("");
    let instances = |name: &str| {
        if sandbox.is_some() {
            observed.instances(sid, name)
        } else {
            vec![]
        }
    };

    // Init containers, kubelet's way: pending until each exited 0; failed under Never.
    let mut pending_init: Vec<String> = vec![];
    let mut failed_init = false;
    let mut init_statuses = vec![];
    for spec in &pod.init_containers {
        let inst = instances(&spec.name);
        match inst.first() {
            Some(c) if c.state == ContainerState::Exited && c.exit_code == 0 => {}
            Some(c)
                if c.state == ContainerState::Exited
                    && pod.restart_policy == RestartPolicy::Never =>
            {
                failed_init = true;
                pending_init.push(spec.name.clone());
            }
            _ => pending_init.push(spec.name.clone()),
        }
        init_statuses.push(container_status(
            spec,
            ContainerKind::Init,
            &inst,
            inputs,
            true,
        ));
    }
    let initializing = !pending_init.is_empty();
    let statuses: Vec<core::ContainerStatus> = pod
        .containers
        .iter()
        .map(|spec| {
            container_status(
                spec,
                ContainerKind::App,
                &instances(&spec.name),
                inputs,
                initializing,
            )
        })
        .collect();

    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in &statuses {
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            match s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
                Some(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                None => waiting += 1,
            }
        }
    }
    let phase = if failed_init {
        "Failed"
    } else if initializing || waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match pod.restart_policy {
            RestartPolicy::Always => "Running",
            _ if stopped == succeeded => "Succeeded",
            RestartPolicy::Never => "Failed",
            RestartPolicy::OnFailure => "Running",
        }
    } else {
        "Pending"
    };
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let unready: Vec<&str> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    let containers_ready = unready.is_empty() && !terminal;
    let not_ready_reason = if terminal {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let unready_msg = (!unready.is_empty())
        .then(|| format!("containers with unready status: [{}]", unready.join(" ")));
    let conditions = vec![
        condition(
            "PodReadyToStartContainers",
            sandbox.is_some_and(|s| s.ready),
            None,
            None,
            inputs,
        ),
        condition(
            "Initialized",
            !initializing,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                pending_init.join(" ")
            )),
            inputs,
        ),
        condition(
            "Ready",
            containers_ready,
            Some(not_ready_reason),
            unready_msg.clone(),
            inputs,
        ),
        condition(
            "ContainersReady",
            containers_ready,
            Some(not_ready_reason),
            unready_msg,
            inputs,
        ),
        condition("PodScheduled", true, None, None, inputs),
    ];
    let ip = sandbox.and_then(|s| s.ip.clone());
    core::PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        message: inputs.sandbox_error.map(str::to_string),
        reason: None,
        pod_ip: ip.clone(),
        pod_ips: ip.map(|ip| vec![core::PodIP { ip }]),
        start_time: time(inputs.start_time_ns),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        qos_class: Some(qos_class(pod).to_string()),
        ..Default::default()
    }
}

/// The status of a manifest that names a pod but cannot run: Failed, with the error.
pub fn invalid_status(message: &str, now_ns: i64) -> core::PodStatus {
    core::PodStatus {
        phase: Some("Failed".into()),
        reason: Some("InvalidManifest".into()),
        message: Some(message.to_string()),
        start_time: time(now_ns),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedSandbox, PodUid, Probe, ProbeAction};

    const SEC: i64 = 1_000_000_000;

    use crate::model::test_pod as pod;

    /// "running", "created", or "exited:<code>"; attempt given separately.
    fn c(name: &str, attempt: u32, state: &str) -> ObservedContainer {
        let (st, code) = match state.split_once(':') {
            Some(("exited", code)) => (ContainerState::Exited, code.parse().expect("code")),
            _ if state == "running" => (ContainerState::Running, 0),
            _ => (ContainerState::Created, 0),
        };
        ObservedContainer {
            id: format!("{name}-{attempt}"),
            sandbox_id: "s".into(),
            uid: PodUid("u".into()),
            name: name.into(),
            kind: ContainerKind::App,
            attempt,
            state: st,
            image: "img".into(),
            created_at_ns: attempt as i64 * SEC,
            started_at_ns: SEC,
            finished_at_ns: if st == ContainerState::Exited {
                2 * SEC
            } else {
                0
            },
            exit_code: code,
            reason: String::new(),
            message: String::new(),
        }
    }

    fn observed(cs: Vec<ObservedContainer>) -> ObservedPod {
        ObservedPod {
            sandboxes: vec![ObservedSandbox {
                id: "s".into(),
                uid: PodUid("u".into()),
                namespace: "default".into(),
                name: "p".into(),
                attempt: 0,
                ready: true,
                created_at_ns: SEC,
                ip: Some("198.18.0.2".into()),
                grace_period_s: 30,
            }],
            containers: cs,
        }
    }

    struct Expect<'a> {
        phase: &'a str,
        ready: bool,
        initialized: bool,
        /// Per app container: "<state>[/<lastState>] rc=<n>", e.g. "waiting:CrashLoopBackOff/terminated:Error rc=2".
        containers: &'a [&'a str],
    }

    fn describe(s: &core::ContainerStatus) -> String {
        let one = |st: &core::ContainerState| -> Option<String> {
            if let Some(w) = &st.waiting {
                Some(format!("waiting:{}", w.reason.clone().unwrap_or_default()))
            } else if st.running.is_some() {
                Some("running".into())
            } else {
                st.terminated
                    .as_ref()
                    .map(|t| format!("terminated:{}", t.reason.clone().unwrap_or_default()))
            }
        };
        let mut out = one(s.state.as_ref().expect("state")).expect("one state");
        if let Some(l) = s.last_state.as_ref().and_then(one) {
            out.push('/');
            out.push_str(&l);
        }
        format!("{out} rc={}", s.restart_count)
    }

    fn check(
        p: &DesiredPod,
        o: &ObservedPod,
        waiting: &[Waiting],
        verdicts: &[(&str, Verdicts)],
        expected: Expect<'_>,
    ) {
        let verdicts: BTreeMap<String, Verdicts> =
            verdicts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let errors = BTreeMap::new();
        let inputs = StatusInputs {
            now_ns: 10 * SEC,
            start_time_ns: SEC,
            verdicts: &verdicts,
            waiting,
            start_errors: &errors,
            sandbox_error: None,
            previous: None,
        };
        let st = pod_status(p, o, &inputs);
        assert_eq!(st.phase.as_deref(), Some(expected.phase), "phase");
        let cond = |t: &str| {
            st.conditions
                .as_ref()
                .expect("conditions")
                .iter()
                .find(|c| c.type_ == t)
                .expect("condition")
                .status
                == "True"
        };
        assert_eq!(cond("Ready"), expected.ready, "Ready");
        assert_eq!(cond("ContainersReady"), expected.ready, "ContainersReady");
        assert_eq!(cond("Initialized"), expected.initialized, "Initialized");
        assert!(cond("PodScheduled"));
        let got: Vec<String> = st
            .container_statuses
            .as_ref()
            .expect("statuses")
            .iter()
            .map(describe)
            .collect();
        assert_eq!(got, expected.containers);
    }

    fn backoff(name: &str) -> Waiting {
        Waiting {
            name: name.into(),
            reason: "CrashLoopBackOff".into(),
            message: "back-off 10s".into(),
            until_ns: Some(20 * SEC),
        }
    }

    #[test]
    fn phases_and_states() {
        let always = pod(RestartPolicy::Always, &[], &["a"]);
        check(
            &always,
            &ObservedPod::default(),
            &[],
            &[],
            Expect {
                phase: "Pending",
                ready: false,
                initialized: true,
                containers: &["waiting:ContainerCreating rc=0"],
            },
        );
        check(
            &always,
            &observed(vec![c("a", 0, "running")]),
            &[],
            &[],
            Expect {
                phase: "Running",
                ready: true,
                initialized: true,
                containers: &["running rc=0"],
            },
        );
        check(
            &always,
            &observed(vec![c("a", 1, "exited:1"), c("a", 2, "exited:1")]),
            &[backoff("a")],
            &[],
            Expect {
                phase: "Running",
                ready: false,
                initialized: true,
                containers: &["waiting:CrashLoopBackOff/terminated:Error rc=2"],
            },
        );
        check(
            &always,
            &observed(vec![c("a", 1, "exited:1"), c("a", 2, "running")]),
            &[],
            &[],
            Expect {
                phase: "Running",
                ready: true,
                initialized: true,
                containers: &["running/terminated:Error rc=2"],
            },
        );
        let never = pod(RestartPolicy::Never, &[], &["a", "b"]);
        check(
            &never,
            &observed(vec![c("a", 0, "exited:0"), c("b", 0, "exited:0")]),
            &[],
            &[],
            Expect {
                phase: "Succeeded",
                ready: false,
                initialized: true,
                containers: &["terminated:Completed rc=0", "terminated:Completed rc=0"],
            },
        );
        check(
            &never,
            &observed(vec![c("a", 0, "exited:0"), c("b", 0, "exited:3")]),
            &[],
            &[],
            Expect {
                phase: "Failed",
                ready: false,
                initialized: true,
                containers: &["terminated:Completed rc=0", "terminated:Error rc=0"],
            },
        );
        check(
            &never,
            &observed(vec![c("a", 0, "exited:0"), c("b", 0, "running")]),
            &[],
            &[],
            Expect {
                phase: "Running",
                ready: false,
                initialized: true,
                containers: &["terminated:Completed rc=0", "running rc=0"],
            },
        );
        let on_failure = pod(RestartPolicy::OnFailure, &[], &["a"]);
        check(
            &on_failure,
            &observed(vec![c("a", 0, "exited:0")]),
            &[],
            &[],
            Expect {
                phase: "Succeeded",
                ready: false,
                initialized: true,
                containers: &["terminated:Completed rc=0"],
            },
        );
        let mut oom = c("a", 0, "exited:137");
        oom.reason = "OOMKilled".into();
        check(
            &on_failure,
            &observed(vec![oom]),
            &[],
            &[],
            Expect {
                phase: "Running",
                ready: false,
                initialized: true,
                containers: &["terminated:OOMKilled rc=0"],
            },
        );
    }

    #[test]
    fn init_containers_gate_initialized() {
        let p = pod(RestartPolicy::Always, &["i"], &["a"]);
        check(
            &p,
            &observed(vec![c("i", 0, "running")]),
            &[],
            &[],
            Expect {
                phase: "Pending",
                ready: false,
                initialized: false,
                containers: &["waiting:PodInitializing rc=0"],
            },
        );
        check(
            &p,
            &observed(vec![c("i", 0, "exited:0"), c("a", 0, "running")]),
            &[],
            &[],
            Expect {
                phase: "Running",
                ready: true,
                initialized: true,
                containers: &["running rc=0"],
            },
        );
        let never = pod(RestartPolicy::Never, &["i"], &["a"]);
        check(
            &never,
            &observed(vec![c("i", 0, "exited:1")]),
            &[],
            &[],
            Expect {
                phase: "Failed",
                ready: false,
                initialized: false,
                containers: &["waiting:PodInitializing rc=0"],
            },
        );
    }

    #[test]
    fn readiness_and_startup_verdicts() {
        let probe = Probe {
            action: ProbeAction::Tcp { port: 80 },
            initial_delay_s: 0,
            period_s: 1,
            timeout_s: 1,
            success_threshold: 1,
            failure_threshold: 1,
        };
        let mut p = pod(RestartPolicy::Always, &[], &["a"]);
        p.containers[0].readiness = Some(probe.clone());
        let o = observed(vec![c("a", 0, "running")]);
        let running = Expect {
            phase: "Running",
            ready: false,
            initialized: true,
            containers: &["running rc=0"],
        };
        check(&p, &o, &[], &[], running);
        check(
            &p,
            &o,
            &[],
            &[(
                "a-0",
                Verdicts {
                    started: true,
                    ready: true,
                },
            )],
            Expect {
                phase: "Running",
                ready: true,
                initialized: true,
                containers: &["running rc=0"],
            },
        );
        p.containers[0].startup = Some(probe);
        check(
            &p,
            &o,
            &[],
            &[(
                "a-0",
                Verdicts {
                    started: false,
                    ready: true,
                },
            )],
            Expect {
                phase: "Running",
                ready: false,
                initialized: true,
                containers: &["running rc=0"],
            },
        );
    }

    #[test]
    fn transition_times_hold_while_unchanged() {
        let p = pod(RestartPolicy::Always, &[], &["a"]);
        let o = observed(vec![c("a", 0, "running")]);
        let (v, e) = (BTreeMap::new(), BTreeMap::new());
        let first = pod_status(
            &p,
            &o,
            &StatusInputs {
                now_ns: 5 * SEC,
                start_time_ns: SEC,
                verdicts: &v,
                waiting: &[],
                start_errors: &e,
                sandbox_error: None,
                previous: None,
            },
        );
        let second = pod_status(
            &p,
            &o,
            &StatusInputs {
                now_ns: 9 * SEC,
                start_time_ns: SEC,
                verdicts: &v,
                waiting: &[],
                start_errors: &e,
                sandbox_error: None,
                previous: Some(&first),
            },
        );
        assert_eq!(first.conditions, second.conditions);
        assert_eq!(second.pod_ip.as_deref(), Some("198.18.0.2"));
        assert_eq!(second.start_time, time(SEC));
    }

    #[test]
    fn qos() {
        let mut p = pod(RestartPolicy::Always, &[], &["a"]);
        assert_eq!(qos_class(&p), "BestEffort");
        p.containers[0].resources.memory_limit_bytes = Some(1 << 26);
        assert_eq!(qos_class(&p), "Burstable");
        p.containers[0].resources.cpu_limit_milli = Some(100);
        assert_eq!(qos_class(&p), "Guaranteed");
    }
}
