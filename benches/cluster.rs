//! Replicated store benchmark: a 3-replica Berth cluster against a 3-member etcd 3.4
//! cluster on the same machine, one after the other, driven by the same etcd v3 client:
//! puts from 1/16/64/256 clients, linearizable and serializable reads (one key and a
//! 100-key prefix), contended compare-and-swap txns, watch delivery latency; CPU seconds and
//! peak RSS per member. Prints a markdown table with Berth/etcd ratios.
//!
//! `cargo build --release -p berth-control-plane && cargo bench -p berth-benches --bench
//! cluster [-- --secs N] [--check-perf]` (`--check-perf` also runs `etcdctl check perf
//! --load=m` and `--load=l` against both, one minute each).

use berth_benches::*;
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, WatchOptions};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const VALUE_BYTES: usize = 256;
/// Client ports base..base+2, peer ports base+100..: outside Linux's ephemeral range
/// (32768-60999), where the 500 connections of `etcdctl check perf --load=l` left sockets
/// on the next cluster's ports and etcd could not bind; and outside the system tests'
/// ports (20000-32000).
const BERTH_BASE_PORT: u16 = 15000;
const ETCD_BASE_PORT: u16 = 16000;
/// Watchers on one prefix in the watch load (the figure).
const N_WATCHERS: usize = 1000;

#[derive(Default)]
struct Outcome {
    ops: u64,
    errors: u64,
    secs: f64,
    lat: Latencies,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }
    fn cell(&self) -> String {
        let p999 = fmt_us(self.lat.quantile_us(0.999));
        let errors = if self.errors > 0 {
            format!(", {} errors", self.errors)
        } else {
            String::new()
        };
        format!(
            "{:.0}/s, p50 {} p99 {} p99.9 {p999}{errors}",
            self.rate(),
            fmt_us(self.lat.quantile_us(0.5)),
            fmt_us(self.lat.quantile_us(0.99))
        )
    }
}

#[derive(Clone, Copy)]
enum Load {
    Put,
    Get { serializable: bool, prefix: bool },
    Cas,
}

async fn connect(endpoints: &[String], n: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(Client::connect(endpoints, None).await.expect("connect"));
    }
    clients
}

/// Runs `n_clients` concurrent loops of `load` for `secs`.
async fn run(endpoints: &[String], load: Load, n_clients: usize, secs: u64) -> Outcome {
    let clients = connect(endpoints, n_clients.clamp(1, 8)).await;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..n_clients {
        let mut c = clients[t % clients.len()].clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
            let mut lat = Latencies::default();
            let value: Vec<u8> = (0..VALUE_BYTES)
                .map(|_| rng.random_range(b'a'..=b'z'))
                .collect();
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = match load {
                    Load::Put => c
                        .put(
                            format!("/bench/k{:06}", rng.random_range(0..100_000)),
                            value.clone(),
                            None,
                        )
                        .await
                        .is_ok(),
                    Load::Get {
                        serializable,
                        prefix,
                    } => {
                        let mut opts = GetOptions::new();
                        if serializable {
                            opts = opts.with_serializable();
                        }
                        let key = if prefix {
                            opts = opts.with_prefix().with_limit(100);
                            format!("/bench/k{:03}", rng.random_range(0..1000))
                        } else {
                            format!("/bench/k{:06}", rng.random_range(0..100_000))
                        };
                        c.get(key, Some(opts)).await.is_ok()
                    }
                    Load::Cas => {
                        let key = format!("/cas/{}", rng.random_range(0..8));
                        match c.get(key.clone(), None).await {
                            Ok(r) => {
                                let rev = r.kvs().first().map(|kv| kv.mod_revision()).unwrap_or(0);
                                let txn = Txn::new()
                                    .when([Compare::mod_revision(
                                        key.clone(),
                                        CompareOp::Equal,
                                        rev,
                                    )])
                                    .and_then([TxnOp::put(key, value.clone(), None)]);
                                c.txn(txn).await.is_ok()
                            }
                            Err(_) => false,
                        }
                    }
                };
                if ok {
                    lat.record(started);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut lat = Latencies::default();
    for t in tasks {
        lat.0.extend(t.await.expect("load task").0);
    }
    Outcome {
        ops: lat.0.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64().min(secs as f64 + 5.0),
        lat,
    }
}

/// Watchers on one prefix (spread over the members), a writer at 1,000 puts/s: latency
/// from the put's acknowledgement to each watcher's receipt.
async fn watch_latency(endpoints: &[String], n_watchers: usize, secs: u64) -> Outcome {
    let mut tasks = Vec::new();
    let n_puts = secs * 1000;
    for w in 0..n_watchers {
        let endpoint = endpoints[w % endpoints.len()].clone();
        let mut c = Client::connect([endpoint], None)
            .await
            .expect("connect watcher");
        let mut stream = c
            .watch("/watch/", Some(WatchOptions::new().with_prefix()))
            .await
            .expect("watch");
        tasks.push(tokio::spawn(async move {
            let _keep = c;
            let mut seen = Vec::new();
            while let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_secs(10), stream.message())
                    .await
                    .unwrap_or(Ok(None))
            {
                let now = Instant::now();
                seen.extend(
                    msg.events()
                        .iter()
                        .filter_map(|e| e.kv())
                        .map(|kv| (kv.mod_revision(), now)),
                );
                if seen.len() as u64 >= n_puts {
                    break;
                }
            }
            seen
        }));
    }
    let mut c = Client::connect(endpoints, None)
        .await
        .expect("connect writer");
    let mut acks = std::collections::HashMap::new();
    let started = Instant::now();
    for i in 0..n_puts {
        if let Some(wait) =
            (started + Duration::from_millis(i)).checked_duration_since(Instant::now())
        {
            tokio::time::sleep(wait).await;
        }
        if let Ok(r) = c.put(format!("/watch/{}", i % 100), "v", None).await {
            acks.insert(
                r.header().map(|h| h.revision()).unwrap_or(0),
                Instant::now(),
            );
        }
    }
    let mut out = Outcome {
        secs: started.elapsed().as_secs_f64(),
        ..Default::default()
    };
    for t in tasks {
        for (rev, at) in t.await.expect("watcher task") {
            if let Some(ack) = acks.get(&rev) {
                out.lat
                    .0
                    .push(at.saturating_duration_since(*ack).as_micros() as u64);
                out.ops += 1;
            }
        }
    }
    out.errors = (n_watchers as u64 * acks.len() as u64).saturating_sub(out.ops);
    out
}

fn check_perf(endpoints: &[String], load: &str) -> String {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &endpoints.join(","),
            "check",
            "perf",
            &format!("--load={load}"),
        ])
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            // etcdctl prints the failed latency checks without PASS/FAIL ("Slowest request
            // took too long", "Stddev too high").
            let summary: Vec<&str> = text
                .lines()
                .filter(|l| {
                    ["PASS", "FAIL", "Slowest", "Stddev"]
                        .iter()
                        .any(|w| l.contains(w))
                })
                .collect();
            summary.join("; ").replace('|', "/")
        }
        Err(e) => format!("etcdctl failed: {e}"),
    }
}

struct SystemFigures {
    rows: Vec<(String, Outcome)>,
    usage: Vec<(f64, f64)>,
    check_perf: Vec<String>,
}

/// Which loads a run measures: `--only 'a;b'` keeps the rows whose name contains one of them.
#[derive(Clone, Default)]
struct Filter(Vec<String>);

impl Filter {
    fn wants(&self, row: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|f| row.contains(f.as_str()))
    }
}

async fn measure(
    cluster: &ClusterProcesses,
    secs: u64,
    with_check_perf: bool,
    filter: &Filter,
) -> SystemFigures {
    let ep = &cluster.endpoints;
    // Let the cluster elect a leader and answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut c) = Client::connect(ep, None).await {
            if c.put("/bench/ready", "1", None).await.is_ok() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "cluster not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut rows = Vec::new();
    for n in [1, 16, 64, 256] {
        let name = format!("put 256 B, {n} clients");
        if filter.wants(&name) {
            rows.push((name, run(ep, Load::Put, n, secs).await));
        }
    }
    for (name, serializable, prefix) in [
        ("get 1 key, linearizable", false, false),
        ("get 1 key, serializable", true, false),
        ("get 100-key prefix, linearizable", false, true),
        ("get 100-key prefix, serializable", true, true),
    ] {
        let name = format!("{name}, 16 clients");
        if filter.wants(&name) {
            rows.push((
                name,
                run(
                    ep,
                    Load::Get {
                        serializable,
                        prefix,
                    },
                    16,
                    secs,
                )
                .await,
            ));
        }
    }
    let name = "txn compare-and-swap on 8 keys, 16 clients".to_string();
    if filter.wants(&name) {
        rows.push((name, run(ep, Load::Cas, 16, secs).await));
    }
    let name = format!("watch: {N_WATCHERS} watchers, 1,000 puts/s (ack -> event)");
    if filter.wants(&name) {
        rows.push((name, watch_latency(ep, N_WATCHERS, secs.min(3)).await));
    }
    let mut check = Vec::new();
    if with_check_perf {
        for load in ["m", "l"] {
            check.push(format!("--load={load}: {}", check_perf(ep, load)));
        }
    }
    SystemFigures {
        rows,
        usage: cluster.usage(),
        check_perf: check,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5u64);
    let with_check_perf = args.iter().any(|a| a == "--check-perf");
    let filter = Filter(
        args.iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(';').map(str::to_string).collect())
            .unwrap_or_default(),
    );
    let berth_only = args.iter().any(|a| a == "--berth-only");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("replicated store bench: 3 members each, {secs} s per load, plain HTTP on loopback");
    let berth = {
        let c = ClusterProcesses::berth(BERTH_BASE_PORT)
            .unwrap_or_else(|e| panic!("failed to start Berth: {e}"));
        if let Ok(pause) = std::env::var("BENCH_PAUSE_SECS") {
            // Time to attach a profiler to the members (`perf record -p ...`).
            eprintln!("berth members started: {:?}; pausing {pause} s", c.pids());
            std::thread::sleep(Duration::from_secs(pause.parse().unwrap_or(0)));
        }
        let figures = rt.block_on(measure(&c, secs, with_check_perf, &filter));
        // Printed as soon as measured, so a failure later (etcd) does not lose them.
        for (name, o) in &figures.rows {
            eprintln!("berth: {name}: {}", o.cell());
        }
        for line in &figures.check_perf {
            eprintln!("berth: etcdctl check perf {line}");
        }
        figures
    };
    let etcd = if berth_only {
        SystemFigures {
            rows: berth
                .rows
                .iter()
                .map(|(n, _)| (n.clone(), Outcome::default()))
                .collect(),
            usage: Vec::new(),
            check_perf: berth.check_perf.clone(),
        }
    } else {
        let c = ClusterProcesses::etcd(ETCD_BASE_PORT)
            .unwrap_or_else(|e| panic!("failed to start etcd: {e}"));
        rt.block_on(measure(&c, secs, with_check_perf, &filter))
    };
    println!("\n### Replicated store: 3-replica Berth vs 3-member etcd 3.4.23\n");
    println!("| load | Berth | etcd | Berth/etcd throughput |");
    println!("|---|---|---|---|");
    for ((name, b), (_, e)) in berth.rows.iter().zip(&etcd.rows) {
        if name.starts_with("watch") {
            // A paced writer: the figure to compare is the latency, not a rate.
            let cell = |o: &Outcome| {
                format!(
                    "p50 {} p99 {} p99.9 {} ({} events)",
                    fmt_us(o.lat.quantile_us(0.5)),
                    fmt_us(o.lat.quantile_us(0.99)),
                    fmt_us(o.lat.quantile_us(0.999)),
                    o.ops
                )
            };
            println!("| {name} | {} | {} | (latency) |", cell(b), cell(e));
        } else {
            println!(
                "| {name} | {} | {} | {:.2}x |",
                b.cell(),
                e.cell(),
                b.rate() / e.rate().max(1e-9)
            );
        }
    }
    let fmt_usage = |u: &[(f64, f64)]| {
        u.iter()
            .map(|(cpu, rss)| format!("{cpu:.1} s / {rss:.0} MiB"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| CPU seconds / peak RSS per member | {} | {} | |",
        fmt_usage(&berth.usage),
        fmt_usage(&etcd.usage)
    );
    for (b, e) in berth.check_perf.iter().zip(&etcd.check_perf) {
        println!(
            "| etcdctl check perf {} | {} | {} | |",
            b.split(':').next().unwrap_or(""),
            b,
            e
        );
    }
}
