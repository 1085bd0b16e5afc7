//! Scheduler benchmark, scheduler_perf-style (SchedulingBasic): 3 control-plane replicas
//! with the Kubernetes API, N simulated nodes (`node-agent --simulate`, kwok-like: Nodes
//! and Leases kept alive, bound pods marked Running), then M pods created at full speed
//! through the API. Measured: pods/s from the first create to the last bind (average and
//! the slowest 10 s window), time from create acknowledged to bind seen (p50/p99), CPU
//! seconds and peak RSS per replica. Printed beside kube-scheduler's reference figures.
//!
//! `scripts/bench.sh scheduler [--nodes 5000] [--pods 10000] [--creators 64]`; the last
//! line reads `scheduler: <N> pods/s (<nodes> nodes, <pods> pods), bind p99 <ms> ms`.

use berth_benches::*;
use berth_node_agent::apiclient::{Client, EventKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ports: etcd client base.., peers base+100.., Kubernetes API base+200.. (apart from the
/// other benches' and the system tests' ranges).
const BASE_PORT: u16 = 18000;
const NAMESPACE: &str = "bench";

struct Options {
    nodes: usize,
    pods: usize,
    creators: usize,
}

impl Options {
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let num = |name: &str, default: usize| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Options {
            nodes: num("--nodes", 5000),
            pods: num("--pods", 10_000),
            creators: num("--creators", 64),
        }
    }
}

struct Bench {
    cluster: KubeCluster,
    sim: SimNodes,
    kubeconfigs: Vec<PathBuf>,
}

fn start(o: &Options) -> Result<Bench, String> {
    let kube = KubeCluster::start(BASE_PORT)?;
    let kubeconfigs = kube.kubeconfigs()?;
    let sim = SimNodes::start(
        &kubeconfigs[1],
        o.nodes,
        &kube.certs.path().join("sim.log"),
        &[],
    )?;
    Ok(Bench {
        cluster: kube,
        sim,
        kubeconfigs,
    })
}

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("p-{i:06}"), "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.35",
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    })
}

/// The lowest number of binds in any 10 s window between the first create and the last
/// bind, per second.
fn slowest_window(first: Instant, binds: &[Instant], last: Instant) -> f64 {
    let window = Duration::from_secs(10);
    if last.duration_since(first) <= window {
        return binds.len() as f64 / last.duration_since(first).as_secs_f64().max(1e-9);
    }
    let mut sorted = binds.to_vec();
    sorted.sort();
    let mut worst = usize::MAX;
    let mut t = first;
    while t + window <= last {
        let n = sorted
            .iter()
            .filter(|b| **b >= t && **b < t + window)
            .count();
        worst = worst.min(n);
        t += Duration::from_secs(1);
    }
    worst as f64 / window.as_secs_f64()
}

async fn measure(b: &Bench, o: &Options) -> Result<(), String> {
    let admin = api_client(&b.kubeconfigs[0], 8)?;
    wait_until("the API to be ready", Duration::from_secs(90), || async {
        Ok(admin.get("/readyz").await.is_ok() || admin.list("/api/v1/namespaces").await.is_ok())
    })
    .await?;
    let _ = admin
        .create(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        )
        .await;
    let t_nodes = wait_nodes_ready(&admin, o.nodes).await?;
    println!(
        "{} simulated nodes registered and Ready in {:.1} s",
        o.nodes,
        t_nodes.as_secs_f64()
    );
    // Default service account exists before pods are created (admission needs it).
    wait_until(
        "the bench namespace's default ServiceAccount",
        Duration::from_secs(60),
        || async {
            Ok(admin
                .get(&format!(
                    "/api/v1/namespaces/{NAMESPACE}/serviceaccounts/default"
                ))
                .await
                .is_ok())
        },
    )
    .await?;
    let usage_before = b.cluster.processes.usage();
    let created_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let bound_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    // The watcher records when each pod is first seen bound.
    let list = admin
        .list(&format!("/api/v1/namespaces/{NAMESPACE}/pods"))
        .await
        .map_err(|e| e.to_string())?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let watcher_client = api_client(&b.kubeconfigs[2], 4)?;
    let mut watch = watcher_client
        .watch(
            &format!("/api/v1/namespaces/{NAMESPACE}/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"),
            120_000,
        )
        .await
        .map_err(|e| e.to_string())?;
    let n_pods = o.pods;
    let bound = bound_at.clone();
    let watcher = tokio::spawn(async move {
        loop {
            match watch.next().await {
                Ok(Some(ev)) if ev.kind != EventKind::Bookmark => {
                    let node = ev.object["spec"]["nodeName"].as_str().unwrap_or("");
                    if !node.is_empty() {
                        let name = ev.object["metadata"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_string();
                        let mut g = bound.lock().expect("bound map");
                        g.entry(name).or_insert_with(Instant::now);
                        if g.len() >= n_pods {
                            return Ok(());
                        }
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("the watch ended".to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    // Creators spread over the three replicas.
    let clients: Vec<Client> = b
        .kubeconfigs
        .iter()
        .map(|k| api_client(k, o.creators))
        .collect::<Result<_, _>>()?;
    let next = Arc::new(AtomicUsize::new(0));
    let first_create = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..o.creators {
        let c = clients[w % clients.len()].clone();
        let next = next.clone();
        let created = created_at.clone();
        let total = o.pods;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), String>(());
                }
                let p = pod(i);
                let mut tries = 0;
                loop {
                    match c
                        .create(&format!("/api/v1/namespaces/{NAMESPACE}/pods"), &p)
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if tries < 20 && (e.code() == Some(429) || e.is_retryable()) => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => return Err(format!("create p-{i:06}: {e}")),
                    }
                }
                created
                    .lock()
                    .expect("created map")
                    .insert(format!("p-{i:06}"), Instant::now());
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let created_done = first_create.elapsed();
    tokio::time::timeout(Duration::from_secs(600), watcher)
        .await
        .map_err(|_| "not every pod was bound within 600 s".to_string())?
        .map_err(|e| e.to_string())??;
    let usage_after = b.cluster.processes.usage();
    let created = created_at.lock().expect("created map").clone();
    let bound = bound_at.lock().expect("bound map").clone();
    let last_bind = bound.values().max().copied().unwrap_or(first_create);
    let total = last_bind.duration_since(first_create);
    let rate = o.pods as f64 / total.as_secs_f64();
    let binds: Vec<Instant> = bound.values().copied().collect();
    let worst = slowest_window(first_create, &binds, last_bind);
    let mut lat = Latencies(Vec::new());
    for (name, b) in &bound {
        if let Some(c) = created.get(name) {
            lat.0
                .push(b.saturating_duration_since(*c).as_micros() as u64);
        }
    }
    lat.0.sort_unstable();
    let p50 = lat.quantile_us(0.5);
    let p99 = lat.quantile_us(0.99);
    println!();
    println!(
        "## scheduler: {} simulated nodes, {} pods created by {} clients over HTTP/2 + mTLS",
        o.nodes, o.pods, o.creators
    );
    println!();
    println!("| figure | Berth | reference |");
    println!("|---|---|---|");
    println!(
        "| pods/s, first create to last bind | {rate:.0} | kube-scheduler CI threshold 680 (SchedulingBasic 5000Nodes_10000Pods, in-process apiserver + etcd, no replication); real 5k-node clusters ~100-150 |"
    );
    println!("| slowest 10 s window, pods/s | {worst:.0} | |");
    println!(
        "| creates done after | {:.1} s ({:.0} creates/s) | |",
        created_done.as_secs_f64(),
        o.pods as f64 / created_done.as_secs_f64()
    );
    println!(
        "| create acknowledged -> bind seen, p50 / p99 | {} / {} | |",
        fmt_us(p50),
        fmt_us(p99)
    );
    for (i, ((cpu0, _), (cpu1, rss))) in usage_before.iter().zip(&usage_after).enumerate() {
        println!(
            "| replica {i}: CPU s during the run, peak RSS | {:.1} s, {rss:.0} MiB | |",
            cpu1 - cpu0
        );
    }
    println!(
        "| simulator (node-agent --simulate) CPU s total, peak RSS | {:.1} s, {:.0} MiB | |",
        cpu_secs(b.sim.child.id()),
        peak_rss_mib(b.sim.child.id())
    );
    println!();
    println!(
        "scheduler: {rate:.0} pods/s ({} nodes, {} pods), bind p99 {} ms",
        o.nodes,
        o.pods,
        p99 / 1000
    );
    Ok(())
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let o = Options::parse();
    println!(
        "scheduler bench: 3 replicas on loopback, {} simulated nodes, {} pods, {} creators",
        o.nodes, o.pods, o.creators
    );
    let result = start(&o).and_then(|b| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let r = rt.block_on(measure(&b, &o));
        rt.shutdown_timeout(Duration::from_secs(5));
        r
    });
    if let Err(e) = result {
        eprintln!("scheduler bench failed: {e}");
        std::process::exit(1);
    }
}
