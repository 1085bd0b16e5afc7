//! Pod lifecycle against a real containerd (started by the harness with its own dirs):
//! restarts with back-off, probes, readiness, deletion within the grace period, adoption
//! after an agent restart, cgroup limits, pod-to-pod traffic, bad manifests, logs, metrics.

mod common;

use berth_node_agent::runtime::Runtime;
use common::*;
use std::time::Duration;

#[test]
fn a_pod_runs_gets_an_ip_and_its_logs_are_served() {
    let node = Node::start();
    node.write_manifest(
        "hello.yaml",
        &pod_yaml(
            "hello",
            "Always",
            "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
            "",
        ),
    );
    let pod = node.wait_pod("hello", "Running", Duration::from_secs(60), |p| {
        (phase(p) == "Running" && all_running(p)).then(|| p.clone())
    });
    let ip = pod["status"]["podIP"].as_str().expect("podIP");
    assert!(
        ip.starts_with(&node.cidr[..node.cidr.rfind('.').expect("dotted")]),
        "pod IP {ip} is in {}",
        node.cidr
    );
    assert_eq!(condition(&pod, "PodScheduled"), Some(true));
    assert_eq!(condition(&pod, "Initialized"), Some(true));
    assert!(pod["status"]["startTime"].is_string());
    assert_eq!(pod["spec"]["nodeName"], "test-node");

    // Logs: the whole log, the tail, and a followed stream that keeps delivering.
    let logs = node.wait_pod("hello", "logging", Duration::from_secs(20), |_| {
        let (code, body) = node.try_get("/containerLogs/default/hello/main").ok()?;
        (code == 200 && body.lines().filter(|l| l.starts_with("tick")).count() >= 3).then_some(body)
    });
    assert_eq!(logs.lines().next(), Some("started"), "{logs}");
    let (code, tail) = node
        .try_get("/containerLogs/default/hello/main?tailLines=2")
        .expect("tail");
    assert_eq!(code, 200);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(tail.lines().all(|l| l.starts_with("tick ")), "{tail}");
    let (code, followed) = node
        .try_get_for(
            "/containerLogs/default/hello/main?follow=true&tailLines=1",
            Duration::from_secs(2),
        )
        .expect("follow");
    assert_eq!(code, 200);
    assert!(
        followed.lines().filter(|l| l.starts_with("tick ")).count() >= 4,
        "follow delivers new lines: {followed}"
    );
    let (code, _) = node
        .try_get("/containerLogs/default/nope/main")
        .expect("404");
    assert_eq!(code, 404);

    let (code, metrics) = node.try_get("/metrics").expect("metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("kubelet_running_pods 1"), "{metrics}");
    assert!(
        metrics.contains("kubelet_pod_start_duration_seconds_count 1"),
        "{metrics}"
    );
}

fn restart_count(p: &serde_json::Value) -> i64 {
    container_status(p, "main")
        .and_then(|c| c["restartCount"].as_i64())
        .unwrap_or(0)
}

fn container_id(p: &serde_json::Value) -> Option<String> {
    container_status(p, "main")
        .and_then(|c| c["containerID"].as_str())
        .map(|s| s.trim_start_matches("containerd://").to_string())
}

#[test]
fn a_crashing_container_restarts_with_backoff_and_its_restart_count_grows() {
    let node = Node::start();
    node.write_manifest(
        "crash.yaml",
        &pod_yaml("crash", "Always", "echo boom; exit 1", ""),
    );
    // Back-off here is 1 s doubling to 4 s: the container is seen waiting in CrashLoopBackOff
    // with its last exit, and restarts again afterwards.
    let (waiting, ready) = node.wait_pod(
        "crash",
        "in CrashLoopBackOff",
        Duration::from_secs(60),
        |p| {
            let c = container_status(p, "main")?;
            (c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
                .then(|| (c.clone(), condition(p, "Ready")))
        },
    );
    assert_eq!(
        ready,
        Some(false),
        "a pod whose container waits in back-off is not Ready"
    );
    assert_eq!(
        waiting["lastState"]["terminated"]["exitCode"], 1,
        "{waiting}"
    );
    assert_eq!(
        waiting["lastState"]["terminated"]["reason"], "Error",
        "{waiting}"
    );
    assert!(
        waiting["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("back-off "),
        "{waiting}"
    );
    let rc = node.wait_pod(
        "crash",
        "restarted at least 3 times",
        Duration::from_secs(60),
        |p| (restart_count(p) >= 3).then(|| restart_count(p)),
    );
    assert!(rc >= 3);
    let pod = node.pod("crash").expect("pod listed");
    assert_eq!(
        phase(&pod),
        "Running",
        "a restarting Always pod is Running: {pod}"
    );
    // The counter moves when the restarted container has started (a moment after /pods
    // shows its new attempt).
    node.wait_pod(
        "crash",
        "counted in metrics",
        Duration::from_secs(10),
        |_| {
            let (_, metrics) = node.try_get("/metrics").ok()?;
            metrics
                .lines()
                .any(|l| {
                    l.strip_prefix("berth_node_agent_container_restarts_total ")
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|v| v >= 3)
                })
                .then_some(())
        },
    );

    // OnFailure: a clean exit is final (Succeeded); Never: a failure is final (Failed).
    node.write_manifest("once.yaml", &pod_yaml("once", "OnFailure", "exit 0", ""));
    node.write_manifest("never.yaml", &pod_yaml("never", "Never", "exit 3", ""));
    let once = node.wait_pod("once", "Succeeded", Duration::from_secs(30), |p| {
        (phase(p) == "Succeeded").then(|| p.clone())
    });
    assert_eq!(
        container_status(&once, "main").expect("status")["state"]["terminated"]["reason"],
        "Completed"
    );
    let never = node.wait_pod("never", "Failed", Duration::from_secs(30), |p| {
        (phase(p) == "Failed").then(|| p.clone())
    });
    assert_eq!(
        container_status(&never, "main").expect("status")["state"]["terminated"]["exitCode"],
        3
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        restart_count(&node.pod("never").expect("listed")),
        0,
        "Never does not restart"
    );
}

#[test]
fn a_failing_liveness_probe_restarts_the_container() {
    let node = Node::start();
    let probe = "    livenessProbe:\n      exec: {command: [cat, /tmp/healthy]}\n      periodSeconds: 1\n      failureThreshold: 2\n";
    let script = "trap 'exit 0' TERM; touch /tmp/healthy; echo up; sleep 3; rm /tmp/healthy; sleep 1000 & wait";
    node.write_manifest("live.yaml", &pod_yaml("live", "Always", script, probe));
    let first = node.wait_pod("live", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| container_id(p)).flatten()
    });
    let restarted = node.wait_pod(
        "live",
        "restarted by its liveness probe",
        Duration::from_secs(60),
        |p| {
            let c = container_status(p, "main")?;
            (restart_count(p) >= 1 && c["state"]["running"].is_object()).then(|| c.clone())
        },
    );
    assert_ne!(
        restarted["containerID"]
            .as_str()
            .map(|s| s.trim_start_matches("containerd://")),
        Some(first.as_str())
    );
    // SIGTERM was handled: the killed instance exited 0 ("Completed").
    assert_eq!(
        restarted["lastState"]["terminated"]["exitCode"], 0,
        "{restarted}"
    );
}

#[test]
fn readiness_flips_the_ready_condition() {
    let node = Node::start();
    let probe = "    ports: [{name: http, containerPort: 8080}]\n    readinessProbe:\n      httpGet: {path: /ready.txt, port: http}\n      periodSeconds: 1\n      failureThreshold: 1\n";
    node.write_manifest(
        "web.yaml",
        &pod_yaml("web", "Always", "httpd -f -p 8080 -h /www", probe),
    );
    let pod = node.wait_pod("web", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    let id = container_id(&pod).expect("container id");
    // No /www/ready.txt yet: not ready, and it stays so over several probe periods.
    std::thread::sleep(Duration::from_secs(2));
    let pod = node.pod("web").expect("listed");
    assert_eq!(
        (condition(&pod, "Ready"), condition(&pod, "ContainersReady")),
        (Some(false), Some(false)),
        "{pod}"
    );
    let exec = |cmd: &str| {
        let cmd: Vec<String> = ["sh", "-c", cmd].iter().map(|s| s.to_string()).collect();
        let out = node
            .cri(async |rt| rt.exec_sync(&id, &cmd, 5).await)
            .expect("exec");
        assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    };
    exec("echo ok > /www/ready.txt");
    node.wait_pod("web", "Ready", Duration::from_secs(20), |p| {
        (condition(p, "Ready") == Some(true) && condition(p, "ContainersReady") == Some(true))
            .then_some(())
    });
    assert_eq!(
        container_status(&node.pod("web").expect("listed"), "main").expect("status")["ready"],
        true
    );
    exec("rm /www/ready.txt");
    node.wait_pod("web", "not Ready again", Duration::from_secs(20), |p| {
        (condition(p, "Ready") == Some(false)).then_some(())
    });
    // Readiness never restarts a container.
    assert_eq!(restart_count(&node.pod("web").expect("listed")), 0);
}

fn sandboxes(node: &Node) -> Vec<berth_node_agent::model::ObservedSandbox> {
    node.cri(async |rt| rt.list_sandboxes().await)
        .expect("list sandboxes")
}

#[test]
fn deleting_a_manifest_stops_the_pod_within_its_grace_period() {
    let node = Node::start();
    // One pod ignores SIGTERM (killed when its 3 s grace ends), one exits on it at once.
    let stubborn = "apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n  terminationGracePeriodSeconds: 3\n  containers:\n  - name: main\n    image: berth.local/busybox:1\n    command: [sh, -c, \"trap '' TERM; sleep 1000 & wait; sleep 1000\"]\n";
    let polite = "apiVersion: v1\nkind: Pod\nmetadata: {name: polite}\nspec:\n  terminationGracePeriodSeconds: 30\n  containers:\n  - name: main\n    image: berth.local/busybox:1\n    command: [sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n";
    node.write_manifest("stubborn.yaml", stubborn);
    node.write_manifest("polite.yaml", polite);
    for name in ["stubborn", "polite"] {
        node.wait_pod(name, "Running", Duration::from_secs(30), |p| {
            all_running(p).then_some(())
        });
    }
    assert_eq!(sandboxes(&node).len(), 2);
    let gone = |name: &str| !sandboxes(&node).iter().any(|s| s.name == name);
    let t0 = std::time::Instant::now();
    node.remove_manifest("stubborn.yaml");
    node.remove_manifest("polite.yaml");
    let mut polite_s = None;
    let stubborn_s = loop {
        let elapsed = t0.elapsed().as_secs_f64();
        if polite_s.is_none() && gone("polite") {
            polite_s = Some(elapsed);
        }
        if gone("stubborn") {
            break elapsed;
        }
        assert!(
            elapsed < 20.0,
            "stubborn pod still there after 20 s\n{}",
            node.agent_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let polite_s = polite_s.unwrap_or(stubborn_s);
    assert!(
        polite_s < 3.0,
        "a pod that exits on SIGTERM goes at once, not after its 30 s grace (took {polite_s:.1} s)"
    );
    assert!((2.5..10.0).contains(&stubborn_s), "a pod that ignores SIGTERM is killed when its 3 s grace period ends (took {stubborn_s:.1} s)");
    let pods = node.pods();
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(0), "{pods}");
}

#[test]
fn the_agent_and_containerd_restart_without_killing_pods() {
    let mut node = Node::start();
    node.write_manifest("keep.yaml", &pod_yaml("keep", "Always", "sleep 100000", ""));
    let pod = node.wait_pod("keep", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    let (id, ip) = (
        container_id(&pod).expect("id"),
        pod["status"]["podIP"].clone(),
    );

    node.stop_agent();
    node.start_agent();
    let adopted = node.wait_pod("keep", "adopted", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    assert_eq!(
        container_id(&adopted).as_deref(),
        Some(id.as_str()),
        "the same container runs on"
    );
    assert_eq!(adopted["status"]["podIP"], ip);
    assert_eq!(restart_count(&adopted), 0);
    assert_eq!(sandboxes(&node).len(), 1, "no second sandbox");

    // containerd goes away and comes back: the agent reports it, then carries on.
    node.stop_containerd();
    node.wait_pod(
        "keep",
        "listed while containerd is down",
        Duration::from_secs(10),
        |_| Some(()),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while node.try_get("/healthz").map(|(c, _)| c) != Ok(503) {
        assert!(
            std::time::Instant::now() < deadline,
            "healthz reports the runtime outage"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    node.start_containerd();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while node.try_get("/healthz").map(|(c, _)| c) != Ok(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "healthz recovers\n{}",
            node.agent_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = node.wait_pod(
        "keep",
        "Running after the containerd restart",
        Duration::from_secs(30),
        |p| all_running(p).then(|| p.clone()),
    );
    assert_eq!(
        container_id(&after).as_deref(),
        Some(id.as_str()),
        "the container survived the containerd restart"
    );
    assert_eq!(restart_count(&after), 0);
}

#[test]
fn limits_are_applied_as_cgroup_limits() {
    let node = Node::start();
    let resources = "    resources:\n      requests: {cpu: 250m, memory: 32Mi}\n      limits: {cpu: 500m, memory: 64Mi}\n";
    node.write_manifest(
        "limited.yaml",
        &pod_yaml("limited", "Always", "sleep 100000", resources),
    );
    let pod = node.wait_pod("limited", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    assert_eq!(pod["status"]["qosClass"], "Burstable");
    let id = container_id(&pod).expect("id");
    let uid = pod["metadata"]["uid"].as_str().expect("uid");
    let cgroup = format!("{}/pod{uid}/{id}", node.cgroup_root);
    let read = |ctrl: &str, file: &str| -> String {
        let v1 = format!("/sys/fs/cgroup/{ctrl}/{cgroup}/{file}");
        std::fs::read_to_string(&v1)
            .unwrap_or_else(|e| panic!("{v1}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpu", "cpu.shares"), "256");
}

#[test]
fn two_pods_reach_each_other_by_pod_ip() {
    let node = Node::start();
    node.write_manifest(
        "server.yaml",
        &pod_yaml("server", "Always", "httpd -f -p 8080 -h /www", ""),
    );
    let server = node.wait_pod("server", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    let ip = server["status"]["podIP"]
        .as_str()
        .expect("podIP")
        .to_string();
    let script =
        format!("while true; do wget -q -O - http://{ip}:8080/index.html; sleep 0.5; done");
    node.write_manifest("client.yaml", &pod_yaml("client", "Always", &script, ""));
    let client = node.wait_pod("client", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    assert_ne!(client["status"]["podIP"].as_str(), Some(ip.as_str()));
    node.wait_pod(
        "client",
        "fetching from the server pod",
        Duration::from_secs(30),
        |_| {
            let (code, body) = node.try_get("/containerLogs/default/client/main").ok()?;
            (code == 200 && body.contains("hello from berth")).then_some(())
        },
    );
    // And the node reaches the pod too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert!(
        rt.block_on(berth_node_agent::probe::http_get(
            &ip,
            8080,
            "/index.html",
            Duration::from_secs(5)
        )),
        "node -> pod {ip}"
    );
}

#[test]
fn a_bad_manifest_is_reported_and_leaves_the_others_running() {
    let node = Node::start();
    node.write_manifest("good.yaml", &pod_yaml("good", "Always", "sleep 100000", ""));
    let good = node.wait_pod("good", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    let id = container_id(&good).expect("id");
    node.write_manifest(
        "garbage.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
    );
    node.write_manifest("invalid.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: invalid}\nspec:\n  containers:\n  - {name: main, image: berth.local/busybox:1, resources: {limits: {memory: lots}}}\n");
    let invalid = node.wait_pod("invalid", "reported", Duration::from_secs(20), |p| {
        (phase(p) == "Failed").then(|| p.clone())
    });
    assert_eq!(invalid["status"]["reason"], "InvalidManifest");
    assert!(
        invalid["status"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("invalid quantity"),
        "{invalid}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !node.agent_log().contains("garbage.yaml") {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent logs the unparsable manifest\n{}",
            node.agent_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let good = node.pod("good").expect("still listed");
    assert!(all_running(&good));
    assert_eq!(
        container_id(&good).as_deref(),
        Some(id.as_str()),
        "the good pod was not touched"
    );
    assert_eq!(
        sandboxes(&node).len(),
        1,
        "nothing was created for the bad manifests"
    );

    // Fixing the manifest runs the pod.
    node.write_manifest("invalid.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: invalid}\nspec:\n  containers:\n  - {name: main, image: berth.local/busybox:1, command: [sleep, '100000']}\n");
    node.wait_pod(
        "invalid",
        "Running once fixed",
        Duration::from_secs(30),
        |p| all_running(p).then_some(()),
    );
}

#[test]
fn init_containers_run_in_order_and_an_edited_manifest_recreates_the_pod() {
    let node = Node::start();
    let manifest = |marker: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: staged}}\nspec:\n  terminationGracePeriodSeconds: 1\n  initContainers:\n  - {{name: first, image: berth.local/busybox:1, command: [sh, -c, 'echo first; sleep 1']}}\n  - {{name: second, image: berth.local/busybox:1, command: [sh, -c, 'echo second']}}\n  containers:\n  - name: main\n    image: berth.local/busybox:1\n    env: [{{name: MARKER, value: {marker}}}]\n    workingDir: /tmp\n    command: [sh, -c]\n    args: ['echo marker=$MARKER pwd=$(pwd); sleep 100000']\n"
        )
    };
    node.write_manifest("staged.yaml", &manifest("one"));
    let pending = node.wait_pod("staged", "initializing", Duration::from_secs(30), |p| {
        (condition(p, "Initialized") == Some(false)).then(|| p.clone())
    });
    assert_eq!(phase(&pending), "Pending");
    let pod = node.wait_pod("staged", "Running", Duration::from_secs(30), |p| {
        all_running(p).then(|| p.clone())
    });
    assert_eq!(condition(&pod, "Initialized"), Some(true));
    let inits = pod["status"]["initContainerStatuses"]
        .as_array()
        .expect("init statuses");
    let finished = |i: usize| {
        inits[i]["state"]["terminated"]["finishedAt"]
            .as_str()
            .expect("finished")
            .to_string()
    };
    let started = |i: usize| {
        inits[i]["state"]["terminated"]["startedAt"]
            .as_str()
            .expect("started")
            .to_string()
    };
    assert!(
        started(1) >= finished(0),
        "second starts after first ends: {inits:?}"
    );
    let logs = node.wait_pod("staged", "logging", Duration::from_secs(10), |_| {
        let (_, body) = node.try_get("/containerLogs/default/staged/main").ok()?;
        body.contains("marker=").then_some(body)
    });
    assert!(logs.contains("marker=one pwd=/tmp"), "{logs}");
    let uid = pod["metadata"]["uid"].clone();

    node.write_manifest("staged.yaml", &manifest("two"));
    let logs = node.wait_pod("staged", "recreated", Duration::from_secs(40), |p| {
        if p["metadata"]["uid"] == uid || !all_running(p) {
            return None;
        }
        let (_, body) = node.try_get("/containerLogs/default/staged/main").ok()?;
        body.contains("marker=").then_some(body)
    });
    assert!(logs.contains("marker=two"), "{logs}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sandboxes(&node).len() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the old pod's sandbox is removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_container_over_its_memory_limit_is_oom_killed() {
    let node = Node::start();
    let resources = "    resources:\n      limits: {memory: 16Mi}\n";
    // The shell holds 64 MiB of output in memory: over the 16 MiB limit.
    let script = "x=$(yes | head -c 67108864); echo survived ${#x}";
    node.write_manifest(
        "hungry.yaml",
        &pod_yaml("hungry", "Never", script, resources),
    );
    let pod = node.wait_pod("hungry", "Failed", Duration::from_secs(60), |p| {
        (phase(p) == "Failed").then(|| p.clone())
    });
    let terminated = &container_status(&pod, "main").expect("status")["state"]["terminated"];
    assert_eq!(terminated["reason"], "OOMKilled", "{pod}");
    assert_eq!(terminated["exitCode"], 137, "{pod}");
}
