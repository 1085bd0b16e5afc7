//! The scheduler on a real 3-replica cluster, driven with the real kubectl: pods get nodes
//! as kube-scheduler would place them (cordons, taints, selectors, resources, spread,
//! anti-affinity, preemption), with kube-scheduler's events and conditions; exactly one
//! replica schedules (the `kube-system/kube-scheduler` Lease); a frozen-then-resumed
//! leader's binds are refused by the store (fencing), and the same scenario without the
//! fence binds the pod, which is how the test proves it can fail; a killed leader's pending
//! pods are all scheduled once by the next.

use berth_system_tests::client::{history, Change};
use berth_system_tests::{bins, wait_for, Cluster, Kubectl, Opts, SimNodes};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Short leader election so failovers take seconds (client-go's ratios kept).
const FAST_ELECTION: [&str; 3] = [
    "--leader-elect-lease-duration=4s",
    "--leader-elect-renew-deadline=3s",
    "--leader-elect-retry-period=500ms",
];

fn cluster(opts: Opts) -> Cluster {
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            ..opts
        },
    );
    for i in 0..3 {
        Kubectl::new(&c.kubeconfig(i)).wait_ready();
    }
    c
}

fn fast_election() -> Vec<String> {
    FAST_ELECTION.iter().map(|s| s.to_string()).collect()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// A Ready node with the given allocatable cpu, labels, taints and cordon.
fn node(name: &str, cpu: &str, labels: Value, taints: Value, unschedulable: bool) -> Value {
    let mut l = json!({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"});
    if let (Some(l), Some(extra)) = (l.as_object_mut(), labels.as_object()) {
        l.extend(extra.clone());
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": l},
        "spec": {"unschedulable": unschedulable, "taints": taints},
        "status": {
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
        }
    })
}

fn pod(name: &str, cpu: Option<&str>, extra_spec: Value, labels: Value) -> Value {
    let mut container = json!({"name": "c", "image": "busybox:1.35", "command": ["sleep", "3600"]});
    if let Some(cpu) = cpu {
        container["resources"] = json!({"requests": {"cpu": cpu}});
    }
    let mut spec = json!({"containers": [container]});
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        s.extend(extra.clone());
    }
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": labels}, "spec": spec})
}

fn create(k: &Kubectl, obj: &Value) {
    k.ok_stdin(&["create", "-f", "-"], &obj.to_string());
}

fn node_of(k: &Kubectl, pod: &str) -> String {
    k.ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

#[track_caller]
fn wait_scheduled(k: &Kubectl, pod: &str, timeout: Duration) -> String {
    wait_for(&format!("pod {pod} to be scheduled"), timeout, || {
        let n = node_of(k, pod);
        if n.is_empty() {
            Err("unscheduled".into())
        } else {
            Ok(n)
        }
    })
}

/// The FailedScheduling message of a pending pod (from its PodScheduled condition).
#[track_caller]
fn wait_unschedulable(k: &Kubectl, pod: &str) -> String {
    wait_for(
        &format!("pod {pod} to be reported unschedulable"),
        Duration::from_secs(20),
        || {
            let p = json(&k.ok(&["get", "pod", pod, "-o", "json"]));
            let cond = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
                .cloned();
            match cond {
                Some(c) if c["reason"] == "Unschedulable" => {
                    Ok(c["message"].as_str().unwrap_or("").to_string())
                }
                other => Err(format!("condition {other:?}")),
            }
        },
    )
}

fn scheduler_leader(k: &Kubectl) -> (usize, String) {
    k.lease_holder("kube-scheduler")
}

/// Per pod key, the successive spec.nodeName values in the store's history ("" unbound).
fn bindings(changes: &[Change]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for c in changes {
        let Some(v) = &c.value else { continue };
        let p: Value = serde_json::from_slice(v).expect("a stored pod is JSON");
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let seq = out.entry(c.key.clone()).or_default();
        if seq.last() != Some(&node) {
            seq.push(node);
        }
    }
    out
}

/// No pod was ever bound twice or rebound: each history is `[""]`, `[X]` or `["", X]`.
#[track_caller]
fn assert_bound_at_most_once(hist: &HashMap<String, Vec<String>>) {
    for (key, seq) in hist {
        let ok = match seq.as_slice() {
            [_] => true,
            [a, b] => a.is_empty() && !b.is_empty(),
            _ => false,
        };
        assert!(ok, "pod {key} was bound more than once: {seq:?}");
    }
}

#[test]
fn pods_are_placed_as_kube_scheduler_places_them() {
    let c = cluster(Opts::default());
    let k = Kubectl::new(&c.kubeconfig(0));
    let k2 = Kubectl::new(&c.kubeconfig(1));
    let (_, holder) = scheduler_leader(&k);
    assert!(
        k.ok(&["get", "lease", "-n", "kube-system"])
            .contains("kube-scheduler"),
        "kubectl get lease shows the scheduler's Lease"
    );
    let lease = json(&k.ok(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-scheduler",
        "-o",
        "json",
    ]));
    assert_eq!(
        lease["spec"]["leaseDurationSeconds"], 15,
        "client-go's default lease"
    );
    assert!(holder.len() > 3);

    let from = c.store_revision();
    create(
        &k,
        &node("node-a", "2", json!({"disk": "ssd"}), json!([]), false),
    );
    create(
        &k,
        &node("node-b", "2", json!({"disk": "ssd"}), json!([]), true),
    );
    create(
        &k,
        &node(
            "node-c",
            "2",
            json!({"disk": "ssd"}),
            json!([{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]),
            false,
        ),
    );

    // kubectl run: the one node neither cordoned nor tainted.
    k.ok(&[
        "run",
        "p1",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    assert_eq!(wait_scheduled(&k, "p1", Duration::from_secs(20)), "node-a");
    let described = wait_for("the Scheduled event", Duration::from_secs(10), || {
        let d = k2.ok(&["describe", "pod", "p1"]);
        if d.contains("Successfully assigned default/p1 to node-a") {
            Ok(d)
        } else {
            Err(d)
        }
    });
    assert!(described.contains("default-scheduler"), "{described}");
    let p1 = json(&k.ok(&["get", "pod", "p1", "-o", "json"]));
    let scheduled = p1["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "PodScheduled" && c["status"] == "True");
    assert!(scheduled, "PodScheduled=True: {p1}");

    // A toleration opens the tainted node; a selector nothing matches fits nowhere, with
    // kube-scheduler's message.
    create(
        &k,
        &pod(
            "tolerant",
            None,
            json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}],
                    "nodeSelector": {"kubernetes.io/hostname": "node-c"}}),
            json!({}),
        ),
    );
    assert_eq!(
        wait_scheduled(&k, "tolerant", Duration::from_secs(20)),
        "node-c"
    );
    create(
        &k,
        &pod(
            "picky",
            None,
            json!({"nodeSelector": {"disk": "hdd"}}),
            json!({}),
        ),
    );
    let msg = wait_unschedulable(&k, "picky");
    assert_eq!(
        msg,
        // One reason per node (the first filter that fails, in kube-scheduler's order), the
        // "N reason" strings sorted.
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: infra}, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let events = k.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=picky",
        "-o",
        "json",
    ]);
    let events = json(&events);
    assert!(
        events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["reason"] == "FailedScheduling"
                && e["type"] == "Warning"
                && e["message"].as_str() == Some(msg.as_str())),
        "a FailedScheduling event: {events}"
    );
    // A node event makes the pod schedulable: it is retried without waiting 5 minutes.
    k.ok(&["label", "node", "node-a", "disk=hdd", "--overwrite"]);
    assert_eq!(
        wait_scheduled(&k, "picky", Duration::from_secs(20)),
        "node-a"
    );

    // Resources are never overcommitted: node-a has 2 cpus; three 1-cpu pods that may only
    // go there: two fit, the third waits with "Insufficient cpu" until one is deleted.
    for name in ["r1", "r2", "r3"] {
        create(
            &k,
            &pod(
                name,
                Some("1"),
                json!({"nodeSelector": {"kubernetes.io/hostname": "node-a"}}),
                json!({}),
            ),
        );
    }
    let placed = wait_for(
        "two of three 1-cpu pods placed",
        Duration::from_secs(20),
        || {
            let placed: Vec<&str> = ["r1", "r2", "r3"]
                .into_iter()
                .filter(|p| !node_of(&k, p).is_empty())
                .collect();
            if placed.len() == 2 {
                Ok(placed)
            } else {
                Err(format!("{placed:?}"))
            }
        },
    );
    let waiting = ["r1", "r2", "r3"]
        .into_iter()
        .find(|p| !placed.contains(p))
        .expect("one waits");
    let msg = wait_unschedulable(&k, waiting);
    assert!(msg.contains("1 Insufficient cpu"), "{msg}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        node_of(&k, waiting).is_empty(),
        "the third pod must not overcommit node-a"
    );
    k.ok(&["delete", "pod", placed[0], "--grace-period=0", "--force"]);
    assert_eq!(
        wait_scheduled(&k, waiting, Duration::from_secs(20)),
        "node-a"
    );

    // Over the whole history, nothing was bound twice.
    let hist = bindings(&history(&c.certs, &c.endpoints(), "/registry/pods/", from));
    assert!(hist.len() >= 6, "{hist:?}");
    assert_bound_at_most_once(&hist);
}

#[test]
fn spread_anti_affinity_and_preemption() {
    let c = cluster(Opts::default());
    let k = Kubectl::new(&c.kubeconfig(2));
    scheduler_leader(&k);
    // Simulated nodes (they finish the victims' graceful deletion, as a kubelet does):
    // sim-0..2 in zones zone-a, zone-b, zone-c, 4 cpus each.
    let _sim = SimNodes::start(
        &c.kubeconfig(1),
        3,
        "sim-",
        &c.dir().join("sim.log"),
        &["--node-cpu", "4"],
    );
    wait_for("three simulated nodes", Duration::from_secs(30), || {
        let out = k.ok(&["get", "nodes", "-o", "name"]);
        if out.lines().count() == 3 {
            Ok(())
        } else {
            Err(out)
        }
    });
    // Topology spread over zones: 6 pods, maxSkew 1 -> 2 per zone.
    for i in 0..6 {
        create(
            &k,
            &pod(
                &format!("spread-{i}"),
                Some("100m"),
                json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "spread"}}}]}),
                json!({"app": "spread"}),
            ),
        );
    }
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for i in 0..6 {
        *per_node
            .entry(wait_scheduled(
                &k,
                &format!("spread-{i}"),
                Duration::from_secs(20),
            ))
            .or_default() += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "{per_node:?}"
    );

    // Required anti-affinity on hostname: one per node, the fourth waits.
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    for i in 0..4 {
        create(
            &k,
            &pod(
                &format!("solo-{i}"),
                None,
                anti.clone(),
                json!({"app": "solo"}),
            ),
        );
    }
    let placed: Vec<String> = wait_for("three solo pods placed", Duration::from_secs(20), || {
        let nodes: Vec<String> = (0..4)
            .map(|i| node_of(&k, &format!("solo-{i}")))
            .filter(|n| !n.is_empty())
            .collect();
        if nodes.len() == 3 {
            Ok(nodes)
        } else {
            Err(format!("{nodes:?}"))
        }
    });
    let mut distinct = placed.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "one solo pod per node: {placed:?}");
    let waiting = (0..4)
        .map(|i| format!("solo-{i}"))
        .find(|p| node_of(&k, p).is_empty())
        .expect("one solo pod waits");
    let msg = wait_unschedulable(&k, &waiting);
    assert!(
        msg.starts_with("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."),
        "{msg}"
    );

    // Preemption: fill sim-0 with low-priority pods, then a high-priority pod that only fits
    // there evicts the fewest, lowest ones and is nominated, then bound.
    k.ok_stdin(&["create", "-f", "-"], r#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"high"},"value":1000}"#);
    k.ok_stdin(&["create", "-f", "-"], r#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"low"},"value":10}"#);
    let only_a =
        json!({"nodeSelector": {"kubernetes.io/hostname": "sim-0"}, "priorityClassName": "low"});
    // sim-0 has 4 cpus; 0.2 used by spread pods (2 x 100m) -> 3.8 free: three 1.2-cpu pods.
    for i in 0..3 {
        create(
            &k,
            &pod(
                &format!("low-{i}"),
                Some("1200m"),
                only_a.clone(),
                json!({}),
            ),
        );
        wait_scheduled(&k, &format!("low-{i}"), Duration::from_secs(20));
    }
    create(
        &k,
        &pod(
            "vip",
            Some("1"),
            json!({"nodeSelector": {"kubernetes.io/hostname": "sim-0"}, "priorityClassName": "high"}),
            json!({}),
        ),
    );
    assert_eq!(wait_scheduled(&k, "vip", Duration::from_secs(30)), "sim-0");
    let left: Vec<String> = (0..3)
        .map(|i| format!("low-{i}"))
        .filter(|p| k.run(&["get", "pod", p], None).status.success())
        .collect();
    assert_eq!(left.len(), 2, "exactly one victim: {left:?}");
    let events = k.ok(&["get", "events", "-o", "json"]);
    assert!(events.contains("Preempted by pod"), "a Preempted event");
}

/// The fencing scenario: the leading scheduler decides a node for pod p1 and stalls before
/// its bind (failpoint), the node is cordoned, the leader is frozen (SIGSTOP) past its
/// Lease, another replica takes the Lease (and finds p1 unschedulable), the old one resumes
/// and sends its stale bind. Returns where p1 ended
/// up a few seconds later ("" = nowhere) and the binding history.
fn deposed_leader_binds(fenced: bool) -> (String, HashMap<String, Vec<String>>, Cluster) {
    let mut failpoints = "scheduler::before-bind=1*return(8000)".to_string();
    if !fenced {
        failpoints.push_str(";scheduler::unfenced-bind=return");
    }
    let c = cluster(Opts {
        binary: Some(bins::control_plane_failpoints()),
        env: vec![("FAILPOINTS".into(), failpoints)],
        extra_args: fast_election(),
        ..Opts::default()
    });
    let k = Kubectl::new(&c.kubeconfig(0));
    let (old, old_holder) = scheduler_leader(&k);
    let other = Kubectl::new(&c.kubeconfig((old + 1) % 3));
    let from = c.store_revision();
    create(&other, &node("node-a", "4", json!({}), json!([]), false));
    create(&other, &pod("p1", None, json!({}), json!({})));
    wait_for(
        "the leader to stall before its bind",
        Duration::from_secs(20),
        || {
            if c.log(old)
                .contains("failpoint scheduler::before-bind: stalling")
            {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    // The decision is made; now the node is cordoned and the leader frozen past its Lease.
    other.ok(&["cordon", "node-a"]);
    c.pause(old);
    let (new, _) = wait_for(
        "another replica to take the Lease",
        Duration::from_secs(30),
        || {
            let (i, h) = scheduler_leader(&other);
            if h != old_holder {
                Ok((i, h))
            } else {
                Err(h)
            }
        },
    );
    assert_ne!(new, old);
    // The new leader sees p1 pending on a cordoned node: unschedulable.
    wait_unschedulable(&other, "p1");
    c.resume(old);
    // The old leader's stall ends at once (its timer is overdue) and the bind goes out.
    wait_for(
        "the resumed replica to send its bind",
        Duration::from_secs(30),
        || {
            let log = c.log(old);
            if log.contains("bind refused") || !node_of(&other, "p1").is_empty() {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    let placed = node_of(&other, "p1");
    let hist = bindings(&history(&c.certs, &c.endpoints(), "/registry/pods/", from));
    (placed, hist, c)
}

#[test]
fn a_deposed_scheduler_cannot_bind() {
    let (placed, hist, c) = deposed_leader_binds(true);
    assert_eq!(placed, "", "the deposed scheduler's bind must be refused");
    assert_bound_at_most_once(&hist);
    let old_refused = (0..3).any(|i| {
        c.log(i)
            .contains("bind refused: the scheduler's lease has moved on")
    });
    assert!(
        old_refused,
        "the old leader's bind was refused by the fence"
    );
    // The new leader schedules once the node is usable again.
    let k = Kubectl::new(&c.kubeconfig(0));
    k.ok(&["uncordon", "node-a"]);
    assert_eq!(wait_scheduled(&k, "p1", Duration::from_secs(30)), "node-a");
}

#[test]
fn without_the_fence_the_deposed_scheduler_binds_so_the_test_can_fail() {
    let (placed, _, _c) = deposed_leader_binds(false);
    assert_eq!(
        placed, "node-a",
        "without fencing the stale bind lands on the cordoned node: the check above is real"
    );
}

#[test]
fn a_killed_leaders_pending_pods_are_all_scheduled_once_by_the_next() {
    const N: usize = 1000;
    let mut c = cluster(Opts {
        extra_args: fast_election(),
        ..Opts::default()
    });
    let k = Kubectl::new(&c.kubeconfig(0));
    let (leader, holder) = scheduler_leader(&k);
    let survivor = Kubectl::new(&c.kubeconfig((leader + 1) % 3));
    let from = c.store_revision();
    // The pods wait (no nodes yet), then the nodes appear and the leader dies at once.
    let pods: Vec<Value> = (0..N)
        .map(|i| {
            pod(
                &format!("p-{i:04}"),
                Some("10m"),
                json!({}),
                json!({"app": "bulk"}),
            )
        })
        .collect();
    survivor.ok_stdin(
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "List", "items": pods}).to_string(),
    );
    let nodes: Vec<Value> = (0..10)
        .map(|i| node(&format!("n-{i}"), "64", json!({}), json!([]), false))
        .collect();
    survivor.ok_stdin(
        &["create", "-f", "-"],
        &json!({"apiVersion": "v1", "kind": "List", "items": nodes}).to_string(),
    );
    c.kill(leader);
    let killed = Instant::now();
    wait_for("all pods to be scheduled", Duration::from_secs(60), || {
        let out = survivor.ok(&[
            "get",
            "pods",
            "-l",
            "app=bulk",
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}",
        ]);
        let bound = out.lines().filter(|l| !l.is_empty()).count();
        if bound == N {
            Ok(())
        } else {
            Err(format!("{bound}/{N} bound"))
        }
    });
    let took = killed.elapsed();
    let (_, new_holder) = scheduler_leader(&survivor);
    assert_ne!(new_holder, holder);
    // Lease duration (4 s) + a few seconds.
    assert!(
        took < Duration::from_secs(30),
        "failover and scheduling took {took:?}"
    );
    let survivors: Vec<String> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| c.endpoint(i).to_string())
        .collect();
    let hist = bindings(&history(
        &c.certs,
        &survivors,
        "/registry/pods/default/p-",
        from,
    ));
    assert_eq!(hist.len(), N);
    assert_bound_at_most_once(&hist);
    eprintln!("failover: {N} pending pods all bound {took:?} after the leader was killed");
}
