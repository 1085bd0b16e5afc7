//! The controllers on a real 3-replica cluster with simulated nodes, driven with the real
//! kubectl as a user would: `create deployment`, `rollout status/history/undo`, `set image`,
//! `scale`, `expose`, `delete` (background and orphan), and a namespace deletion. The
//! rolling update's bounds are checked over the store's whole history of the pods, not
//! just at the end.

use berth_system_tests::client::{history, Change};
use berth_system_tests::{wait_for, Cluster, Kubectl, Opts, SimNodes};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn cluster(n_nodes: usize) -> (Cluster, SimNodes) {
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            ..Opts::default()
        },
    );
    for i in 0..3 {
        Kubectl::new(&c.kubeconfig(i)).wait_ready();
    }
    let sim = SimNodes::start(
        &c.kubeconfig(1),
        n_nodes,
        "sim-",
        &c.dir().join("sim.log"),
        &[],
    );
    let k = Kubectl::new(&c.kubeconfig(0));
    wait_for(
        "the simulated nodes to be Ready",
        Duration::from_secs(60),
        || {
            let out = k.ok(&["get", "nodes", "-o", "json"]);
            let ready = json(&out)["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| {
                    n["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
                .count();
            if ready == n_nodes {
                Ok(())
            } else {
                Err(format!("{ready} Ready"))
            }
        },
    );
    (c, sim)
}

fn is_ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Replays the pods' history; at every revision, the pods of `app` (not terminating) and
/// those of them Ready, starting from `initial` (the pods at the revision before the
/// history). Returns (max pods, min ready once `ready_from` was first reached, pods
/// created within the history).
fn replay(
    initial: HashMap<String, Value>,
    changes: &[Change],
    app: &str,
    ready_from: usize,
) -> (usize, usize, usize) {
    let mut pods: HashMap<String, Value> = initial
        .into_iter()
        .filter(|(_, p)| p["metadata"]["labels"]["app"] == app)
        .collect();
    let mut max_pods = 0;
    let mut min_ready = usize::MAX;
    let mut reached = false;
    let mut created = 0;
    let mut i = 0;
    while i < changes.len() {
        let rev = changes[i].revision;
        while i < changes.len() && changes[i].revision == rev {
            let c = &changes[i];
            match &c.value {
                Some(v) => {
                    let p: Value = serde_json::from_slice(v).expect("a stored pod is JSON");
                    if p["metadata"]["labels"]["app"] == app {
                        if c.create_revision == c.revision {
                            created += 1;
                        }
                        pods.insert(c.key.clone(), p);
                    }
                }
                None => {
                    pods.remove(&c.key);
                }
            }
            i += 1;
        }
        let live: Vec<&Value> = pods
            .values()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect();
        let ready = live.iter().filter(|p| is_ready(p)).count();
        max_pods = max_pods.max(live.len());
        if ready >= ready_from {
            reached = true;
        }
        if reached {
            min_ready = min_ready.min(ready);
        }
    }
    (max_pods, min_ready, created)
}

#[test]
fn a_deployment_rolls_out_scales_exposes_and_goes_away_as_on_kubernetes() {
    let (c, _sim) = cluster(3);
    let k = Kubectl::new(&c.kubeconfig(0));
    let k2 = Kubectl::new(&c.kubeconfig(2));
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
        "--replicas=3",
        "--port=8080",
        "--",
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    let out = k2.ok(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]));
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    for p in items {
        assert_eq!(p["status"]["phase"], "Running", "{p}");
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ReplicaSet");
        assert_eq!(owner["controller"], true);
        assert!(p["metadata"]["labels"]["pod-template-hash"].is_string());
    }
    let described = k.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");

    // A rolling update (25 % surge and unavailability of 3: at most 4 pods, at least 3
    // available throughout), checked over every revision of the pods.
    let from = c.store_revision();
    k.ok(&["set", "image", "deployment/web", "busybox=busybox:1.36"]);
    let out = k2.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let changes = history(&c.certs, &c.endpoints(), "/registry/pods/default/", from);
    let initial = c.values_at("/registry/pods/default/", from - 1);
    assert_eq!(initial.len(), 3);
    let (max_pods, min_ready, created) = replay(initial, &changes, "web", 3);
    assert!(
        max_pods <= 4,
        "more than replicas + maxSurge pods at once: {max_pods}"
    );
    assert!(
        min_ready >= 3,
        "fewer than replicas - maxUnavailable available: {min_ready}"
    );
    assert_eq!(created, 3, "one new pod per slot");
    let rs = json(&k.ok(&["get", "rs", "-l", "app=web", "-o", "json"]));
    assert_eq!(rs["items"].as_array().map(Vec::len), Some(2));
    let hist = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(hist.contains('1') && hist.contains('2'), "{hist}");

    // Undo reuses the first ReplicaSet.
    k.ok(&["rollout", "undo", "deployment/web"]);
    k2.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    let image = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "busybox:1.35");
    let rs = json(&k.ok(&["get", "rs", "-l", "app=web", "-o", "json"]));
    assert_eq!(
        rs["items"].as_array().map(Vec::len),
        Some(2),
        "undo must not create a third ReplicaSet"
    );
    let revision = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ]);
    assert_eq!(revision, "3");

    // Scale, expose: the EndpointSlice and Endpoints follow the ready pods.
    k.ok(&["scale", "deployment/web", "--replicas=5"]);
    k2.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
    ]);
    let ips = wait_for("5 endpoints in the slice", Duration::from_secs(30), || {
        let s = json(&k.ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "json",
        ]));
        let eps: Vec<String> = s["items"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|sl| sl["endpoints"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["conditions"]["ready"] == true)
            .filter_map(|e| e["addresses"][0].as_str().map(str::to_string))
            .collect();
        if eps.len() == 5 {
            Ok(eps)
        } else {
            Err(format!("{s}"))
        }
    });
    let pod_ips: Vec<String> = json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]))
        ["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
        .collect();
    let mut a = ips.clone();
    a.sort();
    let mut b = pod_ips;
    b.sort();
    assert_eq!(a, b, "the slice holds exactly the pods' IPs");
    let ep = json(&k.ok(&["get", "endpoints", "web", "-o", "json"]));
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().map(Vec::len),
        Some(5),
        "{ep}"
    );
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);

    // Orphan: the ReplicaSets and pods stay, without their owner.
    k.ok(&["delete", "deployment", "web", "--cascade=orphan"]);
    wait_for(
        "the ReplicaSets to be orphaned",
        Duration::from_secs(30),
        || {
            let rs = json(&k.ok(&["get", "rs", "-l", "app=web", "-o", "json"]));
            let items = rs["items"].as_array().cloned().unwrap_or_default();
            if items.len() == 2
                && items
                    .iter()
                    .all(|r| r["metadata"]["ownerReferences"].is_null())
            {
                Ok(())
            } else {
                Err(format!("{rs}"))
            }
        },
    );
    assert_eq!(
        json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]))["items"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    // Background: deleting the ReplicaSets removes their pods.
    k.ok(&["delete", "rs", "-l", "app=web"]);
    wait_for("the pods to be collected", Duration::from_secs(60), || {
        let n = json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]))["items"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        if n == 0 {
            Ok(())
        } else {
            Err(format!("{n} pods left"))
        }
    });
}

#[test]
fn a_namespace_with_a_hundred_objects_deletes_completely() {
    let (c, _sim) = cluster(1);
    let k = Kubectl::new(&c.kubeconfig(0));
    k.ok(&["create", "namespace", "doomed"]);
    let mut items = Vec::new();
    for i in 0..90 {
        items.push(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}"), "namespace": "doomed"}, "data": {"i": i.to_string()}}));
    }
    for i in 0..10 {
        items.push(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("s-{i}"), "namespace": "doomed"}, "stringData": {"i": i.to_string()}}));
    }
    k.ok_stdin(
        &["create", "-f", "-"],
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    );
    k.ok(&[
        "create",
        "deployment",
        "d",
        "-n",
        "doomed",
        "--image=busybox:1.35",
        "--replicas=2",
    ]);
    k.ok(&[
        "rollout",
        "status",
        "deployment/d",
        "-n",
        "doomed",
        "--timeout=60s",
    ]);
    // The ServiceAccount and root CA controllers filled the namespace.
    wait_for(
        "the default ServiceAccount and kube-root-ca.crt",
        Duration::from_secs(30),
        || {
            let sa = k.run(&["get", "serviceaccount", "default", "-n", "doomed"], None);
            let cm = k.run(
                &[
                    "get",
                    "configmap",
                    "kube-root-ca.crt",
                    "-n",
                    "doomed",
                    "-o",
                    "jsonpath={.data.ca\\.crt}",
                ],
                None,
            );
            if sa.status.success() && cm.stdout.contains("BEGIN CERTIFICATE") {
                Ok(())
            } else {
                Err(format!("{}{}", sa.stderr, cm.stderr))
            }
        },
    );
    k.ok(&["delete", "namespace", "doomed", "--wait=false"]);
    wait_for("the namespace to be gone", Duration::from_secs(90), || {
        let out = k.run(&["get", "namespace", "doomed"], None);
        if !out.status.success() && out.stderr.contains("NotFound") {
            Ok(())
        } else {
            Err(format!("{}{}", out.stdout, out.stderr))
        }
    });
    let mut left: BTreeMap<String, usize> = BTreeMap::new();
    let keys = c
        .etcdctl(&["get", "/registry/", "--prefix", "--keys-only"])
        .stdout;
    for key in keys
        .lines()
        .filter(|l| l.contains("/doomed/") || l.ends_with("/doomed"))
    {
        *left.entry(key.to_string()).or_default() += 1;
    }
    assert!(
        left.is_empty(),
        "objects of the deleted namespace remain: {left:?}"
    );
}

#[test]
fn a_silent_node_is_tainted_and_its_pods_replaced_elsewhere() {
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            extra_args: [
                "--node-monitor-grace-period=6s",
                "--node-monitor-period=1s",
                "--node-startup-grace-period=6s",
                "--node-eviction-rate=1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ..Opts::default()
        },
    );
    let k = Kubectl::new(&c.kubeconfig(0));
    k.wait_ready();
    // Leases renewed every second, well inside the 6 s grace period (kubelet: 10 s in 40 s).
    let renew = ["--node-lease-renew-interval-ms", "1000"];
    let _a = SimNodes::start(
        &c.kubeconfig(1),
        1,
        "a-",
        &c.dir().join("sim-a.log"),
        &renew,
    );
    let mut b = SimNodes::start(
        &c.kubeconfig(2),
        1,
        "b-",
        &c.dir().join("sim-b.log"),
        &renew,
    );
    wait_for("two nodes", Duration::from_secs(30), || {
        let n = k.ok(&["get", "nodes", "-o", "name"]).lines().count();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n}"))
        }
    });
    // Tolerate unreachability for 2 s (admission's default would be 300 s).
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.35", "resources": {"requests": {"cpu": "100m"}}}],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
              "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}],
            "tolerations": [
              {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2},
              {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &deployment.to_string());
    k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let on = |node: &str| -> usize {
        json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]))["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["spec"]["nodeName"] == node && p["metadata"]["deletionTimestamp"].is_null()
            })
            .count()
    };
    assert!(on("b-0") >= 1, "spread scoring puts pods on both nodes");

    b.kill();
    wait_for(
        "b-0 to be unreachable and tainted",
        Duration::from_secs(40),
        || {
            let n = json(&k.ok(&["get", "node", "b-0", "-o", "json"]));
            let unknown = n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    c["type"] == "Ready"
                        && c["status"] == "Unknown"
                        && c["reason"] == "NodeStatusUnknown"
                });
            let tainted = n["spec"]["taints"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| {
                    t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute"
                });
            if unknown && tainted {
                Ok(())
            } else {
                Err(format!("{}", n["spec"]))
            }
        },
    );
    // Evicted after 2 s; the ReplicaSet replaces them, on a-0 (b-0 is tainted NoSchedule).
    wait_for(
        "the pods to be replaced on a-0",
        Duration::from_secs(60),
        || {
            let (a, b) = (on("a-0"), on("b-0"));
            if a == 4 && b == 0 {
                Ok(())
            } else {
                Err(format!("a-0: {a}, b-0: {b}"))
            }
        },
    );
    let events = k.ok(&["get", "events", "-A", "-o", "json"]);
    assert!(
        events.contains("TaintManagerEviction"),
        "a TaintManagerEviction event"
    );
    assert!(events.contains("NodeNotReady"), "a NodeNotReady event");
}

/// Short leader election so failovers take seconds (client-go's ratios kept).
fn fast_election() -> Vec<String> {
    [
        "--leader-elect-lease-duration=4s",
        "--leader-elect-renew-deadline=3s",
        "--leader-elect-retry-period=500ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn wait_nodes_ready(k: &Kubectl, n: usize) {
    wait_for("the nodes to be Ready", Duration::from_secs(60), || {
        let ready = json(&k.ok(&["get", "nodes", "-o", "json"]))["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| {
                n["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .count();
        if ready == n {
            Ok(())
        } else {
            Err(format!("{ready} Ready"))
        }
    });
}

#[test]
fn a_rollout_finishes_within_its_bounds_when_the_controller_leader_is_killed() {
    const REPLICAS: usize = 20;
    let mut c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            extra_args: fast_election(),
            ..Opts::default()
        },
    );
    for i in 0..3 {
        Kubectl::new(&c.kubeconfig(i)).wait_ready();
    }
    let (leader, holder) = Kubectl::new(&c.kubeconfig(0)).lease_holder("kube-controller-manager");
    // Everything else (kubectl, the simulated nodes) talks to a replica that survives.
    let survivor = (leader + 1) % 3;
    let k = Kubectl::new(&c.kubeconfig(survivor));
    let _sim = SimNodes::start(
        &c.kubeconfig(survivor),
        10,
        "sim-",
        &c.dir().join("sim.log"),
        &[],
    );
    wait_nodes_ready(&k, 10);
    // minReadySeconds slows the rollout to batches of 2 s, so the kill lands inside it.
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": REPLICAS, "minReadySeconds": 2,
          "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.35"}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &deployment.to_string());
    k.ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);

    let from = c.store_revision();
    k.ok(&["set", "image", "deployment/web", "c=busybox:1.36"]);
    wait_for(
        "the rollout to be under way",
        Duration::from_secs(60),
        || {
            let d = json(&k.ok(&["get", "deployment", "web", "-o", "json"]));
            let updated = d["status"]["updatedReplicas"].as_u64().unwrap_or(0) as usize;
            if (5..REPLICAS).contains(&updated) {
                Ok(())
            } else {
                Err(format!("updatedReplicas {updated}"))
            }
        },
    );
    c.kill(leader);
    let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=180s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let (_, new_holder) = k.lease_holder("kube-controller-manager");
    assert_ne!(new_holder, holder, "another replica took over");

    let changes = history(&c.certs, &c.endpoints(), "/registry/pods/default/", from);
    let initial = c.values_at("/registry/pods/default/", from - 1);
    assert_eq!(initial.len(), REPLICAS);
    let (max_pods, min_ready, created) = replay(initial, &changes, "web", REPLICAS);
    // 25 % of 20: surge 5, unavailable 5.
    assert!(
        max_pods <= REPLICAS + 5,
        "more than replicas + maxSurge pods at once: {max_pods}"
    );
    assert!(
        min_ready >= REPLICAS - 5,
        "fewer than replicas - maxUnavailable ready: {min_ready}"
    );
    assert_eq!(created, REPLICAS, "one new pod per slot, none twice");
    let pods = json(&k.ok(&["get", "pods", "-l", "app=web", "-o", "json"]));
    let images: Vec<&str> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str())
        .collect();
    assert_eq!(images, vec!["busybox:1.36"; REPLICAS]);
}

/// The fencing scenario for the controllers: the leading controller manager decides to
/// create the one pod of a ReplicaSet and stalls before the create (failpoint), is frozen
/// (SIGSTOP) past its Lease; another replica takes the Lease and decides the same create
/// (stalling on its own failpoint), then the old one resumes and sends its stale create.
/// Returns the number of pods created for the ReplicaSet and the cluster.
fn deposed_controller_creates(fenced: bool) -> (usize, Cluster) {
    let mut failpoints = "replicaset::before-create=1*return(8000)".to_string();
    if !fenced {
        failpoints.push_str(";replicaset::unfenced-create=return");
    }
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            binary: Some(berth_system_tests::bins::control_plane_failpoints()),
            env: vec![("FAILPOINTS".into(), failpoints)],
            extra_args: fast_election(),
            ..Opts::default()
        },
    );
    for i in 0..3 {
        Kubectl::new(&c.kubeconfig(i)).wait_ready();
    }
    let (old, old_holder) = Kubectl::new(&c.kubeconfig(0)).lease_holder("kube-controller-manager");
    let k = Kubectl::new(&c.kubeconfig((old + 1) % 3));
    let from = c.store_revision();
    let rs = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "one"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "one"}},
          "template": {"metadata": {"labels": {"app": "one"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.35"}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &rs.to_string());
    let stalled = |i: usize| {
        c.log(i)
            .contains("failpoint replicaset::before-create: stalling")
    };
    wait_for(
        "the leader to stall before its create",
        Duration::from_secs(20),
        || {
            if stalled(old) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    c.pause(old);
    let (new, _) = wait_for(
        "another replica to take the Lease",
        Duration::from_secs(30),
        || {
            let (i, h) = k.lease_holder("kube-controller-manager");
            if h != old_holder {
                Ok((i, h))
            } else {
                Err(h)
            }
        },
    );
    assert_ne!(new, old);
    wait_for(
        "the new leader to decide the same create",
        Duration::from_secs(30),
        || {
            if stalled(new) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    c.resume(old);
    // The new leader's stall (8 s, begun before the resume) ends; then the ReplicaSet
    // settles at one pod (without the fence, after deleting the surplus one).
    std::thread::sleep(Duration::from_secs(10));
    wait_for(
        "the ReplicaSet to settle at one pod",
        Duration::from_secs(30),
        || {
            let live = json(&k.ok(&["get", "pods", "-l", "app=one", "-o", "json"]))["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .count();
            if live == 1 {
                Ok(())
            } else {
                Err(format!("{live} pods"))
            }
        },
    );
    let created = history(
        &c.certs,
        &c.endpoints(),
        "/registry/pods/default/one-",
        from,
    )
    .iter()
    .filter(|ch| ch.value.is_some() && ch.create_revision == ch.revision)
    .count();
    (created, c)
}

#[test]
fn a_deposed_controller_manager_cannot_create_pods() {
    let (created, c) = deposed_controller_creates(true);
    assert_eq!(created, 1, "only the current leader's create lands");
    assert!(
        (0..3).any(|i| c
            .log(i)
            .contains("write refused: the controller manager's lease has moved on")),
        "the old leader's create was refused by the fence"
    );
}

#[test]
fn without_the_fence_the_deposed_controller_manager_creates_so_the_test_can_fail() {
    let (created, _c) = deposed_controller_creates(false);
    assert_eq!(
        created, 2,
        "without fencing both leaders create a pod for the one slot: the check above is real"
    );
}

/// Live (not terminating) pods with `label`, by name: (node, image, phase).
fn live_pods(k: &Kubectl, label: &str) -> BTreeMap<String, (String, String, String)> {
    json(&k.ok(&["get", "pods", "-l", label, "-o", "json"]))["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (
                s(&p["metadata"]["name"]),
                (
                    s(&p["spec"]["nodeName"]),
                    s(&p["spec"]["containers"][0]["image"]),
                    s(&p["status"]["phase"]),
                ),
            )
        })
        .collect()
}

#[test]
fn a_daemonset_runs_one_pod_per_node_follows_the_nodes_and_rolls_out() {
    let (c, _a) = cluster(3);
    let k = Kubectl::new(&c.kubeconfig(0));
    let ds = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
          "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
          "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.35"}]}}}});
    k.ok_stdin(&["create", "-f", "-"], &ds.to_string());
    let out = k.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let per_node = |k: &Kubectl, n: usize, secs: u64| {
        wait_for(
            &format!("one Running daemon pod on each of {n} nodes"),
            Duration::from_secs(secs),
            || {
                let pods = live_pods(k, "app=agent");
                let nodes: std::collections::BTreeSet<&String> =
                    pods.values().map(|(node, _, _)| node).collect();
                let running = pods.values().filter(|(_, _, ph)| ph == "Running").count();
                if pods.len() == n && nodes.len() == n && running == n {
                    Ok(pods)
                } else {
                    Err(format!("{pods:?}"))
                }
            },
        )
    };
    per_node(&k, 3, 60);

    // Two more nodes: a daemon pod each.
    let mut b = SimNodes::start(&c.kubeconfig(2), 2, "b-", &c.dir().join("sim-b.log"), &[]);
    per_node(&k, 5, 60);
    let ds_status = json(&k.ok(&["get", "daemonset", "agent", "-o", "json"]))["status"].clone();
    assert_eq!(ds_status["desiredNumberScheduled"], 5, "{ds_status}");

    // A rolling update, one node at a time: never more than one pod per node, never more
    // than one node without a ready daemon pod (checked over the store's history).
    let from = c.store_revision();
    k.ok(&["set", "image", "daemonset/agent", "c=busybox:1.36"]);
    let out = k.ok(&["rollout", "status", "daemonset/agent", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = per_node(&k, 5, 60);
    assert!(
        pods.values().all(|(_, image, _)| image == "busybox:1.36"),
        "{pods:?}"
    );
    let changes = history(&c.certs, &c.endpoints(), "/registry/pods/default/", from);
    let initial = c.values_at("/registry/pods/default/", from - 1);
    let (max_pods, min_ready, created) = replay(initial, &changes, "agent", 5);
    assert!(max_pods <= 5, "a surge on some node: {max_pods}");
    assert!(min_ready >= 4, "more than maxUnavailable down: {min_ready}");
    assert_eq!(created, 5, "one new pod per node");

    // Nodes leave: their daemon pods go with them (pod GC, after its 40 s quarantine).
    b.kill();
    k.ok(&["delete", "node", "b-0", "b-1"]);
    per_node(&k, 3, 150);
}

/// Finishes a pod as its kubelet would report it: phase Succeeded or Failed.
fn finish(k: &Kubectl, pod: &str, phase: &str) {
    k.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &serde_json::json!({"status": {"phase": phase}}).to_string(),
    ]);
}

#[test]
fn jobs_run_to_completion_count_failures_and_expire() {
    // Simulated nodes run pods forever: the test plays the kubelet reporting each pod's end.
    let (c, _sim) = cluster(2);
    let k = Kubectl::new(&c.kubeconfig(0));
    let job = |name: &str, completions: u32, parallelism: u32, backoff: u32, ttl: Option<u32>| {
        let mut spec = serde_json::json!({"completions": completions, "parallelism": parallelism,
            "backoffLimit": backoff,
            "template": {"spec": {"restartPolicy": "Never",
              "containers": [{"name": "c", "image": "busybox:1.35", "command": ["true"]}]}}});
        if let Some(t) = ttl {
            spec["ttlSecondsAfterFinished"] = t.into();
        }
        serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name}, "spec": spec})
        .to_string()
    };
    let running = |name: &str, n: usize| {
        wait_for(
            &format!("{n} running pods of job {name}"),
            Duration::from_secs(60),
            || {
                let pods = live_pods(&k, &format!("job-name={name}"));
                let running: Vec<String> = pods
                    .iter()
                    .filter(|(_, (_, _, ph))| ph == "Running")
                    .map(|(n, _)| n.clone())
                    .collect();
                if running.len() == n {
                    Ok(running)
                } else {
                    Err(format!("{pods:?}"))
                }
            },
        )
    };

    // completions 3, parallelism 2: two at a time, a failure replaced and counted.
    k.ok_stdin(&["create", "-f", "-"], &job("work", 3, 2, 2, Some(3)));
    let first = running("work", 2);
    finish(&k, &first[0], "Succeeded");
    let second = running("work", 2);
    let fresh: Vec<&String> = second.iter().filter(|p| **p != first[1]).collect();
    assert_eq!(fresh.len(), 1, "one pod started for the next completion");
    finish(&k, fresh[0], "Failed");
    let third = running("work", 2);
    for p in &third {
        finish(&k, p, "Succeeded");
    }
    k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/work",
        "--timeout=60s",
    ]);
    let status = json(&k.ok(&["get", "job", "work", "-o", "json"]))["status"].clone();
    assert_eq!(status["succeeded"], 3, "{status}");
    assert_eq!(status["failed"], 1, "{status}");
    assert!(status["completionTime"].is_string(), "{status}");
    let described = k.ok(&["describe", "job", "work"]);
    assert!(described.contains("SuccessfulCreate"), "{described}");
    assert!(described.contains("Completed"), "{described}");
    // ttlSecondsAfterFinished: 3 s after completion the Job and its pods are gone.
    wait_for(
        "the finished job to expire",
        Duration::from_secs(60),
        || {
            let jobs = k.run(&["get", "job", "work"], None);
            let pods = live_pods(&k, "job-name=work").len();
            if !jobs.status.success() && pods == 0 {
                Ok(())
            } else {
                Err(format!("{pods} pods; {}", jobs.stdout))
            }
        },
    );

    // backoffLimit 0: the first failure fails the Job.
    k.ok_stdin(&["create", "-f", "-"], &job("fragile", 1, 1, 0, None));
    let p = running("fragile", 1);
    finish(&k, &p[0], "Failed");
    k.ok(&[
        "wait",
        "--for=condition=failed",
        "job/fragile",
        "--timeout=60s",
    ]);
    let j = json(&k.ok(&["get", "job", "fragile", "-o", "json"]));
    let failed = j["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Failed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed["reason"], "BackoffLimitExceeded", "{j}");
}
