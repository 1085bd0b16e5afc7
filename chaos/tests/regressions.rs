//! Regression tests for store bugs the chaos runs found, each a targeted scenario on a real
//! 3-replica cluster in namespaces, judged by the same checkers as a run.

use chaos::check::lease;
use chaos::cluster::{Cluster, ClusterConfig};
use chaos::history::{operations, Op, OpResult, Outcome, Recorder};
use chaos::workload::{Shared, Tls, WorkloadConfig};
use etcd_client::{Client, PutOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The replica binary: `control-plane` next to this test, or `BERTH_CHAOS_CONTROL_PLANE`
/// (to show a regression test fails on a build that has the bug).
fn control_plane() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_CHAOS_CONTROL_PLANE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("failed to find the test executable's path");
    let p = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("unexpected test executable path")
        .join("control-plane");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --release --workspace` first",
        p.display()
    );
    p
}

/// The replica every one of `nodes` names as leader, waiting up to 15 s for agreement.
async fn leader_of(shared: &Shared, nodes: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut ids = Vec::new();
        let mut leaders = Vec::new();
        for &i in nodes {
            if let Some(mut c) = shared.client(i).await {
                if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(1), c.status()).await {
                    ids.push((i, s.header().map(|h| h.member_id()).unwrap_or(0)));
                    leaders.push(s.leader());
                }
            }
        }
        if leaders.len() == nodes.len() && leaders.iter().all(|l| *l == leaders[0] && *l != 0) {
            if let Some((i, _)) = ids.iter().find(|(_, id)| *id == leaders[0]) {
                return *i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agreed leader among {nodes:?}: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Found by seed 20269047 (5 replicas, every class): a leader paused with SIGSTOP (or cut
/// off in a minority) still believed it led when it resumed, and renewed a keep-alive
/// queued during the pause on that belief. The real leader had already given the lease its
/// own deadline and expired it: the client saw the lease renewed for 3 s and its key gone
/// 2.8 s later. A keep-alive must be answered only after leadership is confirmed.
#[test]
fn a_deposed_leader_does_not_renew_leases() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::Builder::new()
        .prefix("berth-chaos-regression-")
        .tempdir()
        .expect("tempdir");
    let election_ms = 1_000;
    let mut cluster = Cluster::start(ClusterConfig {
        n_nodes: 3,
        binary: control_plane(),
        dir: dir.path().to_path_buf(),
        heartbeat_ms: 100,
        election_ms,
        snapshot_count: None,
    })
    .expect("failed to start the cluster");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    chaos::netns::install_cleanup_handlers(&rt);
    let rec = Arc::new(Recorder::new(None).expect("recorder"));
    let tls = Tls::load(cluster.certs_dir()).expect("client certificates");
    let wcfg = WorkloadConfig {
        seed: 1,
        n_nodes: 3,
        n_keys: 1,
        register_workers_per_node: 0,
        lease_workers: 0,
        lease_ttl_s: 3,
        op_timeout_ms: 3_000,
        think_ms: 0,
    };
    let shared = Arc::new(Shared::new(
        wcfg,
        rec.clone(),
        cluster.client_urls(),
        tls.clone(),
    ));
    rt.block_on(chaos::run::wait_healthy(&shared, Duration::from_secs(40)))
        .expect("cluster healthy");

    let leader = rt.block_on(leader_of(&shared, &[0, 1, 2]));
    let others: Vec<String> = (0..3)
        .filter(|&i| i != leader)
        .map(|i| cluster.client_url(i))
        .collect();
    let opts = tls.options(Duration::from_secs(3));
    // To the leader: no HTTP/2 keep-alive pings, so the connection outlives the pause.
    let certs = cluster.certs_dir().to_path_buf();
    let read = |f: &str| std::fs::read(certs.join(f)).expect("certificate file");
    let to_leader = etcd_client::ConnectOptions::new().with_tls(
        etcd_client::TlsOptions::new()
            .ca_certificate(etcd_client::Certificate::from_pem(read("ca.crt")))
            .identity(etcd_client::Identity::from_pem(
                read("client.crt"),
                read("client.key"),
            )),
    );

    // A lease with a key, and a keep-alive stream to the leader, used once.
    let p = rec.new_process();
    let (mut on_leader, lease, mut keeper, mut stream) = rt.block_on(async {
        let mut c = Client::connect([cluster.client_url(leader)], Some(to_leader))
            .await
            .expect("connect to the leader");
        let id = rec.invoke(p, leader, Op::LeaseGrant { ttl_s: 3 });
        let g = c.lease_grant(3, None).await.expect("lease grant");
        rec.complete(
            p,
            id,
            Outcome::Ok,
            Some(OpResult::LeaseGrant {
                lease: g.id(),
                ttl_s: g.ttl(),
            }),
            None,
        );
        let key = format!("c/l/{:x}", g.id());
        let id = rec.invoke(
            p,
            leader,
            Op::LeasePut {
                key: key.clone(),
                lease: g.id(),
                value: "v".into(),
            },
        );
        let r = c
            .put(
                key.as_str(),
                "v",
                Some(PutOptions::new().with_lease(g.id())),
            )
            .await
            .expect("put with the lease");
        rec.complete(
            p,
            id,
            Outcome::Ok,
            Some(OpResult::Put {
                revision: r.header().map(|h| h.revision()).unwrap_or(0),
            }),
            None,
        );
        let (mut k, mut s) = c.lease_keep_alive(g.id()).await.expect("keep-alive stream");
        let id = rec.invoke(p, leader, Op::LeaseKeepAlive { lease: g.id() });
        k.keep_alive().await.expect("keep-alive");
        let ttl = s
            .message()
            .await
            .expect("keep-alive answer")
            .map(|m| m.ttl())
            .unwrap_or(0);
        rec.complete(
            p,
            id,
            Outcome::Ok,
            Some(OpResult::LeaseKeepAlive { ttl_s: ttl }),
            None,
        );
        (c, g.id(), k, s)
    });
    let key = format!("c/l/{lease:x}");

    // Pause the leader past an election; queue a keep-alive while it is stopped; resume it.
    cluster.pause(leader);
    std::thread::sleep(Duration::from_millis(4 * election_ms + 1_000));
    let id = rec.invoke(p, leader, Op::LeaseKeepAlive { lease });
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(1), keeper.keep_alive())
            .await
            .ok()
    });
    cluster.resume(leader);
    let answer =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(8), stream.message()).await });
    match answer {
        Ok(Ok(Some(m))) => rec.complete(
            p,
            id,
            Outcome::Ok,
            Some(OpResult::LeaseKeepAlive { ttl_s: m.ttl() }),
            None,
        ),
        other => rec.complete(p, id, Outcome::Unknown, None, Some(format!("{other:?}"))),
    }

    // Read the key through the other replicas until the client's lease would have run out.
    let until = Instant::now() + Duration::from_millis(2_800);
    rt.block_on(async {
        let mut c = Client::connect(others, Some(opts.clone()))
            .await
            .expect("connect to the followers");
        while Instant::now() < until {
            let id = rec.invoke(
                p,
                0,
                Op::LeaseGet {
                    key: key.clone(),
                    lease,
                },
            );
            match tokio::time::timeout(Duration::from_secs(1), c.get(key.as_str(), None)).await {
                Ok(Ok(r)) => rec.complete(
                    p,
                    id,
                    Outcome::Ok,
                    Some(OpResult::LeaseGet {
                        found: !r.kvs().is_empty(),
                        revision: r.header().map(|h| h.revision()).unwrap_or(0),
                    }),
                    None,
                ),
                other => rec.complete(p, id, Outcome::Fail, None, Some(format!("{other:?}"))),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = on_leader.status().await;
    });
    drop(cluster);
    let ops = operations(&rec.records());
    let resumed = ops
        .iter()
        .filter(|o| matches!(o.op, Op::LeaseKeepAlive { .. }))
        .nth(1)
        .expect("the keep-alive sent during the pause");
    assert_eq!(
        resumed.outcome,
        Outcome::Ok,
        "the keep-alive queued during the pause was not answered: {resumed:?}"
    );
    let report = lease::check(&ops, None, 0);
    assert!(
        report.ok(),
        "{:?}\nhistory: {:#?}",
        report.violations,
        ops.iter()
            .filter(|o| !matches!(o.op, Op::LeaseGet { .. }) || o.outcome == Outcome::Ok)
            .collect::<Vec<_>>()
    );
}

/// Found by seed 20364075 (5 replicas, every class): a follower forwarding writes to a
/// leader that was SIGKILLed after the writes committed but before it answered saw a broken
/// connection, took it for "no leader" and sent the same writes to the next leader: each was
/// applied twice (a put at two revisions; a compare-and-set that succeeded, then failed on
/// its own write and answered "not succeeded"). A forwarded write whose connection broke
/// after sending has an unknown outcome and must not be retried.
#[test]
fn a_forwarded_write_is_never_applied_twice() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::Builder::new()
        .prefix("berth-chaos-regression-")
        .tempdir()
        .expect("tempdir");
    let mut cluster = Cluster::start(ClusterConfig {
        n_nodes: 3,
        binary: control_plane(),
        dir: dir.path().to_path_buf(),
        heartbeat_ms: 100,
        election_ms: 1_000,
        snapshot_count: None,
    })
    .expect("failed to start the cluster");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    chaos::netns::install_cleanup_handlers(&rt);
    let rec = Arc::new(Recorder::new(None).expect("recorder"));
    let tls = Tls::load(cluster.certs_dir()).expect("client certificates");
    let wcfg = WorkloadConfig {
        seed: 1,
        n_nodes: 3,
        n_keys: 1,
        register_workers_per_node: 0,
        lease_workers: 0,
        lease_ttl_s: 3,
        op_timeout_ms: 3_000,
        think_ms: 0,
    };
    let shared = Arc::new(Shared::new(wcfg, rec, cluster.client_urls(), tls));
    rt.block_on(chaos::run::wait_healthy(&shared, Duration::from_secs(40)))
        .expect("cluster healthy");

    // Writers through every replica, each key written once with its own value.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..24usize {
        let (shared, stop) = (shared.clone(), stop.clone());
        writers.push(rt.spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Some(mut c) = shared.client(w % 3).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let key = format!("c/d/{w}/{n}");
                    if tokio::time::timeout(
                        Duration::from_secs(3),
                        c.put(key.as_str(), key.as_str(), None),
                    )
                    .await
                    .is_err()
                    {
                        break;
                    }
                }
            }
        }));
    }
    // SIGKILL the leader under that load, a few times.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1_200));
        let leader = rt.block_on(leader_of(&shared, &[0, 1, 2]));
        cluster.kill(leader);
        std::thread::sleep(Duration::from_millis(2_000));
        cluster
            .spawn(leader, None)
            .expect("restart the killed leader");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(async {
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
        }
    });
    rt.block_on(chaos::run::wait_healthy(&shared, Duration::from_secs(40)))
        .expect("cluster healthy again");
    // A key put once has version 1; version 2 means its one put was applied twice.
    let (total, twice) = rt.block_on(async {
        let mut c = shared.client(0).await.expect("client");
        let r = c
            .get("c/d/", Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .expect("read every key");
        let twice: Vec<String> = r
            .kvs()
            .iter()
            .filter(|kv| kv.version() != 1)
            .map(|kv| {
                format!(
                    "{} (version {})",
                    String::from_utf8_lossy(kv.key()),
                    kv.version()
                )
            })
            .collect();
        (r.kvs().len(), twice)
    });
    drop(cluster);
    assert!(total > 100, "too few writes went through: {total}");
    assert!(
        twice.is_empty(),
        "{} of {total} keys were put twice: {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
}
