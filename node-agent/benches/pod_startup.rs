//! Pod startup latency on a real containerd (started with its own dirs, like the tests):
//! from a manifest written to the pod listed Running (all containers running) in `/pods`.
//! Runs the agent with its production periods (manifest poll 250 ms, relist 1 s).
//!
//! Two runs: 50 pods started one after another (each measured alone), then a churn of 100
//! pods in waves of 10 written at once, each wave deleted while the next one starts.
//! Prints a markdown table. Run: `cargo bench -p berth-node-agent --bench pod_startup`
//! (as root, with containerd, runc, CNI plugins and busybox-static installed).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{AgentOptions, Node, BUSYBOX};
use std::time::{Duration, Instant};

fn manifest(name: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: [sleep, '100000']\n")
}

fn running(node: &Node) -> std::collections::BTreeSet<String> {
    let pods = node.pods();
    pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| common::phase(p) == "Running" && common::all_running(p))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

fn listed(node: &Node) -> usize {
    node.pods()["items"].as_array().map(Vec::len).unwrap_or(0)
}

/// Writes the manifests at once and returns each pod's latency to Running.
fn start_wave(node: &Node, names: &[String]) -> Vec<Duration> {
    let t0 = Instant::now();
    for n in names {
        node.write_manifest(&format!("{n}.yaml"), &manifest(n));
    }
    let mut done: Vec<Option<Duration>> = vec![None; names.len()];
    while done.iter().any(Option::is_none) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "pods did not start in 120 s\n{}",
            node.agent_log()
        );
        let up = running(node);
        for (i, n) in names.iter().enumerate() {
            if done[i].is_none() && up.contains(n) {
                done[i] = Some(t0.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done.into_iter().flatten().collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn row(name: &str, mut v: Vec<Duration>, total: Duration) {
    v.sort();
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    println!(
        "| {name} | {} | {} | {} | {} | {} | {:.1} |",
        v.len(),
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.99)),
        ms(v[0]),
        ms(*v.last().expect("non-empty")),
        total.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let node = Node::start_with(AgentOptions::production());
    println!("| run | pods | p50 ms | p99 ms | min ms | max ms | wall s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");

    // 1. One at a time.
    let t0 = Instant::now();
    let mut seq = vec![];
    for i in 0..50 {
        let name = format!("seq-{i}");
        seq.extend(start_wave(&node, std::slice::from_ref(&name)));
    }
    row("sequential, 50 pods", seq, t0.elapsed());
    for i in 0..50 {
        node.remove_manifest(&format!("seq-{i}.yaml"));
    }
    let t = Instant::now();
    while listed(&node) > 0
        || !node
            .cri(async |rt| berth_node_agent::runtime::Runtime::list_sandboxes(rt).await)
            .expect("list")
            .is_empty()
    {
        assert!(t.elapsed() < Duration::from_secs(120), "pods not removed");
        std::thread::sleep(Duration::from_millis(100));
    }

    // 2. Churn: waves of 10; each wave is deleted as the next one starts.
    let t0 = Instant::now();
    let mut churn = vec![];
    let mut previous: Vec<String> = vec![];
    for wave in 0..10 {
        let names: Vec<String> = (0..10).map(|i| format!("churn-{wave}-{i}")).collect();
        for n in &previous {
            node.remove_manifest(&format!("{n}.yaml"));
        }
        churn.extend(start_wave(&node, &names));
        previous = names;
    }
    for n in &previous {
        node.remove_manifest(&format!("{n}.yaml"));
    }
    while !node
        .cri(async |rt| berth_node_agent::runtime::Runtime::list_sandboxes(rt).await)
        .expect("list")
        .is_empty()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "churn pods not removed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    row(
        "churn, 100 pods (waves of 10, previous wave deleted meanwhile)",
        churn,
        t0.elapsed(),
    );
    let (_, metrics) = node.try_get("/metrics").expect("metrics");
    for l in metrics.lines().filter(|l| {
        l.starts_with("kubelet_pod_start_duration_seconds_sum")
            || l.starts_with("kubelet_pod_start_duration_seconds_count")
    }) {
        println!("<!-- {l} -->");
    }
}
