//! Controllers benchmark: 3 control-plane replicas with the Kubernetes API (scheduler and
//! controllers leader-elected inside them), N simulated nodes (`node-agent --simulate`,
//! kwok-like: bound pods become Running and Ready at once, deleted pods are finished).
//!
//! 1. A Deployment of R replicas from zero to all Available: time, store writes/s, CPU
//!    seconds and RSS per replica.
//! 2. A rolling update of it (25 % surge, 25 % unavailable): the same figures.
//! 3. S Services with two pods each, then pod churn (C pods deleted and C created per
//!    second for T seconds): for every new pod, the time from the watch showing it Ready to
//!    the watch showing it as a ready endpoint in its Service's EndpointSlice, p50/p99.
//!    Both watches are read by this process, so the figure is what a proxy would see.
//!
//! `scripts/bench.sh controllers [--nodes 1000] [--replicas 10000] [--services 1000]
//! [--churn 20] [--churn-secs 60]`; the last line reads
//! `controllers: <R> replicas available in <s> s, rollout <s> s, endpoint p99 <ms> ms`.

use berth_benches::*;
use berth_node_agent::apiclient::{Client, EventKind, PatchType};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ports: etcd client base.., peers base+100.., Kubernetes API base+200.. (apart from the
/// other benches' and the system tests' ranges).
const BASE_PORT: u16 = 18500;
const DEPLOY_NS: &str = "bench";
const SVC_NS: &str = "svc";

struct Options {
    nodes: usize,
    replicas: usize,
    services: usize,
    churn: usize,
    churn_secs: u64,
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
            nodes: num("--nodes", 1000),
            replicas: num("--replicas", 10_000),
            services: num("--services", 1000),
            churn: num("--churn", 20),
            churn_secs: num("--churn-secs", 60) as u64,
        }
    }
}

struct Bench {
    cluster: KubeCluster,
    sim: SimNodes,
    kubeconfigs: Vec<PathBuf>,
}

/// The store's revision now (a quorum list's resourceVersion).
async fn revision(c: &Client) -> Result<u64, String> {
    let l = c
        .list("/api/v1/namespaces/default/configmaps?limit=1")
        .await
        .map_err(|e| e.to_string())?;
    l["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no resourceVersion in {l}"))
}

/// Figures of one phase: wall time, store writes, CPU seconds and RSS per replica.
struct Phase {
    secs: f64,
    writes: u64,
    cpu: Vec<f64>,
    rss: Vec<f64>,
}

struct Meter {
    t: Instant,
    rev: u64,
    cpu: Vec<f64>,
}

impl Meter {
    async fn start(b: &Bench, c: &Client) -> Result<Meter, String> {
        Ok(Meter {
            t: Instant::now(),
            rev: revision(c).await?,
            cpu: b
                .cluster
                .processes
                .pids()
                .into_iter()
                .map(cpu_secs)
                .collect(),
        })
    }

    async fn stop(self, b: &Bench, c: &Client) -> Result<Phase, String> {
        let secs = self.t.elapsed().as_secs_f64();
        let rev = revision(c).await?;
        let pids = b.cluster.processes.pids();
        Ok(Phase {
            secs,
            writes: rev.saturating_sub(self.rev),
            cpu: pids
                .iter()
                .zip(&self.cpu)
                .map(|(p, c0)| cpu_secs(*p) - c0)
                .collect(),
            rss: pids.iter().map(|p| rss_mib(*p)).collect(),
        })
    }
}

fn row(what: &str, p: &Phase) {
    let cpu: Vec<String> = p.cpu.iter().map(|c| format!("{c:.0}")).collect();
    let rss: Vec<String> = p.rss.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "| {what} | {:.1} s | {:.0} | {} | {} |",
        p.secs,
        p.writes as f64 / p.secs.max(1e-9),
        cpu.join(" / "),
        rss.join(" / ")
    );
}

async fn namespace(admin: &Client, name: &str) -> Result<(), String> {
    let _ = admin
        .create(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await;
    // Pods need the namespace's default ServiceAccount (admission).
    wait_until(
        &format!("the {name} namespace's default ServiceAccount"),
        Duration::from_secs(60),
        || async {
            Ok(admin
                .get(&format!(
                    "/api/v1/namespaces/{name}/serviceaccounts/default"
                ))
                .await
                .is_ok())
        },
    )
    .await
}

/// Waits until the Deployment's status satisfies `done`.
async fn wait_deployment(
    admin: &Client,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<(), String> {
    let path = format!("/apis/apps/v1/namespaces/{DEPLOY_NS}/deployments/big");
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(d) = admin.get(&path).await {
            let s = &d["status"];
            if s["observedGeneration"] == d["metadata"]["generation"] && done(s) {
                return Ok(());
            }
            last = s.to_string();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("timed out waiting for {what}: {last}"))
}

async fn deployment(b: &Bench, o: &Options, admin: &Client) -> Result<(Phase, Phase), String> {
    namespace(admin, DEPLOY_NS).await?;
    let r = o.replicas;
    let m = Meter::start(b, admin).await?;
    admin
        .create(
            &format!("/apis/apps/v1/namespaces/{DEPLOY_NS}/deployments"),
            &json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
                "spec": {"replicas": r, "selector": {"matchLabels": {"app": "big"}},
                  "template": {"metadata": {"labels": {"app": "big"}}, "spec": {
                    "containers": [{"name": "c", "image": "busybox:1.35"}]}}}}),
        )
        .await
        .map_err(|e| format!("create the Deployment: {e}"))?;
    wait_deployment(admin, "every replica available", |s| {
        s["availableReplicas"].as_u64() == Some(r as u64)
    })
    .await?;
    let up = m.stop(b, admin).await?;
    println!("{r} replicas available in {:.1} s", up.secs);

    let m = Meter::start(b, admin).await?;
    admin
        .patch(
            &format!("/apis/apps/v1/namespaces/{DEPLOY_NS}/deployments/big"),
            PatchType::StrategicMerge,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}),
        )
        .await
        .map_err(|e| format!("patch the Deployment: {e}"))?;
    wait_deployment(admin, "the rollout", |s| {
        let n = Some(r as u64);
        s["updatedReplicas"].as_u64() == n
            && s["availableReplicas"].as_u64() == n
            && s["replicas"].as_u64() == n
    })
    .await?;
    let rollout = m.stop(b, admin).await?;
    println!("rolling update done in {:.1} s", rollout.secs);
    Ok((up, rollout))
}

fn service_pod(i: usize, services: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("e-{i:06}"), "labels": {"svc": format!("s-{:04}", i % services)}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.35",
            "ports": [{"name": "http", "containerPort": 8080}]}]}
    })
}

async fn create_all(clients: &[Client], path: &str, objs: Vec<Value>) -> Result<(), String> {
    let mut tasks = Vec::new();
    let chunk = objs.len().div_ceil(32).max(1);
    for (w, part) in objs.chunks(chunk).enumerate() {
        let c = clients[w % clients.len()].clone();
        let part = part.to_vec();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            for o in part {
                let mut tries = 0;
                loop {
                    match c.create(&path, &o).await {
                        Ok(_) => break,
                        Err(e) if e.is_already_exists() => break,
                        Err(e) if tries < 20 && (e.code() == Some(429) || e.is_retryable()) => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => return Err(format!("create under {path}: {e}")),
                    }
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Pod name -> when this process first saw it Ready, and first saw it as a ready endpoint.
#[derive(Default)]
struct Seen {
    ready: HashMap<String, Instant>,
    endpoint: HashMap<String, Instant>,
}

async fn endpoints(b: &Bench, o: &Options, admin: &Client) -> Result<(Phase, Latencies), String> {
    namespace(admin, SVC_NS).await?;
    let clients: Vec<Client> = b
        .kubeconfigs
        .iter()
        .map(|k| api_client(k, 32))
        .collect::<Result<_, _>>()?;
    let services: Vec<Value> = (0..o.services)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("s-{i:04}")},
                "spec": {"selector": {"svc": format!("s-{i:04}")},
                  "ports": [{"port": 80, "targetPort": "http"}]}})
        })
        .collect();
    create_all(
        &clients,
        &format!("/api/v1/namespaces/{SVC_NS}/services"),
        services,
    )
    .await?;
    let initial = 2 * o.services;
    let pods: Vec<Value> = (0..initial).map(|i| service_pod(i, o.services)).collect();
    create_all(&clients, &format!("/api/v1/namespaces/{SVC_NS}/pods"), pods).await?;
    wait_until(
        "the initial service pods' endpoints",
        Duration::from_secs(600),
        || async {
            let l = admin
                .list(&format!(
                    "/apis/discovery.k8s.io/v1/namespaces/{SVC_NS}/endpointslices"
                ))
                .await
                .map_err(|e| e.to_string())?;
            let ready = l["items"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                .filter(|e| e["conditions"]["ready"] == true)
                .count();
            Ok(ready >= initial)
        },
    )
    .await?;
    println!("{} Services with {initial} ready endpoints", o.services);

    // Both watches from the same replica, started at the same revision.
    let rv = revision(admin).await?;
    let watcher = api_client(&b.kubeconfigs[2], 4)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut pod_watch = watcher
        .watch(
            &format!("/api/v1/namespaces/{SVC_NS}/pods?watch=1&resourceVersion={rv}"),
            600_000,
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut slice_watch = watcher
        .watch(
            &format!("/apis/discovery.k8s.io/v1/namespaces/{SVC_NS}/endpointslices?watch=1&resourceVersion={rv}"),
            600_000,
        )
        .await
        .map_err(|e| e.to_string())?;
    let s1 = seen.clone();
    let pods_task = tokio::spawn(async move {
        while let Ok(Some(ev)) = pod_watch.next().await {
            if ev.kind != EventKind::Deleted && is_ready(&ev.object) {
                if let Some(name) = ev.object["metadata"]["name"].as_str() {
                    let mut g = s1.lock().expect("seen");
                    g.ready.entry(name.to_string()).or_insert_with(Instant::now);
                }
            }
        }
    });
    let s2 = seen.clone();
    let slices_task = tokio::spawn(async move {
        while let Ok(Some(ev)) = slice_watch.next().await {
            if ev.kind == EventKind::Deleted || ev.kind == EventKind::Bookmark {
                continue;
            }
            let now = Instant::now();
            let mut g = s2.lock().expect("seen");
            for e in ev.object["endpoints"].as_array().into_iter().flatten() {
                if e["conditions"]["ready"] == true {
                    if let Some(name) = e["targetRef"]["name"].as_str() {
                        g.endpoint.entry(name.to_string()).or_insert(now);
                    }
                }
            }
        }
    });

    // Churn: every second, the oldest `churn` pods go and `churn` new ones come.
    let m = Meter::start(b, admin).await?;
    let mut live: VecDeque<usize> = (0..initial).collect();
    let mut next = initial;
    let mut created = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for _ in 0..o.churn_secs {
        tick.tick().await;
        let mut tasks = Vec::new();
        for k in 0..o.churn {
            let c = clients[k % clients.len()].clone();
            let old = live.pop_front();
            let new = next;
            next += 1;
            live.push_back(new);
            created.push(format!("e-{new:06}"));
            let services = o.services;
            tasks.push(tokio::spawn(async move {
                if let Some(old) = old {
                    let _ = c
                        .delete(
                            &format!("/api/v1/namespaces/{SVC_NS}/pods/e-{old:06}"),
                            &json!({}),
                        )
                        .await;
                }
                c.create(
                    &format!("/api/v1/namespaces/{SVC_NS}/pods"),
                    &service_pod(new, services),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
    }
    let want = created.clone();
    let s3 = seen.clone();
    let waited = wait_until(
        "every churned pod's endpoint",
        Duration::from_secs(300),
        || {
            let s = s3.clone();
            let want = want.clone();
            async move {
                let g = s.lock().expect("seen");
                Ok(want.iter().all(|n| g.endpoint.contains_key(n)))
            }
        },
    )
    .await;
    let phase = m.stop(b, admin).await?;
    pods_task.abort();
    slices_task.abort();
    let g = seen.lock().expect("seen");
    let mut lat = Latencies::default();
    let mut missing = 0;
    for n in &created {
        match (g.ready.get(n), g.endpoint.get(n)) {
            (Some(r), Some(e)) => lat
                .0
                .push(e.saturating_duration_since(*r).as_micros() as u64),
            _ => missing += 1,
        }
    }
    lat.0.sort_unstable();
    if let Err(e) = waited {
        return Err(format!("{e} ({missing} of {} never seen)", created.len()));
    }
    Ok((phase, lat))
}

async fn measure(b: &Bench, o: &Options) -> Result<(), String> {
    let admin = api_client(&b.kubeconfigs[0], 8)?;
    wait_until("the API to be ready", Duration::from_secs(90), || async {
        Ok(admin.list("/api/v1/namespaces").await.is_ok())
    })
    .await?;
    let t_nodes = wait_nodes_ready(&admin, o.nodes).await?;
    println!(
        "{} simulated nodes registered and Ready in {:.1} s",
        o.nodes,
        t_nodes.as_secs_f64()
    );
    let (up, rollout) = deployment(b, o, &admin).await?;
    let (churn, lat) = endpoints(b, o, &admin).await?;
    let p50 = lat.quantile_us(0.5);
    let p99 = lat.quantile_us(0.99);
    println!();
    println!(
        "## controllers: {} simulated nodes, a {}-replica Deployment, {} Services",
        o.nodes, o.replicas, o.services
    );
    println!();
    println!("| phase | time | store writes/s | CPU s per replica | RSS MiB per replica |");
    println!("|---|---|---|---|---|");
    row(
        &format!("{} replicas from zero to Available", o.replicas),
        &up,
    );
    row("rolling update (25 % surge / unavailable)", &rollout);
    row(
        &format!(
            "endpoint churn ({} pods/s replaced for {} s)",
            o.churn, o.churn_secs
        ),
        &churn,
    );
    println!();
    println!(
        "pod Ready -> ready endpoint in its EndpointSlice ({} pods): p50 {} / p99 {} / max {}; goal p99 <= 1 s, Kubernetes' network programming SLO budget 30 s",
        lat.0.len(),
        fmt_us(p50),
        fmt_us(p99),
        fmt_us(lat.0.last().copied().unwrap_or(0))
    );
    println!(
        "reference: kube-controller-manager's client defaults (--kube-api-qps 20, burst 30) cap pod creation near 20/s, about 500 s for 10,000 pods"
    );
    println!(
        "simulator (node-agent --simulate) CPU {:.1} s total, peak RSS {:.0} MiB",
        cpu_secs(b.sim.child.id()),
        peak_rss_mib(b.sim.child.id())
    );
    println!();
    println!(
        "controllers: {} replicas available in {:.1} s, rollout {:.1} s, endpoint p99 {} ms",
        o.replicas,
        up.secs,
        rollout.secs,
        p99 / 1000
    );
    Ok(())
}

fn start(o: &Options) -> Result<Bench, String> {
    let cluster = KubeCluster::start(BASE_PORT)?;
    let kubeconfigs = cluster.kubeconfigs()?;
    let sim = SimNodes::start(
        &kubeconfigs[1],
        o.nodes,
        &cluster.certs.path().join("sim.log"),
        &[],
    )?;
    Ok(Bench {
        cluster,
        sim,
        kubeconfigs,
    })
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let o = Options::parse();
    println!(
        "controllers bench: 3 replicas on loopback, {} simulated nodes, {} replicas, {} Services, churn {}/s for {} s",
        o.nodes, o.replicas, o.services, o.churn, o.churn_secs
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
        eprintln!("controllers bench failed: {e}");
        std::process::exit(1);
    }
}
