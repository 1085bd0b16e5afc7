//! Failover: writers keep putting keys through every endpoint while the leader is
//! SIGKILLed; a new leader must appear within two election timeouts (plus slack), every
//! acknowledged write must be on every replica afterwards, and the restarted replica must
//! converge to the same HashKV.

use berth_system_tests::{client, Cluster, Opts};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Scheduling and polling noise on a loaded 2-core machine, on top of two election
/// timeouts (etcd's bound: a follower campaigns after a randomized [T, 2T) without a
/// heartbeat, and wins in about one round trip on loopback).
const ELECTION_SLACK: Duration = Duration::from_millis(300);

#[test]
fn acknowledged_writes_survive_a_leader_sigkill() {
    let opts = Opts::default();
    let election = Duration::from_millis(opts.election_ms);
    let mut c = Cluster::start(3, opts);
    let leader = c.wait_leader(&[0, 1, 2]);
    let old_leader_id = c.member_id(leader);
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let survivor_ids: Vec<u64> = survivors.iter().map(|&i| c.member_id(i)).collect();

    let rt = client::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, String, Instant)>>> = Arc::default();
    let failed = Arc::new(AtomicU64::new(0));
    // One writer per endpoint, each with a client bound to that endpoint only.
    let mut writers = Vec::new();
    for (e, endpoint) in c.endpoints().into_iter().enumerate() {
        let (certs, stop, acked, failed) =
            (c.certs.clone(), stop.clone(), acked.clone(), failed.clone());
        writers.push(rt.spawn(async move {
            let mut kv = client::connect(&certs, &[endpoint], Duration::from_secs(1))
                .await
                .kv_client();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (key, value) = (format!("fo/{e}/{n:06}"), format!("{e}-{n}"));
                n += 1;
                match kv.put(key.clone(), value.clone(), None).await {
                    Ok(_) => acked.lock().unwrap().push((key, value, Instant::now())),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let acked_before_kill = acked.lock().unwrap().len();
    assert!(
        acked_before_kill > 0,
        "no write was acknowledged before the kill"
    );

    c.kill(leader);
    let killed_at = Instant::now();
    let survivor_endpoints: Vec<String> = survivors
        .iter()
        .map(|&i| c.endpoint(i).to_string())
        .collect();
    let (new_leader_id, took) = rt.block_on(async {
        let mut clients = Vec::new();
        for e in &survivor_endpoints {
            clients.push(
                client::connect(
                    &c.certs,
                    std::slice::from_ref(e),
                    Duration::from_millis(500),
                )
                .await,
            );
        }
        loop {
            let mut seen = Vec::new();
            for cl in &mut clients {
                seen.push(cl.status().await.ok().map(|s| s.leader()));
            }
            if let Some(Some(l)) = seen.first().copied() {
                if l != 0 && l != old_leader_id && seen.iter().all(|s| *s == Some(l)) {
                    return (l, killed_at.elapsed());
                }
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(15),
                "no new leader 15 s after the kill; leaders seen: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    eprintln!("new leader {new_leader_id:x} elected {took:?} after SIGKILL of {old_leader_id:x} (election timeout {election:?})");
    assert!(
        survivor_ids.contains(&new_leader_id),
        "leader {new_leader_id:x} is not a survivor"
    );
    // Checked last, so that the durability checks below run whatever the election took.
    let slow_election = (took > 2 * election + ELECTION_SLACK).then(|| {
        format!(
            "a new leader took {took:?}, over two election timeouts ({:?}) plus {ELECTION_SLACK:?}",
            2 * election
        )
    });

    // Writes resume under the new leader.
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        rt.block_on(w).expect("writer task panicked");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let after_election = acked
        .iter()
        .filter(|(_, _, at)| *at > killed_at + took)
        .count();
    eprintln!("{} writes acknowledged ({acked_before_kill} before the kill, {after_election} after the election), {} failed", acked.len(), failed.load(Ordering::Relaxed));
    assert!(
        after_election > 0,
        "no write was acknowledged after the new leader was elected"
    );

    // The killed replica comes back and everyone converges.
    c.restart(leader);
    c.wait_healthy(&[0, 1, 2]);
    c.wait_converged(&[0, 1, 2], Duration::from_secs(30));
    for i in 0..3 {
        let out = c.etcdctl_at(i, &["get", "fo/", "--prefix", "--consistency=s"]);
        let lines = out.lines();
        assert!(
            lines.len() % 2 == 0,
            "odd key/value output from replica {i}"
        );
        let stored: HashMap<&str, &str> = lines.chunks(2).map(|kv| (kv[0], kv[1])).collect();
        let missing: Vec<&(String, String, Instant)> = acked
            .iter()
            .filter(|(k, v, _)| stored.get(k.as_str()) != Some(&v.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "replica {} lacks {} acknowledged writes, e.g. {:?}",
            c.name(i),
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    if let Some(message) = slow_election {
        panic!("{message}");
    }
}
