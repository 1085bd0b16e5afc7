//! Storage engine benchmark: apply throughput (with and without fsync, single and batched),
//! Raft log group commit, range latency and RSS over 1M keys, and watch fan-out, printed
//! next to a one-member etcd 3.4 measured in the same run on the same disk.
//!
//! `cargo bench -p berth-benches --bench storage [-- --quick] [--only-keyspace]` (`--quick`:
//! 100k keys; `--only-keyspace`: just Berth's load and reads, for profiling).
//! Berth's side is the engine in-process; etcd's side goes through gRPC on loopback and
//! its own Raft. The table says which rows compare like with like.

use berth_benches::*;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::*;

const VALUE_BYTES: usize = 256;

struct Params {
    n_keys: usize,
    n_puts: usize,
    n_sync_puts: usize,
    n_watchers: usize,
    watch_secs: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let p = if quick {
        Params {
            n_keys: 100_000,
            n_puts: 50_000,
            n_sync_puts: 1_000,
            n_watchers: 1_000,
            watch_secs: 2,
        }
    } else {
        Params {
            n_keys: 1_000_000,
            n_puts: 200_000,
            n_sync_puts: 3_000,
            n_watchers: 1_000,
            watch_secs: 3,
        }
    };
    println!(
        "storage bench ({} keys, {}-byte values), machine: {} cores",
        p.n_keys,
        VALUE_BYTES,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let mut table = Table::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    // Berth's keyspace first, while this process's heap holds nothing else (its RSS is the
    // figure); etcd runs in its own process, and its loader generates values as it goes.
    let berth = berth_keyspace(&p);
    if std::env::args().any(|a| a == "--only-keyspace") {
        // For profiling the load and reads alone (`perf record ... -- --only-keyspace`).
        println!(
            "keyspace only: load {:.0} keys/s, RSS {:.0} MiB",
            berth.load_keys_per_sec, berth.rss_mib
        );
        return;
    }
    let etcd = match rt.block_on(etcd_side(&p)) {
        Ok(r) => Some(r),
        Err(e) => {
            println!("reference etcd not measured: {e}");
            None
        }
    };
    let e =
        |f: &dyn Fn(&EtcdFigures) -> String| etcd.as_ref().map(f).unwrap_or_else(|| "n/a".into());

    table.row(
        &format!("RSS with {} keys", p.n_keys),
        format!("{:.0} MiB", berth.rss_mib),
        e(&|f| format!("{:.0} MiB", f.rss_mib)),
        "whole process after load and reads",
    );
    table.row(
        "on-disk size",
        format!("{:.0} MiB", berth.disk_mib),
        e(&|f| format!("{:.0} MiB", f.disk_mib)),
        "data dir after load",
    );
    table.row(
        "load (128 puts per txn)",
        format!("{:.0} keys/s", berth.load_keys_per_sec),
        e(&|f| format!("{:.0} keys/s", f.load_keys_per_sec)),
        "etcd: 8 clients over gRPC",
    );
    table.row(
        "get one key, 1 reader",
        berth.get.summary(),
        e(&|f| f.get.summary()),
        "etcd: linearizable, over gRPC",
    );
    table.row(
        "range 100 keys (prefix, limit 100)",
        berth.range100.summary(),
        e(&|f| f.range100.summary()),
        "",
    );

    let (nosync_rate, nosync_lat) = berth_puts(p.n_puts, false);
    let (sync_rate, sync_lat) = berth_puts(p.n_sync_puts, true);
    table.row(
        "put 256 B, 1 writer, no fsync",
        format!("{nosync_rate:.0}/s, {}", nosync_lat.summary()),
        "n/a".into(),
        "etcd cannot skip fsync in 3.4",
    );
    table.row(
        "put 256 B, 1 writer, fsync each",
        format!("{sync_rate:.0}/s, {}", sync_lat.summary()),
        e(&|f| format!("{:.0}/s, {}", f.put_rate, f.put.summary())),
        "etcd: 1 client, WAL fsync + bolt commit",
    );
    let (batch_nosync, _) = berth_batched(p.n_puts / 64, false);
    let (batch_sync, _) = berth_batched(p.n_sync_puts / 4, true);
    table.row(
        "batched: 64 puts per write batch, no fsync",
        format!("{batch_nosync:.0} puts/s"),
        "n/a".into(),
        "one txn of 64 puts per apply",
    );
    table.row(
        "batched: 64 puts per write batch, fsync",
        format!("{batch_sync:.0} puts/s"),
        e(&|f| format!("{:.0} puts/s", f.txn64_puts_per_sec)),
        "etcd: txn of 64 puts, 1 client",
    );
    let (log_rate, per_fsync) = berth_log_group_commit(64, Duration::from_secs(3));
    table.row(
        "Raft log append, 64 in flight",
        format!("{log_rate:.0} entries/s, {per_fsync:.1} entries per fsync"),
        "n/a".into(),
        "group commit",
    );

    let watch = rt.block_on(berth_watch(p.n_watchers, p.watch_secs));
    table.row(
        &format!(
            "watch fan-out, {} watchers on one prefix, 1000 puts/s",
            p.n_watchers
        ),
        watch.summary(),
        e(&|f| f.watch.summary()),
        "put acknowledged -> event received, every watcher",
    );
    table.print("Storage engine");
}

struct Keyspace {
    rss_mib: f64,
    disk_mib: f64,
    load_keys_per_sec: f64,
    get: Latencies,
    range100: Latencies,
}

fn key(i: usize) -> String {
    format!("/registry/pods/ns-{}/pod-{:07}", i % 100, i)
}

fn value(rng: &mut impl Rng) -> Vec<u8> {
    (0..VALUE_BYTES)
        .map(|_| rng.random_range(b'a'..=b'z'))
        .collect()
}

/// A fresh engine in the bench directory (removed with the returned TempDir).
fn bench_engine(config: EngineConfig) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::Builder::new()
        .prefix("berth-bench")
        .tempdir_in(bench_tmp())
        .expect("temp dir");
    let engine = Engine::open(dir.path(), config).expect("open engine");
    (dir, engine)
}

fn berth_keyspace(p: &Params) -> Keyspace {
    let (dir, engine) = bench_engine(EngineConfig::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let started = Instant::now();
    for chunk_start in (0..p.n_keys).step_by(128) {
        let ops = (chunk_start..(chunk_start + 128).min(p.n_keys))
            .map(|i| RequestOp::Put(PutRequest::new(key(i), value(&mut rng))))
            .collect();
        engine
            .write(&WriteRequest::Txn(TxnRequest {
                success: ops,
                ..Default::default()
            }))
            .expect("load txn");
    }
    let load_keys_per_sec = per_sec(p.n_keys as u64, started.elapsed());
    let mut get = Latencies::default();
    for _ in 0..20_000 {
        let k = key(rng.random_range(0..p.n_keys));
        let t = Instant::now();
        let kv = engine.get(k.as_bytes()).expect("get");
        get.record(t);
        assert!(kv.is_some());
    }
    let mut range100 = Latencies::default();
    for _ in 0..2_000 {
        let req = RangeRequest {
            limit: 100,
            ..RangeRequest::prefix(format!("/registry/pods/ns-{}/", rng.random_range(0..100)))
        };
        let t = Instant::now();
        let r = engine.range(&req).expect("range");
        range100.record(t);
        assert_eq!(r.kvs.len(), 100);
    }
    let rss = rss_mib(std::process::id());
    let disk = dir_mib(dir.path());
    Keyspace {
        rss_mib: rss,
        disk_mib: disk,
        load_keys_per_sec,
        get,
        range100,
    }
}

fn berth_puts(n: usize, sync: bool) -> (f64, Latencies) {
    let (_dir, engine) = bench_engine(EngineConfig {
        sync_apply: sync,
        ..EngineConfig::default()
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut lat = Latencies::default();
    let started = Instant::now();
    for _ in 0..n {
        let req = WriteRequest::Put(PutRequest::new(
            key(rng.random_range(0..100_000)),
            value(&mut rng),
        ));
        let t = Instant::now();
        engine.write(&req).expect("put");
        lat.record(t);
    }
    (per_sec(n as u64, started.elapsed()), lat)
}

fn berth_batched(n_batches: usize, sync: bool) -> (f64, Latencies) {
    let (_dir, engine) = bench_engine(EngineConfig {
        sync_apply: sync,
        ..EngineConfig::default()
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut lat = Latencies::default();
    let started = Instant::now();
    for b in 0..n_batches {
        let ops = (0..64)
            .map(|i| RequestOp::Put(PutRequest::new(key(b * 64 + i), value(&mut rng))))
            .collect();
        let t = Instant::now();
        engine
            .write(&WriteRequest::Txn(TxnRequest {
                success: ops,
                ..Default::default()
            }))
            .expect("txn");
        lat.record(t);
    }
    (per_sec((n_batches * 64) as u64, started.elapsed()), lat)
}

fn berth_log_group_commit(in_flight: usize, duration: Duration) -> (f64, f64) {
    let (_dir, engine) = bench_engine(EngineConfig::default());
    let log = Arc::new(engine.raft_log());
    let next = Arc::new(AtomicU64::new(1));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let log = log.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                let payload = vec![b'e'; VALUE_BYTES + 64];
                while Instant::now() < deadline {
                    let idx = next.fetch_add(1, Ordering::Relaxed);
                    log.append_wait(vec![(idx, payload.clone())])
                        .expect("append");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("log worker");
    }
    let elapsed = started.elapsed();
    let entries = log.stats().entries.load(Ordering::Relaxed);
    let fsyncs = log.stats().fsyncs.load(Ordering::Relaxed).max(1);
    (per_sec(entries, elapsed), entries as f64 / fsyncs as f64)
}

async fn berth_watch(n_watchers: usize, secs: u64) -> Latencies {
    let (_dir, engine) = bench_engine(EngineConfig::default());
    let n_puts = secs as i64 * 1000;
    let first_rev = engine.current_revision().0 + 1;
    let last_rev = first_rev + n_puts - 1;
    let mut tasks = Vec::new();
    for _ in 0..n_watchers {
        let mut w = engine
            .watch(WatchRequest {
                key: b"/w/".to_vec(),
                range_end: prefix_end(b"/w/"),
                ..Default::default()
            })
            .expect("watch");
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::with_capacity(n_puts as usize);
            while let Some(msg) = w.recv().await {
                let now = Instant::now();
                for ev in &msg.events {
                    seen.push((ev.kv.mod_revision, now));
                }
                if msg.revision >= last_rev {
                    break;
                }
            }
            seen
        }));
    }
    let acks = tokio::task::spawn_blocking(move || {
        let mut acks = Vec::with_capacity(n_puts as usize);
        let started = Instant::now();
        for i in 0..n_puts {
            let due = started + Duration::from_micros(i as u64 * 1000);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let r = engine
                .write(&WriteRequest::Put(PutRequest::new(
                    format!("/w/{}", i % 100),
                    "v",
                )))
                .expect("put");
            let WriteResponse::Put(p) = r else {
                unreachable!("put answers put")
            };
            acks.push((p.revision, Instant::now()));
        }
        (acks, engine)
    })
    .await
    .expect("writer");
    let ack_at: std::collections::HashMap<i64, Instant> = acks.0.into_iter().collect();
    let mut lat = Latencies::default();
    for t in tasks {
        for (rev, at) in t.await.expect("watcher task") {
            let ack = ack_at[&rev];
            lat.0
                .push(at.saturating_duration_since(ack).as_micros() as u64);
        }
    }
    assert_eq!(
        lat.0.len(),
        n_watchers * n_puts as usize,
        "every watcher saw every event"
    );
    lat
}

// ---- the reference: etcd 3.4 ------------------------------------------------------------

struct EtcdFigures {
    rss_mib: f64,
    disk_mib: f64,
    load_keys_per_sec: f64,
    get: Latencies,
    range100: Latencies,
    put_rate: f64,
    put: Latencies,
    txn64_puts_per_sec: f64,
    watch: Latencies,
}

async fn etcd_side(p: &Params) -> Result<EtcdFigures, String> {
    use etcd_client::{Client, GetOptions, Txn, TxnOp, WatchOptions};
    let etcd = EtcdProcess::start(23790, 23800)?;
    let client = Client::connect([etcd.endpoint.clone()], None)
        .await
        .map_err(|e| e.to_string())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    // Load with 8 concurrent clients, 128 puts per txn; each client generates its chunks.
    let started = Instant::now();
    let next_chunk = Arc::new(AtomicU64::new(0));
    let n_keys = p.n_keys;
    let mut loaders = Vec::new();
    for l in 0..8u64 {
        let mut c = client.clone();
        let next_chunk = next_chunk.clone();
        loaders.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + l);
            loop {
                let start = next_chunk.fetch_add(128, Ordering::Relaxed) as usize;
                if start >= n_keys {
                    return Ok::<(), String>(());
                }
                let ops: Vec<TxnOp> = (start..(start + 128).min(n_keys))
                    .map(|i| TxnOp::put(key(i), value(&mut rng), None))
                    .collect();
                c.txn(Txn::new().and_then(ops))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }));
    }
    for l in loaders {
        l.await.map_err(|e| e.to_string())??;
    }
    let load_keys_per_sec = per_sec(p.n_keys as u64, started.elapsed());
    let mut c = client.clone();
    let mut get = Latencies::default();
    for _ in 0..5_000 {
        let k = key(rng.random_range(0..p.n_keys));
        let t = Instant::now();
        c.get(k, None).await.map_err(|e| e.to_string())?;
        get.record(t);
    }
    let mut range100 = Latencies::default();
    for _ in 0..1_000 {
        let prefix = format!("/registry/pods/ns-{}/", rng.random_range(0..100));
        let t = Instant::now();
        let r = c
            .get(
                prefix,
                Some(GetOptions::new().with_prefix().with_limit(100)),
            )
            .await
            .map_err(|e| e.to_string())?;
        range100.record(t);
        if r.kvs().len() != 100 {
            return Err(format!("etcd range returned {} keys", r.kvs().len()));
        }
    }
    let rss_mib = rss_mib(etcd.pid());
    let disk_mib = etcd.data_mib();
    // Puts from one client.
    let mut put = Latencies::default();
    let started = Instant::now();
    for _ in 0..p.n_sync_puts {
        let (k, v) = (key(rng.random_range(0..100_000)), value(&mut rng));
        let t = Instant::now();
        c.put(k, v, None).await.map_err(|e| e.to_string())?;
        put.record(t);
    }
    let put_rate = per_sec(p.n_sync_puts as u64, started.elapsed());
    let n_txn = p.n_sync_puts / 4;
    let started = Instant::now();
    for b in 0..n_txn {
        let ops: Vec<TxnOp> = (0..64)
            .map(|i| TxnOp::put(key(b * 64 + i), value(&mut rng), None))
            .collect();
        c.txn(Txn::new().and_then(ops))
            .await
            .map_err(|e| e.to_string())?;
    }
    let txn64_puts_per_sec = per_sec((n_txn * 64) as u64, started.elapsed());
    // Watch fan-out.
    let n_puts = p.watch_secs as i64 * 1000;
    let mut tasks = Vec::new();
    for _ in 0..p.n_watchers {
        let mut wc = client.watch_client();
        let mut stream = wc
            .watch("/w/", Some(WatchOptions::new().with_prefix()))
            .await
            .map_err(|e| e.to_string())?;
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Some(msg)) = stream.message().await {
                let now = Instant::now();
                for ev in msg.events() {
                    if let Some(kv) = ev.kv() {
                        seen.push((kv.mod_revision(), now));
                    }
                }
                if seen.len() >= n_puts as usize {
                    break;
                }
            }
            seen
        }));
    }
    let mut acks = std::collections::HashMap::new();
    let started = Instant::now();
    for i in 0..n_puts {
        let due = started + Duration::from_micros(i as u64 * 1000);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let r = c
            .put(format!("/w/{}", i % 100), "v", None)
            .await
            .map_err(|e| e.to_string())?;
        acks.insert(
            r.header().map(|h| h.revision()).unwrap_or(0),
            Instant::now(),
        );
    }
    let mut watch = Latencies::default();
    for t in tasks {
        let seen = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .map_err(|_| "etcd watchers did not finish".to_string())?
            .map_err(|e| e.to_string())?;
        for (rev, at) in seen {
            if let Some(ack) = acks.get(&rev) {
                watch
                    .0
                    .push(at.saturating_duration_since(*ack).as_micros() as u64);
            }
        }
    }
    drop(etcd);
    Ok(EtcdFigures {
        rss_mib,
        disk_mib,
        load_keys_per_sec,
        get,
        range100,
        put_rate,
        put,
        txn64_puts_per_sec,
        watch,
    })
}
